"""Tokenizers under hostile use: protocol, atomic saves, checked files, tensor ids, long words."""

from __future__ import annotations

import json
import os
import random

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gptbook.tokenizers as tokenizers
from gptbook.data import shakespeare
from gptbook.tokenizers import (
    ENDOFTEXT,
    BPETokenizer,
    CharTokenizer,
    SplitPatternError,
    Tokenizer,
    TokenizerFileError,
    UnknownTokenIdError,
    gpt2,
    load_tokenizer,
    tokenizer_from_dict,
)


@pytest.fixture(scope="module")
def small_bpe() -> BPETokenizer:
    tok = BPETokenizer()
    tok.train(shakespeare()[:30_000] + " Быть или не быть 生存还是毁灭 🎭", vocab_size=400)
    tok.register_special_tokens({ENDOFTEXT: 400})
    return tok


@pytest.fixture(scope="module")
def gpt2_bpe() -> BPETokenizer:
    return BPETokenizer.from_gpt2()


def _bpe_dict(**changes) -> dict:
    tok = BPETokenizer()
    tok.train("low lower lowest newer wider", vocab_size=270)
    data = tok.to_dict()
    data.update(changes)
    return data


# --------------------------------------------------------------------------- the protocol


def test_both_tokenizers_follow_the_protocol_and_rebuild_from_their_dict(small_bpe):
    text = "Hark! Быть 生存 🎭 " + ENDOFTEXT
    for tok in (CharTokenizer.from_text(text), small_bpe):
        assert isinstance(tok, Tokenizer)
        data = json.loads(json.dumps(tok.to_dict()))  # plain JSON data
        back = tokenizer_from_dict(data)
        assert type(back) is type(tok) and back.to_dict() == tok.to_dict()
        assert type(tok).from_dict(data).to_dict() == tok.to_dict()
        ids = tok.encode(text, allowed_special="all")
        assert back.encode(text, allowed_special="all") == ids
        assert back.decode(ids) == text and back.decode_bytes(ids) == text.encode("utf-8")
        assert back.vocab_size == tok.vocab_size
    assert not isinstance(gpt2(), Tokenizer)  # tiktoken encodes, but cannot be saved with a model


def test_the_dict_is_the_file_format(tmp_path, small_bpe):
    path = tmp_path / "bpe.json"
    small_bpe.save(path)
    assert json.loads(path.read_text(encoding="utf-8")) == small_bpe.to_dict()
    assert load_tokenizer(path).to_dict() == small_bpe.to_dict()


def test_tokenizer_from_dict_refuses_what_is_not_a_tokenizer():
    with pytest.raises(TokenizerFileError, match="no 'kind'"):
        tokenizer_from_dict({"hello": 1}, "the tokenizer in run/checkpoint.pt")
    with pytest.raises(TokenizerFileError, match="run/checkpoint.pt.*unknown tokenizer kind"):
        tokenizer_from_dict(_bpe_dict(kind=["x"]), "the tokenizer in run/checkpoint.pt")
    with pytest.raises(TokenizerFileError, match="no 'kind'"):
        tokenizer_from_dict(["gptbook.BPETokenizer"])  # type: ignore[arg-type]
    with pytest.raises(TokenizerFileError, match="not a 'gptbook.CharTokenizer'"):
        CharTokenizer.from_dict(_bpe_dict())


def test_load_tokenizer_refuses_json_that_is_not_an_object_and_folders(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(TokenizerFileError, match="no 'kind'"):
        load_tokenizer(path)
    with pytest.raises(TokenizerFileError, match="not a 'gptbook.BPETokenizer'"):
        BPETokenizer.load(path)
    with pytest.raises(TokenizerFileError, match="folder"):
        load_tokenizer(tmp_path)


# --------------------------------------------------------------------------- atomic save


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name != "tok.json")


def test_a_save_that_fails_leaves_the_old_file_intact(tmp_path):
    path = tmp_path / "tok.json"
    good = CharTokenizer.from_text("abc")
    good.save(path)
    before = path.read_bytes()
    bad = CharTokenizer(["a", "\ud800"])  # a lone surrogate has no UTF-8 form
    with pytest.raises(TokenizerFileError, match="left unchanged"):
        bad.save(path)
    assert path.read_bytes() == before and _leftovers(tmp_path) == []
    assert load_tokenizer(path).to_dict() == good.to_dict()


def test_a_save_failing_while_writing_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "tok.json"
    CharTokenizer.from_text("abc").save(path)
    before = path.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        BPETokenizer().save(path)
    assert path.read_bytes() == before and _leftovers(tmp_path) == []
    monkeypatch.undo()
    BPETokenizer().save(path)  # a later save works and replaces the file whole
    assert isinstance(load_tokenizer(path), BPETokenizer) and _leftovers(tmp_path) == []


def test_save_keeps_the_files_permissions(tmp_path):
    path = tmp_path / "tok.json"
    CharTokenizer.from_text("abc").save(path)
    assert path.stat().st_mode & 0o777 == 0o644
    os.chmod(path, 0o640)
    CharTokenizer.from_text("abcd").save(path)
    assert path.stat().st_mode & 0o777 == 0o640


# --------------------------------------------------------------------------- the split pattern


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("", "empty"),
        (None, "empty"),
        (r"\p{L}+", "does not cover"),
        (r"\p{L}+|\p{N}+", "does not cover"),
        (r"(\w+)|\s+|.", "capturing groups"),
        (r"(?:a|a)*$|\s+|.", "backtracks catastrophically"),
        ("(unclosed", "does not compile"),
    ],
)
def test_a_file_with_a_bad_split_pattern_is_refused(pattern, message):
    with pytest.raises(TokenizerFileError, match=message):
        tokenizer_from_dict(_bpe_dict(pattern=pattern))
    with pytest.raises(SplitPatternError, match=message):
        BPETokenizer(pattern)


def test_a_pattern_that_hangs_on_other_text_times_out_when_encoding(monkeypatch):
    tok = BPETokenizer(r"(?:z|z)*$|\s+|.")  # passes the probe, backtracks on a run of z's
    assert tok.decode(tok.encode("fine text")) == "fine text"
    monkeypatch.setattr(tokenizers, "SPLIT_SECONDS", 0.2)
    with pytest.raises(SplitPatternError, match="backtracks catastrophically"):
        tok.encode("z" * 60 + "!")


def test_a_pattern_that_covers_the_probe_but_not_the_text_is_an_error_when_encoding():
    tok = BPETokenizer(r"[^§]+")  # passes the probe, which has no §
    assert tok.encode("fine") == list(b"fine")
    with pytest.raises(SplitPatternError, match="skips part of the text"):
        tok.encode("a § b")


# --------------------------------------------------------------------------- merges and ids


@pytest.mark.parametrize(
    ("merges", "message"),
    [
        ([[108, 111, 10**9]], "must make id 256"),
        ([[108, 111, 256], [256, 119, 258]], "must make id 257"),
        ([[108, 111, 256], [999, 119, 257]], "does not exist yet"),
        ([[108, 111, 256], [108, 111, 257]], "repeats the pair"),
        ([[108, 111]], "not \\[left id"),
        ([[108, 111, True]], "not \\[left id"),
        ([[108.0, 111, 256]], "not \\[left id"),
        ({"a": 1}, "must be a list"),
    ],
)
def test_a_file_with_bad_merges_is_refused(merges, message):
    with pytest.raises(TokenizerFileError, match=message):
        tokenizer_from_dict(_bpe_dict(merges=merges))


def test_absurd_vocabulary_sizes_are_refused():
    too_many = [[0, 0, 256]] * (tokenizers.MAX_VOCAB_SIZE - 255)
    with pytest.raises(TokenizerFileError, match="more than a vocabulary"):
        tokenizer_from_dict(_bpe_dict(merges=too_many))
    with pytest.raises(TokenizerFileError, match="must be an int from 0"):
        tokenizer_from_dict(_bpe_dict(special_tokens={ENDOFTEXT: 10**9}))
    with pytest.raises(TokenizerFileError, match="share one id"):
        tokenizer_from_dict(_bpe_dict(special_tokens={"<a>": 300, "<b>": 300}))
    with pytest.raises(TokenizerFileError, match="byte_ids"):
        tokenizer_from_dict(_bpe_dict(byte_ids=list(range(1, 257))))


def test_the_shipped_base_models_tokenizer_still_loads():
    from gptbook.pretrained import BASE_MODEL

    stored = torch.load(BASE_MODEL, map_location="cpu", weights_only=True)["tokenizer"]
    data = json.loads(stored) if isinstance(stored, str) else stored  # JSON text, or its dict
    tok = tokenizer_from_dict(data, "the base model's tokenizer")
    assert tok.vocab_size == 4096 and tok.decode(tok.encode("Romeo.\n")) == "Romeo.\n"


# --------------------------------------------------------------------------- hostile dicts


def _mutate(data: dict, draw) -> dict:
    """One random corruption of a tokenizer dict: a key dropped or given a value of another shape,
    a merge or byte id changed, a special token added."""
    data = json.loads(json.dumps(data))
    key = draw(st.sampled_from(sorted(data)))
    junk = st.recursive(
        st.none() | st.booleans() | st.integers(-2, 10**10) | st.floats() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=3), inner, max_size=3),
        max_leaves=8,
    )
    how = draw(st.sampled_from(["drop", "replace", "poke", "special"]))
    if how == "drop":
        del data[key]
    elif how == "replace":
        data[key] = draw(junk)
    elif how == "poke" and data.get("merges"):
        k = draw(st.integers(0, len(data["merges"]) - 1))
        data["merges"][k][draw(st.integers(0, 2))] = draw(st.integers(-3, 2**31) | junk)
    elif how == "poke" and "chars" in data:
        data["chars"].insert(draw(st.integers(0, len(data["chars"]))), draw(st.text(max_size=2)))
    elif how == "special":
        data["special_tokens"] = {draw(st.text(max_size=4)): draw(st.integers(-2, 2**31))}
    return data


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_corrupted_tokenizer_dict_loads_and_round_trips_or_is_a_clear_error(data):
    chars = CharTokenizer.from_text("hello wörld 生")
    bpe = BPETokenizer()
    bpe.train("low lower lowest newer wider 生生 生存", vocab_size=275)
    original = data.draw(st.sampled_from([chars, bpe])).to_dict()
    corrupted = _mutate(original, data.draw)
    try:
        tok = tokenizer_from_dict(corrupted)
    except TokenizerFileError:
        return
    again = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
    assert again.to_dict() == tok.to_dict()
    sample = "".join(getattr(tok, "chars", [])) or "lower 生存 wider!"
    ids = tok.encode(sample, allowed_special="none")
    assert tok.decode(ids) == sample and again.encode(sample, allowed_special="none") == ids


# --------------------------------------------------------------------------- decoding tensors


def test_decode_takes_integer_tensors_and_arrays_and_names_plain_numbers(small_bpe):
    chars = CharTokenizer.from_text("abcdef")
    for tok in (chars, small_bpe):
        ids = tok.encode("face")
        assert tok.decode(torch.tensor(ids)) == "face" == tok.decode(np.array(ids))
        assert tok.decode(torch.tensor(ids[0])) == "f" == tok.decode(np.int64(ids[0]).reshape(()))
        with pytest.raises(UnknownTokenIdError, match="Token id 99999 is (outside|not in)") as e:
            tok.decode(torch.tensor([ids[0], 99999]))
        assert "tensor" not in str(e.value)
        with pytest.raises(UnknownTokenIdError, match="Token id 1.5 ") as e:
            tok.decode(torch.tensor([1.5]))
        assert "tensor" not in str(e.value)
        with pytest.raises(UnknownTokenIdError, match=rf"shape \(1, {len(ids)}\).*ids\[0\]"):
            tok.decode(torch.tensor([ids]))
        with pytest.raises(UnknownTokenIdError, match="Token id True"):
            tok.decode([True])
        with pytest.raises(UnknownTokenIdError, match="text"):
            tok.decode("abc")


# --------------------------------------------------------------------------- long chunks


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(b"aeilnorst \xd0\xb1\xd1"), min_size=0, max_size=300))
def test_merging_long_chunks_equals_the_simple_algorithm(small_bpe, raw):
    ids = [small_bpe.byte_ids[b] for b in raw]
    assert small_bpe._merge_long(ids) == small_bpe._merge_short(ids)


def test_long_words_encode_exactly_like_tiktoken(gpt2_bpe):
    rng = random.Random(0)
    enc = gpt2()
    words = [
        "a" * 20_000,
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(20_000)),
        "".join(rng.choice("aeiouAEIOUnrst") for _ in range(5_000)),
        "7" * 3_000 + "".join(rng.choice("0123456789") for _ in range(3_000)),
        "".join(rng.choice("生存还是毁灭") for _ in range(2_000)),
        "!?" * 2_000,
    ]
    for word in words:
        assert gpt2_bpe.encode(word) == enc.encode_ordinary(word)
        assert gpt2_bpe.encode(" " + word + " x") == enc.encode_ordinary(" " + word + " x")
