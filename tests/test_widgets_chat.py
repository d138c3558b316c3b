"""The chat widget: its plain function (answers, refusals) and its callbacks."""

from __future__ import annotations

import pytest
import torch

from gptbook import instruct as ft
from gptbook.instructions import Example, format_prompt
from gptbook.model import GPT, GPTConfig
from gptbook.tokenizers import BPETokenizer
from gptbook.widgets.chat import chat_reply, chat_widget, reply_html


@pytest.fixture(scope="module")
def tok() -> BPETokenizer:
    return BPETokenizer()


@pytest.fixture(scope="module")
def model(tok) -> GPT:
    """A tiny GPT taught to answer 'Add these two numbers.' with 'seven'."""
    torch.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=256, context=128, n_layer=2, n_head=2, d_model=32))
    exs = [Example("add", "Add these two numbers.", f"{a} + 4", "seven") for a in range(8)]
    rows = [ft.encode_instruction(tok, e, 128) for e in exs]
    cfg = ft.InstructionConfig(epochs=40, batch_size=8, lr=1e-2, warmup_steps=5)
    tuned, _ = ft.train_instructions(gpt, rows, cfg)
    return tuned


def test_reply_is_the_greedy_answer(model, tok):
    r = chat_reply(model, tok, "Add these two numbers.", "3 + 4", max_new_tokens=8)
    assert r.ok and r.answer == "seven"
    assert r.answer == ft.answer_ids(model, tok.encode(format_prompt("Add these two numbers.", "3 + 4")), tok, 8)
    assert r.prompt_tokens == len(tok.encode(format_prompt("Add these two numbers.", "3 + 4")))
    assert "seven" in reply_html(r) and "gptbook-chat-answer" in reply_html(r)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_instruction_is_refused_readably(model, tok, text):
    r = chat_reply(model, tok, text, "3 + 4")
    assert not r.ok and "instruction is empty" in r.error and r.answer == ""
    assert "Cannot answer" in reply_html(r) and "gptbook-chat-error" in reply_html(r)


def test_too_long_prompt_is_refused_readably(model, tok):
    r = chat_reply(model, tok, "Summarise this.", "word " * 40, max_new_tokens=24)
    assert not r.ok
    assert f"{r.prompt_tokens} tokens long" in r.error and "at most 128 tokens" in r.error
    assert "at most 104 tokens" in r.error  # 128 - 24 left for the answer


def test_html_escapes_the_answer():
    from gptbook.widgets.chat import Reply

    assert "&lt;b&gt;" in reply_html(Reply("x", "", answer="<b>"))


def test_widget_answers_on_click_and_on_edit(model, tok):
    ui = chat_widget(model, tok)
    ask_box, input_box, button, out = ui.children
    assert [c.description for c in (ask_box, input_box, button)] == ["Instruction", "Input", "Ask"]
    assert "gptbook-chat-output" in out._dom_classes
    assert "seven" in out.value
    ask_box.value = ""
    assert "instruction is empty" in out.value
    ask_box.value = "Add these two numbers."
    out.value = ""
    button.click()
    assert "seven" in out.value
    input_box.value = "word " * 40
    assert "Cannot answer" in out.value
