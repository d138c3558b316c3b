"""Chapter 08 (pretraining): a training window and its labels, the learning-rate schedule,
overfitting 20,000 characters, and how the validation text is chosen."""

from __future__ import annotations

import math

import torch

from gptbook.exercises import Case, Idea, Implement, Measurement, Mistake, Open, Predict

# --- 08.1 ------------------------------------------------------------------------------------


def _window(ids: torch.Tensor, context: int, i: int) -> tuple[torch.Tensor, torch.Tensor]:
    from gptbook.train import TokenDataset

    return TokenDataset(ids, context)[i]


WINDOW = Implement(
    id="08.1",
    title="a window and its labels",
    statement="window_and_labels(ids, context, i): window i of a 1-D tensor of token ids: the "
    "inputs x (context ids starting at i) and the labels y (at every position, the id that comes "
    "next).",
    name="window_and_labels",
    reference=_window,
    prepare=lambda got: tuple(torch.as_tensor(t) for t in got),
    cases=(
        Case((torch.arange(10, 20), 4, 0), "x = ids[i : i + context] and y is x shifted by one: "
             "y = ids[i + 1 : i + context + 1]. Every position has a label, not only the last.",
             "ids = [10, 11, ..., 19], context = 4, i = 0"),
        Case((torch.arange(10, 20), 4, 3), "Window i starts at ids[i]: windows slide by one id, they "
             "are not consecutive blocks of `context` ids.",
             "ids = [10, 11, ..., 19], context = 4, i = 3"),
        Case((torch.arange(10, 20), 4, 5), "The last window (i = len(ids) - context - 1) ends with "
             "the last id as its last label.", "ids = [10, 11, ..., 19], context = 4, i = 5"),
    ),
    solution_code='''
def window_and_labels(ids, context, i):
    chunk = ids[i : i + context + 1]  # context inputs and one more id
    return chunk[:-1], chunk[1:]  # the labels are the inputs shifted by one
''',
    mistakes=(
        Mistake(lambda ids, c, i: (ids[i : i + c], ids[i + c]), "shifted by one"),
        Mistake(lambda ids, c, i: (ids[i : i + c], ids[i : i + c]), "shifted by one"),
        Mistake(lambda ids, c, i: (ids[i * c : i * c + c], ids[i * c + 1 : i * c + c + 1]), "slide by one"),
    ),
)

# --- 08.2 ------------------------------------------------------------------------------------


def _lr(step: int, total: int, peak: float, warmup: int, final: float) -> float:
    from gptbook.optim import lr_at

    return lr_at(step, total, peak, warmup=warmup, final=final)


def _lr_solution(step, total, peak, warmup, final):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return final + (peak - final) * 0.5 * (1 + math.cos(math.pi * progress))


def _warmup_from_zero(step, total, peak, warmup, final):
    if step < warmup:
        return peak * step / warmup
    return _lr_solution(step, total, peak, warmup, final)


def _linear_decay(step, total, peak, warmup, final):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return peak + (final - peak) * progress


def _no_floor(step, total, peak, warmup, final):
    if step < warmup:
        return peak * (step + 1) / warmup
    return final + (peak - final) * 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))


LR_SCHEDULE = Implement(
    id="08.2",
    title="warm-up, then cosine decay",
    statement="lr_schedule(step, total, peak, warmup, final): the learning rate of step `step` "
    "(from 0): a linear warm-up to `peak` over the first `warmup` steps, then half a cosine from "
    "`peak` down to `final` at step `total`, and `final` after that.",
    name="lr_schedule",
    reference=_lr,
    cases=(
        Case((0, 100, 1e-3, 10, 1e-4), "Warm-up: step s < warmup gets peak · (s + 1) / warmup, so "
             "the very first step is not 0 (a step with rate 0 would be wasted).",
             "step 0 of 100, peak 1e-3, warm-up 10, final 1e-4"),
        Case((10, 100, 1e-3, 10, 1e-4), "The decay starts at `peak` on the first step after the "
             "warm-up.", "step 10 of 100, peak 1e-3, warm-up 10, final 1e-4"),
        Case((32, 100, 1e-3, 10, 1e-4), "The decay follows half a cosine, not a straight line: "
             "final + (peak - final) · (1 + cos(π · progress)) / 2, with progress = (step - warmup) "
             "/ (total - warmup).", "step 32 of 100 (a quarter of the decay), peak 1e-3, warm-up "
             "10, final 1e-4"),
        Case((150, 100, 1e-3, 10, 1e-4), "After step `total` the rate stays at `final`: do not let "
             "the cosine come back up.", "step 150 of 100, peak 1e-3, warm-up 10, final 1e-4"),
    ),
    solution_code='''
import math

def lr_schedule(step, total, peak, warmup, final):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))  # 0 -> 1, then stays at 1
    return final + (peak - final) * 0.5 * (1 + math.cos(math.pi * progress))
''',
    mistakes=(
        Mistake(_warmup_from_zero, "(s + 1)"),
        Mistake(_linear_decay, "half a cosine"),
        Mistake(_no_floor, "stays at `final`"),
    ),
)

# --- 08.3 ------------------------------------------------------------------------------------


def _overfit_experiment() -> Measurement:
    from gptbook.device import seed_everything
    from gptbook.exercise_bank._text import char_data
    from gptbook.model import GPT, GPTConfig
    from gptbook.train import TokenDataset, estimate_loss

    tok, train_ids, val_ids = char_data()
    train = TokenDataset(train_ids[:20_000], context=32)
    val = TokenDataset(val_ids[:200_000], context=32)
    seed_everything(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, context=32, n_layer=2, n_head=2, d_model=64))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(300):
        x, y = train.batch(32, generator=g)
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    train_loss = estimate_loss(model, train, batch_size=32, iters=10, seed=1)
    val_loss = estimate_loss(model, val, batch_size=32, iters=10, seed=1)
    report = (
        f"after 300 steps of 32 windows of 32 characters (about 15 passes over the 20,000): "
        f"training loss {train_loss:.2f}, validation loss {val_loss:.2f} nats/char (uniform "
        f"guessing: {math.log(tok.vocab_size):.2f})."
    )
    return Measurement("gap" if val_loss > train_loss + 0.15 else "close", report)


OVERFIT = Predict(
    id="08.3",
    title="pretraining on 20,000 characters",
    statement="Train a small GPT (2 blocks, width 64, context 32) for 300 steps on only the first "
    "20,000 characters of the training text, then measure the loss on those characters and on "
    "the validation text.",
    options={
        "gap": "the validation loss ends clearly above the training loss (by more than 0.15)",
        "close": "the two stay within 0.15 of each other",
    },
    experiment=_overfit_experiment,
    expected="gap",
    why="300 steps of 32 × 32 characters go over the same 20,000 characters about 15 times: the "
    "model starts to memorise them (overfits), so its training loss keeps falling while the "
    "validation loss, on text it never saw, stays higher. The book's base model sees millions of "
    "characters and only a few passes, so its two losses stay close.",
    mistakes=(Mistake("close", "memorise"),),
)

# --- 08.4 ------------------------------------------------------------------------------------

VALIDATION = Open(
    id="08.4",
    title="choosing the validation text",
    statement="The book holds out the last 10% of every work as validation text. Why not simply "
    "pick 10% of the lines at random?",
    ideas=(
        Idea("neighbouring lines are alike", ("neighbo", "next to", "adjacent", "nearby", "around",
                                              "same scene", "same speech", "surrounding", "context"),
             "A line picked at random sits between two lines that stay in the training text. "
             "What do those lines share with it?"),
        Idea("the score would be too good", ("leak", "too good", "too optimistic", "optimistic",
                                             "memor", "overestimat", "underestimat", "inflat",
                                             "cheat", "already seen", "seen"),
             "If the model saw almost the same text in training, what does a low validation loss "
             "then measure?"),
    ),
    answer_text="Random lines leak: each held-out line sits between training lines of the same "
    "scene, with the same speaker names, rhymes and repeated phrases, so the model has in effect "
    "already seen much of it. The validation loss would then be too optimistic and would hide "
    "overfitting. Holding out a contiguous block at the end of every work keeps the validation "
    "text genuinely unseen while still covering every play's style and vocabulary.",
    mistakes=(
        Mistake("Because random lines would make the validation set too small.", "What do those lines share"),
    ),
)

EXERCISES = (WINDOW, LR_SCHEDULE, OVERFIT, VALIDATION)
