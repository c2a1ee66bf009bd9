"""One value of an architecture changed without writing a file: `--set PATH=VALUE` on the
command line, `with_value(arch, path, value)` in Python.

A path is a YAML dot-path of an architecture file (`pmca.tcdm_bytes`,
`pipeline.parallel_tokens`, `pmca.macs_per_cycle.fp16`), checked against the declarations
(`aimcsim.spec.schema.arch_field`); the value is read as YAML reads it (`65536`, `true`,
`[query, value]`) and validated with the rest of the architecture by the same reader as a file,
so a bad value is refused as the file's would be, its error naming `--set` and the path.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from aimcsim.errors import SpecError, SpecIssue
from aimcsim.spec.arch import Arch, parse_arch, parse_with_origin, read_arch_doc
from aimcsim.spec.schema import arch_field

#: the option, and the "file" errors name for the values it set
SET = "--set"


def parse_sets(texts: Iterable[str]) -> list[tuple[str, Any]]:
    """`PATH=VALUE` texts as (path, value), the value read as YAML; SpecError naming `--set`
    for a text without `=`, a path no architecture file has or a value YAML cannot read."""
    sets, issues = [], []
    for text in texts:
        path, eq, raw = text.partition("=")
        path = path.strip()
        if not eq or not path:
            issues.append(SpecIssue(text, "expected PATH=VALUE (a YAML dot-path of an "
                                    "architecture file, e.g. pmca.tcdm_bytes=65536)"))
            continue
        try:
            arch_field(path)
            value = yaml.safe_load(raw) if raw.strip() else None
        except ValueError as exc:
            issues.append(SpecIssue(path, str(exc)))
            continue
        except yaml.YAMLError as exc:
            issues.append(SpecIssue(path, f"{raw!r} is no YAML value ({exc})"))
            continue
        sets.append((path, value))
    if issues:
        raise SpecError(SET, issues)
    return sets


def set_values(doc: Any, sets: Sequence[tuple[str, Any]], origin: dict[str, str] | None = None,
               *, copy_paths: bool = False) -> Any:
    """`doc` (an architecture document, changed in place) with each path set to its value;
    `origin` then names `--set` for them (errors on them name it). `copy_paths`: `doc` is
    left as it is and a copy comes back, in which each mapping on the paths is copied and
    the rest shared (documents are read only: `Arch.document`)."""
    if copy_paths:
        doc = dict(doc)
    for path, value in sets:
        node = doc
        parts = path.split(".")
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            elif copy_paths:
                child = node[part] = dict(child)
            node = child
        node[parts[-1]] = value
        if origin is not None:
            origin[path] = SET
    return doc


def load_arch_with(path: str | Path, sets: Sequence[tuple[str, Any]] = ()) -> Arch:
    """`load_arch`, with `sets` (`parse_sets`) over the file's values."""
    doc, origin = read_arch_doc(path)
    if sets and isinstance(doc, dict):
        set_values(doc, sets, origin)
    return parse_with_origin(doc, origin, str(path))


def with_value(arch: Arch, path: str, value: Any) -> Arch:
    """`arch` with the value at dot-path `path` replaced, validated as a file's would be
    (SpecError naming the architecture's file and the path). ValueError for a path no
    architecture file has, or an architecture changed in memory since it was read
    (`dataclasses.replace`: its document no longer says what it is)."""
    arch_field(path)
    if arch.document is None or parse_arch(arch.document, arch.source) != arch:
        raise ValueError(f"{arch.source}: this architecture is not the one its document says "
                         "(made or changed in memory): change its document and parse it, or "
                         "use dataclasses.replace")
    return parse_arch(set_values(copy.deepcopy(arch.document), [(path, value)]), arch.source)


__all__ = ["SET", "load_arch_with", "parse_sets", "set_values", "with_value"]
