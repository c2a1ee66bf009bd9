"""The cyclic garbage collector paused for a run (`paused_gc`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector for a run, then restore it as it was.

    A run allocates many short-lived objects (events, generators), so the collector would
    walk the interpreter's long-lived objects (numba's, pandas') again and again: about 40%
    of a decode step's wall time (measured, `benchmarks/bench_models.py`). Reference counting
    still frees what it can; cycles wait for the first collection after the run.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


__all__ = ["paused_gc"]
