"""How long chapter 04's word2vec takes on this machine, and how many pairs per second it trains.

Prints wall-clock and CPU (process) seconds: on a shared machine the wall clock includes waiting for
the CPU, so both are shown. Usage:  .venv/bin/python benchmarks/bench_word2vec.py [--threads 1] [--repeats 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from gptbook.data import shakespeare
from gptbook.word2vec import tokenize_words, train_word2vec


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the chapter uses 1)")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    words = tokenize_words(shakespeare())
    print(
        f"{len(words):,} words; torch threads = {torch.get_num_threads()}; "
        "os.cpu_count load shown by `uptime`"
    )
    for r in range(args.repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = train_word2vec(words, dim=32, window=3, negatives=3, min_count=5, epochs=3, seed=0)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        pairs = sum(result.pairs_per_epoch)
        print(
            f"run {r + 1}: {wall:.1f} s wall, {cpu:.1f} s CPU; {pairs / 1e6:.1f} M pairs, "
            f"{pairs / wall / 1e3:.0f} k pairs/s wall; vocabulary {len(result.vocab):,}; "
            f"final loss {np.mean(result.losses[-20:]):.3f}"
        )


if __name__ == "__main__":
    main()
