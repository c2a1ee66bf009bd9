"""`aimcsim compare`: AIMC-only vs hybrid per point of a sweep folder."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from aimcsim.explore.sweep import compare
from aimcsim.outputs.console import percent, point_label, quantity
from aimcsim.outputs.run_folder import COMPARE_FILE, NUMBER, POINTS_FILE, RunFolder


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, help="the --out folder of a sweep")


def execute(args: argparse.Namespace) -> int:
    folder = RunFolder(args.folder)
    if not folder.has_layers:
        raise ValueError(f"{folder.path}: its points served request streams, with no AIMC-only "
                         f"run to compare against: read their figures in {POINTS_FILE.name} "
                         "(or aimcsim report)")
    table = compare(folder.path)
    points = folder.read(POINTS_FILE, {"latency_ns_aimc_only": NUMBER,
                                       "latency_ns_hybrid": NUMBER,
                                       "overhead": NUMBER}).set_index("point")
    written = folder.write_table(COMPARE_FILE, table)
    axes = [c for c in points.columns if "." in c]
    for point, group in table.groupby("point", sort=False):
        p = points.loc[point]
        print(f"{point_label({a: p[a] for a in axes})} (point {point}): aimc-only "
              f"{quantity(p['latency_ns_aimc_only'], 'ns')}, hybrid "
              f"{quantity(p['latency_ns_hybrid'], 'ns')} ({percent(p['overhead'], sign=True)})"
              f"; static layers' overhead min {percent(group.overhead.min())}, median "
              f"{percent(group.overhead.median())}, max {percent(group.overhead.max())}; "
              + busiest_text(group))
    print(f"wrote {written}")
    return 0


def busiest_text(layers: pd.DataFrame) -> str:
    """What `compare`'s `bound` column says of a point's static layers, as the resource each
    spent the most busy time on (`aimcsim.results.bound_resource`), which is not what bounds
    its latency: with the LoRA branch beside it, the tile can be the busiest resource of a
    layer the branch still lengthens. So each count comes with the median overhead of its
    layers."""
    parts = []
    for resource, rows in sorted(layers.groupby("bound"), key=lambda g: -len(g[1])):
        median = percent(rows.overhead.median())
        parts.append(f"the {resource} in {len(rows)} of {len(layers)} " + (
            f"(yet the LoRA branch adds a median {median} to them)" if resource == "tile"
            else f"(median overhead {median})"))
    return ("resource with the most busy time in the hybrid static layers (not what their "
            "latency is bound by): " + ", ".join(parts))
