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
from itertools import product
from typing import Any

import pandas as pd

from aimcsim.analytic import static_layer
from aimcsim.cost import prices, static_energy
from aimcsim.errors import CapacityError, SettingWarning
from aimcsim.explore.network import _apply, token_curves  # noqa: F401
from aimcsim.explore.space import (  # noqa: F401
    GROUP,
    SPACE_FIELDS,
    SearchSpace,
    _alone,
    _layer_by_layer,
    _variant,
    _variants,
    load_space,
)
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

    def __init__(
        self, variant: Arch, op: Op, tokens: int, points: pd.DataFrame, members: list[int],
        *, analytic: bool = True,
    ) -> None:
        self.variant, self.op, self.tokens = variant, op, tokens
        self.points, self.members = points, members
        self.work = _alone(op, tokens)
        self.model = cluster_model(variant.pmca, variant.lora.dtype)
        # use the analytic figures where they are exact or bounds (the analytic model says
        # which: on shared links neither); without: the simulator rates every point
        self.analytic = analytic
        self._base: dict[tuple[str, int, int], float] = {}
        self._energy: dict[Pipeline, float] = {}

    def pipe(self, idx: int) -> Pipeline:
        row = self.points.loc[idx]
        return dataclasses.replace(self.variant.pipeline, strategy=row.strategy,
                                   parallel_tokens=int(row.parallel_tokens),
                                   tile_output=row.tile_output,
                                   output_chunk=int(row.output_chunk))

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

    def energy(self, idx: int) -> float:
        """The energy of a point (simulated on first use)."""
        row = self.points.loc[idx]
        if not math.isnan(row.energy_pj):
            return float(row.energy_pj)
        pipe = self.pipe(idx)
        if pipe not in self._energy:
            self._simulate(pipe, "hybrid")
        self.points.loc[idx, "energy_pj"] = self._energy[pipe]
        return self._energy[pipe]

    def rate(self, idx: int) -> float:
        """The hybrid latency of a feasible point, by closed form where exact."""
        row = self.points.loc[idx]
        if row.rating in ("exact", "simulated"):
            return float(row.latency_ns)
        if self.exact(idx):
            latency, rating = float(row.analytic_latency_ns), "exact"
        else:
            latency, rating = self._simulate(self.pipe(idx), "hybrid"), "simulated"
        self.points.loc[idx, ["latency_ns", "rating"]] = [latency, rating]
        self.points.loc[idx, "aimc_only_latency_ns"] = self.base(idx)
        return latency

    def base(self, idx: int) -> float:
        """AIMC-only latency of the layer at the point's block size, strategy and chunk."""
        pipe = self.pipe(idx)
        key = (pipe.strategy, pipe.parallel_tokens, pipe.output_chunk)
        if key not in self._base:
            est = static_layer(self.variant, self.op, self.tokens, pipe, self.model, lora=False)
            self._base[key] = (est.latency_ps / PS_PER_NS if self.analytic and est.exact
                               else self._simulate(pipe, "aimc-only"))
        return self._base[key]

    def bound(self, idx: int) -> float:
        """A figure the point's latency cannot be below (its latency where exact)."""
        if self.analytic and self.points.loc[idx, "_bound"]:
            return float(self.points.loc[idx, "analytic_latency_ns"])
        return 0.0

    def exact(self, idx: int) -> bool:
        """The point's analytic figure is its latency (one block in flight)."""
        return self.analytic and bool(self.points.loc[idx, "_exact"])

    def feasible(self) -> list[int]:
        """Feasible points of the group in order of TCDM bytes, then figure, then space
        order."""
        rows = self.points.loc[self.members]
        rows = rows[rows["feasible"]]
        return list(rows.sort_values(["tcdm_bytes", "analytic_latency_ns"], kind="stable").index)


def _front(group: _Group) -> list[int]:
    """Rate the group as the module docstring says; return its Pareto front, least TCDM
    first. A pruned point is matched or beaten on both axes by a rated one."""
    best = math.inf
    for idx in group.feasible():
        if not group.exact(idx) and group.bound(idx) >= best:
            group.points.loc[idx, "rating"] = "pruned"
            continue
        best = min(best, group.rate(idx))
    rated = group.points.loc[group.feasible()]
    rated = rated[rated["rating"].isin(["exact", "simulated"])]
    front, best = [], math.inf
    for idx, row in rated.sort_values(["tcdm_bytes", "latency_ns"], kind="stable").iterrows():
        if row.latency_ns < best:
            front.append(idx)
            best = row.latency_ns
    return front


def _least_tcdm_within(group: _Group, max_overhead: float) -> int | None:
    """The least-TCDM feasible point whose overhead is at most `max_overhead` (fastest among
    equals), or None."""
    level, found = None, []
    for idx in group.feasible():
        tcdm = int(group.points.loc[idx, "tcdm_bytes"])
        if found and tcdm != level:
            break
        level = tcdm
        limit = (1 + max_overhead) * group.base(idx)
        if group.bound(idx) > limit:  # it cannot meet the limit (pruned by the front pass)
            continue
        if group.rate(idx) <= limit:
            found.append(idx)
    if not found:
        return None
    return min(found, key=lambda i: float(group.points.loc[i, "latency_ns"]))


def _screen(arch: Arch, workload: Workload, space: SearchSpace) -> tuple[
        pd.DataFrame, list[tuple[Arch, Op, list[int]]]]:
    """Every point of the space with its TCDM bytes and analytic figure."""
    check_lora_roles(arch, workload)
    tokens = workload.tokens
    blocks = space.parallel_tokens or tuple(
        sorted({min(2**i, tokens) for i in range(tokens.bit_length())} | {tokens}))
    if max(blocks) > tokens:
        above = [b for b in blocks if b > tokens]
        warnings.warn(SettingWarning(
            f"search space: parallel_tokens {', '.join(map(str, above))} above the workload's "
            f"{tokens} tokens are tried as one block of {tokens} tokens"), stacklevel=3)
        blocks = tuple(sorted({min(b, tokens) for b in blocks}))
    outputs = space.tile_output or (arch.pipeline.tile_output,)
    chunks = space.output_chunk or (arch.pipeline.output_chunk,)
    if engine(arch.lora.engine).beside_tile and len(outputs) > 1:
        warnings.warn(SettingWarning(
            f"search space: tile_output has no effect with lora.engine: {arch.lora.engine} "
            f"(U arrives beside the tile output); tried as {outputs[0]} only"), stacklevel=3)
        outputs = outputs[:1]
    shapes: dict[tuple[int, int], Op] = {}
    for op in workload.ops:
        if op.kind == "static_linear" and arch.lora.applies_to(op.role):
            shapes.setdefault((op.d_in, op.d_out), op)
    if not shapes:
        raise ValueError(f"workload {workload.name!r} has no static layer that carries a LoRA "
                         "adapter (lora.layers): nothing to search")
    rows, groups = [], []
    alone = {op.name: _alone(op, workload.rows(op)) for op in shapes.values()}
    for variant in _variants(arch, space):
        model = cluster_model(variant.pmca, variant.lora.dtype)
        for (d_in, d_out), op in shapes.items():
            members = []
            for strategy, block, tile_output, chunk in product(space.strategies, blocks, outputs,
                                                               chunks):
                pipe = dataclasses.replace(variant.pipeline, strategy=strategy,
                                           parallel_tokens=block, tile_output=tile_output,
                                           output_chunk=chunk)
                est = static_layer(variant, op, workload.rows(op), pipe, model, lora=True)
                feasible = _prepares(variant, alone[op.name], pipe, model)
                members.append(len(rows))
                rows.append({
                    "d_in": d_in, "d_out": d_out, "rank": variant.lora.rank,
                    "integration_time_ns": variant.aimc.integration_time_ns,
                    "cores": variant.pmca.cores, "strategy": strategy,
                    "parallel_tokens": block, "tile_output": tile_output,
                    "output_chunk": chunk,
                    "latency_ns": math.nan, "aimc_only_latency_ns": math.nan,
                    "overhead": math.nan, "energy_pj": math.nan,
                    "tcdm_bytes": est.tcdm_bytes, "feasible": feasible,
                    "analytic_latency_ns": est.latency_ps / PS_PER_NS,
                    "rating": "" if feasible else "infeasible",
                    "pareto": False, "fastest": False, "best": False, "_exact": est.exact,
                    "_bound": est.bound,
                })
            groups.append((variant, op, members))
    return pd.DataFrame(rows), groups


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
    points, groups = _screen(arch, workload, space or SearchSpace())
    for variant, op, members in groups:
        group = _Group(variant, op, workload.rows(op), points, members,
                       analytic=objective == "latency")
        front = _front(group)
        points.loc[front, "pareto"] = True
        if front:
            points.loc[front[-1], "fastest"] = True
        if objective != "latency":
            pick = _least_energy(group, objective, max_overhead)
        elif max_overhead is None:
            pick = front[-1] if front else None
        else:
            pick = _least_tcdm_within(group, max_overhead)
        if pick is not None:
            points.loc[pick, "best"] = True
    table = _table(points)
    variants = {id(v): v for v, _, _ in groups}  # shapes of one variant share its object
    chunks = (space or SearchSpace()).attention_key_chunk
    network = [_apply(table, variant, workload, chunks, objective)
               for variant in variants.values()]
    return SearchResult(table, network, max_overhead)


def exhaustive(arch: Arch, workload: Workload, space: SearchSpace | None = None) -> pd.DataFrame:
    """Every feasible point of the space simulated (the reference for `search`): the same
    table, with `latency_ns`, `aimc_only_latency_ns` and `energy_pj` from the simulator
    everywhere."""
    points, groups = _screen(arch, workload, space or SearchSpace())
    for variant, op, members in groups:
        group = _Group(variant, op, workload.rows(op), points, members, analytic=False)
        for idx in members:
            if points.loc[idx, "feasible"]:
                group.rate(idx)
                group.energy(idx)
    return _table(points)


def _least_energy(group: _Group, objective: str, max_overhead: float | None) -> int | None:
    """The feasible point of least energy (objective energy) or energy x latency (edp),
    within `max_overhead` when given; ties: least TCDM, then the fastest."""
    best, best_key = None, None
    for idx in group.feasible():
        latency = group.rate(idx)
        if max_overhead is not None and latency > (1 + max_overhead) * group.base(idx):
            continue
        energy = group.energy(idx)
        value = energy if objective == "energy" else energy * latency
        key = (value, int(group.points.loc[idx, "tcdm_bytes"]), latency)
        if best_key is None or key < best_key:
            best, best_key = idx, key
    return best


def _table(points: pd.DataFrame) -> pd.DataFrame:
    """The search table: overheads of the rated points, the documented columns."""
    points["overhead"] = overhead(points["latency_ns"], points["aimc_only_latency_ns"])
    return points[list(SEARCH_COLUMNS)]







