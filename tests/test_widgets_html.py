"""What all widgets share: one way to refuse input, one error look, one token label."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import gptbook.widgets as widgets_package
from gptbook.data import WordVectors
from gptbook.model import GPT, GPTConfig
from gptbook.tokenizers import BPETokenizer, CharTokenizer, gpt2
from gptbook.widgets import analogy, attention, chat, generate, temperature, tokens
from gptbook.widgets.html import (
    WidgetInputError,
    bytes_label,
    error_html,
    html_or_refusal,
    refusal,
    show_chart,
    token_label,
)

WIDGET_DIR = Path(widgets_package.__file__).parent


@pytest.fixture(scope="module")
def tok() -> BPETokenizer:
    return BPETokenizer()


@pytest.fixture(scope="module")
def model() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=256, context=64, n_layer=1, n_head=2, d_model=16)).eval()


def _table() -> WordVectors:
    vecs = np.eye(3, dtype=np.float32)
    return WordVectors(["a", "b", "c"], vecs, {"a": 0, "b": 1, "c": 2})


def test_every_widget_error_looks_the_same():
    pattern = re.compile(
        r'<p class="gptbook-(\w+)-error" style="color:#b00020"><b>Cannot \w+:</b> a &lt;b&gt;</p>'
    )
    names = []
    for module in (tokens, temperature, generate, attention, chat, analogy):
        shown = module.error_html("a <b>")
        match = pattern.fullmatch(shown)
        assert match, shown
        names.append(match[1])
    assert names == ["tokens", "temperature", "generate", "attention", "chat", "analogy"]
    assert error_html("x", "chat", "Cannot answer") == chat.error_html("x")


def test_every_widget_function_refuses_bad_input_by_raising_a_value_error(model, tok):
    """One way to refuse: each plain function raises a ValueError subclass with a sentence."""
    chars = CharTokenizer.from_text("abc ")
    calls = [
        (tokens.token_spans, ("xyz", chars)),
        (temperature.next_token_view, (model, tok, "")),
        (generate.generate_text, (model, tok, "   ")),
        (attention.attention_view, (model, tok, "")),
        (chat.chat_reply, (model, tok, "")),
        (analogy.analogy_answers, (_table(), "a", "", "c")),
    ]
    for function, args in calls:
        with pytest.raises(ValueError) as e:
            function(*args)
        message = str(e.value)
        assert message[0].isupper() and message.rstrip().endswith("."), message
        assert refusal(function, *args) == message
    assert issubclass(temperature.PromptError, WidgetInputError)
    assert issubclass(attention.AttentionInputError, WidgetInputError)
    assert issubclass(chat.ChatInputError, WidgetInputError)
    assert issubclass(analogy.AnalogyInputError, WidgetInputError)
    assert refusal(tokens.token_spans, "abc", chars) is None


def test_no_widget_returns_an_error_inside_its_result():
    for cls in (chat.Reply, analogy.AnalogyAnswers, temperature.NextTokenView, generate.Generation):
        fields = inspect.signature(cls).parameters
        assert "error" not in fields and not hasattr(cls, "ok"), cls


def test_one_display_layer_shows_a_result_or_its_refusal():
    def refuse() -> str:
        raise WidgetInputError("Type a word.")

    def shown(message: str) -> str:
        return error_html(message, "demo")

    assert html_or_refusal(lambda: "<p>ok</p>", shown) == "<p>ok</p>"
    assert html_or_refusal(refuse, shown) == shown("Type a word.")
    with pytest.raises(TypeError):  # a bug is not a refusal: it still raises
        html_or_refusal(lambda: "".join([1]), shown)  # type: ignore[list-item]


def test_one_chart_layer_shows_a_figure_and_its_summary_or_hides_the_chart():
    from types import SimpleNamespace

    import matplotlib.pyplot as plt

    class View:
        def summary(self) -> str:
            return "a < b"

    chart = SimpleNamespace(value=b"", layout=SimpleNamespace(display=None))
    out = SimpleNamespace(value="")
    show_chart(chart, out, "demo", View, lambda v: plt.figure(), lambda m: error_html(m, "demo"))
    assert chart.value[:4] == b"\x89PNG" and chart.layout.display is None
    assert out.value == '<p class="gptbook-demo-summary">a &lt; b</p>'

    def refuse() -> View:
        raise WidgetInputError("No such layer.")

    show_chart(chart, out, "demo", refuse, lambda v: plt.figure(), lambda m: error_html(m, "demo"))
    assert out.value == error_html("No such layer.", "demo") and chart.layout.display == "none"


def test_widgets_do_not_ask_which_class_a_tokenizer_is():
    """Behaviour comes from the Tokenizer protocol, never from isinstance/hasattr on a tokenizer."""
    for path in WIDGET_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            called = isinstance(node, ast.Call) and getattr(node.func, "id", "")
            if called in ("isinstance", "hasattr") and "tok" in ast.unparse(node.args[0]):
                assert ast.unparse(node.args[1]) == "TokenCodec", (path.name, ast.unparse(node))
            if isinstance(node, ast.ImportFrom):
                imported = {alias.name for alias in node.names}
                assert not imported & {"BPETokenizer", "CharTokenizer"}, path.name


def test_one_token_label_for_every_tokenizer():
    bpe = BPETokenizer.from_gpt2()
    for tokenizer in (gpt2(), bpe):
        ids = tokenizer.encode(" a\n生存还是毁灭")
        labels = [token_label(tokenizer, i) for i in ids]
        assert labels[0] == "·a" and "↵" in labels and any(x.startswith("<") for x in labels)
    chars = CharTokenizer.from_text("a b\t\n")
    assert [token_label(chars, i) for i in chars.encode("a b\t\n")] == ["a", "·", "b", "→", "↵"]
    assert token_label(bpe, torch.tensor(64)) == token_label(bpe, 64) == "a"
    assert bytes_label("生".encode()[:2]) == "<e7 94>"
    assert bytes_label(b" x\n", visible_whitespace=False) == " x\n"
    assert temperature.token_label is token_label  # the chapters import it from there


def test_the_inspector_shows_a_tokenizers_refusal_as_a_message():
    chars = CharTokenizer.from_text("abc")
    shown = tokens.inspector_html("abz", chars)
    assert shown == tokens.error_html(str(pytest.raises(ValueError, chars.encode, "abz").value))
    assert "&#x27;z&#x27;" in shown


def test_chinese_and_emoji_follow_one_rule(model, tok):
    """Any text the tokenizer encodes is accepted unless the caller gives the model's training
    alphabet; then characters outside it are refused by name. A character tokenizer refuses
    characters outside its vocabulary by itself."""
    text = "To be 你好 🎭"
    assert tok.decode(temperature.check_prompt(text, tok, None)) == text
    assert generate.generate_text(model, tok, text, 0.0, 2, alphabet=None).new_tokens == 2
    with pytest.raises(temperature.PromptError, match="'你', '好', '🎭'"):
        temperature.check_prompt(text, tok, set("To be "))
    with pytest.raises(temperature.PromptError, match="'你'.*not in this tokenizer's vocabulary"):
        temperature.check_prompt(text, CharTokenizer.from_text("To be 🎭"), None)
