"""Exercises the book checks itself: ``check("05.2", answer)`` and ``show_solution("05.2")``.

Every chapter ends with a few exercises. The reader writes an answer in the notebook (a function,
a chosen option or a sentence) and runs a check cell; the checker runs the answer against tests and
says in plain words what is wrong: which input, what was expected, what came back, and a hint.

Three kinds, one class each:

* :class:`Implement`: write a function the chapter built. The expected values come from a
  reference (usually the package's own function), so the checker and the book never disagree.
* :class:`Predict`: change something, predict the effect, then let the checker run the small
  experiment (seeded, a few seconds on one CPU thread) and show what happened.
* :class:`Open`: an open question. The checker looks for the key ideas in the reader's sentences
  and names the ones missing; the expected answer is revealed only by :func:`show_solution`.

A stub is an answer not written yet: ``...`` (Ellipsis), an empty string, or a function whose body
is only ``...``/``pass`` (a docstring allowed) or that raises ``NotImplementedError``. Its check
says "not attempted yet" and never raises, so a chapter with unfinished exercises still runs
top to bottom (and passes nbval). The exercises themselves live in :mod:`gptbook.exercise_bank`.
"""

from __future__ import annotations

import ast
import copy
import dis
import html
import math
import re
import textwrap
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from gptbook.widgets.html import ERROR_COLOUR

NOT_ATTEMPTED = "not attempted yet"
CORRECT_COLOUR = "#1b6e20"
TODO_COLOUR = "#666666"


class UnknownExerciseError(KeyError):
    """An exercise id that is not in the bank."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0])


# ---------------------------------------------------------------------------------------------
# What a check says
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Feedback:
    """The result of one check: shown as HTML in JupyterLab and as plain text elsewhere.

    ``status`` is ``"not attempted"``, ``"correct"``, ``"wrong"`` or (for an open question)
    ``"answered"``. ``details`` are labelled lines such as ``("Input", ...)``, ``("Hint", ...)``.
    """

    exercise_id: str
    title: str
    status: str
    headline: str
    details: tuple[tuple[str, str], ...] = ()

    @property
    def passed(self) -> bool:
        """True when the answer is right (or an open answer covers every key idea)."""
        return self.status in ("correct", "answered")

    def detail(self, label: str) -> str:
        """The text of the first detail line with this label ("" if there is none)."""
        return next((text for name, text in self.details if name == label), "")

    def __str__(self) -> str:
        lines = [f"Exercise {self.exercise_id} ({self.title}): {self.headline}"]
        lines += [f"  {name}: {text}" for name, text in self.details]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour = {"correct": CORRECT_COLOUR, "answered": CORRECT_COLOUR, "wrong": ERROR_COLOUR}
        css = self.status.replace(" ", "-")
        head = (
            f'<p class="gptbook-exercise-headline" style="color:{colour.get(self.status, TODO_COLOUR)}">'
            f"<b>Exercise {html.escape(self.exercise_id)}</b> ({html.escape(self.title)}): "
            f"{html.escape(self.headline)}</p>"
        )
        rows = "".join(
            f'<tr><th style="text-align:left;vertical-align:top;padding-right:1em">{html.escape(n)}'
            f'</th><td style="text-align:left"><code style="white-space:pre-wrap">{html.escape(t)}'
            "</code></td></tr>"
            for n, t in self.details
        )
        table = f'<table class="gptbook-exercise-details">{rows}</table>' if rows else ""
        return f'<div class="gptbook-exercise gptbook-exercise-{css}">{head}{table}</div>'


@dataclass(frozen=True)
class Solution:
    """An exercise's solution, shown only when the reader asks (:func:`show_solution`)."""

    exercise_id: str
    text: str
    is_code: bool

    def __str__(self) -> str:
        return f"Solution of exercise {self.exercise_id}:\n{self.text}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        body = html.escape(self.text)
        shown = f"<pre><code>{body}</code></pre>" if self.is_code else f"<p>{body}</p>"
        return (
            f'<div class="gptbook-exercise-solution"><p><b>Solution of exercise '
            f"{html.escape(self.exercise_id)}</b></p>{shown}</div>"
        )


# ---------------------------------------------------------------------------------------------
# Stubs, values, comparisons
# ---------------------------------------------------------------------------------------------


_RETURN_NONE = ([("LOAD_CONST", None), ("RETURN_VALUE", None)], [("RETURN_CONST", None)])


def _returns_none_only(code: Any) -> bool:
    """True for a function body that compiles to "return None" and nothing else (``...``,
    ``pass``, a docstring): the same on Python 3.11 and later versions."""
    ops = [(i.opname, i.argval) for i in dis.get_instructions(code) if i.opname not in ("RESUME", "NOP")]
    return ops in _RETURN_NONE


def is_stub(answer: Any) -> bool:
    """True for an answer not written yet: ``...``, an empty string, or a function whose body is
    only ``...``/``pass`` (it compiles to "return None"). A function raising
    ``NotImplementedError`` is recognised when the checker calls it."""
    if answer is ... or (isinstance(answer, str) and not answer.strip()):
        return True
    code = getattr(answer, "__code__", None)
    return code is not None and _returns_none_only(code)


def show(value: Any, limit: int = 240) -> str:
    """A value as a short, readable string (tensors as nested lists rounded to 4 digits)."""
    if isinstance(value, torch.Tensor):
        v = value.detach().cpu()
        if v.is_floating_point():
            v = v.double().round(decimals=4)
        text = f"tensor({v.tolist()}, shape {tuple(value.shape)})"
    elif isinstance(value, np.ndarray):
        text = f"array({np.round(value, 4).tolist()}, shape {value.shape})"
    elif isinstance(value, float):
        text = f"{value:.6g}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ...)"


def mismatch(got: Any, expected: Any, rtol: float = 1e-4, atol: float = 1e-5) -> str | None:
    """Why ``got`` is not ``expected`` (a short phrase), or ``None`` when they agree.

    Tensors and arrays are compared by shape and then by value with a tolerance (rounding in the
    last digits is not a mistake); numbers with the same tolerance; sequences and dicts entry by
    entry; anything else with ``==``.
    """
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"a {type(got).__name__}, not a tensor"
        if tuple(got.shape) != tuple(expected.shape):
            return f"shape {tuple(got.shape)}, not {tuple(expected.shape)}"
        if expected.dtype == torch.bool:
            return None if torch.equal(got.cpu().bool(), expected.cpu()) else "different values"
        g, e = got.detach().cpu().double(), expected.detach().cpu().double()
        same = torch.isclose(g, e, rtol=rtol, atol=atol, equal_nan=True)
        if not bool(same.all()):
            return "different values"
        return None
    if isinstance(expected, np.ndarray):
        return mismatch(torch.as_tensor(np.asarray(got)), torch.as_tensor(expected), rtol, atol)
    if isinstance(expected, bool) or expected is None:
        return None if got is expected or got == expected else "a different value"
    if isinstance(expected, (int, float)):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float, np.number)) or isinstance(got, bool):
            return f"a {type(got).__name__}, not a number"
        if math.isinf(expected) or math.isnan(expected):
            same = got == expected or (math.isnan(expected) and math.isnan(got))
            return None if same else "a different number"
        return None if math.isclose(got, expected, rel_tol=rtol, abs_tol=atol) else "a different number"
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            return f"a {type(got).__name__}, not a dict"
        if set(got) != set(expected):
            return f"keys {sorted(got, key=repr)}, not {sorted(expected, key=repr)}"
        for k in expected:
            why = mismatch(got[k], expected[k], rtol, atol)
            if why:
                return f"at key {k!r}: {why}"
        return None
    if isinstance(expected, (list, tuple)):
        if not isinstance(got, (list, tuple)):
            return f"a {type(got).__name__}, not a {type(expected).__name__}"
        if len(got) != len(expected):
            return f"{len(got)} items, not {len(expected)}"
        for i, (a, b) in enumerate(zip(got, expected)):
            why = mismatch(a, b, rtol, atol)
            if why:
                return f"item {i}: {why}"
        return None
    return None if got == expected else "a different value"


# ---------------------------------------------------------------------------------------------
# The three kinds of exercise
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer and a phrase its hint must contain (the tests check every one)."""

    answer: Any
    hint_contains: str


@dataclass(frozen=True, kw_only=True)
class Exercise(ABC):
    """One exercise: ``id`` like ``"05.2"`` (chapter, dot, number), a title, a one-line statement,
    a solution revealed only on request, and typical mistakes the tests feed to :meth:`check`."""

    id: str
    title: str
    statement: str
    mistakes: tuple[Mistake, ...] = ()

    kind = "exercise"

    @property
    def chapter(self) -> str:
        return self.id.split(".")[0]

    def feedback(self, status: str, headline: str, *details: tuple[str, str]) -> Feedback:
        return Feedback(self.id, self.title, status, headline, tuple(details))

    def not_attempted(self) -> Feedback:
        return self.feedback(
            "not attempted",
            f"{NOT_ATTEMPTED}. Write your answer in the cell above, then run this cell again.",
        )

    @abstractmethod
    def check(self, answer: Any) -> Feedback:
        """Run ``answer`` against the tests; never raises on a reader's answer."""

    @abstractmethod
    def solution(self) -> Solution:
        """The solution, as shown by :func:`show_solution`."""

    @abstractmethod
    def solution_answer(self) -> Any:
        """The solution as an answer :meth:`check` accepts (the tests check it passes)."""


@dataclass(frozen=True)
class Case:
    """One test input for an :class:`Implement` exercise and the hint if the answer fails it.

    ``args`` are passed to the reader's function (a deep copy, so a function that changes its
    input cannot spoil the next case); ``label`` is how the input is shown (``show(args)`` if
    empty)."""

    args: tuple
    hint: str | Callable[[Any, Any, tuple], str]
    label: str = ""

    def hint_for(self, got: Any, expected: Any) -> str:
        """The hint: ``hint`` itself, or ``hint(got, expected, args)`` for a hint that reads the
        answer (for example "you are off by exactly V·d: ...")."""
        return self.hint if isinstance(self.hint, str) else self.hint(got, expected, self.args)


@dataclass(frozen=True, kw_only=True)
class Implement(Exercise):
    """Write the function ``name``; each :class:`Case` runs it and the ``reference`` side by side.

    ``solution_code`` is the source of a correct ``name`` (what :func:`show_solution` shows; the
    tests run it). ``prepare`` turns a return value into what is compared (for example a tensor
    into a list, or a list of pairs into a sorted one); it is applied to the reference's value too.
    """

    name: str
    reference: Callable[..., Any]
    cases: tuple[Case, ...]
    solution_code: str
    rtol: float = 1e-4
    atol: float = 1e-5
    prepare: Callable[[Any], Any] | None = None

    kind = "implement"

    def check(self, answer: Any) -> Feedback:
        if is_stub(answer):
            return self.not_attempted()
        if not callable(answer):
            return self.feedback(
                "wrong",
                f"Expected a function `{self.name}`, got {show(answer, 60)}.",
                ("Hint", f"Define `def {self.name}(...):` in the cell above and pass the function itself."),
            )
        for case in self.cases:
            label = case.label or show(case.args)
            expected = self.reference(*copy.deepcopy(case.args))
            if self.prepare is not None:
                expected = self.prepare(expected)
            try:
                got = answer(*copy.deepcopy(case.args))
            except NotImplementedError:
                return self.not_attempted()
            except Exception as e:  # a reader's bug: report it, do not raise
                where = traceback.extract_tb(e.__traceback__)[-1]
                return self.feedback(
                    "wrong",
                    f"Your function raised {type(e).__name__}: {e}",
                    ("Input", label),
                    ("Where", f"line {where.lineno}: {where.line}"),
                    ("Hint", case.hint_for(None, expected)),
                )
            if got is None:
                return self.feedback(
                    "wrong", "Your function returned None: did you forget `return`?",
                    ("Input", label), ("Hint", case.hint_for(None, expected)),
                )
            if self.prepare is not None:
                try:
                    got = self.prepare(got)
                except Exception as e:  # the answer has the wrong type or shape
                    return self.feedback(
                        "wrong", f"Cannot read your result: {e}", ("Input", label), ("Got", show(got)),
                        ("Hint", case.hint_for(None, expected)),
                    )
            why = mismatch(got, expected, self.rtol, self.atol)
            if why:
                return self.feedback(
                    "wrong",
                    f"Not yet: for one input your function returned {why}.",
                    ("Input", label),
                    ("Expected", show(expected)),
                    ("Got", show(got)),
                    ("Hint", case.hint_for(got, expected)),
                )
        return self.feedback("correct", f"Correct: all {len(self.cases)} test inputs pass.")

    def solution(self) -> Solution:
        return Solution(self.id, self.solution_code.strip(), is_code=True)

    def solution_answer(self) -> Callable[..., Any]:
        namespace: dict[str, Any] = {}
        exec(compile(self.solution_code, f"<solution {self.id}>", "exec"), namespace)
        return namespace[self.name]


@dataclass(frozen=True)
class Measurement:
    """What an experiment found: the option that came true and a line of numbers to show."""

    outcome: str
    report: str


@dataclass(frozen=True, kw_only=True)
class Predict(Exercise):
    """Predict the effect of a change: the answer is one of ``options`` (their keys).

    ``experiment`` runs the change (seeded, small) and says which option came true; the checker
    judges the prediction against that measurement, not against a stored answer, and shows the
    numbers. ``expected`` is the outcome the ``why`` text explains; the tests check the
    experiment agrees with it. The experiment runs once per session (it is cached).
    """

    options: Mapping[str, str]
    experiment: Callable[[], Measurement]
    expected: str
    why: str
    _cache: dict[str, Measurement] = field(default_factory=dict, compare=False, repr=False)

    kind = "predict"

    def measure(self) -> Measurement:
        if "m" not in self._cache:
            self._cache["m"] = self.experiment()
        return self._cache["m"]

    def choices(self) -> str:
        return "; ".join(f"{k!r}: {v}" for k, v in self.options.items())

    def check(self, answer: Any) -> Feedback:
        if is_stub(answer):
            return self.not_attempted()
        key = answer.strip().lower() if isinstance(answer, str) else answer
        if key not in self.options:
            return self.feedback(
                "wrong",
                f"{show(answer, 60)} is not one of the options.",
                ("Options", self.choices()),
                ("Hint", "Answer with one of the keys, as a string, for example "
                         f"{next(iter(self.options))!r}."),
            )
        m = self.measure()
        if key == m.outcome:
            return self.feedback(
                "correct", f"Correct: {self.options[key]}.", ("Measured", m.report), ("Why", self.why)
            )
        return self.feedback(
            "wrong",
            f"Not what happened: you predicted {self.options[key]!r}.",
            ("Measured", m.report),
            ("Happened", self.options[m.outcome]),
            ("Hint", self.why),
        )

    def solution(self) -> Solution:
        return Solution(self.id, f"{self.expected!r}: {self.options[self.expected]}. {self.why}", False)

    def solution_answer(self) -> str:
        return self.expected


@dataclass(frozen=True)
class Idea:
    """A key idea an open answer should contain: any of ``words`` (lower-case substrings) counts
    as mentioning it; ``hint`` is what the checker says when none appears."""

    name: str
    words: tuple[str, ...]
    hint: str

    def found_in(self, text: str) -> bool:
        text = text.lower()
        return any(w in text for w in self.words)


@dataclass(frozen=True, kw_only=True)
class Open(Exercise):
    """An open question: the reader writes a few sentences (a string).

    No program can grade an explanation, so the checker only looks for the ``ideas`` the expected
    answer rests on and names the missing ones; it always points to :func:`show_solution` for the
    expected answer, which it never prints itself.
    """

    ideas: tuple[Idea, ...]
    answer_text: str
    min_words: int = 5

    kind = "open"

    def check(self, answer: Any) -> Feedback:
        if is_stub(answer):
            return self.not_attempted()
        if not isinstance(answer, str):
            return self.feedback(
                "wrong", f"Expected a few sentences as a string, got {show(answer, 60)}.",
                ("Hint", 'Write your answer between quotes: answer = "Because ..."'),
            )
        if len(answer.split()) < self.min_words:
            return self.feedback(
                "wrong", "Too short to say much: write a sentence or two.",
                ("Hint", "Say what happens and why."),
            )
        reveal = f'Compare with the expected answer: show_solution("{self.id}").'
        missing = [i for i in self.ideas if not i.found_in(answer)]
        if missing:
            return self.feedback(
                "wrong",
                f"Your answer misses {len(missing)} of {len(self.ideas)} key ideas.",
                *[("Missing", f"{i.name}. Hint: {i.hint}") for i in missing],
                ("Then", reveal),
            )
        return self.feedback(
            "answered",
            f"Your answer mentions all {len(self.ideas)} key ideas "
            f"({', '.join(i.name for i in self.ideas)}).",
            ("Then", reveal),
        )

    def solution(self) -> Solution:
        return Solution(self.id, self.answer_text, is_code=False)

    def solution_answer(self) -> str:
        return self.answer_text


# ---------------------------------------------------------------------------------------------
# The reader's entry points
# ---------------------------------------------------------------------------------------------


def exercise(exercise_id: str) -> Exercise:
    """The exercise with this id (``"05.2"``); a clear error names the ids that exist."""
    from gptbook.exercise_bank import all_exercises

    bank = all_exercises()
    if exercise_id not in bank:
        chapter = str(exercise_id).split(".")[0]
        near = [i for i in bank if i.split(".")[0] == chapter] or list(bank)
        raise UnknownExerciseError(
            f"There is no exercise {exercise_id!r}. Exercise ids look like '05.2' (chapter 05, "
            f"exercise 2); this chapter has {', '.join(near)}."
        )
    return bank[exercise_id]


def exercises_of(chapter: str) -> list[Exercise]:
    """The exercises of one chapter (``"05"``), easiest first."""
    from gptbook.exercise_bank import all_exercises

    return [e for e in all_exercises().values() if e.chapter == chapter]


def check(exercise_id: str, answer: Any) -> Feedback:
    """Check ``answer`` for exercise ``exercise_id``; a stub gives "not attempted yet"."""
    return exercise(exercise_id).check(answer)


def show_solution(exercise_id: str) -> Solution:
    """The solution of an exercise: run this only when you want to see it."""
    return exercise(exercise_id).solution()


def statement(exercise_id: str) -> str:
    """The one-line statement of an exercise."""
    e = exercise(exercise_id)
    return f"Exercise {e.id} ({e.title}): {e.statement}"


KIND_LABEL = {"implement": "Implement", "predict": "Predict", "open": "Think"}


def _markdown(text: str) -> str:
    """Text as the comment lines of a jupytext markdown cell, wrapped at 100 characters."""
    out = []
    for para in text.split("\n"):
        if not para:
            out.append("#")
            continue
        indent = "  " if para.startswith("- ") else ""
        lines = textwrap.wrap(para, 100, subsequent_indent=indent, break_on_hyphens=False)
        out += ["# " + line for line in lines]
    return "\n".join(out)


def notebook_section(chapter: str) -> str:
    """A chapter's ``## Exercises`` section in jupytext percent format, to paste into
    ``notebooks/NN_slug.py`` just before ``## Checks``: an introduction, then for each exercise a
    statement, a stub answer cell and a check cell. How every chapter got its section; a new
    chapter (11, an appendix) gets its own the same way once its bank module exists."""
    exercises = exercises_of(chapter)
    if not exercises:
        raise UnknownExerciseError(
            f"Chapter {chapter!r} has no exercises yet: add gptbook/exercise_bank/"
            f"{'ch' + chapter if chapter.isdigit() else chapter.lower()}.py first."
        )
    count = {3: "Three", 4: "Four", 5: "Five"}.get(len(exercises), str(len(exercises)))
    intro = (
        f"## Exercises\n\n{count} exercises, from easy to stretch. Each answer cell starts as a stub "
        "(`...`): replace it with your answer, then run the check cell under it. The checker runs "
        "your answer on test inputs and says which input failed, what was expected, what came back, "
        "and a hint. A *Predict* exercise runs its small experiment (a few seconds) once you have "
        "made your prediction. A *Think* question has no single right wording: the checker looks "
        f'for the key ideas. `show_solution("{exercises[0].id}")` shows a solution; try first.'
    )
    cells = ["# %% [markdown]\n" + _markdown(intro),
             "# %%\nfrom gptbook.exercises import check, show_solution"]
    for e in exercises:
        var = e.id.replace(".", "_")
        text = re.sub(r"^(\w+\([^)]*\))", r"`\1`", e.statement)
        text = f"**{e.id} {KIND_LABEL[e.kind]}: {e.title}.** {text}"
        if isinstance(e, Predict):
            text += "\n\n" + "\n".join(f'- `"{key}"`: {desc}' for key, desc in e.options.items())
            text += ("\n\nWrite your prediction first; the check then runs the experiment and shows "
                     "what happened.")
        elif isinstance(e, Open):
            text += " Write your answer as a string."
        cells.append("# %% [markdown]\n" + _markdown(text))
        if isinstance(e, Implement):
            tree = ast.parse(e.solution_code)
            fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == e.name)
            cells.append(f"# %%\ndef {e.name}({ast.unparse(fn.args)}):\n    ...  # your code here")
            cells.append(f'# %%\ncheck("{e.id}", {e.name})')
        elif isinstance(e, Predict):
            keys = " or ".join(f'"{key}"' for key in e.options)
            cells.append(f"# %%\nprediction_{var} = ...  # {keys}")
            cells.append(f'# %%\ncheck("{e.id}", prediction_{var})')
        else:
            cells.append(f'# %%\nanswer_{var} = ...  # "your answer, in a few sentences"')
            cells.append(f'# %%\ncheck("{e.id}", answer_{var})')
    return "\n\n".join(cells) + "\n"


def summary(ids: Sequence[str] | None = None) -> str:
    """One line per exercise: id, kind and title (for a table of contents)."""
    from gptbook.exercise_bank import all_exercises

    bank = all_exercises()
    chosen = [bank[i] for i in ids] if ids is not None else list(bank.values())
    return "\n".join(f"{e.id:6} {e.kind:9} {e.title}" for e in chosen)
