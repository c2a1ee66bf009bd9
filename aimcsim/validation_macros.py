"""A published macro's energy per operation rebuilt from its component figures (no simulation).

NeuRRAM (Wan et al., Nature 608:504-512, 2022; 130 nm, 256 x 256 RRAM arrays, two devices per
signed 4-bit weight, so 256 x 128 MACs = 65,536 ops per array MVM). The published figures are the
ones CiMLoop's tests hold its model to (mit-emze/cimloop
`workspace/models/arch/1_macro/wan_nature_2022/_tests.py`, from the paper's Extended Data
Fig. 12): the energy of three component groups and TOPS/W at (output bits, input bits). CiMLoop's
test labels the groups "fJ/MAC" but scales them to an array MVM by 65,536 = 256 x 128 x 2 ops, and
their sum is 1000 / (TOPS/W) to within 2 %, so they are femtojoules per op (half a MAC); so are
ours.

Each group is rebuilt from component inputs only: the cell (`array_energy_pj`), the word-line
capacitance (`line_energy_pj`), the neuron components' per-action figures, and the number of
pulses, toggles, integration steps and conversions per MVM as CiMLoop's model of the macro counts
them. The data statistics are computed from CiMLoop's default histograms (`INPUTS_HIST`,
`WEIGHTS_HIST` in variables_iso.yaml, "looks like fig 7e" of the paper). Nothing is fitted to the
published numbers. `markdown()` is docs/validation_macros.md; `tests/test_validation_macros.py`
holds every row to its tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil, floor

from aimcsim.hw.aimc_tile import array_energy_pj, line_energy_pj

SOURCE = ("Wan et al., Nature 2022, Ext. Data Fig. 12{}, as typed into CiMLoop's "
          "wan_nature_2022/_tests.py::{}")

# --- Array organisation (CiMLoop variables_free.yaml, _tests.py) --------------------------------
ARRAY_ROWS = 256  # inputs per array
ARRAY_COLUMNS = 256  # bit lines, one device each, one neuron (ADC) each
DEVICES_PER_WEIGHT = 2  # signed weight as two magnitudes (two_part_magnitude_encode)
OPS_PER_MVM = ARRAY_ROWS * ARRAY_COLUMNS // DEVICES_PER_WEIGHT * 2  # 65,536: 2 ops per MAC
MAX_BITS_ONE_PHASE = 3  # magnitude bits above which the input is split in two phases

# --- Cell (memory_cells/rram_wan_nature_2022.cell.yaml; pulse from variables_free.yaml) --------
READ_VOLTAGE_V = 0.5
R_ON_OHM = 250e3
R_OFF_OHM = 1e6
READ_PULSE_NS = 10.0  # READ_PULSE_WIDTH 10e-9 (the cell file's 2 ns is overridden by the arch)

# --- Word lines (arch.yaml, wordline_cap: "48fF drivers, 1.5fF/access transistor, 0.6fF/RRAM
# coupling cap"; swing from the published group's label "WL Switching (0.9V <-> 2.2V)") --------
WL_FF_PER_CELL = 1.5 + 0.6
WL_DRIVER_FF = 48.0
WL_SWING_V = 2.2 - 0.9
WORD_LINES = ARRAY_COLUMNS  # "each neuron has one wordline" (arch.yaml)
WL_TOGGLES_PER_INPUT_BIT = 1  # "WLs is toggled once for each input bit" (arch.yaml)

# --- Neuron components, pJ per action at 130 nm, 1.8 V (Accelergy-Project/hwcomponents-library
# hwcomponents_library/library/neurram.py), one set per column (arch.yaml) ---------------------
ADC_PJ_PER_STEP = 0.3  # wan_variable_precision_adc, per output-bit step
INTEGRATOR_PJ_PER_STEP = 0.25  # wan_analog_integrator
SAMPLE_PJ = 1.2  # wan_analog_sample, once per input bit ("Sample 1x per input bit")
SHIFT_ADD_PJ_PER_STEP = 0.1  # wan_shift_add, once per ADC step

# --- Timing (variables_free.yaml), for TOPS -----------------------------------------------------
INTEGRATE_US = 0.27  # per integration step
ADC_STEP_US = 0.3
INTER_PHASE_US = 0.3  # per phase, includes sampling
TILES = 48  # the chip; CiMLoop's test_tops multiplies by 48

# --- Data (CiMLoop variables_iso.yaml defaults, 4-bit signed values -7..7) ----------------------
INPUTS_HIST = (5, 5, 6, 6, 7, 7, 8, 8, 8, 7, 7, 6, 6, 5, 5)
WEIGHTS_HIST = INPUTS_HIST


def _magnitudes(hist: tuple[int, ...]) -> list[tuple[int, float]]:
    """(|value|, probability) of a histogram over the signed values -n..n."""
    half, total = len(hist) // 2, sum(hist)
    return [(abs(i - half), h / total) for i, h in enumerate(hist)]


def bit_one_fraction(hist: tuple[int, ...]) -> float:
    """Mean share of magnitude bits that are 1: the share of input bits that send a pulse."""
    bits = (len(hist) // 2).bit_length()
    return sum(p * bin(m).count("1") for m, p in _magnitudes(hist)) / bits


def mean_device_level(hist: tuple[int, ...]) -> float:
    """Mean programmed level of one of a weight's two devices, 0 (R_off) to 1 (R_on): one device
    holds |w| / max, the other 0 (CiMLoop's two_part_magnitude_encode)."""
    top = len(hist) // 2
    return sum(p * m / top for m, p in _magnitudes(hist)) / DEVICES_PER_WEIGHT


def device_conductance_us(level: float) -> float:
    """Conductance of a device at `level`, linear in conductance from R_off to R_on (assumed)."""
    g_off, g_on = 1e6 / R_OFF_OHM, 1e6 / R_ON_OHM
    return g_off + level * (g_on - g_off)


INPUT_BIT_ONE = bit_one_fraction(INPUTS_HIST)  # 0.5
WEIGHT_LEVEL = mean_device_level(WEIGHTS_HIST)  # 0.241
DEVICE_US = device_conductance_us(WEIGHT_LEVEL)  # 1.72 uS


# --- The mechanism's counts (CiMLoop helper_functions.py, variables_free.yaml) ------------------
def magnitude_bits(input_bits: int) -> int:
    """Input bits the array processes: the sign is the pulse's polarity (ternary input)."""
    return max(1, input_bits - 1)


def phases(input_bits: int, one_phase: bool = False) -> tuple[int, ...]:
    """Magnitude bits per phase: one phase up to 3 bits (or if forced), else split in two."""
    n = magnitude_bits(input_bits)
    if one_phase or n <= MAX_BITS_ONE_PHASE:
        return (n,)
    return (ceil(n / 2), floor(n / 2))


def integration_steps(input_bits: int, one_phase: bool = False) -> int:
    """Integrator steps per MVM: 2^N - 1 for an N-bit phase."""
    return sum(2 ** p - 1 for p in phases(input_bits, one_phase))


def adc_steps(output_bits: int, input_bits: int, one_phase: bool = False) -> int:
    """ADC output-bit steps per MVM: each phase converts the output bits the earlier phases'
    input bits have not already shifted out."""
    ps = phases(input_bits, one_phase)
    return sum(max(output_bits - sum(ps[:i]), 0) for i in range(len(ps)))


# --- The three groups, fJ per op ----------------------------------------------------------------
def wl_switching_fj(input_bits: int) -> float:
    """Word lines: every neuron's line (2.1 fF per cell it crosses plus a 48 fF driver) charged
    through the 0.9 <-> 2.2 V swing once per input bit."""
    per_toggle_pj = line_energy_pj(ARRAY_COLUMNS, WL_FF_PER_CELL, WL_DRIVER_FF, WL_SWING_V)
    toggles = WORD_LINES * WL_TOGGLES_PER_INPUT_BIT * magnitude_bits(input_bits)
    return per_toggle_pj * toggles / OPS_PER_MVM * 1e3


def input_pulses_fj(input_bits: int) -> float:
    """Cells: each input bit that is 1 sends one read pulse through the row's devices (the
    array term only; the row drivers' line charge has no published capacitance)."""
    weights = ARRAY_ROWS * ARRAY_COLUMNS // DEVICES_PER_WEIGHT
    per_weight_pj = array_energy_pj(READ_VOLTAGE_V, DEVICES_PER_WEIGHT * DEVICE_US,
                                    INPUT_BIT_ONE, READ_PULSE_NS * magnitude_bits(input_bits))
    return per_weight_pj * weights / OPS_PER_MVM * 1e3


def neuron_fj(output_bits: int, input_bits: int, one_phase: bool = False) -> float:
    """Neurons, one per column: ADC and shift-add per ADC step, integrator per step, sample per
    input bit (control logic has no component figure and is not included)."""
    steps = adc_steps(output_bits, input_bits, one_phase)
    per_neuron_pj = (steps * (ADC_PJ_PER_STEP + SHIFT_ADD_PJ_PER_STEP)
                     + integration_steps(input_bits, one_phase) * INTEGRATOR_PJ_PER_STEP
                     + magnitude_bits(input_bits) * SAMPLE_PJ)
    return per_neuron_pj * ARRAY_COLUMNS / OPS_PER_MVM * 1e3


def total_fj(output_bits: int, input_bits: int, one_phase: bool = False) -> float:
    return (wl_switching_fj(input_bits) + input_pulses_fj(input_bits)
            + neuron_fj(output_bits, input_bits, one_phase))


def tops_per_w(output_bits: int, input_bits: int, one_phase: bool = False) -> float:
    return 1e3 / total_fj(output_bits, input_bits, one_phase)


def tops(output_bits: int, input_bits: int, one_phase: bool = False) -> float:
    """Chip throughput (48 arrays) from the per-step latencies CiMLoop states."""
    mvm_us = (integration_steps(input_bits, one_phase) * INTEGRATE_US
              + adc_steps(output_bits, input_bits, one_phase) * ADC_STEP_US
              + len(phases(input_bits, one_phase)) * INTER_PHASE_US)
    return TILES * OPS_PER_MVM / mvm_us * 1e-6


# --- Published (CiMLoop _tests.py) --------------------------------------------------------------
#: (output bits, input bits) -> (WL switching, neuron ops + control, input pulses), fJ/op,
#: two-phase (test_energy_bits_scaling, "Fig. 12 (b)").
PUBLISHED_GROUPS_FJ = {
    (3, 1): (8.99015248, 10.6186848, 3.446220545),
    (4, 2): (8.270951256, 12.38674172, 3.955661604),
    (5, 3): (15.46307324, 20.11826462, 7.73153662),
    (6, 4): (21.75617998, 29.1084171, 11.50740478),
    (7, 5): (30.92613276, 44.21188287, 14.0246365),
    (8, 6): (37.2192395, 52.48282041, 19.23892768),
    (9, 7): (43.69214654, 61.83258722, 22.83498524),
    (10, 8): (50.52466791, 75.85721686, 27.50986693),
}
#: (output bits, input bits, one phase) -> (TOPS of 48 arrays, TOPS/W) (test_tops, "Fig. 12 (c)
#: and (d)"); below 5 input bits one and two phases are the same operation.
PUBLISHED_TOPS = {
    (3, 1, False): (2.12230988, 43.07875866),
    (4, 2, False): (1.793083771, 40.33412834),
    (5, 3, False): (1.165400233, 23.09069279),
    (6, 4, False): (0.7438677864, 15.95409517),
    (7, 5, False): (0.5254091287, 11.03166076),
    (8, 6, False): (0.4177183338, 8.257196816),
    (9, 7, False): (0.343873405, 7.750037817),
    (10, 8, False): (0.2638743409, 6.437388185),
    (7, 5, True): (0.4515642, 11.32999012),
    (8, 6, True): (0.260797508, 9.12235241),
}


@dataclass(frozen=True)
class Row:
    """One published figure and ours."""

    case: str
    quantity: str  # "wl", "neuron", "pulses", "total", "tops_per_w", "tops"
    output_bits: int
    input_bits: int
    one_phase: bool
    published: float
    ours: float
    unit: str

    @property
    def error(self) -> float:
        """ours / published - 1."""
        return self.ours / self.published - 1


def rows() -> list[Row]:
    """Every reproduced figure."""
    out = []
    for (ob, ib), (wl, neuron, pulses) in PUBLISHED_GROUPS_FJ.items():
        tag = f"({ob},{ib})"
        out += [
            Row(f"WL switching {tag}", "wl", ob, ib, False, wl, wl_switching_fj(ib), "fJ/op"),
            Row(f"neuron ops + control {tag}", "neuron", ob, ib, False, neuron,
                neuron_fj(ob, ib), "fJ/op"),
            Row(f"input pulses {tag}", "pulses", ob, ib, False, pulses, input_pulses_fj(ib),
                "fJ/op"),
            Row(f"total {tag}", "total", ob, ib, False, wl + neuron + pulses, total_fj(ob, ib),
                "fJ/op"),
        ]
    for (ob, ib, one), (t, tw) in PUBLISHED_TOPS.items():
        tag = f"({ob},{ib}{', one-phase' if one else ''})"
        out += [
            Row(f"TOPS/W {tag}", "tops_per_w", ob, ib, one, tw, tops_per_w(ob, ib, one), "TOPS/W"),
            Row(f"TOPS {tag}", "tops", ob, ib, one, t, tops(ob, ib, one), "TOPS"),
        ]
    return out


#: Relative error each quantity is held to: the largest measured error over its rows, rounded up.
#: WL switching and input pulses are far off (see WHY); they are held to their real error.
TOLERANCE = {"wl": 0.60, "neuron": 0.06, "pulses": 0.50, "total": 0.30, "tops_per_w": 0.45,
             "tops": 0.10}

SETTING = {
    "wl": "256 word lines x ((1.5 + 0.6) fF x 256 cells + 48 fF), C x (1.3 V)^2, one toggle per "
          "magnitude input bit (`line_energy_pj`)",
    "neuron": "per column: (ADC 0.3 + shift-add 0.1 pJ) x ADC steps + integrator 0.25 pJ x "
              "(2^N - 1 per phase) + sample 1.2 pJ x input bits; no control",
    "pulses": "one 10 ns, 0.5 V pulse per input bit that is 1 (0.5 of them) through a weight's "
              "two devices (mean 1.72 uS each) (`array_energy_pj`); no row drivers",
    "total": "sum of the three groups",
    "tops_per_w": "1000 / total fJ per op",
    "tops": "48 arrays x 65,536 ops / (0.27 us x integration steps + 0.3 us x ADC steps + "
            "0.3 us x phases)",
}

WHY = """\
- **Units.** CiMLoop's test calls the groups fJ/MAC but multiplies them by 65,536 = 256 x 128 x 2
  ops to get an array MVM's energy, and 1000 / their sum is the published TOPS/W to within 2 %
  (except (8,6), 11 %): they are per op, and so are ours.
- **Neuron ops + control (-4 % to +6 %).** The component figures (hwcomponents-library neurram.py)
  are themselves taken from the paper, so agreement here checks the counts (ADC steps, 2^N - 1
  integration steps per phase, a sample per input bit), not the figures. Control logic has no
  published component figure and is not in ours, so ours would read low by the control share;
  it does not at high precision, where our integrator and ADC counts may be above the chip's.
- **WL switching (-46 % to -57 %).** Our word line is charged once per input bit through the
  1.3 V swing, C x V^2 = 0.99 pJ a line. The published group includes the word-line drivers;
  a line swung from 0.9 to 2.2 V draws C x 1.3 V x 2.2 V from a 2.2 V supply, 1.7 x C x (1.3 V)^2,
  and CiMLoop prices the line at its 1.8 V supply, C x (1.8 V)^2 = 1.9 x ours. We keep the
  swing model and report the gap; the count of toggles per input bit (one, as CiMLoop states)
  is the other unknown, since the published group grows by about 6.9 fJ per input bit against our
  3.9.
- **Input pulses (-38 % to -46 %).** Ours is the cells' resistive dissipation only. The published
  group also holds the row drivers (the input lines' charge at every pulse), whose line
  capacitance is not published. The group grows linearly with input bits in the paper (about
  3.9 fJ per bit) rather than with the 2^N - 1 integration steps, which supports one pulse per
  input bit.
- **TOPS/W (+14 % to +45 %).** The total misses the word-line and input-driver shares above and
  any control energy, so we are above the published efficiency.
- **TOPS (-1 % to +9 %).** From CiMLoop's per-step latencies (integration 0.27 us, ADC step
  0.3 us, phase change 0.3 us), which are stated inputs, not measured by us.
"""

NOT_REPRODUCED = """\
- **Control energy** (in "neuron ops + control"): no published component figure; ours holds the
  neuron components only.
- **Row (input) drivers** (in "input pulses"): the input lines' capacitance is not published
  (CiMLoop prices them with NeuroSim's driver model, calibrated for area by x5.25); ours holds
  the cells only.
"""


def markdown() -> str:
    """docs/validation_macros.md: the rows, why they differ and what is not reproduced."""
    lines = [
        "# Validation against a published macro: NeuRRAM energy by component group",
        "",
        "NeuRRAM (Wan et al., Nature 608, 2022; 130 nm, 256 x 256 RRAM arrays, two devices per "
        "signed 4-bit weight) rebuilt from component inputs by `aimcsim.validation_macros` (no "
        "simulation): cell V_read 0.5 V, R_on 250 kOhm, R_off 1 MOhm, 10 ns read pulse; "
        "word-line capacitance and swing; the neuron components' per-action figures; the "
        "counts per input bit of CiMLoop's model of the macro (mit-emze/cimloop "
        "`workspace/models/arch/1_macro/wan_nature_2022`). Data statistics come from CiMLoop's "
        f"default histograms: share of input bits that are 1 = {INPUT_BIT_ONE:.3f}, mean device "
        f"level = {WEIGHT_LEVEL:.3f} of R_off..R_on, i.e. {DEVICE_US:.2f} uS (linear in "
        "conductance: assumed). Nothing is fitted. Published values are fJ per op, two-phase "
        "unless marked; error = ours / published - 1; "
        "`tests/test_validation_macros.py` holds every row to its tolerance.",
        "",
        "| case | published | source | our setting | ours | error | tolerance |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows():
        tops_row = r.quantity in ("tops", "tops_per_w")
        source = SOURCE.format(" (c), (d)" if tops_row else " (b)",
                               "test_tops" if tops_row else "test_energy_bits_scaling")
        lines.append(f"| {r.case} | {r.published:.4g} {r.unit} | {source} | {SETTING[r.quantity]}"
                     f" | {r.ours:.4g} | {r.error:+.1%} | {TOLERANCE[r.quantity]:.0%} |")
    lines += ["", "## Why the figures differ", "", WHY, "## Not reproduced", "", NOT_REPRODUCED]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
