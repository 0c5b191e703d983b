"""The tiny run's Snakemake report in a real browser (its figures from small tables are
tests/analysis/test_plots.py).

The browser test opens report.html in Debian's headless Chromium and drives it through the
DevTools protocol over a pipe (--remote-debugging-pipe; standard library only, no port): it
fails on any JavaScript exception or console error, opens each category, shows Table 1 and
Table 2 (rendered inside the report's iframe) and every figure (decoded by the browser).
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import run_snakemake
from novel_run import NOVEL, TARGET, finished_novel_run
from tasktransfer.affinity.selection import METHODS

CATEGORIES = ["1. Data", "2. Prompt pool", "3. Transfer", "4. Scorer", "5. Evaluation"]
FIGURES = {
    "2. Prompt pool": ["task embeddings (PCA)"],
    "3. Transfer": ["gain heatmap", "gains per target by source type"],
    "4. Scorer": ["scorer: predicted vs true gain"],
    "5. Evaluation": ["source choice against seed noise, per target", "mean gain by method"],
}
# the evaluation opens with the headline sentence, the signal verdict, then the methods against brute force
# (the comparison with cosine_mean sits with the headline: a subcategory of one item as TSV and
# table would show the type as a toggle, not as a row)
HEADLINE, SIGNAL, METHODS_VS_BRUTE = "0. Headline", "0. Signal", "1. Methods against brute force"
SUBCATEGORIES = {("5. Evaluation", "do the learned methods beat cosine_mean?"): HEADLINE,
                 ("5. Evaluation", "every method against cosine_mean"): HEADLINE} | {
    ("5. Evaluation", item): SIGNAL for item in [
    "does the source matter more than seed noise?", "source choice against seed noise, per target"]} | {
    ("5. Evaluation", item): METHODS_VS_BRUTE for item in [
    "Table 1: target score by method", "Table 2: ranking quality",
    "novel targets: scorer ranking and top-k transfer", "mean gain by method"]}


# --- a minimal DevTools-protocol client over a pipe ---------------------------------------------
def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Browser:
    """Headless Chromium driven through --remote-debugging-pipe (fd 3: commands in, fd 4: replies out)."""

    def __init__(self, exe: str, width: int = 1400, height: int = 1000):
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        cmd_r, self.cmd_w = os.pipe()
        self.res_r, res_w = os.pipe()

        def child_fds():  # runs in the child before exec: put the pipe ends on fds 3 and 4
            import fcntl

            a, b = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10), fcntl.fcntl(res_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "--remote-debugging-pipe",
                "about:blank"]
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(args, preexec_fn=child_fds, close_fds=False, stdout=subprocess.DEVNULL, stderr=self.stderr)
        os.close(cmd_r)
        os.close(res_w)
        self.buf, self.next_id, self.events, self.session = b"", 0, [], None

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("chromium sent nothing in time")
            ready, _, _ = select.select([self.res_r], [], [], left)
            if ready:
                chunk = os.read(self.res_r, 1 << 20)
                if not chunk:
                    self.stderr.seek(0)
                    raise RuntimeError(f"chromium closed the pipe: {self.stderr.read()[-2000:]!r}")
                self.buf += chunk
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)

    def send(self, method: str, params: dict | None = None, timeout: float = 30, session: bool = True) -> dict:
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def open(self, url: str) -> None:
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        self.session = self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, session=False)["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.send(f"{domain}.enable")
        self.send("Page.navigate", {"url": url})

    def evaluate(self, expression: str, context: int | None = None):
        params = {"expression": expression, "returnByValue": True}
        if context is not None:
            params["contextId"] = context
        result = self.send("Runtime.evaluate", params)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20, context: int | None = None):
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression, context)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for: {expression}")
            time.sleep(0.2)

    def frame_context(self, title: str) -> int:
        """An execution context inside the child frame (the report's iframe) whose page has this <h1>."""
        deadline, seen = time.monotonic() + 20, []
        while time.monotonic() < deadline:
            tree = self.send("Page.getFrameTree")["frameTree"]
            for child in tree.get("childFrames", []):
                world = self.send("Page.createIsolatedWorld", {"frameId": child["frame"]["id"], "worldName": "check"})
                context = world["executionContextId"]
                heading = self.evaluate("document.querySelector('h1') && document.querySelector('h1').textContent", context)
                if heading == title:
                    return context
                seen.append(heading)
            time.sleep(0.2)
        raise AssertionError(f"no frame shows '{title}' (saw {sorted(set(map(str, seen)))})")

    def errors(self) -> list[str]:
        found = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(json.dumps(params["exceptionDetails"])[:500])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(" ".join(str(a.get("value", a.get("description"))) for a in params.get("args", [])))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"{params['entry'].get('text')} ({params['entry'].get('url', '')})")
        return found

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"})["data"]))

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5, session=False)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.cmd_w)
        os.close(self.res_r)
        self.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)


CLICK_LINK = """(text => { const a = Array.from(document.querySelectorAll('a')).find(e => e.textContent.trim() === text);
  if (!a) return false; a.click(); return true; })"""
# the eye button of the result row whose cells read `item` and `type`
CLICK_RESULT = """((item, type) => { const row = Array.from(document.querySelectorAll('tr')).find(r => {
    const cells = Array.from(r.cells).map(c => c.textContent.trim()); return cells.includes(item) && cells.includes(type); });
  if (!row) return false; const eye = row.querySelector('a[iconname=eye]'); if (!eye) return false; eye.click(); return true; })"""


def _show(browser: Browser, category: str, item: str, kind: str) -> None:
    """Open a category from the list of results (the breadcrumb's "Results"), its subcategory where it
    has them, then show one item."""
    if not browser.evaluate(f"{CLICK_LINK}({json.dumps(category)})"):
        assert browser.wait_for(f"{CLICK_LINK}('Results')"), "no way back to the list of results"
        assert browser.wait_for(f"{CLICK_LINK}({json.dumps(category)})"), f"no category {category} in the report"
    subcategory = SUBCATEGORIES.get((category, item))
    if subcategory:
        assert browser.wait_for(f"{CLICK_LINK}({json.dumps(subcategory)})"), f"no subcategory {subcategory} in {category}"
    assert browser.wait_for(f"{CLICK_RESULT}({json.dumps(item)}, {json.dumps(kind)})"), f"no {kind} '{item}' in {category}"


def _table_in_frame(browser: Browser, title: str) -> dict:
    context = browser.frame_context(title)
    return browser.wait_for(
        """(() => { const t = document.querySelector('table.results'); if (!t) return null;
           return {head: Array.from(t.tHead.rows[0].cells).map(c => c.textContent),
                   rows: Array.from(t.tBodies[0].rows).map(r => Array.from(r.cells).map(c => c.textContent)),
                   height: t.getBoundingClientRect().height}; })()""",
        context=context,
    )


@pytest.mark.slow
def test_report_renders_tables_and_figures_in_chromium(tmp_path_factory, request):
    exe = chromium_binary()
    if exe is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    workdir = finished_novel_run(request)
    report = workdir / "report.html"
    run_snakemake(workdir, "--configfile", str(workdir / "config.yaml"), "--report", str(report))
    assert report.stat().st_size > 10_000

    shots = Path(os.environ.get("TASKTRANSFER_REPORT_SHOTS", tmp_path_factory.mktemp("shots")))
    shots.mkdir(parents=True, exist_ok=True)
    browser = Browser(exe)
    try:
        browser.open(report.resolve().as_uri())
        browser.wait_for("document.querySelectorAll('nav a').length > 3")
        names = browser.evaluate("Array.from(document.querySelectorAll('nav a')).map(a => a.textContent.trim())")
        assert all(c in names for c in CATEGORIES), names

        assert browser.evaluate(f"{CLICK_LINK}('5. Evaluation')")
        subcategories = browser.wait_for(
            f"(() => {{ const n = Array.from(document.querySelectorAll('nav a')).map(a => a.textContent.trim());"
            f" return n.includes({json.dumps(SIGNAL)}) ? n : null; }})()")
        assert subcategories.index(HEADLINE) < subcategories.index(SIGNAL) < subcategories.index(METHODS_VS_BRUTE), subcategories
        _show(browser, "5. Evaluation", "do the learned methods beat cosine_mean?", "table")
        context = browser.frame_context("Do the learned methods beat cosine_mean?")
        sentence = browser.wait_for("(() => { const p = document.querySelector('p'); return p && p.textContent; })()", context=context)
        assert "cosine_mean on Spearman" in sentence and "scorer" in sentence, sentence
        _show(browser, "5. Evaluation", "every method against cosine_mean", "table")
        versus = _table_in_frame(browser, "Every method against cosine_mean")
        assert versus["head"] == ["method", "metric", "role", "diff", "low", "high", "targets", "p_value", "p_holm",
                                  "beats_baseline"], versus
        assert {row[0] for row in versus["rows"]} >= {"scorer", "random"}, versus
        _show(browser, "5. Evaluation", "does the source matter more than seed noise?", "table")
        signal = _table_in_frame(browser, "Does the source matter more than seed noise?")
        assert signal["head"][:2] == ["target", "sources"] and {row[0] for row in signal["rows"]} >= {TARGET}, signal

        _show(browser, "5. Evaluation", "Table 1: target score by method", "table")
        table1 = _table_in_frame(browser, "Table 1: target score by method")
        assert table1["height"] > 100
        assert table1["head"] == ["method", TARGET, "mean_gain"]
        methods = [row[0] for row in table1["rows"]]
        assert methods[0] == "no_transfer" and methods[-1] == "brute_force"
        # the methods this run ranked with (its config's list, leave-one-target-out variants included)
        ran = sorted(p.name for p in (workdir / "results" / "rankings").iterdir() if p.is_dir())
        assert set(ran) <= set(METHODS) and {"scorer", "brute_force", "random"} <= set(ran), ran
        for method in [m for m in ran if m != "brute_force"] + ["random_expected"]:
            assert f"{method} (top-1)" in methods and f"{method} (top-2)" in methods, (method, methods)
        browser.screenshot(shots / "table1.png")

        _show(browser, "5. Evaluation", "Table 2: ranking quality", "table")
        table2 = _table_in_frame(browser, "Table 2: ranking quality")
        assert table2["head"] == ["method", "spearman", "pearson", "ndcg", "regret@1", "regret@2"]
        assert {row[0] for row in table2["rows"]} - {"brute_force_xfit"} == {*ran, "random_expected"}
        brute = next(row for row in table2["rows"] if row[0] == "brute_force")
        assert brute[4] == "0.000"  # brute force never regrets

        _show(browser, "5. Evaluation", "novel targets: scorer ranking and top-k transfer", "table")
        novel = _table_in_frame(browser, "Novel targets: the pool ranked by the scorer")
        assert {row[0] for row in novel["rows"]} == {NOVEL}

        for category, figures in FIGURES.items():
            for figure in figures:
                _show(browser, category, figure, "figure")
                size = browser.wait_for("(() => { const i = document.querySelector('#app img[src^=\"data:image/png\"]');"
                                        " return i && i.complete && i.naturalWidth > 0 ? [i.naturalWidth, i.naturalHeight] : null; })()")
                assert size[0] > 200 and size[1] > 200, (figure, size)
                browser.screenshot(shots / f"{figure.split(':')[0].replace(' ', '_')}.png")
        time.sleep(0.5)
        browser.send("Runtime.evaluate", {"expression": "1"})  # collect late events
        assert browser.errors() == []
    finally:
        browser.close()
