"""Timelines as Chrome trace-event JSON, for Perfetto (ui.perfetto.dev) and chrome://tracing.

Format: the JSON object form of the Trace Event Format, with complete events (`ph: "X"`, `ts`
and `dur` in microseconds) and metadata events (`ph: "M"`) naming processes and threads. One
process per kind of component (tiles, clusters, DMA, links) and mode; one thread (track) per
component.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from aimcsim.hw.lanes import Kind, UnitId

#: a process per kind of unit
_GROUPS = {Kind.TILE: "AIMC tiles", Kind.MACROS: "SRAM-CIM macros", Kind.CLUSTER: "PMCA clusters",
           Kind.DMA: "DMA", Kind.LINK: "links"}


def chrome_trace(timeline: pd.DataFrame) -> dict[str, Any]:
    """Trace-event document of a timeline (columns of `Result.timeline`, optional `mode`)."""
    modes = list(timeline["mode"].unique()) if "mode" in timeline else [None]
    events: list[dict[str, Any]] = []
    pids: dict[tuple[Any, str], int] = {}
    tids: dict[tuple[int, str], int] = {}
    kinds = {c: UnitId.parse(c).kind for c in timeline["component"].unique()}
    for mode in modes:
        rows = timeline if mode is None else timeline[timeline["mode"] == mode]
        for comp, act, layer, start, end in zip(rows.component, rows.activity, rows.layer,
                                                rows.start_ns, rows.end_ns, strict=True):
            kind = kinds[comp]
            group = kind.value
            pid = pids.get((mode, group))
            if pid is None:
                pid = pids[(mode, group)] = len(pids) + 1
                name = _GROUPS[kind] + (f" ({mode})" if mode else "")
                events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                               "args": {"name": name}})
                events.append({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
                               "args": {"sort_index": pid}})
            tid = tids.get((pid, comp))
            if tid is None:
                tid = tids[(pid, comp)] = len(tids) + 1
                events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                               "args": {"name": comp}})
            events.append({"ph": "X", "name": act, "cat": group, "pid": pid, "tid": tid,
                           "ts": start / 1000, "dur": (end - start) / 1000,
                           "args": {"layer": layer}})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"generator": "aimcsim", "time_unit_of_ts": "us"}}
