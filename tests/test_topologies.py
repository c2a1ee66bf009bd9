"""Every registered topology, and the ring added through the registry alone."""

from __future__ import annotations

from math import ceil

import pytest
from conftest import make_arch, small_bert

from aimcsim import simulate
from aimcsim.hw.interconnect import TOPOLOGIES, Fabric
from aimcsim.hw.interconnect.ring import ring_route
from aimcsim.spec.arch import parse_arch
from aimcsim.spec.workload import parse_workload

THROUGHPUT = {"timing": "throughput"}


def test_ring_routes_the_shorter_way():
    assert ring_route(0, 2, 6) == [(0, 1), (1, 2)]
    assert ring_route(0, 5, 6) == [(0, 5)]
    assert ring_route(1, 4, 6) == [(1, 2), (2, 3), (3, 4)]  # a tie: clockwise
    assert ring_route(3, 3, 6) == []


def test_ring_transfer_is_latency_plus_hops_plus_bytes_over_bandwidth():
    """Three layers on nodes 0, 1, 2 of a 3-node ring: layer 3's input comes from node 1, one
    hop; node 2 to node 0 is one hop the short way round."""
    tokens, block, width, hop = 32, 16, 128, 5
    ops = [{"name": f"fc{i}", "kind": "static_linear", "d_in": width, "d_out": width,
            "inputs": [{"from": "input" if i == 1 else f"fc{i - 1}"}]} for i in (1, 2, 3)]
    work = parse_workload({"version": 1, "tokens": tokens, "input": {"width": width},
                           "ops": ops})
    arch = make_arch(interconnect={"topology": "ring", "hop_latency_cycles": hop},
                     pipeline={"parallel_tokens": block}, pmca=THROUGHPUT)
    moves = simulate(arch, work, "hybrid").timeline.query("activity == 'transfer'")
    serial = ceil(block * width * 2 / 32)
    across = moves[moves.component == "link:node1->node2"]
    assert len(across) == 2 * (tokens // block)  # to fc3's tile and to its cluster
    assert set(across.end_ns - across.start_ns) == {4 + hop + serial}
    local = moves[moves.component == "link:tile:fc1->pmca:0"]
    assert set(local.end_ns - local.start_ns) == {4 + serial}


@pytest.mark.parametrize("name", sorted(TOPOLOGIES))
def test_every_topology_is_accepted_and_conserves_tokens(name):
    arch = make_arch(interconnect={"topology": name})
    result = simulate(arch, small_bert(20, 1), "hybrid")
    assert (result.layers.tokens == 20).all()
    fabric = Fabric(arch.interconnect, 4, lambda unit: int(unit.split(":")[-1]) % 4
                    if unit.startswith("pmca") else 0)
    keys, _ = TOPOLOGIES[name].path("pmca:1", "pmca:3", fabric)
    assert keys  # every transfer crosses at least one link


@pytest.mark.parametrize("name", sorted(set(TOPOLOGIES) - {"point-to-point"}))
def test_shared_topologies_are_never_faster_than_dedicated_links(name):
    bert = small_bert(24, 1)
    p2p = simulate(make_arch(), bert, "hybrid").summary["total_latency_ns"]
    other = simulate(make_arch(interconnect={"topology": name}), bert, "hybrid")
    assert other.summary["total_latency_ns"] >= p2p


def test_an_unregistered_topology_lists_the_registered_ones():
    from conftest import arch_doc

    from aimcsim.errors import SpecError

    with pytest.raises(SpecError, match="allowed values: mesh, point-to-point, ring, shared-bus"):
        parse_arch(arch_doc(interconnect={"topology": "torus"}), "t.yaml")


@pytest.mark.parametrize("name", sorted(TOPOLOGIES))
def test_the_analytic_model_says_where_it_cannot_price(name):
    from aimcsim.analytic import static_layer
    from aimcsim.hw.pmca.cycle_level import cluster_model

    arch = make_arch(interconnect={"topology": name})
    op = small_bert(16, 1).op("b0.query")
    est = static_layer(arch, op, 16, arch.pipeline, cluster_model(arch.pmca, "fp16"), lora=True)
    exclusive = TOPOLOGIES[name].exclusive
    assert est.exact == est.bound == exclusive


def test_registries_are_what_the_inputs_accept():
    """Cluster models and trace generators: one registry each, read by the spec and the CLI."""
    from aimcsim.cli.main import _parser
    from aimcsim.hw.pmca.cycle_level import CLUSTER_MODELS
    from aimcsim.spec.arch import TIMINGS
    from aimcsim.traces import TRACES, for_model

    assert set(CLUSTER_MODELS) == set(TIMINGS)
    for name, generator in TRACES.items():
        assert generator.name == name
        assert for_model(generator.model) is generator
        assert generator.generate(8)["model"] == generator.model
    trace = _parser("trace")._subparsers._group_actions[0].choices["trace"]
    model = next(a for a in trace._actions if a.dest == "model")
    assert set(model.choices) == set(TRACES)


def test_a_topology_registered_late_is_a_choice_of_the_file_and_the_schema():
    """The registry is the shared one: a plug-in registered after the package is imported is
    accepted by an architecture file and listed by the schema, which read it when asked."""
    from aimcsim.hw.interconnect import register
    from aimcsim.hw.interconnect.point_to_point import PointToPoint
    from aimcsim.spec.schema import arch_field, arch_schema

    with pytest.raises(ValueError, match="topology 'crossbar' is not registered; registered: "):
        TOPOLOGIES.get("crossbar")

    @register
    class Crossbar(PointToPoint):
        name = "crossbar"

    try:
        arch = make_arch(interconnect={"topology": "crossbar"})
        assert arch.interconnect.topology == "crossbar"
        assert "crossbar" in arch_field("interconnect.topology").choices
        enum = arch_schema()["properties"]["interconnect"]["properties"]["topology"]["enum"]
        assert "crossbar" in enum
        with pytest.raises(ValueError, match="registered already"):
            register(Crossbar)
    finally:
        TOPOLOGIES.pop("crossbar")
    assert "crossbar" not in arch_field("interconnect.topology").choices
