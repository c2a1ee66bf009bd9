"""What the chip's servers are called: unit ids, their resources and lanes, and the causes of
a critical path, each written once and read by the simulator, the results, the figures and
the traces.

A unit id is a string (it is a column of the timeline and of every table): `tile:<op>` (an
op's tile group), `pmca:<i>` (a cluster), `cim:<op>` (an op's units beside its tile, the
LoRA engine's), `dma:<i>` (a cluster's DMA, drawn beside it) and `link:...` (a link, as the
topology names it). `Unit` builds and parses them; `resource_of` says which resource a
timeline component belongs to.
"""

from __future__ import annotations

from enum import StrEnum


class Resource(StrEnum):
    """What a server is; one colour per resource in every figure."""

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

TILE, PMCA, CIM, DMA, LINK = "tile:", "pmca:", "cim:", "dma:", "link"  # id prefixes


class Unit:
    """The ids of the chip's units (all strings)."""

    @staticmethod
    def tile(op: str) -> str:
        return f"{TILE}{op}"

    @staticmethod
    def cluster(index: int) -> str:
        return f"{PMCA}{index}"

    @staticmethod
    def macros(op: str) -> str:
        return f"{CIM}{op}"

    @staticmethod
    def dma(index: int) -> str:
        return f"{DMA}{index}"

    @staticmethod
    def is_cluster(unit: str) -> bool:
        return unit.startswith(PMCA)

    @staticmethod
    def parse(unit: str) -> tuple[str, str]:
        """(kind, name) of a unit id: ("tile", op), ("pmca", "3"), ..."""
        kind, _, name = unit.partition(":")
        return kind, name


def resource_of(component: str) -> Resource:
    """The resource a timeline component (a unit id) belongs to."""
    if component.startswith(TILE):
        return Resource.AIMC
    if component.startswith(CIM):
        return Resource.CIM
    if component.startswith(DMA):
        return Resource.DMA
    if component.startswith(LINK):
        return Resource.NOC
    return Resource.PMCA


__all__ = ["CAUSES", "CIM", "DMA", "LINK", "PMCA", "TILE", "Cause", "Resource", "Unit",
           "resource_of"]
