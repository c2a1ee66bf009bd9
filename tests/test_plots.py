"""Figures render headless with the expected axes and artists; traces follow the event format."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer
from matplotlib.patches import Rectangle

from aimcsim import plots
from aimcsim.cli import main
from aimcsim.trace_export import chrome_trace
from aimcsim.traces import MOBILEBERT_UNCASED, mobilebert_trace

MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF", ".svg": b"<?xml"}


@pytest.fixture(scope="module")
def results(tmp_path_factory, root):
    """run, search and sweep folders from a one-layer MobileBERT at 32 tokens."""
    tmp = tmp_path_factory.mktemp("results")
    trace = tmp / "tiny.yaml"
    trace.write_text(yaml.safe_dump(mobilebert_trace(32, {**MOBILEBERT_UNCASED,
                                                          "num_hidden_layers": 2})))
    arch = str(root / "arch" / "hybrid.yaml")
    assert main(["run", arch, str(trace), "--mode", "both", "--out", str(tmp / "run"),
                 "--trace", str(tmp / "trace.json")]) == 0
    space = tmp / "space.yaml"
    space.write_text("version: 1\nparallel_tokens: [2, 8, 32]\nintegration_time_ns: [128, 512]\n")
    assert main(["search", arch, str(trace), "--space", str(space), "--out",
                 str(tmp / "search")]) == 0
    sweep = tmp / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "version": 1, "arch": arch, "workloads": [str(trace)], "modes": ["aimc-only", "hybrid"],
        "axes": {"aimc.integration_time_ns": [128, 256], "pipeline.parallel_tokens": [4, 8]}}))
    assert main(["sweep", str(sweep), "--out", str(tmp / "sweep")]) == 0
    return tmp


@pytest.mark.parametrize(("kind", "source", "extra"), [
    ("breakdown", "run", []), ("compare", "run", []), ("timeline", "run", ["--block", "1"]),
    ("tokens", "search", []), ("pareto", "search", ["--integration-time", "128"]),
    ("heatmap", "sweep", []), ("breakdown", "sweep", []), ("compare", "sweep", []),
])
@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_every_kind_renders_a_valid_file(results, tmp_path, kind, source, extra, suffix):
    out = tmp_path / f"{kind}{suffix}"
    assert main(["plot", str(results / source), "--kind", kind, "--out", str(out), *extra]) == 0
    assert out.read_bytes().startswith(MAGIC[suffix]) and out.stat().st_size > 2000


def test_breakdown_has_one_stack_per_resource(results):
    layers = pd.read_csv(results / "run" / "layers.csv")
    fig = plots.breakdown(layers, block=0)
    ax = fig.axes[0]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 5 and all(len(b) == 15 for b in bars)
    assert ax.get_xlabel() == "busy time per resource (µs)"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [
        "AIMC tile", "PMCA compute", "DMA", "interconnect", "stall"]
    assert bars[0].patches[0].get_facecolor()[:3] == pytest.approx(
        tuple(int(plots.RESOURCE_COLOURS["aimc"][i:i + 2], 16) / 255 for i in (1, 3, 5)))


def test_compare_and_timeline_axes(results):
    layers = pd.read_csv(results / "run" / "layers.csv")
    fig = plots.compare(layers)
    top, bottom = fig.axes
    assert len(top.lines) == 2 and top.get_ylabel() == "latency (µs)"
    assert bottom.get_ylabel() == "overhead (%)" and len(bottom.patches) == 2 * 15
    timeline = pd.read_parquet(results / "run" / "timeline.parquet")
    fig = plots.timeline(timeline, block=0, mode="hybrid")
    ax = fig.axes[0]
    lanes = [t.get_text() for t in ax.get_yticklabels()]
    assert "tile:b0.query" in lanes and "links from tiles" in lanes
    assert sum(isinstance(p, Rectangle) for p in ax.patches) > 50
    assert ax.get_xlabel() == "time since block 0 started (µs)"


def test_search_and_sweep_figures(results):
    points = pd.read_csv(results / "search" / "search.csv")
    fig = plots.pareto(points, integration_time_ns=512)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "TCDM needed (KiB)" and len(ax.lines) == 3  # one front per shape
    assert any(isinstance(c, PathCollection) for c in ax.collections)
    sweep = pd.read_parquet(results / "sweep" / "points.parquet")
    fig = plots.heatmap(sweep, x="pipeline.parallel_tokens", y="aimc.integration_time_ns")
    ax = fig.axes[0]
    assert ax.images[0].get_array().shape == (2, 2)
    assert fig.axes[1].get_ylabel() == "overhead (%)"
    with pytest.raises(ValueError, match="no column 'nope'"):
        plots.heatmap(sweep, x="nope", y="aimc.integration_time_ns")


def test_plot_refuses_the_wrong_results(results, tmp_path, capsys):
    assert main(["plot", str(results / "run"), "--kind", "pareto", "--out",
                 str(tmp_path / "x.png")]) == 2
    assert "--kind pareto draws results of search" in capsys.readouterr().err
    assert main(["plot", str(results / "run"), "--kind", "compare", "--out",
                 str(tmp_path / "x.jpg")]) == 2


def test_trace_is_valid_trace_event_json(results):
    doc = json.loads((results / "trace.json").read_text())
    events = doc["traceEvents"]
    assert doc["displayTimeUnit"] == "ns" and events
    named_threads = {(e["pid"], e["tid"]) for e in events
                     if e["ph"] == "M" and e["name"] == "thread_name"}
    named_procs = {e["pid"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    complete = [e for e in events if e["ph"] == "X"]
    assert {e["ph"] for e in events} == {"M", "X"}
    for e in complete:
        assert isinstance(e["name"], str) and isinstance(e["pid"], int)
        assert isinstance(e["tid"], int) and e["ts"] >= 0 and e["dur"] >= 0
        assert (e["pid"], e["tid"]) in named_threads and e["pid"] in named_procs
    names = {e["args"]["name"] for e in events if e["name"] == "process_name"}
    assert {"AIMC tiles (hybrid)", "PMCA clusters (hybrid)", "links (hybrid)",
            "AIMC tiles (aimc-only)"} <= names
    timeline = pd.read_parquet(results / "run" / "timeline.parquet")
    assert len(complete) == len(timeline)


def test_trace_times_are_microseconds():
    frame = pd.DataFrame({"component": ["tile:a", "pmca:0"], "start_ns": [0.0, 1500.0],
                          "end_ns": [1000.0, 4000.0], "activity": ["mvm", "add"],
                          "layer": ["a", "a"]})
    events = [e for e in chrome_trace(frame)["traceEvents"] if e["ph"] == "X"]
    assert [(e["ts"], e["dur"]) for e in events] == [(0.0, 1.0), (1.5, 2.5)]
