"""The exercise checker's messages, as a reader sees them in JupyterLab (Chromium driven by Playwright).

A small notebook answers exercise 01.1 three ways, as a reader would: the stub the chapters ship,
a typical wrong answer, and a right one. After Run All in a fresh kernel, each check cell must show
the checker's HTML (not its plain-text fallback) with exactly the text that ``Feedback._repr_html_``
gives for the same answer here, in the status colour; ``show_solution`` shows the solution only in
the cell that asks for it. Screenshots of the wrong and the right answer go to
test-artifacts/browser/ (the book's copies are docs/exercises_wrong.png and docs/exercises_right.png).

Uses the session's JupyterLab server and browser from conftest.py (same skip rules).
"""

from __future__ import annotations

import html
import re

import nbformat

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip these tests (or fail them under GPTBOOK_REQUIRE_BROWSER=1)
    expect = None

STUB = '''
def encode_unknown(text, chars):
    ...  # your code here

check("01.1", encode_unknown)
'''

WRONG = '''
def encode_unknown(text, chars):
    return [chars.index(c) for c in text]  # ids from 0, and unknown characters fail

check("01.1", encode_unknown)
'''

RIGHT = '''
def encode_unknown(text, chars):
    index = {c: i + 1 for i, c in enumerate(chars)}
    return [index.get(c, 0) for c in text]

check("01.1", encode_unknown)
'''

WRONG_OPEN = '''
answer_01_5 = "Because Russian and Chinese words are longer than English ones."
check("01.5", answer_01_5)
'''


def html_text(fragment: str) -> str:
    """The visible text of a small HTML fragment (tags dropped, entities decoded, spaces collapsed)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def answer(code: str):
    """The function the notebook cell defines, defined here too, to compute the expected message."""
    namespace: dict = {}
    exec(code.replace('check("01.1", encode_unknown)', ""), namespace)
    return namespace["encode_unknown"]


def write_exercise_notebook(root) -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                       "language": "python"}
    notebook.cells = [
        nbformat.v4.new_markdown_cell(
            "## Exercises\n\n**01.1 Implement: a vocabulary with an 'unknown' id.** "
            "`encode_unknown(text, chars)`: character i of `chars` gets id i + 1; a character not "
            "in `chars` gets id 0 instead of an error."
        ),
        nbformat.v4.new_code_cell("from gptbook.exercises import check, show_solution"),
        *[nbformat.v4.new_code_cell(code.strip()) for code in (STUB, WRONG, RIGHT, WRONG_OPEN)],
        nbformat.v4.new_code_cell('show_solution("01.1")'),
    ]
    name = "exercises_checker.ipynb"
    nbformat.write(notebook, root / name)
    return name


def test_checker_messages_in_jupyterlab(jupyterlab, open_notebook):
    from gptbook.exercises import check, show_solution
    from gptbook.widgets.html import ERROR_COLOUR

    nb = open_notebook(write_exercise_notebook(jupyterlab.root))
    nb.run_all(timeout_s=300)

    expected = [  # one check cell each, in the notebook's order
        check("01.1", answer(STUB)),
        check("01.1", answer(WRONG)),
        check("01.1", answer(RIGHT)),
        check("01.5", "Because Russian and Chinese words are longer than English ones."),
    ]
    assert [f.status for f in expected] == ["not attempted", "wrong", "correct", "wrong"]
    checks = nb.page.locator(".jp-OutputArea-output .gptbook-exercise")
    expect(checks).to_have_count(len(expected))

    def shown(i: int):
        output = checks.nth(i)
        output.scroll_into_view_if_needed()  # JupyterLab may skip rendering cells out of view
        expect(output).to_be_visible()
        return output

    for i, feedback in enumerate(expected):
        css = feedback.status.replace(" ", "-")
        expect(shown(i)).to_have_class(re.compile(rf"\bgptbook-exercise-{css}\b"))
        expect(shown(i)).to_have_text(html_text(feedback._repr_html_()), use_inner_text=True)
    expect(shown(0)).to_contain_text("not attempted yet")

    wrong = shown(1)
    expect(wrong).to_contain_text("Ids start at 1")  # the hint meant for this mistake
    red = "rgb({}, {}, {})".format(*(int(ERROR_COLOUR[i : i + 2], 16) for i in (1, 3, 5)))
    expect(wrong.locator(".gptbook-exercise-headline")).to_have_css("color", red)
    nb.screenshot(wrong, "exercises_wrong")

    right = shown(2)
    expect(right).to_contain_text("Correct: all 5 test inputs pass.")
    expect(right.locator(".gptbook-exercise-headline")).to_have_css("color", "rgb(27, 110, 32)")
    nb.screenshot(right, "exercises_right")

    expect(shown(3)).to_contain_text("misses 1 of 2 key ideas")  # it names English, not bytes
    expect(shown(3)).to_contain_text("bytes per character")

    # the solution appears once, in the cell that asks for it, and in no check's output
    secret = "index.get(c, 0)"
    assert secret in show_solution("01.1").text
    solution = nb.page.locator(".jp-OutputArea-output .gptbook-exercise-solution")
    expect(solution).to_have_count(1)
    solution.scroll_into_view_if_needed()
    expect(solution).to_contain_text(secret)
    for i in range(len(expected)):
        expect(shown(i)).not_to_contain_text(secret)
    nb.assert_no_page_errors()
