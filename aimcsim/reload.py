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
    if arch.lora.engine != "pmca":
        raise ValueError(f"{arch.source}: reloading adapters into the units of lora.engine: "
                         f"{arch.lora.engine} is not modelled (only the clusters' TCDM)")
    if source == "offchip" and (arch.memory is None or not arch.memory.offchip_gb_per_s):
        raise ValueError(f"{arch.source}: adapters off chip need the memory section "
                         "(memory.offchip_gb_per_s)")
    placements = place(arch, workload, "hybrid")
    per_cluster = resident_bytes(arch, workload, placements)
    matrices = [0] * len(per_cluster)
    for op in workload.ops:
        if placements[op.name].rank is not None:
            matrices[placements[op.name].pmca] += 2  # A and B
    p = arch.pmca
    cycles = [m * p.dma_setup_cycles + math.ceil(b / p.dma_bytes_per_cycle)
              for m, b in zip(matrices, per_cluster, strict=True)]
    latency_ps = max(cycles, default=0) * p.period_ps
    total = sum(per_cluster)
    if source == "offchip":
        latency_ps = max(latency_ps, math.ceil(total / arch.memory.offchip_gb_per_s * 1e3))
    tech = arch.technology
    # (an L2 that keeps the adapters is priced at the size they need when unbounded)
    price = prices(arch, l2_priced_bytes(arch, max(per_cluster, default=0)))
    if price is None:
        energy = math.nan
    else:
        read = (price.dma_pj_per_byte if source == "l2" else
                tech.memory.offchip_pj_per_byte if tech.memory is not None else math.nan)
        energy = total * (read + price.tcdm_write_pj_per_byte)
    return SwitchCost(latency_ps / 1e3, energy, total, tuple(per_cluster))


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
