"""Unit ids and causes are written once (`aimcsim.hw.lanes`) and read everywhere: the
simulator's timeline uses only those ids, and the results, the figures and the critical
path know every cause."""

from __future__ import annotations

from conftest import arch_doc, small_bert

from aimcsim.hw.lanes import CAUSES, Cause, Resource, Unit, resource_of
from aimcsim.plots.style import CAUSE_COLOURS, RESOURCE_COLOURS
from aimcsim.results import CAUSES as RESULT_CAUSES
from aimcsim.simulator import simulate
from aimcsim.spec.arch import parse_arch


def test_ids_round_trip_and_name_their_resource():
    for unit, kind, name, resource in ((Unit.tile("b0.query"), "tile", "b0.query", "aimc"),
                                       (Unit.cluster(3), "pmca", "3", "pmca"),
                                       (Unit.macros("b1.value"), "cim", "b1.value", "cim"),
                                       (Unit.dma(2), "dma", "2", "dma")):
        assert Unit.parse(unit) == (kind, name) and resource_of(unit) == resource
    assert resource_of("link:tile:b0.query->pmca:0") is Resource.NOC
    assert Unit.is_cluster(Unit.cluster(0)) and not Unit.is_cluster(Unit.tile("x"))


def test_every_cause_is_tabled_and_coloured_and_every_resource_coloured():
    assert RESULT_CAUSES == CAUSES == tuple(c.value for c in Cause)
    assert set(CAUSE_COLOURS) == set(CAUSES)
    assert set(RESOURCE_COLOURS) >= {r.value for r in Resource}


def test_a_run_uses_only_those_ids_and_causes():
    arch = parse_arch(arch_doc(pipeline={"parallel_tokens": 8}), "a.yaml")
    result = simulate(arch, small_bert(16, 1), "hybrid")
    for component in set(result.timeline.component):
        kind, _ = Unit.parse(component)
        assert kind in ("tile", "pmca", "cim", "dma", "link"), component
    assert set(result.critical.columns) >= set(CAUSES)
