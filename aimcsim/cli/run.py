"""`aimcsim run`: simulate a workload on an architecture."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aimcsim.cli.main import set_argument
from aimcsim.errors import CapacityError
from aimcsim.gpu import load_gpu, reference
from aimcsim.outputs.console import gpu_line, run_lines
from aimcsim.outputs.run_folder import (
    CRITICAL_FILE,
    LAYERS_FILE,
    SUMMARY_FILE,
    TIMELINE_FILE,
    RunFolder,
    run_timeline,
)
from aimcsim.outputs.run_summary import run_summary
from aimcsim.outputs.trace_export import chrome_trace
from aimcsim.simulator import simulate
from aimcsim.spec.arch import MODES
from aimcsim.spec.overrides import load_arch_with, parse_sets
from aimcsim.spec.run import apply_run
from aimcsim.spec.workload import Workload, load_workload, parse_workload


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help="architecture YAML (see arch/)")
    parser.add_argument("workload", help="workload trace YAML (see workloads/), or a model: "
                        "a bundled name (gpt2, llama-3.2-1b, ...) or a Hugging Face "
                        "config.json, traced as a prefill of --tokens")
    parser.add_argument("--tokens", type=int, default=128,
                        help="tokens of the prefill when the workload is a model")
    parser.add_argument("--settings", type=Path, default=None, metavar="RUN.yaml",
                        help="run settings over the architecture's: mode, pipeline, lora and "
                        "per-op overrides (see arch/runs/)")
    parser.add_argument("--mode", choices=[*MODES, "both"], default=None,
                        help="default: the architecture's mode")
    set_argument(parser)
    parser.add_argument("--out", type=Path, default=None,
                        help=f"write {LAYERS_FILE.name}, {SUMMARY_FILE.name}, "
                        f"{CRITICAL_FILE.name} and {TIMELINE_FILE.name} to this folder")
    parser.add_argument("--trace", type=Path, default=None,
                        help="write the timeline as Chrome trace-event JSON (Perfetto)")
    parser.add_argument("--gpu", type=Path, default=None, metavar="GPU.yaml",
                        help="compare latency and energy with a roofline estimate of the "
                        "workload on this GPU (see tech/gpu/; printed also when the "
                        "architecture refuses the workload)")


def execute(args: argparse.Namespace) -> int:
    sets = parse_sets(args.set)
    arch, settings = load_arch_with(args.arch, sets), {}
    workload = _workload(args.workload, args.tokens)
    if args.settings is not None:
        arch, settings = apply_run(args.arch, args.settings, workload, sets=sets)
    mode = args.mode or arch.mode
    modes = list(MODES[::-1]) if mode == "both" else [mode]  # aimc-only first: the reference
    gpu = load_gpu(args.gpu) if args.gpu is not None else None
    try:
        results = {m: simulate(arch, workload, m, settings=settings) for m in modes}
    except CapacityError:
        if gpu is not None:  # (the estimate does not depend on the architecture)
            for m in modes:
                print(gpu_line(gpu, workload, reference(gpu, workload, arch.lora, m), f" {m}"))
        raise
    if args.trace is not None:
        timeline = run_timeline(results)
        args.trace.parent.mkdir(parents=True, exist_ok=True)
        args.trace.write_text(json.dumps(chrome_trace(timeline)), encoding="utf-8")
        print(f"wrote {args.trace} ({len(timeline)} events; open it in ui.perfetto.dev)")
    summary = run_summary(results, arch_file=args.arch, workload_file=args.workload,
                          settings_file=args.settings, gpu=gpu, workload=workload,
                          lora=arch.lora)
    for line in run_lines(arch, workload, summary, results, gpu=gpu,
                          settings_file=args.settings, settings=settings):
        print(line)
    if args.out is not None:
        folder = RunFolder(args.out)
        recorded = folder.write_run(results, summary, arch=arch, arch_file=args.arch,
                                    settings_file=args.settings, workload=workload, sets=sets)
        print(f"wrote {folder.file(LAYERS_FILE)}, {folder.file(SUMMARY_FILE)}, "
              f"{folder.file(CRITICAL_FILE)} and {folder.file(TIMELINE_FILE)}, with "
              f"the inputs as used ({', '.join(recorded)})")
    return 0


def _workload(text: str, tokens: int) -> Workload:
    """A workload trace file, or the prefill trace of a model (a bundled name or a config.json)
    of `tokens` tokens."""
    if Path(text).suffix in (".yaml", ".yml"):
        return load_workload(text)
    from aimcsim.spec.workload import MAX_TOKENS
    from aimcsim.traces import model_trace

    if not 1 <= tokens <= MAX_TOKENS:
        raise ValueError(f"--tokens {tokens}: expected 1 to {MAX_TOKENS:,} tokens")
    doc = model_trace(text, tokens)
    return parse_workload(doc, doc["name"])
