"""Figures of a search and a sweep: token parallelism per layer shape (the study's Fig. 4),
latency against TCDM, latency against energy and a value over two swept axes."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from aimcsim.plots.style import (
    COLUMN_WIDTH_IN,
    MODE_COLOURS,
    OKABE_ITO,
    RESOURCE_COLOURS,
    STYLE,
    _figure,
    _style,
    axis_label,
)


def tokens(rows: pd.DataFrame, *, capacity_bytes: int, strategy: str = "") -> Figure:
    """The study's Fig. 4a/b: per layer shape, the layer's latency against parallel tokens at
    each integration time (hybrid solid, AIMC-only dashed), and on the right axis the TCDM it
    needs with the capacity line. Blocks that do not fit have no latency.

    rows: `aimcsim.explore.network.token_curves` (d_in, d_out, integration_time_ns, parallel_tokens,
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
