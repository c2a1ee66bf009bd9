"""Bad input files and command lines, as a user (or an adversary) gives them to the CLI.

Each case writes its files, runs `aimcsim` and asserts: exit code 2, one error block whose first
line names the culprit file, the message names the YAML path and the value, no traceback, and
an answer within LIMIT_S. Hypothesis then fuzzes whole input documents: any mutation either
loads or ends in the library's own error.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import arch_doc, linear_workload, working_seconds
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimcsim.cli import main
from aimcsim.errors import AimcsimError, SettingWarning, SpecError
from aimcsim.explore.space import load_space
from aimcsim.explore.sweep import load_sweep
from aimcsim.hw.aimc_tile import AimcTile
from aimcsim.hw.interconnect.params import Interconnect
from aimcsim.hw.pmca.params import Pmca
from aimcsim.params.fields import numeric_bounds
from aimcsim.simulator import simulate
from aimcsim.spec.arch import Lora, Pipeline, parse_arch
from aimcsim.spec.run import apply_run
from aimcsim.spec.workload import parse_workload

LIMIT_S = 5.0
Doc = dict[str, Any]


def put(path: str, value: Any) -> Callable[[Doc], Doc]:
    """A mutation: set the value at a dot-path (`ops[0].d_in` indexes lists)."""
    def apply(doc: Doc) -> Doc:
        doc = copy.deepcopy(doc)
        *parents, last = _parts(path)
        node = doc
        for part in parents:
            node = node[part] if isinstance(part, int) else node.setdefault(part, {})
        node[last] = value
        return doc
    return apply


def drop(path: str) -> Callable[[Doc], Doc]:
    def apply(doc: Doc) -> Doc:
        doc = copy.deepcopy(doc)
        *parents, last = _parts(path)
        node = doc
        for part in parents:
            node = node[part]
        del node[last]
        return doc
    return apply


def _parts(path: str) -> list[str | int]:
    out: list[str | int] = []
    for part in path.split("."):
        name, _, index = part.partition("[")
        out.append(name)
        if index:
            out.append(int(index.rstrip("]")))
    return out


ARCH = arch_doc()
WORK = linear_workload(16, 64, 64, tail="relu")
SWEEP = {"version": 1, "arch": "a.yaml", "workloads": ["w.yaml"], "modes": ["hybrid"],
         "axes": {"pipeline.parallel_tokens": [4, 8]}}
SPACE = {"version": 1, "parallel_tokens": [4, 8], "integration_time_ns": [256]}
SETTINGS = {"version": 1, "pipeline": {"parallel_tokens": 8}}

ARCH_CASES = [
    (put("aimc.rows", "512"), "aimc.rows: expected an integer, got '512' (str)"),
    (put("aimc.rows", 0), "aimc.rows: 0 is below the minimum 1"),
    (put("aimc.rows", True), "aimc.rows: expected an integer, got True (bool)"),
    (put("aimc.cols", 512.5), "aimc.cols: expected an integer, got 512.5 (float)"),
    (put("aimc.integration_time_ns", "fast"), "aimc.integration_time_ns: expected a number"),
    (put("aimc.integration_time_ns", float("nan")), "aimc.integration_time_ns: expected a "
                                                    "number (ns), got nan"),
    (put("aimc.integration_time_ns", float("inf")), "aimc.integration_time_ns: expected a "
                                                    "number (ns), got inf"),
    (put("aimc.integration_time_ns", 0), "aimc.integration_time_ns: 0 is below the minimum"),
    (put("aimc.integration_time_ns", 256.0001), "aimc.integration_time_ns: 256.0001 ns is not "
                                                "a whole number of picoseconds"),
    (put("aimc.dac_ns", -1), "aimc.dac_ns: -1 is below the minimum 0"),
    (put("aimc.adc_ns", [32]), "aimc.adc_ns: expected a number (ns), got a list"),
    (put("aimc.pipelined", "yes please"), "aimc.pipelined: expected true or false"),
    (put("aimc.colour", "red"), "aimc.colour: unknown key 'colour' in aimc; allowed: rows"),
    (drop("aimc.rows"), "aimc.rows: missing required key 'rows' in aimc"),
    (drop("aimc"), "aimc: missing required key 'aimc' in top level"),
    (put("aimc", [1, 2]), "aimc: expected a mapping with keys rows"),
    (put("pmca.cores", "eight"), "pmca.cores: expected an integer, got 'eight' (str)"),
    (put("pmca.cores", 1e9), "pmca.cores: expected an integer, got 1000000000.0 (float)"),
    (put("pmca.cores", -8), "pmca.cores: -8 is below the minimum 1"),
    (put("pmca.freq_mhz", 999), "pmca.freq_mhz: 999 MHz gives a clock period of 1001.001 ps"),
    (put("pmca.macs_per_cycle", {"fp12": 4}), "pmca.macs_per_cycle.fp12: unknown key 'fp12'"),
    (put("pmca.macs_per_cycle", {"fp16": 0}), "pmca.macs_per_cycle.fp16: 0 is below the "
                                              "minimum 1"),
    (put("pmca.macs_per_cycle", {"fp16": 8}), "pmca.macs_per_cycle.fp16: 8 lanes of fp16 need "
                                              "16 bytes per operand, wider than a TCDM bank"),
    (put("pmca.macs_per_cycle", [4]), "pmca.macs_per_cycle: expected a mapping with keys fp64"),
    (put("pmca.tcdm_bytes", "128 KiB"), "pmca.tcdm_bytes: expected an integer (bytes), got "
                                        "'128 KiB' (str)"),
    (put("pmca.tcdm_bytes", "1e5"), "pmca.tcdm_bytes: expected an integer (bytes), got '1e5' "
                                    "(str); YAML reads '1e5' as text: write 100000"),
    (put("pmca.tcdm_bytes", 2**40), "pmca.tcdm_bytes: 1099511627776 is above the maximum"),
    (put("pmca.tcdm_bytes", 64), "pipeline.parallel_tokens = 16 needs"),
    (put("pmca.tcdm_banks", 0), "pmca.tcdm_banks: 0 is below the minimum 1"),
    (put("pmca.bank_width_bytes", 3), "pmca.dma_bytes_per_cycle: 64 is not a multiple of "
                                      "pmca.bank_width_bytes (3)"),
    (put("pmca.dma_bytes_per_cycle", 60), "pmca.dma_bytes_per_cycle: 60 is not a multiple"),
    (put("pmca.timing", "exact"), "pmca.timing: 'exact' is not allowed; allowed values: "
                                  "cycle-level, throughput"),
    (put("pmca.matmul_dataflow", "m-simd"), "pmca.matmul_dataflow: 'm-simd' is not allowed"),
    (put("pmca.streaming", 1), "pmca.streaming: expected true or false, got 1 (int)"),
    (put("pmca.elementwise_cycles_per_vector", {"add": 1}), "pmca.elementwise_cycles_per_vector"
                                                            ": missing functions norm"),
    (put("pmca.elementwise_cycles_per_vector.swish", 3), "pmca.elementwise_cycles_per_vector."
                                                         "swish: unknown key 'swish'"),
    (put("pmca.elementwise_cycles_per_vector.gelu", 0), "pmca.elementwise_cycles_per_vector."
                                                        "gelu: 0 is below the minimum 1"),
    (put("pmca.fpu_latency_cycles", {"fp16": 0}), "pmca.fpu_latency_cycles.fp16: 0 is below"),
    (put("pmca.matrix_engine", {"rows": 32}), "pmca.matrix_engine.height: missing required key"),
    (put("pmca.matrix_engine", {"rows": 32, "height": 4, "pipe_regs": 3}),
     "pmca.matrix_engine.rows: 32 rows need at most height x pipe_regs = 12"),
    (put("pmca.matrix_engine", {"rows": 8, "height": 4, "pipe_regs": 3, "orientation": "up"}),
     "pmca.matrix_engine.orientation: 'up' is not allowed; allowed values: normal, transposed"),
    (put("pmca.matrix_engine", "redmule"), "pmca.matrix_engine: expected a mapping with keys"),
    (put("interconnect.topology", "torus"), "interconnect.topology: 'torus' is not allowed; "
                                            "allowed values:"),
    (put("interconnect.bytes_per_cycle", 0), "interconnect.bytes_per_cycle: 0 is below"),
    (put("interconnect.freq_mhz", 3), "interconnect.freq_mhz: 3 MHz gives a clock period"),
    (put("interconnect.hop_latency_cycles", -1), "interconnect.hop_latency_cycles: -1 is below"),
    (put("interconnect.mesh_columns", 1.5), "interconnect.mesh_columns: expected an integer"),
    (drop("interconnect.topology"), "interconnect.topology: missing required key 'topology'"),
    (put("pipeline.strategy", "pipelined"), "pipeline.strategy: 'pipelined' is not allowed; "
                                            "allowed values: sequential, overlapped"),
    (put("pipeline.parallel_tokens", 0), "pipeline.parallel_tokens: 0 is below the minimum 1"),
    (put("pipeline.parallel_tokens", 2**21), "pipeline.parallel_tokens: 2097152 is above"),
    (put("pipeline.between_layers", "pipelined"), "pipeline.between_layers: 'pipelined' is not"),
    (put("pipeline.tile_output", "elsewhere"), "pipeline.tile_output: 'elsewhere' is not"),
    (put("pipeline.source", "paper"), "pipeline.source: unknown key 'source' in pipeline"),
    (put("lora.rank", 0), "lora.rank: 0 is below the minimum 1"),
    (put("lora.rank", 100), "lora.rank: 100 is above min(d_in, d_out) = 64 of 'fc'"),
    (put("lora.rank", 65536), "lora.rank: 65536 is above min(d_in, d_out) = 64 of 'fc'"),
    (put("lora.dtype", "fp4"), "lora.dtype: 'fp4' is not allowed; allowed values:"),
    (put("lora.dtype", "fp32"), "lora.dtype: 'fp32' has no entry in pmca.macs_per_cycle (it "
                                "has: fp16)"),
    (put("lora.layers", "some"), "lora.layers: expected a list, got 'some' (str)"),
    (put("lora.layers", [3]), "lora.layers[0]: expected a layer role (string), got 3"),
    (put("lora.layers", ["attention"]), "lora.layers[0]: no static layer of workload "
                                        "'one-layer' has role 'attention'; allowed: all, or a "
                                        "list of fc"),
    (put("version", 2), "version: 2 is not allowed; allowed values: 1"),
    (drop("version"), "version: missing required key 'version' in top level"),
    (put("mode", "analog"), "mode: 'analog' is not allowed; allowed values: hybrid, aimc-only"),
    (put("name", ["x"]), "name: expected a string, got a list"),
    (put("colour", "red"), "colour: unknown key 'colour' in top level; allowed: version"),
    (put("extends", "missing.yaml"), "extends: missing.yaml: file not found"),
    (put("extends", "a.yaml"), "extends: files extend each ot"),
]

WORK_CASES = [
    (put("tokens", 0), "tokens: 0 is below the minimum 1"),
    (put("tokens", "many"), "tokens: expected an integer, got 'many' (str)"),
    (drop("tokens"), "tokens: missing required key 'tokens'"),
    (put("version", 0), "version: 0 is not allowed"),
    (put("input.width", -1), "input.width: -1 is below the minimum 1"),
    (put("ops", {}), "ops: expected a list, got a mapping"),
    (put("ops[0].kind", "conv"), "ops[0].kind: 'conv' is not allowed; allowed values: "
                                 "static_linear"),
    (put("ops[0].d_in", 0), "ops[0].d_in: 0 is below the minimum 1"),
    (put("ops[0].d_in", 2**30), "ops[0].d_in: 1073741824 is above the maximum"),
    (put("ops[0].d_in", 32), "ops[0].inputs[0]: producer 'input' gives 64 values per token, 'fc' expects 32"),
    (put("ops[0].inputs", []), "ops[0].inputs: "),
    (put("ops[0].inputs[0].from", "nowhere"), "ops[0].inputs[0].from: unknown producer 'nowhere': it must be 'input' or an operation listed earlier"),
    (put("ops[0].inputs[0].edge", "sometimes"), "ops[0].inputs[0].edge: 'sometimes' is not"),
    (put("ops[0].colour", "red"), "ops[0].colour: unknown key 'colour'"),
    (put("ops[1].name", "fc"), "ops[1].name: duplicate operation name 'fc' (names must be unique)"),
    (put("ops[1].function", "swish"), "ops[1].function: 'swish' is not allowed"),
    (put("ops[1].width", 0), "ops[1].width: 0 is below the minimum 1"),
    (put("ops[1].inputs[0].from", "act"), "ops[1].inputs[0].from: unknown producer 'act'"),
    (drop("ops[0].name"), "ops[0].name: missing required key 'name'"),
    (put("ops[0]", "fc"), "ops[0]: expected a mapping describing an operation, got str"),
]

SWEEP_CASES = [
    (put("axes", {"pmca.cores": ["eight"]}), "axes.pmca.cores[0]: expected an integer, got "
                                             "'eight' (str)"),
    (put("axes", {"pmca.cores": [8, 8]}), "axes.pmca.cores: lists a value twice"),
    (put("axes", {"pmca.cores": [0, 8]}), "axes.pmca.cores[0]: 0 is below the minimum 1"),
    (put("axes", {"pmca.cores": [1.5]}), "axes.pmca.cores[0]: expected an integer, got 1.5"),
    (put("axes", {"pmca.cores": {"log": [1, float("inf"), 3], "round": True}}),
     "axes.pmca.cores.log[1]: expected a number, got inf (float)"),
    (put("axes", {"pmca.cores": {"linear": [0, float("nan"), 3]}}),
     "axes.pmca.cores.linear[1]: expected a number, got nan (float)"),
    (put("axes", {"pmca.cores": {"linear": [0, 1000, "1e9"]}}),
     "axes.pmca.cores.linear[2]: expected an integer, got '1e9' (str)"),
    (put("axes", {"pmca.cores": {"linear": [1, 1000, 10**9]}}),
     "axes.pmca.cores.linear[2]: 1000000000 is above the maximum 100000"),
    (put("axes", {"pmca.cores": {"linear": [1, 8, 8]}}),
     "axes.pmca.cores[1]: expected an integer, got 2.0 (float)"),
    (put("axes", {"pmca.cores": {"log": [0, 8, 4]}}), "axes.pmca.cores.log: a log range needs "
                                                      "start and stop above 0"),
    (put("axes", {"pmca.cores": {"linear": [1, 8]}}), "axes.pmca.cores.linear: expected [start,"
                                                      " stop, count], got [1, 8]"),
    (put("axes", {"pmca.cores": {"linear": [1, 8, 8], "round": "yes"}}),
     "axes.pmca.cores.round: expected true or false"),
    (put("axes", {"pmca.cores": {"steps": [1, 8, 8]}}), "axes.pmca.cores: expected a list of "
                                                        "values, or {linear"),
    (put("axes", {"pmca.cores": []}), "axes.pmca.cores: an axis needs at least one value"),
    (put("axes", {"pmca.corez": [8]}), "axes.pmca.corez: 'pmca.corez' is not a field of an "
                                       "architecture file; pmca has: cores"),
    (put("axes", {"pmca": [8]}), "axes.pmca: 'pmca' is a section; name one of its fields"),
    (put("axes", {"pmca.cores.count": [8]}), "axes.pmca.cores.count: 'pmca.cores.count': "
                                             "pmca.cores is a value, not a section"),
    (put("axes", {"pmca.matrix_engine.rows": [8]}), "axes.pmca.matrix_engine.rows: the "
                                                    "architecture has no pmca.matrix_engine "
                                                    "section, and the axes do not give its "
                                                    "height, pipe_regs"),
    (put("axes", {"pmca.timing": ["exact"]}), "axes.pmca.timing[0]: 'exact' is not allowed"),
    (put("axes", {"sram_cim.rows": [64]}), "axes.sram_cim.rows: the architecture has no "
                                           "sram_cim section, and the axes do not give its "
                                           "outputs, input_bits, freq_mhz"),
    (put("axes", {"aimc.integration_time_ns": [256.0001]}), "axes.aimc.integration_time_ns[0]:"
                                                            " 256.0001 ns is not a whole number"),
    (put("axes", {"workload.seq_len": [0]}), "axes.workload.seq_len[0]: 0 is below the "
                                             "minimum 1"),
    (put("axes", {"name": ["x"]}), "axes.name: 'name' is not a field of an architecture file"),
    (put("axes", {}), "axes: expected a mapping of YAML dot-paths"),
    (put("axes", [1]), "axes: expected a mapping of YAML dot-paths"),
    (put("constraints", ["pmca.tcdm_bytes >= 2**16"]), "constraints[0]: pmca.tcdm_bytes is a "
                                                       "number; '2**16' is not one"),
    (put("constraints", ["pipeline.strategy >= 5"]), "constraints[0]: pipeline.strategy is a "
                                                     "choice: compare it with == or != only"),
    (put("constraints", ["pipeline.strategy == eager"]), "constraints[0]: 'eager' is not a "
                                                         "value of pipeline.strategy"),
    (put("constraints", ["pmca.streaming == maybe"]), "constraints[0]: pmca.streaming is true "
                                                      "or false, got 'maybe'"),
    (put("constraints", ["lora.layers == all"]), "constraints[0]: lora.layers is a list: it "
                                                 "cannot be compared"),
    (put("constraints", ["pmca.cores ~ 3"]), "constraints[0]: expected 'dot.path OP value'"),
    (put("constraints", ["pmca.corez >= 16"]), "constraints[0]: 'pmca.corez' is not a field"),
    (put("constraints", "pmca.cores >= 16"), "constraints: expected a list, got"),
    (put("constraints", ["pmca.cores > 100"]), "none of its 2 point(s) is valid (2 excluded by "
                                               "constraints, 0 invalid)"),
    (put("axes", {"pmca.dma_bytes_per_cycle": [60]}), "none of its 1 point(s) is valid (0 "
                                                      "excluded by constraints, 1 invalid)"),
    (put("sampling", "grd"), "sampling: expected grid or {random: {samples: N, seed: S}}, got "
                             "'grd'"),
    (put("sampling", {"random": {"samples": 0, "seed": 1}}), "sampling.random.samples: 0 is "
                                                              "below the minimum 1"),
    (put("sampling", {"random": {"samples": 3}}), "sampling.random.seed: missing required key"),
    (put("sampling", {"random": {"samples": 3, "seed": -1}}), "sampling.random.seed: -1 is "
                                                               "below the minimum 0"),
    (put("sampling", {"sobol": 3}), "sampling.sobol: unknown key 'sobol'"),
    (put("modes", []), "modes: needs at least one of hybrid, aimc-only"),
    (put("modes", ["aimc_only"]), "modes[0]: 'aimc_only' is not allowed"),
    (put("modes", "hybrid"), "modes: expected a list, got 'hybrid' (str)"),
    (put("workloads", []), "workloads: needs at least one workload trace"),
    (put("workloads", ["missing.yaml"]), "workloads[0]: file not found"),
    (put("workloads", [3]), "workloads[0]: expected a path to a workload YAML, got 3"),
    (put("arch", "missing.yaml"), "arch: the base architecture is not valid"),
    (put("arch", "w.yaml"), "arch: the base architecture is not valid"),
    (drop("arch"), "arch: missing required key 'arch'"),
    (put("version", 3), "version: 3 is not allowed; allowed values: 1"),
    (put("max_points", 0), "max_points: 0 is below the minimum 1"),
    (put("max_points", 1), "2 points (2 per workload x 1 workload(s)) is above max_points = 1"),
    (put("colour", "red"), "colour: unknown key 'colour'"),
]

SPACE_CASES = [
    (put("integration_time_ns", [256.0001]), "integration_time_ns[0]: 256.0001 ns is not a "
                                             "whole number of picoseconds"),
    (put("integration_time_ns", [0]), "integration_time_ns[0]: 0 is below the minimum 0.001"),
    (put("integration_time_ns", ["fast"]), "integration_time_ns[0]: expected a number (ns)"),
    (put("parallel_tokens", [8, 8]), "parallel_tokens: lists a value twice"),
    (put("parallel_tokens", [0]), "parallel_tokens[0]: 0 is below the minimum 1"),
    (put("parallel_tokens", [2**21]), "parallel_tokens[0]: 2097152 is above the maximum"),
    (put("parallel_tokens", 8), "parallel_tokens: expected a list, got 8 (int)"),
    (put("parallel_tokens", []), "parallel_tokens: expected a non-empty list"),
    (put("strategies", ["pipelined"]), "strategies[0]: 'pipelined' is not allowed; allowed "
                                       "values: sequential"),
    (put("tile_output", ["elsewhere"]), "tile_output[0]: 'elsewhere' is not allowed"),
    (put("cores", [2000]), "cores[0]: 2000 is above the maximum 1024"),
    (put("rank", ["eight"]), "rank[0]: expected an integer, got 'eight' (str)"),
    (put("colour", ["red"]), "colour: unknown key 'colour'"),
    (drop("version"), "version: missing required key 'version'"),
]

SETTINGS_CASES = [
    (put("pipeline.parallel_tokens", 0), "pipeline.parallel_tokens: 0 is below the minimum 1"),
    (put("pipeline.strategy", "eager"), "pipeline.strategy: 'eager' is not allowed"),
    (put("mode", "analog"), "mode: 'analog' is not allowed"),
    (put("overrides", {"nowhere": {"parallel_tokens": 4}}), "overrides.nowhere: "),
    (put("lora.rank", -1), "lora.rank: -1 is below the minimum 1"),
    (put("colour", "red"), "colour: unknown key 'colour'"),
]


def _cases():
    for i, (mutate, expected) in enumerate(ARCH_CASES):
        yield pytest.param("arch", mutate, expected, id=f"arch-{i}-{expected[:40]}")
    for i, (mutate, expected) in enumerate(WORK_CASES):
        yield pytest.param("work", mutate, expected, id=f"workload-{i}-{expected[:40]}")
    for i, (mutate, expected) in enumerate(SWEEP_CASES):
        yield pytest.param("sweep", mutate, expected, id=f"sweep-{i}-{expected[:40]}")
    for i, (mutate, expected) in enumerate(SPACE_CASES):
        yield pytest.param("space", mutate, expected, id=f"space-{i}-{expected[:40]}")
    for i, (mutate, expected) in enumerate(SETTINGS_CASES):
        yield pytest.param("settings", mutate, expected, id=f"settings-{i}-{expected[:40]}")


_FILES = {"arch": "a.yaml", "work": "w.yaml", "sweep": "s.yaml", "space": "sp.yaml",
          "settings": "r.yaml"}


def _write(folder: Path, name: str, doc: Doc) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def _argv(kind: str, folder: Path) -> list[str]:
    a, w, out = str(folder / "a.yaml"), str(folder / "w.yaml"), str(folder / "out")
    return {
        "arch": ["run", a, w, "--mode", "both", "--out", out],
        "work": ["run", a, w, "--out", out],
        "sweep": ["sweep", str(folder / "s.yaml"), "--out", out],
        "space": ["search", a, w, "--space", str(folder / "sp.yaml"), "--out", out],
        "settings": ["run", a, w, "--settings", str(folder / "r.yaml"), "--out", out],
    }[kind]


def _one_error(capsys, argv: list[str], culprit: str | None) -> str:
    with working_seconds() as watch:
        code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert watch.seconds < LIMIT_S, f"{watch.seconds:.1f} s"
    lines = [line for line in err.splitlines() if not line.startswith("aimcsim: warning:")]
    assert lines and lines[0].startswith("aimcsim: error: "), err
    if culprit is not None:
        assert culprit in lines[0], err
    assert "Traceback" not in err and len(err) < 4000
    return err


@pytest.mark.parametrize(("kind", "mutate", "expected"), list(_cases()))
def test_a_bad_file_gets_one_clean_error(tmp_path, capsys, kind, mutate, expected):
    docs = {"arch": ARCH, "work": WORK, "sweep": SWEEP, "space": SPACE, "settings": SETTINGS}
    docs[kind] = mutate(docs[kind])
    for name, doc in docs.items():
        _write(tmp_path, _FILES[name], doc)
    err = _one_error(capsys, _argv(kind, tmp_path), _FILES[kind])
    assert expected in err


@pytest.mark.parametrize(("text", "expected"), [
    ("aimc: [1, 2\n", "invalid YAML at line"),
    ("aimc:\n\trows: 512\n", "invalid YAML at line"),
    ("", "expected a mapping with keys version"),
    ("- 1\n- 2\n", "expected a mapping with keys version"),
    ("version: 1\nversion: 1\n", "duplicate key 'version'"),
    ("just text", "expected a mapping with keys version"),
    ("aimc: &x {rows: *x}\n", "invalid YAML at line 1, column 7: found unconstructable "
                               "recursive node"),
])
def test_a_broken_yaml_file_gets_one_clean_error(tmp_path, capsys, text, expected):
    _write(tmp_path, "w.yaml", WORK)
    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    assert expected in _one_error(capsys, _argv("arch", tmp_path), "a.yaml")


@pytest.mark.parametrize(("argv", "expected"), [
    (["compare", "EMPTY"], "holds no sweep results (layers.parquet)"),
    (["compare", "NOWHERE"], "is not a folder: give the --out folder of an `aimcsim sweep`"),
    (["run", "ARCH", "NOWHERE"], "file not found"),
    (["run", "NOWHERE", "WORK"], "file not found"),
    (["run", "EMPTY", "WORK"], "is a folder, not a regular file"),
    (["search", "ARCH", "WORK", "--space", "NOWHERE", "--out", "OUT"], "file not found"),
    (["sweep", "NOWHERE", "--out", "OUT"], "file not found"),
    (["sweep", "SWEEP", "--out", "OUT", "--workers", "0"], "--workers must be in 1.."),
    (["kernel", "ARCH", "--m", "-3"], "--m must be in 1..65536"),
    (["kernel", "NOWHERE"], "file not found"),
    (["trace", "mobilebert", "--seq-len", "0", "--out", "OUT"], "--seq-len must be in 1..1048576 tokens, got 0"),
    (["trace", "mobilebert", "--seq-len", "2000000", "--out", "OUT"], "--seq-len must be in"),
])
def test_command_line_misuse_gets_one_clean_error(tmp_path, capsys, argv, expected):
    _write(tmp_path, "a.yaml", ARCH)
    _write(tmp_path, "w.yaml", WORK)
    _write(tmp_path, "s.yaml", SWEEP)
    (tmp_path / "empty").mkdir()
    names = {"ARCH": "a.yaml", "WORK": "w.yaml", "SWEEP": "s.yaml", "EMPTY": "empty",
             "NOWHERE": "nowhere.yaml", "OUT": "out"}
    argv = [str(tmp_path / names[a]) if a in names else a for a in argv]
    assert expected in _one_error(capsys, argv, None)


def test_a_block_above_the_tokens_warns_what_was_used(tmp_path, capsys):
    _write(tmp_path, "a.yaml", put("pipeline.parallel_tokens", 17)(ARCH))
    _write(tmp_path, "w.yaml", WORK)
    assert main(_argv("work", tmp_path)) == 0
    err = capsys.readouterr().err
    assert err.count("aimcsim: warning:") == 1
    assert ("a.yaml: pipeline.parallel_tokens = 17 is above the workload's 16 tokens; blocks "
            "of 16 tokens are used") in err


def test_a_search_block_above_the_tokens_warns_and_is_tried_once():
    from aimcsim.explore.search import exhaustive
    from aimcsim.explore.space import SearchSpace

    arch = parse_arch(ARCH, "a.yaml")
    work = parse_workload(WORK, "w.yaml")
    space = SearchSpace(strategies=("overlapped",), parallel_tokens=(8, 32, 64),
                        tile_output=("in-place",), integration_time_ns=(256.0,))
    with pytest.warns(SettingWarning, match="parallel_tokens 32, 64 above the workload's 16 "
                                            "tokens are tried as one block of 16 tokens"):
        table = exhaustive(arch, work, space)
    assert sorted(set(table["parallel_tokens"])) == [8, 16]


# ---- fuzzing: any mutation of a valid document loads or ends in the library's own error ----

_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.lists(st.integers(0, 9), max_size=3), st.dictionaries(st.text(max_size=4),
                                                              st.integers(), max_size=2),
)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, (*prefix, i))
    return out


@st.composite
def _mutated(draw, base: Doc) -> Doc:
    doc = copy.deepcopy(base)
    paths = _paths(doc)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths))
        node = doc
        try:
            for part in path[:-1]:
                node = node[part]
            action = draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                node[path[-1]] = draw(_LEAVES)
            elif action == "delete" and isinstance(node, dict):
                node.pop(path[-1], None)
            elif isinstance(node, dict):
                node[draw(st.text(max_size=6))] = draw(_LEAVES)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced the path
    return doc


_FUZZ = settings(max_examples=150, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


def _loads_or_refuses(load: Callable[[], Any]) -> None:
    with working_seconds() as watch:
        try:
            load()
        except AimcsimError as exc:
            assert "Traceback" not in str(exc) and len(str(exc)) < 20_000
    assert watch.seconds < LIMIT_S


def _runs_or_is_refused(doc: Doc) -> None:
    """The architecture loads and runs the small workload in both modes, or is refused with
    the library's own error, within LIMIT_S."""
    work = parse_workload(WORK, "w.yaml")

    def load_and_run() -> None:
        arch = parse_arch(doc, "fuzz.yaml")
        for mode in ("aimc-only", "hybrid"):
            simulate(arch, work, mode, timeline=False)

    _loads_or_refuses(load_and_run)


@_FUZZ
@given(_mutated(ARCH))
def test_fuzzed_architectures(doc):
    """Whatever loads also runs (or is refused: a block that does not fit its TCDM)."""
    _runs_or_is_refused(doc)


_SECTIONS = {"aimc": AimcTile, "pmca": Pmca, "interconnect": Interconnect,
             "pipeline": Pipeline, "lora": Lora}


@st.composite
def _in_bounds(draw, base: Doc) -> Doc:
    """Up to four declared numbers set anywhere within their bounds (extremes included)."""
    doc = copy.deepcopy(base)
    fields = [(section, key, low, high) for section, cls in _SECTIONS.items()
              for key, (low, high) in numeric_bounds(cls).items()]
    for section, key, low, high in draw(st.lists(st.sampled_from(fields), min_size=1,
                                                 max_size=4)):
        if isinstance(high, int) and isinstance(low, int):
            value: float = draw(st.one_of(st.sampled_from([low, high]), st.integers(low, high)))
        else:
            value = draw(st.integers(round(low * 1000), round(high * 1000))) / 1000  # whole ps
        doc.setdefault(section, {})[key] = value
    return doc


@_FUZZ
@given(_in_bounds(ARCH))
def test_any_declared_value_runs_or_is_refused_in_seconds(doc):
    """Extreme but declared values (a thousand cores, a million-cycle barrier, 65536-row
    tiles) either run the small workload in both modes or are refused before any work."""
    _runs_or_is_refused(doc)


@_FUZZ
@given(_mutated(WORK))
def test_fuzzed_workloads(doc):
    _loads_or_refuses(lambda: parse_workload(doc, "fuzz.yaml"))


@_FUZZ
@given(doc=_mutated(SWEEP))
def test_fuzzed_sweeps(tmp_path_factory, doc):
    folder = tmp_path_factory.mktemp("fuzz")
    _write(folder, "a.yaml", ARCH)
    _write(folder, "w.yaml", WORK)
    _loads_or_refuses(lambda: load_sweep(_write(folder, "s.yaml", doc)))


@_FUZZ
@given(doc=_mutated({**SPACE, "strategies": ["overlapped"], "cores": [8], "rank": [8],
                     "tile_output": ["in-place"]}))
def test_fuzzed_search_spaces(tmp_path_factory, doc):
    folder = tmp_path_factory.mktemp("fuzz")
    _loads_or_refuses(lambda: load_space(_write(folder, "sp.yaml", doc)))


@_FUZZ
@given(doc=_mutated({**SETTINGS, "mode": "hybrid", "lora": {"rank": 4},
                     "overrides": {"fc": {"parallel_tokens": 4}}}))
def test_fuzzed_run_settings(tmp_path_factory, doc):
    folder = tmp_path_factory.mktemp("fuzz")
    arch = _write(folder, "a.yaml", ARCH)
    work = parse_workload(WORK, "w.yaml")
    _loads_or_refuses(lambda: apply_run(arch, _write(folder, "r.yaml", doc), work))


def test_a_spec_error_is_the_library_error():
    assert issubclass(SpecError, AimcsimError)


def test_a_block_that_cannot_fit_is_refused_before_any_cycle_level_kernel(monkeypatch):
    """TCDM feasibility is decided in closed form first: no cycle-level kernel runs for the
    refused block (only for smaller ones, to confirm the hint)."""
    from aimcsim.errors import CapacityError
    from aimcsim.hw.pmca.cycle_level import CycleLevelPmca

    matmul, elementwise = CycleLevelPmca.matmul, CycleLevelPmca.elementwise

    def guarded(run, tokens_of):
        def call(self, *args, **kwargs):
            assert tokens_of(args) < 16, "a cycle-level kernel ran for the refused block"
            return run(self, *args, **kwargs)
        return call

    monkeypatch.setattr(CycleLevelPmca, "matmul", guarded(matmul, lambda a: a[0]))
    monkeypatch.setattr(CycleLevelPmca, "elementwise",
                        guarded(elementwise, lambda a: a[1] // 4096))
    arch = parse_arch(put("lora.rank", 1)(ARCH), "a.yaml")
    work = parse_workload(linear_workload(16, 4096, 4096), "w.yaml")
    with pytest.raises(CapacityError, match=r"needs at least \d+ bytes .* parallel_tokens <= "):
        simulate(arch, work, "hybrid", timeline=False)
