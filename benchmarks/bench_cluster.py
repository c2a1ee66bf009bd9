"""Simulated core-cycles per wall second of the cycle-level cluster, after JIT.

Run: python benchmarks/bench_cluster.py. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

from aimcsim import load_arch
from aimcsim.hw.pmca_cycles import CycleLevelPmca

ARCH = Path(__file__).resolve().parents[1] / "arch" / "hybrid.yaml"  # 8 cores, 32 banks
SHAPES = [(256, 256, 256), (128, 512, 128), (64, 64, 64)]  # matmul m, k, n
REPEAT = 5  # timed runs per shape; the best is reported


def main() -> None:
    pmca = load_arch(ARCH).pmca
    t0 = time.perf_counter()
    CycleLevelPmca(pmca, "fp16").matmul(8, 8, 8)  # compiles, or loads numba's cache
    print(f"first kernel (JIT or cache load): {time.perf_counter() - t0:.2f} s")
    model = CycleLevelPmca(pmca, "fp16")
    # past the per-shape memo: every call simulates (each dataflow it has to try)
    run = CycleLevelPmca._microtile_matmul.__wrapped__
    for m, k, n in SHAPES:
        walls = []
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            stats, dataflow = run(model, m, k, n, 0, False)
            walls.append(time.perf_counter() - t0)
        wall = min(walls)
        core_cycles = stats.cycles * pmca.cores
        print(f"matmul {m}x{k}x{n} ({dataflow}): {stats.cycles} cycles, {stats.conflicts} "
              f"conflicts, best of {REPEAT}: {wall * 1e3:.1f} ms, "
              f"{core_cycles / wall / 1e6:.1f} M core-cycles/s (of the kernel chosen)")


if __name__ == "__main__":
    main()
