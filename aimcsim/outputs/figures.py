"""Figures as a registry: each kind says which results it draws, how, and its caption.

`@figure(name=..., sources=(...), caption=...)` registers a function `draw(results, options)`
that returns a matplotlib figure from a results folder (`aimcsim.outputs.run_folder.RunFolder`,
also named `Results` here: its tables, read once, and which kind of folder it is: run, search
or sweep). `aimcsim plot --kind NAME` draws one, `--kind all` every kind the folder has the
data for, and the report (`aimcsim.outputs.report`) embeds those a folder's report shows (`report`:
the options and captions of each, or none).
A new figure is one decorated function in a module of your own (tests/toy_figure.py adds one);
the drawing itself lives in `aimcsim.plots`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from aimcsim import plots
from aimcsim.outputs.run_folder import (
    KINDS,
    LOAD_FILE,
    REQUESTS_FILE,
    RunFolder,
    folder_kind,
)
from aimcsim.plots import serve as serve_plots

#: the kinds of results folder a figure may draw (`aimcsim.outputs.run_folder.KINDS`)
KINDS_OF_FOLDER = KINDS
#: what a figure is given to draw from: a results folder (the name figures have used)
Results = RunFolder


@dataclass(frozen=True)
class Options:
    """What a figure may be asked to show (the `plot` command's options)."""

    mode: str = "hybrid"
    block: int = 0
    point: str | None = None
    integration_time: float | None = None
    x: str | None = None
    y: str | None = None
    value: str = "overhead"
    at: dict[str, str] = field(default_factory=dict)


Draw = Callable[[RunFolder, Options], Any]
#: what a folder's report shows of a kind: (options, caption) per figure
Report = Callable[[RunFolder], list[tuple[Options, str]]]


@dataclass(frozen=True)
class FigureKind:
    name: str
    sources: tuple[str, ...]  # the kinds of folder it draws
    caption: str  # what it shows, in a line (`plot --help`, the report's default caption)
    draw: Draw
    available: Callable[[RunFolder], bool]  # the folder has what it needs
    report: Report | None  # what the report shows of it (None: nothing)


#: every registered figure kind, in the order a report shows them
FIGURES: dict[str, FigureKind] = {}


def figure(*, name: str, sources: tuple[str, ...], caption: str,
           available: Callable[[RunFolder], bool] | None = None,
           report: Report | bool = True) -> Callable[[Draw], Draw]:
    """Register `draw(results, options) -> matplotlib Figure` as figure kind `name`.
    `report`: True shows it once with the default options and `caption`; a function gives
    the (options, caption) of each figure the report shows; False leaves it out."""
    unknown = set(sources) - set(KINDS_OF_FOLDER)
    if unknown:
        raise ValueError(f"figure {name!r}: sources {sorted(unknown)} are not kinds of "
                         f"results ({', '.join(KINDS_OF_FOLDER)})")

    def register(draw: Draw) -> Draw:
        if name in FIGURES:
            raise ValueError(f"figure {name!r} is registered already")
        shown: Report | None = ((lambda results: [(Options(), caption)]) if report is True
                                else report or None)
        FIGURES[name] = FigureKind(name, tuple(sources), caption, draw,
                                   available or (lambda results: True), shown)
        return draw
    return register


def drawable(results: RunFolder) -> list[FigureKind]:
    """The kinds this folder has the data for, in registry order."""
    return [f for f in FIGURES.values() if results.kind in f.sources and f.available(results)]


# ---- the shipped figures -------------------------------------------------------------------
def _run_mode(results: RunFolder) -> str:
    return "hybrid" if "hybrid" in results.modes else results.modes[0]


def _breakdown_report(results: RunFolder) -> list[tuple[Options, str]]:
    if results.kind != "run":
        return []
    mode = _run_mode(results)
    caption = (f"Block 0, {mode}: each static layer's latency "
               + ("along its critical path, by cause" if results.critical is not None
                  else "by activity")
               + (", with the AIMC-only latency ticked" if len(results.modes) == 2 else ""))
    return [(Options(mode=mode), caption)]


@figure(name="breakdown", sources=("run", "sweep"),
        caption="each static layer's latency by cause (or activity) in one block",
        available=lambda r: r.has_layers, report=_breakdown_report)
def _breakdown(results: RunFolder, o: Options) -> Any:
    layers = results.point_layers(o.point)
    return plots.breakdown(
        layers, results.timeline, critical=results.critical, mode=o.mode, block=o.block,
        title=f"block {o.block}, {o.mode}"
        + (f", sweep point {layers['point'].iloc[0]}" if results.kind == "sweep" else ""))


def _both_modes(results: RunFolder) -> bool:
    return results.has_layers and {"aimc-only", "hybrid"} <= set(results.layers["mode"])


@figure(name="compare", sources=("run", "sweep"), caption="AIMC-only vs hybrid per layer type",
        available=_both_modes,
        report=lambda r: [(Options(), "AIMC-only vs hybrid per layer type")]
        if r.kind == "run" and len(r.modes) == 2 else [])
def _compare(results: RunFolder, o: Options) -> Any:
    return plots.compare(results.point_layers(o.point))


@figure(name="layer-types", sources=("run", "sweep"),
        caption="total latency per layer type over the blocks, AIMC-only vs hybrid",
        available=_both_modes, report=False)
def _layer_types(results: RunFolder, o: Options) -> Any:
    return plots.layer_types(results.point_layers(o.point))


@figure(name="energy", sources=("run", "sweep"),
        caption="Dynamic energy by component per layer type, and the whole run",
        available=lambda r: r.has_layers and bool(r.layers["energy_pj"].notna().any()),
        report=lambda r: [(Options(), "Dynamic energy by component per layer type, and the "
                                      "whole run")] if r.kind == "run" else [])
def _energy(results: RunFolder, o: Options) -> Any:
    return plots.energy(results.point_layers(o.point))


@figure(name="network", sources=("run",),
        caption="Where the whole run's time goes, each instant once",
        available=lambda r: r.timeline is not None)
def _network(results: RunFolder, o: Options) -> Any:
    return plots.network(results.timeline, results.layers)


@figure(name="timeline", sources=("run",), caption="activity per component in one block",
        available=lambda r: r.timeline is not None,
        report=lambda r: [(Options(mode=_run_mode(r)),
                           f"Block 0, {_run_mode(r)}: activity per component")])
def _timeline(results: RunFolder, o: Options) -> Any:
    return plots.timeline(results.timeline, block=o.block, mode=o.mode, layers=results.layers)


@figure(name="tokens", sources=("search",),
        caption="latency and TCDM against parallel tokens per layer shape (the study's Fig. 4)",
        available=lambda r: r.has_arch, report=False)
def _tokens(results: RunFolder, o: Options) -> Any:
    from aimcsim.explore.network import token_curves  # (the search's own runs)

    arch = results.arch
    return plots.tokens(token_curves(arch, results.search), capacity_bytes=arch.pmca.tcdm_bytes,
                        strategy=f"{arch.pipeline.strategy}, {arch.pipeline.tile_output}")


def _pareto_report(results: RunFolder) -> list[tuple[Options, str]]:
    return [(Options(integration_time=float(t)), f"Latency against TCDM at {t:g} ns")
            for t in sorted(results.search["integration_time_ns"].unique())]


@figure(name="pareto", sources=("search",), caption="latency against TCDM per layer shape",
        report=_pareto_report)
def _pareto(results: RunFolder, o: Options) -> Any:
    capacity = results.arch.pmca.tcdm_bytes if results.has_arch else None
    return plots.pareto(results.search, integration_time_ns=o.integration_time,
                        capacity_bytes=capacity)


def _unrun(results: RunFolder) -> pd.DataFrame:
    """A sweep's points that never ran (its manifest's invalid ones: refused as not fitting,
    or excluded by a constraint): their values of the points table's swept axes and
    `reason`. The manifest is only read: an entry that is not one is left out."""
    entries = results.manifest.get("invalid")
    axes = [c for c in results.points.columns if "." in c]
    rows = []
    for entry in entries if isinstance(entries, list) else []:
        params = entry.get("params") if isinstance(entry, dict) else None
        if not isinstance(params, dict):
            continue
        row = {a: params[a] for a in axes if isinstance(params.get(a), (str, int, float))}
        reason = entry.get("reason")
        rows.append({**row, "reason": reason if isinstance(reason, str) else ""})
    return pd.DataFrame(rows, columns=[*axes, "reason"])


def _varied(results: RunFolder) -> list[str]:
    """The swept axes with several values over all the sweep's points, run or not."""
    every = pd.concat([results.points, _unrun(results)], ignore_index=True)
    return [c for c in results.points.columns if "." in c and every[c].nunique() > 1]


@figure(name="heatmap", sources=("sweep",), caption="a value over two swept axes",
        available=lambda r: len(_varied(r)) >= 2,
        report=lambda r: [(Options(), f"Network overhead over {_varied(r)[0]} and "
                                      f"{_varied(r)[1]}")]
        if "overhead" in r.points else [(Options(value="tpot_ns_p99"), f"Time per output "
                                         f"token, p99, over {_varied(r)[0]} and "
                                         f"{_varied(r)[1]}")]
        if "tpot_ns_p99" in r.points else [])
def _heatmap(results: RunFolder, o: Options) -> Any:
    axes = _varied(results)
    x = o.x or (axes[0] if axes else None)
    y = o.y or (axes[1] if len(axes) > 1 else None)
    if x is None or y is None:
        raise ValueError("heatmap needs two swept axes with several values; found "
                         + (", ".join(axes) or "none"))
    value = o.value
    if value == "overhead" and "overhead" not in results.points \
            and "tpot_ns_p99" in results.points:  # (a serve sweep's points: no overhead)
        value = "tpot_ns_p99"
    return plots.heatmap(results.points, x=x, y=y, value=value, at=o.at,
                         unrun=_unrun(results))


@figure(name="energy-front", sources=("sweep",), caption="Latency against energy, hybrid",
        available=lambda r: r.points.get("energy_pj_hybrid",
                                         pd.Series(dtype=float)).notna().any())
def _energy_front(results: RunFolder, o: Options) -> Any:
    return plots.energy_front(results.points, mode=o.mode)


@figure(name="load", sources=("serve",),
        caption="time to first token and per output token against offered load",
        available=lambda r: r.file(LOAD_FILE).exists())
def _load(results: RunFolder, o: Options) -> Any:
    return serve_plots.load(results.read(LOAD_FILE))


@figure(name="adapters", sources=("serve",),
        caption="adapter loads from off chip against the number of adapters, per cache policy",
        available=lambda r: r.file(LOAD_FILE).exists()
        and r.read(LOAD_FILE).get("adapters", pd.Series(dtype=int)).nunique() > 1)
def _adapters(results: RunFolder, o: Options) -> Any:
    return serve_plots.adapters(results.read(LOAD_FILE))


@figure(name="latency", sources=("serve",),
        caption="the requests' time to first token and per output token (CDF)",
        available=lambda r: r.file(REQUESTS_FILE).exists())
def _latency(results: RunFolder, o: Options) -> Any:
    return serve_plots.latency(results.read(REQUESTS_FILE))


__all__ = ["FIGURES", "KINDS_OF_FOLDER", "FigureKind", "Options", "RunFolder", "drawable",
           "figure", "folder_kind"]
