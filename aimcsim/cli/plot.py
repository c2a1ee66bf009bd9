"""`aimcsim plot`: draw a figure (or every figure) from a run, search, sweep or serve folder."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from aimcsim import plots
from aimcsim.outputs.figures import FIGURES, Options, drawable
from aimcsim.outputs.run_folder import RunFolder
from aimcsim.spec.arch import MODES


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path,
                        help="the --out folder of run, search, sweep or serve")
    parser.add_argument("--kind", required=True, choices=[*FIGURES, "all"],
                        help="a registered figure, or all (every one the folder has the data "
                             "for, each as KIND.png in the folder or in --out)")
    parser.add_argument("--out", type=Path, default=None,
                        help="figure file: .png, .pdf or .svg (default: KIND.png in the results "
                             "folder); with --kind all, a folder")
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


def _options(args: argparse.Namespace) -> Options:
    at = {}
    for item in args.at:
        axis, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--at {item}: expected AXIS=VALUE, e.g. lora.rank=8")
        at[axis.strip()] = value.strip()
    return Options(mode=args.mode, block=args.block, point=args.point,
                   integration_time=args.integration_time, x=args.x, y=args.y,
                   value=args.value, at=at)


def execute(args: argparse.Namespace) -> int:
    results = RunFolder(args.results)
    source = results.kind  # (a folder of no kind is refused first)
    options = _options(args)
    if args.kind == "all":
        folder = args.out or args.results
        if folder.suffix.lower() in _SUFFIXES:
            raise ValueError(f"--out {folder}: with --kind all, --out is a folder (each figure "
                             "is KIND.png in it)")
        if source == "run" and options.mode not in results.modes:  # (the run's own mode)
            options = dataclasses.replace(options, mode=results.modes[-1])
        kinds = drawable(results)
        for kind in kinds:
            _save(kind.draw(results, options), folder / f"{kind.name}.png")
        print(f"wrote {len(kinds)} figures into {folder}: "
              + ", ".join(k.name for k in kinds))
        return 0
    kind = FIGURES[args.kind]
    if source not in kind.sources:
        raise ValueError(f"--kind {args.kind} draws results of {' or '.join(kind.sources)}; "
                         f"{args.results} holds {source} results")
    if not kind.available(results):
        raise ValueError(f"{args.results} has not what --kind {args.kind} draws ({kind.caption});"
                         f" it has: {', '.join(k.name for k in drawable(results)) or 'none'}")
    out = args.out or args.results / f"{args.kind}.png"
    _check_suffix(out)
    _save(kind.draw(results, options), out)
    return 0


_SUFFIXES = (".png", ".pdf", ".svg")


def _check_suffix(out: Path) -> None:
    if out.suffix.lower() not in _SUFFIXES:
        raise ValueError(f"--out {out}: the figure file must end in .png, .pdf or .svg")


def _save(fig: object, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    plots.save(fig, str(out))
    print(f"wrote {out}")
