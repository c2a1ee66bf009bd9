"""Energy and area: the components' event counters times their technology's costs.

Per layer (`layer_energy`, closed form per component, in pJ):

    energy_aimc_pj = analog_macs x cell_pj + dac_conversions x dac_pj + adc_conversions x adc_pj
    energy_pmca_pj = macs x mac_pj[lora.dtype] + element_ops x element_op_pj
    energy_tcdm_pj = tcdm_read_bytes x tcdm_read_pj_per_byte
                     + tcdm_write_bytes x tcdm_write_pj_per_byte
    energy_dma_pj  = dma_bytes x dma_pj_per_byte
    energy_noc_pj  = noc_link_bytes x pj_per_byte
    energy_cim_pj  = cim_macs x sram_cim.mac_pj (the LoRA branch on SRAM-CIM macros)
    energy_pj      = the sum of the six (dynamic energy)

Per run (`run_energy`): the layers' dynamic energy by component, the static energy of every
tile, cluster, link and SRAM-CIM macro the run used (leakage x total latency), energy per
token, TOPS/W (2 x (analog + digital + SRAM-CIM MACs) per joule) and the energy-delay
product; `area` sums tile, cluster, link and macro areas. Without a technology file every
energy is NaN and no area is given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from aimcsim.spec.tech import Technology

#: The energy columns of `layers`, by component (see the module docstring).
ENERGY_COLUMNS = ("energy_aimc_pj", "energy_pmca_pj", "energy_tcdm_pj", "energy_dma_pj",
                  "energy_noc_pj", "energy_cim_pj")
_PJ_PER_J = 1e12
_PS_PER_S = 1e12


def layer_energy(counts: Any, tech: Technology | None, dtype: str) -> dict[str, Any]:
    """The energy columns of one layer row from its counters (a mapping of numbers), or of
    every row at once (a mapping of numpy counter columns: columns back)."""
    if tech is None:
        return {**dict.fromkeys(ENERGY_COLUMNS, math.nan), "energy_pj": math.nan}
    cim = counts["cim_macs"]
    a, p, n = tech.aimc, tech.pmca, tech.interconnect
    parts = {
        "energy_aimc_pj": counts["analog_macs"] * a.cell_pj
        + counts["dac_conversions"] * a.dac_pj + counts["adc_conversions"] * a.adc_pj,
        "energy_pmca_pj": counts["macs"] * p.mac(dtype) + counts["element_ops"] * p.element_op_pj,
        "energy_tcdm_pj": counts["tcdm_read_bytes"] * p.tcdm_read_pj_per_byte
        + counts["tcdm_write_bytes"] * p.tcdm_write_pj_per_byte,
        "energy_dma_pj": counts["dma_bytes"] * p.dma_pj_per_byte,
        "energy_noc_pj": counts["noc_link_bytes"] * n.pj_per_byte,
        "energy_cim_pj": (cim * tech.sram_cim.mac_pj if tech.sram_cim
                          else np.where(cim == 0, 0.0, math.nan)
                          if isinstance(cim, np.ndarray) else 0.0 if not cim else math.nan),
    }
    return {**parts, "energy_pj": sum(parts.values())}


def area(tech: Technology | None, tiles: int, clusters: int, links: int, macros: int = 0
         ) -> dict[str, float]:
    """Area of the components a run used, and their sum (mm^2)."""
    if tech is None:
        return {}
    parts = {"aimc_mm2": tiles * tech.aimc.area_mm2, "pmca_mm2": clusters * tech.pmca.area_mm2,
             "noc_mm2": links * tech.interconnect.area_mm2}
    if macros:
        parts["cim_mm2"] = macros * tech.sram_cim.area_mm2 if tech.sram_cim else math.nan
    return {**parts, "total_mm2": sum(parts.values())}


def static_energy(tech: Technology, latency_ns: float, *, tiles: int = 0, clusters: int = 0,
                  links: int = 0, macros: int = 0) -> dict[str, float]:
    """Leakage x latency of the components given, by component (pJ; mW x s = 1e-3 J)."""
    seconds = latency_ns * 1e3 / _PS_PER_S
    static = {
        "aimc_pj": tiles * tech.aimc.leakage_mw * 1e-3 * seconds * _PJ_PER_J,
        "pmca_pj": clusters * tech.pmca.leakage_mw * 1e-3 * seconds * _PJ_PER_J,
        "noc_pj": links * tech.interconnect.leakage_mw * 1e-3 * seconds * _PJ_PER_J,
    }
    if macros and tech.sram_cim is not None:
        static["cim_pj"] = macros * tech.sram_cim.leakage_mw * 1e-3 * seconds * _PJ_PER_J
    return static


def run_energy(layers: pd.DataFrame | Mapping[str, Any], tech: Technology | None, *,
               total_latency_ns: float, tokens: int, tiles: int, clusters: int, links: int,
               macros: int = 0) -> dict[str, Any]:
    """A run's energy (see the module docstring); empty without a technology file. `layers`:
    the table, or its columns (arrays)."""
    if tech is None:
        return {}
    dynamic = {col.removeprefix("energy_"): float(layers[col].sum()) for col in ENERGY_COLUMNS}
    seconds = total_latency_ns * 1e3 / _PS_PER_S
    static = static_energy(tech, total_latency_ns, tiles=tiles, clusters=clusters, links=links,
                           macros=macros)
    total = sum(dynamic.values()) + sum(static.values())
    ops = 2 * float(layers["analog_macs"].sum() + layers["macs"].sum()
                    + layers["cim_macs"].sum())
    return {
        "technology": tech.name,
        "dynamic_pj": dynamic,
        "static_pj": static,
        "total_pj": total,
        "per_token_pj": total / tokens,
        "tops_per_w": ops / total if total else math.nan,  # ops/pJ = TOPS/W
        "edp_pj_s": total * seconds,
    }


__all__ = ["ENERGY_COLUMNS", "area", "layer_energy", "run_energy", "static_energy"]
