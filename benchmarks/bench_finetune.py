"""Benchmark of chapters 09 and 10's fine-tuning runs on this CPU, one run of each, on the shipped
base model:

(a) spam classification, :data:`gptbook.classify.SPAM_RECIPE` on the last
    :data:`~gptbook.classify.SPAM_TRAINABLE_BLOCKS` blocks (computing the frozen features
    included), then the test part measured the chapter's way (:func:`gptbook.classify.measure`:
    threshold chosen on the validation part; accuracy, precision, recall, F1, ROC AUC). Target: at
    most 3 minutes. Chapter 09's table over several seeds is ``python -m gptbook.spam_runs``.
(b) instruction tuning, :data:`gptbook.instruct.INSTRUCTION_RECIPE` on chapter 10's instruction
    set. Target: at most 4 minutes. ``--eval`` also scores held-out exact match and well-formed
    answers by task.

It prints the wall time, the number of steps, training tokens per second and the load average.

Run:  .venv/bin/python benchmarks/bench_finetune.py [--threads N] [--only a|b] [--eval]
Timings depend on what else runs on the machine; the CPU here has 2 cores shared with other work.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from gptbook import classify, instruct
from gptbook import instructions as ins
from gptbook.data import sms_spam
from gptbook.pretrained import load_base_model


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def bench_spam(gpt, tok) -> None:
    split = classify.stratified_split(sms_spam())
    train, val, test = (
        classify.encode_messages(tok, part, gpt.config.context)
        for part in (split.train, split.val, split.test)
    )
    n_tokens = sum(map(len, train.ids))
    print(f"(a) spam: {len(train)} training messages, {n_tokens:,} tokens; {load()}")
    clf, losses, seconds = classify.fine_tune_classifier(gpt, train)
    scores = {k: classify.spam_scores(clf, part) for k, part in (("val", val), ("test", test))}
    r = classify.measure(val.labels, scores["val"], test.labels, scores["test"])
    tokens = n_tokens * classify.SPAM_RECIPE.epochs
    print(
        f"    fine-tuning: {seconds:.1f} s, {len(losses)} steps, "
        f"{tokens / seconds:,.0f} training tokens/s (target: at most 180 s)"
    )
    print(
        f"    test (threshold chosen on validation): accuracy {r.accuracy:.2%}, precision "
        f"{r.precision:.2%}, recall {r.recall:.2%}, F1 {r.f1:.3f}, ROC AUC {r.auc:.4f}, "
        f"confusion {r.confusion}; {load()}"
    )


def bench_instructions(gpt, tok, evaluate: bool) -> None:
    examples = ins.build_instruction_set(seed=0)
    train_ex, test_ex = ins.split_instruction_set(examples, test_per_task=40, seed=0)
    encoded = (instruct.encode_instruction(tok, e, gpt.config.context) for e in train_ex)
    rows = [r for r in encoded if r is not None]
    n_tokens = sum(len(r[0]) for r in rows)
    print(f"(b) instructions: {len(rows)} training examples, {n_tokens:,} tokens; {load()}")
    t0 = time.perf_counter()
    model, losses = instruct.train_instructions(gpt, rows, instruct.INSTRUCTION_RECIPE)
    seconds = time.perf_counter() - t0
    tokens = n_tokens * instruct.INSTRUCTION_RECIPE.epochs
    print(
        f"    fine-tuning: {seconds:.1f} s, {len(losses)} steps, {tokens / seconds:,.0f} "
        f"training tokens/s (target: at most 240 s); {load()}"
    )
    if evaluate:
        context = gpt.config.context
        ok = [e for e in test_ex if len(tok.encode(ins.example_prompt(e))) + 24 <= context]
        acc = instruct.accepted_answers(examples)
        before = instruct.score_answers(ok, [instruct.answer(gpt, tok, e) for e in ok], acc)
        after = instruct.score_answers(ok, [instruct.answer(model, tok, e) for e in ok], acc)
        for task, a in after.items():
            b = before[task]
            formed = ""
            if a.well_formed is not None:
                formed = (
                    f"; well formed {b.well_formed}/{b.total} before, "
                    f"{a.well_formed}/{a.total} after"
                )
            print(
                f"    {task:>10}: exact match {b.right}/{b.total} before, "
                f"{a.right}/{a.total} after{formed}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, help="torch.set_num_threads for this run")
    parser.add_argument("--only", choices=["a", "b"], help="run one benchmark")
    parser.add_argument(
        "--eval", action="store_true", help="(b): also score held-out exact match by task"
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    gpt, tok = load_base_model("cpu")
    print(f"base model: {gpt.config}; torch threads {torch.get_num_threads()}")
    if args.only in (None, "a"):
        bench_spam(gpt, tok)
    if args.only in (None, "b"):
        bench_instructions(gpt, tok, args.eval)


if __name__ == "__main__":
    main()
