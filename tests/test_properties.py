"""Laws every run obeys, over random architectures (hypothesis): every token through every
operation once, TCDM never above capacity, runs deterministic, spans that hold their busy time,
utilisations that are fractions."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import architectures, small_bert
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimcsim import CapacityError, simulate
from aimcsim.hw.interconnect import TOPOLOGIES
from aimcsim.results import UTILISATION
from aimcsim.spec.arch import parse_arch


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(doc=architectures(tcdm_bytes=st.sampled_from([16_384, 65_536, 262_144, 1 << 22]),
                         between=st.sampled_from(["streaming", "layer-by-layer"])),
       tokens=st.integers(1, 20), mode=st.sampled_from(["hybrid", "aimc-only"]))
def test_conservation_capacity_and_determinism(doc, tokens, mode):
    arch = parse_arch(doc, "random.yaml")
    work = small_bert(tokens, 1)
    try:
        first = simulate(arch, work, mode)
    except CapacityError:  # refused before running: a clear error, nothing to check
        return
    layers = first.layers
    assert (layers.tokens == tokens).all()  # every token through every op, once
    assert (layers.tcdm_peak_bytes <= arch.pmca.tcdm_bytes).all()
    assert first.summary["tcdm_peak_bytes"] <= arch.pmca.tcdm_bytes
    assert (layers.end_ns >= layers.start_ns).all()
    # a tile's bursts lie inside its op's span
    assert (layers.aimc_busy_ns <= layers.latency_ns + 1e-9).all()
    again = simulate(arch, work, mode)
    pd.testing.assert_frame_equal(layers, again.layers)
    assert again.summary == first.summary
    pd.testing.assert_frame_equal(first.timeline, again.timeline)


def test_a_shared_cluster_never_holds_more_than_its_tcdm():
    """Streaming: the query's LoRA blocks and the attention beside it share one cluster, and
    together they would need more than its 48 KiB; the pool makes the later ones wait."""
    from conftest import make_arch

    arch = make_arch(pmca={"tcdm_bytes": 49_152},
                     pipeline={"parallel_tokens": 16, "strategy": "overlapped",
                               "between_layers": "streaming"})
    result = simulate(arch, small_bert(64, 1), "hybrid")
    assert result.summary["tcdm_peak_bytes"] <= 49_152
    layers = result.layers.set_index("layer")
    on_query = layers[layers.pmca == layers.pmca["b0.query"]]
    assert len(on_query) > 1 and layers.tcdm_peak_bytes[on_query.index].sum() > 49_152


@pytest.mark.parametrize("mode", ["hybrid", "aimc-only"])
@pytest.mark.parametrize("between", ["layer-by-layer", "streaming"])
@pytest.mark.parametrize("topology", sorted(TOPOLOGIES))
@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), tokens=st.integers(1, 20))
def test_every_utilisation_is_a_fraction(topology, between, mode, data, tokens):
    """No component is busy longer than the run: a link's head latency, which back-to-back
    transfers overlap, is not time it is held (head latencies up to 10 us, so that transfers
    on a shared bus overlap theirs)."""
    doc = data.draw(architectures(between=st.just(between), topology=st.just(topology),
                                  latency_cycles=st.integers(0, 10_000)))
    arch = parse_arch(doc, "random.yaml")
    try:
        summary = simulate(arch, small_bert(tokens, 1), mode, timeline=False).summary
    except CapacityError:
        return
    fractions = {**summary["utilisation"], "cell_utilisation": summary["cell_utilisation"]}
    assert set(fractions) == set(UTILISATION)  # (each documented in the results module)
    assert all(0 <= value <= 1 for value in fractions.values()), fractions
