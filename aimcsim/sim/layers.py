"""Replaying repeated layers of a streaming run instead of simulating them again.

With `pipeline.between_layers: streaming` every op runs as its inputs arrive and the layers of a
transformer overlap, so an op is not a time shift of an earlier one the way it is in a
layer-by-layer run (`aimcsim.sim.replay`). A whole layer can be. The ops of one transformer
block (`Op.block`; an op that starts a block on a cluster of the block before joins that one)
form a group. When every link serves one pair of units (`Topology.exclusive`), no cluster serves
two groups and a group reads only the group before it, what a group does is decided by its
inputs and when they arrive. The first groups may differ (the first reads the network input at
once), but a pipeline settles: once group K gives its outputs at the times group K-1 gave them,
all shifted by one time (`Record`), group K+1 receives what group K received, shifted by it, and
so does every later group of the same shape. Group K+1 is under way by then; from group K+2 on
the engine does not simulate them but leaves group K's record, shifted, on each: its ops'
statistics and the state of its servers. Whatever reads the last replayed group (an LM head)
gets its outputs at their shifted times, in their order.

Groups become processes only when their first input is about to arrive, so the replayed ones
never run (the reference engine, `simulate(..., replay=False)`, starts every op at once, and
nothing a group does before its first input is visible). Group K+1, and the chain's last group
when something reads it, are simulated and must repeat group K's record (every block of every op
at its time, the statistics, the servers); should one not, the run is simulated again without
layer replay (`Diverged`, `aimcsim.simulator.simulate`). `tests/test_layer_replay.py` asserts
equal tables, summaries and server states over random architectures, workloads and topologies.
Runs on shared links (bus, mesh, ring) or with a timeline simulate every op.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from aimcsim.hw.lanes import UnitId
from aimcsim.identity import Same
from aimcsim.mapping import Placement
from aimcsim.sim.replay import AIMC_END, FIRST, LAST
from aimcsim.spec.workload import INPUT, Workload

#: the run (`aimcsim.sim.network.NetworkSim`, which imports this module)
NetworkSim = Any


class Diverged(Exception):
    """A group simulated to confirm the replay did not repeat its template: the run is to be
    simulated without layer replay."""


@dataclass(frozen=True)
class Plan:
    """The groups of a workload and what layer replay reads of them (`plan`)."""

    groups: tuple[tuple[str, ...], ...]  # op names per group, in trace order
    group_of: Mapping[str, int]
    index: Mapping[str, int]  # an op's place in its group, from its end (the last: 1)
    shapes: tuple[int, ...]  # per group: equal numbers, groups equal up to names
    #: per op read by later groups: those groups
    feeds: Mapping[str, tuple[int, ...]]
    #: the ops whose blocks a group's record lists: those at the places in their group where
    #: an op of a group of its shape is read by later groups
    logged: frozenset[str]
    start: int  # the groups up to this one are created at the start (they read the input)
    #: per group and op, the (source, destination) unit pairs its transfers can take
    pairs: tuple[tuple[tuple[tuple[str, str], ...], ...], ...]
    clusters: tuple[tuple[int, ...], ...]  # per group, its clusters in a canonical order
    #: per group: it reads only the group before it
    follows: tuple[bool, ...]
    #: per group: it follows the group before it and has its shape (a group the engine may
    #: replay from the one before)
    chained: tuple[bool, ...]


def plan(sim: NetworkSim) -> Plan | None:
    """The layer plan of a streaming run, or None when no group could ever be replayed
    (shared links, clusters shared by groups, no two groups alike)."""
    prep = sim.prepared
    if not (sim.machine.net.exclusive and sim.machine.net.uniform):
        return None
    settings = None if prep.uniform else tuple(prep.settings[n] for n in prep.case.names)
    found = _plan(Same(prep.workload, prep.placements), settings,
                  tuple(prep.resident), tuple(prep.l2_held),
                  tuple(tuple(prep.blocks[n]) for n in prep.case.names),
                  tuple(prep.skipped.get(n, 0) for n in prep.case.names))
    return found if found is not None and any(found.chained) else None


@lru_cache(maxsize=64)
def _plan(same: Same, settings: tuple | None, resident: tuple[int, ...],
          l2_held: tuple[int, ...], blocks: tuple, skipped: tuple) -> Plan | None:
    workload, placements = same.objects
    ops = workload.ops
    runs: list[list[int]] = []
    for i, op in enumerate(ops):
        if runs and ops[runs[-1][0]].block == op.block:
            runs[-1].append(i)
        else:
            runs.append([i])
    # an op that starts a block on a cluster of the block before (GPT-2's first layer norm on
    # the cluster of the last add) belongs with the block before
    for g in range(1, len(runs)):
        held = {c for i in runs[g - 1] for c in placements[ops[i].name].clusters}
        while len(runs[g]) > 1 and held.intersection(placements[ops[runs[g][0]].name].clusters):
            runs[g - 1].append(runs[g].pop(0))
    groups = tuple(tuple(ops[i].name for i in run) for run in runs)
    group_of = {name: g for g, names in enumerate(groups) for name in names}
    # (counted from the group's end: a block's last ops are the ones the next block reads, and
    # a first block with an op more than the rest gives them the places the others do)
    index = {name: len(names) - k for names in groups for k, name in enumerate(names)}
    owner: dict[int, int] = {}
    feeds: dict[str, set[int]] = {}
    shapes: dict[tuple, int] = {}
    numbers, clusters, pairs, start, follows = [], [], [], -1, []
    for g, run in enumerate(runs):
        local: dict[int, int] = {}  # the group's clusters, numbered by first use
        descs, group_pairs, sources = [], [], set()
        for i in run:
            op, p = ops[i], placements[ops[i].name]
            for c in p.clusters:
                if owner.setdefault(c, g) != g:
                    return None  # (a cluster two groups use: their runs interfere)
                local.setdefault(c, len(local))
            edges = []
            for e in op.inputs:
                if e.src == INPUT:
                    edges.append((e.kind, "input"))
                    start = g
                    continue
                src_g = group_of[e.src]
                if src_g != g:
                    feeds.setdefault(e.src, set()).add(g)
                    sources.add(src_g)
                edges.append((e.kind, g - src_g, index[e.src],
                              placements[e.src].out_unit == UnitId.cluster(placements[e.src].pmca)))
            descs.append((op.shape, op.last_tokens, tuple(edges), p.tile, p.rank, p.cim,
                          p.gather, local[p.pmca], tuple((local[c], part) for c, part in p.slices),
                          p.out_unit == UnitId.cluster(p.pmca),
                          None if settings is None else settings[i], blocks[i], skipped[i],
                          resident[p.pmca]))
            group_pairs.append(_pairs(workload, placements, op.name))
        if not sources:
            start = g  # (nothing to wait for: it starts at once)
        order = tuple(local)
        # (replay maps a group's links onto another's place for place: their transfer pairs
        # must alias alike)
        shape = (tuple(descs), tuple(l2_held[c] for c in order), _pair_shape(group_pairs))
        numbers.append(shapes.setdefault(shape, len(shapes)))
        clusters.append(order)
        pairs.append(tuple(group_pairs))
        follows.append(g > 0 and sources == {g - 1})
    places: dict[int, set[int]] = {}  # per shape: the places of ops later groups read
    for name in feeds:
        places.setdefault(numbers[group_of[name]], set()).add(index[name])
    logged = frozenset(name for g, names in enumerate(groups) for name in names
                       if index[name] in places.get(numbers[g], ()))
    return Plan(groups, group_of, index, tuple(numbers),
                {name: tuple(sorted(gs)) for name, gs in feeds.items()}, logged, start,
                tuple(pairs), tuple(clusters), tuple(follows),
                tuple(f and numbers[g] == numbers[g - 1] for g, f in enumerate(follows)))


def _pairs(workload: Workload, placements: Mapping[str, Placement], name: str,
           ) -> tuple[tuple[str, str], ...]:
    """Every (source, destination) a transfer of op `name` can take (`aimcsim.sim.blocks`):
    from its inputs' units and its tile to its tile, its cluster and its slices' clusters, and
    from its slices' clusters to its cluster."""
    p = placements[name]
    home = UnitId.cluster(p.pmca)
    sources = [placements[e.src].out_unit for e in workload.op(name).inputs if e.src != INPUT]
    dests = [home, *(UnitId.cluster(c) for c, _ in p.slices)]
    if p.tile is not None:
        sources.append(UnitId.tile(name))
        dests.append(UnitId.tile(name))
    found = [(s, d) for s in sources for d in dests if s != d]
    found += [(UnitId.cluster(c), home) for c, _ in p.slices if c != p.pmca]
    return tuple(dict.fromkeys(found))


def _pair_shape(pairs: Sequence[tuple[tuple[str, str], ...]]) -> tuple:
    """A group's transfer pairs with each unit numbered by its first appearance: equal for
    two groups whose links correspond place for place."""
    numbers: dict[str, int] = {}
    return tuple(tuple((numbers.setdefault(src, len(numbers)), numbers.setdefault(dst,
                                                                                 len(numbers)))
                       for src, dst in op_pairs) for op_pairs in pairs)


class Record(NamedTuple):
    """What one group did, relative to when its first input arrived: its ops' statistics, its
    outputs to later groups and every block its ops finished, in the order they were given,
    and its servers' state at its end."""

    stats: tuple
    outputs: tuple[tuple[int, int, int], ...]  # (op's place, block (-1: the op's end), time)
    blocks: tuple[tuple[int, int, int], ...]  # (the same, of every op)
    tiles: tuple
    cims: tuple
    clusters: tuple  # per cluster: its cores' free time, TCDM peak, TCDM used
    links: tuple[tuple[int, int, int, int | None], ...]  # (op, pair, link on it, free time)


def _paced(outputs: tuple[tuple[int, int, int], ...]) -> tuple[tuple[int, int, int], ...]:
    """A group's outputs with their times from the first one's: equal for two groups when
    one gives its outputs at the other's times, shifted."""
    first = outputs[0][2] if outputs else 0
    return tuple((i, b, t - first) for i, b, t in outputs)


def _rel(value: int | None, anchor: int) -> int | None:
    """A time relative to `anchor` (None: never set)."""
    return None if not value else value - anchor


def _abs(value: int | None, anchor: int, unset: Any = 0) -> Any:
    return unset if value is None else value + anchor


class Layers:
    """Layer replay in one streaming run (see the module docstring): which groups exist,
    when each first got an input, the records of the groups simulated, the groups replayed."""

    def __init__(self, sim: NetworkSim, plan_: Plan) -> None:
        # (held weakly, as the run holds this: no reference cycle keeps a finished run's
        # objects for the cyclic collector)
        self.sim, self.plan = weakref.proxy(sim), plan_
        self.env = sim.env
        groups = plan_.groups
        self.created = -1  # the groups up to this one are processes (or replayed)
        self.anchor: list[int | None] = [None] * len(groups)
        self.left = [len(names) for names in groups]
        self.outputs: list[list[tuple[int, int, int]]] = [[] for _ in groups]
        self.blocks: list[list[tuple[int, int, int]]] = [[] for _ in groups]
        #: the groups recorded when they finish: each that may repeat the one before it or be
        #: repeated by the next
        self.recorded = [plan_.chained[g] or (g + 1 < len(groups) and plan_.follows[g + 1])
                         for g in range(len(groups))]
        self.records: dict[int, Record] = {}
        self.template: tuple[int, int] | None = None  # (K, shift per group)
        self.replayed: range = range(0)
        self.confirm: set[int] = set()  # groups simulated that must repeat the template
        self.create(plan_.start)

    # ---- hooks of the engine -------------------------------------------------------------
    def create(self, upto: int) -> None:
        """Start the op processes of every group up to `upto` not yet started."""
        sim = self.sim
        for g in range(self.created + 1, upto + 1):
            for name in self.plan.groups[g]:
                sim.env.process(sim._op(sim.workload.op(name)))
        self.created = max(self.created, upto)

    def before_trigger(self, name: str, b: int) -> None:
        """Op `name` finished block `b` (-1: its end) and is about to give it to the ops that
        read it: start later groups that do first, and note when each first got an input."""
        g = self.plan.group_of[name]
        now = self.env.now
        if self.recorded[g]:
            self.blocks[g].append((self.plan.index[name], b, now - (self.anchor[g] or 0)))
        if name not in self.plan.logged:
            return
        for reader in self.plan.feeds.get(name, ()):
            if reader > self.created:
                self.create(reader)
            if self.anchor[reader] is None:
                self.anchor[reader] = now
        self.outputs[g].append((self.plan.index[name], b, now - (self.anchor[g] or 0)))

    def op_done(self, name: str) -> None:
        g = self.plan.group_of[name]
        self.left[g] -= 1
        if not self.left[g] and g not in self.replayed:
            self._group_done(g)

    # ---- records -------------------------------------------------------------------------
    def _group_done(self, g: int) -> None:
        """Group `g` has finished: record it; should it have given its outputs at the times
        the group before it did, shifted, and the next group have its shape, that next group
        gets what `g` got, shifted, and so does every later one of the chain."""
        plan_ = self.plan
        later = g + 1 < len(plan_.groups)
        if not self.recorded[g]:
            return
        record = self._record(g)
        if self.template is not None:
            if g in self.confirm and record != self.records[self.template[0]]:
                raise Diverged(f"group {g} did not repeat group {self.template[0]}")
            return
        self.records[g] = record
        self.records.pop(g - 2, None)
        before = self.records.get(g - 1)
        if later and plan_.chained[g + 1] and before is not None and record.outputs \
                and _paced(before.outputs) == _paced(record.outputs):
            # (the shift of every output: of the first one, each from its group's first input)
            shift = (record.outputs[0][2] + self.anchor[g]
                     - before.outputs[0][2] - (self.anchor[g - 1] or 0))
            self.template = (g, shift)
            self._replay_after(g)

    def _record(self, g: int) -> Record:
        sim, a = self.sim, self.anchor[g] or 0  # (a group that reads the input: from 0)
        names = self.plan.groups[g]
        machine = sim.machine
        stats = []
        for name in names:
            values = list(sim.stats[name].snapshot())
            for i in (FIRST, LAST, AIMC_END):
                values[i] = _rel(values[i], a)
            stats.append(tuple(values))
        tiles = tuple(tuple(_rel(v, a) for v in machine.tiles[n].state())
                      if n in machine.tiles else None for n in names)
        cims = tuple(_rel(machine.cims[n].free_ps, a) if n in machine.cims else None
                     for n in names)
        clusters = tuple((_rel(c.cores.free_ps, a), c.peak_bytes, c.used_bytes, len(c.waiting))
                         for c in (machine.clusters[k] for k in self.plan.clusters[g]))
        return Record(tuple(stats), tuple(self.outputs[g]), tuple(self.blocks[g]), tiles, cims,
                      clusters, tuple(self._links(g, a)))

    def _links(self, g: int, a: int) -> Iterator[tuple[int, int, int, int | None]]:
        net = self.sim.machine.net
        servers = net.servers
        for i, pairs in enumerate(self.plan.pairs[g]):
            for p, (src, dst) in enumerate(pairs):
                for n, key in enumerate(net.path(src, dst)[0]):
                    if key in servers:
                        yield i, p, n, _rel(servers[key].free_ps, a)

    # ---- replay --------------------------------------------------------------------------
    def _replay_after(self, k: int) -> None:
        """Group `k` repeats the one before it: replay every later group of its chain not
        yet started but the last one, which is simulated (and confirmed) with group K+1."""
        plan_, groups = self.plan, self.plan.groups
        end = k + 1
        while end < len(groups) and plan_.chained[end]:
            end += 1  # (groups k+1 .. end-1 repeat group k)
        first = self.created + 1
        # (the chain's last group is simulated if something reads it: what does gets its
        # outputs as the engine gives them)
        read = any(name in plan_.feeds for name in groups[end - 1])
        last = end - 2 if read else end - 1
        if last < first:  # (every group of the chain is under way: nothing to replay)
            self.template = None
            return
        self.confirm = {g for g in range(k + 1, end) if g < first or g > last}
        self.replayed = range(first, last + 1)
        self.created = last  # (they never start: what reads them is fed their outputs)
        shift = self.template[1]
        record = self.records[k]
        for g in self.replayed:
            self.anchor[g] = self.anchor[k] + (g - k) * shift
            self._apply(g, record, k)
        feeds = [(t + self.anchor[g], g, seq, name, b)
                 for g in self.replayed
                 for seq, (i, b, t) in enumerate(record.outputs)
                 for name in (groups[g][-i],)
                 if any(h not in self.replayed for h in plan_.feeds.get(name, ()))]
        if feeds:
            self.sim.env.process(self._feed(sorted(feeds)))

    def _apply(self, g: int, record: Record, k: int) -> None:
        """Leave group `k`'s record, shifted to group `g`'s first input, on group `g`."""
        sim, a = self.sim, self.anchor[g]
        machine = sim.machine
        template = self.plan.groups[k]
        for name, twin, values, tile, cim in zip(self.plan.groups[g], template, record.stats,
                                                 record.tiles, record.cims, strict=True):
            values = list(values)
            values[FIRST] = _abs(values[FIRST], a, None)
            values[LAST] = _abs(values[LAST], a)
            values[AIMC_END] = _abs(values[AIMC_END], a)
            sim.stats[name].restore(tuple(values))
            sim._left[name] = 0
            sim._twins[name] = sim._twins.get(twin, twin)
            if tile is not None:
                machine.tiles[name].restore(*(_abs(v, a) for v in tile))
            if cim is not None:
                machine.cims[name].free_ps = _abs(cim, a)
        for c, (cores, peak, _, _) in zip(self.plan.clusters[g], record.clusters, strict=True):
            cluster = machine.clusters[c]
            cluster.cores.free_ps = _abs(cores, a)
            cluster.peak_bytes = peak
        net = machine.net
        pairs = self.plan.pairs[g]
        for i, p, n, free in record.links:
            src, dst = pairs[i][p]
            net.server(net.path(src, dst)[0][n]).free_ps = _abs(free, a)
        sim.replayed += len(template)

    def _feed(self, feeds: list[tuple[int, int, int, str, int]]) -> Any:
        """Give the replayed groups' outputs to what reads them, at their times, in their
        order."""
        sim = self.sim
        env = sim.env
        for time_ps, _, _, name, b in feeds:
            if time_ps > env.now:
                yield env.timeout(time_ps - env.now)
            self.before_trigger(name, b)
            (sim.done[name][b] if b >= 0 else sim.finished[name]).succeed()


__all__ = ["Diverged", "Layers", "Plan", "Record", "plan"]
