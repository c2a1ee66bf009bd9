"""Design-space sweeps from YAML: build and validate every point, run them in parallel, persist
each as it finishes, resume after an interruption.

A sweep file names a base architecture, workloads, modes and axes (YAML dot-paths into the
architecture with value lists or ranges; `workload.seq_len` regenerates a generated trace at
another length). Points are the grid of the axes, or a seeded random sample of it, filtered by
constraints. Each finished point is written at once as `parts/<id>.points.parquet` and
`parts/<id>.layers.parquet` (atomically), so a killed worker or a Ctrl-C loses no finished point;
`--resume` runs only the points without parts. The consolidated tables (`points.parquet`,
`layers.parquet`, CSV on request) are rewritten from the parts, in point order, at the end.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import operator
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aimcsim.errors import AimcsimError, SpecError, SpecIssue
from aimcsim.hw.pmca import ThroughputPmca
from aimcsim.mapping import check_tcdm, place
from aimcsim.results import bound_resource, overhead, overhead_stats, static_overhead
from aimcsim.simulator import simulate
from aimcsim.spec._reader import Reader, join, read_yaml
from aimcsim.spec.arch import MODES, SECTION_KEYS, Arch, parse_arch
from aimcsim.spec.workload import Workload, load_workload, parse_workload
from aimcsim.traces import TRACES, for_model

SUPPORTED_VERSIONS = (1,)
SEQ_LEN_AXIS = "workload.seq_len"
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne,
    ">": operator.gt, "<": operator.lt,
}
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(>=|<=|==|!=|>|<)\s*(\S+)\s*$")


@dataclass(frozen=True)
class Constraint:
    path: str
    op: str
    value: float | str

    def holds(self, doc: dict[str, Any]) -> bool:
        found = _get(doc, self.path)
        return found is not None and _OPS[self.op](found, self.value)

    def __str__(self) -> str:
        return f"{self.path} {self.op} {self.value}"


@dataclass(frozen=True)
class SweepSpec:
    name: str
    file: str
    arch_file: str
    arch_doc: dict[str, Any] = field(hash=False, compare=False)
    workloads: tuple[str, ...] = ()
    modes: tuple[str, ...] = MODES
    axes: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    samples: int | None = None  # None: the whole grid
    seed: int = 0
    constraints: tuple[Constraint, ...] = ()


@dataclass(frozen=True)
class Point:
    """One design point, validated, ready to run anywhere (picklable)."""

    id: str
    index: int
    workload_file: str
    params: tuple[tuple[str, Any], ...]
    arch: Arch
    modes: tuple[str, ...]
    seq_len: int | None


@dataclass(frozen=True)
class Invalid:
    index: int
    workload_file: str
    params: tuple[tuple[str, Any], ...]
    reason: str


# ---- the sweep file -----------------------------------------------------------------------
_TOP = ("version", "name", "arch", "workloads", "modes", "axes", "sampling", "constraints")


def load_sweep(path: str | Path) -> SweepSpec:
    """Load and validate a sweep file; every error names the file and its YAML path."""
    path = Path(path)
    r = Reader(path)
    d = r.mapping(read_yaml(path), "", _TOP, required=("version", "arch", "workloads", "axes"))
    if "version" in d:
        r.version(d, SUPPORTED_VERSIONS)
    name = r.take(d, "", "name", str, default=path.stem)
    arch_rel = r.take(d, "", "arch", str)
    arch_file = str((path.parent / arch_rel).resolve()) if arch_rel else ""
    arch_doc: dict[str, Any] = {}
    if arch_file:
        try:
            arch_doc = read_yaml(arch_file)
            parse_arch(arch_doc, arch_file)
        except SpecError as exc:
            r.error("arch", f"the base architecture is not valid: {exc}")
    workloads = []
    for i, item in enumerate(r.sequence(d.get("workloads", []), "workloads")):
        if not isinstance(item, str):
            r.error(join("workloads", i), f"expected a path to a workload YAML, got {item!r}")
            continue
        wpath = (path.parent / item).resolve()
        if not wpath.exists():
            r.error(join("workloads", i), f"file not found: {wpath}")
        workloads.append(str(wpath))
    modes = tuple(
        r.take({"m": m}, "modes", "m", str, choices=MODES)
        for m in r.sequence(d.get("modes", list(MODES)), "modes")
    )
    axes = _axes(r, d.get("axes", {}))
    samples, seed = _sampling(r, d.get("sampling", "grid"))
    constraints = _constraints(r, d.get("constraints", []))
    r.finish()
    return SweepSpec(name, str(path), arch_file, arch_doc, tuple(workloads), modes, axes,
                     samples, seed, constraints)


def _axes(r: Reader, raw: Any) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    if not isinstance(raw, dict) or not raw:
        r.error("axes", "expected a mapping of YAML dot-paths to value lists or ranges")
        return ()
    axes = []
    for key, spec in raw.items():
        p = join("axes", str(key))
        if key != SEQ_LEN_AXIS and not _known_path(str(key)):
            r.error(p, f"{key!r} is not a field of the architecture (a dot-path such as "
                    f"pmca.tcdm_bytes, or {SEQ_LEN_AXIS})")
            continue
        values = _values(r, spec, p)
        if values:
            axes.append((str(key), values))
    return tuple(axes)


def _known_path(path: str) -> bool:
    section, _, rest = path.partition(".")
    head = rest.split(".", 1)[0]
    return bool(rest) and head in SECTION_KEYS.get(section, ())


def _values(r: Reader, spec: Any, p: str) -> tuple[Any, ...]:
    if isinstance(spec, list):
        if not spec:
            r.error(p, "an axis needs at least one value")
        return tuple(spec)
    if isinstance(spec, dict) and len(spec) >= 1 and set(spec) <= {"linear", "log", "round"}:
        kind = "linear" if "linear" in spec else "log" if "log" in spec else None
        args = spec.get(kind) if kind else None
        if (not isinstance(args, list) or len(args) != 3
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in args)
                or not float(args[2]).is_integer() or args[2] < 1):
            r.error(join(p, kind or "linear"), "expected [start, stop, count] with count >= 1")
            return ()
        start, stop, num = float(args[0]), float(args[1]), int(args[2])
        if kind == "log" and (start <= 0 or stop <= 0):
            r.error(join(p, "log"), "a log range needs start and stop above 0")
            return ()
        grid = (np.linspace(start, stop, num) if kind == "linear"
                else np.geomspace(start, stop, num))
        if spec.get("round", False):
            return tuple(dict.fromkeys(round(float(v)) for v in grid))
        return tuple(float(v) for v in grid)
    r.error(p, "expected a list of values, or {linear: [start, stop, count]} or "
            "{log: [start, stop, count]} (optionally with round: true)")
    return ()


def _sampling(r: Reader, raw: Any) -> tuple[int | None, int]:
    if raw == "grid":
        return None, 0
    d = r.mapping(raw, "sampling", ("random",), required=("random",))
    rnd = r.mapping(d.get("random", {}), "sampling.random", ("samples", "seed"),
                    required=("samples", "seed"))
    return (r.take(rnd, "sampling.random", "samples", int, minimum=1),
            r.take(rnd, "sampling.random", "seed", int, minimum=0))


def _constraints(r: Reader, raw: Any) -> tuple[Constraint, ...]:
    out = []
    for i, text in enumerate(r.sequence(raw, "constraints")):
        m = _CONSTRAINT.match(text) if isinstance(text, str) else None
        if not m:
            r.error(join("constraints", i), f"expected 'dot.path OP value' with OP one of "
                    f"{', '.join(_OPS)}, got {text!r}")
            continue
        value: float | str = m.group(3)
        try:
            value = float(value)
        except ValueError:
            pass
        out.append(Constraint(m.group(1), m.group(2), value))
    return tuple(out)


# ---- points ---------------------------------------------------------------------------------
def _get(doc: dict[str, Any], path: str) -> Any:
    cur: Any = doc
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    cur = doc
    for part in parts[:-1]:
        if not isinstance(cur.get(part), dict):
            cur[part] = {}
        cur = cur[part]
    cur[parts[-1]] = value


def point_id(workload_file: str, params: Iterable[tuple[str, Any]]) -> str:
    """A stable name of a point: its workload file name and parameters, hashed."""
    key = json.dumps([Path(workload_file).name, sorted(params)], sort_keys=True, default=str)
    return hashlib.sha1(key.encode()).hexdigest()[:12]


def build_points(spec: SweepSpec) -> tuple[list[Point], list[Invalid]]:
    """Every point of the sweep, validated; invalid ones come back with their reason."""
    names = [name for name, _ in spec.axes]
    combos = list(product(*[values for _, values in spec.axes]))
    if spec.samples is not None and spec.samples < len(combos):
        rng = np.random.default_rng(spec.seed)
        chosen = sorted(rng.choice(len(combos), size=spec.samples, replace=False).tolist())
        combos = [combos[i] for i in chosen]
    points, invalid = [], []
    fits: set[tuple] = set()
    index = 0
    for wfile in spec.workloads:
        for combo in combos:
            params = tuple(zip(names, combo, strict=True))
            doc = copy.deepcopy(spec.arch_doc)
            seq_len = None
            for name, value in params:
                if name == SEQ_LEN_AXIS:
                    seq_len = value
                else:
                    _set(doc, name, value)
            failed = [c for c in spec.constraints if not c.holds(doc)]
            reason = ""
            if failed:
                reason = f"excluded by constraint {failed[0]}"
            else:
                reason = _validate(doc, spec, index, wfile, seq_len, fits)
            if isinstance(reason, Arch):
                points.append(Point(point_id(wfile, params), index, wfile, params, reason,
                                    spec.modes, seq_len))
            else:
                invalid.append(Invalid(index, wfile, params, reason))
            index += 1
    return points, invalid


def _validate(
    doc: dict, spec: SweepSpec, index: int, wfile: str, seq_len: int | None, fits: set[tuple]
) -> Arch | str:
    """The point's validated architecture, or why it is invalid.

    `fits` holds the TCDM-budget keys already checked in this build: the budget depends only
    on the tile size, the cluster, the pipeline, LoRA, the workload and the modes.
    """
    label = f"{spec.file} point {index} ({Path(spec.arch_file).name})"
    try:
        arch = parse_arch(doc, label)
        if seq_len is not None and (not isinstance(seq_len, int) or seq_len < 1):
            return f"{SEQ_LEN_AXIS} must be a whole number of tokens >= 1, got {seq_len!r}"
        # what the TCDM budget depends on; points that differ elsewhere share the check
        budget_key = (arch.aimc.rows, arch.aimc.cols, arch.pmca, arch.pipeline, arch.lora,
                      wfile, seq_len, spec.modes)
        if budget_key not in fits:
            workload = _workload(wfile, seq_len)
            model = ThroughputPmca(arch.pmca, arch.lora.dtype)  # footprints need no timing
            for mode in spec.modes:
                check_tcdm(arch, workload, place(arch, workload, mode), model)
            fits.add(budget_key)
    except AimcsimError as exc:
        return str(exc).replace("\n", "; ")
    return arch


@lru_cache(maxsize=32)
def _workload(path: str, seq_len: int | None) -> Workload:
    """A workload, regenerated at `seq_len` tokens when asked (cached per process)."""
    workload = load_workload(path)
    if seq_len is None or seq_len == workload.tokens:
        return workload
    generator = for_model(workload.model)
    if generator is None or not workload.config:
        models = ", ".join(g.model for g in TRACES.values())
        raise SpecError(path, [SpecIssue("model", f"{SEQ_LEN_AXIS} needs a generated trace "
                                         f"(model: one of {models}, with its config)")])
    return parse_workload(generator.generate(seq_len, workload.config), path)


# ---- running ----------------------------------------------------------------------------------
def run_point(point: Point) -> tuple[dict[str, Any], pd.DataFrame]:
    """Simulate one point in every mode; returns its points row and its layers rows."""
    row: dict[str, Any] = {"point": point.id, "index": point.index,
                           "workload": Path(point.workload_file).name, **dict(point.params)}
    try:
        workload = _workload(point.workload_file, point.seq_len)
        results = {m: simulate(point.arch, workload, m, timeline=False) for m in point.modes}
    except AimcsimError as exc:
        row.update(status="failed", error=str(exc).replace("\n", "; "))
        return row, pd.DataFrame()
    layers = pd.concat([r.layers for r in results.values()], ignore_index=True)
    layers.insert(0, "point", point.id)
    row.update(status="ok", error="")
    for mode, result in results.items():
        key = mode.replace("-", "_")
        row[f"latency_ns_{key}"] = result.summary["total_latency_ns"]
        row[f"tcdm_peak_bytes_{key}"] = result.summary["tcdm_peak_bytes"]
    if len(results) == 2:
        row["overhead"] = overhead(row["latency_ns_hybrid"], row["latency_ns_aimc_only"])
        row.update(overhead_stats(layers))
    return row, layers


def _write_atomic(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _persist(out: Path, row: dict[str, Any], layers: pd.DataFrame) -> None:
    parts = out / "parts"
    # layers first: a points part is the mark that the point is finished
    _write_atomic(layers, parts / f"{row['point']}.layers.parquet")
    _write_atomic(pd.DataFrame([row]), parts / f"{row['point']}.points.parquet")


def finished_ids(out: Path) -> set[str]:
    return {p.name.split(".")[0] for p in (out / "parts").glob("*.points.parquet")}


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
    (out / "parts").mkdir(parents=True, exist_ok=True)
    manifest = {"sweep": spec.file, "name": spec.name,
                "points": [{"point": p.id, "index": p.index, "workload": p.workload_file,
                            "params": dict(p.params)} for p in points],
                "invalid": [{"index": i.index, "params": dict(i.params), "reason": i.reason}
                            for i in invalid]}
    manifest_file = out / "manifest.json"
    if manifest_file.exists():
        old = json.loads(manifest_file.read_text())
        if not resume:
            raise AimcsimError(f"{out} already holds a sweep; use --resume to continue it or "
                               "choose another --out")
        if [p["point"] for p in old["points"]] != [p.id for p in points]:
            raise AimcsimError(f"{out} holds a sweep of other points than {spec.file} gives now;"
                               " choose another --out")
    manifest_file.write_text(json.dumps(manifest, indent=1, default=str) + "\n")
    done_ids = finished_ids(out) if resume else set()
    todo_all = [p for p in points if p.id not in done_ids]
    todo = todo_all if limit is None else todo_all[:limit]
    report = SweepReport(len(points), 0, len(points) - len(todo_all), 0, invalid)
    started = time.perf_counter()

    def finished(row: dict[str, Any], layers: pd.DataFrame, persisted: bool = False) -> None:
        if not persisted:
            _persist(out, row, layers)
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
                finished(*run_point(point))
        else:
            _run_pool(todo, workers, out, finished)
    except KeyboardInterrupt:
        report.interrupted = True
    consolidate(out, points, csv=csv)
    return report


def _run_and_persist(point: Point, out: Path) -> tuple[dict[str, Any], pd.DataFrame]:
    """Run a point and write its parts in the worker: the parent only hears the points row."""
    row, layers = run_point(point)
    _persist(out, row, layers)
    return row, pd.DataFrame()


def _run_pool(
    todo: list[Point], workers: int, out: Path, finished: Callable[..., None]
) -> None:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending = {pool.submit(_run_and_persist, p, out) for p in todo}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    finished(*fut.result(), persisted=True)
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
        futures = client.map(run_point, todo, pure=False)
        for fut in as_completed(futures):
            finished(*fut.result())
    finally:
        if client is not scheduler:
            client.close()


def consolidate(out: Path, points: list[Point], *, csv: bool = False) -> None:
    """Rewrite points.parquet and layers.parquet (and CSV) from the parts, in point order."""
    parts = out / "parts"
    done = [p for p in points if (parts / f"{p.id}.points.parquet").exists()]
    rows = [pd.read_parquet(parts / f"{p.id}.points.parquet") for p in done]
    layers = [pd.read_parquet(parts / f"{p.id}.layers.parquet") for p in done]
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    layer_table = pd.concat([f for f in layers if len(f)], ignore_index=True) if any(
        len(f) for f in layers) else pd.DataFrame()
    table.to_parquet(out / "points.parquet", index=False)
    layer_table.to_parquet(out / "layers.parquet", index=False)
    if csv:
        table.to_csv(out / "points.csv", index=False)
        layer_table.to_csv(out / "layers.csv", index=False)


# ---- compare ------------------------------------------------------------------------------------
def compare(out: str | Path) -> pd.DataFrame:
    """Per point and static layer: AIMC-only vs hybrid latency, overhead, bounding resource."""
    out = Path(out)
    layers = pd.read_parquet(out / "layers.parquet")
    if layers.empty or set(layers["mode"].unique()) != set(MODES):
        raise AimcsimError(f"{out}: compare needs points run in both modes (aimc-only, hybrid)")
    frames = []
    for point, group in layers.groupby("point", sort=False):
        over = static_overhead(group)
        hybrid = group[(group["mode"] == "hybrid") & (group["kind"] == "static_linear")]
        over["bound"] = [bound_resource(r) for r in hybrid.itertuples()]
        over.insert(0, "point", point)
        frames.append(over)
    return pd.concat(frames, ignore_index=True)


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
