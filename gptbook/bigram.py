"""Bigram language models: guess the next character from the current one alone.

There are two roads to the same model, and chapter 02 walks both:

* **Counting.** Count how often each character follows each other character in the training text,
  add a little smoothing, and divide each row by its sum. This is the maximum-likelihood answer.
* **Learning.** Keep a table of ``vocab_size x vocab_size`` numbers (logits). The row of the current
  character, pushed through softmax, is the guess for the next one. Gradient descent on the
  cross-entropy loss moves the table towards the counting answer.

Every model here maps a batch of windows of token ids ``x[B, context]`` to next-token logits
``[B, vocab_size]``, so the same helpers (:func:`random_windows`, :func:`train_next_token`,
:func:`evaluate`, :func:`sample`) serve the bigram (``context = 1``) and chapter 03's fixed-window
model (:mod:`gptbook.window`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gptbook.optim import evaluating, lr_at, optimizer_step

# --------------------------------------------------------------------------- counting


def count_bigrams(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """``counts[i, j]`` = how many times token ``j`` directly follows token ``i`` in ``ids``."""
    ids = torch.as_tensor(ids, dtype=torch.long).flatten()
    if ids.numel() < 2:
        raise ValueError(f"Counting bigrams needs at least 2 tokens, got {ids.numel()}.")
    if int(ids.min()) < 0 or int(ids.max()) >= vocab_size:
        raise ValueError(
            f"Token ids must lie in [0, {vocab_size}); "
            f"got ids from {int(ids.min())} to {int(ids.max())}."
        )
    pair = ids[:-1] * vocab_size + ids[1:]
    return torch.bincount(pair, minlength=vocab_size * vocab_size).view(vocab_size, vocab_size)


@dataclass(frozen=True)
class ContextCoverage:
    """How well a training text covers the contexts of ``n`` tokens that a validation text uses."""

    n: int  # context length in tokens
    possible: int  # vocab_size ** n contexts could exist
    seen: int  # distinct contexts of n tokens in the training text
    unseen_share: float  # share of the validation text's contexts that the training text never has


def _context_codes(ids: np.ndarray, n: int, vocab_size: int) -> np.ndarray:
    """Every run of ``n`` consecutive ids as one integer (base ``vocab_size``)."""
    codes = np.zeros(len(ids) - n + 1, dtype=np.int64)
    for j in range(n):
        codes = codes * vocab_size + ids[j : len(ids) - n + 1 + j]
    return codes


def _check_n(n: int, vocab_size: int) -> None:
    if n < 1:
        raise ValueError(f"The context length n must be at least 1, got {n}.")
    if vocab_size**n >= 2**63:
        raise ValueError(
            f"{vocab_size}^{n} contexts do not fit in a 64-bit code; use a shorter n."
        )


def seen_context_mask(
    train_ids: torch.Tensor, ids: torch.Tensor, n: int, vocab_size: int
) -> np.ndarray:
    """For every token of ``ids`` from position ``n`` on: was the context of ``n`` tokens before
    it ever seen in ``train_ids``? A boolean array of length ``len(ids) - n``, in the order that
    :func:`evaluate` predicts the tokens."""
    _check_n(n, vocab_size)
    train = torch.as_tensor(train_ids, dtype=torch.long).cpu().numpy()
    asked = torch.as_tensor(ids, dtype=torch.long).cpu().numpy()
    if len(train) < n or len(asked) < n + 1:
        raise ValueError(
            f"Need at least {n} training tokens and {n + 1} tokens to check, for contexts of {n}."
        )
    seen = np.unique(_context_codes(train, n, vocab_size))
    return np.isin(_context_codes(asked[:-1], n, vocab_size), seen)


def context_coverage(
    train_ids: torch.Tensor, val_ids: torch.Tensor, n: int, vocab_size: int
) -> ContextCoverage:
    """Count the contexts of ``n`` tokens: how many could exist, how many distinct ones the
    training text has, and which share of the validation text's contexts (each window of ``n``
    tokens that is followed by a token to predict) never occurs in training. A counting model has
    no answer at all for those: this is the sparsity that stops counting beyond short contexts."""
    mask = seen_context_mask(train_ids, val_ids, n, vocab_size)
    train = torch.as_tensor(train_ids, dtype=torch.long).cpu().numpy()
    seen = len(np.unique(_context_codes(train, n, vocab_size)))
    return ContextCoverage(n, vocab_size**n, seen, float(1.0 - mask.mean()))


class CountingBigram(nn.Module):
    """The counting (maximum-likelihood) bigram model with add-``smoothing`` (Laplace) smoothing.

    ``probs[i, j] = (counts[i, j] + smoothing) / (row sum + smoothing * vocab_size)``. With
    ``smoothing = 0`` a pair never seen in training gets probability 0, and one such pair in the
    validation text makes the loss infinite. Called like a learned model, it returns the log
    probabilities as logits, so :func:`evaluate` and :func:`sample` work on it unchanged.
    """

    def __init__(self, counts: torch.Tensor, smoothing: float = 1.0) -> None:
        super().__init__()
        if smoothing < 0:
            raise ValueError(f"smoothing must be >= 0, got {smoothing}")
        counts = counts.cpu().to(torch.float64) + smoothing  # float64 on the CPU: MPS has none
        probs = counts / counts.sum(dim=1, keepdim=True).clamp_min(1e-300)
        self.smoothing = smoothing
        self.register_buffer("probs", probs.to(torch.float32))
        self.register_buffer("log_probs", probs.log().to(torch.float32))

    @classmethod
    def fit(cls, ids: torch.Tensor, vocab_size: int, smoothing: float = 1.0) -> CountingBigram:
        """Count the bigrams of ``ids`` and build the model."""
        return cls(count_bigrams(ids, vocab_size), smoothing)

    @property
    def context(self) -> int:
        return 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Log probabilities of the next token after the last token of each window ``x[B, T]``."""
        return self.log_probs[x[..., -1]]


# --------------------------------------------------------------------------- learning


class BigramLM(nn.Module):
    """A learned bigram model: one row of logits per current token.

    Mathematically this is ``one_hot(x) @ W`` (a one-layer neural net without bias); picking row
    ``x`` of ``W`` gives exactly the same numbers without building the one-hot vectors.
    """

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.weight = nn.Parameter(torch.zeros(vocab_size, vocab_size))

    @property
    def context(self) -> int:
        return 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, vocab_size]`` for the token after the last of each window ``x[B, T]``."""
        return self.weight[x[..., -1]]


# --------------------------------------------------------------------------- shared helpers


def _device_of(model: nn.Module) -> torch.device:
    for t in (*model.parameters(), *model.buffers()):
        return t.device
    return torch.device("cpu")


def _check_context(ids: torch.Tensor, context: int) -> None:
    if context < 1:
        raise ValueError(f"The window size (context) must be at least 1, got {context}.")
    if ids.numel() <= context:
        raise ValueError(
            f"The window size {context} is too large for a text of {ids.numel()} tokens: "
            f"a window of {context} tokens plus the token to predict needs at least "
            f"{context + 1} tokens. Use a longer text or a smaller window."
        )


def random_windows(
    ids: torch.Tensor, context: int, batch_size: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random training examples: windows ``x[B, context]`` and the token after
    each, ``y[B]``."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    _check_context(ids, context)
    start = torch.randint(0, ids.numel() - context, (batch_size,), generator=generator)
    x = ids[start.unsqueeze(1) + torch.arange(context)]
    return x, ids[start + context]


def train_next_token(
    model: nn.Module,
    ids: torch.Tensor,
    steps: int,
    batch_size: int = 256,
    lr: float = 0.01,
    final_lr_fraction: float = 0.05,
    weight_decay: float = 0.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
) -> list[float]:
    """Train ``model`` (windows ``[B, model.context]`` -> logits) by minibatch gradient descent.

    AdamW, with the learning rate decaying along a cosine from ``lr`` to ``lr * final_lr_fraction``
    so the last steps settle instead of bouncing. Returns the training loss of every step.
    """
    device = torch.device(device) if device is not None else _device_of(model)
    ids = torch.as_tensor(ids, dtype=torch.long)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    losses: list[float] = []
    model.train()
    for step in range(steps):
        # the cosine reaches its end on the last step (steps - 1), from 1 down to final_lr_fraction
        rate = lr * lr_at(step, steps - 1, 1.0, final=final_lr_fraction)
        x, y = random_windows(ids, model.context, batch_size, generator)
        loss = F.cross_entropy(model(x.to(device)), y.to(device))
        optimizer_step(loss, opt, lr=rate)
        losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def evaluate(
    model: nn.Module, ids: torch.Tensor, chunk: int = 65536, first_target: int | None = None
) -> float:
    """Mean negative log-likelihood (nats per token) of every token of ``ids`` from
    ``first_target`` on (default: the first one with a full window before it), each predicted from
    the ``model.context`` tokens before it."""
    context = model.context
    ids = torch.as_tensor(ids, dtype=torch.long)
    _check_context(ids, context)
    first = context if first_target is None else first_target
    if first < context:
        raise ValueError(f"first_target must be >= the model's context {context}, got {first}")
    device = _device_of(model)
    total, n = 0.0, 0
    with evaluating(model):
        for lo in range(first, ids.numel(), chunk):
            targets = torch.arange(lo, min(lo + chunk, ids.numel()))
            x = ids[targets.unsqueeze(1) - context + torch.arange(context)]  # (N, context)
            logits = model(x.to(device))
            total += F.cross_entropy(
                logits.float(), ids[targets].to(device), reduction="sum"
            ).item()
            n += targets.numel()
    return total / n


@torch.no_grad()
def sample(
    model: nn.Module,
    prompt: list[int],
    max_new_tokens: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> list[int]:
    """Extend ``prompt`` by ``max_new_tokens`` tokens, each drawn from the model's softmax over the
    last ``model.context`` tokens. The prompt must be at least ``model.context`` tokens long."""
    context = model.context
    if len(prompt) < context:
        raise ValueError(
            f"The prompt has {len(prompt)} tokens but the model reads windows of {context}; "
            f"give at least {context} tokens (pad on the left, for example with newlines)."
        )
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    device = _device_of(model)
    out = list(prompt)
    model.eval()
    for _ in range(max_new_tokens):
        x = torch.tensor([out[-context:]], device=device)
        probs = torch.softmax(model(x)[0].float() / temperature, dim=-1).cpu()  # draw on the CPU
        out.append(int(torch.multinomial(probs, 1, generator=generator)))
    return out
