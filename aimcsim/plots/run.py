"""Figures of one run: the latency breakdown of a block, the layer types, AIMC-only against
hybrid, the timeline, the energy and where the whole run's time goes.

Every time and energy is shown in the unit its values call for (`time_unit`, `energy_unit`);
every legend entry is painted as `PAINTS` says, the modes told apart by hatch."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aimcsim.plots.style import (
    COLUMN_WIDTH_IN,
    LANE_ORDER,
    MODE_HATCHES,
    MODE_PAINTS,
    OKABE_ITO,
    PAINTS,
    RESOURCE_LABELS,
    STYLE,
    Paint,
    _figure,
    _style,
    energy_unit,
    lanes,
    text_colour,
    time_unit,
)
from aimcsim.results import CAUSES, network_time, time_by_activity
from aimcsim.results import overhead as lora_overhead

MODES = ("aimc-only", "hybrid")


def breakdown(layers: pd.DataFrame, timeline: pd.DataFrame | None = None, *,
              mode: str = "hybrid", block: int = 0, static_only: bool = True,
              title: str = "", critical: pd.DataFrame | None = None) -> Figure:
    """Each layer of one block: its latency split along its critical path by cause
    (`critical`, the run's `Result.critical`: what the layer waited for at each instant,
    summing to the latency), and a black tick at the same layer's AIMC-only latency when
    `layers` holds both modes.

    Without `critical`, from a timeline: the latency split by what the layer was doing
    (every instant once, `aimcsim.results.time_by_activity`). Without either (a sweep keeps
    none) the bars are busy times per resource, which overlap: the figure says so and a bar
    can exceed the latency (marked by a diamond).
    """
    rows = layers[(layers["mode"] == mode) & (layers["block"] == block)]
    if static_only:
        rows = rows[rows["kind"] == "static_linear"]
    if rows.empty:
        raise ValueError(f"no {'static ' if static_only else ''}layers of block {block} in "
                         f"mode {mode!r}")
    fig, ax = _figure(0.16 * len(rows) + 1.3)
    names = [n.split(".", 1)[-1] for n in rows["layer"]]
    y = np.arange(len(rows))
    if critical is not None:
        parts = critical[critical["mode"] == mode].set_index("layer").loc[rows["layer"]]
        stacks = [(cause, parts[cause]) for cause in CAUSES]
        xlabel = "latency along the critical path, by cause"
    elif timeline is not None:
        parts = time_by_activity(timeline[timeline["layer"].isin(rows["layer"])]
                                 if "mode" not in timeline else
                                 timeline[(timeline["mode"] == mode)
                                          & timeline["layer"].isin(rows["layer"])], rows)
        parts = parts.set_index("layer").loc[rows["layer"]]
        stacks = [(RESOURCE_LABELS[a], parts[f"{a}_ns"])
                  for a in ("aimc", "cim", "pmca", "dma", "noc")]
        stacks.append((RESOURCE_LABELS["stall"], parts["wait_ns"]))
        xlabel = "latency by activity, each instant once"
    else:
        stacks = [(RESOURCE_LABELS[r], rows[f"{r}_busy_ns" if r != "stall" else "stall_ns"])
                  for r in ("aimc", "pmca", "dma", "noc", "stall")]
        xlabel = "busy time per resource, overlapping"
    stacks = [(label, np.asarray(values, dtype=float)) for label, values in stacks]
    other = layers[(layers["mode"] == "aimc-only") & layers["layer"].isin(rows["layer"])]
    ref = (other.set_index("layer").loc[rows["layer"], "latency_ns"].to_numpy()
           if mode == "hybrid" and not other.empty else None)
    unit = time_unit([np.sum([v for _, v in stacks], axis=0), rows["latency_ns"],
                      0.0 if ref is None else ref])
    left = np.zeros(len(rows))
    for label, values in stacks:
        if not values.any():
            continue
        ax.barh(y, unit.of(values), left=left, height=0.75, label=label,
                **PAINTS[label].bar())
        left += unit.of(values)
    if timeline is None and critical is None:  # the bars overlap: show where the latency is
        ax.scatter(unit.of(rows["latency_ns"]), y, marker="D", s=8, facecolor="white",
                   edgecolor=OKABE_ITO["black"], lw=0.6, zorder=3, label=f"{mode} latency")
    if ref is not None:
        ax.scatter(unit.of(ref), y, marker="|", s=80, color=OKABE_ITO["black"], lw=1.4,
                   zorder=4, label="AIMC-only latency")
    ax.set_yticks(y, names, fontsize=6)
    ax.invert_yaxis()
    ax.set_xlim(left=0)
    ax.set_xlabel(f"{xlabel} ({unit.symbol})")
    ax.set_title(title or f"block {block}, {mode}")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=3,
               frameon=False, handlelength=1.0, columnspacing=0.8)
    return _style(fig)


def _mode_legend(fig: Figure, ncols: int = 2) -> None:
    fig.legend(handles=[MODE_PAINTS[m].patch(m) for m in MODES], loc="outside lower center",
               ncols=ncols, frameon=False)


def layer_types(layers: pd.DataFrame) -> Figure:
    """The study's Fig. 4c: total latency per layer type (the static layers' roles, summed
    over the blocks), AIMC-only against hybrid, the overhead written above each pair."""
    static = layers[layers["kind"] == "static_linear"]
    if not set(MODES) <= set(static["mode"]):
        raise ValueError("layer types need the layers of both modes (run with --mode both)")
    order = list(dict.fromkeys(static["role"]))
    totals = static.pivot_table(index="role", columns="mode", values="latency_ns",
                                aggfunc="sum").loc[order]
    unit = time_unit(totals[list(MODES)])
    fig, ax = _figure(2.6)
    x = np.arange(len(order))
    for i, mode in enumerate(MODES):
        ax.bar(x + (i - 0.5) * 0.4, unit.of(totals[mode]), width=0.4, label=mode,
               **MODE_PAINTS[mode].bar())
    for xi, (a, h) in enumerate(zip(totals["aimc-only"], totals["hybrid"], strict=True)):
        ax.annotate(f"{lora_overhead(h, a):+.1%}", (xi, unit.of(max(a, h))), ha="center",
                    va="bottom", fontsize=5, xytext=(0, 1), textcoords="offset points")
    ax.set_ylim(bottom=0)
    ax.set_xticks(x, order, rotation=45, ha="right", fontsize=6)
    ax.set_ylabel(f"total latency over the blocks ({unit.symbol})")
    ax.set_title("per layer type, AIMC-only vs hybrid (hatched)")
    _mode_legend(fig)
    return _style(fig)


def compare(layers: pd.DataFrame) -> Figure:
    """AIMC-only vs hybrid per layer type (the static layers' roles, in network order): the
    median latency over the blocks with its range, from zero; the overhead below, median and
    range. One pattern repeated over the blocks is drawn once."""
    static = layers[layers["kind"] == "static_linear"]
    if not set(MODES) <= set(static["mode"]):
        raise ValueError("compare needs the layers of both modes (run with --mode both)")
    wide = static.pivot(index="layer", columns="mode", values="latency_ns")
    roles = static.drop_duplicates("layer").set_index("layer")["role"]
    wide["role"] = roles.loc[wide.index]
    wide["overhead"] = lora_overhead(wide["hybrid"], wide["aimc-only"]) * 100
    order = list(dict.fromkeys(roles))
    stats = wide.groupby("role").agg(["median", "min", "max"]).loc[order]
    unit = time_unit(wide[list(MODES)])
    with plt.rc_context(STYLE):
        fig = Figure(figsize=(COLUMN_WIDTH_IN, 3.0), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    x = np.arange(len(order))
    for i, mode in enumerate(MODES):
        med = unit.of(stats[(mode, "median")])
        err = [med - unit.of(stats[(mode, "min")]), unit.of(stats[(mode, "max")]) - med]
        top.bar(x + (i - 0.5) * 0.4, med, width=0.4, label=mode, yerr=err,
                error_kw={"lw": 0.6, "capsize": 1.5}, **MODE_PAINTS[mode].bar())
    top.set_ylim(bottom=0)
    top.set_ylabel(f"latency ({unit.symbol})")
    blocks = static["block"].nunique()
    top.set_title(f"per layer type: median over {blocks} block(s), bars: min to max")
    med = stats[("overhead", "median")].to_numpy()
    bottom.bar(x, med, width=0.6, yerr=[med - stats[("overhead", "min")].to_numpy(),
                                        stats[("overhead", "max")].to_numpy() - med],
               error_kw={"lw": 0.6, "capsize": 1.5}, **MODE_PAINTS["hybrid"].bar())
    bottom.set_ylim(bottom=min(0.0, float(stats[("overhead", "min")].min())))
    bottom.set_ylabel("overhead (%)")
    bottom.set_xticks(x, order, rotation=45, ha="right", fontsize=6)
    bottom.set_xlabel("layer type (network order)")
    _mode_legend(fig)
    return _style(fig)


def timeline(records: pd.DataFrame, *, block: int = 0, mode: str | None = None,
             layers: pd.DataFrame | None = None) -> Figure:
    """Gantt chart of every component active for one transformer block in one mode (its
    title names it): the ops `layers` (the run's layers table) places in it, else those
    named `b<block>.*` (as generated traces name them)."""
    if layers is not None:
        rows = records[records["layer"].isin(layers.loc[layers["block"] == block, "layer"])]
    else:
        rows = records[records["layer"].str.startswith(f"b{block}.")]
    if mode is not None and "mode" in rows:
        rows = rows[rows["mode"] == mode]
    if rows.empty:
        raise ValueError(f"no timeline records for block {block}")
    if mode is None and "mode" in rows:
        shown = list(dict.fromkeys(rows["mode"]))
        if len(shown) > 1:
            raise ValueError(f"the timeline holds modes {', '.join(shown)}: choose one")
        mode = shown[0]
    drawn = lanes(rows["component"].unique())
    resource = {name: res for name, res in drawn.values()}  # (of each lane)
    rows = rows.assign(component=rows["component"].map({c: name for c, (name, _) in
                                                        drawn.items()}))
    first = rows.groupby("component")["start_ns"].min()
    components = sorted(first.index, key=lambda c: (LANE_ORDER[resource[c]], first[c]))
    fig, ax = _figure(max(2.0, 0.11 * len(components) + 1.0))
    lane = {c: i for i, c in enumerate(components)}
    t0 = rows["start_ns"].min()
    unit = time_unit(rows["end_ns"] - t0)
    for res in LANE_ORDER:
        part = rows[rows["component"].map(resource) == res]
        if part.empty:
            continue
        label = RESOURCE_LABELS[res]
        ax.barh(part["component"].map(lane), unit.of(part.end_ns - part.start_ns),
                left=unit.of(part.start_ns - t0), height=0.8, label=label,
                **PAINTS[label].bar())
    ax.set_yticks(range(len(components)), components, fontsize=5)
    ax.set_ylim(len(components) - 0.4, -0.6)
    ax.set_xlabel(f"time since block {block} started ({unit.symbol})")
    ax.set_title(f"block {block}, {mode}: activity per component" if mode else
                 f"block {block}: activity per component")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=4,
               frameon=False, handlelength=1.0)
    return _style(fig)


#: the energy figure's components, as the layers table names them and in stacking order
ENERGY_PARTS = ("aimc", "cim", "pmca", "tcdm", "dma", "noc")


def energy(layers: pd.DataFrame) -> Figure:
    """Dynamic energy by component per layer type (static layers by role, attention and
    element-wise work by kind, summed over the blocks), a bar per mode (hybrid hatched); the
    whole run's by component in the panel below. Each panel in the unit its values call
    for."""
    cols = [f"energy_{c}_pj" for c in ENERGY_PARTS]
    if layers[cols].isna().all().all():
        raise ValueError("no energy in these results: the architecture names no technology "
                         "file")
    group = np.where(layers["kind"] == "static_linear", layers["role"],
                     np.where(layers["kind"] == "elementwise", "element-wise", "attention"))
    frame = layers.assign(group=group)
    order = list(dict.fromkeys(frame["group"]))
    modes = [m for m in MODES if m in set(frame["mode"])]
    sums = {m: frame[frame["mode"] == m].groupby("group")[cols].sum().reindex(order).fillna(0)
            for m in modes}
    totals = {m: sums[m].sum() for m in modes}
    per_type = energy_unit([s.sum(axis=1) for s in sums.values()])
    whole = energy_unit([t.sum() for t in totals.values()])
    shown = [c for c in ENERGY_PARTS if any(sums[m][f"energy_{c}_pj"].any() for m in modes)]
    with plt.rc_context(STYLE):
        fig = Figure(figsize=(COLUMN_WIDTH_IN, 0.26 * len(order) * len(modes) / 2 + 2.2),
                     layout="constrained")
        top, bottom = fig.subplots(2, 1, height_ratios=[len(order), 0.5 * len(modes) + 0.6])
    height = 0.8 / len(modes)
    y = np.arange(len(order))
    for i, mode in enumerate(modes):
        base, run_base = np.zeros(len(order)), 0.0
        for c in shown:
            paint = PAINTS[RESOURCE_LABELS[c]]
            mine = Paint(paint.colour, MODE_HATCHES[mode], OKABE_ITO["black"])
            values = per_type.of(sums[mode][f"energy_{c}_pj"])
            top.barh(y + (i - (len(modes) - 1) / 2) * height, values, height=height,
                     left=base, **mine.bar())
            base += values
            value = float(whole.of(totals[mode][f"energy_{c}_pj"]))
            bottom.barh(i, value, left=run_base, height=0.7, **mine.bar())
            run_base += value
    top.set_yticks(y, order, fontsize=6)
    top.invert_yaxis()
    top.set_xlim(left=0)
    top.set_xlabel(f"dynamic energy per layer type, over the blocks ({per_type.symbol})")
    bottom.set_yticks(range(len(modes)), modes, fontsize=6)
    bottom.invert_yaxis()
    bottom.set_xlim(left=0)
    bottom.set_xlabel(f"dynamic energy of the whole run ({whole.symbol})")
    handles = [PAINTS[RESOURCE_LABELS[c]].patch(RESOURCE_LABELS[c]) for c in shown]
    handles += [MODE_PAINTS[m].patch(m) for m in modes]
    fig.legend(handles=handles, loc="outside lower center", ncols=4, frameon=False,
               handlelength=1.4, columnspacing=0.8)
    return _style(fig)


#: the network figure's parts (`aimcsim.results.network_time`), in stacking order
NETWORK_PARTS = ("attention", "element-wise", "static-layer kernels", "links", "tiles", "idle")


def network(timeline: pd.DataFrame, layers: pd.DataFrame) -> Figure:
    """Where the whole run's time goes, per mode: a bar as long as the run, split by what ran
    on the chip (`aimcsim.results.network_time`, every instant once)."""
    parts = network_time(timeline, layers)
    unit = time_unit(parts["latency_ns"])
    fig, ax = _figure(0.45 * len(parts) + 1.3)
    y = np.arange(len(parts))
    left = np.zeros(len(parts))
    for name in NETWORK_PARTS:
        values = unit.of(parts[f"{name}_ns"])
        if not values.any():
            continue
        paint = PAINTS[name]
        ax.barh(y, values, left=left, height=0.6, label=name, **paint.bar())
        for yi, (lo, v) in enumerate(zip(left, values, strict=True)):
            if v > 0.08 * unit.of(parts["latency_ns"].max()):
                ax.text(lo + v / 2, yi, f"{v / unit.of(parts['latency_ns'].iloc[yi]):.0%}",
                        ha="center", va="center", fontsize=5, color=text_colour(paint.colour))
        left += values
    ax.set_yticks(y, parts["mode"])
    ax.invert_yaxis()
    ax.set_xlim(left=0)
    ax.set_xlabel(f"run time, each instant once ({unit.symbol})")
    ax.set_title("where the whole run's time goes")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=3,
               frameon=False)
    return _style(fig)
