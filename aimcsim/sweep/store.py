"""Storage: each finished point's parts written atomically, the consolidated tables, and the
comparison of stored points."""

from __future__ import annotations

import os
import pickle
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from aimcsim.errors import AimcsimError
from aimcsim.results import bound_resource, static_overhead
from aimcsim.spec.arch import MODES
from aimcsim.sweep.spec import Point

#: a finished point's part: its points row (a dict) and its layers rows (`Stored`, None when
#: it failed), pickled in one file, written atomically: the file is the mark that the point is
#: finished. Sweeps written before stored pickled frames, and before that parquet, one file per
#: table (`<id>.points.parquet` the mark); a resumed sweep reads all three.
_PART, _OLD_PART = ".pkl", ".parquet"

#: a point's layers rows as its part stores them, in plain containers (no class of ours is
#: pickled): {"order": column names, "numbers": {dtype: (names, array with a row per
#: column)}, "strings": {name: (codes, distinct values)}}. One array per dtype reads back in
#: about a quarter of the time of an array per column (0.2 ms a MobileBERT point against
#: 0.9 ms); strings as codes are merged by `consolidate`
#: without a string per row.
Stored = dict[str, Any]


def _persist(out: Path, row: dict[str, Any], columns: dict[str, Any] | None) -> None:
    """Write a finished point's part: its row and its layers columns (`run._run`; None when it
    failed); read back only by `consolidate`. A MobileBERT point in both modes encodes and
    pickles in about 0.4 ms (1.4 ms as pickled frames, 12 ms as two parquet files) and its
    0.46 MB take 1-2 ms more to write."""
    path = out / "parts" / f"{row['point']}{_PART}"
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump((row, None if columns is None else _stored(columns)), f, protocol=5)
    os.replace(tmp, path)


def _stored(columns: dict[str, Any]) -> Stored:
    """Columns (numpy arrays, or sequences of strings) as a part stores them."""
    numbers: dict[str, tuple[list[str], list[np.ndarray]]] = {}
    strings: dict[str, tuple[np.ndarray, list[str]]] = {}
    for name, values in columns.items():
        if isinstance(values, np.ndarray):
            names, arrays = numbers.setdefault(values.dtype.str, ([], []))
            names.append(name)
            arrays.append(values)
        else:
            strings[name] = _codes(tuple(values))
    return {"order": list(columns),
            "numbers": {dtype: (names, np.stack(arrays))
                        for dtype, (names, arrays) in numbers.items()},
            "strings": strings}


@lru_cache(maxsize=256)
def _codes(values: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """Strings as (codes, distinct values), memoised: a worker's points mostly repeat their
    columns of names, roles, kinds and modes (the codes are read only)."""
    distinct: dict[str, int] = {}
    codes = np.fromiter((distinct.setdefault(v, len(distinct)) for v in values),
                        dtype=np.int32, count=len(values))
    codes.flags.writeable = False
    return codes, list(distinct)


def finished_ids(out: Path) -> set[str]:
    parts = out / "parts"
    return ({p.name.removesuffix(_PART) for p in parts.glob(f"*{_PART}")}
            | {p.name.split(".")[0] for p in parts.glob(f"*.points{_OLD_PART}")})


def _read_part(parts: Path, point: str) -> tuple[dict[str, Any], Stored | None] | None:
    """A finished point's (row, stored layers rows or None), in any format; None if
    unfinished."""
    path = parts / f"{point}{_PART}"
    if path.exists():
        with open(path, "rb") as f:
            part = pickle.load(f)
        return _from_frames(*part) if isinstance(part[0], pd.DataFrame) else part
    if (parts / f"{point}.points{_OLD_PART}").exists():
        return _from_frames(pd.read_parquet(parts / f"{point}.points{_OLD_PART}"),
                            pd.read_parquet(parts / f"{point}.layers{_OLD_PART}"))
    return None


def _from_frames(row: pd.DataFrame, layers: pd.DataFrame
                 ) -> tuple[dict[str, Any], Stored | None]:
    """A part stored as frames (a one-row points frame, the layers frame with its point
    column), as it is stored now."""
    columns = {c: layers[c].tolist() if pd.api.types.is_string_dtype(layers[c])
               else layers[c].to_numpy() for c in layers.columns if c != "point"}
    return row.to_dict("records")[0], _stored(columns) if len(layers) else None


#: points per row group of layers.parquet: the parent holds one group's parts at a time (about
#: 40 MB for MobileBERT in both modes), whatever the number of points
GROUP_POINTS = 64


def consolidate(out: Path, points: list[Point], *, csv: bool = False) -> None:
    """Rewrite points.parquet and layers.parquet (and CSV) from the parts, in point order;
    layers.parquet is written a row group of `GROUP_POINTS` points at a time."""
    parts = out / "parts"
    path = out / "layers.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    rows: list[dict[str, Any]] = []
    group: list[tuple[str, Stored]] = []
    layout = writer = None
    try:
        for p in points:
            part = _read_part(parts, p.id)
            if part is None:
                continue
            rows.append(part[0])
            stored = part[1]
            if stored is None:
                continue
            if layout is None:
                layout = _layout(stored)
            elif _layout(stored) != layout:  # (parts of versions with other columns)
                break
            group.append((p.id, stored))
            if len(group) == GROUP_POINTS:
                writer = _write_group(writer, tmp, group)
        else:
            layout = None  # (one layout throughout)
            if group:
                writer = _write_group(writer, tmp, group)
    finally:
        if writer is not None:
            writer.close()
    if layout is not None:  # mixed layouts: the whole table through frames
        rows, frames = [], []
        for p in points:
            if (part := _read_part(parts, p.id)) is not None:
                rows.append(part[0])
                if part[1] is not None:
                    frames.append(_frame(p.id, part[1]))
        pd.concat(frames, ignore_index=True).to_parquet(tmp, index=False)
    elif writer is None:  # no layers rows
        pd.DataFrame().to_parquet(tmp, index=False)
    os.replace(tmp, path)
    table = pd.DataFrame(rows)
    table.to_parquet(out / "points.parquet", index=False)
    if csv:
        table.to_csv(out / "points.csv", index=False)
        pd.read_parquet(path).to_csv(out / "layers.csv", index=False)


def _layout(stored: Stored) -> tuple:
    """What a part's columns are: their names in order, and which hold strings."""
    return tuple(stored["order"]), tuple(stored["strings"])


def _write_group(writer: pq.ParquetWriter | None, path: Path,
                 group: list[tuple[str, Stored]]) -> pq.ParquetWriter:
    """Write the group's layers rows as a row group (opening the file with the first); empty
    the group. Strings stay dictionary-encoded: stored without the Arrow schema, they read
    back as strings."""
    table = _layer_table(group)
    if writer is None:
        writer = pq.ParquetWriter(path, table.schema, store_schema=False)
    writer.write_table(table)
    group.clear()
    return writer


def _layer_table(parts: list[tuple[str, Stored]]) -> pa.Table:
    """The layers rows of parts of one layout, in order, with the point's id first: numbers
    concatenated by column, and strings' codes mapped onto the distinct values of all parts
    (dictionary-encoded: no string per row is made)."""
    order = parts[0][1]["order"]
    views = [_by_name(stored) for _, stored in parts]
    counts = [len(next(iter(by_name.values()))) for by_name in views]
    table = {"point": _dictionary([np.full(n, i, dtype=np.int32) for i, n in enumerate(counts)],
                                  [point for point, _ in parts])}
    for name in order:
        if name not in parts[0][1]["strings"]:
            table[name] = pa.array(np.concatenate([by_name[name] for by_name in views]))
            continue
        values: dict[str, int] = {}
        table[name] = _dictionary(
            [np.array([values.setdefault(v, len(values)) for v in distinct],
                      dtype=np.int32)[codes]
             for codes, distinct in (stored["strings"][name] for _, stored in parts)],
            list(values))
    return pa.table(table)


def _by_name(stored: Stored) -> dict[str, Any]:
    """A stored part's columns by name: numbers as views of their block, strings as codes."""
    columns = {name: block[i] for names, block in stored["numbers"].values()
               for i, name in enumerate(names)}
    columns.update((name, codes) for name, (codes, _) in stored["strings"].items())
    return columns


def _dictionary(codes: list[np.ndarray], values: list[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(np.concatenate(codes), pa.array(values, pa.string()))


def _frame(point: str, stored: Stored) -> pd.DataFrame:
    columns = _by_name(stored)
    columns.update((name, np.array(distinct, dtype=object)[codes])
                   for name, (codes, distinct) in stored["strings"].items())
    frame = pd.DataFrame({name: columns[name] for name in stored["order"]})
    frame.insert(0, "point", point)
    return frame


def compare(out: str | Path) -> pd.DataFrame:
    """Per point and static layer: AIMC-only vs hybrid latency, overhead, bounding resource."""
    out = Path(out)
    table = out / "layers.parquet"
    if not table.is_file():
        what = "is not a folder" if not out.is_dir() else "holds no sweep results (layers.parquet)"
        raise AimcsimError(f"{out} {what}: give the --out folder of an `aimcsim sweep`")
    layers = pd.read_parquet(table)
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
