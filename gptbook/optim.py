"""What every training loop in the book shares: the learning-rate schedule and the optimizer step.

The book trains five times: the bigram and fixed-window models (chapters 02 and 03), word2vec
(chapter 04), the GPT (chapter 08), a classifier (chapter 09) and an instruction follower
(chapter 10). Each loop asks the same two things on every step, answered here once:

1. :func:`lr_at`: how large a step to take now. A linear warm-up from 0 to the peak, then a
   decay to a final value along a cosine (Loshchilov and Hutter, 2017) or a straight line.
2. :func:`optimizer_step`: turn a loss into an update. Set the learning rate, clear the old
   gradients, back-propagate, clip the gradients' norm (Pascanu et al., 2013), step.

Mixed precision lives here, once: :func:`autocast` is the context every loop puts its forward pass
in (bf16 where the device supports it, see :func:`bf16_supported`; a plain no-op when off).
:func:`evaluating` switches a model to eval mode for a measurement and back to its old mode.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import torch
from torch import Tensor, nn

SHAPES = ("cosine", "linear")


def lr_at(
    step: int,
    total: int,
    peak: float,
    *,
    warmup: int = 0,
    final: float = 0.0,
    shape: str = "cosine",
    clock: float | None = None,
) -> float:
    """The learning rate of optimisation step ``step`` (0-based) of a run of ``total`` steps.

    Steps ``0 .. warmup - 1`` rise linearly to ``peak`` (a fresh optimizer's first updates are
    noisy, so they start small). Then the rate falls from ``peak`` to ``final`` at step
    ``total`` along ``shape``: half a cosine (slow, fast, slow) or a straight line; it stays at
    ``final`` after that. ``clock`` (the share of a time budget used, 0 to 1) moves the decay
    further along when the clock is ahead of the steps, so a run on a slow machine still ends on
    ``final``.
    """
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}, got {shape!r}.")
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)  # 0 -> 1 over the decay
    if step >= total > 0:
        progress = 1.0  # the run is over (even when the warm-up was longer than the run)
    if clock is not None:
        progress = max(progress, clock)
    progress = min(progress, 1.0)
    if shape == "cosine":
        decay = 0.5 * (1.0 + math.cos(math.pi * progress))  # 1 -> 0
    else:
        decay = 1.0 - progress
    return final + decay * (peak - final)


def optimizer_step(
    loss: Tensor,
    optimizer: torch.optim.Optimizer,
    *,
    lr: float | None = None,
    clip: float | None = None,
    params: Iterable[Tensor] | None = None,
) -> float | None:
    """One update from ``loss``: set the rate, clear old gradients, back-propagate, clip, step.

    ``lr`` sets every parameter group's learning rate first. ``clip`` rescales the gradients of
    ``params`` (default: the optimizer's parameters) so their joint norm is at most ``clip``;
    ``float("inf")`` measures the norm without changing anything. Returns that norm before
    clipping, or ``None`` when ``clip`` is ``None``.
    """
    if lr is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm = None
    if clip is not None:
        if params is None:
            params = [p for group in optimizer.param_groups for p in group["params"]]
        norm = float(torch.nn.utils.clip_grad_norm_(params, clip))
    optimizer.step()
    return norm


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode (no dropout) inside the ``with`` block, then back to the mode the model had.

    Measuring or generating in the middle of training must not leave the model in eval mode,
    and measuring a model in eval mode must not switch it to training mode.
    """
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def bf16_supported(device: torch.device | str = "cpu") -> bool:
    """Whether bf16 autocast runs natively on ``device``: a CPU with bf16 instructions (AVX-512
    BF16, AMX, as oneDNN reports them), a CUDA GPU that has bf16, or MPS. A tiny autocast matmul
    must then also work and give bf16 (so a build without the kernels says no, not crashes)."""
    dev = torch.device(device)
    if dev.type == "cpu":
        probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
        if probe is None or not torch.backends.mkldnn.is_available() or not probe():
            return False
    elif dev.type == "cuda":
        if not (torch.cuda.is_available() and torch.cuda.is_bf16_supported()):
            return False
    elif dev.type != "mps":
        return False
    try:
        a = torch.ones(4, 4, device=dev)
        with torch.autocast(dev.type, dtype=torch.bfloat16):
            return (a @ a).dtype == torch.bfloat16
    except (RuntimeError, TypeError, ValueError):
        return False


def autocast(device: torch.device | str, bf16: bool) -> AbstractContextManager[object]:
    """The context of a forward pass: bf16 autocast on ``device`` when ``bf16`` is true and the
    device supports it (:func:`bf16_supported`), else nothing at all (plain float32, bit for bit).

    Autocast runs the matrix products in bf16 (about twice the speed on a CPU with bf16 units,
    half the memory traffic) and keeps reductions such as the softmax and the loss in float32.
    Where bf16 is not supported it warns once per call and falls back to float32. Run the
    backward pass outside this context, as PyTorch recommends.
    """
    if not bf16:
        return nullcontext()
    dev = torch.device(device)
    if not bf16_supported(dev):
        warnings.warn(
            f"bf16 autocast is not supported on this {dev.type} device; training in float32.",
            RuntimeWarning,
            stacklevel=2,
        )
        return nullcontext()
    return torch.autocast(dev.type, dtype=torch.bfloat16)


# ---------------------------------------------------------------------------------------------
# Checking the settings of a run, before it starts
# ---------------------------------------------------------------------------------------------


class ConfigError(ValueError):
    """A training setting is out of range (a size below 1, a rate that is negative or not a
    number, ...). Raised when the config is made, before any time is spent training."""


def check_int(config: str, name: str, value: object, low: int | None = 1) -> None:
    """Refuse ``value`` unless it is an integer (not a bool) of at least ``low``."""
    if not isinstance(value, int) or isinstance(value, bool) or (low is not None and value < low):
        what = {None: "an integer", 1: "a positive integer"}.get(low, f"an integer >= {low}")
        raise ConfigError(f"{config}.{name} must be {what}, got {value!r}.")


def check_bool(config: str, name: str, value: object) -> None:
    """Refuse ``value`` unless it is ``True`` or ``False`` (not 0, 1 or a string like "no")."""
    if not isinstance(value, bool):
        raise ConfigError(f"{config}.{name} must be True or False, got {value!r}.")


def check_number(
    config: str,
    name: str,
    value: object,
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    hint: str = "",
) -> None:
    """Refuse ``value`` unless it is a finite number in the range ``low .. high``.

    ``low_open`` and ``high_open`` leave out the ends themselves. NaN and infinity are refused:
    compared with anything they silently say "no", so a NaN limit would mean no limit at all.
    """
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "" if low is None else ("(" if low_open else "[") + f"{low}"
        hi = "" if high is None else f"{high}" + (")" if high_open else "]")
        where = f" in {lo or '(-inf'}, {hi or 'inf)'}" if lo or hi else ""
        extra = f" ({hint})" if hint else ""
        raise ConfigError(f"{config}.{name} must be a finite number{where}{extra}, got {value!r}.")
