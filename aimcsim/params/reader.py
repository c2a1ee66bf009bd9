"""Collect-then-fail validation of YAML documents.

A `Reader` walks one parsed file, records every problem with its YAML dot-path, and only
raises (once, with all issues) when `finish()` is called. Each `take_*` call returns a usable
placeholder on error so validation continues past the first bad field.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from aimcsim.errors import SpecError, SpecIssue
from aimcsim.params.files import MAX_DEPTH, check_tree, read_text

_REQUIRED = object()
_SHOWN = 80  # characters of a bad value a message shows at most


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's safe loader where PyYAML has it (the same documents, about 10x faster),
    refusing a key given twice in one mapping (YAML says keys are unique; PyYAML keeps the
    last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the constructor reports it
                break
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {_clip(repr(key))}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _UniqueKeyLoader.construct_mapping)
_LOADER = _UniqueKeyLoader


def _clip(text: str) -> str:
    """`text`, cut to `_SHOWN` characters (errors never print unbounded input)."""
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}... ({len(text)} characters)"


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxlist, _REPR.maxdict, _REPR.maxtuple = 2, 4, 4, 4
_REPR.maxstring = _REPR.maxother = _SHOWN


def shown(value: Any) -> str:
    """A bounded repr of any input value for a message: a few items of a list or mapping, two
    levels deep, at most `_SHOWN` characters (cheap even for a YAML alias bomb)."""
    return _clip(_REPR.repr(value))


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file, read as every input is (`aimcsim.params.files`: a regular file,
    bounded in size, nesting and expanded aliases); every problem is a `SpecError` naming the
    file."""
    text = read_text(path, "yaml")
    try:
        doc = yaml.load(text, Loader=_LOADER)
    except RecursionError:
        raise SpecError(str(path), [SpecIssue("", f"nested deeper than {MAX_DEPTH} levels")]
                        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = _clip(getattr(exc, "problem", None) or str(exc))
        raise SpecError(str(path), [SpecIssue("", f"invalid YAML at {where}: {problem}")]) from None
    check_tree(doc, path)
    return doc


def relative_file(base: str | Path, name: str) -> Path:
    """`name`, relative to the folder of the file `base`, resolved; ValueError for a name no
    file can have or a loop of symbolic links."""
    if "\x00" in name:
        raise ValueError(f"{shown(name)} is not a file name (it holds a NUL character)")
    try:
        return (Path(base).parent / name).resolve()
    except RuntimeError:  # (a loop of symbolic links, before Python 3.13)
        raise ValueError(f"{shown(name)}: cannot resolve the path: a loop of symbolic links"
                         ) from None
    except OSError as exc:
        raise ValueError(f"{shown(name)}: cannot resolve the path: {exc.strerror}") from None


def join(path: str, key: str | int) -> str:
    """YAML dot-path of `key` below `path` (`pmca` + `tcdm_bytes` -> `pmca.tcdm_bytes`)."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def get_path(doc: Any, path: str) -> Any:
    """The value at YAML dot-path `path` of a parsed document (None where there is none)."""
    cur: Any = doc
    for part in path.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    return cur


class Reader:
    """Validates values from one file and remembers every issue."""

    def __init__(self, file: str | Path) -> None:
        self.file = str(file)
        self.issues: list[SpecIssue] = []

    def error(self, path: str, message: str) -> None:
        self.issues.append(SpecIssue(path, message))

    def finish(self) -> None:
        """Raise a `SpecError` with all issues, if there were any."""
        if self.issues:
            raise SpecError(self.file, self.issues)

    # ---- containers -------------------------------------------------------------------------
    def mapping(
        self, value: Any, path: str, allowed: Iterable[str], *, required: Iterable[str] = ()
    ) -> dict[str, Any]:
        """Check `value` is a mapping with only `allowed` keys and all `required` ones."""
        allowed = list(allowed)
        where = path or "top level"
        if not isinstance(value, Mapping) and not path:
            # a file that is no mapping at all: nothing else in it can be checked, and its
            # content is not quoted (it may be any file a path pointed at)
            self.error(path, f"expected a mapping with keys {_names(allowed)}; the file holds "
                       f"{kind_of(value)}")
            self.finish()
        if not isinstance(value, Mapping):
            self.error(path, f"expected a mapping with keys {_names(allowed)}, got {_show(value)}")
            return {}
        for key in value:
            if key not in allowed:
                message = f"unknown key {key!r} in {where}; allowed: {_names(allowed)}"
                self.error(join(path, str(key)), message)
        for key in required:
            if key not in value:
                self.error(join(path, key), f"missing required key {key!r} in {where}")
        return dict(value)

    def sequence(self, value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            self.error(path, f"expected a list, got {_show(value)}")
            return []
        return value

    # ---- scalars ----------------------------------------------------------------------------
    def take(
        self,
        data: Mapping[str, Any],
        path: str,
        key: str,
        kind: type,
        *,
        default: Any = _REQUIRED,
        minimum: float | None = None,
        maximum: float | None = None,
        choices: Iterable[Any] | None = None,
        unit: str = "",
    ) -> Any:
        """Read `data[key]` as `kind` (int, float, bool or str) and check its bounds.

        Missing keys return `default` (or are reported when there is none). `minimum` and
        `maximum` are inclusive; a time in ns must be whole picoseconds (engine time is integer
        ps). On error the returned value is a harmless placeholder.
        """
        if key not in data:
            if default is _REQUIRED:
                # already reported by mapping(required=...) when listed there; report here otherwise
                if not any(i.path == join(path, key) for i in self.issues):
                    self.error(join(path, key), f"missing required key {key!r}")
                return _placeholder(kind, minimum, choices)
            return default
        value = data[key]
        if kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            ok = ok and math.isfinite(value)
        elif kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, kind)
        if not ok:
            unit_note = f" ({unit})" if unit else ""
            self.error(join(path, key), f"expected {_kind_name(kind)}{unit_note}, got "
                       f"{_show(value)}" + _number_text_hint(kind, value))
            return _placeholder(kind, minimum, choices)
        if choices is not None:
            if value not in choices:
                self.error(join(path, key), f"{shown(value)} is not allowed; allowed "
                           f"values: {_names(choices)}")
                return next(iter(choices))
        if minimum is not None and value < minimum:
            self.error(join(path, key),
                       f"{shown(value)} is below the minimum {minimum}{_suffix(unit)}")
            return _placeholder(kind, minimum, choices)
        if maximum is not None and value > maximum:
            self.error(join(path, key),
                       f"{shown(value)} is above the maximum {maximum}{_suffix(unit)}")
            return _placeholder(kind, minimum, choices)
        if unit == "ns" and abs(value * 1000 - round(value * 1000)) > 1e-6:
            self.error(join(path, key), f"{shown(value)} ns is not a whole number of "
                       "picoseconds (engine time is integer ps)")
            return _placeholder(kind, minimum, choices)
        return float(value) if kind is float else value

    def version(self, data: Mapping[str, Any], supported: Iterable[int]) -> int:
        supported = list(supported)
        return self.take(data, "", "version", int, choices=supported)


def _suffix(unit: str) -> str:
    return f" {unit}" if unit else ""


def _placeholder(kind: type, minimum: float | None, choices: Iterable[Any] | None) -> Any:
    if choices is not None:
        return next(iter(choices))
    if kind in (int, float):
        return kind(max(minimum or 1, 1))
    if kind is bool:
        return False
    return ""


def _number_text_hint(kind: type, value: Any) -> str:
    """A hint where YAML read a number as text (YAML 1.1 wants a dot in exponent form)."""
    if kind not in (int, float) or not isinstance(value, str):
        return ""
    try:
        number = float(value)
    except ValueError:
        return ""
    if not math.isfinite(number):
        return ""
    if number.is_integer() and abs(number) < 1e16:
        plain = f"{int(number)}"
    else:
        mantissa, _, exponent = repr(number).partition("e")
        plain = (mantissa if "." in mantissa else f"{mantissa}.0") + (
            f"e{exponent}" if exponent else "")
    return f"; YAML reads {shown(value)} as text: write {plain}"


def _kind_name(kind: type) -> str:
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        kind, kind.__name__
    )


def _names(values: Iterable[Any]) -> str:
    return ", ".join(str(v) for v in values)


def kind_of(value: Any) -> str:
    """What a document that should be a mapping holds instead, without quoting it."""
    if value is None:
        return "nothing (it is empty)"
    if isinstance(value, list):
        return "a list"
    return "text" if isinstance(value, str) else f"a single {type(value).__name__}"


def _show(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    return f"{shown(value)} ({type(value).__name__})"
