"""word2vec: skip-gram with negative sampling (Mikolov et al., 2013a, 2013b), small for a CPU.

The idea: words that appear in similar contexts get similar vectors. Every word has two vectors, an
"input" one (used when the word is the centre) and an "output" one (used when it is a neighbour).
For each centre word and each real neighbour within a window, the model is trained to say "yes,
these go together" (sigmoid of their dot product near 1) and, for a few random "negative" words
drawn from the unigram distribution raised to the power 3/4, to say "no" (sigmoid near 0).
The input vectors are the word vectors we keep.

Two tricks from the papers are kept because they matter on a small corpus: frequent words such as
"the" are randomly dropped (subsampling), and the window size is drawn at random for each centre
word, so near neighbours count more than far ones.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gptbook.data import WordVectors
from gptbook.optim import lr_at, optimizer_step

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*")


def tokenize_words(text: str) -> list[str]:
    """Lower-case words of ``text``; apostrophes inside a word are kept ("ne'er", "o'er")."""
    return _WORD.findall(text.lower())


@dataclass
class Vocab:
    """The words kept for training, most frequent first, with their counts."""

    words: list[str]
    counts: np.ndarray
    index: dict[str, int] = field(repr=False)

    @classmethod
    def build(cls, words: list[str], min_count: int = 5) -> Vocab:
        """Keep every word seen at least ``min_count`` times (ties broken alphabetically)."""
        counter = Counter(words)
        kept = sorted(
            (w for w, c in counter.items() if c >= min_count), key=lambda w: (-counter[w], w)
        )
        if not kept:
            raise ValueError(
                f"No word occurs {min_count} times or more; lower min_count or use a longer text."
            )
        return cls(
            kept,
            np.array([counter[w] for w in kept], dtype=np.int64),
            {w: i for i, w in enumerate(kept)},
        )

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, words: list[str]) -> np.ndarray:
        """Ids of the words in the vocabulary (rare words are dropped, as word2vec does)."""
        return np.array([self.index[w] for w in words if w in self.index], dtype=np.int64)


def keep_probabilities(counts: np.ndarray, threshold: float = 1e-4) -> np.ndarray:
    """Chance of keeping each occurrence of a word when subsampling frequent words.

    With ``f`` the word's share of the corpus: ``(sqrt(f / t) + 1) * t / f`` (the formula in the
    word2vec C code), capped at 1; words rarer than about ``t`` are always kept."""
    f = counts / counts.sum()
    return np.minimum(1.0, (np.sqrt(f / threshold) + 1.0) * threshold / f)


def skipgram_pairs(
    ids: np.ndarray, window: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """All (centre, neighbour) pairs with the neighbour at most ``b`` words away, where ``b`` is
    drawn uniformly from 1..``window`` for each centre word."""
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    if len(ids) <= window:
        raise ValueError(
            f"The window size {window} is too large for a text of {len(ids)} words; "
            "use a longer text or a smaller window."
        )
    reach = rng.integers(1, window + 1, size=len(ids))
    centres, contexts = [], []
    for offset in range(1, window + 1):
        for sign in (-1, 1):
            pos = np.arange(len(ids))
            other = pos + sign * offset
            ok = (reach >= offset) & (other >= 0) & (other < len(ids))
            centres.append(ids[pos[ok]])
            contexts.append(ids[other[ok]])
    return np.concatenate(centres), np.concatenate(contexts)


class SkipGram(nn.Module):
    """Two embedding tables: input vectors (kept as the word vectors) and output vectors."""

    def __init__(self, vocab_size: int, dim: int) -> None:
        super().__init__()
        self.inp = nn.Embedding(vocab_size, dim)
        self.out = nn.Embedding(vocab_size, dim)
        nn.init.uniform_(
            self.inp.weight, -0.5 / dim, 0.5 / dim
        )  # as the C code: small random inputs,
        nn.init.zeros_(self.out.weight)  # zero outputs

    def loss(
        self, centre: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor
    ) -> torch.Tensor:
        """Mean over the batch of ``-log sigmoid(u.v) - sum_k log sigmoid(-u.n_k)``, where ``u``
        is the centre's input vector, ``v`` the real neighbour's output vector and ``n_k`` the
        negatives'."""
        u = self.inp(centre)  # [B, D]
        w = self.out(
            torch.cat([context.unsqueeze(1), negatives], dim=1)
        )  # [B, 1 + K, D]: real first
        scores = (w * u.unsqueeze(1)).sum(-1)  # [B, 1 + K] dot products
        sign = torch.ones_like(scores)
        sign[:, 1:] = -1.0  # "yes" for the real neighbour, "no" for the negatives
        return -F.logsigmoid(sign * scores).sum(-1).mean()


def _adam(params, lr: float) -> torch.optim.Optimizer:
    try:  # the fused kernel is several times faster on CPU (PyTorch >= 2.4)
        return torch.optim.Adam(params, lr=lr, fused=True)
    except (RuntimeError, TypeError, ValueError):
        return torch.optim.Adam(params, lr=lr)


@dataclass
class Word2VecResult:
    vectors: WordVectors  # the input vectors, one per vocabulary word
    vocab: Vocab
    losses: list[float]  # mean loss of every batch
    pairs_per_epoch: list[int]
    seconds: float
    # per epoch: the share of its (centre, neighbour) pairs that an earlier epoch already had (0 for the
    # first); a step down in the loss at each new epoch comes from these pairs seen again
    seen_before: list[float] = field(default_factory=list)

    @property
    def epoch_starts(self) -> list[int]:
        """The step at which each epoch begins (0 for the first)."""
        steps = [math.ceil(n / self.batch_size) for n in self.pairs_per_epoch]
        return [sum(steps[:k]) for k in range(len(steps))]

    batch_size: int = 4096


def train_word2vec(
    words: list[str],
    dim: int = 32,
    window: int = 3,
    negatives: int = 3,
    min_count: int = 5,
    epochs: int = 3,
    batch_size: int = 4096,
    lr: float = 0.01,
    subsample: float = 1e-4,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> Word2VecResult:
    """Train skip-gram with negative sampling on a list of words; return the word vectors.

    Adam with large batches and the learning rate decaying linearly to zero (the original code used
    plain SGD one pair at a time, which is slow in Python). Subsampling and windows are redrawn
    every epoch."""
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    vocab = Vocab.build(words, min_count)
    ids = vocab.encode(words)
    keep = keep_probabilities(vocab.counts, subsample)
    noise = torch.tensor(vocab.counts / vocab.counts.sum(), dtype=torch.float64) ** 0.75
    noise_table = torch.multinomial(noise / noise.sum(), 1_000_000, replacement=True, generator=gen)

    model = SkipGram(len(vocab), dim).to(device)
    opt = _adam(list(model.parameters()), lr)
    epoch_pairs = []
    seen: np.ndarray = np.zeros(0, dtype=np.int64)  # distinct pairs of earlier epochs, as c * V + o
    seen_before = []
    for _ in range(epochs):
        kept = ids[rng.random(len(ids)) < keep[ids]]
        c, o = skipgram_pairs(kept, window, rng)
        code = c.astype(np.int64) * len(vocab) + o
        seen_before.append(float(np.isin(code, seen).mean()) if len(seen) else 0.0)
        seen = np.union1d(seen, code)
        order = rng.permutation(len(c))
        epoch_pairs.append((torch.from_numpy(c[order]), torch.from_numpy(o[order])))
    total_steps = sum(math.ceil(len(c) / batch_size) for c, _ in epoch_pairs)
    losses: list[float] = []
    step = 0
    for centres, contexts in epoch_pairs:
        for lo in range(0, len(centres), batch_size):
            # a straight line down to zero, floored at 1e-4 of the start as in word2vec's C code
            rate = lr * max(1e-4, lr_at(step, total_steps, 1.0, shape="linear"))
            c = centres[lo : lo + batch_size].to(device)
            o = contexts[lo : lo + batch_size].to(device)
            draw = torch.randint(0, len(noise_table), (len(c), negatives), generator=gen)
            neg = noise_table[draw].to(device)  # (B, negatives)
            loss = model.loss(c, o, neg)
            optimizer_step(loss, opt, lr=rate)
            losses.append(loss.item())
            step += 1
    vectors = model.inp.weight.detach().cpu().numpy().astype(np.float32)
    wv = WordVectors(list(vocab.words), vectors, dict(vocab.index))
    return Word2VecResult(
        wv, vocab, losses, [len(c) for c, _ in epoch_pairs], time.perf_counter() - start,
        seen_before, batch_size=batch_size,
    )
