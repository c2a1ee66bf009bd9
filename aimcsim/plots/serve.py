"""Figures of served streams (`aimcsim serve`): time to first token and per output token
against offered load. Times in the unit their values call for; series (cache policies,
numbers of adapters) in `series_colours`, no resource's colour."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from aimcsim.plots.style import _figure, _style, series_colours, time_unit

_QUANTILES = (("p50", "-", "o"), ("p90", "--", "s"), ("p99", ":", "^"))


def _minor(value: float, _: int) -> str:
    """Minor ticks of a log axis labelled at 2 and 5 of each decade only."""
    lead = f"{value:.0e}"[0]
    return f"{value:g}" if lead in "25" else ""


def _groups(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The table's series: one per (branch, cache, adapters), labelled by what differs
    between them (one, unlabelled, when the table has a single one or predates the
    columns)."""
    keys = [k for k in ("branch", "cache", "adapters") if k in table.columns]
    if not keys:
        return [("", table)]
    groups = list(table.groupby(keys, sort=False))
    if len(groups) == 1:
        return [("", groups[0][1])]
    varied = [i for i, k in enumerate(keys) if table[k].nunique() > 1]
    words = {"branch": "{} branch", "cache": "{}", "adapters": "{} adapters"}
    return [(", ".join(words[keys[i]].format(values[i]) for i in varied), rows)
            for values, rows in groups]


def load(table: pd.DataFrame) -> Figure:
    """TTFT and TPOT percentiles (log scale) against offered requests per second, one
    panel each; `table` is `aimcsim.serve.engine.LOAD_COLUMNS`. One series: its p50, p90
    and p99; several (adapters, cache policies): each's p50 (solid) and p99 (dotted)."""
    groups = _groups(table)
    fig, _ = _figure(3.6 if len(groups) == 1 else 3.8 + 0.15 * len(groups))
    fig.clear()  # (two panels in its place)
    axes = fig.subplots(2, 1, sharex=True)
    quantiles = _QUANTILES if len(groups) == 1 else (_QUANTILES[0], _QUANTILES[2])
    colours = series_colours(len(groups))
    for panel, (name, label) in zip(axes, (("ttft", "time to first token"),
                                           ("tpot", "time per output token")),
                                    strict=True):
        unit = time_unit([rows[f"{name}_ns_{q}"] for _, rows in groups for q, _, _ in quantiles])
        for colour, (series, rows) in zip(colours, groups, strict=True):
            for q, line, marker in quantiles:
                panel.plot(rows.rate_per_s, unit.of(rows[f"{name}_ns_{q}"]), line, marker=marker,
                           color=colour, markersize=3,
                           label=None if panel is not axes[0] else
                           (series if q == "p50" else None) if series else q)
        panel.set_yscale("log")
        panel.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        panel.yaxis.set_minor_formatter(FuncFormatter(_minor))
        panel.set_ylabel(f"{label} ({unit.symbol})")
        panel.grid(True, which="both", alpha=0.3)
    if len(groups) == 1:
        axes[0].legend(title="percentile", fontsize="small", title_fontsize="small")
    else:
        fig.legend(loc="outside lower center", ncol=2, fontsize="x-small",
                   title="p50 solid, p99 dotted", title_fontsize="x-small")
    axes[-1].set_xlabel("offered load (requests/s)")
    return _style(fig)


def adapters(table: pd.DataFrame) -> Figure:
    """Adapter loads from off chip against the number of adapters, one line per cache
    policy, at the table's highest offered load."""
    fig, ax = _figure(2.4)
    top = table[table.rate_per_s == table.rate_per_s.max()]
    policies = list(top.groupby("cache", sort=False))
    for colour, (cache, rows) in zip(series_colours(len(policies)), policies, strict=True):
        rows = rows.sort_values("adapters")
        ax.plot(rows.adapters, rows.adapter_loads, "-o", markersize=3, color=colour,
                label=str(cache))
    ax.set_xlabel("adapters")
    ax.set_ylabel("adapter loads from off chip")
    ax.set_title(f"at {top.rate_per_s.iloc[0]:g} requests/s", fontsize="small")
    ax.grid(True, alpha=0.3)
    ax.legend(title="cache", fontsize="small", title_fontsize="small")
    return _style(fig)


def latency(requests: pd.DataFrame) -> Figure:
    """The distributions (empirical CDFs) of the requests' time to first token and time per
    output token on a log scale; `requests` is `aimcsim.serve.engine.REQUEST_COLUMNS`."""
    fig, ax = _figure(2.4)
    unit = time_unit([requests["ttft_ns"], requests["tpot_ns"]])
    for colour, (name, label, line) in zip(series_colours(2), (
            ("ttft_ns", "time to first token", "-"), ("tpot_ns", "time per output token", "--")),
            strict=True):
        values = unit.of(np.sort(requests[name].dropna().to_numpy()))
        if len(values):
            ax.step(values, np.arange(1, len(values) + 1) / len(values), line, where="post",
                    color=colour, label=label)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel(f"time ({unit.symbol})")
    ax.set_ylabel("share of requests")
    ax.set_ylim(0, 1)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    return _style(fig)
