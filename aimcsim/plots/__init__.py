"""Figures from run, search, sweep and serve results (matplotlib, headless-safe).

Every function returns a `matplotlib.figure.Figure` sized for one column of a two-column paper
(3.5 in wide), with axes labelled in units scaled to the values (`time_unit`, `energy_unit`),
a legend, and the Okabe-Ito colour-blind-safe palette. A resource has the same colour in every
kind of figure (`RESOURCE_COLOURS`), a legend entry the same paint (`PAINTS`), and the modes
differ by hatch (`MODE_HATCHES`), never by a resource's colour.
"""

from __future__ import annotations

from aimcsim.plots.explore import energy_front, pareto, tokens
from aimcsim.plots.run import breakdown, compare, energy, layer_types, network, timeline
from aimcsim.plots.style import (
    CAUSE_COLOURS,
    COLUMN_WIDTH_IN,
    ENERGY_UNITS,
    MODE_HATCHES,
    MODE_PAINTS,
    OKABE_ITO,
    PAINTS,
    RESOURCE_COLOURS,
    RESOURCE_LABELS,
    STYLE,
    TIME_UNITS,
    Paint,
    Unit,
    axis_label,
    energy_unit,
    plt,
    save,
    series_colours,
    time_unit,
)
from aimcsim.plots.swept import heatmap

__all__ = ["CAUSE_COLOURS", "COLUMN_WIDTH_IN", "ENERGY_UNITS", "MODE_HATCHES", "MODE_PAINTS",
           "OKABE_ITO", "PAINTS", "RESOURCE_COLOURS", "RESOURCE_LABELS", "STYLE", "TIME_UNITS",
           "Paint", "Unit", "axis_label", "breakdown", "compare", "energy", "energy_front",
           "energy_unit", "heatmap", "layer_types", "network", "pareto", "plt", "save",
           "series_colours", "time_unit", "timeline", "tokens"]
