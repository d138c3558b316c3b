"""The temperature widget: its plain function (probabilities, T -> 0, refusals), its callbacks."""

from __future__ import annotations

import math

import pytest
import torch

from gptbook.model import GPT, GPTConfig
from gptbook.sampling import next_token_probs
from gptbook.tokenizers import BPETokenizer
from gptbook.widgets.temperature import (
    PromptError,
    check_prompt,
    next_token_view,
    temperature_widget,
    token_label,
    training_alphabet,
    view_figure,
)

TEXT = "To be, or not to be, that is the question.\nROMEO: O, my love! " * 20


@pytest.fixture(scope="module")
def tok() -> BPETokenizer:
    t = BPETokenizer()
    t.train(TEXT, 280)
    return t


@pytest.fixture(scope="module")
def model(tok) -> GPT:
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=tok.vocab_size, context=16, n_layer=1, n_head=2, d_model=16)
    m = GPT(config).eval()
    with torch.no_grad():
        m.transformer.wte.weight.mul_(30)  # sharper than a fresh init
    return m


ALPHABET = set(TEXT)


def test_view_matches_the_model_and_sums_to_one(model, tok):
    view = next_token_view(model, tok, "To be", 1.0, top=5, alphabet=ALPHABET)
    probs = next_token_probs(model, torch.tensor([tok.encode("To be")]))[0]
    assert view.ids == torch.topk(probs, 5).indices.tolist()
    assert view.probs == pytest.approx(torch.topk(probs, 5).values.tolist(), abs=1e-6)
    assert view.total == pytest.approx(1.0, abs=1e-6)
    assert view.vocab_size == tok.vocab_size
    assert view.probs == sorted(view.probs, reverse=True)
    assert "sum to 1.0000" in view.summary()


def test_temperature_zero_is_the_argmax_and_high_t_is_flatter(model, tok):
    v0 = next_token_view(model, tok, "To be", 0.0, top=3)
    v1 = next_token_view(model, tok, "To be", 1.0, top=3)
    v5 = next_token_view(model, tok, "To be", 5.0, top=3)
    assert v0.ids[0] == v1.ids[0] and v0.probs[0] == 1.0 and v0.entropy_bits == 0.0
    assert v5.probs[0] < v1.probs[0] and v5.entropy_bits > v1.entropy_bits > 0
    # one token takes everything: the entropy is +0, printed as "entropy 0.00 bits", never "-0.00"
    assert math.copysign(1.0, v0.entropy_bits) == 1.0 and "entropy 0.00 bits" in v0.summary()


def test_long_prompt_is_cropped_not_refused(model, tok):
    long = "To be, or not to be, " * 30
    assert len(tok.encode(long)) > model.config.context
    view = next_token_view(model, tok, long, 1.0, alphabet=ALPHABET)
    assert view.total == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    "prompt, match",
    [("", "empty"), ("   \n", "empty"), ("Привет", "never saw"), (3, "must be text")],
)
def test_bad_prompts_are_refused_with_a_message(model, tok, prompt, match):
    with pytest.raises(PromptError, match=match):
        next_token_view(model, tok, prompt, 1.0, alphabet=ALPHABET)


def test_unseen_characters_are_named(tok):
    with pytest.raises(PromptError) as e:
        check_prompt("To be 你好", tok, ALPHABET)
    assert "'你'" in str(e.value) and "'好'" in str(e.value)
    # without an alphabet, byte-level BPE encodes anything
    assert tok.decode(check_prompt("To be 你好", tok, None)) == "To be 你好"


def test_tokenizer_refusals_become_prompt_errors(tok):
    special = BPETokenizer()
    special.train(TEXT, 280)
    special.register_special_tokens({"<|endoftext|>": 280})
    with pytest.raises(PromptError, match="cannot encode"):
        check_prompt("To be<|endoftext|>", special, None)


def test_bad_knobs(model, tok):
    with pytest.raises(ValueError, match="temperature"):
        next_token_view(model, tok, "To be", -1.0)
    with pytest.raises(ValueError, match="top"):
        next_token_view(model, tok, "To be", 1.0, top=0)


def test_training_alphabet_is_the_shakespeare_characters():
    a = training_alphabet()
    assert {"a", "Z", " ", "\n", ",", "'"} <= a
    assert "Ж" not in a and all(ord(c) < 128 for c in a)


def test_token_label_shows_spaces_newlines_and_partial_bytes(tok):
    assert token_label(tok, tok.encode(" ")[0]) == "·"
    assert token_label(tok, tok.encode("\n")[0]) == "↵"
    first_byte_of_zhe = "Ж".encode()[0]  # byte-level: ids 0..255 are the bytes
    assert token_label(tok, first_byte_of_zhe) == f"<{first_byte_of_zhe:02x}>"


def test_figure_has_one_bar_per_token(model, tok):
    import matplotlib.pyplot as plt

    view = next_token_view(model, tok, "To be", 1.0, top=4)
    fig = view_figure(view)
    assert len(fig.axes[0].patches) == 4
    assert fig.axes[0].get_title() == "after 'To be' at T = 1.00"
    plt.close(fig)


def test_figure_title_can_be_replaced_for_side_by_side_charts(model, tok):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2)
    for ax, t in zip(axes, (0.5, 2.0)):
        view_figure(next_token_view(model, tok, "To be", t, top=3), ax=ax, title=f"T = {t}")
    assert [ax.get_title() for ax in axes] == ["T = 0.5", "T = 2.0"]
    plt.close(fig)


def test_widget_callbacks_update_and_show_errors(model, tok):
    ui = temperature_widget(model, tok, prompt="To be", alphabet=ALPHABET)
    box, slider, out, chart = ui.children
    assert "gptbook-temperature" in ui._dom_classes
    assert "gptbook-temperature-slider" in slider._dom_classes
    first_png, first_text = chart.value, out.value
    assert first_png[:4] == b"\x89PNG" and "sum to 1.0000" in first_text
    slider.value = 1.7
    assert chart.value != first_png and "T = 1.70" in out.value
    box.value = ""
    assert "Cannot show" in out.value and "empty" in out.value and chart.layout.display == "none"
    box.value = "Привет"
    assert "never saw" in out.value
    box.value = "To be"
    assert "sum to 1.0000" in out.value and chart.layout.display is None


def test_a_tiny_temperature_is_the_argmax_not_nan(model, tok):
    argmax = next_token_view(model, tok, "To be", 0.0, top=3)
    for t in (1e-40, 1e-300, 5e-324):
        view = next_token_view(model, tok, "To be", t, top=3)
        assert view.ids[0] == argmax.ids[0] and view.probs[0] == pytest.approx(1.0)
        assert view.total == pytest.approx(1.0) and "nan" not in view.summary()


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1e-9, "hot"])
def test_a_temperature_that_is_not_a_finite_number_is_refused(model, tok, bad):
    with pytest.raises(ValueError, match="temperature"):
        next_token_view(model, tok, "To be", bad)


@pytest.mark.parametrize("poison", [float("nan"), float("inf")])
def test_a_model_with_non_finite_weights_is_refused_not_shown_as_nan(tok, poison):
    broken = GPT(GPTConfig(vocab_size=tok.vocab_size, context=16, n_layer=1, n_head=2, d_model=16))
    with torch.no_grad():
        broken.transformer.wte.weight[5, 0] = poison
    with pytest.raises(ValueError, match="NaN or infinite") as e:
        next_token_view(broken.eval(), tok, "To be", 1.0)
    assert "nan%" not in str(e.value)
    ui = temperature_widget(broken, tok, prompt="To be", alphabet=None)
    _, _, out, chart = ui.children
    assert "gptbook-temperature-error" in out.value and "NaN or infinite" in out.value
    assert "nan%" not in out.value and chart.layout.display == "none"
