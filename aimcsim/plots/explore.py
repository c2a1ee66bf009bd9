"""Figures of a search and a sweep: token parallelism per layer shape (the study's Fig. 4),
latency against TCDM and latency against energy (a value over two swept axes is
`aimcsim.plots.swept`). Times and energies are shown in the unit their values call for;
layer shapes and integration times are series (`series_colours`), no resource's colour."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from aimcsim.plots.style import (
    COLUMN_WIDTH_IN,
    OKABE_ITO,
    RESOURCE_COLOURS,
    STYLE,
    _figure,
    _style,
    energy_unit,
    series_colours,
    time_unit,
    value_label,
)

_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
_LINES = ("-", "--", ":", "-.")


def tokens(rows: pd.DataFrame, *, capacity_bytes: int, strategy: str = "") -> Figure:
    """The study's Fig. 4a/b: per layer shape, the layer's latency against parallel tokens at
    each integration time (a colour each; hybrid solid, AIMC-only dashed), and on the right
    axis the TCDM it needs (in the TCDM's colour) with the capacity line. Blocks that do not
    fit have no latency.

    rows: `aimcsim.explore.network.token_curves` (d_in, d_out, integration_time_ns, parallel_tokens,
    latency_ns, aimc_only_latency_ns, tcdm_bytes).
    """
    shapes = list(rows.groupby(["d_in", "d_out"], sort=False))
    with plt.rc_context(STYLE):
        fig = Figure(figsize=(COLUMN_WIDTH_IN, 1.6 * len(shapes) + 0.8), layout="constrained")
        axes = fig.subplots(len(shapes), 1, sharex=True, squeeze=False)[:, 0]
    times = sorted(rows["integration_time_ns"].unique())
    palette = series_colours(len(times))
    unit = time_unit([rows["latency_ns"], rows["aimc_only_latency_ns"]])
    twins = []
    for ax, ((d_in, d_out), shape) in zip(axes, shapes, strict=True):
        mem = ax.twinx()
        mem.set_label("secondary")
        twins.append(mem)
        for colour, t_int in zip(palette, times, strict=True):
            g = shape[shape["integration_time_ns"] == t_int].sort_values("parallel_tokens")
            ax.plot(g.parallel_tokens, unit.of(g.latency_ns), color=colour, marker="o", ms=2.5,
                    lw=1, label=f"hybrid, {t_int:g} ns")
            ax.plot(g.parallel_tokens, unit.of(g.aimc_only_latency_ns), color=colour, lw=0.8,
                    ls="--", label=f"AIMC-only, {t_int:g} ns")
        need = shape.drop_duplicates("parallel_tokens").sort_values("parallel_tokens")
        mem.plot(need.parallel_tokens, need.tcdm_bytes / 1024, color=RESOURCE_COLOURS["tcdm"],
                 marker="s", ms=2, lw=0.8, ls=":", label="TCDM needed")
        mem.axhline(capacity_bytes / 1024, color=OKABE_ITO["black"], lw=0.8, ls="-.",
                    label="TCDM capacity")
        mem.set_ylim(bottom=0)
        mem.set_ylabel("TCDM (KiB)")
        ax.set_ylim(bottom=0)
        ax.set_ylabel(f"latency ({unit.symbol})")
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


def middle_value(values: pd.Series) -> float:
    """The middle one of the distinct values (the lower of the two middle ones), which one of
    the values is (a median need not be)."""
    distinct = sorted(values.unique())
    if not distinct:
        raise ValueError("no values to choose from")
    return float(distinct[(len(distinct) - 1) // 2])


def pareto(points: pd.DataFrame, *, integration_time_ns: float | None = None,
           capacity_bytes: int | None = None) -> Figure:
    """Latency against TCDM bytes of every rated point at one integration time (default: the
    middle one), per layer shape a colour and a marker: its hybrid points, its exact front
    (solid), its best (★) and its AIMC-only latency (dashed); and the TCDM capacity."""
    rows = points
    if integration_time_ns is None:
        integration_time_ns = middle_value(points["integration_time_ns"])
    rows = rows[np.isclose(rows["integration_time_ns"], integration_time_ns)]
    if rows.empty:
        times = ", ".join(f"{t:g}" for t in sorted(points["integration_time_ns"].unique()))
        raise ValueError(f"no points at integration_time_ns = {integration_time_ns:g}; the "
                         f"search has {times}")
    fig, ax = _figure(2.6)
    shapes = list(rows.groupby(["d_in", "d_out"], sort=False))
    unit = time_unit([rows["latency_ns"], rows["aimc_only_latency_ns"]])
    handles = []
    for i, (colour, ((d_in, d_out), shape)) in enumerate(
            zip(series_colours(len(shapes)), shapes, strict=True)):
        marker = _MARKERS[i % len(_MARKERS)]
        ok = shape[shape["feasible"]]
        ax.scatter(ok.tcdm_bytes / 1024, unit.of(ok.latency_ns), s=6, marker=marker,
                   color=colour, alpha=0.35, lw=0, label=f"{d_in}x{d_out} hybrid points")
        front = shape[shape["pareto"]].sort_values("tcdm_bytes")
        ax.step(front.tcdm_bytes / 1024, unit.of(front.latency_ns), where="post", color=colour,
                lw=1, marker=marker, ms=3, label=f"{d_in}x{d_out} hybrid front")
        base = shape["aimc_only_latency_ns"].min()
        if np.isfinite(base):
            ax.axhline(float(unit.of(base)), color=colour, ls="--", lw=0.8,
                       label=f"{d_in}x{d_out} AIMC-only")
        best = shape[shape["best"]]
        ax.scatter(best.tcdm_bytes / 1024, unit.of(best.latency_ns), s=45, marker="*",
                   color=colour, edgecolor="black", lw=0.4, zorder=3,
                   label=f"{d_in}x{d_out} best")
        handles.append(Line2D([], [], color=colour, marker=marker, ms=3, lw=1,
                              label=f"{d_in} x {d_out}"))
    key = {"color": OKABE_ITO["black"], "lw": 0.8}
    handles += [Line2D([], [], ls="-", label="hybrid front", **key),
                Line2D([], [], ls="--", label="AIMC-only", **key),
                Line2D([], [], ls="", marker="*", ms=6, markerfacecolor="white",
                       markeredgecolor="black", label="best")]
    if capacity_bytes:
        ax.axvline(capacity_bytes / 1024, ls="-.", label="TCDM capacity", **key)
        handles.append(Line2D([], [], ls="-.", label="TCDM capacity", **key))
    ax.set_xscale("log", base=2)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("TCDM needed (KiB)")
    ax.set_ylabel(f"layer latency ({unit.symbol})")
    ax.set_title(f"latency vs TCDM at {integration_time_ns:g} ns")
    fig.legend(handles=handles, loc="outside lower center", ncols=3, frameon=False,
               fontsize=6)
    return _style(fig)


def _swept(points: pd.DataFrame) -> list[str]:
    """The swept axes (dot-path columns) that vary over `points`."""
    return [c for c in points.columns if "." in c and points[c].nunique() > 1]


def point_name(row: pd.Series, axes: list[str]) -> str:
    """A sweep point by its values of the varying axes, one a line (its id without any)."""
    return "\n".join(value_label(a, row[a]) for a in axes) if axes else str(row["point"])


#: the notable points of an energy front: marker, and how far above (or below) it its label
#: goes (no point lies below the leanest, nor above the fastest of the points left of it)
_NOTABLE = {"lowest latency": ("D", 6, "bottom"), "lowest energy": ("v", -6, "top"),
            "lowest latency and energy": ("*", -6, "top")}


def energy_front(points: pd.DataFrame, *, mode: str = "hybrid") -> Figure:
    """A sweep's points in latency against energy (one mode), the points no other beats on
    both drawn as the front; the lowest-latency and the lowest-energy points marked, labelled
    and named in the legend by their values of the swept axes."""
    key = mode.replace("-", "_")
    lat, en = f"latency_ns_{key}", f"energy_pj_{key}"
    for col in (lat, en):
        if col not in points:
            raise ValueError(f"no column {col!r} in the sweep table (mode {mode} not swept?)")
    ok = points[(points["status"] == "ok") & points[en].notna()].sort_values([lat, en])
    if ok.empty:
        raise ValueError("no finished point with energy (the architecture names no "
                         "technology file?)")
    front, least = [], np.inf
    for index, value in zip(ok.index, ok[en], strict=True):
        if value < least:
            front.append(index)
            least = value
    t_unit, e_unit = time_unit(ok[lat]), energy_unit(ok[en])
    fig, ax = _figure(2.8)
    ax.scatter(t_unit.of(ok[lat]), e_unit.of(ok[en]), s=9, facecolor="none",
               edgecolor=OKABE_ITO["grey"], lw=0.6, label=f"{mode} points")
    best = ok.loc[front]
    ax.step(t_unit.of(best[lat]), e_unit.of(best[en]), where="post", color=OKABE_ITO["black"],
            lw=0.8, marker="o", ms=3, label="latency-energy front")
    axes = _swept(ok)
    fastest, leanest = ok[lat].idxmin(), ok[en].idxmin()
    notable = ({"lowest latency and energy": fastest} if fastest == leanest else
               {"lowest latency": fastest, "lowest energy": leanest})
    ax.margins(x=0.05, y=0.2)
    middle = float(np.mean(ax.get_xlim()))
    for what, index in notable.items():
        marker, rise, va = _NOTABLE[what]
        row = ok.loc[index]
        xy = (float(t_unit.of(row[lat])), float(e_unit.of(row[en])))
        ax.scatter(*xy, marker=marker, s=30, facecolor="white", edgecolor=OKABE_ITO["black"],
                   lw=0.8, zorder=4, label=f"{what}:\n{xy[0]:.3g} {t_unit.symbol}, "
                                            f"{xy[1]:.3g} {e_unit.symbol}\n"
                                            + point_name(row, axes))
        ax.annotate(what, xy, xytext=(0, rise), textcoords="offset points", va=va,
                    ha="left" if xy[0] < middle else "right", fontsize=5)
    ax.set_xlabel(f"network latency ({t_unit.symbol})")
    ax.set_ylabel(f"energy ({e_unit.symbol})")
    ax.set_title(f"{mode}: {len(ok)} points, {len(front)} on the front")
    handles, labels = ax.get_legend_handles_labels()
    # (columns fill first: the points and the front on the first row, the notable below)
    order = [0, 2, 1, 3] if len(labels) == 4 else list(range(len(labels)))
    fig.legend([handles[i] for i in order], [labels[i] for i in order], ncols=2,
               loc="outside lower center", frameon=False, handlelength=1.2, columnspacing=1.0)
    return _style(fig)
