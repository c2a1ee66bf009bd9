"""Run settings files: how a workload runs on a hardware file, apart from the hardware.

The field splits its inputs three ways (hardware, workload, mapping); aimcsim's third part is a
run settings file:

```yaml
version: 1
mode: hybrid                    # optional: default mode of `aimcsim run`
pipeline: {strategy: double-buffered, parallel_tokens: 8, tile_output: separate}
lora: {rank: 8}                 # optional: overlays the hardware file's lora section
overrides:                      # optional: per op, by op name or by role
  ffn_intermediate: {parallel_tokens: 16}
  b0.query: {strategy: overlapped}
```

`pipeline`, `lora` and `mode` overlay the hardware file's (which keeps defaults, so
`aimcsim run ARCH WORKLOAD` works without a settings file). `overrides` give single ops their
own pipeline (over the file's): an op name wins over its role. Fields, checks and messages are
the architecture file's (`aimcsim.spec.arch`), with this file's name on what it set.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aimcsim.params.reader import Reader, join, read_yaml
from aimcsim.spec.arch import (
    Arch,
    Pipeline,
    load_arch,
    overlay_file,
    parse_with_origin,
    read_arch_doc,
    read_pipeline,
)
from aimcsim.spec.overrides import load_arch_with, set_values
from aimcsim.spec.workload import Workload

SUPPORTED_VERSIONS = (1,)
RUN_KEYS = ("version", "name", "mode", "pipeline", "lora", "overrides")


def apply_run(
    arch_file: str | Path, run_file: str | Path | None, workload: Workload,
    sets: Sequence[tuple[str, Any]] = (),
) -> tuple[Arch, dict[str, Pipeline]]:
    """The architecture of `arch_file` (with the values `--set` changed, `sets`) with the run
    settings of `run_file` (None: its own) over it, and the ops' own pipelines
    (`simulate(..., settings=...)`; empty without overrides)."""
    if run_file is None:
        return load_arch_with(arch_file, sets), {}
    run_file = str(run_file)
    r = Reader(run_file)
    doc = r.mapping(read_yaml(run_file), "", RUN_KEYS, required=("version",))
    if "version" in doc:
        r.version(doc, SUPPORTED_VERSIONS)
    r.finish()
    base, origin = read_arch_doc(arch_file)
    if not isinstance(base, dict):
        load_arch(arch_file)  # raises the file's own error
    set_values(base, sets, origin)
    settings = {key: doc[key] for key in ("mode", "pipeline", "lora") if key in doc}
    merged = overlay_file(base, origin, settings, run_file)
    arch = parse_with_origin(merged, origin, str(arch_file))
    return arch, _overrides(r, doc.get("overrides", {}), arch, workload)


def _overrides(r: Reader, raw: Any, arch: Arch, workload: Workload) -> dict[str, Pipeline]:
    if not isinstance(raw, dict):
        r.error("overrides", "expected a mapping of op names or roles to pipeline settings")
        r.finish()
    names = {op.name for op in workload.ops}
    roles = {op.role for op in workload.ops if op.role}
    base = {k: getattr(arch.pipeline, k) for k in ("strategy", "parallel_tokens",
                                                   "between_layers", "tile_output",
                                                   "output_chunk")}
    by_role: dict[str, Pipeline] = {}
    by_name: dict[str, Pipeline] = {}
    for selector, values in raw.items():
        path = join("overrides", str(selector))
        if selector not in names and selector not in roles:
            r.error(path, f"{selector!r} is no op name or role of {workload.name}")
            continue
        given = r.mapping(values, path, tuple(base))
        if "between_layers" in given:
            r.error(join(path, "between_layers"), "one setting for the whole network: set it "
                    "under pipeline")
            continue
        pipe = read_pipeline(r, {**base, **given}, path)
        (by_name if selector in names else by_role)[str(selector)] = pipe
    r.finish()
    settings = {}
    for op in workload.ops:
        pipe = by_name.get(op.name) or by_role.get(op.role)
        if pipe is not None:
            settings[op.name] = pipe
    return settings
