"""Serving a request stream (`aimcsim serve`): wall time against requests and adapters, on
`arch/hybrid_large_tcdm.yaml` with LLaMA-3.2-1B (prompt 32, 8 output tokens, 100 requests/s,
8 adapters), each run from a cold memo (a fresh `StepCosts`): the simulations an iteration's
cost needs, then the scheduler.

Run: python benchmarks/bench_serve.py [--requests N ...]. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

from aimcsim import load_arch
from aimcsim.serve.costs import StepCosts
from aimcsim.serve.engine import serve_model
from aimcsim.serve.stream import poisson_stream

ROOT = Path(__file__).resolve().parents[1]
ARCH = ROOT / "arch" / "hybrid_large_tcdm.yaml"
MODEL = "llama-3.2-1b"


def one(requests: int, adapters: int, rate: float) -> None:
    arch = load_arch(ARCH)
    stream = poisson_stream(requests, rate, prompt=32, output=("fixed", 8, 0),
                            adapters=adapters, seed=0)
    t0 = time.perf_counter()
    costs = StepCosts(arch, MODEL)
    served = serve_model(arch, MODEL, stream, costs=costs)
    wall = time.perf_counter() - t0
    s = served.summary
    print(f"  {requests:>6} requests, {adapters:>3} adapters, {rate:g}/s: {wall:7.2f} s "
          f"({costs.simulations} simulations, {s['iterations']} iterations; "
          f"{s['throughput_tokens_per_s']:,.0f} tokens/s, TTFT p50 "
          f"{s['ttft_ns_p50'] / 1e6:,.1f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--adapters", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    print(f"{MODEL} on {ARCH.name}, prompt 32, 8 output tokens:")
    for n in args.requests:
        one(n, args.adapters[0], args.rate)
    for k in args.adapters[1:]:
        one(args.requests[-1], k, args.rate)


if __name__ == "__main__":
    main()
