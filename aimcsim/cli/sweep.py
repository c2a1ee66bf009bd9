"""`aimcsim sweep`: run a design-space sweep from a sweep YAML."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from aimcsim.cli.main import set_argument
from aimcsim.explore.sweep import build_points, load_sweep, plain_progress, run_sweep
from aimcsim.outputs.run_folder import (
    LAYERS_FILE,
    POINT_LAYERS_FILE,
    POINTS_CSV_FILE,
    POINTS_FILE,
    RunFolder,
)
from aimcsim.spec.overrides import load_arch_with, parse_sets


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sweep", help="sweep YAML (see arch/sweeps/)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the tables and parts")
    parser.add_argument("--workers", type=int, default=1, help="local worker processes")
    parser.add_argument("--scheduler", default=None,
                        help="address of a Dask distributed scheduler to run on instead")
    parser.add_argument("--resume", action="store_true", help="skip the points already finished")
    parser.add_argument("--csv", action="store_true", help=f"also write {POINTS_CSV_FILE.name} and "
                        f"{LAYERS_FILE.name}")
    set_argument(parser)


def execute(args: argparse.Namespace) -> int:
    cpus = os.cpu_count() or 1
    if not 1 <= args.workers <= cpus:
        raise ValueError(f"--workers must be in 1..{cpus} (this machine's CPUs), got "
                         f"{args.workers}")
    sets = parse_sets(args.set)
    spec = load_sweep(args.sweep, sets)
    points, invalid = build_points(spec)
    print(f"{spec.name}: {len(points) + len(invalid)} points, {len(points)} valid, "
          f"{len(invalid)} skipped")
    for bad in invalid:
        params = ", ".join(f"{k}={v}" for k, v in dict(bad.params).items())
        print(f"  skipped point {bad.index} ({params}): {bad.reason}")
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm  # a terminal progress bar with rate and ETA

        bar = tqdm(total=len(points), unit="point", file=sys.stderr)

        def progress(done: int, total: int, failed: int, eta_s: float) -> None:
            bar.n = done
            bar.set_postfix(failed=failed, refresh=False)
            bar.refresh()
    else:
        progress = plain_progress()
    try:
        report = run_sweep(spec, args.out, workers=args.workers, scheduler=args.scheduler,
                           resume=args.resume, csv=args.csv, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    folder = RunFolder(args.out)
    folder.record_sweep(spec.file, load_arch_with(spec.arch_file, sets), sets)
    state = "interrupted" if report.interrupted else "finished"
    print(f"{state}: {report.ran} run now, {report.skipped} already done, {report.failed} failed; "
          f"tables in {folder.file(POINTS_FILE)} and {folder.file(POINT_LAYERS_FILE)}")
    return 130 if report.interrupted else 0

