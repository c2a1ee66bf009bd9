"""`mesh`: a 2D mesh of nodes, one per cluster and its tile group, `mesh_columns` wide (0: the
smallest square that holds every node); XY routing; each directed link between neighbours is a
server; traffic within a node uses the node's own link (no hop)."""

from __future__ import annotations

from math import isqrt

from aimcsim.hw.interconnect.topology import Fabric, Key, node_pair, register
from aimcsim.hw.lanes import UnitId


def mesh_columns(columns: int, nodes: int) -> int:
    """Columns of the mesh: as configured, else the smallest square that holds every node."""
    if columns:
        return columns
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


@register
class Mesh:
    name = "mesh"
    exclusive = False
    uniform = False

    def path(self, src: str, dst: str, fabric: Fabric) -> tuple[list[Key], bool]:
        nodes = node_pair(src, dst, fabric)
        if nodes is None:
            return [(src, dst)], False
        columns = mesh_columns(fabric.noc.mesh_columns, fabric.nodes)
        return [("mesh", *hop) for hop in xy_route(*nodes, columns)], True

    def component(self, key: Key, src: str, dst: str) -> UnitId:
        return UnitId.hop(key[1], key[2]) if key[0] == "mesh" else UnitId.link(src, dst)
