"""The token inspector: type text, pick a tokenizer, see the tokens as coloured pieces with their ids.

:func:`token_spans` and :func:`tokens_html` are plain functions (the chapter calls them in a checked
cell); :func:`token_inspector` is the ipywidgets layer over them.

It accepts the three kinds of tokenizer of chapter 01: GPT-2's ``tiktoken.Encoding`` (from
:func:`gptbook.tokenizers.gpt2`), our :class:`~gptbook.tokenizers.BPETokenizer` and our
:class:`~gptbook.tokenizers.CharTokenizer`. Special tokens such as ``<|endoftext|>`` are allowed.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gptbook.tokenizers import BPETokenizer, CharTokenizer

# light background colours; neighbouring tokens always get different ones
PALETTE = ("#ffd6a5", "#caffbf", "#9bf6ff", "#bdb2ff", "#ffc6ff", "#fdffb6", "#a0c4ff", "#ffadad")


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
        t = self.text
        return t if t is not None else "<" + " ".join(f"{b:02x}" for b in self.raw) + ">"


def token_spans(text: str, tokenizer: Any) -> list[TokenSpan]:
    """Encode ``text`` with ``tokenizer`` and return one :class:`TokenSpan` per token.

    The spans' bytes joined together are exactly ``text`` in UTF-8. Errors of the tokenizer (a
    character the character tokenizer never saw) are raised unchanged.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if isinstance(tokenizer, CharTokenizer):
        return [TokenSpan(i, tokenizer.chars[i].encode("utf-8")) for i in tokenizer.encode(text)]
    if isinstance(tokenizer, BPETokenizer):
        return [TokenSpan(i, tokenizer.decode_bytes([i])) for i in tokenizer.encode(text, allowed_special="all")]
    if hasattr(tokenizer, "decode_single_token_bytes"):  # a tiktoken.Encoding
        return [TokenSpan(i, tokenizer.decode_single_token_bytes(i)) for i in tokenizer.encode(text, allowed_special="all")]
    raise TypeError(
        f"Unsupported tokenizer {type(tokenizer).__name__}: pass a CharTokenizer, a BPETokenizer or a tiktoken.Encoding."
    )


def tokens_html(text: str, tokenizer: Any) -> str:
    """The inspector's view as HTML: each token a coloured box with its text above its id (a newline
    shows as ↵ and starts a new line), then the count of tokens, characters and bytes."""
    spans = token_spans(text, tokenizer)
    pieces = []
    for k, s in enumerate(spans):
        label = html.escape(s.label).replace("\n", "↵")
        style = f"background:{PALETTE[k % len(PALETTE)]};" + ("" if s.text is not None else "font-style:italic;color:#555;")
        pieces.append(
            f'<span class="gptbook-token" title="id {s.id}" style="display:inline-block;margin:1px 3px 1px 0;padding:0 2px;text-align:center;border-radius:3px;{style}">'
            f'<span style="white-space:pre">{label}</span><br><small style="color:#444">{s.id}</small></span>'
            + ("<br>" if "\n" in s.raw.decode("utf-8", errors="replace") else "")
        )
    n_bytes = len(text.encode("utf-8"))
    per_char = f", {len(spans) / len(text):.2f} tokens per character" if text else ""
    return (
        '<div class="gptbook-tokens-spans" style="font-family:monospace;line-height:1.2">' + "".join(pieces) + "</div>"
        f'<p class="gptbook-tokens-count"><b>{len(spans)} tokens</b> for {len(text)} characters '
        f"({n_bytes} bytes){per_char}</p>"
    )


def error_html(message: str) -> str:
    return f'<p class="gptbook-tokens-error" style="color:#b00020"><b>Cannot tokenize:</b> {html.escape(message)}</p>'


def token_inspector(tokenizers: Mapping[str, Any], text: str = "Hello, world! Привет, мир! 你好，世界！"):
    """An interactive inspector: a text box, a tokenizer menu (the keys of ``tokenizers``) and the
    coloured tokens, updated as you type. Returns the widget (display it, or leave it last in a cell)."""
    import ipywidgets as w

    if not tokenizers:
        raise ValueError("token_inspector needs at least one tokenizer, e.g. {'GPT-2': gpt2()}.")
    box = w.Textarea(value=text, description="Text", continuous_update=True, layout=w.Layout(width="95%", height="5em"))
    menu = w.Dropdown(options=list(tokenizers), description="Tokenizer")
    out = w.HTML()
    box.add_class("gptbook-tokens-text")
    menu.add_class("gptbook-tokens-tokenizer")
    out.add_class("gptbook-tokens-output")

    def update(_=None) -> None:
        try:
            out.value = tokens_html(box.value, tokenizers[menu.value])
        except (ValueError, TypeError) as e:  # e.g. a character the character tokenizer never saw
            out.value = error_html(str(e))

    box.observe(update, names="value")
    menu.observe(update, names="value")
    update()
    ui = w.VBox([menu, box, out])
    ui.add_class("gptbook-tokens")
    return ui
