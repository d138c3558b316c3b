"""Chapter 09 (fine-tuning for classification): the last real token of a padded batch, the
confusion matrix, the accuracy of always answering 'not spam', and why the last token."""

from __future__ import annotations

import torch

from gptbook.exercises import Case, Idea, Implement, Measurement, Mistake, Open, Predict

# --- 09.1 ------------------------------------------------------------------------------------


def _last_real(h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    from gptbook.tuning import last_real

    return last_real(h, lengths)


def _h(b: int, t: int, d: int, seed: int) -> torch.Tensor:
    return torch.randn(b, t, d, generator=torch.Generator().manual_seed(seed))


LAST_REAL = Implement(
    id="09.1",
    title="the last real token of a padded batch",
    statement="pick_last(h, lengths): h is (B, T, d), the final vectors of a right-padded batch; "
    "row b holds lengths[b] real tokens. Return (B, d): each row's vector at its last real token.",
    name="pick_last",
    reference=_last_real,
    cases=(
        Case((_h(2, 3, 4, 0), torch.tensor([3, 3])), "Positions count from 0: the last real token "
             "of row b is at position lengths[b] - 1.", "h (2, 3, 4), lengths [3, 3] (no padding)"),
        Case((_h(3, 5, 2, 1), torch.tensor([5, 2, 1])), "Rows are padded on the right: the last "
             "position of a short row is padding, so take position lengths[b] - 1 in each row, not "
             "position T - 1.", "h (3, 5, 2), lengths [5, 2, 1]"),
    ),
    solution_code='''
import torch

def pick_last(h, lengths):
    rows = torch.arange(h.size(0))
    return h[rows, lengths - 1]  # row b, position lengths[b] - 1
''',
    mistakes=(
        Mistake(lambda h, n: h[torch.arange(h.size(0)), n], "lengths[b] - 1"),
        Mistake(lambda h, n: h[:, -1], "not position T - 1"),
    ),
)

# --- 09.2 ------------------------------------------------------------------------------------


def _confusion(true: list[int], predicted: list[int]) -> list[list[int]]:
    from gptbook.classify import confusion_matrix

    return confusion_matrix(true, predicted)


def _as_lists(got: object) -> list[list[int]]:
    return [[int(v) for v in row] for row in got]  # type: ignore[union-attr]


CONFUSION = Implement(
    id="09.2",
    title="the confusion matrix",
    statement="confusion_table(true, predicted): for labels 0 (not spam) and 1 (spam), the 2 × 2 table "
    "m[t][p] = how many messages of true class t were predicted as p.",
    name="confusion_table",
    reference=_confusion,
    prepare=_as_lists,
    cases=(
        Case(([0, 0, 1, 1], [0, 0, 1, 1]), "All right: the counts sit on the diagonal, m[0][0] = 2 "
             "and m[1][1] = 2."),
        Case(([0, 0, 0, 1, 1], [0, 1, 1, 0, 1]), "The row is the true class, the column the "
             "prediction: m[0][1] counts the messages that are not spam but were called spam."),
        Case(([1, 1, 1], [1, 1, 1]), "Keep all four cells, even a class that never occurs: "
             "[[0, 0], [0, 3]]."),
    ),
    solution_code='''
def confusion_table(true, predicted):
    m = [[0, 0], [0, 0]]
    for t, p in zip(true, predicted):
        m[t][p] += 1  # row: the truth, column: the prediction
    return m
''',
    mistakes=(
        Mistake(lambda t, p: [[sum(1 for a, b in zip(t, p) if a == j and b == i) for j in (0, 1)]
                              for i in (0, 1)], "The row is the true class"),
        Mistake(lambda t, p: [[sum(1 for a, b in zip(t, p) if a == i and b == j) for j in set(p)]
                              for i in set(t)], "Keep all four cells"),
    ),
)

# --- 09.3 ------------------------------------------------------------------------------------

BASELINE_OPTIONS = {
    "a": "below 50%",
    "b": "between 50% and 80%",
    "c": "between 80% and 95%",
    "d": "above 95%",
}


def _baseline_experiment() -> Measurement:
    from gptbook.classify import stratified_split
    from gptbook.data import sms_spam

    split = stratified_split(sms_spam(), val_fraction=0.1, test_fraction=0.2, seed=0)  # as chapter 09
    test = split.test
    ham = sum(1 for m in test if m.label == "ham")
    accuracy = ham / len(test)
    bands = [(0.5, "a"), (0.8, "b"), (0.95, "c"), (1.01, "d")]
    outcome = next(k for bound, k in bands if accuracy < bound)
    report = (
        f"the chapter's test set has {len(test)} messages, {len(test) - ham} of them spam: answering "
        f"'not spam' every time is right {ham} times, an accuracy of {accuracy:.1%}, while catching "
        "no spam at all (spam recall 0%)."
    )
    return Measurement(outcome, report)


BASELINE = Predict(
    id="09.3",
    title="a classifier that always says 'not spam'",
    statement="A 'classifier' answers 'not spam' for every message of the chapter's test set. What "
    "accuracy does it get?",
    options=BASELINE_OPTIONS,
    experiment=_baseline_experiment,
    expected="c",
    why="Most messages are not spam (about 6 in 7 in the SMS collection), so the lazy answer is "
    "right most of the time while never finding a spam message. That is why the chapter shows "
    "this chance baseline next to every accuracy, and spam recall and precision too: 90% accuracy "
    "sounds good and is barely better than doing nothing.",
    mistakes=(Mistake("a", "most of the time"), Mistake("d", "most of the time"), Mistake("e", "one of")),
)

# --- 09.4 ------------------------------------------------------------------------------------

LAST_TOKEN = Open(
    id="09.4",
    title="why classify on the last real token",
    statement="The classification head reads the final vector of the last real token of a message. "
    "Why that token, and not the first one?",
    ideas=(
        Idea("the causal mask", ("causal", "mask", "earlier", "previous", "before it", "only see",
                                 "only look", "past"),
             "Which tokens can the first token's vector attend to? And the last one's?"),
        Idea("the last token has read the whole message", ("whole", "entire", "all the tokens",
                                                          "all tokens", "every token", "full message",
                                                          "all the words", "all of the message"),
             "Which token's final vector can carry information about every word of the message?"),
    ),
    answer_text="Attention is causal: each token's vector can only draw on itself and the tokens "
    "before it. The first token has seen only the first word, so its final vector knows nothing "
    "about the rest of the message. The last real token has attended to the whole message, so its "
    "final vector is the only one that can sum it all up. It must be the last real token, not a "
    "pad after it, so padding does not change the prediction.",
    mistakes=(Mistake("Because it is the most important word of the message.", "Which tokens can"),),
)

EXERCISES = (LAST_REAL, CONFUSION, BASELINE, LAST_TOKEN)
