"""Pipeline strategies are registered classes: the built-in ones answer what the simulator,
the closed form, the TCDM check and the search ask, and a toy strategy from one file
(tests/toy_strategy.py) runs end to end."""

from __future__ import annotations

import dataclasses

import pytest
from conftest import arch_doc, linear_workload, plugin, small_bert

from aimcsim.analytic import static_layer
from aimcsim.errors import CapacityError, SpecError
from aimcsim.sim.strategies import STRATEGIES, strategy
from aimcsim.simulator import default_model, simulate
from aimcsim.spec.arch import parse_arch
from aimcsim.spec.workload import parse_workload


@pytest.fixture
def toy():
    """The toy registered for one test (`conftest.plugin`)."""
    with plugin("toy_strategy", STRATEGIES, "triple-buffered") as registered:
        yield registered


def test_the_built_in_strategies():
    assert list(STRATEGIES) == ["sequential", "overlapped", "double-buffered"]
    assert [s.blocks_in_flight for s in STRATEGIES.values()] == [1, 1, 2]
    assert strategy("sequential").pre_start(10, 30) == 30
    assert strategy("overlapped").pre_start(10, 30) == 10
    with pytest.raises(ValueError, match="registered: sequential, overlapped, double-buffered"):
        strategy("quadruple")


def test_an_unregistered_strategy_is_refused_naming_the_registered_ones():
    with pytest.raises(SpecError) as info:
        parse_arch(arch_doc(pipeline={"strategy": "triple-buffered"}), "a.yaml")
    assert "pipeline.strategy" in str(info.value) and "double-buffered" in str(info.value)


def test_a_toy_strategy_from_one_file_runs_end_to_end(toy):
    """Three blocks in flight: a network runs (every token through every op), a layer's TCDM
    peak stays within three working sets beside A and B, the closed form (a bound with more
    than one block in flight) stays below the simulated latency, and the TCDM check asks room
    for three: a TCDM that holds two refuses it and runs double-buffering."""
    arch = parse_arch(arch_doc(pipeline={"strategy": "triple-buffered", "parallel_tokens": 8}),
                      "a.yaml")
    assert arch.pipeline.blocks_in_flight == 3
    from aimcsim.spec.schema import arch_schema  # (the schema lists what is registered now)
    assert "triple-buffered" in arch_schema()["properties"]["pipeline"]["properties"][
        "strategy"]["enum"]
    work = small_bert(48, 1)
    toy_run = simulate(arch, work, "hybrid", timeline=False)
    assert (toy_run.layers.tokens == 48).all()
    assert toy_run.summary["tcdm_peak_bytes"] <= arch.pmca.tcdm_bytes
    one = parse_workload(linear_workload(64, 512, 512), "w.yaml")
    layer = simulate(arch, one, "hybrid", timeline=False).layers.set_index("layer").loc["fc"]
    model = default_model(arch)
    est = static_layer(arch, one.op("fc"), 64, arch.pipeline, model, lora=True)
    assert not est.exact and est.latency_ps / 1000 <= layer.latency_ns + 1e-6
    assert layer.tcdm_peak_bytes <= est.tcdm_bytes
    double = dataclasses.replace(arch.pipeline, strategy="double-buffered")
    two = static_layer(arch, one.op("fc"), 64, double, model, lora=True).tcdm_bytes
    assert two < est.tcdm_bytes
    small = dataclasses.replace(arch, pmca=dataclasses.replace(
        arch.pmca, tcdm_bytes=(two + est.tcdm_bytes) // 2))
    with pytest.raises(CapacityError, match="3 block"):
        simulate(small, one, "hybrid", timeline=False)
    simulate(dataclasses.replace(small, pipeline=double), one, "hybrid", timeline=False)


def test_the_search_tries_a_registered_strategy_and_stays_exact(toy, tmp_path):
    """A search space may name the toy (read against the registry when read), and the
    search's best equals every point simulated."""
    from aimcsim.explore.search import exhaustive, search
    from aimcsim.explore.space import load_space

    space_file = tmp_path / "space.yaml"
    space_file.write_text("version: 1\nstrategies: [overlapped, triple-buffered]\n"
                          "parallel_tokens: [4, 8]\ntile_output: [in-place]\n"
                          "integration_time_ns: [256]\n")
    space = load_space(space_file)
    assert space.strategies == ("overlapped", "triple-buffered")
    arch = parse_arch(arch_doc(), "a.yaml")
    work = small_bert(16, 1)
    best = search(arch, work, space).best
    table = exhaustive(arch, work, space)
    assert "triple-buffered" in set(table.strategy)
    for _, row in best.iterrows():
        group = table[(table.d_in == row.d_in) & (table.d_out == row.d_out) & table.feasible]
        assert row.latency_ns == group.latency_ns.min()


def test_a_registry_whose_built_ins_fail_to_import_says_so_each_time():
    from aimcsim.params.registry import Registry

    broken = Registry("thing", "aimcsim.no_such_module")
    for _ in range(2):
        with pytest.raises(ModuleNotFoundError):
            broken.names()
