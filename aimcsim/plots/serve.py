"""Figures of served streams (`aimcsim serve`): time to first token and per output token
against offered load."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from aimcsim.plots.style import OKABE_ITO, _figure, _style

_QUANTILES = (("p50", "-", "o"), ("p90", "--", "s"), ("p99", ":", "^"))


def load(table: pd.DataFrame) -> Figure:
    """TTFT and TPOT percentiles (ms, log scale) against offered requests per second, one
    panel each; `table` is `aimcsim.serve.engine.LOAD_COLUMNS`."""
    fig, _ = _figure(3.6)
    fig.clear()  # (two panels in its place)
    axes = fig.subplots(2, 1, sharex=True)
    for panel, (name, label) in zip(axes, (("ttft", "time to first token (ms)"),
                                           ("tpot", "time per output token (ms)")),
                                    strict=True):
        for q, line, marker in _QUANTILES:
            panel.plot(table.rate_per_s, table[f"{name}_ns_{q}"] / 1e6, line, marker=marker,
                       color=OKABE_ITO["vermillion"], markersize=3, label=q)
        panel.set_yscale("log")
        for axis in (panel.yaxis.set_major_formatter, panel.yaxis.set_minor_formatter):
            axis(FuncFormatter(lambda v, _: f"{v:g}"))
        panel.set_ylabel(label)
        panel.grid(True, which="both", alpha=0.3)
    axes[0].legend(title="percentile", fontsize="small", title_fontsize="small")
    axes[-1].set_xlabel("offered load (requests/s)")
    return _style(fig)


def latency(requests: pd.DataFrame) -> Figure:
    """The distributions (empirical CDFs) of the requests' time to first token and time per
    output token, ms on a log scale; `requests` is `aimcsim.serve.engine.REQUEST_COLUMNS`."""
    fig, ax = _figure(2.4)
    for name, label, line in (("ttft_ns", "time to first token", "-"),
                              ("tpot_ns", "time per output token", "--")):
        values = np.sort(requests[name].dropna().to_numpy()) / 1e6
        if len(values):
            ax.step(values, np.arange(1, len(values) + 1) / len(values), line, where="post",
                    color=OKABE_ITO["vermillion"], label=label)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.set_xlabel("ms")
    ax.set_ylabel("share of requests")
    ax.set_ylim(0, 1)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize="small", loc="lower right")
    return _style(fig)
