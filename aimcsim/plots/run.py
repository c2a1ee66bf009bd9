"""Figures of one run: the latency breakdown of a block, the layer types, AIMC-only against
hybrid, the timeline, the energy and where the whole run's time goes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aimcsim.plots.style import (
    CAUSE_COLOURS,
    COLUMN_WIDTH_IN,
    LANE_ORDER,
    MODE_COLOURS,
    OKABE_ITO,
    RESOURCE_COLOURS,
    RESOURCE_LABELS,
    STYLE,
    _figure,
    _style,
    lanes,
)
from aimcsim.results import CAUSES, network_time, time_by_activity
from aimcsim.results import overhead as lora_overhead


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
    can exceed the latency (ticked in grey).
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
    left = np.zeros(len(rows))
    if critical is not None:
        parts = critical[critical["mode"] == mode].set_index("layer").loc[rows["layer"]]
        stacks = [(cause, parts[cause]) for cause in CAUSES]
        xlabel = "latency along the critical path, by cause (µs)"
    elif timeline is not None:
        parts = time_by_activity(timeline[timeline["layer"].isin(rows["layer"])]
                                 if "mode" not in timeline else
                                 timeline[(timeline["mode"] == mode)
                                          & timeline["layer"].isin(rows["layer"])], rows)
        parts = parts.set_index("layer").loc[rows["layer"]]
        stacks = [(a, parts[f"{a}_ns"]) for a in ("aimc", "cim", "pmca", "dma", "noc")]
        stacks.append(("stall", parts["wait_ns"]))
        xlabel = "latency by activity, each instant once (µs)"
    else:
        stacks = [(r, rows[f"{r}_busy_ns" if r != "stall" else "stall_ns"])
                  for r in ("aimc", "pmca", "dma", "noc", "stall")]
        xlabel = "busy time per resource, overlapping (µs)"
    for res, values in stacks:
        values = np.asarray(values, dtype=float) / 1e3
        if not values.any():
            continue
        if critical is not None:
            colour, label = CAUSE_COLOURS[res], res
        else:
            colour = RESOURCE_COLOURS[res]
            label = "waiting" if res == "stall" and timeline is not None else \
                RESOURCE_LABELS[res]
        ax.barh(y, values, left=left, color=colour, label=label, height=0.75, lw=0)
        left += values
    if timeline is None and critical is None:  # the bars overlap: show where the latency is
        ax.scatter(rows["latency_ns"] / 1e3, y, marker="|", s=60, color=OKABE_ITO["grey"],
                   lw=1.2, zorder=3, label=f"{mode} latency")
    other = layers[(layers["mode"] == "aimc-only") & layers["layer"].isin(rows["layer"])]
    if mode == "hybrid" and not other.empty:
        ref = other.set_index("layer").loc[rows["layer"], "latency_ns"] / 1e3
        ax.scatter(ref, y, marker="|", s=80, color=OKABE_ITO["black"], lw=1.4, zorder=4,
                   label="AIMC-only latency")
    ax.set_yticks(y, names, fontsize=6)
    ax.invert_yaxis()
    ax.set_xlim(left=0)
    ax.set_xlabel(xlabel)
    ax.set_title(title or f"block {block}, {mode}")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=4,
               frameon=False, handlelength=1.0, columnspacing=0.8)
    return _style(fig)


def layer_types(layers: pd.DataFrame) -> Figure:
    """The study's Fig. 4c: total latency per layer type (the static layers' roles, summed
    over the blocks), AIMC-only against hybrid, the overhead written above each pair."""
    static = layers[layers["kind"] == "static_linear"]
    if not {"aimc-only", "hybrid"} <= set(static["mode"]):
        raise ValueError("layer types need the layers of both modes (run with --mode both)")
    order = list(dict.fromkeys(static["role"]))
    totals = static.pivot_table(index="role", columns="mode", values="latency_ns",
                                aggfunc="sum").loc[order] / 1e3
    fig, ax = _figure(2.6)
    x = np.arange(len(order))
    for i, mode in enumerate(("aimc-only", "hybrid")):
        ax.bar(x + (i - 0.5) * 0.4, totals[mode], width=0.4, color=MODE_COLOURS[mode],
               label=mode, lw=0)
    for xi, (a, h) in enumerate(zip(totals["aimc-only"], totals["hybrid"], strict=True)):
        ax.annotate(f"{lora_overhead(h, a):+.1%}", (xi, max(a, h)), ha="center",
                    va="bottom", fontsize=5, xytext=(0, 1), textcoords="offset points")
    ax.set_ylim(bottom=0)
    ax.set_xticks(x, order, rotation=45, ha="right", fontsize=6)
    ax.set_ylabel("total latency over the blocks (µs)")
    ax.set_title("per layer type, AIMC-only vs hybrid")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2,
               frameon=False)
    return _style(fig)


def compare(layers: pd.DataFrame) -> Figure:
    """AIMC-only vs hybrid per layer type (the static layers' roles, in network order): the
    median latency over the blocks with its range, from zero; the overhead below, median and
    range. One pattern repeated over the blocks is drawn once."""
    static = layers[layers["kind"] == "static_linear"]
    if not {"aimc-only", "hybrid"} <= set(static["mode"]):
        raise ValueError("compare needs the layers of both modes (run with --mode both)")
    wide = static.pivot(index="layer", columns="mode", values="latency_ns")
    roles = static.drop_duplicates("layer").set_index("layer")["role"]
    wide["role"] = roles.loc[wide.index]
    wide["overhead"] = lora_overhead(wide["hybrid"], wide["aimc-only"]) * 100
    order = list(dict.fromkeys(roles))
    stats = wide.groupby("role").agg(["median", "min", "max"]).loc[order]
    with plt.rc_context(STYLE):
        fig = Figure(figsize=(COLUMN_WIDTH_IN, 3.0), layout="constrained")
        top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    x = np.arange(len(order))
    for i, mode in enumerate(("aimc-only", "hybrid")):
        med = stats[(mode, "median")].to_numpy() / 1e3
        err = [med - stats[(mode, "min")].to_numpy() / 1e3,
               stats[(mode, "max")].to_numpy() / 1e3 - med]
        top.bar(x + (i - 0.5) * 0.4, med, width=0.4, color=MODE_COLOURS[mode], label=mode,
                yerr=err, error_kw={"lw": 0.6, "capsize": 1.5}, lw=0)
    top.set_ylim(bottom=0)
    top.set_ylabel("latency (µs)")
    blocks = static["block"].nunique()
    top.set_title(f"per layer type: median over {blocks} block(s), bars: min to max")
    med = stats[("overhead", "median")].to_numpy()
    bottom.bar(x, med, width=0.6, color=MODE_COLOURS["hybrid"], lw=0,
               yerr=[med - stats[("overhead", "min")].to_numpy(),
                     stats[("overhead", "max")].to_numpy() - med],
               error_kw={"lw": 0.6, "capsize": 1.5})
    bottom.set_ylim(bottom=min(0.0, float(stats[("overhead", "min")].min())))
    bottom.set_ylabel("overhead (%)")
    bottom.set_xticks(x, order, rotation=45, ha="right", fontsize=6)
    bottom.set_xlabel("layer type (network order)")
    fig.legend(*top.get_legend_handles_labels(), loc="outside lower center", ncols=2,
               frameon=False)
    return _style(fig)


def timeline(records: pd.DataFrame, *, block: int = 0, mode: str | None = None,
             layers: pd.DataFrame | None = None) -> Figure:
    """Gantt chart of every component active for one transformer block: the ops `layers`
    (the run's layers table) places in it, else those named `b<block>.*` (as generated
    traces name them)."""
    if layers is not None:
        rows = records[records["layer"].isin(layers.loc[layers["block"] == block, "layer"])]
    else:
        rows = records[records["layer"].str.startswith(f"b{block}.")]
    if mode is not None and "mode" in rows:
        rows = rows[rows["mode"] == mode]
    if rows.empty:
        raise ValueError(f"no timeline records for block {block}")
    drawn = lanes(rows["component"].unique())
    resource = {name: res for name, res in drawn.values()}  # (of each lane)
    rows = rows.assign(component=rows["component"].map({c: name for c, (name, _) in
                                                        drawn.items()}))
    first = rows.groupby("component")["start_ns"].min()
    components = sorted(first.index, key=lambda c: (LANE_ORDER[resource[c]], first[c]))
    fig, ax = _figure(max(2.0, 0.11 * len(components) + 1.0))
    lane = {c: i for i, c in enumerate(components)}
    t0 = rows["start_ns"].min()
    for res in ("aimc", "pmca", "dma", "noc"):
        part = rows[rows["component"].map(resource) == res]
        if part.empty:
            continue
        ax.barh(part["component"].map(lane), (part.end_ns - part.start_ns) / 1e3,
                left=(part.start_ns - t0) / 1e3, height=0.8, color=RESOURCE_COLOURS[res],
                label=RESOURCE_LABELS[res], lw=0)
    ax.set_yticks(range(len(components)), components, fontsize=5)
    ax.set_ylim(len(components) - 0.4, -0.6)
    ax.set_xlabel(f"time since block {block} started (µs)")
    ax.set_title(f"block {block}: activity per component")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=4,
               frameon=False, handlelength=1.0)
    return _style(fig)


def energy(layers: pd.DataFrame) -> Figure:
    """Dynamic energy by component per layer type (static layers by role, attention and
    element-wise work by kind, summed over the blocks), each mode a bar; the run's total by
    component on the right panel."""
    cols = ["aimc", "pmca", "tcdm", "dma", "noc", "cim"]
    if layers[[f"energy_{c}_pj" for c in cols]].isna().all().all():
        raise ValueError("no energy in these results: the architecture names no technology "
                         "file")
    group = np.where(layers["kind"] == "static_linear", layers["role"],
                     np.where(layers["kind"] == "elementwise", "element-wise", "attention"))
    frame = layers.assign(group=group)
    order = list(dict.fromkeys(frame["group"]))
    modes = [m for m in ("aimc-only", "hybrid") if m in set(frame["mode"])]
    with plt.rc_context(STYLE):
        fig = Figure(figsize=(COLUMN_WIDTH_IN, 2.8), layout="constrained")
        left, right = fig.subplots(1, 2, width_ratios=[4, 1], sharey=False)
    width = 0.8 / len(modes)
    x = np.arange(len(order))
    hatches = {"aimc-only": "", "hybrid": "////"}
    for i, mode in enumerate(modes):
        sums = frame[frame["mode"] == mode].groupby("group")[
            [f"energy_{c}_pj" for c in cols]].sum().reindex(order).fillna(0) / 1e6
        base = np.zeros(len(order))
        for c in cols:
            values = sums[f"energy_{c}_pj"].to_numpy()
            if not values.any():
                continue
            left.bar(x + (i - (len(modes) - 1) / 2) * width, values, width=width, bottom=base,
                     color=RESOURCE_COLOURS[c], hatch=hatches[mode], lw=0,
                     label=RESOURCE_LABELS[c] if i == len(modes) - 1 else None)
            base += values
        total = sums.sum()
        bottom = 0.0
        for c in cols:
            value = float(total[f"energy_{c}_pj"])
            if value:
                right.bar(i, value, bottom=bottom, color=RESOURCE_COLOURS[c], width=0.7,
                          hatch=hatches[mode], lw=0)
                bottom += value
    left.set_xticks(x, order, rotation=45, ha="right", fontsize=6)
    left.set_ylabel("dynamic energy over the blocks (µJ)")
    left.set_ylim(bottom=0)
    left.set_title(" | ".join(f"{m}{' (hatched)' if hatches[m] else ''}" for m in modes),
                   fontsize=6)
    right.set_xticks(range(len(modes)), modes, rotation=45, ha="right", fontsize=6)
    right.set_ylabel("whole run (µJ)")
    right.set_ylim(bottom=0)
    fig.legend(*left.get_legend_handles_labels(), loc="outside lower center", ncols=3,
               frameon=False)
    return _style(fig)


def network(timeline: pd.DataFrame, layers: pd.DataFrame) -> Figure:
    """Where the whole run's time goes, per mode: a bar as long as the run, split by what ran
    on the chip (`aimcsim.results.network_time`, every instant once)."""
    parts = network_time(timeline, layers)
    colours = {"attention": OKABE_ITO["purple"], "element-wise": OKABE_ITO["yellow"],
               "static-layer kernels": RESOURCE_COLOURS["pmca"], "links": RESOURCE_COLOURS["noc"],
               "tiles": RESOURCE_COLOURS["aimc"], "idle": RESOURCE_COLOURS["stall"]}
    fig, ax = _figure(0.45 * len(parts) + 1.3)
    y = np.arange(len(parts))
    left = np.zeros(len(parts))
    for name, colour in colours.items():
        values = parts[f"{name}_ns"].to_numpy() / 1e3
        if not values.any():
            continue
        ax.barh(y, values, left=left, color=colour, height=0.6, lw=0, label=name)
        for yi, (lo, v) in enumerate(zip(left, values, strict=True)):
            if v > 0.08 * parts["latency_ns"].max() / 1e3:
                ax.text(lo + v / 2, yi, f"{v / (parts['latency_ns'].iloc[yi] / 1e3):.0%}",
                        ha="center", va="center", fontsize=5, color="white")
        left += values
    ax.set_yticks(y, parts["mode"])
    ax.invert_yaxis()
    ax.set_xlim(left=0)
    ax.set_xlabel("run time, each instant once (µs)")
    ax.set_title("where the whole run's time goes")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=3,
               frameon=False)
    return _style(fig)
