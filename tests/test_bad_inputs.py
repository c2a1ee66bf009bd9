"""Bad inputs end in one clean error naming file, path and value, within seconds.

Many cases come from the declarations themselves: every number an architecture or a workload
declares is tried just above its maximum and just below its minimum.
"""

from __future__ import annotations

import time

import pytest
import yaml
from conftest import arch_doc, linear_workload, shipped_arch_text

from aimcsim.cli import main
from aimcsim.errors import SpecError
from aimcsim.hw.aimc_tile import AimcTile
from aimcsim.hw.interconnect.params import Interconnect
from aimcsim.hw.pmca.params import TABLE_BOUNDS, MatrixEngine, Pmca
from aimcsim.params.fields import numeric_bounds
from aimcsim.spec.arch import Lora, Pipeline, parse_arch
from aimcsim.spec.workload import (
    DynamicMatmulSpec,
    ElementwiseSpec,
    StaticLinearSpec,
    parse_workload,
)

LIMIT_S = 5.0  # a bad input is refused within this, whatever it is (no hang, no blow-up)

SECTIONS = {"aimc": AimcTile, "pmca": Pmca, "interconnect": Interconnect,
            "pipeline": Pipeline, "lora": Lora}


def _bound_cases() -> list[tuple[str, str, object, str]]:
    cases = []
    for section, cls in SECTIONS.items():
        for key, (low, high) in numeric_bounds(cls).items():
            assert high is not None, f"{section}.{key} declares no maximum"
            big = high * 10 if isinstance(high, float) else high + 1
            cases.append((section, key, big, "above the maximum"))
            if low is not None and low > 0:
                small = low / 10 if isinstance(low, float) else low - 1
                cases.append((section, key, small, "below the minimum"))
    for key, (_, high) in numeric_bounds(MatrixEngine).items():
        assert high is not None
        cases.append(("pmca.matrix_engine", key, high + 1, "above the maximum"))
    for table, (_, high) in TABLE_BOUNDS.items():
        cases.append((f"pmca.{table}", "fp16" if table != "elementwise_cycles_per_vector"
                      else "add", high + 1, "above the maximum"))
    return cases


def _timed_error(parse, doc) -> str:
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        parse(doc, "bad.yaml")
    assert time.perf_counter() - start < LIMIT_S
    message = str(info.value)
    assert "Traceback" not in message and len(message) < 4000
    return message


@pytest.mark.parametrize(("section", "key", "value", "words"), _bound_cases(),
                         ids=lambda v: str(v))
def test_every_declared_number_is_bounded(section, key, value, words):
    doc = arch_doc()
    node = doc
    for part in section.split("."):
        node = node.setdefault(part, {})
    if section == "pmca.matrix_engine":
        node.update({"rows": 8, "height": 4, "pipe_regs": 3})
    if section == "pmca.elementwise_cycles_per_vector":
        node.update({"add": 1, "norm": 1, "add_norm": 2, "relu": 1, "softmax": 8})
    node[key] = value
    message = _timed_error(parse_arch, doc)
    assert f"bad.yaml: {section}.{key}: {value!r} is {words}" in message


OPS = {"static_linear": StaticLinearSpec, "dynamic_matmul": DynamicMatmulSpec,
       "elementwise": ElementwiseSpec}


@pytest.mark.parametrize(("kind", "key"), [(k, f) for k, cls in OPS.items()
                                           for f in numeric_bounds(cls)])
def test_every_workload_number_is_bounded(kind, key):
    _, high = numeric_bounds(OPS[kind])[key]
    assert high is not None
    op = {"name": "x", "kind": kind, "inputs": [{"from": "input"}]}
    op.update({"static_linear": {"d_in": 8, "d_out": 8},
               "dynamic_matmul": {"heads": 1, "k": 8, "n": 16},
               "elementwise": {"function": "relu", "width": 8}}[kind])
    op[key] = high + 1
    doc = {"version": 1, "tokens": 16, "input": {"width": 8}, "ops": [op]}
    message = _timed_error(parse_workload, doc)
    assert f"ops[0].{key}: {high + 1} is above the maximum" in message


@pytest.mark.parametrize(("change", "expected"), [
    ({"tokens": 10**18}, "tokens: 1000000000000000000 is above the maximum 1048576"),
    ({"tokens": 1e18}, "tokens: expected an integer, got 1e+18"),
    ({"input": {"width": 1 << 30}}, "input.width: 1073741824 is above the maximum"),
    ({"ops": []}, "ops: a workload needs at least one operation"),
])
def test_workload_top_level(change, expected):
    doc = {**linear_workload(16, 64, 64), **change}
    assert expected in _timed_error(parse_workload, doc)


@pytest.mark.parametrize(("section", "values", "expected"), [
    ("aimc", {"integration_time_ns": 1e300}, "aimc.integration_time_ns: 1e+300 is above"),
    ("pmca", {"tcdm_banks": 10_000_000_000}, "pmca.tcdm_banks: 10000000000 is above"),
    ("pmca", {"macs_per_cycle": {}}, "pmca.macs_per_cycle: needs at least one data type"),
    ("pmca", {"barrier_cycles": 10**20}, "pmca.barrier_cycles: 100000000000000000000 is above"),
    ("interconnect", {"latency_cycles": 10**20}, "interconnect.latency_cycles: 1000000000000"),
    ("lora", {"rank": 10**9}, "lora.rank: 1000000000 is above the maximum 65536"),
    ("pmca", {"cores": 10**9}, "pmca.cores: 1000000000 is above the maximum 1024"),
    ("lora", {"layers": [[1] * 10_000]}, "lora.layers[0]: expected a layer role (string), "
                                         "got [1, 1, 1, 1, ...]"),
])
def test_the_issue_examples(section, values, expected):
    assert expected in _timed_error(parse_arch, arch_doc(**{section: values}))


def test_alias_bomb_is_refused_in_milliseconds():
    bomb = [1] * 10
    for _ in range(30):
        bomb = [bomb] * 10  # 10^31 leaves by reference, as a YAML alias bomb parses
    message = _timed_error(parse_arch, arch_doc(lora={"layers": [bomb]}))
    assert "lora.layers[0]: expected a layer role (string), got [[[" in message
    assert len(message) < 400


def test_files_duplicate_keys_non_utf8_and_long_values(root, tmp_path, capsys):
    hw = shipped_arch_text()
    dup = tmp_path / "dup.yaml"
    dup.write_text(hw.replace("  cores: 8", "  cores: 8\n  cores: 16"))
    assert main(["run", str(dup), str(root / "workloads" / "mobilebert.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "dup.yaml: invalid YAML at line" in err
    assert "duplicate key 'cores'" in err
    raw = tmp_path / "latin1.yaml"
    raw.write_bytes(hw.encode() + b"# caf\xe9\n")
    assert main(["run", str(raw), str(root / "workloads" / "mobilebert.yaml")]) == 2
    assert "latin1.yaml: not UTF-8 text: byte 0xe9" in capsys.readouterr().err
    long = tmp_path / "long.yaml"
    long.write_text(hw.replace("strategy: overlapped", "strategy: " + "x" * 100_000))
    assert main(["run", str(long), str(root / "workloads" / "mobilebert.yaml")]) == 2
    err = capsys.readouterr().err
    assert "pipeline.strategy: 'xxxx" in err and "...xxx" in err and len(err) < 400


@pytest.mark.parametrize(("argv", "expected"), [
    (["kernel", "ARCH", "--m", "100000", "--k", "100000", "--n", "100000"],
     "--m must be in 1..65536"),
    (["kernel", "ARCH", "--m", "4096", "--k", "4096", "--n", "4096"], "is above 268435456"),
    (["kernel", "ARCH", "--m", "0"], "--m must be in 1..65536"),
    (["kernel", "ARCH", "--op", "relu", "--accumulate"], "--accumulate is for --op matmul"),
    (["run", "ARCH", "nowhere.yaml"], "nowhere.yaml: file not found"),
    (["run", "ARCH", "WORK", "--settings", "nowhere.yaml"], "nowhere.yaml: file not found"),
])
def test_cli_misuse_is_one_line_and_fast(root, capsys, argv, expected):
    argv = [str(root / "arch" / "hybrid.yaml") if a == "ARCH" else
            str(root / "workloads" / "mobilebert.yaml") if a == "WORK" else a for a in argv]
    start = time.perf_counter()
    assert main(argv) == 2
    assert time.perf_counter() - start < LIMIT_S
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err


def test_declared_bounds_reach_the_schema():
    from aimcsim.spec.schema import arch_schema

    props = arch_schema()["properties"]
    for section, cls in SECTIONS.items():
        for key, (low, high) in numeric_bounds(cls).items():
            field = props[section]["properties"][key]
            assert (field.get("minimum"), field.get("maximum")) == (low, high), (section, key)
    assert yaml  # the module's inputs are YAML documents


def _sweep(tmp_path, root, **overrides):
    (tmp_path / "w.yaml").write_text((root / "workloads" / "mobilebert.yaml").read_text())
    doc = {"version": 1, "arch": str(root / "arch" / "hybrid.yaml"), "workloads": ["w.yaml"],
           "axes": {"pipeline.parallel_tokens": [4, 8]}, **overrides}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"modes": []}, "sweep.yaml: modes: needs at least one of hybrid, aimc-only"),
    ({"workloads": []}, "sweep.yaml: workloads: needs at least one workload trace"),
    ({"modes": ["aimc_only"]}, "sweep.yaml: modes[0]: 'aimc_only' is not allowed"),
    ({"axes": {"pmca.cores": list(range(1, 1001)), "pipeline.parallel_tokens":
               list(range(1, 1001))}}, "1000000 points (1000000 per workload x 1 "
                                       "workload(s)) is above max_points = 100000"),
    ({"max_points": 0}, "max_points: 0 is below the minimum 1"),
    ({"constraints": ["pmca.corez >= 16"]}, "'pmca.corez' is not a field"),
])
def test_sweep_files(tmp_path, root, overrides, expected):
    from aimcsim.explore.sweep import load_sweep

    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        load_sweep(_sweep(tmp_path, root, **overrides))
    assert time.perf_counter() - start < LIMIT_S
    assert expected in str(info.value)


def test_a_huge_grid_is_sampled_without_being_built(tmp_path, root):
    """10^12 grid points, 5 sampled: drawn in O(samples), the same for the same seed."""
    from aimcsim.explore.sweep import build_points, load_sweep

    axes = {"pmca.dma_setup_cycles": list(range(1000)), "pmca.barrier_cycles": list(range(1000)),
            "pmca.kernel_setup_cycles": list(range(1000)),
            "interconnect.latency_cycles": list(range(1000))}
    path = _sweep(tmp_path, root, axes=axes, sampling={"random": {"samples": 5, "seed": 3}})
    start = time.perf_counter()
    spec = load_sweep(path)
    assert spec.grid_size == 10**12 and spec.size == 5
    points, invalid = build_points(spec)
    assert time.perf_counter() - start < LIMIT_S
    assert len(points) + len(invalid) == 5
    again, _ = build_points(load_sweep(path))
    assert [p.params for p in again] == [p.params for p in points]


def test_sweep_workers_bounded_by_the_machine(tmp_path, root, capsys):
    import os

    path = _sweep(tmp_path, root)
    assert main(["sweep", str(path), "--out", str(tmp_path / "o"), "--workers", "100000"]) == 2
    err = capsys.readouterr().err
    assert f"--workers must be in 1..{os.cpu_count()}" in err and err.count("\n") == 1


def test_required_keys_come_from_the_declarations():
    """Fields without a default are required, also those their component reads itself."""
    doc = arch_doc()
    del doc["pmca"]["macs_per_cycle"], doc["interconnect"]["topology"]
    message = _timed_error(parse_arch, doc)
    assert "pmca.macs_per_cycle: missing required key 'macs_per_cycle' in pmca" in message
    assert "interconnect.topology: missing required key 'topology' in interconnect" in message
    op = {"name": "a", "kind": "static_linear", "d_in": 8}
    message = _timed_error(parse_workload, {"version": 1, "tokens": 4, "input": {"width": 8},
                                            "ops": [op]})
    assert "ops[0].inputs: missing required key 'inputs' in ops[0]" in message
    assert "ops[0].d_out: missing required key 'd_out' in ops[0]" in message
