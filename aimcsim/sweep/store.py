"""Storage: each finished point's parts written atomically, the consolidated tables, and the
comparison of stored points."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pandas as pd

from aimcsim.errors import AimcsimError
from aimcsim.results import bound_resource, static_overhead
from aimcsim.spec.arch import MODES
from aimcsim.sweep.spec import Point

#: a finished point's part: its points row and its layers rows, pickled in one file (written
#: atomically, so the file is the mark that the point is finished). Sweeps written before
#: were parquet, one file per table (`<id>.points.parquet` the mark); a resumed sweep reads
#: both.
_PART, _OLD_PART = ".pkl", ".parquet"


def _persist(out: Path, row: dict[str, Any], layers: pd.DataFrame) -> None:
    """Write a finished point's part: one pickle of its two frames (about 1.5 ms a MobileBERT
    point in both modes, against 12 ms as two parquet files, whose conversion to Arrow
    dominated a sweep point); read back only by `consolidate`, which writes the parquet
    tables."""
    path = out / "parts" / f"{row['point']}{_PART}"
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump((pd.DataFrame([row]), layers), f, protocol=5)
    os.replace(tmp, path)


def finished_ids(out: Path) -> set[str]:
    parts = out / "parts"
    return ({p.name.removesuffix(_PART) for p in parts.glob(f"*{_PART}")}
            | {p.name.split(".")[0] for p in parts.glob(f"*.points{_OLD_PART}")})


def _read_part(parts: Path, point: str) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """A finished point's (points row, layers rows), in either format; None if unfinished."""
    path = parts / f"{point}{_PART}"
    if path.exists():
        with open(path, "rb") as f:
            return pickle.load(f)
    if (parts / f"{point}.points{_OLD_PART}").exists():
        return (pd.read_parquet(parts / f"{point}.points{_OLD_PART}"),
                pd.read_parquet(parts / f"{point}.layers{_OLD_PART}"))
    return None


def consolidate(out: Path, points: list[Point], *, csv: bool = False) -> None:
    """Rewrite points.parquet and layers.parquet (and CSV) from the parts, in point order."""
    parts = out / "parts"
    done = [part for p in points if (part := _read_part(parts, p.id)) is not None]
    rows = [row for row, _ in done]
    layers = [rows_ for _, rows_ in done]
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
