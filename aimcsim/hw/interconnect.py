"""Interconnect: links with a width (bytes per cycle) and a head latency.

A transfer occupies its link for ceil(bytes / width) cycles (serialisation); the head latency
follows without holding the link, so back-to-back transfers pipeline. An uncontended transfer
therefore takes `latency + ceil(bytes / width)` cycles; on a mesh it also crosses
`hops x hop_latency_cycles`.

Topologies: `point-to-point` (a dedicated link per source/destination pair), `shared-bus` (one
link every transfer contends for), `mesh` (a 2D mesh of nodes, one per cluster and its tile
group, `mesh_columns` wide; XY routing; each directed link between neighbours is a server, and
a transfer books its hops one after the other, each `hop_latency_cycles` after the previous:
cut-through, so an uncontended transfer pays the serialisation once; traffic within a node uses
the node's own link).
"""

from __future__ import annotations

from collections.abc import Callable
from math import ceil, isqrt

from aimcsim.engine import FifoServer
from aimcsim.spec.arch import Interconnect


def serialization_cycles(nbytes: int, noc: Interconnect) -> int:
    return ceil(nbytes / noc.bytes_per_cycle)


def transfer_cycles(nbytes: int, noc: Interconnect, hops: int = 0) -> int:
    """Closed form of one uncontended transfer, in link cycles."""
    return noc.latency_cycles + hops * noc.hop_latency_cycles + serialization_cycles(nbytes, noc)


def mesh_columns(noc: Interconnect, nodes: int) -> int:
    """Columns of the mesh: as configured, else the smallest square that holds every node."""
    if noc.mesh_columns:
        return noc.mesh_columns
    side = isqrt(max(nodes, 1))
    return side if side * side >= nodes else side + 1


def xy_route(src: int, dst: int, columns: int) -> list[tuple[int, int]]:
    """Directed node-to-node hops from `src` to `dst`: along x first, then along y."""
    x, y = src % columns, src // columns
    tx, ty = dst % columns, dst // columns
    hops = []
    while x != tx:
        nx = x + (1 if tx > x else -1)
        hops.append((y * columns + x, y * columns + nx))
        x = nx
    while y != ty:
        ny = y + (1 if ty > y else -1)
        hops.append((y * columns + x, ny * columns + x))
        y = ny
    return hops


class Links:
    """The links of one simulation, created on first use.

    node_of maps a unit (`tile:<op>`, `pmca:<i>`) to its mesh node; only the mesh needs it.
    """

    def __init__(
        self, noc: Interconnect, *, nodes: int = 1,
        node_of: Callable[[str], int] | None = None,
    ) -> None:
        self.noc = noc
        self.period_ps = noc.period_ps
        self.columns = mesh_columns(noc, nodes)
        self.node_of = node_of
        self._links: dict[tuple, FifoServer] = {}
        self._paths: dict[tuple[str, str], list[FifoServer]] = {}

    def _server(self, key: tuple) -> FifoServer:
        res = self._links.get(key)
        if res is None:
            res = self._links[key] = FifoServer()
        return res

    def path(self, src: str, dst: str) -> list[tuple]:
        """The link keys a transfer from `src` to `dst` crosses, in order."""
        if self.noc.topology == "shared-bus":
            return [("bus",)]
        if self.noc.topology == "point-to-point" or self.node_of is None:
            return [(src, dst)]
        a, b = self.node_of(src), self.node_of(dst)
        if a == b:
            return [(src, dst)]
        return [("mesh", *hop) for hop in xy_route(a, b, self.columns)]

    def send(self, src: str, dst: str, nbytes: int, at_ps: int) -> tuple[int, int]:
        """Book a transfer asked for at `at_ps`; return (start, arrival) in ps.

        Booking ahead of the clock is exact only on links no one else uses (point-to-point).
        """
        noc, period = self.noc, self.period_ps
        serial = serialization_cycles(nbytes, noc) * period
        servers = self._paths.get((src, dst))
        if servers is None:
            servers = self._paths[(src, dst)] = [self._server(k) for k in self.path(src, dst)]
        start = first = servers[0].book(at_ps, serial)
        if self.noc.topology != "mesh" or self.path(src, dst)[0][0] != "mesh":
            return first, start + serial + noc.latency_cycles * period
        hop = noc.hop_latency_cycles * period
        for server in servers[1:]:
            start = server.book(start + hop, serial)
        return first, start + hop + serial + noc.latency_cycles * period

    def component(self, src: str, dst: str) -> str:
        """Timeline name of the first link a transfer takes."""
        if self.noc.topology == "shared-bus":
            return "link:bus"
        key = self.path(src, dst)[0]
        return f"link:node{key[1]}->node{key[2]}" if key[0] == "mesh" else f"link:{src}->{dst}"

    @property
    def link_count(self) -> int:
        return len(self._links)
