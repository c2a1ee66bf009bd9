"""Closed-form latency and TCDM footprint of one static layer: cross-check and fast screening.

The layer runs alone, as in `between_layers: layer-by-layer`: its whole input is ready in a
producer's cluster and each block crosses a point-to-point link to the tile (and to the cluster,
in parallel, for the LoRA branch) when the block is admitted. With `input_link=False` the input
is already in place (a layer reading the network input). Kernel cycles come from the cluster
model (memoised), the tile from its phase recurrence, links from their closed form; only the
pipeline is solved here:

- tile alone (aimc-only, no row slices): every block is admitted at once, the tile streams:
  `dac + tokens * integration + adc` when integration is the longest phase.
- one block in flight (`sequential`, `overlapped`, or a tile whose partial sums the cluster
  adds): block i is admitted when block i-1 is done; exact, equal to the simulator.
- with the LoRA branch on SRAM-CIM macros (`lora.engine: sram-cim`) the figure is neither
  exact nor a bound (the macros are not modelled here): the search simulates such points.
- `double-buffered`: a lower bound, the larger of the tile chain (all bursts back to back, the
  last output's link and add) and the cluster's work (every block's kernels back to back).
  Search results confirm such points with the simulator.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from aimcsim.hw.aimc_tile import TileTimer, map_matrix
from aimcsim.hw.engines import engine
from aimcsim.hw.interconnect import serialization_cycles, topology_of, transfer_cycles
from aimcsim.hw.pmca import PmcaModel
from aimcsim.hw.pmca.programs import block_program, block_sizes
from aimcsim.sim.strategies import strategy
from aimcsim.spec.arch import Arch, Pipeline
from aimcsim.spec.workload import Op


@dataclass(frozen=True)
class LayerEstimate:
    """latency_ps is the simulator's latency when `exact`, a lower bound of it when `bound`
    (double-buffered), and neither on a topology whose links are shared (the model assumes
    a dedicated link per transfer: it says so rather than price contention it cannot see)."""

    latency_ps: int
    tcdm_bytes: int  # resident LoRA weights + blocks in flight
    exact: bool
    bound: bool = True


def static_layer(
    arch: Arch, op: Op, tokens: int, pipe: Pipeline, model: PmcaModel, *, lora: bool,
    input_link: bool = True,
) -> LayerEstimate:
    """Latency and TCDM bytes of static layer `op` over `tokens` tokens, alone."""
    estimate = _static_layer(arch, op, tokens, pipe, model, lora=lora, input_link=input_link)
    cim = lora and engine(arch.lora.engine).beside_tile  # (not modelled here)
    if topology_of(arch.interconnect).exclusive and not cim:
        return estimate
    return dataclasses.replace(estimate, exact=False, bound=False)


def _static_layer(
    arch: Arch, op: Op, tokens: int, pipe: Pipeline, model: PmcaModel, *, lora: bool,
    input_link: bool,
) -> LayerEstimate:
    eb = arch.lora.element_bytes
    tile = map_matrix(op.d_in, op.d_out, arch.aimc)
    rank = arch.lora.rank if lora else None
    block = min(pipe.parallel_tokens, tokens)
    sizes = block_sizes(tokens, block)
    cim = rank is not None and engine(arch.lora.engine).beside_tile
    progs = {s: block_program(model, op, s, eb=eb, tile=tile, rank=rank,
                               tile_output=pipe.tile_output, cim=cim,
                               output_chunk=pipe.output_chunk) for s in set(sizes)}
    resident = engine(arch.lora.engine).resident_bytes(op, rank, eb) if rank is not None else 0
    in_flight = pipe.blocks_in_flight
    tcdm = resident + in_flight * progs[block].tcdm_bytes if progs[block].tcdm_bytes else 0
    noc, ps_link, ps_pmca = arch.interconnect, arch.interconnect.period_ps, arch.pmca.period_ps

    def y_link(size: int) -> int:
        return transfer_cycles(size * op.d_out * tile.row_splits * eb, noc) * ps_link

    def out_phase(size: int) -> tuple[int, int]:
        """(from the tile's end, from the later of the tile's and `pre`'s end) of a block's
        output phase: the Y link then the post kernel, or the chunks pulled and reduced one
        after the other (`pipeline.output_chunk`)."""
        prog = progs[size]
        if prog.chunks is not None:
            return 0, sum(transfer_cycles(nbytes, noc) * ps_link + k.cycles * ps_pmca
                          for nbytes, k in prog.chunks)
        return y_link(size), prog.post.cycles * ps_pmca if prog.post is not None else 0

    def x_serial(size: int) -> int:
        return serialization_cycles(size * op.d_in * eb, noc) * ps_link if input_link else 0

    x_head = noc.latency_cycles * ps_link if input_link else 0

    timer = TileTimer(arch.aimc)
    uses_cluster = progs[block].uses_cluster
    if not uses_cluster:  # every block is admitted at once: its input queues on the link
        first = end = None
        link_free = 0
        for size in sizes:
            link_free += x_serial(size)
            start, end = timer.run(link_free + x_head, size)
            first = start if first is None else first
        return LayerEstimate(end - first, tcdm, True)
    if in_flight == 1:
        admitted, first, done = 0, None, 0
        for size in sizes:
            prog = progs[size]
            x_ready = admitted + x_serial(size) + x_head
            start, end = timer.run(x_ready, size)
            link, after = out_phase(size)
            y = end + link
            if prog.pre is not None:
                pre_start = strategy(pipe.strategy).pre_start(x_ready, y)
                pre_end = pre_start + prog.pre.cycles * ps_pmca
                start = min(start, pre_start)
                y = max(y, pre_end)
            done = y + after
            first = start if first is None else first
            admitted = done
        return LayerEstimate(done - first, tcdm, True)
    first_x = x_serial(sizes[0]) + x_head
    tile_chain = 0
    for size in sizes:
        _, tile_chain = timer.run(first_x, size)
    tile_chain += sum(out_phase(sizes[-1]))
    # the cluster's work: each block's pre kernel, then its post kernel or the kernels that
    # reduce its pulled chunks (the pulls are link time: another block's kernel may run
    # meanwhile, so they are no part of a bound)
    cluster = sum((progs[s].pre.cycles if progs[s].pre else 0) * ps_pmca
                  + (sum(k.cycles for _, k in progs[s].chunks) * ps_pmca
                     if progs[s].chunks is not None else
                     (progs[s].post.cycles * ps_pmca if progs[s].post else 0))
                  for s in sizes)
    return LayerEstimate(max(tile_chain, first_x + cluster) - first_x, tcdm, False)
