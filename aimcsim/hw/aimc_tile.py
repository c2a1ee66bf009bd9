"""AIMC tile: mapping of a weight matrix onto crossbars and the phase timing of its MVMs.

One MVM per token has three phases: input (DAC), integration, output (ADC and readout). A
pipelined tile overlaps the phases of consecutive tokens (one token per phase at a time), so a
burst of n tokens takes `sum(phases) + (n - 1) * max(phases)`; an unpipelined tile takes
`n * sum(phases)`. Tiles holding slices of one matrix run in lock-step, so the slices share
one timing; row slices produce partial sums that the cluster reduces.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from math import ceil
from typing import Annotated, Any

from numba import njit

from aimcsim.params.fields import declare, keys, read_section
from aimcsim.params.reader import Reader
from aimcsim.params.units import ns_to_ps


@dataclass(frozen=True)
class AimcTile:
    """One analog crossbar tile and the phases of one matrix-vector multiply (MVM): the
    `aimc` section of an architecture file. Each field is declared once, below."""

    rows: Annotated[int, declare("crossbar inputs (weights per column)", ge=1, le=65_536)]
    cols: Annotated[int, declare("crossbar outputs (columns)", ge=1, le=65_536)]
    integration_time_ns: Annotated[float, declare("analog integration phase of one MVM",
                                                  ge=0.001, le=1e6, unit="ns")]
    dac_ns: Annotated[float, declare("input phase: load the input vector, drive the DACs",
                                     ge=0, le=1e6, unit="ns")] = 0.0
    adc_ns: Annotated[float, declare("output phase: ADC conversion and readout of the columns",
                                     ge=0, le=1e6, unit="ns")] = 0.0
    pipelined: Annotated[bool, declare("consecutive tokens overlap phases (the DAC of token i+1 "
                                       "during the integration of token i)")] = True
    adc_bits: Annotated[int, declare("resolution of the column ADCs (priced by the technology "
                                     "file: its measured converter or the survey fit)", ge=1,
                                     le=24, unit="bit")] = 8
    columns_per_adc: Annotated[int, declare("columns one ADC converts in turn during the output "
                                            "phase (1: an ADC per column)", ge=1, le=65_536)] = 1

    @cached_property
    def phases_ps(self) -> tuple[int, int, int]:
        """(dac, integration, adc) durations in integer picoseconds (once per tile: every
        static op's timer reads them)."""
        return (ns_to_ps(self.dac_ns), ns_to_ps(self.integration_time_ns), ns_to_ps(self.adc_ns))


#: The keys of an architecture file's `aimc` section.
AIMC_KEYS = keys(AimcTile)


def read_aimc(r: Reader, data: Any) -> AimcTile:
    """The `aimc` section (errors go to `r`)."""
    return read_section(r, AimcTile, data, "aimc")


@dataclass(frozen=True)
class TileMapping:
    """How a d_in x d_out matrix lands on rows x cols crossbars."""

    row_splits: int  # slices along d_in: partial sums to reduce digitally
    col_splits: int  # slices along d_out: independent output slices

    @property
    def tiles(self) -> int:
        return self.row_splits * self.col_splits


def mvm_events(mapping: TileMapping, d_in: int, d_out: int) -> tuple[int, int, int, int]:
    """(MVMs, DAC conversions, ADC conversions, analog MACs) of one token through a d_in x
    d_out matrix on its tiles: every tile integrates once; each column slice converts the whole
    input (the row slices' rows add up to d_in), each row slice converts all d_out outputs (a
    partial sum per row slice); every programmed weight takes part in one MAC."""
    return (mapping.tiles, d_in * mapping.col_splits, d_out * mapping.row_splits, d_in * d_out)


def map_matrix(d_in: int, d_out: int, tile: AimcTile) -> TileMapping:
    """Crossbars needed for a d_in x d_out weight matrix: ceil(d_in/rows) x ceil(d_out/cols)."""
    return grid(d_in, d_out, tile.rows, tile.cols)


def grid(d_in: int, d_out: int, rows: int, cols: int) -> TileMapping:
    """`map_matrix` on crossbars of `rows` x `cols`."""
    return TileMapping(ceil(d_in / rows), ceil(d_out / cols))


def burst_latency_ps(tokens: int, tile: AimcTile) -> int:
    """Closed form: first DAC start to last ADC end for `tokens` inputs all ready at once."""
    phases = tile.phases_ps
    if tile.pipelined:
        return sum(phases) + (tokens - 1) * max(phases)
    return tokens * sum(phases)


class TileTimer:
    """Phase-level schedule of one tile group, token by token, carried across bursts.

    Each phase serves one token at a time (a flow shop): token j enters a phase when it left the
    previous one and token j-1 left this one. `run` returns the first phase start and the last
    phase end of a burst; the state keeps when each phase is next free.
    """

    __slots__ = ("_adc_free", "_dac_free", "_int_free", "_phases", "_pipelined")

    def __init__(self, tile: AimcTile) -> None:
        self._phases = tile.phases_ps
        self._pipelined = tile.pipelined
        self._dac_free = self._int_free = self._adc_free = 0

    def run(self, ready_ps: int, tokens: int) -> tuple[int, int]:
        """Schedule `tokens` MVMs whose inputs are all present at `ready_ps`."""
        dac, integ, adc = self._phases
        start, self._dac_free, self._int_free, self._adc_free = _burst(
            ready_ps, tokens, dac, integ, adc, self._dac_free, self._int_free, self._adc_free,
            self._pipelined)
        return start, self._adc_free

    def state(self) -> tuple[int, int, int]:
        """When each phase (DAC, integration, ADC) is next free, in ps."""
        return self._dac_free, self._int_free, self._adc_free

    def restore(self, dac_free_ps: int, int_free_ps: int, adc_free_ps: int) -> None:
        """Set when each phase is next free (a replayed op's tiles, `aimcsim.sim.replay`)."""
        self._dac_free, self._int_free, self._adc_free = dac_free_ps, int_free_ps, adc_free_ps


@njit(cache=True)
def _burst(
    ready: int, tokens: int, dac: int, integ: int, adc: int, d_free: int, i_free: int,
    a_free: int, pipelined: bool,
) -> tuple[int, int, int, int]:
    """The flow-shop recurrence of `TileTimer.run`, token by token (compiled: a hot loop)."""
    if not pipelined:
        d_free = a_free
        i_free = a_free
    start = max(ready, d_free)
    for _ in range(tokens):
        d_end = max(ready, d_free) + dac
        i_end = max(d_end, i_free) + integ
        a_end = max(i_end, a_free) + adc
        if pipelined:
            d_free, i_free, a_free = d_end, i_end, a_end
        else:
            d_free = a_end
            i_free = a_end
            a_free = a_end
    return start, d_free, i_free, a_free


def array_energy_pj(read_voltage_v: float, conductance_us: float, duty: float,
                    integration_ns: float) -> float:
    """Energy one weight's cells dissipate in one MVM (pJ): its conductance at the read voltage
    for the time its input pulse is on, G x V^2 x duty x integration time (a pulse-width
    input; the charge of the lines is the drivers')."""
    return read_voltage_v ** 2 * conductance_us * 1e-6 * duty * integration_ns * 1e-9 * 1e12


def line_energy_pj(columns: int, ff_per_column: float, driver_ff: float, swing_v: float
                   ) -> float:
    """Energy of driving one input line for one MVM (pJ): the line's capacitance (a share
    per column it crosses and the driver's own) charged through the swing, C x V^2."""
    return (columns * ff_per_column + driver_ff) * 1e-15 * swing_v ** 2 * 1e12
