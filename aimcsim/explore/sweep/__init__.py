"""Design-space sweeps from YAML: build and validate every point, run them in parallel, persist
each as it finishes, resume after an interruption.

A sweep file names a base architecture, workloads, modes and axes (YAML dot-paths into the
architecture with value lists or ranges; `workload.seq_len` regenerates a generated trace at
another length). Points are the grid of the axes, or a seeded random sample of it, filtered by
constraints. A point's id is a digest of everything its result depends on (its resolved
architecture, its workload's content, its modes, aimcsim's code). Each finished point is written
at once as `parts/<id>.arrow` (an LZ4-compressed Arrow IPC file of its layers rows, its points
row in the metadata; written atomically), so a killed worker or a Ctrl-C loses no finished
point; `--resume` checks every part it finds (a bad one is computed again, with a warning), runs
only the points without parts, and refuses a folder whose inputs changed (`manifest.json`
records their digests). The consolidated tables (`points.parquet`, `layers.parquet`, CSV on
request) are rewritten from the parts, in point order, at the end (layers.parquet a row group of
64 points at a time: the parent's memory does not grow with the points).
"""

from aimcsim.explore.sweep.definition import (
           SEQ_LEN_AXIS,
           Constraint,
           Invalid,
           Point,
           SweepSpec,
           load_sweep,
)
from aimcsim.explore.sweep.points import build_points, point_id
from aimcsim.explore.sweep.run import SweepReport, plain_progress, run_point, run_sweep
from aimcsim.explore.sweep.store import compare, consolidate, finished_ids

__all__ = ["SEQ_LEN_AXIS", "Constraint", "Invalid", "Point", "SweepReport", "SweepSpec",
           "build_points", "compare", "consolidate", "finished_ids", "load_sweep",
           "plain_progress", "point_id", "run_point", "run_sweep"]
