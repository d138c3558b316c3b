"""Tests of gptbook.spam_runs (chapter 09's table over seeds) on a tiny GPT and a small split."""

from __future__ import annotations

import json

import pytest

from gptbook import classify, spam_runs
from gptbook.data import Message

WORDS = ["win", "cash", "call", "free", "prize", "home", "later", "dinner", "ok", "love", "see"]


def small_split() -> classify.SpamSplit:
    """Spam in capitals with a prize word, ham in lower case: learnable by a tiny model."""
    msgs = []
    for i in range(80):
        words = " ".join(WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(3))
        msgs.append(Message("spam", f"{words} PRIZE {i}".upper()) if i % 4 == 0 else
                    Message("ham", f"{words} {i}"))
    return classify.stratified_split(msgs, val_fraction=0.25, test_fraction=0.25, seed=0)


@pytest.fixture
def small(monkeypatch):
    monkeypatch.setattr(spam_runs, "FEW_LABELS", 16)
    monkeypatch.setattr(spam_runs, "SMALL_BUDGET", 24)
    # one byte per token: two worked examples of each would not fit the tiny model's context
    monkeypatch.setattr(spam_runs, "shots_per_class", lambda gpt: 1)
    return small_split()


def test_every_row_runs_over_seeds_and_is_measured_on_the_same_test_part(byte_tok, tiny_gpt, small):
    gpt = tiny_gpt(seed=0, context=256)
    logs = []
    results = spam_runs.run(gpt, byte_tok, seeds=[0, 1], split=small, log=logs.append)
    assert list(results) == list(spam_runs.ROWS) and len(logs) == 2 * len(spam_runs.ROWS)
    n_test = len(small.test)
    for runs in results.values():
        assert set(runs) == {"0", "1"}
        for r in runs.values():
            assert len(r["test_flags"]) == n_test and sum(map(sum, r["confusion"])) == n_test
            assert 0 <= r["auc"] <= 1 and r["seconds"] >= 0
    # zero-shot has nothing random in it; few-shot's seeds choose different worked examples
    assert results["zero_shot"]["0"]["auc"] == results["zero_shot"]["1"]["auc"]
    # computed once, but charged in full to every seed that uses it
    assert results["zero_shot"]["1"]["seconds"] >= 0.5 * results["zero_shot"]["0"]["seconds"]
    assert results["few_shot"]["0"]["shots"] != results["few_shot"]["1"]["shots"]
    # a probe ends at the same optimum from any start: converged
    for row in ("probe_last", "probe_mean"):
        a, b = results[row]["0"], results[row]["1"]
        assert a["grad_norm"] < 1e-5 and a["auc"] == pytest.approx(b["auc"], abs=1e-6)
    # the budgets: few labels and the small budget train on the stated numbers of messages
    few = results["few_pretrained"]["0"]
    assert few["steps"] == spam_runs.FEW_LABELS_EPOCHS * 1  # 16 messages, batches of 16
    assert results["small_last1"]["0"]["trainable"] < results["small_last2"]["0"]["trainable"]
    assert results["small_last1"]["0"]["steps"] == 2  # 24 messages, one epoch of batches of 16
    # capitals are easy to see: the probes separate spam from ham, fine-tuning ranks above chance
    assert results["probe_last"]["0"]["auc"] > 0.95 and results["probe_mean"]["0"]["auc"] > 0.95
    assert results["recipe_pretrained"]["0"]["auc"] > 0.6
    table = spam_runs.summarize(results)
    mean, sd, n = table["zero_shot"]["auc"]
    assert n == 2 and sd == 0.0 and mean == results["zero_shot"]["0"]["auc"]


def test_unknown_rows_are_refused(byte_tok, tiny_gpt, small):
    with pytest.raises(KeyError, match="Unknown rows"):
        spam_runs.run(tiny_gpt(), byte_tok, [0], rows=["probe"], split=small)


def test_main_stores_adds_to_and_restarts_the_results_file(byte_tok, tiny_gpt, small, tmp_path,
                                                           monkeypatch):
    model_file = tmp_path / "model.pt"
    model_file.write_bytes(b"one model")
    monkeypatch.setattr(spam_runs, "BASE_MODEL", model_file)
    monkeypatch.setattr(spam_runs, "load_base_model", lambda dev: (tiny_gpt(context=256), byte_tok))
    real_run = spam_runs.run
    monkeypatch.setattr(spam_runs, "run", lambda *a, **k: real_run(*a, **k, split=small))
    out = tmp_path / "runs.json"
    spam_runs.main(["--seeds", "0", "--rows", "zero_shot", "probe_last", "--out", str(out)])
    spam_runs.main(["--seeds", "1", "--rows", "probe_last", "--out", str(out)])
    stored = spam_runs.load_runs(out)
    assert stored["base_model_sha256"] == spam_runs.file_sha256(model_file)
    assert set(stored["results"]) == {"zero_shot", "probe_last"}
    assert set(stored["results"]["probe_last"]) == {"0", "1"} and len(stored["runs"]) == 2
    # results of another base model are not mixed with the new ones
    model_file.write_bytes(b"another model")
    spam_runs.main(["--seeds", "2", "--rows", "zero_shot", "--out", str(out)])
    stored = json.loads(out.read_text())
    assert stored["results"] == {"zero_shot": {"2": stored["results"]["zero_shot"]["2"]}}
    with pytest.raises(FileNotFoundError, match="python -m gptbook.spam_runs"):
        spam_runs.load_runs(tmp_path / "missing.json")


def test_shots_per_class_follows_the_context(tiny_gpt):
    assert spam_runs.shots_per_class(tiny_gpt(context=128)) == 1
    assert spam_runs.shots_per_class(tiny_gpt(context=256)) == 2


def test_files_made_in_parallel_merge_and_other_models_are_refused(tmp_path):
    def part(sha, row, seed):
        return {"base_model_sha256": sha, "results": {row: {seed: {"f1": 0.5}}}, "runs": [{"rows": [row]}]}

    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    a.write_text(json.dumps(part("x", "zero_shot", "0")))
    b.write_text(json.dumps(part("x", "probe_last", "0")))
    c.write_text(json.dumps(part("y", "probe_last", "1")))
    out = tmp_path / "out.json"
    merged = spam_runs.merge_files([a, b], out)
    assert set(merged["results"]) == {"zero_shot", "probe_last"} and len(merged["runs"]) == 2
    assert spam_runs.load_runs(out) == merged
    with pytest.raises(ValueError, match="another base model"):
        spam_runs.merge_files([c], out)
