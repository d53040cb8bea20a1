"""report.html as a reader sees it: opened from disk in headless Chromium, offline.

The page is loaded with Chromium's ``--dump-dom`` (the DOM after the page's script ran)
and ``--screenshot``; its console goes to stderr (``--enable-logging=stderr``), where any
script error or Content-Security-Policy violation shows up as a ``CONSOLE`` line. The
filters are driven through the address (``report.html#flip=forgotten``), which the page
honours so that a view can be linked. Without a chromium binary these tests skip with the
reason; the pure-Python checks of the page (escaping, policy, the wheel) always run.

Run as a script to make the README's screenshot from a real report:
``python -m tests.test_html_report REPORT_JSON docs/report-html.png``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from forgetcheck.comparison import ItemResult
from forgetcheck.report.files import read_report, write_report_folder
from forgetcheck.report.html import page_data, render_html
from tests.conftest import make_comparison, run

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
                 if shutil.which(name)), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium binary on PATH; install it with `apt-get install -y chromium fonts-dejavu-core`")

ATTACKS = ["<img src=x onerror=alert(1)>", "</script><script>document.title='pwned'</script>",
           "<!--<script>", "a\u2028b\u2029c", "{{data}}"]


# --- Driving Chromium ---------------------------------------------------------------------------------------

def chromium(page: Path, *flags: str, address: str = "", timeout: int = 180) -> tuple[str, list[str]]:
    """Open ``page`` (plus ``address``, e.g. ``#flip=forgotten``) headless; return stdout and the console lines."""
    with tempfile.TemporaryDirectory(prefix="forgetcheck-chromium-") as profile:
        # --no-sandbox: Chromium's sandbox refuses to start as root, as in CI containers; the page
        # is a local file whose policy already forbids loading anything.
        done = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000",
             *flags, page.resolve().as_uri() + address],
            capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, re.findall(r":CONSOLE[^\]]*\] (.*)", done.stderr)


def dump_dom(page: Path, address: str = "") -> str:
    """The page's DOM once its script has run; fails the test on any console message."""
    dom, console = chromium(page, "--dump-dom", address=address)
    assert console == [], console
    return dom


def rows(dom: str) -> list[str]:
    """The flip of each item row drawn, in order."""
    return re.findall(r'<article class="item flip-(\w+)"', dom)


def screenshot(page: Path, out: Path, width: int = 1280, height: int = 1800, address: str = "") -> None:
    _, console = chromium(page, "--hide-scrollbars", f"--window-size={width},{height}", f"--screenshot={out}",
                          address=address)
    assert console == [], console


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


class DevTools:
    """Chromium driven over its DevTools protocol on a pipe (``--remote-debugging-pipe``): no extra package.

    Chromium reads commands on fd 3 and writes replies and events on fd 4, each a JSON
    message ended by a NUL byte. ``evaluate`` runs an expression in the page;
    ``console`` collects every console message, uncaught exception and policy violation.
    """

    def __init__(self, profile: str):
        self._to_chromium, self._from_chromium = os.pipe(), os.pipe()
        command_read, reply_write = self._to_chromium[0], self._from_chromium[1]

        def wire_fds_3_and_4():  # in the child, before exec
            read, write = os.dup(command_read), os.dup(reply_write)
            os.dup2(read, 3)
            os.dup2(write, 4)

        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             f"--user-data-dir={profile}", "--remote-debugging-pipe", "--window-size=1280,900"],
            preexec_fn=wire_fds_3_and_4, close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(command_read)
        os.close(reply_write)
        self._replies: dict[int, dict] = {}
        self._buffer = b""
        self._next_id = 0
        self.console: list[str] = []
        self.session = None
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Performance"):
            self.send(f"{domain}.enable")

    def send(self, method: str, **params) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._to_chromium[1], json.dumps(message).encode() + b"\0")
        while self._next_id not in self._replies:
            self._read()
        reply = self._replies.pop(self._next_id)
        assert "error" not in reply, (method, reply["error"])
        return reply["result"]

    def _read(self) -> None:
        ready, _, _ = select.select([self._from_chromium[0]], [], [], 60)
        assert ready, "Chromium did not answer within 60 s"
        chunk = os.read(self._from_chromium[0], 1 << 20)
        assert chunk, "Chromium closed the pipe"
        self._buffer += chunk
        *messages, self._buffer = self._buffer.split(b"\0")
        for raw in messages:
            message = json.loads(raw)
            if "id" in message:
                self._replies[message["id"]] = message
            elif message["method"] == "Runtime.consoleAPICalled":
                self.console.append(" ".join(str(a.get("value", a.get("description"))) for a in message["params"]["args"]))
            elif message["method"] == "Runtime.exceptionThrown":
                self.console.append(message["params"]["exceptionDetails"]["exception"]["description"])
            elif message["method"] == "Log.entryAdded":
                self.console.append(message["params"]["entry"]["text"])

    def open(self, page: Path) -> None:
        self.send("Page.navigate", url=page.resolve().as_uri())
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, expression: str, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while not self.evaluate(expression):
            assert time.monotonic() < deadline, f"still not true after {seconds} s: {expression}"
            time.sleep(0.05)

    def layouts(self) -> int:
        """How many times the page has been laid out so far."""
        return next(m["value"] for m in self.send("Performance.getMetrics")["metrics"] if m["name"] == "LayoutCount")

    def close(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_chromium[1])
        os.close(self._from_chromium[0])


@pytest.fixture
def browser(tmp_path):
    devtools = DevTools(str(tmp_path / "profile"))
    yield devtools
    devtools.close()


# --- Reports to open ----------------------------------------------------------------------------------------

def hostile_comparison():
    """make_comparison with attacks in every text a model, a dataset or a report.json can supply."""
    comparison = make_comparison()
    attack = " ".join(ATTACKS)
    items = [replace(item, prompt=attack, base_answer=attack, candidate_answer=attack, expected=attack,
                     subcategory=attack, item_id=f"{item.item_id} {attack}") for item in comparison.items]
    capabilities = [replace(comparison.capabilities[0], name=attack), *comparison.capabilities[1:]]
    items = [replace(item, capability=attack) if item.capability == comparison.capabilities[0].name else item
             for item in items]
    return replace(comparison, items=items, capabilities=capabilities,
                   base=replace(comparison.base, spec=attack), warnings=[attack])


def many_items(count: int):
    """make_comparison with ``count`` arithmetic items, one in ten forgotten."""
    comparison = make_comparison()
    items = [ItemResult("arithmetic", f"arith-{i:05d}", 1.0, 0.0 if i % 10 == 0 else 1.0,
                        "forgotten" if i % 10 == 0 else "same", prompt=f"What is {i} + {i}? Answer with the number.",
                        expected=str(2 * i), base_answer=str(2 * i),
                        candidate_answer=str(2 * i + 1) if i % 10 == 0 else str(2 * i),
                        subcategory="multiply" if i % 4 == 0 else "add")
             for i in range(count)]
    return replace(comparison, items=[*items, *comparison.items[3:]])


# --- The page itself, no browser needed ---------------------------------------------------------------------

def test_hostile_text_cannot_end_the_data_block_or_become_markup():
    page = render_html(hostile_comparison(), chart=None)
    # One JSON block and one script, each ended once: no attack closed either early.
    assert page.count("</script") == 2 and page.count("<script") == 2
    assert "<img" not in page and "<!--" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the capability name in the summary, escaped
    block = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S).group(1)
    assert json.loads(block) == json.loads(json.dumps(page_data(hostile_comparison())))
    assert "{{data}}" in json.loads(block)["items"][0][2]  # a placeholder-shaped answer is never filled in


def test_policy_allows_only_the_pages_own_script_and_style():
    page = render_html(make_comparison(), chart=b"\x89PNG fake")
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    script = re.search(r"<script>(.*?)</script>", page, re.S).group(1)
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    digest = lambda text: base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()  # noqa: E731
    assert policy == (f"default-src 'none'; script-src 'sha256-{digest(script)}'; style-src 'sha256-{digest(style)}'; "
                      "img-src data:; base-uri 'none'; form-action 'none'")
    assert not re.search(r"(src|href)=\"(?!data:|#)", page)  # nothing loaded from anywhere
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "eval(" not in script


def test_report_folder_writes_the_page_with_the_chart_inside(tmp_path):
    paths = write_report_folder(make_comparison(), tmp_path)
    page = paths["html"].read_text(encoding="utf-8")
    chart = base64.b64encode(paths["chart"].read_bytes()).decode()
    assert paths["html"] == tmp_path / "report.html"
    assert f'src="data:image/png;base64,{chart}"' in page


def test_the_wheel_ships_the_page_template(tmp_path):
    """A wheel built from the tree holds page.html, so an installed forgetcheck can write the page."""
    source = tmp_path / "source"
    for name in ("forgetcheck", "probes"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "wheel"), str(source)], check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "wheel").glob("forgetcheck-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("forgetcheck/report/page.html").decode()
    assert shipped == (ROOT / "forgetcheck" / "report" / "page.html").read_text(encoding="utf-8")


# --- In the browser -----------------------------------------------------------------------------------------

@needs_chromium
def test_a_real_comparison_opens_and_filters_by_flip_and_capability(tiny_base, forgetful_adapter, tiny_suite,
                                                                      tmp_path):
    out = tmp_path / "report"
    result = run("compare", tiny_base, forgetful_adapter, "--suite", tiny_suite, "--out", out, "--quiet")
    assert result.exit_code == 1, result.output
    assert f"page: {out / 'report.html'}" in result.output
    report = json.loads((out / "report.json").read_text())
    items = report["items"]
    page = out / "report.html"

    everything = dump_dom(page)
    assert len(rows(everything)) == min(len(items), 200)
    assert f'data-matching="{len(items)}"' in everything

    forgotten = [item for item in items if item["flip"] == "forgotten"]
    assert 0 < len(forgotten) < len(items)
    shown = rows(dump_dom(page, "#flip=forgotten"))
    assert shown == ["forgotten"] * min(len(forgotten), 200)

    recall = [item for item in forgotten if item["capability"] == "recall"]
    dom = dump_dom(page, "#capability=recall&flip=forgotten")
    assert len(rows(dom)) == min(len(recall), 200)
    # Each row shows the expected answer and both models' answers, side by side.
    first = recall[0]
    card = dom[dom.index(f"<code>{first['item_id']}</code>"):]
    card = card[:card.index("</article>")]
    assert re.findall(r"<h3>(\w+)</h3>", card) == ["Expected", "Base", "Candidate"]
    assert all(f">{text}</pre>" in card for text in (first["expected"], first["base_answer"], first["candidate_answer"]))

    # Search finds text in ids, prompts and answers, ignoring case.
    query = first["item_id"].upper()
    found = [item for item in items if any(query.lower() in (item[key] or "").lower()
                                           for key in ("item_id", "prompt", "expected", "base_answer", "candidate_answer"))]
    dom = dump_dom(page, f"#q={query}")
    assert 0 < len(rows(dom)) == len(found)
    assert f"<code>{first['item_id']}</code>" in dom

    # `forgetcheck report --format html` prints the page again, re-judged with other thresholds.
    facts = '<a href="#capability=facts">facts</a></td><td><span class="verdict verdict-{}">'
    assert facts.format("regressed") in everything
    again = run("report", out / "report.json", "--format", "html", "--tolerance", "0.99", "--fail-on", "never")
    rejudged = tmp_path / "rejudged.html"
    rejudged.write_text(again.output, encoding="utf-8")
    dom = dump_dom(rejudged, "#flip=forgotten")
    assert facts.format("held") in dom and len(rows(dom)) == len(shown)


@needs_chromium
def test_hostile_text_is_shown_as_text_and_runs_nothing(tmp_path):
    write_report_folder(hostile_comparison(), tmp_path)
    dom = dump_dom(tmp_path / "report.html")  # no console line: nothing ran, nothing was blocked
    assert len(rows(dom)) == len(hostile_comparison().items)
    assert re.search(r"<title>(.*?)</title>", dom, re.S).group(1).startswith("forgetcheck: 1 capability regressed (")
    assert len(re.findall(r"<img", dom)) == 1  # the chart; no image came out of the text
    assert dom.count("<script") == 2
    assert "&lt;img src=x onerror=alert(1)&gt;" in dom and "&lt;/script&gt;&lt;script&gt;" in dom
    assert "a\u2028b\u2029c" in dom


@needs_chromium
def test_an_empty_report_opens_cleanly(tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(replace(make_comparison(), capabilities=[], items=[], verdict="inconclusive")),
                    encoding="utf-8")
    dom = dump_dom(page, "#flip=forgotten&capability=nothing-by-that-name")
    assert "No capabilities were compared." in dom and rows(dom) == []
    assert "Showing 0 of 0 matching items (0 in all)" in dom


@needs_chromium
def test_twenty_thousand_items_open_with_the_first_page_drawn(tmp_path):
    comparison = many_items(20_000)
    write_report_folder(comparison, tmp_path)
    start = time.monotonic()
    dom = dump_dom(tmp_path / "report.html", "#flip=forgotten&subcategory=multiply")
    seconds = time.monotonic() - start
    assert len(rows(dom)) == 200
    assert 'data-matching="1000"' in dom  # items 0, 20, 40 ...: forgotten (i % 10) and multiply (i % 4)
    assert "Showing 200 of 1,000 matching items (20,002 in all)" in dom
    assert "Show 200 more" in dom
    assert seconds < 60, f"{seconds:.1f} s to open 20,000 items"


@needs_chromium
def test_screenshot_shows_the_styled_page(tmp_path):
    import numpy as np
    from matplotlib.image import imread

    write_report_folder(make_comparison(), tmp_path)
    shot = tmp_path / "shot.png"
    screenshot(tmp_path / "report.html", shot, 1280, 900)
    assert png_size(shot) == (1280, 900)
    assert shot.stat().st_size > 20_000
    pixels = (imread(shot)[..., :3] * 255).round().astype(int)
    # The headline and the REGRESSED badge are the verdict's red (#c62828): the style ran.
    assert (np.abs(pixels - [0xC6, 0x28, 0x28]).sum(axis=-1) < 12).sum() > 500
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50


@needs_chromium
def test_show_more_search_and_filters_work_when_clicked_at_twenty_thousand_items(tmp_path, browser):
    write_report_folder(many_items(20_000), tmp_path)
    browser.open(tmp_path / "report.html")
    count = "document.querySelectorAll('#items > article').length"
    assert browser.evaluate(count) == 200
    assert browser.evaluate("document.getElementById('more').hidden") is False

    # "Show more" appends the next 200 rows in one go: the page is laid out a few times, not once per row.
    before = browser.layouts()
    browser.evaluate("document.getElementById('more').click(); document.body.offsetHeight")
    assert browser.evaluate(count) == 400
    assert browser.layouts() - before <= 3

    # Choosing a flip redraws from the first page, and writes the view into the address.
    browser.evaluate("const f = document.getElementById('flip'); f.value = 'forgotten';"
                     "f.dispatchEvent(new Event('change'))")
    assert browser.evaluate(count) == 200
    assert browser.evaluate("document.getElementById('count').dataset.matching") == "2000"
    assert browser.evaluate("location.hash") == "#flip=forgotten"

    # Typing in the search box filters once the typing pauses; matching ignores case.
    start = time.monotonic()
    browser.evaluate("const s = document.getElementById('search'); s.value = 'ARITH-01230';"
                     "s.dispatchEvent(new Event('input'))")
    browser.wait_for("document.getElementById('count').dataset.matching === '1'")
    assert time.monotonic() - start < 10
    assert browser.evaluate("document.querySelector('#items code').textContent") == "arith-01230"
    assert browser.evaluate("location.hash") == "#flip=forgotten&q=ARITH-01230"
    assert browser.evaluate("document.getElementById('more').hidden") is True

    # A capability link in the summary table is a filter too.
    browser.evaluate("document.getElementById('search').value = '';"
                     "document.querySelector('table.summary a[href=\"#capability=wiki-ppl\"]').click()")
    browser.wait_for("document.getElementById('count').dataset.matching === '1'")
    assert browser.evaluate("document.getElementById('capability').value") == "wiki-ppl"
    assert browser.evaluate("document.querySelector('#items .flip').textContent") == "scored"
    assert browser.console == []


def make_readme_screenshot(report_json: str, out: str) -> None:
    """The README's picture: a real report's page, filtered to what was forgotten."""
    with tempfile.TemporaryDirectory() as folder:
        write_report_folder(read_report(report_json), folder)
        screenshot(Path(folder) / "report.html", Path(out), 1280, 1500, address="#flip=forgotten")


if __name__ == "__main__":
    make_readme_screenshot(*sys.argv[1:3])
