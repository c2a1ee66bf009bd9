"""Wall time of the full MobileBERT simulation (24 layers, 384 tokens) on the shipped defaults:
with the timeline (every op simulated), without it (repeated ops replayed, as sweeps and
searches run), and without it by the reference engine (`replay=False`); then how a run
without the timeline (both modes, as a sweep point) grows with tokens, layers and tiles, and
with smaller blocks, one and two in flight (two: the blocks after an op settles are skipped,
`aimcsim.sim.steady`), against the reference engine.

Run: python benchmarks/bench_simulate.py [--repeat N]. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

from aimcsim import load_arch, load_workload, simulate
from aimcsim.sim.replay import forget_shared_footprints
from aimcsim.spec.arch import Arch
from aimcsim.spec.workload import Workload, parse_workload
from aimcsim.traces import MOBILEBERT_UNCASED, mobilebert_trace

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
    scaling(arch, workload, args.repeat)


def both_modes_s(arch: Arch, workload: Workload, repeat: int) -> tuple[float, int]:
    """Best wall time of a run in each mode without the timeline, and the tiles it takes
    (each run without the footprints an earlier run shares)."""
    times = []
    for _ in range(repeat):
        forget_shared_footprints()
        t0 = time.perf_counter()
        for mode in ("aimc-only", "hybrid"):
            result = simulate(arch, workload, mode, timeline=False)
        times.append(time.perf_counter() - t0)
    return min(times), result.summary["tiles"]


def scaling(arch: Arch, workload: Workload, repeat: int) -> None:
    """A sweep point's cost (both modes, no timeline) against tokens, layers and tiles."""
    def trace(tokens: int, layers: int = 24) -> Workload:
        config = {**MOBILEBERT_UNCASED, "num_hidden_layers": layers}
        return parse_workload(mobilebert_trace(tokens, config), f"mobilebert-{tokens}-{layers}")

    print("one point, both modes, no timeline (best of each):")
    for tokens in (48, 96, 192, 384):  # (768 needs more TCDM for attention)
        wall, _ = both_modes_s(arch, trace(tokens), repeat)
        print(f"  tokens {tokens:>4} (24 layers): {wall * 1e3:6.1f} ms")
    for layers in (6, 12, 24):
        wall, _ = both_modes_s(arch, trace(384, layers), repeat)
        print(f"  layers {layers:>4} (384 tokens): {wall * 1e3:6.1f} ms")
    for side in (512, 256, 128):  # smaller crossbars: more tiles per layer
        aimc = dataclasses.replace(arch.aimc, rows=side, cols=side)
        wall, tiles = both_modes_s(dataclasses.replace(arch, aimc=aimc), workload, repeat)
        print(f"  tiles {tiles:>5} ({side}x{side} crossbars): {wall * 1e3:6.1f} ms")
    blocks(arch, workload, repeat)


def blocks(arch: Arch, workload: Workload, repeat: int) -> None:
    """A sweep point's cost against the block size, with one and two blocks in flight, and
    the reference engine's (every op and block simulated) beside it."""
    from aimcsim.sim.network import NetworkSim
    from aimcsim.sim.prepare import prepare
    from aimcsim.simulator import default_model

    print("one point, both modes, no timeline, by strategy and tokens per block (best of each;"
          " the reference engine's once):")
    for strategy in ("overlapped", "double-buffered"):
        for size in (2, 4, 8):  # (two blocks of 12 tokens overfill the TCDM)
            pipeline = dataclasses.replace(arch.pipeline, strategy=strategy,
                                           parallel_tokens=size)
            point = dataclasses.replace(arch, pipeline=pipeline)
            wall, _ = both_modes_s(point, workload, repeat)
            t0 = time.perf_counter()
            for mode in ("aimc-only", "hybrid"):
                simulate(point, workload, mode, timeline=False, replay=False)
            reference = time.perf_counter() - t0
            skipped = 0
            for mode in ("aimc-only", "hybrid"):
                sim = NetworkSim(prepare(point, workload, mode, default_model(point)),
                                 record=False)
                sim.run()
                skipped += sim.steady_blocks
            print(f"  {strategy:>15} {size:>3} tokens: {wall * 1e3:6.1f} ms (reference "
                  f"{reference * 1e3:7.1f} ms; blocks skipped in a steady state: {skipped})")


if __name__ == "__main__":
    main()
