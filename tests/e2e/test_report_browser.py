"""The HTML report in a real headless browser (Debian's chromium, installed by tests/setup/install_chromium.sh):
every plot loads, nothing is logged to the console, and a screenshot is kept in test-artifacts/."""
from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.report.sweep import tiny_report

INSTALL = REPO / "tests" / "setup" / "install_chromium.sh"
ARTIFACTS = REPO / "test-artifacts"
# Headless and hermetic: no network, no sync, no first-run UI, a private profile per call.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]
# Injected into a copy of the report: records load and script errors (capture phase sees <img> failures too),
# then writes what it found into the DOM for --dump-dom to carry out.
PROBE = """<script>
window.__probe_errors = [];
window.addEventListener("error", function (e) {
  var t = e.target || {};
  window.__probe_errors.push(e.message || ("failed to load " + String(t.src || t.href || t.tagName).slice(0, 80)));
}, true);
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var out = {images: imgs.length,
             loaded: imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length,
             sizes: imgs.map(function (i) { return [i.naturalWidth, i.naturalHeight]; }),
             rows: document.querySelectorAll("tbody tr").length, title: document.title,
             errors: window.__probe_errors};
  var pre = document.createElement("pre"); pre.id = "sgen-probe"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


@pytest.fixture(scope="module")
def chromium() -> str:
    proc = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, timeout=1200)
    if proc.returncode == 3 and not os.environ.get("CI"):
        pytest.skip(f"no apt-get here to install Debian's chromium: {proc.stderr.strip()}")
    assert proc.returncode == 0, f"installing chromium failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    return tiny_report(tmp_path_factory)[1] / "report.html"


def browse(chromium: str, page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [chromium, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *extra,
           page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc


def probe(chromium: str, report: Path, tmp_path: Path) -> dict:
    page = tmp_path / f"probe-{report.name}"
    page.write_text(report.read_text().replace("<head>", "<head>" + PROBE, 1))
    dom = browse(chromium, page, tmp_path / "profile-probe", "--dump-dom", "--virtual-time-budget=10000").stdout
    found = re.search(r'<pre id="sgen-probe">(.*?)</pre>', dom, re.S)
    assert found, f"the probe did not report; DOM tail:\n{dom[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def console_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_report_plots_load_without_errors(chromium, report, tmp_path):
    result = probe(chromium, report, tmp_path)
    assert result["images"] == 4 and result["loaded"] == 4, result
    assert all(w >= 400 and h >= 300 for w, h in result["sizes"]), result["sizes"]
    assert result["errors"] == [], result["errors"]
    assert result["title"].startswith("sgen sweep report")
    assert result["rows"] >= 9  # every job, plus the recommendation rows


def test_the_probe_catches_a_broken_plot(chromium, report, tmp_path):
    # The check above is only worth something if it fails on a bad page: break one embedded PNG.
    broken = tmp_path / "broken.html"
    broken.write_text(re.sub(r"base64,[A-Za-z0-9+/=]{200}", "base64,AAAA", report.read_text(), count=1))
    result = probe(chromium, broken, tmp_path)
    assert result["images"] == 4 and result["loaded"] == 3 and result["errors"], result


def test_screenshot_and_quiet_console(chromium, report, tmp_path):
    shot = tmp_path / "report.png"
    proc = browse(chromium, report, tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,2600",
                  "--virtual-time-budget=10000")
    assert console_lines(proc.stderr) == []
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a rendered page, not a blank one
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "report_screenshot.png")
    shutil.copy(report, ARTIFACTS / "report.html")
