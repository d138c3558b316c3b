"""Attention heatmaps with layer and head sliders (chapter 05).

:func:`attention_view` is the plain function: it encodes a text, runs the model once, and returns
the tokens and the attention weights of one layer and head. Row ``i`` of the ``T x T`` matrix says
how much token ``i`` looks at each token ``j <= i``; every row sums to 1. :func:`attention_figure`
draws it as a heatmap, :func:`attention_grid` draws every head of a layer side by side, and
:func:`attention_widget` is the ipywidgets layer: a text box, a layer
slider, a head slider, the heatmap and a one-line summary.

Bad input (an empty text, a layer or head that does not exist, text the tokenizer refuses) is
refused with :class:`AttentionInputError`; the widget shows its message instead of a heatmap. Long
texts are cut to their last ``max_tokens`` tokens so the heatmap stays readable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gptbook.tokenizers import TokenCodec
from gptbook.widgets import html as shared
from gptbook.widgets.html import WidgetInputError, token_label


class AttentionInputError(WidgetInputError):
    """Input the attention view cannot show: empty text, no such layer or head, unencodable text."""


@dataclass(frozen=True)
class AttentionView:
    """One head's attention over a text: ``weights[i, j]``, how much token ``i`` looks at ``j``."""

    text: str
    layer: int
    head: int
    ids: list[int]
    tokens: list[str]
    weights: np.ndarray  # (T, T), rows sum to 1, zero above the diagonal

    def summary(self) -> str:
        """Where the last token looks most, and how much of its attention a token keeps on itself.

        The share kept on itself is averaged over tokens 1 .. T-1: token 0 has nothing else to
        look at, so its weight on itself is always 1 and would only inflate the average.
        """
        last = self.weights[-1]
        j = int(last.argmax())
        head = (
            f"layer {self.layer}, head {self.head}: {len(self.tokens)} tokens. The last token "
            f"{self.tokens[-1]!r} looks most at token {j} {self.tokens[j]!r} ({last[j]:.0%})"
        )
        if len(self.tokens) == 1:
            return head + "; a single token can only look at itself."
        diag = float(np.diag(self.weights)[1:].mean())
        return head + (
            f"; tokens 1 to {len(self.tokens) - 1} give on average {diag:.0%} of their attention "
            "to themselves (token 0 can only look at itself)."
        )


def encode_text(model: Any, tokenizer: TokenCodec, text: str, max_tokens: int = 48) -> list[int]:
    """Token ids of ``text`` (its last ``max_tokens``, at most the model's context), or a clear
    error."""
    if not isinstance(text, str) or not text.strip():
        raise AttentionInputError(
            "The text is empty. Type a sentence to see how its tokens attend to each other."
        )
    try:
        ids = tokenizer.encode(text)
    except ValueError as e:
        raise AttentionInputError(f"The tokenizer cannot encode this text: {e}") from e
    if not ids:
        raise AttentionInputError("The text encodes to no tokens. Type a few words.")
    if max(ids) >= model.config.vocab_size:
        raise AttentionInputError(
            f"The text has token id {max(ids)}, but the model knows only "
            f"{model.config.vocab_size} tokens: use the tokenizer that belongs to this model."
        )
    return ids[-min(max_tokens, model.config.context):]


@torch.no_grad()
def all_attention(model: Any, ids: list[int]) -> np.ndarray:
    """Every layer's and head's weights for one sequence: shape ``(n_layer, n_head, T, T)``."""
    dev = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        maps = model.attention_weights(torch.tensor([ids], device=dev))
    finally:
        model.train(was_training)
    return maps[:, 0].float().cpu().numpy()


def _check_layer_head(model: Any, layer: int, head: int) -> None:
    n_layer, n_head = model.config.n_layer, model.config.n_head
    if not isinstance(layer, (int, np.integer)) or not 0 <= layer < n_layer:
        raise AttentionInputError(
            f"layer must be an integer from 0 to {n_layer - 1} (the model has {n_layer}), "
            f"got {layer!r}."
        )
    if not isinstance(head, (int, np.integer)) or not 0 <= head < n_head:
        raise AttentionInputError(
            f"head must be an integer from 0 to {n_head - 1} (each layer has {n_head}), "
            f"got {head!r}."
        )


def attention_view(
    model: Any,
    tokenizer: TokenCodec,
    text: str,
    layer: int = 0,
    head: int = 0,
    max_tokens: int = 48,
) -> AttentionView:
    """The attention weights of ``layer``/``head`` over the tokens of ``text``."""
    _check_layer_head(model, layer, head)
    ids = encode_text(model, tokenizer, text, max_tokens)
    maps = all_attention(model, ids)
    labels = [token_label(tokenizer, i) for i in ids]
    return AttentionView(text, int(layer), int(head), ids, labels, maps[layer, head])


def attention_figure(view: AttentionView, ax: Any = None) -> Any:
    """A heatmap of ``view``: rows are the tokens that look, columns the tokens looked at."""
    import matplotlib.pyplot as plt

    T = len(view.tokens)
    if ax is None:
        side = min(9.0, 2.5 + 0.22 * T)
        fig, ax = plt.subplots(figsize=(side, side))
    else:
        fig = ax.figure
    masked = np.ma.masked_where(np.triu(np.ones((T, T), dtype=bool), k=1), view.weights)
    im = ax.imshow(masked, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(T), view.tokens, rotation=90, fontsize=8, fontfamily="monospace")
    ax.set_yticks(range(T), view.tokens, fontsize=8, fontfamily="monospace")
    ax.set_xlabel("looked at (key)")
    ax.set_ylabel("looking (query)")
    ax.set_title(f"Attention weights of layer {view.layer}, head {view.head}", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="attention weight")
    fig.tight_layout()
    return fig


def attention_grid(weights: np.ndarray, tokens: list[str], layer: int, max_cols: int = 4) -> Any:
    """Every head of one layer side by side: ``weights`` is ``(n_head, T, T)``, ``tokens`` the
    ``T`` token labels. Each heatmap is labelled with its head, the outer axes carry the tokens
    (rows: the token that looks; columns: the token looked at) and one colour bar serves them all.
    The upper triangle, which the causal mask forbids, is left blank."""
    import matplotlib.pyplot as plt

    weights = np.asarray(weights)
    if weights.ndim != 3 or weights.shape[1:] != (len(tokens), len(tokens)):
        raise ValueError(
            f"attention_grid needs weights of shape (heads, T, T) with T = {len(tokens)} tokens, "
            f"got {weights.shape}."
        )
    n_head, T = weights.shape[0], len(tokens)
    cols = math.ceil(n_head / math.ceil(n_head / max_cols))  # rows evenly filled
    rows = math.ceil(n_head / cols)
    side = 2.2 + 0.07 * T
    fig, axes = plt.subplots(rows, cols, figsize=(side * cols + 1.2, side * rows + 0.9),
                             squeeze=False, layout="constrained")
    future = np.triu(np.ones((T, T), dtype=bool), k=1)
    small = max(4.5, min(8.0, 240 / T))  # tick font size (points): smaller for long texts
    im = None
    for hd, ax in enumerate(axes.flat):
        if hd >= n_head:
            ax.axis("off")
            continue
        im = ax.imshow(np.ma.masked_where(future, weights[hd]), cmap="viridis", vmin=0, vmax=1)
        ax.set_title(f"head {hd}", fontsize=9)
        r, c = divmod(hd, cols)
        if c == 0:
            ax.set_yticks(range(T), tokens, fontsize=small, fontfamily="monospace")
            ax.set_ylabel("looking (query)", fontsize=8)
        else:
            ax.set_yticks([])
        if r == rows - 1 or hd + cols >= n_head:  # the lowest heatmap of its column
            ax.set_xticks(range(T), tokens, rotation=90, fontsize=small, fontfamily="monospace")
            ax.set_xlabel("looked at (key)", fontsize=8)
        else:
            ax.set_xticks([])
    fig.colorbar(im, ax=axes, shrink=0.8, label="attention weight")
    fig.suptitle(f"Layer {layer}: the attention weights of each of its {n_head} heads", fontsize=11)
    return fig


def error_html(message: str) -> str:
    """A refused input, as the widget shows it."""
    return shared.error_html(message, "attention", "Cannot show")


def attention_widget(
    model: Any,
    tokenizer: TokenCodec,
    text: str,
    layer: int = 0,
    head: int = 0,
    max_tokens: int = 48,
) -> Any:
    """A text box and layer/head sliders over the attention heatmap. Returns the widget.

    The model runs once per text; moving a slider only picks another slice of the stored weights.
    """
    import ipywidgets as w

    box = w.Textarea(value=text, description="Text", continuous_update=False,
                     layout=w.Layout(width="95%"))
    layer_slider = w.IntSlider(value=layer, min=0, max=model.config.n_layer - 1,
                               description="Layer", continuous_update=False)
    head_slider = w.IntSlider(value=head, min=0, max=model.config.n_head - 1, description="Head",
                              continuous_update=False)
    chart = w.Image(format="png")
    out = w.HTML()
    box.add_class("gptbook-attention-text")
    layer_slider.add_class("gptbook-attention-layer")
    head_slider.add_class("gptbook-attention-head")
    chart.add_class("gptbook-attention-chart")
    out.add_class("gptbook-attention-output")
    state: dict[str, Any] = {}  # the text last run, its ids and weights

    def view() -> AttentionView:
        if state.get("text") != box.value:  # a new text: forget the old one, run the model
            state.clear()
            ids = encode_text(model, tokenizer, box.value, max_tokens)
            state.update(text=box.value, ids=ids, maps=all_attention(model, ids))
        ids, maps = state["ids"], state["maps"]
        layer, head = layer_slider.value, head_slider.value
        return AttentionView(box.value, layer, head, ids,
                             [token_label(tokenizer, i) for i in ids], maps[layer, head])

    def update(_: Any = None) -> None:  # a refused text hides the chart
        shared.show_chart(chart, out, "attention", view, attention_figure, error_html)

    for control in (box, layer_slider, head_slider):
        control.observe(update, names="value")
    update()
    ui = w.VBox([box, layer_slider, head_slider, out, chart])
    ui.add_class("gptbook-attention")
    return ui
