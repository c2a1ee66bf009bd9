"""Run settings files: mode, pipeline and lora over the hardware file's, per-op overrides."""

from __future__ import annotations

import pytest
import yaml
from conftest import small_bert

from aimcsim import SpecError, simulate
from aimcsim.cli import main
from aimcsim.spec.arch import Pipeline, load_arch
from aimcsim.spec.run import apply_run


def _write(path, doc):
    path.write_text(yaml.safe_dump(doc))
    return path


def test_settings_overlay_the_hardware_file_and_give_ops_their_own_pipeline(root, tmp_path):
    hw = root / "arch" / "hybrid.yaml"
    work = small_bert(32, 1)
    run = _write(tmp_path / "run.yaml", {
        "version": 1, "mode": "aimc-only", "pipeline": {"parallel_tokens": 8},
        "lora": {"rank": 4},
        "overrides": {"query": {"strategy": "sequential"},
                      "b0.query": {"parallel_tokens": 2},  # a name wins over its role
                      "ffn_intermediate": {"tile_output": "separate"}}})
    arch, settings = apply_run(hw, run, work)
    base = load_arch(hw)
    assert (arch.mode, arch.pipeline.parallel_tokens, arch.lora.rank) == ("aimc-only", 8, 4)
    assert (arch.pmca, arch.aimc, arch.pipeline.strategy) == (base.pmca, base.aimc,
                                                               base.pipeline.strategy)
    assert settings["b0.query"] == Pipeline(base.pipeline.strategy, 2, "layer-by-layer")
    ffn = [op.name for op in work.ops if op.role == "ffn_intermediate"]
    assert ffn and all(settings[n].tile_output == "separate" and
                       settings[n].parallel_tokens == 8 for n in ffn)
    assert "b0.key" not in settings
    # what runs is what simulate runs with those settings
    layers = simulate(arch, work, "hybrid", settings=settings).layers.set_index("layer")
    assert layers.parallel_tokens["b0.query"] == 2
    assert layers.parallel_tokens["b0.key"] == 8
    assert apply_run(hw, None, work) == (base, {})


def test_settings_errors_name_the_settings_file(root, tmp_path):
    hw, work = root / "arch" / "hybrid.yaml", small_bert(16, 1)
    bad = _write(tmp_path / "bad.yaml", {"version": 1, "pipeline": {"strategy": "eager"},
                                         "lora": {"rank": 0}})
    with pytest.raises(SpecError) as info:
        apply_run(hw, bad, work)
    message = str(info.value)
    assert f"{bad}: pipeline.strategy: 'eager' is not allowed" in message
    assert f"{bad}: lora.rank: 0 is below the minimum 1" in message
    # a bad value the hardware file inherited names the file it came from
    (tmp_path / "base.yaml").write_text(hw.read_text().replace("cores: 8", "cores: 0"))
    child = _write(tmp_path / "child.yaml", {"version": 1, "extends": "base.yaml"})
    with pytest.raises(SpecError) as info:
        apply_run(child, bad, work)
    message = str(info.value)
    assert f"{tmp_path / 'base.yaml'}: pmca.cores: 0 is below the minimum 1" in message
    assert f"{bad}: lora.rank: 0 is below the minimum 1" in message
    overrides = {"b9.query": {"parallel_tokens": 4}, "query": {"between_layers": "streaming"},
                 "key": {"parallel_tokens": -1}}
    odd = _write(tmp_path / "odd.yaml", {"version": 1, "colour": 1, "overrides": overrides})
    with pytest.raises(SpecError) as info:
        apply_run(hw, odd, work)
    message = str(info.value)
    assert "colour: unknown key 'colour'" in message
    odd = _write(tmp_path / "odd.yaml", {"version": 1, "overrides": overrides})
    with pytest.raises(SpecError) as info:
        apply_run(hw, odd, work)
    message = str(info.value)
    assert "overrides.b9.query: 'b9.query' is no op name or role" in message
    assert "overrides.query.between_layers: one setting for the whole network" in message
    assert "overrides.key.parallel_tokens: -1 is below the minimum 1" in message


def test_shipped_run_settings_load_and_the_cli_takes_them(root, tmp_path, capsys):
    for f in sorted((root / "arch" / "runs").glob("*.yaml")):
        _, settings = apply_run(root / "arch" / "hybrid.yaml", f, small_bert(16, 1))
        assert settings
    run = _write(tmp_path / "run.yaml", {"version": 1, "overrides": {
        "query": {"parallel_tokens": 4}}})
    argv = ["run", str(root / "arch" / "hybrid.yaml"), str(root / "workloads" /
            "mobilebert.yaml"), "--settings", str(run), "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    assert "24 ops with their own pipeline" in capsys.readouterr().out
