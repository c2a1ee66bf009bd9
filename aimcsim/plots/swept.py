"""A value of a sweep's points over two swept axes, every swept value on its axis and every
cell saying what it shows: a value, the lowest over the feasible points only (some did not
fit), no feasible point at all, or no point."""

from __future__ import annotations

import itertools
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.colors
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from aimcsim.plots.style import OKABE_ITO, _figure, _style, axis_label, column_unit, text_colour

#: what a point of a cell is: it ran and has the value, it ran without the value (NaN), it
#: is infeasible (it failed, or the sweep refused it: it does not fit), or a constraint of the
#: sweep excluded it
OK, NO_VALUE, INFEASIBLE, EXCLUDED = "ok", "no value", "infeasible", "excluded"
#: a cell with no feasible point: hatched so, on this background
NONE_FEASIBLE = {"hatch": "xxxx", "facecolor": "#F2F2F2", "hatchcolor": OKABE_ITO["grey"]}
#: a cell whose value is the lowest over its feasible points only
PARTLY_FEASIBLE = {"hatch": "///", "facecolor": "none"}
_CMAP = matplotlib.colormaps["cividis"].with_extremes(bad=NONE_FEASIBLE["facecolor"])


def _sliced(frame: pd.DataFrame, at: dict[str, Any]) -> pd.DataFrame:
    """The rows of `frame` at the fixed axes' values (none when it lacks such an axis)."""
    for axis, wanted in at.items():
        if axis not in frame:
            return frame.iloc[:0]
        column = frame[axis]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            try:
                frame = frame[np.isclose(column.astype(float), float(wanted))]
            except ValueError:
                raise ValueError(f"{axis} takes numbers, not {wanted!r}") from None
        else:
            frame = frame[column.astype(str) == str(wanted)]
    return frame


def _states(points: pd.DataFrame, unrun: pd.DataFrame | None, value: str) -> pd.DataFrame:
    """Every point of the sweep, run or not, with its `state` and `shown` value."""
    ran = points.assign(
        state=np.where(points["status"] != "ok", INFEASIBLE,
                       np.where(points[value].notna(), OK, NO_VALUE)),
        shown=points[value].where(points["status"] == "ok"))
    if unrun is None or unrun.empty:
        return ran
    reason = (unrun["reason"].astype(str) if "reason" in unrun
              else pd.Series("", index=unrun.index))
    refused = unrun.assign(state=np.where(reason.str.startswith("excluded by constraint"),
                                          EXCLUDED, INFEASIBLE), shown=np.nan)
    return pd.concat([ran, refused], ignore_index=True)


def _tick(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _cell(ax: Any, i: int, j: int, n: pd.Series, v: float, image: Any, percent: bool) -> str:
    """Write cell (row i, column j): its value `v` (NaN: none) and, by its points' counts
    `n` by state, its mark; returns the hatch it was marked with ("": none)."""
    colour, mark = OKABE_ITO["black"], ""
    if np.isfinite(v):
        text = f"{v:.1f}%" if percent else f"{v:.3g}"
        colour = text_colour(image.cmap(image.norm(v)))
        if n[INFEASIBLE]:  # the lowest over the feasible points only
            text, mark = text + "*", PARTLY_FEASIBLE["hatch"]
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, lw=0, hatchcolor=colour,
                                   alpha=0.45, **PARTLY_FEASIBLE))
    elif n[INFEASIBLE] and not n[OK] + n[NO_VALUE]:
        text, mark = "×", NONE_FEASIBLE["hatch"]
        ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, lw=0, **NONE_FEASIBLE))
    elif n[EXCLUDED] and not n[OK] + n[NO_VALUE] + n[INFEASIBLE]:
        text, colour = "excl.", OKABE_ITO["grey"]
    else:
        text, colour = "n/a", OKABE_ITO["grey"]
    box = ({"boxstyle": "square,pad=0.15", "facecolor": NONE_FEASIBLE["facecolor"], "lw": 0}
           if mark == NONE_FEASIBLE["hatch"] else None)
    ax.text(j, i, text, ha="center", va="center", fontsize=7 if box else 5, color=colour,
            bbox=box)
    return mark


def heatmap(points: pd.DataFrame, *, x: str, y: str, value: str = "overhead",
            at: dict[str, Any] | None = None, unrun: pd.DataFrame | None = None) -> Figure:
    """`value` (default: whole-network overhead) over two swept axes. `at` fixes other axes
    (a slice); where other axes still vary, each cell shows the lowest value over them and the
    title says so.

    unrun: the sweep's points that never ran (its manifest's invalid ones: their axis values
    and `reason`); a point that failed, or was refused as not fitting, is infeasible. Every
    value of `x` and `y` among all the points is on its axis. A cell with no feasible point is
    hatched (×) and has no value; one whose value is the lowest over its feasible points only
    (another alternative was infeasible) is hatched lightly and starred; one with no point, or
    no value, reads n/a; one whose points a constraint excluded reads excl.
    """
    at = at or {}
    for col in (x, y, value, *at):
        if col not in points:
            raise ValueError(f"no column {col!r} in the sweep table; columns: "
                             f"{', '.join(points.columns)}")
    every = _states(points, unrun, value)
    every = every[every[x].notna() & every[y].notna()]
    rows = _sliced(every, at)
    for axis, wanted in at.items():
        if _sliced(every, {axis: wanted}).empty:
            values = ", ".join(map(_tick, every[axis].dropna().unique()))
            raise ValueError(f"no point has {axis} = {wanted}; its values: {values}")
    if rows.empty:
        raise ValueError("no point has " + " and ".join(f"{a} = {v}" for a, v in at.items()))
    columns, index = sorted(rows[x].unique()), sorted(rows[y].unique())
    counts = rows.groupby([y, x, "state"]).size().unstack("state", fill_value=0)
    counts = counts.reindex(columns=[OK, NO_VALUE, INFEASIBLE, EXCLUDED], fill_value=0)
    lowest = rows[rows["state"] == OK].groupby([y, x])["shown"].min()
    data = np.full((len(index), len(columns)), np.nan)
    for (yv, xv), v in lowest.items():
        data[index.index(yv), columns.index(xv)] = v
    percent = value.endswith("overhead")
    unit = None if percent else column_unit(value, data)
    shown = data * 100 if percent else (unit.of(data) if unit else data)
    fig, ax = _figure(2.6 + 0.06 * max(0, len(index) - 4))
    image = ax.imshow(np.ma.masked_invalid(shown), origin="lower", aspect="auto", cmap=_CMAP)
    ax.set_xticks(range(len(columns)), [_tick(v) for v in columns])
    ax.set_yticks(range(len(index)), [_tick(v) for v in index])
    marks = {_cell(ax, i, j, counts.loc[(yv, xv)] if (yv, xv) in counts.index else
                   pd.Series(0, counts.columns), shown[i, j], image, percent)
             for (i, yv), (j, xv) in itertools.product(enumerate(index), enumerate(columns))}
    ax.set_xlabel(axis_label(x))
    ax.set_ylabel(axis_label(y))
    bar = fig.colorbar(image, ax=ax)
    bar.set_label(f"{value} (%)" if percent else f"{value} ({unit.symbol})" if unit else value)
    others = [c for c in rows.columns if "." in c and c not in (x, y, *at)
              and rows[c].nunique() > 1]
    fixed = ", ".join(f"{axis_label(a)} = {v}" for a, v in at.items())
    ax.set_title(value + (f" at {fixed}" if fixed else "")
                 + (f"; lowest over {', '.join(axis_label(o) for o in others)}" if others
                    else ""), fontsize=6)
    keys = []
    if NONE_FEASIBLE["hatch"] in marks:
        keys.append(Patch(label="× no feasible point (failed or did not fit)", lw=0,
                          **NONE_FEASIBLE))
    if PARTLY_FEASIBLE["hatch"] in marks:
        keys.append(Patch(label="* lowest over the feasible points only", lw=0.5,
                          edgecolor=OKABE_ITO["grey"], hatchcolor=OKABE_ITO["black"],
                          hatch=PARTLY_FEASIBLE["hatch"], facecolor="none"))
    if keys:
        fig.legend(handles=keys, loc="outside lower center", ncols=len(keys), frameon=False,
                   handlelength=1.4)
    return _style(fig)
