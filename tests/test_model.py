"""The GPT: parameter counts, shapes, loss, errors, and GPT-2's weight layout."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gptbook.model import (
    GPT,
    MLP,
    Block,
    GPTConfig,
    LayerNorm,
    StateDictMismatchError,
    count_params,
    next_token_loss,
)

TINY = GPTConfig(vocab_size=61, context=16, n_layer=2, n_head=4, d_model=32)
SMALL = dict(vocab_size=61, context=16, n_head=4)
"""What to pass conftest's ``tiny_gpt`` for a GPT shaped like :data:`TINY`."""


def test_gpt2_small_counts_124_439_808():
    parts = count_params(GPTConfig.gpt2_small())
    assert parts["total"] == 124_439_808
    assert parts["token_embedding"] == 50257 * 768


def test_gpt3_embedding_and_total():
    cfg = GPTConfig.gpt3_175b()
    assert (cfg.d_model, cfg.n_layer, cfg.n_head, cfg.vocab_size, cfg.context) == (
        12288,
        96,
        96,
        50257,
        2048,
    )
    parts = count_params(cfg)
    assert parts["token_embedding"] == 617_558_016
    assert 174e9 < parts["total"] < 176e9  # "175B"
    assert parts["total"] == sum(v for k, v in parts.items() if k != "total")


@pytest.mark.parametrize("bias", [True, False])
def test_counter_agrees_with_a_built_model(bias):
    cfg = GPTConfig(vocab_size=97, context=24, n_layer=3, n_head=2, d_model=48, bias=bias)
    model = GPT(cfg)
    assert count_params(cfg)["total"] == model.num_params()
    assert model.num_params(non_embedding=True) == model.num_params() - (97 + 24) * 48


def test_lm_head_is_tied_to_the_token_embedding():
    model = GPT(TINY)
    assert model.lm_head.weight is model.transformer.wte.weight


def test_layer_norm_by_hand():
    torch.manual_seed(0)
    ln = LayerNorm(8)
    with torch.no_grad():
        ln.weight.uniform_(0.5, 1.5)
        ln.bias.uniform_(-1, 1)
    x = torch.randn(3, 5, 8) * 4 + 2
    mean = x.mean(-1, keepdim=True)
    var = x.var(-1, keepdim=True, unbiased=False)
    expected = (x - mean) / torch.sqrt(var + 1e-5) * ln.weight + ln.bias
    assert (ln(x) - expected).abs().max().item() < 1e-5
    assert LayerNorm(8, bias=False).bias is None


def test_mlp_is_four_times_wider_with_gelu():
    mlp = MLP(TINY)
    assert mlp.c_fc.weight.shape == (4 * 32, 32)
    x = torch.randn(2, 3, 32)
    h = mlp.c_fc(x)
    gelu = 0.5 * h * (1 + torch.tanh(math.sqrt(2 / math.pi) * (h + 0.044715 * h**3)))
    assert (mlp(x) - mlp.c_proj(gelu)).abs().max().item() < 1e-5


def test_block_is_pre_norm_with_residuals():
    torch.manual_seed(1)
    block = Block(TINY).eval()
    x = torch.randn(2, 7, 32)
    h = x + block.attn(block.ln_1(x))[0]
    expected = h + block.mlp(block.ln_2(h))
    assert (block(x)[0] - expected).abs().max().item() < 1e-6


def test_forward_shapes_and_loss_ignores_minus_100(tiny_gpt):
    model = tiny_gpt(2, **SMALL)
    idx = torch.randint(0, 61, (3, 10))
    targets = torch.randint(0, 61, (3, 10))
    logits, loss = model(idx, targets)
    assert logits.shape == (3, 10, 61)
    assert model(idx)[1] is None
    assert (
        abs(loss.item() - F.cross_entropy(logits.reshape(-1, 61), targets.reshape(-1)).item())
        < 1e-6
    )
    masked = targets.clone()
    masked[:, :5] = -100
    _, loss2 = model(idx, masked)
    assert (
        abs(
            loss2.item()
            - F.cross_entropy(logits[:, 5:].reshape(-1, 61), targets[:, 5:].reshape(-1)).item()
        )
        < 1e-6
    )
    # a fresh GPT-2-style init predicts nearly uniformly: loss close to ln(vocab)
    assert abs(loss.item() - math.log(61)) < 0.3


def test_future_tokens_do_not_change_past_logits(tiny_gpt):
    model = tiny_gpt(3, **SMALL)
    idx = torch.randint(0, 61, (1, 12))
    changed = idx.clone()
    changed[0, 8:] = (changed[0, 8:] + 1) % 61
    assert torch.allclose(model(idx)[0][:, :8], model(changed)[0][:, :8], atol=1e-6)


def test_cached_forward_equals_full_forward(tiny_gpt):
    model = tiny_gpt(4, **SMALL)
    idx = torch.randint(0, 61, (2, 16))
    full, _ = model(idx)
    cache = model.new_cache()
    steps = [model(idx[:, :9], cache=cache)[0]] + [
        model(idx[:, t : t + 1], cache=cache)[0] for t in range(9, 16)
    ]
    assert (torch.cat(steps, dim=1) - full).abs().max().item() < 1e-5
    with pytest.raises(ValueError, match="context of 16"):
        model(idx[:, :1], cache=cache)  # the cache is full


def test_attention_weights_shape_and_rows(tiny_gpt):
    model = tiny_gpt(**SMALL)
    w = model.attention_weights(torch.randint(0, 61, (2, 9)))
    assert w.shape == (2, 2, 4, 9, 9)
    assert torch.allclose(w.sum(-1), torch.ones(2, 2, 4, 9), atol=1e-5)
    assert (w.triu(diagonal=1) == 0).all()


def test_bad_inputs_raise_clear_errors():
    model = GPT(TINY)
    with pytest.raises(ValueError, match="more than the model's context of 16"):
        model(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match=r"shape \(batch, time\)"):
        model(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 61\)"):
        model(torch.tensor([[1, 61]]))
    with pytest.raises(ValueError, match="integer token ids"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="empty"):
        model(torch.zeros(1, 0, dtype=torch.long))
    with pytest.raises(ValueError, match="targets have shape"):
        model(torch.zeros(1, 3, dtype=torch.long), torch.zeros(1, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="not divisible"):
        GPTConfig(vocab_size=10, context=8, n_layer=1, n_head=3, d_model=32)
    with pytest.raises(ValueError, match="positive integer"):
        GPTConfig(vocab_size=0, context=8, n_layer=1, n_head=1, d_model=32)
    with pytest.raises(ValueError, match="dropout"):
        GPTConfig(vocab_size=10, context=8, n_layer=1, n_head=1, d_model=32, dropout=1.0)


# --- GPT-2's published layout, against transformers' own GPT-2 (offline, random weights) ------


def _hf_gpt2(n_layer=2, n_head=4, d_model=64, context=32, vocab=101, seed=0):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(seed)
    hc = transformers.GPT2Config(
        vocab_size=vocab,
        n_positions=context,
        n_embd=d_model,
        n_layer=n_layer,
        n_head=n_head,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        bos_token_id=0,
        eos_token_id=0,
    )
    model = transformers.GPT2LMHeadModel(hc).eval()
    # transformers' init leaves biases and layer norms at 0 and 1; randomise them so the
    # test also checks that every bias and norm lands in the right place.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias") or ".ln_" in name:
                p.add_(torch.randn_like(p) * 0.1)
    cfg = GPTConfig(
        vocab_size=vocab, context=context, n_layer=n_layer, n_head=n_head, d_model=d_model
    )
    return model, cfg


def test_gpt2_state_dict_loads_and_logits_match_transformers():
    hf, cfg = _hf_gpt2()
    sd = hf.state_dict()
    assert sd["transformer.h.0.attn.c_attn.weight"].shape == (64, 192)  # Conv1D: (in, out)
    ours = GPT.from_gpt2_state_dict(sd, cfg).eval()
    idx = torch.randint(0, 101, (3, 32), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = hf(idx).logits
        got, _ = ours(idx)
    assert (got - ref).abs().max().item() < 1e-4
    # and the GPT2Model layout (no "transformer." prefix, no lm_head) loads too
    bare = {k.removeprefix("transformer."): v for k, v in sd.items() if k != "lm_head.weight"}
    again = GPT.from_gpt2_state_dict(bare, cfg).eval()
    assert torch.equal(again(idx)[0], got)


def test_gpt2_layout_errors_list_every_problem():
    hf, cfg = _hf_gpt2()
    sd = dict(hf.state_dict())
    del sd["transformer.h.1.mlp.c_fc.bias"]
    sd["transformer.h.0.attn.extra"] = torch.zeros(3)
    with pytest.raises(StateDictMismatchError) as err:
        GPT.from_gpt2_state_dict(sd, cfg)
    msg = str(err.value)
    assert "missing keys: transformer.h.1.mlp.c_fc.bias" in msg
    assert "unexpected keys: transformer.h.0.attn.extra" in msg
    wide = GPTConfig(vocab_size=101, context=32, n_layer=2, n_head=4, d_model=128)
    with pytest.raises(
        StateDictMismatchError,
        match=r"shape mismatches: transformer.wte.weight: checkpoint \(101, 64\)",
    ):
        GPT.from_gpt2_state_dict(hf.state_dict(), wide)
    untied = dict(hf.state_dict())
    untied["lm_head.weight"] = untied["lm_head.weight"] + 1
    with pytest.raises(StateDictMismatchError, match="ties the unembedding"):
        GPT.from_gpt2_state_dict(untied, cfg)


# --- the forward path, one public step at a time ----------------------------------------------


def test_forward_is_embed_then_blocks_then_final_norm_then_unembedding(tiny_gpt):
    model = tiny_gpt(5, **SMALL)
    idx = torch.randint(0, 61, (3, 11), generator=torch.Generator().manual_seed(0))
    logits, _ = model(idx)
    x = model.embed(idx)  # (B, T, d_model)
    t = model.transformer
    assert torch.equal(x, t.wte(idx) + t.wpe(torch.arange(11)))  # positions added here, once
    h = model.hidden_states(idx)
    assert torch.equal(h, t.ln_f(model.run_blocks(x)))
    assert torch.equal(model.lm_head(h), logits)  # bit for bit, not approximately
    # the blocks can be run in parts: the bottom once, the top from there
    bottom = model.run_blocks(x, last=1)
    assert torch.equal(model.run_blocks(bottom, first=1), model.run_blocks(x))
    assert torch.equal(model.finish(bottom, 1), h)


def test_positions_come_from_the_cache(tiny_gpt):
    model = tiny_gpt(6, **SMALL)
    idx = torch.randint(0, 61, (2, 9), generator=torch.Generator().manual_seed(1))
    cache = model.new_cache()
    model.hidden_states(idx[:, :5], cache=cache)
    assert cache.length == 5
    t = model.transformer
    assert torch.equal(
        model.embed(idx[:, 5:], start=5), t.wte(idx[:, 5:]) + t.wpe(torch.arange(5, 9))
    )
    last = model.hidden_states(idx[:, 5:], cache=cache)
    torch.testing.assert_close(last, model.hidden_states(idx)[:, 5:], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="after 9 cached tokens"):
        model.embed(idx, start=9)


def test_loss_reduction_mean_sum_and_per_token(tiny_gpt):
    model = tiny_gpt(7, **SMALL)
    idx = torch.randint(0, 61, (2, 8), generator=torch.Generator().manual_seed(2))
    targets = torch.randint(0, 61, (2, 8), generator=torch.Generator().manual_seed(3))
    targets[0, :3] = -100
    logits, mean = model(idx, targets)
    _, total = model(idx, targets, reduction="sum")
    _, per_token = model(idx, targets, reduction="none")
    assert per_token.shape == (2, 8) and (per_token[0, :3] == 0).all()
    torch.testing.assert_close(per_token.sum(), total)
    torch.testing.assert_close(total / 13, mean)
    assert torch.equal(next_token_loss(logits, targets), mean)
    with pytest.raises(ValueError, match="reduction must be one of"):
        model(idx, targets, reduction="max")


def test_a_reward_model_puts_a_scalar_head_on_the_hidden_states(tiny_gpt):
    # how chapter 11's reward model reuses the body: one number from the last token's state
    model = tiny_gpt(8, **SMALL)
    head = torch.nn.Linear(32, 1)
    chosen, rejected = torch.tensor([[1, 2, 3, 4]]), torch.tensor([[1, 2, 3, 5]])
    r_chosen = head(model.hidden_states(chosen)[:, -1]).squeeze(-1)  # (B,)
    r_rejected = head(model.hidden_states(rejected)[:, -1]).squeeze(-1)
    loss = -F.logsigmoid(r_chosen - r_rejected).mean()  # the pairwise (Bradley-Terry) loss
    loss.backward()
    assert head.weight.grad is not None and model.transformer.wte.weight.grad is not None


def test_run_blocks_refuses_blocks_that_do_not_exist(tiny_gpt):
    model = tiny_gpt(**SMALL)
    x = model.embed(torch.tensor([[1, 2]]))
    for first, last in [(0, 3), (2, 1), (-1, 2)]:
        with pytest.raises(ValueError, match="do not exist: the model has blocks 0 .. 1"):
            model.run_blocks(x, first, last)
