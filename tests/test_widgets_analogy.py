"""The analogy widget: its plain function (answers, refusals), what it shows, and its callbacks."""

from __future__ import annotations

import numpy as np
import pytest

from gptbook.data import WordVectors
from gptbook.widgets.analogy import (
    AnalogyInputError,
    analogy_answers,
    analogy_html,
    analogy_widget,
    answers_html,
)


def table() -> WordVectors:
    words = ["man", "woman", "king", "queen", "apple", "pear"]
    vecs = np.array(
        [[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [0, 0, -1], [0, 0.1, -1]], dtype=np.float32
    )
    return WordVectors(words, vecs, {w: i for i, w in enumerate(words)})


def test_answers_are_ranked_and_words_cleaned():
    good = analogy_answers(table(), " Man", "KING", "woman", k=2)
    assert (good.a, good.b, good.c) == ("man", "king", "woman")
    assert good.answers[0][0] == "queen" and len(good.answers) == 2
    shown = answers_html(good)
    assert shown == analogy_html(table(), " Man", "KING", "woman", k=2)
    assert "<b>man</b> is to <b>king</b>" in shown and shown.count("<li>") == 2


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (("man", "kingg", "woman"), "'kingg' is not in the vocabulary"),
        (("man", "", "woman"), "Box B is empty"),
        (("", "  ", "woman"), "Box A, B is empty"),
        (("man", "king kong", "woman"), "'king kong' has a space"),
    ],
)
def test_words_it_cannot_use_raise_one_error_type_and_show_as_a_message(words, message):
    with pytest.raises(AnalogyInputError, match=message):
        analogy_answers(table(), *words)
    shown = analogy_html(table(), *words)
    assert "gptbook-analogy-error" in shown and "Cannot answer" in shown
    assert "gptbook-analogy-answers" not in shown and "is to" in shown


def test_leaving_the_question_words_in_lets_them_answer_and_marks_them():
    # king - man + woman is nearest to queen, but woman itself comes before any other word
    kept = analogy_answers(table(), "man", "king", "woman", k=6, exclude_question=False)
    left_out = analogy_answers(table(), "man", "king", "woman", k=6)
    assert {w for w, _ in kept.answers} >= {"king", "woman"}
    assert not {"man", "king", "woman"} & {w for w, _ in left_out.answers}
    assert left_out.question_words_in_answers == []
    assert set(kept.question_words_in_answers) == {"man", "king", "woman"} & {w for w, _ in kept.answers}
    shown = answers_html(kept)
    assert shown.count("(a question word)") == len(kept.question_words_in_answers)
    assert "A, B and C allowed as answers" in shown
    assert "A, B and C left out" in answers_html(left_out)


def test_widget_updates_and_shows_refusals():
    ui = analogy_widget(table(), "man", "king", "woman", k=3)
    _, boxes, leave_out, out = ui.children
    assert leave_out.value is True
    leave_out.value = False
    assert out.value == analogy_html(table(), "man", "king", "woman", 3, exclude_question=False)
    assert "(a question word)" in out.value
    leave_out.value = True
    assert "gptbook-analogy-output" in out._dom_classes
    assert out.value == analogy_html(table(), "man", "king", "woman", 3) and "queen" in out.value
    boxes.children[1].value = "qzxwvkj"
    assert "gptbook-analogy-error" in out.value and "qzxwvkj" in out.value
    boxes.children[1].value = ""
    assert "empty" in out.value
