"""The console text of the commands, in one place: what `aimcsim run` (and `gpu`) print of
their results, built from the library's results and summaries (no command computes it), and
the one number formatter every console and report table uses (`formatted`: significant
digits, thousands separators, units scaled: 170656500.0 ns is '170.7 ms')."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from aimcsim.gpu import Gpu
from aimcsim.params.units import DISPLAY_UNITS
from aimcsim.spec.arch import Arch
from aimcsim.spec.workload import Workload

_PARTS = {"aimc_pj": "tiles", "pmca_pj": "cluster compute", "tcdm_pj": "TCDM", "dma_pj": "DMA",
          "noc_pj": "links", "cim_pj": "SRAM-CIM"}

# ---- numbers ------------------------------------------------------------------------------
#: the units a figure is shown in, by the unit aimcsim stores it in (smallest first)
SCALES = DISPLAY_UNITS
#: what a table shows for a missing figure (None, NaN)
MISSING = "–"
DIGITS = 4  # significant digits of a figure
PERCENT_DIGITS = 3  # of a percentage, a ratio


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _significant(value: float, digits: int) -> float:
    return float(f"{value:.{digits - 1}e}")


def number(value: Any, digits: int = DIGITS) -> str:
    """`value` to `digits` significant digits with thousands separators, never fewer digits
    than its integer part: 76438.74 is '76,439', 0.0031504 is '0.003150'; an integer (or a
    whole float) exactly, '1,234'; None or NaN '–'; anything else as text."""
    if value is None:
        return MISSING
    if not _real(value):
        return str(value)
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    value = float(value)
    if math.isnan(value):
        return MISSING
    if math.isinf(value) or (value.is_integer() and abs(value) < 1e15):
        return f"{value:,.0f}" if math.isfinite(value) else str(value)
    rounded = _significant(value, digits)
    exponent = math.floor(math.log10(abs(rounded)))
    if exponent < -4:
        return f"{rounded:.{digits - 1}e}"
    if exponent >= digits - 1:  # (its integer part whole: 76438.74 is 76,439, not 76,440)
        return f"{value:,.0f}"
    return f"{rounded:,.{digits - 1 - exponent}f}"


def quantity(value: Any, unit: str, digits: int = DIGITS) -> str:
    """`value`, stored in `unit` (a key of `SCALES`), in the largest of its units it is at
    least one of: 170656500.0 ns is '170.7 ms', 78464 B '76.62 KiB'."""
    if not _real(value) or not math.isfinite(float(value)):
        return number(value, digits)
    scales = SCALES[unit]
    name, size = scales[0]
    for bigger, big in scales[1:]:
        if abs(_significant(float(value) / big, digits)) >= 1:
            name, size = bigger, big
    return f"{number(value / size, digits)} {name}"


def percent(fraction: Any, digits: int = PERCENT_DIGITS, sign: bool = False) -> str:
    """A fraction as a percentage to `digits` significant digits: 0.3496 is '35.0%', 0.0013
    '0.130%'; `sign`: '+35.0%'."""
    if not _real(fraction) or math.isnan(float(fraction)):
        return number(fraction)
    text = number(float(fraction) * 100, digits) + "%"
    return "+" + text if sign and fraction > 0 else text


def formatted(value: Any, unit: str | None = None) -> str:
    """A figure as every table shows it: `unit` a key of `SCALES` (scaled), '%' (a fraction
    as a percentage), '+%' (signed), 'x' (a ratio), another unit written after the number
    ('tokens/s'), or None (a plain number; text as it is)."""
    if unit is None:
        return number(value)
    if unit in SCALES:
        return quantity(value, unit)
    if unit in ("%", "+%"):
        return percent(value, sign=unit == "+%")
    if unit == "x":
        return number(value, PERCENT_DIGITS) + "x" if _real(value) else number(value)
    text = number(value)
    return text if text == MISSING else f"{text} {unit}"


def table_lines(rows: Sequence[Mapping[str, str]], indent: str = "") -> list[str]:
    """Rows of text by column (the first row's keys are the header), aligned: the first
    column and any of text to the left, a column of figures (every cell starts as a number
    does) to the right."""
    if not rows:
        return []
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    right = {c for c in columns[1:] if all(r[c][:1] in _NUMERIC for r in rows)}

    def line(cells: Mapping[str, str]) -> str:
        return indent + "  ".join(cells[c].rjust(widths[c]) if c in right else
                                  cells[c].ljust(widths[c]) for c in columns).rstrip()

    return [line(dict(zip(columns, columns, strict=True))), *map(line, rows)]


_NUMERIC = set("0123456789+-.") | {MISSING}


def axis_value(value: Any) -> str:
    """An axis value as a sweep point's label writes it (128, 0.5, overlapped)."""
    if _real(value):
        value = float(value)
        return f"{value:.0f}" if value.is_integer() else f"{value:g}"
    return str(value)


def point_label(values: Mapping[str, Any]) -> str:
    """A sweep point by its axis values: 'aimc.integration_time_ns=128,
    pipeline.parallel_tokens=16'."""
    return ", ".join(f"{axis}={axis_value(v)}" for axis, v in values.items())


# ---- the lines of a run -------------------------------------------------------------------
def gpu_line(gpu: Gpu, workload: Workload, ref: Mapping[str, Any], label: str = "") -> str:
    """One line of a GPU estimate: latency, energy (per token), power, bounds."""
    step = workload.tokens == 1 and workload.context > 1
    phase = f"decode step over {workload.context} keys" if step else \
        f"{workload.tokens} tokens"
    per = "" if workload.tokens == 1 else f" ({quantity(ref['per_token_pj'], 'pJ')} per token)"
    return (f"GPU estimate{label} ({gpu.name}, roofline at measured efficiencies, not "
            f"simulated), {phase}: latency {quantity(ref['latency_ns'], 'ns')}, energy "
            f"{quantity(ref['energy_pj'], 'pJ')}{per}, {ref['average_power_w']:.0f} W; "
            f"{ref['compute_bound_ops']} of {ref['n_ops']} ops compute-bound, "
            f"{ref['attention']} attention")


def against_gpu_line(mine: Mapping[str, Any], ref: Mapping[str, Any]) -> str:
    """The run against a GPU's estimate of the same trace: its latency and, with a technology
    file, its energy per token, each as a ratio and as 'the chip is N x slower'."""
    times = mine["total_latency_ns"] / ref["latency_ns"]
    text = (f"  this run against it: latency {quantity(mine['total_latency_ns'], 'ns')}, "
            f"{formatted(times, 'x')} its latency (the chip is "
            + (f"{formatted(times, 'x')} slower)" if times >= 1 else
               f"{formatted(1 / times, 'x')} faster)"))
    energy = mine["energy"].get("per_token_pj")
    if energy:
        share = energy / ref["per_token_pj"]
        text += (f"; energy {quantity(energy, 'pJ')} per token, {percent(share)} of its "
                 "energy per token (the chip uses "
                 + (f"{formatted(1 / share, 'x')} less)" if share <= 1 else
                    f"{formatted(share, 'x')} more)"))
    return text


def run_lines(arch: Arch, workload: Workload, summary: Mapping[str, Any], results: Any,
              *, gpu: Gpu | None = None, settings_file: Any = None,
              settings: Mapping[str, Any] | None = None) -> list[str]:
    """What `aimcsim run` prints of `summary` (`aimcsim.results.run_summary`) and the
    per-mode `results` (`settings`: the ops' own pipelines the run settings file gave)."""
    modes = list(results)
    first = results[modes[0]].summary
    lines = [f"{workload.name} on {arch.name}: {workload.tokens} tokens"
             + _settings_text(arch, workload, settings_file, settings or {}),
             f"tiles: {first['tiles']} of {arch.aimc.rows} x {arch.aimc.cols}"
             + (f" ({percent(first['tile_budget_used'])} of the chip's {first['chip_tiles']})"
                if first["chip_tiles"] else "")
             + f", {percent(first['cell_utilisation'])} of their cells programmed"]
    lines += table_lines([_headline(m, summary["modes"][m]) for m in modes])
    if "static_overhead" in summary:
        s, total = summary["static_overhead"], summary["total_overhead"]
        lines.append(f"per-layer overhead of the {s['layers']} static layers (hybrid / "
                     f"aimc-only - 1): min {percent(s['min'])}, median {percent(s['median'])}, "
                     f"max {percent(s['max'])}; whole network {percent(total)}")
    lines += energy_lines(results)
    if gpu is not None:
        for m, r in results.items():
            ref = summary["modes"][m]["gpu_estimate"]
            lines.append(gpu_line(gpu, workload, ref, f" {m}"))
            lines.append(against_gpu_line(r.summary, ref))
    lines += area_lines(results)
    return lines


def _headline(mode: str, s: Mapping[str, Any]) -> dict[str, str]:
    """A mode's row of the run's headline table, from its summary in `summary.json`."""
    energy, area = s["energy"], s["area"]
    return {"mode": mode, "latency": quantity(s["total_latency_ns"], "ns"),
            "tokens/s": number(s.get("throughput_tokens_per_s")),
            "tile util.": percent(s["utilisation"]["aimc"]),
            "cluster util.": percent(s["utilisation"]["pmca"]),
            "static ops": number(s["per_kind"].get("static_linear", {}).get("ops", 0)),
            "energy": quantity(energy.get("total_pj"), "pJ"),
            "EDP": quantity(energy.get("edp_pj_s"), "pJ*s"),
            "area": quantity(area.get("total_mm2") if area else None, "mm^2")}


def _settings_text(arch: Arch, workload: Workload, settings_file: Any,
                   settings: Mapping[str, Any]) -> str:
    """How the run's ops ran, as the header says it: the one pipeline of them all, or with
    per-op settings how many ops the file gave their own pipeline and how the others ran."""
    if not settings:
        return (", " + _pipelines(workload, [arch.pipeline])
                + (f" (run settings from {settings_file})" if settings_file else ""))
    ops = len(workload.ops)
    text = (f"; per-op settings from {settings_file}: {len(settings)} ops with their own "
            f"pipeline ({_pipelines(workload, settings.values())})")
    if len(settings) == ops:
        return text + f", every op of the {ops}"
    return (text + f", the other {ops - len(settings)}: "
            + _pipelines(workload, [arch.pipeline]))


def _pipelines(workload: Workload, pipes: Any) -> str:
    """'overlapped, 16 parallel tokens' of ops that run so; 'double-buffered, 4 to 16
    parallel tokens' of several (a block holds at most the workload's tokens)."""
    pipes = list(pipes)
    strategies = "/".join(dict.fromkeys(str(p.strategy) for p in pipes))
    tokens = [min(p.parallel_tokens, workload.tokens) for p in pipes]
    low, high = min(tokens), max(tokens)
    return f"{strategies}, {low if low == high else f'{low} to {high}'} parallel tokens"


def energy_lines(results: Any) -> list[str]:
    """A line per mode of its energy by component, per token and per operation."""
    lines = []
    for m, r in results.items():
        energy = r.summary["energy"]
        if energy:
            parts = ", ".join(f"{_PARTS[k]} {quantity(v, 'pJ')}" for k, v in
                              energy["dynamic_pj"].items() if v or k != "cim_pj")
            static = sum(energy["static_pj"].values())
            lines.append(f"energy {m}: {quantity(energy['total_pj'], 'pJ')} ({parts}; static "
                         f"{quantity(static, 'pJ')}), {quantity(energy['per_token_pj'], 'pJ')} "
                         f"per token, {number(energy['tops_per_w'])} TOPS/W "
                         f"[{energy['technology']}]")
    return lines


def area_lines(results: Any) -> list[str]:
    """The area of what the run uses per mode, and of one tile and one cluster by part."""
    areas = {m: r.summary["area"] for m, r in results.items() if r.summary["area"]}
    if not areas:
        return []
    a = next(iter(areas.values()))
    return ["area of what the run uses: " + "; ".join(
        f"{m} {quantity(a['total_mm2'], 'mm^2')} (tiles {number(a['aimc_mm2'])}, clusters "
        f"{number(a['pmca_mm2'])}, links {number(a['noc_mm2'])}"
        + (f", SRAM-CIM macros {number(a['cim_mm2'])}" if "cim_mm2" in a else "") + ")"
        for m, a in areas.items()),
        "one tile: " + _parts_text(a["tile_mm2"]) + "; one cluster: "
        + _parts_text(a["cluster_mm2"])]


def _parts_text(parts: dict[str, float]) -> str:
    """`{"array_mm2": 2.48, ...}` as 'array 2.480, ... mm^2'."""
    return ", ".join(f"{k.removesuffix('_mm2').replace('_', ' ')} {number(v)}"
                     for k, v in parts.items()) + " mm^2"


__all__ = ["DIGITS", "MISSING", "SCALES", "against_gpu_line", "area_lines", "axis_value",
           "energy_lines", "formatted", "gpu_line", "number", "percent", "point_label",
           "quantity", "run_lines", "table_lines"]
