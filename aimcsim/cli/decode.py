"""`aimcsim decode`: prefill and decode of a decoder model: time to first token, time per output
token."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from aimcsim.cli.main import set_argument
from aimcsim.decode import decode as decode_run
from aimcsim.decode import summary as decode_summary
from aimcsim.spec.overrides import load_arch_with, parse_sets
from aimcsim.spec.workload import MAX_TOKENS
from aimcsim.traces import TRACES, generator_for


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help="architecture YAML")
    parser.add_argument("model", help="a bundled decoder model ("
                        f"{', '.join(sorted(n for n in TRACES if n.startswith(('gpt2', 'llama'))))}"
                        ") or a decoder's config.json")
    parser.add_argument("--prompt", type=int, default=64, help="prompt tokens")
    parser.add_argument("--steps", type=int, default=8, help="tokens generated")
    parser.add_argument("--out", type=Path, default=None, help="write decode.csv to this folder")
    parser.add_argument("--workers", type=int, default=1,
                        help="local processes sharing the steps")

    set_argument(parser)

def execute(args: argparse.Namespace) -> int:
    if not (1 <= args.prompt <= MAX_TOKENS and 0 <= args.steps <= 4096):
        raise ValueError(f"--prompt must be in 1..{MAX_TOKENS} and --steps in 0..4096, got "
                         f"{args.prompt} and {args.steps}")
    cpus = os.cpu_count() or 1
    if not 1 <= args.workers <= cpus:
        raise ValueError(f"--workers must be in 1..{cpus} (this machine's CPUs), got "
                         f"{args.workers}")
    arch = load_arch_with(args.arch, parse_sets(args.set))
    table = decode_run(arch, generator_for(args.model), prompt=args.prompt, steps=args.steps,
                       workers=args.workers)
    print(f"{args.model} on {arch.name}: prompt {args.prompt} tokens, {args.steps} decode steps")
    for mode, s in decode_summary(table).items():
        print(f"{mode:<10} time to first token {s['ttft_ns'] / 1e3:,.1f} us, time per output "
              f"token {s['tpot_ns'] / 1e3:,.1f} us")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out / "decode.csv", index=False)
        print(f"wrote {args.out / 'decode.csv'}")
    return 0

