"""The fixed-window language model (Bengio et al., 2003): read the last few tokens, guess the next.

Each of the ``context`` tokens in the window is looked up in **one shared embedding table** (the
same letter gets the same vector wherever it sits), the vectors are **concatenated** into one long
vector, a hidden layer with ``tanh`` mixes them, and a last linear layer gives one logit per token
of the vocabulary. Softmax turns the logits into the probabilities of the next token.

Because the vectors are concatenated, position is already known to the model: slot 1 of the long
vector always holds the oldest token. ``positional=True`` adds a learned position vector to each
token's embedding anyway (as a transformer must, chapter 05); here that only shifts the hidden
layer's bias, which :func:`positional_shift` makes visible.

The model plugs into the helpers of :mod:`gptbook.bigram` (training, evaluation, sampling).
"""

from __future__ import annotations

import torch
from torch import nn

from gptbook.bigram import _check_context


class FixedWindowLM(nn.Module):
    """Windows ``x[B, context]`` of token ids -> logits ``[B, vocab_size]`` of the next token."""

    def __init__(
        self,
        vocab_size: int,
        context: int,
        d_embed: int = 16,
        d_hidden: int = 256,
        positional: bool = False,
    ) -> None:
        super().__init__()
        if context < 1:
            raise ValueError(f"The window size (context) must be at least 1, got {context}.")
        self.vocab_size, self.context = vocab_size, context
        self.embed = nn.Embedding(vocab_size, d_embed)  # shared by every position of the window
        self.pos = nn.Embedding(context, d_embed) if positional else None
        self.hidden = nn.Linear(context * d_embed, d_hidden)
        self.out = nn.Linear(d_hidden, vocab_size)

    def embed_window(self, x: torch.Tensor) -> torch.Tensor:
        """The window's vectors ``[B, context, d_embed]``: token embedding (plus position)."""
        if x.dim() != 2 or x.shape[1] != self.context:
            raise ValueError(
                f"FixedWindowLM reads windows of exactly {self.context} tokens, "
                f"shaped [batch, {self.context}]; "
                f"got a tensor of shape {tuple(x.shape)}."
            )
        e = self.embed(x)
        if self.pos is not None:
            e = e + self.pos(torch.arange(self.context, device=x.device))
        return e

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.hidden(self.embed_window(x).flatten(1)))  # concatenate, then mix
        return self.out(h)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())


def windows(ids: torch.Tensor, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every training example of a (short) text: windows ``x[N, context]`` and next tokens ``y[N]``,
    with ``N = len(ids) - context``. For long texts use :func:`gptbook.bigram.random_windows`."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    _check_context(ids, context)
    x = ids.unfold(0, context, 1)[:-1]
    return x, ids[context:]


@torch.no_grad()
def positional_shift(model: FixedWindowLM) -> torch.Tensor:
    """What the position vectors add to the hidden layer's input:
    ``W_hidden @ concat(pos_0, ..., pos_{T-1})``.

    The same vector for every window, whatever its tokens, so it acts as an extra bias."""
    if model.pos is None:
        raise ValueError(
            "This model was built with positional=False, so it has no position vectors."
        )
    return model.hidden.weight @ model.pos.weight.flatten()
