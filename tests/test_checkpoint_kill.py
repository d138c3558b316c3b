"""A real process killed (SIGKILL) at a random moment while it writes checkpoints over and over.

The promise: the file on disk is always a whole checkpoint, either the one before or the one being
written, never a mix; and the temporary file the killed writer left is removed by the next save.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import torch

from gptbook.checkpoint import load_checkpoint, load_model, save_checkpoint
from gptbook.model import GPT, GPTConfig

WRITER = textwrap.dedent(
    """
    import sys
    import torch
    from gptbook.checkpoint import save_checkpoint
    from gptbook.model import GPT, GPTConfig

    model = GPT(GPTConfig(vocab_size=256, context=64, n_layer=4, n_head=4, d_model=128))
    step = int(sys.argv[2])
    while True:
        with torch.no_grad():
            for p in model.parameters():
                p.fill_(step)  # every weight says which step wrote it
        save_checkpoint(sys.argv[1], model, step=step)
        print(step, flush=True)
        step += 1
    """
)


def test_sigkill_at_a_random_moment_never_leaves_a_broken_checkpoint(tmp_path):
    path = tmp_path / "ck.pt"
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    first = 0
    for kill in range(3):
        log = tmp_path / f"writer{kill}.txt"
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(first)],
            stdout=log.open("w"),
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        deadline = time.monotonic() + 120
        while not log.read_text().strip():  # the first checkpoint of this writer is on disk
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.01)
        delay = rng.uniform(0.0, 0.5)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        why = f"(kill {kill} after {delay:.3f} s; random seed {seed})"

        state = load_checkpoint(path)
        step = state["step"]
        written = [int(line) for line in log.read_text().split()]
        assert step in (written[-1], written[-1] + 1), why  # the last finished write, or the next
        model, _ = load_model(path, device="cpu")
        assert all(bool((p == step).all()) for p in model.parameters()), why  # no mix of writes
        first = step + 1

    leftovers = [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"]
    save_checkpoint(path, GPT(GPTConfig(vocab_size=8, context=4, n_layer=1, n_head=1, d_model=4)))
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("writer")) == [
        "ck.pt"
    ], f"temporary files {leftovers} were not cleaned up"


def test_a_live_writers_temporary_file_is_kept(tmp_path):
    """The clean-up removes only files of dead writers: a save in progress elsewhere survives."""
    path = tmp_path / "ck.pt"
    mine = tmp_path / f".ck.pt.{os.getpid()}.abc.tmp"  # this process is alive
    mine.write_bytes(b"partial")
    dead = tmp_path / ".ck.pt.99999999.abc.tmp"  # no such process
    dead.write_bytes(b"partial")
    old_style = tmp_path / ".ck.pt.k3j2h1.tmp"  # an older version's name, without a pid
    old_style.write_bytes(b"partial")
    other = tmp_path / ".other.pt.99999999.abc.tmp"  # another file's: not ours to touch
    other.write_bytes(b"partial")
    save_checkpoint(path, GPT(GPTConfig(vocab_size=8, context=4, n_layer=1, n_head=1, d_model=4)))
    assert mine.exists() and other.exists()
    assert not dead.exists() and not old_style.exists()
    assert torch.is_tensor(load_checkpoint(path)["model"]["transformer.wte.weight"])
