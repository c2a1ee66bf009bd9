"""Replaying repeated layers of a streaming run instead of simulating them again.

With `pipeline.between_layers: streaming` every op runs as its inputs arrive and the layers of a
transformer overlap, so an op is not a time shift of an earlier one the way it is in a
layer-by-layer run (`aimcsim.sim.replay`). A whole layer can be. The ops of one transformer
block form a group (`aimcsim.sim.layer_plan`). When every link serves one pair of units
(`Topology.exclusive`), no cluster serves two groups and a group reads only the group before
it, what a group does is decided by its inputs and when they arrive. The first groups may
differ (the first reads the network input at once), but a pipeline settles: once group K gives
its outputs at the times group K-1 gave them, all shifted by one time (`Record`), group K+1
receives what group K received, shifted by it, and so does every later group of the same
shape. The engine does not simulate them but leaves group K's record, shifted, on each: its
ops' statistics and the state of its servers. Whatever reads the last replayed group (an LM
head) gets its outputs at their shifted times, in their order.

Groups become processes only when their first input is about to arrive, so the replayed ones
never run (the reference engine, `simulate(..., replay=False)`, starts every op at once, and
nothing a group does before its first input is visible). Group K+1 would start at group K's
first output, so the engine guesses K there (`Layers._speculate`; from group `speculate` on)
and starts no later group of the chain; group K's outputs are checked as they come against
group K-1's, and its whole record at its end (`_confirm`). Without a guess (or when it comes
too late), group K+1 is under way when K is known, and is simulated. Every group simulated
after K in its chain (K+1 then, and the chain's last group when something reads it) must repeat
group K's record (every block of every op at its time, the statistics, the servers). Should a
check fail, the run is simulated again (`Diverged`, `aimcsim.simulator.run_network`): guessing
a group later, then without a guess, then without layer replay. `tests/test_layer_replay.py`
asserts equal tables, summaries and server states over random architectures, workloads and
topologies. Runs on shared links (bus, mesh, ring) or with a timeline simulate every op.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any, NamedTuple

from aimcsim.sim.layer_plan import Plan
from aimcsim.sim.replay import AIMC_END, FIRST, LAST

#: the run (`aimcsim.sim.network.NetworkSim`, which imports this module)
NetworkSim = Any


class Diverged(Exception):
    """A group did not repeat the group its replay took as the template (a guessed one, or
    one simulated to confirm it): the run is to be simulated again
    (`aimcsim.simulator.run_network`)."""


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

    def __init__(self, sim: NetworkSim, plan_: Plan, speculate: int | None = 1) -> None:
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
        #: the first group whose first output may start the replay of the groups after it
        #: before it is known to repeat the group before it (`_speculate`; None: none)
        self.speculate = speculate
        self.speculated: int | None = None  # the group guessed, until its repeat is known
        self.guessed: int | None = None  # the group guessed (kept: `run_network` reads it)
        self._shift = 0  # (while speculated: the shift per group)
        self._fed: tuple[int, ...] = ()  # (while speculated: places fed from the last group)
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
            if reader > self.created and not self._speculate(g, reader, now):
                self.create(reader)
            if self.anchor[reader] is None:
                self.anchor[reader] = now
        out = (self.plan.index[name], b, now - (self.anchor[g] or 0))
        self.outputs[g].append(out)
        if self.speculated == g:
            self._follow(g, out)

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
        if self.speculated is not None:
            k = self.speculated
            if k - 1 in self.records and k in self.records:
                self._confirm(k)
            return
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
    def _chain(self, k: int) -> tuple[int, int]:
        """The groups after `k` that repeat it, k+1 .. end-1, and the last of them to replay:
        the chain's last is simulated if something reads it (what does gets its outputs as
        the engine gives them)."""
        plan_, groups = self.plan, self.plan.groups
        end = k + 1
        while end < len(groups) and plan_.chained[end]:
            end += 1
        read = any(name in plan_.feeds for name in groups[end - 1])
        return end, end - 2 if read else end - 1

    def _replay_after(self, k: int) -> None:
        """Group `k` repeats the one before it: replay every later group of its chain not
        yet started but the last one, which is simulated (and confirmed) with group K+1."""
        plan_, groups = self.plan, self.plan.groups
        end, last = self._chain(k)
        first = self.created + 1
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

    def _speculate(self, g: int, reader: int, now: int) -> bool:
        """Group g's first output is about to start group `reader`: should group g repeat
        the group before it, every later group of its chain would repeat group g, so none is
        started (but the chain's last one when something reads it, fed the outputs of the one
        before it as group g gives its own, shifted). Whether group g repeats is known at its
        end (`_confirm`); each output it gives is checked as it comes (`_follow`). Should it
        not repeat, the run is simulated again (`Diverged`: `aimcsim.simulator.run_network`
        guesses from the next group, then not at all). True: the groups are replayed so."""
        plan_, groups = self.plan, self.plan.groups
        if self.speculate is None or g < max(1, self.speculate) or self.template is not None \
                or self.guessed is not None or reader != g + 1 or not plan_.chained[reader] \
                or not self.recorded[g - 1] or not self.outputs[g - 1] or self.outputs[g]:
            return False
        end, last = self._chain(g)
        if last < reader:
            return False
        replayed = range(reader, last + 1)
        # the places of the last replayed group's ops read by groups not replayed (one group:
        # its outputs are given in the order group g gives its own)
        fed = tuple(i for i in range(1, len(groups[last]) + 1)
                    if any(h not in replayed for h in plan_.feeds.get(groups[last][-i], ())))
        if any(any(h not in replayed for h in plan_.feeds.get(name, ()))
               for h in range(reader, last) for name in groups[h]):
            return False
        t = self.outputs[g - 1][0][2]
        shift = now - (t + (self.anchor[g - 1] or 0))
        if shift <= 0 or self.anchor[g] + shift != now:
            return False
        self.speculated = self.guessed = g
        self._shift, self._fed = shift, fed
        self.replayed, self.created = replayed, last
        self.confirm = set(range(last + 1, end))  # (the chain's last, when read)
        for h in replayed:
            self.anchor[h] = self.anchor[g] + (h - g) * shift
        return True

    def _follow(self, g: int, out: tuple[int, int, int]) -> None:
        """Group g (speculated) gave output `out`: it must be the group before's output of its
        place in their sequences, shifted; the last replayed group gives its own, later."""
        outputs, before = self.outputs[g], self.outputs[g - 1]
        n = len(outputs) - 1
        if n < len(before):
            i, b, t = before[n]
            if (i, b, t - before[0][2]) != (out[0], out[1], out[2] - outputs[0][2]):
                raise Diverged(f"group {g} did not repeat group {g - 1}")
        if out[0] in self._fed:
            last = self.replayed[-1]
            delay = (last - g) * self._shift
            name = self.plan.groups[last][-out[0]]
            timer = self.env.timeout(delay)
            timer.callbacks.append(lambda _event: self._give(name, out[1]))

    def _give(self, name: str, b: int) -> None:
        """A replayed group's op gives block b (-1: its end) to what reads it."""
        self.before_trigger(name, b)
        sim = self.sim
        (sim.done[name][b] if b >= 0 else sim.finished[name]).succeed()

    def _confirm(self, k: int) -> None:
        """Group k (speculated) and the group before it have finished: k repeated it (else
        `Diverged`), so its record, shifted, is left on every replayed group."""
        before, record = self.records[k - 1], self.records[k]
        if not record.outputs or _paced(before.outputs) != _paced(record.outputs):
            raise Diverged(f"group {k} did not repeat group {k - 1}")
        self.template, self.speculated = (k, self._shift), None
        for g in self.replayed:
            self._apply(g, record, k)
        for g in self.confirm:  # (a confirming group that finished already)
            if g in self.records and self.records[g] != record:
                raise Diverged(f"group {g} did not repeat group {k}")

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
        env = self.env
        for time_ps, _, _, name, b in feeds:
            if time_ps > env.now:
                yield env.timeout(time_ps - env.now)
            self._give(name, b)


__all__ = ["Diverged", "Layers", "Record"]
