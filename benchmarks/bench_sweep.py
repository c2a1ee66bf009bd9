"""Sweep throughput: full-network MobileBERT points (both modes, cycle-level cluster) per second
with 1 and 2 workers, and what op replay and kernel memoisation save on one point.

Run: python benchmarks/bench_sweep.py [--points N] (default 1,000, the figure issue 16 asks in
30 s on two cores; two workers also run a quarter and a half of them, for the scaling with
points). `--grid` instead runs a 10,000-point grid over five axes (integration time, block
size, strategy, link latency, DAC time) on two workers, and `--large N` N points of the link
latency on two workers: each prints its build, its points' rate as they finish (per tenth) and
the consolidation of the parts at the end. Prints the figures; asserts nothing.
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


#: the five-axis grid: 10 x 5 x 2 x 10 x 10 = 10,000 points (double-buffered blocks of 12 and
#: more tokens do not fit the TCDM: those are refused)
GRID = {"aimc.integration_time_ns": [64, 96, 128, 160, 192, 256, 320, 384, 448, 512],
        "pipeline.parallel_tokens": [4, 8, 12, 16, 32],
        "pipeline.strategy": ["overlapped", "double-buffered"],
        "interconnect.latency_cycles": list(range(10)),
        "aimc.dac_ns": list(range(4, 44, 4))}


def timed_sweep(folder: Path, axes: dict[str, list]) -> None:
    """A sweep of `axes` on two workers: its build, its rate per tenth of the points, the
    consolidation at its end."""
    from aimcsim.explore.sweep import run as sweep_run

    doc = {"version": 1, "name": "large", "arch": str(ARCH), "workloads": [str(WORKLOAD)],
           "modes": ["aimc-only", "hybrid"], "axes": axes}
    (folder / "large.yaml").write_text(yaml.safe_dump(doc))
    spec = load_sweep(folder / "large.yaml")
    t0 = time.perf_counter()
    points, invalid = build_points(spec)
    print(f"{len(points)} valid points ({len(invalid)} refused) built in "
          f"{time.perf_counter() - t0:.1f} s")
    marks, spent = [], {}
    step = max(1, len(points) // 10)

    def progress(done: int, total: int, failed: int, eta: float) -> None:
        if done % step == 0:
            marks.append((done, time.perf_counter()))

    consolidate = sweep_run.consolidate

    def timed(*args, **kwargs):
        t = time.perf_counter()
        consolidate(*args, **kwargs)
        spent["consolidate"] = time.perf_counter() - t

    sweep_run.consolidate = timed
    try:
        start = time.perf_counter()
        report = run_sweep(spec, folder / "out", workers=2, progress=progress)
        wall = time.perf_counter() - start
    finally:
        sweep_run.consolidate = consolidate
    rates, before = [], (0, start)
    for done, at in marks:
        rates.append(f"{(done - before[0]) / (at - before[1]):.0f}")
        before = (done, at)
    print(f"2 workers: {report.ran} points in {wall:.1f} s ({report.ran / wall:.1f} points/s, "
          f"the consolidation {spent.get('consolidate', 0):.1f} s of it); points/s per tenth "
          f"as they finished: {', '.join(rates)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, default=1000, help="points per timed sweep")
    parser.add_argument("--grid", action="store_true", help="the 10,000-point grid instead")
    parser.add_argument("--large", type=int, help="N points of the link latency instead")
    args = parser.parse_args()
    if args.grid or args.large:
        with tempfile.TemporaryDirectory() as tmp:
            timed_sweep(Path(tmp), GRID if args.grid else
                        {"interconnect.latency_cycles": list(range(args.large))})
        return
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
