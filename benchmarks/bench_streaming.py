"""Streaming (`pipeline.between_layers: streaming`, every layer on its own tiles, blocks flowing
through) against layer-by-layer, on the shipped default architecture and MobileBERT: a sweep
point's wall time (both modes, no timeline) and how it grows with layers, tokens and repeated
blocks (more blocks of one size), on point-to-point links and on a mesh (shared links).

Layer-by-layer runs replay repeated ops (`aimcsim.sim.replay`); a streaming run on
point-to-point links replays its settled layers (`aimcsim.sim.layers`), on shared links it
simulates every op and block. Each row prints the layer-by-layer point, the streaming point,
and the streaming point on the reference engine (`replay=False`, every op simulated).

Run: python benchmarks/bench_streaming.py [--repeat N]. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import warnings
from pathlib import Path

from aimcsim import load_arch, simulate
from aimcsim.cost import CostWarning
from aimcsim.sim.replay import forget_shared_footprints
from aimcsim.spec.arch import Arch
from aimcsim.spec.workload import Workload, parse_workload
from aimcsim.traces import MOBILEBERT_UNCASED, mobilebert_trace

ROOT = Path(__file__).resolve().parents[1]
ARCH = ROOT / "arch" / "hybrid.yaml"  # shipped default architecture


def _between(arch: Arch, between: str, **pipeline: int) -> Arch:
    return dataclasses.replace(arch, pipeline=dataclasses.replace(
        arch.pipeline, between_layers=between, **pipeline))


def _trace(tokens: int, layers: int = 24) -> Workload:
    config = {**MOBILEBERT_UNCASED, "num_hidden_layers": layers}
    return parse_workload(mobilebert_trace(tokens, config), f"mobilebert-{tokens}-{layers}")


def point_s(arch: Arch, workload: Workload, repeat: int, replay: bool = True) -> float:
    """Best wall time of one sweep point: both modes, no timeline (after a warm-up run; each
    run without the footprints an earlier run shares, as a sweep's first point of its case)."""
    best = float("inf")
    for i in range(repeat + 1):
        forget_shared_footprints()
        t0 = time.perf_counter()
        for mode in ("aimc-only", "hybrid"):
            simulate(arch, workload, mode, timeline=False, replay=replay)
        if i:  # (the first run compiles and fills the kernel store)
            best = min(best, time.perf_counter() - t0)
    return best


def row(label: str, arch: Arch, workload: Workload, repeat: int, **pipeline: int) -> None:
    layer = point_s(_between(arch, "layer-by-layer", **pipeline), workload, repeat)
    streaming = _between(arch, "streaming", **pipeline)
    stream = point_s(streaming, workload, repeat)
    every_op = point_s(streaming, workload, max(1, repeat // 3), replay=False)
    print(f"  {label:<38} layer-by-layer {layer * 1e3:6.1f} ms, streaming "
          f"{stream * 1e3:6.1f} ms ({stream / layer:4.1f}x; every op simulated "
          f"{every_op * 1e3:6.1f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per figure")
    args = parser.parse_args()
    warnings.simplefilter("ignore", CostWarning)  # (the default chip is above one reticle)
    base = load_arch(ARCH)
    mesh = dataclasses.replace(base, interconnect=dataclasses.replace(
        base.interconnect, topology="mesh"))
    block = base.pipeline.parallel_tokens
    for name, arch in (("point-to-point", base), ("mesh", mesh)):
        print(f"{name} links, one point (both modes, no timeline, best of {args.repeat}):")
        row("MobileBERT, 24 layers, 384 tokens", arch, _trace(384), args.repeat)
        for layers in (6, 12):
            row(f"{layers} layers, 384 tokens", arch, _trace(384, layers), args.repeat)
        for tokens in (96, 192):  # (blocks of the default size)
            row(f"24 layers, {tokens} tokens ({tokens // block} blocks)", arch, _trace(tokens),
                args.repeat)
        row(f"24 layers, 384 tokens ({2 * 384 // block} blocks of {block // 2})", arch,
            _trace(384), args.repeat, parallel_tokens=block // 2)


if __name__ == "__main__":
    main()
