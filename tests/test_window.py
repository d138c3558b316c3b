"""The fixed-window language model."""

import pytest
import torch

from gptbook.bigram import CountingBigram, evaluate, train_next_token
from gptbook.window import FixedWindowLM, positional_shift, windows


def test_windows_lists_every_example():
    x, y = windows(torch.arange(6), 3)
    assert x.tolist() == [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    assert y.tolist() == [3, 4, 5]


def test_window_larger_than_text_is_refused():
    with pytest.raises(ValueError, match="window size 8 is too large for a text of 5 tokens"):
        windows(torch.arange(5), 8)


def test_model_refuses_a_window_of_the_wrong_length():
    model = FixedWindowLM(10, context=4)
    with pytest.raises(ValueError, match="exactly 4 tokens"):
        model(torch.zeros(2, 3, dtype=torch.long))


def test_embedding_table_is_shared_and_concatenated_in_order():
    torch.manual_seed(0)
    model = FixedWindowLM(7, context=3, d_embed=2, d_hidden=5)
    x = torch.tensor([[1, 4, 1]])
    e = model.embed_window(x)
    assert torch.equal(e[0, 0], e[0, 2])  # same letter, same vector, wherever it sits
    flat = torch.cat([model.embed.weight[1], model.embed.weight[4], model.embed.weight[1]])
    want = model.out(torch.tanh(model.hidden(flat)))
    assert torch.allclose(model(x)[0], want)


def test_position_vectors_only_shift_the_hidden_bias():
    torch.manual_seed(0)
    with_pos = FixedWindowLM(7, context=3, d_embed=4, d_hidden=6, positional=True)
    without = FixedWindowLM(7, context=3, d_embed=4, d_hidden=6)
    without.load_state_dict(
        {k: v for k, v in with_pos.state_dict().items() if not k.startswith("pos.")}
    )
    with torch.no_grad():
        without.hidden.bias += positional_shift(with_pos)
    x = torch.randint(0, 7, (5, 3))
    assert torch.allclose(with_pos(x), without(x), atol=1e-6)
    with pytest.raises(ValueError, match="positional=False"):
        positional_shift(without)


def test_window_model_learns_a_pattern_the_bigram_cannot():
    # blocks (a, b, (a + b) % 6) with a, b random: the third token needs both, a bigram sees only b
    g = torch.Generator().manual_seed(0)
    ab = torch.randint(0, 6, (1500, 2), generator=g)
    ids = torch.cat([ab, (ab.sum(1, keepdim=True) % 6)], 1).flatten()
    bigram = evaluate(CountingBigram.fit(ids, 6, smoothing=0.01), ids, first_target=2)
    torch.manual_seed(0)
    model = FixedWindowLM(6, context=2, d_embed=4, d_hidden=32)
    train_next_token(model, ids, steps=400, batch_size=256, lr=0.02, generator=g)
    # the bigram cannot beat log 6 = 1.79 here; the window model (which must also guess where a
    # block starts) gets about 1.56
    assert bigram > 1.75
    assert evaluate(model, ids) < bigram - 0.15
