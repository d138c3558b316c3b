"""Run by tests/test_distributed.py under ``torchrun --nproc_per_node N`` (gloo, CPU, 1 thread).

Trains the tiny GPT of the tests on a learnable sequence with :func:`gptbook.train.train` and
writes, from rank 0, a JSON file of the histories:

* ``plain``: 20 steps, no dropout (compared with one process on the same global batch);
* ``full``: 20 steps with dropout 0.1 and a checkpoint every 5 steps;
* ``resumed``: the same run stopped by an error in step 11 on every process, then resumed from
  its step-10 checkpoint (compared with ``full``, bit for bit).

Usage: ``torchrun --nproc_per_node 2 tests/ddp_worker.py OUT.json WORKDIR [grad_accum]``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from gptbook.distributed import close, process_info
from gptbook.model import GPT, GPTConfig
from gptbook.train import TrainConfig, train

STEPS = 20


def tiny_gpt(dropout: float = 0.0) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, context=16, n_layer=2, n_head=2, d_model=16,
                         dropout=dropout))


def config(grad_accum: int = 1, **kw) -> TrainConfig:
    base = dict(batch_size=8, context=8, lr=1e-2, min_lr=1e-3, warmup_iters=3, max_iters=STEPS,
                eval_interval=5, eval_iters=2, seed=7, device="cpu", grad_accum=grad_accum)
    return TrainConfig(**{**base, **kw})


def data() -> tuple[list[int], list[int]]:
    return [i % 11 for i in range(600)], [i % 11 for i in range(100)]


class Stop(Exception):
    """A crash in the middle of a run, on every process at the same step."""


def stop_at(model: GPT, call: int) -> GPT:
    """Make ``model`` raise :class:`Stop` at its ``call``-th training forward pass."""
    calls = [0]
    real = model.forward

    def forward(*args, **kwargs):
        if model.training:
            calls[0] += 1
            if calls[0] == call:
                raise Stop
        return real(*args, **kwargs)

    model.forward = forward
    return model


def losses(history: list[dict]) -> list[float]:
    return [h["loss"] for h in history]


def main(out: str, workdir: str, grad_accum: int = 1) -> None:
    torch.set_num_threads(1)
    train_ids, val_ids = data()
    cfg = config(grad_accum)
    plain = train(tiny_gpt(), train_ids, val_ids, cfg, progress=False)

    drop_cfg = config(grad_accum)
    full = train(tiny_gpt(0.1), train_ids, val_ids, drop_cfg, progress=False)
    ckpt = Path(workdir) / "run.pt"
    micro_steps = 11 * grad_accum  # the first forward pass of step 11
    try:
        train(stop_at(tiny_gpt(0.1), micro_steps), train_ids, val_ids, drop_cfg,
              checkpoint_path=ckpt, progress=False)
    except Stop:
        pass
    else:
        raise AssertionError("the run was not stopped")
    torch.manual_seed(999)  # the global random state moved on; resume must restore it
    resumed = train(tiny_gpt(0.1), train_ids, val_ids, drop_cfg, checkpoint_path=ckpt,
                    resume=True, progress=False)
    info = process_info()
    if info.is_main:
        Path(out).write_text(json.dumps({
            "world_size": info.world_size,
            "plain": losses(plain),
            "plain_val": [h.get("val_loss") for h in plain],
            "plain_grad_norm": [h["grad_norm"] for h in plain],
            "full": losses(full),
            "resumed": losses(resumed),
            "full_val": [h.get("val_loss") for h in full],
            "resumed_val": [h.get("val_loss") for h in resumed],
        }))
    close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1)
