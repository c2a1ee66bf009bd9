"""What a run tells an observer: probes, injected into the machine and the block processes
with a no-op default (a run without a timeline observes nothing and pays one attribute test
per event).

- `busy(component, start_ps, end_ps, activity, op)`: a server was busy (the timeline);
- `chain()`: a fresh critical chain for a block to extend as it runs (`Segments`: its
  (start_ps, end_ps, cause) pieces end to end), or None when nothing records them;
- `block(op, admitted_ps, done_ps, chain)`: a block finished, with its chain (the critical
  path, `aimcsim.simulator`).
"""

from __future__ import annotations

from collections import defaultdict

#: A block's critical chain: (start_ps, end_ps, cause) pieces, end to end.
Segments = list[tuple[int, int, str]]


class Probe:
    """Observes nothing (the default)."""

    #: whether the run reports to it at all (False: the events are not even built)
    watching = False

    def busy(self, component: str, start_ps: int, end_ps: int, activity: str, op: str) -> None:
        return None

    def chain(self) -> Segments | None:
        return None

    def block(self, op: str, admitted_ps: int, done_ps: int, chain: Segments | None) -> None:
        return None


class Recording(Probe):
    """The timeline and every block's critical chain."""

    watching = True

    def __init__(self) -> None:
        #: (component, start_ps, end_ps, activity, op)
        self.timeline: list[tuple[str, int, int, str, str]] = []
        #: per op, each block's (admitted, done, critical chain)
        self.chains: dict[str, list[tuple[int, int, Segments]]] = defaultdict(list)

    def busy(self, component: str, start_ps: int, end_ps: int, activity: str, op: str) -> None:
        self.timeline.append((component, start_ps, end_ps, activity, op))

    def chain(self) -> Segments | None:
        return []

    def block(self, op: str, admitted_ps: int, done_ps: int, chain: Segments | None) -> None:
        self.chains[op].append((admitted_ps, done_ps, chain or []))


def end_of(path: Segments | None, default: int) -> int:
    """When a chain ends (`default` when it is empty or not recorded)."""
    return path[-1][1] if path else default


__all__ = ["Probe", "Recording", "Segments", "end_of"]
