"""The analogy box of chapter 04: "A is to B as C is to ?", answered from a table of word vectors.

:func:`analogy_answers` is the plain function (the chapter calls it in a checked cell): it answers
with the words nearest to ``B - A + C`` (:func:`gptbook.vectors.analogy`) and returns an
:class:`AnalogyAnswers`. A word missing from the vocabulary, or an empty box, gives a readable
``error`` instead of answers. :func:`analogy_widget` is the ipywidgets layer: three text boxes and a
ranked list of the top answers with their cosine similarities.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from gptbook.data import WordVectors
from gptbook.vectors import UnknownWordError, analogy


@dataclass(frozen=True)
class AnalogyAnswers:
    """What the widget shows: ranked ``(word, cosine)`` answers, or ``error`` (what to change)."""

    a: str
    b: str
    c: str
    answers: list[tuple[str, float]] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def analogy_answers(wv: WordVectors, a: str, b: str, c: str, k: int = 5) -> AnalogyAnswers:
    """The top ``k`` answers to "``a`` is to ``b`` as ``c`` is to ?" (words lower-cased and trimmed)."""
    a, b, c = (str(w or "").strip().lower() for w in (a, b, c))
    empty = [name for name, w in zip("ABC", (a, b, c)) if not w]
    if empty:
        return AnalogyAnswers(a, b, c, error=f"Box {', '.join(empty)} is empty: type one word in each of A, B and C.")
    spaced = [w for w in (a, b, c) if " " in w]
    if spaced:
        return AnalogyAnswers(a, b, c, error=f"{spaced[0]!r} has a space in it: type a single word in each box.")
    try:
        return AnalogyAnswers(a, b, c, answers=analogy(wv, a, b, c, k=k))
    except UnknownWordError as e:
        return AnalogyAnswers(a, b, c, error=str(e))


def answers_html(result: AnalogyAnswers) -> str:
    """The result as a small HTML block: the question, then a numbered list or the error."""
    q = f"<b>{html.escape(result.a)}</b> is to <b>{html.escape(result.b)}</b> as <b>{html.escape(result.c)}</b> is to ?"
    if not result.ok:
        return f"<div>{q}</div><div class='gptbook-analogy-error' style='color:#b00'>{html.escape(result.error)}</div>"
    rows = "".join(f"<li>{html.escape(w)} <span style='color:#777'>({s:.3f})</span></li>" for w, s in result.answers)
    return f"<div>{q}</div><ol class='gptbook-analogy-answers'>{rows}</ol>"


def analogy_widget(wv: WordVectors, a: str = "man", b: str = "king", c: str = "woman", k: int = 5) -> Any:
    """Three text boxes (A, B, C) and the top ``k`` answers, updated when a box changes. Returns the widget."""
    import ipywidgets as w

    boxes = []
    for name, value in zip("ABC", (a, b, c)):
        box = w.Text(value=value, description=name, continuous_update=False, layout=w.Layout(width="260px"))
        box.add_class(f"gptbook-analogy-{name.lower()}")
        boxes.append(box)
    out = w.HTML()
    out.add_class("gptbook-analogy-output")

    def update(_: Any = None) -> None:
        out.value = answers_html(analogy_answers(wv, *(box.value for box in boxes), k=k))

    for box in boxes:
        box.observe(update, names="value")
    update()
    ui = w.VBox([w.HTML("A is to B as C is to ?  (answer: the words nearest to B - A + C)"), w.HBox(boxes), out])
    ui.add_class("gptbook-analogy")
    return ui
