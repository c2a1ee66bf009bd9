"""The shipped trace, its generator and the command line."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import shipped_arch_text

from aimcsim.cli import main
from aimcsim.spec.workload import load_workload, parse_workload
from aimcsim.traces import mobilebert_trace


def test_shipped_trace_is_the_generated_one(root):
    shipped = yaml.safe_load((root / "workloads" / "mobilebert.yaml").read_text())
    assert shipped == mobilebert_trace(384)


def test_mobilebert_structure(mobilebert):
    kinds = Counter(op.kind for op in mobilebert.ops)
    assert kinds == {"static_linear": 24 * 15, "elementwise": 24 * 13, "dynamic_matmul": 24 * 2}
    shapes = Counter((op.role, op.d_in, op.d_out) for op in mobilebert.ops if op.block == 0
                     and op.kind == "static_linear")
    assert shapes == {
        ("bottleneck_input", 512, 128): 1, ("bottleneck_attention", 512, 128): 1,
        ("query", 128, 128): 1, ("key", 128, 128): 1, ("value", 512, 128): 1,
        ("attention_output", 128, 128): 1, ("ffn_intermediate", 128, 512): 4,
        ("ffn_output", 512, 128): 4, ("output_bottleneck", 128, 512): 1,
    }
    scores = mobilebert.op("b0.attention_scores")
    assert (scores.heads, scores.k, scores.n) == (4, 32, 384)
    assert [e.kind for e in scores.inputs] == ["streaming", "barrier"]
    assert [e.src for e in mobilebert.op("b0.value").inputs] == ["input"]


def test_trace_command_regenerates_for_another_length(tmp_path, capsys):
    out = tmp_path / "mb128.yaml"
    assert main(["trace", "mobilebert", "--seq-len", "128", "--out", str(out)]) == 0
    workload = load_workload(out)
    assert workload.tokens == 128 and workload.op("b3.attention_context").k == 128
    assert parse_workload(mobilebert_trace(128)).ops == workload.ops


def test_run_both_modes_writes_layers_and_summary(root, tmp_path, capsys):
    trace = tmp_path / "mb32.yaml"
    main(["trace", "mobilebert", "--seq-len", "32", "--out", str(trace)])
    out = tmp_path / "out"
    code = main(["run", str(root / "arch" / "hybrid.yaml"), str(trace), "--mode", "both",
                 "--out", str(out)])
    assert code == 0
    layers = pd.read_csv(out / "layers.csv")
    assert sorted(layers["mode"].unique()) == ["aimc-only", "hybrid"]
    assert (layers[layers.kind == "static_linear"].groupby("mode").size() == 360).all()
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["modes"]) == {"aimc-only", "hybrid"}
    assert summary["static_overhead"]["min"] >= 0
    printed = capsys.readouterr().out
    assert "per-layer overhead of the 360 static layers" in printed


def test_bad_arguments_and_files_exit_non_zero_with_one_line(root, tmp_path, capsys):
    assert main(["run", str(tmp_path / "none.yaml"), "w.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "none.yaml: file not found" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text(shipped_arch_text().replace("cores: 8", "cores: -1"))
    assert main(["run", str(bad), str(root / "workloads" / "mobilebert.yaml")]) == 2
    assert "bad.yaml: pmca.cores: -1 is below the minimum 1" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        main(["run", "a.yaml", "b.yaml", "--mode", "fast"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice: 'fast'" in err


def test_kernel_command_prints_the_model_and_accumulates_on_request(root, capsys):
    from aimcsim import load_arch
    from aimcsim.hw.pmca.cycle_level import CycleLevelPmca

    arch = root / "arch" / "pulp_int8.yaml"
    for flags, accumulate in (([], False), (["--accumulate"], True)):
        assert main(["kernel", str(arch), "--m", "16", "--k", "8", "--n", "64", *flags]) == 0
        out = json.loads(capsys.readouterr().out)
        stats = CycleLevelPmca(load_arch(arch).pmca, "int8").matmul(16, 8, 64,
                                                                   accumulate=accumulate)
        assert (out["dtype"], out["accumulate"], out["cycles"]) == ("int8", accumulate,
                                                                    stats.cycles)
    assert main(["kernel", str(arch), "--op", "relu", "--accumulate"]) == 2
    assert "--accumulate is for --op matmul" in capsys.readouterr().err


def test_the_command_line_starts_without_the_simulator():
    """`aimcsim --version` and `--help` import none of the heavy libraries (the package and
    its faces import on first use; a command's module only when it runs)."""
    import subprocess
    import sys

    heavy = ("pandas", "numba", "matplotlib", "pydantic", "simpy", "pyarrow")
    code = ("import sys; from aimcsim.cli import main\n"
            "for argv in (['--version'], ['--help']):\n"
            "    try: main(argv)\n"
            "    except SystemExit: pass\n"
            f"print([m for m in {heavy!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]", out


def test_kernel_command_says_when_the_buffers_are_above_the_tcdm(root, capsys):
    """A matmul whose A, B and C (and padding) exceed the cluster's TCDM still runs (its
    figures are what it would take) with one warning naming each buffer and the capacity;
    one that fits runs without it."""
    from aimcsim import load_arch

    arch = root / "arch" / "hybrid.yaml"
    tcdm = load_arch(arch).pmca.tcdm_bytes
    assert main(["kernel", str(arch), "--m", "256", "--k", "256", "--n", "256"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["tcdm_total_bytes"] == 399_360
    assert ("warning: the matmul kernel's buffers (a 131,072 B, b 131,072 B, c 131,072 B, "
            f"padding 6,144 B) need 399,360 bytes of TCDM, above pmca.tcdm_bytes = {tcdm:,}"
            in captured.err)
    assert main(["kernel", str(arch), "--m", "64", "--k", "64", "--n", "64"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["tcdm_total_bytes"] <= tcdm and "warning" not in captured.err


def _usage_error(capsys, argv: list[str]) -> str:
    from aimcsim.cli.main import main

    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    return capsys.readouterr().err


def test_a_mistyped_option_command_or_choice_gets_a_did_you_mean(capsys):
    """Usage errors name the command they belong to and the nearest option, command or choice
    (one line, the command's help named once, no double space)."""
    run = ["run", "arch/hybrid.yaml", "workloads/mobilebert.yaml"]
    assert _usage_error(capsys, [*run, "--mdoe", "hybrid"]) == (
        "aimcsim: error: run: unrecognized arguments: --mdoe hybrid; did you mean --mode for "
        "--mdoe? (see 'aimcsim run --help')\n")
    assert _usage_error(capsys, ["rnu"]).endswith(
        "; did you mean 'run'? (see 'aimcsim --help')\n")
    assert _usage_error(capsys, [*run, "--mode", "hybird"]) == (
        "aimcsim: error: run: argument --mode: invalid choice: 'hybird' (choose from 'hybrid', "
        "'aimc-only', 'both'); did you mean 'hybrid'? (see 'aimcsim run --help')\n")
    assert _usage_error(capsys, [*run, "--zqxjk"]) == (
        "aimcsim: error: run: unrecognized arguments: --zqxjk (see 'aimcsim run --help')\n")



def test_decode_takes_a_config_json_as_it_takes_the_bundled_name(root, capsys):
    arch = str(root / "arch" / "hybrid_large_tcdm.yaml")
    assert main(["decode", arch, "gpt2", "--prompt", "4", "--steps", "1"]) == 0
    by_name = capsys.readouterr().out
    config = root / "workloads" / "configs" / "gpt2.json"
    assert main(["decode", arch, str(config), "--prompt", "4", "--steps", "1"]) == 0
    by_file = capsys.readouterr().out
    assert by_file.splitlines()[1:] == by_name.splitlines()[1:]  # (the times; line 1 names it)
    assert main(["decode", arch, "gtp2"]) != 0
    assert "did you mean gpt2" in capsys.readouterr().err


def test_a_script_beside_a_clone_named_aimcsim_imports_the_package(root, tmp_path):
    # the clone's folder, named aimcsim, is no package: the import passes it by for the
    # package the install put on the path (an editable install adds the clone's root as a
    # path entry: pyproject's package-dir), not an empty namespace package of the folder
    import subprocess
    import sys

    (tmp_path / "aimcsim").symlink_to(root, target_is_directory=True)
    (tmp_path / "script.py").write_text("import aimcsim\nprint(aimcsim.__file__)\n"
                                        "print(aimcsim.simulate.__name__)\n")
    done = subprocess.run([sys.executable, "script.py"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    where, name = done.stdout.split()
    assert Path(where).parts[-2:] == ("aimcsim", "__init__.py") and name == "simulate"
