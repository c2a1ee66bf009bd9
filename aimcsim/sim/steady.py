"""The steady state of an op's blocks in flight, found and skipped in a layer-by-layer run.

With one block in flight each block of a simulated op starts on free servers, so it is a time
shift of the op's first of its size (`aimcsim.sim.replay.apply_block`). With more in flight
(`double-buffered`) the blocks overlap and none is a shift of another on its own; but after
the fill the op settles into a period: every block is admitted P ps after the one before, and
the chip does between two admissions what it did between the two before, shifted by P.

`Steady` watches the op's admissions. At each one it takes the state from which the rest of
the op runs, relative to the clock (`state`):

- when each server the op uses is next free (links on its routes, its clusters' cores, its
  tile's phases, its macros), a time already passed counted as now (a FIFO server free by the
  time of a request serves it at once either way), and its clusters' TCDM in use;
- the op's statistics that later bookings read (the end of its last tile burst, likewise
  clipped; its TCDM in use);
- each block still in flight: when it was admitted and every booking it made (the machine's
  `log`), so its process is where the earlier block's was, with equal values (a block's
  process is a deterministic function of what its bookings returned);
- the pending events of the op's processes in the order the engine will take them (equal
  times: SimPy's order), each named by the block it belongs to.

When the state at admission b equals the state at admission b-k (k up to `PERIODS`) and
blocks b-k to b have one size, the run from b on is the run from b-k on shifted by P = a_b -
a_(b-k) (integer time, deterministic servers), so by induction block b+nk starts from the same
state for every n periods of blocks of that size. `admit` then skips n periods: their
statistics are n times one period's, and the blocks in flight go on as blocks b+nk-1, ...,
n x P ps behind the clock (`NetworkSim.ahead_ps`). At the op's end
`finish` moves everything the op left forward by that offset: a server or time that advanced
by P in the period (or changed after the skip) is shifted, one that stood still is not. The
result equals the reference engine's (`tests/test_replay.py`); any state that cannot be named
(a process or event of another kind, a TCDM wait, a server time that moved by neither 0 nor
P) is simply not compared, and the op is simulated block by block.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from aimcsim.sim.machine import Machine
from aimcsim.sim.replay import ADDITIVE, AIMC_END, LAST, Units
from aimcsim.sim.stats import OpStats

if TYPE_CHECKING:
    import simpy

#: admissions compared before an op that has not settled is simulated without the check
ATTEMPTS = 24
#: the longest period looked for, in blocks (the admissions alternate, say, between two gaps
#: when the tile and the cluster take turns at being the bottleneck)
PERIODS = 4

_NOT_THERE = -1  # (a link not yet used: not among the servers)


class Steady:
    """The steady-state check of one simulated op's blocks (see the module docstring): op
    `name` on `machine`, its statistics `stats` and block events `done`, its `units` and the
    keys of the links on their routes (`aimcsim.sim.replay.link_refs`)."""

    def __init__(self, machine: Machine, name: str, stats: OpStats, done: Sequence[simpy.Event],
                 units: Units, keys: Sequence[tuple], in_flight: int) -> None:
        self.machine, self.name, self.stats, self.done = machine, name, stats, done
        self.units, self.keys, self.in_flight = units, tuple(keys), in_flight
        self.blocks: dict[simpy.Process, int] = {}  # each block's process: its index
        self.marks: list[int] = []  # per admitted block, where the log stood
        self.admitted: list[int] = []  # per admitted block, when (ps)
        #: (state, raw values) at the last `PERIODS` admissions, the latest last
        self.history: list[tuple[tuple, tuple] | None] = []
        self.attempts = ATTEMPTS
        self.skip: tuple | None = None  # once skipped: what `finish` shifts
        machine.log = []

    # ---- during the op --------------------------------------------------------------------
    def started(self, b: int, process: simpy.Process) -> None:
        """Block b's process has been made (after `admit`)."""
        self.blocks[process] = b

    def admit(self, b: int, sizes: Sequence[int]) -> tuple[int, int]:
        """Block b is about to be admitted: how many blocks from b on to skip (0: none; their
        statistics, but for their tokens, are added to the op's) and how far the blocks in
        flight then run behind the clock (ps)."""
        machine = self.machine
        now = machine.env.now
        self.marks.append(len(machine.log) if machine.log is not None else 0)
        self.admitted.append(now)
        if machine.log is None or b < self.in_flight or b == 0:
            return 0, 0
        found = self._state(b, now)
        history = self.history
        if found is not None:
            for k in range(1, len(history) + 1):  # the shortest period that repeats
                earlier = history[-k]
                if earlier is not None and earlier[0] == found[0]:
                    skipped = self._skip(b, k, sizes, earlier[1], found[1], now)
                    if skipped[0]:
                        return skipped
        history.append(found)
        if len(history) > PERIODS:
            del history[0]
        self.attempts -= 1
        if self.attempts <= 0:
            self._stop()
        return 0, 0

    def _state(self, b: int, now: int) -> tuple[tuple, tuple] | None:
        """The state at block b's admission (relative to now) and the raw values `_skip`
        needs; None when some of it cannot be named."""
        machine = self.machine
        servers = self._servers()
        clusters = [machine.clusters[c] for c in self.units.clusters]
        if any(c.waiting for c in clusters):
            return None
        st = self.stats
        first = b - self.in_flight + 1  # the blocks that may still be in flight
        log = machine.log
        entries = []
        for process, kind, server, times in log[self.marks[first]:]:
            role = self.blocks.get(process)
            if role is None:
                return None
            entries.append((role - b, kind, server, tuple([t - now for t in times])))
        queue = self._queue(b, now)
        if queue is None:
            return None
        state = (tuple([v if v == _NOT_THERE else max(0, v - now) for v in servers]),
                 tuple([c.used_bytes for c in clusters]),
                 max(0, st.aimc_end_ps - now), st.last_ps - now, st.tcdm_live_bytes,
                 tuple([a - now for a in self.admitted[first:]]), tuple(entries), queue)
        values = st.snapshot()
        return state, (servers, values[AIMC_END], values[LAST],
                       tuple(values[i] for i in ADDITIVE), now)

    def _queue(self, b: int, now: int) -> tuple | None:
        """The pending events of the op's blocks, in the order they will be taken."""
        done = self.done
        events = {id(done[j]): j for j in range(max(0, b - self.in_flight - 1), b)}
        out = []
        # (SimPy's queue: (time, priority, event id, event); the ids are unique, so the
        # entries sort in the order the engine takes them. A SimPy without it: no state)
        queue = getattr(self.machine.env, "_queue", None)
        if not isinstance(queue, list):
            return None
        for time_ps, priority, _, event in sorted(queue):
            callbacks = event.callbacks
            if callbacks:
                roles = []
                for callback in callbacks:
                    role = self.blocks.get(getattr(callback, "__self__", None))
                    if role is None:
                        return None
                    roles.append(role - b)
                out.append((time_ps - now, priority, "resumes", tuple(roles)))
            elif id(event) in events:
                out.append((time_ps - now, priority, "done", events[id(event)] - b))
            elif event in self.blocks:
                out.append((time_ps - now, priority, "exit", self.blocks[event] - b))
            # (else an event nothing waits for or will: an earlier op's)
        return tuple(out)

    def _servers(self) -> list[int]:
        """When each of the op's servers is next free, in the order `finish` restores them:
        its links (not yet made: `_NOT_THERE`), its clusters' cores, its tile's phases, its
        macros."""
        machine = self.machine
        links, cores = machine.snapshot(self.units.clusters, self.keys)
        values = [links.get(k, _NOT_THERE) for k in self.keys] + cores
        if self.name in machine.tiles:
            values += machine.tiles[self.name].state()
        if self.name in machine.cims:
            values.append(machine.cims[self.name].free_ps)
        return values

    def _skip(self, b: int, k: int, sizes: Sequence[int], before: tuple, at: tuple, now: int,
              ) -> tuple[int, int]:
        """Skip whole periods of `k` blocks of size sizes[b] from b on (the state at b repeats
        the state at b-k: module docstring); `admit`'s answer."""
        if any(sizes[j] != sizes[b] for j in range(b - k, b)):
            return 0, 0
        period = now - before[-1]
        moved = []  # per raw value: whether it advanced by the period (else stood still)
        for earlier, later in zip((*before[0], before[1], before[2]), (*at[0], at[1], at[2]),
                                  strict=True):
            if later - earlier not in (0, period) or (earlier == _NOT_THERE) != (
                    later == _NOT_THERE):
                return 0, 0
            moved.append(later != earlier)
        n = b
        while n < len(sizes) and sizes[n] == sizes[b]:
            n += 1
        # (the op's last block is simulated: its end is then an event of the run)
        periods = (n - b - (n == len(sizes))) // k
        run = periods * k
        if not run:
            return 0, 0
        st = self.stats
        values = list(st.snapshot())
        for i, earlier, later in zip(ADDITIVE, before[3], at[3], strict=True):
            values[i] += periods * (later - earlier)
        st.restore(tuple(values))
        self.skip = (periods * period, moved, at[0], at[1], at[2])
        self._stop()
        return run, periods * period

    def _stop(self) -> None:
        self.machine.log = None
        self.history = []

    # ---- at the op's end ------------------------------------------------------------------
    def finish(self) -> None:
        """The op has ended: move what it left forward by the skip's offset (how far the
        clock is behind the op's end)."""
        self._stop()
        if self.skip is None:
            return
        offset, moved, servers, aimc_end, last = self.skip
        shifted = [_shift(v, was, m, offset) for v, was, m in zip(
            self._servers(), servers, moved[:len(servers)], strict=True)]
        machine, name = self.machine, self.name
        n, clusters = len(self.keys), self.units.clusters
        links = [(k, v) for k, v in zip(self.keys, shifted[:n], strict=True) if v != _NOT_THERE]
        cores = list(zip(clusters, shifted[n:n + len(clusters)], strict=True))
        rest = shifted[n + len(clusters):]
        tile = tuple(rest[:3]) if name in machine.tiles else None
        cim = rest[-1] if name in machine.cims else None
        machine.restore(name, links, cores, cim, tile)
        st = self.stats
        st.aimc_end_ps = _shift(st.aimc_end_ps, aimc_end, moved[-2], offset)
        st.last_ps = _shift(st.last_ps, last, moved[-1], offset)


def _shift(value: int, at_skip: int, moved: bool, offset: int) -> int:
    """A time the op left: shifted if it advanced in the period or changed since the skip
    (a link made since: changed)."""
    if value == _NOT_THERE:
        return value
    return value + offset if moved or value != at_skip else value


__all__ = ["ATTEMPTS", "PERIODS", "Steady"]
