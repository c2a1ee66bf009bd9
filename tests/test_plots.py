"""Figures render headless with the expected axes and artists; traces follow the event format."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer
from matplotlib.patches import Rectangle

from aimcsim import plots
from aimcsim.cli import main
from aimcsim.results import _union_ps, time_by_activity
from aimcsim.trace_export import chrome_trace

MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF", ".svg": b"<?xml"}


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


def test_breakdown_splits_each_latency_by_activity(results):
    """Each bar is the layer's latency, split by activity (its segments sum to it), with a
    tick at the AIMC-only latency; without a timeline the bars are overlapping busy times and
    the figure says so."""
    layers = pd.read_csv(results / "run" / "layers.csv")
    timeline = pd.read_parquet(results / "run" / "timeline.parquet")
    fig = plots.breakdown(layers, timeline, block=0)
    ax = fig.axes[0]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    widths = np.sum([[p.get_width() for p in b.patches] for b in bars], axis=0)
    rows = layers[(layers["mode"] == "hybrid") & (layers["block"] == 0)
                  & (layers["kind"] == "static_linear")]
    assert list(widths) == pytest.approx(list(rows["latency_ns"].to_numpy() / 1e3), rel=1e-9)
    assert ax.get_xlabel() == "latency by activity, each instant once (µs)"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "AIMC-only latency" in labels and "AIMC tile" in labels and "PMCA compute" in labels
    ticks = next(c for c in ax.collections if c.get_label() == "AIMC-only latency")
    aimc = layers[(layers["mode"] == "aimc-only") & layers["layer"].isin(rows["layer"])]
    assert list(ticks.get_offsets()[:, 0]) == pytest.approx(
        list(aimc["latency_ns"].to_numpy() / 1e3))
    assert bars[0].patches[0].get_facecolor()[:3] == pytest.approx(
        tuple(int(plots.RESOURCE_COLOURS["aimc"][i:i + 2], 16) / 255 for i in (1, 3, 5)))
    busy = plots.breakdown(layers, block=0)
    assert busy.axes[0].get_xlabel() == "busy time per resource, overlapping (µs)"


def test_time_by_activity_sums_to_each_latency(results):
    layers = pd.read_csv(results / "run" / "layers.csv")
    timeline = pd.read_parquet(results / "run" / "timeline.parquet")
    parts = time_by_activity(timeline, layers)
    cols = [c for c in parts if c.endswith("_ns") and c != "latency_ns"]
    assert (parts[cols] >= 0).all().all()
    assert np.array_equal(np.rint(parts[cols].sum(axis=1) * 1000),
                          np.rint(parts["latency_ns"] * 1000))
    tile_only = parts[(parts["mode"] == "aimc-only")
                      & parts["layer"].isin(layers.loc[layers.kind == "static_linear", "layer"])]
    assert (tile_only["pmca_ns"] == 0).all() and (tile_only["aimc_ns"] > 0).all()


def test_union_of_intervals():
    s, e = np.array([0, 5, 2, 20]), np.array([3, 8, 4, 21])
    assert _union_ps(s, e) == 4 + 3 + 1  # [0,4) [5,8) [20,21)
    assert _union_ps(np.array([0, 1]), np.array([10, 2])) == 10
    assert _union_ps(np.array([], dtype=int), np.array([], dtype=int)) == 0


def test_compare_and_timeline_axes(results):
    layers = pd.read_csv(results / "run" / "layers.csv")
    fig = plots.compare(layers)
    top, bottom = fig.axes
    roles = list(dict.fromkeys(layers.loc[layers.kind == "static_linear", "role"]))
    assert top.get_ylabel() == "latency (µs)" and top.get_ylim()[0] == 0
    bars = [c for c in top.containers if isinstance(c, BarContainer)]
    assert [len(b) for b in bars] == [len(roles)] * 2  # AIMC-only and hybrid per layer type
    assert bottom.get_ylabel() == "overhead (%)"
    assert [t.get_text() for t in bottom.get_xticklabels()] == roles
    static = layers[layers.kind == "static_linear"]
    query = static[static.role == roles[0]].pivot(index="layer", columns="mode",
                                                   values="latency_ns")
    assert bars[1].patches[0].get_height() == pytest.approx(query["hybrid"].median() / 1e3)
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
