"""The figures' style: one column of a two-column paper (3.5 in wide), the Okabe-Ito
colour-blind-safe palette with one colour per resource in every kind, the units values are
shown in, and the naming of timeline lanes.

What a legend names is drawn the same in every kind (`PAINTS`, by the legend's label): a
resource's work in its colour (`RESOURCE_COLOURS`), waiting for a resource in a light tint of
its colour, hatched, and what is no resource's (waiting for inputs, idle) in greys. The two
modes are told apart by hatch, never by a colour: hybrid is hatched (`MODE_HATCHES`).
Series that are no resource (layer shapes, integration times, cache policies) take the
`series_colours` (cividis), none of which is a resource's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.colors
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from aimcsim.hw.lanes import Cause, Resource, UnitId
from aimcsim.params.units import DISPLAY_UNITS

#: Okabe & Ito (2008) colours, safe for the common colour-vision deficiencies.
OKABE_ITO = {
    "orange": "#E69F00", "sky": "#56B4E9", "green": "#009E73", "yellow": "#F0E442",
    "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7", "black": "#000000",
    "grey": "#999999",
}


#: One colour per resource, the same in every figure ("stall": waiting, which is no
#: resource's work, in grey).
RESOURCE_COLOURS = {
    "aimc": OKABE_ITO["blue"], "pmca": OKABE_ITO["vermillion"], "dma": OKABE_ITO["green"],
    "noc": OKABE_ITO["orange"], "stall": OKABE_ITO["grey"], "cim": OKABE_ITO["sky"],
    "tcdm": OKABE_ITO["purple"],
}


RESOURCE_LABELS = {"aimc": "AIMC tile", "pmca": "PMCA compute", "dma": "DMA",
                   "noc": "interconnect", "stall": "waiting", "cim": "SRAM-CIM",
                   "tcdm": "TCDM"}


def _mix(colour: str, other: str, share: float) -> str:
    """`colour` moved `share` of the way to `other` (a tint toward white, a shade toward
    black)."""
    a, b = (np.array(matplotlib.colors.to_rgb(c)) for c in (colour, other))
    return matplotlib.colors.to_hex(a + (b - a) * share)


@dataclass(frozen=True)
class Paint:
    """How one legend entry is drawn in every kind: face colour, hatch and the hatch's
    colour."""

    colour: str
    hatch: str = ""
    hatch_colour: str = OKABE_ITO["black"]
    edge: str = "none"  # outline colour ("none": no outline)

    def bar(self) -> dict[str, Any]:
        """Keyword arguments of `Axes.bar`/`barh` (and of a legend `Patch`)."""
        return {"facecolor": self.colour, "hatch": self.hatch or None,
                "hatchcolor": self.hatch_colour, "edgecolor": self.edge,
                "lw": 0.6 if self.edge != "none" else 0}

    def patch(self, label: str) -> Patch:
        """A legend key drawn as the bars are."""
        return Patch(label=label, **self.bar())


def _waiting_for(resource: str) -> Paint:
    colour = RESOURCE_COLOURS[resource]
    return Paint(_mix(colour, "#FFFFFF", 0.6), "////", colour)


_WORK = {res: Paint(colour) for res, colour in RESOURCE_COLOURS.items()}

#: What each legend label is drawn as, in every kind: labels naming the same resource's work
#: (the cause "tile", the network's "tiles" and the activity "AIMC tile") share its paint.
PAINTS: dict[str, Paint] = {
    **{RESOURCE_LABELS[res]: paint for res, paint in _WORK.items()},
    # the critical path's causes (`aimcsim.hw.lanes.Cause`)
    Cause.TILE.value: _WORK["aimc"], Cause.CIM.value: _WORK["cim"],
    Cause.COMPUTE.value: _WORK["pmca"], Cause.STALLS.value: _WORK["tcdm"],  # (its banks)
    Cause.DMA.value: _WORK["dma"], Cause.LINK.value: _WORK["noc"],
    Cause.WAIT_LINK.value: _waiting_for("noc"), Cause.WAIT_CLUSTER.value: _waiting_for("pmca"),
    Cause.WAIT_TCDM.value: _waiting_for("tcdm"), Cause.WAIT_INPUTS.value: Paint("#DDDDDD"),
    # where the whole run's time goes (`aimcsim.results.network_time`): the cluster's work in
    # its colour, attention darker and element-wise lighter
    "attention": Paint(_mix(RESOURCE_COLOURS["pmca"], "#000000", 0.45)),
    "element-wise": Paint(_mix(RESOURCE_COLOURS["pmca"], "#FFFFFF", 0.5)),
    "static-layer kernels": _WORK["pmca"], "links": _WORK["noc"], "tiles": _WORK["aimc"],
    "idle": Paint("#FFFFFF", "....", OKABE_ITO["grey"], OKABE_ITO["grey"]),
}


#: the modes by hatch (never by a resource's colour): hybrid hatched, AIMC-only plain
MODE_HATCHES = {"aimc-only": "", "hybrid": "////"}
#: a mode's bars where no resource is shown (compare, layer types): outlined, hybrid hatched
MODE_PAINTS = {mode: Paint("#FFFFFF", hatch, OKABE_ITO["black"], OKABE_ITO["black"])
               for mode, hatch in MODE_HATCHES.items()}


#: A colour per cause of a critical path (`aimcsim.hw.lanes.Cause`), keyed by the cause's text
#: in the tables' order (`CAUSES`): its paint's colour.
CAUSE_COLOURS = {cause.value: PAINTS[cause.value].colour for cause in Cause}


def series_colours(count: int) -> list[str]:
    """`count` colours for series that are no resource (shapes, integration times, cache
    policies), dark to light along cividis (colour-blind safe, ordered by lightness, and
    none a resource's colour)."""
    cmap = matplotlib.colormaps["cividis"]
    return [matplotlib.colors.to_hex(cmap(x))
            for x in (np.linspace(0.0, 0.8, count) if count > 1 else [0.0])]


def text_colour(background: Any) -> str:
    """Black or white, whichever reads on `background`."""
    r, g, b = matplotlib.colors.to_rgb(background)
    return "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"


# ---- units ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Unit:
    """A unit values are shown in: its symbol and its size in the base unit (ns or pJ)."""

    symbol: str
    size: float

    def of(self, values: Any) -> np.ndarray:
        """`values` (in the base unit) in this unit."""
        return np.asarray(values, dtype=float) / self.size


TIME_UNITS = tuple(Unit(*unit) for unit in DISPLAY_UNITS["ns"])
ENERGY_UNITS = tuple(Unit(*unit) for unit in DISPLAY_UNITS["pJ"])
#: the next unit is taken from this many of the last: an axis of values below it, with its
#: margins, ticks below 1000
_NEXT_UNIT_AT = 950.0


def _magnitude(values: Any) -> float:
    """The largest finite magnitude of `values` (arrays, tables, or a list of them), 0 for
    none."""
    if isinstance(values, (list, tuple)):
        return max((_magnitude(v) for v in values), default=0.0)
    flat = np.abs(np.asarray(values, dtype=float).ravel())
    flat = flat[np.isfinite(flat)]
    return float(flat.max()) if flat.size else 0.0


def scaled_unit(values: Any, units: Sequence[Unit]) -> Unit:
    """The largest of `units` (smallest first) in which the values' largest magnitude is at
    least 0.95, so that it shows between 0.95 and 950 (the smallest unit for tiny or no
    values). `values`: in the units' base unit; an array, a table or a list of them."""
    top = _magnitude(values)
    chosen = units[0]
    for unit in units[1:]:
        if top >= unit.size * _NEXT_UNIT_AT / 1000:
            chosen = unit
    return chosen


def time_unit(values_ns: Any) -> Unit:
    """The unit (ns, µs, ms or s) to show these times in."""
    return scaled_unit(values_ns, TIME_UNITS)


def energy_unit(values_pj: Any) -> Unit:
    """The unit (pJ, nJ, µJ, mJ or J) to show these energies in."""
    return scaled_unit(values_pj, ENERGY_UNITS)


def column_unit(column: str, values: Any) -> Unit | None:
    """The unit to show a results column in by its name's base unit (`..._ns...`: time,
    `..._pj...` but not `_pj_s`: energy), or None (not a time or an energy)."""
    words = column.split("_")
    if "ns" in words:
        return time_unit(values)
    if "pj" in words and "s" not in words[words.index("pj") + 1:]:
        return energy_unit(values)
    return None


# ---- figures -------------------------------------------------------------------------------
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


#: the timeline figure's lanes by resource, in this order (then by their first activity)
LANE_ORDER = {resource.value: i for i, resource in enumerate(Resource)}


def lanes(components: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Each timeline component's lane (`UnitId.lane`: links share two, the other units keep
    their own) and resource, the components read back once each."""
    units = {c: UnitId.parse(c) for c in dict.fromkeys(components)}
    return {c: (unit.lane, unit.resource.value) for c, unit in units.items()}


_SUFFIXES = (("_ns", "ns"), ("_bytes", "bytes"), ("_mhz", "MHz"), ("_cycles", "cycles"))


def axis_label(path: str) -> str:
    """A swept dot-path as a reader reads it: `aimc.integration_time_ns` -> `integration time
    (ns) [aimc]`."""
    section, _, name = path.rpartition(".")
    unit = ""
    for suffix, shown in _SUFFIXES:
        if name.endswith(suffix):
            name, unit = name[: -len(suffix)], shown
            break
    words = name.replace("_", " ")
    return f"{words}{f' ({unit})' if unit else ''}" + (f" [{section}]" if section else "")


def value_label(path: str, value: Any) -> str:
    """A swept value as a reader reads it: (`aimc.integration_time_ns`, 128) -> `integration
    time 128 ns`."""
    name = path.rpartition(".")[2]
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    for suffix, unit in _SUFFIXES:
        if name.endswith(suffix):
            return f"{name[: -len(suffix)].replace('_', ' ')} {shown} {unit}"
    return f"{name.replace('_', ' ')} {shown}"
