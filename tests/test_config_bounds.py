"""A model's config.json as a user (or an adversary) gives it to `aimcsim trace --config`, and
the positions a trace or a decode may span.

Each bad config ends in exit code 2 with one message naming the file, the JSON key and the
value, within LIMIT_S (10^6 layers, a 400-digit integer, a hidden size of 2^40: refused by the
declared bounds before any work). Warnings where HF's model does something the file may not
mean (an explicit head_dim, a RoPE model past its trained positions). Hypothesis then mutates
the bundled configs: any mutation either traces or ends in the library's own error, and
declared values anywhere within their bounds trace in seconds or are refused.
"""

from __future__ import annotations

import contextlib
import copy
import json
import signal
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, arch_doc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimcsim import decode as decode_module
from aimcsim.cli import main
from aimcsim.cli.trace import _trace_text
from aimcsim.decode import decode
from aimcsim.errors import AimcsimError, SettingWarning, SpecError
from aimcsim.params.fields import numeric_bounds, required
from aimcsim.spec.arch import parse_arch
from aimcsim.spec.workload import parse_workload
from aimcsim.traces import (
    CONFIGS,
    MOBILEBERT_UNCASED,
    TraceGenerator,
    from_config,
    mobilebert_trace,
    read_config,
)
from aimcsim.traces.families import DECODERS, BertConfig, Gpt2Config, LlamaConfig
from aimcsim.traces.mobilebert import MobileBertConfig

LIMIT_S = 5.0
BUNDLED = {name: read_config(CONFIGS / name) for name in sorted(p.name for p in
                                                                 CONFIGS.glob("*.json"))}
MOBILEBERT = {"model_type": "mobilebert",
              **{k: v for k, v in MOBILEBERT_UNCASED.items() if k != "model"}}
BASES = {**BUNDLED, "mobilebert.json": MOBILEBERT}
CLASSES = {"bert": BertConfig, "gpt2": Gpt2Config, "llama": LlamaConfig,
           "mobilebert": MobileBertConfig}


def _with(base: str, **changes: Any) -> dict[str, Any]:
    """A bundled config with keys set (a value of `...`: the key removed)."""
    cfg = copy.deepcopy(BASES[base])
    for key, value in changes.items():
        if value is ...:
            cfg.pop(key, None)
        else:
            cfg[key] = value
    return cfg


def _write(folder: Path, cfg: dict[str, Any], name: str = "config.json") -> Path:
    path = folder / name
    path.write_text(json.dumps(cfg), encoding="utf-8")
    return path


@contextlib.contextmanager
def _at_most(seconds: float) -> Iterator[None]:
    """Fail (rather than hang, as a trace of 10^6 layers would) past `seconds`."""
    def late(*_: Any) -> None:
        raise TimeoutError(f"still running after {seconds} s")
    previous = signal.signal(signal.SIGALRM, late)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _cli(capsys, argv: list[str]) -> tuple[int, str, float]:
    start = time.perf_counter()
    with _at_most(2 * LIMIT_S):
        code = main(argv)
    elapsed = time.perf_counter() - start
    return code, capsys.readouterr().err, elapsed


# ---- bad configs: exit 2, one message naming the file, the key and the value ------------------
#: (config, changes, trace arguments, what the message says after "FILE: ")
BAD = [
    ("gpt2.json", {"n_layer": 10**6}, [], "n_layer: 1000000 is above the maximum 1024"),
    ("gpt2.json", {"n_layer": 10**4}, [], "n_layer: 10000 is above the maximum 1024"),
    ("gpt2.json", {"n_embd": 10**400}, [],
     "n_embd: 100000000000000000...0000000000000000000 is above the maximum 16777216"),
    ("Llama-3.1-8B.json", {"hidden_size": 10**9}, [],
     "hidden_size: 1000000000 is above the maximum 16777216"),
    ("Llama-3.1-8B.json", {"hidden_size": 2**40}, [],
     "hidden_size: 1099511627776 is above the maximum 16777216"),
    ("bert-base-uncased.json", {"intermediate_size": 2**40}, [],
     "intermediate_size: 1099511627776 is above the maximum 16777216"),
    ("Llama-3.1-8B.json", {"num_key_value_heads": 0}, [],
     "num_key_value_heads: 0 is below the minimum 1"),
    ("Llama-3.1-8B.json", {"num_key_value_heads": 3}, [],
     "num_key_value_heads: 3 does not divide num_attention_heads = 32"),
    ("Llama-3.2-1B.json", {"num_attention_heads": 4096}, [],
     "num_attention_heads: 4096 heads, more than hidden_size = 2048"),
    ("Llama-3.1-8B.json", {"num_attention_heads": 5000}, [],
     "num_attention_heads: 5000 is above the maximum 4096"),
    ("Llama-3.1-8B.json", {"num_attention_heads": 24}, [],
     "num_attention_heads: 24 does not divide hidden_size = 4096"),
    ("Llama-3.2-1B.json", {"head_dim": 2**20}, [],
     "head_dim: the query width num_attention_heads x head_dim = 32 x 1048576 = 33554432 "
     "values per token, above the 16777216 a workload accepts"),
    ("Llama-3.1-8B.json", {"max_position_embeddings": 0}, [],
     "max_position_embeddings: 0 is below the minimum 1"),
    ("gpt2.json", {"n_head": 7}, [], "n_head: 7 does not divide n_embd = 768"),
    ("gpt2.json", {"n_head": ...}, [], "n_head: missing required key 'n_head'"),
    ("gpt2.json", {"n_embd": True}, [], "n_embd: expected an integer, got True (bool)"),
    ("gpt2.json", {"n_inner": "3072"}, [], "n_inner: expected an integer, got '3072' (str)"),
    ("gpt2.json", {"n_embd": 2**23, "n_head": 8}, [],
     "n_embd: the MLP's width (n_inner not given) 4 x 8388608 = 33554432 values per token, "
     "above the 16777216 a workload accepts"),
    ("gpt2.json", {"n_positions": False}, [], "n_positions: expected an integer, got False"),
    ("bert-base-uncased.json", {"hidden_size": 768.0}, [],
     "hidden_size: expected an integer, got 768.0 (float)"),
    ("bert-base-uncased.json", {"num_hidden_layers": -1}, [],
     "num_hidden_layers: -1 is below the minimum 1"),
    ("bert-base-uncased.json", {"num_attention_heads": 7}, [],
     "num_attention_heads: 7 does not divide hidden_size = 768"),
    ("bert-base-uncased.json", {"num_attention_heads": None}, [],
     "num_attention_heads: expected an integer, got nothing (null)"),
    ("mobilebert.json", {"num_feedforward_networks": 0}, [],
     "num_feedforward_networks: 0 is below the minimum 1"),
    ("mobilebert.json", {"num_feedforward_networks": ...}, [],
     "num_feedforward_networks: missing required key 'num_feedforward_networks'"),
    ("mobilebert.json", {"num_hidden_layers": ...}, [],
     "num_hidden_layers: missing required key 'num_hidden_layers'"),
    ("mobilebert.json", {"num_attention_heads": 3}, [],
     "num_attention_heads: 3 does not divide true_hidden_size = 128"),
    ("mobilebert.json", {"use_bottleneck": False}, [],
     "use_bottleneck: False is not allowed; allowed values: True"),
    ("mobilebert.json", {"use_bottleneck_attention": "no"}, [],
     "use_bottleneck_attention: expected true or false, got 'no' (str)"),
    ("gpt2.json", {"model_type": "t5"}, [],
     "model_type: 't5' is not a family aimcsim traces; known: bert, gpt2, llama, mistral, mobilebert, "
     "qwen2"),
    ("gpt2.json", {"model_type": ...}, [], "model_type: None is not a family aimcsim traces"),
    ("gpt2.json", {"model_type": ["gpt2"]}, [],
     "model_type: ['gpt2'] is not a family aimcsim traces"),
    ("gpt2.json", {"_name_or_path": 5}, [],
     "_name_or_path: expected a string (the model's name), got 5"),
    # positions: learned ones refuse, by the file's value or HF's default
    ("bert-base-uncased.json", {}, ["--seq-len", "513"],
     "max_position_embeddings: 512 learned positions, fewer than the trace's 513 tokens"),
    ("bert-base-uncased.json", {"max_position_embeddings": ...}, ["--seq-len", "513"],
     "max_position_embeddings: 512 learned positions (not in the file: the HF config class's "
     "default), fewer than the trace's 513 tokens"),
    ("mobilebert.json", {}, ["--seq-len", "1024"],
     "max_position_embeddings: 512 learned positions (not in the file: the HF config "
     "class's default), fewer than the trace's 1024 tokens"),
    ("gpt2.json", {}, ["--seq-len", "1025"],
     "n_positions: 1024 learned positions, fewer than the trace's 1025 tokens"),
    ("gpt2.json", {}, ["--seq-len", "1", "--context", "1025"],
     "n_positions: 1024 learned positions, fewer than the 1025 keys of the decode step"),
    ("Llama-3.1-8B.json", {"num_attention_heads": 4096}, ["--seq-len", "8192"],
     "num_attention_heads: the attention scores of 4096 heads x 8192 keys = 33554432 values "
     "per token, above the 16777216 a workload accepts"),
]


@pytest.mark.parametrize(("base", "changes", "args", "expected"), BAD,
                         ids=[f"{b}-{'-'.join(map(str, c)) or '-'.join(a)}"[:60]
                              for b, c, a, _ in BAD])
def test_a_bad_config_is_refused_naming_file_key_and_value(tmp_path, capsys, base, changes,
                                                            args, expected):
    path = _write(tmp_path, _with(base, **changes), "model.json")
    code, err, elapsed = _cli(capsys, ["trace", "--config", str(path), *args,
                                       "--out", str(tmp_path / "t.yaml")])
    assert code == 2, err
    assert elapsed < LIMIT_S, f"{elapsed:.1f} s"
    assert err.startswith(f"aimcsim: error: {path}: {expected}"), err  # (no warning first)
    assert "Traceback" not in err and len(err) < 4000
    assert not (tmp_path / "t.yaml").exists()


def test_every_issue_of_a_file_at_once(tmp_path, capsys):
    path = _write(tmp_path, _with("Llama-3.1-8B.json", hidden_size=True, num_hidden_layers=0,
                                  intermediate_size=...))
    code, err, _ = _cli(capsys, ["trace", "--config", str(path), "--out",
                                 str(tmp_path / "t.yaml")])
    assert code == 2
    assert err.splitlines() == [
        f"aimcsim: error: {path}: 3 error(s)",
        f"{path}: hidden_size: expected an integer, got True (bool)",
        f"{path}: intermediate_size: missing required key 'intermediate_size'",
        f"{path}: num_hidden_layers: 0 is below the minimum 1"]


def test_the_context_is_bounded(tmp_path, capsys):
    out = str(tmp_path / "t.yaml")
    for context in ("1000000000000", "-1"):
        code, err, elapsed = _cli(capsys, ["trace", "gpt2", "--seq-len", "1", "--context",
                                           context, "--out", out])
        assert code == 2 and elapsed < LIMIT_S
        assert err == (f"aimcsim: error: --context must be in 1..1048576 keys (a decode step; "
                       f"absent: a prefill), got {context}\n")
    with pytest.raises(ValueError, match=r"context must be in 1\.\.1048576 keys"):
        from_config(BASES["gpt2.json"], 1, model="m", generator="g", context=2**21)
    with pytest.raises(ValueError, match=r"seq_len must be in 1\.\.1048576 tokens, got 0"):
        mobilebert_trace(0)


# ---- the declarations ---------------------------------------------------------------------------
@pytest.mark.parametrize("family", sorted(CLASSES))
def test_every_declared_number_has_both_bounds(family):
    bounds = numeric_bounds(CLASSES[family])
    assert bounds and all(low is not None and high is not None for low, high in bounds.values())
    assert all(high <= 1 << 30 for _, high in bounds.values())


def test_required_fields_are_the_sizes_and_counts():
    assert required(BertConfig) == ("hidden_size", "intermediate_size", "num_attention_heads",
                                    "num_hidden_layers")
    assert required(Gpt2Config) == ("n_embd", "n_head", "n_layer")
    assert required(LlamaConfig) == ("hidden_size", "intermediate_size",
                                     "num_attention_heads", "num_hidden_layers")
    assert required(MobileBertConfig) == (
        "hidden_size", "intra_bottleneck_size", "intermediate_size", "num_attention_heads",
        "num_hidden_layers", "num_feedforward_networks")


def test_a_user_mobilebert_config_is_not_filled_from_the_bundled_one(tmp_path, capsys):
    """Only the keys the file gives: the bundled MobileBERT is the default when no file is
    given, not a filler of a file's gaps."""
    path = _write(tmp_path, {"model_type": "mobilebert", "hidden_size": 256})
    code, err, _ = _cli(capsys, ["trace", "--config", str(path), "--out",
                                 str(tmp_path / "t.yaml")])
    assert code == 2 and f"{path}: 5 error(s)" in err
    assert "missing required key 'intra_bottleneck_size'" in err
    assert mobilebert_trace(8)["config"] == MOBILEBERT_UNCASED  # the default, as before


def test_hf_defaults_of_the_defaulted_fields():
    """n_inner null: 4 x n_embd; num_key_value_heads and head_dim null: every head, hidden /
    heads (HF's None); positions absent: the HF config classes' defaults."""
    gpt2 = from_config(_with("gpt2.json", n_inner=None), 8, model="m", generator="g")
    assert _op(gpt2, "b0.ffn_intermediate")["d_out"] == 4 * 768
    given = from_config(_with("gpt2.json", n_inner=1000), 8, model="m", generator="g")
    assert _op(given, "b0.ffn_intermediate")["d_out"] == 1000
    llama = from_config(_with("Llama-3.2-1B.json", num_key_value_heads=None, head_dim=None), 8,
                        model="m", generator="g")
    assert _op(llama, "b0.key")["d_out"] == 2048 and "kv_heads" not in _op(
        llama, "b0.attention_scores")
    with pytest.raises(SpecError, match="n_positions: 1024 learned positions"):
        from_config(_with("gpt2.json", n_positions=...), 1025, model="m", generator="g")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from_config(_with("Llama-3.2-1B.json", max_position_embeddings=...), 2049, model="m",
                    generator="g", file="l.json")
    assert len(caught) == 1 and str(caught[0].message).startswith(
        "l.json: max_position_embeddings = 2048 rotary positions (RoPE) (not in the file: the "
        "HF config class's default), fewer than the trace's 2049 tokens")


def _op(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(op for op in doc["ops"] if op["name"] == name)


# ---- warnings: what HF does with the file, said once ------------------------------------------
def _warned(capsys, argv: list[str]) -> list[str]:
    code, err, elapsed = _cli(capsys, argv)
    assert code == 0, err
    assert elapsed < LIMIT_S
    return [line for line in err.splitlines() if line.startswith("aimcsim: warning:")]


def test_an_explicit_head_dim_is_used_with_a_warning(tmp_path, capsys):
    """HF's LLaMA honours head_dim (q_proj: hidden -> heads x head_dim), so the trace does."""
    path = _write(tmp_path, _with("Llama-3.2-1B.json", head_dim=128))
    out = tmp_path / "t.yaml"
    assert _warned(capsys, ["trace", "--config", str(path), "--seq-len", "8", "--out",
                            str(out)]) == [
        f"aimcsim: warning: {path}: head_dim = 128 differs from hidden_size / "
        "num_attention_heads = 2048 / 32; HF's LLaMA attention uses head_dim (q_proj: 2048 -> "
        "32 x 128), and so does the trace"]
    work = parse_workload(yaml.safe_load(out.read_text()), str(out))
    assert work.op("b0.query").d_out == 32 * 128 and work.op("b0.key").d_out == 8 * 128
    assert work.op("b0.attention_output").d_in == 32 * 128
    same = _write(tmp_path, _with("Llama-3.2-1B.json", head_dim=64), "same.json")
    assert _warned(capsys, ["trace", "--config", str(same), "--seq-len", "8", "--out",
                            str(out)]) == []


def test_true_hidden_size_follows_hf_with_a_warning(tmp_path, capsys):
    """HF's MobileBertConfig sets true_hidden_size = intra_bottleneck_size."""
    path = _write(tmp_path, _with("mobilebert.json", true_hidden_size=256))
    out = tmp_path / "t.yaml"
    assert _warned(capsys, ["trace", "--config", str(path), "--seq-len", "8", "--out",
                            str(out)]) == [
        f"aimcsim: warning: {path}: true_hidden_size = 256 differs from intra_bottleneck_size "
        "= 128; HF MobileBertConfig sets true_hidden_size to intra_bottleneck_size "
        "(use_bottleneck), and so does the trace"]
    work = parse_workload(yaml.safe_load(out.read_text()), str(out))
    assert work.op("b0.query").d_in == 128


def test_a_rope_model_past_its_positions_is_traced_with_a_warning(tmp_path, capsys):
    path = _write(tmp_path, _with("Llama-3.2-1B.json", max_position_embeddings=64))
    out = str(tmp_path / "t.yaml")
    assert _warned(capsys, ["trace", "--config", str(path), "--seq-len", "65", "--out",
                            out]) == [
        f"aimcsim: warning: {path}: max_position_embeddings = 64 rotary positions (RoPE), "
        "fewer than the trace's 65 tokens: the model runs past the positions it was trained "
        "on (its quality there is unknown); traced as asked"]
    assert _warned(capsys, ["trace", "--config", str(path), "--seq-len", "64", "--out",
                            out]) == []
    assert len(_warned(capsys, ["trace", "--config", str(path), "--seq-len", "1",
                                "--context", "65", "--out", out])) == 1


def test_learned_positions_are_traced_up_to_their_last():
    for file, tokens in (("bert-base-uncased.json", 512), ("gpt2.json", 1024)):
        assert from_config(BASES[file], tokens, model="m", generator="g")["tokens"] == tokens
    step = from_config(BASES["gpt2.json"], 1, model="m", generator="g", context=1024)
    assert step["context"] == 1024
    assert mobilebert_trace(512)["tokens"] == 512
    with pytest.raises(SpecError, match=r"MOBILEBERT_UNCASED .*: max_position_embeddings: 512 "
                                        r"learned positions"):
        mobilebert_trace(513)


# ---- decode: prompt + steps against the positions, before anything is simulated --------------
TINY = {
    "gpt2": {"model_type": "gpt2", "n_embd": 64, "n_head": 4, "n_layer": 1, "n_positions": 8},
    "llama": {"model_type": "llama", "hidden_size": 64, "intermediate_size": 96,
              "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 1,
              "max_position_embeddings": 8},
}


def _tiny(family: str) -> TraceGenerator:
    def generate(seq_len: int = 8, config: dict | None = None, context: int = 0) -> dict:
        return from_config(config or TINY[family], seq_len, model=family, generator=family,
                           file=f"{family}.json", context=context)
    return TraceGenerator(family, family, generate)


@pytest.fixture
def nothing_simulated(monkeypatch):
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("simulated before the positions were checked")
    monkeypatch.setattr(decode_module, "simulate", refuse)


@pytest.fixture(scope="module")
def small_arch():
    return parse_arch(arch_doc(pipeline={"parallel_tokens": 4}), "a.yaml")


def test_decode_refuses_past_learned_positions_before_simulating(small_arch,
                                                                 nothing_simulated):
    for prompt, steps in ((6, 3), (9, 0)):
        with pytest.raises(SpecError, match=r"gpt2\.json: n_positions: 8 learned positions, "
                                            rf"fewer than the (trace's )?{prompt + steps} "):
            decode(small_arch, _tiny("gpt2"), prompt=prompt, steps=steps)


def test_decode_runs_to_the_last_learned_position(small_arch):
    table = decode(small_arch, _tiny("gpt2"), prompt=6, steps=2, modes=("aimc-only",))
    assert list(table.context) == [6, 7, 8]


def test_decode_warns_once_past_rotary_positions(small_arch):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = decode(small_arch, _tiny("llama"), prompt=6, steps=5, modes=("aimc-only",))
    assert list(table.context) == [6, 7, 8, 9, 10, 11]
    positions = [str(w.message) for w in caught if issubclass(w.category, SettingWarning)
                 and "max_position_embeddings" in str(w.message)]
    assert positions == ["llama.json: max_position_embeddings = 8 rotary positions (RoPE), "
                         "fewer than the 11 keys of the decode step (the prompt and the tokens "
                         "generated so far): the model runs past the positions it was trained "
                         "on (its quality there is unknown); traced as asked"]


def test_the_decode_command_refuses_gpt2_past_1024_positions(capsys, nothing_simulated):
    code, err, elapsed = _cli(capsys, ["decode", str(ROOT / "arch" / "hybrid.yaml"), "gpt2",
                                       "--prompt", "1024", "--steps", "8"])
    assert code == 2 and elapsed < LIMIT_S
    assert err.startswith("aimcsim: error: workloads/configs/gpt2.json: n_positions: 1024 "
                          "learned positions, fewer than the 1032 keys of the decode step"), err


# ---- the bundled traces are unchanged --------------------------------------------------------
def test_the_shipped_trace_is_written_byte_for_byte(tmp_path, capsys):
    out = tmp_path / "mobilebert.yaml"
    assert main(["trace", "mobilebert", "--seq-len", "384", "--out", str(out)]) == 0
    assert out.read_bytes() == (ROOT / "workloads" / "mobilebert.yaml").read_bytes()


def test_the_writer_is_pyyaml_s_text_and_takes_any_json_string():
    for doc in (mobilebert_trace(8), from_config(BASES["Llama-3.2-1B.json"], 8, model="m",
                                                 generator="g")):
        assert _trace_text(doc) == yaml.safe_dump(doc, sort_keys=False, width=100)
    odd = from_config({**BASES["gpt2.json"], "note": "\ud800"}, 4, model="m", generator="g")
    assert yaml.safe_load(_trace_text(odd))["config"]["note"] == "\ud800"


# ---- fuzz: mutations of the bundled configs -----------------------------------------------------
_FUZZ = settings(max_examples=100, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])
_KEYS = sorted({k for cfg in BASES.values() for k in cfg}
               | {k for cls in CLASSES.values() for k in numeric_bounds(cls)}
               | {"head_dim", "n_inner", "num_key_value_heads", "true_hidden_size", "junk"})
_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3000),
    st.sampled_from([0, 1, 2, 3, 7, 64, 512, 1024, 1025, 2**24, 2**24 + 1, 2**40, 10**400,
                     -(10**400)]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6),
    st.sampled_from(["bert", "gpt2", "llama", "mobilebert", "t5"]),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=2))


@st.composite
def _mutated(draw) -> dict[str, Any]:
    cfg = copy.deepcopy(BASES[draw(st.sampled_from(sorted(BASES)))])
    own = ["model_type", *numeric_bounds(CLASSES[cfg["model_type"]])]  # (the keys read, often)
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.one_of(st.sampled_from(own), st.sampled_from(_KEYS)))
        if draw(st.integers(0, 4)) == 0:
            cfg.pop(key, None)
        else:
            cfg[key] = draw(_VALUES)
    return cfg


def _traces_or_refuses(cfg: dict[str, Any], seq_len: int, context: int) -> None:
    """Traces (a document `aimcsim run` loads, written as YAML) or raises the library's own
    error, within LIMIT_S; never another exception."""
    start = time.perf_counter()
    try:
        with _at_most(2 * LIMIT_S), warnings.catch_warnings():
            warnings.simplefilter("ignore", SettingWarning)
            doc = from_config(cfg, seq_len, model="fuzz", generator="fuzz", file="fuzz.json",
                              context=context)
    except AimcsimError as exc:
        assert str(exc).startswith("fuzz.json: ") and len(str(exc)) < 4000
    else:
        if len(doc["ops"]) <= 2000:  # (a larger one costs seconds to write and read back)
            assert yaml.safe_load(_trace_text(doc))["ops"] == doc["ops"]
            work = parse_workload(doc, "fuzz.yaml")
            assert work.tokens == seq_len and work.ops
    assert time.perf_counter() - start < LIMIT_S


@_FUZZ
@given(cfg=_mutated(), seq_len=st.sampled_from([1, 8, 600, 2000]),
       context=st.sampled_from([0, 0, 40, 5000]))
def test_fuzzed_configs_trace_or_are_refused(cfg, seq_len, context):
    decoder = cfg.get("model_type") in DECODERS if isinstance(cfg.get("model_type"),
                                                              str) else False
    if context and decoder:
        seq_len = 1
    else:
        context = 0  # (a decode step of an encoder is a wrong argument, not a bad file)
    _traces_or_refuses(cfg, seq_len, context)


@st.composite
def _in_bounds(draw) -> tuple[dict[str, Any], int]:
    """Up to four declared numbers of the file's family set anywhere within their bounds
    (extremes included)."""
    base = draw(st.sampled_from(sorted(BASES)))
    cfg = copy.deepcopy(BASES[base])
    bounds = numeric_bounds(CLASSES[cfg["model_type"]])
    for key in draw(st.lists(st.sampled_from(sorted(bounds)), min_size=1, max_size=4)):
        low, high = (int(b) for b in bounds[key])
        cfg[key] = draw(st.one_of(st.sampled_from([low, high]), st.integers(low, high),
                                  st.integers(low, min(high, 4096))))
    return cfg, draw(st.sampled_from([1, 16, 512]))


@_FUZZ
@given(_in_bounds())
def test_any_declared_value_traces_or_is_refused_in_seconds(case):
    cfg, seq_len = case
    _traces_or_refuses(cfg, seq_len, 0)


def test_bounds_refuse_before_any_work():
    """A trace is never begun for a refused file: the biggest refusals cost what a small
    trace costs."""
    start = time.perf_counter()
    for changes in ({"n_layer": 10**6}, {"n_embd": 10**400}, {"n_embd": 2**40}):
        with _at_most(LIMIT_S), pytest.raises(SpecError):
            from_config(_with("gpt2.json", **changes), 8, model="m", generator="g")
    assert time.perf_counter() - start < 0.5
