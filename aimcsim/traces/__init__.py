"""Trace generators: transformer configurations -> workload documents, registered by name.

`TRACES` maps a generator's name (`aimcsim trace NAME`) to it; `for_model` finds the one that
regenerates a trace from its `model` field (sweeps over `workload.seq_len`). A new model
family is one module and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aimcsim.traces.mobilebert import MOBILEBERT_UNCASED, mobilebert_trace


@dataclass(frozen=True)
class TraceGenerator:
    """name: the CLI's name. model: the `model` field of the traces it writes.
    generate(seq_len, config=None): the workload document (config: the model's config.json
    fields; None: the bundled default)."""

    name: str
    model: str
    generate: Callable[..., dict[str, Any]]


TRACES: dict[str, TraceGenerator] = {
    g.name: g for g in (
        TraceGenerator("mobilebert", MOBILEBERT_UNCASED["model"], mobilebert_trace),
    )
}


def for_model(model: str | None) -> TraceGenerator | None:
    """The generator whose traces carry `model`, if any."""
    return next((g for g in TRACES.values() if g.model == model), None)


__all__ = ["MOBILEBERT_UNCASED", "TRACES", "TraceGenerator", "for_model", "mobilebert_trace"]
