"""Chapter 02 (one-hot and the neural net): one-hot rows, the negative log-likelihood from logits,
overfitting a bigram on 20,000 characters, and why ids go in as one-hot vectors."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gptbook.exercises import Case, Idea, Implement, Measurement, Mistake, Open, Predict

# --- 02.1 ------------------------------------------------------------------------------------


def _one_hot(ids: list[int], n: int) -> torch.Tensor:
    return F.one_hot(torch.tensor(ids, dtype=torch.long), n).float()


def _as_float_tensor(got: object) -> torch.Tensor:
    return torch.as_tensor(got).float()


ONE_HOT = Implement(
    id="02.1",
    title="one-hot rows",
    statement="one_hot_rows(ids, n): a float tensor of shape (len(ids), n), row i all zeros except a 1 "
    "at place ids[i].",
    name="one_hot_rows",
    reference=_one_hot,
    prepare=_as_float_tensor,
    cases=(
        Case(([0, 2], 3), "Row i is all zeros except a single 1 at place ids[i]; the shape is "
             "(len(ids), n): one row per id."),
        Case(([1, 1, 0], 2), "The same id twice gives the same row twice."),
        Case(([32], 33), "The last place is n - 1 (id 32 of 33 letters is 'ё')."),
    ),
    solution_code='''
import torch

def one_hot_rows(ids, n):
    out = torch.zeros(len(ids), n)
    out[torch.arange(len(ids)), torch.tensor(ids)] = 1.0  # row i, column ids[i]
    return out
''',
    mistakes=(
        Mistake(lambda ids, n: torch.zeros(len(ids), n), "single 1 at place"),
        Mistake(lambda ids, n: F.one_hot(torch.tensor(ids), n).T, "one row per id"),
    ),
)

# --- 02.2 ------------------------------------------------------------------------------------


def _nll(logits: torch.Tensor, targets: list[int]) -> float:
    return F.cross_entropy(logits.cpu().double(), torch.tensor(targets)).item()


def _naive_nll(logits, targets):
    p = torch.exp(logits) / torch.exp(logits).sum(dim=1, keepdim=True)
    return -torch.log(p[torch.arange(len(targets)), torch.tensor(targets)]).mean().item()


NLL = Implement(
    id="02.2",
    title="the loss from logits",
    statement="nll_from_logits(logits, targets): logits is (N, V), targets a list of N right answers; return "
    "the mean negative log-probability of the right answers (a float), safe for large logits.",
    name="nll_from_logits",
    reference=_nll,
    cases=(
        Case((torch.tensor([[2.0, 0.5, -1.0]]), [0]), "Softmax each row, take the probability p of "
             "the right answer, and return -log(p): a positive number (0 only if p = 1)."),
        Case((torch.tensor([[0.0, 0.0, 0.0], [3.0, 0.0, 1.0], [0.1, 0.2, 3.0]]), [2, 0, 1]),
             "Average over the rows (the mean, not the sum): three equal logits give log 3 for "
             "that row."),
        Case((torch.tensor([[1000.0, 0.0], [0.0, 1000.0]]), [1, 1]), "Subtract each row's largest "
             "logit before exp (exp(1000) overflows to inf), or use log_softmax."),
    ),
    solution_code='''
import torch

def nll_from_logits(logits, targets):
    shifted = logits - logits.max(dim=1, keepdim=True).values  # exp never overflows now
    log_probs = shifted - torch.log(torch.exp(shifted).sum(dim=1, keepdim=True))
    right = log_probs[torch.arange(len(targets)), torch.tensor(targets)]
    return -right.mean().item()
''',
    mistakes=(
        Mistake(lambda lg, t: torch.log_softmax(lg, 1)[torch.arange(len(t)), torch.tensor(t)].mean().item(),
                "a positive number"),
        Mistake(lambda lg, t: F.cross_entropy(lg, torch.tensor(t), reduction="sum").item(), "the mean"),
        Mistake(_naive_nll, "largest logit"),
    ),
)

# --- 02.3 ------------------------------------------------------------------------------------

OVERFIT_OPTIONS = {
    "a": "its training loss is lower and its validation loss higher (it overfits)",
    "b": "both losses are lower",
    "c": "both losses are higher",
    "d": "its training loss is higher and its validation loss lower",
}


def _overfit_experiment() -> Measurement:
    from gptbook.bigram import CountingBigram, evaluate
    from gptbook.exercise_bank._text import char_data

    tok, train_ids, val_ids = char_data()
    small_ids, val_part = train_ids[:20_000], val_ids[:200_000]
    full = CountingBigram.fit(train_ids, tok.vocab_size, smoothing=0.01)
    small = CountingBigram.fit(small_ids, tok.vocab_size, smoothing=0.01)
    # each model on (part of) the text it was counted on, and on 200,000 validation characters
    full_train, small_train = evaluate(full, train_ids[:200_000]), evaluate(small, small_ids)
    full_val, small_val = evaluate(full, val_part), evaluate(small, val_part)
    lower_train, lower_val = small_train < full_train, small_val < full_val
    outcome = {(True, False): "a", (True, True): "b", (False, False): "c", (False, True): "d"}
    report = (
        f"counted on 20,000 characters: training loss {small_train:.2f}, validation {small_val:.2f}; "
        f"counted on all {len(train_ids):,}: training {full_train:.2f}, validation {full_val:.2f} "
        f"nats/char (validation: the first 200,000 characters; uniform guessing: "
        f"{math.log(tok.vocab_size):.2f})."
    )
    return Measurement(outcome[(lower_train, lower_val)], report)


OVERFIT = Predict(
    id="02.3",
    title="a bigram counted on 20,000 characters",
    statement="Count the bigram (alpha = 0.01) on only the first 20,000 characters of the training "
    "text. Compared with the bigram counted on all of it, what happens to its loss on the text it "
    "was counted on, and on the validation text?",
    options=OVERFIT_OPTIONS,
    experiment=_overfit_experiment,
    expected="a",
    why="A small text has few examples of each pair, so the counts fit its own quirks (rare pairs "
    "look common, many pairs never occur): a lower loss on those 20,000 characters, and a higher "
    "loss on new text, where pairs it never saw get almost no probability. That is overfitting; "
    "more data is the cure.",
    mistakes=(Mistake("b", "overfitting"), Mistake("c", "overfitting")),
)

# --- 02.4 ------------------------------------------------------------------------------------

WHY_ONE_HOT = Open(
    id="02.4",
    title="why one-hot, not the id itself",
    statement="Why do we feed a letter to the net as a one-hot vector, rather than its id as one "
    "number (а = 0, б = 1, ...)?",
    ideas=(
        Idea("ids are not sizes", ("order", "bigger", "larger", "greater", "magnitude", "size",
                                   "more than", "arbitrary", "meaningless"),
             "With the id as a number, is 'я' (id 31) 'more' than 'а' (id 0)? Does a weight times "
             "the id make sense?"),
        Idea("each letter gets its own weights", ("own", "separate", "independent", "row",
                                                  "each letter", "every letter"),
             "What does one_hot @ W pick out of W for each letter?"),
    ),
    answer_text="An id is a name, not an amount: 'я' = 31 is not 31 times 'б' = 1, and the order "
    "of the alphabet is arbitrary. A weight times the id would treat letters as sizes, so "
    "neighbouring ids would get similar outputs for no reason. A one-hot vector makes all letters "
    "equally far apart, and one_hot @ W picks out one row of W, so each letter gets its own, "
    "independent weights to learn.",
    mistakes=(
        Mistake("Because one-hot vectors are what PyTorch needs as input to a layer.",
                "'more' than"),
        Mistake("The id is arbitrary, so the order and size of the number mean nothing at all.",
                "one_hot @ W"),
    ),
)

EXERCISES = (ONE_HOT, NLL, OVERFIT, WHY_ONE_HOT)
