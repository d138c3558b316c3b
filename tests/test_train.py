"""Tests of gptbook.train: windows and batches, the schedule, the optimizer groups, evaluation,
the loop's history and callback, and exact resume from a checkpoint."""

from __future__ import annotations

import math
import os
import signal
import time
from dataclasses import replace

import pytest
import torch

from gptbook.checkpoint import load_checkpoint
from gptbook.model import GPT
from gptbook.optim import ConfigError, bf16_supported
from gptbook.train import (
    CompileUnavailableError,
    DataTooShortError,
    TokenDataset,
    TrainConfig,
    _finish_before_interrupt,
    bits_per_byte,
    bytes_per_token,
    compiled,
    estimate_loss,
    eval_records,
    evaluate,
    learning_rate,
    make_optimizer,
    train,
)

VOCAB = 11


@pytest.fixture
def tiny_model(tiny_gpt):
    """A tiny GPT over :data:`VOCAB` tokens, in training mode (as a freshly built model is)."""

    def make(seed: int = 0, context: int = 16, dropout: float = 0.0) -> GPT:
        return tiny_gpt(
            seed, vocab_size=VOCAB, context=context, d_model=16, dropout=dropout
        ).train()

    return make


def small_cfg(**kw) -> TrainConfig:
    base = dict(
        batch_size=4,
        context=8,
        lr=1e-2,
        min_lr=1e-3,
        warmup_iters=3,
        max_iters=12,
        eval_interval=4,
        eval_iters=2,
        seed=7,
        device="cpu",
    )
    base.update(kw)
    return TrainConfig(**base)


# --------------------------------------------------------------------------- data


def test_window_labels_are_the_next_tokens():
    ids = list(range(100, 120))
    data = TokenDataset(ids, context=5)
    assert len(data) == 15
    x, y = data[3]
    assert x.tolist() == [103, 104, 105, 106, 107]
    assert y.tolist() == [104, 105, 106, 107, 108]
    x, y = data[-1]  # the last window ends at the last token
    assert y[-1].item() == 119
    with pytest.raises(IndexError, match="out of range"):
        data[15]


def test_batches_are_windows_and_repeat_with_the_seed():
    ids = torch.arange(1000)
    data = TokenDataset(ids, context=12)
    x1, y1 = data.batch(6, torch.Generator().manual_seed(3))
    x2, y2 = data.batch(6, torch.Generator().manual_seed(3))
    x3, _ = data.batch(6, torch.Generator().manual_seed(4))
    assert x1.shape == y1.shape == (6, 12)
    assert torch.equal(y1[:, :-1], x1[:, 1:])  # labels are the inputs shifted by one
    assert torch.equal(y1[:, -1], x1[:, -1] + 1)  # ids are consecutive here
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert not torch.equal(x1, x3)


def test_too_short_data_gives_a_clear_error(tiny_model, pattern_ids):
    with pytest.raises(
        DataTooShortError, match=r"has 10 tokens, but one window of context 10 needs 11"
    ):
        TokenDataset(list(range(10)), context=10)
    TokenDataset(list(range(11)), context=10)  # exactly one window is fine
    with pytest.raises(DataTooShortError, match="validation text"):
        train(tiny_model(), pattern_ids(), pattern_ids(5), small_cfg(), progress=False)


def test_context_longer_than_the_model_is_refused(tiny_model, pattern_ids):
    with pytest.raises(ValueError, match="longer than the model's context of 16"):
        train(
            tiny_model(context=16),
            pattern_ids(),
            pattern_ids(),
            small_cfg(context=32),
            progress=False,
        )


def test_bad_train_config_is_refused():
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="min_lr"):
        TrainConfig(lr=1e-3, min_lr=1e-2)


@pytest.mark.parametrize(
    "field, value",
    [
        ("time_limit", -1.0),
        ("time_limit", math.nan),
        ("time_limit", math.inf),
        ("time_limit", 0),
        ("lr", math.nan),
        ("lr", math.inf),
        ("weight_decay", math.nan),
        ("grad_clip", math.nan),
        ("grad_clip", -1.0),
        ("beta2", 1.0),
        ("warmup_iters", -1),
        ("max_iters", True),
    ],
)
def test_a_non_finite_or_out_of_range_setting_is_refused_not_ignored(field, value):
    # -1 or nan seconds must not silently mean "no limit"
    with pytest.raises(ConfigError, match=f"TrainConfig.{field} must be"):
        TrainConfig(**{field: value})
    assert TrainConfig(time_limit=None).time_limit is None  # None is how to ask for no limit


def test_bytes_per_token_and_bits_per_byte():
    assert bytes_per_token("abcdef", [1, 2, 3]) == 2.0
    assert bytes_per_token("жж", [1]) == 4.0  # Cyrillic letters are 2 bytes in UTF-8
    assert bits_per_byte(math.log(2) * 3, 1.5) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="empty"):
        bytes_per_token("abc", [])


# --------------------------------------------------------------------------- schedule and optimizer


def test_learning_rate_warms_up_then_decays_to_min_lr():
    cfg = TrainConfig(lr=1.0, min_lr=0.1, warmup_iters=10, max_iters=110)
    warm = [learning_rate(s, cfg) for s in range(10)]
    assert warm == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert learning_rate(10, cfg) == pytest.approx(1.0)
    assert learning_rate(60, cfg) == pytest.approx(0.55)  # half-way down the cosine
    decay = [learning_rate(s, cfg) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(decay, decay[1:]))
    assert learning_rate(110, cfg) == pytest.approx(0.1)
    assert learning_rate(500, cfg) == pytest.approx(0.1)


def test_weight_decay_only_on_2d_weights(tiny_model):
    model = tiny_model()
    opt = make_optimizer(model, TrainConfig(weight_decay=0.1))
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() == 2 for p in decay["params"])
    assert all(p.dim() == 1 for p in no_decay["params"])
    ids = {id(p) for g in opt.param_groups for p in g["params"]}
    assert ids == {
        id(p) for p in model.parameters()
    }  # every parameter exactly once (tied one included)
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


# --------------------------------------------------------------------------- evaluation


def test_evaluate_covers_every_token_once_and_matches_a_hand_computation(tiny_model, pattern_ids):
    model = tiny_model(context=8)
    ids = torch.tensor(pattern_ids(33))
    out = evaluate(model, ids, context=8, batch_size=3, device="cpu", bytes_per_token=2.0)
    assert out["tokens"] == 32  # 4 windows of 8 predictions
    with torch.no_grad():
        losses = []
        for s in range(0, 32, 8):
            logits, _ = model(ids[None, s : s + 8])
            losses.append(
                torch.nn.functional.cross_entropy(logits[0], ids[s + 1 : s + 9], reduction="sum")
            )
    expected = float(sum(losses)) / 32
    assert out["loss"] == pytest.approx(expected, rel=1e-5)
    assert out["perplexity"] == pytest.approx(math.exp(expected), rel=1e-5)
    assert out["bits_per_byte"] == pytest.approx(expected / math.log(2) / 2.0, rel=1e-5)


def test_estimate_loss_is_repeatable_and_restores_training_mode(tiny_model, pattern_ids):
    model = tiny_model(dropout=0.1)
    data = TokenDataset(pattern_ids(), context=8)
    model.train()
    a = estimate_loss(model, data, 4, 3, seed=1)
    b = estimate_loss(model, data, 4, 3, seed=1)
    assert a == b  # eval mode: no dropout, same windows
    assert model.training


# --------------------------------------------------------------------------- the loop


def test_training_learns_a_pattern_and_reports_history(tiny_model, pattern_ids):
    model = tiny_model()
    seen = []
    cfg = small_cfg(max_iters=60, eval_interval=20, lr=3e-2)
    history = train(
        model,
        pattern_ids(),
        pattern_ids(200),
        cfg,
        bytes_per_token=1.0,
        callback=lambda rec, m: seen.append((rec["step"], m is model)),
        progress=False,
    )
    assert [h["step"] for h in history] == list(range(1, 61))
    evals = eval_records(history)
    assert [r["step"] for r in evals] == [20, 40, 60]
    assert seen == [(20, True), (40, True), (60, True)]
    assert evals[-1]["val_loss"] < 0.5 < math.log(VOCAB)  # far below guessing (2.40 nats)
    assert evals[-1]["val_bpb"] == pytest.approx(evals[-1]["val_loss"] / math.log(2))
    assert evals[-1]["val_perplexity"] == pytest.approx(math.exp(evals[-1]["val_loss"]))
    assert history[0]["lr"] == pytest.approx(cfg.lr / cfg.warmup_iters)
    assert all(h["grad_norm"] > 0 for h in history)


class Stop(Exception):
    """A crash in the middle of a run (not Ctrl-C)."""


def interrupt_at(model: GPT, training_call: int = 0, eval_call: int = 0) -> GPT:
    """Make ``model`` raise KeyboardInterrupt (as Ctrl-C does) at its n-th forward pass in
    training mode or in eval mode (a measurement)."""
    calls = {True: 0, False: 0}
    real = model.forward

    def forward(*args, **kwargs):
        calls[model.training] += 1
        if calls[model.training] == (training_call if model.training else eval_call):
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    model.forward = forward
    return model


@pytest.mark.parametrize(
    "where, saved_step",
    [
        ("crash", 8),  # a crash right after the checkpoint at step 8: that checkpoint stays
        ("training", 6),  # Ctrl-C in step 7's forward pass: a batch drawn, no update yet
        ("measuring", 8),  # Ctrl-C in the measurement after step 8
        ("callback", 8),  # Ctrl-C in the callback after step 8
    ],
)
@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_a_stopped_run_resumes_exactly_as_the_whole_run(
    tmp_path, tiny_model, pattern_ids, dropout, where, saved_step
):
    cfg = small_cfg(max_iters=16, eval_interval=4)
    train_ids, val_ids = pattern_ids(), pattern_ids(100)
    torch.manual_seed(123)
    full = train(tiny_model(dropout=dropout), train_ids, val_ids, cfg, progress=False)

    error = Stop if where == "crash" else KeyboardInterrupt

    def stop_at_8(record, model):
        if record["step"] == 8:
            raise error

    torch.manual_seed(123)
    model, callback = tiny_model(dropout=dropout), None
    if where == "training":
        interrupt_at(model, training_call=7)
    elif where == "measuring":
        interrupt_at(model, eval_call=2 * cfg.eval_iters + 3)  # 2 batches per split per measure
    else:
        callback = stop_at_8
    ckpt = tmp_path / "run.pt"
    with pytest.raises(error):  # Ctrl-C is raised again after the checkpoint is written
        train(
            model, train_ids, val_ids, cfg, checkpoint_path=ckpt, callback=callback, progress=False
        )
    assert load_checkpoint(ckpt)["step"] == saved_step
    torch.manual_seed(999)  # the global RNG moved on; resume must restore it
    resumed = train(
        tiny_model(seed=5, dropout=dropout),
        train_ids,
        val_ids,
        cfg,
        checkpoint_path=ckpt,
        resume=True,
        progress=False,
    )
    assert [h["step"] for h in resumed] == list(range(1, 17))
    assert [h["loss"] for h in resumed] == [h["loss"] for h in full]  # bit for bit
    assert [h["grad_norm"] for h in resumed] == [h["grad_norm"] for h in full]
    assert [h.get("val_loss") for h in resumed] == [h.get("val_loss") for h in full]


def test_ctrl_c_without_a_checkpoint_path_is_raised_again(tiny_model, pattern_ids):
    model = interrupt_at(tiny_model(), training_call=3)
    with pytest.raises(KeyboardInterrupt):
        train(model, pattern_ids(), pattern_ids(100), small_cfg(), progress=False)


def test_ctrl_c_during_an_update_waits_for_the_update_to_finish():
    done = []
    with pytest.raises(KeyboardInterrupt):
        with _finish_before_interrupt():
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C in the middle of the block
            done.append("the rest of the block ran")
    assert done == ["the rest of the block ran"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_resume_errors(tmp_path, tiny_model, pattern_ids):
    cfg = small_cfg()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(
            tiny_model(),
            pattern_ids(),
            pattern_ids(),
            cfg,
            checkpoint_path=tmp_path / "none.pt",
            resume=True,
            progress=False,
        )
    with pytest.raises(ValueError, match="needs a checkpoint_path"):
        train(tiny_model(), pattern_ids(), pattern_ids(), cfg, resume=True, progress=False)
    ckpt = tmp_path / "run.pt"
    train(tiny_model(), pattern_ids(), pattern_ids(), cfg, checkpoint_path=ckpt, progress=False)
    with pytest.raises(ValueError, match="differs in: lr"):
        train(
            tiny_model(),
            pattern_ids(),
            pattern_ids(),
            small_cfg(lr=5e-3),
            checkpoint_path=ckpt,
            resume=True,
            progress=False,
        )


def test_time_limited_schedule_follows_the_clock():
    cfg = TrainConfig(lr=1.0, min_lr=0.0, warmup_iters=0, max_iters=1_000_000, time_limit=100.0)
    assert learning_rate(5, cfg, elapsed=0.0) == pytest.approx(1.0, abs=1e-4)
    assert learning_rate(5, cfg, elapsed=50.0) == pytest.approx(0.5, abs=1e-4)
    assert learning_rate(5, cfg, elapsed=100.0) == pytest.approx(0.0, abs=1e-4)
    assert learning_rate(5, cfg, elapsed=250.0) == pytest.approx(0.0, abs=1e-4)
    with pytest.raises(ValueError, match="time_limit"):
        TrainConfig(time_limit=0)


def test_time_limited_run_stops_on_time_with_a_final_evaluation(tiny_model, pattern_ids):
    cfg = small_cfg(max_iters=1_000_000, eval_interval=1_000_000, warmup_iters=0, time_limit=1.0)
    t0 = time.perf_counter()
    history = train(tiny_model(), pattern_ids(), pattern_ids(), cfg, progress=False)
    assert time.perf_counter() - t0 < 30  # it stopped long before a million steps
    assert 1 <= history[-1]["step"] < cfg.max_iters
    assert "val_loss" in history[-1]  # the last step was evaluated
    lrs = [h["lr"] for h in history]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    assert lrs[-1] < 0.5 * (cfg.lr + cfg.min_lr) < lrs[0]


def test_resume_from_a_finished_model_file_names_the_problem(tmp_path, tiny_gpt, pattern_ids):
    """train(resume=True) on a model file without optimizer state: NotResumableError, not a
    KeyError deep inside."""
    from gptbook.checkpoint import NotResumableError, save_checkpoint

    model = tiny_gpt(vocab_size=11, context=8)
    path = tmp_path / "model.pt"
    save_checkpoint(path, model)
    cfg = small_cfg(max_iters=2)
    ids = pattern_ids(200, 11)
    with pytest.raises(NotResumableError, match="cannot be resumed"):
        train(model, ids, ids, cfg, checkpoint_path=path, resume=True, progress=False)


# --------------------------------------------------------------------------- speed-ups


def reference_losses(model: GPT, train_ids, cfg: TrainConfig) -> list[float]:
    """The training loop as it was before the speed-ups, written out: batch, forward, update."""
    from gptbook.optim import optimizer_step

    data = TokenDataset(train_ids, cfg.context)
    optimizer = make_optimizer(model, cfg)
    sampler = torch.Generator().manual_seed(cfg.seed)
    losses = []
    for step in range(cfg.max_iters):
        x, y = data.batch(cfg.batch_size, sampler, "cpu")
        _, loss = model(x, y)
        lr = learning_rate(step, cfg)
        optimizer_step(loss, optimizer, lr=lr, clip=cfg.grad_clip, params=model.parameters())
        losses.append(loss.item())
    return losses  # (measurements run in eval mode with their own generators: no draws here)


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_default_speed_settings_give_bit_identical_losses(tiny_model, pattern_ids, dropout):
    """The speed-ups are off by default, and off means the old arithmetic, bit for bit."""
    cfg = small_cfg(max_iters=10, eval_interval=100)  # one evaluation, at the end
    assert not (cfg.autocast_bf16 or cfg.compile or cfg.fused_adamw)
    torch.manual_seed(3)
    history = train(tiny_model(dropout=dropout), pattern_ids(), pattern_ids(100), cfg,
                    progress=False)
    torch.manual_seed(3)
    expected = reference_losses(tiny_model(dropout=dropout), pattern_ids(), cfg)
    assert [h["loss"] for h in history] == expected


def test_evaluation_records_carry_tokens_and_flops_per_second(tiny_model, pattern_ids):
    from gptbook.throughput import model_flops_per_token

    model = tiny_model()
    cfg = small_cfg()
    history = train(model, pattern_ids(), pattern_ids(100), cfg, progress=False)
    evals = eval_records(history)
    assert [r["step"] for r in evals] == [4, 8, 12]
    per_token = model_flops_per_token(model, cfg.context)
    for r in evals:
        assert r["tokens_per_s"] > 0 and math.isfinite(r["tokens_per_s"])
        assert r["flops_per_s"] == pytest.approx(r["tokens_per_s"] * per_token)
    assert not any("tokens_per_s" in r for r in history if "val_loss" not in r)


BF16_TOLERANCE = 0.05  # nats: bf16 keeps 8 bits of mantissa; 20 steps drift far less than this


@pytest.mark.skipif(not bf16_supported("cpu"), reason="this CPU has no native bf16")
def test_bf16_autocast_trains_within_tolerance_of_float32(tiny_model, pattern_ids):
    cfg = small_cfg(max_iters=20, eval_interval=10)
    runs = {}
    for bf16 in (False, True):
        runs[bf16] = train(tiny_model(), pattern_ids(), pattern_ids(100),
                           replace(cfg, autocast_bf16=bf16), progress=False)
    fp32, bf16 = runs[False], runs[True]
    gaps = [abs(a["loss"] - b["loss"]) for a, b in zip(fp32, bf16)]
    assert max(gaps) < BF16_TOLERANCE
    assert max(gaps) > 0  # it really ran in bf16
    assert abs(fp32[-1]["val_loss"] - bf16[-1]["val_loss"]) < BF16_TOLERANCE


def test_bf16_autocast_falls_back_to_float32_with_a_warning(monkeypatch, tiny_model, pattern_ids):
    import gptbook.optim

    monkeypatch.setattr(gptbook.optim, "bf16_supported", lambda device: False)
    cfg = small_cfg(max_iters=6)
    plain = train(tiny_model(), pattern_ids(), pattern_ids(100), cfg, progress=False)
    with pytest.warns(RuntimeWarning, match="training in float32"):
        fallback = train(tiny_model(), pattern_ids(), pattern_ids(100),
                         replace(cfg, autocast_bf16=True), progress=False)
    assert [h["loss"] for h in fallback] == [h["loss"] for h in plain]


def test_fused_adamw_matches_the_default_adamw(tiny_model, pattern_ids):
    cfg = small_cfg(max_iters=20, eval_interval=10)
    models = {fused: tiny_model() for fused in (False, True)}
    runs = {
        fused: train(m, pattern_ids(), pattern_ids(100), replace(cfg, fused_adamw=fused),
                     progress=False)
        for fused, m in models.items()
    }
    assert make_optimizer(models[True], replace(cfg, fused_adamw=True)).defaults["fused"]
    losses = [[h["loss"] for h in runs[f]] for f in (False, True)]
    assert losses[1] == pytest.approx(losses[0], rel=1e-5, abs=1e-6)
    for a, b in zip(models[False].parameters(), models[True].parameters()):
        # weights near 0 move by Adam's eps-sized steps, where rounding order shows most
        torch.testing.assert_close(a, b, rtol=1e-4, atol=2e-4)


def test_compile_trains_through_torch_compile(monkeypatch, tiny_model, pattern_ids):
    """The wiring only (a real compile takes a minute): the compiled module does the training
    forward passes, and the losses are those of the model itself."""
    calls = []

    def fake_compile(model):
        calls.append(model)
        return model

    monkeypatch.setattr(torch, "compile", fake_compile)
    cfg = small_cfg(max_iters=6)
    plain = train(tiny_model(), pattern_ids(), pattern_ids(100), cfg, progress=False)
    model = tiny_model()
    run = train(model, pattern_ids(), pattern_ids(100), replace(cfg, compile=True),
                progress=False)
    assert calls == [model]
    assert [h["loss"] for h in run] == [h["loss"] for h in plain]


def test_compile_without_a_compiler_or_dynamo_is_a_clear_error(monkeypatch, tiny_model):
    import gptbook.train

    monkeypatch.setattr(gptbook.train.shutil, "which", lambda name: None)
    with pytest.raises(CompileUnavailableError, match="needs a C\\+\\+ compiler"):
        compiled(tiny_model(), torch.device("cpu"))
    monkeypatch.setattr(torch._dynamo, "is_dynamo_supported", lambda: False)
    with pytest.raises(CompileUnavailableError, match="compile=False"):
        compiled(tiny_model(), torch.device("cpu"))


@pytest.mark.parametrize("field", ["autocast_bf16", "compile", "fused_adamw"])
@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_speed_switches_must_be_true_or_false(field, value):
    with pytest.raises(ConfigError, match=f"TrainConfig.{field} must be True or False"):
        TrainConfig(**{field: value})


def test_train_config_round_trips_and_old_configs_still_load():
    cfg = TrainConfig(autocast_bf16=True, compile=True, fused_adamw=True, time_limit=5.0)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    old = TrainConfig().to_dict()
    for key in ("autocast_bf16", "compile", "fused_adamw"):
        del old[key]  # a config saved before the speed-ups
    assert TrainConfig.from_dict(old) == TrainConfig()
    assert TrainConfig.from_dict({**old, "a_future_knob": 3}) == TrainConfig()


def test_a_checkpoint_from_before_the_speed_ups_resumes_exactly(tmp_path, tiny_model, pattern_ids):
    cfg = small_cfg(max_iters=16, eval_interval=4)
    train_ids, val_ids = pattern_ids(), pattern_ids(100)
    full = train(tiny_model(), train_ids, val_ids, cfg, progress=False)

    def stop_at_8(record, model):
        if record["step"] == 8:
            raise Stop

    ckpt = tmp_path / "run.pt"
    with pytest.raises(Stop):
        train(tiny_model(), train_ids, val_ids, cfg, checkpoint_path=ckpt, callback=stop_at_8,
              progress=False)
    state = torch.load(ckpt, weights_only=True)
    for key in ("autocast_bf16", "compile", "fused_adamw"):
        del state["extra"]["train_config"][key]
    torch.save(state, ckpt)
    resumed = train(tiny_model(seed=5), train_ids, val_ids, cfg, checkpoint_path=ckpt,
                    resume=True, progress=False)
    assert [h["loss"] for h in resumed] == [h["loss"] for h in full]
