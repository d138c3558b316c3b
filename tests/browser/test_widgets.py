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

import html
import re
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


# --- which widgets the book uses, and which test covers each -----------------------------------------

COVERED = {
    "tokens": "test_token_inspector",
}


def widget_modules_used_by_chapters() -> dict[str, set[str]]:
    """{widget module: chapters that import it}, read from notebooks/*.py."""
    pattern = re.compile(r"gptbook\.widgets\.(\w+)|from\s+gptbook\.widgets\s+import\s+([\w, ]+)")
    used: dict[str, set[str]] = {}
    for chapter in sorted((REPO / "notebooks").glob("*.py")):
        for dotted, listed in pattern.findall(chapter.read_text()):
            for name in [dotted] if dotted else [n.strip() for n in listed.split(",")]:
                used.setdefault(name, set()).add(chapter.stem)
    return used


def chapters_showing(module: str) -> list:
    """pytest params: the chapter notebooks (.ipynb) that show ``module``'s widget, or one skipped param."""
    chapters = [
        c
        for c in sorted(widget_modules_used_by_chapters().get(module, ()))
        if (REPO / "notebooks" / f"{c}.ipynb").is_file()
    ]
    if not chapters:
        reason = f"no chapter shows gptbook.widgets.{module} yet"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-chapter-yet")]
    return [pytest.param(f"{c}.ipynb", id=c) for c in chapters]


def test_every_widget_in_the_book_has_a_browser_test():
    """A chapter that shows a widget from gptbook.widgets must have a browser test for it here."""
    uncovered = {m: sorted(c) for m, c in widget_modules_used_by_chapters().items() if m not in COVERED}
    assert not uncovered, f"widgets used by chapters without a browser test in {__file__}: {uncovered}"
    for test_name in COVERED.values():
        assert callable(globals().get(test_name)), f"COVERED names {test_name}, which is not a test here"


# --- chapter 01: the token inspector -----------------------------------------------------------------


@pytest.mark.parametrize("chapter", chapters_showing("tokens"))
def test_token_inspector(open_notebook, chapter):
    """With GPT-2 chosen, type Latin, Cyrillic, Chinese and a special token: the coloured tokens, their
    ids and the count are what token_spans/tokens_html compute. Then choose the character tokenizer
    (built from the Shakespeare corpus, as in the chapter): ASCII gives its ids, Cyrillic gives the
    readable error message instead of tokens."""
    from gptbook.data import shakespeare
    from gptbook.tokenizers import CharTokenizer, gpt2
    from gptbook.widgets.tokens import error_html, token_spans, tokens_html

    nb = open_notebook(chapter)
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
    nb.assert_no_page_errors()


# --- the temperature slider (chapter 07) and the generator (chapter 00) ------------------------------


def image_source(image) -> str:
    return image.get_attribute("src") or ""


def check_temperature_widget(nb, model, tokenizer, unseen_text: str | None, shot: str) -> None:
    """Move the temperature with the arrow keys and by dragging, type a prompt, type a bad prompt.

    After each move the summary line is what next_token_view computes for the prompt and the
    temperature now shown, and the bar chart is a new picture; a bad prompt shows the message."""
    from gptbook.widgets.temperature import error_html, next_token_view, training_alphabet

    alphabet = training_alphabet() if unseen_text else None
    ui = nb.widget("gptbook-temperature")
    slider = ui.locator(".gptbook-temperature-slider")
    readout, summary = slider.locator(".widget-readout"), ui.locator(".gptbook-temperature-summary")
    chart, prompt_box = (
        ui.locator(".gptbook-temperature-chart"),
        ui.locator(".gptbook-temperature-prompt textarea"),
    )
    expect(summary).to_be_visible()
    top = int(re.search(r"the (\d+) bars", summary.inner_text())[1])

    shown = [""]  # the chart's picture (a blob: URL) for the last state checked

    def expect_view(prompt: str) -> None:
        """The summary is the callback's for what the controls show now, and the chart is a new picture."""
        view = next_token_view(model, tokenizer, prompt, float(readout.inner_text()), top, alphabet)
        expect(summary).to_have_text(view.summary())
        expect(chart).to_be_visible()
        expect(chart).not_to_have_attribute("src", shown[0])
        nb.page.wait_for_function("e => e.complete && e.naturalWidth > 0", arg=chart.element_handle())
        shown[0] = image_source(chart)

    prompt = prompt_box.input_value()
    expect_view(prompt)
    start = readout.inner_text()
    nb.press_keys(slider.locator(".noUi-handle"), "ArrowRight", 4)
    expect(readout).not_to_have_text(start)
    expect_view(prompt)

    nb.drag_slider(slider, -0.2)  # all the way left: T = 0, greedy
    expect(readout).to_have_text("0.00")
    expect_view(prompt)
    expect(summary).to_contain_text("hold 100.0% of the probability")  # one token takes it all
    expect(summary).to_contain_text("like choosing among 1.0 tokens")

    nb.press_keys(slider.locator(".noUi-handle"), "ArrowRight", 10)
    new_prompt = "JULIET:\nO Romeo"
    nb.type_into(prompt_box, new_prompt)
    nb.page.keyboard.press("Tab")  # the prompt box updates when it loses focus
    expect_view(new_prompt)
    nb.screenshot(ui, f"{shot}_temperature")

    nb.type_into(prompt_box, unseen_text or "   ")
    nb.page.keyboard.press("Tab")
    try:
        next_token_view(model, tokenizer, unseen_text or "   ", 1.0, top, alphabet)
        raise AssertionError("expected the bad prompt to be refused")
    except ValueError as error:
        expect(ui.locator(".gptbook-temperature-error")).to_have_text(html_text(error_html(str(error))))
    expect(chart).to_be_hidden()
    nb.screenshot(ui, f"{shot}_temperature_refused")


def check_generate_widget(nb, model, tokenizer, unseen_text: str | None, shot: str) -> None:
    """Type a prompt, move temperature and length with keys and mouse, change the seed: each time the
    text shown is what generate_text computes with the values now shown."""
    from gptbook.widgets.generate import error_html, generate_text, generation_html
    from gptbook.widgets.temperature import training_alphabet

    alphabet = training_alphabet() if unseen_text else None
    ui = nb.widget("gptbook-generate")
    prompt_box = ui.locator(".gptbook-generate-prompt textarea")
    temp, length = ui.locator(".gptbook-generate-temperature"), ui.locator(".gptbook-generate-length")
    seed = ui.locator(".gptbook-generate-seed input")
    out = ui.locator(".gptbook-generate-output")

    def expect_text() -> None:
        g = generate_text(
            model,
            tokenizer,
            prompt_box.input_value(),
            float(temp.locator(".widget-readout").inner_text()),
            int(length.locator(".widget-readout").inner_text()),
            int(seed.input_value()),
            alphabet=alphabet,
        )
        expect(out.locator(".gptbook-generate-summary")).to_have_text(
            html_text(re.search(r'<p class="gptbook-generate-summary".*?</p>', generation_html(g))[0])
        )
        expect(out.locator(".gptbook-generate-text")).to_have_text(g.prompt + g.continuation)

    expect(out.locator(".gptbook-generate-text")).to_be_visible()
    expect_text()
    nb.type_into(prompt_box, "KING HENRY:\n")
    nb.page.keyboard.press("Tab")
    expect(out.locator(".gptbook-generate-text b")).to_have_text("KING HENRY:\n")
    expect_text()
    nb.press_keys(length.locator(".noUi-handle"), "ArrowLeft", 5)
    expect_text()
    nb.drag_slider(temp, 0.75)  # three quarters of the track: about 1.5
    expect(temp.locator(".widget-readout")).not_to_have_text("0.80")
    expect_text()
    nb.type_into(seed, "7", enter=True)
    expect(out.locator(".gptbook-generate-summary")).to_contain_text("seed 7")
    expect_text()
    nb.screenshot(ui, f"{shot}_generate")

    nb.type_into(prompt_box, unseen_text or "  ")
    nb.page.keyboard.press("Tab")
    try:
        generate_text(model, tokenizer, unseen_text or "  ", alphabet=alphabet)
        raise AssertionError("expected the bad prompt to be refused")
    except ValueError as error:
        expect(ui.locator(".gptbook-generate-error")).to_have_text(html_text(error_html(str(error))))
    nb.screenshot(ui, f"{shot}_generate_refused")


# --- the attention heatmap (chapter 05) ---------------------------------------------------------------


def check_attention_widget(nb, model, tokenizer, max_tokens: int, shot: str) -> None:
    """Move the layer and head sliders (keys and mouse), type a new text, type an empty one: the summary
    is what attention_view computes for the values shown, and the heatmap is a new picture each time."""
    from gptbook.widgets.attention import attention_view, error_html

    ui = nb.widget("gptbook-attention")
    text_box = ui.locator(".gptbook-attention-text input")
    layer, head = ui.locator(".gptbook-attention-layer"), ui.locator(".gptbook-attention-head")
    summary, chart = ui.locator(".gptbook-attention-summary"), ui.locator(".gptbook-attention-chart")
    shown = [""]

    def expect_view() -> None:
        view = attention_view(
            model,
            tokenizer,
            text_box.input_value(),
            int(layer.locator(".widget-readout").inner_text()),
            int(head.locator(".widget-readout").inner_text()),
            max_tokens,
        )
        expect(summary).to_have_text(view.summary())
        expect(chart).to_be_visible()
        expect(chart).not_to_have_attribute("src", shown[0])
        nb.page.wait_for_function("e => e.complete && e.naturalWidth > 0", arg=chart.element_handle())
        shown[0] = image_source(chart)

    expect(summary).to_be_visible()
    expect_view()
    n_layer, n_head = model.config.n_layer, model.config.n_head
    nb.press_keys(layer.locator(".noUi-handle"), "ArrowRight")
    expect(layer.locator(".widget-readout")).to_have_text(str(min(1, n_layer - 1)))
    if n_layer > 1:
        expect_view()
    nb.drag_slider(head, 1.2)  # all the way right: the last head
    expect(head.locator(".widget-readout")).to_have_text(str(n_head - 1))
    expect_view()
    nb.drag_slider(layer, 1.2)
    expect(layer.locator(".widget-readout")).to_have_text(str(n_layer - 1))
    if n_layer > 2:
        expect_view()
    nb.type_into(text_box, "The cat sat on the mat because it was tired.", enter=True)
    expect(summary).to_contain_text("'.'")  # the last token is now the full stop
    expect_view()
    nb.screenshot(ui, f"{shot}_attention")

    nb.type_into(text_box, "   ", enter=True)
    try:
        attention_view(model, tokenizer, "   ", 0, 0, max_tokens)
        raise AssertionError("expected an empty text to be refused")
    except ValueError as error:
        expect(ui.locator(".gptbook-attention-error")).to_have_text(html_text(error_html(str(error))))
    expect(chart).to_be_hidden()
