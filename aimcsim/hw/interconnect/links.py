"""Links with a width (bytes per cycle) and a head latency, booked as FIFO servers.

A transfer occupies its link for ceil(bytes / width) cycles (serialisation); the head latency
follows without holding the link, so back-to-back transfers pipeline. An uncontended transfer
therefore takes `latency + ceil(bytes / width)` cycles; on a path of hops (mesh, ring) it
books its hops one after the other, each `hop_latency_cycles` after the previous (cut-through:
the serialisation is paid once), and also pays `hops x hop_latency_cycles`.
"""

from __future__ import annotations

from collections.abc import Callable
from math import ceil
from typing import TYPE_CHECKING

from aimcsim.hw.interconnect.topology import Fabric, Key, topology_of
from aimcsim.hw.lanes import UnitId
from aimcsim.hw.servers import FifoServer

if TYPE_CHECKING:
    from aimcsim.hw.interconnect.params import Interconnect


def serialization_cycles(nbytes: int, noc: Interconnect) -> int:
    return ceil(nbytes / noc.bytes_per_cycle)


def transfer_cycles(nbytes: int, noc: Interconnect, hops: int = 0) -> int:
    """Closed form of one uncontended transfer, in link cycles."""
    return noc.latency_cycles + hops * noc.hop_latency_cycles + serialization_cycles(nbytes, noc)


class Links:
    """The links of one simulation, created on first use.

    node_of maps a unit (`tile:<op>`, `pmca:<i>`) to its node; topologies of nodes (mesh,
    ring) need it.
    """

    def __init__(
        self, noc: Interconnect, *, nodes: int = 1,
        node_of: Callable[[str], int] | None = None,
    ) -> None:
        self.noc = noc
        self.topology = topology_of(noc)
        self.fabric = Fabric(noc, nodes, node_of)
        self.period_ps = noc.period_ps
        #: the links used so far, by key (a route's links are created on its first transfer)
        self.servers: dict[Key, FifoServer] = {}
        self._paths: dict[tuple[str, str], tuple[list[FifoServer], bool, UnitId]] = {}
        self._keys: dict[tuple[str, str], tuple[list[Key], bool]] = {}
        #: every route is one link of its own (`Topology.uniform`)
        self.uniform: bool = getattr(self.topology, "uniform", False)

    @property
    def exclusive(self) -> bool:
        return self.topology.exclusive

    def server(self, key: Key) -> FifoServer:
        """The link of `key`, created on first use."""
        res = self.servers.get(key)
        if res is None:
            res = self.servers[key] = FifoServer()
        return res

    def path(self, src: str, dst: str) -> tuple[list[Key], bool]:
        """The keys of the links from `src` to `dst` and the topology's hop flag, without
        creating the links (memoised)."""
        found = self._keys.get((src, dst))
        if found is None:
            found = self._keys[(src, dst)] = self.topology.path(src, dst, self.fabric)
        return found

    def _route(self, src: str, dst: str) -> tuple[list[FifoServer], bool, UnitId]:
        route = self._paths.get((src, dst))
        if route is None:
            keys, hops = self.path(src, dst)
            route = ([self.server(k) for k in keys], hops,
                     self.topology.component(keys[0], src, dst))
            self._paths[(src, dst)] = route
        return route

    def hold_ps(self, nbytes: int) -> int:
        """Time a transfer of `nbytes` holds each link it crosses, in ps: its serialisation
        (the head and hop latencies follow without holding it)."""
        return serialization_cycles(nbytes, self.noc) * self.period_ps

    def send(self, src: str, dst: str, nbytes: int, at_ps: int) -> tuple[int, int]:
        """Book a transfer asked for at `at_ps`; return (start, arrival) in ps.

        Booking ahead of the clock is exact only on exclusive links (point-to-point).
        """
        noc, period = self.noc, self.period_ps
        serial = self.hold_ps(nbytes)
        servers, hops, _ = self._route(src, dst)
        start = first = servers[0].book(at_ps, serial)
        if not hops:
            return first, start + serial + noc.latency_cycles * period
        hop = noc.hop_latency_cycles * period
        for server in servers[1:]:
            start = server.book(start + hop, serial)
        return first, start + hop + serial + noc.latency_cycles * period

    def links(self, src: str, dst: str) -> int:
        """Links a transfer from `src` to `dst` crosses (1 on a link of its own or a bus; the
        hops of a mesh or ring path)."""
        return len(self._route(src, dst)[0])

    def component(self, src: str, dst: str) -> UnitId:
        """Timeline name of the first link a transfer takes (its unit id)."""
        return self._route(src, dst)[2]

    @property
    def link_count(self) -> int:
        return len(self.servers)
