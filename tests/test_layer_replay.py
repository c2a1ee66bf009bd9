"""Replayed layers of streaming runs (`aimcsim.sim.layers`) against the reference engine: a
streaming run that applies a settled layer's record to the layers after it gives the very
tables, summary and server states of a run that simulates every op, over random
architectures, workloads (prefill and decode) and every topology (hypothesis)."""

from __future__ import annotations

import pytest
from conftest import arch_doc, architectures, small_bert
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_replay import _SMALL, _same, _state, same_as_reference, study_arch

from aimcsim import simulate
from aimcsim.sim import layers
from aimcsim.sim.network import NetworkSim
from aimcsim.sim.prepare import prepare
from aimcsim.simulator import default_model, run_network
from aimcsim.spec.arch import parse_arch
from aimcsim.spec.workload import parse_workload
from aimcsim.traces import MOBILEBERT_UNCASED, from_config, mobilebert_trace

_TOPOLOGIES = st.sampled_from(["point-to-point"] * 6 + [
                               "shared-bus", "mesh", "ring"])


@st.composite
def deep_workloads(draw):
    """MobileBERT, or a small BERT, GPT-2 or LLaMA, of 6-8 layers, prefill or a
    decode step: enough layers for a settled one to be replayed."""
    family = draw(st.sampled_from(["mobilebert", *_SMALL]))
    layers_ = draw(st.integers(6, 8))
    if family == "mobilebert":
        return small_bert(draw(st.integers(1, 40)), layers_)
    config = dict(_SMALL[family])
    config["n_layer" if family == "gpt2" else "num_hidden_layers"] = layers_
    context = draw(st.sampled_from([0, 0, 9])) if family != "bert" else 0
    tokens = 1 if context else draw(st.integers(1, 40))
    doc = from_config(config, tokens, model=family, generator=family, context=context)
    return parse_workload(doc, f"{family}.yaml")


def _runs(arch, work, mode) -> list[NetworkSim]:
    """The run with layer replay and the reference engine's, as `simulate` runs them."""
    return [run_network(prepare(arch, work, mode, default_model(arch)), False, replay)
            for replay in (True, False)]


@pytest.mark.filterwarnings("ignore::aimcsim.errors.SettingWarning")
@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(doc=architectures(tcdm_bytes=st.sampled_from([16_384, 65_536, 1 << 22]),
                         between=st.just("streaming"), topology=_TOPOLOGIES),
       work=deep_workloads(), mode=st.sampled_from(["hybrid", "aimc-only"]),
       cim=st.one_of(st.none(), st.tuples(st.sampled_from([16, 64]),
                                          st.sampled_from([50, 250, 1000]))))
def test_layer_replay_gives_the_reference_engines_results(doc, work, mode, cim):
    arch = same_as_reference(doc, cim, work, mode)
    if arch is None:
        return
    replayed, simulated = _runs(arch, work, mode)
    if not replayed.diverged:  # (else `simulate` ran it again: compared above)
        assert _state(replayed) == _state(simulated)
    if arch.interconnect.topology != "point-to-point":
        assert replayed.layers is None and replayed.replayed == 0


@pytest.mark.parametrize("cim", [False, True], ids=["cluster", "sram-cim"])
@pytest.mark.parametrize("strategy", ["overlapped", "double-buffered"])
def test_a_settled_layer_replays_on_point_to_point_links(cim, strategy):
    """MobileBERT of eight blocks at its study shapes: the layers after the first few are
    replayed, with the reference engine's tables and server states."""
    arch = study_arch(cim, strategy, "streaming")
    work = small_bert(48, 8)
    for mode in ("hybrid", "aimc-only"):
        _same(simulate(arch, work, mode, timeline=False),
              simulate(arch, work, mode, timeline=False, replay=False))
        replayed, simulated = _runs(arch, work, mode)
        assert not replayed.diverged and replayed.replayed >= 3 * 30
        assert _state(replayed) == _state(simulated)


def test_an_lm_head_reads_the_last_layer_as_simulated():
    """GPT-2 of eight layers, prefill: the layers in between replay, the last is simulated
    (the LM head reads it) and must repeat the replayed record."""
    arch = parse_arch(arch_doc(pipeline={"parallel_tokens": 4, "between_layers": "streaming"}),
                      "test.yaml")
    config = {**_SMALL["gpt2"], "n_layer": 8}
    work = parse_workload(from_config(config, 24, model="gpt2", generator="gpt2"), "gpt2.yaml")
    for mode in ("hybrid", "aimc-only"):
        _same(simulate(arch, work, mode, timeline=False),
              simulate(arch, work, mode, timeline=False, replay=False))
        replayed, simulated = _runs(arch, work, mode)
        assert not replayed.diverged and replayed.replayed > 0
        last = replayed.layers.plan.groups[-1]
        assert all(name not in replayed._twins for name in last)
        assert _state(replayed) == _state(simulated)


def test_a_layer_that_does_not_repeat_its_template_reruns_the_reference(monkeypatch):
    """Were a group simulated to confirm the replay to differ from its template, the run is
    simulated again without layer replay, with the reference engine's results."""
    arch = parse_arch(arch_doc(pipeline={"parallel_tokens": 8, "between_layers": "streaming"}),
                      "test.yaml")
    work = small_bert(48, 6)
    reference = simulate(arch, work, "hybrid", timeline=False, replay=False)
    record = layers.Layers._record
    calls = []

    def perturbed(self, g):
        found = record(self, g)
        calls.append(g)
        if self.template is not None:  # (a confirming group: its end one ps later)
            return found._replace(outputs=tuple((i, b, t + 1) for i, b, t in found.outputs))
        return found

    monkeypatch.setattr(layers.Layers, "_record", perturbed)
    sim = NetworkSim(prepare(arch, work, "hybrid", default_model(arch)), record=False,
                     speculate=None)
    sim.run()
    assert sim.diverged and sim.layers.template is not None
    _same(simulate(arch, work, "hybrid", timeline=False), reference)


def test_a_layer_replay_begun_too_early_begins_again_a_group_later():
    """The study's hybrid MobileBERT settles a group later than its first two groups: the
    replay begun at group 1's first output finds group 1 not repeating group 0 and is begun
    again at group 2, which does repeat group 1; the groups after it replay (one group fewer
    simulated than when replay waits for a group to be known to repeat: it confirms with the
    next), with the reference engine's tables and server states."""
    arch = study_arch(False, "overlapped", "streaming")
    work = small_bert(48, 8)
    prepared = prepare(arch, work, "hybrid", default_model(arch))
    early = NetworkSim(prepared, record=False)
    early.run()
    assert early.diverged and early.layers.guessed == 1
    sim, reference = _runs(arch, work, "hybrid")
    waiting = NetworkSim(prepared, record=False, speculate=None)
    waiting.run()
    assert not sim.diverged and sim.layers.guessed == 2 and sim.layers.template[0] == 2
    assert not waiting.diverged and sim.replayed == waiting.replayed + 30
    assert _state(sim) == _state(reference) == _state(waiting)
    _same(simulate(arch, work, "hybrid", timeline=False),
          simulate(arch, work, "hybrid", timeline=False, replay=False))


def test_a_speculated_layer_found_not_to_repeat_at_its_end_reruns(monkeypatch):
    """Were the group whose first output began the replay found at its end not to have
    repeated the group before it (here: its record's last output one ps late, after the
    check of each output as it came passed), the run is simulated again, and its results are
    the reference engine's."""
    arch = study_arch(False, "overlapped", "streaming")
    work = small_bert(48, 8)
    prepared = prepare(arch, work, "aimc-only", default_model(arch))
    reference = simulate(arch, work, "aimc-only", timeline=False, replay=False)
    sim = NetworkSim(prepared, record=False)
    sim.run()
    assert not sim.diverged and sim.layers.guessed == 1  # (unperturbed: the guess holds)
    record = layers.Layers._record

    def perturbed(self, g):
        found = record(self, g)
        if g == self.speculated:
            return found._replace(outputs=found.outputs[:-1] + tuple(
                (i, b, t + 1) for i, b, t in found.outputs[-1:]))
        return found

    monkeypatch.setattr(layers.Layers, "_record", perturbed)
    sim = NetworkSim(prepared, record=False)
    sim.run()
    assert sim.diverged and sim.layers.guessed == 1 and sim.layers.template is None
    _same(simulate(arch, work, "aimc-only", timeline=False), reference)


def test_a_replayed_layer_read_beyond_the_chain_is_not_guessed():
    """A head that reads a middle layer (b3) as well as the last: the replayed group b3 gives
    its outputs to the head, so the replay is not begun on a guess (whose feeds come from the
    chain's last replayed group only), and the head gets them as the replay without a guess
    gives them: the reference engine's tables and server states."""
    doc = mobilebert_trace(48, {**MOBILEBERT_UNCASED, "num_hidden_layers": 8})
    doc["ops"] += [
        {"name": "head", "block": 8, "kind": "elementwise", "role": "add_norm",
         "function": "add_norm", "width": 512,
         "inputs": [{"from": "b7.output_add_norm", "edge": "streaming"},
                    {"from": "b3.output_add_norm", "edge": "streaming"}]},
        {"name": "cls", "block": 8, "kind": "static_linear", "role": "output_bottleneck",
         "d_in": 512, "d_out": 128, "inputs": [{"from": "head", "edge": "streaming"}]}]
    work = parse_workload(doc, "head.yaml")
    arch = study_arch(False, "overlapped", "streaming")
    for mode in ("hybrid", "aimc-only"):
        sim, reference = _runs(arch, work, mode)
        assert not sim.diverged and sim.layers.guessed is None and sim.replayed > 0
        # (AIMC-only settles at group 1, so b3 is replayed and read by the head)
        assert mode == "hybrid" or "b3.output_add_norm" in sim._twins
        assert _state(sim) == _state(reference)
        _same(simulate(arch, work, mode, timeline=False),
              simulate(arch, work, mode, timeline=False, replay=False))


def test_shared_links_and_timelines_simulate_every_op():
    work = small_bert(16, 5)
    for topology, record in (("mesh", False), ("shared-bus", False),
                             ("point-to-point", True)):
        arch = parse_arch(arch_doc(interconnect={"topology": topology},
                                   pipeline={"between_layers": "streaming"}), "test.yaml")
        sim = NetworkSim(prepare(arch, work, "hybrid", default_model(arch)), record=record)
        sim.run()
        assert sim.layers is None and sim.replayed == 0
