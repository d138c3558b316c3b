"""Sampling: temperature, top-k, top-p, greedy, beam search, and the KV cache."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from gptbook.model import GPT, GPTConfig
from gptbook.sampling import (
    NonFiniteLogitsError,
    SamplingSettingError,
    apply_temperature,
    beam_search,
    check_settings,
    filter_logits,
    generate,
    generate_tokens,
    greedy,
    next_token_probs,
    sample_next,
    scale_logits,
)

CFG = GPTConfig(vocab_size=37, context=12, n_layer=2, n_head=2, d_model=32)


@pytest.fixture(scope="module")
def model() -> GPT:
    torch.manual_seed(0)
    m = GPT(CFG).eval()
    with torch.no_grad():  # sharper than a fresh init, so sampling is not near-uniform
        m.transformer.wte.weight.mul_(20)
    return m


def test_temperature_scales_the_softmax():
    logits = torch.tensor([2.0, 1.0, 0.0])
    assert torch.allclose(apply_temperature(logits, 1.0), torch.softmax(logits, -1))
    assert torch.allclose(apply_temperature(logits, 2.0), torch.softmax(logits / 2, -1))
    assert torch.equal(apply_temperature(logits, 0), torch.tensor([1.0, 0.0, 0.0]))
    assert apply_temperature(logits, 0.05)[0] > 0.99999  # T -> 0 approaches the argmax


def test_small_temperature_equals_greedy(model):
    prompt = torch.tensor([[1, 2, 3]])
    g = greedy(model, prompt, 15)
    for seed in range(3):
        s = generate(
            model, prompt, 15, temperature=1e-4, generator=torch.Generator().manual_seed(seed)
        )
        assert torch.equal(s, g)
    assert torch.equal(generate(model, prompt, 15, temperature=0), g)
    # greedy is the argmax at each step, checked one step at a time
    idx = prompt
    for _ in range(15):
        idx = torch.cat([idx, next_token_probs(model, idx).argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(idx, g)


def test_top_k_keeps_exactly_the_k_largest():
    torch.manual_seed(1)
    logits = torch.randn(4, 50)
    kept = filter_logits(logits, top_k=5)
    top = torch.topk(logits, 5).indices
    for row in range(4):
        assert set(torch.isfinite(kept[row]).nonzero().flatten().tolist()) == set(top[row].tolist())
    assert torch.equal(filter_logits(logits, top_k=50), logits)


def test_top_p_keeps_the_smallest_set_reaching_p():
    logits = torch.log(torch.tensor([0.5, 0.05, 0.3, 0.15]))
    kept = lambda p: set(
        torch.isfinite(filter_logits(logits, top_p=p)).nonzero().flatten().tolist()
    )
    assert kept(0.5) == {0}
    assert kept(0.6) == {0, 2}
    assert kept(0.8) == {0, 2}
    assert kept(0.81) == {0, 2, 3}
    assert kept(1.0) == {0, 1, 2, 3}
    assert kept(0.01) == {0}  # the most likely token is always kept


@pytest.mark.parametrize("top_k,top_p", [(3, None), (None, 0.6), (5, 0.9)])
def test_sampling_never_leaves_the_allowed_set(top_k, top_p):
    torch.manual_seed(2)
    logits = torch.randn(8, 40) * 2
    # top-p is applied after the temperature, so the set is computed at the same temperature
    allowed = torch.isfinite(filter_logits(logits / 1.5, top_k, top_p))
    seen = torch.zeros_like(allowed)
    for seed in range(300):
        tok = sample_next(logits, 1.5, top_k, top_p, torch.Generator().manual_seed(seed))
        assert allowed.gather(1, tok).all(), f"seed {seed} sampled outside the set"
        seen.scatter_(1, tok, True)
    assert (seen == allowed).all()  # and every allowed token does get sampled


def test_generate_with_top_k_and_top_p_stays_in_the_set(model):
    prompt = torch.arange(3 * 16).reshape(16, 3) % 37  # 16 different prompts at once
    for seed in range(3):
        out = generate(
            model, prompt, 8, top_k=2, top_p=0.9, generator=torch.Generator().manual_seed(seed)
        )
        logits, _ = model(
            out[:, :-1]
        )  # 11 tokens: within the context, so one pass checks every step
        allowed = torch.isfinite(filter_logits(logits[:, 2:], top_k=2, top_p=0.9))
        assert allowed.gather(2, out[:, 3:, None]).all()


@pytest.mark.parametrize(
    "temperature,top_k,top_p", [(0.0, None, None), (1.0, None, None), (0.8, 10, 0.95)]
)
def test_cached_generation_equals_uncached_past_the_context(model, temperature, top_k, top_p):
    prompt = torch.tensor([[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]])
    n = 2 * CFG.context + 3  # well past the context of 12
    for seed in range(2):
        kw = dict(temperature=temperature, top_k=top_k, top_p=top_p)
        a = generate(
            model, prompt, n, use_cache=True, generator=torch.Generator().manual_seed(seed), **kw
        )
        b = generate(
            model, prompt, n, use_cache=False, generator=torch.Generator().manual_seed(seed), **kw
        )
        assert a.shape == (2, 5 + n)
        assert torch.equal(a, b)


def test_long_prompt_is_cropped_to_the_context(model):
    long = torch.randint(0, 37, (1, 30), generator=torch.Generator().manual_seed(3))
    out = greedy(model, long, 4)
    assert torch.equal(out[:, :30], long)  # the prompt is returned whole
    assert torch.equal(out[:, 30:], greedy(model, long[:, -CFG.context :], 4)[:, CFG.context :])
    assert torch.allclose(next_token_probs(model, long), next_token_probs(model, long[:, -12:]))


def test_generate_restores_training_mode(model):
    model.train()
    generate(model, torch.tensor([[1]]), 2)
    assert model.training
    model.eval()


def _log_prob(model, prompt, tokens):
    idx, total = prompt, 0.0
    for t in tokens:
        total += math.log(next_token_probs(model, idx)[0, t].item())
        idx = torch.cat([idx, torch.tensor([[t]])], dim=1)
    return total


def test_beam_search_scores_are_true_log_probs_and_ranked(model):
    prompt = torch.tensor([[3, 1, 4]])
    beams = beam_search(model, prompt, 4, beam_width=3)
    assert len(beams) == 3
    assert [b.log_prob for b in beams] == sorted((b.log_prob for b in beams), reverse=True)
    assert [b.perplexity for b in beams] == sorted(b.perplexity for b in beams)
    for b in beams:
        assert len(b.tokens) == 4
        assert abs(b.log_prob - _log_prob(model, prompt, b.tokens)) < 1e-3
        assert abs(b.perplexity - math.exp(-b.log_prob / 4)) < 1e-9
    # beam width 1 is greedy; a wide beam is never worse than greedy
    assert (
        beam_search(model, prompt, 4, beam_width=1)[0].tokens
        == greedy(model, prompt, 4)[0, 3:].tolist()
    )
    g = _log_prob(model, prompt, greedy(model, prompt, 4)[0, 3:].tolist())
    assert beams[0].log_prob >= g - 1e-4


def test_beam_search_finds_the_best_of_all_short_sequences():
    torch.manual_seed(5)
    small = GPT(GPTConfig(vocab_size=6, context=8, n_layer=1, n_head=1, d_model=16)).eval()
    with torch.no_grad():
        small.transformer.wte.weight.mul_(30)
    prompt = torch.tensor([[0]])
    seqs = torch.tensor(list(itertools.product(range(6), repeat=3)))  # all 216 continuations
    full = torch.cat([prompt.expand(len(seqs), 1), seqs], dim=1)
    log_probs = (
        torch.log_softmax(small(full)[0][:, :-1], dim=-1).gather(2, seqs[:, :, None]).sum((1, 2))
    )
    best = seqs[log_probs.argmax()].tolist()
    top = beam_search(small, prompt, 3, beam_width=36)[
        0
    ]  # wide enough to be exhaustive for 3 steps
    assert top.tokens == best
    assert abs(top.log_prob - log_probs.max().item()) < 1e-4


def test_beam_search_with_and_without_cache_agree_past_the_context(model):
    prompt = torch.tensor([[2, 7, 1, 8]])
    a = beam_search(model, prompt, 14, beam_width=3, use_cache=True)
    b = beam_search(model, prompt, 14, beam_width=3, use_cache=False)
    assert [x.tokens for x in a] == [x.tokens for x in b]


def test_bad_inputs_raise_clear_errors(model):
    p = torch.tensor([[1, 2]])
    with pytest.raises(ValueError, match="temperature must be a finite number >= 0"):
        generate(model, p, 3, temperature=-0.5)
    with pytest.raises(ValueError, match="temperature"):
        next_token_probs(model, p, temperature=float("nan"))
    for k in (0, -3, 2.5):
        with pytest.raises(ValueError, match="top_k must be an integer >= 1"):
            generate(model, p, 3, top_k=k)
    for bad in (0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]"):
            generate(model, p, 3, top_p=bad)
    with pytest.raises(ValueError, match=r"shape \(batch, time\)"):
        generate(model, torch.tensor([1, 2]), 3)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate(model, p, -1)
    with pytest.raises(ValueError, match="one prompt at a time"):
        beam_search(model, torch.tensor([[1], [2]]), 3)
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(model, p, 3, beam_width=0)


# ---------------------------------------------------------------------------------------------
# Tiny temperatures, broken models, streaming (issue 12, items 6, 7, 13)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [1e-30, 1e-38, 1e-40, 1e-45, 5e-324])
def test_tiny_temperatures_are_greedy_not_nan(model, temperature):
    prompt = torch.tensor([[1, 2, 3]])
    out = generate(
        model, prompt, 10, temperature=temperature, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(out, greedy(model, prompt, 10))
    probs = next_token_probs(model, prompt, temperature=temperature)
    assert torch.isfinite(probs).all() and probs.max() == 1.0
    tied = apply_temperature(torch.tensor([3.0, 1.0, 3.0]), temperature)
    assert torch.equal(tied, torch.tensor([0.5, 0.0, 0.5]))  # tied tokens share the probability


def test_ordinary_temperatures_divide_exactly_as_before():
    torch.manual_seed(0)
    logits = torch.randn(4, 50) * 10
    for t in (0.05, 0.8, 1.0, 3.0, 1e6):
        assert torch.equal(scale_logits(logits, t), logits / t)
    assert torch.equal(apply_temperature(logits, 0.8), torch.softmax(logits / 0.8, -1))


@pytest.mark.parametrize(
    "bad", [float("inf"), float("-inf"), float("nan"), -1e-9, "0.5", True, None]
)
def test_bad_temperatures_are_setting_errors(model, bad):
    with pytest.raises(SamplingSettingError, match="temperature must be a finite number >= 0"):
        generate(model, torch.tensor([[1]]), 2, temperature=bad)
    with pytest.raises(SamplingSettingError):
        check_settings(temperature=bad)


@pytest.fixture()
def broken() -> GPT:
    torch.manual_seed(0)
    m = GPT(CFG).eval()
    with torch.no_grad():
        m.transformer.h[0].mlp.c_fc.weight[0, 0] = float("nan")
    return m


def test_nan_weights_give_a_clear_error_in_every_decoder(broken):
    prompt = torch.tensor([[1, 2, 3]])
    for decode in (
        lambda: generate(broken, prompt, 3, temperature=0.8),
        lambda: generate(broken, prompt, 3, temperature=0.8, use_cache=False),
        lambda: greedy(broken, prompt, 3),
        lambda: beam_search(broken, prompt, 3),
        lambda: next_token_probs(broken, prompt),
    ):
        with pytest.raises(NonFiniteLogitsError, match="NaN or infinite logits.*corrupt"):
            decode()


def test_sample_next_allows_masked_tokens_but_not_nan():
    logits = torch.tensor([[float("-inf"), 0.0, float("-inf")]])
    assert sample_next(logits, temperature=1.0).item() == 1
    for bad in (float("nan"), float("inf")):
        with pytest.raises(NonFiniteLogitsError):
            sample_next(torch.tensor([[0.0, bad]]))
    with pytest.raises(NonFiniteLogitsError):
        sample_next(torch.full((1, 3), float("-inf")), temperature=0)


def test_generate_tokens_streams_the_same_tokens_as_generate(model):
    prompt = torch.tensor([[4, 5]])
    kw = dict(temperature=0.9, top_k=8)
    whole = generate(model, prompt, 20, generator=torch.Generator().manual_seed(1), **kw)
    steps = list(
        generate_tokens(model, prompt, 20, generator=torch.Generator().manual_seed(1), **kw)
    )
    assert all(t.shape == (1, 1) for t in steps)
    assert torch.equal(torch.cat([prompt, *steps], dim=1), whole)


def test_generate_tokens_checks_at_once_and_restores_the_mode(model):
    with pytest.raises(SamplingSettingError, match="top_p"):
        generate_tokens(model, torch.tensor([[1]]), 5, top_p=2.0)  # before the first token
    model.train()
    tokens = generate_tokens(model, torch.tensor([[1]]), 1000)
    next(tokens)
    assert not model.training  # eval while generating
    tokens.close()  # stopped early, as Ctrl-C does
    assert model.training
    model.eval()
