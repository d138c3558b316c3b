"""`make book` starts JupyterLab, also where the reader is root (Docker, cloud VMs, WSL).

JupyterLab refuses to run as root unless given --allow-root, so the Makefile detects root, passes
the flag and says so in one line. This test runs the real target on loopback, waits until the
server answers, and stops it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOT_LINE = "make book: running as root"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serves(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=2) as response:
            return response.status == 200 and b"version" in response.read()
    except OSError:
        return False


@pytest.mark.skipif(shutil.which("make") is None, reason="`make` is not installed")
@pytest.mark.skipif(not (ROOT / ".venv" / ".installed").exists(),
                    reason="the book's .venv is not set up (`make env`); `make book` would build it")
def test_make_book_starts_jupyterlab_also_as_root(tmp_path: Path):
    port = _free_port()
    log = tmp_path / "book.log"
    args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0"
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    with log.open("w") as out:
        proc = subprocess.Popen(["make", "-s", "-o", ".venv/.installed", "book", f"BOOK_ARGS={args}"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not _serves(port):
            time.sleep(0.5)
        text = log.read_text()
        assert proc.poll() is None, f"`make book` exited with {proc.returncode}:\n{text}"
        assert _serves(port), f"JupyterLab did not answer on port {port} within 120 s:\n{text}"
        if os.geteuid() == 0:
            assert ROOT_LINE in text and "--allow-root" in text, text
        else:
            assert ROOT_LINE not in text, text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
