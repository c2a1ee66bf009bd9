"""Figures from run, search, sweep and serve results (matplotlib, headless-safe).

Every function returns a `matplotlib.figure.Figure` sized for one column of a two-column paper
(3.5 in wide), with axes labelled in units, a legend, and the Okabe-Ito colour-blind-safe
palette. A resource has the same colour in every kind of figure (`RESOURCE_COLOURS`).
"""

from __future__ import annotations

from aimcsim.plots.explore import energy_front, heatmap, pareto, tokens
from aimcsim.plots.run import breakdown, compare, energy, layer_types, network, timeline
from aimcsim.plots.style import (
    CAUSE_COLOURS,
    COLUMN_WIDTH_IN,
    MODE_COLOURS,
    OKABE_ITO,
    RESOURCE_COLOURS,
    RESOURCE_LABELS,
    STYLE,
    axis_label,
    plt,
    save,
)

__all__ = ["CAUSE_COLOURS", "COLUMN_WIDTH_IN", "MODE_COLOURS", "OKABE_ITO", "RESOURCE_COLOURS",
           "RESOURCE_LABELS", "STYLE", "axis_label", "breakdown", "compare", "energy",
           "energy_front", "heatmap", "layer_types", "network", "pareto", "plt", "save",
           "timeline", "tokens"]
