"""Prefill and decode of a decoder model: time to first token and time per output token.

The prefill runs the prompt's P tokens through the network (one trace, `seq_len` P); each
decode step then runs one token through every layer, its attention over the context so far
(the KV cache of P + i tokens and itself; K and V of the cache brought by DMA from the cluster's
L2, so a step grows with its context). Steps are simulated one by one, each on its own trace.

Results (`decode`): one row per phase and step and mode (DECODE_COLUMNS); `summary` gives the
time to first token (the prefill) and the mean time per output token (the steps).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pandas as pd

from aimcsim.simulator import simulate
from aimcsim.spec.arch import Arch
from aimcsim.spec.workload import parse_workload
from aimcsim.traces import TraceGenerator

DECODE_COLUMNS = {
    "phase": "prefill | decode",
    "step": "0 for the prefill, then 1, 2, ... per generated token",
    "context": "keys the step's attention spans (the prompt for the prefill)",
    "mode": "hybrid | aimc-only",
    "latency_ns": "the step's latency (the prefill's: the time to first token)",
    "energy_pj": "the step's energy (NaN without a technology file)",
}


def decode(arch: Arch, generator: TraceGenerator, *, prompt: int, steps: int,
           modes: tuple[str, ...] = ("aimc-only", "hybrid")) -> pd.DataFrame:
    """Prefill of `prompt` tokens, then `steps` decode steps (see the module docstring)."""
    if prompt < 1 or steps < 0:
        raise ValueError(f"prompt must be >= 1 and steps >= 0, got {prompt} and {steps}")
    one = dataclasses.replace(arch, pipeline=dataclasses.replace(arch.pipeline,
                                                                 parallel_tokens=1))
    rows: list[dict[str, Any]] = []
    runs = [("prefill", 0, prompt, arch, generator.generate(prompt))]
    runs += [("decode", i, prompt + i, one, generator.generate(1, context=prompt + i))
             for i in range(1, steps + 1)]
    for phase, step, context, variant, doc in runs:
        work = parse_workload(doc, doc["name"])
        for mode in modes:
            summary = simulate(variant, work, mode, timeline=False).summary
            rows.append({"phase": phase, "step": step, "context": context, "mode": mode,
                         "latency_ns": summary["total_latency_ns"],
                         "energy_pj": summary["energy"].get("total_pj", math.nan)})
    return pd.DataFrame(rows, columns=list(DECODE_COLUMNS))


def summary(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per mode: time to first token, mean time per output token, and their energies."""
    out = {}
    for mode, rows in table.groupby("mode", sort=False):
        steps = rows[rows["phase"] == "decode"]
        first = rows[rows["phase"] == "prefill"].iloc[0]
        out[str(mode)] = {
            "ttft_ns": float(first.latency_ns),
            "tpot_ns": float(steps.latency_ns.mean()) if len(steps) else math.nan,
            "prefill_energy_pj": float(first.energy_pj),
            "energy_per_output_token_pj": float(steps.energy_pj.mean()) if len(steps)
            else math.nan,
        }
    return out


__all__ = ["DECODE_COLUMNS", "decode", "summary"]
