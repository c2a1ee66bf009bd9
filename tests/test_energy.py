"""Event counters and energy: counts in closed form, energy = counts x costs to the pJ,
per-component sums equal totals, no LoRA work costs no LoRA energy, and technology files are
validated like every input."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, arch_doc, architectures, linear_workload
from hypothesis import HealthCheck, given, settings

from aimcsim.cost import ENERGY_COLUMNS, l2_priced_bytes, prices
from aimcsim.errors import SpecError
from aimcsim.simulator import simulate
from aimcsim.spec.arch import parse_arch
from aimcsim.spec.tech import load_technology, parse_technology
from aimcsim.spec.workload import parse_workload

TECH = ROOT / "tech" / "pcm14.yaml"
COUNTERS = ("mvms", "dac_conversions", "adc_conversions", "analog_macs", "macs",
            "element_ops", "tcdm_read_bytes", "tcdm_write_bytes", "dma_bytes", "noc_bytes",
            "noc_link_bytes")


def _arch(**sections):
    return parse_arch({**arch_doc(**sections), "technology": str(TECH)}, "e.yaml")


def _run(arch, workload, mode):
    return simulate(arch, workload, mode, timeline=False)


def test_one_layer_counts_in_closed_form():
    """1024 x 768 on 512 x 512 tiles: 2 x 2 tiles, partial sums of 2 row slices."""
    tokens, d_in, d_out, r = 16, 1024, 768, 8
    work = parse_workload(linear_workload(tokens, d_in, d_out), "w.yaml")
    arch = _arch(lora={"rank": r, "dtype": "fp16", "layers": "all"})
    rows = {m: _run(arch, work, m).layers.iloc[0] for m in ("aimc-only", "hybrid")}
    for row in rows.values():
        assert row.mvms == tokens * 4
        assert row.dac_conversions == tokens * d_in * 2
        assert row.adc_conversions == tokens * d_out * 2
        assert row.analog_macs == tokens * d_in * d_out
    assert rows["aimc-only"].macs == 0
    assert rows["hybrid"].macs == tokens * r * (d_in + d_out)  # X A, then (X A) B
    # the partial sums of two row slices: one add per output, in both modes
    assert rows["aimc-only"].element_ops == rows["hybrid"].element_ops == tokens * d_out
    eb, word, lanes = 2, 8, 4  # FP16 in 64-bit bank words: a SIMD word of 4 values
    # bank words (`aimcsim.hw.pmca.traffic`), hybrid, in place: X A (16 x 1024 x 8, k-simd)
    # streams per row 256 steps of 1 A word and 8 B words and stores 8 outputs (2 words); the
    # reduction reads two partial-sum vectors and writes one, per 4 outputs; T B (16 x 8 x 768,
    # accumulating, n-simd) streams per row 8 steps of 1 T word and 192 B vector words (24
    # micro-tiles of 8), loads and stores its 192 C words; the link brings the 2 partial sums
    # in, in bytes (the network input X has no producer: no link carries it)
    xa = (tokens * (d_in // lanes) * (1 + r), tokens * 2)
    reduction = (2 * tokens * d_out // lanes, tokens * d_out // lanes)
    cols = d_out // lanes
    tb = (tokens * r * (cols // 8 + cols) + tokens * cols, tokens * cols)
    assert rows["hybrid"].tcdm_read_bytes == word * (xa[0] + reduction[0] + tb[0])
    assert rows["hybrid"].tcdm_write_bytes == word * (xa[1] + reduction[1] + tb[1]) \
        + eb * 2 * tokens * d_out
    # full words of partial sums: the bank bytes are the operand bytes
    assert rows["aimc-only"].tcdm_read_bytes == eb * 2 * tokens * d_out
    assert rows["aimc-only"].tcdm_write_bytes == eb * 3 * tokens * d_out
    assert rows["aimc-only"].noc_bytes == rows["hybrid"].noc_bytes == eb * 2 * tokens * d_out


def test_energy_is_counts_times_costs_to_the_pj(mobilebert):
    arch = _arch()
    price = prices(arch, l2_priced_bytes(arch, 0))
    work = parse_workload(linear_workload(32, 512, 512, tail="softmax"), "w.yaml")
    layers = _run(arch, work, "hybrid").layers
    p = price
    for row in layers.itertuples():
        assert row.energy_aimc_pj == pytest.approx(
            row.analog_macs * p.array_pj_per_mac + row.dac_conversions * p.input_pj
            + row.adc_conversions * p.adc_pj, abs=1e-6)
        assert row.energy_pmca_pj == pytest.approx(
            row.macs * p.mac_pj + row.element_ops * p.element_op_pj, abs=1e-6)
        assert row.energy_tcdm_pj == pytest.approx(
            row.tcdm_read_bytes * p.tcdm_read_pj_per_byte
            + row.tcdm_write_bytes * p.tcdm_write_pj_per_byte, abs=1e-6)
        assert row.energy_dma_pj == pytest.approx(row.dma_bytes * p.dma_pj_per_byte, abs=1e-6)
        assert row.energy_noc_pj == pytest.approx(row.noc_link_bytes * p.noc_pj_per_byte,
                                                  abs=1e-6)
        assert row.energy_pj == pytest.approx(sum(getattr(row, c) for c in ENERGY_COLUMNS),
                                              abs=1e-6)


def test_prices_are_the_technology_applied_to_the_geometry():
    """The per-event prices from the technology file's values and the bank the architecture
    declares (128 KiB in 32 banks of 8 bytes: 4 KiB banks of 64-bit words)."""
    arch = _arch()
    tech, price = load_technology(TECH), prices(arch, l2_priced_bytes(arch, 0))
    bank = tech.sram.price(4096, 64)
    c = tech.pmca
    assert price.tcdm_read_pj_per_byte == pytest.approx(bank.read_pj / 8
                                                        + c.interconnect_pj_per_byte)
    assert price.tcdm_write_pj_per_byte == pytest.approx(bank.write_pj / 8
                                                         + c.interconnect_pj_per_byte)
    assert price.mac_pj == c.mac("fp16")
    l2 = tech.sram.price(2048, 512)  # the unbounded L2, priced at 8 banks of 2 KiB
    assert price.dma_pj_per_byte == pytest.approx(l2.read_pj / 64 + c.dma_pj_per_byte)
    assert price.cluster_mw == pytest.approx(8 * c.core_leakage_mw + 32 * bank.leakage_mw
                                             + 8 * l2.leakage_mw)


def test_run_totals_are_the_sum_of_their_parts(hybrid_arch, mobilebert):
    result = simulate(hybrid_arch, mobilebert, "hybrid", timeline=False)
    energy, layers = result.summary["energy"], result.layers
    for col in ENERGY_COLUMNS:
        assert energy["dynamic_pj"][col.removeprefix("energy_")] == pytest.approx(
            layers[col].sum(), rel=1e-12)
    assert energy["total_pj"] == pytest.approx(
        sum(energy["dynamic_pj"].values()) + sum(energy["static_pj"].values()), rel=1e-12)
    assert energy["per_token_pj"] * mobilebert.tokens == pytest.approx(energy["total_pj"])
    ops = 2 * (layers["analog_macs"].sum() + layers["macs"].sum())
    assert energy["tops_per_w"] == pytest.approx(ops / energy["total_pj"])
    area = result.summary["area"]
    assert area["total_mm2"] == pytest.approx(area["aimc_mm2"] + area["pmca_mm2"]
                                              + area["noc_mm2"])
    price = prices(hybrid_arch, result.summary["l2_priced_bytes"])
    assert area["aimc_mm2"] == pytest.approx(result.summary["tiles"]
                                             * sum(price.tile_area_mm2.values()))
    assert area["pmca_mm2"] == pytest.approx(result.summary["clusters"]
                                             * sum(price.cluster_area_mm2.values()))


def test_static_energy_is_leakage_times_latency(tmp_path):
    doc = yaml.safe_load(TECH.read_text())
    doc["pmca"]["core_leakage_mw"]["value"] = 2.0
    doc["aimc"]["leakage_mw"]["value"] = 0.5
    doc["aimc"]["adc_static_share"]["value"] = 0.0
    tech = tmp_path / "leaky.yaml"
    tech.write_text(yaml.safe_dump(doc))
    arch = parse_arch({**arch_doc(), "technology": str(tech)}, "e.yaml")
    work = parse_workload(linear_workload(16, 1024, 512), "w.yaml")
    result = _run(arch, work, "hybrid")
    seconds = result.summary["total_latency_ns"] * 1e-9
    static = result.summary["energy"]["static_pj"]
    banks = prices(arch, result.summary["l2_priced_bytes"]).cluster_mw - 8 * 2.0
    assert banks > 0  # the TCDM's and L2's banks leak too
    assert static["pmca_pj"] == pytest.approx(result.summary["clusters"] * (16.0 + banks)
                                              * 1e-3 * seconds * 1e12)
    assert static["aimc_pj"] == pytest.approx(result.summary["tiles"] * 0.5e-3 * seconds * 1e12)


def test_no_lora_work_costs_no_lora_energy():
    """Hybrid with no adapted layer does exactly the AIMC-only work and costs its energy."""
    work = parse_workload(linear_workload(24, 1024, 512, tail="relu"), "w.yaml")
    arch = _arch(lora={"rank": 8, "dtype": "fp16", "layers": []})
    plain, hybrid = (_run(arch, work, m).layers for m in ("aimc-only", "hybrid"))
    for col in (*COUNTERS, *ENERGY_COLUMNS, "energy_pj"):
        assert list(plain[col]) == list(hybrid[col]), col


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(architectures())
def test_hybrid_never_does_less_work_than_aimc_only(doc):
    """Over random architectures: every counter of hybrid is at least AIMC-only's, the tiles'
    equal (the same MVMs), and each row's energy is the sum of its parts."""
    arch = parse_arch({**doc, "technology": str(TECH)}, "random.yaml")
    work = parse_workload(linear_workload(12, 768, 384, tail="add_norm"), "w.yaml")
    try:
        plain, hybrid = (_run(arch, work, m).layers for m in ("aimc-only", "hybrid"))
    except SpecError:
        return  # e.g. a rank above the layer's width
    for col in ("mvms", "dac_conversions", "adc_conversions", "analog_macs", "dma_bytes"):
        assert (plain[col] == hybrid[col]).all(), col
    for col in ("macs", "element_ops", "tcdm_read_bytes", "tcdm_write_bytes", "noc_bytes",
                "noc_link_bytes", "energy_pj"):
        assert (hybrid[col] >= plain[col]).all(), col
    total = sum(hybrid[c] for c in ENERGY_COLUMNS)
    assert (abs(total - hybrid["energy_pj"]) < 1e-6 * (1 + hybrid["energy_pj"])).all()


def test_without_a_technology_file_energy_is_nan_not_zero():
    arch = parse_arch(arch_doc(), "plain.yaml")
    result = _run(arch, parse_workload(linear_workload(8, 512, 512), "w.yaml"), "hybrid")
    assert result.layers["energy_pj"].isna().all()
    assert result.summary["energy"] == {} and result.summary["area"] == {}


def _tech_error(tmp_path: Path, mutate) -> str:
    doc = copy.deepcopy(yaml.safe_load(TECH.read_text()))
    mutate(doc)
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(doc))
    with pytest.raises(SpecError) as info:
        parse_technology(yaml.safe_load(path.read_text()), str(path))
    return str(info.value)


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["aimc"]["driver_ff"].pop("source"),
     "aimc.driver_ff.source: missing required key"),
    (lambda d: d["aimc"]["driver_ff"].update(source=" "), "aimc.driver_ff.source: say where "
                                                          "the value comes from"),
    (lambda d: d["aimc"]["driver_ff"].update(value=-1), "aimc.driver_ff.value: -1 is below "
                                                        "the minimum 0"),
    (lambda d: d["aimc"].update(driver_ff=1.67), "aimc.driver_ff: expected a mapping with "
                                                 "keys value, source"),
    (lambda d: d["aimc"].update(adc_model="flash"), "aimc.adc_model: 'flash' is not allowed"),
    (lambda d: d["aimc"].update(adc_model="measured"), "aimc.adc_pj: adc_model measured "
                                                       "needs adc_pj"),
    (lambda d: d["pmca"]["mac_pj"]["fp16"].update(node_nm=28), "pmca.mac_pj.fp16.node_nm: 28 "
                                                               "nm is not the file's node"),
    (lambda d: d["sram"].pop("scale"), "sram.node_nm: the grid is at 22 nm, the file at 14 nm"),
    (lambda d: d["sram"]["read_pj"].pop(), "sram.read_pj: needs 12 rows"),
    (lambda d: d.update(version=1), "version: version 1 technology files priced the TCDM"),
    (lambda d: d["pmca"]["mac_pj"].update(fp12={"value": 1, "source": "x"}),
     "pmca.mac_pj.fp12: unknown key 'fp12'"),
    (lambda d: d["pmca"].pop("core_area_mm2"), "pmca.core_area_mm2: missing required key"),
    (lambda d: d["interconnect"].update(colour="red"), "interconnect.colour: unknown key"),
    (lambda d: d.pop("aimc"), "aimc: missing required key 'aimc'"),
])
def test_technology_files_are_validated(tmp_path, mutate, expected):
    assert expected in _tech_error(tmp_path, mutate)


def test_an_architecture_names_its_technology_file(tmp_path):
    with pytest.raises(SpecError, match=r"a.yaml: technology: .*none.yaml: file not found"):
        parse_arch({**arch_doc(), "technology": str(tmp_path / "none.yaml")}, "a.yaml")
    doc = yaml.safe_load(TECH.read_text())
    del doc["pmca"]["mac_pj"]["fp16"]
    tech = tmp_path / "t.yaml"
    tech.write_text(yaml.safe_dump(doc))
    with pytest.raises(SpecError, match=r"pmca.mac_pj has no 'fp16' \(lora.dtype\)"):
        parse_arch({**arch_doc(), "technology": str(tech)}, "a.yaml")
    # a relative path is relative to the file that names it, also through extends
    (tmp_path / "sub").mkdir()
    good = tmp_path / "good.yaml"
    good.write_text(TECH.read_text())
    base = tmp_path / "sub" / "base.yaml"
    base.write_text(yaml.safe_dump({**arch_doc(), "technology": "../good.yaml"}))
    top = tmp_path / "top.yaml"
    top.write_text(yaml.safe_dump({"version": 1, "extends": "sub/base.yaml"}))
    from aimcsim.spec.arch import load_arch

    assert load_arch(top).technology.file == str(good.resolve())


def test_technology_schema_checks_the_shipped_files(tmp_path):
    import jsonschema

    from aimcsim.cli import main
    from aimcsim.spec.schema import technology_schema

    assert main(["schema", "--out", str(tmp_path)]) == 0
    schema = technology_schema()
    assert yaml.safe_load((tmp_path / "tech.schema.json").read_text()) == schema
    jsonschema.Draft202012Validator.check_schema(schema)
    check = jsonschema.Draft202012Validator(schema)
    for path in sorted((ROOT / "tech").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        assert not list(check.iter_errors(doc)), path
        parse_technology(doc, str(path))
        doc["pmca"]["dma_pj_per_byte"].pop("source")  # what the reader refuses, so does it
        assert list(check.iter_errors(doc))


def test_link_bytes_count_every_link_a_transfer_crosses():
    """On a 3 x 3 mesh, node 0 to node 8 is four hops (XY routing): four links' worth of
    bytes; point-to-point, one link."""
    from aimcsim.hw.interconnect.links import Links
    from aimcsim.hw.interconnect.params import Interconnect

    mesh = Links(Interconnect(topology="mesh", bytes_per_cycle=8, mesh_columns=3), nodes=9,
                 node_of=lambda unit: int(unit.split(":")[1]))
    assert mesh.links("pmca:0", "pmca:8") == 4 and mesh.links("pmca:0", "pmca:1") == 1
    p2p = Links(Interconnect(topology="point-to-point", bytes_per_cycle=8))
    assert p2p.links("pmca:0", "pmca:8") == 1


def test_a_mesh_counts_hops_in_the_run():
    """Point-to-point: every transfer crosses one link; on a mesh some cross several."""
    from conftest import small_bert

    work = small_bert(16, 1)
    counts = {}
    for topology in ("point-to-point", "mesh"):
        arch = _arch(interconnect={"topology": topology, "freq_mhz": 1000,
                                   "bytes_per_cycle": 32, "latency_cycles": 4})
        layers = _run(arch, work, "hybrid").layers
        counts[topology] = (layers["noc_bytes"].sum(), layers["noc_link_bytes"].sum())
        assert (layers["noc_link_bytes"] >= layers["noc_bytes"]).all()
    assert counts["point-to-point"][0] == counts["point-to-point"][1]
    assert counts["mesh"][0] == counts["point-to-point"][0]  # the same bytes move
    assert counts["mesh"][1] > counts["mesh"][0]  # over more than one link each


def test_held_operands_land_in_l2_not_in_the_tcdm():
    """The attention scores of one MobileBERT layer: the TCDM takes the DMA'd K of each head
    and the scores written, nothing of K's link transfer into the cluster's L2."""
    from conftest import small_bert

    work = small_bert(16, 1)
    row = _run(_arch(), work, "hybrid").layers.set_index("layer").loc["b0.attention_scores"]
    op = work.op("b0.attention_scores")
    assert row.dma_bytes == op.heads * op.k * op.n * 2  # one block of 16 tokens
    assert row.tcdm_write_bytes == row.dma_bytes + 16 * op.heads * op.n * 2
    assert row.noc_bytes == 16 * op.heads * op.k * 2  # K moved once into L2


def test_counts_over_several_blocks():
    """Four blocks of 4 tokens do the same MACs, element-wise work and TCDM accesses as one of
    16: the cluster's kernels stream A and B again for every output row (X A k-simd, T B
    n-simd, in both block sizes), so cutting the rows into blocks reads no word more."""
    work = parse_workload(linear_workload(16, 1024, 512), "w.yaml")
    one, four = (_run(_arch(pipeline={"strategy": "overlapped", "parallel_tokens": p}), work,
                      "hybrid").layers.iloc[0] for p in (16, 4))
    for col in ("macs", "element_ops", "mvms", "dac_conversions", "adc_conversions",
                "tcdm_write_bytes", "noc_bytes"):
        assert four[col] == one[col], col
    assert four.macs == 16 * 8 * (1024 + 512)
    assert four.tcdm_read_bytes == one.tcdm_read_bytes
