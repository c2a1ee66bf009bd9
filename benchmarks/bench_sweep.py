"""Sweep throughput: full-network MobileBERT points (both modes, cycle-level cluster) per second
with 1 and 2 workers, and what op replay and kernel memoisation save on one point.

Run: python benchmarks/bench_sweep.py [--points N] (default 1,000, the figure issue 16 asks in
30 s on two cores; two workers also run a quarter and a half of them, for the scaling with
points). Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import yaml

from aimcsim import load_workload, simulate
from aimcsim.explore.sweep import Point, build_points, load_sweep, run_point, run_sweep
from aimcsim.explore.sweep.run import _run
from aimcsim.explore.sweep.store import PART, _persist, read_part
from aimcsim.hw.pmca.cycle_level import CycleLevelPmca
from aimcsim.hw.pmca.memo import ENV

ROOT = Path(__file__).resolve().parents[1]
ARCH = ROOT / "arch" / "hybrid.yaml"  # shipped default: 8 cores, 128 KiB, 256 ns tiles
WORKLOAD = ROOT / "workloads" / "mobilebert.yaml"  # 24 layers, 384 tokens


def sweep_file(folder: Path, points: int) -> Path:
    """`points` points, each in both modes: the link latency is swept, so every point is
    distinct."""
    doc = {"version": 1, "name": "bench", "arch": str(ARCH), "workloads": [str(WORKLOAD)],
           "modes": ["aimc-only", "hybrid"],
           "axes": {"interconnect.latency_cycles": list(range(points))}}
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


class Unmemoised(CycleLevelPmca):
    """The cycle-level cluster with its per-shape memo bypassed: every kernel runs again."""

    def matmul(self, m: int, k: int, n: int, dma_bytes: int = 0, accumulate: bool = False):
        return CycleLevelPmca.matmul.__wrapped__(self, m, k, n, dma_bytes, accumulate)

    def _microtile_matmul(self, m: int, k: int, n: int, dma_bytes: int, accumulate: bool):
        return CycleLevelPmca._microtile_matmul.__wrapped__(self, m, k, n, dma_bytes, accumulate)

    def elementwise(self, function: str, elements: int):
        return CycleLevelPmca.elementwise.__wrapped__(self, function, elements)

    def dma(self, nbytes: int):
        return CycleLevelPmca.dma.__wrapped__(self, nbytes)


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def part_io(folder: Path, point: Point, runs: int = 200) -> None:
    """The hot path of storage: a point's part written (encoded, written, renamed) and read
    back (read, parsed, validated) as a sweep and its resume do, per point."""
    row, columns = _run(point)
    (folder / "io" / "parts").mkdir(parents=True)
    names = iter(range(runs))  # a new part each time, as in a sweep (no file replaced)
    write = best_of(runs, lambda: _persist(folder / "io", {**row, "point": next(names)},
                                           columns))
    path = folder / "io" / "parts" / f"{point.id}{PART}"
    _persist(folder / "io", row, columns)
    read = best_of(runs, lambda: read_part(path, point))
    print(f"a point's part ({len(columns['layer'])} layers rows, {path.stat().st_size / 1e6:.2f} "
          f"MB): written in {write * 1e3:.2f} ms, read back and checked in {read * 1e3:.2f} ms "
          f"(best of {runs})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1000, help="points per timed sweep")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = load_sweep(sweep_file(Path(tmp), args.points))
        point = build_points(spec)[0][0]
        run_point(point)  # JIT and imports
        workload = load_workload(WORKLOAD)
        arch = point.arch
        both = ("aimc-only", "hybrid")
        memo = os.environ.get(ENV)
        fast = best_of(5, lambda: [simulate(arch, workload, m, timeline=False) for m in both])
        reference = best_of(2, lambda: [simulate(arch, workload, m, timeline=False,
                                                 replay=False) for m in both])
        os.environ[ENV] = "off"  # (and without the kernel store on disk)
        try:
            bare = best_of(1, lambda: [simulate(arch, workload, m, timeline=False,
                                                replay=False,
                                                model=Unmemoised(arch.pmca, arch.lora.dtype))
                                       for m in both])
        finally:
            if memo is None:
                del os.environ[ENV]
            else:
                os.environ[ENV] = memo
        print(f"one point, both modes: {fast * 1e3:.0f} ms replaying repeated ops, "
              f"{reference * 1e3:.0f} ms simulating every op ({reference / fast:.1f}x), "
              f"{bare * 1e3:.0f} ms also running every kernel again")
        part_io(Path(tmp), point)
        # (2 workers: the first quarter and half of the points too, for the scaling)
        for workers, points in ((1, args.points), (2, args.points // 4), (2, args.points // 2),
                                (2, args.points)):
            t0 = time.perf_counter()
            run_sweep(spec, Path(tmp) / f"w{workers}-{points}", workers=workers, limit=points)
            wall = time.perf_counter() - t0
            rate = points / wall
            print(f"{workers} worker(s): {points} points in {wall:.1f} s, {rate:.2f} points/s "
                  f"-> 1,000 points in about {1000 / rate:.0f} s")


if __name__ == "__main__":
    main()
