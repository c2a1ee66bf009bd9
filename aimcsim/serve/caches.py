"""What L2 holds while a stream is served: the adapters it caches (`AdapterCache`, by policy)
and, beside them, the admitted requests' KV caches (`L2`). The policies are described in
`aimcsim.serve.engine`."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

POLICIES = ("lru", "lfu", "pinned")


@dataclass
class AdapterCache:
    """The adapters L2 holds (see the module docstring)."""

    capacity: int  # adapters; 0: unbounded
    policy: str
    held: OrderedDict[int, None] = field(default_factory=OrderedDict)  # least recent first
    uses: dict[int, int] = field(default_factory=dict)
    peak: int = 0

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"--cache {self.policy!r} is not one of {', '.join(POLICIES)}")
        if self.policy == "pinned":
            if self.capacity < 2:
                raise ValueError("--cache pinned needs a bounded L2 (memory.l2_bytes > 0) with "
                                 "room for two adapters (one pinned, one streaming through): "
                                 f"it holds {self.capacity}")
            # (all but one adapter's room: the misses stream through it)
            self.held.update(dict.fromkeys(range(self.capacity - 1)))
            self.peak = len(self.held)

    def load(self, used: set[int], room: int | None = None) -> list[int]:
        """The adapters of an iteration using `used`: those to load from off chip (after
        which L2 holds them, but for pinned misses). `room`: the adapters L2 may hold now
        (what its KV caches leave; default `capacity`)."""
        missing = sorted(a for a in used if a not in self.held)
        for a in sorted(used):
            self.uses[a] = self.uses.get(a, 0) + 1
            if a in self.held and self.policy != "pinned":
                self.held.move_to_end(a)
        if self.policy == "pinned":
            return missing
        room = self.capacity if room is None else room
        for a in missing:
            while room and len(self.held) >= room:
                self.held.pop(self._victim(used))
            self.held[a] = None
        while room and len(self.held) > room:  # (KV caches grew into the adapters' room)
            self.held.pop(self._victim(used))
        self.peak = max(self.peak, len(self.held))
        return missing

    def needs(self, used: set[int]) -> int:
        """Adapters L2 must hold during an iteration using `used`: pinned misses stream
        through it beside the pinned ones; otherwise `used` (the rest may be evicted)."""
        if self.policy == "pinned":
            return len(self.held) + sum(a not in self.held for a in used)
        return len(used)

    def holding(self, used: set[int]) -> int:
        """Adapters L2 holds during an iteration using `used`, once it is loaded."""
        return self.needs(used) if self.policy == "pinned" else len(self.held)

    def _victim(self, used: set[int]) -> int:
        order = [a for a in self.held if a not in used]  # least recently used first
        if self.policy == "lru":
            return order[0]
        return min(order, key=lambda a: (self.uses.get(a, 0), order.index(a)))


@dataclass
class L2:
    """Each cluster's L2, shared by the KV caches of the admitted requests (reserved at
    admission for their last step's context) and the adapters' slices."""

    limit_bytes: int  # each cluster's
    slice_bytes: np.ndarray  # one adapter's A and B on each cluster
    kv_bytes: np.ndarray  # the KV caches reserved, on each cluster

    def fits(self, kv: np.ndarray, adapters: int) -> bool:
        """Whether `kv` more and `adapters` adapters fit beside the reserved KV caches."""
        return bool(np.all(self.kv_bytes + kv + adapters * self.slice_bytes
                           <= self.limit_bytes))

    def room(self) -> int:
        """Adapters the reserved KV caches leave room for."""
        some = self.slice_bytes > 0
        return int(np.min((self.limit_bytes - self.kv_bytes[some]) // self.slice_bytes[some]))

    def used_bytes(self, adapters: int) -> int:
        """The fullest cluster's bytes with `adapters` adapters in L2."""
        return int(np.max(self.kv_bytes + adapters * self.slice_bytes))


__all__ = ["L2", "POLICIES", "AdapterCache"]
