"""`aimcsim report`: one self-contained HTML page per results folder, checked as text and in a
real headless browser (Debian's Chromium; required where CI is set, skipped elsewhere when
it is not installed)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from aimcsim.cli import main
from aimcsim.outputs.report import report

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")


def _load(page, tmp_path) -> str:
    """The page's DOM after its load event, as headless Chromium has it."""
    if BROWSER is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs Chromium for the report test (apt-get install chromium)")
        pytest.skip("Chromium is not installed")
    done = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


@pytest.mark.parametrize(("source", "figures", "tables"), [
    ("run", 5, 2), ("search", 2, 2), ("sweep", 2, 1)])
def test_the_report_renders_every_figure_and_table_in_a_browser(results, tmp_path, source,
                                                                 figures, tables):
    page = report(results / source, tmp_path / f"{source}.html")
    text = page.read_text()
    # self-contained: nothing is fetched (no remote or local file reference)
    assert not re.search(r'(src|href)="(?!data:)', text)
    assert "<link" not in text and "<script src" not in text
    dom = _load(page, tmp_path)
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert f'data-figures="{figures}"' in body
    assert f'data-figures-loaded="{figures}"' in body  # every image decoded
    assert dom.count("<table>") == tables
    assert "Reproduce" in dom and "aimcsim " in dom


def test_the_run_report_says_what_it_ran(results, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(results / "run"), "--out", str(out)]) == 0
    assert "opens offline" in capsys.readouterr().out
    text = out.read_text()
    assert "aimcsim run " in text and "--mode both" in text
    assert text.count("<tr>") >= 1 + 2  # the headline: a row per mode
    assert "aimc-only" in text and "hybrid" in text and "Whole network:" in text
    assert main(["report", str(tmp_path), "--out", str(out)]) == 2
    assert "holds no results" in capsys.readouterr().err


def test_the_search_report_reproduces_its_command(results):
    text = report(results / "search").read_text()
    assert "--space" in text and "Best settings" in text
