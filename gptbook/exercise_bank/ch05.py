"""Chapter 05 (attention): the causal mask, one attention head, what the loss does without the
mask, and why a model that peeks cannot generate."""

from __future__ import annotations

import math

import torch
from torch import nn

from gptbook.exercises import Case, Idea, Implement, Measurement, Mistake, Open, Predict

# --- 05.1 ------------------------------------------------------------------------------------


def _may_attend(t: int) -> torch.Tensor:
    from gptbook.attention import causal_mask

    return causal_mask(t, t)


MAY_ATTEND = Implement(
    id="05.1",
    title="the causal mask",
    statement="may_attend(T): a (T, T) boolean tensor, True at [i, j] where token i may look at "
    "token j: itself and the tokens before it.",
    name="may_attend",
    reference=_may_attend,
    prepare=lambda got: torch.as_tensor(got).bool(),
    cases=(
        Case((1,), "One token may look at itself: [[True]]."),
        Case((3,), "Row i is the query token i: it may see tokens 0 to i, itself included, and "
             "never a later one. That is the lower triangle with its diagonal."),
        Case((5,), "torch.tril of a (T, T) tensor of ones, as booleans."),
    ),
    solution_code='''
import torch

def may_attend(T):
    return torch.tril(torch.ones(T, T, dtype=torch.bool))
''',
    mistakes=(
        Mistake(lambda t: torch.tril(torch.ones(t, t, dtype=torch.bool), diagonal=-1), "itself"),
        Mistake(lambda t: torch.triu(torch.ones(t, t, dtype=torch.bool)), "never a later one"),
    ),
)

# --- 05.2 ------------------------------------------------------------------------------------


def _head(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    from gptbook.attention import attend

    return attend(q, k, v, causal=True)[0]


def _qkv(t: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(t, d, generator=g) for _ in range(3))  # type: ignore[return-value]


def _no_mask(q, k, v):
    return torch.softmax(q @ k.T / math.sqrt(q.size(-1)), dim=-1) @ v


def _no_scale(q, k, v):
    t = q.size(0)
    scores = (q @ k.T).masked_fill(~torch.tril(torch.ones(t, t, dtype=torch.bool)), float("-inf"))
    return torch.softmax(scores, dim=-1) @ v


def _mask_after_softmax(q, k, v):
    t = q.size(0)
    w = torch.softmax(q @ k.T / math.sqrt(q.size(-1)), dim=-1)
    return (w * torch.tril(torch.ones(t, t))) @ v


ATTENTION_HEAD = Implement(
    id="05.2",
    title="one causal attention head",
    statement="attention_head(q, k, v): q, k, v are (T, d); return the (T, d) output of causal "
    "attention: scores q kᵀ / √d, the future masked to -inf, softmax over each row, weights @ v.",
    name="attention_head",
    reference=_head,
    cases=(
        Case(_qkv(1, 4, 0), "A single token can only attend to itself: its output is its own value.",
             "q, k, v of shape (1, 4) (seed 0)"),
        Case(_qkv(4, 1, 1), "Mask the future: before the softmax, set the scores of later tokens "
             "(j > i) to -inf, so their weights are exactly 0.", "q, k, v of shape (4, 1) (seed 1)"),
        Case(_qkv(4, 16, 2), "Divide the scores by √d (here √16 = 4), so they keep variance about "
             "1 whatever the head size.", "q, k, v of shape (4, 16) (seed 2)"),
        Case(_qkv(6, 8, 3), "Mask before the softmax, not after: zeroing weights after the softmax "
             "leaves rows that no longer sum to 1.", "q, k, v of shape (6, 8) (seed 3)"),
    ),
    solution_code='''
import math
import torch

def attention_head(q, k, v):
    T, d = q.shape
    scores = q @ k.T / math.sqrt(d)
    future = ~torch.tril(torch.ones(T, T, dtype=torch.bool))
    scores = scores.masked_fill(future, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v
''',
    mistakes=(
        Mistake(_no_mask, "Mask the future"),
        Mistake(_no_scale, "√d"),
        Mistake(_mask_after_softmax, "before the softmax"),
    ),
)

# --- 05.3 ------------------------------------------------------------------------------------


class _TinyAttentionLM(nn.Module):
    """Embeddings (token + position), one attention head, a residual and an output layer."""

    def __init__(self, vocab_size: int, context: int, d: int, causal: bool):
        super().__init__()
        self.causal = causal
        self.tok, self.pos = nn.Embedding(vocab_size, d), nn.Embedding(context, d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, vocab_size)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        from gptbook.attention import attend

        x = self.tok(idx) + self.pos(torch.arange(idx.size(1)))
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        if self.causal:
            y = attend(q, k, v, causal=True)[0]
        else:
            y = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1) @ v
        return self.out(x + y)


def _mask_loss(causal: bool, steps: int = 150) -> float:
    """Train the tiny model on Shakespeare's characters; the mean loss of the last 20 steps."""
    import torch.nn.functional as F

    from gptbook.device import seed_everything
    from gptbook.exercise_bank._text import char_data
    from gptbook.train import TokenDataset

    tok, train_ids, _ = char_data()
    data = TokenDataset(train_ids[:200_000], context=32)
    seed_everything(0)
    model = _TinyAttentionLM(tok.vocab_size, 32, 32, causal)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(steps):
        x, y = data.batch(32, generator=g)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return sum(losses[-20:]) / 20


def _mask_experiment() -> Measurement:
    from gptbook.exercise_bank._text import char_data

    vocab_size = char_data()[0].vocab_size
    masked, unmasked = _mask_loss(True), _mask_loss(False)
    if unmasked < masked - 0.3:
        outcome = "lower"
    elif unmasked > masked + 0.3:
        outcome = "higher"
    else:
        outcome = "same"
    report = (
        f"training loss after 150 steps (mean of the last 20): with the mask {masked:.2f}, without "
        f"it {unmasked:.2f} nats/char (uniform guessing: {math.log(vocab_size):.2f})."
    )
    return Measurement(outcome, report)


NO_MASK = Predict(
    id="05.3",
    title="training without the mask",
    statement="Train a one-head attention model on Shakespeare's characters for 150 steps, once "
    "with the causal mask and once without it. Without the mask, the training loss is ...",
    options={
        "lower": "much lower (by more than 0.3 nats/char)",
        "same": "about the same",
        "higher": "much higher",
    },
    experiment=_mask_experiment,
    expected="lower",
    why="Without the mask, position i can attend to position i + 1, which is exactly the token it "
    "must predict: the head learns to copy it, and the loss falls far below what any honest "
    "model reaches. The loss 'cheats'; the model has learned nothing it can use to generate.",
    mistakes=(Mistake("same", "copy"), Mistake("higher", "copy")),
)

# --- 05.4 ------------------------------------------------------------------------------------

PEEKING = Open(
    id="05.4",
    title="why a model that peeks cannot write",
    statement="The model trained without the mask (05.3) has a much lower training loss. Why is it "
    "useless for generating text?",
    ideas=(
        Idea("the next token is not there yet", ("future", "not there", "not yet", "doesn't exist",
                                                 "does not exist", "unknown", "isn't there",
                                                 "is not there", "not available"),
             "When the model generates, what is at position i + 1 while it predicts it?"),
        Idea("it learned to copy, not to predict", ("copy", "copies", "cheat", "peek", "look ahead",
                                                    "looks ahead", "answer"),
             "What did the low loss come from during training?"),
    ),
    answer_text="During training the unmasked model could see the next token, so it learned to copy "
    "it: the low loss measures peeking, not prediction. When generating, the next token does not "
    "exist yet (the model itself must produce it), so the thing it learned to rely on is missing, "
    "and its predictions are poor. The mask makes training match generation: each position only "
    "sees the past, in both.",
    mistakes=(
        Mistake("Because it overfits the training text and does not generalise to new text.",
                "What did the low loss come from"),
    ),
)

EXERCISES = (MAY_ATTEND, ATTENTION_HEAD, NO_MASK, PEEKING)
