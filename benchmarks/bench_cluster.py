"""Simulated core-cycles per wall second of the cycle-level cluster, after JIT.

Run: python benchmarks/bench_cluster.py. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

from aimcsim import load_arch
from aimcsim.hw.pmca.cycle_level import CycleLevelPmca
from aimcsim.hw.pmca.loaduse import loaduse_matmul
from aimcsim.hw.pmca.microtile import microtile_matmul
from aimcsim.hw.pmca.redmule import engine_matmul

ARCHS = Path(__file__).resolve().parents[1] / "arch"
ARCH = ARCHS / "hybrid.yaml"  # 8 cores, 32 banks
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
        walls, singles = [], []
        for _ in range(REPEAT):
            t0 = time.perf_counter()
            stats, dataflow = run(model, m, k, n, 0, False)
            walls.append(time.perf_counter() - t0)
            t0 = time.perf_counter()  # one run of one kernel: the simulator's own speed
            one = microtile_matmul(pmca.cores, pmca.tcdm_banks, pmca.bank_width_bytes,
                                   model.lanes, 2, pmca.fpu_latency("fp16"),
                                   pmca.stream_fifo_depth, m, k, n, dataflow, False)
            singles.append(time.perf_counter() - t0)
        wall, single = min(walls), min(singles)
        core_cycles = stats.cycles * pmca.cores
        print(f"matmul {m}x{k}x{n} ({dataflow}): {stats.cycles} cycles, {stats.conflicts} "
              f"conflicts; choosing its dataflow and layout, best of {REPEAT}: "
              f"{wall * 1e3:.1f} ms ({core_cycles / wall / 1e6:.1f} M core-cycles/s of the "
              f"result); one kernel run: {one[0] * pmca.cores / single / 1e6:.1f} M "
              "core-cycles/s")
    others()


def _best(run) -> tuple[float, tuple]:
    walls = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        result = run()
        walls.append(time.perf_counter() - t0)
    return min(walls), result


def others() -> None:
    """PULP-NN's load-use kernel (one layout) and RedMulE, one run each."""
    pulp = load_arch(ARCHS / "pulp_int8.yaml").pmca
    loaduse_matmul(pulp.cores, pulp.tcdm_banks, pulp.bank_width_bytes, 4, 1, 0, 1, 8, 8, 8,
                   False)  # compiles
    for m, k, n in SHAPES:
        wall, (cycles, *_) = _best(lambda m=m, k=k, n=n: loaduse_matmul(
            pulp.cores, pulp.tcdm_banks, pulp.bank_width_bytes, 4, 1, 0, 1, m, k, n, False))
        print(f"PULP int8 load-use {m}x{k}x{n}: {cycles} cycles, one run: "
              f"{cycles * pulp.cores / wall / 1e6:.1f} M core-cycles/s")
    e = load_arch(ARCHS / "hybrid_matrix_engine.yaml").pmca
    engine = e.matrix_engine
    engine_matmul(8, 8, 8, engine.rows, engine.height, engine.pipe_regs, 2,
                  e.bank_width_bytes, e.tcdm_banks, False)  # compiles
    for m, k, n in SHAPES:
        wall, (cycles, *_) = _best(lambda m=m, k=k, n=n: engine_matmul(
            m, k, n, engine.rows, engine.height, engine.pipe_regs, 2, e.bank_width_bytes,
            e.tcdm_banks, False))
        print(f"RedMulE {engine.rows}x{engine.height} {m}x{k}x{n}: {cycles} cycles, one run "
              f"(schedule included): {cycles / wall / 1e6:.1f} M engine-cycles/s")


if __name__ == "__main__":
    main()
