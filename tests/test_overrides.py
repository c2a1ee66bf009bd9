"""`--set PATH=VALUE` and `with_value`: one value of an architecture changed without a file,
validated by the declarations a file's values are (`aimcsim.spec.overrides`)."""

from __future__ import annotations

import dataclasses
import json

import pytest
import yaml
from conftest import ROOT

from aimcsim.cli import main
from aimcsim.errors import SpecError
from aimcsim.spec.arch import load_arch, parse_arch, read_arch_doc
from aimcsim.spec.overrides import load_arch_with, parse_sets, with_value

ARCH = ROOT / "arch" / "hybrid.yaml"
WORKLOAD = ROOT / "workloads" / "mobilebert.yaml"


def _file_with(tmp_path, **values):
    """The shipped architecture with `values` (dot-paths) written into a file of its own."""
    doc, _ = read_arch_doc(ARCH)
    for path, value in values.items():
        section, key = path.split(".")
        doc[section][key] = value
    out = tmp_path / "hybrid.yaml"
    out.write_text(yaml.safe_dump(doc))
    return out


def test_a_set_value_is_the_files_value(tmp_path):
    sets = parse_sets(["pipeline.parallel_tokens=8", "pmca.tcdm_bytes=65536",
                       "lora.layers=[query, value]"])
    assert sets == [("pipeline.parallel_tokens", 8), ("pmca.tcdm_bytes", 65536),
                    ("lora.layers", ["query", "value"])]
    changed = load_arch_with(ARCH, sets)
    written = load_arch(_file_with(tmp_path, **{"pipeline.parallel_tokens": 8,
                                                "pmca.tcdm_bytes": 65536,
                                                "lora.layers": ["query", "value"]}))
    assert dataclasses.replace(changed, source="x") == dataclasses.replace(written, source="x")
    assert changed.pipeline.parallel_tokens == 8 and changed != load_arch(ARCH)


def test_bad_set_values_name_set_and_the_path(capsys):
    run = ["run", str(ARCH), str(WORKLOAD)]
    assert main([*run, "--set", "pmca.tcdm_bytes=-5", "--set",
                 "pipeline.strategy=overlaped"]) == 2
    assert capsys.readouterr().err == (
        "aimcsim: error: --set: 2 error(s)\n"
        "--set: pmca.tcdm_bytes: -5 is below the minimum 1 bytes\n"
        "--set: pipeline.strategy: 'overlaped' is not allowed; allowed values: sequential, "
        "overlapped, double-buffered\n")
    assert main([*run, "--set", "pmca.tcdm_bits=3"]) == 2
    assert capsys.readouterr().err.startswith(
        "aimcsim: error: --set: pmca.tcdm_bits: 'pmca.tcdm_bits' is not a field of an "
        "architecture file; pmca has: cores, ")
    assert main([*run, "--set", "pmca.tcdm_bytes"]) == 2
    assert "expected PATH=VALUE" in capsys.readouterr().err
    assert main([*run, "--set", "lora.layers=[query, 3]"]) == 2  # (an item of a set list)
    assert capsys.readouterr().err == ("aimcsim: error: --set: lora.layers[1]: expected a "
                                       "layer role (string), got 3\n")


def test_a_run_with_set_records_the_values_it_ran(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(ARCH), str(WORKLOAD), "--mode", "aimc-only", "--set",
                 "aimc.integration_time_ns=128", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    recorded = (out / "arch.yaml").read_text()
    assert recorded.startswith(f"# {ARCH} as aimcsim resolved it (extends merged) with --set "
                               "aimc.integration_time_ns;")
    assert yaml.safe_load(recorded)["aimc"]["integration_time_ns"] == 128
    # the recorded folder runs again to the same figures
    assert main(["run", str(out / "arch.yaml"), str(WORKLOAD), "--mode", "aimc-only"]) == 0
    again = capsys.readouterr().out
    latency = [line for line in printed.splitlines() if line.startswith("aimc-only")]
    assert latency and latency == [line for line in again.splitlines()
                                   if line.startswith("aimc-only")]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["inputs"]["arch"] == "arch.yaml"


def test_with_value_validates_as_a_file_does():
    arch = load_arch(ARCH)
    smaller = with_value(arch, "pmca.tcdm_bytes", 65536)
    assert smaller.pmca.tcdm_bytes == 65536 and arch.pmca.tcdm_bytes == 131072
    assert smaller == load_arch_with(ARCH, [("pmca.tcdm_bytes", 65536)])
    assert with_value(smaller, "pmca.tcdm_bytes", 131072) == arch
    with pytest.raises(SpecError, match=r"hybrid.yaml: pmca.tcdm_bytes: -5 is below the "
                       r"minimum 1 bytes"):
        with_value(arch, "pmca.tcdm_bytes", -5)
    with pytest.raises(ValueError, match=r"'pmca.tcdm' is not a field"):
        with_value(arch, "pmca.tcdm", 1)
    edited = dataclasses.replace(arch, pmca=dataclasses.replace(arch.pmca, cores=2))
    with pytest.raises(ValueError, match="changed in memory"):
        with_value(edited, "pmca.tcdm_bytes", 65536)
    assert parse_arch(arch.document, arch.source) == arch


def test_a_sweep_with_set_changes_the_base_before_the_axes(tmp_path, capsys):
    from aimcsim.explore.sweep import build_points, load_sweep

    sweep = ROOT / "arch" / "sweeps" / "itime_x_tokens.yaml"
    plain = load_sweep(sweep)
    changed = load_sweep(sweep, parse_sets(["pmca.tcdm_bytes=262144", "lora.rank=4"]))
    points, _ = build_points(changed)
    assert {p.arch.pmca.tcdm_bytes for p in points} == {262144}
    assert {p.arch.lora.rank for p in points} == {4}
    assert {p.arch.aimc.integration_time_ns for p in points} == {128.0, 256.0, 512.0}
    assert not {p.id for p in points} & {p.id for p in build_points(plain)[0]}
    with pytest.raises(SpecError, match="--set"):
        load_sweep(sweep, parse_sets(["pmca.tcdm_bytes=-5"]))
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "s"), "--set", "pmca.cores=0"]) != 0
    assert "--set" in capsys.readouterr().err
