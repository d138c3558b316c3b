"""Benchmark of the trainer on this CPU, one run of each recipe, at the character level on the
Shakespeare split of :func:`gptbook.data.shakespeare_split`:

(a) the well-known CPU baby-GPT recipe (preset ``baby-char``): 4 layers, 4 heads, width 128,
    context 64, batch 12, 2,000 iterations, learning rate 1e-3 (warm-up 100, cosine to 1e-4), no
    dropout. The same recipe in a popular single-file GPT reaches about 1.87 nats per character in
    about 170 s on this machine (figure from the issue).
(b) the book's 3-minute recipe (preset ``book-char``): a time-limited run whose cosine schedule
    follows the clock and ends at 180 s. Target: at most 1.65 nats per character.

For each it prints the wall time, training tokens per second, and the validation loss in nats per
character two ways: the estimate over 20 random batches (as the single-file GPT reports it) and
the exact loss over every character of the validation split.

(c) ``--speedups``: the book-char recipe once per speed-up, side by side with all of them off:
    bf16 autocast, ``torch.compile``, fused AdamW, and all three together
    (:class:`gptbook.train.TrainConfig`'s ``autocast_bf16``, ``compile``, ``fused_adamw``). It
    first measures the machine's matmul peak (float32, and bf16 where the CPU has it), then
    prints for each run: tokens/s, achieved model GFLOP/s (:mod:`gptbook.throughput`), the peak,
    the MFU, the validation loss over the whole split, and the load average. Choose runs with
    ``--speedups off bf16`` etc.

``--equal-budget`` gives (b) exactly the wall time T that (a) took (the issue's comparison at
equal budget) instead of its own 180 s; ``--with LABEL`` turns on speed-ups of (c) in (b), e.g.
``--equal-budget --with all``.

``torch.compile`` keeps compiled kernels in a cache on disk, so a second process compiles the same
model in seconds. Every run of this script therefore starts from an empty cache of its own (a new
``TORCHINDUCTOR_CACHE_DIR``): the compile time a first-time reader pays is inside each budget.

Run:  .venv/bin/python benchmarks/bench_train.py [--threads N] [--only a|b] [--equal-budget]
      .venv/bin/python benchmarks/bench_train.py --speedups [off bf16 compile fused all]
      .venv/bin/python benchmarks/bench_train.py --equal-budget --with all
      add --seconds S (book-char's time budget) or --iters N (steps) for a short run.
Timings depend on the machine and on what else runs on it: run it with nothing else running.
The load average is printed before and after each run; a 1-minute load above the thread count
means the figures are noise.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from typing import Any

import torch

from gptbook.cli import PRESETS
from gptbook.data import shakespeare_split
from gptbook.model import GPT, GPTConfig
from gptbook.optim import bf16_supported
from gptbook.throughput import measure_peaks, mfu, model_flops_per_token
from gptbook.tokenizers import CharTokenizer
from gptbook.train import TokenDataset, TrainConfig, estimate_loss, evaluate, train

SPEEDUPS: dict[str, dict[str, bool]] = {
    "off": {},
    "bf16": {"autocast_bf16": True},
    "compile": {"compile": True},
    "fused": {"fused_adamw": True},
    "all": {"autocast_bf16": True, "compile": True, "fused_adamw": True},
}


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def recipe_config(name: str, seconds: float | None, iters: int | None) -> TrainConfig:
    """The preset's training settings on the CPU, with a shorter budget if asked."""
    cfg = replace(PRESETS[name].train, device="cpu")
    if seconds is not None and cfg.time_limit is not None:
        cfg = replace(cfg, time_limit=seconds)
    if iters is not None:
        cfg = replace(cfg, max_iters=iters, eval_interval=min(cfg.eval_interval, iters))
    return cfg


def build(name: str, cfg: TrainConfig, vocab_size: int) -> GPT:
    preset = PRESETS[name]
    torch.manual_seed(cfg.seed)
    return GPT(
        GPTConfig(
            vocab_size=vocab_size,
            context=cfg.context,
            n_layer=preset.n_layer,
            n_head=preset.n_head,
            d_model=preset.d_model,
            dropout=preset.dropout,
        )
    )


def run(
    name: str,
    label: str,
    train_ids: torch.Tensor,
    val_ids: torch.Tensor,
    vocab_size: int,
    cfg: TrainConfig,
) -> dict[str, Any]:
    """Train one recipe and print its figures; returns them."""
    preset = PRESETS[name]
    print(f"\n({label}) preset {name!r}: {preset.description}")
    print(f"    {cfg}")
    print(f"    before: {load()}")
    model = build(name, cfg, vocab_size)
    t0 = time.perf_counter()
    history = train(model, train_ids, val_ids, cfg, bytes_per_token=1.0, progress=False)
    seconds = time.perf_counter() - t0
    steps = history[-1]["step"]
    tokens = steps * cfg.batch_size * cfg.context
    estimate = estimate_loss(
        model, TokenDataset(val_ids, cfg.context), cfg.batch_size, 20, seed=cfg.seed + 2
    )
    full = evaluate(model, val_ids, cfg.context, batch_size=64, device="cpu", bytes_per_token=1.0)
    print(f"    after:  {load()}")
    print(f"    {model.num_params():,} parameters, {steps:,} steps, {tokens:,} training tokens")
    print(
        f"    wall time {seconds:.0f} s (training and its periodic evaluations), "
        f"{tokens / seconds:,.0f} tokens/s"
    )
    print(
        f"    validation loss: {estimate:.3f} nats/char (20 random batches), "
        f"{full['loss']:.3f} nats/char over all {full['tokens']:,} validation characters "
        f"({full['bits_per_byte']:.3f} bits/byte)"
    )
    last = history[-1]
    return {
        "seconds": seconds,
        "steps": steps,
        "tokens_per_s": tokens / seconds,
        "last_tokens_per_s": last.get("tokens_per_s"),
        "flops_per_token": model_flops_per_token(model, cfg.context),
        "val_loss": full["loss"],
        "load": os.getloadavg()[0],
    }


def speedups(
    names: list[str],
    train_ids: torch.Tensor,
    val_ids: torch.Tensor,
    vocab_size: int,
    seconds: float | None,
    iters: int | None,
    peak_seconds: float,
) -> None:
    """(c): the book-char recipe with each speed-up on, next to all of them off."""
    print(f"\nmatmul peak ({peak_seconds:g} s per dtype, best of 5), {load()}")
    peaks = measure_peaks("cpu", seconds=peak_seconds)
    for dtype, peak in peaks.items():
        print(f"    {dtype}: {peak / 1e9:,.1f} GFLOP/s")
    if not bf16_supported("cpu"):
        print("    this CPU has no native bf16: the bf16 runs fall back to float32 (with a warning)")
    results = {}
    for label in names:
        cfg = replace(recipe_config("book-char", seconds, iters), **SPEEDUPS[label])
        results[label] = run("book-char", f"c: {label}", train_ids, val_ids, vocab_size, cfg)
    print(
        "\nspeed-ups side by side (book-char; tokens/s over the whole run, including the "
        "compile time and the evaluations; 'last' is the last evaluation interval's training "
        "steps only; MFU against the peak of the dtype the matmuls ran in)"
    )
    header = (
        f"{'run':<8} {'steps':>7} {'tokens/s':>9} {'last':>9} {'GFLOP/s':>8} {'peak':>8} "
        f"{'MFU':>6} {'val loss':>9} {'load':>5}"
    )
    print(header)
    for label, r in results.items():
        bf16 = SPEEDUPS[label].get("autocast_bf16", False) and "bfloat16" in peaks
        peak = peaks["bfloat16" if bf16 else "float32"]
        rate = r["last_tokens_per_s"] or r["tokens_per_s"]
        achieved = rate * r["flops_per_token"]
        print(
            f"{label:<8} {r['steps']:>7,} {r['tokens_per_s']:>9,.0f} {rate:>9,.0f} "
            f"{achieved / 1e9:>8.2f} {peak / 1e9:>8.1f} {mfu(achieved, peak):>6.1%} "
            f"{r['val_loss']:>9.3f} {r['load']:>5.1f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's choice)"
    )
    parser.add_argument("--only", choices=["a", "b"], help="run one recipe only")
    parser.add_argument(
        "--speedups",
        nargs="*",
        choices=list(SPEEDUPS),
        help="run (c), the speed-ups side by side (default: all of them)",
    )
    parser.add_argument(
        "--seconds", type=float, default=None, help="book-char's time budget (default 180)"
    )
    parser.add_argument("--iters", type=int, default=None, help="training steps per run")
    parser.add_argument(
        "--equal-budget",
        action="store_true",
        help="give (b) the wall time T that (a) took (runs both)",
    )
    parser.add_argument(
        "--with",
        dest="with_speedups",
        choices=list(SPEEDUPS),
        default="off",
        help="speed-ups of (c) turned on in (b) (default: off)",
    )
    parser.add_argument(
        "--peak-seconds", type=float, default=2.0, help="time to measure each matmul peak"
    )
    args = parser.parse_args()
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-train-inductor-")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.seconds is not None and not args.seconds > 0:
        parser.error(f"--seconds must be a positive number of seconds, got {args.seconds}.")
    if args.iters is not None and args.iters < 1:
        parser.error(f"--iters must be at least 1, got {args.iters}.")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {load()}")
    train_text, val_text = shakespeare_split()
    tokenizer = CharTokenizer.from_text(train_text + val_text)
    train_ids = torch.tensor(tokenizer.encode(train_text))
    val_ids = torch.tensor(tokenizer.encode(val_text))
    print(
        f"characters: {len(train_ids):,} train, {len(val_ids):,} validation, "
        f"vocabulary {tokenizer.vocab_size}"
    )
    vocab = tokenizer.vocab_size
    if args.speedups is not None:
        names = args.speedups or list(SPEEDUPS)
        if "off" not in names:
            names = ["off", *names]  # always side by side with everything off
        speedups(names, train_ids, val_ids, vocab, args.seconds, args.iters, args.peak_seconds)
        return
    if args.equal_budget and args.only is not None:
        parser.error("--equal-budget runs both recipes; leave out --only.")
    budget = args.seconds
    if args.only in (None, "a"):
        cfg = recipe_config("baby-char", args.seconds, args.iters)
        a = run("baby-char", "a", train_ids, val_ids, vocab, cfg)
        if args.equal_budget:
            budget = a["seconds"]
            print(f"\nT = {budget:.1f} s: the wall time of (a), given to (b)")
    if args.only in (None, "b"):
        cfg = replace(recipe_config("book-char", budget, args.iters), **SPEEDUPS[args.with_speedups])
        b = run("book-char", f"b, speed-ups: {args.with_speedups}", train_ids, val_ids, vocab, cfg)
        if args.only is None:
            print(f"\nside by side: (a) baby-char {a['val_loss']:.3f} nats/char in {a['seconds']:.0f} s; "
                  f"(b) book-char with speed-ups '{args.with_speedups}' {b['val_loss']:.3f} nats/char in "
                  f"{b['seconds']:.0f} s (full validation split; {load()})")


if __name__ == "__main__":
    main()
