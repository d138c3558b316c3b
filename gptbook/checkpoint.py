"""Checkpoints: save a model (and its training state) to one file, and load it back safely.

* :func:`save_checkpoint` writes atomically: the checkpoint goes to a temporary file in the same
  folder, is flushed to disk (``fsync``), and only then renamed over the old file with
  ``os.replace``. A crash in the middle of a write leaves the previous checkpoint as it was, and
  the next save removes the temporary file a killed process left behind.
* :func:`load_checkpoint` reads with ``torch.load(weights_only=True)``, which refuses to run
  arbitrary code hidden in a file. So everything stored is plain data: tensors, numbers, strings,
  lists and dicts. The model's config and the tokenizer are stored as dicts. A file that holds
  anything else is refused; gptbook never loads a file unsafely.
* :func:`load_weights` puts the weights into a model and, when they do not fit, says which
  parameters differ and how; it refuses NaN or infinite weights. :func:`load_model` rebuilds the
  GPT and its tokenizer from a file.

Tied weights (the GPT's unembedding is its token embedding) are stored once, under the first name.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pickle
import tempfile
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gptbook.device import device as pick_device
from gptbook.model import GPT, GPTConfig
from gptbook.tokenizers import tokenizer_from_dict

FORMAT = "gptbook-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file cannot be read, is not a gptbook checkpoint, or cannot be used."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint's weights do not fit the model they are loaded into."""


class NonFiniteWeightsError(CheckpointError):
    """A checkpoint's weights hold NaN or infinity."""


class NotResumableError(CheckpointError):
    """A checkpoint holds a model but not the training state a run needs to resume."""


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_files(path: Path) -> list[Path]:
    """Delete the temporary files that writers of ``path`` left when they were killed.

    Temporary files are named ``.<name>.<pid>.<random>.tmp``; one whose process still runs is
    kept (it may be writing now). Names without a pid come from older versions and are removed.
    Returns the files removed.
    """
    prefix = f".{path.name}."
    removed = []
    for name in glob.glob(glob.escape(str(path.parent / prefix)) + "*.tmp"):
        pid = Path(name).name[len(prefix) :].split(".")[0]
        if pid.isdigit() and _pid_alive(int(pid)):
            continue
        with contextlib.suppress(OSError):
            os.unlink(name)
            removed.append(Path(name))
    return removed


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: not every file system allows it)."""
    try:
        dir_fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _tied_groups(model: nn.Module) -> list[list[str]]:
    """Names in the model's state dict that share one tensor (tied weights), two or more each."""
    stored = set(model.state_dict())
    named = [
        *model.named_parameters(remove_duplicate=False),
        *model.named_buffers(remove_duplicate=False),
    ]
    groups: dict[int, list[str]] = {}
    for name, tensor in named:
        if name in stored:
            groups.setdefault(id(tensor), []).append(name)
    return [names for names in groups.values() if len(names) > 1]


def _atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file next to ``path``, fsync it, rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path)
    fd, tmp_name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp"
    )
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp makes the file private (0600)
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _stored_weights(model: nn.Module, weights_dtype: torch.dtype | None) -> dict[str, torch.Tensor]:
    """The model's state dict on the CPU, each tied tensor once (under its first name)."""
    repeats = {name for names in _tied_groups(model) for name in names[1:]}
    weights: dict[str, torch.Tensor] = {}
    for name, tensor in model.state_dict().items():
        if name in repeats:
            continue  # the same tensor as an earlier name (tied weights)
        tensor = tensor.detach().cpu()
        if weights_dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(weights_dtype)
        weights[name] = tensor.clone()
    return weights


def _storable(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is data the safe load (``weights_only=True``) reads back."""
    if depth > 50:
        return False
    if value is None or isinstance(value, (bool, int, float, str)) or torch.is_tensor(value):
        return True
    if isinstance(value, (list, tuple)):
        return all(_storable(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(
            isinstance(k, (str, int)) and _storable(v, depth + 1) for k, v in value.items()
        )
    return False


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    step: int = 0,
    extra: dict[str, Any] | None = None,
    tokenizer: Any = None,
    weights_dtype: torch.dtype | None = None,
) -> None:
    """Write ``model`` (and optionally the optimizer, step, extra plain data and tokenizer) to
    ``path`` atomically.

    ``weights_dtype=torch.float16`` (or ``torch.bfloat16``) stores floating-point weights at half
    size, for shipping a model; :func:`load_weights` turns them back into the model's dtype.
    Leave it ``None`` for training checkpoints, so a resumed run continues exactly.
    """
    config = getattr(model, "config", None)
    if not _storable(extra):
        raise CheckpointError(
            "extra must hold only plain data (numbers, strings, tensors, and lists and dicts of "
            "them): anything else is refused by the safe load, so the checkpoint could never be "
            "read back."
        )
    state = {
        "format": FORMAT,
        "version": VERSION,
        "model_config": asdict(config) if config is not None else None,
        "model": _stored_weights(model, weights_dtype),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "step": int(step),
        "extra": extra or {},
        "tokenizer": tokenizer.to_dict() if tokenizer is not None else None,
    }
    _atomic_torch_save(state, Path(path))


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------

_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "model_config": (dict, type(None)),
    "model": (dict,),
    "optimizer": (dict, type(None)),
    "step": (int,),
    "extra": (dict,),
    "tokenizer": (dict, str, type(None)),  # str: the JSON text older versions stored
}


def _read_error(path: Path, e: BaseException) -> CheckpointError:
    """Our own message for a file torch cannot read (never torch's advice to load unsafely)."""
    text = str(e)
    if isinstance(e, pickle.UnpicklingError) and "unsupported global" in text.lower():
        return CheckpointError(
            f"{path} is not a readable checkpoint: it holds Python objects other than plain data "
            "(tensors, numbers, strings, lists, dicts), and loading those could run code hidden in "
            "the file. It was not written by gptbook, or it was changed since; gptbook refuses it. "
            "Use a checkpoint written by gptbook.checkpoint.save_checkpoint."
        )
    lines = text.strip().splitlines()
    detail = lines[0] if lines and "weights_only" not in text else type(e).__name__
    return CheckpointError(
        f"{path} is not a readable checkpoint: it may be truncated or corrupt ({detail}). "
        "Delete it and save or train again."
    )


def _is(value: Any, kind: type, expected: Any) -> bool:
    return type(value) is kind and value == expected


def _plain(value: Any, depth: int = 0) -> bool:
    """Whether ``value`` is JSON-like data: what a config or a tokenizer is made of."""
    if depth > 20:
        return False
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``torch.load`` with
    ``weights_only=True``).

    Returns the dict with keys ``model_config``, ``model`` (the weights), ``optimizer``, ``step``,
    ``extra`` and ``tokenizer`` (a dict or ``None``). Raises ``FileNotFoundError`` for a missing
    file and :class:`CheckpointError` for a file that is corrupt, truncated, not a checkpoint, or
    holds fields of the wrong kind.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}. Check the path, or train a model first.")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (PermissionError, MemoryError):
        raise
    except Exception as e:  # torch raises many kinds (RuntimeError, UnpicklingError, EOFError, ...)
        raise _read_error(path, e) from None
    if not isinstance(state, dict) or not _is(state.get("format"), str, FORMAT):
        raise CheckpointError(
            f"{path} is a PyTorch file but not a gptbook checkpoint (no 'format': {FORMAT!r})."
        )
    if not _is(state.get("version"), int, VERSION):
        raise CheckpointError(
            f"{path} has checkpoint version {state.get('version')!r}; this gptbook reads {VERSION}."
        )
    for key, types in _FIELD_TYPES.items():
        value = state.get(key)
        if not isinstance(value, types) or isinstance(value, bool):
            raise CheckpointError(
                f"{path} is damaged: its field {key!r} is {type(value).__name__}, expected "
                f"{' or '.join(t.__name__ for t in types)}. Save or train the model again."
            )
    bad = [
        str(k) for k, v in state["model"].items() if not (isinstance(k, str) and torch.is_tensor(v))
    ]
    if bad:
        raise CheckpointError(
            f"{path} is damaged: its weights hold entries that are not named tensors "
            f"({', '.join(bad[:5])}). Save or train the model again."
        )
    for key in ("model_config", "tokenizer"):
        if not _plain(state.get(key)):
            raise CheckpointError(
                f"{path} is damaged: its {key!r} holds something other than plain data (numbers, "
                "strings, lists, dicts). Save or train the model again."
            )
    return state


def require_training_state(state: dict[str, Any], path: str | Path) -> None:
    """Raise :class:`NotResumableError` unless ``state`` holds what resuming a run needs: the
    optimizer and the run's settings and random state (a finished model file has neither)."""
    extra = state.get("extra") or {}
    needed = ("train_config", "sampler_state", "torch_rng_state", "history")
    if not isinstance(state.get("optimizer"), dict) or any(k not in extra for k in needed):
        raise NotResumableError(
            f"{path} holds a model but not the optimizer state and random state of a training "
            "run, so the run cannot be resumed from it (it is a finished model file). Resume from "
            "the run's own checkpoint.pt, or start a fresh run."
        )


def _resolve_tied(model: nn.Module, weights: dict[str, torch.Tensor], source: str) -> dict:
    """``weights`` with every tied name filled in from a stored one; two stored copies of a tied
    tensor that differ are refused (one of them would silently win)."""
    weights = dict(weights)
    for names in _tied_groups(model):
        stored = [n for n in names if n in weights]
        if not stored:
            continue
        first = weights[stored[0]]
        for other in stored[1:]:
            same = weights[other].shape == first.shape and torch.equal(weights[other], first)
            if not same:
                raise CheckpointError(
                    f"{source} stores the tied weights {stored[0]} and {other} as two different "
                    "tensors, but the model uses one tensor for both; it is corrupt or was edited. "
                    "Save or train the model again."
                )
        for name in names:
            weights.setdefault(name, first)
    return weights


def _check_finite(weights: dict[str, torch.Tensor], source: str) -> None:
    bad = [n for n, t in weights.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise NonFiniteWeightsError(
            f"{source} holds NaN or infinite weights in {', '.join(bad[:5])}"
            f"{' and others' if len(bad) > 5 else ''}: the training diverged (try a lower "
            "learning rate) or the file is corrupt. Retrain, or load an earlier checkpoint."
        )


def _check_fit(
    model: nn.Module, weights: dict[str, torch.Tensor], state: dict[str, Any], source: str
) -> None:
    """Raise :class:`CheckpointMismatchError` unless ``weights`` has exactly the model's names
    and shapes."""
    own = model.state_dict()
    shapes = [
        f"{name}: checkpoint {tuple(weights[name].shape)} vs model {tuple(own[name].shape)}"
        for name in own
        if name in weights and weights[name].shape != own[name].shape
    ]
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    if not (shapes or missing or unexpected):
        return
    lines = []
    if shapes:
        lines.append("shapes differ:\n    " + "\n    ".join(shapes))
    if missing:
        lines.append("missing from the checkpoint: " + ", ".join(missing))
    if unexpected:
        lines.append("in the checkpoint but not the model: " + ", ".join(unexpected))
    made_for = state.get("model_config")
    model_cfg = getattr(model, "config", None)
    own_cfg = asdict(model_cfg) if model_cfg is not None else None
    raise CheckpointMismatchError(
        f"{source} does not fit this model; it was made for another config.\n  "
        + "\n  ".join(lines)
        + f"\n  checkpoint config: {made_for}\n  model config: {own_cfg}"
        + "\nBuild the model from the checkpoint's config "
        "(gptbook.checkpoint.load_model does this)."
    )


def load_weights(model: nn.Module, state: dict[str, Any], source: str = "The checkpoint") -> None:
    """Copy a checkpoint's weights into ``model``; they keep the model's dtype and device.

    Raises :class:`CheckpointMismatchError` listing every parameter whose shape differs, and any
    missing or unexpected names, when the checkpoint was made for another config, and
    :class:`NonFiniteWeightsError` when a weight is NaN or infinite. ``source`` names the file in
    messages.
    """
    weights = _resolve_tied(model, state["model"], source)
    _check_fit(model, weights, state, source)
    _check_finite(weights, source)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            tensor.copy_(weights[name].to(dtype=tensor.dtype, device=tensor.device))


def model_config(state: dict[str, Any], path: str | Path) -> GPTConfig:
    """The :class:`GPTConfig` stored in a checkpoint, or a :class:`CheckpointError` saying why
    there is none (no config, keys from a newer version, values this version refuses)."""
    config = state.get("model_config")
    if not config:
        raise CheckpointError(f"{path} has no model config, so the GPT cannot be rebuilt from it.")
    known = {f.name for f in fields(GPTConfig)}
    unknown = sorted(str(k) for k in config if k not in known)
    if unknown:
        raise CheckpointError(
            f"{path} was written by a newer version of gptbook: its model config has settings this "
            f"version does not know ({', '.join(unknown)}). Update gptbook, or train the model "
            "again with this version."
        )
    try:
        return GPTConfig(**config)
    except (TypeError, ValueError, RuntimeError, OverflowError) as e:
        raise CheckpointError(
            f"{path} holds a model config this version of gptbook cannot build ({e}). "
            "Train the model again with this version."
        ) from None


def checkpoint_tokenizer(state: dict[str, Any], path: str | Path) -> Any:
    """The tokenizer stored in a checkpoint (``None`` if none was saved)."""
    data = state.get("tokenizer")
    if not data:
        return None
    try:
        if isinstance(data, str):  # written by an older version: the tokenizer file's JSON text
            data = json.loads(data)
        return tokenizer_from_dict(data, source=f"The tokenizer stored in {path}")
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
        raise CheckpointError(
            f"The tokenizer stored in {path} is corrupt ({e}). Save or train the model again."
        ) from None


def load_model(path: str | Path, device: str | torch.device | None = None):
    """Rebuild the GPT stored at ``path`` and its tokenizer: ``(model in eval mode, tokenizer)``.

    The tokenizer is ``None`` if none was saved. Weights stored in half precision come back as
    fp32. Every problem with the file is a :class:`CheckpointError` (or ``FileNotFoundError``).
    """
    state = load_checkpoint(path)
    config = model_config(state, path)
    tokenizer = checkpoint_tokenizer(state, path)
    try:
        with torch.device("meta"):  # shapes only, no memory: a hostile config cannot exhaust it
            skeleton = GPT(config)
    except (TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(
            f"{path} holds a model config this version of gptbook cannot build ({e}). "
            "Train the model again with this version."
        ) from None
    _check_fit(skeleton, _resolve_tied(skeleton, state["model"], str(path)), state, str(path))
    model = GPT(config)
    load_weights(model, state, source=str(path))
    model.to(pick_device(device))
    return model.eval(), tokenizer
