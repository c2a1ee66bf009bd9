"""SRAM banks priced by their geometry: energy per read and per write, leakage, area and access
time of one single-ported bank, from a grid of CACTI results kept in the technology file.

The grid (`tools/techgen/cacti_grid.py` writes it) holds CACTI's figures for banks of
`bank_bytes` (powers of two) and words of `width_bits`, at one node and transistor type. A bank
between grid points is priced by bilinear interpolation of log(value) in log2(bytes) and
log2(width): CACTI's figures follow power laws of the bank's size and width, so the
interpolated value is exact at the grid's points and smooth between them. A bank outside the
grid, or at a point CACTI could not organise, is priced NaN: the caller warns once, naming the
field and the range (latency does not depend on it).

A technology file in a node CACTI does not reach (below 22 nm) scales the grid's figures by
factors it states with their arithmetic (`SramGrid.scale`); each factor multiplies one figure
(energies, leakage, area) and leaves access time alone unless stated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

#: The figures a grid point holds, their units, and what each means.
FIGURES = {
    "read_pj": "pJ: one read access of one word",
    "write_pj": "pJ: one write access of one word",
    "leakage_mw": "mW: static power of the bank",
    "area_mm2": "mm^2: the bank with its periphery",
    "access_ns": "ns: random access time",
}


@dataclass(frozen=True)
class SramCost:
    """One bank's prices (NaN where the grid does not reach it)."""

    read_pj: float
    write_pj: float
    leakage_mw: float
    area_mm2: float
    access_ns: float


@dataclass(frozen=True)
class SramGrid:
    """CACTI's figures of single-ported banks over bank sizes x word widths (one node)."""

    node_nm: float
    transistor: str
    bank_bytes: tuple[int, ...]
    width_bits: tuple[int, ...]
    #: name -> rows (one per bank size) of values (one per width): compared and hashed, so
    #: that a grid edited on disk is never taken for the one priced before
    figures: tuple[tuple[str, tuple[tuple[float, ...], ...]], ...]
    source: str = field(default="", compare=False)
    scale: tuple[tuple[str, float], ...] = ()

    @cached_property
    def tables(self) -> dict[str, np.ndarray]:
        return {name: np.array(rows, dtype=float) for name, rows in self.figures}

    @cached_property
    def factors(self) -> dict[str, float]:
        return dict(self.scale)

    def covers(self, bank_bytes: float, width_bits: float) -> bool:
        return (self.bank_bytes[0] <= bank_bytes <= self.bank_bytes[-1]
                and self.width_bits[0] <= width_bits <= self.width_bits[-1])

    def range_text(self) -> str:
        return (f"{self.bank_bytes[0]} to {self.bank_bytes[-1]} bytes per bank, "
                f"{self.width_bits[0]} to {self.width_bits[-1]}-bit words")

    def price(self, bank_bytes: float, width_bits: float) -> SramCost:
        """One bank of `bank_bytes` bytes in words of `width_bits` (see the module docstring)."""
        if not self.covers(bank_bytes, width_bits):
            return SramCost(*[math.nan] * len(FIGURES))
        values = {name: _bilinear(np.log2(self.bank_bytes), np.log2(self.width_bits),
                                  self.tables[name], math.log2(bank_bytes),
                                  math.log2(width_bits)) * self.factors.get(name, 1.0)
                  for name in FIGURES}
        return SramCost(**values)


def _bilinear(xs: np.ndarray, ys: np.ndarray, table: np.ndarray, x: float, y: float) -> float:
    """log-linear interpolation of `table` (rows along xs, columns along ys) at (x, y); NaN
    where a corner is missing (NaN) or not positive."""
    i = min(int(np.searchsorted(xs, x, side="right")) - 1, len(xs) - 2) if len(xs) > 1 else 0
    j = min(int(np.searchsorted(ys, y, side="right")) - 1, len(ys) - 2) if len(ys) > 1 else 0
    i, j = max(i, 0), max(j, 0)
    i1, j1 = min(i + 1, len(xs) - 1), min(j + 1, len(ys) - 1)
    corners = table[[i, i, i1, i1], [j, j1, j, j1]]
    if not np.all(np.isfinite(corners)) or np.any(corners <= 0):
        return math.nan
    tx = (x - xs[i]) / (xs[i1] - xs[i]) if i1 != i else 0.0
    ty = (y - ys[j]) / (ys[j1] - ys[j]) if j1 != j else 0.0
    logs = np.log(corners)
    low = logs[0] * (1 - ty) + logs[1] * ty
    high = logs[2] * (1 - ty) + logs[3] * ty
    return float(np.exp(low * (1 - tx) + high * tx))


__all__ = ["FIGURES", "SramCost", "SramGrid"]
