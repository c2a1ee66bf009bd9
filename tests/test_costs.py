"""Energy and area follow what the architecture declares (a bigger bank costs more per access
and leaks more, more cores take more area, longer integration more array energy, zero time
zero static energy), the SRAM grid is interpolated exactly at its points, logic values are
scaled with their arithmetic shown, and a price the technology file cannot make is NaN with
one warning naming the field (latency still runs)."""

from __future__ import annotations

import dataclasses
import math
import warnings

import pytest
from conftest import ROOT, arch_doc, linear_workload

from aimcsim.cost import CostWarning, l2_priced_bytes, prices, static_energy
from aimcsim.simulator import simulate
from aimcsim.spec.arch import load_arch, parse_arch
from aimcsim.spec.tech import load_technology
from aimcsim.spec.workload import parse_workload

TECH = ROOT / "tech" / "pcm14.yaml"
SHIPPED = sorted(p for p in (ROOT / "arch").glob("*.yaml"))


def _price(**sections):
    arch = parse_arch({**arch_doc(**sections), "technology": str(TECH)}, "c.yaml")
    return arch, prices(arch, l2_priced_bytes(arch, 0))


def test_a_bigger_bank_costs_more_per_access_and_leaks_more():
    small = _price(pmca={"tcdm_bytes": 64 * 1024})[1]
    large = _price(pmca={"tcdm_bytes": 1024 * 1024})[1]
    assert large.tcdm_read_pj_per_byte > small.tcdm_read_pj_per_byte
    assert large.tcdm_write_pj_per_byte > small.tcdm_write_pj_per_byte
    assert large.cluster_mw > small.cluster_mw
    assert large.cluster_area_mm2["tcdm_mm2"] > small.cluster_area_mm2["tcdm_mm2"]


def test_more_cores_take_more_area_and_leak_more():
    few, many = (_price(pmca={"cores": c})[1] for c in (8, 32))
    assert many.cluster_area_mm2["cores_mm2"] == pytest.approx(
        4 * few.cluster_area_mm2["cores_mm2"])
    assert sum(many.cluster_area_mm2.values()) > sum(few.cluster_area_mm2.values())
    assert many.cluster_mw > few.cluster_mw


def test_array_energy_is_proportional_to_integration_time():
    a = {t: _price(aimc={"integration_time_ns": t})[1].array_pj_per_mac for t in (128, 256, 512)}
    assert a[256] == pytest.approx(2 * a[128]) and a[512] == pytest.approx(4 * a[128])
    tech = load_technology(TECH).aimc
    expected = tech.read_voltage_v ** 2 * tech.weight_conductance_us * 1e-6 * tech.input_duty \
        * 256e-9 * 1e12
    assert a[256] == pytest.approx(expected)


def test_zero_time_costs_zero_static_energy():
    _, price = _price()
    assert all(v == 0 for v in static_energy(price, 0.0, tiles=4, clusters=4, links=4).values())
    one = static_energy(price, 1000.0, tiles=1, clusters=1, links=1)
    two = static_energy(price, 2000.0, tiles=1, clusters=1, links=1)
    assert all(two[k] == pytest.approx(2 * one[k]) for k in one)
    assert one["pmca_pj"] > 0 and one["aimc_pj"] >= 0


def test_the_grid_is_exact_at_its_points_and_monotone_between():
    grid = load_technology(TECH).sram
    for i, size in enumerate(grid.bank_bytes):
        for j, width in enumerate(grid.width_bits):
            cost = grid.price(size, width)
            for name in ("read_pj", "write_pj", "leakage_mw", "area_mm2"):
                table = grid.tables[name][i, j] * grid.factors.get(name, 1.0)
                assert math.isnan(table) or getattr(cost, name) == pytest.approx(table), \
                    (name, size, width)
    lo, hi = grid.price(4096, 64), grid.price(8192, 64)
    mid = grid.price(6144, 64)
    assert min(lo.read_pj, hi.read_pj) <= mid.read_pj <= max(lo.read_pj, hi.read_pj)


def test_a_bank_outside_the_grid_is_nan_with_one_warning_and_latency_runs():
    arch = parse_arch({**arch_doc(pmca={"tcdm_bytes": 1 << 30, "tcdm_banks": 32}),
                       "technology": str(TECH)}, "huge.yaml")
    work = parse_workload(linear_workload(8, 512, 512), "w.yaml")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = simulate(arch, work, "hybrid", timeline=False)
    notes = [str(w.message) for w in caught if issubclass(w.category, CostWarning)]
    assert len(notes) == 1, notes
    assert "pmca.tcdm_bytes / pmca.tcdm_banks" in notes[0] and "outside the CACTI grid" in notes[0]
    assert result.summary["total_latency_ns"] > 0
    assert math.isnan(result.summary["energy"]["total_pj"])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_architecture_prices_finite(path):
    arch = load_arch(path)
    if arch.technology is None:
        pytest.skip("no technology file")
    price = prices(arch, l2_priced_bytes(arch, 0))
    # only a slow bank may be warned of (hybrid_large_tcdm's 512 KiB banks take 1.9 ns)
    assert all("longer than the cluster's clock period" in w for w in price.warnings), \
        price.warnings
    for f in dataclasses.fields(price):
        value = getattr(price, f.name)
        if isinstance(value, float) and f.name not in ("cim_mac_pj", "macro_mw",
                                                        "macro_area_mm2"):
            assert math.isfinite(value), f.name
        if isinstance(value, dict):
            assert all(math.isfinite(v) for v in value.values()), f.name


def test_logic_values_are_scaled_with_their_arithmetic_shown():
    tech = load_technology(TECH)
    source = tech.sources["pmca.mac_pj.fp16"]
    if "scaled from" not in source:
        pytest.skip("the shipped file's MAC figure is in its own node")
    assert f"to {tech.node_nm:g} nm" in source and " x " in source and " = " in source


def test_an_unbounded_l2_is_priced_at_what_it_holds():
    arch = parse_arch({**arch_doc(), "technology": str(TECH)}, "c.yaml")
    assert l2_priced_bytes(arch, 0) == 8 * 2048
    assert l2_priced_bytes(arch, 8 * 4096 + 1) == 8 * 8192
    bounded = parse_arch({**arch_doc(), "memory": {"l2_bytes": 1 << 20},
                          "technology": str(TECH)}, "c.yaml")
    assert l2_priced_bytes(bounded, 5) == 1 << 20


def test_a_bank_slower_than_the_clock_is_warned_of():
    slow = _price(pmca={"tcdm_bytes": 32 * 512 * 1024})[1]
    assert any("pmca.tcdm_bytes / pmca.tcdm_banks" in w and "1 ns, pmca.freq_mhz" in w
               for w in slow.warnings)
    assert not _price()[1].warnings


def test_the_shipped_grids_are_the_generators_output():
    """The technology files carry the SRAM grid tools/techgen wrote, unedited."""
    import yaml

    generated = yaml.safe_load((ROOT / "tools" / "techgen" / "grids" /
                                "cacti_22nm_lstp.yaml").read_text())["sram"]
    for name in ("pcm14.yaml", "rram_sramcim.yaml"):
        shipped = yaml.safe_load((ROOT / "tech" / name).read_text())["sram"]
        shipped.pop("scale", None)
        assert shipped == generated, name


def test_an_edited_grid_is_priced_anew(tmp_path):
    """A technology file whose grid is edited in place prices anew (the prices are memoised
    by the architecture, its technology and grid included)."""
    import os

    import yaml

    doc = yaml.safe_load(TECH.read_text())
    path = tmp_path / "t.yaml"
    seen = []
    for k, factor in enumerate((1.0, 2.0)):
        d = yaml.safe_load(TECH.read_text())
        d["sram"]["read_pj"] = [[v * factor for v in row] for row in doc["sram"]["read_pj"]]
        path.write_text(yaml.safe_dump(d))
        os.utime(path, ns=(k * 10**9, k * 10**9))  # (a new modification time)
        arch = parse_arch({**arch_doc(), "technology": str(path)}, "c.yaml")
        seen.append(prices(arch, l2_priced_bytes(arch, 0)).tcdm_read_pj_per_byte)
    assert seen[1] > seen[0]
