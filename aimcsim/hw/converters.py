"""Analog-to-digital converters: energy per conversion and area from a published survey fit.

The fit is the one of the PyPI package ``hwcomponents-adc`` 1.0.21 (T. Andrulis, R. Chen et
al., MIT; part of Accelergy/CiMLoop's hwcomponents), described in T. Andrulis, R. Chen,
H.-S. Lee, J. S. Emer, V. Sze, "Modeling Analog-Digital-Converter Energy and Area for
Compute-In-Memory Accelerator Design", arXiv:2404.06553 (2024). The package fits
B. Murmann's "ADC Performance Survey 1997-2023" (ISSCC and VLSI papers; the 215 usable rows
ship as ``hwcomponents_adc/adc_data/adc_list.csv``). It is re-implemented here with no
dependency on hwcomponents; tests/test_converters.py pins it to the package's own outputs.

With b the resolution (taken as ENOB, bits), f the conversion rate of one ADC (Hz) and
n the technology node (nm), all logarithms natural (``model.py`` lines 29-59):

    SNDR(b)  = 20 log10(2) b + 10 log10(1.5)                          [dB]  (headers.py:61-63)
    cap(b)   = FOMS_CAP_AT_0_DB + FOMS_CAP_PER_BIT_DB * min(ceil(b), 20)  [dB]
    FoMS     = min(FOMS_INTERCEPT_DB + FOMS_PER_LN_HZ_DB * ln f,  cap(b))     [dB]
    E0       = 1 / (2 * 10^((FoMS - SNDR) / 10))        (Schreier FoM solved for P / f)
    E  [pJ]  = E0 * exp(ENERGY_INTERCEPT + ENERGY_PER_LN_NM * ln n
                        + ENERGY_PER_LN_BIT * ln b + ENERGY_RESIDUAL)
    A [um^2] = exp(AREA_INTERCEPT + AREA_PER_LN_NM * ln n + AREA_PER_LN_HZ * ln f
                   + AREA_PER_LN_PJ * ln E)                        (model.py:16-26)

The Schreier figure of merit is bounded by the best designs at a resolution (``cap``, flat
in rate) and falls with the rate above a corner (the Pareto line): so the energy per
conversion does not depend on the rate below ``adc_corner_rate_hz(b)`` and rises as
f^0.66 above it. The correction exp(...) is a regression of the survey's measured energies
on node and ENOB that also carries the unit (J to pJ). The fits are placed optimistically
(``model.py`` build_model, lines 145-229): the cap at the 80th percentile of the survey's FoMs,
the Pareto line through the front of the designs below it, the energy correction at the 20th
percentile of its residuals, the area line lowered by the 90th percentile of its residuals.
Measured against the survey's own 198 designs in range, 30% lie below the energy fit
(median 2.6x above it, 10th-90th percentile 0.33x-20x) and 10% below the area fit: it
answers "a good ADC of the survey's trend for these parameters", not a given chip.

``hwcomponents_adc.ADC(n_bits, tech_node, throughput, n_adcs)`` takes an aggregate throughput
over n_adcs time-interleaved ADCs, prices each at ``throughput / n_adcs`` and returns the
area of all of them (optimizer.py:27-62). Here ``rate_hz`` is the rate of one ADC and the
area is that of one ADC: for an ADC shared by several crossbar columns, the rate is
columns x MVMs per second. The package books ``SURVEY_LEAK_SHARE`` of each conversion's
energy as leakage power at the declared throughput and the rest on its ``convert`` action
(main.py:122-187); ``adc_energy_pj`` returns the whole.

Validity. The package refuses fewer than 4 bits (main.py:120, optimizer.py:25). It declares
10 GS/s as its model's highest rate (``frequency (Hz): max value`` in adc_data/model.yaml,
hard-coded in model.py:157) but the ADC class asks for extrapolation (optimizer.py:34), so
it extrapolates silently above it; its cap table stops at 20 bits and is clamped beyond
(model.py:48-50). Here every one of those is refused with a ``ConverterRangeError`` (a
``ValueError``) naming the argument and its range, and so are rates and nodes outside the
survey's data (1 kS/s; 4-1000 nm), where the package has no check. The survey's ENOB reaches
17.2 bits: 17-20 bits is the package's table, not data.

Fractional ENOB is accepted as the package accepts it, but the fit is not monotone there:
cap uses ceil(b) (the fit itself was built with round(b), model.py:170), so the energy drops
by about 2x just above each integer below the corner rate (8.05 bits costs less than 8).
Over integer bits the energy and the area never decrease with the resolution.

No time-based converter is modelled: the energy per conversion and the area of one HERMES
CCO-based ADC (Khaddam-Aljameh et al., JSSC 2022) were not found published in the material
at hand, and are not guessed.
"""

from __future__ import annotations

import math

from aimcsim.errors import AimcsimError

# --- coefficients of hwcomponents-adc 1.0.21, hwcomponents_adc/adc_data/model.yaml ---------
# Schreier FoM (dB) against ln(rate in Hz): the Pareto line of the survey's designs
# (model.yaml lines 4 and 6, "FOMS_hf [dB]: frequency (Hz)" and "intercept").
FOMS_PER_LN_HZ_DB = -2.8719030399529957
FOMS_INTERCEPT_DB = 213.7806687348118
# The FoM cap by resolution: model.yaml lines 7-28 ("max_by_enob", 21 values for 0-20 bits),
# which build_model writes as this straight line (model.py:152-155).
FOMS_CAP_AT_0_DB = 128.3068287398817
FOMS_CAP_PER_BIT_DB = 3.2205115109775563
FOMS_CAP_LAST_BIT = 20  # the table's last entry; ceil(b) is clamped to it (model.py:48-50)
# The energy correction, ln(pJ) (model.yaml lines 29-32: "tech intercept", "tech slope",
# "enob slope", "energy (pJ/op) res").
ENERGY_INTERCEPT = 26.0496215686518
ENERGY_PER_LN_NM = 1.8800369206815004
ENERGY_PER_LN_BIT = -2.8291256050594527
ENERGY_RESIDUAL = -1.4702022133784405
# ln(area in um^2) against ln(node in nm), ln(rate in Hz), ln(energy in pJ)
# (model.yaml lines 36-40, "area (um^2)").
AREA_INTERCEPT = 1.3461916439910742
AREA_PER_LN_NM = 0.9932794744745022
AREA_PER_LN_HZ = 0.18071538424508238
AREA_PER_LN_PJ = 0.29912426192653485
# Share of a conversion's energy that the package books as leakage (main.py:123-124, 182-184).
SURVEY_LEAK_SHARE = 0.2

# --- where the fit holds ------------------------------------------------------------------
MIN_BITS = 4  # the package refuses fewer (main.py:120)
MAX_BITS = FOMS_CAP_LAST_BIT
MIN_RATE_HZ = 1e3  # the survey's slowest converter (adc_list.csv); the package has no bound
MAX_RATE_HZ = 1e10  # model.yaml "frequency (Hz): max value" = ln(1e10)
MIN_NODE_NM = 4.0  # the survey's nodes (adc_list.csv); the package has no bound
MAX_NODE_NM = 1000.0

UM2_PER_MM2 = 1e6


class ConverterRangeError(AimcsimError, ValueError):
    """A converter asked for outside the range its fit was made for."""


def _check(name: str, value: float, low: float, high: float, unit: str) -> float:
    # written so that NaN fails too
    if not (low <= value <= high):
        raise ConverterRangeError(
            f"{name}={value!r} is outside the survey fit's range [{low:g}, {high:g}] {unit}")
    return float(value)


def _checked(bits: float, rate_hz: float, node_nm: float) -> tuple[float, float, float]:
    return (_check("bits", bits, MIN_BITS, MAX_BITS, "bits"),
            _check("rate_hz", rate_hz, MIN_RATE_HZ, MAX_RATE_HZ, "Hz"),
            _check("node_nm", node_nm, MIN_NODE_NM, MAX_NODE_NM, "nm"))


def _sndr_db(bits: float) -> float:
    """An ideal quantiser's SNDR for a full-scale sine (hwcomponents_adc/headers.py:61-63)."""
    return bits * 20.0 * math.log10(2.0) + 10.0 * math.log10(1.5)


def _foms_cap_db(bits: float) -> float:
    return FOMS_CAP_AT_0_DB + FOMS_CAP_PER_BIT_DB * min(math.ceil(bits), FOMS_CAP_LAST_BIT)


def _energy_pj(bits: float, rate_hz: float, node_nm: float) -> float:
    foms_db = min(FOMS_INTERCEPT_DB + FOMS_PER_LN_HZ_DB * math.log(rate_hz), _foms_cap_db(bits))
    bound = 1.0 / (2.0 * 10.0 ** ((foms_db - _sndr_db(bits)) / 10.0))
    return bound * math.exp(ENERGY_INTERCEPT + ENERGY_PER_LN_NM * math.log(node_nm)
                            + ENERGY_PER_LN_BIT * math.log(bits) + ENERGY_RESIDUAL)


def adc_energy_pj(bits: float, rate_hz: float, node_nm: float) -> float:
    """Energy of one conversion (pJ) of an ADC of ``bits`` resolution (ENOB) converting at
    ``rate_hz`` conversions per second in a ``node_nm`` process, per the survey fit of
    hwcomponents-adc 1.0.21 (equations and sources in the module docstring). Leakage is
    included (the package books ``SURVEY_LEAK_SHARE`` of it as leakage power).

    Raises ``ConverterRangeError`` (a ``ValueError``) outside 4-20 bits, 1 kS/s-10 GS/s or
    4-1000 nm.
    """
    return _energy_pj(*_checked(bits, rate_hz, node_nm))


def adc_area_mm2(bits: float, rate_hz: float, node_nm: float) -> float:
    """Area (mm^2) of one such ADC, per the same fit: a regression on node, rate and the
    fitted energy, placed at the survey's 10th percentile. Same ranges as ``adc_energy_pj``.
    """
    bits, rate_hz, node_nm = _checked(bits, rate_hz, node_nm)
    area_um2 = math.exp(AREA_INTERCEPT + AREA_PER_LN_NM * math.log(node_nm)
                        + AREA_PER_LN_HZ * math.log(rate_hz)
                        + AREA_PER_LN_PJ * math.log(_energy_pj(bits, rate_hz, node_nm)))
    return area_um2 / UM2_PER_MM2


def adc_corner_rate_hz(bits: float) -> float:
    """The rate (Hz) up to which the fit's energy per conversion at ``bits`` does not depend
    on the rate: where the FoM's Pareto line meets the cap of that resolution. It may lie
    outside the range ``adc_energy_pj`` accepts (10 GS/s at 6 bits, 1.07 GS/s at 8,
    0.11 GS/s at 10, 12 MS/s at 12)."""
    bits = _check("bits", bits, MIN_BITS, MAX_BITS, "bits")
    return math.exp((_foms_cap_db(bits) - FOMS_INTERCEPT_DB) / FOMS_PER_LN_HZ_DB)
