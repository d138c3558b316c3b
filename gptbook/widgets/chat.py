"""The chat box of chapter 10: type an instruction (and, if it needs one, an input), read the answer.

:func:`chat_reply` is the plain function (the chapter calls it in a checked cell): it puts the
instruction in the book's prompt template (:func:`gptbook.instructions.format_prompt`), lets the
instruction-tuned model answer greedily until the end of the line, and returns a :class:`Reply`.
Input the model cannot take gets a readable refusal instead of an answer: an empty instruction, or a
prompt too long for the model's context (with room left for the answer). :func:`chat_widget` is the
ipywidgets layer: two text boxes, an *Ask* button (pressing Enter in a box asks too), and the answer.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from gptbook.instruct import answer_ids
from gptbook.instructions import format_prompt, one_line


@dataclass(frozen=True)
class Reply:
    """What the chat shows: the model's answer, or ``error`` (a sentence saying what to change)."""

    instruction: str
    input: str
    answer: str = ""
    error: str = ""
    prompt_tokens: int = 0

    @property
    def ok(self) -> bool:
        return not self.error


def chat_reply(model: Any, tokenizer: Any, instruction: str, input: str = "", max_new_tokens: int = 24) -> Reply:
    """The model's greedy answer to ``instruction`` (with ``input``), or a refusal that says why."""
    instruction, input = one_line(instruction or ""), one_line(input or "")
    if not instruction:
        return Reply(instruction, input, error="The instruction is empty. Type what the model should do, "
                     "for example: Add these two numbers. (with 3 + 4 as the input).")
    ids = tokenizer.encode(format_prompt(instruction, input))
    room = model.config.context - max_new_tokens
    if len(ids) > room:
        return Reply(instruction, input, prompt_tokens=len(ids), error=(
            f"The prompt is {len(ids)} tokens long, but this model reads at most {model.config.context} tokens "
            f"and {max_new_tokens} of them are kept for the answer. Shorten the instruction or the input "
            f"to at most {room} tokens."))
    return Reply(instruction, input, answer=answer_ids(model, ids, tokenizer, max_new_tokens), prompt_tokens=len(ids))


def reply_html(reply: Reply) -> str:
    """The reply as the widget shows it: the answer, or the refusal in red."""
    if not reply.ok:
        return f'<p class="gptbook-chat-error" style="color:#b00020"><b>Cannot answer:</b> {html.escape(reply.error)}</p>'
    shown = html.escape(reply.answer) if reply.answer else "<i>(the model answered with an empty line)</i>"
    return f'<p class="gptbook-chat-answer"><b>Model:</b> {shown}</p>'


def chat_widget(model: Any, tokenizer: Any, instruction: str = "Add these two numbers.", input: str = "3 + 4",
                max_new_tokens: int = 24) -> Any:
    """Instruction box, input box, *Ask* button, and the answer. Returns the widget."""
    import ipywidgets as w

    ask_box = w.Text(value=instruction, description="Instruction", continuous_update=False,
                     layout=w.Layout(width="95%"))
    input_box = w.Text(value=input, description="Input", continuous_update=False, layout=w.Layout(width="95%"))
    button = w.Button(description="Ask", button_style="primary")
    out = w.HTML()
    ask_box.add_class("gptbook-chat-instruction")
    input_box.add_class("gptbook-chat-input")
    button.add_class("gptbook-chat-ask")
    out.add_class("gptbook-chat-output")

    def update(_: Any = None) -> None:
        out.value = reply_html(chat_reply(model, tokenizer, ask_box.value, input_box.value, max_new_tokens))

    button.on_click(update)
    for box in (ask_box, input_box):  # Enter (or leaving the box) after an edit asks again
        box.observe(update, names="value")
    update()
    ui = w.VBox([ask_box, input_box, button, out])
    ui.add_class("gptbook-chat")
    return ui
