"""The command line: ``python -m gptbook train ...`` and ``python -m gptbook generate ...``.

``train --preset NAME`` runs one of the recipes in :data:`PRESETS` on the Shakespeare split of
:func:`gptbook.data.shakespeare_split`. Training checkpoints (with the optimizer, for ``--resume``)
go to ``--run-dir`` (default ``runs/<preset>``); the finished model goes to ``--out`` together with
a record ``<out>.json`` of how it was made. The book's base model is made by::

    python -m gptbook train --preset base --out gptbook/assets/base_model.pt     # = make base-model

``generate`` loads a model file (default: the shipped base model) and continues a prompt.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from gptbook.checkpoint import (
    CheckpointError,
    CheckpointMismatchError,
    load_checkpoint,
    load_model,
    save_checkpoint,
)
from gptbook.train import TrainConfig, bytes_per_token, evaluate, train

# ---------------------------------------------------------------------------------------------
# Recipes
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    """A training recipe: the tokenizer, the model's shape and the training settings."""

    description: str
    tokenizer: str  # "char" or "bpe"
    n_layer: int
    n_head: int
    d_model: int
    train: TrainConfig
    vocab_size: int | None = None  # for "bpe": the size the tokenizer is trained to
    dropout: float = 0.0
    weights_dtype: str | None = None  # "float16" to ship the final weights at half size
    check_words: bool = False  # sample 2,000 characters and count the words found in the corpus
    notes: list[str] = field(default_factory=list)


PRESETS: dict[str, Preset] = {
    "base": Preset(
        description="The book's base model: its own byte-level BPE tokenizer (4,096 tokens) trained on "
        "the Shakespeare train split, then a 4-layer GPT of width 192 trained on it for 50 minutes of "
        "wall time (the cosine schedule follows the clock, so the run ends on time on a busy CPU).",
        tokenizer="bpe",
        vocab_size=4096,
        n_layer=4,
        n_head=4,
        d_model=192,
        train=TrainConfig(
            batch_size=16, context=128, lr=2e-3, min_lr=2e-4, warmup_iters=200, max_iters=100_000,
            weight_decay=0.1, beta2=0.99, eval_interval=200, eval_iters=10, time_limit=50 * 60.0,
        ),
        weights_dtype="float16",
        check_words=True,
    ),
    "baby-char": Preset(
        description="The well-known CPU baby-GPT recipe: characters, 4 layers, 4 heads, width 128, "
        "context 64, batch 12, 2,000 iterations, lr 1e-3 (warm-up 100, cosine to 1e-4), no dropout.",
        tokenizer="char",
        n_layer=4,
        n_head=4,
        d_model=128,
        train=TrainConfig(
            batch_size=12, context=64, lr=1e-3, min_lr=1e-4, warmup_iters=100, max_iters=2000,
            weight_decay=0.1, beta2=0.99, eval_interval=250, eval_iters=20,
        ),
    ),
    "book-char": Preset(
        description="The book's 3-minute CPU recipe at the character level: 3 layers, 4 heads, width 128, "
        "context 64, batch 16, a high learning rate (6e-3, warm-up 50, cosine to 6e-4) whose cosine "
        "follows the clock and ends at 180 s. Chosen by short experiments (see benchmarks/bench_train.py).",
        tokenizer="char",
        n_layer=3,
        n_head=4,
        d_model=128,
        train=TrainConfig(
            batch_size=16, context=64, lr=6e-3, min_lr=6e-4, warmup_iters=50, max_iters=100_000,
            weight_decay=0.1, beta2=0.99, eval_interval=500, eval_iters=20, time_limit=180.0,
        ),
    ),
    "tiny": Preset(
        description="A seconds-long smoke test: characters, 2 layers of width 32.",
        tokenizer="char",
        n_layer=2,
        n_head=2,
        d_model=32,
        train=TrainConfig(
            batch_size=8, context=32, lr=3e-3, min_lr=3e-4, warmup_iters=5, max_iters=40,
            eval_interval=20, eval_iters=2,
        ),
    ),
}


class UsageError(ValueError):
    """Bad command-line input."""


# ---------------------------------------------------------------------------------------------
# Building the tokenizer and the data
# ---------------------------------------------------------------------------------------------


def build_tokenizer(preset: Preset, train_text: str, val_text: str, path: Path, log=print):
    """The preset's tokenizer, trained on ``train_text`` (BPE) or the characters of the corpus
    (char), saved to ``path``; reused from ``path`` if it is already there (for ``--resume``)."""
    from gptbook.tokenizers import BPETokenizer, CharTokenizer, load_tokenizer

    if path.exists():
        log(f"tokenizer: reusing {path}")
        return load_tokenizer(path)
    if preset.tokenizer == "char":
        tokenizer = CharTokenizer.from_text(train_text + val_text)
    elif preset.tokenizer == "bpe":
        tokenizer = BPETokenizer()
        t0 = time.perf_counter()
        tokenizer.train(train_text, vocab_size=preset.vocab_size)
        log(f"tokenizer: trained a {tokenizer.vocab_size}-token BPE on the train split in {time.perf_counter() - t0:.0f} s")
    else:
        raise UsageError(f"unknown tokenizer kind {preset.tokenizer!r} in the preset")
    path.parent.mkdir(parents=True, exist_ok=True)
    tokenizer.save(path)
    return tokenizer


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


# ---------------------------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------------------------


def cmd_train(args: argparse.Namespace) -> int:
    from gptbook.data import shakespeare, shakespeare_split
    from gptbook.device import device as pick_device
    from gptbook.model import GPT, GPTConfig

    if args.preset not in PRESETS:
        raise UsageError(f"unknown preset {args.preset!r}; choose one of: {', '.join(PRESETS)}.")
    preset = PRESETS[args.preset]
    overrides = {}
    if args.max_iters is not None:
        overrides["max_iters"] = args.max_iters
        overrides["eval_interval"] = min(preset.train.eval_interval, args.max_iters)
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.time_limit is not None:
        overrides["time_limit"] = args.time_limit * 60.0 if args.time_limit > 0 else None
    if args.threads is not None:
        if args.threads < 1:
            raise UsageError(f"--threads must be at least 1, got {args.threads}.")
        torch.set_num_threads(args.threads)  # this process only: the command line owns it
    dev = pick_device(args.device)
    cfg = replace(preset.train, device=str(dev), **overrides)
    run_dir = Path(args.run_dir or Path("runs") / args.preset)
    out = Path(args.out) if args.out else run_dir / "model.pt"
    ckpt = run_dir / "checkpoint.pt"
    if args.resume and not ckpt.exists():
        raise UsageError(f"--resume: there is no checkpoint at {ckpt}. Run without --resume to start the run.")
    log = print if not args.quiet else (lambda *a, **k: None)
    if not args.resume:  # a fresh run: an earlier run's checkpoint and tokenizer in run_dir are replaced
        for old in (ckpt, run_dir / "tokenizer.json"):
            if old.exists():
                log(f"starting afresh: removing {old} from an earlier run (use --resume to continue it instead)")
                old.unlink()

    started = time.perf_counter()
    train_text, val_text = shakespeare_split()
    tokenizer = build_tokenizer(preset, train_text, val_text, run_dir / "tokenizer.json", log)
    t0 = time.perf_counter()
    train_ids = tokenizer.encode(train_text)
    val_ids = tokenizer.encode(val_text)
    bpt = bytes_per_token(val_text, val_ids)
    log(f"data: {len(train_ids):,} train and {len(val_ids):,} validation tokens "
        f"({bpt:.3f} bytes per token), encoded in {time.perf_counter() - t0:.0f} s")

    torch.manual_seed(cfg.seed)
    config = GPTConfig(vocab_size=tokenizer.vocab_size, context=cfg.context, n_layer=preset.n_layer,
                       n_head=preset.n_head, d_model=preset.d_model, dropout=preset.dropout)
    model = GPT(config)
    log(f"model: {model.num_params():,} parameters, {config}")
    log(f"train: {cfg}")

    def report(record: dict[str, Any], _model) -> None:
        bpb = f", val {record['val_bpb']:.3f} bits/byte" if "val_bpb" in record else ""
        log(f"step {record['step']}: train {record['train_loss']:.4f}, val {record['val_loss']:.4f}{bpb}, "
            f"{record['elapsed']:.0f} s", flush=True)

    t_train = time.perf_counter()
    history = train(model, train_ids, val_ids, cfg, bytes_per_token=bpt, checkpoint_path=ckpt,
                    resume=args.resume, tokenizer=tokenizer, callback=report, progress=not args.quiet)
    train_seconds = time.perf_counter() - t_train
    last = history[-1]
    training_elapsed = load_checkpoint(ckpt)["extra"]["elapsed"]

    # the finished model, and the record of how it was made
    dtype = getattr(torch, preset.weights_dtype) if preset.weights_dtype else None
    save_checkpoint(out, model, step=last["step"], tokenizer=tokenizer, weights_dtype=dtype,
                    extra={"preset": args.preset})
    shipped, _ = load_model(out, device=dev)  # measure what was written, half precision included
    full_val = evaluate(shipped, val_ids, cfg.context, batch_size=cfg.batch_size, device=dev, bytes_per_token=bpt)
    record: dict[str, Any] = {
        "command": "python -m gptbook " + " ".join(shlex.quote(a) for a in args.argv),
        "preset": args.preset,
        "description": preset.description,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "device": str(dev),
        "wall_seconds_total": round(time.perf_counter() - started, 1),
        "wall_seconds_training_this_process": round(train_seconds, 1),
        "wall_seconds_training_all_sessions": round(training_elapsed, 1),
        "resumed": bool(args.resume),
        "tokenizer": {"kind": preset.tokenizer, "vocab_size": tokenizer.vocab_size, "trained_on": "shakespeare_split()[0]"},
        "model_config": asdict(config),
        "parameters": model.num_params(),
        "train_config": cfg.to_dict(),
        "tokens": {"train": len(train_ids), "val": len(val_ids), "val_bytes_per_token": bpt},
        "steps": last["step"],
        "tokens_per_second": last["step"] * cfg.batch_size * cfg.context / max(training_elapsed, 1e-9),
        "final_estimate": {k: last[k] for k in ("step", "train_loss", "val_loss", "val_perplexity", "val_bpb") if k in last},
        "val_full": {"loss": full_val["loss"], "perplexity": full_val["perplexity"],
                     "bits_per_byte": full_val["bits_per_byte"], "tokens": full_val["tokens"],
                     "weights": preset.weights_dtype or "float32"},
        "file_bytes": out.stat().st_size,
        "note": "Timings depend on the machine and on what else runs on it (the CPU may be shared).",
    }
    log(f"full validation ({full_val['tokens']:,} tokens, as saved): loss {full_val['loss']:.4f} nats/token, "
        f"{full_val['bits_per_byte']:.3f} bits/byte")
    if preset.check_words:
        from gptbook.pretrained import sample_text, words_in_corpus

        corpus = shakespeare()
        checks = []
        for seed in range(3):
            sample = sample_text(shipped, tokenizer, n_chars=2000, temperature=0.8, seed=seed)
            check = words_in_corpus(sample, corpus)
            checks.append({"seed": seed, "fraction": check.fraction, "words": check.n_words,
                           "unknown": check.unknown, "sample": sample if seed == 0 else None})
        record["words_in_corpus"] = {
            "method": "2,000 characters sampled at temperature 0.8 after a newline, words = letter runs "
            "(inner apostrophes kept), lower-cased, looked up in all of shakespeare(); seeds 0, 1, 2",
            "runs": checks,
            "fraction_seed0": checks[0]["fraction"],
            "fraction_mean": sum(c["fraction"] for c in checks) / len(checks),
        }
        log(f"words in corpus (2,000 sampled characters, T=0.8): seed 0: {checks[0]['fraction']:.1%}, "
            f"mean of 3: {record['words_in_corpus']['fraction_mean']:.1%}")
    record_path = out.with_suffix(".json")
    record_path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    log(f"saved {out} ({out.stat().st_size / 1e6:.1f} MB) and {record_path}")
    return 0


# ---------------------------------------------------------------------------------------------
# generate
# ---------------------------------------------------------------------------------------------


def cmd_generate(args: argparse.Namespace) -> int:
    from gptbook.sampling import generate

    if args.tokens < 1:
        raise UsageError(f"--tokens must be at least 1, got {args.tokens}.")
    if args.checkpoint is None:
        from gptbook.pretrained import load_base_model

        model, tokenizer = load_base_model(device=args.device)
    else:
        model, tokenizer = load_model(args.checkpoint, device=args.device)
        if tokenizer is None:
            raise UsageError(f"{args.checkpoint} holds no tokenizer, so a text prompt cannot be encoded.")
    if args.prompt == "":
        raise UsageError("--prompt is empty; give at least one character (for example --prompt $'\\n').")
    ids = tokenizer.encode(args.prompt)
    dev = next(model.parameters()).device
    generator = torch.Generator(device=dev).manual_seed(args.seed)
    idx = torch.tensor([ids], dtype=torch.long, device=dev)
    out = generate(model, idx, args.tokens, temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                   generator=generator)
    sys.stdout.write(tokenizer.decode(out[0].tolist()) + "\n")
    return 0


# ---------------------------------------------------------------------------------------------
# The parser
# ---------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gptbook", description="Train a GPT on Shakespeare, or sample from one.")
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model from a preset recipe")
    t.add_argument("--preset", required=True, help=f"one of: {', '.join(PRESETS)}")
    t.add_argument("--out", help="where the finished model goes (default: <run-dir>/model.pt); a record <out>.json is written next to it")
    t.add_argument("--run-dir", help="folder for the training checkpoint and tokenizer (default: runs/<preset>)")
    t.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its checkpoint")
    t.add_argument("--max-iters", type=int, help="override the preset's number of steps")
    t.add_argument("--seed", type=int, help="override the preset's seed")
    t.add_argument("--time-limit", type=float, help="minutes of training (0 = no limit); overrides the preset's")
    t.add_argument("--threads", type=int, help="CPU threads for this run (torch.set_num_threads)")
    t.add_argument("--device", help="cpu, cuda, mps (default: the best available)")
    t.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    t.set_defaults(func=cmd_train)

    g = sub.add_parser("generate", help="continue a prompt with a trained model")
    g.add_argument("--checkpoint", help="a model file (default: the shipped base model)")
    g.add_argument("--prompt", default="\n", help="the text to continue (default: a newline)")
    g.add_argument("--tokens", type=int, default=200, help="how many new tokens (default 200)")
    g.add_argument("--temperature", type=float, default=0.8, help="0 = greedy; default 0.8")
    g.add_argument("--top-k", type=int, default=None, help="sample only from the k most likely tokens")
    g.add_argument("--top-p", type=float, default=None, help="sample only from the smallest set with probability >= p")
    g.add_argument("--seed", type=int, default=1337)
    g.add_argument("--device", help="cpu, cuda, mps (default: the best available)")
    g.set_defaults(func=cmd_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 success, 2 bad input or unusable file)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return args.func(args)
    except (UsageError, ValueError, FileNotFoundError, CheckpointError, CheckpointMismatchError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
