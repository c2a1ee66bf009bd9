"""PEFT adapter_config.json files as the lora section: which layers carry an adapter and of what
rank, matched as PEFT matches them; what is refused."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from aimcsim.cli import main
from aimcsim.errors import SettingWarning, SpecError
from aimcsim.gpu import estimate, load_gpu, reference
from aimcsim.mapping import place
from aimcsim.spec.adapter import read_adapter, read_peft
from aimcsim.spec.arch import load_arch
from aimcsim.spec.overrides import with_value
from aimcsim.spec.workload import parse_workload
from aimcsim.traces import from_config


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
    rank, got = read_peft(_config(tmp_path, r=16, target_modules=targets))
    assert rank == 16 and (got == roles if isinstance(roles, str) else set(got) == set(roles))


def test_gpt2_fused_qkv_is_three_adapters_and_says_so(tmp_path):
    with pytest.warns(SettingWarning, match="c_attn"):
        rank, roles = read_peft(_config(tmp_path, target_modules=["c_attn"]))
        assert rank == 8 and set(roles) == {"query", "key", "value"}


@pytest.mark.parametrize(("fields", "key", "says"), [
    ({"rank_pattern": {"q_proj": 0}}, "rank_pattern.q_proj", "integer from 1 to 65536"),
    ({"rank_pattern": ["q_proj"]}, "rank_pattern", "expected an object"),
    ({"layers_to_transform": [0, -1]}, "layers_to_transform", "a layer index"),
    ({"layers_to_transform": [0], "target_modules": ".*q_proj"}, "layers_to_transform",
     "regular expression"),
    ({"layers_pattern": "layers"}, "layers_pattern", "without layers_to_transform"),
    ({"use_dora": True}, "use_dora", "DoRA"),
    ({"layer_replication": [[0, 4]]}, "layer_replication", "replicated layers"),
    ({"target_parameters": ["experts.w1"]}, "target_parameters", "parameters"),
    ({"target_modules": "(a+)+q_proj"}, "target_modules", "exponential time"),
    ({"rank_pattern": {"(q_+)+proj": 4}}, "rank_pattern.(q_+)+proj", "exponential time"),
    ({"target_modules": ".*.*.*.*.*.*q_proj"}, "target_modules", "6 repetitions"),
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


def _llama(tokens=4, layers=3):
    cfg = {"model_type": "llama", "hidden_size": 128, "intermediate_size": 256,
           "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": layers,
           "vocab_size": 500}
    return parse_workload(from_config(cfg, tokens, model="llama", generator="llama"), "t.yaml")


def _gpt2(tokens=4, layers=3):
    cfg = {"model_type": "gpt2", "n_embd": 128, "n_head": 4, "n_layer": layers,
           "vocab_size": 500, "n_positions": 64}
    return parse_workload(from_config(cfg, tokens, model="gpt2", generator="gpt2"), "t.yaml")


def _ranks(adapter, work):
    """{(block, role): rank} of the static layers that carry an adapter."""
    return {(op.block, op.role): r for op in work.ops if op.kind == "static_linear"
            and (r := adapter.rank_of(op.block, op.role)) is not None}


@pytest.mark.parametrize(("fields", "expected"), [
    # layers_to_transform keeps the listed layers; rank_pattern's key gives v_proj its rank
    ({"target_modules": ["q_proj", "v_proj"], "rank_pattern": {"v_proj": 4},
      "layers_to_transform": [0, 2]},
     {(0, "query"): 16, (0, "value"): 4, (2, "query"): 16, (2, "value"): 4}),
    # a full module path names one layer's module
    ({"target_modules": ["model.layers.1.self_attn.q_proj"]}, {(1, "query"): 16}),
    # the first key in the file's order wins, whatever its length
    ({"target_modules": ["q_proj"], "rank_pattern": {"q_proj": 2, "layers.1.self_attn.q_proj": 8}},
     {(0, "query"): 2, (1, "query"): 2, (2, "query"): 2}),
    ({"target_modules": ["q_proj"], "rank_pattern": {"layers.1.self_attn.q_proj": 8, "q_proj": 2}},
     {(0, "query"): 2, (1, "query"): 8, (2, "query"): 2}),
    # keys are regular expressions, matched at the end of the path
    ({"target_modules": ["q_proj", "down_proj"], "rank_pattern": {r"layers\.[01]\..*": 4}},
     {(0, "query"): 4, (0, "ffn_output"): 4, (1, "query"): 4, (1, "ffn_output"): 4,
      (2, "query"): 16, (2, "ffn_output"): 16}),
    # all-linear: every linear layer but the head; layers_to_transform then leaves lm_head out
    ({"target_modules": "all-linear", "layers_to_transform": 1},
     {(1, role): 16 for role in ("query", "key", "value", "attention_output", "ffn_gate",
                                 "ffn_intermediate", "ffn_output")}),
    ({"target_modules": ["q_proj", "lm_head"], "exclude_modules": ["layers.0.self_attn.q_proj"]},
     {(1, "query"): 16, (2, "query"): 16, (2, "lm_head"): 16}),
    # a regular expression must match the whole path
    ({"target_modules": r"model\.layers\.2\.mlp\.(gate|up)_proj"},
     {(2, "ffn_gate"): 16, (2, "ffn_intermediate"): 16}),
    # another layers_pattern than the path's container finds no layer index
    ({"target_modules": ["q_proj", "k_proj"], "layers_to_transform": [0, 1],
      "layers_pattern": ["h"]}, None),
])
def test_an_adapter_selects_layers_and_ranks_as_peft_does(tmp_path, fields, expected):
    work = _llama()
    adapter = read_adapter(_config(tmp_path, r=16, **fields))
    assert _ranks(adapter, work) == (expected or {})


def test_gpt2_paths_name_its_blocks(tmp_path):
    with pytest.warns(SettingWarning, match="c_attn"):
        adapter = read_adapter(_config(tmp_path, r=8, target_modules=["c_attn", "mlp.c_proj"],
                                       rank_pattern={"h.0.attn.c_attn": 4},
                                       layers_to_transform=[0, 1]))
    assert _ranks(adapter, _gpt2()) == {
        (0, "query"): 4, (0, "key"): 4, (0, "value"): 4, (0, "ffn_output"): 8,
        (1, "query"): 8, (1, "key"): 8, (1, "value"): 8, (1, "ffn_output"): 8}


def test_lora_adapter_in_a_file_places_each_layer_at_its_rank(root, tmp_path):
    adapter = _config(tmp_path, r=16, target_modules=["q_proj", "v_proj"],
                      rank_pattern={"v_proj": 4}, layers_to_transform=[1])
    overlay = tmp_path / "arch.yaml"
    overlay.write_text(f"extends: {root / 'arch' / 'hybrid_large_tcdm.yaml'}\n"
                       "lora: {adapter: adapter_config.json}\n")  # (relative to this file)
    arch = load_arch(overlay)
    assert arch.lora.adapter.file == str(adapter.resolve()) and arch.lora.rank == 16
    work = _llama()
    ranks = {(work.op(name).block, work.op(name).role): p.rank
             for name, p in place(arch, work, "hybrid").items() if p.rank is not None}
    assert ranks == {(1, "query"): 16, (1, "value"): 4}
    assert all(p.rank is None for p in place(arch, work, "aimc-only").values())
    # the GPU reference prices the same layers at the same ranks
    gpu = load_gpu(root / "tech" / "gpu" / "a100_sxm.yaml")
    ref = reference(gpu, work, arch.lora, "hybrid")
    one = estimate(gpu, work, lora_rank_of=lambda op: ranks.get((op.block, op.role)))
    uniform = estimate(gpu, work, lora_rank=16, lora_applies=lambda role: role == "query")
    assert ref["flops"] == one["flops"] > estimate(gpu, work)["flops"]
    assert ref["flops"] != uniform["flops"]
    # and a rank beside it is said to be unused
    with pytest.warns(SettingWarning, match="lora.rank beside it is not used"):
        with_value(arch, "lora.rank", 8)


def test_a_bad_adapter_file_is_named_at_lora_adapter(root, tmp_path):
    _config(tmp_path, r=16, target_modules=["q_proj"], use_dora=True)
    overlay = tmp_path / "arch.yaml"
    overlay.write_text(f"extends: {root / 'arch' / 'hybrid.yaml'}\n"
                       "lora: {adapter: adapter_config.json}\n")
    with pytest.raises(SpecError) as info:
        load_arch(overlay)
    assert [i.path for i in info.value.issues] == ["lora.adapter"]
    assert "adapter_config.json: use_dora" in str(info.value)


def test_an_adapter_of_other_modules_than_the_workload_has_is_refused(root, tmp_path):
    path = _config(tmp_path, r=16, target_modules=["gate_proj"])
    arch = with_value(load_arch(root / "arch" / "hybrid.yaml"), "lora.adapter", str(path))
    bert = parse_workload(from_config({"model_type": "bert", "hidden_size": 128,
                                       "intermediate_size": 256, "num_attention_heads": 4,
                                       "num_hidden_layers": 2}, 4, model="bert",
                                      generator="bert"), "b.yaml")
    with pytest.raises(SpecError, match="selects no static layer"):
        place(arch, bert, "hybrid")


def test_the_search_refuses_an_adapter_of_several_ranks(root, tmp_path):
    from aimcsim.explore.search import search

    path = _config(tmp_path, r=16, target_modules=["q_proj", "v_proj"], rank_pattern={"v_proj": 4})
    arch = with_value(load_arch(root / "arch" / "hybrid_large_tcdm.yaml"), "lora.adapter",
                      str(path))
    with pytest.raises(ValueError, match="ranks 4, 16"):
        search(arch, _llama(), None)


def test_run_with_an_adapter_prices_each_layer_at_its_rank(root, tmp_path, capsys):
    path = root / "workloads" / "adapters" / "llama-mixed" / "adapter_config.json"
    assert main(["run", str(root / "arch" / "hybrid_large_tcdm.yaml"), "llama-3.2-1b",
                 "--tokens", "4", "--mode", "hybrid", "--adapter", str(path), "--out",
                 str(tmp_path / "out")]) == 0
    layers = pd.read_csv(tmp_path / "out" / "layers.csv")
    static = layers[layers["kind"] == "static_linear"].set_index(["block", "role"])["rank"]
    carried = static[static > 0].to_dict()
    assert carried == {**{(b, "query"): 16 for b in range(8)},
                       **{(b, "value"): 4 for b in range(8)}}


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


def test_the_search_balances_the_layers_an_adapter_selects(root, tmp_path):
    # layers_to_transform [1]: the search's layer alone keeps its block, so it carries the
    # adapter as it does in the network
    from aimcsim.explore.search import search

    path = _config(tmp_path, r=16, target_modules=["q_proj"], layers_to_transform=[1])
    arch = with_value(load_arch(root / "arch" / "hybrid_large_tcdm.yaml"), "lora.adapter",
                      str(path))
    with pytest.warns():
        result = search(arch, _llama(tokens=8), None)
    assert set(result.best["rank"]) == {16} and (result.best["overhead"] > 0).all()
    assert 0 < result.network[0]["overhead"] < result.best["overhead"].max()
