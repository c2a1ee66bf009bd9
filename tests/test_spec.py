"""Input validation: every rejected field is reported with file, YAML path and allowed values."""

from __future__ import annotations

import pytest
from conftest import arch_doc, linear_workload, make_arch, shipped_arch_text, small_bert

from aimcsim import SpecError, load_arch, load_workload, simulate
from aimcsim.spec.arch import parse_arch
from aimcsim.spec.workload import parse_workload


def test_shipped_architectures_load_and_run(root):

    files = sorted((root / "arch").glob("*.yaml"))
    assert {f.name for f in files} >= {"hybrid.yaml", "aimc_only.yaml", "pulp_int8.yaml"}
    for f in files:
        arch = load_arch(f)
        assert arch.aimc.rows == (256 if f.name == "halora.yaml" else 512)  # RRAM: 256x256
        result = simulate(arch, small_bert(32, 1))
        assert (result.layers["tokens"] == 32).all()
    default = load_arch(root / "arch" / "hybrid.yaml")
    assert default.pmca.tcdm_bytes == 131072 and default.pmca.timing == "cycle-level"


def _errors(doc, parse=parse_arch) -> str:
    with pytest.raises(SpecError) as info:
        parse(doc, "arch/bad.yaml")
    return str(info.value)


@pytest.mark.parametrize(
    ("section", "values", "pattern"),
    [
        ("pmca", {"tcdm_bytes": -5}, r"arch/bad.yaml: pmca.tcdm_bytes: -5 is below the minimum 1"),
        ("pmca", {"cores": "eight"}, r"pmca.cores: expected an integer, got 'eight'"),
        ("pmca", {"tcdm_kib": 128}, r"pmca.tcdm_kib: unknown key 'tcdm_kib' in pmca; allowed: cores"),
        ("pmca", {"freq_mhz": 1200}, r"pmca.freq_mhz: 1200 MHz gives a clock period of 833.333 ps"),
        ("pmca", {"macs_per_cycle": {"fp17": 3}}, r"pmca.macs_per_cycle.fp17: unknown key .*allowed: fp64, fp32, fp16"),
        ("pmca", {"elementwise_cycles_per_vector": {"add": 1}}, r"missing functions norm, add_norm"),
        ("aimc", {"integration_time_ns": 0.0001}, r"aimc.integration_time_ns: 0.0001 is below"),
        ("aimc", {"dac_ns": 1.0005}, r"aimc.dac_ns: 1.0005 ns is not a whole number of picoseconds"),
        ("aimc", {"pipelined": "yes"}, r"aimc.pipelined: expected true or false"),
        ("interconnect", {"topology": "torus"}, r"interconnect.topology: 'torus' is not allowed; allowed values: mesh, point-to-point, .*shared-bus"),
        ("pipeline", {"strategy": "eager"}, r"pipeline.strategy: 'eager' is not allowed; allowed values: sequential, overlapped, double-buffered"),
        ("pipeline", {"tile_output": "inplace"}, r"pipeline.tile_output: 'inplace' is not allowed; allowed values: in-place, separate"),
        ("pipeline", {"parallel_tokens": 0}, r"pipeline.parallel_tokens: 0 is below the minimum 1"),
        ("lora", {"dtype": "fp32"}, r"lora.dtype: 'fp32' has no entry in pmca.macs_per_cycle \(it has: fp16\)"),
        ("lora", {"layers": [3]}, r"lora.layers\[0\]: expected a layer role"),
    ],
)
def test_bad_field_names_file_path_and_allowed(section, values, pattern):
    with pytest.raises(SpecError, match=pattern):
        parse_arch(arch_doc(**{section: values}), "arch/bad.yaml")


def test_all_errors_of_a_file_are_reported_at_once():
    doc = arch_doc(pmca={"cores": 0, "tcdm_bytes": "big"}, pipeline={"strategy": "x"})
    doc["version"] = 7
    doc["extra"] = 1
    message = _errors(doc)
    assert message.startswith("arch/bad.yaml: 5 error(s)")
    for path in ("version", "extra", "pmca.cores", "pmca.tcdm_bytes", "pipeline.strategy"):
        assert f"arch/bad.yaml: {path}:" in message


def test_missing_section_and_version():
    doc = arch_doc()
    del doc["pmca"], doc["version"]
    message = _errors(doc)
    assert "pmca: missing required key 'pmca'" in message
    assert "version: missing required key 'version'" in message


def test_yaml_syntax_error_and_missing_file(tmp_path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("version: 1\naimc: [unclosed\n")
    with pytest.raises(SpecError, match=r"broken.yaml: invalid YAML at line \d+, column \d+"):
        load_arch(bad)
    with pytest.raises(SpecError, match=r"nothere.yaml: file not found"):
        load_workload(tmp_path / "nothere.yaml")


def test_unknown_lora_role_is_named_at_simulate():
    arch = make_arch(lora={"layers": ["fc", "query"]})
    workload = parse_workload(linear_workload(16, 128, 128), "w.yaml")
    with pytest.raises(SpecError, match=r"test.yaml: lora.layers\[1\]: .*role 'query'; allowed: all, or a list of fc"):
        simulate(arch, workload)


@pytest.mark.parametrize(
    ("mutate", "pattern"),
    [
        (lambda d: d["ops"][0].update(inputs=[{"from": "nope"}]), r"ops\[0\].inputs\[0\].from: unknown producer 'nope'"),
        (lambda d: d["ops"][0].update(d_in=64), r"ops\[0\].inputs\[0\]: producer 'input' gives 128 values per token, 'fc' expects 64"),
        (lambda d: d["ops"][0].update(kind="conv"), r"ops\[0\].kind: 'conv' is not allowed; allowed values: static_linear, dynamic_matmul, elementwise"),
        (lambda d: d["ops"][1].update(name="fc"), r"ops\[1\].name: duplicate operation name 'fc'"),
        (lambda d: d["ops"][1].update(function="swish"), r"ops\[1\].function: 'swish' is not allowed; allowed values: add, norm"),
        (lambda d: d["ops"][0]["inputs"][0].update(edge="soon"), r"ops\[0\].inputs\[0\].edge: 'soon' is not allowed; allowed values: streaming, barrier"),
        (lambda d: d.update(tokens=0), r"tokens: 0 is below the minimum 1"),
    ],
)
def test_bad_workload_fields(mutate, pattern):
    doc = linear_workload(16, 128, 128, tail="relu")
    mutate(doc)
    with pytest.raises(SpecError, match=r"w.yaml: (.|\n)*" + pattern):
        parse_workload(doc, "w.yaml")


def test_dynamic_matmul_needs_one_barrier_operand():
    doc = linear_workload(8, 64, 64)
    doc["ops"].append({"name": "qk", "kind": "dynamic_matmul", "heads": 2, "k": 32, "n": 8,
                       "inputs": [{"from": "fc"}, {"from": "fc"}]})
    with pytest.raises(SpecError, match=r"ops\[1\].inputs: a dynamic_matmul takes exactly one barrier"):
        parse_workload(doc, "w.yaml")


def test_extends_overlays_a_base_file(root, tmp_path):
    """A variant states only what differs; mappings merge, other values replace."""
    import dataclasses

    hybrid = load_arch(root / "arch" / "hybrid.yaml")
    only = load_arch(root / "arch" / "aimc_only.yaml")
    assert only.mode == "aimc-only" and only.name == "aimc-only"
    assert dataclasses.replace(only, mode="hybrid", name="hybrid",
                               source=hybrid.source) == hybrid
    engine = load_arch(root / "arch" / "hybrid_matrix_engine.yaml")
    assert engine.pmca.matrix_engine is not None
    assert dataclasses.replace(engine.pmca, matrix_engine=None) == hybrid.pmca
    # three levels; a later file's mapping merges into the earlier one's
    (tmp_path / "a.yaml").write_text(shipped_arch_text())
    (tmp_path / "b.yaml").write_text("version: 1\nextends: a.yaml\npmca: {cores: 4}\n")
    (tmp_path / "c.yaml").write_text("version: 1\nextends: b.yaml\npmca: {tcdm_bytes: 65536}\n")
    c = load_arch(tmp_path / "c.yaml")
    assert (c.name, c.pmca.cores, c.pmca.tcdm_bytes, c.pmca.tcdm_banks) == ("c", 4, 65536, 32)


def test_extends_errors_name_the_file_the_value_came_from(root, tmp_path):
    (tmp_path / "a.yaml").write_text(shipped_arch_text()
                                     .replace("cores: 8", "cores: 0"))
    (tmp_path / "b.yaml").write_text("version: 1\nextends: a.yaml\npipeline: {strategy: x}\n")
    with pytest.raises(SpecError) as info:
        load_arch(tmp_path / "b.yaml")
    message = str(info.value)
    assert f"{tmp_path / 'a.yaml'}: pmca.cores: 0 is below the minimum 1" in message
    assert f"{tmp_path / 'b.yaml'}: pipeline.strategy: 'x' is not allowed" in message
    (tmp_path / "loop.yaml").write_text("version: 1\nextends: loop2.yaml\n")
    (tmp_path / "loop2.yaml").write_text("version: 1\nextends: loop.yaml\n")
    loop = r"loop.yaml: extends: loop2.yaml: files extend each other: .*loop.yaml -> .*loop2"
    with pytest.raises(SpecError, match=loop):
        load_arch(tmp_path / "loop.yaml")
    (tmp_path / "lost.yaml").write_text("version: 1\nextends: nowhere.yaml\n")
    with pytest.raises(SpecError, match=r"lost.yaml: extends: nowhere.yaml: file not found"):
        load_arch(tmp_path / "lost.yaml")
    (tmp_path / "odd.yaml").write_text("version: 1\nextends: [a.yaml]\n")
    with pytest.raises(SpecError, match=r"odd.yaml: extends: expected the path of an arch"):
        load_arch(tmp_path / "odd.yaml")


def test_schema_is_derived_from_the_declarations_and_checks_what_the_reader_checks(
        root, tmp_path):
    """`aimcsim schema` writes a valid JSON Schema; the shipped files pass it; a field's
    bound, type, choices and unknown keys fail it as they fail the reader; the keys the
    reader accepts are the schema's."""
    import json

    import jsonschema
    import yaml

    from aimcsim.cli import main
    from aimcsim.spec.arch import SECTION_KEYS
    from aimcsim.spec.schema import arch_schema

    assert main(["schema", "--out", str(tmp_path)]) == 0
    schema = json.loads((tmp_path / "arch.schema.json").read_text())
    assert schema == arch_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    check = jsonschema.Draft202012Validator(schema)
    for f in sorted((root / "arch").glob("*.yaml")):
        assert not list(check.iter_errors(yaml.safe_load(f.read_text()))), f.name
    for section, keys in SECTION_KEYS.items():
        assert set(schema["properties"][section]["properties"]) == set(keys) - (
            {"source"} if section in ("pipeline", "lora") else set())
    for section, values, pattern in [
        ("pmca", {"cores": 0}, "minimum"), ("pmca", {"cores": "eight"}, "integer"),
        ("pmca", {"tcdm_kib": 1}, "tcdm_kib"), ("pipeline", {"strategy": "eager"}, "eager"),
        ("interconnect", {"topology": "torus"}, "torus"), ("aimc", {"pipelined": "yes"}, "yes"),
        ("pmca", {"macs_per_cycle": {"fp17": 3}}, "fp17"),
    ]:
        doc = arch_doc(**{section: values})
        messages = " ".join(e.message for e in check.iter_errors(doc))
        assert pattern in messages, (section, values, messages)
        with pytest.raises(SpecError):
            parse_arch(doc, "x.yaml")


def test_workload_schema_is_derived_from_the_declarations(root, tmp_path):
    import json

    import jsonschema
    import yaml

    from aimcsim.cli import main
    from aimcsim.spec.workload import workload_schema

    assert main(["schema", "--out", str(tmp_path)]) == 0
    schema = json.loads((tmp_path / "workload.schema.json").read_text())
    assert schema == workload_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    check = jsonschema.Draft202012Validator(schema)
    doc = yaml.safe_load((root / "workloads" / "mobilebert.yaml").read_text())
    assert not list(check.iter_errors(doc))
    for op, change in [(0, {"d_in": 0}), (0, {"kind": "conv"}), (0, {"colour": 1}),
                       (0, {"inputs": [{"from": "input", "edge": "sideways"}]})]:
        bad = yaml.safe_load((root / "workloads" / "mobilebert.yaml").read_text())
        bad["ops"][op].update(change)
        assert list(check.iter_errors(bad)), change
        with pytest.raises(SpecError):
            parse_workload(bad, "bad.yaml")

