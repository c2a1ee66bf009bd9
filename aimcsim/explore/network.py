"""The whole network at a search's settings (each LoRA layer at its shape's best, attention
at each chunk tried) and the study's token curves (Fig. 4a/b) from a search's shapes."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pandas as pd

from aimcsim.analytic import static_layer
from aimcsim.errors import CapacityError
from aimcsim.explore.space import GROUP, _alone, _layer_by_layer, _variant
from aimcsim.hw.pmca.cycle_level import cluster_model
from aimcsim.params.units import PS_PER_NS
from aimcsim.results import overhead, overhead_stats
from aimcsim.simulator import simulate
from aimcsim.spec.arch import Arch, Pipeline
from aimcsim.spec.workload import Op, Workload


def _apply(points: pd.DataFrame, variant: Arch, workload: Workload,
           chunks: tuple[int, ...] | None = None, objective: str = "latency") -> dict[str, Any]:
    """Simulate the network with every LoRA layer at its shape's best setting (its fastest
    where no setting met the objective's limit; not at all where a shape fits nowhere).

    `chunks`: keys per chunk of fused attention to try (`pipeline.attention_key_chunk`; None:
    the architecture's). Each runs the whole network in both modes; the one whose hybrid run
    is best for the objective (latency, energy or EDP; ties: the first listed) is reported,
    with every chunk's hybrid figure: an exhaustive choice of the network's chunk given the
    layers' settings."""
    key = {"integration_time_ns": variant.aimc.integration_time_ns,
           "cores": variant.pmca.cores, "rank": variant.lora.rank}
    mine = points[(points["integration_time_ns"] == key["integration_time_ns"])
                  & (points["cores"] == key["cores"]) & (points["rank"] == key["rank"])]
    by_shape: dict[tuple[int, int], Pipeline] = {}
    fallback = []
    for (d_in, d_out), shape in mine.groupby(["d_in", "d_out"], sort=False):
        pick = shape[shape["best"]]
        if pick.empty:
            pick = shape[shape["fastest"]]
            if pick.empty:
                return {**key, "skipped": f"no setting of {d_in}x{d_out} fits the TCDM"}
            fallback.append(f"{d_in}x{d_out}")
        r = pick.iloc[0]
        by_shape[(d_in, d_out)] = dataclasses.replace(
            variant.pipeline, strategy=r.strategy, parallel_tokens=int(r.parallel_tokens),
            tile_output=r.tile_output, output_chunk=int(r.output_chunk))
    settings = {op.name: by_shape[(op.d_in, op.d_out)] for op in workload.ops
                if op.kind == "static_linear" and (op.d_in, op.d_out) in by_shape
                and variant.lora.rank_of(op.block, op.role) is not None}
    # the same block sizes in both modes, so the comparison isolates the LoRA branch (a tile
    # alone ignores the strategy; its block size sets how its output is sent on)
    tried: dict[int, Any] = {}
    best = None
    for chunk in chunks or (variant.pipeline.attention_key_chunk,):
        run_arch = dataclasses.replace(variant, pipeline=dataclasses.replace(
            variant.pipeline, attention_key_chunk=int(chunk)))
        run_settings = {name: dataclasses.replace(p, attention_key_chunk=int(chunk))
                        for name, p in settings.items()}
        try:
            hybrid = simulate(run_arch, workload, "hybrid", settings=run_settings,
                              timeline=False)
        except CapacityError as exc:  # another op does not fit at this chunk: say so
            tried[int(chunk)] = str(exc)
            continue
        figure = _network_figure(hybrid, objective)
        tried[int(chunk)] = figure
        if best is None or figure < best[0]:
            best = (figure, int(chunk), run_arch, run_settings, hybrid)
    if best is None:  # another op of the network does not fit: say so, keep the rest
        return {**key, "skipped": next(iter(tried.values()))}
    _, chunk, run_arch, settings, hybrid = best
    try:
        aimc = simulate(run_arch, workload, "aimc-only", settings=settings, timeline=False)
    except CapacityError as exc:
        return {**key, "skipped": str(exc)}
    return {
        **key,
        "attention_key_chunk": chunk,
        **({"attention_key_chunks": tried} if chunks else {}),
        "hybrid_latency_ns": hybrid.summary["total_latency_ns"],
        "aimc_only_latency_ns": aimc.summary["total_latency_ns"],
        "overhead": overhead(hybrid.summary["total_latency_ns"], aimc.summary["total_latency_ns"]),
        **overhead_stats(pd.concat([aimc.layers, hybrid.layers], ignore_index=True)),
        "settings": {f"{d_in}x{d_out}": {"strategy": p.strategy,
                                         "parallel_tokens": p.parallel_tokens,
                                         "tile_output": p.tile_output,
                                         "output_chunk": p.output_chunk}
                     for (d_in, d_out), p in by_shape.items()},
        "fastest_instead": fallback,
    }


def _network_figure(result: Any, objective: str) -> float:
    """The network's figure for `objective`: latency (ns), energy (pJ) or their product."""
    latency = result.summary["total_latency_ns"]
    if objective == "latency":
        return latency
    energy = result.summary["energy"]["total_pj"]
    return energy if objective == "energy" else energy * latency


def token_curves(arch: Arch, points: pd.DataFrame) -> pd.DataFrame:
    """The study's Fig. 4a/b from a search's shapes, integration times and block sizes: each
    static layer shape alone (as the search runs it) under the architecture's own strategy and
    `tile_output`, its hybrid and AIMC-only latency (simulated) and the TCDM it needs, at every
    parallel_tokens and integration time of the search table `points`."""
    rows = []
    tokens = int(points["parallel_tokens"].max())
    pipe = arch.pipeline
    for (d_in, d_out, rank, t_int, cores), _ in points.groupby(GROUP, sort=False):
        variant = _variant(arch, t_int, cores, rank)
        op = Op("layer", 0, "static_linear", "layer", int(d_in), int(d_out), ())
        work = _alone(op, tokens)
        model = cluster_model(variant.pmca, variant.lora.dtype)
        for block in sorted(points["parallel_tokens"].unique()):
            setting = dataclasses.replace(pipe, parallel_tokens=int(block))
            hybrid = static_layer(variant, op, tokens, setting, model, lora=True)
            row = {"d_in": d_in, "d_out": d_out, "integration_time_ns": t_int,
                   "parallel_tokens": int(block), "tcdm_bytes": hybrid.tcdm_bytes,
                   "latency_ns": math.nan, "aimc_only_latency_ns": math.nan}
            if hybrid.tcdm_bytes <= variant.pmca.tcdm_bytes:
                plain = static_layer(variant, op, tokens, setting, model, lora=False)
                for mode, col, est in (("hybrid", "latency_ns", hybrid),
                                       ("aimc-only", "aimc_only_latency_ns", plain)):
                    # the closed form where it is the simulator's figure (tested), else a run
                    row[col] = est.latency_ps / PS_PER_NS if est.exact else float(simulate(
                        _layer_by_layer(variant, setting), work, mode, timeline=False
                    ).layers.set_index("layer").loc["layer", "latency_ns"])
            rows.append(row)
    return pd.DataFrame(rows)
