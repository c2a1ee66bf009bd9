"""Energy and area: the components' event counters times the prices their geometry gets from
the technology file (`prices`, made once per architecture and L2 size).

Per layer (`layer_energy`, closed form per component, in pJ):

    energy_aimc_pj = analog_macs x array_pj_per_mac + dac_conversions x input_pj
                     + adc_conversions x adc_pj
      array_pj_per_mac = read_voltage_v^2 x weight_conductance x input_duty x integration time
      input_pj = (cols x line_ff_per_column + driver_ff) x input_swing_v^2 (one input line
      driven for one MVM: `aimcsim.hw.aimc_tile.line_energy_pj`)
      adc_pj: the measured converter's, or the survey fit at the tile's bits, its rate
      (columns_per_adc conversions per output phase) and the node (`aimcsim.hw.converters`),
      less its static share
    energy_pmca_pj = macs x mac_pj[lora.dtype] + element_ops x element_op_pj
    energy_tcdm_pj = tcdm_read_bytes x (bank read / bank width + interconnect_pj_per_byte)
                     + tcdm_write_bytes x (bank write / bank width + interconnect_pj_per_byte)
      (the counters are bank traffic: word accesses x bank width; a bank is priced by its
      bytes and width from the `sram` grid, `aimcsim.hw.sram`)
    energy_dma_pj  = dma_bytes x (L2 bank read / L2 bank width + dma_pj_per_byte)
      (the TCDM writes of the DMA are bank accesses, in energy_tcdm_pj)
    energy_noc_pj  = noc_link_bytes x pj_per_byte
    energy_cim_pj  = cim_macs x sram_cim.mac_pj (the LoRA branch on SRAM-CIM macros)
    energy_pj      = the sum of the six (dynamic energy)

Static energy (power gating as assumed here): a tile's converters leak only while the tile is
busy (`aimc_busy_ns` of its ops: their bias is switched off between MVM bursts, as the
converters of a tile that waits for its layer can be); everything else the run uses leaks for
the whole run, ungated: a tile's drivers (`aimc.leakage_mw`), each cluster's cores, TCDM banks
(they hold the resident LoRA weights A and B throughout) and L2 banks (the held operands),
each link and SRAM-CIM macro.

Area: a tile = rows x cols unit cells + rows input drivers + its ADCs (ceil(cols /
columns_per_adc)); a cluster = cores x core + TCDM banks + L2 banks + DMA + the TCDM
interconnect's ports x banks crosspoints (+ the matrix engine's FMAs) (ports: 4 per streaming
core (3 stream registers and the load/store unit), 1 per load-use core, the DMA's words per
cycle, the matrix engine's words per cycle); reported by part.

Without a technology file every energy is NaN and no area is given.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from aimcsim.errors import AimcsimWarning
from aimcsim.hw.aimc_tile import array_energy_pj, line_energy_pj
from aimcsim.hw.engines import engine
from aimcsim.spec.tech import Technology

#: The energy columns of `layers`, by component (see the module docstring).
ENERGY_COLUMNS = ("energy_aimc_pj", "energy_pmca_pj", "energy_tcdm_pj", "energy_dma_pj",
                  "energy_noc_pj", "energy_cim_pj")
_PJ_PER_J = 1e12
_PS_PER_S = 1e12
#: One lithography field (26 mm x 33 mm): a chip above it cannot be made in one exposure.
RETICLE_MM2 = 858.0
_STREAM_PORTS = 4  # a streaming core's TCDM ports: 3 stream registers and its load/store unit
L2_MIN_BANK_BYTES = 2048  # an unbounded L2 is priced at least this big per bank


class CostWarning(AimcsimWarning):
    """A price could not be made from the technology file (a bank outside its CACTI grid, a
    bank too slow for the clock, a chip above a reticle): the message names the field."""


@dataclass(frozen=True)
class Prices:
    """What one event of each kind costs on one architecture (pJ), what each component leaks
    (mW) and its area by part (mm^2): the technology file applied to the architecture's
    geometry (`prices`)."""

    array_pj_per_mac: float
    input_pj: float
    adc_pj: float
    mac_pj: float
    element_op_pj: float
    tcdm_read_pj_per_byte: float
    tcdm_write_pj_per_byte: float
    dma_pj_per_byte: float
    noc_pj_per_byte: float
    cim_mac_pj: float
    tile_mw: float
    tile_busy_mw: float
    cluster_mw: float
    link_mw: float
    macro_mw: float
    tile_area_mm2: dict[str, float] = field(hash=False, compare=False)
    cluster_area_mm2: dict[str, float] = field(hash=False, compare=False)
    link_area_mm2: float = 0.0
    macro_area_mm2: float = math.nan
    l2_bytes: int = 0
    warnings: tuple[str, ...] = ()


def l2_priced_bytes(arch: Any, held_bytes: int) -> int:
    """The L2 a cluster is priced at: `memory.l2_bytes` where set, else (unbounded) the
    smallest one of its banks, each a power of two of at least 2 KiB, that holds `held_bytes`."""
    memory = _memory(arch)
    if memory.l2_bytes:
        return memory.l2_bytes
    banks = memory.l2_banks
    per_bank = max(L2_MIN_BANK_BYTES, 1 << max(0, math.ceil(held_bytes / banks) - 1).bit_length())
    return banks * per_bank


def _memory(arch: Any) -> Any:
    """The architecture's `memory` section, or its defaults where it has none."""
    from aimcsim.hw.memory import Memory

    return arch.memory if arch.memory is not None else Memory()


@lru_cache(maxsize=256)
def prices(arch: Any, l2_bytes: int) -> Prices | None:
    """The architecture's prices (see the module docstring); None without a technology file.
    Each field that cannot be priced is NaN, and `warnings` says why (given once per
    architecture by `warn`)."""
    tech: Technology | None = arch.technology
    if tech is None:
        return None
    from aimcsim.hw.converters import adc_area_mm2, adc_energy_pj

    notes: list[str] = []
    t, a = tech.aimc, arch.aimc
    array = array_energy_pj(t.read_voltage_v, t.weight_conductance_us, t.input_duty,
                            a.integration_time_ns)
    line = line_energy_pj(a.cols, t.line_ff_per_column, t.driver_ff, t.input_swing_v)
    adcs = math.ceil(a.cols / a.columns_per_adc)
    window_ns = a.adc_ns or a.integration_time_ns  # the output phase the ADCs must meet
    rate_hz = a.columns_per_adc / (window_ns * 1e-9)  # conversions a second, one ADC
    if t.adc_model == "measured":
        if t.adc_bits != a.adc_bits:
            notes.append(f"{tech.file}: aimc.adc_bits = {t.adc_bits:g} (the measured "
                         f"converter) but the architecture's aimc.adc_bits = {a.adc_bits}: "
                         "the tile's ADC energy and area are NaN")
            adc_pj = adc_mm2 = math.nan
        else:
            adc_pj, adc_mm2 = t.adc_pj, t.adc_area_um2 * 1e-6
        adc_mw = t.adc_leakage_uw * 1e-3
    else:
        fit_pj = adc_energy_pj(a.adc_bits, rate_hz, tech.node_nm)
        adc_mm2 = adc_area_mm2(a.adc_bits, rate_hz, tech.node_nm)
        adc_pj = (1 - t.adc_static_share) * fit_pj
        adc_mw = t.adc_static_share * fit_pj * 1e-12 * rate_hz * 1e3
    tile_area = {"array_mm2": a.rows * a.cols * t.weight_area_um2 * 1e-6,
                 "input_drivers_mm2": a.rows * t.input_area_um2 * 1e-6,
                 "adc_mm2": adcs * adc_mm2}
    tile_mw = t.leakage_mw
    tile_busy_mw = adcs * adc_mw  # converters: gated while their tile is idle

    p, c = arch.pmca, tech.pmca
    bank = _bank(tech, "pmca.tcdm_bytes / pmca.tcdm_banks", p.tcdm_bytes / p.tcdm_banks,
                 p.bank_width_bytes, notes, period_ns=p.period_ps / 1000)
    memory = _memory(arch)
    l2_banks, l2_width = memory.l2_banks, memory.l2_bank_width_bytes
    l2 = _bank(tech, "memory.l2_bytes / memory.l2_banks", l2_bytes / l2_banks, l2_width,
               notes)
    ports = p.cores * (_STREAM_PORTS if p.streaming else 1) + \
        p.dma_bytes_per_cycle // p.bank_width_bytes
    if p.matrix_engine is not None:
        e = p.matrix_engine
        ports += math.ceil(e.height * (e.pipe_regs + 1) * 2 / p.bank_width_bytes)
    cluster_area = {"cores_mm2": p.cores * c.core_area_mm2,
                    "tcdm_mm2": p.tcdm_banks * bank.area_mm2,
                    "l2_mm2": l2_banks * l2.area_mm2,
                    "dma_mm2": c.dma_area_mm2,
                    "interconnect_mm2": ports * p.tcdm_banks * c.crosspoint_area_um2 * 1e-6}
    if p.matrix_engine is not None:
        cluster_area["engine_mm2"] = p.matrix_engine.fmas * c.engine_area_mm2_per_fma
    cluster_mw = p.cores * c.core_leakage_mw + p.tcdm_banks * bank.leakage_mw \
        + l2_banks * l2.leakage_mw
    chosen = engine(arch.lora.engine)
    cim = tech.engine_tech(chosen.tech_section) if chosen.tech_section else None
    return Prices(
        array_pj_per_mac=array, input_pj=line, adc_pj=adc_pj,
        mac_pj=c.mac(arch.lora.dtype) if arch.lora.dtype in dict(c.mac_pj) else math.nan,
        element_op_pj=c.element_op_pj,
        tcdm_read_pj_per_byte=bank.read_pj / p.bank_width_bytes + c.interconnect_pj_per_byte,
        tcdm_write_pj_per_byte=bank.write_pj / p.bank_width_bytes
        + c.interconnect_pj_per_byte,
        dma_pj_per_byte=l2.read_pj / l2_width + c.dma_pj_per_byte,
        noc_pj_per_byte=tech.interconnect.pj_per_byte,
        cim_mac_pj=cim.mac_pj if cim is not None else math.nan,
        tile_mw=tile_mw, tile_busy_mw=tile_busy_mw, cluster_mw=cluster_mw,
        link_mw=tech.interconnect.leakage_mw,
        macro_mw=cim.leakage_mw if cim is not None else math.nan,
        tile_area_mm2=tile_area, cluster_area_mm2=cluster_area,
        link_area_mm2=tech.interconnect.area_mm2,
        macro_area_mm2=cim.area_mm2 if cim is not None else math.nan,
        l2_bytes=l2_bytes, warnings=tuple(notes))


def _bank(tech: Technology, what: str, bank_bytes: float, width_bytes: int, notes: list[str],
          period_ns: float = 0.0):
    grid = tech.sram
    cost = grid.price(bank_bytes, width_bytes * 8)
    if not grid.covers(bank_bytes, width_bytes * 8):
        notes.append(f"{tech.file}: sram: a bank of {bank_bytes:g} bytes ({what}) in "
                     f"{width_bytes * 8}-bit words is outside the CACTI grid "
                     f"({grid.range_text()}): its energy, leakage and area are NaN")
    elif math.isnan(cost.read_pj):
        notes.append(f"{tech.file}: sram: CACTI gave no organisation near a bank of "
                     f"{bank_bytes:g} bytes in {width_bytes * 8}-bit words ({what}): NaN")
    elif period_ns and cost.access_ns > period_ns:
        notes.append(f"{tech.file}: sram: a {bank_bytes:g}-byte bank ({what}) takes "
                     f"{cost.access_ns:.3g} ns to access in CACTI's {grid.transistor} "
                     f"cells, longer than the cluster's clock period ({period_ns:g} ns, "
                     "pmca.freq_mhz): one access a cycle is optimistic")
    return cost


def warn(price: Prices | None) -> None:
    """Give the prices' warnings (each once per architecture: `prices` is memoised)."""
    if price is None:
        return
    for note in price.warnings:
        warnings.warn(note, CostWarning, stacklevel=3)


def layer_energy(counts: Any, price: Prices | None) -> dict[str, Any]:
    """The energy columns of one layer row from its counters (a mapping of numbers), or of
    every row at once (a mapping of numpy counter columns: columns back)."""
    if price is None:
        return {**dict.fromkeys(ENERGY_COLUMNS, math.nan), "energy_pj": math.nan}
    cim = counts["cim_macs"]
    p = price
    parts = {
        "energy_aimc_pj": counts["analog_macs"] * p.array_pj_per_mac
        + counts["dac_conversions"] * p.input_pj + counts["adc_conversions"] * p.adc_pj,
        "energy_pmca_pj": counts["macs"] * p.mac_pj + counts["element_ops"] * p.element_op_pj,
        "energy_tcdm_pj": counts["tcdm_read_bytes"] * p.tcdm_read_pj_per_byte
        + counts["tcdm_write_bytes"] * p.tcdm_write_pj_per_byte,
        "energy_dma_pj": counts["dma_bytes"] * p.dma_pj_per_byte,
        "energy_noc_pj": counts["noc_link_bytes"] * p.noc_pj_per_byte,
        "energy_cim_pj": (np.where(cim == 0, 0.0, cim * p.cim_mac_pj)
                          if isinstance(cim, np.ndarray) else 0.0 if not cim
                          else cim * p.cim_mac_pj),
    }
    return {**parts, "energy_pj": sum(parts.values())}


def area(price: Prices | None, tiles: int, clusters: int, links: int, macros: int = 0,
         chip_tiles: int | None = None) -> dict[str, Any]:
    """Area of the components a run used by part, and their sum (mm^2); `chip_tiles`: the
    chip's tile budget (its tiles all count when given). Warns above a reticle."""
    if price is None:
        return {}
    count = chip_tiles if chip_tiles else tiles
    tile = sum(price.tile_area_mm2.values())
    cluster = sum(price.cluster_area_mm2.values())
    parts: dict[str, Any] = {
        "aimc_mm2": count * tile, "pmca_mm2": clusters * cluster, "noc_mm2": links
        * price.link_area_mm2,
        "tile_mm2": dict(price.tile_area_mm2), "cluster_mm2": dict(price.cluster_area_mm2)}
    total = parts["aimc_mm2"] + parts["pmca_mm2"] + parts["noc_mm2"]
    if macros:
        parts["cim_mm2"] = macros * price.macro_area_mm2
        total += parts["cim_mm2"]
    if total > RETICLE_MM2:
        warnings.warn(f"the chip's area, {total:.0f} mm^2, is above one reticle "
                      f"({RETICLE_MM2:g} mm^2): it cannot be made as one die", CostWarning,
                      stacklevel=2)
    return {**parts, "total_mm2": total}


def static_power_mw(price: Prices, *, tiles: int = 0, clusters: int = 0, links: int = 0,
                    macros: int = 0) -> dict[str, float]:
    """Static power of the components given, by component (mW)."""
    static = {"aimc_mw": tiles * price.tile_mw, "pmca_mw": clusters * price.cluster_mw,
              "noc_mw": links * price.link_mw}
    if macros:
        static["cim_mw"] = macros * price.macro_mw
    return static


def static_energy(price: Prices, latency_ns: float, *, tile_busy_ns: float = 0.0,
                  **components: int) -> dict[str, float]:
    """Leakage x latency of the components given (`static_power_mw`'s keywords), and the tiles'
    converters' over `tile_busy_ns` (the tiles' busy time summed over tiles), by component
    (pJ; mW x s = 1e-3 J)."""
    seconds = latency_ns * 1e3 / _PS_PER_S
    static = {key.removesuffix("_mw") + "_pj": mw * 1e-3 * seconds * _PJ_PER_J
              for key, mw in static_power_mw(price, **components).items()}
    static["aimc_pj"] += price.tile_busy_mw * 1e-3 * tile_busy_ns * 1e-9 * _PJ_PER_J
    return static


def run_energy(layers: pd.DataFrame | Mapping[str, Any], price: Prices | None, *,
               technology: str, total_latency_ns: float, tokens: int, tiles: int,
               clusters: int, links: int, macros: int = 0) -> dict[str, Any]:
    """A run's energy (see the module docstring); empty without a technology file. `layers`:
    the table, or its columns (arrays)."""
    if price is None:
        return {}
    dynamic = {col.removeprefix("energy_"): float(layers[col].sum()) for col in ENERGY_COLUMNS}
    seconds = total_latency_ns * 1e3 / _PS_PER_S
    busy = float((np.asarray(layers["aimc_busy_ns"]) * np.asarray(layers["tiles"])).sum())
    static = static_energy(price, total_latency_ns, tile_busy_ns=busy, tiles=tiles,
                           clusters=clusters, links=links, macros=macros)
    total = sum(dynamic.values()) + sum(static.values())
    ops = 2 * float(layers["analog_macs"].sum() + layers["macs"].sum()
                    + layers["cim_macs"].sum())
    return {
        "technology": technology,
        "dynamic_pj": dynamic,
        "static_pj": static,
        "total_pj": total,
        "per_token_pj": total / tokens,
        "tops_per_w": ops / total if total else math.nan,  # ops/pJ = TOPS/W
        "edp_pj_s": total * seconds,
    }


__all__ = ["ENERGY_COLUMNS", "RETICLE_MM2", "CostWarning", "Prices", "area", "l2_priced_bytes",
           "layer_energy", "prices", "run_energy", "static_energy", "static_power_mw", "warn"]
