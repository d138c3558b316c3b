"""Chapter 04 (word vectors): skip-gram pairs, answering an analogy, why the question words are
left out, and what the vectors learn from the text besides meaning."""

from __future__ import annotations

import numpy as np

from gptbook.exercises import Case, Idea, Implement, Measurement, Mistake, Open, Predict

# --- 04.1 ------------------------------------------------------------------------------------


def _context_pairs(words: list[str], window: int) -> list[tuple[str, str]]:
    return [
        (words[i], words[j])
        for i in range(len(words))
        for j in range(max(0, i - window), min(len(words), i + window + 1))
        if j != i
    ]


def _sorted_pairs(got: object) -> list[tuple[str, str]]:
    return sorted(tuple(p) for p in got)  # type: ignore[union-attr]


CONTEXT_PAIRS = Implement(
    id="04.1",
    title="skip-gram pairs",
    statement="context_pairs(words, window): every (centre, neighbour) pair where the neighbour is "
    "at most `window` places before or after the centre (in any order).",
    name="context_pairs",
    reference=_context_pairs,
    prepare=_sorted_pairs,
    cases=(
        Case((["to", "be", "or"], 1), "Look on both sides of the centre word and skip the centre "
             "itself: 'be' has two neighbours, 'to' before it and 'or' after it."),
        Case((["a", "b", "c", "d"], 2), "A word is not its own neighbour, and near the start or the "
             "end of the text there are fewer neighbours (no wrap-around)."),
        Case((["be", "be", "be"], 1), "The same word can be its neighbour's neighbour: pairs are "
             "about places, not spellings (('be', 'be') occurs 4 times here)."),
    ),
    solution_code='''
def context_pairs(words, window):
    pairs = []
    for i, centre in enumerate(words):
        for j in range(max(0, i - window), min(len(words), i + window + 1)):
            if j != i:
                pairs.append((centre, words[j]))
    return pairs
''',
    mistakes=(
        Mistake(lambda w, k: [(w[i], w[j]) for i in range(len(w))
                              for j in range(i + 1, min(len(w), i + k + 1))], "both sides"),
        Mistake(lambda w, k: [(w[i], w[j]) for i in range(len(w))
                              for j in range(max(0, i - k), min(len(w), i + k + 1))], "skip the centre"),
        Mistake(lambda w, k: sorted({(w[i], w[j]) for i in range(len(w))
                                     for j in range(max(0, i - k), min(len(w), i + k + 1)) if j != i}),
                "places, not spellings"),
    ),
)

# --- 04.2 ------------------------------------------------------------------------------------


def _toy_vectors() -> tuple[np.ndarray, list[str]]:
    """Six 3-d word vectors (found by a small search): king - man + woman lands nearest to 'king'
    itself, then 'queen'; 'the' is a long vector that wins any plain dot product."""
    words = ["man", "woman", "king", "queen", "apple", "the"]
    vectors = np.array(
        [[-0.3, 0.0, -0.2], [-0.7, -0.2, -0.9], [1.5, 0.7, -0.4], [1.6, 1.3, 0.5], [-0.5, 0.3, 0.6],
         [46.0, 28.0, 8.0]]
    )
    return vectors, words


def _best_analogy(vectors: np.ndarray, words: list[str], a: str, b: str, c: str) -> str:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    index = {w: i for i, w in enumerate(words)}
    target = unit[index[b]] - unit[index[a]] + unit[index[c]]
    scores = unit @ (target / np.linalg.norm(target))
    for i in (index[a], index[b], index[c]):
        scores[i] = -np.inf
    return words[int(np.argmax(scores))]


def _keeps_question_words(vectors, words, a, b, c):
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    i = {w: k for k, w in enumerate(words)}
    target = unit[i[b]] - unit[i[a]] + unit[i[c]]
    return words[int(np.argmax(unit @ target))]


def _plain_dot(vectors, words, a, b, c):
    i = {w: k for k, w in enumerate(words)}
    target = vectors[i[b]] - vectors[i[a]] + vectors[i[c]]
    scores = vectors @ target
    for w in (a, b, c):
        scores[i[w]] = -np.inf
    return words[int(np.argmax(scores))]


_V, _W = _toy_vectors()
BEST_ANALOGY = Implement(
    id="04.2",
    title="answering an analogy",
    statement="best_analogy(vectors, words, a, b, c): 'a is to b as c is to ?'. Scale every row of "
    "`vectors` to length 1, form b - a + c, and return the word with the highest cosine to it, "
    "leaving out a, b and c.",
    name="best_analogy",
    reference=_best_analogy,
    cases=(
        Case((_V[:5], _W[:5], "man", "king", "woman"), "Leave out the three question words: b - a + c is "
             "usually closest to b itself, here 'king'.",
             "a toy table of 5 words in 3-d; man : king :: woman : ?"),
        Case((_V[:5], _W[:5], "woman", "queen", "man"), "The answer is a word from `words`, found "
             "by cosine similarity.", "the same table; woman : queen :: man : ?"),
        Case((_V, _W, "king", "man", "queen"), "Rank by cosine (unit vectors), not by the plain dot "
             "product: a very long vector like 'the' would win every dot product.",
             "the table with a sixth, very long vector 'the'; king : man :: queen : ?"),
    ),
    solution_code='''
import numpy as np

def best_analogy(vectors, words, a, b, c):
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    index = {w: i for i, w in enumerate(words)}
    target = unit[index[b]] - unit[index[a]] + unit[index[c]]
    scores = unit @ (target / np.linalg.norm(target))  # cosine with every word
    for w in (a, b, c):
        scores[index[w]] = -np.inf  # the question words may not answer
    return words[int(np.argmax(scores))]
''',
    mistakes=(
        Mistake(_keeps_question_words, "Leave out the three question words"),
        Mistake(_plain_dot, "not by the plain dot product"),
    ),
)

# --- 04.3 ------------------------------------------------------------------------------------


def _question_words_experiment() -> Measurement:
    from gptbook.data import glove
    from gptbook.vectors import analogy

    gv = glove()
    kept = analogy(gv, "man", "king", "woman", k=3, exclude_question=False)
    left_out = analogy(gv, "man", "king", "woman", k=1)
    top = kept[0][0]
    report = (
        "GloVe, king - man + woman with the question words allowed: "
        + ", ".join(f"{w} ({s:.2f})" for w, s in kept)
        + f"; with them left out: {left_out[0][0]} ({left_out[0][1]:.2f})."
    )
    return Measurement(top if top in ("king", "queen", "woman") else "other", report)


QUESTION_WORDS = Predict(
    id="04.3",
    title="leaving the question words in",
    statement="The chapter's analogy leaves out a, b and c. If it did not, what would GloVe's top "
    "answer to king - man + woman be?",
    options={"queen": "queen", "king": "king", "woman": "woman", "other": "another word"},
    experiment=_question_words_experiment,
    expected="king",
    why="The difference woman - man is small next to the vector of 'king' itself, so b - a + c stays "
    "closest to b. The famous 'queen' is only the best answer once the question words are "
    "excluded, a detail that makes analogies look cleaner than the vectors are.",
    mistakes=(Mistake("queen", "excluded"), Mistake("woman", "excluded")),
)

# --- 04.4 ------------------------------------------------------------------------------------

BIAS = Open(
    id="04.4",
    title="what else the vectors learn",
    statement="On the gender direction, 'nurse' lies on the 'she' side and 'engineer' on the 'he' "
    "side. Where does that come from, what will a language model trained on the same kind of text "
    "do with it, and what could you do about it?",
    ideas=(
        Idea("it comes from the text", ("text", "corpus", "data", "written", "usage", "how people",
                                        "co-occur", "context"),
             "GloVe is computed from which words occur near which in its training text. Where "
             "does the lean come from?"),
        Idea("a model learns and repeats it", ("bias", "stereotype", "repeat", "reproduce", "inherit",
                                               "amplif", "learn"),
             "A language model is trained on the same kind of text: what will it say when it "
             "writes about a nurse or an engineer?"),
        Idea("it can be measured and reduced", ("measure", "test", "evaluat", "debias", "balanc",
                                                "filter", "counterfactual", "swap", "remov", "correct",
                                                "project out", "mitigat"),
             "What could you measure, and what could you change: the data, the training, or the "
             "vectors themselves?"),
    ),
    answer_text="It comes from the text, not from nurses: GloVe learns from which words occur "
    "together in its training text (Wikipedia and news), and that text writes about nurses with "
    "'she' and engineers with 'he' more often. A language model trained on such text learns the "
    "same associations and repeats them (continuing 'The nurse said that' with 'she'), so the bias "
    "of the data becomes a bias of the model. You can measure it (projections like this one, or "
    "test prompts that swap 'he' and 'she'), and reduce it: balance or filter the training data, "
    "add counterfactual examples with the genders swapped, or project the gender direction out of "
    "words that are not gendered by definition (Bolukbasi et al., 2016).",
    mistakes=(
        Mistake("It is a bug in GloVe that a better training algorithm would fix completely.",
                "Where does the lean come from"),
        Mistake("It comes from the training text, and a model trained on that text will learn the "
                "same bias and repeat it.", "What could you measure"),
    ),
)

EXERCISES = (CONTEXT_PAIRS, BEST_ANALOGY, QUESTION_WORDS, BIAS)
