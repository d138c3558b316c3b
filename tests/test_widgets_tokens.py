"""The token inspector's merge slider: encoding with the first n merges, what it shows, bad input."""

from __future__ import annotations

import pytest

from gptbook.tokenizers import ENDOFTEXT, BPETokenizer, CharTokenizer, gpt2
from gptbook.widgets.tokens import (
    MergeStepError,
    inspector_html,
    inspector_merges_html,
    merge_step,
    merge_step_html,
    token_inspector,
    token_spans,
)

TEXT = "the thin thing, then the theatre. " * 20


@pytest.fixture(scope="module")
def bpe() -> BPETokenizer:
    tok = BPETokenizer()
    tok.train(TEXT, vocab_size=256 + 12)
    tok.register_special_tokens({ENDOFTEXT: 300})
    return tok


def test_zero_merges_are_bytes_and_all_merges_the_full_encoding(bpe):
    text = "the theatre " + ENDOFTEXT
    start = merge_step(text, bpe, 0)
    assert [s.raw for s in start.spans[:3]] == [b"t", b"h", b"e"] and start.last_merge is None
    assert start.spans[-1].id == 300  # special tokens still count as one token
    full = merge_step(text, bpe, 12)
    assert [s.id for s in full.spans] == bpe.encode(text, allowed_special="all")
    assert full.total == 12


def test_each_step_replays_training_one_merge_at_a_time(bpe):
    counts = [len(merge_step(TEXT, bpe, n).spans) for n in range(13)]
    assert counts[0] == len(TEXT.encode()) and all(a > b for a, b in zip(counts, counts[1:]))
    for n in (1, 5, 12):
        step = merge_step(TEXT, bpe, n)
        (a, b), new_id = list(bpe.merges.items())[n - 1]
        assert step.last_merge == (bpe.vocab[a], bpe.vocab[b], new_id)
        assert [s.id for s in step.spans] == bpe.truncated(256 + n).encode(TEXT)


def test_the_html_names_the_last_merge_and_counts_tokens(bpe):
    page = merge_step_html("the thing", bpe, 1)
    (a, b), new_id = next(iter(bpe.merges.items()))
    assert "after 1 of 12 merges" in page and f"into token {new_id}" in page
    assert f"<b>{len(merge_step('the thing', bpe, 1).spans)} tokens</b>" in page
    assert "no merge yet" in merge_step_html("the", bpe, 0)


@pytest.mark.parametrize("bad", [-1, 13, 2.5, True, "3"])
def test_a_merge_count_out_of_range_is_refused_with_a_message(bpe, bad):
    with pytest.raises(MergeStepError, match="from 0 to 12"):
        merge_step("the", bpe, bad)
    shown = inspector_merges_html("the", bpe, bad)
    assert "gptbook-tokens-error" in shown and "from 0 to 12" in shown


def test_only_bpe_tokenizers_have_merges():
    with pytest.raises(MergeStepError, match="needs a byte-level BPE tokenizer"):
        merge_step("abc", CharTokenizer.from_text("abc"), 0)
    chars = CharTokenizer.from_text("abc")
    assert inspector_merges_html("abc", chars, 3) == inspector_html("abc", chars)


def test_the_inspector_slider_follows_the_menu(bpe):
    chars = CharTokenizer.from_text(TEXT)
    ui = token_inspector({"BPE": bpe, "characters": chars, "GPT-2": gpt2()}, text="the thin")
    menu, box, slider, out = ui.children
    assert "gptbook-tokens-merges-slider" in slider._dom_classes
    assert (slider.max, slider.value, slider.disabled) == (12, 12, False)
    assert out.value == merge_step_html("the thin", bpe, 12)
    slider.value = 0
    assert out.value == merge_step_html("the thin", bpe, 0) and "8 tokens" in out.value
    menu.value = "characters"
    assert slider.disabled and out.value == inspector_html("the thin", chars)
    menu.value = "BPE"
    assert slider.value == 12 and not slider.disabled
    box.value = "then"
    assert out.value == merge_step_html("then", bpe, 12)
    assert [s.id for s in token_spans("then", bpe)] == [s.id for s in merge_step("then", bpe, 12).spans]
