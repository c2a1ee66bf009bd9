"""Wall time of the default balance search over MobileBERT (384 tokens) on the shipped defaults.

Run: python benchmarks/bench_search.py. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

from aimcsim import load_arch, load_workload
from aimcsim.search import load_space, search

ROOT = Path(__file__).resolve().parents[1]
ARCH = ROOT / "arch" / "hybrid.yaml"
WORKLOAD = ROOT / "workloads" / "mobilebert.yaml"
SPACE = ROOT / "arch" / "spaces" / "default.yaml"


def main() -> None:
    arch, workload, space = load_arch(ARCH), load_workload(WORKLOAD), load_space(SPACE)
    t0 = time.perf_counter()
    result = search(arch, workload, space)
    wall = time.perf_counter() - t0
    print(f"default search: {wall:.1f} s for {len(result.points)} points, "
          f"{int(result.points['simulated'].sum())} confirmed by simulation, "
          f"{len(result.network)} full-network runs per mode")


if __name__ == "__main__":
    main()
