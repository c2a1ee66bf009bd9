"""Balance search: pipeline strategy, token parallelism, buffer policy and cluster size.

For every distinct static-layer shape of a workload and every point of the space, the layer runs
alone (as under `layer-by-layer`, its input crossing a link from the previous layer's cluster).
Points fall into groups (shape, integration time, cores, rank); within a group the settings are
the pipeline strategy, `parallel_tokens`, `tile_output` and `output_chunk`. The search is
exact: the setting it
reports is the best feasible point of the group as the simulator rates it.

- Screening (`aimcsim.analytic`): every point's TCDM bytes (exact) and latency figure: exact
  for one block in flight on point-to-point links (equal to the simulator, tested), a lower
  bound for `double-buffered`. On other topologies the figure is neither (the analytic model
  assumes dedicated links), so every feasible point is simulated.
- Rating in order of TCDM bytes, then figure: an exact point is rated by its closed form
  (`rating = exact`); a bounded point is simulated (`simulated`) unless its bound is no lower
  than the best latency already rated at no more TCDM (`pruned`: it can be neither faster nor
  leaner than that point). The rated points then hold the group's exact Pareto front of latency
  against TCDM bytes; its last point is the fastest setting.
- `max_overhead`: the least-TCDM setting whose overhead (hybrid / AIMC-only latency - 1) is at
  most the limit: points in order of TCDM bytes, each rated unless its bound already breaks the
  limit, until a TCDM level has a point within it.

`exhaustive` simulates every feasible point instead: the reference the tests and the benchmark
hold the search to. Finally the whole network runs with each layer at its shape's best setting,
hybrid against AIMC-only.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from itertools import product
from typing import Any

import pandas as pd

from aimcsim.analytic import static_layer
from aimcsim.cost import prices, static_energy
from aimcsim.errors import CapacityError, SettingWarning
from aimcsim.explore.network import _apply
from aimcsim.explore.space import SearchSpace, _alone, _layer_by_layer, _variants
from aimcsim.hw.engines import engine
from aimcsim.hw.pmca import PmcaModel
from aimcsim.hw.pmca.cycle_level import cluster_model
from aimcsim.mapping import check_lora_roles
from aimcsim.params.units import PS_PER_NS
from aimcsim.results import overhead
from aimcsim.sim.prepare import prepare
from aimcsim.simulator import simulate
from aimcsim.spec.arch import Arch, Pipeline
from aimcsim.spec.workload import Op, Workload

RATINGS = ("exact", "simulated", "pruned", "infeasible")
OBJECTIVES = ("latency", "energy", "edp")

#: Columns of the search table (`search.csv`), one row per point of the space.
SEARCH_COLUMNS: dict[str, str] = {
    "d_in": "layer input width", "d_out": "layer output width", "rank": "LoRA rank",
    "integration_time_ns": "tile integration time", "cores": "cluster cores",
    "strategy": "pipeline strategy", "parallel_tokens": "tokens per block (P)",
    "output_chunk": "output columns the cluster pulls and reduces at a time (0: the whole "
                    "block output)",
    "tile_output": "where the tile output lands: in-place (in the LoRA output buffer, T B "
                   "accumulates onto it) or separate",
    "latency_ns": "hybrid latency of the layer alone, as rated (empty where pruned or "
                  "infeasible)",
    "aimc_only_latency_ns": "the same layer and block size without the LoRA branch (empty "
                            "where not rated)",
    "overhead": "latency_ns / aimc_only_latency_ns - 1",
    "energy_pj": "energy of the layer alone at the point (its dynamic energy, and its tiles' "
                 "and cluster's leakage over its latency; objective energy or edp, and "
                 "exhaustive; empty elsewhere)",
    "tcdm_bytes": "TCDM the layer needs, (d_in + d_out) * r * eb resident A and B plus "
                  "blocks in flight x P * (d_in + r + S * d_out [+ d_out if separate]) * eb "
                  "(eb bytes per element, S row slices of the tile)",
    "feasible": "tcdm_bytes <= pmca.tcdm_bytes",
    "analytic_latency_ns": "closed-form figure: exact for one block in flight on "
                           "point-to-point links, else a lower bound",
    "rating": "how latency_ns was obtained: exact (closed form), simulated, pruned (its bound "
              "cannot beat a rated point with no more TCDM) or infeasible",
    "pareto": "on the exact latency / TCDM Pareto front of its group",
    "fastest": "the group's fastest feasible setting (least TCDM among equals)",
    "best": "the group's setting for the objective: latency: the fastest, or with "
            "max_overhead the least TCDM within it; energy or edp (energy x latency): the "
            "least, within max_overhead when given",
}


@dataclass
class SearchPoint:
    """One point of the space: its settings, its screening figures and how it was rated (the
    search table's row, `SEARCH_COLUMNS`, plus what the screen knows of its figure)."""

    d_in: int
    d_out: int
    rank: int
    integration_time_ns: float
    cores: int
    strategy: str
    parallel_tokens: int
    tile_output: str
    output_chunk: int
    tcdm_bytes: int
    feasible: bool
    analytic_latency_ns: float
    exact: bool  # the analytic figure is the latency (one block in flight, dedicated links)
    bounded: bool  # the analytic figure is a lower bound of the latency
    latency_ns: float = math.nan
    aimc_only_latency_ns: float = math.nan
    energy_pj: float = math.nan
    rating: str = ""
    pareto: bool = False
    fastest: bool = False
    best: bool = False

    def pipe(self, base: Pipeline) -> Pipeline:
        """`base` at the point's settings."""
        return _setting(base, self.strategy, self.parallel_tokens, self.tile_output,
                        self.output_chunk)


def _setting(base: Pipeline, strategy: str, block: int, tile_output: str, chunk: int
             ) -> Pipeline:
    """`base` with a point's settings: strategy, block size, tile output and output chunk."""
    return dataclasses.replace(base, strategy=strategy, parallel_tokens=block,
                               tile_output=tile_output, output_chunk=chunk)


@dataclass
class SearchResult:
    points: pd.DataFrame  # SEARCH_COLUMNS
    network: list[dict[str, Any]] = field(default_factory=list)
    max_overhead: float | None = None

    @property
    def best(self) -> pd.DataFrame:
        return self.points[self.points["best"]].reset_index(drop=True)


def _prepares(variant: Arch, work: Workload, pipe: Pipeline, model: PmcaModel) -> bool:
    """Whether the simulation prepares (`aimcsim.sim.prepare`) the layer alone at `pipe` in
    hybrid mode (its TCDM holds the blocks in flight beside A and B): the search's feasible
    points are those `simulate` runs."""
    try:
        prepare(_layer_by_layer(variant, pipe), work, "hybrid", model)
    except CapacityError:
        return False
    return True


class _Group:
    """The points of one group and how to rate them (memoised)."""

    def __init__(self, variant: Arch, op: Op, tokens: int, members: list[SearchPoint], *,
                 analytic: bool = True) -> None:
        self.variant, self.op, self.tokens, self.members = variant, op, tokens, members
        self.work = _alone(op, tokens)
        self.model = cluster_model(variant.pmca, variant.lora.dtype)
        # use the analytic figures where they are exact or bounds (the analytic model says
        # which: on shared links neither); without: the simulator rates every point
        self.analytic = analytic
        self._base: dict[tuple[str, int, int], float] = {}
        self._energy: dict[Pipeline, float] = {}

    def pipe(self, point: SearchPoint) -> Pipeline:
        return point.pipe(self.variant.pipeline)

    def _simulate(self, pipe: Pipeline, mode: str) -> float:
        result = simulate(_layer_by_layer(self.variant, pipe), self.work, mode, timeline=False)
        row = result.layers.set_index("layer").loc["layer"]
        if mode == "hybrid":
            self._energy[pipe] = self._layer_energy(row, result.summary)
        return float(row["latency_ns"])

    def _layer_energy(self, row: pd.Series, summary: dict) -> float:
        """The layer's dynamic energy and the leakage of its tiles and cluster over its
        latency (NaN without a technology file)."""
        price = prices(self.variant, summary.get("l2_priced_bytes", 0))
        if price is None:
            return math.nan
        static = static_energy(price, float(row["latency_ns"]), tiles=int(row["tiles"]),
                               clusters=1, tile_busy_ns=float(row["aimc_busy_ns"])
                               * int(row["tiles"]))
        return float(row["energy_pj"]) + sum(static.values())

    def energy(self, point: SearchPoint) -> float:
        """The energy of a point (simulated on first use)."""
        if not math.isnan(point.energy_pj):
            return point.energy_pj
        pipe = self.pipe(point)
        if pipe not in self._energy:
            self._simulate(pipe, "hybrid")
        point.energy_pj = self._energy[pipe]
        return point.energy_pj

    def rate(self, point: SearchPoint) -> float:
        """The hybrid latency of a feasible point, by closed form where exact."""
        if point.rating in ("exact", "simulated"):
            return point.latency_ns
        if self.exact(point):
            point.latency_ns, point.rating = point.analytic_latency_ns, "exact"
        else:
            point.latency_ns = self._simulate(self.pipe(point), "hybrid")
            point.rating = "simulated"
        point.aimc_only_latency_ns = self.base(point)
        return point.latency_ns

    def base(self, point: SearchPoint) -> float:
        """AIMC-only latency of the layer at the point's block size, strategy and chunk."""
        pipe = self.pipe(point)
        key = (pipe.strategy, pipe.parallel_tokens, pipe.output_chunk)
        if key not in self._base:
            est = static_layer(self.variant, self.op, self.tokens, pipe, self.model, lora=False)
            self._base[key] = (est.latency_ps / PS_PER_NS if self.analytic and est.exact
                               else self._simulate(pipe, "aimc-only"))
        return self._base[key]

    def bound(self, point: SearchPoint) -> float:
        """A figure the point's latency cannot be below (its latency where exact)."""
        return point.analytic_latency_ns if self.analytic and point.bounded else 0.0

    def exact(self, point: SearchPoint) -> bool:
        """The point's analytic figure is its latency (one block in flight)."""
        return self.analytic and point.exact

    @cached_property
    def feasible(self) -> list[SearchPoint]:
        """Feasible points of the group in order of TCDM bytes, then figure, then space
        order (fixed by the screen: sorted once)."""
        return sorted((p for p in self.members if p.feasible),
                      key=lambda p: (p.tcdm_bytes, p.analytic_latency_ns))


def _front(group: _Group) -> list[SearchPoint]:
    """Rate the group as the module docstring says; return its Pareto front, least TCDM
    first. A pruned point is matched or beaten on both axes by a rated one."""
    best = math.inf
    for point in group.feasible:
        if not group.exact(point) and group.bound(point) >= best:
            point.rating = "pruned"
            continue
        best = min(best, group.rate(point))
    rated = [p for p in group.feasible if p.rating in ("exact", "simulated")]
    front, best = [], math.inf
    for point in sorted(rated, key=lambda p: (p.tcdm_bytes, p.latency_ns)):
        if point.latency_ns < best:
            front.append(point)
            best = point.latency_ns
    return front


def _least_tcdm_within(group: _Group, max_overhead: float) -> SearchPoint | None:
    """The least-TCDM feasible point whose overhead is at most `max_overhead` (fastest among
    equals), or None."""
    level, found = None, []
    for point in group.feasible:
        if found and point.tcdm_bytes != level:
            break
        level = point.tcdm_bytes
        limit = (1 + max_overhead) * group.base(point)
        if group.bound(point) > limit:  # it cannot meet the limit (pruned by the front pass)
            continue
        if group.rate(point) <= limit:
            found.append(point)
    if not found:
        return None
    return min(found, key=lambda p: p.latency_ns)


def _blocks(workload: Workload, space: SearchSpace) -> tuple[int, ...]:
    """The block sizes the space tries (above the workload's tokens: one block of all)."""
    tokens = workload.tokens
    blocks = space.parallel_tokens or tuple(
        sorted({min(2**i, tokens) for i in range(tokens.bit_length())} | {tokens}))
    if max(blocks) > tokens:
        above = [b for b in blocks if b > tokens]
        warnings.warn(SettingWarning(
            f"search space: parallel_tokens {', '.join(map(str, above))} above the workload's "
            f"{tokens} tokens are tried as one block of {tokens} tokens"), stacklevel=4)
        blocks = tuple(sorted({min(b, tokens) for b in blocks}))
    return blocks


def _shapes(arch: Arch, workload: Workload) -> dict[tuple[int, int], Op]:
    """The first adapted static layer of each shape."""
    shapes: dict[tuple[int, int], Op] = {}
    for op in workload.ops:
        if op.kind == "static_linear" and arch.lora.rank_of(op.block, op.role) is not None:
            shapes.setdefault((op.d_in, op.d_out), op)
    if not shapes:
        raise ValueError(f"workload {workload.name!r} has no static layer that carries a LoRA "
                         "adapter (lora.layers): nothing to search")
    ranks = {rank for op in workload.ops if op.kind == "static_linear"
             and (rank := arch.lora.rank_of(op.block, op.role)) is not None}
    if len(ranks) > 1:  # (a group is a shape at one rank, whose settings every layer takes)
        raise ValueError(f"lora.adapter {arch.lora.adapter.file} gives the static layers ranks "
                         f"{', '.join(map(str, sorted(ranks)))} (rank_pattern): the search "
                         "balances each shape at one rank; search with an adapter of one rank")
    return shapes


def _screen(arch: Arch, workload: Workload, space: SearchSpace
            ) -> list[tuple[Arch, Op, list[SearchPoint]]]:
    """Every point of the space with its TCDM bytes and analytic figure, by group."""
    check_lora_roles(arch, workload)
    blocks = _blocks(workload, space)
    outputs = space.tile_output or (arch.pipeline.tile_output,)
    chunks = space.output_chunk or (arch.pipeline.output_chunk,)
    if engine(arch.lora.engine).beside_tile and len(outputs) > 1:
        warnings.warn(SettingWarning(
            f"search space: tile_output has no effect with lora.engine: {arch.lora.engine} "
            f"(U arrives beside the tile output); tried as {outputs[0]} only"), stacklevel=3)
        outputs = outputs[:1]
    shapes = _shapes(arch, workload)
    groups = []
    alone = {op.name: _alone(op, workload.rows(op)) for op in shapes.values()}
    for variant in _variants(arch, space):
        model = cluster_model(variant.pmca, variant.lora.dtype)
        for (d_in, d_out), op in shapes.items():
            members = []
            for strategy, block, tile_output, chunk in product(space.strategies, blocks, outputs,
                                                               chunks):
                pipe = _setting(variant.pipeline, strategy, block, tile_output, chunk)
                est = static_layer(variant, op, workload.rows(op), pipe, model, lora=True)
                feasible = _prepares(variant, alone[op.name], pipe, model)
                members.append(SearchPoint(
                    d_in=d_in, d_out=d_out, rank=variant.lora.rank,
                    integration_time_ns=variant.aimc.integration_time_ns,
                    cores=variant.pmca.cores, strategy=strategy, parallel_tokens=block,
                    tile_output=tile_output, output_chunk=chunk, tcdm_bytes=est.tcdm_bytes,
                    feasible=feasible, analytic_latency_ns=est.latency_ps / PS_PER_NS,
                    exact=est.exact, bounded=est.bound,
                    rating="" if feasible else "infeasible"))
            groups.append((variant, op, members))
    return groups


def search(
    arch: Arch, workload: Workload, space: SearchSpace | None = None, *,
    max_overhead: float | None = None, objective: str = "latency",
) -> SearchResult:
    """Exact balance search; see the module docstring.

    objective latency: with `max_overhead`, each group's `best` is the least-TCDM setting
    whose per-layer overhead is at most this fraction (0.04: 4%); without it, the fastest
    setting. objective energy or edp (energy x latency; the architecture needs a technology
    file): the setting of least energy or EDP, among those within `max_overhead` when given;
    every feasible point is simulated (counts and latencies as the simulator has them).
    """
    if max_overhead is not None and not max_overhead >= 0:
        raise ValueError(f"max_overhead must be a fraction >= 0, got {max_overhead}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective {objective!r} is not one of {', '.join(OBJECTIVES)}")
    if objective != "latency" and arch.technology is None:
        raise ValueError(f"{arch.source}: objective {objective} needs energy: name a "
                         "technology file (technology: ../tech/...)")
    groups = _screen(arch, workload, space or SearchSpace())
    for variant, op, members in groups:
        group = _Group(variant, op, workload.rows(op), members, analytic=objective == "latency")
        front = _front(group)
        for point in front:
            point.pareto = True
        if front:
            front[-1].fastest = True
        if objective != "latency":
            pick = _least_energy(group, objective, max_overhead)
        elif max_overhead is None:
            pick = front[-1] if front else None
        else:
            pick = _least_tcdm_within(group, max_overhead)
        if pick is not None:
            pick.best = True
    table = _table(groups)
    variants = {id(v): v for v, _, _ in groups}  # shapes of one variant share its object
    chunks = (space or SearchSpace()).attention_key_chunk
    network = [_apply(table, variant, workload, chunks, objective)
               for variant in variants.values()]
    return SearchResult(table, network, max_overhead)


def exhaustive(arch: Arch, workload: Workload, space: SearchSpace | None = None) -> pd.DataFrame:
    """Every feasible point of the space simulated (the reference for `search`): the same
    table, with `latency_ns`, `aimc_only_latency_ns` and `energy_pj` from the simulator
    everywhere."""
    groups = _screen(arch, workload, space or SearchSpace())
    for variant, op, members in groups:
        group = _Group(variant, op, workload.rows(op), members, analytic=False)
        for point in members:
            if point.feasible:
                group.rate(point)
                group.energy(point)
    return _table(groups)


def _least_energy(group: _Group, objective: str, max_overhead: float | None
                  ) -> SearchPoint | None:
    """The feasible point of least energy (objective energy) or energy x latency (edp),
    within `max_overhead` when given; ties: least TCDM, then the fastest."""
    best, best_key = None, None
    for point in group.feasible:
        latency = group.rate(point)
        if max_overhead is not None and latency > (1 + max_overhead) * group.base(point):
            continue
        energy = group.energy(point)
        value = energy if objective == "energy" else energy * latency
        key = (value, point.tcdm_bytes, latency)
        if best_key is None or key < best_key:
            best, best_key = point, key
    return best


def _table(groups: list[tuple[Arch, Op, list[SearchPoint]]]) -> pd.DataFrame:
    """The search table, built once from the rated points: the documented columns, with the
    overheads of the rated points."""
    columns = [c for c in SEARCH_COLUMNS if c != "overhead"]
    points = pd.DataFrame([[getattr(p, c) for c in columns]
                           for _, _, members in groups for p in members], columns=columns)
    points["overhead"] = overhead(points["latency_ns"], points["aimc_only_latency_ns"])
    return points[list(SEARCH_COLUMNS)]
