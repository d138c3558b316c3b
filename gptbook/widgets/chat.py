"""The chat box of chapter 10: type an instruction (and, if it needs one, an input); read the reply.

:func:`chat_reply` is the plain function (the chapter calls it in a checked cell): it puts the
instruction in the book's prompt template (:func:`gptbook.instructions.format_prompt`), lets the
instruction-tuned model answer greedily until the end of the line, and returns a :class:`Reply`.
Input the model cannot take raises :class:`ChatInputError` with a message that says what to change:
an empty instruction, or a prompt too long for the model's context (with room left for the answer);
text the tokenizer refuses raises the tokenizer's ``ValueError``.

:func:`template_html` shows what the model saw, token by token, as a training example would be
laid out: the prompt's tokens, whose targets the loss ignores (grey), then the answer and its
closing newline, the only tokens the loss scores (green). :func:`chat_html` is what the widget
shows (the answer, optionally the template, or the refusal), and :func:`chat_widget` is the
ipywidgets layer: two text boxes, an *Ask* button (pressing Enter in a box asks too), a
*Show the prompt* check box, and the answer.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from gptbook.instruct import answer_ids
from gptbook.instructions import STOP, format_prompt, one_line
from gptbook.tokenizers import TokenCodec
from gptbook.widgets import html as shared
from gptbook.widgets.html import WidgetInputError


class ChatInputError(WidgetInputError):
    """An instruction the chat cannot answer: empty, or too long for the model's context."""


@dataclass(frozen=True)
class Reply:
    """What the chat shows: the model's answer to ``instruction`` with ``input``."""

    instruction: str
    input: str
    answer: str = ""
    prompt_tokens: int = 0


def chat_reply(
    model: Any, tokenizer: TokenCodec, instruction: str, input: str = "", max_new_tokens: int = 24
) -> Reply:
    """The model's greedy answer to ``instruction`` (with ``input``); :class:`ChatInputError` says
    why when there can be none."""
    instruction, input = one_line(instruction or ""), one_line(input or "")
    if not instruction:
        raise ChatInputError(
            "The instruction is empty. Type what the model should do, "
            "for example: Add these two numbers. (with 12 + 30 as the input)."
        )
    ids = tokenizer.encode(format_prompt(instruction, input))
    room = model.config.context - max_new_tokens
    if len(ids) > room:
        raise ChatInputError(
            f"The prompt is {len(ids)} tokens long, but this model reads at most "
            f"{model.config.context} tokens and {max_new_tokens} of them are kept for the answer. "
            f"Shorten the instruction or the input to at most {room} tokens."
        )
    answer = answer_ids(model, ids, tokenizer, max_new_tokens)
    return Reply(instruction, input, answer=answer, prompt_tokens=len(ids))


def reply_html(reply: Reply) -> str:
    """The reply as the widget shows it."""
    empty = "<i>(the model answered with an empty line)</i>"
    shown = html.escape(reply.answer) if reply.answer else empty
    return f'<p class="gptbook-chat-answer"><b>Model:</b> {shown}</p>'


MASKED_STYLE = "background:#e6e6e6;color:#555;"
SCORED_STYLE = "background:#c7efc7;color:#000;font-weight:bold;"
_BOX = "display:inline-block;margin:1px;padding:0 2px;border-radius:3px;white-space:pre;"


def template_tokens(tokenizer: TokenCodec, reply: Reply) -> list[tuple[int, bool]]:
    """The reply laid out as a training example: ``(token id, scored)`` for the prompt's tokens
    (not scored: the loss ignores their targets) and the answer's tokens with the closing newline
    (scored). Prompt and answer are encoded apart, as in training."""
    prompt = tokenizer.encode(format_prompt(reply.instruction, reply.input))
    response = tokenizer.encode(reply.answer + STOP)
    return [(i, False) for i in prompt] + [(i, True) for i in response]


def template_html(tokenizer: TokenCodec, reply: Reply) -> str:
    """The prompt template with the model's answer, one box per token: grey where the loss would
    ignore the target (the prompt), green where it would score it (the answer and its newline)."""
    pieces = []
    for token, scored in template_tokens(tokenizer, reply):
        label = html.escape(shared.token_label(tokenizer, token))
        kind = "scored" if scored else "masked"
        style = SCORED_STYLE if scored else MASKED_STYLE
        pieces.append(f'<span class="gptbook-chat-{kind}" style="{_BOX}{style}">{label}</span>')
        if "↵" in label:
            pieces.append("<br>")
    n_scored = sum(s for _, s in template_tokens(tokenizer, reply))
    return (
        '<div class="gptbook-chat-template" style="font-family:monospace;line-height:1.5">'
        + "".join(pieces)
        + "</div>"
        f'<p class="gptbook-chat-legend"><span style="{_BOX}{MASKED_STYLE}">grey</span> '
        f"{reply.prompt_tokens} prompt tokens: in training their targets are -100 and the loss "
        f'ignores them. <span style="{_BOX}{SCORED_STYLE}">green</span> {n_scored} answer tokens '
        "(with the closing newline): the only ones the loss scores.</p>"
    )


def error_html(message: str) -> str:
    """A refused instruction, as the widget shows it."""
    return shared.error_html(message, "chat", "Cannot answer")


def chat_html(
    model: Any,
    tokenizer: TokenCodec,
    instruction: str,
    input: str = "",
    max_new_tokens: int = 24,
    show_template: bool = False,
) -> str:
    """What the widget shows for this instruction and input: the answer (and, with
    ``show_template``, the prompt template and the loss mask), or the refusal in red."""

    def show() -> str:
        reply = chat_reply(model, tokenizer, instruction, input, max_new_tokens)
        return reply_html(reply) + (template_html(tokenizer, reply) if show_template else "")

    return shared.html_or_refusal(show, error_html)  # ChatInputError, or text the tokenizer refuses


def chat_widget(
    model: Any,
    tokenizer: TokenCodec,
    instruction: str = "Add these two numbers.",
    input: str = "12 + 30",
    max_new_tokens: int = 24,
) -> Any:
    """Instruction box, input box, *Ask* button, *Show the prompt* check box, and the answer.
    Returns the widget."""
    import ipywidgets as w

    ask_box = w.Text(value=instruction, description="Instruction", continuous_update=False,
                     layout=w.Layout(width="95%"))
    input_box = w.Text(value=input, description="Input", continuous_update=False,
                       layout=w.Layout(width="95%"))
    button = w.Button(description="Ask", button_style="primary")
    show_box = w.Checkbox(value=False, description="Show the prompt and the loss mask",
                          indent=False)
    out = w.HTML()
    ask_box.add_class("gptbook-chat-instruction")
    input_box.add_class("gptbook-chat-input")
    button.add_class("gptbook-chat-ask")
    show_box.add_class("gptbook-chat-show-template")
    out.add_class("gptbook-chat-output")

    def update(_: Any = None) -> None:
        out.value = chat_html(model, tokenizer, ask_box.value, input_box.value, max_new_tokens,
                              show_box.value)

    button.on_click(update)
    for box in (ask_box, input_box, show_box):  # Enter (or leaving a box) after an edit asks again
        box.observe(update, names="value")
    update()
    ui = w.VBox([ask_box, input_box, w.HBox([button, show_box]), out])
    ui.add_class("gptbook-chat")
    return ui
