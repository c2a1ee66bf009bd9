"""`aimcsim reload`: the cost of switching tasks (reloading LoRA adapters) and of a request
stream with a task mix."""

from __future__ import annotations

import argparse

from aimcsim.reload import SOURCES, request_stream
from aimcsim.spec.arch import load_arch
from aimcsim.spec.workload import load_workload


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help="architecture YAML (hybrid mode)")
    parser.add_argument("workload", help="workload trace YAML")
    parser.add_argument("--from", dest="source", choices=SOURCES, default="l2",
                        help="where the adapters of other tasks wait")
    parser.add_argument("--tasks", type=int, default=4, help="tasks in the stream")
    parser.add_argument("--requests", type=int, default=100,
                        help="requests in the stream")
    parser.add_argument("--seed", type=int, default=0, help="seed of the task order")


def execute(args: argparse.Namespace) -> int:
    if not (1 <= args.tasks <= 1_000_000 and 1 <= args.requests <= 1_000_000):
        raise ValueError(f"--tasks and --requests must be in 1..1000000, got {args.tasks} and "
                         f"{args.requests}")
    arch, workload = load_arch(args.arch), load_workload(args.workload)
    s = request_stream(arch, workload, tasks=args.tasks, requests=args.requests,
                       seed=args.seed, source=args.source)
    energy = s["switch_energy_pj"]
    print(f"task switch from {args.source}: {s['adapter_bytes']} bytes of adapters, "
          f"{s['switch_latency_ns'] / 1e3:.3f} us"
          + (f", {energy / 1e6:.3f} uJ" if energy == energy else ""))
    print(f"{s['requests']} requests over {s['tasks']} tasks (seed {s['seed']}): "
          f"{s['switches']} switches, {s['total_latency_ns'] / 1e6:.3f} ms in all "
          f"({s['switch_time_share']:.2%} switching; one request "
          f"{s['request_latency_ns'] / 1e3:.1f} us)")
    return 0

