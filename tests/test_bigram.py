"""Bigram language models: counting and learning agree; helpers refuse bad input."""

import math

import pytest
import torch

from gptbook.bigram import (
    BigramLM,
    CountingBigram,
    count_bigrams,
    evaluate,
    random_windows,
    sample,
    train_next_token,
)


def test_count_bigrams_counts_each_pair():
    counts = count_bigrams(torch.tensor([0, 1, 0, 1, 1]), 2)
    assert counts.tolist() == [[0, 2], [1, 1]]


def test_counting_model_probabilities_and_loss_by_hand():
    ids = torch.tensor([0, 1, 0, 1, 1])
    model = CountingBigram.fit(ids, 2, smoothing=1.0)
    # row 0: counts (0, 2) + 1 -> (1, 3) / 4 ; row 1: counts (1, 1) + 1 -> (2, 2) / 4
    assert torch.allclose(model.probs, torch.tensor([[0.25, 0.75], [0.5, 0.5]]))
    want = -(math.log(0.75) + math.log(0.5) + math.log(0.75) + math.log(0.5)) / 4
    assert evaluate(model, ids) == pytest.approx(want, rel=1e-6)


def test_unsmoothed_counting_gives_infinite_loss_on_an_unseen_pair():
    model = CountingBigram.fit(torch.tensor([0, 1, 0, 1]), 2, smoothing=0.0)
    assert math.isinf(evaluate(model, torch.tensor([0, 0])))


def test_learned_bigram_reaches_the_counting_loss():
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 5, (3000,), generator=g)
    ids[1::2] = (ids[::2] + 1) % 5  # every even position fixes the next token
    counting = evaluate(CountingBigram.fit(ids, 5, smoothing=0.01), ids)
    torch.manual_seed(0)
    model = BigramLM(5)
    losses = train_next_token(model, ids, steps=300, batch_size=512, lr=0.1, generator=g)
    assert losses[-1] < losses[0]
    assert evaluate(model, ids) < counting + 0.01


def test_one_hot_times_weight_is_the_row():
    model = BigramLM(4)
    with torch.no_grad():
        model.weight.copy_(torch.arange(16.0).view(4, 4))
    x = torch.tensor([[2], [0]])
    assert torch.equal(model(x), torch.nn.functional.one_hot(x[:, -1], 4).float() @ model.weight)


def test_random_windows_are_consecutive_text():
    ids = torch.arange(100)
    x, y = random_windows(ids, 3, 50, torch.Generator().manual_seed(1))
    assert x.shape == (50, 3)
    assert torch.equal(x[:, 1] - x[:, 0], torch.ones(50, dtype=torch.long))
    assert torch.equal(y, x[:, -1] + 1)


def test_window_larger_than_text_is_refused():
    with pytest.raises(ValueError, match="window size 10 is too large for a text of 5 tokens"):
        random_windows(torch.arange(5), 10, 4)
    with pytest.raises(ValueError, match="at least 1"):
        random_windows(torch.arange(5), 0, 4)


def test_sample_follows_a_deterministic_model_and_checks_the_prompt():
    model = CountingBigram(torch.tensor([[0, 5], [5, 0]]), smoothing=0.0)  # 0 -> 1 -> 0 -> ...
    assert sample(model, [0], 5, generator=torch.Generator().manual_seed(0)) == [0, 1, 0, 1, 0, 1]
    with pytest.raises(ValueError, match="prompt has 0 tokens"):
        sample(model, [], 3)


def test_training_gives_the_losses_of_the_loop_written_out_by_hand():
    # the loop as chapter 02 first wrote it, before every loop shared gptbook.optim
    ids = torch.randint(0, 9, (500,), generator=torch.Generator().manual_seed(0))
    steps, lr, final = 30, 0.1, 0.05
    model = BigramLM(9)
    got = train_next_token(
        model, ids, steps, batch_size=32, lr=lr, generator=torch.Generator().manual_seed(1)
    )
    by_hand, gen = BigramLM(9), torch.Generator().manual_seed(1)
    opt = torch.optim.AdamW(by_hand.parameters(), lr=lr, weight_decay=0.0)
    want = []
    for step in range(steps):
        frac = step / max(1, steps - 1)
        for group in opt.param_groups:
            group["lr"] = lr * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * frac)))
        x, y = random_windows(ids, 1, 32, gen)
        loss = torch.nn.functional.cross_entropy(by_hand(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        want.append(loss.item())
    assert got == want  # bit for bit
    assert torch.equal(model.weight, by_hand.weight)


def test_context_coverage_counts_contexts_by_hand():
    from gptbook.bigram import context_coverage

    train = torch.tensor([0, 1, 2, 0, 1, 2, 0])  # contexts of 2: 01 12 20 01 12 20 -> 3 distinct
    val = torch.tensor([0, 1, 0, 2, 2])  # windows before a target: 01 10 02 -> 10 and 02 unseen
    cov = context_coverage(train, val, 2, vocab_size=3)
    assert (cov.n, cov.possible, cov.seen) == (2, 9, 3)
    assert cov.unseen_share == pytest.approx(2 / 3)
    assert context_coverage(train, val, 1, 3).unseen_share == 0.0
    with pytest.raises(ValueError, match="do not fit in a 64-bit code"):
        context_coverage(train, val, 20, vocab_size=100)
    with pytest.raises(ValueError, match="at least 1"):
        context_coverage(train, val, 0, 3)


def test_seen_context_mask_marks_each_predicted_token():
    from gptbook.bigram import seen_context_mask

    train = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    val = torch.tensor([0, 1, 0, 2, 2])  # targets 0, 2, 2 after contexts 01, 10, 02
    assert seen_context_mask(train, val, 2, 3).tolist() == [True, False, False]
    with pytest.raises(ValueError, match="and 3 tokens to check"):
        seen_context_mask(train, torch.tensor([0, 1]), 2, 3)
