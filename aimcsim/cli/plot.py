"""`aimcsim plot`: draw a figure from a run, search or sweep folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from aimcsim import plots
from aimcsim.outputs.run_folder import (
    CRITICAL,
    LAYERS,
    POINT_FIGURES,
    POINTS,
    SEARCH,
    TEXT,
    TIMELINE,
    read_table,
    recorded_arch,
)
from aimcsim.plots import KINDS
from aimcsim.search import (
    token_curves,
)
from aimcsim.spec.arch import MODES

_PLOT_SOURCES = {"breakdown": ("run", "sweep"), "compare": ("run", "sweep"),
                 "layer-types": ("run", "sweep"), "energy": ("run", "sweep"),
                 "energy-front": ("sweep",),
                 "timeline": ("run",), "network": ("run",), "tokens": ("search",),
                 "pareto": ("search",),
                 "heatmap": ("sweep",)}


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, help="the --out folder of run, search or sweep")
    parser.add_argument("--kind", required=True, choices=KINDS)
    parser.add_argument("--out", type=Path, default=None,
                        help="figure file: .png, .pdf or .svg (default: KIND.png in the results "
                             "folder)")
    parser.add_argument("--mode", choices=MODES, default="hybrid", help="run results: which mode")
    parser.add_argument("--block", type=int, default=0,
                        help="transformer block (breakdown, timeline)")
    parser.add_argument("--point", default=None, help="sweep point id (breakdown, compare)")
    parser.add_argument("--integration-time", type=float, default=None,
                        help="pareto: integration time in ns (default: the middle one)")
    parser.add_argument("--x", default=None, help="heatmap: swept axis on x (default: the first)")
    parser.add_argument("--y", default=None, help="heatmap: swept axis on y (default: the second)")
    parser.add_argument("--value", default="overhead", help="heatmap: column of points to show")
    parser.add_argument("--at", action="append", default=[], metavar="AXIS=VALUE",
                        help="heatmap: fix another swept axis to one value (repeatable)")


def execute(args: argparse.Namespace) -> int:
    source = _results_kind(args.results)
    if source not in _PLOT_SOURCES[args.kind]:
        raise ValueError(f"--kind {args.kind} draws results of "
                         f"{' or '.join(_PLOT_SOURCES[args.kind])}; {args.results} holds {source} "
                         "results")
    if args.out is None:
        args.out = args.results / f"{args.kind}.png"
    if args.out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ValueError(f"--out {args.out}: the figure file must end in .png, .pdf or .svg")
    layers = None
    if source == "run":
        layers = read_table(args.results / "layers.csv", LAYERS)
    elif source == "sweep" and args.kind in ("breakdown", "compare", "layer-types", "energy"):
        layers = read_table(args.results / "layers.parquet", {"point": TEXT, **LAYERS})
        point = args.point or layers["point"].iloc[0]
        layers = layers[layers["point"] == point]
        if layers.empty:
            raise ValueError(f"no point {point!r} in {args.results}")
    if args.kind == "breakdown":
        recorded = args.results / "timeline.parquet"
        critical = args.results / "critical_path.csv"
        fig = plots.breakdown(
            layers, read_table(recorded, TIMELINE) if source == "run" and recorded.exists()
            else None,
            critical=read_table(critical, CRITICAL) if source == "run" and critical.exists()
            else None,
            mode=args.mode, block=args.block,
            title=f"block {args.block}, {args.mode}"
            + (f", sweep point {layers['point'].iloc[0]}" if source == "sweep" else ""))
    elif args.kind == "compare":
        fig = plots.compare(layers)
    elif args.kind == "layer-types":
        fig = plots.layer_types(layers)
    elif args.kind == "energy":
        fig = plots.energy(layers)
    elif args.kind == "energy-front":
        fig = plots.energy_front(read_table(args.results / "points.parquet", POINTS, POINT_FIGURES),
                                 mode=args.mode)
    elif args.kind == "network":
        fig = plots.network(read_table(args.results / "timeline.parquet", TIMELINE), layers)
    elif args.kind == "timeline":
        fig = plots.timeline(read_table(args.results / "timeline.parquet", TIMELINE),
                             block=args.block, mode=args.mode, layers=layers)
    elif args.kind in ("tokens", "pareto"):
        points = read_table(args.results / "search.csv", SEARCH)
        arch = recorded_arch(args.results)  # (never a path read from a results file)
        if args.kind == "pareto":
            fig = plots.pareto(points, integration_time_ns=args.integration_time,
                               capacity_bytes=arch.pmca.tcdm_bytes)
        else:
            fig = plots.tokens(token_curves(arch, points), capacity_bytes=arch.pmca.tcdm_bytes,
                               strategy=f"{arch.pipeline.strategy}, {arch.pipeline.tile_output}")
    else:
        points = read_table(args.results / "points.parquet", POINTS, POINT_FIGURES)
        axes = [c for c in points.columns if "." in c and points[c].nunique() > 1]
        x = args.x or (axes[0] if axes else None)
        y = args.y or (axes[1] if len(axes) > 1 else None)
        if x is None or y is None:
            raise ValueError("heatmap needs two swept axes with several values; found "
                             + (", ".join(axes) or "none"))
        at = {}
        for item in args.at:
            axis, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--at {item}: expected AXIS=VALUE, e.g. lora.rank=8")
            at[axis.strip()] = value.strip()
        fig = plots.heatmap(points, x=x, y=y, value=args.value, at=at)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plots.save(fig, str(args.out))
    print(f"wrote {args.out}")
    return 0


def _results_kind(folder: Path) -> str:
    if (folder / "manifest.json").exists() and (folder / "points.parquet").exists():
        return "sweep"
    if (folder / "search.csv").exists():
        return "search"
    if (folder / "layers.csv").exists():
        return "run"
    raise ValueError(f"{folder} holds no results of run (layers.csv), search (search.csv) or "
                     "sweep (points.parquet)")

