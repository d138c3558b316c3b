"""Benchmark of gptbook's byte-level BPE on the full Shakespeare corpus (about 5 MB).

Prints:
1. the time to train a 4,096-token BPE on the whole corpus (target: at most 60 s);
2. whether our BPE loaded with GPT-2's merges gives exactly tiktoken's ids on the whole corpus, and
   decodes back to the same text, with the token count;
3. our encoder's throughput next to tiktoken's, in MB/s, and their ratio, from one run;
4. the time to encode one 10 MB word (no whitespace, so one chunk): ``"a" * 10_000_000`` and 10 MB
   of random letters, with tiktoken's time beside ours, and the old quadratic-ish algorithm (merge
   the best pair, rescan the whole chunk) timed on 50k and 100k letters and extrapolated to 10 MB.

Run:  .venv/bin/python benchmarks/bench_bpe.py            (everything, a few minutes)
      .venv/bin/python benchmarks/bench_bpe.py long-word  (only part 4, under a minute)
Timings depend on the machine and on what else runs on it; the figures are from one run each, and
each part prints the load average (1, 5, 15 minutes) it ran under.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time

from gptbook.data import shakespeare
from gptbook.tokenizers import BPETokenizer, gpt2


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def long_word() -> None:
    """Part 4: one 10 MB word, ours before and after the linear-time merge, and tiktoken."""
    print(f"one 10 MB word ({load()} at the start)")
    ours, enc = BPETokenizer.from_gpt2(), gpt2()
    rng = random.Random(0)
    letters = "abcdefghijklmnopqrstuvwxyz"
    before = []
    for n in (10_000, 20_000):
        word = "".join(rng.choices(letters, k=n))
        ids = [ours.byte_ids[b] for b in word.encode("utf-8")]
        t0 = time.perf_counter()
        old = ours._merge_short(ids)  # the algorithm encode used before, on the whole chunk
        before.append((n, time.perf_counter() - t0))
        assert old == enc.encode_ordinary(word)
        print(f"  before, {n:>6,} random letters: {before[-1][1]:5.2f} s")
    (n1, t1), (n2, t2) = before
    power = math.log(t2 / t1) / math.log(n2 / n1)
    estimate = t2 * (10_000_000 / n2) ** power
    print(f"  before, 10 MB of random letters, extrapolated (time grows as n^{power:.2f}): "
          f"about {estimate / 60:.0f} min")
    word = "".join(rng.choices(letters, k=1_000_000))
    same = ours.encode(word) == enc.encode_ordinary(word)
    print(f"  after, 1 MB of random letters: {'same' if same else 'DIFFERENT'} ids as tiktoken")
    for name, word in (("'a' * 10_000_000", "a" * 10_000_000),
                       ("10 MB of random letters", "".join(rng.choices(letters, k=10_000_000)))):
        t0 = time.perf_counter()
        ids = ours.encode(word)
        print(f"  after, {name}: {time.perf_counter() - t0:.1f} s ({len(ids):,} tokens)")
    print(f"  ({load()} at the end)")


def main() -> None:
    print(load())
    text = shakespeare()
    mb = len(text.encode("utf-8")) / 1e6
    print(f"corpus: Shakespeare, {len(text):,} characters, {mb:.2f} MB")

    tok = BPETokenizer()
    t0, c0 = time.perf_counter(), time.process_time()
    tok.train(text, vocab_size=4096)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    verdict = "within" if train_s <= 60 else "OVER"
    print(f"train 4,096-token BPE on the full corpus: {train_s:.1f} s wall "
          f"({verdict} the 60 s target), "
          f"{train_cpu:.1f} s CPU (the wall time grows when other processes share the cores)")
    print(f"  its encoding of the corpus: {len(tok.encode(text)):,} tokens")

    ours, enc = BPETokenizer.from_gpt2(), gpt2()
    t0 = time.perf_counter()
    ids = ours.encode(text)  # a fresh tokenizer: empty chunk cache
    ours_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = enc.encode_ordinary(text)
    tik_s = time.perf_counter() - t0
    same = ids == ref
    back = ours.decode(ids) == text
    print(f"from_gpt2() ids == tiktoken ids on the whole corpus: {'yes' if same else 'NO'} "
          f"({len(ids):,} tokens ours, {len(ref):,} tiktoken)")
    print(f"decode(encode(corpus)) == corpus: {'yes' if back else 'NO'}")

    t0 = time.perf_counter()
    ours.encode(text)
    warm_s = time.perf_counter() - t0
    print(f"encode throughput, ours (cold cache): {mb / ours_s:.2f} MB/s ({ours_s:.2f} s)")
    print(f"encode throughput, ours (warm cache): {mb / warm_s:.2f} MB/s ({warm_s:.2f} s)")
    print(f"encode throughput, tiktoken:          {mb / tik_s:.2f} MB/s ({tik_s:.2f} s)")
    print(f"ratio ours (cold) / tiktoken: {tik_s / ours_s:.2f}  "
          f"(tiktoken is {ours_s / tik_s:.1f}x faster)")


if __name__ == "__main__":
    if sys.argv[1:] == ["long-word"]:
        long_word()
    else:
        main()
        long_word()
