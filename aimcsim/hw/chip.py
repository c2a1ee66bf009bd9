"""The chip: how many tiles it has (the `chip` section of an architecture file).

A workload whose static layers need more crossbars than the chip has does not fit: every
weight is programmed once (weight-stationary), so the mapping refuses it, saying how many tiles
it needs and how many there are. Without a `chip` section the tile count is unbounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from aimcsim.params.fields import declare, keys


@dataclass(frozen=True, kw_only=True)
class Chip:
    """The `chip` section."""

    tiles: Annotated[int, declare("crossbar tiles on the chip (each rows x cols weights); "
                                  "IBM's 14 nm inference chip has 34 tiles of 512 x 2048 cells",
                                  ge=1, le=10_000_000)]


CHIP_KEYS = keys(Chip)


__all__ = ["CHIP_KEYS", "Chip"]
