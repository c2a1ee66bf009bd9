"""Timelines as Chrome trace-event JSON, for Perfetto (ui.perfetto.dev) and chrome://tracing.

Format: the JSON object form of the Trace Event Format, with complete events (`ph: "X"`, `ts`
and `dur` in microseconds) and metadata events (`ph: "M"`) naming processes and threads. One
process per kind of component (tiles, clusters, DMA, links) and mode; one thread (track) per
component, and more where its activities overlap (a pipelined tile's MVMs of successive
blocks, transfers in flight on a link): each activity goes on the component's first track
free by its start, so the slices of a track never overlap and trace viewers draw each where
it happened.
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
    tids: dict[tuple[int, str, int], int] = {}
    kinds = {c: UnitId.parse(c).kind for c in timeline["component"].unique()}
    order = {c: i for i, c in enumerate(timeline["component"].unique())}
    for mode in modes:
        rows = timeline if mode is None else timeline[timeline["mode"] == mode]
        rows = rows.sort_values(["start_ns", "end_ns"], kind="stable")
        free: dict[str, list[float]] = {}  # per component, when each of its tracks is free
        for comp, act, layer, start, end in zip(rows.component, rows.activity, rows.layer,
                                                rows.start_ns, rows.end_ns, strict=True):
            tracks = free.setdefault(comp, [])
            lane = next((i for i, at in enumerate(tracks) if at <= start), len(tracks))
            if lane == len(tracks):
                tracks.append(end)
            tracks[lane] = end
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
            tid = tids.get((pid, comp, lane))
            if tid is None:
                tid = tids[(pid, comp, lane)] = len(tids) + 1
                events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                               "args": {"name": comp if not lane else f"{comp} ({lane + 1})"}})
                events.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid,
                               "args": {"sort_index": order[comp] * 1000 + lane}})
            events.append({"ph": "X", "name": act, "cat": group, "pid": pid, "tid": tid,
                           "ts": start / 1000, "dur": (end - start) / 1000,
                           "args": {"layer": layer}})
    return {"traceEvents": events, "displayTimeUnit": "ns",
            "otherData": {"generator": "aimcsim", "time_unit_of_ts": "us"}}
