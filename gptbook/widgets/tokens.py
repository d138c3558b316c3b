"""The token inspector: type text, pick a tokenizer, see the tokens as coloured boxes with ids.

:func:`token_spans` and :func:`tokens_html` are plain functions (the chapter calls them in a checked
cell); :func:`token_inspector` is the ipywidgets layer over them.

For a byte-level BPE tokenizer the inspector also has a **merge slider**: :func:`merge_step` encodes
the text with only the first ``n`` learned merges (0 = raw bytes), so moving the slider replays
training one merge at a time; :func:`merge_step_html` shows it, with the merge just applied.

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
from gptbook.widgets.html import WidgetInputError


class MergeStepError(WidgetInputError):
    """A merge count the slider cannot show, or a tokenizer without merges."""

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
    return spans_html(text, token_spans(text, tokenizer))


def spans_html(text: str, spans: list[TokenSpan]) -> str:
    """The coloured boxes and the count line for ``spans``, the tokens of ``text``."""
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


@dataclass(frozen=True)
class MergeStep:
    """``text`` encoded with only the first ``merges`` of ``total`` learned merges."""

    merges: int
    total: int
    spans: list[TokenSpan]
    # the last merge applied, as (left bytes, right bytes, id of the new token); None at 0 merges
    last_merge: tuple[bytes, bytes, int] | None


def _is_bpe(tokenizer: Any) -> bool:
    """Whether ``tokenizer`` has learned merges to replay (asked of its abilities, not its class)."""
    return getattr(tokenizer, "merges", None) is not None and callable(getattr(tokenizer, "truncated", None))


def _require_bpe(tokenizer: Any) -> Any:
    if not _is_bpe(tokenizer):
        raise MergeStepError(
            f"The merge slider needs a byte-level BPE tokenizer (gptbook.tokenizers.BPETokenizer), "
            f"got {type(tokenizer).__name__}: choose a BPE tokenizer in the menu."
        )
    return tokenizer


def merge_step(text: str, tokenizer: Any, merges: int) -> MergeStep:
    """Encode ``text`` with the first ``merges`` merges of ``tokenizer`` only (its special tokens
    kept): 0 gives the raw bytes, ``len(tokenizer.merges)`` the full encoding. Training is greedy,
    so this is the text as the tokenizer saw it after ``merges`` steps of training."""
    bpe = _require_bpe(tokenizer)
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    total = len(bpe.merges)
    if isinstance(merges, bool) or not isinstance(merges, int) or not 0 <= merges <= total:
        raise MergeStepError(
            f"The number of merges must be a whole number from 0 to {total:,}, got {merges!r}."
        )
    if merges == total:
        small = bpe
    else:
        small = bpe.truncated(256 + merges)
        small.register_special_tokens(dict(bpe.special_tokens))
    last = None
    if merges:
        (a, b), new_id = list(bpe.merges.items())[merges - 1]
        last = (bpe.vocab[a], bpe.vocab[b], new_id)
    return MergeStep(merges, total, token_spans(text, small), last)


def merge_step_html(text: str, tokenizer: Any, merges: int) -> str:
    """What the inspector shows at a slider position: the tokens after ``merges`` merges, the count
    line, and which merge came last."""
    step = merge_step(text, tokenizer, merges)
    if step.last_merge is None:
        done = "no merge yet: every token is one byte"
    else:
        left, right, new_id = step.last_merge
        parts = (html.escape(shared.bytes_label(x, visible_whitespace=True)) for x in (left, right))
        done = f"merge {step.merges:,} joined {' + '.join(parts)} into token {new_id}"
    return spans_html(text, step.spans) + (
        f'<p class="gptbook-tokens-merges">after {step.merges:,} of {step.total:,} merges; {done}</p>'
    )


def error_html(message: str) -> str:
    """Text the tokenizer refused, as the inspector shows it."""
    return shared.error_html(message, "tokens", "Cannot tokenize")


def inspector_html(text: str, tokenizer: TokenCodec) -> str:
    """What the inspector shows: :func:`tokens_html`, or the tokenizer's refusal."""
    # refused, e.g., for a character the character tokenizer never saw
    return shared.html_or_refusal(lambda: tokens_html(text, tokenizer), error_html)


def inspector_merges_html(text: str, tokenizer: TokenCodec, merges: int | None) -> str:
    """What the inspector shows with its merge slider: for a BPE tokenizer and a slider position
    (``merges``), :func:`merge_step_html`; otherwise :func:`inspector_html`. Refusals as messages."""
    if merges is None or not _is_bpe(tokenizer):
        return inspector_html(text, tokenizer)
    return shared.html_or_refusal(lambda: merge_step_html(text, tokenizer, merges), error_html)


def token_inspector(
    tokenizers: Mapping[str, TokenCodec], text: str = "Hello, world! Привет, мир! 你好，世界！"
) -> Any:
    """An interactive inspector: a text box, a tokenizer menu (the keys of ``tokenizers``), a merge
    slider (for byte-level BPE tokenizers: how many of the learned merges to apply, from 0 = bytes
    to all) and the coloured tokens, updated as you type. Returns the widget (display it, or leave
    it last in a cell)."""
    import ipywidgets as w

    if not tokenizers:
        raise ValueError("token_inspector needs at least one tokenizer, e.g. {'GPT-2': gpt2()}.")
    for tokenizer in tokenizers.values():
        shared.require_codec(tokenizer)
    box = w.Textarea(value=text, description="Text", continuous_update=True,
                     layout=w.Layout(width="95%", height="5em"))
    menu = w.Dropdown(options=list(tokenizers), description="Tokenizer")
    slider = w.IntSlider(value=0, min=0, max=0, description="merges", continuous_update=True,
                         layout=w.Layout(width="95%"))
    out = w.HTML()
    box.add_class("gptbook-tokens-text")
    menu.add_class("gptbook-tokens-tokenizer")
    slider.add_class("gptbook-tokens-merges-slider")
    out.add_class("gptbook-tokens-output")

    def update(_: Any = None) -> None:
        tokenizer = tokenizers[menu.value]
        merges = slider.value if _is_bpe(tokenizer) else None
        out.value = inspector_merges_html(box.value, tokenizer, merges)

    def choose(_: Any = None) -> None:
        tokenizer = tokenizers[menu.value]
        with slider.hold_trait_notifications():
            if _is_bpe(tokenizer):
                slider.max = len(tokenizer.merges)
                slider.value = slider.max  # start with every merge: the tokenizer as trained
                slider.disabled = False
                slider.description = "merges"
            else:
                slider.value, slider.max = 0, 0
                slider.disabled = True
                slider.description = "merges (BPE only)"
        update()

    box.observe(update, names="value")
    slider.observe(update, names="value")
    menu.observe(choose, names="value")
    choose()
    ui = w.VBox([menu, box, slider, out])
    ui.add_class("gptbook-tokens")
    return ui
