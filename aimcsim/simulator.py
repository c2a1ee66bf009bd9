"""`simulate`: one workload on one architecture in one mode -> `Result`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from aimcsim.cost import area, layer_energy, run_energy
from aimcsim.engine import PS_PER_NS, paused_gc
from aimcsim.errors import SettingWarning
from aimcsim.hw.pmca import PmcaModel
from aimcsim.hw.pmca.cycle_level import cluster_model
from aimcsim.hw.sram_cim import macros
from aimcsim.pipeline import NetworkSim
from aimcsim.results import LAYER_COLUMNS, TIMELINE_COLUMNS, critical_path, layer_row
from aimcsim.spec.arch import MODES, Arch, Pipeline
from aimcsim.spec.workload import Workload


@dataclass
class Result:
    """Outcome of one simulation. See `aimcsim.results.LAYER_COLUMNS` for the schema."""

    layers: pd.DataFrame
    summary: dict[str, Any]
    _timeline: list[tuple[str, int, int, str, str]] = field(repr=False, default_factory=list)
    #: with the timeline: each op's latency along its critical path by cause (mode, layer,
    #: latency_ns and `aimcsim.results.CAUSES` in ns, summing to latency_ns)
    critical: pd.DataFrame | None = None

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
    asked = sorted({block for op in workload.ops
                    if (block := (settings or {}).get(op.name, arch.pipeline).parallel_tokens)
                    > workload.tokens})
    if asked:
        warnings.warn(SettingWarning(
            f"{arch.source}: pipeline.parallel_tokens = {', '.join(map(str, asked))} is above "
            f"the workload's {workload.tokens} tokens; blocks of {workload.tokens} tokens are "
            "used"), stacklevel=3)


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
    already simulated to each later op equal to it up to a shift in time (`aimcsim.replay`);
    False simulates every op (the reference engine; the results are the same).
    Raises `CapacityError` when a token block does not fit the TCDM.
    """
    mode = mode or arch.mode
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    _warn_clamped(arch, workload, settings)
    with paused_gc():  # (the run's objects are dropped before the collector is back)
        sim = NetworkSim(arch, workload, mode, model or default_model(arch), settings,
                         timeline, replay)
        sim.run()
        columns = _columns(sim)
        layers = pd.DataFrame(columns)
        summary = _summary(sim, columns)
        critical = _critical(sim) if timeline else None
        recorded = sim.timeline
        del sim
    tech = arch.technology
    # (summed over the columns' arrays: the same sums as over the frame's, without pandas)
    summary["energy"] = run_energy(columns, tech, total_latency_ns=summary["total_latency_ns"],
                                   tokens=workload.tokens, tiles=summary["tiles"],
                                   clusters=summary["clusters"], links=summary["links"],
                                   macros=summary["cim_macros"])
    summary["area"] = area(tech, summary["tiles"], summary["clusters"], summary["links"],
                           summary["cim_macros"])
    return Result(layers, summary, recorded, critical)


def _columns(sim: NetworkSim) -> dict[str, Any]:
    """The `layers` table's columns (in order): numpy arrays, and lists of strings."""
    numbers, texts = [], []  # per op: its integer columns (in one array below), its strings
    for op in sim.workload.ops:
        st = sim.stats[op.name]
        p = sim.placements[op.name]
        first = st.first_ps or 0
        texts.append((op.name, op.role, op.kind, sim.settings[op.name].strategy))
        numbers.append((
            op.block, st.tokens, op.d_in, op.d_out, p.rank or 0, sim.blocks[op.name][0],
            p.tile.tiles if p.tile else 0, p.pmca, first, st.last_ps, st.last_ps - first,
            st.aimc_busy_ps, st.pmca_busy_ps, st.dma_busy_ps, st.noc_busy_ps, st.stall_ps,
            st.tcdm_peak_bytes, *sim.counter_values(op.name)))
    table = np.array(numbers, dtype=np.int64).T.copy()  # (a column per row: contiguous)
    columns: dict[str, Any] = dict(zip((*_NUMBER_COLUMNS, *sim.counter_names), table,
                                       strict=True))
    columns.update({name: list(c) for name, c in zip(
        ("layer", "role", "kind", "strategy"), zip(*texts, strict=True), strict=True)})
    columns["mode"] = [sim.mode] * len(texts)
    for col in [c for c in LAYER_COLUMNS if c.endswith("_ns")]:  # ps above
        columns[col] = columns[col] / PS_PER_NS
    # priced by column: the same products and sums as `layer_energy` row by row
    columns.update(layer_energy(columns, sim.arch.technology, sim.arch.lora.dtype))
    return layer_row(**columns)


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


#: The integer `layers` columns before the counters, in the order `_layers` builds them
#: (times in ps there, ns in the table).
_NUMBER_COLUMNS = ("block", "tokens", "d_in", "d_out", "rank", "parallel_tokens", "tiles",
                   "pmca", "start_ns", "end_ns", "latency_ns", "aimc_busy_ns", "pmca_busy_ns",
                   "dma_busy_ns", "noc_busy_ns", "stall_ns", "tcdm_peak_bytes")


def _summary(sim: NetworkSim, columns: dict[str, Any]) -> dict[str, Any]:
    """The run's summary; `columns`: its layers' (`_columns`), whose per-op times in ns it
    adds up by kind, in trace order."""
    stats = sim.stats.values()
    total_ps = max(st.last_ps for st in stats)
    frame_kinds: dict[str, dict[str, float]] = {}
    for kind, *times in zip(columns["kind"], *(columns[c].tolist() for c in (
            "latency_ns", "aimc_busy_ns", "pmca_busy_ns", "dma_busy_ns")), strict=True):
        k = frame_kinds.get(kind)
        if k is None:
            k = frame_kinds[kind] = {"ops": 0, "latency_ns": 0.0, "aimc_busy_ns": 0.0,
                                     "pmca_busy_ns": 0.0, "dma_busy_ns": 0.0}
        k["ops"] += 1
        k["latency_ns"] += times[0]
        k["aimc_busy_ns"] += times[1]
        k["pmca_busy_ns"] += times[2]
        k["dma_busy_ns"] += times[3]
    aimc = pmca = noc = 0
    for st in stats:
        aimc += st.aimc_busy_ps
        pmca += st.pmca_busy_ps + st.dma_busy_ps
        noc += st.noc_busy_ps
    groups = len(sim.tiles)
    tiles = sum(p.tile.tiles for p in sim.placements.values() if p.tile)
    clusters = len(sim.clusters)
    links = max(sim.net.link_count, 1)
    return {
        "arch": sim.arch.name,
        "workload": sim.workload.name,
        "mode": sim.mode,
        "strategy": sim.arch.pipeline.strategy,
        "tokens": sim.workload.tokens,
        "parallel_tokens": min(sim.arch.pipeline.parallel_tokens, sim.workload.tokens),
        "total_latency_ns": total_ps / PS_PER_NS,
        "per_kind": frame_kinds,
        "utilisation": {
            "aimc": aimc / (groups * total_ps) if groups and total_ps else 0.0,
            "pmca": pmca / (clusters * total_ps) if total_ps else 0.0,
            "noc": noc / (links * total_ps) if total_ps else 0.0,
        },
        "tiles": tiles,
        "chip_tiles": sim.arch.chip.tiles if sim.arch.chip else None,
        "tile_budget_used": (tiles / sim.arch.chip.tiles) if sim.arch.chip else None,
        "cell_utilisation": (
            sum(op.d_in * op.d_out for op in sim.workload.ops if op.kind == "static_linear")
            / (tiles * sim.arch.aimc.rows * sim.arch.aimc.cols)) if tiles else 0.0,
        "cim_macros": sum(macros(sim.arch.sram_cim, op.d_in, op.d_out, p.rank)
                          for op in sim.workload.ops
                          if (p := sim.placements[op.name]).cim),
        "clusters": clusters,
        "links": sim.net.link_count,
        "tcdm_peak_bytes": max(c.peak_bytes for c in sim.clusters),
        "tcdm_bytes": sim.arch.pmca.tcdm_bytes,
    }
