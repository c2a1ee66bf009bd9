"""The figures' style: one column of a two-column paper (3.5 in wide), the Okabe-Ito
colour-blind-safe palette with one colour per resource in every kind, and the naming of
timeline lanes."""

from __future__ import annotations

from collections.abc import Iterable

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt
import matplotlib.ticker
from matplotlib.figure import Figure

from aimcsim.hw.lanes import Cause, Resource, UnitId

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


#: A colour per cause of a critical path (`aimcsim.hw.lanes.Cause`), keyed by the cause's text
#: in the tables' order (`CAUSES`).
CAUSE_COLOURS = {cause.value: colour for cause, colour in {
    Cause.TILE: RESOURCE_COLOURS["aimc"], Cause.CIM: RESOURCE_COLOURS["cim"],
    Cause.COMPUTE: RESOURCE_COLOURS["pmca"], Cause.STALLS: OKABE_ITO["purple"],
    Cause.DMA: RESOURCE_COLOURS["dma"], Cause.LINK: RESOURCE_COLOURS["noc"],
    Cause.WAIT_LINK: OKABE_ITO["yellow"], Cause.WAIT_CLUSTER: OKABE_ITO["grey"],
    Cause.WAIT_TCDM: OKABE_ITO["black"], Cause.WAIT_INPUTS: "#DDDDDD",
}.items()}


#: the timeline figure's lanes by resource, in this order (then by their first activity)
LANE_ORDER = {resource.value: i for i, resource in enumerate(Resource)}


def lanes(components: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Each timeline component's lane (`UnitId.lane`: links share two, the other units keep
    their own) and resource, the components read back once each."""
    units = {c: UnitId.parse(c) for c in dict.fromkeys(components)}
    return {c: (unit.lane, unit.resource.value) for c, unit in units.items()}


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
