"""Skip-gram with negative sampling: the pieces, and a small corpus with an obvious structure."""

import numpy as np
import pytest
import torch

from gptbook.vectors import UnknownWordError, nearest
from gptbook.word2vec import (
    SkipGram,
    Vocab,
    keep_probabilities,
    skipgram_pairs,
    tokenize_words,
    train_word2vec,
)


def test_tokenize_keeps_inner_apostrophes():
    assert tokenize_words("O'er the hills, ne'er 'tis GONE.") == [
        "o'er",
        "the",
        "hills",
        "ne'er",
        "tis",
        "gone",
    ]


def test_vocab_orders_by_count_and_drops_rare_words():
    v = Vocab.build("b a b c b a".split(), min_count=2)
    assert v.words == ["b", "a"] and v.counts.tolist() == [3, 2]
    assert v.encode("a c b".split()).tolist() == [1, 0]
    with pytest.raises(ValueError, match="min_count"):
        Vocab.build(["a"], min_count=2)


def test_frequent_words_are_kept_less_often():
    keep = keep_probabilities(np.array([100_000, 100, 1]), threshold=1e-4)
    assert keep[0] < keep[1] <= keep[2] == 1.0


def test_skipgram_pairs_with_window_one():
    c, o = skipgram_pairs(np.array([0, 1, 2]), 1, np.random.default_rng(0))
    assert sorted(zip(c.tolist(), o.tolist())) == [(0, 1), (1, 0), (1, 2), (2, 1)]
    with pytest.raises(ValueError, match="window size 5 is too large for a text of 3 words"):
        skipgram_pairs(np.array([0, 1, 2]), 5, np.random.default_rng(0))


def test_loss_matches_the_formula():
    torch.manual_seed(0)
    m = SkipGram(5, 3)
    torch.nn.init.normal_(m.out.weight)
    c, o, n = torch.tensor([1]), torch.tensor([2]), torch.tensor([[3, 4]])
    u, v = m.inp.weight[1], m.out.weight
    want = -(
        torch.log(torch.sigmoid(u @ v[2]))
        + torch.log(torch.sigmoid(-u @ v[3]))
        + torch.log(torch.sigmoid(-u @ v[4]))
    )
    assert torch.allclose(m.loss(c, o, n), want)


def test_words_in_the_same_contexts_end_up_close():
    # two families of words that never share a sentence: animals and numbers
    rng = np.random.default_rng(0)
    animals, numbers = ["cat", "dog", "cow", "pig"], ["one", "two", "six", "ten"]
    words = []
    for _ in range(3000):
        family = animals if rng.random() < 0.5 else numbers
        words += list(rng.choice(family, size=4))
    result = train_word2vec(
        words, dim=8, window=2, negatives=3, min_count=1, epochs=2, subsample=1.0, seed=0
    )
    assert result.losses[-1] < result.losses[0]
    # the second epoch redraws windows over the same text: most of its pairs were seen in the first
    assert result.seen_before[0] == 0.0 and 0.5 < result.seen_before[1] <= 1.0
    steps = [-(-n // result.batch_size) for n in result.pairs_per_epoch]
    assert result.epoch_starts == [0, steps[0]] and sum(steps) == len(result.losses)
    for w in animals:
        assert {x for x, _ in nearest(result.vectors, w, k=3)} == set(animals) - {w}
    with pytest.raises(UnknownWordError, match="'horse'"):
        nearest(result.vectors, "horse")
