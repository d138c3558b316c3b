"""What every widget shows the same way: its result or a refusal, and a token as a readable label.

One way to refuse input. Each widget's plain function raises a ``ValueError`` subclass (here
:class:`WidgetInputError`, or the package error it met, such as a tokenizer's or the sampler's)
whose message is a full sentence: what was wrong and what to do. The widget catches
``ValueError`` and shows the message with :func:`error_html` instead of its result
(:func:`html_or_refusal` for an HTML result, :func:`show_chart` for a chart and its summary); a
chapter shows it with :func:`refusal`. No widget function returns an error inside its result.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from gptbook.tokenizers import TokenCodec
from gptbook.widgets import figure_png

ERROR_COLOUR = "#b00020"
V = TypeVar("V", bound="Summarised")


class WidgetInputError(ValueError):
    """Input a widget cannot use; the message says what was wrong and what to do."""


def error_html(message: str, widget: str, action: str = "Cannot show") -> str:
    """A refusal as every widget shows it: a red paragraph of class ``gptbook-<widget>-error``
    that starts with ``action`` ("Cannot show", "Cannot answer", ...) in bold."""
    return (
        f'<p class="gptbook-{widget}-error" style="color:{ERROR_COLOUR}"><b>{action}:</b> '
        f"{html.escape(message)}</p>"
    )


def refusal(function: Callable[..., Any], *args: Any, **kwargs: Any) -> str | None:
    """The message with which ``function(*args, **kwargs)`` refuses its input, or ``None`` if it
    accepts it: how a chapter shows what a widget would say."""
    try:
        function(*args, **kwargs)
    except ValueError as e:
        return str(e)
    return None


def html_or_refusal(show: Callable[[], str], refused: Callable[[str], str]) -> str:
    """What a widget's output holds: ``show()``, or ``refused(message)`` when ``show`` refuses its
    input with a ``ValueError`` (its own ``WidgetInputError``, a tokenizer's or the sampler's)."""
    try:
        return show()
    except ValueError as e:
        return refused(str(e))


class Summarised(Protocol):
    """A widget's result that sums itself up in one line (under the widget's chart)."""

    def summary(self) -> str: ...


def show_chart(
    chart: Any,
    out: Any,
    widget: str,
    view: Callable[[], V],
    figure: Callable[[V], Any],
    refused: Callable[[str], str],
) -> None:
    """Show ``figure(view())`` in the image ``chart`` and its summary line (class
    ``gptbook-<widget>-summary``) in the HTML ``out``; when ``view`` refuses its input with a
    ``ValueError``, hide the chart and show ``refused(message)`` instead."""
    try:
        shown = view()
    except ValueError as e:
        out.value = refused(str(e))
        chart.layout.display = "none"
        return
    chart.value = figure_png(figure(shown))
    chart.layout.display = None
    out.value = f'<p class="gptbook-{widget}-summary">{html.escape(shown.summary())}</p>'


def bytes_label(raw: bytes, visible_whitespace: bool = True) -> str:
    """A token's bytes as a reader can see them: bytes that are only part of a character in hex
    like ``<e7 94>``; with ``visible_whitespace``, spaces as ``·``, newlines as ``↵``, tabs as
    ``→`` and an empty token as ``∅``."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return "<" + " ".join(f"{b:02x}" for b in raw) + ">"
    if not visible_whitespace:
        return text
    return text.replace(" ", "·").replace("\n", "↵").replace("\t", "→") or "∅"


def token_label(tokenizer: TokenCodec, token_id: int) -> str:
    """Token ``token_id`` of ``tokenizer`` as a readable label (see :func:`bytes_label`)."""
    return bytes_label(tokenizer.decode_bytes([int(token_id)]))


def require_codec(tokenizer: Any) -> None:
    """Raise ``TypeError`` unless ``tokenizer`` encodes and decodes (see
    :class:`~gptbook.tokenizers.TokenCodec`): a programming error, not a reader's input."""
    if not isinstance(tokenizer, TokenCodec):
        raise TypeError(
            f"Unsupported tokenizer {type(tokenizer).__name__}: pass a gptbook tokenizer "
            "(CharTokenizer, BPETokenizer) or a tiktoken.Encoding."
        )
