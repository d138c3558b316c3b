"""Turning a GPT's logits into text: temperature, top-k, top-p, greedy, beam search, a KV cache.

Read from top to bottom, like chapter 07:

1. :func:`next_token_probs` runs the model and turns the last position's logits into
   probabilities, divided by a temperature first (``T == 0`` means "always the most likely token").
2. :func:`filter_logits` keeps only the ``top_k`` most likely tokens and/or the smallest set whose
   probability reaches ``top_p`` (nucleus sampling, Holtzman et al., 2020).
3. :func:`generate` repeats: predict, sample, append. :func:`greedy` always takes the most likely
   token. :func:`beam_search` keeps the ``beam_width`` most likely continuations and ranks them.

The context window. A GPT sees at most ``config.context`` tokens. When the text is longer, only
its last ``context`` tokens are fed to the model: older tokens fall out of view. ``generate``
crops the prompt this way too.

The KV cache. Without a cache, each step re-runs the model on the whole window. With
``use_cache=True`` each step feeds only the newest token and reuses the stored keys and values of
the others. This gives exactly the same tokens. Once the cache holds a full context, the window
must slide; every position then changes (positions are absolute), so the cache cannot be reused:
each further step recomputes the cropped window and starts a fresh cache, just as the uncached
path does. The speed-up therefore applies until the text reaches the context length.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from gptbook.attention import KVCache
from gptbook.model import GPT

# ---------------------------------------------------------------------------------------------
# Checking the knobs
# ---------------------------------------------------------------------------------------------


class SamplingSettingError(ValueError):
    """A decoding setting (temperature, top_k, top_p, a length, the prompt) is out of range."""


class NonFiniteLogitsError(ValueError):
    """The model produced NaN or infinite logits: its weights are almost certainly corrupt."""


def check_settings(
    temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> None:
    """Raise :class:`SamplingSettingError` for a temperature, ``top_k`` or ``top_p`` out of range
    (for checking a user's choices before loading a model)."""
    _check_temperature(temperature)
    _check_top_k(top_k)
    _check_top_p(top_p)


def _check_temperature(temperature: float) -> None:
    ok = isinstance(temperature, numbers.Real) and not isinstance(temperature, bool)
    if not ok or not math.isfinite(temperature) or temperature < 0:
        raise SamplingSettingError(
            f"temperature must be a finite number >= 0, got {temperature!r}. Use 0 for greedy "
            "decoding, 1 for the model's own distribution, above 1 for flatter."
        )


def check_logits(logits: Tensor) -> None:
    """Raise :class:`NonFiniteLogitsError` if a model's ``logits`` hold NaN or infinity."""
    if not torch.isfinite(logits).all():
        raise NonFiniteLogitsError(
            "The model produced NaN or infinite logits, so there is no next-token distribution to "
            "sample from; its weights are probably corrupt (a diverged training run or a damaged "
            "file). Retrain the model, or reload it from a good checkpoint."
        )


def _check_top_k(top_k: int | None) -> None:
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
        raise SamplingSettingError(
            f"top_k must be an integer >= 1 (or None to keep every token), got {top_k!r}."
        )


def _check_top_p(top_p: float | None) -> None:
    is_number = isinstance(top_p, numbers.Real) and not isinstance(top_p, bool)
    if top_p is not None and (not is_number or not 0 < top_p <= 1):
        raise SamplingSettingError(
            f"top_p must be in (0, 1] (or None to keep every token), got {top_p!r}."
        )


def _check_prompt(model: GPT, idx: Tensor) -> None:
    if not isinstance(idx, Tensor) or idx.dim() != 2 or idx.size(1) == 0:
        shape = tuple(idx.shape) if isinstance(idx, Tensor) else type(idx).__name__
        raise SamplingSettingError(
            "the prompt must be a LongTensor of shape (batch, time) with at least one token, got "
            f"{shape}; "
            "for one sequence use torch.tensor([ids])."
        )


def crop(idx: Tensor, context: int) -> Tensor:
    """The last ``context`` tokens of each row: what the model can see."""
    return idx if idx.size(1) <= context else idx[:, -context:]


# ---------------------------------------------------------------------------------------------
# 1. From logits to probabilities
# ---------------------------------------------------------------------------------------------


def scale_logits(logits: Tensor, temperature: float) -> Tensor:
    """``logits / temperature``, safe for every temperature > 0 (integer logits become float32).

    A tiny temperature overflows the plain division to infinity, and the softmax of that is NaN.
    Then the largest logit is subtracted first and the temperature is taken as at least the
    dtype's smallest normal number (1.2e-38 for float32): every other token gets -inf or a huge
    negative value, so the softmax is the argmax (tied tokens share it), the limit as T -> 0.
    For ordinary temperatures the result is exactly ``logits / temperature``.
    """
    _check_temperature(temperature)
    if temperature == 0:
        raise SamplingSettingError(
            "scale_logits needs a temperature > 0; temperature 0 is the argmax."
        )
    x = logits if logits.is_floating_point() else logits.float()
    scaled = x / temperature
    if not torch.isfinite(scaled).all():
        tiny = torch.finfo(x.dtype).tiny
        scaled = (x - x.amax(-1, keepdim=True)) / max(temperature, tiny)
    return scaled


def apply_temperature(logits: Tensor, temperature: float) -> Tensor:
    """Probabilities from ``logits`` (last dimension) at ``temperature``.

    ``softmax(logits / T)``. T < 1 sharpens, T > 1 flattens, and ``T == 0`` puts all the
    probability on the most likely token (the limit as T goes to 0; ties go to the first).
    Any finite T > 0 works, however small (see :func:`scale_logits`).
    """
    _check_temperature(temperature)
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.size(-1)).to(logits.dtype)
    return torch.softmax(scale_logits(logits, temperature), dim=-1)


@torch.no_grad()
def next_token_probs(model: GPT, idx: Tensor, temperature: float = 1.0) -> Tensor:
    """Probabilities of the next token after each row of ``idx`` ``(B, T)``: ``(B, vocab_size)``.

    A prompt longer than the context is cropped to its last ``context`` tokens.
    """
    _check_temperature(temperature)
    _check_prompt(model, idx)
    logits, _ = model(crop(idx, model.config.context))
    check_logits(logits[:, -1, :])
    return apply_temperature(logits[:, -1, :].float(), temperature)


# ---------------------------------------------------------------------------------------------
# 2. Keeping only the likely tokens
# ---------------------------------------------------------------------------------------------


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Set to ``-inf`` every logit outside the allowed set; the rest are unchanged.

    ``top_k`` keeps the k largest logits (tokens tied with the k-th are kept too). ``top_p`` keeps
    the most likely tokens, in order, until their probability adds up to at least ``top_p``; the
    most likely token is always kept. Both may be given; then a token must pass both.
    """
    _check_top_k(top_k)
    _check_top_p(top_p)
    if top_k is not None and top_k < logits.size(-1):
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs  # probability of the tokens ranked above
        drop_sorted = before >= top_p  # the set already reached top_p without this token
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Pick one next token per row from ``logits`` ``(B, V)``; returns ``(B, 1)``.

    ``-inf`` marks a token that may not be picked; NaN, ``+inf``, or a row without any allowed
    token raises :class:`NonFiniteLogitsError`.
    """
    _check_temperature(temperature)
    if (
        torch.isnan(logits).any()
        or torch.isposinf(logits).any()
        or torch.isneginf(logits).all(-1).any()
    ):
        check_logits(logits)
    if temperature == 0:
        return logits.argmax(-1, keepdim=True)
    probs = torch.softmax(
        filter_logits(scale_logits(logits.float(), temperature), top_k, top_p), dim=-1
    )
    if generator is not None and generator.device != probs.device:
        return torch.multinomial(probs.cpu(), 1, generator=generator).to(probs.device)
    return torch.multinomial(probs, 1, generator=generator)


# ---------------------------------------------------------------------------------------------
# 3. The generation loop
# ---------------------------------------------------------------------------------------------


def _next_logits(
    model: GPT, idx: Tensor, cache: KVCache | None, use_cache: bool
) -> tuple[Tensor, KVCache | None]:
    """Logits for the token after ``idx`` (shape ``(B, V)``), reusing ``cache`` when it can.

    The cache, when given, holds every token of ``idx`` but the last one, at positions 0, 1, ...
    If it cannot take one more (it holds a full context), or there is none yet, the window
    ``crop(idx)`` is run from scratch into a fresh cache.
    """
    context = model.config.context
    if not use_cache:
        logits, _ = model(crop(idx, context))
    elif cache is None or cache.length >= context:
        cache = model.new_cache()
        logits, _ = model(crop(idx, context), cache=cache)
    else:
        logits, _ = model(idx[:, -1:], cache=cache)
    check_logits(logits[:, -1, :])
    return logits[:, -1, :], cache


def generate_tokens(
    model: GPT,
    idx: Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
) -> Iterator[Tensor]:
    """The new tokens of :func:`generate` one step at a time, each of shape ``(B, 1)``, as they
    are made: for printing text while it is generated, and stopping at any point.

    The arguments are checked at once, before the first token. The model is in eval mode while
    the tokens are made and back in its own mode when the iterator ends or is closed.
    """
    check_settings(temperature, top_k, top_p)
    _check_prompt(model, idx)
    if (
        not isinstance(max_new_tokens, int)
        or isinstance(max_new_tokens, bool)
        or max_new_tokens < 0
    ):
        raise SamplingSettingError(
            f"max_new_tokens must be an integer >= 0, got {max_new_tokens!r}."
        )
    return _tokens(model, idx, max_new_tokens, temperature, top_k, top_p, use_cache, generator)


@torch.no_grad()
def _tokens(model, idx, max_new_tokens, temperature, top_k, top_p, use_cache, generator):
    was_training = model.training
    model.eval()
    try:
        cache = None
        for _ in range(max_new_tokens):
            logits, cache = _next_logits(model, idx, cache, use_cache)
            token = sample_next(logits, temperature, top_k, top_p, generator)
            idx = torch.cat([idx, token], dim=1)
            yield token
    finally:
        model.train(was_training)


def generate(
    model: GPT,
    idx: Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    use_cache: bool = True,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Continue each row of ``idx`` ``(B, T)`` by ``max_new_tokens`` tokens; returns prompt + new
    tokens.

    The model sees the last ``context`` tokens at each step (a longer prompt is cropped, but the
    returned tensor keeps it whole). ``temperature == 0`` is greedy. The model is put in eval mode
    (no dropout) while generating and restored afterwards. Pass a seeded ``generator`` for
    repeatable samples. NaN or infinite logits raise :class:`NonFiniteLogitsError`.
    """
    new = list(
        generate_tokens(model, idx, max_new_tokens, temperature, top_k, top_p, use_cache, generator)
    )
    return torch.cat([idx, *new], dim=1)


def greedy(model: GPT, idx: Tensor, max_new_tokens: int, use_cache: bool = True) -> Tensor:
    """Always take the most likely next token (``generate`` with ``temperature=0``)."""
    return generate(model, idx, max_new_tokens, temperature=0.0, use_cache=use_cache)


@dataclass
class Beam:
    """One beam-search candidate: the new tokens, their total log-probability and perplexity."""

    tokens: list[int]
    log_prob: float
    perplexity: float


@torch.no_grad()
def beam_search(
    model: GPT, idx: Tensor, max_new_tokens: int, beam_width: int = 4, use_cache: bool = True
) -> list[Beam]:
    """The ``beam_width`` most likely continuations of one prompt ``idx`` ``(1, T)``, best first.

    At every step each beam is extended by every token; the ``beam_width`` extensions with the
    highest total log-probability survive. Each :class:`Beam` holds its ``max_new_tokens`` new
    tokens, their summed log-probability, and perplexity ``exp(-log_prob / max_new_tokens)``
    (lower is better). All beams have the same length, so both measures give the same ranking.
    """
    _check_prompt(model, idx)
    if idx.size(0) != 1:
        raise SamplingSettingError(
            f"beam_search continues one prompt at a time; got a batch of {idx.size(0)}. "
            "Pass idx[:1]."
        )
    if not isinstance(beam_width, int) or beam_width < 1:
        raise SamplingSettingError(f"beam_width must be an integer >= 1, got {beam_width!r}.")
    if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise SamplingSettingError(
            f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}."
        )
    was_training = model.training
    model.eval()
    try:
        beams = idx  # (n_beams, T): one row per beam
        scores = torch.zeros(1, device=idx.device)  # total log-prob of each beam's new tokens
        cache = None
        for _ in range(max_new_tokens):
            logits, cache = _next_logits(model, beams, cache, use_cache)
            log_probs = torch.log_softmax(logits.float(), dim=-1)  # (n_beams, V)
            totals = (scores[:, None] + log_probs).flatten()
            k = min(beam_width, totals.numel())
            scores, flat = torch.topk(totals, k)
            parent = flat // log_probs.size(-1)
            token = flat % log_probs.size(-1)
            beams = torch.cat([beams[parent], token[:, None]], dim=1)
            if cache is not None:
                cache.reorder(parent)
    finally:
        model.train(was_training)
    new = beams[:, idx.size(1) :].tolist()
    return [
        Beam(tokens=t, log_prob=float(s), perplexity=math.exp(-float(s) / max_new_tokens))
        for t, s in zip(new, scores.tolist())
    ]
