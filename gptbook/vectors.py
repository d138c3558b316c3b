"""Working with a table of word vectors: similarity, nearest neighbours, analogies, directions, 2-D views.

Every function takes a :class:`gptbook.data.WordVectors` (``words``, ``vectors``, ``index``): the
pretrained GloVe vectors (Pennington et al., 2014) from :func:`gptbook.data.glove`, or the vectors
chapter 04 trains itself with :func:`gptbook.word2vec.train_word2vec`.

Similarity is the cosine: the dot product of the two vectors after scaling each to length 1. An
analogy "a is to b as c is to ?" is answered the usual way (Mikolov et al., 2013): take the word whose
vector is most similar to ``b - a + c`` (each of the three scaled to length 1 first), leaving out the
three question words themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from gptbook.data import WordVectors


class UnknownWordError(KeyError):
    """A word asked about is not in the vocabulary of the word-vector table."""

    def __init__(self, word: str, vocab_size: int) -> None:
        self.word = word
        self.message = (
            f"{word!r} is not in the vocabulary ({vocab_size:,} words). Check the spelling; "
            "GloVe words are lower case, and the Shakespeare word2vec vocabulary only has words seen "
            "5+ times."
        )
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would show the message with extra quotes
        return self.message


_UNIT_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def unit_vectors(wv: WordVectors) -> np.ndarray:
    """All vectors scaled to length 1 (computed once per table and remembered)."""
    hit = _UNIT_CACHE.get(id(wv.vectors))
    if hit is not None and hit[0] is wv.vectors:
        return hit[1]
    norms = np.linalg.norm(wv.vectors, axis=1, keepdims=True)
    unit = (wv.vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    _UNIT_CACHE.clear()  # keep one table: GloVe alone is 80 MB
    _UNIT_CACHE[id(wv.vectors)] = (wv.vectors, unit)
    return unit


def word_id(wv: WordVectors, word: str) -> int:
    """Row of ``word`` in the table, or :class:`UnknownWordError` naming the word."""
    try:
        return wv.index[word]
    except KeyError:
        raise UnknownWordError(word, len(wv)) from None


def cosine(u: np.ndarray, v: np.ndarray) -> float:
    """Cosine similarity: 1 = same direction, 0 = at right angles, -1 = opposite."""
    return float(np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v)))


def similarity(wv: WordVectors, a: str, b: str) -> float:
    """Cosine similarity of two words."""
    unit = unit_vectors(wv)
    return float(unit[word_id(wv, a)] @ unit[word_id(wv, b)])


def nearest(
    wv: WordVectors,
    query: str | np.ndarray,
    k: int = 10,
    exclude: Iterable[str] = (),
    restrict: int | None = None,
) -> list[tuple[str, float]]:
    """The ``k`` words most similar (cosine) to a word or a vector, best first, as ``(word, cosine)``.

    A word query leaves the word itself out. ``restrict=n`` searches only the first ``n`` words of the
    table (GloVe lists words from most to least frequent, so this skips rare strings)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    unit = unit_vectors(wv)
    skip = {word_id(wv, w) for w in exclude}
    if isinstance(query, str):
        qi = word_id(wv, query)
        skip.add(qi)
        q = unit[qi]
    else:
        q = np.asarray(query, dtype=np.float32)
        if q.shape != unit.shape[1:]:
            raise ValueError(f"A query vector must have {unit.shape[1]} numbers, got shape {q.shape}")
        q = q / max(float(np.linalg.norm(q)), 1e-12)
    table = unit if restrict is None else unit[:restrict]
    scores = table @ q
    take = min(len(scores), k + len(skip))
    top = np.argpartition(-scores, take - 1)[:take]
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(wv.words[i], float(scores[i])) for i in top if i not in skip][:k]


def arithmetic(
    wv: WordVectors,
    positive: Sequence[str],
    negative: Sequence[str] = (),
    k: int = 5,
    restrict: int | None = None,
    exclude_used: bool = True,
) -> list[tuple[str, float]]:
    """Words nearest to ``sum(positive) - sum(negative)`` (unit vectors), leaving out the words used
    unless ``exclude_used=False`` (then they compete with every other word)."""
    unit = unit_vectors(wv)
    ids_pos = [word_id(wv, w) for w in positive]
    ids_neg = [word_id(wv, w) for w in negative]
    if not ids_pos:
        raise ValueError("Give at least one positive word.")
    target = unit[ids_pos].sum(0) - (unit[ids_neg].sum(0) if ids_neg else 0.0)
    used = [*positive, *negative] if exclude_used else []
    return nearest(wv, target, k=k, exclude=used, restrict=restrict)


def analogy(
    wv: WordVectors,
    a: str,
    b: str,
    c: str,
    k: int = 5,
    restrict: int | None = None,
    exclude_question: bool = True,
) -> list[tuple[str, float]]:
    """"``a`` is to ``b`` as ``c`` is to ?": the words nearest to ``b - a + c``, question words left out.

    ``analogy(glove(), "man", "king", "woman")`` asks king - man + woman. With
    ``exclude_question=False`` a, b and c may answer too (``b - a + c`` is often still nearest to
    ``c`` or ``b``: the usual rule of leaving them out hides that)."""
    return arithmetic(
        wv, positive=[b, c], negative=[a], k=k, restrict=restrict, exclude_used=exclude_question
    )


# --------------------------------------------------------------------------- an analogy test set


@dataclass(frozen=True)
class AnalogyQuestion:
    """``a`` is to ``b`` as ``c`` is to ``expected``."""

    category: str
    a: str
    b: str
    c: str
    expected: str


_PAIRS: dict[str, list[tuple[str, str]]] = {
    "capital": [
        ("france", "paris"), ("italy", "rome"), ("germany", "berlin"), ("japan", "tokyo"),
        ("russia", "moscow"), ("china", "beijing"), ("spain", "madrid"), ("egypt", "cairo"),
        ("greece", "athens"), ("canada", "ottawa"), ("poland", "warsaw"),
    ],
    "gender": [
        ("man", "woman"), ("king", "queen"), ("boy", "girl"), ("brother", "sister"), ("father", "mother"),
        ("son", "daughter"), ("husband", "wife"), ("uncle", "aunt"), ("prince", "princess"),
        ("nephew", "niece"), ("actor", "actress"),
    ],
    "past tense": [
        ("walk", "walked"), ("go", "went"), ("see", "saw"), ("take", "took"), ("run", "ran"), ("eat", "ate"),
        ("write", "wrote"), ("sing", "sang"), ("play", "played"), ("think", "thought"), ("speak", "spoke"),
    ],
    "comparative": [
        ("good", "better"), ("big", "bigger"), ("small", "smaller"), ("fast", "faster"),
        ("strong", "stronger"), ("long", "longer"), ("cold", "colder"), ("young", "younger"),
        ("bad", "worse"), ("easy", "easier"), ("high", "higher"),
    ],
}


def analogy_questions() -> list[AnalogyQuestion]:
    """The book's 44 analogy questions: 11 in each of 4 categories. Each pair of a category is the
    example for the next pair (the last for the first): france : paris :: italy : rome, and so on."""
    out = []
    for category, pairs in _PAIRS.items():
        for i, (a, b) in enumerate(pairs):
            c, d = pairs[(i + 1) % len(pairs)]
            out.append(AnalogyQuestion(category, a, b, c, d))
    return out


@dataclass
class AnalogyResult:
    question: AnalogyQuestion
    answer: str  # the top word
    correct: bool


def score_analogies(
    wv: WordVectors,
    questions: Sequence[AnalogyQuestion],
    restrict: int | None = None,
    exclude_question: bool = True,
) -> list[AnalogyResult]:
    """Answer every question (top word only) and mark it right or wrong (``exclude_question``: as in
    :func:`analogy`)."""
    results = []
    for q in questions:
        answer = analogy(wv, q.a, q.b, q.c, k=1, restrict=restrict,
                         exclude_question=exclude_question)[0][0]
        results.append(AnalogyResult(q, answer, answer == q.expected))
    return results


def accuracy_by_category(results: Sequence[AnalogyResult]) -> dict[str, tuple[int, int]]:
    """``{category: (correct, asked)}``, plus ``"all"``."""
    table: dict[str, tuple[int, int]] = {}
    for r in results:
        for key in (r.question.category, "all"):
            right, asked = table.get(key, (0, 0))
            table[key] = (right + int(r.correct), asked + 1)
    return table


# --------------------------------------------------------------------------- directions and pictures


def direction(wv: WordVectors, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """A unit vector pointing from the first word of each pair to the second, averaged over the pairs
    (for example ``[("he", "she"), ("man", "woman")]`` gives a "gender direction")."""
    if not pairs:
        raise ValueError("Give at least one (from, to) pair of words.")
    unit = unit_vectors(wv)
    d = np.mean([unit[word_id(wv, b)] - unit[word_id(wv, a)] for a, b in pairs], axis=0)
    return d / np.linalg.norm(d)


def project(wv: WordVectors, words: Sequence[str], along: np.ndarray) -> dict[str, float]:
    """How far each word's unit vector reaches along a direction (its dot product with it)."""
    unit = unit_vectors(wv)
    return {w: float(unit[word_id(wv, w)] @ along) for w in words}


def pca_2d(vectors: np.ndarray) -> np.ndarray:
    """Coordinates of the rows on the two directions of greatest spread (principal component analysis):
    centre the rows, take the top two right singular vectors, project. Signs follow a fixed rule
    (the largest coordinate of each axis is positive) so pictures do not flip between runs."""
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"pca_2d needs a 2-D array with at least 2 rows, got shape {x.shape}")
    x = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(x, full_matrices=False)
    axes = vt[:2]
    coords = x @ axes.T
    flip = np.sign(coords[np.abs(coords).argmax(axis=0), np.arange(coords.shape[1])])
    return coords * np.where(flip == 0, 1.0, flip)
