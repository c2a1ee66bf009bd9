"""SimPy processes that run a placed workload block by block.

Every operation is one process walking its token blocks in order. Block i is admitted when its
inputs are there (block i of each streaming producer, all of each barrier producer) and when
fewer than `blocks_in_flight` of the op's blocks are still running; then its working set is
allocated in the cluster's TCDM (waiting if other ops hold it), its inputs cross the
interconnect, it computes, frees its TCDM and is marked done. With `between_layers:
layer-by-layer` the ops run one at a time in trace order (a topological order): an op starts
once the op before it has finished, so it has its tiles, cluster and links to itself and its
latency is its own (the per-layer view of the study), however the links are shared;
`streaming` follows the trace's edges, and independent ops overlap.

A static op's block runs two branches. Tile branch: X to the tile, the MVM burst, the output to
the cluster when the cluster must finish it (LoRA add, partial sums). Cluster branch (hybrid):
X to the cluster, T = X A and U = T B (`pre`), then the add of U to the tile output (`post`).
`sequential` starts `pre` after the tile branch; `overlapped` and `double-buffered` run both
branches at once, and `double-buffered` admits block i+1 while block i finishes.
"""

from __future__ import annotations

import weakref
from collections import Counter, defaultdict
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import simpy

from aimcsim.engine import FifoServer, OpStats
from aimcsim.errors import AimcsimError
from aimcsim.hw.aimc_tile import TileTimer, mvm_events
from aimcsim.hw.interconnect import Links
from aimcsim.hw.pmca import KernelStats, PmcaModel
from aimcsim.hw.pmca.feasibility import check_l2, checked_tcdm
from aimcsim.hw.pmca.pool import Cluster
from aimcsim.hw.pmca.programs import (
    BlockProgram,
    block_program,
    block_sizes,
    lora_weight_bytes,
)
from aimcsim.hw.sram_cim import branch_macs, branch_ps
from aimcsim.keys import Same
from aimcsim.mapping import (
    PMCA_PREFIX,
    Placement,
    fuse_attention,
    parts,
    placed,
    pmca_unit,
    tile_unit,
)
from aimcsim.replay import (
    Footprint,
    Recorder,
    Units,
    apply,
    apply_block,
    signature,
    structure,
)
from aimcsim.spec.arch import Arch, Pipeline
from aimcsim.spec.workload import INPUT, Op, Workload

Proc = Generator[simpy.Event, Any, None]
#: A block's critical chain: (start_ps, end_ps, cause) pieces, end to end (see `critical`).
Segments = list[tuple[int, int, str]]


class NetworkSim:
    """One simulation of `workload` on `arch` in `mode`; call `run()` once."""

    def __init__(
        self,
        arch: Arch,
        workload: Workload,
        mode: str,
        model: PmcaModel,
        settings: dict[str, Pipeline] | None = None,
        record: bool = True,
        replay: bool = True,
    ) -> None:
        # with pipeline.attention_key_chunk, each attention chain runs as one fused op
        workload = fuse_attention(workload, arch.pipeline.attention_key_chunk)
        self.arch, self.workload, self.mode = arch, workload, mode
        self.record = record
        self.env = env = simpy.Environment()
        # the memoised placements (`placed`: shared, never changed) and this run's copy
        self.shared = shared = placed(arch, workload, mode)
        self.placements: dict[str, Placement] = dict(shared)
        self.eb = arch.lora.element_bytes
        case = _case(Same(workload, shared), self.eb)
        names = case.names
        unknown = sorted(set(settings) - set(names)) if settings else ()
        if unknown:
            raise ValueError(f"pipeline settings for operations not in the workload: {unknown[:5]}")
        self.settings = ({name: settings.get(name, arch.pipeline) for name in names}
                         if settings else dict.fromkeys(names, arch.pipeline))
        #: every op runs the architecture's pipeline (`arch.pipeline`)
        self.uniform_settings = not settings

        def per_op(value_of: Callable[[Pipeline], Any]) -> dict[str, Any]:
            """Each op's value of its settings (one value for all when they are uniform)."""
            if self.uniform_settings:
                return dict.fromkeys(names, value_of(arch.pipeline))
            return {name: value_of(s) for name, s in self.settings.items()}

        #: bytes each cluster's L2 holds for the run (K and V of its attention)
        self.l2_held = check_l2(arch, workload, shared)
        resident = checked_tcdm(arch, workload, shared, model, settings)
        sizes: dict[int, list[int]] = {}  # (ops of one block size share their list)
        for s in (arch.pipeline,) if self.uniform_settings else {*self.settings.values()}:
            sizes[s.parallel_tokens] = block_sizes(workload.tokens,
                                                   min(s.parallel_tokens, workload.tokens))
        self.blocks: dict[str, list[int]] = per_op(lambda s: sizes[s.parallel_tokens])
        #: tokens before an op's first (an op of the last tokens only: the LM head of a prefill)
        self.skipped: dict[str, int] = {}
        for op in workload.ops:
            if op.last_tokens:
                rows = workload.rows(op)
                self.skipped[op.name] = workload.tokens - rows
                pt = self.settings[op.name].parallel_tokens
                self.blocks[op.name] = block_sizes(rows, min(pt, rows))
        # each op's block programs by block size (and per slice for a spread op), made on
        # first use: a replayed op reads its twin's counters instead
        self.model = model
        self.programs: dict[str, dict[int, BlockProgram]] = _ByName(self, _programs)
        self.slice_programs: dict[str, dict[int, list[BlockProgram]]] = _ByName(
            self, _slice_programs)
        self.clusters = [Cluster(env, arch.pmca.tcdm_bytes, r) for r in resident]
        # (node_of holds the placements, not the simulation: no reference cycle keeps a
        # finished run's objects for the cyclic collector)
        self.net = Links(arch.interconnect, nodes=len(resident),
                         node_of=partial(_node_of, self.placements))
        self._facts: dict[tuple[str, str], tuple[int, bool, bool]] = {}
        self.pmca_period_ps = arch.pmca.period_ps
        self.layer_by_layer = arch.pipeline.between_layers == "layer-by-layer"
        # repeated ops of a layer-by-layer run replay the first one's footprint
        # (`aimcsim.replay`); a timeline is recorded event by event
        self.replay = replay and self.layer_by_layer and not record
        self._footprints: dict[tuple, Footprint | None] = {}
        # each op's signature but its settings and free TCDM, per workload and placements
        self.structure = structure(workload, shared) if self.replay else {}
        self.replayed = 0  # ops replayed rather than simulated
        self._twins: dict[str, str] = {}  # replayed op -> the op whose footprint it took
        self._counted: dict[str, tuple[int, ...]] = {}  # `counter_values`, by op
        self._settled = True  # every op simulated so far left its servers free at its end
        self._recorders: dict[str, tuple[tuple, Recorder]] = {}
        self._units: dict[str, Units] = {}  # the units of each op `_drive` simulates
        self.replayed_blocks = 0  # blocks of simulated ops replayed rather than simulated
        self.exclusive_links = self.net.exclusive
        self.tiles = {name: TileTimer(arch.aimc) for name in case.tile_events}
        # per token: MVMs, DAC and ADC conversions, analog MACs (the same every burst; shared
        # by the runs of the case: read only)
        self.tile_events: Mapping[str, tuple[int, int, int, int]] = case.tile_events
        # each adapted layer's SRAM-CIM macros: one server, blocks in arrival order
        self.cims = {name: FifoServer() for name in case.cims}
        self.stats: dict[str, OpStats] = {name: OpStats(weights)
                                          for name, weights in case.weights.items()}
        # each op's end (an event made on first use: a replayed op's is never asked for)
        self.finished: dict[str, simpy.Event] = _ByName(self, _event)
        # per-block events matter to streaming consumers and to the op's own in-flight gate
        self._block_events = per_op(lambda s: not self.layer_by_layer
                                    or s.blocks_in_flight > 1)
        self.done = ({name: [env.event() for _ in self.blocks[name]] if wanted else ()
                      for name, wanted in self._block_events.items()}
                     if any(self._block_events.values()) else dict.fromkeys(names, ()))
        self._left = {name: len(blocks) for name, blocks in self.blocks.items()}
        # (component, start_ps, end_ps, activity, op)
        self.timeline: list[tuple[str, int, int, str, str]] = []
        # with `record`: per op, each block's (admitted, done, critical chain) (`critical`)
        self.chains: dict[str, list[tuple[int, int, Segments]]] = defaultdict(list)
        # layer-by-layer: each op waits for the one before it (trace order is topological;
        # with replay `_drive` runs them in that order)
        ops = workload.ops
        self._previous = ({ops[i].name: ops[i - 1].name for i in range(1, len(ops))}
                          if self.layer_by_layer and not self.replay else {})
        if not self.replay:  # (with replay, `_drive` starts the ops it simulates)
            for op in workload.ops:
                env.process(self._op(op))

    #: the names of `counters`, in order
    counter_names = ("mvms", "dac_conversions", "adc_conversions", "analog_macs", "macs",
                     "element_ops", "dma_bytes", *OpStats.COUNTERS)

    def counters(self, name: str) -> dict[str, int]:
        """The event counters of op `name` after the run: the tile's events per token times
        its tokens, the kernels of every block's program (each block runs its program once,
        each slice its share; `run` checks every block ran), and what the run tallied moving
        data (link bytes, the TCDM traffic of transfers, SRAM-CIM MACs). A replayed op's are
        those of the op it replayed."""
        return dict(zip(self.counter_names, self.counter_values(name), strict=True))

    def counter_values(self, name: str) -> tuple[int, ...]:
        """`counters`' values, in the order of `counter_names`."""
        name = self._twins.get(name, name)
        if name not in self._counted:
            counted = self._count(name)
            self._counted[name] = tuple(counted[c] for c in self.counter_names)
        return self._counted[name]

    def _count(self, name: str) -> dict[str, int]:
        st = self.stats[name]
        mvms, dacs, adcs, analog = self.tile_events.get(name, (0, 0, 0, 0))
        out = {"mvms": st.tokens * mvms, "dac_conversions": st.tokens * dacs,
               "adc_conversions": st.tokens * adcs, "analog_macs": st.tokens * analog,
               "macs": 0, "element_ops": 0, "dma_bytes": 0,
               **{key: getattr(st, key) for key in OpStats.COUNTERS}}
        sliced = self.slice_programs[name] if self.placements[name].slices else None
        sizes = self.blocks[name]
        for size, count in ((sizes[0], len(sizes)),) if sizes[0] == sizes[-1] else \
                Counter(sizes).items():  # (full blocks, then at most one remainder)
            for prog in sliced[size] if sliced else (self.programs[name][size],):
                macs, element_ops, reads, writes, dma = prog.counts
                out["macs"] += count * macs
                out["element_ops"] += count * element_ops
                out["tcdm_read_bytes"] += count * reads
                out["tcdm_write_bytes"] += count * writes
                out["dma_bytes"] += count * dma
        return out

    def run(self) -> None:
        if self.replay:
            self._drive()
        else:
            self.env.run()
        stuck = [name for name, left in self._left.items() if left]
        if stuck:
            raise AimcsimError(f"simulation stopped with unfinished operations: {stuck[:5]}")

    # ---- per operation ------------------------------------------------------------------
    def _out_unit(self, name: str) -> str | None:
        return None if name == INPUT else self.placements[name].out_unit

    def _op(self, op: Op) -> Proc:
        """An op as a process: it waits for its producers (and, layer-by-layer, for the op
        before it), then runs (`_run_op`)."""
        barriers, streams = _producers(op, "barrier"), _producers(op, "streaming")
        if op.name in self._previous:
            yield self.finished[self._previous[op.name]]
        for src in barriers:
            yield self.finished[src]
        if self.layer_by_layer:
            for src in streams:
                yield self.finished[src]
            streams = []  # every block of every producer is there
        yield from self._run_op(op, barriers, streams)

    def _drive(self) -> None:
        """A layer-by-layer run with replay: the ops one after the other, each replayed from
        the footprint of an equal op (`aimcsim.replay`) or simulated as a process of its own
        until it finishes (and recorded). Should a simulated op leave a server busy, the rest
        of the run is simulated op by op."""
        env, clock = self.env, 0
        for op in self.workload.ops:
            if self._settled:
                key, units = signature(self, op)
                footprint = self._footprints.get(key)
                if footprint is not None:  # the op is a time shift of one run before
                    apply(self, op, units, footprint, clock)
                    self._twins[op.name] = footprint.source
                    self._left[op.name] = 0
                    self.replayed += 1
                    clock += footprint.end_ps
                    continue
            if clock > env.now:
                env.run(until=env.timeout(clock - env.now))
            if self._settled:
                self._recorders[op.name] = (key, Recorder(self, op, units))
                self._units[op.name] = units  # (its blocks replay too: `_run_op`)
            env.process(self._run_op(op, _producers(op, "barrier"), []))
            try:
                env.run(until=self.finished[op.name])
            except RuntimeError:  # no event left, and the op has not finished
                return
            clock = env.now
        env.run()

    def _run_op(self, op: Op, barriers: list[str], streams: list[str]) -> Proc:
        """An op from its start: its held operands into L2, then its blocks (each once its
        blocks of `streams` producers are done)."""
        place_ = self.placements[op.name]
        stats = self.stats[op.name]
        for src in barriers:  # the held operand moves once, into the cluster's L2
            nbytes = self.workload.tokens * self.workload.width_of(src) * self.eb
            if not place_.slices:
                yield from self._transfer(self._out_unit(src), pmca_unit(place_.pmca), nbytes,
                                          stats, op.name, into_l2=True)
                continue
            # each slice's cluster gets its heads' part
            yield self.env.all_of([self.env.process(self._transfer(
                self._out_unit(src), pmca_unit(c), nbytes * part // place_.whole, stats,
                op.name, into_l2=True)) for c, part in place_.slices])
        # blocks in flight are bounded by their TCDM buffers; a tile alone streams freely
        gated = any(prog.uses_cluster for prog in self.programs[op.name].values())
        in_flight = self.settings[op.name].blocks_in_flight
        done = self.done[op.name]
        waited = dict.fromkeys(streams, 0)  # producer blocks already waited for
        covered = self.skipped.get(op.name, 0)  # tokens up to this op's blocks so far
        units = self._units.get(op.name)
        prints: dict[int, Footprint | None] = {}  # (with replay) each block size's footprint
        last = len(self.blocks[op.name]) - 1
        ahead = 0  # time of blocks replayed and not yet passed on the clock (ps)
        for b, size in enumerate(self.blocks[op.name]):
            covered += size
            for src in streams:  # the producer blocks that hold tokens [.., covered)
                need = -(-covered // self.blocks[src][0])
                for i in range(waited[src], need):
                    if not self.done[src][i].processed:
                        yield self.done[src][i]
                waited[src] = need
            # (one block in flight runs inline below: the previous one is done already)
            if gated and in_flight > 1 and b >= in_flight and not done[b - in_flight].processed:
                yield done[b - in_flight]
            # fewer events where nothing can overlap: one block at a time runs right here; a
            # tile alone on its own links is booked at once and completes by a timer
            if gated and in_flight == 1:
                footprint = prints.get(size) if units is not None and self._settled else None
                if footprint is not None:
                    # with replay: a block is a time shift of the op's first of its size,
                    # applied without an event (the clock catches up before what follows)
                    admitted = self.env.now + ahead
                    apply_block(self, op, units, footprint, admitted)
                    self.replayed_blocks += 1
                    ahead += footprint.end_ps
                    if b == last:  # (the op ends with it: now)
                        yield self.env.timeout(ahead)
                        ahead = 0
                        self._complete(op.name, b, size, admitted)
                    else:
                        self._complete(op.name, b, size, admitted,
                                       end_ps=admitted + footprint.end_ps)
                    continue
                if units is not None and self._settled and b < last:  # record it
                    if ahead:
                        yield self.env.timeout(ahead)
                        ahead = 0
                    recorder = Recorder(self, op, units)
                    yield from self._block(op, place_, b, size)
                    settled, footprint = recorder.finish()
                    self._settled = self._settled and settled
                    prints.setdefault(size, footprint)
                    continue
                if ahead:
                    yield self.env.timeout(ahead)
                    ahead = 0
                yield from self._block(op, place_, b, size)
            elif not gated and self.exclusive_links and op.kind == "static_linear":
                # (blocks booked in order on a FIFO tile and link end in order: with replay,
                # in a layer-by-layer run, only the last one's end is waited for)
                self._tile_only_block(op, place_, b, size, at_once=self.replay and b < last
                                      and not self._block_events[op.name])
            else:
                self.env.process(self._block(op, place_, b, size))

    def _spread_block(self, op: Op, place_: Placement, b: int, size: int) -> Proc:
        """A block of an op spread over clusters: every slice at once, each on its cluster;
        its chain is the slice that ended last."""
        admitted = self.env.now
        paths: list[Segments | None] = [[] if self.record else None for _ in place_.slices]
        yield self.env.all_of([
            self.env.process(self._slice(op, place_, c, part, prog, size, path))
            for (c, part), prog, path in zip(place_.slices, self.slice_programs[op.name][size],
                                             paths, strict=True)])
        self._complete(op.name, b, size, admitted,
                       max(paths, key=lambda path: _end(path, admitted)) if self.record else None)

    def _slice(self, op: Op, place_: Placement, cluster: int, part: int, prog: BlockProgram,
               size: int, path: Segments | None) -> Proc:
        stats = self.stats[op.name]
        if prog.tcdm_bytes:
            yield from self._alloc(self.clusters[cluster], prog.tcdm_bytes, stats, path)
        dst = pmca_unit(cluster)
        moves = []  # the slice's share of each streamed input not already on its cluster
        for edge in op.inputs:
            src = self._out_unit(edge.src)
            producer = self.placements.get(edge.src)
            alike = producer is not None and producer.slices and not producer.gather
            if edge.kind == "streaming" and src is not None and src != dst and not alike:
                moves.append((src, size * self.workload.width_of(edge.src) * part
                              // place_.whole * self.eb))
        if moves:
            yield from self._parallel(moves, dst, stats, op.name, path)
        yield from self._kernel(cluster, prog.pre, stats, op.name, op.function or "matmul",
                                path)
        if place_.gather and cluster != place_.pmca:  # its output joins the others
            yield from self._transfer(dst, pmca_unit(place_.pmca),
                                      size * op.d_out * part // place_.whole * self.eb, stats,
                                      op.name, path=path)
        if prog.tcdm_bytes:
            self._free(self.clusters[cluster], prog.tcdm_bytes, stats)

    def _block(self, op: Op, place_: Placement, b: int, size: int) -> Proc:
        if place_.slices:
            yield from self._spread_block(op, place_, b, size)
            return
        prog = self.programs[op.name][size]
        stats = self.stats[op.name]
        cluster = self.clusters[place_.pmca]
        admitted = self.env.now
        path: Segments | None = [] if self.record else None
        if prog.tcdm_bytes:
            yield from self._alloc(cluster, prog.tcdm_bytes, stats, path)
        if op.kind == "static_linear":
            path = yield from self._static_block(op, place_, prog, size, stats, path)
        else:
            yield from self._gather(op, place_, size, stats, path)
            yield from self._kernel(place_.pmca, prog.pre, stats, op.name,
                                    op.function or "matmul", path)
        if prog.tcdm_bytes:
            self._free(cluster, prog.tcdm_bytes, stats)
        self._complete(op.name, b, size, admitted, path)

    def _complete(self, name: str, b: int, size: int, admitted: int = 0,
                  path: Segments | None = None, end_ps: int | None = None) -> None:
        """Block b of op `name` is done (at `end_ps`, default now: a replayed block's end
        may be ahead of the clock)."""
        if self.record:
            self.chains[name].append((admitted, self.env.now if end_ps is None else end_ps,
                                      path or []))
        self.stats[name].tokens += size
        if self._block_events[name]:
            self.done[name][b].succeed()
        self._left[name] -= 1
        if not self._left[name]:
            if name in self._recorders:
                key, recorder = self._recorders.pop(name)
                settled, footprint = recorder.finish()
                self._settled = self._settled and settled
                if settled and key not in self._footprints:
                    self._footprints[key] = footprint  # (None: seen, not replayable)
            self.finished[name].succeed()

    def _tile_only_block(self, op: Op, place_: Placement, b: int, size: int,
                         at_once: bool = False) -> None:
        """A block of a static op whose output stays at its tile, on its own links: booked at
        once, done when its output has arrived (by a timer; `at_once`: counted now, as
        nothing waits for it but its op's end, which a later block makes)."""
        src = self._out_unit(op.inputs[0].src)
        to_cluster = place_.out_unit == pmca_unit(place_.pmca)
        admitted = self.env.now
        path: Segments | None = [] if self.record else None
        end = self._tile_branch(op, place_, size, src, size * op.d_in * self.eb,
                                self.stats[op.name], to_cluster, path)
        if at_once:
            self._complete(op.name, b, size, admitted, end_ps=end)
            return
        timer = self.env.timeout(end - self.env.now)
        timer.callbacks.append(lambda _event: self._complete(op.name, b, size, admitted, path))

    def _static_block(
        self, op: Op, place_: Placement, prog: BlockProgram, size: int, stats: OpStats,
        path: Segments | None = None,
    ) -> Generator[simpy.Event, Any, Segments | None]:
        """The block's two branches; returns its critical chain (`path` extended by the
        branch that ended last, then the post kernel) when recording."""
        src = self._out_unit(op.inputs[0].src)
        x_bytes = size * op.d_in * self.eb
        to_cluster = place_.out_unit == pmca_unit(place_.pmca)
        tile_path = None if path is None else list(path)
        send = prog.chunks is None  # else the cluster pulls the output chunk by chunk
        if self.exclusive_links:
            # the tile's links serve this op alone: its whole branch is known at admission
            tile_done = self._tile_branch(op, place_, size, src, x_bytes, stats, to_cluster,
                                          tile_path, send)
            tile = None
        else:
            tile = self.env.process(self._tile(op, place_, size, src, x_bytes, stats, to_cluster,
                                               tile_path, send))
        chain = tile_path
        if prog.pre is not None:
            pre_path = None if path is None else list(path)
            yield from self._transfer(src, pmca_unit(place_.pmca), x_bytes, stats, op.name,
                                      path=pre_path)
            if self.settings[op.name].strategy == "sequential":
                yield tile if tile is not None else self._until(tile_done)
                pre_path = None if path is None else list(tile_path)  # after the tile branch
            yield from self._kernel(place_.pmca, prog.pre, stats, op.name, "lora_xab", pre_path)
            pre_end = self.env.now
        yield tile if tile is not None else self._until(tile_done)
        if prog.pre is not None and path is not None and pre_end >= _end(tile_path, pre_end):
            chain = pre_path  # the cluster branch ended last (ties: the cluster's)
        if prog.chunks is not None:  # pull a chunk of the output, reduce it, the next one
            unit, dst = tile_unit(op.name), pmca_unit(place_.pmca)
            for nbytes, kernel in prog.chunks:
                yield from self._transfer(unit, dst, nbytes, stats, op.name, path=chain)
                yield from self._kernel(place_.pmca, kernel, stats, op.name, "add", chain)
        elif prog.post is not None:
            yield from self._kernel(place_.pmca, prog.post, stats, op.name, "add", chain)
        return chain

    def _until(self, time_ps: int) -> simpy.Event:
        return self.env.timeout(max(0, time_ps - self.env.now))

    def _tile_branch(
        self, op: Op, place_: Placement, size: int, src: str | None, x_bytes: int,
        stats: OpStats, to_cluster: bool, path: Segments | None = None, send: bool = True,
    ) -> int:
        """The tile branch of a block, booked now; returns when its output has arrived (and
        extends `path` by its critical chain). Without `send` the output waits at the tile
        (and the macros') for the cluster to pull it: returns when it is there."""
        unit = tile_unit(op.name)
        ready = self._book(src, unit, x_bytes, stats, op.name, self.env.now, path=path)
        at_tile = None if path is None else list(path)
        end = self._mvm(op, ready, size, stats, path)
        if not to_cluster:
            return end
        if not send:
            return self._held(op, place_, ready, end, size, stats, path, at_tile)
        dst = pmca_unit(place_.pmca)
        if not place_.cim:
            return self._book(unit, dst, self._y_bytes(op, place_, size), stats, op.name, end,
                              path=path)
        u_path = at_tile
        u_end = self._cim(op, place_, ready, size, stats, u_path)
        # Y and U share the tile's link: booked in the order they are ready
        sends = self._y_and_u(op, place_, size, end, u_end, path, u_path)
        arrivals = [(self._book(unit, dst, nbytes, stats, op.name, at, path=chain), chain)
                    for at, nbytes, chain in sends]
        last, chain = max(arrivals, key=lambda a: a[0])
        if path is not None and chain is not path:
            path[:] = chain
        return last

    def _tile(
        self, op: Op, place_: Placement, size: int, src: str | None, x_bytes: int,
        stats: OpStats, to_cluster: bool, path: Segments | None = None, send: bool = True,
    ) -> Proc:
        """The tile branch as a process, for links others share: each transfer is asked for
        when the data is there, so it queues in time order."""
        unit = tile_unit(op.name)
        yield from self._transfer(src, unit, x_bytes, stats, op.name, path=path)
        at_tile = None if path is None else list(path)
        end = self._mvm(op, self.env.now, size, stats, path)
        if not to_cluster or not send:
            if to_cluster:
                end = self._held(op, place_, self.env.now, end, size, stats, path, at_tile)
            yield self.env.timeout(end - self.env.now)
            return
        dst = pmca_unit(place_.pmca)
        if not place_.cim:
            yield self.env.timeout(end - self.env.now)
            yield from self._transfer(unit, dst, self._y_bytes(op, place_, size), stats,
                                      op.name, path=path)
            return
        u_path = at_tile
        u_end = self._cim(op, place_, self.env.now, size, stats, u_path)
        # Y and U: each transfer asked for when its data is ready (the link queues them)
        sends = self._y_and_u(op, place_, size, end, u_end, path, u_path)
        yield self.env.all_of([
            self.env.process(self._send_at(at, unit, dst, nbytes, stats, op.name, chain))
            for at, nbytes, chain in sends])
        if path is not None and _end(u_path, 0) > _end(path, 0):
            path[:] = u_path

    def _y_and_u(self, op: Op, place_: Placement, size: int, y_ready: int, u_ready: int,
                 y_path: Segments | None, u_path: Segments | None,
                 ) -> list[tuple[int, int, Segments | None]]:
        """The tile output Y and the macros' U of a block, (ready, bytes, chain) each, in the
        order they are ready (Y first among equals)."""
        return sorted([(y_ready, self._y_bytes(op, place_, size), y_path),
                       (u_ready, self._u_bytes(op, size), u_path)], key=lambda s: s[0])

    def _held(self, op: Op, place_: Placement, ready: int, end: int, size: int,
              stats: OpStats, path: Segments | None, at_tile: Segments | None) -> int:
        """When a block's output is ready at the tile (and U at the macros) for the cluster to
        pull: the MVMs' end, or the macros' if later (`path` then follows them)."""
        if not place_.cim:
            return end
        u_end = self._cim(op, place_, ready, size, stats, at_tile)
        if path is not None and u_end > end:
            path[:] = at_tile
        return max(end, u_end)

    def _send_at(self, at_ps: int, src: str, dst: str, nbytes: int, stats: OpStats,
                 name: str, path: Segments | None = None) -> Proc:
        # (`path` already ends when the data is ready: the MVMs' or the macros' end)
        yield self.env.timeout(max(0, at_ps - self.env.now))
        yield from self._transfer(src, dst, nbytes, stats, name, path=path)

    def _mvm(self, op: Op, ready_ps: int, size: int, stats: OpStats,
             path: Segments | None = None) -> int:
        """Schedule a burst of `size` MVMs on the op's tiles, record it, return its end."""
        start, end = self.tiles[op.name].run(ready_ps, size)
        if path is not None:  # (waiting for the tile's earlier bursts is the tile's time)
            path.append((ready_ps, end, "tile"))
        stats.active(start, end)
        stats.tile_busy(start, end)
        if self.record:
            self.timeline.append((tile_unit(op.name), start, end, "mvm", op.name))
        return end

    def _cim(self, op: Op, place_: Placement, ready_ps: int, size: int, stats: OpStats,
             path: Segments | None = None) -> int:
        """Run the block's LoRA branch on the layer's SRAM-CIM macros; return its end."""
        duration = branch_ps(self.arch.sram_cim, size)
        start = self.cims[op.name].book(ready_ps, duration)
        if path is not None:
            path.append((ready_ps, start + duration, "SRAM-CIM"))
        stats.cim_macs += branch_macs(op.d_in, op.d_out, place_.rank, size)
        stats.active(start, start + duration)
        if self.record:
            self.timeline.append((f"cim:{op.name}", start, start + duration, "lora_xab",
                                  op.name))
        return start + duration

    def _u_bytes(self, op: Op, size: int) -> int:
        """The LoRA branch's output U of a block."""
        return size * op.d_out * self.eb

    def _y_bytes(self, op: Op, place_: Placement, size: int) -> int:
        """Tile output of a block: one partial result per row slice."""
        return size * op.d_out * place_.tile.row_splits * self.eb

    def _gather(self, op: Op, place_: Placement, size: int, stats: OpStats,
                path: Segments | None = None) -> Proc:
        """Bring the block of every streamed input to the op's cluster, in parallel."""
        dst = pmca_unit(place_.pmca)
        moves = []
        for edge in op.inputs:
            src = self._out_unit(edge.src)
            if edge.kind == "streaming" and src is not None and src != dst:
                moves.append((src, size * self.workload.width_of(edge.src) * self.eb))
        if len(moves) == 1:
            yield from self._transfer(moves[0][0], dst, moves[0][1], stats, op.name, path=path)
        elif moves:
            yield from self._parallel(moves, dst, stats, op.name, path)

    def _parallel(self, moves: list[tuple[str, int]], dst: str, stats: OpStats, name: str,
                  path: Segments | None) -> Proc:
        """Transfers at once; `path` follows the one that arrived last."""
        paths = [None if path is None else list(path) for _ in moves]
        yield self.env.all_of([self.env.process(self._transfer(s, dst, n, stats, name,
                                                               path=chain))
                               for (s, n), chain in zip(moves, paths, strict=True)])
        if path is not None:
            path[:] = max(paths, key=lambda chain: _end(chain, 0))

    # ---- resources ----------------------------------------------------------------------
    def _transfer(self, src: str | None, dst: str, nbytes: int, stats: OpStats, name: str,
                  *, into_l2: bool = False, path: Segments | None = None) -> Proc:
        """Move `nbytes` over the link src -> dst now; resumes when they have arrived.
        `into_l2`: they land in the cluster's L2 (a held operand), not its TCDM."""
        now = self.env.now
        arrival = self._book(src, dst, nbytes, stats, name, now, into_l2=into_l2, path=path)
        if arrival > now:
            yield self.env.timeout(arrival - now)

    def _book(
        self, src: str | None, dst: str, nbytes: int, stats: OpStats, name: str, at_ps: int,
        *, into_l2: bool = False, path: Segments | None = None,
    ) -> int:
        """Reserve the link src -> dst for a transfer asked for at `at_ps`; return its arrival.

        Serialisation holds the link, the head latency does not. Booking ahead of the clock
        is only right on a link no one else uses (point-to-point).
        """
        if src is None or src == dst or nbytes == 0:
            return at_ps
        start, arrival = self.net.send(src, dst, nbytes, at_ps)
        stats.stall_ps += start - at_ps
        if path is not None:
            if start > at_ps:
                path.append((at_ps, start, "waiting for a link"))
            path.append((start, arrival, "link"))
        links, into_tcdm, out_of_tcdm = (self._facts.get((src, dst))
                                         or self._route_facts(src, dst))
        stats.noc_bytes += nbytes
        stats.noc_link_bytes += nbytes * links
        if into_tcdm and not into_l2:
            stats.tcdm_write_bytes += nbytes
        if out_of_tcdm:
            stats.tcdm_read_bytes += nbytes
        if self.record:
            self.timeline.append((self.net.component(src, dst), start, arrival, "transfer", name))
        stats.noc_busy_ps += arrival - start
        stats.noc_held_ps += self.net.hold_ps(nbytes) * links
        return arrival

    def _route_facts(self, src: str, dst: str) -> tuple[int, bool, bool]:
        """Links a transfer crosses, whether it lands in a cluster's TCDM and whether it
        leaves one (memoised per pair in `_facts`: transfers repeat)."""
        facts = self._facts[(src, dst)] = (self.net.links(src, dst),
                                           dst.startswith(PMCA_PREFIX),
                                           src.startswith(PMCA_PREFIX))
        return facts

    def _kernel(
        self, pmca: int, cost: KernelStats | None, stats: OpStats, name: str, activity: str,
        path: Segments | None = None,
    ) -> Proc:
        if cost is None:
            return
        now = self.env.now
        duration = cost.cycles * self.pmca_period_ps
        start = self.clusters[pmca].cores.book(now, duration)
        if path is not None:  # the kernel's cycles by cause, one after the other
            if start > now:
                path.append((now, start, "waiting for the cluster"))
            at, period = start, self.pmca_period_ps
            for cycles, cause in ((cost.compute_cycles + cost.overhead_cycles, "cluster compute"),
                                  (cost.dma_cycles, "DMA"), (cost.stall_cycles, "bank stalls")):
                if cycles:
                    path.append((at, at + cycles * period, cause))
                    at += cycles * period
        stats.stall_ps += start - now
        stats.active(start, start + duration)
        if self.record:
            self.timeline.append((pmca_unit(pmca), start, start + duration, activity, name))
            if cost.dma_cycles:  # the cores' wait on the DMA, drawn from the kernel's start
                dma_end = start + cost.dma_cycles * self.pmca_period_ps
                self.timeline.append((f"dma:{pmca}", start, dma_end, "dma", name))
        yield self.env.timeout(start + duration - now)
        stats.dma_busy_ps += cost.dma_cycles * self.pmca_period_ps
        stats.pmca_busy_ps += (cost.cycles - cost.dma_cycles) * self.pmca_period_ps

    def _alloc(self, cluster: Cluster, nbytes: int, stats: OpStats,
               path: Segments | None = None) -> Proc:
        wait = cluster.allocate(nbytes)
        if wait is not None:
            asked = self.env.now
            yield wait
            stats.stall_ps += self.env.now - asked
            if path is not None:
                path.append((asked, self.env.now, "waiting for TCDM"))
        stats.tcdm_live_bytes += nbytes
        stats.tcdm_peak_bytes = max(stats.tcdm_peak_bytes,
                                    stats.resident_bytes + stats.tcdm_live_bytes)

    def _free(self, cluster: Cluster, nbytes: int, stats: OpStats) -> None:
        cluster.release(nbytes)
        stats.tcdm_live_bytes -= nbytes


def _programs(sim: NetworkSim, name: str) -> dict[int, BlockProgram]:
    """An op's block program by block size."""
    op, p, s = sim.workload.op(name), sim.placements[name], sim.settings[name]
    return {size: block_program(sim.model, op, size, eb=sim.eb, tile=p.tile, rank=p.rank,
                                tile_output=s.tile_output, cim=p.cim,
                                output_chunk=s.output_chunk)
            for size in set(sim.blocks[name])}


def _slice_programs(sim: NetworkSim, name: str) -> dict[int, list[BlockProgram]]:
    """A spread op's (pipeline.attention_clusters) programs: per block size, one per slice."""
    op, p = sim.workload.op(name), sim.placements[name]
    return {size: [block_program(sim.model, part_op, size, eb=sim.eb)
                   for _, part_op in parts(op, p)]
            for size in set(sim.blocks[name])}


def _event(sim: NetworkSim, _name: str) -> simpy.Event:
    return sim.env.event()


@dataclass(frozen=True)
class _Case:
    """What a run reads of its workload and placements alone (`_case`)."""

    names: list[str]  # the ops, in trace order
    tile_events: dict[str, tuple[int, int, int, int]]  # per static op: `mvm_events`
    weights: dict[str, int]  # per op, in trace order: its LoRA weights resident in TCDM
    cims: list[str]  # the ops whose branch runs on SRAM-CIM macros


@lru_cache(maxsize=64)
def _case(same: Same, eb: int) -> _Case:
    """Memoised by the identities of the workload and the placements (`aimcsim.keys.Same`) and
    the element bytes: the points of a sweep over timings share it. Read only."""
    workload, placements = same.objects
    events: dict[tuple, tuple[int, int, int, int]] = {}  # (layers repeat a few shapes)
    tile_events = {}
    for op in workload.ops:
        if op.kind == "static_linear":
            tile = placements[op.name].tile
            shape = (tile, op.d_in, op.d_out)
            if shape not in events:
                events[shape] = mvm_events(tile, op.d_in, op.d_out)
            tile_events[op.name] = events[shape]
    return _Case(
        [op.name for op in workload.ops], tile_events,
        {op.name: lora_weight_bytes(op, p.rank, eb) if p.rank is not None and not p.cim else 0
         for op in workload.ops for p in (placements[op.name],)},
        [name for name, p in placements.items() if p.cim])


class _ByName(dict):
    """Values by op name, each made by `build(sim, name)` on first use (holding the
    simulation weakly: no reference cycle keeps a finished run for the cyclic collector)."""

    def __init__(self, sim: NetworkSim, build: Callable[[NetworkSim, str], Any]) -> None:
        super().__init__()
        self._sim, self._build = weakref.ref(sim), build

    def __missing__(self, name: str) -> Any:
        value = self[name] = self._build(self._sim(), name)
        return value


def _producers(op: Op, kind: str) -> list[str]:
    """The ops whose outputs `op` reads by edges of `kind` (streaming, barrier)."""
    return [e.src for e in op.inputs if e.kind == kind and e.src != INPUT]


def _node_of(placements: dict[str, Placement], unit: str) -> int:
    """Mesh node of a unit: a cluster's index; a tile group sits with its cluster."""
    kind, _, name = unit.partition(":")
    return int(name) if kind == "pmca" else placements[name].pmca


def _end(path: Segments | None, default: int) -> int:
    """When a chain ends (`default` when it is empty)."""
    return path[-1][1] if path else default
