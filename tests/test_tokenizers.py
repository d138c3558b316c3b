"""Tests of gptbook.tokenizers: the character tokenizer, our byte-level BPE, and GPT-2's tokenizer."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from gptbook.data import shakespeare
from gptbook.tokenizers import (
    ENDOFTEXT,
    GPT2_SPLIT_PATTERN,
    BPETokenizer,
    CharTokenizer,
    DisallowedSpecialTokenError,
    TokenizerFileError,
    UnknownCharacterError,
    UnknownTokenIdError,
    gpt2,
    load_tokenizer,
    merge,
)

CHECK_SENTENCE = "Hello, do you like tea? <|endoftext|> In the sunlit terraces of someunknownPlace."
CHECK_IDS = [15496, 11, 466, 345, 588, 8887, 30, 220, 50256, 554, 262, 4252, 18250, 8812, 2114, 286,
             617, 34680, 27271, 13]

MULTILINGUAL = [
    "Быть или не быть, вот в чём вопрос.",
    "生存还是毁灭，这是一个值得考虑的问题。",
    "To be, or not to be 🤔🎭👩‍👩‍👧 — that is the question…",
    "Ünïcödé: naïve café, Straße, ﬁ ligature, ½, Ⅻ, 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "  leading spaces,\ttabs,\n\n\nnewlines   and trailing   ",
    "numbers 1234567890 3.14159 and contractions: don't, we'll, they've, I'd, she's",
    "שלום עולם, مرحبا بالعالم, नमस्ते दुनिया, こんにちは世界, 안녕하세요",
]


@pytest.fixture(scope="module")
def gpt2_bpe() -> BPETokenizer:
    return BPETokenizer.from_gpt2()


@pytest.fixture(scope="module")
def small_bpe() -> BPETokenizer:
    """A 512-token BPE trained on 100 kB of Shakespeare plus a little Russian and Chinese."""
    tok = BPETokenizer()
    tok.train(shakespeare()[:100_000] + "\n".join(MULTILINGUAL) * 3, vocab_size=512)
    return tok


# --------------------------------------------------------------------------- GPT-2 through tiktoken


def test_gpt2_encodes_the_check_sentence_to_the_listed_ids():
    enc = gpt2()
    assert enc.encode(CHECK_SENTENCE, allowed_special={ENDOFTEXT}) == CHECK_IDS
    assert enc.n_vocab == 50257 and enc.eot_token == 50256
    assert enc.decode(CHECK_IDS) == CHECK_SENTENCE


def test_our_bpe_with_gpt2_merges_gives_the_listed_ids():
    ours = BPETokenizer.from_gpt2()
    assert ours.encode(CHECK_SENTENCE, allowed_special="all") == CHECK_IDS
    assert ours.vocab_size == 50257 and len(ours.merges) == 50000
    assert ours.decode(CHECK_IDS) == CHECK_SENTENCE


def test_from_gpt2_equals_tiktoken_on_the_whole_corpus_and_other_scripts(gpt2_bpe):
    """The whole Shakespeare corpus (5 MB, about 1.57M tokens) takes a few seconds; it is checked here."""
    ours, enc = gpt2_bpe, gpt2()
    text = shakespeare()
    ids = ours.encode(text)
    assert ids == enc.encode_ordinary(text)
    assert ours.decode(ids) == text
    for sample in MULTILINGUAL:
        assert ours.encode(sample) == enc.encode_ordinary(sample), sample
        assert ours.decode(ours.encode(sample)) == sample


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_from_gpt2_equals_tiktoken_on_arbitrary_unicode(gpt2_bpe, text):
    ours, enc = gpt2_bpe, gpt2()
    ids = ours.encode(text, allowed_special="none")
    assert ids == enc.encode_ordinary(text)
    assert ours.decode(ids) == text


# --------------------------------------------------------------------------- characters


def test_char_tokenizer_vocabulary_is_the_sorted_set():
    tok = CharTokenizer.from_text("hello world")
    assert tok.chars == [" ", "d", "e", "h", "l", "o", "r", "w"]
    assert tok.vocab_size == 8
    assert tok.encode("hello") == [3, 2, 4, 4, 5]
    assert tok.decode([7, 5, 6, 4, 1]) == "world"


@given(st.text(min_size=1))
def test_char_tokenizer_round_trips_any_text_on_its_own_alphabet(text):
    tok = CharTokenizer.from_text(text)
    ids = tok.encode(text)
    assert len(ids) == len(text)
    assert all(0 <= i < tok.vocab_size for i in ids)
    assert tok.decode(ids) == text


@given(st.text(min_size=1), st.data())
def test_char_tokenizer_round_trips_any_string_of_its_characters(alphabet, data):
    tok = CharTokenizer(alphabet)
    text = data.draw(st.text(alphabet=tok.chars))
    assert tok.decode(tok.encode(text)) == text


def test_char_tokenizer_unknown_character_names_it_and_its_position():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(UnknownCharacterError, match=r"'z'.*position 2"):
        tok.encode("abzc")
    with pytest.raises(ValueError):  # it is a ValueError too
        tok.encode("Я")


def test_char_tokenizer_rejects_bad_vocabularies():
    with pytest.raises(ValueError, match="at least one character"):
        CharTokenizer("")
    with pytest.raises(ValueError, match="single characters"):
        CharTokenizer(["ab", "c"])


@pytest.mark.parametrize("bad", [-1, 3, 99, 1.0, "a"])
def test_char_tokenizer_decode_of_an_id_outside_the_vocabulary(bad):
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(UnknownTokenIdError, match="outside the vocabulary"):
        tok.decode([0, bad])


def test_char_tokenizer_save_and_load(tmp_path):
    tok = CharTokenizer.from_text("Быть или не быть 生存")
    tok.save(tmp_path / "chars.json")
    back = CharTokenizer.load(tmp_path / "chars.json")
    assert back.chars == tok.chars
    again = load_tokenizer(tmp_path / "chars.json")
    assert isinstance(again, CharTokenizer) and again.encode("быть") == tok.encode("быть")


# --------------------------------------------------------------------------- training our BPE


def naive_train(text: str, vocab_size: int) -> dict[tuple[int, int], int]:
    """Textbook BPE training: recount every pair in every chunk before each merge. The most
    frequent pair wins; ties go to the smallest pair, the package's rule."""
    chunks = [list(c.encode("utf-8")) for c in regex.findall(GPT2_SPLIT_PATTERN, text)]
    merges = {}
    for new_id in range(256, vocab_size):
        counts = Counter(p for ids in chunks for p in zip(ids, ids[1:]))
        if not counts:
            break
        pair = max(counts, key=lambda p: (counts[p], -p[0], -p[1]))
        merges[pair] = new_id
        chunks = [merge(ids, pair, new_id) for ids in chunks]
    return merges


def test_training_equals_the_naive_algorithm():
    text = shakespeare()[200_000:230_000] + "aaaa aaaaa ааааа 生生生生"
    tok = BPETokenizer()
    tok.train(text, vocab_size=400)
    assert tok.merges == naive_train(text, 400)
    assert len(tok.merges) == 144 and tok.vocab_size == 400


def test_training_is_deterministic_and_merges_are_consistent(small_bpe):
    again = BPETokenizer()
    again.train(shakespeare()[:100_000] + "\n".join(MULTILINGUAL) * 3, vocab_size=512)
    assert again.merges == small_bpe.merges
    for (a, b), new in small_bpe.merges.items():
        assert a < new and b < new
        assert small_bpe.vocab[new] == small_bpe.vocab[a] + small_bpe.vocab[b]


def test_trained_bpe_compresses_shakespeare(small_bpe):
    text = shakespeare()[300_000:320_000]  # not in the training slice
    ids = small_bpe.encode(text)
    assert len(ids) < 0.6 * len(text.encode("utf-8"))  # 256 merges: about 0.53 tokens per byte
    assert small_bpe.decode(ids) == text


def test_training_stops_with_a_warning_when_pairs_run_out():
    tok = BPETokenizer()
    with pytest.warns(UserWarning, match="no pairs left"):
        tok.train("abc", vocab_size=300)
    assert len(tok.merges) == 2
    assert tok.encode("abc") == [257]


def test_truncated_equals_training_to_the_smaller_size(small_bpe):
    direct = BPETokenizer()
    direct.train(shakespeare()[:100_000] + "\n".join(MULTILINGUAL) * 3, vocab_size=300)
    assert small_bpe.truncated(300).merges == direct.merges
    assert small_bpe.truncated(256).encode("hi") == [104, 105]
    with pytest.raises(ValueError, match="from 256 to 512"):
        small_bpe.truncated(513)


@pytest.mark.parametrize("bad", [255, 0, -5, 300.0])
def test_training_rejects_a_vocabulary_smaller_than_the_bytes(bad):
    with pytest.raises(ValueError, match="vocab_size must be an int >= 256"):
        BPETokenizer().train("hello", vocab_size=bad)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_trained_bpe_round_trips_arbitrary_unicode(small_bpe, text):
    ids = small_bpe.encode(text, allowed_special="none")
    assert all(0 <= i < small_bpe.vocab_size for i in ids)
    assert small_bpe.decode(ids) == text


# --------------------------------------------------------------------------- special tokens


def with_eot(tok: BPETokenizer) -> BPETokenizer:
    tok.register_special_tokens({ENDOFTEXT: tok.vocab_size})
    return tok


def test_special_tokens_follow_tiktokens_allowed_special():
    tok = BPETokenizer()
    tok.train(shakespeare()[:20_000], vocab_size=300)
    with_eot(tok)
    eot = tok.special_tokens[ENDOFTEXT]
    assert eot == 300 and tok.vocab_size == 301
    text = "first play" + ENDOFTEXT + "second play"
    ids = tok.encode(text, allowed_special="all")
    assert ids.count(eot) == 1 and tok.decode(ids) == text
    assert tok.encode(text, allowed_special={ENDOFTEXT}) == ids
    ordinary = tok.encode(text, allowed_special="none")
    assert eot not in ordinary and tok.decode(ordinary) == text and len(ordinary) > len(ids)


def test_special_token_in_text_without_allowing_it_is_a_clear_error():
    tok = with_eot(BPETokenizer())
    with pytest.raises(DisallowedSpecialTokenError, match=r"<\|endoftext\|>.*position 5.*allowed_special"):
        tok.encode("hello<|endoftext|>")
    with pytest.raises(DisallowedSpecialTokenError):
        tok.encode("hello<|endoftext|>", allowed_special="none_raise")


def test_a_set_allows_only_its_own_special_tokens():
    tok = BPETokenizer()
    tok.register_special_tokens({ENDOFTEXT: 256, "<|pad|>": 257})
    assert tok.encode("a<|pad|>", allowed_special={"<|pad|>"}) == [97, 257]
    with pytest.raises(DisallowedSpecialTokenError, match="endoftext"):
        tok.encode("a<|pad|><|endoftext|>", allowed_special={"<|pad|>"})
    with pytest.raises(ValueError, match="not registered"):
        tok.encode("a", allowed_special={"<|nope|>"})
    with pytest.raises(ValueError, match="allowed_special must be"):
        tok.encode("a", allowed_special="some")


def test_special_token_ids_must_be_new():
    tok = BPETokenizer()
    with pytest.raises(ValueError, match="already used"):
        tok.register_special_tokens({ENDOFTEXT: 65})
    tok.register_special_tokens({ENDOFTEXT: 1000})
    with pytest.raises(ValueError, match="collide"):
        tok.train("hello hello", vocab_size=1024)


def test_gpt2_special_token_rules_match_tiktoken():
    ours, enc = BPETokenizer.from_gpt2(), gpt2()
    assert ours.encode(CHECK_SENTENCE, allowed_special="none") == enc.encode(
        CHECK_SENTENCE, disallowed_special=()
    )
    with pytest.raises(ValueError):
        enc.encode(CHECK_SENTENCE)  # tiktoken refuses too
    with pytest.raises(DisallowedSpecialTokenError):
        ours.encode(CHECK_SENTENCE)


# --------------------------------------------------------------------------- decoding bad ids


@pytest.mark.parametrize("bad", [-1, 512, 10_000])
def test_bpe_decode_of_an_id_outside_the_vocabulary(small_bpe, bad):
    with pytest.raises(UnknownTokenIdError, match=f"Token id {bad} is not in the vocabulary"):
        small_bpe.decode([104, bad])


def test_bpe_decode_of_an_unused_id_between_vocab_and_special():
    tok = BPETokenizer()
    tok.register_special_tokens({ENDOFTEXT: 1000})
    assert tok.decode([1000]) == ENDOFTEXT
    with pytest.raises(UnknownTokenIdError):
        tok.decode([500])


def test_gpt2_decode_of_an_id_outside_the_vocabulary():
    with pytest.raises(UnknownTokenIdError):
        BPETokenizer.from_gpt2().decode([50257])


# --------------------------------------------------------------------------- saving and loading


def test_bpe_save_and_load_round_trip(tmp_path):
    tok = BPETokenizer()
    tok.train(shakespeare()[:20_000], vocab_size=300)
    with_eot(tok)
    tok.save(tmp_path / "bpe.json")
    back = BPETokenizer.load(tmp_path / "bpe.json")
    assert back.merges == tok.merges and back.special_tokens == tok.special_tokens
    text = "Hark! " + ENDOFTEXT + " Быть 生存 🎭"
    assert back.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")
    assert isinstance(load_tokenizer(tmp_path / "bpe.json"), BPETokenizer)


def test_gpt2_merges_survive_save_and_load(tmp_path):
    ours = BPETokenizer.from_gpt2()
    ours.save(tmp_path / "gpt2.json")
    back = load_tokenizer(tmp_path / "gpt2.json")
    assert back.encode(CHECK_SENTENCE, allowed_special="all") == CHECK_IDS


def _bpe_file(tmp_path, **changes):
    tok = BPETokenizer()
    tok.train("low lower lowest newer wider", vocab_size=270)
    tok.save(tmp_path / "ok.json")
    data = json.loads((tmp_path / "ok.json").read_text())
    data.update(changes)
    path = tmp_path / "changed.json"
    path.write_text(json.dumps(data))
    return path


def test_loading_a_corrupt_or_mismatched_file_is_a_clear_error(tmp_path):
    truncated = tmp_path / "truncated.json"
    _bpe_file(tmp_path)
    truncated.write_text((tmp_path / "ok.json").read_text()[:50])
    with pytest.raises(TokenizerFileError, match="not readable JSON"):
        BPETokenizer.load(truncated)
    with pytest.raises(TokenizerFileError, match="not readable JSON"):
        load_tokenizer(truncated)
    not_ours = tmp_path / "other.json"
    not_ours.write_text('{"hello": 1}')
    with pytest.raises(TokenizerFileError, match="no 'kind'"):
        load_tokenizer(not_ours)
    with pytest.raises(TokenizerFileError, match="No tokenizer file"):
        load_tokenizer(tmp_path / "missing.json")
    with pytest.raises(TokenizerFileError, match="not a 'gptbook.CharTokenizer'"):
        CharTokenizer.load(tmp_path / "ok.json")
    with pytest.raises(TokenizerFileError, match="unknown tokenizer kind"):
        load_tokenizer(_bpe_file(tmp_path, kind="gptbook.WordTokenizer"))
    with pytest.raises(TokenizerFileError, match="format version"):
        load_tokenizer(_bpe_file(tmp_path, version=99))
    with pytest.raises(TokenizerFileError, match="corrupt"):
        BPETokenizer.load(_bpe_file(tmp_path, merges=[[104, 105, 256], [999, 105, 257]]))
    with pytest.raises(TokenizerFileError, match="corrupt"):
        BPETokenizer.load(_bpe_file(tmp_path, byte_ids=list(range(255))))
    with pytest.raises(TokenizerFileError, match="corrupt"):
        BPETokenizer.load(_bpe_file(tmp_path, pattern="(unclosed"))
    with pytest.raises(TokenizerFileError, match="corrupt"):
        BPETokenizer.load(_bpe_file(tmp_path, special_tokens={ENDOFTEXT: 104}))
    chars = tmp_path / "chars.json"
    chars.write_text(json.dumps({"kind": "gptbook.CharTokenizer", "version": 1, "chars": ["b", "a"]}))
    with pytest.raises(TokenizerFileError, match="sorted set"):
        CharTokenizer.load(chars)
    chars.write_text(json.dumps({"kind": "gptbook.CharTokenizer", "version": 1, "chars": ["ab"]}))
    with pytest.raises(TokenizerFileError, match="corrupt"):
        load_tokenizer(chars)


# --------------------------------------------------------------------------- the token inspector widget


def test_token_spans_cover_the_text_exactly(small_bpe):
    from gptbook.widgets.tokens import token_spans

    text = "Hi 生存 " + ENDOFTEXT + " Быть\n"
    for tok in (gpt2(), BPETokenizer.from_gpt2(), small_bpe, CharTokenizer.from_text(text)):
        if isinstance(tok, BPETokenizer) and ENDOFTEXT not in tok.special_tokens:
            spans = token_spans(text.replace(ENDOFTEXT, ""), tok)
            assert b"".join(s.raw for s in spans) == text.replace(ENDOFTEXT, "").encode("utf-8")
            continue
        spans = token_spans(text, tok)
        assert b"".join(s.raw for s in spans) == text.encode("utf-8")
    gpt2_spans = token_spans(text, gpt2())
    assert [s.id for s in gpt2_spans] == gpt2().encode(text, allowed_special="all")
    assert 50256 in [s.id for s in gpt2_spans]
    partial = [s for s in gpt2_spans if s.text is None]  # a Chinese character split over tokens
    assert partial and all(s.label.startswith("<") for s in partial)


def test_tokens_html_shows_ids_count_and_escapes():
    from gptbook.widgets.tokens import tokens_html

    page = tokens_html("<b>tea</b>", gpt2())
    ids = gpt2().encode("<b>tea</b>")
    assert "<b>tea" not in page and "tea</b>" not in page and "&lt;" in page and "&gt;" in page
    assert f"<b>{len(ids)} tokens</b> for 10 characters (10 bytes)" in page
    assert all(
        f"title=\"id {i}\"" in page and f"<small style=\"color:#444\">{i}</small>" in page for i in ids
    )
    assert page.count('class="gptbook-token"') == len(ids)


def test_token_inspector_shows_errors_in_its_output_not_a_traceback():
    from gptbook.widgets.tokens import token_inspector, token_spans

    chars = CharTokenizer.from_text("abc ")
    ui = token_inspector({"GPT-2": gpt2(), "Characters": chars}, text="abc")
    menu, box, _merges, out = ui.children
    assert "3 tokens" in out.value
    box.value = "abc xyz"
    menu.value = "Characters"
    assert "gptbook-tokens-error" in out.value and "&#x27;x&#x27;" in out.value
    menu.value = "GPT-2"
    assert "gptbook-tokens-error" not in out.value and "tokens</b> for 7 characters" in out.value
    with pytest.raises(TypeError, match="Unsupported tokenizer"):
        token_spans("abc", object())
    with pytest.raises(ValueError, match="at least one tokenizer"):
        token_inspector({})
