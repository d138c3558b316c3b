"""The analogy box of chapter 04: "A is to B as C is to ?", answered from a table of word vectors.

:func:`analogy_answers` is the plain function (the chapter calls it in a checked cell): it answers
with the words nearest to ``B - A + C`` (:func:`gptbook.vectors.analogy`) and returns an
:class:`AnalogyAnswers`. A word missing from the vocabulary, an empty box or a box with several
words raises :class:`AnalogyInputError` with a message that says what to type instead.
:func:`analogy_html` is what the widget shows (the answers, or the refusal), and
:func:`analogy_widget` is the ipywidgets layer: three text boxes, a checkbox "leave out A, B and C"
and a ranked list of the top answers with their cosine similarities. Unticking the box shows why
the rule exists: ``B - A + C`` is often nearest to C (or B) itself; those answers are marked.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from gptbook.data import WordVectors
from gptbook.vectors import UnknownWordError, analogy
from gptbook.widgets import html as shared
from gptbook.widgets.html import WidgetInputError


class AnalogyInputError(WidgetInputError):
    """Words the analogy box cannot use: an empty box, several words, a word not in the table."""


@dataclass(frozen=True)
class AnalogyAnswers:
    """What the widget shows: ranked ``(word, cosine)`` answers to "a is to b as c is to ?"."""

    a: str
    b: str
    c: str
    answers: list[tuple[str, float]] = field(default_factory=list)
    exclude_question: bool = True

    @property
    def question_words_in_answers(self) -> list[str]:
        """The answers that are A, B or C themselves (only possible with ``exclude_question=False``)."""
        return [w for w, _ in self.answers if w in (self.a, self.b, self.c)]


def _clean(*words: Any) -> tuple[str, ...]:
    return tuple(str(w or "").strip().lower() for w in words)


def analogy_answers(
    wv: WordVectors, a: str, b: str, c: str, k: int = 5, exclude_question: bool = True
) -> AnalogyAnswers:
    """The top ``k`` answers to "``a`` is to ``b`` as ``c`` is to ?" (words lower-cased and
    trimmed), leaving out a, b and c unless ``exclude_question=False``;
    :class:`AnalogyInputError` for words it cannot use."""
    a, b, c = _clean(a, b, c)
    empty = [name for name, w in zip("ABC", (a, b, c)) if not w]
    if empty:
        raise AnalogyInputError(
            f"Box {', '.join(empty)} is empty: type one word in each of A, B and C."
        )
    spaced = [w for w in (a, b, c) if " " in w]
    if spaced:
        raise AnalogyInputError(
            f"{spaced[0]!r} has a space in it: type a single word in each box."
        )
    try:
        answers = analogy(wv, a, b, c, k=k, exclude_question=exclude_question)
        return AnalogyAnswers(a, b, c, answers=answers, exclude_question=exclude_question)
    except UnknownWordError as e:
        raise AnalogyInputError(str(e)) from e


def question_html(a: str, b: str, c: str) -> str:
    """The question, words in bold."""
    a, b, c = (html.escape(w) for w in _clean(a, b, c))
    return f"<div><b>{a}</b> is to <b>{b}</b> as <b>{c}</b> is to ?</div>"


def answers_html(result: AnalogyAnswers) -> str:
    """The result as a small HTML block: the question, then a numbered list of answers. An answer
    that is one of the question's own words is marked "(a question word)"."""
    own = set(result.question_words_in_answers)
    rows = "".join(
        f"<li>{html.escape(w)} <span style='color:#777'>({s:.3f})</span>"
        + (" <i class='gptbook-analogy-own'>(a question word)</i>" if w in own else "")
        + "</li>"
        for w, s in result.answers
    )
    rule = ("A, B and C left out" if result.exclude_question
            else "A, B and C allowed as answers")
    return question_html(result.a, result.b, result.c) + (
        f"<div class='gptbook-analogy-rule' style='color:#777'>{rule}</div>"
        f"<ol class='gptbook-analogy-answers'>{rows}</ol>"
    )


def error_html(message: str) -> str:
    """Words the box refused, as the widget shows it."""
    return shared.error_html(message, "analogy", "Cannot answer")


def analogy_html(
    wv: WordVectors, a: str, b: str, c: str, k: int = 5, exclude_question: bool = True
) -> str:
    """What the widget shows for these words: the question and its answers, or the refusal."""
    return shared.html_or_refusal(  # AnalogyInputError
        lambda: answers_html(analogy_answers(wv, a, b, c, k, exclude_question)),
        lambda message: question_html(a, b, c) + error_html(message),
    )


def analogy_widget(
    wv: WordVectors,
    a: str = "man",
    b: str = "king",
    c: str = "woman",
    k: int = 5,
    exclude_question: bool = True,
) -> Any:
    """Three text boxes (A, B, C), a checkbox "leave out A, B and C" and the top ``k`` answers,
    updated when a box or the checkbox changes. Returns the widget."""
    import ipywidgets as w

    boxes = []
    for name, value in zip("ABC", (a, b, c)):
        box = w.Text(value=value, description=name, continuous_update=False,
                     layout=w.Layout(width="260px"))
        box.add_class(f"gptbook-analogy-{name.lower()}")
        boxes.append(box)
    leave_out = w.Checkbox(value=exclude_question, description="leave out A, B and C",
                           indent=False)
    leave_out.add_class("gptbook-analogy-exclude")
    out = w.HTML()
    out.add_class("gptbook-analogy-output")

    def update(_: Any = None) -> None:
        out.value = analogy_html(wv, *(box.value for box in boxes), k=k,
                                 exclude_question=leave_out.value)

    for control in (*boxes, leave_out):
        control.observe(update, names="value")
    update()
    title = w.HTML("A is to B as C is to ?  (answer: the words nearest to B - A + C)")
    ui = w.VBox([title, w.HBox(boxes), leave_out, out])
    ui.add_class("gptbook-analogy")
    return ui
