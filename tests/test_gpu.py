"""The GPU reference: its closed forms (grouped-query KV at kv_heads, fused attention, the LM
head), its file, its calibrations and checks against published A100 measurements, and the
`gpu` command."""

from __future__ import annotations

import dataclasses

import pytest
import yaml
from conftest import ROOT, arch_doc, linear_workload

from aimcsim.cli import main
from aimcsim.errors import SpecError
from aimcsim.gpu import estimate, load_gpu
from aimcsim.spec.workload import parse_workload
from aimcsim.traces import TRACES
from aimcsim.validation_gpu import CALIBRATIONS, CHECKS, GPU_FILE, calibrate

GPU = load_gpu(GPU_FILE)
EB = 2  # fp16


def _trace(name: str, seq_len: int, context: int = 0, **kw):
    return parse_workload(TRACES[name].generate(seq_len, context=context, **kw), name)


def test_roofline_of_one_layer_in_closed_form():
    """A linear layer and a relu: each the longer of its flops at the achieved compute and
    its bytes at the achieved bandwidth, its energy that time at its regime's power."""
    work = parse_workload(linear_workload(128, 1024, 1024, tail="relu"), "w.yaml")
    ref = estimate(GPU, work)
    compute = 312e12 * GPU.compute_efficiency
    bandwidth = 2039e9 * GPU.bandwidth_efficiency
    linear = max(2 * 128 * 1024 * 1024 / compute, (1024 * 1024 + 128 * 2048) * EB / bandwidth)
    relu = max(128 * 1024 / compute, 128 * 1024 * 2 * EB / bandwidth)
    assert ref["latency_ns"] == pytest.approx((linear + relu) * 1e9)
    assert ref["energy_pj"] == pytest.approx(GPU.memory_bound_power_w * (linear + relu) * 1e12)
    assert ref["compute_bound_ops"] == 0 and "estimate" in ref["estimate"]
    with_lora = estimate(GPU, work, lora_rank=8)
    assert with_lora["flops"] - ref["flops"] == 2 * 128 * 8 * 2048
    big = parse_workload(linear_workload(4096, 4096, 4096), "w.yaml")
    heavy = estimate(GPU, big)
    assert heavy["compute_bound_ops"] == 1
    assert heavy["energy_pj"] == pytest.approx(GPU.compute_bound_power_w
                                               * heavy["latency_ns"] * 1e3)


@pytest.mark.parametrize("context", [1, 300, 2049])
def test_decode_reads_the_kv_cache_at_kv_heads(context):
    """LLaMA-3.1-8B (32 query heads, 8 KV heads of 128): a decode step's fused attention
    reads Q and writes its output (2 x 32 x 128 values) and reads K and V of the context at
    the 8 KV heads only, per layer: the closed form, not 4x it."""
    work = _trace("llama-3.1-8b", 1, context)
    ops = estimate(GPU, work)["ops"]
    attention = ops[ops.kind == "attention"]
    assert len(attention) == 32
    per_layer = EB * (2 * 32 * 128 + 2 * 8 * context * 128)
    assert (attention["bytes"] == per_layer).all()
    unfused = estimate(GPU, work, attention="unfused")["ops"]
    scores = unfused[unfused.name.str.endswith("attention_scores")]
    # Q (32 x 128) in, K (8 kv heads x 128 x context) held, the scores (32 x context) out
    assert (scores["bytes"] == EB * (32 * 128 + 8 * 128 * context + 32 * context)).all()


def test_fused_attention_saves_the_scores_round_trips():
    """Unfused, the scores are written, read and written by the softmax, and read by the
    context matmul: 4 T H n values more than the fused kernel moves, the flops the same."""
    work = _trace("gpt2", 256)
    fused, unfused = estimate(GPU, work), estimate(GPU, work, attention="unfused")
    layers, heads, tokens = 12, 12, 256
    assert unfused["bytes"] - fused["bytes"] == EB * 4 * tokens * heads * tokens * layers
    assert unfused["flops"] == fused["flops"]
    assert unfused["latency_ns"] > fused["latency_ns"]
    with pytest.raises(ValueError, match="attention must be one of fused, unfused"):
        estimate(GPU, work, attention="flash")


def test_the_lm_head_is_traced_and_counted_on_both_sides(root):
    """A prefill computes the logits of its last token only, a decode step of its token:
    the LM head reads its vocab x hidden weights once on the GPU, and runs one token on the
    tiles after the final norm's last block."""
    from aimcsim import load_arch
    from aimcsim.simulator import simulate

    prefill = _trace("gpt2", 64)
    head = prefill.ops[-1]
    assert (head.role, head.d_in, head.d_out, head.last_tokens) == ("lm_head", 768, 50257, 1)
    assert _trace("gpt2", 1, 65).ops[-1].last_tokens == 0
    assert all(op.role != "lm_head" for op in _trace("gpt2", 64, lm_head=False).ops)
    row = estimate(GPU, prefill)["ops"].iloc[-1]
    assert row.tokens == 1 and row["bytes"] == EB * (768 * 50257 + 768 + 50257)
    arch = load_arch(root / "arch" / "hybrid_large_tcdm.yaml")
    for between in ("layer-by-layer", "streaming"):  # (streaming: it waits for the last block)
        variant = dataclasses.replace(arch, pipeline=dataclasses.replace(
            arch.pipeline, between_layers=between))
        result = simulate(variant, prefill, "hybrid", timeline=False)
        layers = result.layers
        final, lm = layers.iloc[-2], layers.iloc[-1]
        assert lm.layer.endswith("lm_head") and lm.tokens == 1
        assert (layers.tokens[:-1] == 64).all()
        assert lm["rank"] == 0 and (layers["rank"] == 8).any()  # lora.layers: all leaves it
        assert lm.start_ns >= final.end_ns - 1e-6, between
        # one MVM per tile for its one token: the AIMC side's share of it
        tiles = -(-768 // arch.aimc.rows) * -(-50257 // arch.aimc.cols)
        assert lm.mvms == tiles


def test_the_file_holds_each_value_its_measurement_gives():
    """Each efficiency and power is the value that makes our estimate of its measurement's
    setting equal the measurement (to the digits the file gives)."""
    gpu = GPU
    for field in CALIBRATIONS:
        value = getattr(gpu, field)
        assert calibrate(field, gpu) == pytest.approx(value, rel=2e-3), field
        assert "PENDING" not in (gpu.sources or {})[field]


@pytest.mark.parametrize("check", CHECKS, ids=lambda m: f"{m.name}-{m.setting[:30]}")
def test_checks_against_other_measurements(check):
    assert abs(check.error(GPU)) <= check.tolerance, (check.ours(GPU), check.published)


def test_a_bad_gpu_file_is_refused_naming_the_field(tmp_path):
    doc = yaml.safe_load(GPU_FILE.read_text())
    bad = tmp_path / "gpu.yaml"
    old = dict(doc, version=1)
    bad.write_text(yaml.safe_dump(old))
    with pytest.raises(SpecError, match="version: 1 is not allowed; allowed values: 2"):
        load_gpu(bad)
    broken = {**doc, "peak_tflops": {"value": 0, "source": "x"}, "dtype": "fp12",
              "memory_bound_power_w": {"value": 500, "source": "x"},
              "compute_efficiency": {"value": 0.5, "source": " "}}
    bad.write_text(yaml.safe_dump(broken))
    with pytest.raises(SpecError) as info:
        load_gpu(bad)
    text = str(info.value)
    assert "peak_tflops.value: 0 is below the minimum 0.001" in text
    assert "dtype: 'fp12' is not allowed" in text
    assert "memory_bound_power_w.value: 500 W is above board_power_w = 400 W" in text
    assert "compute_efficiency.source: say where the value comes from" in text


@pytest.mark.parametrize("model", sorted(TRACES))
def test_gpu_command_for_every_bundled_model(capsys, model):
    assert main(["gpu", model, "--seq-len", "128", "--rank", "8"]) == 0
    out = capsys.readouterr().out
    assert out.count("GPU estimate") == 2 and "with rank-8 LoRA" in out
    if model in ("gpt2", "llama-3.2-1b", "llama-3.1-8b"):
        assert main(["gpu", model, "--context", "1000"]) == 0
        out = capsys.readouterr().out
        assert "decode step over 1000 keys" in out and "1 LM head" in out


def test_gpu_command_reads_a_config_and_refuses_nonsense(capsys, tmp_path):
    assert main(["gpu", str(ROOT / "workloads" / "configs" / "Llama-2-7b-hf.json"),
                 "--seq-len", "2048"]) == 0
    assert "2048 tokens" in capsys.readouterr().out
    assert main(["gpu", "nowhere.json"]) == 2
    assert "neither a bundled model" in capsys.readouterr().err
    assert main(["trace", "--config", str(tmp_path / "nowhere.json"), "--out",
                 str(tmp_path / "t.yaml")]) == 2
    assert "nowhere.json: file not found" in capsys.readouterr().err
    assert main(["gpu", "mobilebert", "--context", "10"]) == 2
    assert "encoder" in capsys.readouterr().err


def test_run_prints_the_estimate_beside_the_run_and_when_it_is_refused(root, tmp_path, capsys):
    work = tmp_path / "w.yaml"
    work.write_text(yaml.safe_dump(linear_workload(32, 1024, 512)))
    arch = tmp_path / "a.yaml"
    arch.write_text(yaml.safe_dump({**arch_doc(), "technology": str(ROOT / "tech" /
                                                                    "pcm14.yaml")}))
    assert main(["run", str(arch), str(work), "--mode", "both", "--gpu", str(GPU_FILE)]) == 0
    out = capsys.readouterr().out
    assert out.count("GPU estimate") == 2 and "not simulated" in out
    assert "x its latency" in out and "of its energy per token" in out
    # a workload the architecture refuses: the estimate, then the refusal (exit 2)
    small = tmp_path / "small.yaml"
    small.write_text(yaml.safe_dump({**arch_doc(), "pmca": {**arch_doc()["pmca"],
                                                            "tcdm_bytes": 4096}}))
    assert main(["run", str(small), str(work), "--gpu", str(GPU_FILE)]) == 2
    captured = capsys.readouterr()
    assert "GPU estimate" in captured.out and "aimcsim: error:" in captured.err


def test_tensor_parallel_divides_the_work_and_multiplies_the_power():
    """Each of two GPUs does half of every op but the residual stream's adds and norms, which
    each runs whole (Megatron-style); together they draw twice the power."""
    from aimcsim.gpu import REPLICATED

    work = _trace("llama-3.2-1b", 1, 512)
    one, two = estimate(GPU, work), estimate(GPU, work, tensor_parallel=2)
    function = {op.name: op.function for op in work.ops}
    whole = one["ops"].name.map(function).isin(REPLICATED).to_numpy()
    assert whole.any() and not whole.all()
    ratio = two["ops"].latency_ns.to_numpy() / one["ops"].latency_ns.to_numpy()
    assert ratio[whole] == pytest.approx(1.0) and ratio[~whole] == pytest.approx(0.5)
    assert two["energy_pj"] == pytest.approx(
        2 * one["ops"].energy_pj[whole].sum() + one["ops"].energy_pj[~whole].sum())


def test_the_40_gb_part_shares_the_efficiencies_and_powers():
    from aimcsim.validation_gpu import GPU_40GB

    other = load_gpu(GPU_40GB)
    assert (other.memory_gb_per_s, other.peak_tflops, other.board_power_w) == (1555, 312, 400)
    for field in CALIBRATIONS | {"compute_bound_power_w": None}:
        assert getattr(other, field) == getattr(GPU, field), field


def test_a_calibration_its_measurement_cannot_reach_is_refused():
    import dataclasses

    weak = dataclasses.replace(GPU, board_power_w=100.0)  # (below the measured 228.8 W)
    with pytest.raises(ValueError, match="memory_bound_power_w: the measurement"):
        calibrate("memory_bound_power_w", weak)


def test_the_lm_head_reports_its_own_block_size(root):
    from aimcsim import load_arch
    from aimcsim.simulator import simulate

    layers = simulate(load_arch(root / "arch" / "hybrid_large_tcdm.yaml"), _trace("gpt2", 64),
                      "aimc-only", timeline=False).layers
    assert layers.parallel_tokens.iloc[-1] == 1 and (layers.parallel_tokens.iloc[:-1] == 8).all()
