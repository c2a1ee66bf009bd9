"""Wall time of the bundled large models: LLaMA-3.1-8B prefill at 2,048 tokens and its decode
steps (issue 14's asks: each within 10 s warm), and how prefill grows with tokens and layers.

Run: python benchmarks/bench_models.py [--tokens 2048] [--steps 128] [--workers 2]
[--growth]. Warm: a second run, when the kernel store (`aimcsim.hw.pmca.memo`) has every
kernel's timing.
Architecture: arch/hybrid_large_tcdm.yaml (the shipped 128 KiB TCDM does not hold the widest
layers' partial sums). Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from aimcsim import load_arch, simulate
from aimcsim.decode import decode
from aimcsim.spec.workload import parse_workload
from aimcsim.traces import TRACES, read_config

ROOT = Path(__file__).resolve().parents[1]
ARCH = ROOT / "arch" / "hybrid_large_tcdm.yaml"


def _timed(arch, doc, mode: str) -> tuple[float, float]:
    work = parse_workload(doc, doc["name"])
    t0 = time.perf_counter()
    result = simulate(arch, work, mode, timeline=False)
    return time.perf_counter() - t0, result.summary["total_latency_ns"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="llama-3.1-8b", choices=sorted(TRACES))
    parser.add_argument("--tokens", type=int, default=2048, help="prefill tokens")
    parser.add_argument("--steps", type=int, default=128, help="decode steps timed")
    parser.add_argument("--workers", type=int, default=2,
                        help="also time the steps on this many processes (decode --workers)")
    parser.add_argument("--growth", action="store_true",
                        help="also time prefill at 1/4, 1/2 of the tokens and half the layers")
    args = parser.parse_args()
    arch = load_arch(ARCH)
    gen = TRACES[args.model]
    _timed(arch, gen.generate(16), "hybrid")  # warm: compile and fill the kernel memo
    wall, sim = _timed(arch, gen.generate(args.tokens), "hybrid")
    print(f"{args.model} prefill, {args.tokens} tokens, hybrid: {wall:.2f} s wall "
          f"(simulated {sim / 1e6:.1f} ms)")
    if args.steps:
        for workers in sorted({1, args.workers}):
            t0 = time.perf_counter()
            table = decode(arch, gen, prompt=args.tokens, steps=args.steps, modes=("hybrid",),
                           workers=workers, prefill=False)
            wall = time.perf_counter() - t0
            print(f"{args.steps} decode steps at context {args.tokens + 1}.."
                  f"{args.tokens + args.steps}, hybrid, {workers} worker(s): {wall:.2f} s wall "
                  f"({wall / args.steps:.3f} s per step; time per output token "
                  f"{table.latency_ns.mean() / 1e3:,.1f} us simulated)")
    if args.growth:
        for tokens in (args.tokens // 4, args.tokens // 2):
            wall, _ = _timed(arch, gen.generate(tokens), "hybrid")
            print(f"  prefill {tokens} tokens: {wall:.2f} s wall")
        if args.model.startswith("llama"):
            file = {"llama-3.1-8b": "Llama-3.1-8B.json",
                    "llama-3.2-1b": "Llama-3.2-1B.json"}[args.model]
            cfg = read_config(ROOT / "workloads" / "configs" / file)
            half = {**cfg, "num_hidden_layers": cfg["num_hidden_layers"] // 2}
            wall, _ = _timed(arch, gen.generate(args.tokens, config=half), "hybrid")
            print(f"  prefill {args.tokens} tokens, half the layers: {wall:.2f} s wall")


if __name__ == "__main__":
    main()
