"""LoRA engines are registered classes: the cluster and SRAM-CIM built in, and a toy engine
from one file (tests/toy_engine.py) that runs end to end: its sections read, its units' time,
MACs, energy and area in the run's tables."""

from __future__ import annotations

import pytest
import yaml
from conftest import ROOT, arch_doc, linear_workload, plugin

from aimcsim.errors import SpecError
from aimcsim.hw.engines import ENGINES, engine
from aimcsim.simulator import simulate
from aimcsim.spec.arch import parse_arch
from aimcsim.spec.workload import parse_workload


@pytest.fixture
def toy():
    """The toy registered for one test (`conftest.plugin`)."""
    with plugin("toy_engine", ENGINES, "lut-macro") as registered:
        yield registered


def test_the_built_in_engines():
    assert list(ENGINES) == ["pmca", "sram-cim"]
    assert not engine("pmca").beside_tile and engine("sram-cim").beside_tile
    with pytest.raises(ValueError, match="registered: pmca, sram-cim"):
        engine("photonic")
    with pytest.raises(SpecError, match=r"lora\.engine"):
        parse_arch(arch_doc(lora={"engine": "lut-macro"}), "a.yaml")


def _tech(tmp_path):
    doc = yaml.safe_load((ROOT / "tech" / "pcm14.yaml").read_text())
    doc["lut_macro"] = {"mac_pj": {"value": 0.05, "source": "assumed: a toy"},
                        "area_mm2": {"value": 0.001, "source": "assumed: a toy"},
                        "leakage_mw": {"value": 0.0, "source": "assumed: a toy"}}
    path = tmp_path / "tech.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_a_toy_engine_from_one_file_runs_end_to_end(toy, tmp_path):
    """The toy's units hold A and B (nothing resident in the TCDM), take (tokens + 1) x 400 ns
    a block, do r (d_in + d_out) MACs a token, cost 0.05 pJ a MAC and 0.001 mm^2 a unit; an
    architecture that names the engine without its section is refused naming it."""
    with pytest.raises(SpecError, match=r"lut_macro: lora\.engine: lut-macro needs the lut_macro"):
        parse_arch(arch_doc(lora={"engine": "lut-macro"}), "a.yaml")
    doc = {**arch_doc(lora={"engine": "lut-macro", "rank": 8},
                      pipeline={"parallel_tokens": 8}),
           "lut_macro": {"weights": 1024, "ns_per_token": 400}, "technology": str(_tech(tmp_path))}
    arch = parse_arch(doc, "a.yaml")
    assert arch.branch.ns_per_token == 400
    work = parse_workload(linear_workload(64, 512, 512), "w.yaml")
    hybrid = simulate(arch, work, "hybrid")
    plain = simulate(arch, work, "aimc-only")
    row = hybrid.layers.set_index("layer").loc["fc"]
    assert row.cim_macs == 64 * 8 * (512 + 512)
    assert row.energy_cim_pj == pytest.approx(row.cim_macs * 0.05)
    units = -(-8 * 1024 // 1024)
    assert hybrid.summary["cim_macros"] == units
    assert hybrid.summary["area"]["cim_mm2"] == pytest.approx(units * 0.001)
    # the branch bounds the layer: 8 blocks of 8 tokens, each (8 + 1) x 400 ns on the units
    assert row.latency_ns >= 8 * 9 * 400 > plain.layers.set_index("layer").loc["fc"].latency_ns
    assert hybrid.summary["tcdm_peak_bytes"] < 8 * 8 * 1024 * 2  # A and B are not there
    lanes = set(hybrid.timeline.component)
    assert "cim:fc" in lanes
