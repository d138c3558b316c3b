"""Chapter 03 (embeddings): cosine similarity, every training window of a text, the window model
with one character of context, and the limit of a fixed window."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gptbook.exercises import Case, Idea, Implement, Measurement, Mistake, Open, Predict

# --- 03.1 ------------------------------------------------------------------------------------


def _cosine(u: torch.Tensor, v: torch.Tensor) -> float:
    return F.cosine_similarity(u.cpu().double(), v.cpu().double(), dim=0).item()


T = torch.tensor
COSINE = Implement(
    id="03.1",
    title="cosine similarity",
    statement="cosine_sim(u, v): the cosine similarity of two 1-D tensors, as a float: 1 for the "
    "same direction, 0 at right angles, -1 for opposite directions.",
    name="cosine_sim",
    reference=_cosine,
    cases=(
        Case((T([1.0, 2.0]), T([2.0, 4.0])), "Divide the dot product by both lengths (norms): "
             "v = 2u points the same way, so the cosine is exactly 1 whatever the lengths."),
        Case((T([1.0, 0.0]), T([0.0, 3.0])), "Vectors at right angles have dot product 0."),
        Case((T([1.0, 2.0]), T([-1.0, -2.0])), "Opposite directions give -1: keep the sign."),
        Case((T([3.0, 4.0, 0.0]), T([4.0, 3.0, 1.0])), "u · v / (|u| |v|), with |u| = the square "
             "root of the sum of squares."),
    ),
    solution_code='''
def cosine_sim(u, v):
    return (u @ v / (u.norm() * v.norm())).item()
''',
    mistakes=(
        Mistake(lambda u, v: (u @ v).item(), "both lengths"),
        Mistake(lambda u, v: abs((u @ v / (u.norm() * v.norm())).item()), "keep the sign"),
    ),
)

# --- 03.2 ------------------------------------------------------------------------------------


def _windows(ids: torch.Tensor, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    from gptbook.window import windows

    return windows(ids, context)


def _one_too_many(ids, context):
    n = len(ids) - context + 1
    x = torch.stack([ids[i : i + context] for i in range(n)])
    return x, ids[context - 1 :]


def _last_of_window(ids, context):
    x = torch.stack([ids[i : i + context] for i in range(len(ids) - context)])
    return x, ids[context - 1 : -1]


WINDOWS = Implement(
    id="03.2",
    title="every training window",
    statement="make_windows(ids, context): every window of `context` ids from a 1-D tensor and the "
    "id that follows it: x of shape (len(ids) - context, context) and y of shape "
    "(len(ids) - context,).",
    name="make_windows",
    reference=_windows,
    prepare=lambda got: tuple(torch.as_tensor(t) for t in got),
    cases=(
        Case((torch.arange(6), 3), "Window i is ids[i : i + context] and its label is "
             "ids[i + context]: the id right after the window, not its last one. There are "
             "len(ids) - context windows: the last window still needs a next id.",
             "ids = [0, 1, 2, 3, 4, 5], context = 3"),
        Case((torch.tensor([7, 3, 9, 3]), 1), "With context 1 every id predicts the next one, as "
             "in the bigram.", "ids = [7, 3, 9, 3], context = 1"),
        Case((torch.tensor([5, 6, 7]), 2), "A text of context + 1 ids has exactly one window.",
             "ids = [5, 6, 7], context = 2"),
    ),
    solution_code='''
import torch

def make_windows(ids, context):
    n = len(ids) - context  # the last window must still have a next id
    x = torch.stack([ids[i : i + context] for i in range(n)])
    y = ids[context:]  # y[i] = ids[i + context], the id after window i
    return x, y
''',
    mistakes=(
        Mistake(_one_too_many, "still needs a next id"),
        Mistake(_last_of_window, "right after the window"),
    ),
)

# --- 03.3 ------------------------------------------------------------------------------------

CONTEXT_ONE_OPTIONS = {
    "better": "clearly better than the counting bigram (by more than 0.05 nats/char)",
    "same": "about as good as the bigram, or a little worse",
}


def _context_one_experiment() -> Measurement:
    from gptbook.bigram import CountingBigram, evaluate, train_next_token
    from gptbook.device import seed_everything
    from gptbook.exercise_bank._text import char_data
    from gptbook.window import FixedWindowLM

    tok, train_ids, val_ids = char_data()
    val_ids = val_ids[:50_000]
    bigram = evaluate(CountingBigram.fit(train_ids, tok.vocab_size, smoothing=0.01), val_ids)
    seed_everything(0)
    model = FixedWindowLM(tok.vocab_size, 1, d_embed=16, d_hidden=256)
    g = torch.Generator().manual_seed(0)
    train_next_token(model, train_ids, steps=200, batch_size=256, lr=0.02, generator=g)
    window = evaluate(model, val_ids)
    report = (
        f"validation loss (first 50,000 validation characters): window model with context 1, "
        f"{window:.3f}; counting bigram {bigram:.3f} nats/char (uniform guessing "
        f"{math.log(tok.vocab_size):.2f})."
    )
    return Measurement("better" if window < bigram - 0.05 else "same", report)


CONTEXT_ONE = Predict(
    id="03.3",
    title="the window model with one character",
    statement="Train the chapter's window model (embedding, tanh hidden layer of 256, output) with "
    "context = 1 for 200 steps. Will it beat the counting bigram on the validation text?",
    options=CONTEXT_ONE_OPTIONS,
    experiment=_context_one_experiment,
    expected="same",
    why="With one character of context the model can only learn P(next | current): the same thing "
    "the bigram counts. Counting already gives the best such table for the training text, so the "
    "embedding and hidden layer cannot do better; all of the window model's gain comes from seeing "
    "more characters, not from the network.",
    mistakes=(Mistake("better", "more characters"), Mistake("worse", "not one of the options")),
)

# --- 03.4 ------------------------------------------------------------------------------------

FIXED_WINDOW = Open(
    id="03.4",
    title="the limit of a fixed window",
    statement="Our window model sees 8 characters. What would it take for it to use a character "
    "200 places back, and why is that a poor way to get a long memory?",
    ideas=(
        Idea("a bigger window", ("window", "context"), "The model sees only what is in its window."),
        Idea("parameters grow with the window", ("parameter", "weight", "grow", "larger", "bigger",
                                                 "more numbers"),
             "The hidden layer's weight matrix has context × d_embed columns: what happens to it "
             "when the window grows 25 times?"),
        Idea("each slot learns alone", ("slot", "position", "separate", "share", "own"),
             "In the concatenated vector, a word 3 places back and the same word 4 places back "
             "meet different weights: does what one slot learns help the other?"),
    ),
    answer_text="It would need a window of 200 characters: the concatenated input would be "
    "200 × 16 numbers and the hidden layer's weight matrix 25 times larger, so the parameters grow "
    "with the window. Worse, every slot has its own weights: what the model learns about a word "
    "3 places back does not carry over to the same word 4 places back, so it needs far more data. "
    "Attention (chapter 05) shares the same weights across all positions and lets the content "
    "decide where to look, so the window can grow without new weights.",
    mistakes=(
        Mistake("Give it a window of 200 characters and train it longer on more text.", "weight matrix"),
    ),
)

EXERCISES = (COSINE, WINDOWS, CONTEXT_ONE, FIXED_WINDOW)
