"""The console text of the commands, in one place: what `aimcsim run` (and `gpu`) print of
their results, built from the library's results and summaries (no command computes it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aimcsim.gpu import Gpu
from aimcsim.spec.arch import Arch
from aimcsim.spec.workload import Workload

_PARTS = {"aimc_pj": "tiles", "pmca_pj": "cluster compute", "tcdm_pj": "TCDM", "dma_pj": "DMA",
          "noc_pj": "links", "cim_pj": "SRAM-CIM"}


def gpu_line(gpu: Gpu, workload: Workload, ref: Mapping[str, Any], label: str = "") -> str:
    """One line of a GPU estimate: latency, energy (per token), power, bounds."""
    step = workload.tokens == 1 and workload.context > 1
    phase = f"decode step over {workload.context} keys" if step else \
        f"{workload.tokens} tokens"
    per = "" if workload.tokens == 1 else f" ({ref['per_token_pj'] / 1e6:,.1f} uJ per token)"
    return (f"GPU estimate{label} ({gpu.name}, roofline at measured efficiencies, not "
            f"simulated), {phase}: {ref['latency_ns'] / 1e6:,.3f} ms, "
            f"{ref['energy_pj'] / 1e9:,.3f} mJ{per}, {ref['average_power_w']:.0f} W; "
            f"{ref['compute_bound_ops']} of {ref['n_ops']} ops compute-bound, "
            f"{ref['attention']} attention")


def run_lines(arch: Arch, workload: Workload, summary: Mapping[str, Any], results: Any,
              *, gpu: Gpu | None = None, settings_file: Any = None,
              overrides: int = 0) -> list[str]:
    """What `aimcsim run` prints of `summary` (`aimcsim.results.run_summary`) and the
    per-mode `results`."""
    modes = list(results)
    first = results[modes[0]].summary
    lines = [f"{workload.name} on {arch.name}: {workload.tokens} tokens, "
             f"{arch.pipeline.strategy}, {first['parallel_tokens']} parallel tokens",
             f"tiles: {first['tiles']} of {arch.aimc.rows} x {arch.aimc.cols}"
             + (f" ({first['tile_budget_used']:.0%} of the chip's {first['chip_tiles']})"
                if first["chip_tiles"] else "")
             + f", {first['cell_utilisation']:.1%} of their cells programmed"]
    if overrides:
        lines.append(f"{overrides} ops with their own pipeline (overrides in {settings_file})")
    lines.append(f"{'mode':<10} {'total latency (us)':>19} {'static ops':>11}")
    for m, r in results.items():
        n_static = int((r.layers["kind"] == "static_linear").sum())
        lines.append(f"{m:<10} {r.summary['total_latency_ns'] / 1000:>19.3f} {n_static:>11}")
    if "static_overhead" in summary:
        s, total = summary["static_overhead"], summary["total_overhead"]
        lines.append(f"per-layer overhead of the {s['layers']} static layers (hybrid / "
                     f"aimc-only - 1): min {s['min']:.1%}, median {s['median']:.1%}, max "
                     f"{s['max']:.1%}; whole network {total:.1%}")
    lines += energy_lines(results)
    if gpu is not None:
        for m, r in results.items():
            ref = summary["modes"][m]["gpu_estimate"]
            mine = r.summary["energy"].get("per_token_pj")
            lines.append(gpu_line(gpu, workload, ref, f" {m}"))
            lines.append(f"  this run: {r.summary['total_latency_ns'] / ref['latency_ns']:.2f}x "
                         "its latency" + (f", {mine / ref['per_token_pj']:.1%} of its energy "
                                          "per token" if mine else ""))
    lines += area_lines(results)
    return lines


def energy_lines(results: Any) -> list[str]:
    lines = []
    for m, r in results.items():
        energy = r.summary["energy"]
        if energy:
            parts = ", ".join(f"{_PARTS[k]} {v / 1e9:.3f}" for k, v in
                              energy["dynamic_pj"].items() if v or k != "cim_pj")
            static = sum(energy["static_pj"].values())
            lines.append(f"energy {m}: {energy['total_pj'] / 1e9:.3f} mJ ({parts}; static "
                         f"{static / 1e9:.3f} mJ), {energy['per_token_pj'] / 1e6:.1f} uJ per "
                         f"token, {energy['tops_per_w']:.3f} TOPS/W [{energy['technology']}]")
    return lines


def area_lines(results: Any) -> list[str]:
    areas = {m: r.summary["area"] for m, r in results.items() if r.summary["area"]}
    if not areas:
        return []
    a = next(iter(areas.values()))
    return ["area of what the run uses: " + "; ".join(
        f"{m} {a['total_mm2']:.1f} mm^2 (tiles {a['aimc_mm2']:.1f}, clusters "
        f"{a['pmca_mm2']:.1f}, links {a['noc_mm2']:.2f}"
        + (f", SRAM-CIM macros {a['cim_mm2']:.2f}" if "cim_mm2" in a else "") + ")"
        for m, a in areas.items()),
        "one tile: " + _parts_text(a["tile_mm2"]) + "; one cluster: "
        + _parts_text(a["cluster_mm2"])]


def _parts_text(parts: dict[str, float]) -> str:
    """`{"array_mm2": 2.48, ...}` as 'array 2.480, ... mm^2'."""
    return ", ".join(f"{k.removesuffix('_mm2').replace('_', ' ')} {v:.3f}"
                     for k, v in parts.items()) + " mm^2"


__all__ = ["area_lines", "energy_lines", "gpu_line", "run_lines"]
