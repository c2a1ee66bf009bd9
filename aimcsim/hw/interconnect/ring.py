"""`ring`: the nodes (one per cluster and its tile group) on a bidirectional ring; a transfer
takes the shorter direction (clockwise on a tie), hop by hop, each directed link between
neighbours a server; traffic within a node uses the node's own link (no hop)."""

from __future__ import annotations

from aimcsim.hw.interconnect.topology import Fabric, Key, node_pair, register
from aimcsim.hw.lanes import UnitId


def ring_route(src: int, dst: int, nodes: int) -> list[tuple[int, int]]:
    """Directed hops from `src` to `dst` the shorter way round (clockwise on a tie)."""
    forward = (dst - src) % nodes
    step = 1 if forward <= nodes - forward else -1
    hops, at = [], src
    while at != dst:
        nxt = (at + step) % nodes
        hops.append((at, nxt))
        at = nxt
    return hops


@register
class Ring:
    name = "ring"
    exclusive = False
    uniform = False

    def path(self, src: str, dst: str, fabric: Fabric) -> tuple[list[Key], bool]:
        nodes = node_pair(src, dst, fabric)
        if nodes is None:
            return [(src, dst)], False
        return [("ring", *hop) for hop in ring_route(*nodes, max(fabric.nodes, 1))], True

    def component(self, key: Key, src: str, dst: str) -> UnitId:
        return UnitId.hop(key[1], key[2]) if key[0] == "ring" else UnitId.link(src, dst)
