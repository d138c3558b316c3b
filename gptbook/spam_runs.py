"""Chapter 09's comparison table, measured fairly and over several seeds.

Every method gives each message a *spam score*; every method is then measured the same way
(:func:`gptbook.classify.measure`): a threshold chosen on the validation part, used once on the
test part, and the test ROC AUC, which needs no threshold. Each row is run with several seeds,
and the table shows the mean and the standard deviation over them. A seed changes:

* fine-tuning: the head's initial weights and the order of the batches (and, for the rows that
  start from random weights, those weights; for the rows with few labels, which labels);
* few-shot prompting: which worked examples the prompt shows;
* the linear probes: their starting point (the loss is convex, so they should all end at the
  same place: a check that they were trained to convergence).

Zero-shot prompting has nothing random in it; its rows repeat one number.

Fine-tuning every row with several seeds takes too long for the chapter, so this module runs them
once and stores the results in ``gptbook/assets/spam_runs.json``, which the chapter loads:

    python -m gptbook.spam_runs --seeds 0 1 2   # the whole table (2-core CPU: over half an hour)
    python -m gptbook.spam_runs --seeds 3 --rows zero_shot few_shot   # add to the stored file
    python -m gptbook.spam_runs --merge a.json b.json   # join files made by parallel processes

The file records the base model's SHA-256, so the chapter can check that the stored results
belong to the model it loads.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import torch

from gptbook import classify as ft
from gptbook.data import sms_spam
from gptbook.model import GPT
from gptbook.pretrained import ASSETS, BASE_MODEL, load_base_model

RUNS_FILE = ASSETS / "spam_runs.json"

FEW_LABELS = 200
"""The "few labels" rows train on this many training messages (a seeded random choice)."""
FEW_LABELS_EPOCHS = 12
"""...for this many epochs: about as many steps as one epoch of the small budget."""
SMALL_BUDGET = 1600
"""The frozen-or-unfrozen rows train one epoch on this many training messages."""

ROWS: dict[str, str] = {
    "zero_shot": "zero-shot prompt, base model",
    "few_shot": "few-shot prompt (worked examples)",
    "probe_last": "linear probe, last-token features",
    "probe_mean": "linear probe, mean of token features",
    "recipe_pretrained": "pretrained, every weight (recipe)",
    "recipe_random": "random weights, every weight (recipe)",
    "few_pretrained": f"{FEW_LABELS} labels: pretrained, every weight",
    "few_random": f"{FEW_LABELS} labels: random weights",
    "small_last1": "small budget: last 1 block",
    "small_last2": "small budget: last 2 blocks",
    "small_all": "small budget: every weight",
}
"""Every row of the table: its key in the results file and its name in the chapter."""

METRICS = ("accuracy", "precision", "recall", "f1", "auc")


def shots_per_class(gpt: GPT) -> int:
    """How many worked examples of each label a few-shot prompt shows: two when the context holds
    256 tokens or more (room for four short examples and a message), else one."""
    return 2 if gpt.config.context >= 256 else 1


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file: ties stored results to the exact base model they were made with."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def small_recipe(seed: int) -> ft.ClassifierConfig:
    """The small budget: the recipe's settings, one epoch."""
    return ft.ClassifierConfig(**{**vars(ft.SPAM_RECIPE), "epochs": 1, "seed": seed})


def few_labels_recipe(seed: int) -> ft.ClassifierConfig:
    """The few-labels budget: the recipe's settings, :data:`FEW_LABELS_EPOCHS` epochs."""
    return ft.ClassifierConfig(
        **{**vars(ft.SPAM_RECIPE), "epochs": FEW_LABELS_EPOCHS, "seed": seed}
    )


def few_labels(train: ft.EncodedMessages, seed: int) -> ft.EncodedMessages:
    """:data:`FEW_LABELS` training messages drawn with ``seed`` (in their original order)."""
    rows = sorted(random.Random(seed).sample(range(len(train)), FEW_LABELS))
    return ft.EncodedMessages([train.ids[i] for i in rows], [train.labels[i] for i in rows])


class SpamData:
    """The fixed split, encoded once, and what does not depend on the seed (features, zero-shot
    scores) computed once and shared by every seed and row. ``seconds[key]`` keeps how long each
    shared piece took, so that every row can be charged its full cost."""

    def __init__(self, gpt: GPT, tokenizer, split: ft.SpamSplit | None = None) -> None:
        self.gpt, self.tokenizer = gpt, tokenizer
        self.split = ft.stratified_split(sms_spam()) if split is None else split
        context = gpt.config.context
        self.train, self.val, self.test = (
            ft.encode_messages(tokenizer, getattr(self.split, k), context)
            for k in ("train", "val", "test")
        )
        self._features: dict[tuple, object] = {}
        self._prompted: dict[tuple, torch.Tensor] = {}
        self.seconds: dict[tuple, float] = {}

    def prompt_scores(self, shots: Sequence) -> torch.Tensor:
        """Prompt scores of the validation then the test messages; zero-shot (no ``shots``) has
        nothing random in it, so it is computed once and shared by every seed."""
        key = ("prompt", *shots)
        if key not in self._prompted:
            t0 = time.perf_counter()
            messages = self.split.val + self.split.test
            self._prompted[key] = ft.prompt_scores(self.gpt, self.tokenizer, messages, shots)
            self.seconds[key] = time.perf_counter() - t0
        return self._prompted[key]

    def features(self, pooling: str) -> dict[str, torch.Tensor]:
        """The frozen base model's features of every part, for a linear probe."""
        if "probe" not in self._features:
            t0 = time.perf_counter()
            self._features["probe"] = {
                k: ft.message_features(self.gpt, getattr(self, k)) for k in ("train", "val", "test")
            }
            self.seconds[("probe",)] = time.perf_counter() - t0
        return {k: v[pooling] for k, v in self._features["probe"].items()}

    def streams(self, clf: ft.GPTClassifier) -> dict[str, ft.Features]:
        """The residual streams entering the first trainable block of ``clf``: the same for every
        seed, so computed once per number of frozen blocks."""
        key = ("streams", clf.frozen_blocks())
        if key not in self._features:
            t0 = time.perf_counter()
            small = ft.EncodedMessages(self.train.ids[:SMALL_BUDGET], self.train.labels[:SMALL_BUDGET])
            self._features[key] = {
                "train": ft.precompute(clf, small),
                "val": ft.precompute(clf, self.val),
                "test": ft.precompute(clf, self.test),
            }
            self.seconds[key] = time.perf_counter() - t0
        return self._features[key]


def _measured(data: SpamData, val_scores, test_scores) -> dict:
    m = ft.measure(data.val.labels, val_scores, data.test.labels, test_scores)
    out = asdict(m)
    # which test messages it flags as spam, one character each: lets the chapter compare two runs
    out["test_flags"] = "".join("1" if s > m.threshold else "0" for s in test_scores.tolist())
    return out


def run_row(data: SpamData, row: str, seed: int) -> dict:
    """Run one row with one seed; return its measurements, with seconds and steps.

    ``seconds`` is what the row costs on its own: a piece shared with other seeds or rows
    (features, zero-shot scores) is charged in full to every row that uses it."""
    gpt, tok = data.gpt, data.tokenizer
    t0 = time.perf_counter()
    shared_before = dict(data.seconds)
    extra: dict = {}
    used: list[tuple] = []
    if row in ("zero_shot", "few_shot"):
        shots = []
        if row == "few_shot":
            shots = ft.choose_shots(data.split.train, tok, shots_per_class(gpt), seed=seed)
        scores = data.prompt_scores(shots)
        used.append(("prompt", *shots))
        n_val = len(data.val)
        out = _measured(data, scores[:n_val], scores[n_val:])
        extra["shots"] = [[m.label, m.text] for m in shots]
    elif row in ("probe_last", "probe_mean"):
        x = data.features(row.removeprefix("probe_"))
        used.append(("probe",))
        probe, losses = ft.fit_probe(x["train"], data.train.labels, x["val"], data.val.labels,
                                     seed=seed)
        out = _measured(data, probe.scores(x["val"]), probe.scores(x["test"]))
        extra.update(l2=probe.l2, iterations=probe.iterations, grad_norm=probe.grad_norm,
                     val_losses={str(k): v for k, v in losses.items()})
    else:
        if row.startswith("recipe_"):
            train, recipe, blocks = data.train, ft.ClassifierConfig(
                **{**vars(ft.SPAM_RECIPE), "seed": seed}), ft.SPAM_TRAINABLE_BLOCKS
        elif row.startswith("few_"):
            train, recipe, blocks = few_labels(data.train, seed), few_labels_recipe(seed), None
        else:
            blocks = {"small_last1": 1, "small_last2": 2, "small_all": None}[row]
            train, recipe = None, small_recipe(seed)
        start = gpt
        if row.endswith("_random"):
            torch.manual_seed(seed)
            start = GPT(gpt.config).to(next(gpt.parameters()).device).eval()
        clf = ft.new_classifier(start, blocks, seed)
        if train is None:  # the small budget: frozen bottom computed once for every seed
            if clf.frozen_blocks():
                parts = data.streams(clf)
                used.append(("streams", clf.frozen_blocks()))
            else:
                parts = {"train": ft.EncodedMessages(data.train.ids[:SMALL_BUDGET],
                                                     data.train.labels[:SMALL_BUDGET]),
                         "val": data.val, "test": data.test}
        else:
            parts = {"train": train, "val": data.val, "test": data.test}
        losses = ft.train_classifier(clf, parts["train"], recipe)
        out = _measured(data, ft.spam_scores(clf, parts["val"]), ft.spam_scores(clf, parts["test"]))
        extra.update(steps=len(losses), final_loss=losses[-1],
                     trainable=sum(p.numel() for p in clf.parameters() if p.requires_grad))
    # shared pieces made before this row started are charged to it too
    reused = sum(data.seconds[k] for k in used if k in shared_before)
    out.update(extra, seconds=time.perf_counter() - t0 + reused)
    return out


def _load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run(
    gpt: GPT,
    tokenizer,
    seeds: Sequence[int],
    rows: Sequence[str] | None = None,
    results: dict | None = None,
    log: Callable[[str], None] = print,
    split: ft.SpamSplit | None = None,
    on_row: Callable[[dict], None] | None = None,
) -> dict:
    """Run ``rows`` (default: all of :data:`ROWS`) for each seed, adding to ``results``
    (``{row: {seed: measurements}}``); return it. ``split`` defaults to the chapter's split of
    the SMS Spam Collection."""
    rows = list(ROWS) if rows is None else list(rows)
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise KeyError(f"Unknown rows {unknown}; choose from {list(ROWS)}.")
    results = {} if results is None else results
    data = SpamData(gpt, tokenizer, split)
    for row in rows:  # a row with all its seeds, then the next: a stopped run keeps whole rows
        for seed in seeds:
            r = run_row(data, row, seed)
            results.setdefault(row, {})[str(seed)] = r
            log(f"seed {seed} {row:>17}: test F1 {r['f1']:.3f}, AUC {r['auc']:.3f}, "
                f"{r['seconds']:.0f} s; load {_load_average()}")
            if on_row is not None:
                on_row(results)
    return results


def summarize(results: dict) -> dict[str, dict[str, tuple[float, float, int]]]:
    """``{row: {metric: (mean, sd, seeds)}}`` over the stored seeds (sd 0 for a single seed)."""
    out = {}
    for row in ROWS:
        if row not in results:
            continue
        runs = list(results[row].values())
        out[row] = {}
        for metric in (*METRICS, "seconds"):
            values = [r[metric] for r in runs]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            out[row][metric] = (statistics.fmean(values), sd, len(values))
    return out


def load_runs(path: str | Path = RUNS_FILE) -> dict:
    """The stored results file (see the module docstring for how it is made)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No stored results at {path}; make them with `python -m gptbook.spam_runs --seeds 0 1 2`."
        )
    return json.loads(path.read_text(encoding="utf-8"))


def merge_files(paths: Sequence[str | Path], out: str | Path) -> dict:
    """Merge results files made in parallel (say, one process per group of rows) into ``out``
    (added to it if present). Every file must belong to the same base model."""
    out = Path(out)
    merged: dict = load_runs(out) if out.is_file() else {}
    for path in paths:
        part = load_runs(path)
        sha = merged.setdefault("base_model_sha256", part["base_model_sha256"])
        if part["base_model_sha256"] != sha:
            raise ValueError(f"{path} was made with another base model than the others; rerun it.")
        merged.setdefault("about", part.get("about"))
        for row, runs in part["results"].items():
            merged.setdefault("results", {}).setdefault(row, {}).update(runs)
        merged["runs"] = [*merged.get("runs", []), *part.get("runs", [])]
    out.write_text(json.dumps(merged, indent=1) + "\n", encoding="utf-8")
    return merged


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m gptbook.spam_runs",
        description="Run chapter 09's comparison over seeds and store the results.",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rows", nargs="+", choices=list(ROWS), help="default: every row")
    parser.add_argument("--out", default=str(RUNS_FILE), help="results file (added to if present)")
    parser.add_argument("--fresh", action="store_true", help="start a new file instead of adding")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads for this run")
    parser.add_argument(
        "--merge", nargs="+", metavar="FILE",
        help="only merge these results files (made in parallel, same base model) into --out",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.merge:
        merge_files(args.merge, args.out)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    sha = file_sha256(BASE_MODEL)
    stored = {} if args.fresh or not out.is_file() else load_runs(out)
    if stored and stored.get("base_model_sha256") != sha:
        print("the stored results belong to another base model: starting a new file")
        stored = {}
    gpt, tok = load_base_model("cpu")
    t0 = time.perf_counter()
    load_before = _load_average()

    def save(results: dict) -> None:  # after every row and seed: a stopped run keeps its rows
        record = {
            "about": "chapter 09's comparison, made by `python -m gptbook.spam_runs`",
            "base_model_sha256": sha,
            "results": results,
            "runs": [*stored.get("runs", []), {
                "seeds": args.seeds, "rows": [r for r in (args.rows or ROWS) if r in results],
                "finished": datetime.now(UTC).isoformat(timespec="seconds"),
                "wall_seconds": round(time.perf_counter() - t0, 1),
                "load_average_before": load_before, "load_average_after": _load_average(),
                "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                "torch": torch.__version__, "machine": platform.machine(), "device": "cpu",
            }],
        }  # fmt: skip
        tmp = out.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        tmp.replace(out)

    save(run(gpt, tok, args.seeds, args.rows, stored.get("results"), on_row=save))
    print(f"stored in {out}")


if __name__ == "__main__":
    main()
