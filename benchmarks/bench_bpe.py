"""Benchmark of gptbook's byte-level BPE on the full Shakespeare corpus (about 5 MB).

Prints:
1. the time to train a 4,096-token BPE on the whole corpus (target: at most 60 s);
2. whether our BPE loaded with GPT-2's merges gives exactly tiktoken's ids on the whole corpus, and
   decodes back to the same text, with the token count;
3. our encoder's throughput next to tiktoken's, in MB/s, and their ratio, from one run.

Run:  .venv/bin/python benchmarks/bench_bpe.py
Timings depend on the machine and on what else runs on it; the figures are from one run each.
"""

from __future__ import annotations

import time

from gptbook.data import shakespeare
from gptbook.tokenizers import BPETokenizer, gpt2


def main() -> None:
    text = shakespeare()
    mb = len(text.encode("utf-8")) / 1e6
    print(f"corpus: Shakespeare, {len(text):,} characters, {mb:.2f} MB")

    tok = BPETokenizer()
    t0, c0 = time.perf_counter(), time.process_time()
    tok.train(text, vocab_size=4096)
    train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
    verdict = "within" if train_s <= 60 else "OVER"
    print(f"train 4,096-token BPE on the full corpus: {train_s:.1f} s wall ({verdict} the 60 s target), "
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
    print(f"ratio ours (cold) / tiktoken: {tik_s / ours_s:.2f}  (tiktoken is {ours_s / tik_s:.1f}x faster)")


if __name__ == "__main__":
    main()
