"""Chapter 06 (the decoder block): layer norm, counting a GPT's parameters, training without the
residual connection, and why the unembedding is tied to the embedding."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from gptbook.exercises import Case, Idea, Implement, Measurement, Mistake, Open, Predict

# --- 06.1 ------------------------------------------------------------------------------------


def _layer_norm(x: Tensor, g: Tensor, b: Tensor, eps: float = 1e-5) -> Tensor:
    return torch.nn.functional.layer_norm(x, x.shape[-1:], g, b, eps)


def _rand(*shape: int, seed: int, scale: float = 1.0, shift: float = 0.0) -> Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) * scale + shift


LAYER_NORM = Implement(
    id="06.1",
    title="layer norm",
    statement="layer_norm(x, g, b, eps=1e-5): normalise each vector along the last dimension of x "
    "to mean 0 and variance 1, then multiply by the scale g and add the shift b.",
    name="layer_norm",
    reference=_layer_norm,
    cases=(
        Case((_rand(2, 8, seed=0, scale=3, shift=5), torch.ones(8), torch.zeros(8)),
             "Per vector (the last dimension): subtract its mean, divide by sqrt(variance + eps). "
             "The variance divides by d, not d - 1 (unbiased=False).",
             "x of shape (2, 8), mean about 5, spread about 3; g = 1, b = 0"),
        Case((_rand(2, 3, 8, seed=1), _rand(8, seed=2), _rand(8, seed=3)), "After normalising, "
             "multiply by g and add b (one number per feature).",
             "x of shape (2, 3, 8); random g and b"),
        Case((torch.tensor([[1.0, 1.001, 1.0, 1.001]]), torch.ones(4), torch.zeros(4)),
             "eps goes inside the square root, added to the variance: sqrt(var + eps). A vector "
             "whose numbers are almost equal must not be blown up to ±1.",
             "x = [[1.0, 1.001, 1.0, 1.001]] (variance 2.5e-7), g = 1, b = 0"),
    ),
    solution_code='''
import torch

def layer_norm(x, g, b, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    var = x.var(dim=-1, keepdim=True, unbiased=False)  # divide by d
    return (x - mean) / torch.sqrt(var + eps) * g + b
''',
    mistakes=(
        Mistake(lambda x, g, b, eps=1e-5: (x - x.mean(-1, keepdim=True))
                / torch.sqrt(x.var(-1, keepdim=True) + eps) * g + b, "not d - 1"),
        Mistake(lambda x, g, b, eps=1e-5: (x - x.mean(-1, keepdim=True))
                / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + eps), "multiply by g"),
        Mistake(lambda x, g, b, eps=1e-5: (x - x.mean(-1, keepdim=True))
                / (x.std(-1, keepdim=True, unbiased=False) + eps) * g + b, "inside the square root"),
    ),
)

# --- 06.2 ------------------------------------------------------------------------------------


def _gpt_params(V: int, C: int, d: int, L: int) -> int:
    from gptbook.model import GPTConfig, count_params

    return count_params(GPTConfig(vocab_size=V, context=C, n_layer=L, n_head=1, d_model=d))["total"]


def _param_hint(got: object, expected: object, args: tuple) -> str:
    """Name the part that is missing or extra when the difference is exactly one of them."""
    V, C, d, L = args
    parts = {
        "the unembedding (V·d): it is tied to the token embedding, so count it once": V * d,
        "the token embedding (V·d)": V * d,
        "the position embedding (C·d)": C * d,
        "the layer norms inside the blocks (4d per block)": L * 4 * d,
        "the final layer norm (2d)": 2 * d,
        "the biases of the linear layers (9d per block)": L * 9 * d,
        "the MLP's 4x widening (the MLP has 8d² weights per block)": L * 6 * d * d,
    }
    try:
        diff = int(got) - int(expected)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return "Return the total as an int."
    for name, n in parts.items():
        if diff == n and name.startswith("the unembedding"):
            return f"You counted {diff:,} too many: {name}."
        if diff == -n and not name.startswith("the unembedding"):
            return f"You are {n:,} short: you left out {name}."
    return ("Add up the table of section 7: V·d (embedding, shared with the unembedding) + C·d "
            "(positions) + L·(12d² + 9d) (attention and MLP with their biases) + L·4d (two layer "
            "norms per block) + 2d (final layer norm).")


GPT_PARAMS = Implement(
    id="06.2",
    title="counting a GPT's parameters",
    statement="gpt_params(V, C, d, L): the number of parameters of the chapter's GPT (biases, layer "
    "norms with scale and shift, the unembedding tied to the embedding) with vocabulary V, "
    "context C, width d and L blocks.",
    name="gpt_params",
    reference=_gpt_params,
    cases=(
        Case((65, 32, 64, 4), _param_hint, "V = 65, C = 32, d = 64, L = 4"),
        Case((50257, 1024, 768, 12), _param_hint, "GPT-2 small: V = 50257, C = 1024, d = 768, L = 12"),
        Case((50257, 2048, 12288, 96), _param_hint,
             "GPT-3: V = 50257, C = 2048, d = 12288, L = 96"),
    ),
    solution_code='''
def gpt_params(V, C, d, L):
    per_block = (4 * d * d + 4 * d) + (8 * d * d + 5 * d) + 4 * d  # attention, MLP, 2 layer norms
    return V * d + C * d + L * per_block + 2 * d  # embeddings (tied), blocks, final layer norm
''',
    mistakes=(
        Mistake(lambda V, C, d, L: 2 * V * d + C * d + L * (12 * d * d + 13 * d) + 2 * d, "count it once"),
        Mistake(lambda V, C, d, L: V * d + L * (12 * d * d + 13 * d) + 2 * d, "position embedding"),
        Mistake(lambda V, C, d, L: V * d + C * d + L * (12 * d * d + 9 * d) + 2 * d, "layer norms"),
    ),
)

# --- 06.3 ------------------------------------------------------------------------------------


def _residual_loss(residual: bool, steps: int = 100) -> float:
    """Train a 6-block GPT of width 32 on Shakespeare's characters, with or without the residual
    connections; the mean training loss of the last 20 steps."""
    from gptbook.device import seed_everything
    from gptbook.exercise_bank._text import char_data
    from gptbook.model import GPT, Block, GPTConfig
    from gptbook.train import TokenDataset

    class NoResidualBlock(Block):
        def forward(self, x, cache=None, return_weights=False):  # type: ignore[override]
            a, weights = self.attn(self.ln_1(x), cache=cache, return_weights=return_weights)
            return self.mlp(self.ln_2(a)), weights  # replaces x instead of adding to it

    tok, train_ids, _ = char_data()
    data = TokenDataset(train_ids[:200_000], context=32)
    seed_everything(0)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, context=32, n_layer=6, n_head=2, d_model=32))
    if not residual:
        for block in model.transformer.h:
            block.__class__ = NoResidualBlock
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(steps):
        x, y = data.batch(16, generator=g)
        _, loss = model(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return sum(losses[-20:]) / 20


def _residual_experiment() -> Measurement:
    from gptbook.exercise_bank._text import char_data

    with_res, without = _residual_loss(True), _residual_loss(False)
    if without > with_res + 0.1:
        outcome = "higher"
    elif without < with_res - 0.1:
        outcome = "lower"
    else:
        outcome = "same"
    report = (
        f"training loss after 100 steps (mean of the last 20): with the residual connections "
        f"{with_res:.2f}, without them {without:.2f} nats/char (uniform guessing: "
        f"{math.log(char_data()[0].vocab_size):.2f})."
    )
    return Measurement(outcome, report)


NO_RESIDUAL = Predict(
    id="06.3",
    title="training without the residual",
    statement="Train a 6-block GPT of width 32 for 100 steps on Shakespeare's characters, once as "
    "built (x + f(x)) and once with every block replacing its input (x = f(x)). Without the "
    "residual connections, the loss after 100 steps is ...",
    options={
        "higher": "higher (by more than 0.1 nats/char): it learns more slowly",
        "same": "about the same",
        "lower": "lower: fewer additions, an easier model",
    },
    experiment=_residual_experiment,
    expected="higher",
    why="Without the '+', the signal and its gradient must pass through every block's layers; "
    "with small initial weights they shrink at each block, so the embeddings and lower blocks "
    "get almost no gradient and learning crawls. The residual stream carries the input and the "
    "gradient straight through, so every block learns from the first step.",
    mistakes=(Mistake("same", "gradient"), Mistake("lower", "gradient")),
)

# --- 06.4 ------------------------------------------------------------------------------------

TIED = Open(
    id="06.4",
    title="why tie the unembedding to the embedding",
    statement="The GPT uses the token embedding matrix again to turn its final vectors into logits "
    "(lm_head.weight = wte.weight). Give two reasons this is a good idea.",
    ideas=(
        Idea("it saves parameters", ("parameter", "weights", "fewer", "memory", "smaller", "save",
                                     "v·d", "v*d", "38"),
             "How many numbers does a separate V × d unembedding matrix hold for GPT-2 (V = 50,257, "
             "d = 768)?"),
        Idea("the same meaning on both ends", ("same", "similar", "both", "dot product", "match",
                                               "align", "meaning"),
             "The logit of token t is the dot product of the final vector with row t. What does a "
             "high logit then say about the final vector and token t's embedding?"),
    ),
    answer_text="First, it saves parameters: the V × d matrix is stored once instead of twice (38.6 "
    "million weights in GPT-2 small, almost a third of the model). Second, it gives both ends the "
    "same meaning: the logit of token t is the dot product of the final vector with t's embedding, "
    "so the model predicts t by producing a vector aligned with t's own embedding, and tokens with "
    "similar embeddings get similar scores. Rare tokens also get a gradient into their embedding "
    "at every step, through the output side.",
    mistakes=(Mistake("It is simpler to write the code that way.", "dot product"),),
)

EXERCISES = (LAYER_NORM, GPT_PARAMS, NO_RESIDUAL, TIED)
