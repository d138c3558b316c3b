"""Tests of the command line (gptbook.cli, ``python -m gptbook``): a real training run of the tiny
preset, generation from its file, and a clear message for each kind of bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from gptbook.checkpoint import load_checkpoint, load_model
from gptbook.cli import PRESETS, main


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny run shared by the tests: (run dir, model file)."""
    tmp = tmp_path_factory.mktemp("cli")
    run, out = tmp / "run", tmp / "model.pt"
    code = main(["train", "--preset", "tiny", "--run-dir", str(run), "--out", str(out), "--quiet", "--device", "cpu"])
    assert code == 0
    return run, out


def test_train_writes_model_checkpoint_tokenizer_and_record(trained):
    run, out = trained
    assert (run / "checkpoint.pt").exists() and (run / "tokenizer.json").exists()
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["preset"] == "tiny"
    assert record["command"].startswith("python -m gptbook train --preset tiny")
    assert record["steps"] == PRESETS["tiny"].train.max_iters
    assert record["model_config"]["d_model"] == PRESETS["tiny"].d_model
    assert 0 < record["val_full"]["bits_per_byte"] < 8
    state = load_checkpoint(run / "checkpoint.pt")
    assert state["step"] == PRESETS["tiny"].train.max_iters and state["optimizer"] is not None
    model, tok = load_model(out, device="cpu")
    assert tok.decode(tok.encode("ROMEO:")) == "ROMEO:"
    assert model.config.vocab_size == tok.vocab_size


def test_generate_continues_the_prompt(trained, capsys):
    _, out = trained
    code = main(["generate", "--checkpoint", str(out), "--prompt", "ROMEO:", "--tokens", "30",
                 "--temperature", "0.8", "--top-k", "10", "--seed", "3", "--device", "cpu"])
    text = capsys.readouterr().out
    assert code == 0
    assert text.startswith("ROMEO:") and len(text.rstrip("\n")) == len("ROMEO:") + 30  # one char per token
    main(["generate", "--checkpoint", str(out), "--prompt", "ROMEO:", "--tokens", "30", "--temperature", "0.8",
          "--top-k", "10", "--seed", "3", "--device", "cpu"])
    assert capsys.readouterr().out == text  # same seed, same text


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--temperature", "-1"], "temperature"),
        (["--top-k", "0"], "top_k"),
        (["--top-p", "1.5"], "top_p"),
        (["--top-p", "0"], "top_p"),
        (["--tokens", "0"], "--tokens must be between 1 and 100,000"),
        (["--tokens", "10000000"], "--tokens must be between 1 and 100,000"),
        (["--temperature", "nan"], "temperature must be a finite number"),
        (["--temperature", "inf"], "temperature must be a finite number"),
        (["--prompt", ""], "--prompt is empty"),
        (["--prompt", "\u0416"], "\u0416"),  # a character the tiny model's vocabulary does not have
    ],
)
def test_generate_bad_input_gives_clear_errors(trained, capsys, extra, message):
    _, out = trained
    code = main(["generate", "--checkpoint", str(out), "--device", "cpu", *extra])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_generate_missing_or_corrupt_file(tmp_path, capsys):
    assert main(["generate", "--checkpoint", str(tmp_path / "none.pt")]) == 2
    assert "No checkpoint at" in capsys.readouterr().err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 100)
    assert main(["generate", "--checkpoint", str(bad)]) == 2
    assert "truncated or corrupt" in capsys.readouterr().err


def test_train_bad_input_gives_clear_errors(trained, tmp_path, capsys):
    run, _ = trained
    assert main(["train", "--preset", "huge"]) == 2
    assert "unknown preset 'huge'" in capsys.readouterr().err
    assert main(["train", "--preset", "tiny", "--run-dir", str(tmp_path / "fresh"), "--resume"]) == 2
    assert "--resume: there is no checkpoint" in capsys.readouterr().err
    assert main(["train", "--preset", "tiny", "--run-dir", str(tmp_path / "t"), "--threads", "0"]) == 2
    assert "--threads must be at least 1" in capsys.readouterr().err


def test_a_fresh_run_over_an_earlier_one_needs_overwrite(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "--preset", "tiny", "--run-dir", str(run), "--device", "cpu",
            "--max-iters", "4", "--quiet"]
    assert main([*args, "--max-iters", "8", "--out", str(tmp_path / "a.pt")]) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert main([*args, "--out", str(tmp_path / "b.pt")]) == 2  # refused: nothing deleted
    assert "holds an earlier run" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    assert not (tmp_path / "b.pt").exists()
    assert main([*args, "--out", str(tmp_path / "b.pt"), "--overwrite"]) == 0
    assert load_checkpoint(run / "checkpoint.pt")["step"] == 4
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.pt", "tokenizer.json"]


def test_resume_on_the_command_line_continues_the_run(tmp_path):
    run = tmp_path / "run"
    args = ["train", "--preset", "tiny", "--run-dir", str(run), "--quiet", "--device", "cpu"]
    assert main([*args, "--max-iters", "20", "--out", str(tmp_path / "a.pt")]) == 0
    # the same run, resumed: nothing left to do at step 20, the model file is written again
    assert main([*args, "--max-iters", "20", "--out", str(tmp_path / "b.pt"), "--resume"]) == 0
    a, _ = load_model(tmp_path / "a.pt", device="cpu")
    b, _ = load_model(tmp_path / "b.pt", device="cpu")
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert json.loads((tmp_path / "b.json").read_text())["resumed"] is True


def test_python_dash_m_gptbook_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gptbook", "generate", "--checkpoint", str(tmp_path / "missing.pt")],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 2
    assert "error: No checkpoint at" in result.stderr
    usage = subprocess.run([sys.executable, "-m", "gptbook"], capture_output=True, text=True, timeout=300)
    assert usage.returncode == 2 and "train" in usage.stderr and "generate" in usage.stderr
