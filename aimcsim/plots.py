"""Figures from run, search and sweep results (matplotlib, headless-safe).

Every function returns a `matplotlib.figure.Figure` sized for one column of a two-column paper
(3.5 in wide), with axes labelled in units, a legend, and the Okabe-Ito colour-blind-safe
palette. A resource has the same colour in every kind of figure (`RESOURCE_COLOURS`).
"""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aimcsim.results import network_time, time_by_activity
from aimcsim.results import overhead as lora_overhead

#: Okabe & Ito (2008) colours, safe for the common colour-vision deficiencies.
OKABE_ITO = {
    "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
    "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "black": "#000000",
    "grey": "#999999",
}
#: One colour per resource, the same in every figure.
RESOURCE_COLOURS = {
    "aimc": OKABE_ITO["blue"], "pmca": OKABE_ITO["vermillion"], "dma": OKABE_ITO["green"],
    "noc": OKABE_ITO["orange"], "stall": OKABE_ITO["grey"], "cim": OKABE_ITO["sky"],
    "tcdm": OKABE_ITO["purple"],
}
RESOURCE_LABELS = {"aimc": "AIMC tile", "pmca": "PMCA compute", "dma": "DMA",
                   "noc": "interconnect", "stall": "stall", "cim": "SRAM-CIM",
                   "tcdm": "TCDM"}
MODE_COLOURS = {"aimc-only": RESOURCE_COLOURS["aimc"], "hybrid": RESOURCE_COLOURS["pmca"]}
COLUMN_WIDTH_IN = 3.5
STYLE = {
    "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7,
    "xtick.labelsize": 7, "ytick.labelsize": 7, "axes.spines.top": False,
    "axes.spines.right": False, "savefig.dpi": 200, "savefig.bbox": "tight",
}


def _figure(height_in: float = 2.4) -> tuple[Figure, plt.Axes]:
    with plt.rc_context(STYLE):
        fig = Figure(figsize=(COLUMN_WIDTH_IN, height_in), layout="constrained")
        ax = fig.add_subplot()
    return fig, ax


def _style(fig: Figure) -> Figure:
    for ax in fig.axes:
        for item in [ax.xaxis.label, ax.yaxis.label, ax.title]:
            item.set_fontsize(STYLE["axes.labelsize"])
        ax.tick_params(labelsize=STYLE["xtick.labelsize"])
        for side in ("top", "right"):
            if ax.get_label() != "secondary":
                ax.spines[side].set_visible(False)
    for legend in [*(ax.get_legend() for ax in fig.axes), *fig.legends]:
        if legend is not None:
            for text in legend.get_texts():
                text.set_fontsize(STYLE["legend.fontsize"])
    return fig


def save(fig: Figure, path: str) -> None:
    """Write png, pdf or svg (by the file's suffix)."""
    with plt.rc_context(STYLE):
        fig.savefig(path)


#: A colour per cause of a critical path (`aimcsim.results.CAUSES`).
CAUSE_COLOURS = {
    "tile": RESOURCE_COLOURS["aimc"], "SRAM-CIM": RESOURCE_COLOURS["cim"],
    "cluster compute": RESOURCE_COLOURS["pmca"], "bank stalls": OKABE_ITO["purple"],
    "DMA": RESOURCE_COLOURS["dma"], "link": RESOURCE_COLOURS["noc"],
    "waiting for a link": OKABE_ITO["yellow"], "waiting for the cluster": OKABE_ITO["grey"],
    "waiting for TCDM": OKABE_ITO["black"], "waiting for inputs": "#DDDDDD",
}


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
        stacks = [(cause, parts[cause]) for cause in CAUSE_COLOURS]
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


def tokens(rows: pd.DataFrame, *, capacity_bytes: int, strategy: str = "") -> Figure:
    """The study's Fig. 4a/b: per layer shape, the layer's latency against parallel tokens at
    each integration time (hybrid solid, AIMC-only dashed), and on the right axis the TCDM it
    needs with the capacity line. Blocks that do not fit have no latency.

    rows: `aimcsim.search.token_curves` (d_in, d_out, integration_time_ns, parallel_tokens,
    latency_ns, aimc_only_latency_ns, tcdm_bytes).
    """
    shapes = list(rows.groupby(["d_in", "d_out"], sort=False))
    with plt.rc_context(STYLE):
        fig = Figure(figsize=(COLUMN_WIDTH_IN, 1.6 * len(shapes) + 0.8), layout="constrained")
        axes = fig.subplots(len(shapes), 1, sharex=True, squeeze=False)[:, 0]
    times = sorted(rows["integration_time_ns"].unique())
    palette = [OKABE_ITO[c] for c in ("blue", "vermillion", "green", "purple", "orange")]
    twins = []
    for ax, ((d_in, d_out), shape) in zip(axes, shapes, strict=True):
        mem = ax.twinx()
        mem.set_label("secondary")
        twins.append(mem)
        for j, t_int in enumerate(times):
            g = shape[shape["integration_time_ns"] == t_int].sort_values("parallel_tokens")
            colour = palette[j % len(palette)]
            ax.plot(g.parallel_tokens, g.latency_ns / 1e3, color=colour, marker="o", ms=2.5,
                    lw=1, label=f"hybrid, {t_int:g} ns")
            ax.plot(g.parallel_tokens, g.aimc_only_latency_ns / 1e3, color=colour, lw=0.8,
                    ls="--", label=f"AIMC-only, {t_int:g} ns")
        need = shape.drop_duplicates("parallel_tokens").sort_values("parallel_tokens")
        mem.plot(need.parallel_tokens, need.tcdm_bytes / 1024, color=OKABE_ITO["grey"],
                 marker="s", ms=2, lw=0.8, ls=":", label="TCDM needed")
        mem.axhline(capacity_bytes / 1024, color=OKABE_ITO["black"], lw=0.8, ls="-.",
                    label="TCDM capacity")
        mem.set_ylim(bottom=0)
        mem.set_ylabel("TCDM (KiB)")
        ax.set_ylim(bottom=0)
        ax.set_ylabel("latency (µs)")
        ax.set_title(f"{d_in} x {d_out}" + (f", {strategy}" if strategy else ""))
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
            lambda v, _: f"{v:g}"))
    axes[-1].set_xlabel("parallel tokens per block")
    handles, labels = axes[0].get_legend_handles_labels()
    extra = twins[0].get_legend_handles_labels()
    fig.legend(handles + extra[0], labels + extra[1], ncols=2, fontsize=6,
               loc="outside lower center", frameon=False)
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
    rows = rows.assign(component=rows["component"].map(_lane_name))
    first = rows.groupby("component")["start_ns"].min()
    components = sorted(first.index, key=lambda c: (_component_order(c)[0], first[c]))
    fig, ax = _figure(max(2.0, 0.11 * len(components) + 1.0))
    lane = {c: i for i, c in enumerate(components)}
    t0 = rows["start_ns"].min()
    for res in ("aimc", "pmca", "dma", "noc"):
        part = rows[rows["component"].map(_resource) == res]
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


def _lane_name(component: str) -> str:
    """Links share two lanes (tile outputs, cluster outputs); other components keep theirs."""
    if component.startswith("link:tile:"):
        return "links from tiles"
    if component.startswith("link:"):
        return "links from clusters"
    return component


def _resource(component: str) -> str:
    if component.startswith("tile:"):
        return "aimc"
    if component.startswith("cim:"):
        return "cim"
    if component.startswith("dma:"):
        return "dma"
    if component.startswith("link"):
        return "noc"
    return "pmca"


def _component_order(component: str) -> tuple[int, str]:
    return ({"aimc": 0, "cim": 1, "pmca": 2, "dma": 3, "noc": 4}[_resource(component)],
            component)


def pareto(points: pd.DataFrame, *, integration_time_ns: float | None = None,
           capacity_bytes: int | None = None) -> Figure:
    """Latency against TCDM bytes of every rated point at one integration time, per shape (a
    marker and line style each): hybrid points and exact fronts in the cluster's colour, the
    best (★), the shape's AIMC-only latency in the tile's colour, and the TCDM capacity."""
    rows = points
    if integration_time_ns is None:
        integration_time_ns = float(points["integration_time_ns"].median())
    rows = rows[np.isclose(rows["integration_time_ns"], integration_time_ns)]
    if rows.empty:
        raise ValueError(f"no points at integration_time_ns = {integration_time_ns}")
    fig, ax = _figure(2.6)
    markers, styles = ["o", "s", "^", "D", "v"], ["-", "--", ":", "-."]
    hybrid, tile = RESOURCE_COLOURS["pmca"], RESOURCE_COLOURS["aimc"]
    for i, ((d_in, d_out), shape) in enumerate(rows.groupby(["d_in", "d_out"], sort=False)):
        marker, style = markers[i % len(markers)], styles[i % len(styles)]
        ok = shape[shape["feasible"]]
        ax.scatter(ok.tcdm_bytes / 1024, ok.latency_ns / 1e3, s=6, marker=marker,
                   color=hybrid, alpha=0.3, lw=0)
        front = shape[shape["pareto"]].sort_values("tcdm_bytes")
        ax.step(front.tcdm_bytes / 1024, front.latency_ns / 1e3, where="post", color=hybrid,
                ls=style, lw=1, marker=marker, ms=3, label=f"{d_in}x{d_out} hybrid front")
        base = shape["aimc_only_latency_ns"].min()
        if np.isfinite(base):
            ax.axhline(base / 1e3, color=tile, ls=style, lw=0.8,
                       label=f"{d_in}x{d_out} AIMC-only")
        best = shape[shape["best"]]
        ax.scatter(best.tcdm_bytes / 1024, best.latency_ns / 1e3, s=40, marker="*",
                   color=hybrid, edgecolor="black", lw=0.4, zorder=3)
    if capacity_bytes:
        ax.axvline(capacity_bytes / 1024, color=OKABE_ITO["black"], lw=0.8, ls="-.",
                   label="TCDM capacity")
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("TCDM needed (KiB)")
    ax.set_ylabel("layer latency (µs)")
    ax.set_title(f"latency vs TCDM at {integration_time_ns:g} ns (★ best)")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2,
               frameon=False, fontsize=6)
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


def energy_front(points: pd.DataFrame, *, mode: str = "hybrid") -> Figure:
    """A sweep's points in latency against energy (one mode), the points no other beats on
    both drawn as the front."""
    lat, en = f"latency_ns_{mode.replace('-', '_')}", f"energy_pj_{mode.replace('-', '_')}"
    for col in (lat, en):
        if col not in points:
            raise ValueError(f"no column {col!r} in the sweep table (mode {mode} not swept?)")
    ok = points[(points["status"] == "ok") & points[en].notna()].sort_values([lat, en])
    if ok.empty:
        raise ValueError("no finished point with energy (the architecture names no "
                         "technology file?)")
    front, least = [], np.inf
    for row in ok.itertuples():
        if getattr(row, en) < least:
            front.append(row.Index)
            least = getattr(row, en)
    fig, ax = _figure(2.4)
    ax.scatter(ok[lat] / 1e3, ok[en] / 1e6, s=8, color=MODE_COLOURS[mode], alpha=0.5, lw=0,
               label=f"{mode} points")
    best = ok.loc[front]
    ax.step(best[lat] / 1e3, best[en] / 1e6, where="post", color=OKABE_ITO["black"], lw=0.8,
            marker="o", ms=3, label="latency-energy front")
    ax.set_xlabel("network latency (µs)")
    ax.set_ylabel("energy (µJ)")
    ax.set_title(f"{len(ok)} points, {len(front)} on the front")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2,
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


def axis_label(path: str) -> str:
    """A swept dot-path as a reader reads it: `aimc.integration_time_ns` -> `integration time
    (ns) [aimc]`."""
    section, _, name = path.rpartition(".")
    unit = ""
    for suffix, shown in (("_ns", "ns"), ("_bytes", "bytes"), ("_mhz", "MHz"),
                          ("_cycles", "cycles")):
        if name.endswith(suffix):
            name, unit = name[: -len(suffix)], shown
            break
    words = name.replace("_", " ")
    return f"{words}{f' ({unit})' if unit else ''}" + (f" [{section}]" if section else "")


def heatmap(points: pd.DataFrame, *, x: str, y: str, value: str = "overhead",
            at: dict[str, Any] | None = None) -> Figure:
    """`value` (default: whole-network overhead) over two swept axes. `at` fixes other axes
    (a slice); where other axes still vary, each cell shows the lowest value over them and the
    title says so. A cell some of whose points failed (did not fit) is starred; a cell with no
    finished point reads n/a."""
    for col in (x, y, value, *(at or {})):
        if col not in points:
            raise ValueError(f"no column {col!r} in the sweep table; columns: "
                             f"{', '.join(points.columns)}")
    rows = points
    for axis, wanted in (at or {}).items():
        column = rows[axis]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            try:
                rows = rows[np.isclose(column.astype(float), float(wanted))]
            except ValueError:
                raise ValueError(f"{axis} takes numbers, not {wanted!r}") from None
        else:
            rows = rows[column.astype(str) == str(wanted)]
        if rows.empty:
            values = ", ".join(map(str, points[axis].unique()))
            raise ValueError(f"no point has {axis} = {wanted}; its values: {values}")
    ok = rows[rows["status"] == "ok"]
    table = ok.pivot_table(index=y, columns=x, values=value, aggfunc="min")
    table = table.reindex(index=sorted(rows[y].unique()), columns=sorted(rows[x].unique()))
    failed = rows[rows["status"] != "ok"].groupby([y, x]).size()
    fig, ax = _figure(2.6)
    data = table.to_numpy(dtype=float)
    percent = value.endswith("overhead")
    image = ax.imshow(data * (100 if percent else 1), origin="lower", aspect="auto",
                      cmap="cividis")
    ticks = [f"{v:g}" if isinstance(v, float) else str(v) for v in table.columns]
    ax.set_xticks(range(len(table.columns)), ticks)
    ax.set_yticks(range(len(table.index)), [f"{v:g}" if isinstance(v, float) else str(v)
                                            for v in table.index])
    starred = False
    for (i, j), v in np.ndenumerate(data):
        star = (table.index[i], table.columns[j]) in failed.index
        starred |= star
        if np.isfinite(v):
            text = (f"{v:.1%}" if percent else f"{v:.3g}") + ("*" if star else "")
            colour = "white" if v < np.nanmean(data) else "black"
        else:
            text, colour = "n/a", OKABE_ITO["grey"]
        ax.text(j, i, text, ha="center", va="center", fontsize=5, color=colour)
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    bar = fig.colorbar(image, ax=ax)
    bar.set_label(f"{value} (%)" if percent else value)
    others = [c for c in points.columns if "." in c and c not in (x, y, *(at or {}))
              and rows[c].nunique() > 1]
    fixed = ", ".join(f"{axis_label(a)} = {v}" for a, v in (at or {}).items())
    ax.set_title(value + (f" at {fixed}" if fixed else "")
                 + (f"; lowest over {', '.join(axis_label(o) for o in others)}" if others
                    else "") + ("; * some points failed" if starred else ""), fontsize=6)
    return _style(fig)
