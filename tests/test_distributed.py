"""Tests of training on several processes (gptbook.distributed and the DDP path of train()):
the global batch split by rank, gradient accumulation, equivalence with one process, exact
resume under torchrun, and the single-process loop left exactly as it was.

The torchrun tests start 2 CPU processes (gloo) of 1 thread each on a tiny model."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from gptbook.distributed import (
    DistributedSetupError,
    ProcessInfo,
    check_split,
    init_from_env,
    micro_batches,
    process_info,
    shard,
)
from gptbook.optim import ConfigError, optimizer_step
from gptbook.train import (
    PrecisionUnavailableError,
    TokenDataset,
    TrainConfig,
    learning_rate,
    make_optimizer,
    train,
)

ROOT = Path(__file__).resolve().parents[1]
WORKER = ROOT / "tests" / "ddp_worker.py"
DDP_TOLERANCE = 1e-5
"""Largest gap (nats) allowed between the losses of 2 processes and of 1 process on the same
global batch over 20 steps. Only the order of float additions differs (each process sums half the
batch's gradients, then the all-reduce adds the halves); measured gaps are about 2e-7."""


def _worker():
    spec = importlib.util.spec_from_file_location("ddp_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _one_process(monkeypatch):
    """These tests run as one process, whatever launched pytest."""
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)


# --------------------------------------------------------------------------- the pieces


def test_the_shards_of_all_ranks_are_the_global_batch_once():
    batch = torch.arange(24).view(12, 2)
    for world in (1, 2, 3, 4):
        parts = [shard(batch, r, world) for r in range(world)]
        assert torch.equal(torch.cat(parts), batch)
        assert {len(p) for p in parts} == {12 // world}


def test_micro_batches_split_in_order():
    x, y = torch.arange(8).view(4, 2), torch.arange(8).view(4, 2) + 1
    parts = micro_batches(x, y, 2)
    assert [p[0].tolist() for p in parts] == [[[0, 1], [2, 3]], [[4, 5], [6, 7]]]
    assert torch.equal(torch.cat([p[1] for p in parts]), y)


def test_a_batch_that_does_not_split_evenly_is_refused():
    assert check_split(16, 2, 4) == 2
    with pytest.raises(ValueError, match="does not split evenly over 2 process.*3 accumulation"):
        check_split(16, 2, 3)
    with pytest.raises(ConfigError, match="grad_accum=3 equal micro-batches"):
        TrainConfig(batch_size=16, grad_accum=3)
    with pytest.raises(ConfigError, match="grad_accum must be a positive integer"):
        TrainConfig(grad_accum=0)


def test_process_info_reads_torchrun_variables(monkeypatch):
    assert process_info() == ProcessInfo(0, 1, 0)
    assert not process_info().distributed
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    info = process_info()
    assert (info.rank, info.world_size, info.local_rank, info.is_main) == (3, 4, 1, False)
    monkeypatch.setenv("RANK", "4")
    with pytest.raises(DistributedSetupError, match="RANK=4 is not in 0 .. WORLD_SIZE-1 = 3"):
        process_info()
    monkeypatch.setenv("RANK", "x")
    with pytest.raises(DistributedSetupError, match="must be integers"):
        process_info()


def test_one_process_joins_no_group():
    info, dev = init_from_env(torch.device("cpu"))
    assert info == ProcessInfo() and dev == torch.device("cpu")
    assert not torch.distributed.is_initialized()


def test_fp16_is_refused_on_the_cpu_with_a_pointer_to_bf16(tiny_gpt):
    cfg = TrainConfig(batch_size=4, context=8, max_iters=2, device="cpu", fp16=True)
    with pytest.raises(PrecisionUnavailableError, match="needs a CUDA GPU.*autocast_bf16=True"):
        train(tiny_gpt().train(), list(range(100)), list(range(50)), cfg, progress=False)
    with pytest.raises(ConfigError, match="both on; choose one precision"):
        TrainConfig(autocast_bf16=True, fp16=True)


# --------------------------------------------------------------------------- one process


def _cfg(**kw) -> TrainConfig:
    return _worker().config(**kw)


def test_the_loop_with_the_new_options_off_is_the_old_loop_bit_for_bit():
    """Default settings (one process, no accumulation, float32): every loss, gradient norm and
    final weight equals the loop as it was written before DDP, bit for bit."""
    w = _worker()
    cfg = _cfg()
    assert (cfg.grad_accum, cfg.fp16, cfg.autocast_bf16, cfg.compile) == (1, False, False, False)
    train_ids, val_ids = w.data()
    model = w.tiny_gpt(0.1)
    history = train(model, train_ids, val_ids, cfg, progress=False)

    ref = w.tiny_gpt(0.1)
    data = TokenDataset(train_ids, cfg.context)
    optimizer = make_optimizer(ref, cfg)
    sampler = torch.Generator().manual_seed(cfg.seed)
    losses, norms = [], []
    for step in range(cfg.max_iters):
        x, y = data.batch(cfg.batch_size, sampler, "cpu")
        _, loss = ref(x, y)
        norms.append(optimizer_step(loss, optimizer, lr=learning_rate(step, cfg),
                                    clip=cfg.grad_clip, params=ref.parameters()))
        losses.append(loss.item())
    assert [h["loss"] for h in history] == losses
    assert [h["grad_norm"] for h in history] == norms
    for a, b in zip(model.state_dict().values(), ref.state_dict().values()):
        assert torch.equal(a, b)


def test_gradient_accumulation_gives_the_update_of_the_whole_batch():
    w = _worker()
    train_ids, val_ids = w.data()
    runs = {k: train(w.tiny_gpt(), train_ids, val_ids, _cfg(grad_accum=k), progress=False)
            for k in (1, 4)}
    gaps = [abs(a["loss"] - b["loss"]) for a, b in zip(runs[1], runs[4])]
    assert max(gaps) < DDP_TOLERANCE
    assert [r["step"] for r in runs[4]] == list(range(1, 21))


def test_the_scaled_step_unscales_before_clipping_and_updating():
    """fp16's step (scale the loss, unscale, clip, step) gives the plain step's gradient norm and
    weights: the scale is a power of 2, so scaling and unscaling are exact. Run on the CPU with
    PyTorch's CPU gradient scaler, since fp16 itself needs CUDA."""
    from gptbook.train import accumulated_step

    w = _worker()
    x = torch.randint(0, 11, (8, 8), generator=torch.Generator().manual_seed(0))
    y = torch.roll(x, -1, dims=1)
    results = []
    for scaler in (None, torch.amp.GradScaler("cpu", init_scale=2.0**12)):
        model = w.tiny_gpt()
        optimizer = make_optimizer(model, _cfg())
        loss, norm = accumulated_step(model, micro_batches(x, y, 2), optimizer, lr=1e-2, clip=0.5,
                                      params=model.parameters(), scaler=scaler)
        results.append((float(loss), norm, [p.detach().clone() for p in model.parameters()]))
    (loss_a, norm_a, weights_a), (loss_b, norm_b, weights_b) = results
    assert loss_a == loss_b and norm_a == pytest.approx(norm_b, rel=1e-6) and norm_a > 0.5
    for a, b in zip(weights_a, weights_b):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------- torchrun


def _torchrun(args: list[str], cwd: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    # --standalone: a local rendezvous on a free port, so parallel test runs do not collide
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_two_processes_match_one_process_and_resume_exactly(tmp_path):
    out = tmp_path / "ddp.json"
    done = _torchrun([str(WORKER), str(out), str(tmp_path)], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = json.loads(out.read_text())
    assert ddp["world_size"] == 2

    w = _worker()
    train_ids, val_ids = w.data()
    one = train(w.tiny_gpt(), train_ids, val_ids, _cfg(), progress=False)
    ones = [h["loss"] for h in one]
    gaps = [abs(a - b) for a, b in zip(ones, ddp["plain"])]
    assert len(gaps) == 20 and max(gaps) < DDP_TOLERANCE, gaps
    assert ones[-1] < ones[0] - 0.5  # it learned: the comparison is not between two flat lines
    norm_gaps = [abs(h["grad_norm"] - g) / g for h, g in zip(one, ddp["plain_grad_norm"])]
    assert max(norm_gaps) < 1e-4
    val_gaps = [abs(h["val_loss"] - v) for h, v in zip(one, ddp["plain_val"]) if v is not None]
    assert len(val_gaps) == 4 and max(val_gaps) < DDP_TOLERANCE

    # stopped at step 11 on both processes, resumed from the step-10 checkpoint: bit for bit
    assert ddp["resumed"] == ddp["full"]
    assert ddp["resumed_val"] == ddp["full_val"]


def test_torchrun_runs_the_book_command_unchanged(tmp_path):
    """``torchrun ... -m gptbook train``: two processes, one set of files and log lines (rank 0),
    the record says how many processes trained."""
    run = tmp_path / "run"
    done = _torchrun(["-m", "gptbook", "train", "--preset", "tiny", "--max-iters", "6",
                      "--device", "cpu", "--threads", "1", "--run-dir", str(run),
                      "--out", str(run / "model.pt")], cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("step 6: train") == 1  # one process logs
    assert done.stdout.count("saved ") == 1
    assert sorted(p.name for p in run.iterdir()) == [
        "checkpoint.pt", "model.json", "model.pt", "model_curve.png", "tokenizer.json"
    ]  # one copy of each, no stray temporary files
    record = json.loads((run / "model.json").read_text())
    assert record["processes"] == 2 and record["steps"] == 6
    assert record["train_config"]["batch_size"] == 8  # the preset's global batch, unchanged


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--fp16"], "--fp16 needs a CUDA GPU"),
        (["--grad-accum", "3"], "does not split"),
        (["--grad-accum", "0"], "--grad-accum must be at least 1"),
        (["--bf16", "--fp16"], "choose one"),
    ],
)
def test_the_speed_options_refuse_what_cannot_run(tmp_path, capsys, extra, message):
    from gptbook.cli import main

    code = main(["train", "--preset", "tiny", "--device", "cpu", "--run-dir", str(tmp_path / "r"),
                 "--quiet", *extra])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # refused before any work


def test_the_speed_options_reach_the_train_config(tmp_path):
    from gptbook.cli import PRESETS, build_parser, train_config

    args = build_parser().parse_args(["train", "--preset", "tiny", "--bf16", "--fused-adamw",
                                      "--grad-accum", "2", "--compile"])
    cfg = train_config(PRESETS["tiny"], args, torch.device("cpu"))
    assert (cfg.autocast_bf16, cfg.fused_adamw, cfg.grad_accum, cfg.compile, cfg.fp16) == (
        True, True, 2, True, False)
    plain = train_config(PRESETS["tiny"], build_parser().parse_args(["train", "--preset", "tiny"]),
                         torch.device("cpu"))
    assert plain == replace(PRESETS["tiny"].train, device="cpu")  # no flag, no change
