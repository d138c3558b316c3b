"""Pretraining: teach a model to predict the next token of a text.

Read this module from top to bottom, like the chapter (notebook 08):

1. :class:`TokenDataset` holds a text's token ids. Every window of ``context + 1`` consecutive ids
   gives an input ``x`` (the first ``context`` ids) and its labels ``y`` (the same window shifted by
   one): the labels come free from the text. :meth:`TokenDataset.batch` draws random windows with
   a seeded generator, so a run can be repeated exactly.
2. :class:`TrainConfig` holds the knobs of a run: batch size, context, learning rate and its
   schedule, weight decay, gradient clipping, how often to evaluate, the seed and the device.
3. :func:`make_optimizer` builds AdamW (Loshchilov and Hutter, 2019) with weight decay on the 2-D
   weight matrices only (biases and layer-norm scales are not decayed), and :func:`learning_rate`
   is the schedule (:func:`gptbook.optim.lr_at`): a linear warm-up, then a cosine decay to
   ``min_lr`` (Loshchilov and Hutter, 2017).
4. :func:`estimate_loss` and :func:`evaluate` measure the loss in nats per token, the perplexity
   ``exp(loss)`` and the bits per byte ``loss / ln 2 / (bytes per token)``. Bits per byte do not
   depend on the tokenizer, so a character model and a BPE model can be compared.
5. :func:`train` is the loop. Its evaluation records also hold the training speed
   (``tokens_per_s``, and ``flops_per_s`` from :func:`gptbook.throughput.model_flops_per_token`).
   Three speed-ups are off by default (so every stored result stays bit for bit): bf16 autocast
   (``autocast_bf16``), ``torch.compile`` (``compile``) and fused AdamW (``fused_adamw``); on a
   CUDA GPU, fp16 autocast with a gradient scaler (``fp16``). ``grad_accum`` splits each batch
   into micro-batches whose gradients add up to the batch's. Started by ``torchrun`` on several
   processes, the loop trains with DistributedDataParallel (:mod:`gptbook.distributed`): the
   same global batch, split by rank, the same updates; only rank 0 evaluates and saves.
   It saves checkpoints (with the optimizer, the position in the
   schedule and the state of the batch sampler's random generator) so that a run stopped and
   resumed gives exactly the same losses as a run that never stopped (on the CPU, same seed).
"""

from __future__ import annotations

import math
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from gptbook.checkpoint import (
    load_checkpoint,
    load_weights,
    require_training_state,
    save_checkpoint,
)
from gptbook.device import device as pick_device
from gptbook.distributed import (
    ProcessInfo,
    barrier,
    check_split,
    from_rank0,
    gather_rng_states,
    init_from_env,
    mean_over_processes,
    micro_batches,
    shard,
)
from gptbook.optim import (
    ConfigError,
    autocast,
    check_bool,
    check_int,
    check_number,
    evaluating,
    lr_at,
    optimizer_step,
)
from gptbook.throughput import model_flops_per_token

# ---------------------------------------------------------------------------------------------
# 1. The data: random windows of a long list of token ids
# ---------------------------------------------------------------------------------------------


class DataTooShortError(ValueError):
    """The token ids are too few for even one window of the requested context."""


class TokenDataset:
    """A text's token ids, cut into windows of ``context`` inputs and ``context`` labels.

    Window ``i`` is ``x = ids[i : i + context]`` and ``y = ids[i + 1 : i + context + 1]``: at every
    position the label is the token that comes next. There are ``len(ids) - context`` windows.
    """

    def __init__(self, ids: Sequence[int] | Tensor, context: int, name: str = "data"):
        if not isinstance(context, int) or isinstance(context, bool) or context < 1:
            raise ValueError(f"context must be a positive integer, got {context!r}.")
        self.ids = torch.as_tensor(ids, dtype=torch.long).flatten()
        self.context = context
        if len(self.ids) < context + 1:
            raise DataTooShortError(
                f"The {name} has {len(self.ids)} tokens, but one window of context {context} needs "
                f"{context + 1} (the inputs plus one label). Use a smaller context or more text."
            )

    def __len__(self) -> int:
        return len(self.ids) - self.context

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"window {i} is out of range: there are {len(self)} windows.")
        i = i % len(self)
        window = self.ids[i : i + self.context + 1]
        return window[:-1], window[1:]

    def batch(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> tuple[Tensor, Tensor]:
        """``batch_size`` windows starting at random places: inputs ``x`` and labels ``y``, each
        ``(batch_size, context)``. Pass a seeded ``generator`` for repeatable batches."""
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        starts = torch.randint(len(self), (batch_size,), generator=generator)
        offsets = torch.arange(self.context + 1)
        windows = self.ids[starts[:, None] + offsets]  # (batch_size, context + 1)
        x, y = windows[:, :-1], windows[:, 1:]
        return x.to(device), y.to(device)


def bytes_per_token(text: str, ids: Sequence[int] | Tensor) -> float:
    """How many UTF-8 bytes of ``text`` one token covers on average (``ids`` is its encoding)."""
    n = len(ids)
    if n == 0:
        raise ValueError("ids is empty: cannot measure bytes per token of an empty encoding.")
    return len(text.encode("utf-8")) / n


# ---------------------------------------------------------------------------------------------
# 2. The knobs of a training run
# ---------------------------------------------------------------------------------------------


@dataclass
class TrainConfig:
    """Settings of one training run.

    The learning rate rises linearly from 0 to ``lr`` over ``warmup_iters`` steps, then follows a
    cosine down to ``min_lr`` at ``max_iters``. Every ``eval_interval`` steps (and at the end) the
    loss is estimated on ``eval_iters`` batches of each split, and a checkpoint is written if the
    run has a checkpoint path. ``device=None`` picks :func:`gptbook.device.device`.

    ``time_limit`` (seconds) makes the run finish on time on a slow or busy machine: the cosine
    then follows whichever is further along, the steps (``step / max_iters``) or the clock
    (``elapsed / time_limit``), and the run stops when either runs out. Such a run depends on the
    machine's speed, so it is not exactly repeatable; leave it ``None`` for exact runs and resumes.

    The speed-ups are off by default. ``autocast_bf16`` runs the training forward passes under
    bf16 autocast (:func:`gptbook.optim.autocast`; float32 with a warning where the device has no
    bf16; the losses differ from float32 at the level of bf16 rounding, and evaluations stay in
    float32). ``compile`` trains through ``torch.compile(model)`` (a slow first step, then faster
    steps; needs a C++ compiler on the CPU). ``fused_adamw`` uses AdamW's fused kernel. ``fp16``
    runs the forward passes under float16 autocast with a gradient scaler (CUDA only: fp16's small
    range needs the loss scaled up so small gradients do not round to zero).

    ``batch_size`` is the global batch: the windows of one optimisation step, over all processes
    (see :mod:`gptbook.distributed`). ``grad_accum`` cuts each process's share into that many
    micro-batches, run one after another with their gradients added up: the same update with
    less memory. The batch must split evenly into ``processes x grad_accum`` micro-batches.
    """

    batch_size: int = 16
    context: int = 128
    lr: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 100
    max_iters: int = 2000
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0  # 0 turns clipping off
    eval_interval: int = 200
    eval_iters: int = 20
    seed: int = 1337
    device: str | None = None
    time_limit: float | None = None  # seconds of training; see below
    autocast_bf16: bool = False
    compile: bool = False
    fused_adamw: bool = False
    grad_accum: int = 1  # micro-batches per process per step
    fp16: bool = False  # CUDA only; see above

    def __post_init__(self) -> None:
        name = "TrainConfig"
        for field_name in (
            "batch_size", "context", "max_iters", "eval_interval", "eval_iters", "grad_accum"
        ):
            check_int(name, field_name, getattr(self, field_name), low=1)
        check_int(name, "warmup_iters", self.warmup_iters, low=0)
        check_int(name, "seed", self.seed, low=None)
        check_number(name, "lr", self.lr, low=0.0, low_open=True)
        check_number(name, "min_lr", self.min_lr, low=0.0, high=self.lr)
        check_number(name, "weight_decay", self.weight_decay, low=0.0)
        check_number(name, "grad_clip", self.grad_clip, low=0.0, hint="0 turns clipping off")
        for flag in ("autocast_bf16", "compile", "fused_adamw", "fp16"):
            check_bool(name, flag, getattr(self, flag))
        if self.autocast_bf16 and self.fp16:
            raise ConfigError(
                "TrainConfig.autocast_bf16 and TrainConfig.fp16 are both on; choose one precision."
            )
        if self.batch_size % self.grad_accum:
            raise ConfigError(
                f"TrainConfig.batch_size={self.batch_size} does not split into grad_accum="
                f"{self.grad_accum} equal micro-batches; use a batch size that is a multiple of it."
            )
        for beta in ("beta1", "beta2"):
            check_number(name, beta, getattr(self, beta), low=0.0, high=1.0, high_open=True)
        if self.time_limit is not None:
            check_number(
                name,
                "time_limit",
                self.time_limit,
                low=0.0,
                low_open=True,
                hint="seconds of training; None means no limit",
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """The config of a dict from :meth:`to_dict`. Keys it does not know are dropped and
        missing keys take their defaults, so configs saved by older versions still load."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


# ---------------------------------------------------------------------------------------------
# 3. The optimizer and the learning-rate schedule
# ---------------------------------------------------------------------------------------------


def make_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on the 2-D weights (matrices and embeddings) only.

    Decay pulls weights toward zero; on a bias or a layer norm's scale that only hurts, so those
    (the 1-D parameters) go in a group without decay. ``cfg.fused_adamw`` asks for AdamW's fused
    kernel (one pass over all the tensors instead of a loop of small operations).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    options: dict[str, Any] = {"fused": True} if cfg.fused_adamw else {}
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), **options)


def learning_rate(step: int, cfg: TrainConfig, elapsed: float | None = None) -> float:
    """The learning rate for optimisation step ``step`` (0-based): linear warm-up, then cosine.

    :func:`gptbook.optim.lr_at` with the run's numbers. With ``cfg.time_limit`` and the
    ``elapsed`` seconds, the cosine follows the clock when the clock is further along than the
    steps.
    """
    clock = None
    if cfg.time_limit is not None and elapsed is not None:
        clock = elapsed / cfg.time_limit
    return lr_at(
        step, cfg.max_iters, cfg.lr, warmup=cfg.warmup_iters, final=cfg.min_lr, clock=clock
    )


# ---------------------------------------------------------------------------------------------
# 4. Measuring a model: loss, perplexity, bits per byte
# ---------------------------------------------------------------------------------------------


def bits_per_byte(loss: float, bytes_per_token: float) -> float:
    """Convert a loss in nats per token into bits per byte of text."""
    return loss / math.log(2) / bytes_per_token


@torch.no_grad()
def estimate_loss(
    model: nn.Module,
    data: TokenDataset,
    batch_size: int,
    iters: int,
    seed: int,
    device: torch.device | str = "cpu",
) -> float:
    """Mean loss (nats per token) over ``iters`` random batches drawn with a generator seeded by
    ``seed``: the same windows every time it is called, so curves are comparable."""
    generator = torch.Generator().manual_seed(seed)
    total = 0.0
    with evaluating(model):
        for _ in range(iters):
            x, y = data.batch(batch_size, generator, device)
            _, loss = model(x, y)
            total += float(loss)
    return total / iters


@torch.no_grad()
def evaluate(
    model: nn.Module,
    ids: Sequence[int] | Tensor,
    context: int,
    batch_size: int = 16,
    device: torch.device | str = "cpu",
    bytes_per_token: float | None = None,
) -> dict[str, float]:
    """The loss over *every* token of ``ids``, cut into consecutive windows of ``context`` tokens
    (each token is predicted once; the first token of a window sees only the tokens before it in
    that window). Returns ``loss`` (nats per token), ``perplexity``, ``tokens`` and, if
    ``bytes_per_token`` is given, ``bits_per_byte``. Slower than :func:`estimate_loss`, but
    exact."""
    ids = torch.as_tensor(ids, dtype=torch.long).flatten()
    TokenDataset(ids, context, name="evaluation text")  # checks the length
    n_windows = (len(ids) - 1) // context
    starts = torch.arange(n_windows) * context
    offsets = torch.arange(context + 1)
    total, count = 0.0, 0
    with evaluating(model):
        for i in range(0, n_windows, batch_size):
            w = ids[starts[i : i + batch_size, None] + offsets].to(device)  # (B, context + 1)
            _, loss = model(w[:, :-1], w[:, 1:])
            total += float(loss) * w[:, 1:].numel()
            count += w[:, 1:].numel()
    loss = total / count
    out = {"loss": loss, "perplexity": math.exp(loss), "tokens": count}
    if bytes_per_token is not None:
        out["bits_per_byte"] = bits_per_byte(loss, bytes_per_token)
    return out


# ---------------------------------------------------------------------------------------------
# 5. The training loop
# ---------------------------------------------------------------------------------------------

EvalCallback = Callable[[dict[str, Any], nn.Module], None]


@contextmanager
def _finish_before_interrupt() -> Iterator[None]:
    """Hold back Ctrl-C until the block is done, then raise it.

    The optimizer updates the weights tensor by tensor; an interrupt half-way would leave a model
    that no checkpoint can describe. Outside the main thread (where Python delivers signals) this
    does nothing.
    """
    in_main = threading.current_thread() is threading.main_thread()
    if not in_main or signal.getsignal(signal.SIGINT) is None:  # None: a handler set outside Python
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


class CompileUnavailableError(RuntimeError):
    """``TrainConfig.compile`` was asked for, but ``torch.compile`` cannot run here."""


def compiled(model: nn.Module, device: torch.device) -> nn.Module:
    """``torch.compile(model)`` for training on ``device``, or a clear error where it cannot run.

    The compiled module shares the model's parameters; checkpoints keep saving ``model`` itself
    (so their keys do not change).
    """
    if not torch._dynamo.is_dynamo_supported():
        raise CompileUnavailableError(
            "TrainConfig.compile=True, but torch.compile does not support this Python or "
            "platform; train with compile=False."
        )
    if device.type == "cpu" and not any(shutil.which(c) for c in ("c++", "g++", "clang++")):
        raise CompileUnavailableError(
            "TrainConfig.compile=True needs a C++ compiler on the CPU (c++, g++ or clang++ on "
            "the PATH), and none was found; install one or train with compile=False."
        )
    return torch.compile(model)


class PrecisionUnavailableError(RuntimeError):
    """``TrainConfig.fp16`` was asked for on a device where it cannot run (anything but CUDA)."""


def _precision(
    cfg: TrainConfig, dev: torch.device
) -> tuple[AbstractContextManager[object], torch.amp.GradScaler | None]:
    """The forward passes' autocast context, and the gradient scaler fp16 needs (else ``None``).

    bf16 has float32's range, so its gradients need no scaling. fp16 keeps 5 exponent bits: a
    gradient below about 6e-8 rounds to 0, so the loss is multiplied by a large factor before the
    backward pass and the gradients divided by it again before the update (the scaler lowers the
    factor whenever an overflow shows up, and skips that step).
    """
    if not cfg.fp16:
        return autocast(dev, cfg.autocast_bf16), None
    if dev.type != "cuda":
        raise PrecisionUnavailableError(
            f"TrainConfig.fp16=True needs a CUDA GPU (float16 autocast with a gradient scaler), "
            f"but this run is on {dev.type}. On the CPU use autocast_bf16=True (--bf16) instead."
        )
    return torch.autocast("cuda", dtype=torch.float16), torch.amp.GradScaler("cuda")


def _restore_rng(extra: dict[str, Any], info: ProcessInfo, seed: int) -> None:
    """Put back this process's random state (dropout) from a checkpoint's ``extra``.

    One process: the saved state. Several: each rank's own, when the checkpoint holds one per
    rank (written by a run on as many processes); else rank 0 takes the saved state and the
    others a fresh seed (exact whenever the model has no dropout).
    """
    states = extra.get("rank_rng_states")
    if info.distributed and isinstance(states, list) and len(states) == info.world_size:
        torch.set_rng_state(states[info.rank])
    elif info.rank == 0:
        torch.set_rng_state(extra["torch_rng_state"])
    else:
        torch.manual_seed((seed + info.rank) % 2**63)


def _wrap(model: nn.Module, cfg: TrainConfig, dev: torch.device, info: ProcessInfo) -> nn.Module:
    """What the training forward passes go through: DistributedDataParallel around the model
    when there are several processes, then ``torch.compile`` when asked; else the model."""
    wrapped = model
    if info.distributed:
        from torch.nn.parallel import DistributedDataParallel

        # It copies rank 0's weights to every process, then all-reduces the gradients.
        wrapped = DistributedDataParallel(
            model, device_ids=[dev.index] if dev.type == "cuda" else None
        )
    return compiled(wrapped, dev) if cfg.compile else wrapped


def accumulated_step(
    forward: nn.Module,
    batches: Sequence[tuple[Tensor, Tensor]],
    optimizer: torch.optim.Optimizer,
    *,
    lr: float,
    clip: float,
    params: Iterable[Tensor],
    precision: AbstractContextManager[object] | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> tuple[Tensor, float]:
    """One update from several micro-batches: returns (their mean loss, the gradient norm).

    Each micro-batch's loss is divided by their number before its backward pass, so the summed
    gradients are those of the mean loss: with equal micro-batches, the gradient of the whole
    batch. Under DistributedDataParallel the gradients are all-reduced only after the last
    micro-batch (``no_sync`` before it), so the processes exchange them once a step. The norm
    is measured (and clipped to ``clip``) on the final, averaged gradients.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    ddp = getattr(forward, "_orig_mod", forward)  # a compiled DDP keeps DDP as _orig_mod
    n = len(batches)
    total: Tensor | None = None
    for i, (x, y) in enumerate(batches):
        last = i == n - 1
        sync = nullcontext() if last or not hasattr(ddp, "no_sync") else ddp.no_sync()
        with sync:
            with precision if precision is not None else nullcontext():
                _, loss = forward(x, y)
            scaled = loss / n if n > 1 else loss
            (scaler.scale(scaled) if scaler is not None else scaled).backward()
        total = loss.detach() if total is None else total + loss.detach()
    params = list(params)
    if scaler is not None:
        scaler.unscale_(optimizer)  # back to true gradients before measuring and clipping
    norm = float(torch.nn.utils.clip_grad_norm_(params, clip))
    if scaler is not None:
        scaler.step(optimizer)  # skipped when the gradients overflowed
        scaler.update()
    else:
        optimizer.step()
    return total / n, norm


def train(
    model: nn.Module,
    train_ids: Sequence[int] | Tensor,
    val_ids: Sequence[int] | Tensor,
    cfg: TrainConfig,
    *,
    bytes_per_token: float | None = None,
    checkpoint_path: str | Path | None = None,
    resume: bool = False,
    tokenizer: Any = None,
    callback: EvalCallback | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train ``model`` on ``train_ids``, watching the loss on ``val_ids``; return the history.

    The history is a list of dicts, one per optimisation step: ``step`` (1-based: the number of
    updates done), ``loss`` (that step's training batch), ``lr`` and ``grad_norm`` (before
    clipping). Every ``cfg.eval_interval`` steps and at the last step the record also holds
    ``train_loss``, ``val_loss``, ``val_perplexity``, ``val_bpb`` (if ``bytes_per_token`` of the
    validation text is given) and ``elapsed`` seconds; ``callback(record, model)`` is then called
    (for a live plot, or samples). Use :func:`eval_records` to keep only those records.

    With ``checkpoint_path`` a checkpoint is written atomically after every evaluation: the model,
    the optimizer, the step, the random state of the batch sampler and the history. With
    ``resume=True`` the run continues from that checkpoint and the losses are exactly those of an
    uninterrupted run (CPU, same seed and config). ``tokenizer`` is stored in the checkpoint.

    Ctrl-C (``KeyboardInterrupt``) during the run writes a checkpoint of the last finished step
    (with ``checkpoint_path``) and is raised again: ``resume=True`` then continues exactly.

    Evaluation records also hold ``tokens_per_s`` (training tokens per second of training steps
    since the previous evaluation, not counting evaluations and checkpoints) and ``flops_per_s``
    (those tokens times :func:`gptbook.throughput.model_flops_per_token`). They depend on the
    machine; :func:`gptbook.throughput.mfu` relates them to a measured peak.

    Under ``torchrun`` (several processes) every process calls ``train`` with the same arguments.
    Each computes its slice of every global batch through DistributedDataParallel; the losses in
    the history are those of the whole global batch (averaged over the processes). Only rank 0
    evaluates, calls ``callback``, shows the progress bar and writes checkpoints, so only rank 0's
    history carries the evaluation records. Resuming continues exactly on the same number of
    processes (each gets its own random state back); on another number it continues with the same
    batches, exactly as far as float rounding allows when the model has no dropout. Ctrl-C under
    ``torchrun`` may stop the processes before rank 0 can save; the last regular checkpoint stays.
    """
    dev = torch.device(cfg.device) if cfg.device else pick_device()
    info, dev = init_from_env(dev)  # several processes (torchrun): join them; else nothing
    model_context = getattr(getattr(model, "config", None), "context", None)
    if model_context is not None and cfg.context > model_context:
        raise ValueError(
            f"TrainConfig.context={cfg.context} is longer than the model's context of "
            f"{model_context}; use a context at most the model's."
        )
    check_split(cfg.batch_size, info.world_size, cfg.grad_accum)
    train_data = TokenDataset(train_ids, cfg.context, name="training text")
    val_data = TokenDataset(val_ids, cfg.context, name="validation text")
    model.to(dev)
    model.train()
    optimizer = make_optimizer(model, cfg)
    precision, scaler = _precision(cfg, dev)
    flops_per_token = model_flops_per_token(model, cfg.context)
    sampler = torch.Generator().manual_seed(cfg.seed)  # draws the training batches
    history: list[dict[str, Any]] = []
    done = 0  # optimisation steps finished
    elapsed_before = 0.0
    if info.distributed and not resume:
        # Every process draws the same batches (same sampler seed) but its own dropout masks.
        torch.manual_seed((cfg.seed + info.rank) % 2**63)

    if resume:
        if checkpoint_path is None:
            raise ValueError("resume=True needs a checkpoint_path to resume from.")
        if not Path(checkpoint_path).exists():
            raise FileNotFoundError(
                f"Cannot resume: no checkpoint at {checkpoint_path}. "
                "Start the run without resume first."
            )
        state = load_checkpoint(checkpoint_path)
        require_training_state(state, checkpoint_path)  # a finished model file cannot resume
        load_weights(model, state)
        optimizer.load_state_dict(state["optimizer"])
        extra = state["extra"]
        saved_cfg = TrainConfig.from_dict(extra["train_config"])
        if saved_cfg != cfg:
            changed = [
                f.name for f in fields(cfg) if getattr(cfg, f.name) != getattr(saved_cfg, f.name)
            ]
            raise ValueError(
                f"The checkpoint {checkpoint_path} was made with a different TrainConfig "
                f"(differs in: {', '.join(changed)}). "
                "Resume with the same config for an exact continuation."
            )
        sampler.set_state(extra["sampler_state"])
        _restore_rng(extra, info, cfg.seed)  # dropout masks continue where they stopped
        if scaler is not None and "grad_scaler" in extra:
            scaler.load_state_dict(extra["grad_scaler"])
        history = list(extra["history"])
        done = int(state["step"])
        elapsed_before = float(extra.get("elapsed", 0.0))
        if info.distributed and from_rank0(done) != done:
            raise RuntimeError(
                f"Process {info.rank} resumes from step {done} of {checkpoint_path}, but rank 0 "
                "from another step: the processes read different checkpoints. Give them all the "
                "same file (a shared folder when the processes run on several machines)."
            )

    forward = _wrap(model, cfg, dev, info)  # DDP and/or torch.compile, or the model itself
    plain = not (info.distributed or cfg.grad_accum > 1 or scaler is not None)
    t0 = time.perf_counter() - elapsed_before
    timing = {"start": time.perf_counter(), "steps": 0}  # training steps since the last evaluation
    # The random states right after step `done`: what a resumed run starts from.
    sampler_state, rng_state = sampler.get_state(), torch.get_rng_state()

    def clock() -> float:
        """Seconds of training so far; under DDP rank 0's, so every process decides alike."""
        elapsed = time.perf_counter() - t0
        if info.distributed and cfg.time_limit is not None:  # only a time-limited run asks
            return from_rank0(elapsed)
        return elapsed

    def checkpoint(rank_states: list[Tensor] | None = None) -> None:
        if checkpoint_path is None or not info.is_main:
            return
        extra = {
            "train_config": cfg.to_dict(),
            "sampler_state": sampler_state,
            "torch_rng_state": rng_state,
            "history": history,
            "elapsed": time.perf_counter() - t0,
        }
        if info.distributed:
            extra["world_size"] = info.world_size
            if rank_states is not None:
                extra["rank_rng_states"] = rank_states
        if scaler is not None:
            extra["grad_scaler"] = scaler.state_dict()
        save_checkpoint(
            checkpoint_path, model, optimizer, step=done, extra=extra, tokenizer=tokenizer
        )

    def measure(record: dict[str, Any]) -> None:
        seconds = time.perf_counter() - timing["start"]
        if timing["steps"] and seconds > 0:
            tokens_per_s = timing["steps"] * cfg.batch_size * cfg.context / seconds
            record["tokens_per_s"] = tokens_per_s
            record["flops_per_s"] = tokens_per_s * flops_per_token
        args = (cfg.batch_size, cfg.eval_iters)
        record["train_loss"] = estimate_loss(model, train_data, *args, cfg.seed + 1, dev)
        record["val_loss"] = estimate_loss(model, val_data, *args, cfg.seed + 2, dev)
        record["val_perplexity"] = math.exp(record["val_loss"])
        if bytes_per_token is not None:
            record["val_bpb"] = bits_per_byte(record["val_loss"], bytes_per_token)
        record["elapsed"] = time.perf_counter() - t0

    def measure_and_save(record: dict[str, Any]) -> None:
        """Evaluate, checkpoint and call back: rank 0 does the work, every process the gather."""
        if info.is_main:
            measure(record)
        rank_states = gather_rng_states(rng_state) if info.distributed else None
        if info.is_main:
            checkpoint(rank_states)
        barrier()  # nobody runs ahead (and reads an old checkpoint) while rank 0 writes
        if info.is_main and callback is not None:
            callback(record, model)

    if history and "val_loss" not in history[-1] and _evaluates(done, cfg):
        # Interrupted while measuring its last step: measure it now, as the whole run did.
        measure_and_save(history[-1])

    show = progress and info.is_main
    bar = tqdm(range(done, cfg.max_iters), initial=done, total=cfg.max_iters, disable=not show)
    try:
        for step in bar:
            lr = learning_rate(step, cfg, clock())
            x, y = train_data.batch(cfg.batch_size, sampler, dev)
            clip = cfg.grad_clip if cfg.grad_clip > 0 else float("inf")
            if plain:  # one process, one batch: the loop exactly as it always was
                with precision:
                    _, loss = forward(x, y)
            else:
                x, y = shard(x, info.rank, info.world_size), shard(y, info.rank, info.world_size)
            with _finish_before_interrupt():
                if plain:
                    norm = optimizer_step(
                        loss, optimizer, lr=lr, clip=clip, params=model.parameters()
                    )
                    loss_value = loss.item()
                else:
                    loss, norm = accumulated_step(
                        forward, micro_batches(x, y, cfg.grad_accum), optimizer, lr=lr,
                        clip=clip, params=model.parameters(), precision=precision,
                        scaler=scaler,
                    )
                    loss_value = mean_over_processes(loss)  # the loss of the global batch
                record: dict[str, Any] = {
                    "step": step + 1,
                    "loss": loss_value,
                    "lr": lr,
                    "grad_norm": norm,
                }
                history.append(record)
                done = step + 1
                timing["steps"] += 1
                sampler_state, rng_state = sampler.get_state(), torch.get_rng_state()

            out_of_time = cfg.time_limit is not None and clock() >= cfg.time_limit
            if _evaluates(done, cfg) or out_of_time:
                measure_and_save(record)
                if info.is_main:
                    bar.set_postfix(
                        train=f"{record['train_loss']:.3f}", val=f"{record['val_loss']:.3f}"
                    )
                timing.update(start=time.perf_counter(), steps=0)
            if out_of_time:
                break
    except KeyboardInterrupt:
        if history and "elapsed" not in history[-1]:  # a measurement cut short: redone on resume
            keys = ("train_loss", "val_loss", "val_perplexity", "val_bpb")
            for key in (*keys, "tokens_per_s", "flops_per_s"):
                history[-1].pop(key, None)
        checkpoint()  # rank 0 only, without a gather: the other processes may be gone
        raise
    finally:
        bar.close()
    return history


def _evaluates(done: int, cfg: TrainConfig) -> bool:
    """Whether the run measures its losses after ``done`` finished steps."""
    return done % cfg.eval_interval == 0 or done == cfg.max_iters


def eval_records(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records of a history that carry an evaluation (``val_loss`` and friends)."""
    return [r for r in history if "val_loss" in r]
