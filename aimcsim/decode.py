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
import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pandas as pd

from aimcsim.errors import SettingWarning
from aimcsim.sim.collector import paused_gc
from aimcsim.simulator import simulate
from aimcsim.spec.arch import Arch
from aimcsim.spec.workload import parse_workload
from aimcsim.traces import TraceGenerator
from aimcsim.workers import end_with_parent

DECODE_COLUMNS = {
    "phase": "prefill | decode",
    "step": "0 for the prefill, then 1, 2, ... per generated token",
    "context": "keys the step's attention spans (the prompt for the prefill)",
    "mode": "hybrid | aimc-only",
    "latency_ns": "the step's latency (the prefill's: the time to first token)",
    "energy_pj": "the step's energy (NaN without a technology file)",
}


def decode(arch: Arch, generator: TraceGenerator, *, prompt: int, steps: int,
           modes: tuple[str, ...] = ("aimc-only", "hybrid"), workers: int = 1,
           prefill: bool = True) -> pd.DataFrame:
    """Prefill of `prompt` tokens, then `steps` decode steps (see the module docstring);
    `prefill=False`: the steps alone. With `workers` > 1 the runs (each independent of the
    others) share that many local processes; the table is the same, in the same order.
    A model with learned positions refuses prompt + steps past them (`SpecError`, before any
    run); past a rotary model's `max_position_embeddings`, one `SettingWarning`."""
    if prompt < 1 or steps < 0:
        raise ValueError(f"prompt must be >= 1 and steps >= 0, got {prompt} and {steps}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    # the largest trace of the runs first (the last step's, else the prefill's): a context
    # past the model's learned positions is refused before anything is simulated, and a
    # warning its configuration gives (past rotary positions) is given once, not per step
    if steps:
        generator.generate(1, context=prompt + steps)
    else:
        generator.generate(prompt)
    one = dataclasses.replace(arch, pipeline=dataclasses.replace(arch.pipeline,
                                                                 parallel_tokens=1))
    # (phase, step, context, architecture, (tokens, context of the trace)): traced when run
    runs = [("prefill", 0, prompt, arch, (prompt, 0))] if prefill else []
    runs += [("decode", i, prompt + i, one, (1, prompt + i)) for i in range(1, steps + 1)]
    if workers == 1 or len(runs) < 2:
        done = [_run(phase, step, context, variant, _traced(generator, t, c), modes)
                for phase, step, context, variant, (t, c) in runs]
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=end_with_parent,
                                 initargs=(os.getpid(),)) as pool:
            done = list(pool.map(_run, *zip(*[
                (phase, step, context, variant, _traced(generator, t, c), modes)
                for phase, step, context, variant, (t, c) in runs], strict=True),
                chunksize=max(1, len(runs) // (4 * workers))))
    rows = [row for run_rows in done for row in run_rows]
    return pd.DataFrame(rows, columns=list(DECODE_COLUMNS))


def _traced(generator: TraceGenerator, tokens: int, context: int) -> dict[str, Any]:
    """A run's trace, without the setting warnings the largest one gave already."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SettingWarning)
        return generator.generate(tokens, context=context)


def _run(phase: str, step: int, context: int, variant: Arch, doc: dict[str, Any],
         modes: tuple[str, ...]) -> list[dict[str, Any]]:
    """One prefill or decode step in every mode: its rows of the decode table."""
    with paused_gc():  # (see `paused_gc`; the trace's objects are short-lived too)
        work = parse_workload(doc, doc["name"])
    rows = []
    for mode in modes:
        summary = simulate(variant, work, mode, timeline=False).summary
        rows.append({"phase": phase, "step": step, "context": context, "mode": mode,
                     "latency_ns": summary["total_latency_ns"],
                     "energy_pj": summary["energy"].get("total_pj", math.nan)})
    return rows


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
