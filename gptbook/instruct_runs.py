"""Chapter 10's long instruction-tuning run, with its recipe chosen on the validation part.

Each candidate recipe fine-tunes the base model on the training part and is scored on the
*validation* part (exact match over the checkable tasks). The best one is kept; only that one is
then scored on the *test* part, once, next to the base model and each task's chance level. The
run takes longer than a chapter may, so it is done once and stored:

    python -m gptbook.instruct_runs --minutes 12        # candidates, choice, test, model file
    python -m gptbook.instruct_runs --recipes 1e-3:16 --steps 200 --dry-run   # a quick try

It writes ``gptbook/assets/instruction_runs.json`` (every candidate's validation scores, the
choice, the test scores before and after, the chosen run's per-task loss curves, the machine and
its load average) and the chosen model, in half precision, to
``gptbook/assets/instruct_model.pt``. The file records the base model's SHA-256, so the chapter
can check that the stored results belong to the model it loads.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path

import torch

from gptbook import instruct as ft
from gptbook import instructions as ins
from gptbook.checkpoint import load_model, save_checkpoint
from gptbook.pretrained import ASSETS, BASE_MODEL, load_base_model

RUNS_FILE = ASSETS / "instruction_runs.json"
MODEL_FILE = ASSETS / "instruct_model.pt"
MAX_NEW = 24
"""Tokens an answer may take (a spelled word needs about 2 per letter)."""
SLACK = 4
"""...but at most this many past the length of the right answer (it cannot match any more; see
:func:`gptbook.instruct.answer_budget`). Chat answers always get ``MAX_NEW``."""


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, to tie stored results to the model they were made with."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def scores_json(scores: dict[str, ft.TaskScore]) -> dict[str, dict]:
    """Per-task scores as plain numbers: exact match, chance level, well formed, word overlap."""
    return {
        t: {
            "right": s.right,
            "total": s.total,
            "exact": s.exact,
            "chance": s.chance_level,
            "formed": s.formed,
            "f1": s.f1,
        }
        for t, s in scores.items()
    }


def train_rows(tok, examples: Sequence[ins.Example], context: int) -> tuple[list, list[str]]:
    """Encoded training rows and their tasks; an example too long for the context is refused."""
    rows, tasks = [], []
    for e in examples:
        row = ft.encode_instruction(tok, e, context)
        if row is None:
            raise ValueError(f"A {e.task} example does not fit the context of {context} tokens.")
        rows.append(row)
        tasks.append(e.task)
    return rows, tasks


def parse_recipe(text: str) -> tuple[float, int]:
    """``"1e-3:16"`` -> ``(0.001, 16)``: a candidate's learning rate and batch size."""
    try:
        lr, batch = text.split(":")
        out = float(lr), int(batch)
    except ValueError:
        raise ValueError(
            f"A recipe is LR:BATCH, for example 1e-3:16; got {text!r}."
        ) from None
    if not (out[0] > 0 and out[1] > 0):
        raise ValueError(f"The learning rate and the batch size must be positive, got {text!r}.")
    return out


def candidates(specs: Sequence[tuple[float, int]], epochs: float, n_rows: int,
               steps: int | Callable[[int], int] | None = None) -> dict[str, ft.InstructionConfig]:
    """One recipe per ``(learning rate, batch size)``: every weight learns, the loss averaged per
    example, for ``epochs`` passes, or ``steps`` steps (a number, or a function of the batch
    size: the steps that fit a time budget)."""
    out = {}
    for lr, batch in specs:
        n = steps(batch) if callable(steps) else steps
        # tuning.plan_steps makes round(epochs * batches per pass) steps
        ep = epochs if n is None else n / math.ceil(n_rows / batch)
        cfg = replace(ft.INSTRUCTION_RECIPE, lr=lr, batch_size=batch, epochs=ep)
        out[f"lr {lr:g}, batch {batch}"] = cfg
    return out


def seconds_per_step(gpt, rows: Sequence, steps: int = 8) -> float:
    """How long one training step takes here: a few steps of the recipe on a throwaway copy."""
    cfg = replace(ft.INSTRUCTION_RECIPE, epochs=1.0)
    plan_cfg = replace(cfg, epochs=steps / math.ceil(len(rows) / cfg.batch_size))
    t0 = time.perf_counter()
    ft.train_instructions(gpt, rows, plan_cfg)
    return (time.perf_counter() - t0) / steps


def run(gpt, tok, parts: ins.Parts, recipes: dict[str, ft.InstructionConfig],
        model_out: Path | None = MODEL_FILE, progress: bool = False) -> dict:
    """Train every recipe on ``parts.train``, choose the best by exact match on ``parts.val``,
    and score only that one, and the base model ``gpt``, on ``parts.test``. With ``model_out``
    the chosen model is saved in half precision and the test scores are those of the saved copy.
    Returns the record (see the module docstring)."""
    accepted = ins.accepted_answers(parts.train + parts.val + parts.test)
    rows, tasks = train_rows(tok, parts.train, gpt.config.context)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm
    record: dict = {"candidates": {}, "train_examples": len(rows), "held_out": len(parts.test)}
    best_name, best_score, best_model, best_curves = "", -1.0, gpt, ft.TaskCurves(tasks)
    for name, cfg in recipes.items():
        curves = ft.TaskCurves(tasks)
        t0 = time.perf_counter()
        model, losses = ft.train_instructions(gpt, rows, cfg, progress=bar, on_step=curves.add)
        seconds = time.perf_counter() - t0
        _, val = ft.evaluate(model, tok, parts.val, accepted, MAX_NEW, slack=SLACK)
        score = ft.overall_exact(val)
        print(f"{name}: {len(losses)} steps in {seconds:.0f} s, validation exact match "
              f"{score:.1%}; load {_load_average()}", flush=True)
        print("    " + ", ".join(f"{t} {v.exact:.0%}" for t, v in val.items()), flush=True)
        record["candidates"][name] = {
            "config": asdict(cfg), "steps": len(losses), "train_seconds": round(seconds, 1),
            "val": scores_json(val), "val_overall": score,
            "final_loss": sum(losses[-50:]) / len(losses[-50:]),
        }
        if score > best_score:
            best_name, best_score, best_model, best_curves = name, score, model, curves
    record["chosen"] = best_name
    window = max(1, min(50, len(rows) // 100))
    record["curves"] = {t: best_curves.curve(t, window) for t in sorted(set(tasks))}
    if model_out is not None:  # score what is shipped: the half-precision copy
        recipe = record["candidates"][best_name]["config"]
        save_checkpoint(model_out, best_model, tokenizer=tok, weights_dtype=torch.float16,
                        extra={"recipe": recipe})
        best_model, _ = load_model(model_out, next(gpt.parameters()).device)
        record["model_sha256"] = file_sha256(model_out)
    _, before = ft.evaluate(gpt, tok, parts.test, accepted, MAX_NEW, slack=SLACK)
    _, after = ft.evaluate(best_model, tok, parts.test, accepted, MAX_NEW, slack=SLACK)
    record["test"] = {"before": scores_json(before), "after": scores_json(after),
                      "before_overall": ft.overall_exact(before),
                      "after_overall": ft.overall_exact(after)}
    return record


def load_runs(path: str | Path = RUNS_FILE) -> dict:
    """The stored results file (see the module docstring for how it is made)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No stored results at {path}; make them with `python -m gptbook.instruct_runs`."
        )
    return json.loads(path.read_text(encoding="utf-8"))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m gptbook.instruct_runs",
        description="Chapter 10's long run: choose a recipe on validation, score it on test.",
    )
    parser.add_argument("--recipes", type=parse_recipe, nargs="+",
                        default=[parse_recipe("1e-3:16"), parse_recipe("3e-3:16")],
                        help="candidates as LR:BATCH (default: 1e-3:16 3e-3:16)")
    parser.add_argument("--epochs", type=float, default=ft.INSTRUCTION_RECIPE.epochs)
    parser.add_argument("--steps", type=int, help="train this many steps (instead of --epochs)")
    parser.add_argument("--minutes", type=float,
                        help="instead of --steps: as many steps as fit this many minutes of "
                        "training for all candidates together (timed on this machine first)")
    parser.add_argument("--seed", type=int, default=0, help="the seed of the instruction set")
    parser.add_argument("--out", default=str(RUNS_FILE))
    parser.add_argument("--model-out", default=str(MODEL_FILE))
    parser.add_argument("--dry-run", action="store_true", help="print, store nothing")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads for this run")
    parser.add_argument("--progress", action="store_true", help="show a progress bar")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    t0, load_before = time.perf_counter(), _load_average()
    gpt, tok = load_base_model("cpu")
    parts = ins.build_parts(args.seed)
    n_rows = len(parts.train)
    steps: int | Callable[[int], int] | None = args.steps
    timing = {}
    if args.minutes:  # each candidate gets an equal share of the time; a step costs ~ its batch
        rows, _ = train_rows(tok, parts.train, gpt.config.context)
        per_step = seconds_per_step(gpt, rows)
        share = args.minutes * 60 / len(args.recipes)

        def steps(batch: int) -> int:
            return max(1, int(share / (per_step * batch / ft.INSTRUCTION_RECIPE.batch_size)))

        print(f"{per_step:.2f} s per step of {ft.INSTRUCTION_RECIPE.batch_size}", flush=True)
        timing = {"minutes": args.minutes, "seconds_per_step": per_step}
    recipes = candidates(args.recipes, args.epochs, n_rows, steps)
    record = run(gpt, tok, parts, recipes, None if args.dry_run else Path(args.model_out),
                 progress=args.progress)
    record = {
        "about": "chapter 10's long run, made by `python -m gptbook.instruct_runs`",
        "base_model_sha256": file_sha256(BASE_MODEL),
        "sizes": ins.DEFAULT_SIZES,
        "seed": args.seed,
        **record,
        "run": {
            "command": " ".join(["python -m gptbook.instruct_runs", *(argv or sys.argv[1:])]),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "wall_seconds": round(time.perf_counter() - t0, 1),
            "load_average_before": load_before, "load_average_after": _load_average(),
            **timing, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "machine": platform.machine(), "device": "cpu",
        },
    }
    test = record["test"]
    for task, a in test["after"].items():
        b = test["before"][task]
        ch = "-" if a["chance"] is None else f"{a['chance']:.0%}"
        print(f"{task:>15}: exact {b['exact']:.0%} -> {a['exact']:.0%} (chance {ch}), "
              f"f1 {b['f1']:.2f} -> {a['f1']:.2f}")
    print(f"overall exact match {test['before_overall']:.1%} -> {test['after_overall']:.1%}")
    if args.dry_run:
        return
    out = Path(args.out)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    tmp.replace(out)
    print(f"stored in {out}")


if __name__ == "__main__":
    main()
