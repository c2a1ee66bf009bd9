"""PEFT adapter_config.json files as the lora section: what they select, what is refused."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from aimcsim.cli import main
from aimcsim.errors import SettingWarning, SpecError
from aimcsim.traces.peft import read_peft


def _config(tmp_path, **fields):
    doc = {"peft_type": "LORA", "r": 8, "lora_alpha": 16, "task_type": "CAUSAL_LM",
           "rank_pattern": {}, "layers_to_transform": None, **fields}
    path = tmp_path / "adapter_config.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(("targets", "roles"), [
    (["q_proj", "v_proj"], ("query", "value")),
    (["gate_proj", "up_proj", "down_proj", "o_proj"],
     ("ffn_gate", "ffn_intermediate", "ffn_output", "attention_output")),
    (["self_attn.k_proj", "lm_head"], ("key", "lm_head")),
    (["c_proj", "c_fc"], ("attention_output", "ffn_output", "ffn_intermediate")),
    (["query", "value"], ("query", "value")),  # BERT's attention.self.query and .value
    (["dense"], ("attention_output", "ffn_intermediate", "ffn_output")),  # BERT's three
    (r".*\.(q_proj|v_proj)", ("query", "value")),  # a regular expression, as PEFT allows
    ("all-linear", "all"),
])
def test_target_modules_select_the_roles_they_wrap(tmp_path, targets, roles):
    assert read_peft(_config(tmp_path, r=16, target_modules=targets)) == (16, roles)


def test_gpt2_fused_qkv_is_three_adapters_and_says_so(tmp_path):
    with pytest.warns(SettingWarning, match="c_attn"):
        assert read_peft(_config(tmp_path, target_modules=["c_attn"])) == (
            8, ("query", "key", "value"))


@pytest.mark.parametrize(("fields", "key", "says"), [
    ({"rank_pattern": {"q_proj": 4}}, "rank_pattern", "ranks that differ"),
    ({"layers_to_transform": [0, 1]}, "layers_to_transform", "some transformer layers"),
    ({"peft_type": "IA3"}, "peft_type", "only LORA"),
    ({"r": 0}, "r", "integer from 1 to 65536"),
    ({"r": True}, "r", "integer from 1 to 65536"),
    ({"target_modules": ["qproj"]}, "target_modules", "no traced module"),
    ({"target_modules": "(q_proj"}, "target_modules", "no regular expression"),
    ({"target_modules": "embed_tokens"}, "target_modules", "matches no traced module"),
    ({"target_modules": 3}, "target_modules", "expected a list"),
])
def test_what_a_trace_cannot_express_is_refused_by_key(tmp_path, fields, key, says):
    fields.setdefault("target_modules", ["q_proj"])
    with pytest.raises(SpecError) as info:
        read_peft(_config(tmp_path, **fields))
    text = str(info.value)
    assert "adapter_config.json" in text and f"{key}:" in text and says in text
    assert [issue.path for issue in info.value.issues] == [key]


def test_the_same_rank_in_rank_pattern_is_accepted(tmp_path):
    assert read_peft(_config(tmp_path, rank_pattern={"q_proj": 8}, target_modules=["q_proj"])
                     )[0] == 8


def test_run_with_an_adapter_adapts_only_its_layers(root, tmp_path, capsys):
    path = _config(tmp_path, r=4, target_modules=["query", "value"])
    assert main(["run", str(root / "arch" / "hybrid.yaml"), str(root / "workloads" /
                 "mobilebert.yaml"), "--mode", "hybrid", "--adapter", str(path), "--out",
                 str(tmp_path / "out")]) == 0
    layers = pd.read_csv(tmp_path / "out" / "layers.csv")
    static = layers[layers["kind"] == "static_linear"]
    ranks = static.groupby("role")["rank"].unique().map(list).to_dict()
    assert ranks.pop("query") == [4] and ranks.pop("value") == [4]
    assert all(r == [0] for r in ranks.values()) and ranks
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(["run", str(root / "arch" / "hybrid.yaml"), str(root / "workloads" /
              "mobilebert.yaml"), "--adapter", str(tmp_path / "missing.json")])
    assert exit_.value.code == 2
    assert "--adapter" in capsys.readouterr().err


def test_run_takes_a_model_as_its_trace_would_be(root, tmp_path, capsys):
    # `run ARCH gpt2 --tokens 16` runs the trace `aimcsim trace gpt2 --seq-len 16` writes
    arch = str(root / "arch" / "hybrid_large_tcdm.yaml")
    assert main(["trace", "gpt2", "--seq-len", "16", "--out", str(tmp_path / "t.yaml")]) == 0
    assert main(["run", arch, str(tmp_path / "t.yaml"), "--out", str(tmp_path / "a")]) == 0
    assert main(["run", arch, "gpt2", "--tokens", "16", "--out", str(tmp_path / "b")]) == 0
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a" / "layers.csv"),
                                  pd.read_csv(tmp_path / "b" / "layers.csv"))
    capsys.readouterr()
    assert main(["run", arch, "gpt2", "--tokens", "0"]) == 2
    assert "--tokens 0" in capsys.readouterr().err
