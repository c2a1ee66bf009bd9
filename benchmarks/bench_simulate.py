"""Wall time of the full MobileBERT simulation (24 layers, 384 tokens) on the shipped defaults:
with the timeline (every op simulated), without it (repeated ops replayed, as sweeps and
searches run), and without it by the reference engine (`replay=False`).

Run: python benchmarks/bench_simulate.py [--repeat N]. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from aimcsim import load_arch, load_workload, simulate

ROOT = Path(__file__).resolve().parents[1]
ARCH = ROOT / "arch" / "hybrid.yaml"  # shipped default architecture
WORKLOAD = ROOT / "workloads" / "mobilebert.yaml"  # 24 layers, 384 tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per mode")
    args = parser.parse_args()
    t0 = time.perf_counter()
    arch, workload = load_arch(ARCH), load_workload(WORKLOAD)
    print(f"load arch + trace: {time.perf_counter() - t0:.3f} s ({len(workload.ops)} ops)")
    for how, options in (("timeline", {}), ("no timeline", {"timeline": False}),
                         ("reference", {"timeline": False, "replay": False})):
        for mode in ("hybrid", "aimc-only"):
            times = []
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                result = simulate(arch, workload, mode, **options)
                times.append(time.perf_counter() - t0)
            print(f"{how:>11} {mode:>9}: best {min(times):.3f} s, median "
                  f"{sorted(times)[len(times) // 2]:.3f} s over {args.repeat} runs; "
                  f"{len(result._timeline)} timeline records; simulated "
                  f"{result.summary['total_latency_ns'] / 1e6:.3f} ms")


if __name__ == "__main__":
    main()
