"""Storage: each finished point's part written atomically, read back checked; the consolidated
tables; the comparison of stored points.

A part is data, never code: an Arrow IPC file (`parts/<point id>.arrow`) holding the point's
layers rows (numbers as they are, strings dictionary-encoded) with its points row as JSON in
the schema's metadata; a failed point's part has no columns. The file is written to a
temporary name and renamed, so its presence marks the point finished. A part read back
(`read_part`) is validated: a regular file within the size limit, a well-formed Arrow file,
a row naming its own point and status, the layers table's columns and types; a part that
fails any check is reported (`BadPart`) and its point computed again.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from aimcsim import __version__
from aimcsim.errors import AimcsimError, SpecError, StoredDataWarning
from aimcsim.explore.sweep.definition import Invalid, Point, SweepSpec
from aimcsim.params.files import TEXT, code_digest, load_json, read_bytes, read_table
from aimcsim.results import LAYER_COLUMNS, LAYER_KINDS, bound_resource, static_overhead
from aimcsim.spec.arch import MODES

#: the files of a sweep folder, each name spelled here only: this module and `run` write them,
#: the results folder (`aimcsim.outputs.run_folder`, a layer above) reads them by these names
MANIFEST = "manifest.json"  # the sweep's inputs and points (`manifest`), what --resume checks
PARTS = "parts"  # the finished points' parts, `<point id>.arrow` each
POINTS_TABLE = "points.parquet"  # one row per point (`consolidate`)
LAYERS_TABLE = "layers.parquet"  # every point's layers rows, its id in column `point`
POINTS_CSV = "points.csv"  # the points table as CSV (on request)
LAYERS_CSV = "layers.csv"  # the layers table as CSV (on request; a run's layers table too)
PART = ".arrow"
_ROW = b"aimcsim.row"  # the schema metadata key of a part's points row
_STATUSES = ("ok", "failed")
#: the types a layers column may have in a part (strings: dictionary-encoded)
_TYPES = (pa.int64(), pa.float64(), pa.dictionary(pa.int32(), pa.string()))


class BadPart(AimcsimError):
    """A part that cannot be read or is not a valid part of its point."""


def _persist(out: Path, row: dict[str, Any], columns: dict[str, Any] | None) -> None:
    """Write a finished point's part: its row and its layers columns (`run._run`; None when it
    failed); read back by `read_part`. A MobileBERT point in both modes (1,440 rows, 0.47 MB)
    is encoded and written in about 0.75 ms and read back in about 0.25 ms (medians of 200,
    interleaved with a pickle of the same columns: 0.55 and 0.14 ms)."""
    path = out / PARTS / f"{row['point']}{PART}"
    tmp = path.with_name(path.name + ".tmp")
    table = part_table(row, columns)
    with pa.OSFile(str(tmp), "wb") as sink, \
            ipc.new_file(sink, table.schema, options=_COMPRESSED) as writer:
        writer.write_table(table)
    os.replace(tmp, path)


#: parts are LZ4-compressed Arrow IPC: a MobileBERT point's part is 57 KB instead of 469 KB
#: (10,000 points held 4.7 GB), written in the same millisecond; a reader decompresses it
#: transparently (and still reads uncompressed parts)
_COMPRESSED = ipc.IpcWriteOptions(compression="lz4")
#: parts are read on one thread into the system allocator's memory: consolidation holds a
#: group's tables at once, and fresh mimalloc pages made a part's read 1.2 ms against 0.4
_READ = ipc.IpcReadOptions(use_threads=False)


def part_table(row: dict[str, Any], columns: dict[str, Any] | None) -> pa.Table:
    """A point's part as an Arrow table: its layers columns (numpy arrays as they are, string
    columns dictionary-encoded) and its row as JSON in the schema's metadata."""
    arrays = {} if columns is None else {
        name: pa.array(values) if isinstance(values, np.ndarray) else _dictionary(tuple(values))
        for name, values in columns.items()}
    return pa.table(arrays).replace_schema_metadata(
        {_ROW: json.dumps(row, default=_plain)})


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number JSON writes."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"a points row holds a {type(value).__name__}, which JSON cannot write")


@lru_cache(maxsize=256)
def _dictionary(values: tuple[str, ...]) -> pa.DictionaryArray:
    """Strings as a dictionary array, memoised: a worker's points mostly repeat their columns
    of names, roles, kinds and modes (Arrow arrays are immutable)."""
    distinct: dict[str, int] = {}
    codes = np.fromiter((distinct.setdefault(v, len(distinct)) for v in values),
                        dtype=np.int32, count=len(values))
    return pa.DictionaryArray.from_arrays(codes, pa.array(list(distinct), pa.string()))


def finished_ids(out: Path) -> set[str]:
    """The points whose parts are on disk (not yet read: `read_part` checks them)."""
    return {p.name.removesuffix(PART) for p in (out / PARTS).glob(f"*{PART}")}


def read_part(path: Path, point: Point, known: pa.Schema | None = None,
              ) -> tuple[dict[str, Any], pa.Table | None]:
    """A finished point's (row, layers table or None when it failed), checked; `BadPart` when
    the file is not a valid part of `point`. `known`: the schema of a part already checked (a
    table of that schema has the columns and types checked here)."""
    try:
        # read into memory, not mapped: a file truncated while mapped would end the process
        table = ipc.open_file(pa.py_buffer(read_bytes(path, "arrow")), options=_READ,
                              memory_pool=pa.system_memory_pool()).read_all()
        table.validate(full=True)
    except (SpecError, OSError, pa.ArrowException) as exc:
        raise BadPart(f"not a readable Arrow file ({_short(exc)})") from None
    try:
        row = json.loads((table.schema.metadata or {})[_ROW])
    except (KeyError, ValueError, RecursionError):
        raise BadPart("its points row is missing or not JSON") from None
    if not isinstance(row, dict) or row.get("point") != point.id:
        raise BadPart(f"its row does not name point {point.id}")
    if row.get("index") != point.index or row.get("status") not in _STATUSES:
        raise BadPart(f"its row has index {_short(repr(row.get('index')))} and status "
                      f"{_short(repr(row.get('status')))} (expected {point.index}; one of "
                      f"{', '.join(_STATUSES)})")
    params = {k: row.get(k) for k, _ in point.params}
    if json.dumps(params, default=str) != json.dumps(dict(point.params), default=str):
        raise BadPart("its row holds other axis values than the point's")
    if row["status"] == "failed" or point.kind:
        if table.num_columns:
            raise BadPart("a failed point's part holds layers rows" if not point.kind else
                          f"a {point.kind} point's part holds layers rows")
        return row, None
    if known is not None and table.num_rows and table.schema.equals(known,
                                                                   check_metadata=False):
        return row, table.replace_schema_metadata(None)
    if table.column_names != list(LAYER_COLUMNS) or not table.num_rows:
        missing = [c for c in LAYER_COLUMNS if c not in table.column_names]
        extra = [c for c in table.column_names if c not in LAYER_COLUMNS]
        raise BadPart("an ok point's part holds no layers rows" if not table.num_rows else
                      "its layers table has other columns than a layers table (missing: "
                      f"{_short(', '.join(missing) or 'none')}; unknown: "
                      f"{_short(', '.join(extra) or 'none')})")
    wrong = [f.name for f in table.schema if f.type not in _TYPES]
    if wrong:
        raise BadPart(f"columns {', '.join(wrong[:4])} have types a layers table has not")
    return row, table.replace_schema_metadata(None)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 120 else text[:120] + "..."


def checked_parts(out: Path, points: list[Point], *, then: str = "--resume runs it again"
                  ) -> Iterator[tuple[Point, dict[str, Any], pa.Table | None]]:
    """The finished points' parts, in point order, each checked (`read_part`) and, when it has
    layers rows, of the same column types as the first; a part that fails is removed with a
    warning (its point is unfinished again: `then` says what follows)."""
    parts = out / PARTS
    schema: pa.Schema | None = None
    for point in points:
        path = parts / f"{point.id}{PART}"
        if not os.path.lexists(path):
            continue
        try:
            row, table = read_part(path, point, schema)
            if table is not None and schema is not None and not table.schema.equals(schema):
                raise BadPart("its columns' types differ from the other points'")
        except BadPart as exc:
            warnings.warn(StoredDataWarning(f"{path}: {exc}: the point is not finished; "
                                            f"{then}"), stacklevel=2)
            path.unlink()
            continue
        if table is not None and schema is None:
            schema = table.schema
        yield point, row, table


#: points per row group of layers.parquet: the parent holds one group's parts at a time (about
#: 40 MB for MobileBERT in both modes), whatever the number of points
GROUP_POINTS = 64


def consolidate(out: Path, points: list[Point], *, csv: bool = False) -> None:
    """Rewrite points.parquet and layers.parquet (and CSV) from the parts, in point order;
    layers.parquet is written a row group of `GROUP_POINTS` points at a time, each by a
    second thread while this one reads the next group's parts (Arrow encodes and compresses
    without the GIL: 1,000 MobileBERT points in both modes took 1.0-1.15 s instead of
    1.6-1.9 s on one thread, the same file)."""
    path = out / LAYERS_TABLE
    tmp = path.with_name(path.name + ".tmp")
    rows: list[dict[str, Any]] = []
    group: list[tuple[str, pa.Table]] = []
    groups = _Groups(tmp)
    try:
        for point, row, table in checked_parts(out, points):
            rows.append(row)
            if table is not None:
                group.append((point.id, table))
            if len(group) == GROUP_POINTS:
                groups.write(group)
                group = []
        if group:
            groups.write(group)
    finally:
        written = groups.close()
    if not written:  # no layers rows
        pd.DataFrame().to_parquet(tmp, index=False)
    os.replace(tmp, path)
    table = _points_frame(rows)
    table.to_parquet(out / POINTS_TABLE, index=False)
    if csv:
        table.to_csv(out / POINTS_CSV, index=False)
        pd.read_parquet(path).to_csv(out / LAYERS_CSV, index=False)


def _points_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The points rows as a frame; an axis whose values mix lists with other values (such as
    `lora.layers: [[query, value], all]`) is written as JSON text, which Parquet can hold."""
    table = pd.DataFrame(rows)
    for name in table.columns[table.dtypes == "object"]:
        values = table[name]
        lists = values.map(lambda v: isinstance(v, list))
        if lists.any() and not lists.all():
            table[name] = values.map(json.dumps)
    return table


class _Groups:
    """layers.parquet written a row group at a time, each group by a second thread while
    the caller reads the next (one group at a time in flight, so the file's groups are in
    order and at most two groups are held). Strings stay dictionary-encoded: stored without
    the Arrow schema, they read back as strings; numbers are dictionary-encoded too (the
    points of a sweep repeat many values: a group of 64 MobileBERT points is 1.1 MB, 1.4 MB
    with strings alone dictionary-encoded)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.pending: Future | None = None

    def write(self, group: list[tuple[str, pa.Table]]) -> None:
        table = _layer_table(group)
        self._wait()
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema, store_schema=False,
                                           compression="zstd")
        self.pending = self.pool.submit(self.writer.write_table, table)

    def _wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()  # (a failed write raises here)

    def close(self) -> bool:
        """Finish the last write and close the file; whether any group was written."""
        try:
            self._wait()
        finally:
            self.pool.shutdown()
            if self.writer is not None:
                self.writer.close()
        return self.writer is not None


def _layer_table(parts: list[tuple[str, pa.Table]]) -> pa.Table:
    """The layers rows of parts of one schema, in order, with the point's id first: the
    parts' tables concatenated and each string column's dictionaries unified into one (the
    distinct values of all parts in order of first appearance; no string per row is made).
    Arrow does it by column in C++: a group of 64 MobileBERT points in 10 ms, against 22 ms
    mapping each part's codes in numpy."""
    tables = [t.add_column(0, "point", pa.DictionaryArray.from_arrays(
        np.zeros(t.num_rows, dtype=np.int32), pa.array([point], pa.string())))
        for point, t in parts]
    return pa.concat_tables(tables).unify_dictionaries().combine_chunks()


def compare(out: str | Path) -> pd.DataFrame:
    """Per point and static layer: AIMC-only vs hybrid latency, overhead, bounding resource."""
    out = Path(out)
    table = out / LAYERS_TABLE
    if not os.path.lexists(table):
        what = ("is not a folder" if not out.is_dir()
                else f"holds no sweep results ({LAYERS_TABLE})")
        raise AimcsimError(f"{out} {what}: give the --out folder of an `aimcsim sweep`")
    layers = read_table(table, {"point": TEXT, **LAYER_KINDS})
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


#: the layout of manifest.json this version writes and resumes
MANIFEST_FORMAT = 2


def manifest(spec: SweepSpec, points: list[Point], invalid: list[Invalid]) -> dict[str, Any]:
    """What a sweep folder records of its sweep: the inputs every point depends on (with
    their content digests and the code's), its points and the invalid ones."""
    return {"format": MANIFEST_FORMAT, "aimcsim": __version__, "code": code_digest(),
            "sweep": spec.file, "name": spec.name,
            "inputs": {"arch": {"file": spec.arch_file, "digest": spec.arch_digest},
                       "workloads": [{"file": f, "digest": d} for f, d in
                                     zip(spec.workloads, spec.workload_digests, strict=True)],
                       "modes": list(spec.modes),
                       **({spec.kind: dict(spec.options)} if spec.kind else {})},
            "points": [{"point": p.id, "index": p.index, "workload": p.workload_file,
                        "params": dict(p.params)} for p in points],
            "invalid": [{"index": i.index, "params": dict(i.params), "reason": i.reason}
                        for i in invalid]}


def read_manifest(path: Path) -> dict[str, Any]:
    """A sweep folder's manifest.json, checked to be one this version writes."""
    doc = load_json(path)
    if not isinstance(doc, dict):
        raise AimcsimError(f"{path}: not a sweep manifest (a JSON object), but a "
                           f"{type(doc).__name__}")
    if doc.get("format") != MANIFEST_FORMAT:
        raise AimcsimError(f"{path}: written by another version of aimcsim (manifest format "
                           f"{_short(doc.get('format'))}, this version resumes format "
                           f"{MANIFEST_FORMAT}): its points cannot be resumed; choose another "
                           "--out")
    inputs, points = doc.get("inputs"), doc.get("points")
    def texts(mapping: Any, *keys: str) -> bool:
        return isinstance(mapping, dict) and all(isinstance(mapping.get(k), str) for k in keys)

    ok = (isinstance(doc.get("code"), str) and isinstance(inputs, dict)
          and texts(inputs.get("arch"), "file", "digest")
          and isinstance(inputs.get("workloads"), list)
          and all(texts(w, "file", "digest") for w in inputs["workloads"])
          and isinstance(inputs.get("modes"), list)
          and all(isinstance(m, str) for m in inputs["modes"])
          and isinstance(points, list) and all(texts(p, "point") for p in points))
    if not ok:
        raise AimcsimError(f"{path}: not a sweep manifest: it needs code, inputs (arch, "
                           "workloads, modes) and points (each with its point id)")
    return doc


def changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """What differs between the inputs of two manifests (empty: the same sweep)."""
    out = []
    if old["code"] != new["code"]:
        out.append(f"aimcsim's code changed (digest {_short(old['code'])} -> {new['code']})")
    before, now = old["inputs"], new["inputs"]
    if before["arch"]["digest"] != now["arch"]["digest"]:
        out.append(f"the base architecture {now['arch']['file']} changed")
    was = {w["file"]: w["digest"] for w in before["workloads"]}
    for w in now["workloads"]:
        if w["file"] not in was:
            out.append(f"workload {w['file']} is new")
        elif was[w["file"]] != w["digest"]:
            out.append(f"workload {w['file']} changed")
    gone = set(was) - {w["file"] for w in now["workloads"]}
    out += [f"workload {_short(f)} is no longer swept" for f in sorted(gone)]
    for kind in sorted((set(before) | set(now)) - {"arch", "workloads", "modes"}):
        if before.get(kind) != now.get(kind):
            out.append(f"the {kind} section changed")
    if before["modes"] != now["modes"]:
        out.append(f"the modes changed ({', '.join(before['modes'])} -> "
                   f"{', '.join(now['modes'])})")
    if not out:
        ids = [p["point"] for p in old["points"]]
        new_ids = [p["point"] for p in new["points"]]
        if ids != new_ids:
            common = len(set(ids) & set(new_ids))
            out.append(f"the axes, sampling or constraints changed ({len(ids)} points before, "
                       f"{len(new_ids)} now, {common} in common)")
    return out
