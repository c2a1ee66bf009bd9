"""Storage: each finished point's parts written atomically, the consolidated tables, and the
comparison of stored points."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from aimcsim.errors import AimcsimError
from aimcsim.results import bound_resource, static_overhead
from aimcsim.spec.arch import MODES
from aimcsim.sweep.spec import Point

#: a part's file suffix; parts of sweeps written before pickled parts were parquet, and a
#: resumed sweep reads both
_PART, _OLD_PART = ".pkl", ".parquet"


def _write_atomic(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    frame.to_pickle(tmp, compression=None, protocol=5)
    os.replace(tmp, path)


def _persist(out: Path, row: dict[str, Any], layers: pd.DataFrame) -> None:
    """Write a finished point's parts: pickled frames (about 2 ms a MobileBERT point in both
    modes, against 12 ms as parquet, whose conversion to Arrow dominated a sweep point); they
    are read back only by `consolidate`, which writes the parquet tables."""
    parts = out / "parts"
    # layers first: a points part is the mark that the point is finished
    _write_atomic(layers, parts / f"{row['point']}.layers{_PART}")
    _write_atomic(pd.DataFrame([row]), parts / f"{row['point']}.points{_PART}")


def finished_ids(out: Path) -> set[str]:
    return {p.name.split(".")[0] for suffix in (_PART, _OLD_PART)
            for p in (out / "parts").glob(f"*.points{suffix}")}


def _part(parts: Path, point: str, table: str) -> Path | None:
    """A finished point's part (`points` or `layers`), in either format; None if unfinished."""
    for suffix in (_PART, _OLD_PART):
        if (path := parts / f"{point}.{table}{suffix}").exists():
            return path
    return None


def _read(path: Path) -> pd.DataFrame:
    return pd.read_pickle(path) if path.suffix == _PART else pd.read_parquet(path)


def consolidate(out: Path, points: list[Point], *, csv: bool = False) -> None:
    """Rewrite points.parquet and layers.parquet (and CSV) from the parts, in point order."""
    parts = out / "parts"
    done = [(p, path) for p in points if (path := _part(parts, p.id, "points")) is not None]
    rows = [_read(path) for _, path in done]
    layers = [_read(_part(parts, p.id, "layers")) for p, _ in done]
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    layer_table = pd.concat([f for f in layers if len(f)], ignore_index=True) if any(
        len(f) for f in layers) else pd.DataFrame()
    table.to_parquet(out / "points.parquet", index=False)
    layer_table.to_parquet(out / "layers.parquet", index=False)
    if csv:
        table.to_csv(out / "points.csv", index=False)
        layer_table.to_csv(out / "layers.csv", index=False)


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
