"""Mixed precision and compile on this CPU: what they change in the loss, and in the speed.

The book-char model shape (3 layers, 4 heads, width 128, context 64, batch 16; characters of the
Shakespeare split) trains for a fixed 200 steps (learning rate 6e-3, warm-up 50, cosine to 6e-4
at step 200; no time limit, so every run sees the same batches) once per setting:

* ``fp32``: the default, float32 everywhere;
* ``fp32-seed2``: float32 again with another seed (other initial weights and batches): how much
  the loss moves between two equally good runs, the yardstick for the bf16 gap;
* ``bf16``: the forward passes under bf16 autocast (``TrainConfig.autocast_bf16``);
* ``compile``: float32 through ``torch.compile`` (``TrainConfig.compile``);
* ``compile-bf16``: both.

For each it prints the training loss at step 200 (mean of steps 191-200), the validation loss
(20 fixed batches) at step 200 and its gap to ``fp32``, the largest per-step gap to ``fp32`` over
the 200 steps, the steady speed (tokens/s over steps 51-200, evaluations excluded) and the first
50 steps' wall time (where compile spends its compile time). The load average is printed before
and after every run: a 1-minute load above the thread count means the speeds are noise.

Run:  .venv/bin/python benchmarks/bench_precision.py [--threads N] [--steps 200] [fp32 bf16 ...]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace

import torch

from gptbook.data import shakespeare_split
from gptbook.model import GPT, GPTConfig
from gptbook.optim import bf16_supported
from gptbook.tokenizers import CharTokenizer
from gptbook.train import TrainConfig, eval_records, train

SETTINGS: dict[str, dict] = {
    "fp32": {},
    "fp32-seed2": {"seed": 2},
    "bf16": {"autocast_bf16": True},
    "compile": {"compile": True},
    "compile-bf16": {"compile": True, "autocast_bf16": True},
}


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def config(steps: int) -> TrainConfig:
    return TrainConfig(batch_size=16, context=64, lr=6e-3, min_lr=6e-4, warmup_iters=50,
                       max_iters=steps, weight_decay=0.1, beta2=0.99, eval_interval=50,
                       eval_iters=20, seed=1337, device="cpu")


def run(name: str, cfg: TrainConfig, train_ids, val_ids, vocab: int) -> dict:
    torch.manual_seed(cfg.seed)
    model = GPT(GPTConfig(vocab_size=vocab, context=cfg.context, n_layer=3, n_head=4, d_model=128))
    before = load()
    t0 = time.perf_counter()
    history = train(model, train_ids, val_ids, cfg, progress=False)
    wall = time.perf_counter() - t0
    evals = eval_records(history)
    steady = evals[1:]  # steps 51..: the compile (and every first-step cost) is in the first 50
    tokens_per_s = len(steady) / sum(1 / r["tokens_per_s"] for r in steady)
    first = evals[0]["step"] * cfg.batch_size * cfg.context / evals[0]["tokens_per_s"]
    return {"name": name, "history": history, "wall": wall, "tokens_per_s": tokens_per_s,
            "first_50_s": first, "val": evals[-1]["val_loss"],
            "train_end": sum(h["loss"] for h in history[-10:]) / 10,
            "load": f"{before} -> {load()}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("settings", nargs="*", help=f"some of {list(SETTINGS)} (default: all)")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    unknown = [n for n in args.settings if n not in SETTINGS]
    if unknown:
        parser.error(f"unknown settings {unknown}; choose from {list(SETTINGS)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), CPU kernels "
          f"{torch.backends.cpu.get_cpu_capability()}, bf16 native: {bf16_supported('cpu')}")
    train_text, val_text = shakespeare_split()
    tok = CharTokenizer.from_text(train_text + val_text)
    train_ids, val_ids = tok.encode(train_text), tok.encode(val_text)
    base = config(args.steps)
    names = ["fp32", *(n for n in (args.settings or SETTINGS) if n != "fp32")]
    results = [run(n, replace(base, **SETTINGS[n]), train_ids, val_ids, tok.vocab_size)
               for n in names]
    ref = results[0]
    print(f"\n{args.steps} steps, batch 16 x context 64 (1,024 tokens a step)")
    print(f"{'setting':13s} {'train@end':>9s} {'val@end':>8s} {'val gap':>8s} {'max step gap':>12s} "
          f"{'tokens/s':>9s} {'speed-up':>8s} {'first 50 s':>10s} {'wall s':>7s}  load before -> after")
    for r in results:
        gaps = [abs(a["loss"] - b["loss"]) for a, b in zip(r["history"], ref["history"])]
        print(f"{r['name']:13s} {r['train_end']:9.4f} {r['val']:8.4f} {r['val'] - ref['val']:+8.4f} "
              f"{max(gaps):12.4f} {r['tokens_per_s']:9,.0f} "
              f"{r['tokens_per_s'] / ref['tokens_per_s']:7.2f}x {r['first_50_s']:10.1f} "
              f"{r['wall']:7.1f}  {r['load']}")


if __name__ == "__main__":
    main()
