"""Tests of gptbook.instruct_runs: the recipe is chosen on validation, the test part scored once."""

from __future__ import annotations

import pytest

from gptbook import instruct as ft
from gptbook import instruct_runs as runs
from gptbook import instructions as ins
from gptbook.checkpoint import load_model


def test_candidates_are_learning_rates_and_batch_sizes_and_steps_set_the_epochs():
    recipes = runs.candidates([(1e-3, 16), (3e-3, 8)], epochs=1.0, n_rows=400, steps=50)
    assert list(recipes) == ["lr 0.001, batch 16", "lr 0.003, batch 8"]
    a, b = recipes.values()
    # 400 rows are 25 batches of 16 (50 of 8): 50 steps are two passes (one)
    assert (a.epochs, b.epochs) == (2.0, 1.0) and (a.lr, b.lr) == (1e-3, 3e-3)
    assert a.average == "example" and a.trainable_blocks is None and b.batch_size == 8
    timed = runs.candidates([(1e-3, 16), (1e-3, 8)], 1.0, 400, steps=lambda batch: 800 // batch)
    assert [c.epochs for c in timed.values()] == [2.0, 2.0]
    assert runs.candidates([(1e-3, 16)], epochs=0.5, n_rows=400)["lr 0.001, batch 16"].epochs == 0.5
    assert runs.parse_recipe("2e-3:8") == (2e-3, 8)
    for bad in ("2e-3", "x:8", "1e-3:0"):
        with pytest.raises(ValueError, match="LR:BATCH|must be positive"):
            runs.parse_recipe(bad)


def test_a_tiny_run_chooses_on_validation_and_scores_the_saved_model_on_test(
    byte_tok, tiny_gpt, tmp_path, monkeypatch
):
    parts = ins.build_parts(sizes={t: 3 for t in ins.TASKS}, held_out=2)
    gpt = tiny_gpt(seed=1, context=384)
    recipes = runs.candidates([(1e-3, 16), (1e-2, 16)], 1.0, len(parts.train), steps=4)
    seen = []  # which examples each candidate is scored on
    evaluate = ft.evaluate
    monkeypatch.setattr(ft, "evaluate",
                        lambda m, t, exs, *a, **k: seen.append(exs) or evaluate(m, t, exs, *a, **k))
    path = tmp_path / "tuned.pt"
    record = runs.run(gpt, byte_tok, parts, recipes, model_out=path)
    assert seen == [parts.val, parts.val, parts.test, parts.test]  # test only for the choice
    cands = record["candidates"]
    assert set(cands) == set(recipes) and all(c["steps"] == 4 for c in cands.values())
    best = max(cands, key=lambda k: cands[k]["val_overall"])
    assert record["chosen"] == best
    # the test scores are those of the saved (half-precision) model
    saved, _ = load_model(path)
    assert record["model_sha256"] == runs.file_sha256(path)
    accepted = ins.accepted_answers(parts.train + parts.val + parts.test)
    _, after = evaluate(saved, byte_tok, parts.test, accepted, runs.MAX_NEW, slack=runs.SLACK)
    assert record["test"]["after"] == runs.scores_json(after)
    assert record["test"]["after_overall"] == ft.overall_exact(after)
    assert record["test"]["before"]["add"]["chance"] == pytest.approx(1 / 199)
    assert set(record["curves"]) == set(ins.TASKS)


def test_rows_too_long_are_refused_and_missing_results_are_named(byte_tok, tmp_path):
    long = ins.Example("qa", "Say it. " * 40, "", "ok")
    with pytest.raises(ValueError, match="does not fit the context of 64 tokens"):
        runs.train_rows(byte_tok, [long], 64)
    with pytest.raises(FileNotFoundError, match="python -m gptbook.instruct_runs"):
        runs.load_runs(tmp_path / "none.json")
