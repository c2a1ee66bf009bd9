"""Figures render headless with the expected axes and artists; traces follow the event format."""

from __future__ import annotations

import dataclasses
import itertools
import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer
from matplotlib.patches import Rectangle

from aimcsim import plots
from aimcsim.cli import main
from aimcsim.explore.network import token_curves
from aimcsim.explore.space import _alone, _layer_by_layer, _variant
from aimcsim.outputs.trace_export import chrome_trace
from aimcsim.results import _union_ps, network_time, time_by_activity
from aimcsim.simulator import simulate
from aimcsim.spec.workload import Op

MAGIC = {".png": b"\x89PNG\r\n\x1a\n", ".pdf": b"%PDF", ".svg": b"<?xml"}


@pytest.mark.parametrize(("kind", "source", "extra"), [
    ("breakdown", "run", []), ("compare", "run", []), ("timeline", "run", ["--block", "1"]),
    ("tokens", "search", []), ("pareto", "search", ["--integration-time", "128"]),
    ("layer-types", "run", []), ("layer-types", "sweep", []), ("energy", "run", []),
    ("energy", "sweep", []), ("energy-front", "sweep", []), ("network", "run", []),
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


def test_network_time_sums_to_each_run(results):
    layers = pd.read_csv(results / "run" / "layers.csv")
    timeline = pd.read_parquet(results / "run" / "timeline.parquet")
    parts = network_time(timeline, layers)
    assert list(parts["mode"]) == ["aimc-only", "hybrid"]
    cols = [c for c in parts if c.endswith("_ns") and c != "latency_ns"]
    assert (parts[cols] >= 0).all().all()
    for _, row in parts.iterrows():
        total = layers[layers["mode"] == row["mode"]]
        assert row["latency_ns"] == pytest.approx(total["end_ns"].max()
                                                  - total["start_ns"].min())
        assert sum(row[c] for c in cols) == pytest.approx(row["latency_ns"], abs=1e-6)
    aimc = parts.set_index("mode").loc["aimc-only"]
    # MobileBERT's layers fit 512-row tiles: no partial sums, so only hybrid has such kernels
    assert aimc["static-layer kernels_ns"] == 0
    assert parts.set_index("mode").loc["hybrid", "static-layer kernels_ns"] > 0
    assert aimc["attention_ns"] > 0 and aimc["tiles_ns"] > 0
    fig = plots.network(timeline, layers)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["aimc-only", "hybrid"]


def test_network_time_by_precedence_with_idle_time():
    """Attention kernels first, then element-wise, static-layer kernels, links, tiles; what
    nothing covers is idle."""
    layers = pd.DataFrame({"mode": ["hybrid"] * 2, "layer": ["a", "b"],
                           "kind": ["static_linear", "dynamic_matmul"],
                           "start_ns": [0.0, 20.0], "end_ns": [10.0, 30.0]})
    timeline = pd.DataFrame({
        "component": ["tile:a", "link:tile:a->pmca:0", "pmca:0", "pmca:0"],
        "start_ns": [0.0, 12.0, 20.0, 8.0], "end_ns": [10.0, 15.0, 30.0, 9.0],
        "activity": ["mvm", "transfer", "matmul", "add"], "layer": ["a", "a", "b", "a"]})
    row = network_time(timeline, layers).iloc[0]
    assert (row["attention_ns"], row["static-layer kernels_ns"], row["links_ns"],
            row["tiles_ns"], row["idle_ns"]) == (10.0, 1.0, 3.0, 9.0, 7.0)
    assert row["latency_ns"] == 30.0


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


def test_the_study_figures(results, hybrid_arch):
    """Fig. 4a/b: per shape, latency against parallel tokens at each integration time (each
    point the simulator's figure for the layer alone), TCDM needed and the capacity; Fig. 4c:
    total latency per layer type in both modes."""
    points = pd.read_csv(results / "search" / "search.csv")
    curves = token_curves(hybrid_arch, points)
    shapes = points.groupby(["d_in", "d_out"]).ngroups
    assert len(curves) == shapes * 2 * 3  # integration times x block sizes of the space
    fits = curves[curves["tcdm_bytes"] <= hybrid_arch.pmca.tcdm_bytes]
    assert fits["latency_ns"].notna().all() and (fits["latency_ns"] >= fits[
        "aimc_only_latency_ns"]).all()
    row = fits.iloc[-1]  # against a run of the layer alone
    variant = _variant(hybrid_arch, row.integration_time_ns, hybrid_arch.pmca.cores,
                       hybrid_arch.lora.rank)
    work = _alone(Op("layer", 0, "static_linear", "layer", int(row.d_in), int(row.d_out), ()),
                  int(points["parallel_tokens"].max()))
    pipe = dataclasses.replace(variant.pipeline, parallel_tokens=int(row.parallel_tokens))
    run = simulate(_layer_by_layer(variant, pipe), work, "hybrid", timeline=False)
    assert run.layers.set_index("layer").loc["layer", "latency_ns"] == row.latency_ns
    fig = plots.tokens(curves, capacity_bytes=hybrid_arch.pmca.tcdm_bytes)
    assert len([a for a in fig.axes if a.get_label() != "secondary"]) == shapes
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "TCDM capacity" in labels and "hybrid, 128 ns" in labels
    layers = pd.read_csv(results / "run" / "layers.csv")
    fig = plots.layer_types(layers)
    ax = fig.axes[0]
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    static = layers[layers.kind == "static_linear"]
    want = static[static["mode"] == "hybrid"].groupby("role", sort=False)["latency_ns"].sum()
    assert [p.get_height() for p in bars[1].patches] == pytest.approx(list(want / 1e3))
    assert ax.get_ylim()[0] == 0


def test_energy_figures(results):
    """Energy by component per layer type sums, per mode, to the run's dynamic energy; the
    sweep's front holds the points no other beats on latency and energy."""
    layers = pd.read_csv(results / "run" / "layers.csv")
    fig = plots.energy(layers)
    top, whole = fig.axes[:2]
    per_mode = {}
    for patch in whole.patches:  # mode i's stack at y = i
        key = round(patch.get_y() + patch.get_height() / 2)
        per_mode[key] = per_mode.get(key, 0.0) + patch.get_width()
    by_mode = layers.groupby("mode", sort=False)["energy_pj"].sum()
    unit = plots.energy_unit(by_mode)
    assert whole.get_xlabel() == f"dynamic energy of the whole run ({unit.symbol})"
    assert [per_mode[0], per_mode[1]] == pytest.approx(
        list(unit.of([by_mode["aimc-only"], by_mode["hybrid"]])), rel=1e-9)
    assert top.get_xlim()[0] == 0 and "attention" in [t.get_text() for t in
                                                       top.get_yticklabels()]
    points = pd.read_parquet(results / "sweep" / "points.parquet")
    fig = plots.energy_front(points)
    front = next(line for line in fig.axes[0].lines if line.get_label() ==
                 "latency-energy front")
    ok = points[points["status"] == "ok"]
    t_unit, e_unit = plots.time_unit(ok.latency_ns_hybrid), plots.energy_unit(ok.energy_pj_hybrid)
    lat, en = front.get_xdata() * t_unit.size, front.get_ydata() * e_unit.size
    for a, b in zip(lat, en, strict=True):  # nothing beats a front point on both
        assert not ((ok.latency_ns_hybrid < a - 1e-6) & (ok.energy_pj_hybrid < b - 1e-3)).any()
    with pytest.raises(ValueError, match="no energy"):
        plots.energy(layers.assign(**{c: float("nan") for c in layers if
                                      c.startswith("energy_")}))


def test_heatmap_slices_stars_and_says_what_is_missing():
    """Readable axis labels; --at fixes a third axis; a cell with a failed point is starred
    (its legend says what the star means), one with no point reads n/a; the title names what
    still varies."""
    points = pd.DataFrame([
        {"point": f"p{i}", "aimc.integration_time_ns": t, "pipeline.parallel_tokens": b,
         "lora.rank": r, "status": "ok" if (t, b, r) != (512.0, 8, 4) else "failed",
         "overhead": t / 1000 + b / 100 + r / 10000}
        for i, (t, b, r) in enumerate((t, b, r) for t in (128.0, 512.0) for b in (4, 8)
                                      for r in (4, 8))])
    points = points[~((points["aimc.integration_time_ns"] == 128.0)
                      & (points["pipeline.parallel_tokens"] == 4))]  # a cell with no point
    fig = plots.heatmap(points, x="pipeline.parallel_tokens", y="aimc.integration_time_ns")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "parallel tokens [pipeline]"
    assert ax.get_ylabel() == "integration time (ns) [aimc]"
    texts = [t.get_text() for t in ax.texts]
    assert "n/a" in texts and any(t.endswith("*") for t in texts)
    assert "lowest over rank [lora]" in ax.get_title()
    assert "* lowest over the feasible points only" in [t.get_text() for t in
                                                        fig.legends[0].get_texts()]
    fixed = plots.heatmap(points, x="pipeline.parallel_tokens", y="aimc.integration_time_ns",
                          at={"lora.rank": "8"})
    title = fixed.axes[0].get_title()
    assert "at rank [lora] = 8" in title and "lowest over" not in title
    assert "59.3%" in [t.get_text() for t in fixed.axes[0].texts]  # 512 ns, 8 tokens, rank 8
    with pytest.raises(ValueError, match=r"no point has lora\.rank = 3"):
        plots.heatmap(points, x="pipeline.parallel_tokens", y="aimc.integration_time_ns",
                      at={"lora.rank": "3"})


def test_search_and_sweep_figures(results):
    points = pd.read_csv(results / "search" / "search.csv")
    fig = plots.pareto(points, integration_time_ns=512, capacity_bytes=131072)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.lines]
    shapes = points.groupby(["d_in", "d_out"]).ngroups
    assert ax.get_xlabel() == "TCDM needed (KiB)"
    assert sum(lb.endswith("hybrid front") for lb in labels) == shapes  # a front per shape
    assert sum(lb.endswith("AIMC-only") for lb in labels) == shapes  # and its reference
    assert "TCDM capacity" in labels and ax.get_ylim()[0] == 0
    assert ax.xaxis.get_major_formatter()(8.0, 0) == "8"  # KiB as numbers, not 2^3
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


def test_trace_slices_never_overlap_on_a_track(results):
    # trace viewers stack a track's slices by nesting: on each track one slice ends before the
    # next starts, and every activity of the timeline is on a track of its component
    doc = json.loads((results / "trace.json").read_text())
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in doc["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"}
    tracks: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for e in doc["traceEvents"]:
        if e["ph"] == "X":
            # (in whole ps, as a viewer reads the microseconds back into integer time)
            tracks.setdefault((e["pid"], e["tid"]), []).append(
                (round(e["ts"] * 1e6), round((e["ts"] + e["dur"]) * 1e6)))
    for key, slices in tracks.items():
        slices.sort()
        assert all(end <= nxt for (_, end), (nxt, _) in itertools.pairwise(slices)), names[key]
    timeline = pd.read_parquet(results / "run" / "timeline.parquet")
    overlapping = [c for c, g in timeline.groupby("component")
                   if (g.sort_values("start_ns")["start_ns"].to_numpy()[1:]
                       < g.sort_values("start_ns")["end_ns"].cummax().to_numpy()[:-1]).any()]
    assert overlapping  # (the run has overlapping activities to place: the test can fail)
    assert any(" (2)" in n for n in names.values())
