"""The book's own base model, shipped inside the package.

No package ships GPT-2's trained weights, so the book trains its own small GPT on Shakespeare with
its own BPE tokenizer (chapter 08 tells how). The result lives in ``gptbook/assets/``:

* ``base_model.pt``: the weights (stored in half precision, loaded back as fp32), the model's config
  and the tokenizer, in one checkpoint (see :mod:`gptbook.checkpoint`);
* ``base_model.json``: the record of how it was made: the command, the recipe, the machine, the
  wall time, the final losses, bits per byte and the word check of :func:`words_in_corpus`.

:func:`load_base_model` loads it; :func:`base_model_record` reads the record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from gptbook.checkpoint import CheckpointError, load_model
from gptbook.sampling import generate

ASSETS = Path(__file__).resolve().parent / "assets"
BASE_MODEL = ASSETS / "base_model.pt"
BASE_RECORD = ASSETS / "base_model.json"
MAKE_COMMAND = "make base-model"
TRAIN_COMMAND = "python -m gptbook train --preset base --out gptbook/assets/base_model.pt"


class BaseModelError(FileNotFoundError):
    """The shipped base model is missing, unreadable, or does not fit this version of the code."""


def _rebuild_hint() -> str:
    return (
        f"Rebuild it with `{MAKE_COMMAND}` (which runs `{TRAIN_COMMAND}`; about an hour on a "
        "laptop CPU)."
    )


def load_base_model(device: str | torch.device | None = None, path: str | Path | None = None):
    """The book's trained base model and its tokenizer: ``(GPT in eval mode, BPETokenizer)``.

    ``device=None`` uses :func:`gptbook.device.device`. ``path`` defaults to the shipped asset.
    """
    path = Path(path) if path is not None else BASE_MODEL
    if not path.is_file():
        raise BaseModelError(f"The base model file {path} is missing. " + _rebuild_hint())
    try:
        model, tokenizer = load_model(path, device=device)
    except CheckpointError as e:
        raise BaseModelError(
            f"The base model file {path} cannot be loaded by this version of gptbook: {e}\n"
            + _rebuild_hint()
        ) from e
    if tokenizer is None:
        raise BaseModelError(f"The base model file {path} holds no tokenizer. " + _rebuild_hint())
    if tokenizer.vocab_size > model.config.vocab_size:
        raise BaseModelError(
            f"The base model's tokenizer has {tokenizer.vocab_size} tokens but the model only "
            f"{model.config.vocab_size}: the asset is inconsistent. " + _rebuild_hint()
        )
    return model, tokenizer


def base_model_record(path: str | Path | None = None) -> dict[str, Any]:
    """The record of how the shipped base model was made (command, recipe, time, losses, checks)."""
    path = Path(path) if path is not None else BASE_RECORD
    if not path.is_file():
        raise BaseModelError(f"The base model record {path} is missing. " + _rebuild_hint())
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise BaseModelError(
            f"The base model record {path} is not readable JSON ({e}). " + _rebuild_hint()
        ) from None
    if not isinstance(record, dict):
        raise BaseModelError(
            f"The base model record {path} is not a JSON object. " + _rebuild_hint()
        )
    return record


# ---------------------------------------------------------------------------------------------
# Does the model write real words? A check of samples against the corpus.
# ---------------------------------------------------------------------------------------------

WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)*")


def words(text: str) -> list[str]:
    """The words of ``text``, lower-cased: runs of letters, with inner apostrophes (``o'er``)."""
    return [w.lower() for w in WORD.findall(text)]


@dataclass
class WordCheck:
    """How many of a sample's words occur in a corpus."""

    fraction: float
    n_words: int
    n_known: int
    unknown: list[str]


def words_in_corpus(sample: str, corpus: str | Iterable[str]) -> WordCheck:
    """The fraction of ``sample``'s words (see :func:`words`) that occur somewhere in ``corpus``.

    ``corpus`` is a text, or an already built collection of lower-case words. A word cut off at
    the end of the sample (the sample ends in the middle of it) is not counted.
    """
    vocab = set(words(corpus)) if isinstance(corpus, str) else set(corpus)
    found = list(WORD.finditer(sample))
    if found and found[-1].end() == len(sample):
        found = found[:-1]  # the sample was cut inside this word
    ws = [m.group().lower() for m in found]
    if not ws:
        raise ValueError("The sample contains no words to check.")
    unknown = [w for w in ws if w not in vocab]
    return WordCheck(
        fraction=1 - len(unknown) / len(ws),
        n_words=len(ws),
        n_known=len(ws) - len(unknown),
        unknown=unknown,
    )


def sample_text(
    model,
    tokenizer,
    n_chars: int = 2000,
    temperature: float = 0.8,
    seed: int = 0,
    prompt: str = "\n",
    top_k: int | None = None,
    top_p: float | None = None,
) -> str:
    """Sample at least ``n_chars`` characters after ``prompt``; return exactly the first ``n_chars``
    new characters (seeded, so the same call gives the same text on the same machine)."""
    if not isinstance(n_chars, int) or isinstance(n_chars, bool) or n_chars < 1:
        raise ValueError(f"n_chars must be an integer of at least 1, got {n_chars!r}.")
    dev = next(model.parameters()).device
    generator = torch.Generator(device=dev).manual_seed(seed)
    prompt_ids = tokenizer.encode(prompt)
    if not prompt_ids:
        raise ValueError("The prompt encodes to no tokens; give at least one character.")
    idx = torch.tensor([prompt_ids], dtype=torch.long, device=dev)
    text = ""
    while len(text) < n_chars:
        idx = generate(
            model,
            idx,
            max_new_tokens=64,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            generator=generator,
        )
        text = tokenizer.decode(idx[0, len(prompt_ids) :].tolist())
    return text[:n_chars]
