"""What `aimcsim run` and `compare` print: the headline's figures as the run computed them, the
settings as the run used them, the GPU comparison in latency and energy, and the bounding
resource in words that cannot be read as 'the branch is hidden'."""

from __future__ import annotations

import contextlib
import io
import json
import re

import pandas as pd
import pytest
import yaml
from conftest import ROOT

from aimcsim.cli import main
from aimcsim.gpu import estimate, load_gpu
from aimcsim.outputs.console import formatted, percent, quantity
from aimcsim.spec.arch import LM_HEAD
from aimcsim.spec.workload import parse_workload
from aimcsim.traces import MOBILEBERT_UNCASED, mobilebert_trace, model_trace

ARCH = str(ROOT / "arch" / "hybrid.yaml")
GPU_FILE = str(ROOT / "tech" / "gpu" / "a100_sxm.yaml")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A two-block MobileBERT of 32 tokens, as a trace file."""
    trace = tmp_path_factory.mktemp("tables") / "tiny.yaml"
    trace.write_text(yaml.safe_dump(mobilebert_trace(32, {**MOBILEBERT_UNCASED,
                                                          "num_hidden_layers": 2})))
    return trace


@pytest.fixture(scope="module")
def run(tiny, tmp_path_factory):
    """`aimcsim run --mode both --gpu` of the tiny trace: (what it printed, summary.json)."""
    out = tmp_path_factory.mktemp("run")
    printed = io.StringIO()  # (a module's fixture: stdout redirected, not capsys)
    with contextlib.redirect_stdout(printed):
        assert main(["run", ARCH, str(tiny), "--mode", "both", "--gpu", GPU_FILE,
                     "--out", str(out)]) == 0
    return printed.getvalue(), json.loads((out / "summary.json").read_text())


def raw_floats(text: str) -> list[str]:
    """The numbers with a decimal point in `text` shown to more than four significant
    digits."""
    return [n for n in re.findall(r"\d[\d,]*\.\d+", text)
            if len(n.replace(",", "").replace(".", "").lstrip("0")) > 4]


def _row(printed: str, mode: str) -> dict[str, str]:
    """A mode's row of the run's headline table, by column."""
    lines = printed.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("mode "))
    columns = re.split(r"\s{2,}", lines[header].strip())
    row = next(line for line in lines[header + 1:] if line.startswith(mode + " "))
    return dict(zip(columns, re.split(r"\s{2,}", row.strip()), strict=True))


def test_the_headline_shows_utilisation_throughput_edp_and_area_as_computed(run):
    printed, summary = run
    for mode, s in summary["modes"].items():
        row = _row(printed, mode)
        assert row["latency"] == quantity(s["total_latency_ns"], "ns")
        assert s["throughput_tokens_per_s"] == pytest.approx(
            s["tokens"] / s["total_latency_ns"] * 1e9)
        assert row["tokens/s"] == formatted(s["throughput_tokens_per_s"])
        assert row["tile util."] == percent(s["utilisation"]["aimc"])
        assert row["cluster util."] == percent(s["utilisation"]["pmca"])
        assert row["energy"] == quantity(s["energy"]["total_pj"], "pJ")
        assert row["EDP"] == quantity(s["energy"]["edp_pj_s"], "pJ*s")
        assert row["area"] == quantity(s["area"]["total_mm2"], "mm^2")
    # no raw float anywhere: at most four significant digits, units scaled
    assert raw_floats(printed) == []
    assert re.search(r"\d [pnµm]J per token", printed) and " µs" in printed


def test_the_gpu_comparison_states_latency_and_energy(run):
    printed, summary = run
    lines = printed.splitlines()
    for mode, s in summary["modes"].items():
        ref = s["gpu_estimate"]
        at = next(i for i, line in enumerate(lines) if line.startswith(f"GPU estimate {mode} "))
        assert f"latency {quantity(ref['latency_ns'], 'ns')}" in lines[at]
        assert f"energy {quantity(ref['energy_pj'], 'pJ')}" in lines[at]
        against = lines[at + 1]
        slower = s["total_latency_ns"] / ref["latency_ns"]
        assert slower > 1  # (a tiny run: the chip is slower than the GPU)
        assert f"latency {quantity(s['total_latency_ns'], 'ns')}" in against
        assert f"(the chip is {formatted(slower, 'x')} slower)" in against
        less = ref["per_token_pj"] / s["energy"]["per_token_pj"]
        assert f"(the chip uses {formatted(less, 'x')} less)" in against


def test_the_header_says_the_settings_the_ops_ran_with(tiny, tmp_path, capsys):
    some = tmp_path / "some.yaml"
    some.write_text(yaml.safe_dump({"version": 1, "overrides": {
        "query": {"strategy": "double-buffered", "parallel_tokens": 4},
        "ffn_intermediate": {"strategy": "sequential", "parallel_tokens": 8}}}))
    assert main(["run", ARCH, str(tiny), "--settings", str(some)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    ops = len(yaml.safe_load(tiny.read_text())["ops"])
    assert header == (f"mobilebert-32 on hybrid: 32 tokens; per-op settings from {some}: 10 ops "
                      "with their own pipeline (double-buffered/sequential, 4 to 8 parallel "
                      f"tokens), the other {ops - 10}: overlapped, 16 parallel tokens")
    # a file that overrides every op: no pipeline of the architecture's is claimed
    one = tmp_path / "one.yaml"
    one.write_text(yaml.safe_dump({"version": 1, "name": "one-layer", "tokens": 8,
                                   "input": {"width": 64}, "ops": [
        {"name": "fc", "kind": "static_linear", "role": "fc", "d_in": 64, "d_out": 64,
         "inputs": [{"from": "input"}]}]}))
    every = tmp_path / "every.yaml"
    every.write_text(yaml.safe_dump({"version": 1, "overrides": {
        "fc": {"strategy": "sequential", "parallel_tokens": 2}}}))
    assert main(["run", ARCH, str(one), "--settings", str(every)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header == (f"one-layer on hybrid: 8 tokens; per-op settings from {every}: 1 ops with "
                      "their own pipeline (sequential, 2 parallel tokens), every op of the 1")
    assert "overlapped" not in header


def test_compare_says_the_busiest_resource_is_no_bound_and_what_the_branch_adds(
        tiny, tmp_path, capsys):
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "version": 1, "arch": ARCH, "workloads": [str(tiny)], "modes": ["aimc-only", "hybrid"],
        "axes": {"aimc.integration_time_ns": [512], "pipeline.parallel_tokens": [2]}}))
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "out")]) == 0
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "out")]) == 0
    line = capsys.readouterr().out.splitlines()[0]
    assert line.startswith("aimc.integration_time_ns=512, pipeline.parallel_tokens=2 (point ")
    assert "(not what their latency is bound by)" in line
    table = pd.read_csv(tmp_path / "out" / "compare.csv")
    tile = table[table.bound == "tile"]
    assert len(tile) and tile.overhead.median() > 0  # the tile busiest, the branch not hidden
    assert (f"the tile in {len(tile)} of {len(table)} (yet the LoRA branch adds a median "
            f"{percent(tile.overhead.median())} to them)") in line
    assert "bound by the tile" not in line


def test_the_gpu_command_says_what_the_branch_adds_in_latency_and_energy(capsys):
    assert main(["gpu", "gpt2", "--seq-len", "64", "--rank", "8"]) == 0
    lines = capsys.readouterr().out.splitlines()
    figures = [dict(re.findall(r"(latency|energy) ([\d.,]+ [µm]?[sJ])", line)) for line in lines[1:3]]
    branch = lines[3]
    assert branch.startswith("  the LoRA branch on the GPU: latency +")
    gpu, work = load_gpu(GPU_FILE), parse_workload(model_trace("gpt2", 64), "gpt2")
    plain, lora = estimate(gpu, work), estimate(gpu, work, lora_rank=8,
                                                lora_applies=lambda role: role != LM_HEAD)
    assert figures == [{"latency": quantity(e["latency_ns"], "ns"),
                        "energy": quantity(e["energy_pj"], "pJ")} for e in (plain, lora)]
    assert branch == (f"  the LoRA branch on the GPU: latency "
                      f"{percent(lora['latency_ns'] / plain['latency_ns'] - 1, sign=True)}, "
                      f"energy {percent(lora['energy_pj'] / plain['energy_pj'] - 1, sign=True)}")
