"""The exercises: every one in the bank, and the checker that runs them.

Parametrised over the whole bank (gptbook.exercise_bank), so an exercise added to any chapter is
covered without touching this file: its solution must pass its own checker, each typical mistake it
lists must get its intended hint, and a stub answer must be "not attempted yet" without raising.
Then the checker's behaviour on odd answers, its display, and the rule that every chapter from 01 on
has 3-5 exercises of all three kinds, checked in the chapter itself before its Checks cell.

The "predict" exercises run their small experiments here (a few seconds each on one CPU thread).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from gptbook.exercise_bank import all_exercises, chapter_of
from gptbook.exercises import (
    NOT_ATTEMPTED,
    Case,
    Feedback,
    Idea,
    Implement,
    Measurement,
    Mistake,
    Open,
    Predict,
    UnknownExerciseError,
    check,
    exercise,
    exercises_of,
    is_stub,
    mismatch,
    show_solution,
    statement,
)

ROOT = Path(__file__).resolve().parents[1]
BANK = all_exercises()
IDS = list(BANK)


def _stub_dots(*args):
    ...


def _stub_pass(*args):
    """Your code here."""
    pass


def _stub_raises(*args):
    raise NotImplementedError("write this function")


# --- every exercise of the bank ----------------------------------------------------------------


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_solution_passes_its_checker(exercise_id):
    ex = BANK[exercise_id]
    feedback = check(exercise_id, ex.solution_answer())
    assert feedback.passed, str(feedback)


@pytest.mark.parametrize("exercise_id", IDS)
def test_typical_mistakes_get_their_intended_hint(exercise_id):
    ex = BANK[exercise_id]
    assert ex.mistakes, f"exercise {exercise_id} lists no typical mistake to test its hints with"
    for mistake in ex.mistakes:
        feedback = check(exercise_id, mistake.answer)
        assert feedback.status == "wrong", f"{exercise_id}: a typical mistake passed:\n{feedback}"
        assert mistake.hint_contains in str(feedback), (
            f"{exercise_id}: expected a hint containing {mistake.hint_contains!r}, got:\n{feedback}"
        )


@pytest.mark.parametrize("exercise_id", IDS)
def test_a_stub_is_not_attempted_yet(exercise_id):
    stubs = [..., "", "   "]
    if BANK[exercise_id].kind == "implement":
        stubs += [_stub_dots, _stub_pass, _stub_raises]
    for stub in stubs:
        feedback = check(exercise_id, stub)
        assert feedback.status == "not attempted", f"{exercise_id}, stub {stub!r}: {feedback}"
        assert NOT_ATTEMPTED in str(feedback) and NOT_ATTEMPTED in feedback._repr_html_()


@pytest.mark.parametrize("exercise_id", IDS)
def test_no_feedback_gives_the_solution_away(exercise_id):
    """Only show_solution reveals a written solution (code or model answer), never a check."""
    ex = BANK[exercise_id]
    secret = ex.solution().text
    answers = [..., *(m.answer for m in ex.mistakes)]
    if ex.kind != "predict":  # a prediction's feedback shows the measured outcome on purpose
        answers.append(ex.solution_answer())
    for answer in answers:
        feedback = check(exercise_id, answer)
        if ex.kind != "predict":
            assert secret not in str(feedback) and secret not in feedback._repr_html_()
    assert secret and exercise_id in str(show_solution(exercise_id))


@pytest.mark.parametrize("exercise_id", IDS)
def test_exercise_is_well_formed(exercise_id):
    ex = BANK[exercise_id]
    assert re.fullmatch(r"(\d\d|A\d+)\.\d", ex.id)
    assert ex.title and ex.statement
    assert ex.id in statement(exercise_id)
    if isinstance(ex, Implement):
        assert len(ex.cases) >= 2 and f"def {ex.name}(" in ex.solution_code
    if isinstance(ex, Predict):
        assert ex.expected in ex.options and len(ex.options) >= 2
    if isinstance(ex, Open):
        assert ex.ideas and all(i.found_in(ex.answer_text) for i in ex.ideas)


# --- the chapters --------------------------------------------------------------------------------


def chapters_from_01() -> list[str]:
    """Every executed chapter from 01 on (and the appendices): each must have exercises."""
    names = sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb"))
    chapters = [n.split("_")[0] for n in names if re.match(r"(\d\d|A\d+)_", n)]
    return [c for c in chapters if c != "00"]


@pytest.mark.parametrize("chapter", chapters_from_01())
def test_every_chapter_has_three_to_five_exercises_of_all_three_kinds(chapter):
    exercises = exercises_of(chapter)
    assert 3 <= len(exercises) <= 5, (
        f"chapter {chapter} has {len(exercises)} exercises; add 3-5 in gptbook/exercise_bank/"
        f"{'ch' + chapter if chapter.isdigit() else chapter.lower()}.py"
    )
    kinds = {e.kind for e in exercises}
    assert kinds == {"implement", "predict", "open"}, f"chapter {chapter} mixes only {kinds}"


def chapter_source(chapter: str) -> Path:
    found = sorted((ROOT / "notebooks").glob(f"{chapter}_*.py"))
    assert found, f"no notebooks/{chapter}_*.py for the exercises of chapter {chapter}"
    return found[0]


# chapters in the book (an executed notebook) with exercises in the bank
BANK_CHAPTERS = sorted({e.chapter for e in BANK.values()} & set(chapters_from_01()))


@pytest.mark.parametrize("chapter", BANK_CHAPTERS)
def test_the_chapter_checks_its_exercises_before_its_checks(chapter):
    """The chapter holds the bank's section (statements, stubs, checks) under '## Exercises' before
    '## Checks': check("NN.k", ...) once per exercise, in order, and never show_solution itself."""
    source = chapter_source(chapter).read_text(encoding="utf-8")
    exercises_at = source.find("\n# ## Exercises")
    checks_at = max(m.start() for m in re.finditer(r"\n# ##\s*Checks", source))
    assert 0 <= exercises_at < checks_at, f"chapter {chapter}: no '## Exercises' section before '## Checks'"
    from gptbook.exercises import notebook_section

    assert notebook_section(chapter).strip() in source, (
        f"chapter {chapter}'s Exercises section differs from the bank: replace it with "
        f"gptbook.exercises.notebook_section({chapter!r}) and re-execute the chapter"
    )
    called = re.findall(r'^check\("([^"]+)"', source, flags=re.M)
    assert called == [e.id for e in exercises_of(chapter)], f"chapter {chapter} checks {called}"
    assert all(exercises_at < m.start() < checks_at for m in re.finditer(r"^check\(", source, flags=re.M))
    assert not re.search(r"^[^#\n]*show_solution\(", source, flags=re.M), (
        f"chapter {chapter} calls show_solution in a code cell: solutions are shown only on request"
    )


@pytest.mark.parametrize("chapter", BANK_CHAPTERS)
def test_the_executed_chapter_ships_stubs(chapter):
    """Every check cell that ran in the stored notebook says 'not attempted yet' (a stub)."""
    import json

    notebook = json.loads(chapter_source(chapter).with_suffix(".ipynb").read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        code = "".join(cell["source"])
        if cell["cell_type"] == "code" and code.startswith("check(") and cell.get("outputs"):
            text = json.dumps(cell["outputs"])
            assert NOT_ATTEMPTED in text, f"chapter {chapter}: {code} ran on an answer, not a stub"


def test_notebook_section_has_a_stub_and_a_check_per_exercise():
    from gptbook.exercises import notebook_section

    text = notebook_section("01")
    assert text.startswith("# %% [markdown]\n# ## Exercises")
    assert "def encode_unknown(text, chars):\n    ...  # your code here" in text
    assert 'prediction_01_2 = ...  # "yes" or "no"' in text and 'check("01.5", answer_01_5)' in text
    assert re.findall(r'^check\("([^"]+)"', text, flags=re.M) == [e.id for e in exercises_of("01")]
    assert all(len(line) <= 110 for line in text.splitlines())
    with pytest.raises(UnknownExerciseError, match="has no exercises yet"):
        notebook_section("99")


def test_bank_modules_are_named_for_their_chapter():
    assert chapter_of("ch05") == "05" and chapter_of("a1") == "A1" and chapter_of("_text") is None
    assert IDS == sorted(IDS, key=lambda i: (i[0] == "A", i.split(".")[0], int(i.split(".")[1])))


# --- the checker itself ---------------------------------------------------------------------------


def test_stub_detection():
    assert is_stub(...) and is_stub("") and is_stub(_stub_dots) and is_stub(_stub_pass)
    assert not is_stub(lambda x: x) and not is_stub("yes") and not is_stub(0) and not is_stub(None)


def test_unknown_id_names_the_ids_that_exist():
    with pytest.raises(UnknownExerciseError, match=r"no exercise '05\.9'.*05\.1"):
        exercise("05.9")
    with pytest.raises(UnknownExerciseError, match="look like '05.2'"):
        show_solution("five")


def test_an_answer_of_the_wrong_type_gets_a_plain_message():
    feedback = check("01.1", [1, 2, 3])
    assert feedback.status == "wrong" and "Expected a function `encode_unknown`" in str(feedback)
    assert "not one of the options" in str(check("01.2", "perhaps"))
    assert check("01.2", " YES ").passed  # options are read without case or spaces
    assert "Expected a few sentences" in str(check("01.5", 42))


def test_a_crashing_answer_is_reported_not_raised():
    def encode_unknown(text, chars):
        return [chars.index(c) + 1 for c in text]  # ValueError on the unknown character

    feedback = check("01.1", encode_unknown)
    assert feedback.status == "wrong" and "raised ValueError" in str(feedback)
    assert "chars.index(c) + 1" in feedback.detail("Where") and "gets id 0" in feedback.detail("Hint")


def test_a_forgotten_return_is_named():
    def encode_unknown(text, chars):
        [chars.index(c) for c in text]

    assert "did you forget `return`" in str(check("01.1", encode_unknown))


def test_an_answer_that_changes_its_input_cannot_spoil_the_next_case():
    calls = []

    def reference(xs):
        return sorted(xs)

    def answer(xs):
        calls.append(list(xs))
        xs.sort()
        return list(xs)

    cases = (Case(([3, 1],), "sort"), Case(([2, 1],), "sort"))
    ex = Implement(id="99.1", title="t", statement="s", name="f", reference=reference, cases=cases,
                   solution_code="def f(xs):\n    return sorted(xs)\n")
    assert ex.check(answer).passed and calls == [[3, 1], [2, 1]]
    assert cases[0].args == ([3, 1],)


def test_a_hint_can_read_the_answer():
    """06.2 names the part a count is missing when the difference is exactly that part."""
    def gpt_params(V, C, d, L):
        return V * d + L * (12 * d * d + 13 * d) + 2 * d

    assert "position embedding" in check("06.2", gpt_params).detail("Hint")
    assert check("06.2", lambda V, C, d, L: "many").detail("Hint") == "Return the total as an int."


def test_a_prediction_runs_its_experiment_once_and_judges_by_the_measurement():
    runs = []

    def experiment():
        runs.append(1)
        return Measurement("b", "measured b")

    ex = Predict(id="99.2", title="t", statement="s", options={"a": "A", "b": "B"},
                 experiment=experiment, expected="b", why="because")
    assert ex.check("a").status == "wrong" and ex.check("a").detail("Happened") == "B"
    assert ex.check("b").passed and ex.check("b").detail("Measured") == "measured b"
    assert len(runs) == 1


def test_an_open_answer_is_compared_idea_by_idea():
    ex = Open(id="99.3", title="t", statement="s", answer_text="alpha and beta matter here",
              ideas=(Idea("alpha", ("alpha",), "think of alpha"), Idea("beta", ("beta",), "and beta")))
    half = ex.check("only alpha matters in this case")
    assert half.status == "wrong" and "misses 1 of 2" in str(half) and "and beta" in str(half)
    full = ex.check("Alpha first, then BETA, in this order.")
    assert full.status == "answered" and 'show_solution("99.3")' in str(full)
    assert "Too short" in str(ex.check("alpha beta"))


def test_feedback_html_is_escaped_and_classed():
    feedback = Feedback("01.1", "a <b>", "wrong", "Not <yet>", (("Hint", "use <unk> & co"),))
    page = feedback._repr_html_()
    assert 'class="gptbook-exercise gptbook-exercise-wrong"' in page
    assert "&lt;unk&gt; &amp; co" in page and "<yet>" not in page and "a &lt;b&gt;" in page
    assert str(feedback).startswith("Exercise 01.1 (a <b>): Not <yet>")
    assert "gptbook-exercise-not-attempted" in check("01.1", ...)._repr_html_()
    solution = show_solution("01.1")
    assert "<pre><code>def encode_unknown" in solution._repr_html_()


def test_mismatch_explains_what_differs():
    assert mismatch(torch.ones(2, 3), torch.ones(3, 2)) == "shape (2, 3), not (3, 2)"
    assert mismatch([1, 2], torch.ones(2)) == "a list, not a tensor"
    assert mismatch(torch.tensor([1.0, 2.0 + 1e-7]), torch.tensor([1.0, 2.0])) is None
    assert mismatch(torch.tensor([1.0, 2.1]), torch.tensor([1.0, 2.0])) == "different values"
    assert mismatch(torch.tensor([1.0, 0.0]), torch.tensor([True, False])) is None
    assert mismatch(float("nan"), 1.0) == "a different number"
    assert mismatch(math.inf, math.inf) is None and mismatch("1", 1) == "a str, not a number"
    assert mismatch([[1, 2], [3]], [[1, 2], [4]]) == "item 1: item 0: a different number"
    assert mismatch({"a": 1}, {"b": 1}).startswith("keys")
    assert mismatch(np.array([1.0, 2.0]), np.array([1.0, 2.0])) is None
    assert mismatch(torch.tensor(3.0), 3.0) is None


def test_mistakes_in_the_bank_are_mistakes_of_their_own_exercise():
    """A Mistake's hint must come from its own exercise's text, not be a phrase any failure prints."""
    generic = {"Not yet", "Hint", "wrong", "Exercise"}
    for ex in BANK.values():
        for m in ex.mistakes:
            assert isinstance(m, Mistake) and m.hint_contains not in generic
