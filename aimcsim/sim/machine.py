"""The chip's servers and their state for one run, and the primitives that book them.

A `Machine` holds the clock (a SimPy environment), each static op's tile (its phase timers),
each adapted op's SRAM-CIM macros, the clusters (cores and TCDM) and the links, built from a
prepared run (`aimcsim.sim.prepare`). Its primitives book them: a transfer over the links, a
kernel on a cluster's cores, a burst of MVMs on a tile, the macros' branch, TCDM allocated and
freed; each adds what it did to the op's statistics (`OpStats`), tells the probe
(`aimcsim.sim.probes`) and extends the block's critical chain when one is recorded. `state`
and `restore` read and set the servers an op uses, which replay (`aimcsim.sim.replay`) records
and applies instead of reaching into the simulation.
"""

from __future__ import annotations

from collections.abc import Generator
from functools import partial
from typing import Any

import simpy

from aimcsim.hw.aimc_tile import TileTimer
from aimcsim.hw.engines import engine
from aimcsim.hw.interconnect import Links
from aimcsim.hw.lanes import Cause, Kind, UnitId
from aimcsim.hw.pmca import KernelStats
from aimcsim.hw.pmca.pool import Cluster
from aimcsim.hw.servers import FifoServer
from aimcsim.mapping import Placement
from aimcsim.sim.prepare import Prepared
from aimcsim.sim.probes import Probe, Segments
from aimcsim.sim.stats import OpStats

Proc = Generator[simpy.Event, Any, None]


class Machine:
    """The servers of one run (see the module docstring)."""

    def __init__(self, prep: Prepared, probe: Probe | None = None) -> None:
        arch = prep.arch
        self.env = env = simpy.Environment()
        self.probe = probe or Probe()
        self.watching = self.probe.watching
        self.clusters = [Cluster(env, arch.pmca.tcdm_bytes, r) for r in prep.resident]
        # (node_of holds the placements, not the run: no reference cycle keeps a finished
        # run's objects for the cyclic collector)
        self.net = Links(arch.interconnect, nodes=len(prep.resident),
                         node_of=partial(_node_of, prep.placements))
        self.exclusive_links = self.net.exclusive
        self.tiles = {name: TileTimer(arch.aimc) for name in prep.case.tile_events}
        # each adapted layer's SRAM-CIM macros: one server, blocks in arrival order
        self.cims = {name: FifoServer() for name in prep.case.cims}
        self.pmca_period_ps = arch.pmca.period_ps
        #: the LoRA engine beside the tiles (`aimcsim.hw.engines`) and its section
        self.engine, self.branch = engine(arch.lora.engine), arch.branch
        self._facts: dict[tuple[str, str], tuple[int, bool, bool]] = {}
        #: when a list: every booking is appended to it as (process, server kind, server,
        #: times), the times in ps (`aimcsim.sim.steady` reads it to find a steady state)
        self.log: list[tuple] | None = None
        #: the state replayed ops left on their servers (`aimcsim.sim.replay.apply`), kept
        #: here rather than written (`settle` writes it): links by key and clusters' cores by
        #: index, each at its latest free time; each op's own tile phases and macros as (op,
        #: phases, macros, shift). Exact for what runs after them: those servers are free by
        #: the time the next op starts, every server grants a request at the later of its
        #: time and the server's free time, and requests come no earlier than the clock, so
        #: a free time before the clock, written or not, changes no grant; and each server's
        #: free time only grows, so the latest is its state. A run's results read no
        #: server's state (its links are counted with these: `link_count`).
        self.deferred_links: dict[Any, int] = {}
        self.deferred_cores: dict[int, int] = {}
        self.deferred_own: list[tuple[str, tuple[int, int, int] | None, int | None, int]] = []

    # ---- time --------------------------------------------------------------------------
    def until(self, time_ps: int) -> simpy.Event:
        """An event at `time_ps` (now if it has passed)."""
        return self.env.timeout(max(0, time_ps - self.env.now))

    # ---- tiles and macros ----------------------------------------------------------------
    def mvm(self, name: str, ready_ps: int, size: int, stats: OpStats,
            path: Segments | None = None) -> int:
        """Schedule a burst of `size` MVMs on op `name`'s tiles, record it, return its end."""
        start, end = self.tiles[name].run(ready_ps, size)
        if self.log is not None:
            self.log.append((self.env.active_process, "tile", name, (ready_ps, start, end)))
        if path is not None:  # (waiting for the tile's earlier bursts is the tile's time)
            path.append((ready_ps, end, Cause.TILE))
        stats.active(start, end)
        stats.tile_busy(start, end)
        if self.watching:
            self.probe.busy(UnitId.tile(name), start, end, "mvm", name)
        return end

    def cim(self, name: str, d_in: int, d_out: int, place_: Placement, ready_ps: int,
            size: int, stats: OpStats, path: Segments | None = None) -> int:
        """Run a block's LoRA branch on op `name`'s units beside its tile (the engine's
        macros); return its end."""
        duration = self.engine.branch_ps(self.branch, size)
        start = self.cims[name].book(ready_ps, duration)
        if self.log is not None:
            self.log.append((self.env.active_process, "cim", name, (ready_ps, start)))
        if path is not None:
            path.append((ready_ps, start + duration, Cause.CIM))
        stats.cim_macs += self.engine.branch_macs(d_in, d_out, place_.rank, size)
        stats.active(start, start + duration)
        if self.watching:
            self.probe.busy(UnitId.macros(name), start, start + duration, "lora_xab", name)
        return start + duration

    # ---- links ---------------------------------------------------------------------------
    def transfer(self, src: str | None, dst: str, nbytes: int, stats: OpStats, name: str,
                 *, into_l2: bool = False, path: Segments | None = None) -> Proc:
        """Move `nbytes` over the link src -> dst now; resumes when they have arrived.
        `into_l2`: they land in the cluster's L2 (a held operand), not its TCDM."""
        now = self.env.now
        arrival = self.book(src, dst, nbytes, stats, name, now, into_l2=into_l2, path=path)
        if arrival > now:
            yield self.env.timeout(arrival - now)

    def send_at(self, at_ps: int, src: str, dst: str, nbytes: int, stats: OpStats,
                name: str, path: Segments | None = None) -> Proc:
        """`transfer` once the clock reaches `at_ps`."""
        # (`path` already ends when the data is ready: the MVMs' or the macros' end)
        yield self.env.timeout(max(0, at_ps - self.env.now))
        yield from self.transfer(src, dst, nbytes, stats, name, path=path)

    def book(
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
        if self.log is not None:
            self.log.append((self.env.active_process, "link", (src, dst, nbytes),
                             (at_ps, start, arrival)))
        stats.stall_ps += start - at_ps
        if path is not None:
            if start > at_ps:
                path.append((at_ps, start, Cause.WAIT_LINK))
            path.append((start, arrival, Cause.LINK))
        links, into_tcdm, out_of_tcdm = (self._facts.get((src, dst))
                                         or self._route_facts(src, dst))
        stats.noc_bytes += nbytes
        stats.noc_link_bytes += nbytes * links
        if into_tcdm and not into_l2:
            stats.tcdm_write_bytes += nbytes
        if out_of_tcdm:
            stats.tcdm_read_bytes += nbytes
        if self.watching:
            self.probe.busy(self.net.component(src, dst), start, arrival, "transfer", name)
        stats.noc_busy_ps += arrival - start
        stats.noc_held_ps += self.net.hold_ps(nbytes) * links
        return arrival

    def _route_facts(self, src: str, dst: str) -> tuple[int, bool, bool]:
        """Links a transfer crosses, whether it lands in a cluster's TCDM and whether it
        leaves one (memoised per pair in `_facts`: transfers repeat)."""
        facts = self._facts[(src, dst)] = (self.net.links(src, dst),
                                           UnitId.parse(dst).is_cluster,
                                           UnitId.parse(src).is_cluster)
        return facts

    # ---- clusters ------------------------------------------------------------------------
    def kernel(
        self, pmca: int, cost: KernelStats | None, stats: OpStats, name: str, activity: str,
        path: Segments | None = None,
    ) -> Proc:
        """Run a kernel of `cost` on cluster `pmca`'s cores once they are free."""
        if cost is None:
            return
        now = self.env.now
        period = self.pmca_period_ps
        duration = cost.cycles * period
        start = self.clusters[pmca].cores.book(now, duration)
        if self.log is not None:
            self.log.append((self.env.active_process, "cores", (pmca, duration), (now, start)))
        if path is not None:  # the kernel's cycles by cause, one after the other
            if start > now:
                path.append((now, start, Cause.WAIT_CLUSTER))
            at = start
            for cycles, cause in ((cost.compute_cycles + cost.overhead_cycles, Cause.COMPUTE),
                                  (cost.dma_cycles, Cause.DMA), (cost.stall_cycles, Cause.STALLS)):
                if cycles:
                    path.append((at, at + cycles * period, cause))
                    at += cycles * period
        stats.stall_ps += start - now
        stats.active(start, start + duration)
        if self.watching:
            self.probe.busy(UnitId.cluster(pmca), start, start + duration, activity, name)
            if cost.dma_cycles:  # the cores' wait on the DMA, drawn from the kernel's start
                self.probe.busy(UnitId.dma(pmca), start, start + cost.dma_cycles * period, "dma",
                                name)
        yield self.env.timeout(start + duration - now)
        stats.dma_busy_ps += cost.dma_cycles * period
        stats.pmca_busy_ps += (cost.cycles - cost.dma_cycles) * period

    def alloc(self, cluster: int, nbytes: int, stats: OpStats,
              path: Segments | None = None) -> Proc:
        """Take `nbytes` of cluster `cluster`'s TCDM, waiting while other blocks hold it."""
        wait = self.clusters[cluster].allocate(nbytes)
        if self.log is not None:
            self.log.append((self.env.active_process, "alloc", (cluster, nbytes, wait is None),
                             (self.env.now,)))
        if wait is not None:
            asked = self.env.now
            yield wait
            if self.log is not None:
                self.log.append((self.env.active_process, "granted", cluster, (self.env.now,)))
            stats.stall_ps += self.env.now - asked
            if path is not None:
                path.append((asked, self.env.now, Cause.WAIT_TCDM))
        stats.tcdm_live_bytes += nbytes
        stats.tcdm_peak_bytes = max(stats.tcdm_peak_bytes,
                                    stats.resident_bytes + stats.tcdm_live_bytes)

    def free(self, cluster: int, nbytes: int, stats: OpStats) -> None:
        if self.log is not None:
            self.log.append((self.env.active_process, "free", (cluster, nbytes), (self.env.now,)))
        self.clusters[cluster].release(nbytes)
        stats.tcdm_live_bytes -= nbytes

    # ---- state, for replay ---------------------------------------------------------------
    def snapshot(self, clusters: tuple[int, ...], link_keys: Any
                 ) -> tuple[dict[Any, int], list[int]]:
        """When the links of `link_keys` (those that exist) and the cores of `clusters` are
        free (`restore` sets them back)."""
        servers = self.net.servers
        return ({k: servers[k].free_ps for k in link_keys if k in servers},
                [self.clusters[c].cores.free_ps for c in clusters])

    def restore(self, name: str, links: list[tuple[Any, int]] | None,
                cores: list[tuple[int, int]] | None, cim_ps: int | None,
                tile_ps: tuple[int, int, int] | None, shift_ps: int = 0) -> None:
        """Set the servers op `name` used free from the given times plus `shift_ps`: `links`
        as (key, free_ps), `cores` as (cluster, free_ps)."""
        if tile_ps is not None:
            dac, integration, adc = tile_ps
            self.tiles[name].restore(dac + shift_ps, integration + shift_ps, adc + shift_ps)
        if links:
            server = self.net.server
            for key, free_ps in links:
                server(key).free_ps = free_ps + shift_ps
        if cores:
            clusters = self.clusters
            for cluster, free_ps in cores:
                clusters[cluster].cores.free_ps = free_ps + shift_ps
        if cim_ps is not None:
            self.cims[name].free_ps = cim_ps + shift_ps

    def settle(self) -> None:
        """Write the deferred state (`deferred_links`) to the servers: afterwards each
        server's state is the one the reference engine leaves. Between ops only: during one,
        the links it creates would look used by it (`aimcsim.sim.replay.Recorder`)."""
        server = self.net.server
        for key, free_ps in self.deferred_links.items():
            link = server(key)
            link.free_ps = max(link.free_ps, free_ps)
        for cluster, free_ps in self.deferred_cores.items():
            cores = self.clusters[cluster].cores
            cores.free_ps = max(cores.free_ps, free_ps)
        for name, tile_ps, cim_ps, shift_ps in self.deferred_own:  # (the op's alone)
            self.restore(name, None, None, cim_ps, tile_ps, shift_ps)
        self.deferred_links, self.deferred_cores, self.deferred_own = {}, {}, []

    def link_free_ps(self) -> dict[Any, int]:
        """When each link the run has used is next free, deferred state included, without
        writing it (`settle` during an op would make its links look used by it)."""
        free = {key: link.free_ps for key, link in self.net.servers.items()}
        for key, free_ps in self.deferred_links.items():
            free[key] = max(free.get(key, 0), free_ps)
        return free

    def cores_free_ps(self, cluster: int) -> int:
        """When cluster `cluster`'s cores are next free, deferred state included."""
        return max(self.clusters[cluster].cores.free_ps, self.deferred_cores.get(cluster, 0))

    @property
    def link_count(self) -> int:
        """The links the run has used (those of deferred state too)."""
        deferred = self.deferred_links
        return len(deferred) + sum(key not in deferred for key in self.net.servers)


def _node_of(placements: dict[str, Placement], unit: str) -> int:
    """Mesh or ring node of a unit: a cluster's index; a tile group sits with its cluster
    (its id's node is its op: the placement says which cluster)."""
    parsed = UnitId.parse(unit)
    return parsed.node if parsed.kind is Kind.CLUSTER else placements[parsed.node].pmca


__all__ = ["Machine", "Proc"]
