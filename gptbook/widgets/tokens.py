"""The token inspector: type text, pick a tokenizer, see the tokens as coloured boxes with ids.

:func:`token_spans` and :func:`tokens_html` are plain functions (the chapter calls them in a checked
cell); :func:`token_inspector` is the ipywidgets layer over them.

It accepts any :class:`~gptbook.tokenizers.TokenCodec`: the three kinds of tokenizer of chapter 01,
GPT-2's ``tiktoken.Encoding`` (from :func:`gptbook.tokenizers.gpt2`), our
:class:`~gptbook.tokenizers.BPETokenizer` and our :class:`~gptbook.tokenizers.CharTokenizer`.
Special tokens such as ``<|endoftext|>`` are allowed. Text a tokenizer cannot encode (a character
the character tokenizer never saw) raises its ``ValueError``; the widget shows the message.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gptbook.tokenizers import TokenCodec
from gptbook.widgets import html as shared

# light background colours; neighbouring tokens always get different ones
PALETTE = ("#ffd6a5", "#caffbf", "#9bf6ff", "#bdb2ff", "#ffc6ff", "#fdffb6", "#a0c4ff", "#ffadad")
BOX_STYLE = (
    "display:inline-block;margin:1px 3px 1px 0;padding:0 2px;text-align:center;border-radius:3px;"
)


@dataclass(frozen=True)
class TokenSpan:
    """One token: its id, its raw bytes, and how to show it (``text`` is the bytes as UTF-8, or
    ``None`` when the token holds only part of a character, e.g. one of the 3 bytes of 生)."""

    id: int
    raw: bytes

    @property
    def text(self) -> str | None:
        try:
            return self.raw.decode("utf-8")
        except UnicodeDecodeError:
            return None

    @property
    def label(self) -> str:
        """What the inspector prints: the text, or the bytes in hex like ``<e7 94>``."""
        return shared.bytes_label(self.raw, visible_whitespace=False)


def token_spans(text: str, tokenizer: TokenCodec) -> list[TokenSpan]:
    """Encode ``text`` with ``tokenizer`` and return one :class:`TokenSpan` per token.

    The spans' bytes joined together are exactly ``text`` in UTF-8. Errors of the tokenizer (a
    character the character tokenizer never saw) are raised unchanged.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    shared.require_codec(tokenizer)
    ids = tokenizer.encode(text, allowed_special="all")
    return [TokenSpan(i, tokenizer.decode_bytes([i])) for i in ids]


def tokens_html(text: str, tokenizer: TokenCodec) -> str:
    """The inspector's view as HTML: each token a coloured box with its text above its id (a newline
    shows as ↵ and starts a new line), then the count of tokens, characters and bytes."""
    spans = token_spans(text, tokenizer)
    pieces = []
    for k, s in enumerate(spans):
        label = html.escape(s.label).replace("\n", "↵")
        style = f"background:{PALETTE[k % len(PALETTE)]};" + (
            "" if s.text is not None else "font-style:italic;color:#555;"
        )
        pieces.append(
            f'<span class="gptbook-token" title="id {s.id}" style="{BOX_STYLE}{style}">'
            f'<span style="white-space:pre">{label}</span><br>'
            f'<small style="color:#444">{s.id}</small></span>'
            + ("<br>" if "\n" in s.raw.decode("utf-8", errors="replace") else "")
        )
    n_bytes = len(text.encode("utf-8"))
    per_char = f", {len(spans) / len(text):.2f} tokens per character" if text else ""
    return (
        '<div class="gptbook-tokens-spans" style="font-family:monospace;line-height:1.2">'
        + "".join(pieces)
        + "</div>"
        f'<p class="gptbook-tokens-count"><b>{len(spans)} tokens</b> for {len(text)} characters '
        f"({n_bytes} bytes){per_char}</p>"
    )


def error_html(message: str) -> str:
    """Text the tokenizer refused, as the inspector shows it."""
    return shared.error_html(message, "tokens", "Cannot tokenize")


def inspector_html(text: str, tokenizer: TokenCodec) -> str:
    """What the inspector shows: :func:`tokens_html`, or the tokenizer's refusal."""
    # refused, e.g., for a character the character tokenizer never saw
    return shared.html_or_refusal(lambda: tokens_html(text, tokenizer), error_html)


def token_inspector(
    tokenizers: Mapping[str, TokenCodec], text: str = "Hello, world! Привет, мир! 你好，世界！"
) -> Any:
    """An interactive inspector: a text box, a tokenizer menu (the keys of ``tokenizers``) and the
    coloured tokens, updated as you type. Returns the widget (display it, or leave it last in a
    cell)."""
    import ipywidgets as w

    if not tokenizers:
        raise ValueError("token_inspector needs at least one tokenizer, e.g. {'GPT-2': gpt2()}.")
    for tokenizer in tokenizers.values():
        shared.require_codec(tokenizer)
    box = w.Textarea(value=text, description="Text", continuous_update=True,
                     layout=w.Layout(width="95%", height="5em"))
    menu = w.Dropdown(options=list(tokenizers), description="Tokenizer")
    out = w.HTML()
    box.add_class("gptbook-tokens-text")
    menu.add_class("gptbook-tokens-tokenizer")
    out.add_class("gptbook-tokens-output")

    def update(_: Any = None) -> None:
        out.value = inspector_html(box.value, tokenizers[menu.value])

    box.observe(update, names="value")
    menu.observe(update, names="value")
    update()
    ui = w.VBox([menu, box, out])
    ui.add_class("gptbook-tokens")
    return ui
