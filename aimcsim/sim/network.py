"""One simulation: the op driver over the machine.

Every operation is one process walking its token blocks in order. Block i is admitted when its
inputs are there (block i of each streaming producer, all of each barrier producer) and when
fewer than `blocks_in_flight` of the op's blocks are still running; then its working set is
allocated in the cluster's TCDM (waiting if other ops hold it), its inputs cross the
interconnect, it computes, frees its TCDM and is marked done (`aimcsim.sim.blocks`). With
`between_layers: layer-by-layer` the ops run one at a time in trace order (a topological
order): an op starts once the op before it has finished, so it has its tiles, cluster and
links to itself and its latency is its own (the per-layer view of the study), however the
links are shared; `streaming` follows the trace's edges, and independent ops overlap. Repeated
ops of a layer-by-layer run are replayed (`aimcsim.sim.replay`).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import Any

import simpy

from aimcsim.errors import AimcsimError
from aimcsim.hw.lanes import UnitId
from aimcsim.hw.pmca.programs import BlockProgram, block_program
from aimcsim.mapping import Placement, parts
from aimcsim.sim.blocks import BlockRunner
from aimcsim.sim.counting import Counting
from aimcsim.sim.layer_plan import plan
from aimcsim.sim.layers import Diverged, Layers
from aimcsim.sim.machine import Machine, Proc
from aimcsim.sim.prepare import Prepared
from aimcsim.sim.probes import Probe, Recording, Segments
from aimcsim.sim.replay import (
    Footprint,
    Recorder,
    Units,
    apply,
    apply_block,
    footprint_of,
    link_refs,
    remember,
    shared_footprints,
    signature,
    signatures,
    structure,
)
from aimcsim.sim.stats import RunStats
from aimcsim.sim.steady import Steady
from aimcsim.spec.workload import INPUT, Op


class NetworkSim(BlockRunner, Counting):
    """One simulation of `workload` on `arch` in `mode`; call `run()` once."""

    def __init__(self, prepared: Prepared, record: bool = True, replay: bool = True,
                 speculate: int | None = 1) -> None:
        """`prepared`: the run's inputs (`aimcsim.sim.prepare`); `speculate`: `Layers`'."""
        prep = self.prepared = prepared
        arch, workload, mode, model = prep.arch, prep.workload, prep.mode, prep.model
        case = prep.case
        self.arch, self.workload, self.mode = arch, workload, mode
        self.record = record
        #: what observes the run (with `record`: its timeline and critical chains)
        self.probe: Probe = Recording() if record else Probe()
        self.watching = self.probe.watching
        #: the chip's servers and their state (`aimcsim.sim.machine`)
        self.machine = machine = Machine(prep, self.probe)
        self.env = env = machine.env
        # the memoised placements (`placed`: shared, never changed) and this run's copy
        self.shared = shared = prep.placements
        self.placements: dict[str, Placement] = dict(shared)
        self.eb = arch.lora.element_bytes
        self.settings = prep.settings
        #: every op runs the architecture's pipeline (`arch.pipeline`)
        self.uniform_settings = prep.uniform

        #: bytes each cluster's L2 holds for the run (K and V of its attention)
        self.l2_held = prep.l2_held
        self.blocks: Mapping[str, list[int]] = prep.blocks
        self.skipped, self.model = prep.skipped, model
        # each op's block programs by block size (and per slice for a spread op), made on
        # first use: a replayed op reads its twin's counters instead
        self.programs: dict[str, dict[int, BlockProgram]] = _ByName(self, _programs)
        self.slice_programs: dict[str, dict[int, list[BlockProgram]]] = _ByName(
            self, _slice_programs)
        self.layer_by_layer = arch.pipeline.between_layers == "layer-by-layer"
        # repeated ops of a layer-by-layer run replay the first one's footprint
        # (`aimcsim.sim.replay`); a timeline is recorded event by event
        self.replay = replay and self.layer_by_layer and not record
        self.footprints: dict[tuple, Footprint | None] = {}
        self.shared_prints = shared_footprints(prep) if self.replay else None
        self.routes = self.shared_prints.routes if self.shared_prints is not None else {}
        # each op's signature but its settings and free TCDM, per workload and placements
        self.structure = structure(workload, shared) if self.replay else {}
        self.replayed = 0  # ops replayed rather than simulated
        self._twins: dict[str, str] = {}  # replayed op -> the op whose footprint it took
        self._counted: dict[str, tuple[int, ...]] = {}  # `counter_values`, by op
        self._settled = True  # every op simulated so far left its servers free at its end
        self._recorders: dict[str, tuple[tuple, Recorder]] = {}
        self._units: dict[str, Units] = {}  # the units of each op `_drive` simulates
        self.replayed_blocks = 0  # blocks of simulated ops replayed rather than simulated
        # with several blocks in flight, a simulated op's blocks after it settles are skipped
        # (`aimcsim.sim.steady`): how many, and per such op how far its blocks after the skip
        # ran behind the clock (ps; its end and servers are moved forward at its end)
        self.steady_blocks = 0
        self.ahead_ps: dict[str, int] = {}
        self._steady: dict[str, Steady] = {}
        # per op that skipped: its first block after the skip, and how many were skipped
        self._renumbered: dict[str, tuple[int, int]] = {}
        self.exclusive_links = machine.exclusive_links
        # per token: MVMs, DAC and ADC conversions, analog MACs (the same every burst; shared
        # by the runs of the case: read only)
        self.tile_events: Mapping[str, tuple[int, int, int, int]] = case.tile_events
        self.stats = RunStats(case.weights)
        # each op's end (an event made on first use: a replayed op's is never asked for)
        self.finished: dict[str, simpy.Event] = _ByName(self, _event)
        # per-block events matter to streaming consumers and to the op's own in-flight gate
        # (each op's made on first use: a replayed op's are never asked for)
        self._block_events = {name: not self.layer_by_layer or s.blocks_in_flight > 1
                              for name, s in self.settings.items()}
        self.done: dict[str, list[simpy.Event] | tuple] = _ByName(self, _block_done)
        self._left = {name: len(blocks) for name, blocks in self.blocks.items()}
        # layer-by-layer: each op waits for the one before it (trace order is topological;
        # with replay `_drive` runs them in that order)
        ops = workload.ops
        self._previous = ({ops[i].name: ops[i - 1].name for i in range(1, len(ops))}
                          if self.layer_by_layer and not self.replay else {})
        # streaming: repeated layers replay (`aimcsim.sim.layers`; it starts the groups' ops)
        found = plan(self) if replay and not self.layer_by_layer and not record else None
        self.layers = Layers(self, found, speculate) if found is not None else None
        self.diverged = False
        if not self.replay and self.layers is None:  # (else `_drive` or `layers` start them)
            for op in workload.ops:
                env.process(self._op(op))

    @property
    def timeline(self) -> list[tuple[str, int, int, str, str]]:
        """(component, start_ps, end_ps, activity, op) of every server's activity (empty
        without `record`)."""
        return self.probe.timeline if isinstance(self.probe, Recording) else []

    @property
    def chains(self) -> dict[str, list[tuple[int, int, Segments]]]:
        """With `record`: per op, each block's (admitted, done, critical chain)."""
        return self.probe.chains if isinstance(self.probe, Recording) else {}

    def run(self) -> None:
        if self.replay:
            self._drive()
        else:
            try:
                self.env.run()
            except Diverged:
                self.diverged = True  # (`simulate` runs it again without layer replay)
                return
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
        the footprint of an equal op (`aimcsim.sim.replay`) or simulated as a process of its own
        until it finishes (and recorded). Should a simulated op leave a server busy, the rest
        of the run is simulated op by op."""
        env, clock = self.env, 0
        planned = signatures(self)
        for i, op in enumerate(self.workload.ops):
            if self._settled:
                key, units = planned[i] if planned is not None else signature(self, op)
                footprint = self.footprints.get(key) or footprint_of(self, op, key)
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
            clock = env.now + self.ahead_ps.get(op.name, 0)
        env.run()

    def _held_operands(self, op: Op, place_: Placement, barriers: list[str]) -> Proc:
        """Each barrier input (an operand held in full) moves once, into the cluster's L2
        (a spread op's: each slice's cluster its heads' part)."""
        stats = self.stats[op.name]
        for src in barriers:
            nbytes = self.workload.tokens * self.workload.width_of(src) * self.eb
            if not place_.slices:
                yield from self.machine.transfer(self._out_unit(src), UnitId.cluster(place_.pmca),
                                                 nbytes, stats, op.name, into_l2=True)
                continue
            yield self.env.all_of([self.env.process(self.machine.transfer(
                self._out_unit(src), UnitId.cluster(c), nbytes * part // place_.whole, stats,
                op.name, into_l2=True)) for c, part in place_.slices])

    def _run_op(self, op: Op, barriers: list[str], streams: list[str]) -> Proc:
        """An op from its start: its held operands into L2, then its blocks (each once its
        blocks of `streams` producers are done)."""
        place_ = self.placements[op.name]
        yield from self._held_operands(op, place_, barriers)
        # blocks in flight are bounded by their TCDM buffers; a tile alone streams freely
        gated = any(prog.uses_cluster for prog in self.programs[op.name].values())
        in_flight = self.settings[op.name].blocks_in_flight
        done = self.done[op.name]
        waited = dict.fromkeys(streams, 0)  # producer blocks already waited for
        covered = self.skipped.get(op.name, 0)  # tokens up to this op's blocks so far
        units = self._units.get(op.name)
        prints: dict[int, Footprint | None] = {}  # (with replay) each block size's footprint
        sizes = self.blocks[op.name]
        last = len(sizes) - 1
        ahead = 0  # time of blocks replayed and not yet passed on the clock (ps)
        skip = 0  # blocks still to pass that a run's first applied
        steady = self._steady_of(op, units, in_flight) if gated and in_flight > 1 else None
        renumbered = 0  # blocks a steady state skipped (the later ones take their events)
        b = -1
        while b < last:
            b += 1
            size = sizes[b]
            covered += size
            if streams:
                yield from self._wait_streams(streams, waited, covered)
            # (one block in flight runs inline below: the previous one is done already)
            if gated and in_flight > 1 and b >= in_flight:
                gate = done[b - in_flight - renumbered]
                if not gate.processed:
                    yield gate
            # fewer events where nothing can overlap: one block at a time runs right here; a
            # tile alone on its own links is booked at once and completes by a timer
            if gated and in_flight == 1:
                footprint = prints.get(size) if units is not None and self._settled else None
                if footprint is not None:
                    # with replay: a block is a time shift of the op's first of its size,
                    # applied without an event (the clock catches up before what follows);
                    # a run of blocks of one size before the last is applied at once (unless
                    # something watches each block)
                    if skip:  # (applied with the run's first)
                        skip -= 1
                        continue
                    ahead, skip = self._apply_blocks(op, units, footprint, b, size, ahead)
                    if b == last:  # (the op ends with it: now)
                        yield self.env.timeout(ahead)
                        ahead = 0
                        self._complete(op.name, b, size, self.env.now - footprint.end_ps)
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
                # in a layer-by-layer run, only the last one's end is waited for; nothing
                # waits for the others, however many are in flight)
                self._tile_only_block(op, place_, b, size, at_once=self.replay and b < last)
            elif steady is not None:
                run = self._skipped(op, b, size, steady.admit(b, sizes))
                if run:  # (blocks b..b+run-1: the blocks in flight go on as theirs)
                    b, covered, steady = b + run - 1, covered + (run - 1) * size, None
                    renumbered = run
                    continue
                steady.started(b, self.env.process(self._block(op, place_, b, size)))
            else:
                self.env.process(self._block(op, place_, b, size))

    def _wait_streams(self, streams: list[str], waited: dict[str, int], covered: int) -> Proc:
        """Wait for the blocks of each streaming producer that hold tokens [.., covered)
        (`waited`: how many of each were waited for before)."""
        for src in streams:
            need = -(-covered // self.blocks[src][0])
            for i in range(waited[src], need):
                if not self.done[src][i].processed:
                    yield self.done[src][i]
            waited[src] = need

    def _steady_of(self, op: Op, units: Units | None, in_flight: int) -> Steady | None:
        """With replay, the check for op's steady state (`aimcsim.sim.steady`), when its
        blocks are several in flight and nothing watches each."""
        if units is None or not self._settled or self.watching:
            return None
        steady = self._steady[op.name] = Steady(
            self.machine, op.name, self.stats[op.name], self.done[op.name], units,
            link_refs(self, units.roles), in_flight)
        return steady

    def _skipped(self, op: Op, b: int, size: int, admitted: tuple[int, int]) -> int:
        """Count the blocks a steady state skipped from b on (`Steady.admit`'s answer): the
        blocks after them take the block events from b on and run behind the clock."""
        run, behind = admitted
        if run:
            self._renumbered[op.name] = (b + run, run)
            self.ahead_ps[op.name] = behind
            self.steady_blocks += run
            self.stats[op.name].tokens += run * size
            self._left[op.name] -= run
        return run

    def _apply_blocks(self, op: Op, units: Units, footprint: Footprint, b: int, size: int,
                      ahead: int) -> tuple[int, int]:
        """Block b replayed from `footprint` `ahead` ps after the clock (with the blocks of its
        size after it, when they are applied at once; but for the op's last, completed); the
        time of blocks replayed and not yet passed on the clock, and how many blocks after b
        were applied with it."""
        run = self._replay_run(op, units, footprint, b, self.env.now + ahead)
        if run:
            return ahead + run * footprint.end_ps, run - 1
        admitted = self.env.now + ahead
        apply_block(self, op, units, footprint, admitted)
        self.replayed_blocks += 1
        if b < len(self.blocks[op.name]) - 1:
            self._complete(op.name, b, size, admitted, end_ps=admitted + footprint.end_ps)
        return ahead + footprint.end_ps, 0

    def _replay_run(self, op: Op, units: Units, footprint: Footprint, b: int, t0: int) -> int:
        """Blocks b, b+1, ... of op's before its last and of block b's size, starting at `t0`
        (ps), applied at once (unless something watches each block); how many (0: none)."""
        sizes = self.blocks[op.name]
        if self.watching or self._block_events[op.name]:
            return 0
        run = _run_of(sizes, b, len(sizes) - 1)
        if run < 2:
            return 0
        apply_block(self, op, units, footprint, t0 + (run - 1) * footprint.end_ps, times=run)
        self.replayed_blocks += run
        self.stats[op.name].tokens += run * sizes[b]
        self._left[op.name] -= run
        return run

    def _complete(self, name: str, b: int, size: int, admitted: int = 0,
                  path: Segments | None = None, end_ps: int | None = None) -> None:
        """Block b of op `name` is done (at `end_ps`, default now: a replayed block's end
        may be ahead of the clock)."""
        if self.watching:
            self.probe.block(name, admitted, self.env.now if end_ps is None else end_ps, path)
        self.stats[name].tokens += size
        layers = self.layers
        if layers is not None:  # (later groups start before their first input arrives)
            layers.before_trigger(name, b)
        if self._block_events[name]:
            first, run = self._renumbered.get(name, (0, 0))
            self.done[name][b - run if b >= first else b].succeed()
        self._left[name] -= 1
        if not self._left[name]:
            if layers is not None:
                layers.before_trigger(name, -1)
            if name in self._steady:
                self._steady.pop(name).finish()
            if name in self._recorders:
                key, recorder = self._recorders.pop(name)
                settled, footprint = recorder.finish(self.env.now + self.ahead_ps.get(name, 0))
                self._settled = self._settled and settled
                if settled:
                    remember(self, self.workload.op(name), key, footprint)
            self.finished[name].succeed()
            if layers is not None:
                layers.op_done(name)


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


def _block_done(sim: NetworkSim, name: str) -> list[simpy.Event] | tuple:
    """Op `name`'s per-block events, where anything waits for its blocks (else none)."""
    return [sim.env.event() for _ in sim.blocks[name]] if sim._block_events[name] else ()


class _ByName(dict):
    """Values by op name, each made by `build(sim, name)` on first use (holding the
    simulation weakly: no reference cycle keeps a finished run for the cyclic collector)."""

    def __init__(self, sim: NetworkSim, build: Callable[[NetworkSim, str], Any]) -> None:
        super().__init__()
        self._sim, self._build = weakref.ref(sim), build

    def __missing__(self, name: str) -> Any:
        value = self[name] = self._build(self._sim(), name)
        return value


def _run_of(sizes: list[int], b: int, last: int) -> int:
    """How many blocks from `b` on, before block `last`, have block b's size."""
    n = b
    while n < last and sizes[n] == sizes[b]:
        n += 1
    return n - b


def _producers(op: Op, kind: str) -> list[str]:
    """The ops whose outputs `op` reads by edges of `kind` (streaming, barrier)."""
    return [e.src for e in op.inputs if e.kind == kind and e.src != INPUT]
