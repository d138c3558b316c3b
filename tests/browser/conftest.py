"""Browser tests: the book's widgets, used the way a reader uses them.

One JupyterLab server and one headless Chromium serve the whole test session. The server runs on a
free loopback port with its own token and its own config, settings, workspace and runtime
directories, and serves *copies* of the chapters from a temporary folder, so nothing a test does can
change the committed notebooks. Each test opens one chapter in its own page, clears the saved outputs,
runs every cell in a fresh kernel, drives the widgets with the keyboard and the mouse, and shuts that
kernel down afterwards.

Playwright (Python) drives Debian's Chromium at ``/usr/bin/chromium``; no browser is downloaded.
Without Chromium or Playwright the tests are skipped with a message saying how to enable them,
unless ``GPTBOOK_REQUIRE_BROWSER=1`` (set by ``.ci/run``), in which case they fail.

Environment variables:
    GPTBOOK_REQUIRE_BROWSER=1    fail instead of skipping when the browser is missing
    GPTBOOK_CHROMIUM=path        another Chromium binary (default /usr/bin/chromium)
    GPTBOOK_BROWSER_RUN_TIMEOUT  seconds allowed for one chapter's "Run All" (default 900)
    GPTBOOK_BROWSER_WAIT         seconds an output may take to update after a control moves (default 60;
                                 the server gets 5 times that to start)
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = Path(os.environ.get("GPTBOOK_CHROMIUM", "/usr/bin/chromium"))
REQUIRE_BROWSER = os.environ.get("GPTBOOK_REQUIRE_BROWSER", "") == "1"
RUN_TIMEOUT_S = float(os.environ.get("GPTBOOK_BROWSER_RUN_TIMEOUT", "900"))
WAIT_S = float(os.environ.get("GPTBOOK_BROWSER_WAIT", "60"))  # for the server to start, an output to update

CHROMIUM_ARGS = [
    "--no-sandbox",  # CI and containers run as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOW_TO_ENABLE = (
    "Install Debian's Chromium to run them: `sudo apt-get install chromium` (Playwright drives "
    "/usr/bin/chromium; it is installed with `pip install -e '.[dev]'`; no `playwright install` needed)."
)
# What a widget looks like when the widget manager did not load: its text/plain fallback.
PLAIN_TEXT_WIDGET = re.compile(
    r"^\s*(interactive|[HV]?Box|GridBox|Tab|Accordion|Output|HTML|HTMLMath|Label|Button|Checkbox|Dropdown|Combobox"
    r"|Play|Image|\w*Slider|\w*Text|Textarea|Select\w*|RadioButtons|ToggleButtons?)\("
    r"|Loading widget\.\.\.|Error displaying widget"
)


# --- is a browser here? ----------------------------------------------------------------------------


def configure_expect() -> None:
    """Widget callbacks run in a kernel on a shared 2-core machine: allow WAIT_S, not Playwright's 5 s."""
    try:
        from playwright.sync_api import expect
    except ImportError:
        return
    expect.set_options(timeout=WAIT_S * 1000)


configure_expect()


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM}."
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package `playwright` is not installed (`pip install playwright`)."
    return None


@pytest.fixture(scope="session")
def browser_ready() -> None:
    """Skip (or, with GPTBOOK_REQUIRE_BROWSER=1, fail) when Chromium or Playwright is missing."""
    why = browser_missing()
    if why is None:
        return
    message = f"Browser tests cannot run: {why} {HOW_TO_ENABLE}"
    if REQUIRE_BROWSER:
        pytest.fail(message + " (GPTBOOK_REQUIRE_BROWSER=1 makes this an error.)", pytrace=False)
    pytest.skip(message)


# --- the JupyterLab server -------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class JupyterLab:
    """A running JupyterLab server serving a temporary copy of the chapters."""

    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path
    runtime: Path  # the kernels' connection files are here

    def api(self, method: str, path: str, body: dict | None = None) -> Any:
        """Call the Jupyter server REST API; returns the decoded JSON (or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read().decode()
        return json.loads(text) if text else None

    def log_tail(self, n: int = 40) -> str:
        lines = self.log.read_text(errors="replace").splitlines()
        return "\n".join(lines[-n:])

    def shut_down_kernels(self, notebook: str | None = None) -> None:
        """Delete the sessions (and so shut down the kernels) of one notebook, or of all."""
        for session in self.api("GET", "/api/sessions"):
            if notebook is None or session.get("path") == notebook:
                self.api("DELETE", f"/api/sessions/{session['id']}")

    def page_url(self, notebook: str) -> str:
        """The notebook alone in a fresh workspace of its own (no tabs restored from earlier pages)."""
        workspace = re.sub(r"\W", "-", Path(notebook).stem)
        return f"{self.url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={self.token}"


def write_lab_settings(settings_dir: Path) -> None:
    """User settings for the test server: no news or update checks (no toast over the page)."""
    notification = settings_dir / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True, exist_ok=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))


def start_jupyterlab(base: Path) -> JupyterLab:
    """Start JupyterLab on a free loopback port serving a copy of notebooks/; wait until it answers."""
    root, log = base / "book", base / "jupyterlab.log"
    root.mkdir()
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        shutil.copy(notebook, root / notebook.name)  # the .ipynb only: jupytext pairing stays out of it
    dirs = {name: base / name for name in ("config", "runtime", "settings", "workspaces")}
    for d in dirs.values():
        d.mkdir()
    write_lab_settings(dirs["settings"])
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
    )
    port, token = free_port(), secrets.token_hex(16)
    command = [
        sys.executable, "-m", "jupyterlab",
        "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={dirs['settings']}", f"--LabApp.workspaces_dir={dirs['workspaces']}",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
    ]  # fmt: skip
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    lab = JupyterLab(f"http://127.0.0.1:{port}", token, root, process, log, dirs["runtime"])
    deadline = time.monotonic() + 5 * WAIT_S
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {process.returncode}:\n{lab.log_tail()}")
        try:
            lab.api("GET", "/api/status")
            return lab
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            if time.monotonic() > deadline:
                stop_jupyterlab(lab)
                raise RuntimeError(
                    f"JupyterLab did not answer within {5 * WAIT_S:.0f} s:\n{lab.log_tail()}"
                ) from None
            time.sleep(0.5)


def stop_jupyterlab(lab: JupyterLab) -> None:
    """Shut down every kernel, then the server; kill it if it does not stop within 30 s."""
    if lab.process.poll() is None:
        try:
            lab.shut_down_kernels()
            lab.api("POST", "/api/shutdown")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        try:
            lab.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            lab.process.terminate()
            try:
                lab.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                lab.process.kill()
                lab.process.wait()


@pytest.fixture(scope="session")
def jupyterlab(browser_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    lab = start_jupyterlab(tmp_path_factory.mktemp("jupyterlab"))
    try:
        yield lab
    finally:
        stop_jupyterlab(lab)


@pytest.fixture(scope="session")
def chromium(browser_ready: None) -> Iterator[Any]:
    """One headless Chromium (Debian's) for the session."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


# --- one chapter in one page ------------------------------------------------------------------------


def code_cells_to_run(path: Path) -> int:
    """How many code cells JupyterLab will execute (it skips empty ones)."""
    cells = json.loads(path.read_text())["cells"]
    return sum(1 for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip())


@dataclass
class Notebook:
    """A chapter open in its own browser page, with the page's JavaScript errors collected."""

    lab: JupyterLab
    name: str
    page: Any
    errors: list[str] = field(default_factory=list)

    def menu(self, menu_label: str, command: str) -> None:
        """Click a main-menu entry, found by its JupyterLab command id."""
        self.page.locator(".lm-MenuBar-item", has_text=re.compile(rf"^{menu_label}$")).click()
        self.page.locator(f"li.lm-Menu-item[data-command='{command}']").click()

    def open(self) -> None:
        from playwright.sync_api import expect

        slow = 5 * WAIT_S * 1000  # loading JupyterLab and starting a kernel are the slowest steps
        self.page.goto(self.lab.page_url(self.name), timeout=slow)
        self.page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell", timeout=slow)
        status = self.page.locator("#jp-main-statusbar")
        expect(status).to_contain_text(re.compile(r"\| Idle"), timeout=slow)

    def run_all(self, timeout_s: float = RUN_TIMEOUT_S) -> float:
        """Clear the saved outputs, Run All in the fresh kernel, wait for every cell; returns seconds."""
        from playwright.sync_api import expect

        self.menu("Edit", "editmenu:clear-all")
        expect(self.page.locator(".jp-CodeCell .jp-OutputArea-output")).to_have_count(0)
        expected = code_cells_to_run(self.lab.root / self.name)
        start = time.monotonic()
        self.menu("Run", "runmenu:run-all")
        stalled = 0
        while True:
            state = self.page.evaluate(
                """() => {
                    const ps = [...document.querySelectorAll(
                        '.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt')]
                      .map(p => p.textContent.trim());
                    return {done: ps.filter(t => /^\\[\\d+\\]:?$/.test(t)).length,
                            busy: ps.filter(t => t.includes('*')).length};
                }"""
            )
            if state["done"] >= expected and state["busy"] == 0:
                break
            # Run All stops at a failing cell: nothing queued any more, yet not every cell ran.
            stalled = stalled + 1 if state["busy"] == 0 and time.monotonic() - start > 5 else 0
            if stalled >= 5:
                pytest.fail(
                    f"{self.name}: Run All stopped after {state['done']} of {expected} code cells.\n"
                    f"Error output:\n{self.error_outputs()}",
                    pytrace=False,
                )
            if time.monotonic() - start > timeout_s:
                pytest.fail(
                    f"{self.name}: Run All not finished after {timeout_s:.0f} s ({state}).", pytrace=False
                )
            self.page.wait_for_timeout(1000)
        return time.monotonic() - start

    def error_outputs(self) -> str:
        """The text of every stderr / error output on the page."""
        texts = self.page.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        ).all_inner_texts()
        return "\n---\n".join(t[-2000:] for t in texts if "Traceback" in t or "Error" in t)

    def assert_widgets_rendered(self, timeout_s: float = 60) -> None:
        """Fail when any output is a widget's plain-text fallback (the widget manager did not load)."""
        found = self.page.evaluate(
            """async ([pattern, timeoutMs]) => {
                const re = new RegExp(pattern);
                const bad = () => [...document.querySelectorAll('.jp-OutputArea-output')]
                    .map(o => o.textContent).filter(t => re.test(t));
                const until = Date.now() + timeoutMs;
                while (bad().length && Date.now() < until) await new Promise(r => setTimeout(r, 250));
                return bad().map(t => t.slice(0, 200));
            }""",
            [PLAIN_TEXT_WIDGET.pattern, timeout_s * 1000],
        )
        assert not found, f"{self.name}: widgets shown as plain text (widget manager not loaded): {found}"

    def widget(self, css_class: str) -> Any:
        """The rendered widget carrying a CSS class (the classes each module adds with add_class)."""
        from playwright.sync_api import expect

        locator = self.page.locator(f".jp-OutputArea-output .{css_class}")
        expect(locator).to_have_count(1)
        locator.scroll_into_view_if_needed()  # JupyterLab skips rendering cells out of view
        expect(locator).to_be_visible()
        return locator

    def screenshot(self, widget: Any, name: str) -> Path:
        """Screenshots under test-artifacts/browser/: the page with the widget in view, and the widget
        alone."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        widget.scroll_into_view_if_needed()
        widget.evaluate(  # wait until every picture in the widget is decoded and can be painted
            "el => Promise.all([el, ...el.querySelectorAll('img')].filter(i => i.tagName === 'IMG')"
            ".map(i => i.decode().catch(() => null)))"
        )
        self.page.wait_for_timeout(500)  # let the output area finish painting
        self.page.screenshot(path=str(path))  # the reader's view: JupyterLab with the widget in it
        # the whole widget: make the window tall enough to hold it (JupyterLab clips to its panel)
        size = self.page.viewport_size
        height = widget.bounding_box()["height"]
        self.page.set_viewport_size(
            {"width": size["width"], "height": int(min(5000, max(size["height"], height + 300)))}
        )
        widget.scroll_into_view_if_needed()
        self.page.wait_for_timeout(500)
        widget.screenshot(path=str(path.with_name(f"{name}_widget.png")))
        self.page.set_viewport_size(size)
        return path

    # --- operating controls as a reader does: keyboard and mouse ---

    def type_into(self, field: Any, text: str, enter: bool = False) -> None:
        """Click a text box, select what is in it, and type ``text`` key by key (Enter if asked)."""
        from playwright.sync_api import expect

        field.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.press("Delete")
        expect(field).to_have_value("")
        self.page.keyboard.type(text, delay=10)
        expect(field).to_have_value(text)
        if enter:
            self.page.keyboard.press("Enter")

    def press_keys(self, control: Any, key: str, times: int = 1) -> None:
        """Focus a control (a slider handle) and press ``key`` ``times`` times."""
        control.focus()
        for _ in range(times):
            self.page.keyboard.press(key)

    def drag_slider(self, slider: Any, fraction: float) -> None:
        """Drag an ipywidgets slider's handle with the mouse to ``fraction`` (0..1, may overshoot) of its
        track."""
        handle, track = slider.locator(".noUi-handle"), slider.locator(".noUi-base")
        grip, bar = handle.bounding_box(), track.bounding_box()
        y = grip["y"] + grip["height"] / 2
        self.page.mouse.move(grip["x"] + grip["width"] / 2, y)
        self.page.mouse.down()
        self.page.mouse.move(bar["x"] + fraction * bar["width"], y, steps=10)
        self.page.mouse.up()

    def kernel_eval(self, expression: str, setup: str = "", timeout_s: float = 300) -> Any:
        """Evaluate ``expression`` in this chapter's own kernel (after ``setup`` code); returns its value.

        The widgets' plain functions are called here with the chapter's own model and tokenizer and
        the values the controls show, to get what the widget must display. The value goes through JSON.
        """
        from jupyter_client import BlockingKernelClient

        sessions = [s for s in self.lab.api("GET", "/api/sessions") if s.get("path") == self.name]
        assert len(sessions) == 1, f"{self.name}: expected one kernel session, found {sessions}"
        client = BlockingKernelClient()
        client.load_connection_file(str(self.lab.runtime / f"kernel-{sessions[0]['kernel']['id']}.json"))
        client.start_channels()
        stdout: list[str] = []
        errors: list[str] = []

        def collect(message: dict) -> None:
            content = message["content"]
            if message["msg_type"] == "stream" and content["name"] == "stdout":
                stdout.append(content["text"])
            elif message["msg_type"] == "error":
                errors.append("\n".join(content["traceback"]))

        code = f"{setup}\nimport json as _gptbook_json\nprint(_gptbook_json.dumps({expression}))"
        try:
            reply = client.execute_interactive(
                code, store_history=False, timeout=timeout_s, output_hook=collect
            )
        finally:
            client.stop_channels()
        assert reply["content"]["status"] == "ok", (
            f"{self.name}: kernel could not evaluate {expression}: {errors}"
        )
        return json.loads("".join(stdout))

    def assert_no_page_errors(self) -> None:
        assert not self.errors, f"{self.name}: JavaScript errors on the page: {self.errors}"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def open_notebook(
    jupyterlab: JupyterLab, chromium: Any, request: pytest.FixtureRequest
) -> Iterator[Callable[..., Notebook]]:
    """Open a chapter (a file name under notebooks/, or one placed in the server's root) in a new page.

    After the test: a screenshot if it failed, then the page is closed and the chapter's kernel shut down.
    """
    opened: list[tuple[Notebook, Any]] = []

    def _open(name: str, block_urls: str | None = None) -> Notebook:
        if not (jupyterlab.root / name).is_file():
            raise FileNotFoundError(
                f"{name} is not in notebooks/ (the server serves copies of notebooks/*.ipynb)"
            )
        context = chromium.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(WAIT_S * 1000)
        notebook = Notebook(jupyterlab, name, page)
        page.on("pageerror", lambda error: notebook.errors.append(str(error)[:500]))
        if block_urls:  # only the harness's own test uses this, to break the widget manager on purpose
            page.route(block_urls, lambda route: route.abort())
        opened.append((notebook, context))
        notebook.open()
        return notebook

    yield _open
    failed = getattr(request.node, "report_call", None)
    for notebook, context in opened:
        if failed is not None and failed.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            try:
                notebook.page.screenshot(
                    path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True
                )
            except Exception:  # the page may be gone; the failure itself is already reported
                pass
        context.close()
        jupyterlab.shut_down_kernels(notebook.name)
