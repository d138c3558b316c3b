"""Real processes stopped at a random moment: Ctrl-C (SIGINT) during ``train`` and ``generate``.

Each test picks its moment with a fresh random seed, printed in the failure message so a failing
moment can be replayed. Nothing may be lost, no traceback may be shown, and a stopped training run
must continue with the printed ``--resume`` command to exactly the model an uninterrupted run
makes.
"""

from __future__ import annotations

import os
import random
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from gptbook.checkpoint import load_checkpoint, load_model

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
TRAIN = ["train", "--preset", "tiny", "--device", "cpu", "--max-iters", "300"]


def default_sigint() -> None:
    """A child of a shell's background job starts with SIGINT ignored; give it Ctrl-C back."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def gptbook(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gptbook", *args],
        cwd=cwd,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start(args: list[str], cwd: Path) -> tuple[subprocess.Popen, Path, Path]:
    """Start ``python -m gptbook ARGS``, output to files (a full pipe would block it)."""
    out, err = cwd / "stdout.txt", cwd / "stderr.txt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gptbook", *args],
        cwd=cwd,
        env=ENV,
        stdout=out.open("w"),
        stderr=err.open("w"),
        text=True,
        preexec_fn=default_sigint,
    )
    return proc, out, err


def wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(encoding="utf-8", errors="replace"):
        assert proc.poll() is None, f"the process ended before printing {text!r}"
        assert time.monotonic() < deadline, f"no {text!r} after {timeout} s"
        time.sleep(0.02)


def same_weights(a: Path, b: Path) -> bool:
    ma, _ = load_model(a, device="cpu")
    mb, _ = load_model(b, device="cpu")
    sa, sb = ma.state_dict(), mb.state_dict()
    return all(torch.equal(sa[k], sb[k]) for k in sa)


def test_ctrl_c_during_train_saves_and_the_printed_command_resumes_exactly(tmp_path):
    seed = random.randrange(2**32)
    delay = random.Random(seed).uniform(0.0, 2.0)
    why = f"(SIGINT {delay:.2f} s after step 20; random seed {seed})"
    assert (
        gptbook(
            [*TRAIN, "--run-dir", "straight", "--out", "straight.pt", "--quiet"], tmp_path
        ).returncode
        == 0
    )

    proc, out, err = start([*TRAIN, "--run-dir", "run", "--out", "run.pt"], tmp_path)
    wait_for(out, "step 20: ", proc)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=120)
    stderr = err.read_text()
    assert "Traceback" not in stderr, why
    if code == 0:  # the run had already finished: nothing to resume
        assert same_weights(tmp_path / "straight.pt", tmp_path / "run.pt"), why
        return
    assert code == 130, why + stderr
    line = stderr.strip().splitlines()[-1]
    if "nothing was saved" in line:
        assert not (tmp_path / "run" / "checkpoint.pt").exists(), why
        return
    assert f"saved at step {load_checkpoint(tmp_path / 'run' / 'checkpoint.pt')['step']} " in line
    assert str(Path("run") / "checkpoint.pt") in line, why
    command = line.split("continue it with: ", 1)[1]
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "gptbook"] and argv[-1] == "--resume", why
    resumed = gptbook([*argv[3:], "--quiet"], tmp_path)
    assert resumed.returncode == 0, why + resumed.stderr
    assert load_checkpoint(tmp_path / "run" / "checkpoint.pt")["step"] == 300, why
    assert same_weights(tmp_path / "straight.pt", tmp_path / "run.pt"), why


def test_ctrl_c_of_an_overwrite_run_never_loses_the_earlier_run(tmp_path):
    seed = random.randrange(2**32)
    delay = random.Random(seed).uniform(0.0, 5.0)
    why = f"(SIGINT {delay:.2f} s after the data was read; random seed {seed})"
    assert (
        gptbook(
            [*TRAIN, "--max-iters", "20", "--run-dir", "run", "--out", "a.pt", "--quiet"], tmp_path
        ).returncode
        == 0
    )
    old = (tmp_path / "run" / "checkpoint.pt").read_bytes()
    proc, out, err = start(
        [*TRAIN, "--seed", "7", "--run-dir", "run", "--out", "b.pt", "--overwrite"], tmp_path
    )
    wait_for(out, "data: ", proc)
    time.sleep(delay)
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=120)
    stderr = err.read_text()
    assert code in (0, 130) and "Traceback" not in stderr, why + stderr
    state = load_checkpoint(tmp_path / "run" / "checkpoint.pt")  # always a whole checkpoint
    if (tmp_path / "run" / "checkpoint.pt").read_bytes() == old:
        assert code == 130 and "the earlier run in run is unchanged" in stderr, why + stderr
    else:
        assert state["extra"]["train_config"]["seed"] == 7, why  # the new run's own
        tokenizer = tmp_path / "run" / "tokenizer.json"
        assert tokenizer.exists(), why


def test_ctrl_c_stops_generate_and_keeps_the_text(tmp_path):
    assert (
        gptbook(
            [*TRAIN, "--max-iters", "20", "--run-dir", "run", "--out", "m.pt", "--quiet"], tmp_path
        ).returncode
        == 0
    )
    proc, out, err = start(
        [
            "generate",
            "--checkpoint",
            "m.pt",
            "--device",
            "cpu",
            "--prompt",
            "ROMEO:",
            "--tokens",
            "100000",
        ],
        tmp_path,
    )
    wait_for(out, "ROMEO:", proc)  # the text streams: it is printed before the end
    deadline = time.monotonic() + 60
    while len(out.read_text()) < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    text, stderr = out.read_text(), err.read_text()
    assert "Traceback" not in stderr and "interrupted after" in stderr
    assert text.startswith("ROMEO:") and len(text) > 50
