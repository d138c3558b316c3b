"""Attention: the plain head, the fused multi-head module and PyTorch's kernel agree."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gptbook.attention import CausalSelfAttention, Head, KVCache, attend, causal_mask


def test_causal_mask_is_lower_triangle_and_shifts_with_a_cache():
    assert torch.equal(
        causal_mask(3, 3), torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    )
    # two new queries after three cached keys: they see the cache and themselves, not later ones
    assert torch.equal(
        causal_mask(2, 5), torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    )
    with pytest.raises(ValueError, match="more queries"):
        causal_mask(4, 3)


def test_attend_matches_sdpa_and_weights_are_causal_distributions():
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 3, 7, 8) for _ in range(3))
    out, w = attend(q, k, v)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert (out - ref).abs().max().item() < 1e-5
    assert torch.allclose(w.sum(-1), torch.ones(2, 3, 7))
    assert (w.triu(diagonal=1) == 0).all()  # nothing from the future


def test_single_head_matches_sdpa():
    torch.manual_seed(1)
    head = Head(d_model=16, head_size=8)
    x = torch.randn(2, 9, 16)
    out, w = head(x, return_weights=True)
    ref = F.scaled_dot_product_attention(head.query(x), head.key(x), head.value(x), is_causal=True)
    assert out.shape == (2, 9, 8) and w.shape == (2, 9, 9)
    assert (out - ref).abs().max().item() < 1e-5


def test_the_first_token_only_sees_itself():
    torch.manual_seed(2)
    head = Head(d_model=16, head_size=8)
    x = torch.randn(1, 5, 16)
    assert torch.allclose(head(x)[0, 0], head.value(x)[0, 0], atol=1e-6)


def _heads_by_hand(attn: CausalSelfAttention, x: torch.Tensor) -> torch.Tensor:
    """The fused module, recomputed one head at a time from slices of c_attn's weight."""
    d, h = attn.d_model, attn.n_head
    hs = d // h
    W, b = attn.c_attn.weight, attn.c_attn.bias
    outs = []
    for i in range(h):
        rows = [slice(part * d + i * hs, part * d + (i + 1) * hs) for part in range(3)]
        q, k, v = (x @ W[r].T + b[r] for r in rows)
        outs.append(attend(q, k, v)[0])
    return attn.c_proj(torch.cat(outs, dim=-1))


@pytest.mark.parametrize("use_sdpa", [True, False])
def test_fused_multi_head_matches_per_head_and_sdpa(use_sdpa):
    torch.manual_seed(3)
    attn = CausalSelfAttention(d_model=32, n_head=4, use_sdpa=use_sdpa).eval()
    x = torch.randn(2, 11, 32)
    y, w = attn(x)
    assert w is None if use_sdpa else w.shape == (2, 4, 11, 11)
    assert (y - _heads_by_hand(attn, x)).abs().max().item() < 1e-5
    other = CausalSelfAttention(d_model=32, n_head=4, use_sdpa=not use_sdpa).eval()
    other.load_state_dict(attn.state_dict())
    assert (y - other(x)[0]).abs().max().item() < 1e-5


def test_return_weights_works_on_the_sdpa_path_too():
    torch.manual_seed(4)
    attn = CausalSelfAttention(d_model=16, n_head=2, use_sdpa=True).eval()
    x = torch.randn(1, 6, 16)
    y, w = attn(x, return_weights=True)
    assert w.shape == (1, 2, 6, 6)
    assert (y - attn(x)[0]).abs().max().item() < 1e-5


@pytest.mark.parametrize("use_sdpa", [True, False])
def test_cache_in_chunks_equals_one_pass(use_sdpa):
    torch.manual_seed(5)
    attn = CausalSelfAttention(d_model=32, n_head=4, use_sdpa=use_sdpa).eval()
    x = torch.randn(2, 10, 32)
    full, _ = attn(x)
    cache = KVCache(1)
    parts = [
        attn(x[:, a:b], cache=cache.layers[0])[0] for a, b in [(0, 4), (4, 5), (5, 8), (8, 10)]
    ]
    assert cache.length == 10
    assert (torch.cat(parts, dim=1) - full).abs().max().item() < 1e-5


def test_bad_head_count_is_a_clear_error():
    with pytest.raises(ValueError, match="not divisible"):
        CausalSelfAttention(d_model=30, n_head=4)


# --- the attention widget's plain functions (chapter 05) ------------------------------------------


def _tiny_model_and_tokenizer(tiny_gpt):
    from gptbook.tokenizers import CharTokenizer

    tok = CharTokenizer.from_text("abcdefgh ijklmnop")
    model = tiny_gpt(6, vocab_size=tok.vocab_size, context=8, n_head=3, d_model=24)
    return model, tok


def test_attention_view_matches_the_model_and_crops_long_text(tiny_gpt):
    from gptbook.widgets.attention import attention_view

    model, tok = _tiny_model_and_tokenizer(tiny_gpt)
    view = attention_view(model, tok, "abc def", layer=1, head=2)
    expected = model.attention_weights(torch.tensor([tok.encode("abc def")]))[1, 0, 2]
    assert view.tokens == ["a", "b", "c", "·", "d", "e", "f"]
    assert torch.allclose(torch.from_numpy(view.weights), expected)
    assert abs(view.weights.sum(1) - 1).max() < 1e-5
    assert "layer 1, head 2: 7 tokens" in view.summary()
    kept = float(view.weights.diagonal()[1:].mean())  # token 0 (always 100 %) is left out
    assert f"tokens 1 to 6 give on average {kept:.0%} of their attention to themselves" in view.summary()
    one = attention_view(model, tok, "a", layer=0, head=0)
    assert one.summary().endswith("a single token can only look at itself.")
    long = attention_view(model, tok, "abcdefghijklmnop", max_tokens=100)  # context is 8
    assert long.tokens == list("ijklmnop")


def test_the_self_share_leaves_out_token_0():
    import numpy as np

    from gptbook.widgets.attention import AttentionView

    w = np.array([[1.0, 0, 0], [0.8, 0.2, 0], [0.6, 0.2, 0.2]])  # rows 1 and 2 keep 20 % each
    view = AttentionView("abc", 0, 0, [0, 1, 2], ["a", "b", "c"], w)
    assert "give on average 20% of their attention to themselves" in view.summary()


def test_attention_grid_labels_every_head_and_has_one_colour_bar(tiny_gpt):
    import matplotlib.pyplot as plt
    import numpy as np

    from gptbook.widgets.attention import all_attention, attention_grid

    model, tok = _tiny_model_and_tokenizer(tiny_gpt)
    ids = tok.encode("abc def")
    fig = attention_grid(all_attention(model, ids)[1], [tok.decode([i]) for i in ids], layer=1)
    heatmaps = [ax for ax in fig.axes if ax.get_title().startswith("head")]
    assert [ax.get_title() for ax in heatmaps] == ["head 0", "head 1", "head 2"]
    assert [t.get_text() for t in heatmaps[0].get_yticklabels()] == list("abc def")
    assert len(fig.axes) == 4 and fig.axes[-1].get_ylabel() == "attention weight"  # the colour bar
    assert "Layer 1" in fig._suptitle.get_text()
    plt.close(fig)
    with pytest.raises(ValueError, match="shape"):
        attention_grid(np.zeros((3, 4, 4)), list("abc"), layer=0)


def test_attention_widget_refuses_bad_input_with_a_message(tiny_gpt):
    from gptbook.widgets.attention import AttentionInputError, attention_view, attention_widget

    model, tok = _tiny_model_and_tokenizer(tiny_gpt)
    with pytest.raises(AttentionInputError, match="empty"):
        attention_view(model, tok, "   ")
    with pytest.raises(AttentionInputError, match="layer must be an integer from 0 to 1"):
        attention_view(model, tok, "abc", layer=2)
    with pytest.raises(AttentionInputError, match="head must be an integer from 0 to 2"):
        attention_view(model, tok, "abc", head=-1)
    with pytest.raises(AttentionInputError, match="cannot encode"):
        attention_view(model, tok, "xyz")  # characters the tokenizer does not know
    ui = attention_widget(model, tok, "abc")
    box, layer, head, out, chart = ui.children
    assert "gptbook-attention-summary" in out.value and chart.value
    box.value = "zzz"
    assert "Cannot show" in out.value and "cannot encode" in out.value
    box.value = "bad"
    head.value = 2
    assert "layer 0, head 2: 3 tokens" in out.value
