"""The chat widget: its plain function (answers, refusals) and its callbacks."""

from __future__ import annotations

import pytest
import torch

from gptbook import instruct as ft
from gptbook.instructions import Example, format_prompt
from gptbook.model import GPT, GPTConfig
from gptbook.tokenizers import BPETokenizer
from gptbook.widgets.chat import (
    ChatInputError,
    Reply,
    chat_html,
    chat_reply,
    chat_widget,
    reply_html,
    template_html,
    template_tokens,
)


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
    assert r.answer == "seven"
    prompt_ids = tok.encode(format_prompt("Add these two numbers.", "3 + 4"))
    assert r.answer == ft.answer_ids(model, prompt_ids, tok, 8)
    assert r.prompt_tokens == len(prompt_ids)
    assert "seven" in reply_html(r) and "gptbook-chat-answer" in reply_html(r)
    assert chat_html(model, tok, "Add these two numbers.", "3 + 4", 8) == reply_html(r)


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_instruction_is_refused_readably(model, tok, text):
    with pytest.raises(ChatInputError, match="instruction is empty"):
        chat_reply(model, tok, text, "3 + 4")
    shown = chat_html(model, tok, text, "3 + 4")
    assert "Cannot answer" in shown and "gptbook-chat-error" in shown and "Model:" not in shown


def test_too_long_prompt_is_refused_readably(model, tok):
    n = len(tok.encode(format_prompt("Summarise this.", "word " * 40)))
    with pytest.raises(ChatInputError) as e:
        chat_reply(model, tok, "Summarise this.", "word " * 40, max_new_tokens=24)
    assert f"{n} tokens long" in str(e.value) and "at most 128 tokens" in str(e.value)
    assert "at most 104 tokens" in str(e.value)  # 128 - 24 left for the answer


def test_text_the_tokenizer_refuses_is_shown_not_raised(model):
    special = BPETokenizer()
    special.register_special_tokens({"<|endoftext|>": 256})
    shown = chat_html(model, special, "Say <|endoftext|> now.")
    assert "gptbook-chat-error" in shown and "special token" in shown


def test_html_escapes_the_answer():
    assert "&lt;b&gt;" in reply_html(Reply("x", "", answer="<b>"))


def test_template_shows_which_tokens_the_loss_ignores(model, tok):
    r = chat_reply(model, tok, "Add these two numbers.", "3 + 4", max_new_tokens=8)
    pairs = template_tokens(tok, r)
    prompt = tok.encode(format_prompt("Add these two numbers.", "3 + 4"))
    assert [t for t, _ in pairs] == prompt + tok.encode("seven\n")
    assert [s for _, s in pairs] == [False] * len(prompt) + [True] * 6  # "seven" + newline, bytes
    # the same split as the training rows: masked targets are exactly the prompt's
    _, targets = ft.encode_instruction(tok, Example("add", r.instruction, r.input, r.answer), 128)
    assert sum(t != -100 for t in targets) == sum(s for _, s in pairs)
    shown = template_html(tok, r)
    assert shown.count("gptbook-chat-masked") == len(prompt) and shown.count("gptbook-chat-scored") == 6
    assert f"{len(prompt)} prompt tokens" in shown and "6 answer tokens" in shown
    both = chat_html(model, tok, "Add these two numbers.", "3 + 4", 8, show_template=True)
    assert both == reply_html(r) + shown
    unsafe = template_html(tok, Reply("<b>", "", answer="<i>", prompt_tokens=3))
    assert "&lt;" in unsafe and "<b>" not in unsafe and "<i>" not in unsafe


def test_widget_answers_on_click_and_on_edit(model, tok):
    ui = chat_widget(model, tok, input="3 + 4")
    ask_box, input_box, row, out = ui.children
    button, show_box = row.children
    assert [c.description for c in (ask_box, input_box, button)] == ["Instruction", "Input", "Ask"]
    assert "gptbook-chat-output" in out._dom_classes
    assert "seven" in out.value
    ask_box.value = ""
    assert "instruction is empty" in out.value
    ask_box.value = "Add these two numbers."
    out.value = ""
    button.click()
    assert "seven" in out.value
    assert "gptbook-chat-template" not in out.value
    show_box.value = True
    assert "gptbook-chat-template" in out.value and "seven" in out.value
    input_box.value = "word " * 40
    assert "Cannot answer" in out.value
