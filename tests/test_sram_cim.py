"""The SRAM-CIM LoRA engine (HaLoRA): a layer's latency in closed form, its counters and
energy, and its inputs checked."""

from __future__ import annotations

import pytest
import yaml
from conftest import ROOT, arch_doc, linear_workload

from aimcsim.errors import SpecError
from aimcsim.hw.aimc_tile import burst_latency_ps
from aimcsim.hw.pmca.cycle_level import cluster_model
from aimcsim.hw.sram_cim import macros
from aimcsim.simulator import simulate
from aimcsim.spec.arch import load_arch, parse_arch
from aimcsim.spec.workload import parse_workload

TECH = ROOT / "tech" / "rram_sramcim.yaml"


def _halora(input_bits: int = 8, freq_mhz: int = 500, **sections):
    doc = arch_doc(aimc={"rows": 256, "cols": 256, "integration_time_ns": 128, "dac_ns": 16,
                         "adc_ns": 32, "pipelined": True},
                   lora={"rank": 8, "dtype": "fp16", "layers": "all", "engine": "sram-cim"},
                   **sections)
    doc["sram_cim"] = {"rows": 64, "outputs": 16, "input_bits": input_bits, "freq_mhz": freq_mhz}
    doc["technology"] = str(TECH)
    return parse_arch(doc, "halora.yaml")


@pytest.mark.parametrize("topology", ["point-to-point", "shared-bus"])
@pytest.mark.parametrize(("input_bits", "freq_mhz"), [(8, 500), (64, 100)],
                         ids=["tile-bound", "engine-bound"])
def test_one_layer_in_closed_form(input_bits, freq_mhz, topology):
    """One 256 x 256 layer on one tile, one block of 16 tokens reading the network input:
    the tile and the macros start together; Y and U cross the tile's link in the order they
    are ready; the cluster then adds them. Booked ahead (point-to-point) or as processes
    (a bus, here uncontended), the same."""
    tokens, d = 16, 256
    arch = _halora(input_bits, freq_mhz, pipeline={"strategy": "overlapped",
                                                   "parallel_tokens": tokens},
                   interconnect={"topology": topology, "freq_mhz": 1000,
                                 "bytes_per_cycle": 32, "latency_cycles": 4})
    work = parse_workload(linear_workload(tokens, d, d), "w.yaml")
    row = simulate(arch, work, "hybrid", timeline=False).layers.iloc[0]
    tile_end = burst_latency_ps(tokens, arch.aimc)
    cim_end = (tokens + 1) * input_bits * (1_000_000 // freq_mhz)  # two pipelined stages
    link = arch.interconnect
    serial = -(-tokens * d * 2 // link.bytes_per_cycle) * link.period_ps
    head = link.latency_cycles * link.period_ps
    first, second = sorted([tile_end, cim_end])
    free = first + serial  # the first transfer holds the link for its serialisation
    arrived = max(first + serial + head, max(second, free) + serial + head)
    add = cluster_model(arch.pmca, "fp16").elementwise("add", tokens * d).cycles
    expected_ns = (arrived + add * arch.pmca.period_ps) / 1000
    assert row.latency_ns == expected_ns
    assert row.cim_macs == tokens * 8 * (d + d) and row.macs == 0
    assert row.energy_cim_pj == pytest.approx(row.cim_macs * 0.1)
    assert row.tcdm_peak_bytes == 2 * tokens * d * 2  # Y and U of the block, no A or B


def test_the_cluster_holds_no_adapter_and_the_chip_counts_macros():
    arch = _halora()
    work = parse_workload(linear_workload(32, 1024, 512), "w.yaml")
    result = simulate(arch, work, "hybrid", timeline=False)
    assert result.summary["cim_macros"] == macros(arch.sram_cim, 1024, 512, 8) == 16 + 32
    assert result.summary["area"]["cim_mm2"] == pytest.approx(48 * 0.02)
    plain = simulate(arch, work, "aimc-only", timeline=False)
    assert plain.summary["cim_macros"] == 0 and plain.layers["cim_macs"].sum() == 0


def test_halora_runs_and_hybrid_is_never_faster(mobilebert):
    arch = load_arch(ROOT / "arch" / "halora.yaml")
    results = {m: simulate(arch, mobilebert, m, timeline=False) for m in ("aimc-only", "hybrid")}
    hybrid, plain = (results[m].layers.set_index("layer") for m in ("hybrid", "aimc-only"))
    static = hybrid["kind"] == "static_linear"
    assert (hybrid.loc[static, "latency_ns"] >= plain.loc[static, "latency_ns"]).all()
    assert hybrid["cim_macs"].sum() == 384 * 24 * 8 * (4608 + 3840)  # r (sum d_in + sum d_out)
    assert hybrid["macs"].sum() == plain["macs"].sum()  # the cluster does no X A B
    # the README's HaLoRA table
    summary = {m: r.summary for m, r in results.items()}
    assert summary["aimc-only"]["total_latency_ns"] == 62_396_832.0
    assert summary["hybrid"]["total_latency_ns"] == 66_418_752.0
    assert summary["aimc-only"]["energy"]["total_pj"] == pytest.approx(5.453e9, rel=1e-3)
    assert summary["hybrid"]["energy"]["total_pj"] == pytest.approx(5.894e9, rel=1e-3)


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d.pop("sram_cim"), "sram_cim: lora.engine: sram-cim needs the sram_cim section"),
    (lambda d: d["sram_cim"].update(input_bits=0), "sram_cim.input_bits: 0 is below the "
                                                   "minimum 1"),
    (lambda d: d["sram_cim"].update(freq_mhz=3), "sram_cim.freq_mhz: 3 MHz gives a clock "
                                                 "period"),
    (lambda d: d["lora"].update(engine="sram"), "lora.engine: 'sram' is not allowed; allowed "
                                                "values: pmca, sram-cim"),
    (lambda d: d.update(technology="NO_CIM"),
     "lora.engine: sram-cim needs a sram_cim section (mac_pj, area_mm2, leakage_mw)"),
])
def test_engine_inputs_are_checked(change, expected, tmp_path):
    doc = arch_doc(lora={"rank": 8, "dtype": "fp16", "layers": "all", "engine": "sram-cim"})
    doc["sram_cim"] = {"rows": 64, "outputs": 16, "input_bits": 8, "freq_mhz": 500}
    doc["technology"] = str(TECH)
    change(doc)
    if doc["technology"] == "NO_CIM":  # (a technology without the macros' section)
        tech = yaml.safe_load((ROOT / "tech" / "pcm14.yaml").read_text())
        tech.pop("sram_cim")
        (tmp_path / "tech.yaml").write_text(yaml.safe_dump(tech))
        doc["technology"] = str(tmp_path / "tech.yaml")
    with pytest.raises(SpecError) as info:
        parse_arch(doc, "halora.yaml")
    assert expected in str(info.value)


def test_the_search_tries_tile_output_once_for_the_macros():
    from aimcsim.errors import SettingWarning
    from aimcsim.explore.search import search
    from aimcsim.explore.space import SearchSpace

    work = parse_workload(linear_workload(16, 512, 512), "w.yaml")
    space = SearchSpace(strategies=("overlapped",), parallel_tokens=(4, 16),
                        integration_time_ns=None)
    with pytest.warns(SettingWarning, match="tile_output has no effect with lora.engine"):
        found = search(_halora(), work, space)
    assert set(found.points.tile_output) == {"in-place"} and len(found.points) == 2
