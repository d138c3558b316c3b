"""Real GPT-2 weights: convert a GPT-2 checkpoint already on disk into the book's model.

No package ships GPT-2's trained weights, so the book never downloads them. A reader who has them
(for example from the Hugging Face hub, see appendix A1) converts them once with::

    python -m gptbook convert-gpt2 PATH --out gpt2.pt
    python -m gptbook generate --checkpoint gpt2.pt --prompt "Hello, my name is"

``PATH`` is a folder in the Hugging Face layout (``config.json`` next to ``model.safetensors`` or
``pytorch_model.bin``) or one of those files. Read this module from top to bottom:

1. :func:`read_safetensors` reads the safetensors format itself: 8 bytes giving the length of a
   JSON header, the header (every tensor's name, dtype, shape and byte range), then the raw bytes.
   Nothing in it can run code, and no extra package is needed.
2. :func:`read_pytorch_bin` reads a ``pytorch_model.bin`` with ``torch.load(weights_only=True)``,
   which refuses anything but tensors and plain data (a pickle can otherwise run code).
3. :func:`gpt2_config` finds the model's shape: from ``config.json`` when there is one, else from
   the tensors' shapes (the number of heads, which no shape shows, from GPT-2's four sizes).
4. :func:`convert_gpt2` builds the :class:`~gptbook.model.GPT` with
   :meth:`~gptbook.model.GPT.from_gpt2_state_dict` (the tensor-by-tensor mapping chapter 06 checks
   against ``transformers``) and saves a gptbook checkpoint, with GPT-2's tokenizer
   (:meth:`gptbook.tokenizers.BPETokenizer.from_gpt2`, built offline from packaged files) when
   the vocabulary is GPT-2's 50,257 tokens.
"""

from __future__ import annotations

import json
import math
import pickle
import struct
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from gptbook.checkpoint import FORMAT, save_checkpoint
from gptbook.model import GPT, GPTConfig, StateDictMismatchError

GPT2_VOCAB = 50257
HEADS_BY_WIDTH = {768: 12, 1024: 16, 1280: 20, 1600: 25}
"""GPT-2 small, medium, large and XL (Radford et al., 2019): heads of 64 numbers each."""
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

_SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}


class GPT2WeightsError(ValueError):
    """The file is not a GPT-2 checkpoint this converter can read, with what to do instead."""


# ---------------------------------------------------------------------------------------------
# 1-2. Reading the two file formats
# ---------------------------------------------------------------------------------------------


def read_safetensors(path: str | Path) -> dict[str, Tensor]:
    """The tensors of a ``.safetensors`` file, by name (on the CPU, in their stored dtype)."""
    path = Path(path)
    data = bytearray(path.read_bytes())  # writable, so torch.frombuffer can share it

    def bad(why: str) -> GPT2WeightsError:
        return GPT2WeightsError(
            f"{path} is not a readable safetensors file ({why}). Download it again, or give the "
            "folder's pytorch_model.bin instead."
        )

    if len(data) < 8:
        raise bad("it is shorter than the 8-byte header length")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > len(data) - 8:
        raise bad(f"its header claims {header_len:,} bytes, the file has {len(data):,}")
    try:
        header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise bad("its header is not JSON") from None
    if not isinstance(header, dict):
        raise bad("its header is not a JSON object")
    base = 8 + header_len
    tensors: dict[str, Tensor] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = _SAFETENSORS_DTYPES[entry["dtype"]]
            shape = [int(n) for n in entry["shape"]]
            begin, end = (int(n) for n in entry["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise bad(f"the entry of {name!r} lacks a known dtype, shape or data_offsets") from None
        count = math.prod(shape)
        size = count * torch.empty((), dtype=dtype).element_size()
        if min(shape, default=0) < 0 or end - begin != size or not 0 <= begin <= end <= len(data) - base:
            raise bad(f"the bytes of {name!r} do not match its shape {shape} and dtype")
        if count == 0:
            tensors[name] = torch.empty(shape, dtype=dtype)
            continue
        flat = torch.frombuffer(data, dtype=dtype, count=count, offset=base + begin)
        tensors[name] = flat.view(shape)
    return tensors


def read_pytorch_bin(path: str | Path) -> dict[str, Tensor]:
    """The state dict of a ``pytorch_model.bin``, loaded with ``weights_only=True``."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (PermissionError, MemoryError):
        raise
    except pickle.UnpicklingError as e:
        if "unsupported global" in str(e).lower():
            raise GPT2WeightsError(
                f"{path} holds Python objects other than tensors and plain data; loading them "
                "could run code hidden in the file, so it is refused. A GPT-2 pytorch_model.bin "
                "holds only tensors: download it again from a source you trust."
            ) from None
        raise GPT2WeightsError(
            f"{path} is not a readable PyTorch file (UnpicklingError); it may be truncated or "
            "not a checkpoint at all. Download it again."
        ) from None
    except Exception as e:  # torch raises many kinds for a file that is not its own
        raise GPT2WeightsError(
            f"{path} is not a readable PyTorch file ({type(e).__name__}); it may be truncated or "
            "not a checkpoint at all. Download it again."
        ) from None
    if isinstance(state, dict) and state.get("format") == FORMAT:
        raise GPT2WeightsError(
            f"{path} is already a gptbook checkpoint, not a GPT-2 one: load it with "
            "gptbook.checkpoint.load_model or `python -m gptbook generate --checkpoint`."
        )
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and torch.is_tensor(v) for k, v in state.items()
    ):
        raise GPT2WeightsError(
            f"{path} is a PyTorch file but not a state dict (a dict of named tensors)."
        )
    return state


def find_weights(path: str | Path) -> Path:
    """The weights file for ``path``: the file itself, or the one a Hugging Face folder holds
    (``model.safetensors`` first, then ``pytorch_model.bin``)."""
    path = Path(path)
    if path.is_dir():
        if (path / "model.safetensors.index.json").exists():
            raise GPT2WeightsError(
                f"{path} holds a checkpoint split into several files (model.safetensors.index"
                ".json); this converter reads one file. Every GPT-2 size is published as one."
            )
        for name in WEIGHT_FILES:
            if (path / name).is_file():
                return path / name
        raise GPT2WeightsError(
            f"{path} holds neither {' nor '.join(WEIGHT_FILES)}; give the folder you downloaded "
            "GPT-2 into, or the weights file itself."
        )
    if not path.is_file():
        raise FileNotFoundError(f"No file or folder at {path}.")
    return path


def read_weights(path: str | Path) -> dict[str, Tensor]:
    """The tensors of a GPT-2 weights file: safetensors by its magic (a JSON header), else a
    PyTorch file (a zip archive or an old pickle)."""
    path = find_weights(path)
    with path.open("rb") as f:
        head = f.read(9)
    if path.suffix == ".safetensors" or (len(head) == 9 and head[8:9] == b"{"):
        return read_safetensors(path)
    return read_pytorch_bin(path)


# ---------------------------------------------------------------------------------------------
# 3. The model's shape
# ---------------------------------------------------------------------------------------------


def _key(state: dict[str, Tensor], name: str) -> Tensor | None:
    return state.get(name, state.get("transformer." + name))


def _read_config_json(path: Path) -> dict[str, Any] | None:
    folder = path if path.is_dir() else path.parent
    file = folder / "config.json"
    if not file.is_file():
        return None
    try:
        config = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise GPT2WeightsError(f"{file} is not readable JSON ({e}).") from None
    if not isinstance(config, dict):
        raise GPT2WeightsError(f"{file} is not a JSON object.")
    return config


def _check_same_math(config: dict[str, Any], source: Path) -> None:
    """Refuse GPT-2 variants whose arithmetic the book's model does not do."""
    problems = []
    if config.get("model_type", "gpt2") != "gpt2":
        problems.append(f"model_type is {config.get('model_type')!r}, not 'gpt2'")
    if config.get("activation_function", "gelu_new") not in ("gelu_new", "gelu_pytorch_tanh"):
        problems.append(f"activation {config['activation_function']!r} (the book's is tanh GELU)")
    eps = config.get("layer_norm_epsilon", 1e-5)
    if not isinstance(eps, (int, float)) or abs(eps - 1e-5) > 1e-12:
        problems.append(f"layer_norm_epsilon {eps!r} (the book's is 1e-5)")
    for flag in ("scale_attn_by_inverse_layer_idx",):
        if config.get(flag):
            problems.append(f"{flag} is on")
    if config.get("scale_attn_weights", True) is False:
        problems.append("scale_attn_weights is off (the book divides scores by sqrt(head size))")
    if problems:
        raise GPT2WeightsError(
            f"{source} describes a model the book's GPT does not compute the same way: "
            + "; ".join(problems) + "."
        )


def gpt2_config(
    state: dict[str, Tensor], config_json: dict[str, Any] | None = None, n_head: int | None = None,
    source: Path | str = "the checkpoint",
) -> GPTConfig:
    """The :class:`GPTConfig` of a GPT-2 state dict: sizes from the tensors' shapes, the number of
    heads from ``n_head``, else ``config.json``, else GPT-2's own sizes (12, 16, 20, 25 heads
    for widths 768, 1024, 1280, 1600)."""
    source = Path(source)
    wte, wpe = _key(state, "wte.weight"), _key(state, "wpe.weight")
    if wte is None or wpe is None or wte.dim() != 2 or wpe.dim() != 2:
        some = ", ".join(sorted(state)[:5]) or "nothing"
        raise GPT2WeightsError(
            f"{source} is not a GPT-2 checkpoint: it has no token and position embeddings "
            f"(wte.weight, wpe.weight); its first tensors are {some}."
        )
    vocab, d_model = wte.shape
    context = wpe.shape[0]
    layers = {
        int(k.split(".")[1 if k.startswith("h.") else 2])
        for k in state
        if k.startswith(("h.", "transformer.h.")) and k.split(".")[1 if k.startswith("h.") else 2].isdigit()
    }
    n_layer = max(layers) + 1 if layers else 0
    if config_json is not None:
        _check_same_math(config_json, source)
        declared = {"vocab_size": vocab, "n_embd": d_model, "n_positions": context,
                    "n_layer": n_layer}
        differ = [f"{k} {config_json[k]} vs {v}" for k, v in declared.items()
                  if k in config_json and config_json[k] != v]
        if differ:
            raise GPT2WeightsError(
                f"config.json next to {source} does not describe its tensors ({', '.join(differ)}"
                "); the two files come from different models."
            )
    heads = n_head or (config_json or {}).get("n_head") or HEADS_BY_WIDTH.get(d_model)
    if heads is None:
        raise GPT2WeightsError(
            f"{source} has width {d_model}, not one of GPT-2's ({', '.join(map(str, HEADS_BY_WIDTH))}"
            "), and no config.json says how many attention heads it has; pass --n-head."
        )
    if n_layer == 0:
        raise GPT2WeightsError(f"{source} has embeddings but no blocks (h.0..., h.1...).")
    try:
        return GPTConfig(vocab_size=vocab, context=context, n_layer=n_layer, n_head=int(heads),
                         d_model=d_model)
    except (TypeError, ValueError) as e:
        raise GPT2WeightsError(f"{source} does not make a GPT: {e}") from None


# ---------------------------------------------------------------------------------------------
# 4. Converting
# ---------------------------------------------------------------------------------------------


def load_gpt2(path: str | Path, n_head: int | None = None) -> GPT:
    """The book's :class:`GPT` holding the GPT-2 weights at ``path`` (a folder or a file)."""
    path = Path(path)
    weights = find_weights(path)
    state = read_weights(weights)
    config = gpt2_config(state, _read_config_json(path), n_head, source=weights)
    try:
        return GPT.from_gpt2_state_dict(state, config).eval()
    except StateDictMismatchError as e:
        raise GPT2WeightsError(f"{weights} does not fit GPT-2's layout: {e}") from None


def gpt2_tokenizer_for(config: GPTConfig):
    """GPT-2's tokenizer when the model has GPT-2's vocabulary (50,257 tokens), else ``None``."""
    if config.vocab_size != GPT2_VOCAB:
        return None
    from gptbook.tokenizers import BPETokenizer

    return BPETokenizer.from_gpt2()


def convert_gpt2(
    path: str | Path, out: str | Path, n_head: int | None = None,
    weights_dtype: torch.dtype | None = None,
) -> dict[str, Any]:
    """Convert the GPT-2 checkpoint at ``path`` into a gptbook checkpoint at ``out``.

    The checkpoint holds the model, its config and (for GPT-2's 50,257-token vocabulary) GPT-2's
    tokenizer, so :func:`gptbook.checkpoint.load_model` and ``python -m gptbook generate
    --checkpoint out`` use it like the book's own model. ``weights_dtype=torch.float16`` halves
    the file. Returns a summary: the config, the parameter count, whether a tokenizer was stored.
    """
    model = load_gpt2(path, n_head)
    tokenizer = gpt2_tokenizer_for(model.config)
    save_checkpoint(out, model, tokenizer=tokenizer, weights_dtype=weights_dtype,
                    extra={"converted_from": str(Path(path).resolve()), "source": "GPT-2"})
    return {"config": asdict(model.config), "parameters": model.num_params(),
            "tokenizer": "GPT-2's BPE" if tokenizer is not None else None, "out": str(out)}
