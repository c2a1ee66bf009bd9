"""An SRAM digital compute-in-memory engine: the HaLoRA home of the LoRA branch.

HaLoRA (Wu et al., arXiv 2502.19747) keeps the pretrained weights on RRAM tiles and each
layer's LoRA matrices A and B in noise-free SRAM compute-in-memory macros beside them. A macro
holds `rows` x `outputs` weights; an MVM feeds its inputs bit-serially (one input bit a cycle,
`input_bits` cycles), every column multiplies the bit by its weight and an adder tree sums the
rows, so a macro finishes `rows x outputs` MACs per `input_bits` cycles whatever the data.

The branch of one layer, weight-stationary (each layer owns its macros, as its tiles):
- A (d_in x r) on ceil(d_in / rows) x ceil(r / outputs) macros, B (r x d_out) on
  ceil(r / rows) x ceil(d_out / outputs); row slices' partial sums join in the adder tree.
- A token passes two stages, T = x A then u = T B, each `input_bits` cycles; tokens stream
  through the two stages, so a block of P tokens takes (P + 1) x input_bits cycles
  (`branch_cycles`).
- The engine reads the block's inputs as the tile does (both sit on the tile's input) and
  sends U (P x d_out values) over the tile's link to the cluster, which adds it to the tile
  output (and, with row slices, reduces the partial sums first).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil
from typing import Annotated, Any

from aimcsim.params.fields import declare, keys, read_section
from aimcsim.params.reader import Reader
from aimcsim.params.units import Clocked, clock


@dataclass(frozen=True, kw_only=True)
class SramCim(Clocked):
    """One SRAM compute-in-memory macro: the `sram_cim` section of an architecture file."""

    rows: Annotated[int, declare("inputs one macro sums (adder-tree depth)", ge=1, le=65_536)]
    outputs: Annotated[int, declare("weights per row, computed in parallel (columns / "
                                    "weight_bits)", ge=1, le=65_536)]
    input_bits: Annotated[int, declare("bits of each input, fed one a cycle (cycles per MVM "
                                       "stage)", ge=1, le=64)]
    weight_bits: Annotated[int, declare("bits of each stored weight (area and energy; the "
                                        "cycles do not depend on it)", ge=1, le=64)] = 8
    freq_mhz: Annotated[int, declare("macro clock; its period must be a whole number of ps",
                                     ge=1, le=100_000, unit="MHz")]


CIM_KEYS = keys(SramCim)


def read_sram_cim(r: Reader, data: Any) -> SramCim:
    """The `sram_cim` section (errors go to `r`)."""
    cim = read_section(r, SramCim, data, "sram_cim")
    clock(r, "sram_cim.freq_mhz", cim.freq_mhz)
    return cim


def macros(cim: SramCim, d_in: int, d_out: int, rank: int) -> int:
    """Macros holding one layer's A (d_in x r) and B (r x d_out)."""
    return (ceil(d_in / cim.rows) * ceil(rank / cim.outputs)
            + ceil(rank / cim.rows) * ceil(d_out / cim.outputs))


def branch_cycles(cim: SramCim, tokens: int) -> int:
    """Cycles of U = (X A) B for a block of `tokens` tokens: two pipelined stages of
    `input_bits` cycles each."""
    return (tokens + 1) * cim.input_bits


def branch_ps(cim: SramCim, tokens: int) -> int:
    return branch_cycles(cim, tokens) * cim.period_ps


def branch_macs(d_in: int, d_out: int, rank: int, tokens: int) -> int:
    """MACs the macros perform for `tokens` tokens: r (d_in + d_out) per token."""
    return tokens * rank * (d_in + d_out)


__all__ = ["CIM_KEYS", "SramCim", "branch_cycles", "branch_macs", "branch_ps", "macros",
           "read_sram_cim"]
