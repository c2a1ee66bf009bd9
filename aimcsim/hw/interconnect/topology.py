"""What a topology is, and the registry the architecture file, the simulator and the search
read.

A topology turns a transfer between two units (`tile:<op>`, `pmca:<i>`) into the link keys it
crosses, in order, and names the first for the timeline (an `aimcsim.hw.lanes.UnitId`:
`UnitId.link(src, dst)` for a link of its own, `UnitId.hop(a, b)` between nodes `a` and `b`,
`UnitId.bus()`). `Links` (in `links.py`) owns one FIFO server per key and books transfers on
them; everything else about a topology (its name in YAML, whether its links are exclusive,
whether its paths pay a per-hop latency) is declared here, once, by the topology's class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from aimcsim.hw.lanes import UnitId
from aimcsim.params.registry import Registry

Key = tuple  # a link's identity: equal keys are one server


class Wiring(Protocol):
    """What a topology reads of the `interconnect` section (`params.Interconnect`, which
    imports this module for the registered names)."""

    topology: str
    mesh_columns: int


@dataclass(frozen=True)
class Fabric:
    """What a topology may need to route: the spec, the node count and the unit -> node map."""

    noc: Wiring
    nodes: int
    node_of: Callable[[str], int] | None


class Topology(Protocol):
    """A way of wiring tiles and clusters.

    name: its `interconnect.topology` value. exclusive: every link carries the transfers of
    one source/destination pair only, so a transfer can be booked ahead of the clock and the
    analytic model (one block in flight) is exact; otherwise the search simulates every point.
    """

    name: ClassVar[str]
    exclusive: ClassVar[bool]
    #: optional (default False): every route between two distinct units is one link of its
    #: own, without hops (point-to-point), so what an op's transfers meet depends only on which
    #: of its units are the same (`aimcsim.sim.replay` then skips comparing routes; such a
    #: topology may also name that link, `key(src, dst)`: its path's only key, which replay
    #: then builds without walking the path)
    uniform: ClassVar[bool]

    def path(self, src: str, dst: str, fabric: Fabric) -> tuple[list[Key], bool]:
        """The link keys from `src` to `dst`, and whether each is a hop paying
        `hop_latency_cycles` (cut-through) rather than one link with the head latency only."""
        ...

    def component(self, key: Key, src: str, dst: str) -> UnitId:
        """Timeline name of a transfer whose first link is `key` (a link's `UnitId`)."""
        ...


def node_pair(src: str, dst: str, fabric: Fabric) -> tuple[int, int] | None:
    """The nodes of a transfer on a topology of nodes (mesh, ring), or None when it stays in
    one node (or nothing maps units to nodes): then it takes the node's own link."""
    if fabric.node_of is None:
        return None
    a, b = fabric.node_of(src), fabric.node_of(dst)
    return None if a == b else (a, b)


#: the topologies by `interconnect.topology` name (the shared `params.registry.Registry`, as
#: the strategies' and the engines'); the built-ins are `aimcsim.hw.interconnect.builtin`'s
TOPOLOGIES = Registry("topology", "aimcsim.hw.interconnect.builtin")

#: class decorator: make a topology available under its `name` (which must be new)
register = TOPOLOGIES.register


def topology_of(noc: Wiring) -> Topology:
    """The registered topology `noc` names."""
    return TOPOLOGIES.get(noc.topology)
