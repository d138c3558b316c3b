"""How fast training runs, and how close that is to what the machine can do.

1. :func:`model_flops_per_token` counts the floating-point operations one training token costs:
   ``6 * N`` for the weights (Kaplan et al., 2020; :mod:`gptbook.scale`) plus ``12 * L * d * T``
   for the attention scores and their weighted sums, which have no weights of their own (the
   PaLM paper's count, Chowdhery et al., 2022, appendix B).
2. :func:`measure_matmul_peak` times large matrix products: the best speed this machine reaches
   at the operation a transformer spends nearly all its time in.
3. :func:`mfu` is the model FLOPs utilisation: the model's useful FLOP/s (tokens per second times
   FLOPs per token) over that peak. Work that is not the model's arithmetic (the optimizer,
   layer norms, Python) shows up as a lower MFU.

:func:`gptbook.train.train` adds ``tokens_per_s`` and ``flops_per_s`` to its evaluation records;
:func:`throughput` reads them back out of a history.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from torch import nn

from gptbook.model import GPTConfig, count_params
from gptbook.optim import bf16_supported
from gptbook.scale import FLOPS_PER_PARAM_PER_TOKEN


def model_flops_per_token(model: nn.Module | GPTConfig, context: int | None = None) -> float:
    """Training FLOPs per token (forward and backward): ``6 * N + 12 * n_layer * d_model * T``.

    ``N`` counts every parameter once (the tied embedding too, as :mod:`gptbook.scale` does), and
    ``T`` is the length of the training windows (``context``; default: the model's context). A
    model without a :class:`~gptbook.model.GPTConfig` gets ``6 * N`` alone.
    """
    config = model if isinstance(model, GPTConfig) else getattr(model, "config", None)
    if isinstance(config, GPTConfig):
        n_params = count_params(config)["total"]
        t = config.context if context is None else context
        if t < 1:
            raise ValueError(f"context must be a positive number of tokens, got {context!r}.")
        attention = 12 * config.n_layer * config.d_model * t
        return float(FLOPS_PER_PARAM_PER_TOKEN * n_params + attention)
    if not isinstance(model, nn.Module):
        raise TypeError(f"Pass a model or a GPTConfig, got {type(model).__name__}.")
    n_params = sum(p.numel() for p in model.parameters())
    return float(FLOPS_PER_PARAM_PER_TOKEN * n_params)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def measure_matmul_peak(
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    size: int = 1024,
    trials: int = 5,
    seconds: float = 1.0,
) -> float:
    """The best FLOP/s of ``size x size`` matrix products in ``dtype`` on ``device``.

    One warm-up product sets how many fit in ``seconds / trials``; each of ``trials`` rounds
    times that many and the fastest round counts (``2 * size**3`` operations a product). Best
    of N, because anything else on the machine can only slow a round down. Uses the threads
    torch is set to, so set them as the training run does.
    """
    if not isinstance(size, int) or size < 1 or not isinstance(trials, int) or trials < 1:
        raise ValueError(f"size and trials must be positive integers, got {size!r}, {trials!r}.")
    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0):
        raise ValueError(f"seconds must be a positive time budget, got {seconds!r}.")
    dev = torch.device(device)
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(size, size, generator=generator).to(dev, dtype)
    b = torch.randn(size, size, generator=generator).to(dev, dtype)
    out = torch.empty(size, size, device=dev, dtype=dtype)
    torch.matmul(a, b, out=out)  # warm-up: kernels chosen, memory touched
    _sync(dev)
    t0 = time.perf_counter()
    torch.matmul(a, b, out=out)
    _sync(dev)
    one = max(time.perf_counter() - t0, 1e-9)
    reps = max(1, int(seconds / trials / one))
    best = 0.0
    for _ in range(trials):
        t0 = time.perf_counter()
        for _ in range(reps):
            torch.matmul(a, b, out=out)
        _sync(dev)
        best = max(best, 2 * size**3 * reps / max(time.perf_counter() - t0, 1e-9))
    return best


def measure_peaks(device: torch.device | str = "cpu", seconds: float = 1.0) -> dict[str, float]:
    """Matmul peaks of ``device`` in float32 and, where bf16 runs natively, bfloat16 (FLOP/s)."""
    peaks = {"float32": measure_matmul_peak(torch.float32, device, seconds=seconds)}
    if bf16_supported(device):
        peaks["bfloat16"] = measure_matmul_peak(torch.bfloat16, device, seconds=seconds)
    return peaks


def mfu(flops_per_s: float, peak_flops_per_s: float) -> float:
    """Model FLOPs utilisation: achieved model FLOP/s over the peak (0.4 means 40 % of peak)."""
    for name, value in (("flops_per_s", flops_per_s), ("peak_flops_per_s", peak_flops_per_s)):
        if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite, non-negative FLOP/s, got {value!r}.")
    if peak_flops_per_s == 0:
        raise ValueError("peak_flops_per_s is 0; measure it with measure_matmul_peak first.")
    return flops_per_s / peak_flops_per_s


def throughput(history: list[dict[str, Any]]) -> dict[str, float]:
    """The training speed of a run from its history (of :func:`gptbook.train.train`): the
    harmonic mean of ``tokens_per_s`` and ``flops_per_s`` over the evaluation records that carry
    them (tokens over time, when the evaluations are evenly spaced)."""
    timed = [r for r in history if "tokens_per_s" in r]
    if not timed:
        raise ValueError(
            "The history has no records with tokens_per_s; pass the list train() returned."
        )
    return {
        key: len(timed) / sum(1 / r[key] for r in timed) for key in ("tokens_per_s", "flops_per_s")
    }
