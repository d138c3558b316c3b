"""What both fine-tuning chapters share: padding, batches of similar length, freezing, one loop.

Chapter 09 (:mod:`gptbook.classify`) and chapter 10 (:mod:`gptbook.instruct`) both start from the
pretrained GPT and both need the same few tools, read here from top to bottom:

1. :func:`pad_batch` pads token sequences on the *right*. Each real token keeps the position it
   has alone, and the causal mask stops real tokens from looking at the padding after them.
2. :func:`length_batches` groups sequences of similar length (less padding, faster steps).
3. :func:`freeze_gpt` chooses which blocks learn. The frozen bottom gives the same output every
   epoch, so :func:`residual_streams` computes it once and training starts from there
   (:func:`pad_streams` pads those tensors into a batch).
4. :func:`fit` is the loop both chapters train with: AdamW, warm-up and cosine decay, clipping.
5. :func:`check_config` refuses a bad setting (:class:`TuningConfig`) before any time is spent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol

import torch
from torch import Tensor

from gptbook.model import GPT
from gptbook.optim import check_int, check_number, evaluating, lr_at, optimizer_step


class TuningConfig(Protocol):
    """The settings both chapters' configs share (:class:`gptbook.classify.ClassifierConfig`,
    :class:`gptbook.instruct.InstructionConfig`)."""

    epochs: float
    batch_size: int
    lr: float
    weight_decay: float
    warmup_steps: int
    grad_clip: float
    seed: int


class NoDataError(ValueError):
    """There is nothing to train on (or to score): the data set is empty."""


class PromptTooLongError(ValueError):
    """A prompt (with room for the answer) does not fit the model's context."""


# ---------------------------------------------------------------------------------------------
# 1. Padding
# ---------------------------------------------------------------------------------------------


def pad_batch(seqs: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[Tensor, Tensor]:
    """Pad token sequences on the right to the longest one.

    Returns ``idx`` ``(B, T)`` and ``lengths`` ``(B,)`` (how many tokens of each row are real).
    """
    if not seqs or any(len(s) == 0 for s in seqs):
        raise ValueError(
            "pad_batch needs at least one sequence, and every sequence needs at least one token."
        )
    T = max(len(s) for s in seqs)
    idx = torch.full((len(seqs), T), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        idx[i, : len(s)] = torch.as_tensor(list(s), dtype=torch.long)
    return idx, torch.tensor([len(s) for s in seqs], dtype=torch.long)


def last_real(x: Tensor, lengths: Tensor) -> Tensor:
    """Row ``b`` of ``x`` ``(B, T, d)`` at position ``lengths[b] - 1``: shape ``(B, d)``."""
    return x[torch.arange(x.size(0), device=x.device), lengths.to(x.device) - 1]


# ---------------------------------------------------------------------------------------------
# 2. Batches of similar length
# ---------------------------------------------------------------------------------------------


def length_batches(
    lengths: Sequence[int], batch_size: int, generator: torch.Generator, pool: int = 8
) -> list[list[int]]:
    """Shuffled batches of indices into ``lengths``, each of sequences of similar length.

    The indices are shuffled, cut into pools of ``pool`` batches, each pool sorted by length and
    cut into batches, and the batches shuffled again: random order, but little padding.
    """
    order = torch.randperm(len(lengths), generator=generator).tolist()
    out = []
    for s in range(0, len(order), batch_size * pool):
        chunk = sorted(order[s : s + batch_size * pool], key=lambda i: lengths[i])
        out += [chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size)]
    return [out[i] for i in torch.randperm(len(out), generator=generator).tolist()]


def plan_steps(
    lengths: Sequence[int], batch_size: int, epochs: float, seed: int, max_steps: int | None = None
) -> list[list[int]]:
    """The batches of a whole run: ``epochs`` passes of :func:`length_batches` (the last pass may
    be cut short when ``epochs`` is fractional), at most ``max_steps`` of them."""
    if not lengths:
        raise NoDataError("There is nothing to train on: the data set is empty.")
    generator = torch.Generator().manual_seed(seed)
    n_steps = max(1, round(epochs * math.ceil(len(lengths) / batch_size)))
    if max_steps is not None:
        n_steps = min(n_steps, max_steps)
    plan: list[list[int]] = []
    while len(plan) < n_steps:
        plan += length_batches(lengths, batch_size, generator)
    return plan[:n_steps]


# ---------------------------------------------------------------------------------------------
# 3. Freezing the bottom, and computing it once
# ---------------------------------------------------------------------------------------------


def freeze_gpt(gpt: GPT, trainable_blocks: int | None) -> int:
    """Let only the final layer norm and the last ``trainable_blocks`` blocks of ``gpt`` learn
    (``None``: everything). Returns the number of trainable parameters.

    The embeddings stay frozen when ``trainable_blocks`` is a number; so does the unembedding
    ``lm_head``, which shares its weights with the token embedding.
    """
    n_layer = gpt.config.n_layer
    ok = isinstance(trainable_blocks, int) and not isinstance(trainable_blocks, bool)
    if trainable_blocks is not None and not (ok and 0 <= trainable_blocks <= n_layer):
        raise ValueError(
            f"trainable_blocks must be None (all) or an integer in 0..{n_layer}, "
            f"got {trainable_blocks!r}."
        )
    for p in gpt.parameters():
        p.requires_grad = trainable_blocks is None
    if trainable_blocks is not None:
        top = list(gpt.transformer.h)[n_layer - trainable_blocks :]
        for module in [gpt.transformer.ln_f, *top]:
            for p in module.parameters():
                p.requires_grad = True
    return sum(p.numel() for p in gpt.parameters() if p.requires_grad)


def frozen_blocks(gpt: GPT) -> int:
    """How many blocks at the bottom of ``gpt`` (with the embeddings) have no trainable parameter.

    Their output never changes during training, so it can be computed once
    (:func:`residual_streams`).
    """
    t = gpt.transformer
    if any(p.requires_grad for p in [*t.wte.parameters(), *t.wpe.parameters()]):
        return 0
    n = 0
    for block in t.h:
        if any(p.requires_grad for p in block.parameters()):
            break
        n += 1
    return n


@torch.no_grad()
def residual_streams(
    gpt: GPT, seqs: Sequence[Sequence[int]], block: int, batch_size: int = 64, pad_id: int = 0
) -> list[Tensor]:
    """The residual stream of each token sequence as it enters block ``block``: one ``(T_i,
    d_model)`` tensor per sequence, on the CPU, in the order of ``seqs``.

    Sequences are run in batches of similar length, in eval mode (no dropout); the model's mode
    is restored afterwards.
    """
    dev = next(gpt.parameters()).device
    out: list[Tensor | None] = [None] * len(seqs)
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    with evaluating(gpt):
        for s in range(0, len(order), batch_size):
            rows = order[s : s + batch_size]
            idx, lengths = pad_batch([seqs[i] for i in rows], pad_id)
            x = gpt.run_blocks(gpt.embed(idx.to(dev)), last=block).cpu()  # (B, T, d_model)
            for r, i in enumerate(rows):
                out[i] = x[r, : lengths[r]].clone()
    return out


def pad_streams(xs: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Pad ``(T_i, d)`` tensors on the right with zeros: ``(B, T, d)`` and ``lengths`` ``(B,)``."""
    lengths = torch.tensor([x.size(0) for x in xs], dtype=torch.long)
    out = xs[0].new_zeros(len(xs), int(lengths.max()), xs[0].size(1))
    for i, x in enumerate(xs):
        out[i, : x.size(0)] = x
    return out, lengths


# ---------------------------------------------------------------------------------------------
# 4. The loop
# ---------------------------------------------------------------------------------------------


def fit(
    params: Sequence[Tensor],
    plan: Sequence[list[int]],
    loss_of: Callable[[list[int]], Tensor],
    cfg: TuningConfig,
    progress: Callable | None = None,
) -> list[float]:
    """Train ``params`` with AdamW, one step per batch of ``plan``; return each step's loss.

    ``loss_of(batch)`` computes the loss of a batch of row indices. The learning rate warms up
    for ``cfg.warmup_steps`` steps to ``cfg.lr``, then decays along a cosine to zero at the last
    step; gradients are clipped to norm ``cfg.grad_clip`` (0: not clipped). ``progress`` may wrap
    the batches (``tqdm``).
    """
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    clip = cfg.grad_clip or None
    history = []
    for step, batch in enumerate(progress(plan) if progress else plan):
        loss = loss_of(batch)
        rate = lr_at(step, len(plan), cfg.lr, warmup=cfg.warmup_steps)
        optimizer_step(loss, opt, lr=rate, clip=clip, params=params)
        history.append(loss.item())
    return history


# ---------------------------------------------------------------------------------------------
# 5. Checking a fine-tuning config
# ---------------------------------------------------------------------------------------------


def check_config(cfg: TuningConfig) -> None:
    """Refuse a fine-tuning config whose numbers cannot make a run (:class:`ConfigError`)."""
    name = type(cfg).__name__
    check_number(name, "epochs", cfg.epochs, low=0.0, low_open=True)
    check_int(name, "batch_size", cfg.batch_size, low=1)
    check_number(name, "lr", cfg.lr, low=0.0, low_open=True)
    check_number(name, "weight_decay", cfg.weight_decay, low=0.0)
    check_int(name, "warmup_steps", cfg.warmup_steps, low=0)
    check_number(name, "grad_clip", cfg.grad_clip, low=0.0, hint="0 turns clipping off")
    check_int(name, "seed", cfg.seed, low=None)
