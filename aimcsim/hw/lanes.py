"""What the chip's servers are called: unit ids (their kind, resource, lane and node) and the
causes of a critical path, each written once and read by the simulator, the topologies, the
results, the figures and the traces.

A unit id is a `UnitId`, which is a `str`: it is a column of the timeline, a key of the servers
and a value of every table written, the same text as before there was a type. Its builders
(`UnitId.tile`, `.cluster`, `.macros`, `.dma`, `.link`, `.hop`, `.bus`) are the only places
the text is made, and `UnitId.parse` (also `UnitId(text)`) the only place it is read back (a
timeline from a file, a figure's rows); parse refuses a text that is no unit id with a
ValueError naming the forms.

    kind     text                   the unit                         node
    tile     tile:<op>              the op's tile group              the op's name
    macros   cim:<op>               its units beside the tile        the op's name
                                    (the LoRA engine's macros)
    cluster  pmca:<i>               cluster i                        i
    dma      dma:<i>                cluster i's DMA                  i
    link     link:<src>-><dst>      a link of its own: point-to-     (src, dst): unit ids
                                    point, or a node's own link on
                                    a mesh or ring
    link     link:node<a>->node<b>  a hop between mesh/ring nodes    (a, b): node indices
    link     link:bus               the shared bus                   ()

The node is what the id itself knows of where the unit sits: a cluster's index is also its
mesh or ring node, while a tile group's (and its macros') node is its cluster's, which only
the placement knows (`aimcsim.sim.machine` maps it for the topologies); a link knows its two
ends as the topology named them, and the bus none.

The resource is one of `Resource` (one colour per resource in every figure). The lane is the
row of the timeline figure a unit is drawn on: tile groups, macros, clusters and DMAs each
their own (a DMA's row holds the cores' waits on it, drawn from the kernel's start); links
share two, `LINKS_FROM_TILES` (a link out of a tile group) and `LINKS_FROM_CLUSTERS` (every
other: out of a cluster, a hop between nodes, the bus).
"""

from __future__ import annotations

import operator
import re
import warnings
from enum import StrEnum
from functools import lru_cache
from typing import Any, NoReturn


class Resource(StrEnum):
    """What a server is; one colour per resource in every figure (in this order: the timeline
    figure's lanes are sorted by it)."""

    AIMC = "aimc"
    CIM = "cim"
    PMCA = "pmca"
    DMA = "dma"
    NOC = "noc"


class Cause(StrEnum):
    """What a piece of a block's critical path was spent on (`aimcsim.results.critical_path`)."""

    TILE = "tile"
    CIM = "SRAM-CIM"
    COMPUTE = "cluster compute"
    STALLS = "bank stalls"
    DMA = "DMA"
    LINK = "link"
    WAIT_LINK = "waiting for a link"
    WAIT_CLUSTER = "waiting for the cluster"
    WAIT_TCDM = "waiting for TCDM"
    WAIT_INPUTS = "waiting for inputs"


#: the causes, in the order tables list them
CAUSES = tuple(c.value for c in Cause)


class Kind(StrEnum):
    """The five kinds of unit; each value is its ids' prefix (before the first `:`)."""

    TILE = "tile"
    MACROS = "cim"
    CLUSTER = "pmca"
    DMA = "dma"
    LINK = "link"


#: the resource of each kind of unit
KIND_RESOURCES: dict[Kind, Resource] = {
    Kind.TILE: Resource.AIMC, Kind.MACROS: Resource.CIM, Kind.CLUSTER: Resource.PMCA,
    Kind.DMA: Resource.DMA, Kind.LINK: Resource.NOC,
}

#: the two lanes the links share in the timeline figure
LINKS_FROM_TILES, LINKS_FROM_CLUSTERS = "links from tiles", "links from clusters"

#: where a unit sits (see the module docstring): an op's name (tile group, macros), a
#: cluster's index (cluster, DMA), a link's ends (two unit ids, two node indices, or none)
Node = str | int | tuple[()] | tuple["UnitId", "UnitId"] | tuple[int, int]

_FORMS = "tile:<op>, cim:<op>, pmca:<i>, dma:<i>, link:bus, link:node<a>->node<b> or " \
         "link:<unit>-><unit>"
_INDEX = re.compile(r"0|[1-9][0-9]*")  # (written as str(int) writes it: the text round-trips)
_HOP = re.compile(r"node(0|[1-9][0-9]*)->node(0|[1-9][0-9]*)")
_CACHE = 1 << 14  # distinct ids kept by the builders and the parser (a run has a few thousand)
_KINDS = {kind.value: kind for kind in Kind}


def _refuse(text: object, why: str) -> NoReturn:
    raise ValueError(f"{text!r} is no unit id: {why}; a unit id is one of {_FORMS}")


def _index(value: Any, what: str) -> int:
    try:
        index = operator.index(value)
    except TypeError:
        raise ValueError(f"a {what} index is a whole number, not {value!r}") from None
    if index < 0:
        raise ValueError(f"a {what} index is 0 or more, not {index}")
    return index


class UnitId(str):
    """A unit's id: its text (a `str`) with its kind, name, resource, lane and node (see the
    module docstring). Equal to, and hashed as, its text; immutable; built by the static
    builders below or read back by `parse`. `name` is the text after `<kind>:`."""

    kind: Kind
    name: str
    node: Node

    def __new__(cls, text: str) -> UnitId:
        return UnitId.parse(text)

    @classmethod
    def _make(cls, kind: Kind, name: str, node: Node) -> UnitId:
        unit = str.__new__(cls, f"{kind.value}:{name}")
        unit.__dict__.update(kind=kind, name=name, node=node)
        return unit

    def __setattr__(self, name: str, value: Any) -> NoReturn:
        raise AttributeError(f"unit id {str(self)!r} is immutable")

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return UnitId, (str(self),)

    # ---- builders (memoised: one object per id) ------------------------------------------
    @staticmethod
    @lru_cache(maxsize=_CACHE)
    def tile(op: str) -> UnitId:
        """Op `op`'s tile group."""
        return UnitId._make(Kind.TILE, _op(op), str(op))

    @staticmethod
    @lru_cache(maxsize=_CACHE)
    def macros(op: str) -> UnitId:
        """Op `op`'s units beside its tile (the LoRA engine's SRAM-CIM macros)."""
        return UnitId._make(Kind.MACROS, _op(op), str(op))

    @staticmethod
    @lru_cache(maxsize=_CACHE, typed=True)
    def cluster(index: int) -> UnitId:
        """Cluster `index`."""
        i = _index(index, "cluster")
        return UnitId._make(Kind.CLUSTER, str(i), i)

    @staticmethod
    @lru_cache(maxsize=_CACHE, typed=True)
    def dma(index: int) -> UnitId:
        """Cluster `index`'s DMA."""
        i = _index(index, "cluster")
        return UnitId._make(Kind.DMA, str(i), i)

    @staticmethod
    @lru_cache(maxsize=_CACHE)
    def link(src: str, dst: str) -> UnitId:
        """The link of its own from unit `src` to unit `dst` (ids or their texts)."""
        ends = UnitId.parse(src), UnitId.parse(dst)
        for end in ends:
            if end.kind is Kind.LINK:
                raise ValueError(f"a link joins two units, not the link {str(end)!r}")
        name = f"{ends[0]}->{ends[1]}"
        if _ends(name) != ends:  # (an op's name holding "->" and a unit id after it)
            raise ValueError(f"the link from {str(src)!r} to {str(dst)!r} cannot be named: "
                             f"{name!r} reads as another pair of units")
        return UnitId._make(Kind.LINK, name, ends)

    @staticmethod
    @lru_cache(maxsize=_CACHE, typed=True)
    def hop(a: int, b: int) -> UnitId:
        """The link from node `a` to its neighbour node `b` of a mesh or ring."""
        ends = _index(a, "node"), _index(b, "node")
        return UnitId._make(Kind.LINK, f"node{ends[0]}->node{ends[1]}", ends)

    @staticmethod
    def bus() -> UnitId:
        """The one link of a shared bus."""
        return _BUS

    # ---- reading back --------------------------------------------------------------------
    @staticmethod
    def parse(text: str) -> UnitId:
        """The unit id `text` writes (a `UnitId` is returned as it is); ValueError when it is
        none."""
        if isinstance(text, UnitId):
            return text
        if not isinstance(text, str):
            _refuse(text, f"it is of type {type(text).__name__}, not text")
        return _parse(text)

    # ---- what it is ----------------------------------------------------------------------
    @property
    def resource(self) -> Resource:
        return KIND_RESOURCES[self.kind]

    @property
    def lane(self) -> str:
        """The row of the timeline figure it is drawn on (see the module docstring)."""
        if self.kind is not Kind.LINK:
            return str(self)
        src = self.node[0] if self.node else None
        from_tile = isinstance(src, UnitId) and src.kind is Kind.TILE
        return LINKS_FROM_TILES if from_tile else LINKS_FROM_CLUSTERS

    @property
    def is_cluster(self) -> bool:
        """A cluster (what a transfer into it lands in: its TCDM)."""
        return self.kind is Kind.CLUSTER


def _op(op: str) -> str:
    if not isinstance(op, str) or not op:
        raise ValueError(f"a tile group or macros is named by its op's name, not {op!r}")
    return op


_BUS = UnitId._make(Kind.LINK, "bus", ())


@lru_cache(maxsize=_CACHE)
def _parse(text: str) -> UnitId:
    prefix, colon, name = text.partition(":")
    kind = _KINDS.get(prefix) if colon else None
    if kind is None:
        _refuse(text, f"no kind of unit before a ':' ({', '.join(_KINDS)})")
    if kind in (Kind.TILE, Kind.MACROS):
        if not name:
            _refuse(text, "no op name")
        return UnitId.tile(name) if kind is Kind.TILE else UnitId.macros(name)
    if kind in (Kind.CLUSTER, Kind.DMA):
        if not _INDEX.fullmatch(name):
            _refuse(text, "a cluster's index is a whole number")
        return UnitId.cluster(int(name)) if kind is Kind.CLUSTER else UnitId.dma(int(name))
    if name == "bus":
        return _BUS
    hop = _HOP.fullmatch(name)
    if hop:
        return UnitId.hop(int(hop[1]), int(hop[2]))
    ends = _ends(name)
    if ends is None:
        _refuse(text, "a link is the bus, a hop between nodes or two units joined by '->'")
    return UnitId.link(*ends)


def unnameable(op: str) -> str | None:
    """Why the links of op `op`'s units could not be named (its name holds "->" and a unit id
    after it, so a link's id would read back as another pair), or None."""
    for pair in ((UnitId.tile(op), UnitId.cluster(0)), (UnitId.cluster(0), UnitId.tile(op))):
        try:
            UnitId.link(*pair)
        except ValueError:
            return (f"{op!r} holds '->' and a unit id after it: its links' ids would read as "
                    "another pair of units")
    return None


def _ends(name: str) -> tuple[UnitId, UnitId] | None:
    """The two units `<src>-><dst>` joins, split at the first '->' that leaves two ids of
    units other than links (None: none does)."""
    at = name.find("->")
    while at >= 0:
        try:
            ends = _parse(name[:at]), _parse(name[at + 2:])
        except ValueError:
            ends = None
        if ends and all(end.kind is not Kind.LINK for end in ends):
            return ends
        at = name.find("->", at + 1)
    return None


# ---- the names before `UnitId`, kept working with a DeprecationWarning ---------------------
class _Unit:
    """`Unit`: the ids' builders before `UnitId` (deprecated)."""

    tile, cluster, macros, dma = (staticmethod(UnitId.tile), staticmethod(UnitId.cluster),
                                  staticmethod(UnitId.macros), staticmethod(UnitId.dma))

    @staticmethod
    def is_cluster(unit: str) -> bool:
        return UnitId.parse(unit).is_cluster

    @staticmethod
    def parse(unit: str) -> tuple[str, str]:
        """(kind, name) of a unit id: ("tile", op), ("pmca", "3"), ..."""
        parsed = UnitId.parse(unit)
        return parsed.kind.value, parsed.name


def _resource_of(component: str) -> Resource:
    """The resource a timeline component (a unit id) belongs to (deprecated:
    `UnitId.parse(component).resource`)."""
    return UnitId.parse(component).resource


_DEPRECATED = {"Unit": (_Unit, "UnitId"), "resource_of": (_resource_of, "UnitId.resource"),
               "TILE": ("tile:", "Kind.TILE"), "PMCA": ("pmca:", "Kind.CLUSTER"),
               "CIM": ("cim:", "Kind.MACROS"), "DMA": ("dma:", "Kind.DMA"),
               "LINK": ("link", "Kind.LINK")}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        value, instead = _DEPRECATED[name]
        warnings.warn(f"aimcsim.hw.lanes.{name} is deprecated: use {instead}",
                      DeprecationWarning, stacklevel=2)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CAUSES",
    "KIND_RESOURCES",
    "LINKS_FROM_CLUSTERS",
    "LINKS_FROM_TILES",
    "Cause",
    "Kind",
    "Node",
    "Resource",
    "UnitId",
    "unnameable",
]
