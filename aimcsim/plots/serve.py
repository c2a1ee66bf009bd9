"""Figures of served streams (`aimcsim serve`): time to first token and per output token
against offered load."""

from __future__ import annotations

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
