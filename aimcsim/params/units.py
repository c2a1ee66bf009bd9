"""Units and data types every component shares: integer-picosecond time and element sizes."""

from __future__ import annotations

from aimcsim.params.reader import Reader

PS_PER_US = 1_000_000  # a clock of f MHz has a period of 1e6 / f ps
PS_PER_NS = 1000  # engine time is integer picoseconds; results leave the library in ns
DTYPE_BYTES = {"fp64": 8, "fp32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "int8": 1}
#: the units tables and figures show a value in, by the unit results store it in: (symbol,
#: size in the stored unit), smallest first
DISPLAY_UNITS: dict[str, tuple[tuple[str, float], ...]] = {
    "ns": (("ns", 1.0), ("µs", 1e3), ("ms", 1e6), ("s", 1e9)),
    "pJ": (("pJ", 1.0), ("nJ", 1e3), ("µJ", 1e6), ("mJ", 1e9), ("J", 1e12)),
    "pJ*s": (("pJ·s", 1.0), ("nJ·s", 1e3), ("µJ·s", 1e6), ("mJ·s", 1e9), ("J·s", 1e12)),
    "B": (("B", 1.0), ("KiB", 2.0 ** 10), ("MiB", 2.0 ** 20), ("GiB", 2.0 ** 30)),
    "mm^2": (("mm^2", 1.0),),
}


def ns_to_ps(ns: float) -> int:
    """Nanoseconds to integer picoseconds (inputs are validated to be whole picoseconds)."""
    return round(ns * 1000)


class Clocked:
    """A component with a clock of `freq_mhz` MHz (a field of its own, checked by `clock`):
    its period in whole picoseconds."""

    @property
    def period_ps(self) -> int:
        return PS_PER_US // self.freq_mhz  # type: ignore[attr-defined]


def clock(r: Reader, path: str, freq_mhz: int) -> None:
    """Refuse (at `path`) a frequency whose period is not a whole number of picoseconds."""
    if freq_mhz > 0 and PS_PER_US % freq_mhz:
        r.error(
            path,
            f"{freq_mhz} MHz gives a clock period of {PS_PER_US / freq_mhz:.3f} ps; engine time is "
            "integer picoseconds, so use a frequency that divides 1000000 MHz "
            "(e.g. 250, 500, 800, 1000, 1250, 2000)",
        )


__all__ = ["DISPLAY_UNITS", "DTYPE_BYTES", "PS_PER_NS", "PS_PER_US", "Clocked", "clock", "ns_to_ps"]
