"""One dimension of a design space, shared by the search's space and the sweep's axes: the
value it sets (a dot-path of an architecture file, or the workload's sequence length) and the
values it takes, each checked against that value's declaration (type, bounds, choices, whole
picoseconds) when read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from aimcsim.params.reader import Reader
from aimcsim.spec.schema import ArchField, arch_field
from aimcsim.spec.workload import MAX_TOKENS

#: the one axis that sets no architecture value: the generated trace's sequence length
SEQ_LEN_AXIS = "workload.seq_len"


class Axis(NamedTuple):
    """A dimension of a space: `path` and the `values` it takes (it unpacks as the pair)."""

    path: str
    values: tuple[Any, ...]

    @property
    def field(self) -> ArchField | None:
        """The declaration that validates the values (None for the sequence length)."""
        return axis_field(self.path)


def axis_field(path: str) -> ArchField | None:
    """The declaration of the value an axis at `path` sets; ValueError (naming what there is)
    where `path` is neither an architecture value nor the sequence length."""
    if path == SEQ_LEN_AXIS:
        return None
    return arch_field(path)


def read_axis(r: Reader, at: str, path: str, values: Sequence[Any], *, twice: str,
              as_given: bool = False) -> Axis | None:
    """`values` for the value at `path`, each checked against its declaration (an issue on
    `r` at `at` per refused value); a value listed twice is refused, `twice` saying what
    that would do. None where any value was refused. The axis holds the values as the
    declaration reads them (`256` as `256.0` for a float), or `as_given` (a sweep writes them
    into an architecture document, which is read again, and identifies its points by it)."""
    field = axis_field(path)
    before = len(r.issues)
    taken = []
    for i, value in enumerate(values):
        if field is None:  # the sequence length: a whole number of tokens
            taken.append(r.take({i: value}, at, i, int, minimum=1,  # type: ignore[dict-item]
                                maximum=MAX_TOKENS))
        else:
            taken.append(field.take(r, at, i, value))
    if not values or len(r.issues) > before:
        return None
    scalar = field is None or field.kind is not None  # lora.layers holds lists
    if scalar and len(set(taken)) < len(taken):
        r.error(at, f"lists a value twice ({twice})")
        return None
    return Axis(path, tuple(values) if as_given else tuple(taken))


__all__ = ["SEQ_LEN_AXIS", "Axis", "axis_field", "read_axis"]
