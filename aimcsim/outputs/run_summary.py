"""`summary.json` of a run (`aimcsim run`): each mode's summary (with its throughput), the LoRA
branch's overhead, a GPU estimate."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from aimcsim.gpu import reference
from aimcsim.results import overhead, overhead_stats


def run_summary(results: Mapping[str, Any], *, arch_file: Any, workload_file: Any,
                settings_file: Any = None, gpu: Any = None, workload: Any = None,
                lora: Any = None) -> dict[str, Any]:
    """`summary.json` of a run in one or both modes (`results` by mode, AIMC-only first):
    the inputs' names, each mode's summary (a copy, with `throughput_tokens_per_s`: its tokens
    over its total latency), with both modes the static layers' overhead and the network's,
    with a GPU its estimate per mode (`aimcsim.gpu.reference`)."""
    summary: dict[str, Any] = {
        "arch": str(arch_file), "workload": str(workload_file),
        **({"settings": str(settings_file)} if settings_file else {}),
        "modes": {m: {**r.summary, "throughput_tokens_per_s": throughput(r.summary)}
                  for m, r in results.items()}}
    if len(results) == 2:
        layers = pd.concat([r.layers for r in results.values()], ignore_index=True)
        stats = overhead_stats(layers)
        summary["static_overhead"] = {
            "layers": int((results["hybrid"].layers["kind"] == "static_linear").sum()),
            **{key.removeprefix("static_overhead_"): value for key, value in stats.items()}}
        summary["total_overhead"] = overhead(results["hybrid"].summary["total_latency_ns"],
                                             results["aimc-only"].summary["total_latency_ns"])
    if gpu is not None:
        for m in results:
            ref = reference(gpu, workload, lora, m)
            summary["modes"][m]["gpu_estimate"] = {k: v for k, v in ref.items() if k != "ops"}
    return summary


def throughput(mode: Mapping[str, Any]) -> float:
    """Tokens per second of a mode's summary: its tokens over its total latency (NaN of a run
    that took no time)."""
    latency_ns = mode["total_latency_ns"]
    return mode["tokens"] / latency_ns * 1e9 if latency_ns else math.nan


__all__ = ["run_summary", "throughput"]
