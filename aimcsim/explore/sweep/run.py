"""Running points: one point in every mode, and a sweep over a process pool or Dask, each
point persisted as it finishes."""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aimcsim.errors import AimcsimError
from aimcsim.explore.sweep.definition import Invalid, Point, SweepSpec
from aimcsim.explore.sweep.points import _workload, build_points
from aimcsim.explore.sweep.store import (
    MANIFEST,
    PARTS,
    POINTS_TABLE,
    _persist,
    changes,
    checked_parts,
    consolidate,
    finished_ids,
    manifest,
    read_manifest,
)
from aimcsim.params.registry import SWEEP_KINDS
from aimcsim.results import overhead, overhead_stats_of
from aimcsim.simulator import simulate
from aimcsim.workers import end_with_parent


def run_point(point: Point) -> tuple[dict[str, Any], pd.DataFrame]:
    """Simulate one point in every mode; returns its points row and its layers rows."""
    row, columns = _run(point)
    if columns is None:
        return row, pd.DataFrame()
    layers = pd.DataFrame(columns)
    layers.insert(0, "point", point.id)
    return row, layers


def _run(point: Point) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """`run_point` with the layers rows as columns (the modes' stacked, without the point's
    id; None when the point failed): what a sweep stores, without building a frame."""
    row: dict[str, Any] = {"point": point.id, "index": point.index,
                           "workload": Path(point.workload_file).name, **dict(point.params)}
    if point.kind:  # another kind of point (`SWEEP_KINDS`): a row, no layers
        return {**row, **SWEEP_KINDS.get(point.kind).run(point)}, None
    try:
        workload = _workload(point.workload_file, point.seq_len)
        results = {m: simulate(point.arch, workload, m, timeline=False) for m in point.modes}
    except AimcsimError as exc:
        row.update(status="failed", error=str(exc).replace("\n", "; "))
        return row, None
    row.update(status="ok", error="")
    for mode, result in results.items():
        key = mode.replace("-", "_")
        row[f"latency_ns_{key}"] = result.summary["total_latency_ns"]
        row[f"tcdm_peak_bytes_{key}"] = result.summary["tcdm_peak_bytes"]
        energy = result.summary["energy"]  # empty without a technology file: NaN
        row[f"energy_pj_{key}"] = energy.get("total_pj", math.nan)
        row[f"edp_pj_s_{key}"] = energy.get("edp_pj_s", math.nan)
    if len(results) == 2:
        row["overhead"] = overhead(row["latency_ns_hybrid"], row["latency_ns_aimc_only"])
        row["energy_overhead"] = overhead(row["energy_pj_hybrid"], row["energy_pj_aimc_only"])
        row.update(overhead_stats_of(results["aimc-only"].columns, results["hybrid"].columns))
    return row, _stacked([r.columns for r in results.values()])


def _stacked(tables: list[dict[str, Any]]) -> dict[str, Any]:
    """Layers tables by column, one after the other: arrays concatenated, strings listed."""
    return {name: np.concatenate([t[name] for t in tables]) if isinstance(first, np.ndarray)
            else [v for t in tables for v in t[name]] for name, first in tables[0].items()}


@dataclass
class SweepReport:
    total: int
    ran: int
    skipped: int
    failed: int
    invalid: list[Invalid]
    interrupted: bool = False


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    resume: bool = False,
    csv: bool = False,
    limit: int | None = None,
    progress: Callable[[int, int, int, float], None] | None = None,
) -> SweepReport:
    """Run every valid point of `spec` into `out` (see the module docstring).

    workers: processes of the local pool (1: in this process). scheduler: address of a Dask
    distributed scheduler (or a `distributed.Client`) to run on instead. limit: stop after that
    many points (as an interruption would). progress(done, total, failed, eta_s) is called
    after each point.
    """
    out = Path(out)
    points, invalid = build_points(spec)
    if not points:
        excluded = sum(i.reason.startswith("excluded by constraint") for i in invalid)
        raise AimcsimError(
            f"{spec.file}: none of its {len(invalid)} point(s) is valid ({excluded} excluded by "
            f"constraints, {len(invalid) - excluded} invalid); the first: {invalid[0].reason}"
            if invalid else f"{spec.file}: the sweep has no point")
    record = manifest(spec, points, invalid)
    manifest_file = out / MANIFEST
    if os.path.lexists(manifest_file):
        if not resume:
            raise AimcsimError(f"{out} already holds a sweep; use --resume to continue it or "
                               "choose another --out")
        changed = changes(read_manifest(manifest_file), record)
        if changed:
            raise AimcsimError(f"{out} holds a sweep of other inputs than {spec.file} gives "
                               f"now: {'; '.join(changed)}. Resuming would mix its points with "
                               "new ones: choose another --out")
    elif out.exists() and finished_ids(out):
        raise AimcsimError(f"{out} holds sweep parts but no {MANIFEST}: they are no sweep "
                           "this version wrote and cannot be trusted; choose another --out")
    (out / PARTS).mkdir(parents=True, exist_ok=True)
    manifest_file.write_text(json.dumps(record, indent=1, default=str) + "\n")
    # every part on disk read back and checked before it counts (a bad one runs again)
    done_ids = ({p.id for p, _, _ in checked_parts(out, points, then="it runs again now")}
                if resume else set())
    todo_all = [p for p in points if p.id not in done_ids]
    todo = todo_all if limit is None else todo_all[:limit]
    report = SweepReport(len(points), 0, len(points) - len(todo_all), 0, invalid)
    started = time.perf_counter()

    def finished(row: dict[str, Any], columns: dict[str, Any] | None,
                 persisted: bool = False) -> None:
        if not persisted:
            _persist(out, row, columns)
        report.ran += 1
        report.failed += row["status"] != "ok"
        if progress is not None:
            elapsed = time.perf_counter() - started
            eta = elapsed / report.ran * (len(todo) - report.ran)
            progress(report.skipped + report.ran, len(points), report.failed, eta)

    try:
        if scheduler is not None:
            _run_dask(todo, scheduler, finished)
        elif workers <= 1:
            for point in todo:
                finished(*_run(point))
        else:
            _run_pool(todo, workers, out, finished)
    except KeyboardInterrupt:
        report.interrupted = True
    consolidate(out, points, csv=csv)
    # count what is on disk: pool workers may have saved points the parent never heard of
    now = (finished_ids(out) & {p.id for p in points}) - done_ids
    report.ran = len(now)
    table_file = out / POINTS_TABLE
    if now and table_file.exists():
        table = pd.read_parquet(table_file, columns=["point", "status"])
        report.failed = int((table[table.point.isin(now)].status != "ok").sum())
    return report


def _run_and_persist(points: list[Point], out: Path) -> list[dict[str, Any]]:
    """Run a batch of points, writing each one's parts as it finishes, in the worker: the
    parent only hears the points rows."""
    rows = []
    for point in points:
        row, columns = _run(point)
        _persist(out, row, columns)
        rows.append(row)
    return rows


def _batches(todo: list[Point], workers: int) -> list[list[Point]]:
    """The points in batches, about eight per worker (at most 32 points each): a task per
    point cost the parent about a millisecond of a core two workers share, a few large
    batches would leave a worker idle at the end."""
    size = max(1, min(32, len(todo) // (8 * workers)))
    return [todo[i:i + size] for i in range(0, len(todo), size)]


def _run_pool(
    todo: list[Point], workers: int, out: Path, finished: Callable[..., None]
) -> None:
    with ProcessPoolExecutor(max_workers=workers, initializer=end_with_parent,
                             initargs=(os.getpid(),)) as pool:
        pending = {pool.submit(_run_and_persist, batch, out)
                   for batch in _batches(todo, workers)}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    for row in fut.result():
                        finished(row, None, persisted=True)
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise


def _run_dask(todo: list[Point], scheduler: Any, finished: Callable[..., None]) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise AimcsimError("--scheduler needs Dask: pip install 'aimcsim[dask]'") from None
    client = scheduler if isinstance(scheduler, Client) else Client(scheduler)
    try:
        futures = client.map(_run, todo, pure=False)
        for fut in as_completed(futures):
            finished(*fut.result())
    finally:
        if client is not scheduler:
            client.close()


def plain_progress(stream: Any = None) -> Callable[[int, int, int, float], None]:
    stream = stream or sys.stderr

    def report(done: int, total: int, failed: int, eta_s: float) -> None:
        print(f"[{done}/{total}] points done, {failed} failed, ETA {_duration(eta_s)}",
              file=stream, flush=True)

    return report


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
