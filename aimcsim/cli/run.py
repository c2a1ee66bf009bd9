"""`aimcsim run`: simulate a workload on an architecture."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from aimcsim.cli.gpu import describe
from aimcsim.errors import CapacityError
from aimcsim.gpu import Gpu, estimate, load_gpu
from aimcsim.outputs.run_folder import (
    record_inputs,
    workload_record,
)
from aimcsim.results import overhead, overhead_stats, write_json, write_layers_csv
from aimcsim.simulator import simulate
from aimcsim.spec.arch import MODES, Arch, load_arch
from aimcsim.spec.run import apply_run
from aimcsim.spec.workload import Workload, load_workload
from aimcsim.trace_export import chrome_trace

_PARTS = {"aimc_pj": "tiles", "pmca_pj": "cluster compute", "tcdm_pj": "TCDM", "dma_pj": "DMA",
          "noc_pj": "links", "cim_pj": "SRAM-CIM"}


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help="architecture YAML (see arch/)")
    parser.add_argument("workload", help="workload trace YAML (see workloads/)")
    parser.add_argument("--settings", type=Path, default=None, metavar="RUN.yaml",
                        help="run settings over the architecture's: mode, pipeline, lora and "
                        "per-op overrides (see arch/runs/)")
    parser.add_argument("--mode", choices=[*MODES, "both"], default=None,
                        help="default: the architecture's mode")
    parser.add_argument("--out", type=Path, default=None,
                        help="write layers.csv, summary.json, critical_path.csv and "
                        "timeline.parquet to this folder")
    parser.add_argument("--trace", type=Path, default=None,
                        help="write the timeline as Chrome trace-event JSON (Perfetto)")
    parser.add_argument("--gpu", type=Path, default=None, metavar="GPU.yaml",
                        help="compare latency and energy with a roofline estimate of the "
                        "workload on this GPU (see tech/gpu/; printed also when the "
                        "architecture refuses the workload)")


def execute(args: argparse.Namespace) -> int:
    arch, settings = load_arch(args.arch), {}
    workload = load_workload(args.workload)
    if args.settings is not None:
        arch, settings = apply_run(args.arch, args.settings, workload)
    mode = args.mode or arch.mode
    modes = list(MODES[::-1]) if mode == "both" else [mode]  # aimc-only first: the reference
    gpu = load_gpu(args.gpu) if args.gpu is not None else None
    try:
        results = {m: simulate(arch, workload, m, settings=settings) for m in modes}
    except CapacityError:
        if gpu is not None:  # (the estimate does not depend on the architecture)
            for m in modes:
                print(describe(gpu, workload, _reference(gpu, workload, arch, m), f" {m}"))
        raise
    layers = pd.concat([r.layers for r in results.values()], ignore_index=True)
    timeline = pd.concat([r.timeline.assign(mode=m) for m, r in results.items()],
                         ignore_index=True)
    if args.trace is not None:
        args.trace.parent.mkdir(parents=True, exist_ok=True)
        args.trace.write_text(json.dumps(chrome_trace(timeline)), encoding="utf-8")
        print(f"wrote {args.trace} ({len(timeline)} events; open it in ui.perfetto.dev)")
    summary = {"arch": str(args.arch), "workload": str(args.workload),
               **({"settings": str(args.settings)} if args.settings else {}),
               "modes": {m: r.summary for m, r in results.items()}}
    first = results[modes[0]].summary
    print(f"{workload.name} on {arch.name}: {workload.tokens} tokens, "
          f"{arch.pipeline.strategy}, {first['parallel_tokens']} parallel tokens")
    print(f"tiles: {first['tiles']} of {arch.aimc.rows} x {arch.aimc.cols}"
          + (f" ({first['tile_budget_used']:.0%} of the chip's {first['chip_tiles']})"
             if first["chip_tiles"] else "")
          + f", {first['cell_utilisation']:.1%} of their cells programmed")
    if settings:
        print(f"{len(settings)} ops with their own pipeline (overrides in {args.settings})")
    print(f"{'mode':<10} {'total latency (us)':>19} {'static ops':>11}")
    for m, r in results.items():
        n_static = int((r.layers["kind"] == "static_linear").sum())
        print(f"{m:<10} {r.summary['total_latency_ns'] / 1000:>19.3f} {n_static:>11}")
    if len(results) == 2:
        stats = overhead_stats(layers)
        summary["static_overhead"] = {
            "layers": int((results["hybrid"].layers["kind"] == "static_linear").sum()),
            **{key.removeprefix("static_overhead_"): value for key, value in stats.items()},
        }
        s = summary["static_overhead"]
        total = overhead(results["hybrid"].summary["total_latency_ns"],
                         results["aimc-only"].summary["total_latency_ns"])
        summary["total_overhead"] = total
        print(f"per-layer overhead of the {s['layers']} static layers (hybrid / aimc-only - 1): "
              f"min {s['min']:.1%}, median {s['median']:.1%}, max {s['max']:.1%}; "
              f"whole network {total:.1%}")
    for m, r in results.items():
        energy = r.summary["energy"]
        if energy:
            parts = ", ".join(f"{_PARTS[k]} {v / 1e9:.3f}" for k, v in
                              energy["dynamic_pj"].items() if v or k != "cim_pj")
            static = sum(energy["static_pj"].values())
            print(f"energy {m}: {energy['total_pj'] / 1e9:.3f} mJ ({parts}; static "
                  f"{static / 1e9:.3f} mJ), {energy['per_token_pj'] / 1e6:.1f} uJ per token, "
                  f"{energy['tops_per_w']:.3f} TOPS/W [{energy['technology']}]")
    if gpu is not None:
        for m, r in results.items():
            ref = _reference(gpu, workload, arch, m)
            summary["modes"][m]["gpu_estimate"] = {k: v for k, v in ref.items() if k != "ops"}
            mine = r.summary["energy"].get("per_token_pj")
            latency = r.summary["total_latency_ns"]
            print(describe(gpu, workload, ref, f" {m}"))
            print(f"  this run: {latency / ref['latency_ns']:.2f}x its latency"
                  + (f", {mine / ref['per_token_pj']:.1%} of its energy per token" if mine
                     else ""))
    areas = {m: r.summary["area"] for m, r in results.items() if r.summary["area"]}
    if areas:
        print("area of what the run uses: " + "; ".join(
            f"{m} {a['total_mm2']:.1f} mm^2 (tiles {a['aimc_mm2']:.1f}, clusters "
            f"{a['pmca_mm2']:.1f}, links {a['noc_mm2']:.2f}"
            + (f", SRAM-CIM macros {a['cim_mm2']:.2f}" if "cim_mm2" in a else "") + ")"
            for m, a in areas.items()))
        a = next(iter(areas.values()))
        print("one tile: " + _parts_text(a["tile_mm2"]) + "; one cluster: "
              + _parts_text(a["cluster_mm2"]))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        recorded = record_inputs(args.out, arch, args.arch, args.settings)
        summary["inputs"] = {**recorded, "workload": workload_record(workload)}
        write_layers_csv(layers, args.out / "layers.csv")
        write_json(summary, args.out / "summary.json")
        timeline.to_parquet(args.out / "timeline.parquet", index=False)
        pd.concat([r.critical for r in results.values()], ignore_index=True).to_csv(
            args.out / "critical_path.csv", index=False)
        print(f"wrote {args.out / 'layers.csv'}, {args.out / 'summary.json'}, "
              f"{args.out / 'critical_path.csv'} and {args.out / 'timeline.parquet'}, with "
              f"the inputs as used ({', '.join(v for k, v in recorded.items())})")
    return 0


def _reference(gpu: Gpu, workload: Workload, arch: Arch, mode: str) -> dict:
    """The GPU estimate of the run in `mode` (hybrid: with the architecture's adapters)."""
    lora = arch.lora
    return estimate(gpu, workload, lora_rank=lora.rank if mode == "hybrid" else None,
                    lora_applies=lora.applies_to)


def _parts_text(parts: dict[str, float]) -> str:
    """`{"array_mm2": 2.48, ...}` as 'array 2.480, ... mm^2'."""
    return ", ".join(f"{k.removesuffix('_mm2').replace('_', ' ')} {v:.3f}"
                     for k, v in parts.items()) + " mm^2"

