"""The harness itself, proved on a scratch notebook: it drives a text box, a slider (keyboard and
mouse) and a button, and it does fail when the widget manager is missing."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip these tests (or fail them under GPTBOOK_REQUIRE_BROWSER=1)
    expect = None

SCRATCH = '''
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
'''


def shout(text: str, times: int) -> str:
    return (text.upper() + "!") * times


def write_scratch(root: Path, name: str) -> str:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    notebook.cells = [nbformat.v4.new_markdown_cell("# scratch"), nbformat.v4.new_code_cell(SCRATCH.strip())]
    nbformat.write(notebook, root / name)
    return name


def test_harness_drives_text_slider_and_button(jupyterlab, open_notebook):
    nb = open_notebook(write_scratch(jupyterlab.root, "scratch_widgets.ipynb"))
    nb.run_all(timeout_s=120)
    nb.assert_widgets_rendered()
    box = nb.widget("gptbook-scratch")
    out = box.locator(".scratch-out")
    expect(out).to_have_text(shout("hi", 1))

    box.locator(".widget-text input").click()
    nb.page.keyboard.press("Control+A")
    nb.page.keyboard.type("ab")
    expect(out).to_have_text(shout("ab", 1))

    handle = box.locator(".widget-slider .noUi-handle")
    handle.focus()
    nb.page.keyboard.press("ArrowRight")
    expect(box.locator(".widget-readout")).to_have_text("2")
    expect(out).to_have_text(shout("ab", 2))

    track, grip = box.locator(".noUi-base").bounding_box(), handle.bounding_box()
    y = grip["y"] + grip["height"] / 2
    nb.page.mouse.move(grip["x"] + grip["width"] / 2, y)
    nb.page.mouse.down()
    nb.page.mouse.move(track["x"] + track["width"] + 20, y, steps=10)
    nb.page.mouse.up()
    expect(out).to_have_text(shout("ab", 5))

    box.get_by_role("button", name="Reset").click()
    expect(out).to_have_text(shout("ab", 1))
    nb.screenshot(box, "harness_scratch")
    nb.assert_no_page_errors()


def test_harness_fails_when_the_widget_manager_is_missing(jupyterlab, open_notebook):
    """Block the ipywidgets JupyterLab extension: widgets fall back to text, and the check must fail."""
    nb = open_notebook(
        write_scratch(jupyterlab.root, "scratch_no_manager.ipynb"),
        block_urls="**/lab/extensions/@jupyter-widgets/jupyterlab-manager/**",
    )
    nb.run_all(timeout_s=120)
    with pytest.raises(AssertionError, match="widgets shown as plain text"):
        nb.assert_widgets_rendered(timeout_s=5)
