"""Every widget of the book, used in JupyterLab in a real browser (Chromium driven by Playwright).

Each chapter test opens the chapter, runs all its cells in a fresh kernel, operates each control with
the keyboard or the mouse, and checks that the output becomes what the widget's plain function
computes (called here, in the test process, with the same arguments). A screenshot of each widget goes
to test-artifacts/browser/. The harness itself is proved first on a scratch notebook, including that
it fails when the widget manager is missing.

All browser tests live in this one file so that `pytest -n 2 --dist loadfile` runs them on one worker,
with one JupyterLab server and one browser.
"""

from __future__ import annotations

import ast
import html
import os
import re
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip these tests (or fail them under GPTBOOK_REQUIRE_BROWSER=1)
    expect = None

REPO = Path(__file__).resolve().parents[2]


def html_text(fragment: str) -> str:
    """The visible text of a small HTML fragment (tags dropped, entities decoded, spaces collapsed)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def visible(text: str) -> str:
    return " ".join(text.split())


# --- the harness, on a scratch notebook --------------------------------------------------------------

SCRATCH = """
import ipywidgets as w

def shout(text: str, times: int) -> str:
    return (text.upper() + "!") * times

text = w.Text(value="hi", description="Text")
times = w.IntSlider(value=1, min=1, max=5, description="Times")
reset = w.Button(description="Reset")
out = w.Output()
out.add_class("scratch-out")

def show(_=None):
    out.clear_output()
    with out:
        print(shout(text.value, times.value))

text.observe(show, "value")
times.observe(show, "value")
reset.on_click(lambda _: setattr(times, "value", 1))
box = w.VBox([text, times, reset, out])
box.add_class("gptbook-scratch")
show()
box
"""


def shout(text: str, times: int) -> str:
    return (text.upper() + "!") * times


def write_notebook(root: Path, name: str, code_cells: list[str]) -> str:
    """Write a small notebook into the server's folder; returns its name."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    notebook.cells = [nbformat.v4.new_markdown_cell("# scratch")]
    notebook.cells += [nbformat.v4.new_code_cell(code.strip()) for code in code_cells]
    nbformat.write(notebook, root / name)
    return name


def test_harness_drives_text_slider_and_button(jupyterlab, open_notebook):
    nb = open_notebook(write_notebook(jupyterlab.root, "scratch_widgets.ipynb", [SCRATCH]))
    nb.run_all(timeout_s=180)
    nb.assert_widgets_rendered()
    box = nb.widget("gptbook-scratch")
    out = box.locator(".scratch-out")
    expect(out).to_have_text(shout("hi", 1))

    nb.type_into(box.locator(".widget-text input"), "ab")
    expect(out).to_have_text(shout("ab", 1))

    slider = box.locator(".widget-slider")
    nb.press_keys(slider.locator(".noUi-handle"), "ArrowRight")
    expect(slider.locator(".widget-readout")).to_have_text("2")
    expect(out).to_have_text(shout("ab", 2))

    nb.drag_slider(slider, 1.1)
    expect(slider.locator(".widget-readout")).to_have_text("5")
    expect(out).to_have_text(shout("ab", 5))

    box.get_by_role("button", name="Reset").click()
    expect(out).to_have_text(shout("ab", 1))
    nb.screenshot(box, "harness_scratch")
    nb.assert_no_page_errors()


def test_harness_fails_when_the_widget_manager_is_missing(jupyterlab, open_notebook):
    """Block the ipywidgets JupyterLab extension: widgets fall back to text, and the check must fail."""
    nb = open_notebook(
        write_notebook(jupyterlab.root, "scratch_no_manager.ipynb", [SCRATCH]),
        block_urls="**/lab/extensions/@jupyter-widgets/jupyterlab-manager/**",
    )
    nb.run_all(timeout_s=180)
    with pytest.raises(AssertionError, match="widgets shown as plain text"):
        nb.assert_widgets_rendered(timeout_s=5)


# --- which widgets the book shows, and which test covers each ----------------------------------------


def widget_factories() -> dict[str, str]:
    """{function: module} for every function in gptbook.widgets that builds an ipywidgets widget."""
    import importlib
    import inspect
    import pkgutil

    import gptbook.widgets

    factories = {}
    for info in pkgutil.iter_modules(gptbook.widgets.__path__):
        module = importlib.import_module(f"gptbook.widgets.{info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and "import ipywidgets" in inspect.getsource(function):
                factories[name] = info.name
    return factories


def chapters_calling(function: str) -> list[str]:
    """The chapters (notebooks/NN_slug.py stems) whose code calls ``function(``, outside imports."""
    call = re.compile(rf"^(?!\s*(from|import)\s).*\b{function}\(", re.MULTILINE)
    return [c.stem for c in sorted((REPO / "notebooks").glob("*.py")) if call.search(c.read_text())]


def chapter_params(function: str) -> list:
    """pytest params: the executed chapters that show ``function``'s widget, or one skipped param."""
    chapters = [c for c in chapters_calling(function) if (REPO / "notebooks" / f"{c}.ipynb").is_file()]
    if not chapters:
        reason = f"no executed chapter shows {function}() yet"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-chapter-yet")]
    return [pytest.param(c, id=c) for c in chapters]


@dataclass(frozen=True)
class WidgetCall:
    """How a chapter calls a widget function: its positional arguments and keywords, as source text."""

    args: list[str]
    keywords: dict[str, str]

    def keyword(self, name: str, default: str) -> str:
        return self.keywords.get(name, default)


def widget_call(chapter: str, function: str) -> WidgetCall:
    """Read the (one) call ``function(...)`` in the chapter's source."""
    tree = ast.parse((REPO / "notebooks" / f"{chapter}.py").read_text())
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == function
    ]
    assert len(calls) == 1, f"{chapter}.py: expected one call of {function}(), found {len(calls)}"
    return WidgetCall(
        [ast.unparse(a) for a in calls[0].args], {k.arg: ast.unparse(k.value) for k in calls[0].keywords}
    )


COVERED = {  # widget function: the test that drives it
    "token_inspector": "test_token_inspector",
    "temperature_widget": "test_temperature_slider",
    "generate_widget": "test_generator",
    "attention_widget": "test_attention_sliders",
    "chat_widget": "test_chat",
    "analogy_widget": "test_analogy",
    # the prompt box and temperature slider of both widgets above: driven by their two tests
    "prompt_controls": "test_temperature_slider",
}


def test_every_widget_in_the_book_has_a_browser_test():
    """Each widget function of gptbook.widgets has a browser test here, and so has each one a chapter
    shows."""
    factories = widget_factories()
    assert "token_inspector" in factories, f"widget functions found: {factories}"  # the finder works
    untested = sorted(set(factories) - set(COVERED))
    shown = {f: chapters_calling(f) for f in factories}
    assert not untested, f"widgets without a browser test in {__file__}: {untested} (shown in {shown})"
    for test_name in COVERED.values():
        assert callable(globals().get(test_name)), f"COVERED names {test_name}, which is not a test here"


def require_cjk_font() -> None:
    """Fail (in CI) or warn (elsewhere) when no font can draw Chinese: the browser then draws boxes."""
    try:
        found = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True,
                               timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        found = ""
    if found:
        return
    message = ("No font for Chinese is installed, so the token inspector shows boxes for 你好. "
               "Install one: `sudo apt-get install fonts-noto-cjk` (.ci/run does).")
    if os.environ.get("GPTBOOK_REQUIRE_BROWSER", "") == "1":  # CI: a missing font is an error
        pytest.fail(message, pytrace=False)
    warnings.warn(message, stacklevel=2)


# --- chapter 01: the token inspector -----------------------------------------------------------------


@pytest.mark.parametrize("chapter", chapter_params("token_inspector"))
def test_token_inspector(open_notebook, chapter):
    """With GPT-2 chosen, type Latin, Cyrillic, Chinese and a special token: the coloured tokens, their
    ids and the count are what token_spans/tokens_html compute. Then choose the character tokenizer
    (built from the Shakespeare corpus, as in the chapter): ASCII gives its ids, Cyrillic gives the
    readable error message instead of tokens."""
    from gptbook.data import shakespeare
    from gptbook.tokenizers import CharTokenizer, gpt2
    from gptbook.widgets.tokens import error_html, token_spans, tokens_html

    nb = open_notebook(f"{chapter}.ipynb")
    nb.run_all()
    nb.assert_widgets_rendered()
    inspector = nb.widget("gptbook-tokens")
    menu = inspector.locator(".gptbook-tokens-tokenizer select")
    text_box = inspector.locator(".gptbook-tokens-text textarea")
    out = inspector.locator(".gptbook-tokens-output")
    options = menu.locator("option").all_inner_texts()
    assert "GPT-2" in options and "characters" in options, f"tokenizer menu: {options}"

    def count_line(text: str, tokenizer) -> str:
        return html_text(
            re.search(r'<p class="gptbook-tokens-count">.*?</p>', tokens_html(text, tokenizer))[0]
        )

    encoding = gpt2()
    text = "Hello, мир! 你好 <|endoftext|> someunknownPlace"
    require_cjk_font()  # without one the screenshot shows boxes where the Chinese characters are
    menu.select_option(label="GPT-2")
    nb.type_into(text_box, text)
    spans = token_spans(text, encoding)
    expect(out.locator(".gptbook-tokens-count")).to_have_text(count_line(text, encoding))
    expect(out.locator(".gptbook-token small")).to_have_text([str(s.id) for s in spans])
    assert 50256 in [s.id for s in spans]  # <|endoftext|> came through as the one special token
    nb.screenshot(inspector, "01_tokens_inspector_gpt2")

    chars = CharTokenizer.from_text(shakespeare())
    menu.select_option(label="characters")
    nb.type_into(text_box, "To be, or not")
    expect(out.locator(".gptbook-token small")).to_have_text([str(i) for i in chars.encode("To be, or not")])
    expect(out.locator(".gptbook-tokens-count")).to_have_text(count_line("To be, or not", chars))

    nb.type_into(text_box, "Быть")
    with pytest.raises(ValueError) as error:
        chars.encode("Быть")
    expect(out.locator(".gptbook-tokens-error")).to_have_text(html_text(error_html(str(error.value))))
    expect(out.locator(".gptbook-token")).to_have_count(0)
    nb.screenshot(inspector, "01_tokens_inspector_characters_error")

    # the merge slider: the book's BPE replayed from bytes (0 merges) one merge at a time
    slider = inspector.locator(".gptbook-tokens-merges-slider")
    # ipywidgets writes option labels with non-breaking spaces
    bpe = next(o for o in options if o.replace("\xa0", " ").startswith("book BPE"))
    menu.select_option(label=bpe)
    nb.type_into(text_box, "To be, or not")
    setup = "from gptbook.widgets.tokens import merge_step_html"

    def expect_merges(n: int) -> None:
        expect(slider.locator(".widget-readout")).to_have_text(str(n))
        shown = nb.kernel_eval(f"merge_step_html('To be, or not', book_bpe, {n})", setup)
        # inner text breaks lines between token elements where html_text puts spaces
        pattern = r"\s*".join(re.escape(word) for word in html_text(shown).split())
        expect(out).to_have_text(re.compile(pattern), use_inner_text=True)

    total = int(readout(slider))
    assert total > 0, "the slider starts at all merges of the BPE tokenizer"
    expect_merges(total)
    nb.drag_slider(slider, -0.2)  # all the way left: raw bytes
    expect_merges(0)
    expect(out.locator(".gptbook-token")).to_have_count(len(b"To be, or not"))
    nb.press_keys(slider.locator(".noUi-handle"), "ArrowRight", 3)
    expect_merges(3)
    nb.screenshot(inspector, "01_tokens_inspector_three_merges")
    nb.assert_no_page_errors()


# --- checkers for the widgets over a model ------------------------------------------------------------
# The chapter's model lives in its kernel, so what a widget must show is computed there, by the widget's
# plain function, with the chapter's own model and tokenizer (``model`` and ``tokenizer`` name them) and
# the values the controls show in the browser.

REFUSAL = '''
def _refusal(function, *args, **kwargs):
    """The widget's error message for input ``function`` refuses, or None when it accepts it."""
    try:
        function(*args, **kwargs)
    except ValueError as error:
        return error_html(str(error))
    return None
'''


def image_source(image) -> str:
    return image.get_attribute("src") or ""


def expect_new_picture(nb, chart, previous: list[str]) -> None:
    """The chart is visible, decoded, and not the picture shown before (``previous[0]``, then updated)."""
    expect(chart).to_be_visible()
    expect(chart).not_to_have_attribute("src", previous[0])
    nb.page.wait_for_function("e => e.complete && e.naturalWidth > 0", arg=chart.element_handle())
    previous[0] = image_source(chart)


def readout(slider) -> str:
    return (slider.locator(".widget-readout").text_content() or "").strip()


def check_temperature_widget(
    nb, model: str, tokenizer: str, shot: str, alphabet: str = "training_alphabet()", bad_prompt: str = "Быть"
) -> None:
    """Move the temperature with the arrow keys and by dragging, type a prompt, type a bad prompt.

    After each move the summary line is what next_token_view computes for the prompt and temperature
    now shown, and the bar chart is a new picture; a bad prompt shows the widget's message instead."""
    setup = "from gptbook.widgets.temperature import error_html, next_token_view, training_alphabet" + REFUSAL
    ui = nb.widget("gptbook-temperature")
    slider, summary = ui.locator(".gptbook-temperature-slider"), ui.locator(".gptbook-temperature-summary")
    chart, prompt_box = (
        ui.locator(".gptbook-temperature-chart"),
        ui.locator(".gptbook-temperature-prompt textarea"),
    )
    expect(summary).to_be_visible()
    top = int(re.search(r"the (\d+) bars", summary.text_content())[1])
    shown = [""]

    def expect_view(prompt: str) -> None:
        call = (
            f"next_token_view({model}, {tokenizer}, {prompt!r}, "
            f"{float(readout(slider))!r}, {top}, {alphabet})"
        )
        expect(summary).to_have_text(nb.kernel_eval(f"{call}.summary()", setup))
        expect_new_picture(nb, chart, shown)

    prompt = prompt_box.input_value()
    expect_view(prompt)
    start = readout(slider)
    nb.press_keys(slider.locator(".noUi-handle"), "ArrowRight", 4)
    expect(slider.locator(".widget-readout")).not_to_have_text(start)
    expect_view(prompt)

    nb.drag_slider(slider, -0.2)  # all the way left: T = 0, greedy
    expect(slider.locator(".widget-readout")).to_have_text("0.00")
    expect_view(prompt)
    expect(summary).to_contain_text("hold 100.0% of the probability")  # one token takes it all
    expect(summary).to_contain_text("like choosing among 1.0 tokens")

    nb.press_keys(slider.locator(".noUi-handle"), "ArrowRight", 10)
    new_prompt = "JULIET:\nO Romeo, Romeo"
    nb.type_into(prompt_box, new_prompt)
    nb.page.keyboard.press("Tab")  # the prompt box updates when it loses focus
    expect_view(new_prompt)
    nb.screenshot(ui, f"{shot}_temperature")

    nb.type_into(prompt_box, bad_prompt)
    nb.page.keyboard.press("Tab")
    refusal = nb.kernel_eval(
        f"_refusal(next_token_view, {model}, {tokenizer}, {bad_prompt!r}, 1.0, {top}, {alphabet})", setup
    )
    assert refusal, f"next_token_view accepted {bad_prompt!r}; the test expected a refusal"
    expect(ui.locator(".gptbook-temperature-error")).to_have_text(html_text(refusal), use_inner_text=True)
    expect(chart).to_be_hidden()
    nb.screenshot(ui, f"{shot}_temperature_refused")


def check_generate_widget(
    nb, model: str, tokenizer: str, shot: str, alphabet: str = "training_alphabet()", bad_prompt: str = "Быть"
) -> None:
    """Type a prompt, move temperature and length with keys and mouse, change the seed: each time the
    text shown is what generate_text computes with the values now shown; a bad prompt is refused."""
    setup = "from gptbook.widgets.generate import error_html, generate_text, generation_html\n"
    setup += "from gptbook.widgets.temperature import training_alphabet" + REFUSAL
    ui = nb.widget("gptbook-generate")
    prompt_box = ui.locator(".gptbook-generate-prompt textarea")
    temp, length = ui.locator(".gptbook-generate-temperature"), ui.locator(".gptbook-generate-length")
    seed, out = ui.locator(".gptbook-generate-seed input"), ui.locator(".gptbook-generate-output")

    def expect_text() -> None:
        args = (
            f"{prompt_box.input_value()!r}, {float(readout(temp))!r}, "
            f"{int(readout(length))}, {int(seed.input_value())}"
        )
        text, shown_html = nb.kernel_eval(
            "(lambda g: [g.text, generation_html(g)])"
            f"(generate_text({model}, {tokenizer}, {args}, alphabet={alphabet}))",
            setup,
        )
        expect(out.locator(".gptbook-generate-text")).to_have_text(text)
        summary = re.search(r'<p class="gptbook-generate-summary".*?</p>', shown_html)[0]
        expect(out.locator(".gptbook-generate-summary")).to_have_text(html_text(summary), use_inner_text=True)

    expect(out.locator(".gptbook-generate-text")).to_be_visible()
    expect_text()
    nb.type_into(prompt_box, "KING HENRY:\n")
    nb.page.keyboard.press("Tab")
    expect(out.locator(".gptbook-generate-text b")).to_have_text("KING HENRY:\n")
    expect_text()
    start = readout(length)
    nb.press_keys(length.locator(".noUi-handle"), "ArrowLeft", 5)
    expect(length.locator(".widget-readout")).not_to_have_text(start)
    expect_text()
    start = readout(temp)
    nb.drag_slider(temp, 0.75)  # three quarters along the track
    expect(temp.locator(".widget-readout")).not_to_have_text(start)
    expect_text()
    nb.type_into(seed, "7", enter=True)
    expect(out.locator(".gptbook-generate-summary")).to_contain_text("seed 7")
    expect_text()
    nb.screenshot(ui, f"{shot}_generate")

    nb.type_into(prompt_box, bad_prompt)
    nb.page.keyboard.press("Tab")
    refusal = nb.kernel_eval(
        f"_refusal(generate_text, {model}, {tokenizer}, {bad_prompt!r}, alphabet={alphabet})", setup
    )
    assert refusal, f"generate_text accepted {bad_prompt!r}; the test expected a refusal"
    expect(ui.locator(".gptbook-generate-error")).to_have_text(html_text(refusal), use_inner_text=True)
    nb.screenshot(ui, f"{shot}_generate_refused")


def check_attention_widget(nb, model: str, tokenizer: str, shot: str, max_tokens: int = 48) -> None:
    """Move the layer and head sliders (keys and mouse), type a new text, type an empty one: the summary
    is what attention_view computes for the values shown, and the heatmap is a new picture each time."""
    setup = "from gptbook.widgets.attention import attention_view, error_html" + REFUSAL
    ui = nb.widget("gptbook-attention")
    text_box = ui.locator(".gptbook-attention-text textarea")
    layer, head = ui.locator(".gptbook-attention-layer"), ui.locator(".gptbook-attention-head")
    summary, chart = ui.locator(".gptbook-attention-summary"), ui.locator(".gptbook-attention-chart")
    n_layer, n_head = nb.kernel_eval(f"[{model}.config.n_layer, {model}.config.n_head]")
    shown = [""]

    def expect_view() -> None:
        args = f"{text_box.input_value()!r}, {int(readout(layer))}, {int(readout(head))}, {max_tokens}"
        expect(summary).to_have_text(
            nb.kernel_eval(f"attention_view({model}, {tokenizer}, {args}).summary()", setup)
        )
        expect_new_picture(nb, chart, shown)

    expect_view()  # the starting text, line breaks and all, is what the box holds
    nb.type_into(text_box, "Romeo.\nBut soft! what light through yonder window breaks?")
    nb.page.keyboard.press("Tab")  # the text box updates when it loses focus
    expect(summary).to_contain_text("'?'")  # the last token is now the question mark
    expect_view()
    start_layer, start_head = int(readout(layer)), int(readout(head))
    nb.press_keys(layer.locator(".noUi-handle"), "ArrowRight" if start_layer < n_layer - 1 else "ArrowLeft")
    expect(layer.locator(".widget-readout")).not_to_have_text(str(start_layer))
    expect_view()
    nb.drag_slider(head, 1.2 if start_head < n_head - 1 else -0.2)  # to the far end of the track
    expect(head.locator(".widget-readout")).to_have_text(str(n_head - 1 if start_head < n_head - 1 else 0))
    expect_view()
    nb.screenshot(ui, f"{shot}_attention")

    nb.type_into(text_box, "   ")
    nb.page.keyboard.press("Tab")
    refusal = nb.kernel_eval(
        f"_refusal(attention_view, {model}, {tokenizer}, '   ', 0, 0, {max_tokens})", setup
    )
    assert refusal, "attention_view accepted an empty text; the test expected a refusal"
    expect(ui.locator(".gptbook-attention-error")).to_have_text(html_text(refusal), use_inner_text=True)
    expect(chart).to_be_hidden()


def check_chat_widget(nb, model: str, tokenizer: str, shot: str, max_new_tokens: int = 24) -> None:
    """Type an instruction and an input and click Ask, then edit and press Enter: the answer shown is
    what chat_reply computes; ticking the check box adds the prompt template with the loss mask (as
    chat_html shows it); an empty instruction shows the widget's refusal."""
    setup = "from gptbook.widgets.chat import chat_html"
    ui = nb.widget("gptbook-chat")
    instruction, given = (
        ui.locator(".gptbook-chat-instruction input"),
        ui.locator(".gptbook-chat-input input"),
    )
    show = ui.locator(".gptbook-chat-show-template input")
    out = ui.locator(".gptbook-chat-output")

    def expect_reply() -> None:
        args = (f"{instruction.input_value()!r}, {given.input_value()!r}, {max_new_tokens}, "
                f"{show.is_checked()}")
        shown = nb.kernel_eval(f"chat_html({model}, {tokenizer}, {args})", setup)
        # the template view draws each token as its own element: the browser's inner text joins
        # them without the spaces html_text puts between elements, so whitespace is optional
        pattern = r"\s*".join(re.escape(word) for word in html_text(shown).split())
        expect(out).to_have_text(re.compile(pattern), use_inner_text=True)

    expect(out).not_to_be_empty()
    expect_reply()
    nb.type_into(instruction, "Add these two numbers.")
    nb.type_into(given, "12 + 30")
    ui.get_by_role("button", name="Ask").click()
    expect_reply()
    nb.screenshot(ui, f"{shot}_chat")
    show.check()
    expect(out.locator(".gptbook-chat-masked").first).to_be_visible()
    expect(out.locator(".gptbook-chat-scored").first).to_be_visible()
    expect_reply()
    nb.screenshot(ui, f"{shot}_chat_template")
    show.uncheck()
    expect(out.locator(".gptbook-chat-template")).to_have_count(0)
    nb.type_into(instruction, "What is the capital of France?")
    nb.type_into(given, "", enter=True)
    expect_reply()
    nb.type_into(instruction, "", enter=True)
    ui.get_by_role("button", name="Ask").click()
    expect(out.locator(".gptbook-chat-error")).to_contain_text("The instruction is empty")
    expect_reply()
    nb.screenshot(ui, f"{shot}_chat_refused")


def check_analogy_widget(nb, vectors: str, shot: str, k: int = 5) -> None:
    """Type words into A, B and C (Enter after each): the ranked answers are what analogy_answers
    computes; unticking "leave out A, B and C" lets the question words answer (marked); an unknown
    word and an empty box give the widget's message."""
    setup = "from gptbook.widgets.analogy import analogy_html"
    ui = nb.widget("gptbook-analogy")
    boxes = [ui.locator(f".gptbook-analogy-{name} input") for name in "abc"]
    leave_out = ui.locator(".gptbook-analogy-exclude input")
    out = ui.locator(".gptbook-analogy-output")

    def expect_answers() -> None:
        words = ", ".join(repr(box.input_value()) for box in boxes)
        exclude = leave_out.is_checked()
        shown = nb.kernel_eval(
            f"analogy_html({vectors}, {words}, k={k}, exclude_question={exclude})", setup
        )
        expect(out).to_have_text(html_text(shown), use_inner_text=True)

    expect(out).not_to_be_empty()
    expect_answers()
    for box, word in zip(boxes, ("france", "paris", "italy")):
        nb.type_into(box, word, enter=True)
    expect(ui.locator(".gptbook-analogy-answers li")).to_have_count(k)
    expect_answers()
    nb.screenshot(ui, f"{shot}_analogy")
    leave_out.click()  # let A, B and C answer: italy and paris come back, marked
    expect(leave_out).not_to_be_checked()
    expect(ui.locator(".gptbook-analogy-own").first).to_be_visible()
    expect_answers()
    nb.screenshot(ui, f"{shot}_analogy_question_words_in")
    leave_out.click()
    expect(ui.locator(".gptbook-analogy-own")).to_have_count(0)
    expect_answers()
    nb.type_into(boxes[1], "qzxwvkj", enter=True)
    expect(ui.locator(".gptbook-analogy-error")).to_be_visible()
    expect_answers()
    nb.type_into(boxes[1], "")
    nb.page.keyboard.press("Tab")  # leaving the box commits it, as Enter does
    expect(ui.locator(".gptbook-analogy-error")).to_contain_text("empty")
    expect_answers()
    nb.screenshot(ui, f"{shot}_analogy_refused")


# --- the chapters' widgets over the book's models --------------------------------------------------


def open_and_run(open_notebook, chapter: str):
    nb = open_notebook(f"{chapter}.ipynb")
    nb.run_all()
    nb.assert_widgets_rendered()
    return nb


def alphabet_of(call: WidgetCall) -> str:
    """The alphabet expression the widget uses: the training text's unless the chapter passes one."""
    given = call.keyword("alphabet", "'training'")
    return "training_alphabet()" if given == "'training'" else given


@pytest.mark.parametrize("chapter", chapter_params("temperature_widget"))
def test_temperature_slider(open_notebook, chapter):
    call = widget_call(chapter, "temperature_widget")
    nb = open_and_run(open_notebook, chapter)
    check_temperature_widget(nb, *call.args[:2], chapter, alphabet=alphabet_of(call))
    nb.assert_no_page_errors()


@pytest.mark.parametrize("chapter", chapter_params("generate_widget"))
def test_generator(open_notebook, chapter):
    call = widget_call(chapter, "generate_widget")
    nb = open_and_run(open_notebook, chapter)
    check_generate_widget(nb, *call.args[:2], chapter, alphabet=alphabet_of(call))
    nb.assert_no_page_errors()


@pytest.mark.parametrize("chapter", chapter_params("attention_widget"))
def test_attention_sliders(open_notebook, chapter):
    call = widget_call(chapter, "attention_widget")
    nb = open_and_run(open_notebook, chapter)
    check_attention_widget(nb, *call.args[:2], chapter, max_tokens=int(call.keyword("max_tokens", "48")))
    nb.assert_no_page_errors()


@pytest.mark.parametrize("chapter", chapter_params("chat_widget"))
def test_chat(open_notebook, chapter):
    call = widget_call(chapter, "chat_widget")
    nb = open_and_run(open_notebook, chapter)
    check_chat_widget(nb, *call.args[:2], chapter, int(call.keyword("max_new_tokens", "24")))
    nb.assert_no_page_errors()


@pytest.mark.parametrize("chapter", chapter_params("analogy_widget"))
def test_analogy(open_notebook, chapter):
    call = widget_call(chapter, "analogy_widget")
    nb = open_and_run(open_notebook, chapter)
    check_analogy_widget(nb, call.args[0], chapter, int(call.keyword("k", "5")))
    nb.assert_no_page_errors()
