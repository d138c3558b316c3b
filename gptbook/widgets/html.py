"""What every widget shows the same way: a refused input, and a token as a readable label.

One way to refuse input. Each widget's plain function raises a ``ValueError`` subclass (here
:class:`WidgetInputError`, or the package error it met, such as a tokenizer's or the sampler's)
whose message is a full sentence: what was wrong and what to do. The widget catches
``ValueError`` and shows the message with :func:`error_html` instead of its result; a chapter
shows it with :func:`refusal`. No widget function returns an error inside its result.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from gptbook.tokenizers import TokenCodec

ERROR_COLOUR = "#b00020"


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
