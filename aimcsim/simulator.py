"""`simulate`: one workload on one architecture in one mode -> `Result`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd

from aimcsim.cost import area, l2_priced_bytes, layer_energy, prices, run_energy, warn
from aimcsim.errors import SettingWarning
from aimcsim.hw.engines import engine
from aimcsim.hw.pmca import PmcaModel
from aimcsim.hw.pmca.cycle_level import cluster_model
from aimcsim.identity import Same
from aimcsim.params.units import PS_PER_NS
from aimcsim.results import LAYER_COLUMNS, TIMELINE_COLUMNS, critical_path, layer_row
from aimcsim.sim.collector import paused_gc
from aimcsim.sim.network import NetworkSim
from aimcsim.sim.prepare import Prepared, prepare
from aimcsim.sim.stats import OpStats
from aimcsim.spec.arch import MODES, Arch, Pipeline
from aimcsim.spec.workload import Workload


@dataclass
class Result:
    """Outcome of one simulation. See `aimcsim.results.LAYER_COLUMNS` for the schema."""

    #: the `layers` table by column, in its order: numpy arrays and sequences of strings (read
    #: only: some are shared by the runs of one workload); sweeps stack and store these
    #: without building a frame
    columns: dict[str, Any] = field(repr=False)
    summary: dict[str, Any]
    _timeline: list[tuple[str, int, int, str, str]] = field(repr=False, default_factory=list)
    #: with the timeline: each op's latency along its critical path by cause (mode, layer,
    #: latency_ns and `aimcsim.results.CAUSES` in ns, summing to latency_ns)
    critical: pd.DataFrame | None = None

    @cached_property
    def layers(self) -> pd.DataFrame:
        """A row per op, in trace order (`aimcsim.results.LAYER_COLUMNS`)."""
        return pd.DataFrame(self.columns)

    @cached_property
    def timeline(self) -> pd.DataFrame:
        """(component, start_ns, end_ns, activity, layer), sorted by start then component."""
        frame = pd.DataFrame.from_records(self._timeline, columns=list(TIMELINE_COLUMNS))
        frame["start_ns"] = frame["start_ns"] / PS_PER_NS
        frame["end_ns"] = frame["end_ns"] / PS_PER_NS
        return frame.sort_values(["start_ns", "component"], kind="stable").reset_index(drop=True)


def default_model(arch: Arch) -> PmcaModel:
    """The cluster model `pmca.timing` names (cycle-level unless told otherwise)."""
    return cluster_model(arch.pmca, arch.lora.dtype)


def _warn_clamped(arch: Arch, workload: Workload, settings: dict[str, Pipeline] | None) -> None:
    """Say so when a block is asked larger than the workload: it runs as one block of all
    tokens."""
    blocks = ({settings.get(op.name, arch.pipeline).parallel_tokens for op in workload.ops}
              if settings else {arch.pipeline.parallel_tokens})
    asked = sorted(block for block in blocks if block > workload.tokens)
    if asked:
        warnings.warn(SettingWarning(
            f"{arch.source}: pipeline.parallel_tokens = {', '.join(map(str, asked))} is above "
            f"the workload's {workload.tokens} tokens; blocks of {workload.tokens} tokens are "
            "used"), stacklevel=3)


def run_network(prepared: Prepared, record: bool, replay: bool) -> NetworkSim:
    """The prepared run, simulated (`record`: its timeline; `replay`: repeated ops and layers
    replayed). Should a replayed layer not have repeated (`aimcsim.sim.layers`) after its
    replay began at group g, before that was known, the run is simulated again with it
    beginning at g + 1 at the earliest, then only once known; should that diverge too,
    without layer replay."""
    sim = NetworkSim(prepared, record, replay)
    sim.run()
    for speculate in (1, None):
        if not sim.diverged or sim.layers.guessed is None:
            break
        sim = NetworkSim(prepared, record, replay, speculate=speculate and sim.layers.guessed + 1)
        sim.run()
    if sim.diverged:
        sim = NetworkSim(prepared, record, replay=False)
        sim.run()
    return sim


def simulate(
    arch: Arch,
    workload: Workload,
    mode: str | None = None,
    *,
    model: PmcaModel | None = None,
    settings: dict[str, Pipeline] | None = None,
    timeline: bool = True,
    replay: bool = True,
) -> Result:
    """Simulate `workload` on `arch`.

    mode: `hybrid` (tile output plus the cluster's LoRA branch) or `aimc-only` (adapters merged
    into the programmed weights); default: the architecture's `mode`.
    model: cluster timing model (default: the one `pmca.timing` names).
    settings: pipeline strategy and block size of single operations, by op name (default: the
    architecture's `pipeline` for every op), e.g. the best settings a search found.
    timeline: record the activity timeline (sweeps turn it off: they keep only the tables).
    replay: in a layer-by-layer run without a timeline, apply the recorded footprint of an op
    already simulated to each later op equal to it up to a shift in time (`aimcsim.sim.replay`);
    False simulates every op (the reference engine; the results are the same).
    Raises `CapacityError` when a token block does not fit the TCDM.
    """
    mode = mode or arch.mode
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    _warn_clamped(arch, workload, settings)
    with paused_gc():  # (the run's objects are dropped before the collector is back)
        prepared = prepare(arch, workload, mode, model or default_model(arch), settings)
        sim = run_network(prepared, timeline, replay)
        price = prices(arch, l2_priced_bytes(arch, max(sim.l2_held, default=0)))
        columns, stats = _columns(sim, price)
        summary = _summary(sim, columns, stats)
        critical = _critical(sim) if timeline else None
        recorded = sim.timeline
        del sim
    warn(price)
    tech = arch.technology
    # (summed over the columns' arrays: the same sums as over the frame's, without pandas)
    summary["energy"] = run_energy(columns, price, technology=tech.name if tech else "",
                                   total_latency_ns=summary["total_latency_ns"],
                                   tokens=workload.tokens, tiles=summary["tiles"],
                                   clusters=summary["clusters"], links=summary["links"],
                                   macros=summary["cim_macros"])
    summary["area"] = area(price, summary["tiles"], summary["clusters"], summary["links"],
                           summary["cim_macros"])
    if price is not None:
        summary["l2_priced_bytes"] = price.l2_bytes
    return Result(columns, summary, recorded, critical)


def _columns(sim: NetworkSim, price: Any) -> tuple[dict[str, Any], np.ndarray]:
    """The `layers` table's columns (in order): numpy arrays, and sequences of strings; and
    the ops' statistics they come from, a row per `OpStats` field (in ps and bytes)."""
    ops = sim.workload.ops
    snapshot = sim.stats.snapshot
    snapshots = [snapshot(op.name) for op in ops]  # (in trace order)
    if any(s[_FIRST] is None for s in snapshots):  # an op without a compute span starts at 0
        snapshots = [s if s[_FIRST] is not None else (*s[:_FIRST], 0, *s[_FIRST + 1:])
                     for s in snapshots]
    stats = _rows_of(snapshots, len(OpStats.INDEX))  # (a row per field)
    counters = sim.counter_table([op.name for op in ops])
    if sim.uniform_settings:  # (every op runs the architecture's pipeline)
        block = np.full(len(ops), sim.blocks[ops[0].name][0], dtype=np.int64)
        for i, op in enumerate(ops):
            if op.last_tokens:  # (its blocks are of its last tokens only)
                block[i] = sim.blocks[op.name][0]
        strategies = [sim.arch.pipeline.strategy] * len(ops)
    else:
        block = np.array([sim.blocks[op.name][0] for op in ops], dtype=np.int64)
        strategies = [sim.settings[op.name].strategy for op in ops]
    shape = _case(Same(sim.workload, sim.shared), sim.arch.lora.engine, sim.arch.branch).columns
    columns: dict[str, Any] = {
        "block": shape["block"], "layer": shape["layer"], "role": shape["role"],
        "kind": shape["kind"], "tokens": stats[_FIELD["tokens"]], "d_in": shape["d_in"],
        "d_out": shape["d_out"], "rank": shape["rank"], "mode": [sim.mode] * len(ops),
        "parallel_tokens": block, "strategy": strategies,
        "tiles": shape["tiles"], "pmca": shape["pmca"],
        "start_ns": stats[_FIRST], "end_ns": stats[_FIELD["last_ps"]],
        "latency_ns": stats[_FIELD["last_ps"]] - stats[_FIRST],
        **{f"{busy}_ns": stats[_FIELD[f"{busy}_ps"]]
           for busy in ("aimc_busy", "pmca_busy", "dma_busy", "noc_busy", "stall")},
        "tcdm_peak_bytes": stats[_FIELD["tcdm_peak_bytes"]],
        **dict(zip(sim.counter_names, counters, strict=True)),
    }
    for col in [c for c in LAYER_COLUMNS if c.endswith("_ns")]:  # ps above
        columns[col] = columns[col] / PS_PER_NS
    # priced by column: the same products and sums as `layer_energy` row by row
    columns.update(layer_energy(columns, price))
    return layer_row(**columns), stats


def _rows_of(records: list[tuple[int, ...]], width: int) -> np.ndarray:
    """Equal-length tuples of ints as an array with a row per field (each row contiguous);
    np.fromiter over the flat values takes half the time of np.array over the tuples."""
    flat = np.fromiter(chain.from_iterable(records), dtype=np.int64,
                       count=len(records) * width)
    return flat.reshape(len(records), width).T.copy()


_FIELD = OpStats.INDEX  # (where `OpStats.snapshot` holds each field)
_FIRST = _FIELD["first_ps"]


def _critical(sim: NetworkSim) -> pd.DataFrame:
    rows = []
    for op in sim.workload.ops:
        st = sim.stats[op.name]
        first = st.first_ps or 0
        parts = critical_path(sim.chains[op.name], first, st.last_ps)
        rows.append({"mode": sim.mode, "layer": op.name,
                     "latency_ns": (st.last_ps - first) / PS_PER_NS,
                     **{cause: ps / PS_PER_NS for cause, ps in parts.items()}})
    return pd.DataFrame(rows)



def _summary(sim: NetworkSim, columns: dict[str, Any], stats: np.ndarray) -> dict[str, Any]:
    """The run's summary; `columns`: its layers' (`_columns`), whose per-op times in ns it
    adds up by kind, in trace order; `stats`: their statistics (a row per field)."""
    total_ps = int(stats[_FIELD["last_ps"]].max())
    case = _case(Same(sim.workload, sim.shared), sim.arch.lora.engine, sim.arch.branch)
    # (bincount adds each kind's values in trace order, as a loop over the ops would)
    sums = {c: np.bincount(case.kind_codes, weights=columns[c], minlength=len(case.kinds))
            for c in ("latency_ns", "aimc_busy_ns", "pmca_busy_ns", "dma_busy_ns")}
    frame_kinds = {kind: {"ops": ops, **{c: float(by_kind[i]) for c, by_kind in sums.items()}}
                   for i, (kind, ops) in enumerate(zip(case.kinds, case.kind_ops, strict=True))}
    # (integer sums, in ps)
    aimc = int(stats[_FIELD["aimc_busy_ps"]].sum())
    pmca = int(stats[_FIELD["pmca_busy_ps"]].sum()) + int(stats[_FIELD["dma_busy_ps"]].sum())
    noc = int(stats[_FIELD["noc_held_ps"]].sum())  # (not noc_busy: head latencies overlap)
    groups = len(sim.machine.tiles)
    tiles = case.tiles
    clusters = len(sim.machine.clusters)
    link_count = sim.machine.link_count
    links = max(link_count, 1)
    return {
        "arch": sim.arch.name,
        "workload": sim.workload.name,
        "mode": sim.mode,
        "strategy": sim.arch.pipeline.strategy,
        "tokens": sim.workload.tokens,
        "parallel_tokens": min(sim.arch.pipeline.parallel_tokens, sim.workload.tokens),
        "total_latency_ns": total_ps / PS_PER_NS,
        "per_kind": frame_kinds,
        "utilisation": {  # (defined in `aimcsim.results.UTILISATION`)
            "aimc": aimc / (groups * total_ps) if groups and total_ps else 0.0,
            "pmca": pmca / (clusters * total_ps) if total_ps else 0.0,
            "noc": noc / (links * total_ps) if total_ps else 0.0,
        },
        "tiles": tiles,
        "chip_tiles": sim.arch.chip.tiles if sim.arch.chip else None,
        "tile_budget_used": (tiles / sim.arch.chip.tiles) if sim.arch.chip else None,
        "cell_utilisation": (case.static_cells / (tiles * sim.arch.aimc.rows
                                                  * sim.arch.aimc.cols)) if tiles else 0.0,
        "cim_macros": case.cim_macros,
        "clusters": clusters,
        "links": link_count,
        "tcdm_peak_bytes": max(c.peak_bytes for c in sim.machine.clusters),
        "tcdm_bytes": sim.arch.pmca.tcdm_bytes,
    }


@dataclass(frozen=True)
class _Case:
    """What a run's tables read of its workload and placements alone (`_case`; read only)."""

    columns: dict[str, Any]  # the `layers` columns they decide, per op in trace order
    kinds: list[str]  # the ops' kinds, in order of first appearance
    kind_codes: np.ndarray  # each op's kind, as its place in `kinds`
    kind_ops: list[int]  # ops of each kind
    tiles: int  # tiles the static layers take
    static_cells: int  # weights of the static layers (d_in x d_out summed)
    cim_macros: int  # SRAM-CIM macros the adapted layers take


@lru_cache(maxsize=64)
def _case(same: Same, engine_name: str, branch: Any) -> _Case:
    """Memoised by the identities of the workload and the placements (`aimcsim.mapping.placed`
    shares one dict per case; its tile grids hold the crossbar's shape) and by the SRAM-CIM
    macro: the points of a sweep over timings share it."""
    workload, placements = same.objects
    ops = workload.ops
    p = [placements[op.name] for op in ops]

    def ints(values: Any) -> np.ndarray:
        array = np.array(list(values), dtype=np.int64)
        array.flags.writeable = False  # (shared by the runs of the memo)
        return array

    columns = {"block": ints(op.block for op in ops), "layer": tuple(op.name for op in ops),
               "role": tuple(op.role for op in ops), "kind": tuple(op.kind for op in ops),
               "d_in": ints(op.d_in for op in ops), "d_out": ints(op.d_out for op in ops),
               "rank": ints(q.rank or 0 for q in p),
               "tiles": ints(q.tile.tiles if q.tile else 0 for q in p),
               "pmca": ints(q.pmca for q in p)}
    kinds = list(dict.fromkeys(columns["kind"]))
    codes = ints(kinds.index(kind) for kind in columns["kind"])
    return _Case(
        columns, kinds, codes, np.bincount(codes, minlength=len(kinds)).tolist(),
        int(columns["tiles"].sum()),
        sum(op.d_in * op.d_out for op in ops if op.kind == "static_linear"),
        sum(engine(engine_name).units(branch, op.d_in, op.d_out, q.rank)
            for op, q in zip(ops, p, strict=True)
            if q.cim))
