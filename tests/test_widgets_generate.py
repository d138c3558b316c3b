"""The generator widget: its plain function (repeatable, greedy at T = 0, refusals), callbacks."""

from __future__ import annotations

import html

import pytest
import torch

from gptbook.model import GPT, GPTConfig
from gptbook.sampling import greedy
from gptbook.tokenizers import BPETokenizer
from gptbook.widgets.generate import generate_text, generate_widget
from gptbook.widgets.temperature import PromptError

TEXT = "To be, or not to be, that is the question.\nROMEO: O, my love! " * 20
ALPHABET = set(TEXT)


@pytest.fixture(scope="module")
def tok() -> BPETokenizer:
    t = BPETokenizer()
    t.train(TEXT, 280)
    return t


@pytest.fixture(scope="module")
def model(tok) -> GPT:
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=tok.vocab_size, context=16, n_layer=1, n_head=2, d_model=16)
    return GPT(config).eval()


def test_same_seed_same_text_other_seed_other_text(model, tok):
    a = generate_text(model, tok, "To be", 1.0, 20, seed=1, alphabet=ALPHABET)
    b = generate_text(model, tok, "To be", 1.0, 20, seed=1, alphabet=ALPHABET)
    c = generate_text(model, tok, "To be", 1.0, 20, seed=2, alphabet=ALPHABET)
    assert a == b and a.continuation != c.continuation
    assert a.new_tokens == 20 and a.text.startswith("To be")


def test_temperature_zero_is_greedy(model, tok):
    g = generate_text(model, tok, "To be", 0.0, 12, seed=5)
    ids = tok.encode("To be")
    want = greedy(model, torch.tensor([ids]), 12)[0, len(ids):].tolist()
    assert g.continuation == tok.decode(want)


def test_prompt_longer_than_the_context_still_generates(model, tok):
    g = generate_text(model, tok, "To be, or not to be, " * 20, 1.0, 5, alphabet=ALPHABET)
    assert g.new_tokens == 5


@pytest.mark.parametrize("prompt, match", [("", "empty"), ("你好", "never saw")])
def test_bad_prompts(model, tok, prompt, match):
    with pytest.raises(PromptError, match=match):
        generate_text(model, tok, prompt, 1.0, 5, alphabet=ALPHABET)


def test_bad_knobs(model, tok):
    with pytest.raises(ValueError, match="temperature"):
        generate_text(model, tok, "To be", -0.5, 5)
    with pytest.raises(ValueError, match="max_new_tokens"):
        generate_text(model, tok, "To be", 1.0, -1)
    with pytest.raises(ValueError, match="seed"):
        generate_text(model, tok, "To be", 1.0, 5, seed=1.5)


def test_widget_callbacks(model, tok):
    ui = generate_widget(model, tok, prompt="To be", max_new_tokens=10, alphabet=ALPHABET)
    box, (temp, length, seed), out = ui.children[0], ui.children[1].children, ui.children[2]
    assert "gptbook-generate-output" in out._dom_classes and temp.description == "Temperature"
    first = out.value
    assert first.startswith('<pre class="gptbook-generate-text"') and "<b>To be</b>" in first
    seed.value = 7
    assert out.value != first and "seed 7" in out.value
    temp.value = 0.0
    ids = tok.encode("To be")
    greedy_text = tok.decode(greedy(model, torch.tensor([ids]), 10)[0, len(ids):].tolist())
    assert "temperature 0.00" in out.value and html.escape(greedy_text) in out.value
    length.value = 3
    assert "3 new tokens" in out.value
    box.value = ""
    assert "Cannot generate" in out.value and "empty" in out.value
    box.value = "Привет"
    assert "never saw" in out.value


@pytest.mark.parametrize("temperature", [0.0, 1e-40, 0.8])
def test_a_model_with_nan_weights_is_refused_at_any_temperature(tok, temperature):
    broken = GPT(GPTConfig(vocab_size=tok.vocab_size, context=16, n_layer=1, n_head=2, d_model=16))
    with torch.no_grad():
        broken.lm_head.weight.fill_(float("nan"))
    with pytest.raises(ValueError, match="NaN or infinite"):
        generate_text(broken.eval(), tok, "To be", temperature, 5)
    ui = generate_widget(broken.eval(), tok, prompt="To be", temperature=temperature, alphabet=None)
    assert "gptbook-generate-error" in ui.children[2].value
    assert "NaN or infinite" in ui.children[2].value


def test_a_tiny_temperature_generates_greedily(model, tok):
    assert generate_text(model, tok, "To be", 1e-40, 8).continuation == (
        generate_text(model, tok, "To be", 0.0, 8).continuation
    )
