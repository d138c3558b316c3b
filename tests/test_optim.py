"""Tests of gptbook.optim: the one schedule gives each loop's old numbers bit for bit, the one
optimizer step, eval mode that restores the old mode, and config checks."""

from __future__ import annotations

import math

import pytest
import torch

from gptbook.optim import (
    ConfigError,
    autocast,
    bf16_supported,
    check_bool,
    check_int,
    check_number,
    evaluating,
    lr_at,
    optimizer_step,
)

# The schedules the loops had before they shared lr_at, written out as they were.


def old_train(step, lr, min_lr, warmup, max_iters, clock=None):
    if step < warmup:
        return lr * (step + 1) / warmup
    if step >= max_iters:
        return min_lr
    progress = (step - warmup) / max(1, max_iters - warmup)
    if clock is not None:
        progress = max(progress, clock)
    progress = min(progress, 1.0)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def old_finetune(step, total, base, warmup):
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def old_bigram(step, steps, lr, final):
    frac = step / max(1, steps - 1)
    return lr * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * frac)))


def old_word2vec(step, total, lr):
    return lr * max(1e-4, 1.0 - step / total)


@pytest.mark.parametrize(
    "lr, min_lr, warmup, max_iters", [(1e-3, 1e-4, 100, 2000), (3e-3, 0.0, 0, 7), (0.7, 0.1, 5, 3)]
)
def test_lr_at_gives_the_pretraining_schedule_bit_for_bit(lr, min_lr, warmup, max_iters):
    for step in range(max_iters + 3):
        want = old_train(step, lr, min_lr, warmup, max_iters)
        assert lr_at(step, max_iters, lr, warmup=warmup, final=min_lr) == want
        for clock in (0.0, 0.37, 1.0, 2.5):
            want = old_train(step, lr, min_lr, warmup, max_iters, clock)
            assert lr_at(step, max_iters, lr, warmup=warmup, final=min_lr, clock=clock) == want


@pytest.mark.parametrize("base, total, warmup", [(5e-4, 855, 20), (2e-3, 517, 20), (1e-2, 3, 5)])
def test_lr_at_gives_the_fine_tuning_schedule_bit_for_bit(base, total, warmup):
    for step in range(total + 2):
        assert lr_at(step, total, base, warmup=warmup) == old_finetune(step, total, base, warmup)


@pytest.mark.parametrize("lr, steps, final", [(0.1, 1000, 0.05), (0.01, 1500, 0.05), (1.0, 1, 0.2)])
def test_lr_at_gives_the_bigram_schedule_bit_for_bit(lr, steps, final):
    for step in range(steps):
        assert lr * lr_at(step, steps - 1, 1.0, final=final) == old_bigram(step, steps, lr, final)


def test_lr_at_gives_the_word2vec_schedule_bit_for_bit():
    for total in (1, 7, 3391, 20_001):
        for step in range(total):
            got = 0.01 * max(1e-4, lr_at(step, total, 1.0, shape="linear"))
            assert got == old_word2vec(step, total, 0.01)


def test_lr_at_refuses_an_unknown_shape():
    with pytest.raises(ValueError, match="shape must be one of"):
        lr_at(0, 10, 1.0, shape="step")


def test_optimizer_step_sets_the_rate_clips_and_steps():
    w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    w.grad = torch.tensor([100.0, 100.0])  # stale: cleared before the backward pass
    opt = torch.optim.SGD([w], lr=1.0)
    norm = optimizer_step((w**2).sum() / 2, opt, lr=0.5, clip=1.0)  # gradient (3, 4), norm 5
    assert norm == pytest.approx(5.0)
    assert opt.param_groups[0]["lr"] == 0.5
    assert w.detach().tolist() == pytest.approx([3.0 - 0.5 * 0.6, 4.0 - 0.5 * 0.8])
    assert optimizer_step((w**2).sum(), opt) is None  # no clip: no norm measured


def test_evaluating_restores_the_mode_even_after_an_error():
    model = torch.nn.Dropout(0.5)
    for mode in (True, False):
        model.train(mode)
        with pytest.raises(RuntimeError), evaluating(model):
            assert not model.training
            raise RuntimeError
        assert model.training is mode


def test_checks_refuse_bad_numbers_with_the_field_named():
    check_int("Cfg", "n", 3)
    check_number("Cfg", "x", 0.5, low=0.0, high=1.0)
    with pytest.raises(ConfigError, match="Cfg.n must be a positive integer, got True"):
        check_int("Cfg", "n", True)
    with pytest.raises(ConfigError, match=r"Cfg.x must be a finite number in \(0.0, 1.0\)"):
        check_number("Cfg", "x", 1.0, low=0.0, high=1.0, low_open=True, high_open=True)
    for bad in (math.nan, math.inf, "1", None):
        with pytest.raises(ConfigError, match="Cfg.x must be a finite number"):
            check_number("Cfg", "x", bad)
    assert issubclass(ConfigError, ValueError)


# --------------------------------------------------------------------------- mixed precision


def test_autocast_off_is_plain_float32():
    a = torch.randn(8, 8)
    with autocast("cpu", bf16=False):
        out = a @ a
    assert out.dtype == torch.float32
    assert torch.equal(out, a @ a)


def test_bf16_supported_answers_yes_or_no_without_crashing():
    assert isinstance(bf16_supported("cpu"), bool)
    assert bf16_supported("meta") is False  # no autocast there


@pytest.mark.skipif(not bf16_supported("cpu"), reason="this CPU has no native bf16")
def test_autocast_on_runs_matrix_products_in_bf16():
    a = torch.randn(8, 8)
    context = autocast("cpu", bf16=True)
    for _ in range(2):  # one context, entered once per step
        with context:
            out = a @ a
        assert out.dtype == torch.bfloat16
        assert (a @ a).dtype == torch.float32  # and off again after the block
    torch.testing.assert_close(out.float(), a @ a, rtol=2e-2, atol=5e-2)


def test_autocast_without_bf16_warns_and_stays_float32(monkeypatch):
    import gptbook.optim

    monkeypatch.setattr(gptbook.optim, "bf16_supported", lambda device: False)
    with pytest.warns(RuntimeWarning, match="bf16 autocast is not supported"):
        context = autocast("cpu", bf16=True)
    with context:
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_check_bool_refuses_what_only_looks_like_a_bool():
    check_bool("Cfg", "flag", True)
    check_bool("Cfg", "flag", False)
    for value in (0, 1, "no", None):
        with pytest.raises(ConfigError, match="Cfg.flag must be True or False"):
            check_bool("Cfg", "flag", value)
