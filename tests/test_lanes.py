"""Unit ids and causes are written once (`aimcsim.hw.lanes`) and read everywhere: the
simulator's timeline uses only `UnitId`s, every id reads back as itself, a text that is no
unit id is refused, and the results, the figures and the critical path know every cause."""

from __future__ import annotations

import ast
import pickle
import warnings
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, arch_doc, small_bert

from aimcsim import load_arch
from aimcsim.hw import lanes
from aimcsim.hw.interconnect import TOPOLOGIES
from aimcsim.hw.lanes import (
    CAUSES,
    LINKS_FROM_CLUSTERS,
    LINKS_FROM_TILES,
    Cause,
    Kind,
    Resource,
    UnitId,
)
from aimcsim.mapping import place
from aimcsim.plots.style import CAUSE_COLOURS, RESOURCE_COLOURS
from aimcsim.plots.style import lanes as figure_lanes
from aimcsim.results import CAUSES as RESULT_CAUSES
from aimcsim.results import resources
from aimcsim.simulator import simulate
from aimcsim.spec.arch import parse_arch

ARCH_FILES = sorted((ROOT / "arch").glob("*.yaml"))

#: the forms of link id each shipped topology names: a link of its own between two units,
#: a hop between nodes, the bus
LINK_FORMS = {"point-to-point": {"ends"}, "mesh": {"ends", "hop"}, "ring": {"ends", "hop"},
              "shared-bus": {"bus"}}


def _attributes(unit: UnitId) -> tuple:
    return (type(unit), str(unit), unit.kind, unit.name, unit.node, unit.resource, unit.lane)


def _forget() -> None:
    """Drop the ids the builders and the parser keep, so that a parse builds its id anew."""
    lanes._parse.cache_clear()
    for builder in ("tile", "macros", "cluster", "dma", "link", "hop"):
        getattr(UnitId, builder).cache_clear()


def _form(link: UnitId) -> str:
    if link.node == ():
        return "bus"
    return "hop" if all(isinstance(end, int) for end in link.node) else "ends"


def test_each_kind_names_its_resource_lane_and_node():
    tile, cluster = UnitId.tile("b0.query"), UnitId.cluster(0)
    cases = [
        (tile, Kind.TILE, "b0.query", "b0.query", Resource.AIMC, "tile:b0.query"),
        (UnitId.macros("b1.value"), Kind.MACROS, "b1.value", "b1.value", Resource.CIM,
         "cim:b1.value"),
        (UnitId.cluster(3), Kind.CLUSTER, "3", 3, Resource.PMCA, "pmca:3"),
        (UnitId.dma(2), Kind.DMA, "2", 2, Resource.DMA, "dma:2"),  # (a row of its own)
        (UnitId.link("tile:b0.query", "pmca:0"), Kind.LINK, "tile:b0.query->pmca:0",
         (tile, cluster), Resource.NOC, LINKS_FROM_TILES),
        (UnitId.link(cluster, tile), Kind.LINK, "pmca:0->tile:b0.query", (cluster, tile),
         Resource.NOC, LINKS_FROM_CLUSTERS),
        (UnitId.hop(1, 12), Kind.LINK, "node1->node12", (1, 12), Resource.NOC,
         LINKS_FROM_CLUSTERS),
        (UnitId.bus(), Kind.LINK, "bus", (), Resource.NOC, LINKS_FROM_CLUSTERS),
    ]
    assert {case[1] for case in cases} == set(Kind)
    for unit, kind, name, node, resource, lane in cases:
        text = f"{kind.value}:{name}"
        assert unit == text and hash(unit) == hash(text) and type(str(unit)) is str
        assert (unit.kind, unit.name, unit.node, unit.resource, unit.lane) == (
            kind, name, node, resource, lane), text
        assert unit.is_cluster == (kind is Kind.CLUSTER)
        again = pickle.loads(pickle.dumps(unit))
        assert _attributes(again) == _attributes(unit)
        with pytest.raises(AttributeError, match="immutable"):
            unit.kind = Kind.DMA
    assert type(UnitId.link(tile, cluster).node[0]) is UnitId


@pytest.mark.parametrize("topology", sorted(LINK_FORMS))
@pytest.mark.parametrize("path", ARCH_FILES, ids=lambda p: p.stem)
def test_every_id_a_run_builds_reads_back_as_itself(path: Path, topology: str):
    """Over each shipped architecture with each shipped topology: the timeline's components
    are all `UnitId`s (no id is made outside the type), of the link forms the topology names,
    and each text parses, with the builders' memory cleared, to an equal id with equal
    attributes."""
    assert set(LINK_FORMS) == set(TOPOLOGIES), "a topology was added: say its link forms"
    arch = load_arch(path)
    arch = replace(arch, interconnect=replace(arch.interconnect, topology=topology))
    work = small_bert(16, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (the technology's own warnings)
        result = simulate(arch, work, "hybrid")
    built = {component for component, *_ in result._timeline}
    assert all(type(unit) is UnitId for unit in built)
    assert {_form(u) for u in built if u.kind is Kind.LINK} == LINK_FORMS[topology]
    assert {u.kind for u in built} >= {Kind.TILE, Kind.CLUSTER, Kind.LINK}
    placed = place(arch, work, "hybrid")
    clusters = {p.pmca for p in placed.values()} | {c for p in placed.values()
                                                    for c, _ in p.slices}
    for unit in built:
        if unit.kind in (Kind.TILE, Kind.MACROS):
            assert unit.node == unit.name and unit.node in placed
        elif unit.kind in (Kind.CLUSTER, Kind.DMA):
            assert unit.node == int(unit.name) and unit.node in clusters
        elif _form(unit) == "ends":
            assert str(unit) == f"link:{unit.node[0]}->{unit.node[1]}"
            assert {end.kind for end in unit.node} <= {Kind.TILE, Kind.CLUSTER}
        elif _form(unit) == "hop":
            assert str(unit) == "link:node{}->node{}".format(*unit.node)
    expected = {unit: _attributes(unit) for unit in built}
    _forget()
    for unit, attributes in expected.items():
        again = UnitId.parse(str(unit))
        assert again == unit and _attributes(again) == attributes, str(unit)
        assert UnitId(str(unit)) == unit and UnitId.parse(again) is again
    assert set(result.timeline.component) == {str(unit) for unit in built}


@pytest.mark.parametrize("text, why", [
    ("b0.query", "no kind of unit before a ':'"),
    ("links from tiles", "no kind of unit before a ':'"),
    ("", "no kind of unit before a ':'"),
    ("node:1", "no kind of unit before a ':'"),
    ("tile:", "no op name"),
    ("cim:", "no op name"),
    ("pmca:x", "a cluster's index is a whole number"),
    ("pmca:01", "a cluster's index is a whole number"),
    ("dma:-1", "a cluster's index is a whole number"),
    ("link:", "a link is the bus, a hop between nodes or two units"),
    ("link:tile:a", "a link is the bus"),
    ("link:a->b", "a link is the bus"),
    ("link:node1->node", "a link is the bus"),
    ("link:node01->node2", "a link is the bus"),
    ("link:link:bus->pmca:0", "a link is the bus"),
])
def test_a_text_that_is_no_unit_id_is_refused(text: str, why: str):
    for read in (UnitId.parse, UnitId):
        with pytest.raises(ValueError) as refused:
            read(text)
        message = str(refused.value)
        assert message.startswith(f"{text!r} is no unit id: {why}"), message
        assert "a unit id is one of tile:<op>, cim:<op>, pmca:<i>, dma:<i>, link:bus" in message
    with pytest.raises(ValueError, match="is no unit id"):  # (the readers parse)
        resources(pd.Series(["tile:a", text]))
    with pytest.raises(ValueError, match="is no unit id"):
        figure_lanes(["pmca:0", text])


def test_what_the_builders_refuse():
    with pytest.raises(ValueError, match="is no unit id: it is of type int, not text"):
        UnitId.parse(3)
    for build, argument, why in ((UnitId.cluster, -1, "0 or more"),
                                 (UnitId.dma, 1.5, "a whole number"),
                                 (UnitId.tile, "", "op's name"), (UnitId.macros, None, "op's")):
        with pytest.raises(ValueError, match=why):
            build(argument)
    with pytest.raises(ValueError, match="a link joins two units, not the link 'link:bus'"):
        UnitId.link("link:bus", "pmca:0")
    with pytest.raises(ValueError, match="reads as another pair of units"):
        UnitId.link(UnitId.tile("a->tile:b"), "tile:c")  # (would read tile:a -> tile:b->...)
    odd = UnitId.link(UnitId.tile("a->b"), "pmca:0")  # an arrow alone in an op's name is fine
    _forget()
    assert UnitId.parse(str(odd)).node == (UnitId.tile("a->b"), UnitId.cluster(0))


def test_the_old_names_still_work_with_a_warning():
    for name in ("Unit", "resource_of", "TILE", "PMCA", "CIM", "DMA", "LINK"):
        with pytest.warns(DeprecationWarning, match=f"lanes.{name} is deprecated"):
            getattr(lanes, name)
    with pytest.warns(DeprecationWarning):
        unit, resource_of = lanes.Unit, lanes.resource_of
    assert unit.tile("x") == "tile:x" and unit.parse(unit.cluster(3)) == ("pmca", "3")
    assert unit.is_cluster("pmca:0") and not unit.is_cluster(unit.macros("x"))
    assert resource_of("link:tile:b0.query->pmca:0") is Resource.NOC


def test_every_cause_is_tabled_and_coloured_and_every_resource_coloured():
    assert RESULT_CAUSES == CAUSES == tuple(c.value for c in Cause)
    assert list(CAUSE_COLOURS) == list(CAUSES)
    assert set(RESOURCE_COLOURS) >= {r.value for r in Resource}


def _texts(tree: ast.AST) -> list[str]:
    """The string literals of a module (f-strings by their leading text), docstrings aside."""
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and node.values and \
                isinstance(node.values[0], ast.Constant):
            out.append(str(node.values[0].value))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                id(node) not in docs:
            out.append(node.value)
    return out


def test_no_module_but_lanes_spells_an_id_or_a_cause():
    """Unit ids are made and read only through `UnitId`, causes named only through `Cause`:
    no other module of the package holds a literal starting like a unit id or spelling a
    cause of its own ("bank stalls", "waiting for ...")."""
    prefixes = tuple(f"{kind.value}:" for kind in Kind)
    causes = {c.value for c in Cause if c is Cause.STALLS or c.name.startswith("WAIT_")}
    found = []
    for path in sorted((ROOT / "aimcsim").rglob("*.py")):
        if path.name == "lanes.py" and path.parent.name == "hw":
            continue
        for text in _texts(ast.parse(path.read_text(encoding="utf-8"))):
            if text.startswith(prefixes) or text in causes:
                found.append(f"{path.relative_to(ROOT)}: {text!r}")
    assert not found, found


def test_a_run_uses_only_those_ids_and_causes():
    arch = parse_arch(arch_doc(pipeline={"parallel_tokens": 8}), "a.yaml")
    result = simulate(arch, small_bert(16, 1), "hybrid")
    for component in set(result.timeline.component):
        assert UnitId.parse(component).kind in set(Kind), component
    assert set(result.critical.columns) >= set(CAUSES)


def test_an_op_whose_links_could_not_be_named_is_refused_by_the_workload_file():
    """An op name holding "->" and a unit id after it would make its links' ids read back as
    another pair: the workload file refuses it, naming the op, before any simulation."""
    from aimcsim.errors import SpecError
    from aimcsim.spec.workload import parse_workload

    def doc(name: str) -> dict:
        return {"version": 1, "tokens": 8, "input": {"width": 64}, "ops": [
            {"name": name, "kind": "static_linear", "d_in": 64, "d_out": 64,
             "inputs": [{"from": "input"}]}]}

    with pytest.raises(SpecError, match=r"w.yaml: ops\[0\].name: 'a->tile:b' holds '->'"):
        parse_workload(doc("a->tile:b"), "w.yaml")
    assert parse_workload(doc("a->b"), "w.yaml").ops[0].name == "a->b"
