"""LoRA weight reloading: switching the task of a hybrid system (the study's dynamic adaptation).

Every task has its own adapters (A and B of every adapted layer), kept in cluster L2 or off
chip; the tiles keep the pretrained weights. A task switch brings the new task's A and B into
each cluster's TCDM by DMA, all clusters at once (`switch_cost`):

- each cluster: one transfer per matrix, `dma_setup_cycles` each, then its bytes at
  `dma_bytes_per_cycle`;
- from off chip, the clusters also share the off-chip bandwidth (`memory.offchip_gb_per_s`):
  the switch takes at least all the bytes over it;
- energy: the bytes read from their memory level (from L2: its bank reads and the DMA engine,
  `aimcsim.cost.Prices.dma_pj_per_byte`; from off chip: the technology's
  `memory.offchip_pj_per_byte`) and written into the TCDM banks.

With the branch on SRAM-CIM macros beside the tiles (`lora.engine: sram-cim`), a switch writes
each adapted layer's A and B into that layer's macros instead: its cluster's DMA reads them
(as above) and sends them over the layer's tile link, and every macro writes its rows, one row
a macro cycle, all macros at once. The three stages stream, so a cluster takes the slowest of
its DMA (setup per matrix, then the bytes), its links' transfers (`transfer_cycles`, one per
layer) and the macro writes (`sram_cim.rows` cycles); the energy adds the link's
`interconnect.pj_per_byte` and the macros' SRAM writes, priced by the technology's CACTI grid
at the macro's size (`rows` x `outputs` words of `outputs x weight_bits` bits; NaN where the
grid does not reach it).

`request_stream` prices a seeded stream of requests over `tasks` tasks: every request runs the
workload (one hybrid simulation), and a request for another task than the one before it pays
a switch first (the first request finds its task loaded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from aimcsim.cost import l2_priced_bytes, prices
from aimcsim.hw.interconnect.links import transfer_cycles
from aimcsim.mapping import place
from aimcsim.sim.feasibility import resident_bytes
from aimcsim.simulator import simulate
from aimcsim.spec.arch import Arch
from aimcsim.spec.workload import Workload

SOURCES = ("l2", "offchip")


@dataclass(frozen=True)
class SwitchCost:
    latency_ns: float
    energy_pj: float  # NaN without a technology file
    bytes: int
    cluster_bytes: tuple[int, ...]  # per cluster


def switch_cost(arch: Arch, workload: Workload, source: str = "l2") -> SwitchCost:
    """The cost of one task switch (see the module docstring)."""
    if source not in SOURCES:
        raise ValueError(f"source {source!r} is not one of {', '.join(SOURCES)}")
    if arch.mode == "aimc-only":
        raise ValueError(f"{arch.source}: mode: aimc-only merges the adapters into the "
                         "programmed weights, so a task switch would reprogram the tiles, which "
                         "reload does not price; give an architecture with mode: hybrid")
    if arch.lora.engine not in ("pmca", "sram-cim"):
        raise ValueError(f"{arch.source}: reloading adapters into the units of lora.engine: "
                         f"{arch.lora.engine} is not modelled (only the clusters' TCDM and "
                         "SRAM-CIM macros)")
    if source == "offchip" and (arch.memory is None or not arch.memory.offchip_gb_per_s):
        raise ValueError(f"{arch.source}: adapters off chip need the memory section "
                         "(memory.offchip_gb_per_s)")
    placements = place(arch, workload, "hybrid")
    if arch.lora.engine == "sram-cim":
        return _macro_switch(arch, workload, placements, source)
    per_cluster = resident_bytes(arch, workload, placements)
    matrices = [0] * len(per_cluster)
    for op in workload.ops:
        if placements[op.name].rank is not None:
            matrices[placements[op.name].pmca] += 2  # A and B
    latency_ps = _stream_ps(arch, source, matrices, per_cluster)
    total = sum(per_cluster)
    # (an L2 that keeps the adapters is priced at the size they need when unbounded)
    price = prices(arch, l2_priced_bytes(arch, max(per_cluster, default=0)))
    energy = (math.nan if price is None else
              total * (_read_pj(arch, price, source) + price.tcdm_write_pj_per_byte))
    return SwitchCost(latency_ps / 1e3, energy, total, tuple(per_cluster))


def _macro_switch(arch: Arch, workload: Workload, placements: Any, source: str) -> SwitchCost:
    """`switch_cost` into the SRAM-CIM macros beside the tiles (see the module docstring)."""
    cim, noc = arch.branch, arch.interconnect
    clusters = 1 + max((q.pmca for q in placements.values()), default=-1)
    per_cluster, matrices, link_ps = [0] * clusters, [0] * clusters, [0] * clusters
    weights = 0
    for op in workload.ops:
        q = placements[op.name]
        if q.rank is None:
            continue
        nbytes = q.rank * (op.d_in + op.d_out) * arch.lora.element_bytes
        per_cluster[q.pmca] += nbytes
        matrices[q.pmca] += 2  # A and B
        link_ps[q.pmca] += transfer_cycles(nbytes, noc) * noc.period_ps
        weights += q.rank * (op.d_in + op.d_out)
    write_ps = cim.rows * cim.period_ps if weights else 0
    latency_ps = _stream_ps(arch, source, matrices, per_cluster,
                            [max(link, write_ps) for link in link_ps])
    total = sum(per_cluster)
    tech = arch.technology
    price = prices(arch, l2_priced_bytes(arch, max(per_cluster, default=0)))
    if price is None or tech is None:
        return SwitchCost(latency_ps / 1e3, math.nan, total, tuple(per_cluster))
    read = _read_pj(arch, price, source)
    word_bits = cim.outputs * cim.weight_bits
    macro = tech.sram.price(cim.rows * word_bits / 8, word_bits)
    write = weights * cim.weight_bits * macro.write_pj / word_bits \
        if tech.sram.covers(cim.rows * word_bits / 8, word_bits) else math.nan
    return SwitchCost(latency_ps / 1e3, total * (read + price.noc_pj_per_byte) + write, total,
                      tuple(per_cluster))


def _stream_ps(arch: Arch, source: str, matrices: list[int], per_cluster: list[int],
               after_ps: list[int] | None = None) -> int:
    """A switch's time: the slowest cluster's DMA (a setup per matrix, then its bytes) or, when
    its bytes stream on through later stages (`after_ps`, per cluster), the slowest of those;
    from off chip, at least all the bytes over the shared off-chip bandwidth."""
    p = arch.pmca
    dma = [(m * p.dma_setup_cycles + math.ceil(b / p.dma_bytes_per_cycle)) * p.period_ps
           for m, b in zip(matrices, per_cluster, strict=True)]
    after = after_ps or [0] * len(dma)
    latency_ps = max((max(d, a) for d, a, b in zip(dma, after, per_cluster, strict=True) if b),
                     default=0)
    if source == "offchip":
        latency_ps = max(latency_ps, math.ceil(sum(per_cluster) / arch.memory.offchip_gb_per_s
                                               * 1e3))
    return latency_ps


def _read_pj(arch: Arch, price: Any, source: str) -> float:
    """Energy per byte of reading adapters from `source` (L2 through the DMA, or off chip)."""
    tech = arch.technology
    if source == "l2":
        return price.dma_pj_per_byte
    return tech.memory.offchip_pj_per_byte if tech.memory is not None else math.nan


def request_stream(arch: Arch, workload: Workload, *, tasks: int, requests: int, seed: int,
                   source: str = "l2") -> dict[str, Any]:
    """A seeded stream of `requests` over `tasks` tasks (uniformly drawn): its switches, time
    and energy (see the module docstring)."""
    if tasks < 1 or requests < 1:
        raise ValueError(f"tasks and requests must be >= 1, got {tasks} and {requests}")
    order = np.random.default_rng(seed).integers(tasks, size=requests)
    switches = int(np.count_nonzero(order[1:] != order[:-1]))
    run = simulate(arch, workload, "hybrid", timeline=False).summary
    cost = switch_cost(arch, workload, source)
    run_energy = run["energy"].get("total_pj", math.nan)
    latency = requests * run["total_latency_ns"] + switches * cost.latency_ns
    energy = requests * run_energy + switches * cost.energy_pj
    return {
        "tasks": tasks, "requests": requests, "seed": seed, "source": source,
        "switches": switches,
        "switch_latency_ns": cost.latency_ns, "switch_energy_pj": cost.energy_pj,
        "adapter_bytes": cost.bytes,
        "request_latency_ns": run["total_latency_ns"],
        "total_latency_ns": latency, "total_energy_pj": energy,
        "switch_time_share": switches * cost.latency_ns / latency,
    }


__all__ = ["SOURCES", "SwitchCost", "request_stream", "switch_cost"]
