"""The temperature slider: a prompt, a temperature, and the model's next-token distribution as bars.

:func:`next_token_view` is the plain function (chapter 07 calls it in a checked cell): it encodes
the prompt, runs the model once, divides the last logits by the temperature, and returns the most
likely next tokens with their probabilities, the sum of *all* probabilities (1, up to rounding) and
the distribution's entropy. :func:`view_figure` draws it as a bar chart; :func:`temperature_widget`
is the ipywidgets layer (a text box, a slider, the chart and a summary line).

Which prompts are refused, and why (the rule every prompt box of the book follows). A prompt is
used if it is not empty, the tokenizer can encode it, and every character of it occurs in the
model's training text. A byte-level BPE can encode *any* text, but the book's model learned from
Shakespeare's works, which are plain ASCII: a Cyrillic or Chinese letter or an emoji reaches it as
byte tokens it was never trained on, and its predictions after them mean nothing. A character
tokenizer refuses such characters by itself (they are not in its vocabulary). :func:`check_prompt`
applies the rule and raises :class:`PromptError` naming the characters; pass ``alphabet=None`` to
allow any text the tokenizer encodes (for a model trained on other text). The widgets show the
message instead of a chart.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from gptbook.sampling import next_token_probs
from gptbook.tokenizers import TokenCodec
from gptbook.widgets import html as shared
from gptbook.widgets.html import WidgetInputError, token_label

__all__ = [
    "NextTokenView", "PromptError", "check_alphabet", "check_prompt", "entropy_curve", "error_html",
    "next_token_view", "prompt_controls", "temperature_widget", "token_label", "training_alphabet",
    "view_figure",
]


class PromptError(WidgetInputError):
    """A prompt the widget cannot use: empty, or with characters the model never saw."""


@functools.cache
def training_alphabet() -> frozenset[str]:
    """Every character of the Shakespeare training text: the characters the base model has seen."""
    from gptbook.data import shakespeare_split

    return frozenset(shakespeare_split()[0])


def check_alphabet(prompt: str, alphabet: Iterable[str]) -> None:
    """Raise :class:`PromptError` naming the characters of ``prompt`` that are not in ``alphabet``
    (the characters of the model's training text). The command line uses it too."""
    known = alphabet if isinstance(alphabet, (set, frozenset)) else set(alphabet)
    unseen = sorted({c for c in prompt if c not in known})
    if unseen:
        shown = ", ".join(repr(c) for c in unseen[:10]) + (" ..." if len(unseen) > 10 else "")
        raise PromptError(
            "The model never saw these characters in its training text (Shakespeare, plain "
            f"ASCII): {shown}. The tokenizer could split them into bytes, but the model has "
            "not learned what follows them. Use English letters, digits and punctuation."
        )


def check_prompt(
    prompt: str, tokenizer: TokenCodec, alphabet: Iterable[str] | None = None
) -> list[int]:
    """Encode ``prompt``, or raise :class:`PromptError` with a message a reader can act on.

    Refused: a prompt that is not a string or is empty (or only spaces), a prompt with characters
    not in ``alphabet`` (the characters of the training text; ``None`` skips the check), and
    anything the tokenizer itself refuses (e.g. a special token such as ``<|endoftext|>`` it
    does not allow).
    """
    if not isinstance(prompt, str):
        raise PromptError(f"The prompt must be text (a str), got {type(prompt).__name__}.")
    if not prompt.strip():
        raise PromptError(
            "The prompt is empty. Type a few words for the model to continue, e.g. 'Romeo.'."
        )
    if alphabet is not None:
        check_alphabet(prompt, alphabet)
    try:
        ids = tokenizer.encode(prompt)
    except ValueError as e:  # e.g. a special token it does not allow, an unknown character
        raise PromptError(f"The tokenizer cannot encode this prompt: {e}") from e
    if not ids:
        raise PromptError(
            "The prompt encodes to no tokens. Type a few words for the model to continue."
        )
    return ids


@dataclass(frozen=True)
class NextTokenView:
    """What the slider shows: the ``top`` likeliest tokens after ``prompt`` at ``temperature``."""

    prompt: str
    temperature: float
    ids: list[int]
    labels: list[str]
    probs: list[float]
    total: float  # the sum of the probabilities of the whole vocabulary: 1 up to rounding
    entropy_bits: float  # the distribution's entropy in bits; 2**entropy_bits is "how many choices"
    vocab_size: int

    @property
    def shown(self) -> float:
        """Probability of the tokens shown."""
        return sum(self.probs)

    def summary(self) -> str:
        """One line: the sum of all probabilities, the share shown, the number of choices."""
        return (
            f"T = {self.temperature:.2f}: the {len(self.ids)} bars hold {self.shown:.1%} of the "
            f"probability; all {self.vocab_size:,} probabilities sum to {self.total:.4f}; entropy "
            f"{self.entropy_bits:.2f} bits "
            f"(like choosing among {2 ** self.entropy_bits:.1f} tokens)."
        )


@torch.no_grad()
def next_token_view(
    model: Any,
    tokenizer: TokenCodec,
    prompt: str,
    temperature: float = 1.0,
    top: int = 10,
    alphabet: Iterable[str] | None = None,
) -> NextTokenView:
    """The ``top`` most likely next tokens after ``prompt`` at ``temperature``, best first.

    Raises :class:`PromptError` for a prompt :func:`check_prompt` refuses, and a ``ValueError``
    subclass for a temperature that is negative or not a number, a ``top`` below 1, or a model
    whose output is not finite (NaN or infinite weights). Any tiny temperature > 0 works: it tends
    to the argmax. A prompt longer than the model's context is cropped to its last ``context``
    tokens, as in generation.
    """
    if not isinstance(top, int) or isinstance(top, bool) or top < 1:
        raise WidgetInputError(f"top must be an integer >= 1, got {top!r}.")
    ids = check_prompt(prompt, tokenizer, alphabet)
    dev = next(model.parameters()).device
    probs = next_token_probs(model, torch.tensor([ids], device=dev), temperature)[0].cpu().double()
    if not bool(torch.isfinite(probs).all()) or abs(float(probs.sum()) - 1) > 1e-3:
        raise WidgetInputError(
            f"At temperature {temperature!r} the model's next-token probabilities are not finite "
            "numbers that sum to 1, so there is nothing to show. Its weights are probably corrupt "
            "(NaN or infinite): reload the model from a good checkpoint."
        )
    best = torch.topk(probs, min(top, probs.numel()))
    nonzero = probs[probs > 0]
    entropy = float(-(nonzero * nonzero.log2()).sum())
    return NextTokenView(
        prompt=prompt,
        temperature=float(temperature),
        ids=best.indices.tolist(),
        labels=[token_label(tokenizer, i) for i in best.indices.tolist()],
        probs=best.values.tolist(),
        total=float(probs.sum()),
        entropy_bits=entropy if entropy > 0 else 0.0,  # never -0.0 (a one-token distribution)
        vocab_size=probs.numel(),
    )


def view_figure(view: NextTokenView, ax: Any = None, title: str | None = None) -> Any:
    """A horizontal bar chart of ``view`` (likeliest at the top), probabilities on the bars.

    ``title`` replaces the default title (the prompt and the temperature): side-by-side charts of
    one prompt put the prompt once above them all and only ``"T = ..."`` on each."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 0.32 * len(view.ids) + 1.2))
    else:
        fig = ax.figure
    y = list(range(len(view.ids)))[::-1]
    ax.barh(y, view.probs, color="#4c72b0")
    labels = [f"{label!s} ({i})" for label, i in zip(view.labels, view.ids)]
    ax.set_yticks(y, labels, fontfamily="monospace")
    for yy, p in zip(y, view.probs):
        ax.text(min(p, 0.82) + 0.01, yy, f"{p:.3f}", va="center", fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("probability of being the next token")
    if title is None:
        prompt = view.prompt if len(view.prompt) <= 40 else "…" + view.prompt[-39:]
        title = f"after {prompt!r} at T = {view.temperature:.2f}"
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def error_html(message: str) -> str:
    """A refused prompt or setting, as the widget shows it."""
    return shared.error_html(message, "temperature", "Cannot show")


def prompt_controls(prompt: str, temperature: float, max_temperature: float) -> tuple[Any, Any]:
    """The prompt box and the temperature slider (0 to ``max_temperature``) that this widget and
    the generator of :mod:`gptbook.widgets.generate` share."""
    import ipywidgets as w

    box = w.Textarea(value=prompt, description="Prompt", continuous_update=False,
                     layout=w.Layout(width="95%"))
    slider = w.FloatSlider(
        value=temperature, min=0.0, max=max_temperature, step=0.05, description="Temperature",
        continuous_update=False, readout_format=".2f", style={"description_width": "initial"},
    )
    return box, slider


def temperature_widget(
    model: Any,
    tokenizer: TokenCodec,
    prompt: str = "Juliet.\nO Romeo, Romeo! wherefore art thou",
    temperature: float = 1.0,
    top: int = 10,
    alphabet: Iterable[str] | None | str = "training",
    max_temperature: float = 2.0,
) -> Any:
    """A prompt box and a temperature slider (0 to ``max_temperature``) over the bar chart.

    ``alphabet="training"`` (the default) refuses characters outside the Shakespeare training text;
    pass your own set of characters, or ``None`` to allow everything. Returns the widget.
    """
    import ipywidgets as w

    known = training_alphabet() if alphabet == "training" else alphabet
    box, slider = prompt_controls(prompt, temperature, max_temperature)
    chart = w.Image(format="png")
    out = w.HTML()
    box.add_class("gptbook-temperature-prompt")
    slider.add_class("gptbook-temperature-slider")
    chart.add_class("gptbook-temperature-chart")
    out.add_class("gptbook-temperature-output")

    def update(_: Any = None) -> None:
        shared.show_chart(  # PromptError, a setting out of range, a broken model: no chart
            chart, out, "temperature",
            lambda: next_token_view(model, tokenizer, box.value, slider.value, top, known),
            view_figure, error_html,
        )

    box.observe(update, names="value")
    slider.observe(update, names="value")
    update()
    ui = w.VBox([box, slider, out, chart])
    ui.add_class("gptbook-temperature")
    return ui


def entropy_curve(
    model: Any, tokenizer: TokenCodec, prompt: str, temperatures: Iterable[float]
) -> list[float]:
    """The entropy (bits) of the next-token distribution at each temperature: it rises with T."""
    return [next_token_view(model, tokenizer, prompt, t, top=1).entropy_bits for t in temperatures]

