"""`aimcsim compare`: AIMC-only vs hybrid per point of a sweep folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from aimcsim.explore.sweep import compare
from aimcsim.outputs.run_folder import COMPARE_FILE, NUMBER, POINTS_FILE, RunFolder


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="the --out folder of a sweep")


def execute(args: argparse.Namespace) -> int:
    folder = RunFolder(args.folder)
    table = compare(folder.path)
    points = folder.read(POINTS_FILE, {"latency_ns_aimc_only": NUMBER,
                                       "latency_ns_hybrid": NUMBER,
                                       "overhead": NUMBER}).set_index("point")
    written = folder.write_table(COMPARE_FILE, table)
    axes = [c for c in points.columns if "." in c]
    for point, group in table.groupby("point", sort=False):
        p = points.loc[point]
        params = ", ".join(f"{a}={p[a]}" for a in axes)
        bounds = ", ".join(f"the {resource} in {count}" for resource, count
                           in group["bound"].value_counts().items())
        print(f"{point} ({params}): aimc-only {p['latency_ns_aimc_only'] / 1e3:.1f} us, hybrid "
              f"{p['latency_ns_hybrid'] / 1e3:.1f} us ({p['overhead']:+.1%}); static layers "
              f"min {group.overhead.min():.1%} median {group.overhead.median():.1%} max "
              f"{group.overhead.max():.1%}; hybrid layers bound by {bounds}")
    print(f"wrote {written}")
    return 0

