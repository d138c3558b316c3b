"""Fixtures shared by the test files: a tiny GPT, a byte-level tokenizer, a learnable sequence.

Every fixture is small enough for a 2-core CPU: a tiny GPT builds in milliseconds and trains a
few steps in well under a second.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from gptbook.model import GPT, GPTConfig
from gptbook.tokenizers import BPETokenizer

TINY = dict(vocab_size=256, context=128, n_layer=2, n_head=2, d_model=32)
"""The tiny GPT's shape: a byte-sized vocabulary, so the byte-level tokenizer fits it."""


def make_gpt(seed: int = 0, **config) -> GPT:
    """A tiny, randomly initialised GPT (seeded); ``config`` overrides fields of :data:`TINY`."""
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**TINY, **config}))


@pytest.fixture
def tiny_gpt() -> Callable[..., GPT]:
    """Make a tiny GPT: ``tiny_gpt(seed=1, context=32, n_layer=3, ...)``, in eval mode."""

    def make(seed: int = 0, **config) -> GPT:
        return make_gpt(seed, **config).eval()

    return make


@pytest.fixture(scope="session")
def byte_tok() -> BPETokenizer:
    """A BPE tokenizer with no merges: one token per byte, so it encodes any text."""
    return BPETokenizer()


@pytest.fixture(scope="session")
def pattern_ids() -> Callable[[int, int], list[int]]:
    """A learnable sequence ``0 1 2 ... v-1 0 1 2 ...`` of ``n`` ids (the next id is always known):
    ``pattern_ids(n=600, vocab=11)``."""

    def make(n: int = 600, vocab: int = 11) -> list[int]:
        return [i % vocab for i in range(n)]

    return make
