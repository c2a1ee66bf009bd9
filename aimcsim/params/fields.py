"""Fields declared once: each parameter's type, bounds, default, unit and meaning live on its
frozen dataclass, as `Annotated[type, pydantic.Field(...)]`.

Everything else derives from that declaration:

- `read_fields` reads a YAML mapping into the fields with the `Reader`'s messages (file,
  YAML path, bad value, allowed values, every error at once);
- `keys` and `required` give a section's allowed and required keys (sweep axes and
  constraint paths are checked against them);
- `section_schema` is the JSON Schema of a section, written by pydantic (`aimcsim schema`).

A field the generic reader cannot read (a table of per-type values, a nested section, a list)
carries `Custom()` in its metadata and is read by its component's own reader.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import MISSING, dataclass
from functools import cache
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

import annotated_types
from pydantic import Field, TypeAdapter
from pydantic.fields import FieldInfo

from aimcsim.params.reader import Reader

__all__ = [
    "Custom",
    "Field",
    "choices",
    "declare",
    "descriptions",
    "keys",
    "numeric_bounds",
    "read_fields",
    "read_section",
    "required",
    "section_schema",
    "spec",
    "units",
]


@dataclass(frozen=True)
class Custom:
    """Marks a field its component reads itself (see the module docstring)."""


def declare(description: str, *, ge: float | None = None, le: float | None = None, unit: str = "",
            schema: dict[str, Any] | None = None, key: str | None = None) -> FieldInfo:
    """A field's declaration: its meaning, its inclusive bounds (every number a physical design
    can have has both: a value outside them is an input error, caught before any work), its
    unit and, where the YAML form differs from the Python one (a mapping read into pairs), the
    schema of the YAML."""
    extra: dict[str, Any] = {}
    if unit:
        extra["unit"] = unit
    if schema:
        extra.update(schema)
    return Field(description=description, ge=ge, le=le, json_schema_extra=extra or None,
                 alias=key)


@dataclass(frozen=True)
class _Declared:
    name: str
    key: str  # its YAML key (the field's alias, e.g. `from`, else its name)
    kind: type
    choices: tuple[Any, ...] | None
    minimum: float | None
    maximum: float | None
    unit: str
    default: Any
    custom: bool


@cache
def _declared(cls: type) -> tuple[_Declared, ...]:
    hints = get_type_hints(cls, include_extras=True)
    out = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        base, meta = (get_args(hint)[0], get_args(hint)[1:]) if get_origin(hint) is Annotated \
            else (hint, ())
        info = next((m for m in meta if isinstance(m, FieldInfo)), None)
        custom = any(isinstance(m, Custom) for m in meta)
        minimum = maximum = None
        unit = ""
        if info is not None:
            minimum = next((c.ge for c in info.metadata if isinstance(c, annotated_types.Ge)),
                           None)
            maximum = next((c.le for c in info.metadata if isinstance(c, annotated_types.Le)),
                           None)
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            unit = str(extra.get("unit", ""))
        choices = tuple(get_args(base)) if get_origin(base) is Literal else None
        kind = type(choices[0]) if choices else base
        default = f.default if f.default is not MISSING else MISSING
        key = info.alias if info is not None and info.alias else f.name
        out.append(_Declared(f.name, key, kind, choices, minimum, maximum, unit, default,
                             custom))
    return tuple(out)


def choices(cls: type, name: str) -> tuple[Any, ...]:
    """The allowed values a field of `cls` declares (its Literal)."""
    return next(d.choices for d in _declared(cls) if d.name == name)


def numeric_bounds(cls: type) -> dict[str, tuple[float | None, float | None]]:
    """(minimum, maximum) of every number `cls` declares (its generic fields)."""
    return {d.key: (d.minimum, d.maximum) for d in _declared(cls)
            if d.kind in (int, float) and not d.custom}


def descriptions(cls: type) -> dict[str, str]:
    """The meaning each field of `cls` declares, by YAML key."""
    hints = get_type_hints(cls, include_extras=True)
    out = {}
    for d in _declared(cls):
        info = next((m for m in get_args(hints[d.name])[1:] if isinstance(m, FieldInfo)), None)
        out[d.key] = (info.description or "") if info is not None else ""
    return out


def units(cls: type) -> dict[str, str]:
    """The unit each field of `cls` declares ('' where none), by YAML key."""
    return {d.key: d.unit for d in _declared(cls)}


@cache
def keys(cls: type) -> tuple[str, ...]:
    """The keys a section of `cls` accepts: its fields, and `source` (a citation)."""
    return (*(d.key for d in _declared(cls)), "source")


@cache
def required(cls: type) -> tuple[str, ...]:
    """The keys a section of `cls` must give: the fields without a default (custom ones
    too: their readers read them, but a file must still give them)."""
    return tuple(d.key for d in _declared(cls) if d.default is MISSING)


def read_section(r: Reader, cls: type, data: Any, path: str) -> Any:
    """A section made only of declared fields: its keys checked, then read into `cls`."""
    d = r.mapping(data, path, keys(cls), required=required(cls))
    return cls(**read_fields(r, cls, d, path))


def read_fields(r: Reader, cls: type, data: dict[str, Any], path: str) -> dict[str, Any]:
    """Every non-custom field of `cls` from the mapping `data` at YAML `path`."""
    return {name: r.take(data, path, key, kind, **kwargs)
            for name, key, kind, kwargs in _takes(cls)}


@cache
def _takes(cls: type) -> tuple[tuple[str, str, type, dict[str, Any]], ...]:
    """How `read_fields` reads each non-custom field of `cls` (built once per class)."""
    out = []
    for d in _declared(cls):
        if d.custom:
            continue
        kwargs: dict[str, Any] = {"minimum": d.minimum, "maximum": d.maximum,
                                  "choices": d.choices, "unit": d.unit}
        if d.default is not MISSING:
            kwargs["default"] = d.default
        out.append((d.name, d.key, d.kind, kwargs))
    return tuple(out)


def section_schema(cls: type, title: str, *, source: bool = True) -> dict[str, Any]:
    """JSON Schema of a section read into `cls` (pydantic's, closed to unknown keys)."""
    schema = TypeAdapter(cls).json_schema(by_alias=True)
    schema["title"] = title
    if source:
        schema.setdefault("properties", {})["source"] = {
            "type": "string", "description": "where the section's values come from (citation)"}
    schema["required"] = list(required(cls))
    schema["additionalProperties"] = False
    return schema


def spec(description: str, **bounds: Any) -> FieldInfo:
    """Deprecated name of `declare` ("spec" names the input documents' package)."""
    warnings.warn("aimcsim.params.fields.spec is now declare", DeprecationWarning, stacklevel=2)
    return declare(description, **bounds)
