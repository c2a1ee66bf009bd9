"""`aimcsim gpu`: the roofline GPU estimate of a bundled model or a config.json, without
simulating the chip (prefill of --seq-len tokens, or one decode step over --context keys)."""

from __future__ import annotations

import argparse
from pathlib import Path

from aimcsim.gpu import ATTENTION, estimate, load_gpu
from aimcsim.outputs.console import gpu_line, percent
from aimcsim.spec.arch import LM_HEAD
from aimcsim.spec.workload import MAX_TOKENS, Workload, parse_workload
from aimcsim.traces import CONFIGS, TRACES, model_trace

#: the GPU file `gpu` and `run --gpu` read when none is named
DEFAULT_GPU = CONFIGS.parents[1] / "tech" / "gpu" / "a100_sxm.yaml"


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help=f"a bundled model ({', '.join(sorted(TRACES))}) or a "
                        "Hugging Face config.json")
    phase = parser.add_mutually_exclusive_group()
    phase.add_argument("--seq-len", type=int, default=None,
                       help="a prefill of this many tokens (default: 2048, mobilebert 384)")
    phase.add_argument("--context", type=int, default=0,
                       help="one decode step whose token attends to this many keys (the KV "
                            "cache and itself; decoders)")
    parser.add_argument("--gpu", type=Path, default=DEFAULT_GPU, metavar="GPU.yaml",
                        help="the GPU's file (default: tech/gpu/a100_sxm.yaml)")
    parser.add_argument("--rank", type=int, default=0,
                        help="also estimate it with LoRA adapters of this rank on every "
                             "static layer but the LM head (unmerged)")
    parser.add_argument("--attention", choices=ATTENTION, default="fused",
                        help="fused (scores never in memory, as FlashAttention) or unfused")
    parser.add_argument("--no-lm-head", dest="lm_head", action="store_false",
                        help="leave a decoder's LM head out")


def _trace(args: argparse.Namespace) -> Workload:
    seq_len = 1 if args.context else (args.seq_len or 0)
    for value, flag in ((seq_len, "--seq-len"), (args.context, "--context")):
        if value and not 1 <= value <= MAX_TOKENS:
            raise ValueError(f"{flag} must be in 1..{MAX_TOKENS}, got {value}")
    default = 384 if args.model == "mobilebert" else 2048  # (its 512 positions)
    doc = model_trace(args.model, seq_len or default, context=args.context,
                      lm_head=args.lm_head)
    return parse_workload(doc, args.model)


def execute(args: argparse.Namespace) -> int:
    if args.rank < 0:
        raise ValueError(f"--rank must be >= 0, got {args.rank}")
    gpu = load_gpu(args.gpu)
    workload = _trace(args)
    print(f"{workload.name}: {len(workload.ops)} operations, "
          f"{sum(op.role == LM_HEAD for op in workload.ops)} LM head")
    plain = estimate(gpu, workload, attention=args.attention)
    print(gpu_line(gpu, workload, plain))
    if args.rank:
        ref = estimate(gpu, workload, lora_rank=args.rank,
                       lora_applies=lambda role: role != LM_HEAD, attention=args.attention)
        print(gpu_line(gpu, workload, ref, f" with rank-{args.rank} LoRA"))
        print(f"  the LoRA branch on the GPU: latency "
              f"{percent(ref['latency_ns'] / plain['latency_ns'] - 1, sign=True)}, energy "
              f"{percent(ref['energy_pj'] / plain['energy_pj'] - 1, sign=True)}")
    return 0
