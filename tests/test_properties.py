"""Laws every run obeys, over random architectures (hypothesis): every token through every
operation once, TCDM never above capacity, runs deterministic, spans that hold their busy time."""

from __future__ import annotations

import pandas as pd
from conftest import architectures, small_bert
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aimcsim import CapacityError, simulate
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
