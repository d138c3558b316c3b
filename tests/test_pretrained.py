"""Tests of gptbook.pretrained: the shipped base model loads, its record is complete, a missing or
mismatched asset names the command that rebuilds it, and the word check counts correctly."""

from __future__ import annotations

import math

import pytest
import torch

from gptbook.checkpoint import load_checkpoint, save_checkpoint
from gptbook.model import GPT, GPTConfig
from gptbook.pretrained import (
    BASE_MODEL,
    BaseModelError,
    base_model_record,
    load_base_model,
    sample_text,
    words,
    words_in_corpus,
)
from gptbook.tokenizers import BPETokenizer, CharTokenizer


def test_words_and_the_word_check():
    assert words("O'er the hills, Romeo's love -- 'tis 3 days.") == [
        "o'er",
        "the",
        "hills",
        "romeo's",
        "love",
        "tis",
        "days",
    ]
    check = words_in_corpus(
        "the king is dead, long live the qing.", "The King is dead. Long live the King!"
    )
    assert check.n_words == 8 and check.n_known == 7 and check.unknown == ["qing"]
    assert check.fraction == pytest.approx(7 / 8)
    # a sample cut inside its last word does not count that word
    assert words_in_corpus("the king is de", "the king is dead").n_words == 3
    with pytest.raises(ValueError, match="no words"):
        words_in_corpus("... !!", "the king")


def test_missing_asset_names_the_command(tmp_path):
    with pytest.raises(BaseModelError, match="make base-model") as err:
        load_base_model(path=tmp_path / "base_model.pt")
    assert "python -m gptbook train --preset base" in str(err.value)
    with pytest.raises(BaseModelError, match="make base-model"):
        base_model_record(tmp_path / "base_model.json")


def test_mismatched_or_corrupt_asset_names_the_command(tmp_path):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=300, context=8, n_layer=1, n_head=2, d_model=16))
    tok = BPETokenizer()
    save_checkpoint(tmp_path / "ok.pt", model, tokenizer=tok)
    state = load_checkpoint(tmp_path / "ok.pt")
    state["model_config"]["n_layer"] = 2  # as if the model code or recipe changed
    torch.save(state, tmp_path / "mismatch.pt")
    with pytest.raises(BaseModelError, match=r"make base-model") as err:
        load_base_model(device="cpu", path=tmp_path / "mismatch.pt")
    assert "missing from the checkpoint" in str(err.value)
    (tmp_path / "corrupt.pt").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(BaseModelError, match="make base-model"):
        load_base_model(device="cpu", path=tmp_path / "corrupt.pt")
    save_checkpoint(tmp_path / "notok.pt", model)
    with pytest.raises(BaseModelError, match="holds no tokenizer"):
        load_base_model(device="cpu", path=tmp_path / "notok.pt")


def test_sample_text_is_seeded_and_exact_length():
    torch.manual_seed(0)
    tok = CharTokenizer.from_text("abcdefgh \n")
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, context=16, n_layer=1, n_head=1, d_model=8))
    a = sample_text(model, tok, n_chars=100, temperature=0.8, seed=1)
    b = sample_text(model, tok, n_chars=100, temperature=0.8, seed=1)
    assert a == b and len(a) == 100 and set(a) <= set("abcdefgh \n")
    with pytest.raises(ValueError, match="n_chars"):
        sample_text(model, tok, n_chars=0)


def test_the_shipped_base_model_loads_and_matches_its_record():
    model, tok = load_base_model(device="cpu")
    record = base_model_record()
    assert not model.training
    assert isinstance(tok, BPETokenizer)
    assert model.config.vocab_size == tok.vocab_size == record["tokenizer"]["vocab_size"]
    assert {k: getattr(model.config, k) for k in record["model_config"]} == record["model_config"]
    assert model.transformer.wte.weight.dtype == torch.float32
    assert BASE_MODEL.stat().st_size <= 25_000_000
    text = "ROMEO:\nBut soft, what light through yonder window breaks?"
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    _, loss = model(torch.tensor([ids[:-1]]), torch.tensor([ids[1:]]))
    assert loss.item() < math.log(tok.vocab_size) - 1  # far better than guessing uniformly
    for key in ("command", "wall_seconds_total", "machine", "final_estimate", "val_full"):
        assert key in record


def test_a_corrupt_record_is_a_clear_error(tmp_path):
    bad = tmp_path / "record.json"
    bad.write_text("{not json")
    with pytest.raises(BaseModelError, match="not readable JSON"):
        base_model_record(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(BaseModelError, match="not a JSON object"):
        base_model_record(bad)
