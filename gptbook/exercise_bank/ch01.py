"""Chapter 01 (tokens): a vocabulary with an unknown id, the pre-split, a BPE training step,
encoding with learned merges, and why other scripts cost more tokens."""

from __future__ import annotations

from collections import Counter

from gptbook.exercises import Case, Idea, Implement, Measurement, Mistake, Open, Predict
from gptbook.tokenizers import merge

# --- 01.1 ------------------------------------------------------------------------------------


def _encode_unknown(text: str, chars: list[str]) -> list[int]:
    index = {c: i + 1 for i, c in enumerate(chars)}
    return [index.get(c, 0) for c in text]


ENCODE_UNKNOWN = Implement(
    id="01.1",
    title="a vocabulary with an 'unknown' id",
    statement="encode_unknown(text, chars): character i of `chars` gets id i + 1; a character not "
    "in `chars` gets id 0 instead of an error.",
    name="encode_unknown",
    reference=_encode_unknown,
    cases=(
        Case(("abc", ["a", "b", "c"]), "Ids start at 1: id 0 is kept for unknown characters, so "
             "chars[0] gets id 1."),
        Case(("cab", ["a", "b", "c"]), "Each character's id is its place in `chars` plus one."),
        Case(("a?b", ["a", "b"]), "A character that is not in `chars` gets id 0, not an error."),
        Case(("", ["a"]), "An empty text encodes to an empty list."),
        Case(("мир!", ["и", "м", "р"]), "Work character by character: Cyrillic is no different."),
    ),
    solution_code='''
def encode_unknown(text, chars):
    index = {c: i + 1 for i, c in enumerate(chars)}  # id 0 is left for "unknown"
    return [index.get(c, 0) for c in text]
''',
    mistakes=(
        Mistake(lambda text, chars: [chars.index(c) for c in text], "Ids start at 1"),
        Mistake(lambda text, chars: [chars.index(c) + 1 for c in text], "gets id 0, not an error"),
    ),
)

# --- 01.2 ------------------------------------------------------------------------------------


def _pair_tokens(merges: int, presplit: bool) -> list[bytes]:
    """Train ``merges`` BPE merges on 5,000 characters of Shakespeare, with or without GPT-2's
    pre-split; return the new tokens' bytes."""
    import regex

    from gptbook.data import shakespeare_split
    from gptbook.tokenizers import GPT2_SPLIT_PATTERN

    text = shakespeare_split()[0][:5_000]
    pieces = regex.findall(GPT2_SPLIT_PATTERN, text) if presplit else [text]
    chunks = [list(p.encode("utf-8")) for p in pieces]
    vocab = {i: bytes([i]) for i in range(256)}
    for k in range(merges):
        counts = Counter(p for ids in chunks for p in zip(ids, ids[1:]))
        pair = max(counts, key=lambda p: (counts[p], -p[0], -p[1]))
        vocab[256 + k] = vocab[pair[0]] + vocab[pair[1]]
        chunks = [merge(ids, pair, 256 + k) for ids in chunks]
    return [vocab[256 + k] for k in range(merges)]


def _glued(token: bytes) -> bool:
    """A token that holds the end of one word and a space after it (like b'e ' or b'd t')."""
    return any(chr(a).isalpha() and b == ord(" ") for a, b in zip(token, token[1:]))


def _presplit_experiment() -> Measurement:
    without, with_split = _pair_tokens(40, False), _pair_tokens(40, True)
    glued = [t for t in without if _glued(t)]
    glued_split = [t for t in with_split if _glued(t)]
    report = (
        f"without the pre-split {len(glued)} of 40 new tokens glue a word's end to the space after "
        f"it (for example {[t.decode() for t in glued[:4]]}); with GPT-2's pre-split: "
        f"{len(glued_split)}."
    )
    return Measurement("yes" if glued and not glued_split else "no", report)


PRESPLIT = Predict(
    id="01.2",
    title="BPE without the pre-split",
    statement="Train 40 merges on 5,000 characters without splitting the text into chunks first. "
    "Will some new tokens glue the end of a word to the space after it, like 'e ' or 'd t'?",
    options={"yes": "some tokens glue a word's end to the next space", "no": "no token does"},
    experiment=_presplit_experiment,
    expected="yes",
    why="Without the pre-split, 'e' followed by ' ' is one of the most frequent pairs in English, "
    "so BPE merges it; the chunks of GPT-2's pattern put each space at the start of the next word "
    "(' the'), so a merge can never cross from one word into the space after it.",
    mistakes=(Mistake("no", "merges it"), Mistake("maybe", "not one of the options")),
)

# --- 01.3 ------------------------------------------------------------------------------------


def _bpe_step(chunks: list[list[int]], new_id: int) -> tuple[tuple[int, int], list[list[int]]]:
    counts = Counter(p for ids in chunks for p in zip(ids, ids[1:]))
    pair = max(counts, key=lambda p: (counts[p], -p[0], -p[1]))
    return pair, [merge(ids, pair, new_id) for ids in chunks]


def _prepare_step(got: object) -> tuple[tuple[int, int], list[list[int]]]:
    pair, chunks = got  # type: ignore[misc]
    return tuple(int(i) for i in pair), [[int(i) for i in c] for c in chunks]


def _flat_counting_step(chunks, new_id):
    flat = [i for c in chunks for i in c]
    counts = Counter(zip(flat, flat[1:]))
    pair = max(counts, key=lambda p: (counts[p], -p[0], -p[1]))
    return pair, [merge(c, pair, new_id) for c in chunks]


def _lucky_tie_step(chunks, new_id):
    counts = Counter(p for ids in chunks for p in zip(ids, ids[1:]))
    pair = max(counts, key=counts.get)  # the first pair seen wins a tie
    return pair, [merge(c, pair, new_id) for c in chunks]


def _right_to_left_step(chunks, new_id):
    counts = Counter(p for ids in chunks for p in zip(ids, ids[1:]))
    pair = max(counts, key=lambda p: (counts[p], -p[0], -p[1]))
    out = []
    for ids in chunks:
        new, i = [], len(ids) - 1
        while i >= 0:  # scans from the right: (7, 7, 7) becomes (7, 300)
            if i > 0 and (ids[i - 1], ids[i]) == pair:
                new.append(new_id)
                i -= 2
            else:
                new.append(ids[i])
                i -= 1
        out.append(new[::-1])
    return pair, out


BPE_STEP = Implement(
    id="01.3",
    title="one BPE training step",
    statement="bpe_step(chunks, new_id): count neighbour pairs inside each chunk, pick the most "
    "frequent (a tie goes to the smaller pair), replace it by new_id everywhere; return "
    "(pair, new_chunks).",
    name="bpe_step",
    reference=_bpe_step,
    prepare=_prepare_step,
    cases=(
        Case(([[1, 2, 3, 1, 2]], 256), "Count every neighbour pair, take the most frequent, replace "
             "it left to right."),
        Case(([[5, 6], [1, 2]], 256), "Two pairs with the same count: take the smaller pair of ids "
             "((1, 2) before (5, 6)), so the result never depends on the order you met them."),
        Case(([[7, 7, 7]], 300), "Replace left to right and skip both tokens of a merged pair: "
             "(7, 7, 7) becomes (300, 7), not (7, 300) or (300, 300, 7)."),
        Case(([[1, 9], [9, 1], [9, 1], [9, 2]], 256), "Count pairs inside each chunk only: the end "
             "of one chunk and the start of the next are not neighbours."),
    ),
    solution_code='''
from collections import Counter

def bpe_step(chunks, new_id):
    counts = Counter(pair for ids in chunks for pair in zip(ids, ids[1:]))
    pair = max(counts, key=lambda p: (counts[p], -p[0], -p[1]))  # ties: the smaller pair
    new_chunks = []
    for ids in chunks:
        out, i = [], 0
        while i < len(ids):
            if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
                out.append(new_id)
                i += 2
            else:
                out.append(ids[i])
                i += 1
        new_chunks.append(out)
    return pair, new_chunks
''',
    mistakes=(
        Mistake(_flat_counting_step, "inside each chunk only"),
        Mistake(_lucky_tie_step, "smaller pair"),
        Mistake(_right_to_left_step, "left to right"),
    ),
)

# --- 01.4 ------------------------------------------------------------------------------------


def _encode_chunk(ids: list[int], merges: dict[tuple[int, int], int]) -> list[int]:
    ids = list(ids)
    while len(ids) > 1:
        pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, float("inf")))
        if pair not in merges:
            break
        ids = merge(ids, pair, merges[pair])
    return ids


def _leftmost_first(ids, merges):
    ids = list(ids)
    while True:
        for i, p in enumerate(zip(ids, ids[1:])):
            if p in merges:
                ids = ids[:i] + [merges[p]] + ids[i + 2 :]
                break
        else:
            return ids


ENCODE_CHUNK = Implement(
    id="01.4",
    title="encoding with learned merges",
    statement="encode_chunk(ids, merges): apply the learned merges (dict pair -> new id, in the "
    "order learned) to one chunk's byte ids, always merging the earliest-learned pair present.",
    name="encode_chunk",
    reference=_encode_chunk,
    prepare=lambda got: [int(i) for i in got],
    cases=(
        Case(([104, 105], {(104, 105): 256}), "Replace a pair that has a merge by its new id."),
        Case(([1, 2, 3], {(1, 2): 256, (256, 3): 257}), "Keep merging: a new token can take part "
             "in a later merge ((1, 2) -> 256, then (256, 3) -> 257)."),
        Case(([1, 2, 3], {(2, 3): 256, (1, 2): 257}), "Among the pairs present, merge the one "
             "learned first (the smallest new id), wherever it sits, not the leftmost one."),
        Case(([5, 6, 7], {(1, 2): 256}), "No merge applies: return the ids unchanged."),
        Case(([9], {(9, 9): 256}), "A single byte has no pair: return it as it is."),
    ),
    solution_code='''
def encode_chunk(ids, merges):
    ids = list(ids)
    while len(ids) > 1:
        # the pair learned first among those present (unknown pairs rank last)
        pair = min(zip(ids, ids[1:]), key=lambda p: merges.get(p, float("inf")))
        if pair not in merges:
            break
        new_id, out, i = merges[pair], [], 0
        while i < len(ids):
            if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
                out.append(new_id)
                i += 2
            else:
                out.append(ids[i])
                i += 1
        ids = out
    return ids
''',
    mistakes=(
        Mistake(_leftmost_first, "learned first"),
        Mistake(lambda ids, merges: list(ids), "Replace a pair"),
    ),
)

# --- 01.5 ------------------------------------------------------------------------------------

SCRIPTS = Open(
    id="01.5",
    title="why other scripts cost more tokens",
    statement="GPT-2's tokenizer needs more than twice as many tokens for the same sentence in "
    "Russian or Chinese as in English. Explain why, in two or three sentences.",
    ideas=(
        Idea("bytes per character", ("byte", "utf-8", "utf8"), "How many UTF-8 bytes does a "
             "Cyrillic or a Chinese character take, and what does a byte-level BPE start from?"),
        Idea("what the merges were learned from", ("english", "train", "learn", "data", "frequent",
                                                   "corpus", "common"),
             "BPE merges the pairs that were frequent in its training text. Which language was "
             "most of GPT-2's training text in?"),
    ),
    answer_text="A byte-level BPE starts from UTF-8 bytes: an English letter is one byte, a "
    "Cyrillic letter two and a Chinese character three. Merges only shorten what was frequent in "
    "the training text, and GPT-2's text was mostly English, so English words became single tokens "
    "while Russian and Chinese stay split into few-byte pieces. The same sentence therefore costs "
    "more tokens: more compute, a shorter effective context and a higher price per sentence.",
    mistakes=(
        Mistake("Because Russian and Chinese words are longer than English ones.", "UTF-8 bytes"),
        Mistake("Each Chinese character is three bytes in UTF-8, so it costs more bytes.",
                "training text"),
        Mistake("bytes", "Too short"),
    ),
)

EXERCISES = (ENCODE_UNKNOWN, PRESPLIT, BPE_STEP, ENCODE_CHUNK, SCRIPTS)
