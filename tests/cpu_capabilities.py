"""Print the values of ATEN_CPU_CAPABILITY this CPU can run, oldest first (used by make test-portable).

PyTorch picks its fastest kernels for the CPU it finds; the variable forces an older set. "default"
runs everywhere; "avx2" and "avx512" only where the CPU has those instructions.
"""

import torch

best = torch.backends.cpu.get_cpu_capability()  # e.g. "AVX512", "AVX2", "DEFAULT", "NO AVX"
caps = ["default"]
if best in ("AVX2", "AVX512"):
    caps.append("avx2")
if best == "AVX512":
    caps.append("avx512")
print(" ".join(caps))
