"""The generator of chapter 00: type a prompt, pick a temperature, read what the model writes.

:func:`generate_text` is the plain function (the chapters call it in a checked cell): it checks and
encodes the prompt (see :func:`gptbook.widgets.temperature.check_prompt` for what is refused and
why), runs :func:`gptbook.sampling.generate` with a seeded generator, so the same inputs always give
the same text, and returns the continuation. Bad input raises a ``ValueError`` subclass with a
message (see :mod:`gptbook.widgets.html`). :func:`generate_widget` is the ipywidgets layer: a
prompt box, a temperature slider, a length slider, a seed and the text, prompt in bold.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch

from gptbook.sampling import generate
from gptbook.tokenizers import TokenCodec
from gptbook.widgets import html as shared
from gptbook.widgets.html import WidgetInputError
from gptbook.widgets.temperature import check_prompt, prompt_controls, training_alphabet


@dataclass(frozen=True)
class Generation:
    """A prompt, the text the model added, and how it was made."""

    prompt: str
    continuation: str
    new_tokens: int
    temperature: float
    seed: int

    @property
    def text(self) -> str:
        return self.prompt + self.continuation


def generate_text(
    model: Any,
    tokenizer: TokenCodec,
    prompt: str,
    temperature: float = 0.8,
    max_new_tokens: int = 60,
    seed: int = 0,
    top_k: int | None = None,
    alphabet: Iterable[str] | None = None,
) -> Generation:
    """Continue ``prompt`` by ``max_new_tokens`` tokens sampled at ``temperature`` (0 = greedy).

    The same ``seed`` gives the same text on the same machine. Raises
    :class:`~gptbook.widgets.temperature.PromptError` for a prompt the model cannot use, and a
    ``ValueError`` subclass for a setting out of range (a negative or non-finite temperature, a
    negative length) or a model whose output is not finite.
    """
    ids = check_prompt(prompt, tokenizer, alphabet)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise WidgetInputError(f"seed must be an integer, got {seed!r}.")
    dev = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    out = generate(model, torch.tensor([ids], device=dev), max_new_tokens, temperature=temperature,
                   top_k=top_k, generator=gen)
    new = out[0, len(ids):].tolist()
    return Generation(prompt, tokenizer.decode(new), len(new), float(temperature), seed)


def generation_html(g: Generation) -> str:
    """The prompt in bold and the model's text after it, line breaks kept."""
    return (
        '<pre class="gptbook-generate-text" style="white-space:pre-wrap;font-size:0.95em">'
        f"<b>{html.escape(g.prompt)}</b>{html.escape(g.continuation)}</pre>"
        f'<p class="gptbook-generate-summary" style="color:#555">{g.new_tokens} new tokens at '
        f"temperature {g.temperature:.2f}, seed {g.seed}.</p>"
    )


def error_html(message: str) -> str:
    """A refused prompt or setting, as the widget shows it."""
    return shared.error_html(message, "generate", "Cannot generate")


def generate_widget(
    model: Any,
    tokenizer: TokenCodec,
    prompt: str = "Romeo.\n",
    temperature: float = 0.8,
    max_new_tokens: int = 60,
    alphabet: Iterable[str] | None | str = "training",
    max_temperature: float = 2.0,
) -> Any:
    """Prompt box, temperature slider (0 to ``max_temperature``), length slider, seed, and the text.

    ``alphabet="training"`` (the default) refuses characters outside the Shakespeare training text;
    pass your own set, or ``None`` to allow everything. Returns the widget.
    """
    import ipywidgets as w

    known = training_alphabet() if alphabet == "training" else alphabet
    box, temp = prompt_controls(prompt, temperature, max_temperature)
    length = w.IntSlider(value=max_new_tokens, min=1, max=200, description="New tokens",
                         continuous_update=False, style={"description_width": "initial"})
    seed = w.IntText(value=0, description="Seed")
    out = w.HTML()
    box.add_class("gptbook-generate-prompt")
    temp.add_class("gptbook-generate-temperature")
    length.add_class("gptbook-generate-length")
    seed.add_class("gptbook-generate-seed")
    out.add_class("gptbook-generate-output")

    def update(_: Any = None) -> None:
        out.value = shared.html_or_refusal(  # PromptError, a setting out of range, a broken model
            lambda: generation_html(generate_text(model, tokenizer, box.value, temp.value,
                                                  length.value, int(seed.value), alphabet=known)),
            error_html,
        )

    for control in (box, temp, length, seed):
        control.observe(update, names="value")
    update()
    ui = w.VBox([box, w.HBox([temp, length, seed]), out])
    ui.add_class("gptbook-generate")
    return ui
