"""The sweep file: its schema, axes, sampling and constraints (`load_sweep`)."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aimcsim.errors import SpecError
from aimcsim.spec._reader import Reader, get_path, join, read_yaml, shown
from aimcsim.spec.arch import MODES, SECTION_KEYS, Arch, parse_arch, read_arch_doc

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
    max_points: int = 100_000  # points (x workloads) a sweep may have unless raised

    @property
    def grid_size(self) -> int:
        """Points of the axes' grid per workload, counted without building it."""
        return math.prod(len(values) for _, values in self.axes)

    @property
    def size(self) -> int:
        """Points the sweep will build: the grid or its sample, for every workload."""
        per = self.grid_size if self.samples is None else min(self.samples, self.grid_size)
        return per * len(self.workloads)


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


_TOP = ("version", "name", "arch", "workloads", "modes", "axes", "sampling", "constraints",
        "max_points")


def _get(doc: dict[str, Any], path: str) -> Any:
    return get_path(doc, path)


def _set(doc: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    cur = doc
    for part in parts[:-1]:
        if not isinstance(cur.get(part), dict):
            cur[part] = {}
        cur = cur[part]
    cur[parts[-1]] = value


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
            arch_doc = read_arch_doc(arch_file)[0]
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
    if isinstance(d.get("workloads"), list) and not d["workloads"]:
        r.error("workloads", "needs at least one workload trace")
    raw_modes = r.sequence(d.get("modes", list(MODES)), "modes")
    if isinstance(d.get("modes"), list) and not raw_modes:
        r.error("modes", f"needs at least one of {', '.join(MODES)}")
    modes = tuple(r.take({i: m}, "modes", i, str, choices=MODES)
                  for i, m in enumerate(raw_modes))
    axes = _axes(r, d.get("axes", {}))
    samples, seed = _sampling(r, d.get("sampling", "grid"))
    constraints = _constraints(r, d.get("constraints", []))
    max_points = r.take(d, "", "max_points", int, default=100_000, minimum=1, maximum=10**9)
    r.finish()
    spec = SweepSpec(name, str(path), arch_file, arch_doc, tuple(workloads), modes, axes,
                     samples, seed, constraints, max_points)
    if spec.size > spec.max_points:
        r.error("axes", f"{spec.size} points ({spec.grid_size} per workload"
                f"{'' if samples is None else f', {samples} sampled'} x {len(workloads)} "
                f"workload(s)) is above max_points = {max_points}: sample the grid "
                "(sampling: {random: ...}) or raise max_points")
        r.finish()
    return spec


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
                    f"{', '.join(_OPS)}, got {shown(text)}")
            continue
        if not _known_path(m.group(1)):
            r.error(join("constraints", i), f"{m.group(1)!r} is not a field of the "
                    "architecture (a dot-path such as pmca.tcdm_bytes)")
            continue
        value: float | str = m.group(3)
        try:
            value = float(value)
        except ValueError:
            pass
        out.append(Constraint(m.group(1), m.group(2), value))
    return tuple(out)
