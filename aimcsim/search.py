"""Balance search: pipeline strategy, token parallelism and cluster size under the TCDM capacity.

For every distinct static-layer shape of a workload and every point of the space, the layer's
hybrid latency, its AIMC-only latency and its TCDM bytes are screened with the analytic model
(`aimcsim.analytic`). Per group (shape, integration time, cores, rank) the Pareto front of
latency against TCDM bytes over the feasible points is then simulated (the layer alone), and
the best simulated point is the group's setting. Finally the whole network runs with each
layer's best setting, hybrid against AIMC-only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import pandas as pd

from aimcsim.analytic import static_layer
from aimcsim.engine import PS_PER_NS
from aimcsim.hw.aimc_tile import burst_latency_ps, map_matrix
from aimcsim.hw.pmca_cycles import cluster_model
from aimcsim.kernels import block_program
from aimcsim.report import overhead_stats
from aimcsim.simulator import simulate
from aimcsim.spec._reader import Reader, read_yaml
from aimcsim.spec.arch import STRATEGIES, Arch, Pipeline
from aimcsim.spec.workload import INPUT, Edge, Op, Workload

#: Columns of the search table (`search.csv`), one row per screened point.
SEARCH_COLUMNS: dict[str, str] = {
    "d_in": "layer input width", "d_out": "layer output width", "rank": "LoRA rank",
    "integration_time_ns": "tile integration time", "strategy": "pipeline strategy",
    "parallel_tokens": "tokens per block", "cores": "cluster cores",
    "latency_ns": "hybrid latency of the layer alone (simulated where `simulated`)",
    "aimc_only_latency_ns": "the same layer without the LoRA branch",
    "overhead": "latency_ns / aimc_only_latency_ns - 1",
    "tcdm_bytes": "TCDM the layer needs: resident A and B + its blocks in flight",
    "feasible": "tcdm_bytes <= pmca.tcdm_bytes",
    "analytic_latency_ns": "screening estimate (exact for one block in flight, else a bound)",
    "simulated": "the point was confirmed by the simulator",
    "pareto": "on the latency / TCDM Pareto front of its group",
    "best": "the group's best feasible setting",
}
GROUP = ["d_in", "d_out", "rank", "integration_time_ns", "cores"]


@dataclass(frozen=True)
class SearchSpace:
    """Values to try; None takes the architecture's own value (one point)."""

    strategies: tuple[str, ...] = STRATEGIES
    parallel_tokens: tuple[int, ...] | None = None  # None: powers of two up to tokens, + tokens
    cores: tuple[int, ...] | None = None
    integration_time_ns: tuple[float, ...] | None = (128.0, 256.0, 512.0)
    rank: tuple[int, ...] | None = None


@dataclass
class SearchResult:
    points: pd.DataFrame  # SEARCH_COLUMNS
    network: list[dict[str, Any]] = field(default_factory=list)

    @property
    def best(self) -> pd.DataFrame:
        return self.points[self.points["best"]].reset_index(drop=True)


_SPACE_KEYS = ("version", "strategies", "parallel_tokens", "cores", "integration_time_ns", "rank")


def load_space(path: str | Path) -> SearchSpace:
    """A search-space YAML file: `version: 1` and lists for any of the space's fields."""
    r = Reader(path)
    d = r.mapping(read_yaml(path), "", _SPACE_KEYS, required=("version",))
    if "version" in d:
        r.version(d, (1,))
    values: dict[str, Any] = {}
    for key, kind, minimum, choices in (
        ("strategies", str, None, STRATEGIES), ("parallel_tokens", int, 1, None),
        ("cores", int, 1, None), ("integration_time_ns", float, 0.001, None),
        ("rank", int, 1, None),
    ):
        if key not in d:
            continue
        items = r.sequence(d[key], key)
        if not items:
            r.error(key, "expected a non-empty list")
        values[key] = tuple(
            r.take({key: v}, "", key, kind, minimum=minimum, choices=choices) for v in items
        )
    r.finish()
    return SearchSpace(**values)


def _variant(arch: Arch, integration_time_ns: float, cores: int, rank: int) -> Arch:
    """`arch` with another integration time, cluster size and LoRA rank."""
    return dataclasses.replace(
        arch,
        aimc=dataclasses.replace(arch.aimc, integration_time_ns=float(integration_time_ns)),
        pmca=dataclasses.replace(arch.pmca, cores=int(cores)),
        lora=dataclasses.replace(arch.lora, rank=int(rank)),
    )


def _variants(arch: Arch, space: SearchSpace) -> list[Arch]:
    return [_variant(arch, t_int, cores, rank) for t_int, cores, rank in product(
        space.integration_time_ns or (arch.aimc.integration_time_ns,),
        space.cores or (arch.pmca.cores,), space.rank or (arch.lora.rank,))]


def _alone(op: Op, tokens: int) -> Workload:
    """`op` alone, its input produced on another cluster (as in the network)."""
    source = Op("source", 0, "elementwise", "source", op.d_in, op.d_in,
                (Edge(INPUT, "streaming"),), function="norm")
    single = dataclasses.replace(op, name="layer", block=0, inputs=(Edge("source", "streaming"),))
    return Workload("layer", tokens, op.d_in, (source, single))


def _layer_by_layer(arch: Arch, pipe: Pipeline) -> Arch:
    return dataclasses.replace(arch, pipeline=dataclasses.replace(
        pipe, between_layers="layer-by-layer"))


def search(arch: Arch, workload: Workload, space: SearchSpace | None = None) -> SearchResult:
    """Screen, confirm and apply the best settings; see the module docstring."""
    space = space or SearchSpace()
    tokens = workload.tokens
    blocks = space.parallel_tokens or tuple(
        sorted({min(2**i, tokens) for i in range(tokens.bit_length())} | {tokens}))
    shapes: dict[tuple[int, int], Op] = {}
    for op in workload.ops:
        if op.kind == "static_linear" and arch.lora.applies_to(op.role):
            shapes.setdefault((op.d_in, op.d_out), op)
    variants = {(v.aimc.integration_time_ns, v.pmca.cores, v.lora.rank): v
                for v in _variants(arch, space)}
    rows = []
    for variant in variants.values():
        model = cluster_model(variant.pmca, variant.lora.dtype)
        for (d_in, d_out), op in shapes.items():
            base = static_layer(variant, op, tokens, variant.pipeline, model, lora=False)
            for strategy, block in product(space.strategies, blocks):
                pipe = dataclasses.replace(variant.pipeline, strategy=strategy,
                                           parallel_tokens=block)
                est = static_layer(variant, op, tokens, pipe, model, lora=True)
                rows.append({
                    "d_in": d_in, "d_out": d_out, "rank": variant.lora.rank,
                    "integration_time_ns": variant.aimc.integration_time_ns,
                    "strategy": strategy, "parallel_tokens": block, "cores": variant.pmca.cores,
                    "latency_ns": est.latency_ps / PS_PER_NS,
                    "aimc_only_latency_ns": base.latency_ps / PS_PER_NS,
                    "tcdm_bytes": est.tcdm_bytes,
                    "feasible": est.tcdm_bytes <= variant.pmca.tcdm_bytes,
                    "analytic_latency_ns": est.latency_ps / PS_PER_NS,
                    "simulated": False, "pareto": False, "best": False,
                })
    points = pd.DataFrame(rows)
    _confirm(points, variants, shapes, tokens)
    points["overhead"] = points["latency_ns"] / points["aimc_only_latency_ns"] - 1
    points = points[list(SEARCH_COLUMNS)]
    network = [_apply(points, variant, workload) for variant in variants.values()]
    return SearchResult(points, network)


def _pareto(group: pd.DataFrame) -> list[int]:
    """Indices of feasible points no other feasible point beats on both latency and TCDM."""
    front, best_latency = [], float("inf")
    ordered = group[group["feasible"]].sort_values(["tcdm_bytes", "latency_ns"], kind="stable")
    for idx, row in ordered.iterrows():
        if row["latency_ns"] < best_latency:
            front.append(idx)
            best_latency = row["latency_ns"]
    return front


def _confirm(
    points: pd.DataFrame, variants: dict[tuple, Arch], shapes: dict[tuple, Op], tokens: int
) -> None:
    """Simulate every Pareto point of every group; mark the best simulated one."""
    for _, group in points.groupby(GROUP, sort=False):
        front = _pareto(group)
        if not front:
            continue
        first = points.loc[front[0]]
        variant = variants[(first.integration_time_ns, first.cores, first["rank"])]
        work = _alone(shapes[(first.d_in, first.d_out)], tokens)
        for idx in front:
            row = points.loc[idx]
            pipe = dataclasses.replace(variant.pipeline, strategy=row.strategy,
                                       parallel_tokens=int(row.parallel_tokens))
            layer = simulate(_layer_by_layer(variant, pipe), work,
                             "hybrid").layers.set_index("layer").loc["layer"]
            points.loc[idx, ["latency_ns", "simulated", "pareto"]] = [layer.latency_ns, True, True]
        best = points.loc[front, "latency_ns"].astype(float).idxmin()
        points.loc[best, "best"] = True


def _apply(points: pd.DataFrame, variant: Arch, workload: Workload) -> dict[str, Any]:
    """Simulate the network with every LoRA layer at its shape's best setting."""
    best = points[points["best"]
                  & (points["integration_time_ns"] == variant.aimc.integration_time_ns)
                  & (points["cores"] == variant.pmca.cores)
                  & (points["rank"] == variant.lora.rank)]
    by_shape = {(r.d_in, r.d_out): dataclasses.replace(
        variant.pipeline, strategy=r.strategy, parallel_tokens=int(r.parallel_tokens))
                for r in best.itertuples()}
    settings = {op.name: by_shape[(op.d_in, op.d_out)] for op in workload.ops
                if op.kind == "static_linear" and (op.d_in, op.d_out) in by_shape
                and variant.lora.applies_to(op.role)}
    # the same block sizes in both modes, so the comparison isolates the LoRA branch (a tile
    # alone ignores the strategy; its block size sets how its output is sent on)
    hybrid = simulate(variant, workload, "hybrid", settings=settings)
    aimc = simulate(variant, workload, "aimc-only", settings=settings)
    return {
        "integration_time_ns": variant.aimc.integration_time_ns,
        "cores": variant.pmca.cores,
        "rank": variant.lora.rank,
        "hybrid_latency_ns": hybrid.summary["total_latency_ns"],
        "aimc_only_latency_ns": aimc.summary["total_latency_ns"],
        "overhead": hybrid.summary["total_latency_ns"] / aimc.summary["total_latency_ns"] - 1,
        **overhead_stats(pd.concat([aimc.layers, hybrid.layers], ignore_index=True)),
        "settings": {f"{d_in}x{d_out}": {"strategy": p.strategy,
                                         "parallel_tokens": p.parallel_tokens}
                     for (d_in, d_out), p in by_shape.items()},
    }


def block_table(arch: Arch, points: pd.DataFrame) -> pd.DataFrame:
    """Per shape, integration time and block size: the tile's and the cluster's time for one
    block, and the TCDM of one block in flight (for the `tokens` figure)."""
    rows = []
    keep = points[points["strategy"] == "overlapped"]
    for r in keep.itertuples():
        variant = _variant(arch, r.integration_time_ns, r.cores, r.rank)
        model = cluster_model(variant.pmca, variant.lora.dtype)
        op = Op("layer", 0, "static_linear", "layer", r.d_in, r.d_out, ())
        prog = block_program(model, op, r.parallel_tokens, eb=variant.lora.element_bytes,
                             tile=map_matrix(r.d_in, r.d_out, variant.aimc), rank=r.rank,
                             tile_output=variant.pipeline.tile_output)
        cycles = sum(k.cycles for k in (prog.pre, prog.post) if k is not None)
        rows.append({"d_in": r.d_in, "d_out": r.d_out,
                     "integration_time_ns": r.integration_time_ns,
                     "parallel_tokens": r.parallel_tokens,
                     "tile_block_ns": burst_latency_ps(r.parallel_tokens, variant.aimc) / PS_PER_NS,
                     "cluster_block_ns": cycles * variant.pmca.period_ps / PS_PER_NS,
                     "tcdm_bytes": r.tcdm_bytes})
    return pd.DataFrame(rows)
