"""`aimcsim kernel`: run one kernel on the cycle-level cluster (JSON)."""

from __future__ import annotations

import argparse
import json

from aimcsim.cli.main import set_argument
from aimcsim.hw.pmca.cycle_level import KERNEL_OPS, run_kernel
from aimcsim.spec.overrides import load_arch_with, parse_sets

MAX_KERNEL_SIDE = 1 << 16

MAX_KERNEL_MACS = 1 << 28


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help="architecture YAML: its pmca section and lora.dtype (a kernel "
                        "whose buffers do not fit its pmca.tcdm_bytes runs with a warning)")
    parser.add_argument("--op", choices=KERNEL_OPS, default="matmul",
                        help="the kernel: a matmul, an element-wise function or a DMA transfer")
    parser.add_argument("--m", type=int, default=1, help="rows (matmul: of A)")
    parser.add_argument("--k", type=int, default=1, help="contraction length (matmul)")
    parser.add_argument("--n", type=int, default=1, help="columns")
    parser.add_argument("--dtype", default=None,
                        help="data type (default: the architecture's lora.dtype)")
    parser.add_argument("--accumulate", action="store_true",
                        help="matmul: C += A B, each output starting from C (as the in-place "
                        "LoRA T B)")

    set_argument(parser)

def execute(args: argparse.Namespace) -> int:
    for name in ("m", "k", "n"):
        if not 1 <= getattr(args, name) <= MAX_KERNEL_SIDE:
            raise ValueError(f"--{name} must be in 1..{MAX_KERNEL_SIDE}, got {getattr(args, name)}")
    if args.m * args.k * args.n > MAX_KERNEL_MACS:
        raise ValueError(f"--m x --k x --n = {args.m * args.k * args.n} is above "
                         f"{MAX_KERNEL_MACS} (2^28): the cycle-level kernel would run for minutes; "
                         "a block of a layer is far smaller")
    arch = load_arch_with(args.arch, parse_sets(args.set))
    dtype = args.dtype or arch.lora.dtype
    if dtype not in dict(arch.pmca.macs_per_cycle):
        raise ValueError(f"--dtype {dtype}: {args.arch} gives pmca.macs_per_cycle for "
                         f"{', '.join(dict(arch.pmca.macs_per_cycle))} only")
    if args.accumulate and args.op != "matmul":
        raise ValueError(f"--accumulate is for --op matmul, not {args.op}")
    stats = run_kernel(arch.pmca, args.op, args.m, args.k, args.n, dtype=dtype,
                       accumulate=args.accumulate)
    print(json.dumps(stats, indent=2))
    return 0

