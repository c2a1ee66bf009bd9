"""The default balance search over MobileBERT (384 tokens) on the shipped defaults: wall time,
how each point was rated, and (with --exhaustive) whether its answer equals a simulation of
every feasible point of the full default space, at every integration time.

Run: python benchmarks/bench_search.py [--exhaustive]. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from aimcsim import load_arch, load_workload
from aimcsim.explore.search import RATINGS, exhaustive, search
from aimcsim.explore.space import GROUP, load_space

ROOT = Path(__file__).resolve().parents[1]
ARCH = ROOT / "arch" / "hybrid.yaml"
WORKLOAD = ROOT / "workloads" / "mobilebert.yaml"
SPACE = ROOT / "arch" / "spaces" / "default.yaml"


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__)
    cli.add_argument("--exhaustive", action="store_true",
                     help="also simulate every feasible point and compare the answers")
    args = cli.parse_args()
    arch, workload, space = load_arch(ARCH), load_workload(WORKLOAD), load_space(SPACE)
    t0 = time.perf_counter()
    result = search(arch, workload, space)
    wall = time.perf_counter() - t0
    counts = result.points["rating"].value_counts()
    print(f"default search: {wall:.1f} s for {len(result.points)} points ("
          + ", ".join(f"{counts.get(r, 0)} {r}" for r in RATINGS)
          + f"), {len(result.network)} full-network runs per mode")
    if not args.exhaustive:
        return
    t0 = time.perf_counter()
    table = exhaustive(arch, workload, space)
    wall = time.perf_counter() - t0
    feasible = table[table.feasible]
    print(f"exhaustive: {wall:.1f} s, {len(feasible)} feasible points simulated")
    best = result.best.set_index(GROUP)
    agree = 0
    for key, group in feasible.groupby(GROUP):
        fastest = group.latency_ns.min()
        leanest = group[group.latency_ns == fastest].tcdm_bytes.min()
        found = best.loc[key]
        same = found.latency_ns == fastest and found.tcdm_bytes == leanest
        agree += same
        print(f"  {key[0]}x{key[1]} at {key[3]:g} ns: search {found.latency_ns:.0f} ns / "
              f"{found.tcdm_bytes} B, exhaustive {fastest:.0f} ns / {leanest} B"
              f"{'' if same else '  <-- differs'}")
    print(f"search best equals exhaustive best in {agree} of {feasible.groupby(GROUP).ngroups} "
          "groups")


if __name__ == "__main__":
    main()
