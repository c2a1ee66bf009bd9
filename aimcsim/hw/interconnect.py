"""Interconnect: links with a width (bytes per cycle) and a head latency.

A transfer occupies its link for ceil(bytes / width) cycles (serialisation); the head latency
follows without holding the link, so back-to-back transfers pipeline. An uncontended transfer
therefore takes `latency + ceil(bytes / width)` cycles.
"""

from __future__ import annotations

from math import ceil

import simpy

from aimcsim.engine import FifoServer
from aimcsim.spec.arch import Interconnect


def serialization_cycles(nbytes: int, noc: Interconnect) -> int:
    return ceil(nbytes / noc.bytes_per_cycle)


def transfer_cycles(nbytes: int, noc: Interconnect) -> int:
    """Closed form of one uncontended transfer, in link cycles."""
    return noc.latency_cycles + serialization_cycles(nbytes, noc)


class Network:
    """The links of one simulation, created on first use.

    `point-to-point`: one link per (source, destination) unit pair; `shared-bus`: one link.
    """

    def __init__(self, env: simpy.Environment, noc: Interconnect) -> None:
        self.env = env
        self.noc = noc
        self._links: dict[tuple[str, str], FifoServer] = {}

    def link(self, src: str, dst: str) -> FifoServer:
        key = ("bus", "bus") if self.noc.topology == "shared-bus" else (src, dst)
        res = self._links.get(key)
        if res is None:
            res = self._links[key] = FifoServer()
        return res

    @property
    def link_count(self) -> int:
        return len(self._links)
