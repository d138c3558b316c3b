"""Checkpoints: save a model (and its training state) to one file, and load it back safely.

* :func:`save_checkpoint` writes atomically: the checkpoint goes to a temporary file in the same
  folder, is flushed to disk (``fsync``), and only then renamed over the old file with
  ``os.replace``. A crash in the middle of a write leaves the previous checkpoint as it was.
* :func:`load_checkpoint` reads with ``torch.load(weights_only=True)``, which refuses to run
  arbitrary code hidden in a file. So everything stored is plain data: tensors, numbers, strings,
  lists and dicts. The model's config is stored as a dict and the tokenizer as its JSON text.
* :func:`load_weights` puts the weights into a model and, when they do not fit, says which
  parameters differ and how. :func:`load_model` rebuilds the GPT and its tokenizer from a file.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

FORMAT = "gptbook-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file cannot be read, or is not a gptbook checkpoint."""


class CheckpointMismatchError(ValueError):
    """A checkpoint's weights do not fit the model they are loaded into."""


# ---------------------------------------------------------------------------------------------
# The tokenizer travels as JSON text
# ---------------------------------------------------------------------------------------------


def tokenizer_to_json(tokenizer: Any) -> str:
    """The JSON text a tokenizer's ``save`` writes (the tokenizer itself decides the format)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tokenizer.json"
        tokenizer.save(path)
        return path.read_text(encoding="utf-8")


def tokenizer_from_json(text: str) -> Any:
    """Rebuild a tokenizer from the JSON text of :func:`tokenizer_to_json`."""
    from gptbook.tokenizers import load_tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tokenizer.json"
        path.write_text(text, encoding="utf-8")
        return load_tokenizer(path)


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------


def _atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file next to ``path``, fsync it, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)  # mkstemp makes the file private (0600); use normal permissions
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


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
    weights = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu()
        if weights_dtype is not None and tensor.is_floating_point():
            tensor = tensor.to(weights_dtype)
        weights[name] = tensor.clone()
    state = {
        "format": FORMAT,
        "version": VERSION,
        "model_config": asdict(config) if config is not None else None,
        "model": weights,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "step": int(step),
        "extra": extra or {},
        "tokenizer": tokenizer_to_json(tokenizer) if tokenizer is not None else None,
    }
    _atomic_torch_save(state, Path(path))


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint` (``torch.load`` with ``weights_only=True``).

    Returns the dict with keys ``model_config``, ``model`` (the weights), ``optimizer``, ``step``,
    ``extra`` and ``tokenizer`` (JSON text or ``None``). Raises ``FileNotFoundError`` for a missing
    file and :class:`CheckpointError` for a file that is corrupt, truncated or not a checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No checkpoint at {path}. Check the path, or train a model first.")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many kinds (RuntimeError, UnpicklingError, EOFError, IndexError, ...)
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"{path} is not a readable checkpoint: it may be truncated or corrupt ({first_line}). "
            "Delete it and save or train again."
        ) from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a PyTorch file but not a gptbook checkpoint (no 'format': {FORMAT!r}).")
    if state.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {state.get('version')!r}; this gptbook reads {VERSION}.")
    return state


def load_weights(model: nn.Module, state: dict[str, Any]) -> None:
    """Copy a checkpoint's weights into ``model``; they keep the model's dtype and device.

    Raises :class:`CheckpointMismatchError` listing every parameter whose shape differs, and any
    missing or unexpected names, when the checkpoint was made for another config.
    """
    weights: dict[str, torch.Tensor] = state["model"]
    own = model.state_dict()
    shapes = [
        f"{name}: checkpoint {tuple(weights[name].shape)} vs model {tuple(own[name].shape)}"
        for name in own
        if name in weights and weights[name].shape != own[name].shape
    ]
    missing = sorted(set(own) - set(weights))
    unexpected = sorted(set(weights) - set(own))
    if shapes or missing or unexpected:
        lines = []
        if shapes:
            lines.append("shapes differ:\n    " + "\n    ".join(shapes))
        if missing:
            lines.append("missing from the checkpoint: " + ", ".join(missing))
        if unexpected:
            lines.append("in the checkpoint but not the model: " + ", ".join(unexpected))
        made_for = state.get("model_config")
        model_cfg = getattr(model, "config", None)
        raise CheckpointMismatchError(
            "The checkpoint does not fit this model; it was made for another config.\n  "
            + "\n  ".join(lines)
            + f"\n  checkpoint config: {made_for}\n  model config: {asdict(model_cfg) if model_cfg is not None else None}"
            + "\nBuild the model from the checkpoint's config (gptbook.checkpoint.load_model does this)."
        )
    with torch.no_grad():
        for name, tensor in own.items():
            tensor.copy_(weights[name].to(dtype=tensor.dtype, device=tensor.device))


def load_model(path: str | Path, device: str | torch.device | None = None):
    """Rebuild the GPT stored at ``path`` and its tokenizer: returns ``(model in eval mode, tokenizer)``
    (the tokenizer is ``None`` if none was saved). Weights stored in half precision come back as fp32."""
    from gptbook.device import device as pick_device
    from gptbook.model import GPT, GPTConfig

    state = load_checkpoint(path)
    if not state.get("model_config"):
        raise CheckpointError(f"{path} has no model config, so the GPT cannot be rebuilt from it.")
    model = GPT(GPTConfig(**state["model_config"]))
    load_weights(model, state)
    model.to(torch.device(device) if device is not None else pick_device())
    tokenizer = tokenizer_from_json(state["tokenizer"]) if state.get("tokenizer") else None
    return model.eval(), tokenizer
