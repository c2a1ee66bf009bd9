"""`aimcsim report`: one self-contained HTML page per results folder, checked as text and in a
real headless browser (Debian's Chromium; required where CI is set, skipped elsewhere when
it is not installed)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess

import pandas as pd
import pytest
import yaml
from conftest import ROOT

from aimcsim.cli import main
from aimcsim.outputs.console import formatted, percent, quantity
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


def _tables(text: str) -> str:
    """The text of a page's tables and paragraphs (no figures, inputs or commands), a line
    per row, cells split by '|'."""
    text = re.sub(r"<figure>.*?</figure>|<details>.*?</details>|<pre>.*?</pre>|"
                  r"<script>.*?</script>|<style>.*?</style>", "", text, flags=re.S)
    text = re.sub(r"</t[dh]>", "|", text)
    return html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"</tr>|</p>", "\n", text)))


def _raw_floats(text: str) -> list[str]:
    return [n for n in re.findall(r"\d[\d,]*\.\d+", text)
            if len(n.replace(",", "").replace(".", "").lstrip("0")) > 4]


@pytest.mark.parametrize("source", ["run", "search", "sweep"])
def test_every_report_table_shows_formatted_figures_in_a_box_that_scrolls(results, source):
    text = report(results / source).read_text()
    shown = _tables(text)
    assert _raw_floats(shown) == []
    assert re.search(r"\d (ns|µs|ms|s)\|", shown) and re.search(r"\d(\.\d+)?%\|", shown)
    # each table sits in a box that scrolls sideways rather than widening the page
    assert text.count("<table>") == text.count('<div class="table"><table>') > 0
    assert ".table { overflow-x: auto;" in text


def test_the_run_report_headline_has_throughput_utilisation_edp_and_area(results):
    shown = _tables(report(results / "run").read_text())
    summary = json.loads((results / "run" / "summary.json").read_text())
    rows = {line.split("|")[0]: line.split("|")[1:-1] for line in shown.splitlines()
            if "|" in line}
    modes = summary["modes"]
    assert rows["figure"] == list(modes)
    assert rows["throughput"] == [formatted(s["throughput_tokens_per_s"], "tokens/s")
                                  for s in modes.values()]
    assert rows["tile utilisation"] == [percent(s["utilisation"]["aimc"]) for s in
                                        modes.values()]
    assert rows["cluster utilisation"] == [percent(s["utilisation"]["pmca"]) for s in
                                           modes.values()]
    assert rows["energy-delay product"] == [quantity(s["energy"]["edp_pj_s"], "pJ*s")
                                            for s in modes.values()]
    assert rows["area of what the run uses"] == [quantity(s["area"]["total_mm2"], "mm^2")
                                                 for s in modes.values()]
    assert rows["TCDM peak"] == [quantity(s["tcdm_peak_bytes"], "B") for s in modes.values()]


def test_the_sweep_report_labels_points_by_their_axis_values(results):
    shown = _tables(report(results / "sweep").read_text())
    points = pd.read_parquet(results / "sweep" / "points.parquet")
    lines = shown.splitlines()
    for _, p in points.iterrows():
        label = (f"aimc.integration_time_ns={p['aimc.integration_time_ns']:g}, "
                 f"pipeline.parallel_tokens={p['pipeline.parallel_tokens']:g}")
        row = next(line for line in lines if line.startswith(label + "|"))
        assert row.endswith(f"|{p['point']}|")  # the id last, a secondary column
        assert shown.count(p["point"]) == 1


def test_the_sweep_report_lists_the_points_skipped_and_failed_with_their_reasons(
        results, tmp_path, capsys):
    trace = results / "tiny.yaml"
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "version": 1, "arch": str(ROOT / "arch" / "hybrid.yaml"), "workloads": [str(trace)],
        "modes": ["aimc-only", "hybrid"],
        "axes": {"pmca.tcdm_bytes": [8192, 131072], "pipeline.parallel_tokens": [4, 8]}}))
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    skipped = manifest["invalid"]
    assert len(skipped) == 2
    # a point that failed as it ran, as the sweep records one
    points = pd.read_parquet(tmp_path / "out" / "points.parquet")
    points.loc[0, ["status", "error"]] = ["failed", "the cluster caught fire"]
    points.to_parquet(tmp_path / "out" / "points.parquet")
    shown = _tables(report(tmp_path / "out").read_text())
    assert "Points not run (2) and failed (1)" in shown
    lines = shown.splitlines()
    for entry in skipped:
        label = ", ".join(f"{k}={v}" for k, v in entry["params"].items())
        assert f"{label}|{entry['index']}|skipped|{entry['reason']}|" in lines
    failed = points.iloc[0]
    label = ", ".join(f"{a}={failed[a]}" for a in points.columns if "." in a)
    assert f"{label}|{failed['index']}|failed|the cluster caught fire|" in lines
