"""Replayed ops (`aimcsim.sim.replay`) against the reference engine: a layer-by-layer run that
applies recorded footprints to repeated ops gives the very tables and summary of a run that
simulates every op, over random architectures and workloads (hypothesis)."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest
from conftest import ROOT, arch_doc, architectures, make_arch, plugin, small_bert
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimcsim import CapacityError, simulate
from aimcsim.mapping import placed
from aimcsim.sim.feasibility import check_l2
from aimcsim.sim.network import NetworkSim
from aimcsim.sim.prepare import prepare
from aimcsim.sim.replay import signature
from aimcsim.sim.stats import OpStats
from aimcsim.simulator import default_model
from aimcsim.spec.arch import parse_arch
from aimcsim.spec.workload import parse_workload
from aimcsim.traces import from_config

_SMALL = {
    "bert": {"model_type": "bert", "hidden_size": 96, "intermediate_size": 160,
             "num_attention_heads": 4, "num_hidden_layers": 3},
    "gpt2": {"model_type": "gpt2", "n_embd": 64, "n_head": 4, "n_layer": 3},
    "llama": {"model_type": "llama", "hidden_size": 64, "intermediate_size": 96,
              "num_attention_heads": 4, "num_key_value_heads": 2, "num_hidden_layers": 3},
}


@st.composite
def workloads(draw):
    """MobileBERT of 2-3 blocks, or a small BERT, GPT-2 or LLaMA, prefill or a decode step."""
    family = draw(st.sampled_from(["mobilebert", *_SMALL]))
    if family == "mobilebert":
        return small_bert(draw(st.integers(1, 20)), draw(st.integers(2, 3)))
    context = draw(st.sampled_from([0, 0, 9])) if family != "bert" else 0
    tokens = 1 if context else draw(st.integers(1, 20))
    doc = from_config(_SMALL[family], tokens, model=family, generator=family, context=context)
    return parse_workload(doc, f"{family}.yaml")


def _with_cim(doc: dict, rows: int, freq_mhz: int) -> dict:
    """The architecture with every adapter on SRAM-CIM macros beside its tile (HaLoRA)."""
    return {**doc, "lora": {**doc["lora"], "engine": "sram-cim"},
            "sram_cim": {"rows": rows, "outputs": 16, "input_bits": 8, "freq_mhz": freq_mhz},
            "technology": str(ROOT / "tech" / "rram_sramcim.yaml")}


def _same(a, b) -> None:
    pd.testing.assert_frame_equal(a.layers, b.layers, check_exact=True)
    assert json.dumps(a.summary, sort_keys=True) == json.dumps(b.summary, sort_keys=True)


def same_as_reference(doc: dict, cim: tuple | None, work, mode: str):
    """The random architecture (with SRAM-CIM macros when `cim` gives their rows and clock),
    after checking that `simulate` gives the reference engine's tables and summary for
    `work` in `mode`; None when the TCDM refuses the run."""
    arch = parse_arch(doc if cim is None else _with_cim(doc, *cim), "random.yaml")
    try:
        reference = simulate(arch, work, mode, timeline=False, replay=False)
    except CapacityError:
        return None
    _same(simulate(arch, work, mode, timeline=False), reference)
    return arch


def study_arch(cim: bool, strategy: str, between: str, topology: str = "point-to-point"):
    """The study's shapes with blocks of 8 tokens, the LoRA branch on the clusters or on
    SRAM-CIM macros."""
    doc = arch_doc(interconnect={"topology": topology, "hop_latency_cycles": 2},
                   pipeline={"strategy": strategy, "parallel_tokens": 8,
                             "between_layers": between})
    return parse_arch(_with_cim(doc, 64, 500) if cim else doc, "test.yaml")


def _log_blocks(sim: NetworkSim) -> dict:
    """Log each completed block's (op, index): its time, its op's statistics then and the
    state of the servers it may use."""
    log = {}
    complete = sim._complete

    def logged(name, b, *args, **kwargs):
        complete(name, b, *args, **kwargs)
        p = sim.placements[name]
        end = kwargs.get("end_ps")  # (a replayed block's end, ahead of the clock)
        behind = sim.ahead_ps.get(name, 0)
        if behind:  # the blocks after a steady state's skip run behind the clock (ps): the
            if sim._left[name]:  # op's statistics and servers catch up at its end
                return
            end = sim.env.now + behind
        if not any(prog.uses_cluster for prog in sim.programs[name].values()):
            # a tile alone: its blocks are all booked at once, then end one after the other
            # (with replay all but the last are counted at once): their ends
            log[(name, b)] = sim.env.now if end is None else end
            return
        log[(name, b)] = (
            sim.env.now if end is None else end, sim.stats[name].snapshot(),
            sim.machine.tiles[name].state() if name in sim.machine.tiles else None,
            sim.machine.cims[name].free_ps if name in sim.machine.cims else None,
            # (with the state replayed ops left: `Machine.defer`)
            [sim.machine.cores_free_ps(c) for c in p.clusters], sim.machine.link_free_ps())

    sim._complete = logged
    return log


def _block_by_block(arch, work, mode: str) -> tuple[list[NetworkSim], list[dict], dict]:
    """The run with replay and the reference engine's, each block logged (`_log_blocks`):
    the blocks the replaying run logged are checked equal to the reference's; the runs, the
    logs and the reference's log of the ops the replaying run simulated."""
    sims = [NetworkSim(prepare(arch, work, mode, default_model(arch)), record=False,
                       replay=replay) for replay in (True, False)]
    logs = [_log_blocks(sim) for sim in sims]
    for sim in sims:
        sim.run()
    simulated = {k: v for k, v in logs[1].items() if k[0] not in sims[0]._twins}
    assert logs[0] == {k: v for k, v in simulated.items() if k in logs[0]}
    return sims, logs, simulated


def _state(sim: NetworkSim) -> tuple:
    """Every server's state after a run: links, cores, TCDM pools, macros, tile phases (the
    state replayed ops left written first: `Machine.defer`)."""
    sim.machine.settle()
    return ({key: server.free_ps for key, server in sim.machine.net.servers.items()},
            [(c.cores.free_ps, c.used_bytes, c.peak_bytes) for c in sim.machine.clusters],
            {name: cim.free_ps for name, cim in sim.machine.cims.items()},
            {name: tile.state() for name, tile in sim.machine.tiles.items()},
            {op.name: [getattr(sim.stats[op.name], f) for f in OpStats.__slots__]
             for op in sim.workload.ops})


@pytest.mark.filterwarnings("ignore::aimcsim.errors.SettingWarning")
@settings(max_examples=80, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(doc=architectures(tcdm_bytes=st.sampled_from([16_384, 65_536, 1 << 22])),
       work=workloads(), mode=st.sampled_from(["hybrid", "aimc-only"]),
       cim=st.one_of(st.none(), st.tuples(st.sampled_from([16, 64]), st.sampled_from([50, 100, 250, 500, 1000]))))
def test_replay_gives_the_reference_engines_results(doc, work, mode, cim):
    arch = same_as_reference(doc, cim, work, mode)
    if arch is None:
        return
    # it did replay (every op of the blocks after the second has its twin in the second; the
    # first reads the network input), and left every server as the reference engine does;
    # after every block a simulated op's statistics are the reference engine's (a run of
    # replayed blocks of one size before an op's last is applied at once: after its last)
    sims, logs, simulated = _block_by_block(arch, work, mode)
    last = {name: len(blocks) - 1 for name, blocks in sims[0].blocks.items()}
    assert all(k in logs[0] for k in simulated if k[1] in (0, last[k[0]]))
    ops = sims[0].workload.ops
    assert sims[0].replayed >= (ops[-1].block - 1) * sum(op.block == 0 for op in ops)
    assert _state(sims[0]) == _state(sims[1])


def _both(arch, work, mode: str) -> list[NetworkSim]:
    """The run with replay and the reference engine's, each run; their tables and summaries
    and the servers they leave are checked equal."""
    _same(simulate(arch, work, mode, timeline=False),
          simulate(arch, work, mode, timeline=False, replay=False))
    _forget_memos()  # (else the digital ops replay the footprints the run above recorded)
    sims = [NetworkSim(prepare(arch, work, mode, default_model(arch)), record=False,
                       replay=replay) for replay in (True, False)]
    for sim in sims:
        sim.run()
    assert _state(sims[0]) == _state(sims[1])
    return sims


def _kind_of(sim: NetworkSim, op) -> str | None:
    """Which ops runs may share (`replay.Shared`'s field), as the docs say: a digital op
    (no tile, no SRAM-CIM macros), or a static op whose blocks use the tile alone on
    point-to-point links (none of its programs uses the cluster)."""
    place_ = sim.placements[op.name]
    if place_.cim:
        return None
    if op.kind != "static_linear":
        return "digital"
    alone = not any(prog.uses_cluster for prog in sim.programs[op.name].values())
    point_to_point = sim.arch.interconnect.topology == "point-to-point"
    return "tile_only" if alone and point_to_point else None


def _shared_in_turn(work, mode: str, variants: list[dict], kind: str | None
                    ) -> NetworkSim | None:
    """Runs of `variants` one after the other (memos cleared before the first), each checked
    against the reference engine; the last, after checking that it simulated none of the ops
    of `kind` (`Shared`'s field; None: nothing checked of what they share) whose footprint the
    first kept, and replayed one as its own twin if any (None when a TCDM refuses a run or the
    first did not replay)."""
    _forget_memos()
    sims = []
    for i, variant in enumerate(variants):
        arch = parse_arch(variant, f"v{i}.yaml")
        try:
            sim = NetworkSim(prepare(arch, work, mode, default_model(arch)), record=False)
        except CapacityError:
            return None
        sim.run()
        reference = NetworkSim(prepare(arch, work, mode, default_model(arch)), record=False,
                               replay=False)
        reference.run()
        assert _state(sim) == _state(reference)
        _same(simulate(arch, work, mode, timeline=False),
              simulate(arch, work, mode, timeline=False, replay=False))
        sims.append(sim)
    first, last = sims[0], sims[-1]
    if kind is None or not (first.replay and first._settled):
        return None
    # (an op with no replayable footprint in the first, one that used a link off its routes,
    # is simulated again)
    kept = {key for key, footprint in first.footprints.items() if footprint is not None}
    shared = [op for op in last.workload.ops  # (attention fused as the pipeline says)
              if _kind_of(last, op) == kind]
    assert not [op for op in shared
                if op.name not in last._twins and signature(last, op)[0] in kept]
    if any(signature(last, op)[0] in kept for op in shared):
        assert any(last._twins.get(op.name) == op.name for op in shared)
    return last


@pytest.mark.filterwarnings("ignore::aimcsim.errors.SettingWarning")
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(doc=architectures(), work=workloads(), mode=st.sampled_from(["hybrid", "aimc-only"]),
       tiles=st.lists(st.tuples(st.sampled_from([8, 32, 128, 512]), st.integers(1, 64),
                                st.integers(1, 64), st.booleans()), min_size=2, max_size=3))
def test_runs_that_differ_in_the_tiles_share_their_digital_ops(doc, work, mode, tiles):
    """Runs one after the other on architectures that differ in the tiles' timing (and the
    technology) replay the digital ops the first one simulated, with the reference engine's
    results; ops on tiles are simulated in each."""
    variants = []
    for integration, dac, adc, tech in tiles:
        variant = {**doc, "aimc": {**doc["aimc"], "integration_time_ns": integration,
                                   "dac_ns": dac, "adc_ns": adc}}
        if tech:
            variant["technology"] = str(ROOT / "tech" / "rram_sramcim.yaml")
        variants.append(variant)
    last = _shared_in_turn(work, mode, variants, "digital")
    if last is not None:
        static = [op.name for op in last.workload.ops if op.kind == "static_linear"]
        assert [name for name in static if name not in last._twins]  # (their tiles differ)


@pytest.mark.filterwarnings("ignore::aimcsim.errors.SettingWarning")
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(doc=architectures(), work=workloads(), mode=st.sampled_from(["hybrid", "aimc-only"]),
       strategies=st.lists(st.sampled_from(["sequential", "overlapped", "double-buffered"]),
                           min_size=2, max_size=3))
def test_runs_that_differ_in_the_strategy_share_their_tile_only_ops(doc, work, mode,
                                                                    strategies):
    """Runs one after the other on architectures that differ in the pipeline's strategy
    replay the static ops whose blocks use their tile alone on links of their own (booked at
    once: the strategy decides nothing of theirs) that the first one simulated, with the
    reference engine's results."""
    # (links of their own: point-to-point)
    doc = {**doc, "interconnect": {**doc["interconnect"], "topology": "point-to-point"}}
    _shared_in_turn(work, mode, [{**doc, "pipeline": {**doc["pipeline"], "strategy": name}}
                                 for name in strategies], "tile_only")


@pytest.mark.filterwarnings("ignore::aimcsim.errors.SettingWarning")
@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(doc=architectures(), work=workloads(), mode=st.sampled_from(["hybrid", "aimc-only"]),
       change=st.sampled_from([("pmca", "freq_mhz", lambda v: 2 * v),
                               ("pmca", "kernel_setup_cycles", lambda v: v + 50),
                               ("interconnect", "latency_cycles", lambda v: v + 7),
                               ("interconnect", "bytes_per_cycle", lambda v: 2 * v),
                               ("interconnect", "topology",
                                lambda v: "mesh" if v != "mesh" else "ring"),
                               ("pipeline", "parallel_tokens", lambda v: v + 3),
                               ("pipeline", "tile_output",
                                lambda v: "separate" if v == "in-place" else "in-place")]))
def test_runs_that_differ_in_what_an_op_reads_keep_their_own(doc, work, mode, change):
    """Runs one after the other on architectures that differ in the clusters, the links or
    the pipeline (what every op reads) each give the reference engine's results: none takes
    the footprints of another."""
    section, key, changed = change
    variant = {**doc, section: {**doc[section], key: changed(doc[section][key])}}
    _shared_in_turn(work, mode, [doc, variant], None)


@pytest.mark.filterwarnings("ignore::aimcsim.errors.SettingWarning")
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(doc=architectures(), mode=st.sampled_from(["hybrid", "aimc-only"]),
       tokens=st.integers(8, 48), block=st.integers(1, 4), in_flight=st.sampled_from([2, 3]),
       cim=st.one_of(st.none(), st.tuples(st.sampled_from([16, 64]), st.sampled_from([50, 500]))))
def test_a_steady_state_skip_gives_the_reference_engines_results(doc, mode, tokens, block,
                                                                in_flight, cim):
    """Several blocks in flight and many blocks per op (`aimcsim.sim.steady`): the ops that
    settle skip their periods, over random architectures, every topology and a strategy of
    three blocks in flight (`tests/toy_strategy.py`), with the reference engine's tables,
    summary, servers and, for the blocks before each skip and every op's last, the
    statistics after each block."""
    from aimcsim.sim.strategies import STRATEGIES

    if in_flight == 3:
        with plugin("toy_strategy", STRATEGIES, "triple-buffered"):
            _steady_against_reference(doc, mode, tokens, block, "triple-buffered", cim)
    else:
        _steady_against_reference(doc, mode, tokens, block, "double-buffered", cim)


def _steady_against_reference(doc, mode, tokens, block, strategy, cim) -> None:
    doc = {**doc, "pipeline": {**doc["pipeline"], "parallel_tokens": block,
                               "strategy": strategy}}
    work = small_bert(tokens, 2)
    arch = same_as_reference(doc, cim, work, mode)
    if arch is None:
        return
    sims, _, _ = _block_by_block(arch, work, mode)
    assert _state(sims[0]) == _state(sims[1])


@pytest.mark.parametrize("topology", ["point-to-point", "shared-bus", "mesh", "ring"])
@pytest.mark.parametrize("cim", [False, True], ids=["cluster", "sram-cim"])
def test_double_buffered_ops_skip_their_steady_state(topology, cim):
    """MobileBERT at its study shapes in blocks of 4 tokens, two in flight: the simulated ops
    settle within a few blocks and skip the rest of their periods (on every topology the
    digital ops; on point-to-point links, where a tile's branch is booked at once, the static
    ones too), with the reference engine's results."""
    doc = arch_doc(interconnect={"topology": topology, "hop_latency_cycles": 2},
                   pipeline={"strategy": "double-buffered", "parallel_tokens": 4,
                             "between_layers": "layer-by-layer"})
    arch = parse_arch(_with_cim(doc, 64, 500) if cim else doc, "test.yaml")
    work = small_bert(96, 2)
    for mode in ("hybrid", "aimc-only"):
        sim = _both(arch, work, mode)[0]
        # the simulated ops whose blocks hold a cluster (a tile alone needs no gate)
        gated = [op for op in work.ops if op.name not in sim._twins
                 and any(prog.uses_cluster for prog in sim.programs[op.name].values())]
        digital = [op for op in gated if op.kind != "static_linear"]
        assert digital and all(op.name in sim.ahead_ps for op in digital)
        assert sim.steady_blocks > sum(len(sim.blocks[op.name]) for op in digital) / 2
        static = [op for op in gated if op.kind == "static_linear"]
        assert bool(static) is (mode == "hybrid")
        if topology == "point-to-point":
            assert all(op.name in sim.ahead_ps for op in static)


@pytest.mark.parametrize("topology", ["point-to-point", "shared-bus", "mesh", "ring"])
@pytest.mark.parametrize("cim", [False, True], ids=["cluster", "sram-cim"])
@pytest.mark.parametrize("strategy", ["overlapped", "double-buffered"])
def test_replay_on_every_topology(topology, cim, strategy):
    """MobileBERT of three blocks at its study shapes, the LoRA branch on the clusters or on
    SRAM-CIM macros; with one block in flight, blocks of a simulated op replay too."""
    arch = study_arch(cim, strategy, "layer-by-layer", topology)
    work = small_bert(24, 3)
    for mode in ("hybrid", "aimc-only"):
        sims = _both(arch, work, mode)
        assert sims[0].replayed >= 15
        assert (sims[0].replayed_blocks > 0) is (strategy == "overlapped")


def test_a_signature_tells_ops_apart_by_their_inputs():
    """Ops of one shape in different blocks share a signature; the same op reading a held
    (barrier) operand instead of a streamed one does not."""
    from aimcsim.sim.replay import op_structure, signature

    work = small_bert(8, 2)
    arch = make_arch(pipeline={"between_layers": "layer-by-layer"})
    sim = NetworkSim(prepare(arch, work, "hybrid", default_model(arch)), record=False)
    first, second = work.op("b0.ffn3_output"), work.op("b1.ffn3_output")
    assert signature(sim, first)[0] == signature(sim, second)[0]
    held = replace(second, inputs=tuple(replace(e, kind="barrier") for e in second.inputs))
    assert (op_structure(work, sim.placements, held)[0]
            != op_structure(work, sim.placements, second)[0])


def test_timelines_and_streaming_ops_simulate_each_op():
    """A timeline records every op; a streaming run replays no single op (whole layers only:
    `tests/test_layer_replay.py`; two blocks are too few to settle)."""
    work = small_bert(16, 2)
    streaming = make_arch(pipeline={"between_layers": "streaming"})
    one_at_a_time = make_arch(pipeline={"between_layers": "layer-by-layer"})
    for arch, record, replays in ((streaming, False, False), (one_at_a_time, True, False),
                                  (one_at_a_time, False, True)):
        sim = NetworkSim(prepare(arch, work, "hybrid", default_model(arch)), record=record)
        sim.run()
        assert (sim.replayed > 0) is replays




def test_an_op_that_leaves_a_server_busy_ends_replay(monkeypatch):
    """Were a simulated op to leave a server busy after its end, the next ops could not start
    from free servers: the rest of the run is then simulated op by op, with the same result."""
    from aimcsim.sim import replay

    arch = make_arch(pipeline={"between_layers": "layer-by-layer"})
    work = small_bert(16, 3)
    reference = simulate(arch, work, "hybrid", timeline=False, replay=False)
    finish = replay.Recorder.finish
    calls = []

    def unsettled_after_five(self, *args):
        settled, footprint = finish(self, *args)
        calls.append(self.op.name)
        return settled and len(calls) < 5, footprint

    monkeypatch.setattr(replay.Recorder, "finish", unsettled_after_five)
    sim = NetworkSim(prepare(arch, work, "hybrid", default_model(arch)), record=False)
    sim.run()
    assert len(calls) == 5 and 0 < sim.replayed < len(work.ops) - 5
    _same(simulate(arch, work, "hybrid", timeline=False), reference)


def test_an_op_that_leaves_tcdm_held_ends_replay(monkeypatch):
    """Replayed ops meet the free TCDM the run's start gives (`replay.signatures`): were a
    simulated op to leave some of its cluster's TCDM held, no op after it replays (the rest
    of the run is simulated op by op), with the reference engine's result."""
    from aimcsim.hw.pmca.pool import Cluster

    arch = make_arch(pipeline={"between_layers": "layer-by-layer"})
    work = small_bert(16, 3)
    release = Cluster.release
    leaked = []

    def leaks_once(self, nbytes):  # (the first release keeps 8 bytes, in either engine)
        if not leaked:
            leaked.append(self)
            nbytes -= 8
        release(self, nbytes)

    def run(replay: bool):
        leaked.clear()
        sim = NetworkSim(prepare(arch, work, "hybrid", default_model(arch)), record=False,
                         replay=replay)
        sim.run()
        return sim

    _forget_memos()  # (no footprint of another test's: the leaking op is simulated)
    monkeypatch.setattr(Cluster, "release", leaks_once)
    try:
        sims = [run(True), run(False)]
        names = [op.name for op in work.ops]
        first = min(names.index(n) for n in names if n not in sims[0]._twins)  # (simulated)
        assert leaked and all(names.index(n) < first for n in sims[0]._twins)
        assert _state(sims[0]) == _state(sims[1])
    finally:
        _forget_memos()  # (nor footprints of this one's for the tests after it)


def test_op_statistics_snapshot_every_field():
    from aimcsim.sim.stats import OpStats

    st = OpStats()
    for i, name in enumerate(OpStats.__slots__):
        setattr(st, name, i + 1)
    assert st.snapshot() == tuple(range(1, len(OpStats.__slots__) + 1))
    again = OpStats()
    again.restore(st.snapshot())
    assert [getattr(again, f) for f in OpStats.__slots__] == list(st.snapshot())


def _forget_memos() -> None:
    """Clear every in-process memo of the package (placements, TCDM and L2 checks, per-case
    facts, structures, kernels): the next run derives all of it again."""
    import sys

    for name, module in list(sys.modules.items()):
        if name.startswith("aimcsim") and module is not None:
            for value in list(vars(module).values()):
                for holder in (value, *vars(value).values()) if isinstance(value, type) \
                        else (value,):
                    if callable(getattr(holder, "cache_clear", None)):
                        holder.cache_clear()


@pytest.mark.filterwarnings("ignore::aimcsim.errors.SettingWarning")
@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(doc=architectures(), mode=st.sampled_from(["hybrid", "aimc-only"]),
       blocks=st.integers(1, 2), tokens=st.integers(1, 12))
def test_memos_hold_everything_they_read(doc, mode, blocks, tokens):
    """Runs of one workload share memos (placements, the TCDM and L2 checks, per-case facts)
    across architectures that differ in what the memo keys must hold: the LoRA element size,
    the SRAM-CIM macro, the L2 limit, the tile timing. Each run (or refusal, with the L2 bytes
    it found) equals one with every memo cleared first."""
    work = small_bert(tokens, blocks)
    pmca = {**doc["pmca"], "macs_per_cycle": {**doc["pmca"]["macs_per_cycle"], "fp8": 1,
                                              "fp32": 1}}
    base = {**doc, "pmca": pmca}
    variants = [base, {**base, "lora": {**base["lora"], "dtype": "fp32"}},
                {**base, "lora": {**base["lora"], "dtype": "fp8"}},
                _with_cim(base, 16, 250), _with_cim(base, 64, 250),
                {**base, "aimc": {**base["aimc"], "integration_time_ns": 8}},
                {**base, "memory": {"l2_bytes": 1}},
                {**base, "lora": {**base["lora"], "dtype": "fp32"}, "memory": {"l2_bytes": 1}}]

    def runs(warm: bool) -> list:
        out = []
        for i, variant in enumerate(variants):
            if not warm:
                _forget_memos()
            arch = parse_arch(variant, f"v{i}.yaml")
            try:
                out.append((simulate(arch, work, mode, timeline=False), None))
            except CapacityError as exc:  # (and the L2 bytes held, checked without a limit)
                out.append((str(exc), check_l2(replace(arch, memory=None), work,
                                               placed(arch, work, mode))))
        return out

    for (warm, warm_l2), (cold, cold_l2) in zip(runs(True), runs(False), strict=True):
        if isinstance(cold, str):
            assert (warm, warm_l2) == (cold, cold_l2)
        else:
            _same(warm, cold)
    assert isinstance(cold, str) and "memory.l2_bytes = 1" in cold  # (the last: L2 of 1 B)
