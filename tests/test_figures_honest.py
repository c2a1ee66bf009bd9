"""Figures that never mislead (issue 31, item 3), checked on the figures' data: one paint per
legend entry and one colour per resource in every kind, the modes told apart by hatch, times
and energies in units scaled to the values, heatmap cells that mark what was infeasible and
keep every swept value, a legible energy figure, pareto shapes by colour and marker, the
timeline's mode and the energy front's notable points named."""

from __future__ import annotations

import itertools
import re

import matplotlib.colors
import numpy as np
import pandas as pd
import pytest
import yaml
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.container import BarContainer
from matplotlib.patches import Patch, Rectangle

from aimcsim import plots
from aimcsim.cli import main
from aimcsim.outputs.figures import FIGURES, Options, drawable
from aimcsim.outputs.run_folder import RunFolder
from aimcsim.plots.swept import NONE_FEASIBLE, PARTLY_FEASIBLE

#: what each legend label is the work of, as a reader reads it: a resource's colour must mean
#: that resource's work and nothing else, in every kind
WORK = {"aimc": {"AIMC tile", "tile", "tiles"}, "cim": {"SRAM-CIM"},
        "pmca": {"PMCA compute", "cluster compute", "static-layer kernels"}, "dma": {"DMA"},
        "noc": {"interconnect", "link", "links"}, "tcdm": {"TCDM", "bank stalls"}}
RESOURCE_OF = {label: res for res, labels in WORK.items() for label in labels}
TIME_SYMBOLS, ENERGY_SYMBOLS = {"ns", "µs", "ms", "s"}, {"pJ", "nJ", "µJ", "mJ", "J"}


def _hex(colour) -> str:
    return matplotlib.colors.to_hex(colour, keep_alpha=False)


def _every_figure(results):
    """(name, figure) of every kind the fixture's run, search and sweep folders draw, and the
    breakdown by activity (the run's kind draws it by cause)."""
    drawn = []
    for source in ("run", "search", "sweep"):
        folder = RunFolder(results / source)
        for kind in drawable(folder):
            drawn.append((f"{source}/{kind.name}", kind.draw(folder, Options())))
    layers = pd.read_csv(results / "run" / "layers.csv")
    timeline = pd.read_parquet(results / "run" / "timeline.parquet")
    drawn.append(("run/breakdown by activity", plots.breakdown(layers, timeline)))
    return drawn


@pytest.fixture(scope="module")
def every_figure(results):
    return _every_figure(results)


def _legend_paints(fig):
    """(label, face colour, hatch) of every patch key of the figure's legends."""
    legends = [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]
    return [(text.get_text(), _hex(handle.get_facecolor()), handle.get_hatch() or "")
            for legend in legends
            for handle, text in zip(legend.legend_handles, legend.get_texts(), strict=True)
            if isinstance(handle, Patch)]


def test_a_legend_entry_has_one_paint_and_a_resource_one_colour_in_every_kind(every_figure):
    seen: dict[str, set] = {}
    for name, fig in every_figure:
        for label, face, hatch in _legend_paints(fig):
            seen.setdefault(label, set()).add((face, hatch, name))
    assert {"tile", "tiles", "AIMC tile", "attention", "TCDM", "aimc-only", "hybrid"} <= set(seen)
    for label, paints in seen.items():  # the same label, the same paint, in every kind
        assert len({(face, hatch) for face, hatch, _ in paints}) == 1, (label, paints)
    face = {label: next(iter(paints))[0] for label, paints in seen.items()}
    colour_of = {}
    for label, res in RESOURCE_OF.items():
        if label in face:
            colour_of.setdefault(res, set()).add(face[label])
    assert all(len(c) == 1 for c in colour_of.values()), colour_of  # one colour a resource
    colour_of = {res: c.pop() for res, c in colour_of.items()}
    assert len(set(colour_of.values())) == len(colour_of) >= 5  # and different resources differ
    for label, colour in face.items():  # a resource's colour means nothing else, in any kind
        assert colour not in colour_of.values() or RESOURCE_OF.get(label) == next(
            r for r, c in colour_of.items() if c == colour), (label, colour)


def test_every_resource_label_is_painted_in_its_resource_colour():
    """(Also the ones the fixture's figures do not draw, as SRAM-CIM.)"""
    for label, res in RESOURCE_OF.items():
        assert plots.PAINTS[label].colour == plots.RESOURCE_COLOURS[res], label
    others = {p.colour for label, p in plots.PAINTS.items() if label not in RESOURCE_OF}
    assert not others & {plots.RESOURCE_COLOURS[res] for res in WORK}


def test_the_modes_differ_by_hatch_not_by_a_resource_colour(every_figure):
    resource_colours = {_hex(c) for c in plots.RESOURCE_COLOURS.values()}
    checked = 0
    for name, fig in every_figure:
        if not name.endswith(("compare", "layer-types")):
            continue
        bars = {c.get_label(): c for ax in fig.axes for c in ax.containers
                if isinstance(c, BarContainer) and c.get_label() in ("aimc-only", "hybrid")}
        assert set(bars) == {"aimc-only", "hybrid"}, name
        faces = {m: {_hex(p.get_facecolor()) for p in b.patches} for m, b in bars.items()}
        hatches = {m: {p.get_hatch() or "" for p in b.patches} for m, b in bars.items()}
        assert not (faces["aimc-only"] | faces["hybrid"]) & resource_colours, name
        assert len(hatches["aimc-only"]) == len(hatches["hybrid"]) == 1, name
        assert hatches["aimc-only"] != hatches["hybrid"], name
        checked += 1
    assert checked == 4  # (compare and layer types, of the run and of the sweep)


def test_the_unit_follows_the_magnitude():
    assert [plots.time_unit([v]).symbol for v in (0.0, 12.0, 949.0, 951.0, 4.2e5, 3.0e8,
                                                   2.0e10)] == ["ns", "ns", "ns", "µs", "µs",
                                                                "ms", "s"]
    assert [plots.energy_unit(v).symbol for v in (5.0, 7.5e6, 1.2e10, 3.0e12, 3.0e20)] == [
        "pJ", "µJ", "mJ", "J", "J"]
    assert plots.energy_unit([np.array([1.0, np.nan]), pd.Series([2.0e6])]).symbol == "µJ"
    assert plots.time_unit([2500.0]).of([2500.0, 500.0]) == pytest.approx([2.5, 0.5])


def _unit_axes(fig):
    """(axis, label, symbol) of each axis of the figure labelled with a time or energy unit."""
    found = []
    for ax in fig.axes:
        for axis, label in ((ax.xaxis, ax.get_xlabel()), (ax.yaxis, ax.get_ylabel())):
            unit = re.search(r"\(([^()]+)\)$", label)
            if unit and unit.group(1) in TIME_SYMBOLS | ENERGY_SYMBOLS:
                found.append((axis, label, unit.group(1)))
    return found


def _assert_scaled(fig, name):
    """Every time and energy axis ticks below 1000 of its unit and reaches 0.9 of one (no
    unit too small, none too large)."""
    axes = _unit_axes(fig)
    assert axes, f"{name}: no axis labelled in a time or energy unit"
    for axis, label, _ in axes:
        if axis.get_scale() != "linear":
            continue
        lo, hi = sorted(axis.get_view_interval())
        ticks = [t for t in axis.get_ticklocs() if lo <= t <= hi]
        assert max(abs(t) for t in ticks) < 1000, (name, label, ticks)
        assert max(abs(lo), abs(hi)) >= 0.9, (name, label, lo, hi)


def test_every_time_and_energy_axis_is_in_a_unit_scaled_to_its_values(every_figure):
    for name, fig in every_figure:
        if name.endswith("heatmap"):  # (its value is an overhead, in %)
            continue
        _assert_scaled(fig, name)


def test_long_runs_and_large_energies_are_shown_in_larger_units(results):
    """A run 10,000 times as long and as costly as the fixture's (seconds, tens of mJ): the
    network's time in s, the energy in mJ, the sweep's front in s and mJ, every axis below
    1000 of its unit."""
    layers = pd.read_csv(results / "run" / "layers.csv")
    timeline = pd.read_parquet(results / "run" / "timeline.parquet")
    slow = {c: layers[c] * 1e4 for c in layers if c.endswith("_ns") or c.endswith("_pj")}
    layers = layers.assign(**slow)
    timeline = timeline.assign(start_ns=timeline.start_ns * 1e4, end_ns=timeline.end_ns * 1e4)
    network = plots.network(timeline, layers)
    assert network.axes[0].get_xlabel() == "run time, each instant once (s)"
    energy = plots.energy(layers)
    assert [ax.get_xlabel()[-4:] for ax in energy.axes[:2]] == ["(mJ)", "(mJ)"]
    points = pd.read_parquet(results / "sweep" / "points.parquet")
    points = points.assign(latency_ns_hybrid=points.latency_ns_hybrid * 1e4,
                           energy_pj_hybrid=points.energy_pj_hybrid * 1e4)
    front = plots.energy_front(points)
    assert (front.axes[0].get_xlabel(), front.axes[0].get_ylabel()) == (
        "network latency (s)", "energy (mJ)")
    for name, fig in (("network", network), ("energy", energy), ("energy-front", front),
                      ("timeline", plots.timeline(timeline, mode="hybrid", layers=layers))):
        _assert_scaled(fig, name)


def _sweep_points():
    """A sweep's points over integration time x parallel tokens x strategy, as a points table
    and the points it never ran: double-buffered at 16 tokens does not fit (refused), one
    point failed, and a constraint excluded 2 tokens at 512 ns."""
    ran, unrun = [], []
    for i, (t, b, s) in enumerate(itertools.product((128, 512), (2, 4, 8, 16),
                                                    ("overlapped", "double-buffered"))):
        axes = {"aimc.integration_time_ns": t, "pipeline.parallel_tokens": b,
                "pipeline.strategy": s}
        if (b, s) == (16, "double-buffered"):
            unrun.append({**axes, "reason": "pipeline.parallel_tokens = 16 needs at least "
                                            "141312 bytes of TCDM"})
        elif (t, b) == (512, 2):
            unrun.append({**axes, "reason": "excluded by constraint tokens > 2"})
        else:
            failed = (t, b, s) == (128, 4, "overlapped")
            ran.append({"point": f"p{i}", **axes, "status": "failed" if failed else "ok",
                        "overhead": np.nan if failed else
                        t / 1e4 + b / 100 + (0.5 if s == "overlapped" else 0.0)})
    return pd.DataFrame(ran), pd.DataFrame(unrun)


def _cells(ax):
    """Each cell's text, by (y tick, x tick) label."""
    xs = [t.get_text() for t in ax.get_xticklabels()]
    ys = [t.get_text() for t in ax.get_yticklabels()]
    return {(ys[round(t.get_position()[1])], xs[round(t.get_position()[0])]): t.get_text()
            for t in ax.texts}


def _hatched(ax, hatch):
    """The (row, column) of the cells a rectangle of this hatch covers."""
    return {(round(p.get_y() + 0.5), round(p.get_x() + 0.5)) for p in ax.patches
            if isinstance(p, Rectangle) and p.get_hatch() == hatch}


def test_a_heatmap_keeps_every_swept_value_and_marks_what_was_infeasible():
    points, unrun = _sweep_points()
    x, y = "pipeline.parallel_tokens", "aimc.integration_time_ns"
    fig = plots.heatmap(points, x=x, y=y, at={"pipeline.strategy": "double-buffered"},
                        unrun=unrun)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2", "4", "8", "16"]  # 16: none ran
    assert [t.get_text() for t in ax.get_yticklabels()] == ["128", "512"]
    image = ax.images[0].get_array()
    assert image.shape == (2, 4) and np.ma.getmaskarray(image)[:, 3].all()  # no value at 16
    assert not np.ma.getmaskarray(image)[0, :3].any()
    cells = _cells(ax)
    assert cells[("128", "16")] == cells[("512", "16")] == "×"
    assert cells[("512", "2")] == "excl."  # (a constraint's, not infeasible)
    assert _hatched(ax, NONE_FEASIBLE["hatch"]) == {(0, 3), (1, 3)}
    assert "× no feasible point (failed or did not fit)" in [
        t.get_text() for t in fig.legends[0].get_texts()]
    # over both strategies: at 16 tokens the value is overlapped's alone, and says so
    both = plots.heatmap(points, x=x, y=y, unrun=unrun)
    ax = both.axes[0]
    cells = _cells(ax)
    assert cells[("128", "16")] == "67.3%*" and cells[("512", "16")] == "71.1%*"
    assert cells[("128", "8")] == "9.3%"  # both strategies ran: no mark
    assert cells[("128", "4")] == "5.3%*"  # overlapped failed: double-buffered's alone
    assert _hatched(ax, PARTLY_FEASIBLE["hatch"]) == {(0, 3), (1, 3), (0, 1)}
    assert ax.images[0].get_array()[0, 3] == pytest.approx(67.28)
    assert "lowest over strategy [pipeline]" in ax.get_title()
    assert "* lowest over the feasible points only" in [
        t.get_text() for t in both.legends[0].get_texts()]


@pytest.fixture(scope="module")
def study_sweep(tmp_path_factory, root, results):
    """The study's sweep in small: integration time x parallel tokens x strategy, where
    double-buffered blocks of 32 tokens do not fit the TCDM (the sweep refuses them)."""
    tmp = tmp_path_factory.mktemp("study")
    sweep = tmp / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "version": 1, "arch": str(root / "arch" / "hybrid.yaml"),
        "workloads": [str(results / "tiny.yaml")], "modes": ["aimc-only", "hybrid"],
        "axes": {"aimc.integration_time_ns": [128, 256], "pipeline.parallel_tokens": [8, 32],
                 "pipeline.strategy": ["overlapped", "double-buffered"]}}))
    assert main(["sweep", str(sweep), "--out", str(tmp / "out")]) == 0
    return RunFolder(tmp / "out")


def test_the_sweeps_heatmap_shows_the_points_it_refused(study_sweep):
    assert len(study_sweep.manifest["invalid"]) == 2  # (double-buffered x 32, at each time)
    draw = FIGURES["heatmap"].draw
    fig = draw(study_sweep, Options(x="pipeline.parallel_tokens",
                                    y="aimc.integration_time_ns",
                                    at={"pipeline.strategy": "double-buffered"}))
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["8", "32"]
    assert set(_cells(ax).values()) - {"×"} and _cells(ax)[("128", "32")] == "×"
    both = draw(study_sweep, Options(x="pipeline.parallel_tokens", y="aimc.integration_time_ns"))
    assert _cells(both.axes[0])[("128", "32")].endswith("*")


def _overlapping_texts(fig):
    """Pairs of the figure's drawn texts (ticks, labels, titles, legends, notes) that
    overlap."""
    FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    texts = []
    for ax in fig.axes:
        (x0, x1), (y0, y1) = sorted(ax.get_xlim()), sorted(ax.get_ylim())
        texts += [t for t in ax.get_xticklabels() if x0 <= t.get_position()[0] <= x1]
        texts += [t for t in ax.get_yticklabels() if y0 <= t.get_position()[1] <= y1]
        texts += [*ax.texts, ax.xaxis.label, ax.yaxis.label, ax.title]
    for legend in [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend())]:
        texts += legend.get_texts()
    shown = [t for t in texts if t.get_visible() and t.get_text()]
    boxes = [(t.get_text(), t.get_window_extent(renderer).shrunk(0.98, 0.9)) for t in shown]
    return [(a, b) for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2)
            if box_a.overlaps(box_b)]


def test_no_text_overlaps_another(every_figure):
    """In every kind whose labels are level (rotated labels' boxes overlap where their
    letters do not: compare and layer types; tokens' panels share hidden x labels)."""
    for name, fig in every_figure:
        if not name.endswith(("compare", "layer-types", "tokens")):
            assert _overlapping_texts(fig) == [], name


def test_the_energy_figure_is_legible(results):
    """No text overlaps another; no label is rotated; the legend's resource keys are painted
    as their AIMC-only bars (plain) and its mode keys hatched as each mode's bars; units scaled."""
    layers = pd.read_csv(results / "run" / "layers.csv")
    fig = plots.energy(layers)
    assert _overlapping_texts(fig) == []
    assert all(t.get_rotation() == 0 for ax in fig.axes
               for t in [*ax.get_xticklabels(), *ax.get_yticklabels()])
    keys = {label: (face, hatch) for label, face, hatch in _legend_paints(fig)}
    top = fig.axes[0]
    for label, (face, hatch) in keys.items():
        if label in plots.MODE_HATCHES:
            assert hatch == plots.MODE_HATCHES[label]
            continue
        assert hatch == "" and face == _hex(plots.PAINTS[label].colour)
    bars = [p for p in top.patches if p.get_width() > 0]
    faces = {_hex(p.get_facecolor()) for p in bars}
    assert faces == {face for label, (face, _) in keys.items()
                     if label not in plots.MODE_HATCHES}  # every bar's colour is keyed
    assert {p.get_hatch() or "" for p in bars} == {"", "////"} == {
        hatch for label, (_, hatch) in keys.items() if label in plots.MODE_HATCHES}
    _assert_scaled(fig, "energy")


def test_the_pareto_shapes_differ_by_colour_and_marker(results):
    points = pd.read_csv(results / "search" / "search.csv")
    fig = plots.pareto(points, capacity_bytes=131072)  # (the middle time: one of the search's)
    ax = fig.axes[0]
    assert ax.get_title() == "latency vs TCDM at 128 ns"
    fronts = [line for line in ax.lines if line.get_label().endswith("hybrid front")]
    shapes = points.groupby(["d_in", "d_out"]).ngroups
    assert len(fronts) == shapes == 3
    assert len({_hex(line.get_color()) for line in fronts}) == shapes
    assert len({line.get_marker() for line in fronts}) == shapes
    keys = {t.get_text(): h for t, h in zip(fig.legends[0].get_texts(),
                                             fig.legends[0].legend_handles, strict=True)}
    for line in fronts:  # each shape's key shows its colour and its marker
        key = keys[line.get_label().removesuffix(" hybrid front").replace("x", " x ")]
        assert (_hex(key.get_color()), key.get_marker()) == (_hex(line.get_color()),
                                                             line.get_marker())
    for line in ax.lines:  # its AIMC-only reference in its colour, dashed
        if line.get_label().endswith("AIMC-only"):
            front = next(f for f in fronts if f.get_label().split()[0] ==
                         line.get_label().split()[0])
            assert _hex(line.get_color()) == _hex(front.get_color())
            assert line.get_linestyle() == "--"


def test_the_timeline_title_names_the_mode(results):
    folder = RunFolder(results / "run")
    for mode in ("aimc-only", "hybrid"):
        fig = FIGURES["timeline"].draw(folder, Options(mode=mode, block=1))
        assert fig.axes[0].get_title() == f"block 1, {mode}: activity per component"


def test_the_energy_front_names_its_lowest_latency_and_lowest_energy_points(study_sweep):
    """Each notable point is marked where it is, labelled, and named in the legend by its
    latency, energy and values of the swept axes."""
    points = study_sweep.points
    fig = FIGURES["energy-front"].draw(study_sweep, Options())
    ax = fig.axes[0]
    ok = points[points["status"] == "ok"]
    fastest = ok.loc[ok["latency_ns_hybrid"].idxmin()]
    leanest = ok.loc[ok["energy_pj_hybrid"].idxmin()]
    t_unit, e_unit = plots.time_unit(ok.latency_ns_hybrid), plots.energy_unit(ok.energy_pj_hybrid)
    wanted = ({"lowest latency and energy": fastest} if fastest.name == leanest.name else
              {"lowest latency": fastest, "lowest energy": leanest})
    assert sorted(t.get_text() for t in ax.texts) == sorted(wanted)
    names = {t.get_text().split(":")[0]: t.get_text() for t in fig.legends[0].get_texts()}
    marks = {c.get_label().split(":")[0]: c for c in ax.collections}
    for what, row in wanted.items():
        xy = (t_unit.of(row.latency_ns_hybrid), e_unit.of(row.energy_pj_hybrid))
        assert next(t for t in ax.texts if t.get_text() == what).xy == pytest.approx(xy)
        assert list(marks[what].get_offsets()[0]) == pytest.approx(xy)
        lines = names[what].splitlines()
        assert lines[1] == (f"{t_unit.of(row.latency_ns_hybrid):.3g} {t_unit.symbol}, "
                            f"{e_unit.of(row.energy_pj_hybrid):.3g} {e_unit.symbol}")
        assert lines[2:] == [f"integration time {row['aimc.integration_time_ns']} ns",
                             f"parallel tokens {row['pipeline.parallel_tokens']}",
                             f"strategy {row['pipeline.strategy']}"]
    assert _overlapping_texts(fig) == []


def test_the_energy_front_notes_cover_no_point_and_no_text():
    """Where latency trades against energy, two notes, each in a corner free of points."""
    rng = np.random.default_rng(7)
    tokens = np.repeat([2, 4, 8, 16, 32], 4)
    latency_ns = 4e6 / tokens * rng.uniform(1.0, 1.3, tokens.size)
    points = pd.DataFrame({"point": [f"p{i}" for i in range(tokens.size)],
                           "pipeline.parallel_tokens": tokens,
                           "lora.rank": np.tile([4, 8, 16, 32], 5), "status": "ok",
                           "latency_ns_hybrid": latency_ns,
                           "energy_pj_hybrid": 2e7 + tokens * 1e6 * rng.uniform(1, 1.2,
                                                                               tokens.size)})
    fig = plots.energy_front(points)
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["lowest energy", "lowest latency"]
    assert _overlapping_texts(fig) == []
    dots = ax.transData.transform(ax.collections[0].get_offsets())  # (every point)
    renderer = fig.canvas.get_renderer()
    for note in ax.texts:
        box = note.get_window_extent(renderer)
        assert not any(box.contains(x, y) for x, y in dots), note.get_text()
