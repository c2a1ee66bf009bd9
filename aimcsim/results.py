"""Results: the column schema (documented once), the LoRA overhead, the bounding resource, the
layer rows by name, and the writers.

The same names and units are used in memory (pandas), in CSV and in JSON. Every overhead
aimcsim prints or stores is `overhead(hybrid, aimc_only)`; every "bound by" is
`bound_resource`.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_right
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from aimcsim.hw.lanes import CAUSES as _CAUSES
from aimcsim.hw.lanes import Cause, Resource, UnitId

#: One row per operation of the workload (per mode when modes are stacked).
LAYER_COLUMNS: dict[str, str] = {
    "block": "transformer block index",
    "layer": "operation name, unique in the workload (e.g. b0.query)",
    "role": "place of the op in its block (static ops: what lora.layers selects)",
    "kind": "static_linear | dynamic_matmul | elementwise | attention (a fused scores, "
            "softmax and context chain: pipeline.attention_key_chunk)",
    "tokens": "tokens the op processed (conservation: the sequence length, or the "
              "op's last_tokens: the LM head of a prefill)",
    "d_in": "input values per token (dynamic: heads x k)",
    "d_out": "output values per token (dynamic: heads x n; attention: heads x V's width)",
    "rank": "LoRA rank applied to this op in this mode (0: none)",
    "mode": "hybrid | aimc-only",
    "parallel_tokens": "tokens per block",
    "strategy": "sequential | overlapped | double-buffered (how tile and cluster share blocks)",
    "tiles": "crossbars holding the op's weights (0 for digital ops)",
    "pmca": "index of the cluster that runs the op's digital work",
    "start_ns": "first compute phase of the op starts (tile DAC or cluster kernel)",
    "end_ns": "last compute phase of the op ends",
    "latency_ns": "end_ns - start_ns",
    "aimc_busy_ns": "time the op's tiles hold at least one token in a phase",
    "pmca_busy_ns": "time the cluster's cores run the op's kernels (compute, set-up, barriers)",
    "dma_busy_ns": "time the cluster waits on DMA transfers for the op",
    "noc_busy_ns": "link time of the op's transfers, each from its start to its arrival "
                   "(serialisation + head and hop latencies; not the links' occupancy: "
                   "UTILISATION's noc)",
    "stall_ns": "time the op waited for a busy cluster, link or TCDM space",
    "tcdm_peak_bytes": "peak TCDM bytes the op held (its blocks in flight + resident weights)",
    # event counters: what the components did for the op, counted as the run did it
    "mvms": "tile matrix-vector multiplies (one per token and tile: integrations)",
    "dac_conversions": "input values the tiles' DACs converted (d_in per token and column "
                       "slice)",
    "adc_conversions": "outputs the tiles' ADCs converted (d_out per token and row slice)",
    "analog_macs": "weights that took part in the tiles' MVMs (d_in x d_out per token)",
    "macs": "multiply-accumulates of the cluster's matmuls (LoRA X A B, attention), in "
            "lora.dtype",
    "element_ops": "results of the cluster's element-wise functions (adds, norms, softmax, "
                   "partial-sum reductions)",
    "tcdm_read_bytes": "bank bytes read from the TCDM: the kernels' word accesses (every "
                       "re-read, a whole bank word each) x the bank width, and what links "
                       "carry out of the cluster",
    "tcdm_write_bytes": "bank bytes written to the TCDM: the kernels' word stores and DMA "
                        "words x the bank width, and what links deliver to the cluster",
    "dma_bytes": "bytes the cluster's DMA brought from cluster L2 (attention's held operands)",
    "noc_bytes": "bytes of the op's link transfers",
    "noc_link_bytes": "bytes x links crossed (a mesh or ring path counts each hop)",
    "cim_macs": "MACs of the LoRA branch on SRAM-CIM macros (lora.engine: sram-cim)",
    # dynamic energy: the counters above x the technology file's costs (aimcsim.cost; NaN
    # without a technology file)
    "energy_aimc_pj": "tiles: analog_macs x cell + DAC and ADC conversions",
    "energy_pmca_pj": "cluster compute: macs x MAC (lora.dtype) + element_ops x element op",
    "energy_tcdm_pj": "TCDM reads and writes",
    "energy_dma_pj": "DMA transfers from cluster L2",
    "energy_noc_pj": "link transfers (per byte and link crossed)",
    "energy_cim_pj": "SRAM-CIM macros: cim_macs x MAC",
    "energy_pj": "the op's dynamic energy: the sum of the six above",
}

#: what each layers column holds (text or number), as readers of a results folder check it
LAYER_KINDS: dict[str, str] = {c: "text" if c in ("layer", "role", "kind", "mode", "strategy")
                               else "number" for c in LAYER_COLUMNS}

#: The summary's utilisations (`summary["utilisation"][key]`, and `cell_utilisation`), each a
#: fraction in [0, 1]; a time's is of the run's total latency (`total_latency_ns`, from 0 to the
#: last op's end_ns) on every one of its components.
UTILISATION: dict[str, str] = {
    "aimc": "time the tile groups hold a token in a phase (aimc_busy_ns summed) / (tile groups "
            "x total latency)",
    "pmca": "time the clusters' cores run kernels, DMA waits included (pmca_busy_ns + "
            "dma_busy_ns summed) / (clusters x total latency)",
    "noc": "time the links are held, the serialisation of each transfer on each link it "
           "crosses (a head or hop latency holds no link: back-to-back transfers overlap it, so "
           "noc_busy_ns summed is not this) / (links used x total latency)",
    "cell_utilisation": "weights of the static layers / cells of the tiles that hold them",
}

#: One row per activity of a component.
TIMELINE_COLUMNS: dict[str, str] = {
    "component": "a unit id (aimcsim.hw.lanes.UnitId): tile:<op> | cim:<op> | pmca:<i> | "
                 "dma:<i> | link:<src>-><dst> | link:node<a>->node<b> | link:bus (dma: the "
                 "time the cluster's cores waited on DMA in a kernel, drawn from the kernel's "
                 "start)",
    "start_ns": "activity start",
    "end_ns": "activity end",
    "activity": "mvm | lora_xab | add | matmul | <elementwise function> | dma | transfer",
    "layer": "operation the activity belongs to",
}


def write_layers_csv(frame: pd.DataFrame, path: str | Path) -> None:
    frame.to_csv(path, index=False)


def write_json(data: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


Latency = TypeVar("Latency", float, pd.Series)


def overhead(hybrid: Latency, aimc_only: Latency) -> Latency:
    """The LoRA branch's cost: hybrid latency / AIMC-only latency - 1 (scalars or columns)."""
    return hybrid / aimc_only - 1


def bound_resource(row: Any) -> str:
    """The resource a layer spent most time on: tile, cluster (cores + DMA) or link."""
    busy = {"tile": row.aimc_busy_ns, "cluster": row.pmca_busy_ns + row.dma_busy_ns,
            "link": row.noc_busy_ns}
    return max(busy, key=lambda k: busy[k])


#: The causes a layer's critical path is made of (`critical_path`), in display order.
CAUSES = _CAUSES  # (`aimcsim.hw.lanes.Cause`)


def critical_path(chains: list[tuple[int, int, list[tuple[int, int, str]]]], start_ps: int,
                  end_ps: int) -> dict[str, int]:
    """A layer's latency [start_ps, end_ps) split along its critical path, in ps by cause.

    `chains`: each block's (admitted, done, chain), the chain being the block's critical
    pieces end to end from its admission to its end (the engine records them: at each join,
    the branch that finished last). The path runs back from the block that finished last
    through its chain to its admission, then to the block whose end let it in (the one
    before it, or two before with double buffering), the time between them `waiting for
    inputs`, and so on to the first block. Clipped to the layer's span, the pieces sum to its
    latency (tested)."""
    out = dict.fromkeys(CAUSES, 0)
    if not chains or end_ps <= start_ps:
        return out
    pieces: list[tuple[int, int, str]] = []
    order = sorted(range(len(chains)), key=lambda i: (chains[i][1], i))  # by end, then index
    ends = [chains[i][1] for i in order]
    pos = len(order) - 1  # the block that finished last
    while True:
        admitted, _, chain = chains[order[pos]]
        pieces += chain
        # the latest other block that had finished when this one was let in
        prev = min(bisect_right(ends, admitted), pos) - 1
        if prev < 0:
            pieces.append((start_ps, admitted, Cause.WAIT_INPUTS))
            break
        pieces.append((ends[prev], admitted, Cause.WAIT_INPUTS))
        pos = prev
    for a, b, cause in pieces:
        a, b = max(a, start_ps), min(b, end_ps)
        if b > a:
            out[cause] += b - a
    return out


#: What a layer's time is spent on (the resources of its units), in the order an instant is
#: given to one of them (`time_by_activity`): the DMA the cores wait on is inside a kernel, so
#: it comes first.
ACTIVITIES = (Resource.DMA, Resource.PMCA, Resource.CIM, Resource.NOC, Resource.AIMC)


def resources(component: pd.Series) -> np.ndarray:
    """The resource of each timeline row's component (`UnitId.parse`, once per distinct
    component; ValueError on a component that is no unit id)."""
    codes, uniques = pd.factorize(component.astype(str))
    return np.array([UnitId.parse(c).resource for c in uniques] + [None], dtype=object)[codes]


def time_by_activity(timeline: pd.DataFrame, layers: pd.DataFrame) -> pd.DataFrame:
    """Each layer's latency split by what it was doing, every instant counted once: waiting
    on the DMA, cluster kernels, SRAM-CIM macros, link transfers, tile MVMs, in that order of
    precedence, and `wait_ns` for instants with none of them (its inputs, a busy cluster or
    link, TCDM space). The parts sum to `latency_ns` exactly (integer picoseconds). Not the
    critical path: where the tile and the cluster both run, the cluster's kernel counts.

    timeline: the run's records (`TIMELINE_COLUMNS`, and `mode` when both modes are stacked);
    layers: its `layers` table. Returns mode, layer, latency_ns and `<activity>_ns` columns.
    """
    records = timeline if "mode" in timeline else timeline.assign(mode=layers["mode"].iloc[0])
    spans = {(m, name): (round(a * 1000), round(b * 1000)) for m, name, a, b in zip(
        layers["mode"], layers["layer"], layers["start_ns"], layers["end_ns"], strict=True)}
    resource = resources(records["component"])
    kind = np.full(len(records), -1)
    for i, activity in enumerate(ACTIVITIES):
        kind[resource == activity] = i
    start = np.rint(records["start_ns"].to_numpy() * 1000).astype(np.int64)
    end = np.rint(records["end_ns"].to_numpy() * 1000).astype(np.int64)
    groups = pd.Series(np.arange(len(records))).groupby(
        [records["mode"].to_numpy(), records["layer"].to_numpy()], sort=False).indices
    rows = []
    for (m, name), (lo, hi) in spans.items():
        idx = groups.get((m, name), np.array([], dtype=np.int64))
        parts = _by_precedence(np.clip(start[idx], lo, hi), np.clip(end[idx], lo, hi),
                               kind[idx], len(ACTIVITIES), hi - lo)
        rows.append({"mode": m, "layer": name, "latency_ns": (hi - lo) / 1000,
                     **{f"{act}_ns": ps / 1000
                        for act, ps in zip(ACTIVITIES, parts[:-1], strict=True)},
                     "wait_ns": parts[-1] / 1000})
    return pd.DataFrame(rows)


#: Where a whole run's time goes (`network_time`), in the order an instant is given to one.
NETWORK_ACTIVITIES = ("attention", "element-wise", "static-layer kernels", "links", "tiles")


def network_time(timeline: pd.DataFrame, layers: pd.DataFrame) -> pd.DataFrame:
    """Each mode's whole latency split by what ran on the chip, every instant counted once:
    attention kernels (its matmuls, softmax and DMA), element-wise kernels, the static
    layers' kernels (LoRA branch, partial sums), link transfers, tile MVMs (in that order
    of precedence), and `idle_ns` where nothing ran. The parts sum to the run's latency."""
    records = timeline if "mode" in timeline else timeline.assign(mode=layers["mode"].iloc[0])
    kinds = dict(zip(zip(layers["mode"], layers["layer"], strict=True), layers["kind"],
                     strict=True))
    rows = []
    for mode, part in records.groupby("mode", sort=False):
        mine = layers[layers["mode"] == mode]
        lo, hi = round(mine["start_ns"].min() * 1000), round(mine["end_ns"].max() * 1000)
        resource = resources(part["component"])
        kind = np.array([kinds.get((mode, name), "") for name in part["layer"]])
        on_cluster = (resource == Resource.PMCA) | (resource == Resource.DMA)
        category = np.select(
            [on_cluster & np.isin(kind, ["dynamic_matmul", "attention"]),
             on_cluster & (kind == "elementwise"), on_cluster | (resource == Resource.CIM),
             resource == Resource.NOC, resource == Resource.AIMC], [0, 1, 2, 3, 4], -1)
        start = np.clip(np.rint(part["start_ns"].to_numpy() * 1000).astype(np.int64), lo, hi)
        end = np.clip(np.rint(part["end_ns"].to_numpy() * 1000).astype(np.int64), lo, hi)
        parts = _by_precedence(start, end, category, len(NETWORK_ACTIVITIES), hi - lo)
        rows.append({"mode": mode, "latency_ns": (hi - lo) / 1000,
                     **{f"{name}_ns": ps / 1000
                        for name, ps in zip(NETWORK_ACTIVITIES, parts[:-1], strict=True)},
                     "idle_ns": parts[-1] / 1000})
    return pd.DataFrame(rows)


def _by_precedence(start: np.ndarray, end: np.ndarray, category: np.ndarray, categories: int,
                   span_ps: int) -> list[int]:
    """Intervals [start, end) (already within a span of `span_ps`) of categories 0, 1, ...
    (-1: none), every instant given to the lowest category covering it: the ps of each
    category, then the ps no interval covers."""
    parts, covered = [], 0
    for i in range(categories):
        chosen = (category >= 0) & (category <= i)
        union = _union_ps(start[chosen], end[chosen])
        parts.append(union - covered)
        covered = union
    return [*parts, span_ps - covered]


def _union_ps(start: np.ndarray, end: np.ndarray) -> int:
    """Length of the union of the intervals [start, end)."""
    if not len(start):
        return 0
    order = np.argsort(start, kind="stable")
    s, e = start[order], np.maximum.accumulate(end[order])
    # an interval starts a new run where it begins after every earlier one ended
    new = np.r_[True, s[1:] > e[:-1]]
    run_start = s[new]
    run_end = np.r_[e[:-1][new[1:]], e[-1]]
    return int(np.sum(np.maximum(run_end - run_start, 0)))


def layer_row(**values: Any) -> dict[str, Any]:
    """A `layers` row by name: exactly the columns of LAYER_COLUMNS, in their order."""
    missing = [c for c in LAYER_COLUMNS if c not in values]
    extra = [c for c in values if c not in LAYER_COLUMNS]
    if missing or extra:
        raise KeyError(f"layer row: missing {missing}, unknown {extra}")
    return {c: values[c] for c in LAYER_COLUMNS}


def overhead_stats(layers: pd.DataFrame) -> dict[str, float]:
    """min, median and max of the static layers' overhead (both modes stacked in `layers`)."""
    return _spread_of(static_overhead(layers)["overhead"])


def _spread_of(over: Any) -> dict[str, float]:
    """min, median, max of the overheads, NaN skipped (as pandas does; NaN when none)."""
    values = np.asarray(over, dtype=float)
    values = values[~np.isnan(values)]
    if not len(values):
        return dict.fromkeys(("static_overhead_min", "static_overhead_median",
                              "static_overhead_max"), math.nan)
    return {"static_overhead_min": float(values.min()),
            "static_overhead_median": float(np.median(values)),
            "static_overhead_max": float(values.max())}


def overhead_stats_of(aimc_only: Mapping[str, Any], hybrid: Mapping[str, Any]
                      ) -> dict[str, float]:
    """`overhead_stats` of one run in each mode, without stacking them: each a layers table or
    its columns (`Result.columns`). By column arrays when the two list the same layers in the
    same order (runs of one architecture and workload do; 0.1 ms against 1.6 ms a MobileBERT
    sweep point), else as `overhead_stats`."""
    names = list(aimc_only["layer"])
    if names != list(hybrid["layer"]):
        return overhead_stats(pd.concat([pd.DataFrame(aimc_only), pd.DataFrame(hybrid)],
                                        ignore_index=True))
    static = np.fromiter((k == "static_linear" for k in aimc_only["kind"]), dtype=bool,
                         count=len(names))
    return _spread_of(overhead(np.asarray(hybrid["latency_ns"])[static],
                               np.asarray(aimc_only["latency_ns"])[static]))


def static_overhead(layers: pd.DataFrame) -> pd.DataFrame:
    """Per static layer (in order of first appearance): hybrid latency / aimc-only latency - 1
    (needs both modes stacked; KeyError names a missing mode)."""
    # by dicts over the four columns, not a filtered frame and a pivot (9 ms of a sweep point)
    latency: dict[str, dict[str, float]] = {}  # mode -> layer -> latency
    order: dict[str, None] = {}
    for kind, name, mode, ns in zip(*(layers[c].tolist() for c in ("kind", "layer", "mode",
                                                                     "latency_ns")),
                                    strict=True):
        if kind != "static_linear":
            continue
        by_layer = latency.setdefault(mode, {})
        if name in by_layer:
            raise ValueError(f"layer {name!r} appears twice in mode {mode!r}")
        by_layer[name] = ns
        order[name] = None
    aimc_only, hybrid = (np.array([latency[m].get(n, np.nan) for n in order], dtype=float)
                         for m in ("aimc-only", "hybrid"))
    return pd.DataFrame({
        "layer": list(order),
        "aimc_only_latency_ns": aimc_only,
        "hybrid_latency_ns": hybrid,
        "overhead": overhead(hybrid, aimc_only),
    })
