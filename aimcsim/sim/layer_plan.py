"""The plan of layer replay in a streaming run: a workload's ops grouped by transformer block,
and what replay reads of each group (`aimcsim.sim.layers`, which replays them).

A group is the ops of one block (`Op.block`; an op that starts a block on a cluster of the
block before joins that one). Two groups are of one shape when they are equal up to their
ops' names, clusters and links, place for place; a group follows the one before it when it
reads only that one; the plan is made once per case (memoised).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from aimcsim.hw.lanes import UnitId
from aimcsim.identity import Same
from aimcsim.mapping import Placement
from aimcsim.spec.workload import INPUT, Workload

#: the run (`aimcsim.sim.network.NetworkSim`)
NetworkSim = Any


@dataclass(frozen=True)
class Plan:
    """The groups of a workload and what layer replay reads of them (`plan`)."""

    groups: tuple[tuple[str, ...], ...]  # op names per group, in trace order
    group_of: Mapping[str, int]
    index: Mapping[str, int]  # an op's place in its group, from its end (the last: 1)
    shapes: tuple[int, ...]  # per group: equal numbers, groups equal up to names
    #: per op read by later groups: those groups
    feeds: Mapping[str, tuple[int, ...]]
    #: the ops whose blocks a group's record lists: those at the places in their group where
    #: an op of a group of its shape is read by later groups
    logged: frozenset[str]
    start: int  # the groups up to this one are created at the start (they read the input)
    #: per group and op, the (source, destination) unit pairs its transfers can take
    pairs: tuple[tuple[tuple[tuple[str, str], ...], ...], ...]
    clusters: tuple[tuple[int, ...], ...]  # per group, its clusters in a canonical order
    #: per group: it reads only the group before it
    follows: tuple[bool, ...]
    #: per group: it follows the group before it and has its shape (a group the engine may
    #: replay from the one before)
    chained: tuple[bool, ...]


def plan(sim: NetworkSim) -> Plan | None:
    """The layer plan of a streaming run, or None when no group could ever be replayed
    (shared links, clusters shared by groups, no two groups alike)."""
    prep = sim.prepared
    if not (sim.machine.net.exclusive and sim.machine.net.uniform):
        return None
    settings = None if prep.uniform else tuple(prep.settings[n] for n in prep.case.names)
    found = _plan(Same(prep.workload, prep.placements), settings,
                  tuple(prep.resident), tuple(prep.l2_held),
                  tuple(tuple(prep.blocks[n]) for n in prep.case.names),
                  tuple(prep.skipped.get(n, 0) for n in prep.case.names))
    return found if found is not None and any(found.chained) else None


@lru_cache(maxsize=64)
def _plan(same: Same, settings: tuple | None, resident: tuple[int, ...],
          l2_held: tuple[int, ...], blocks: tuple, skipped: tuple) -> Plan | None:
    workload, placements = same.objects
    ops = workload.ops
    runs: list[list[int]] = []
    for i, op in enumerate(ops):
        if runs and ops[runs[-1][0]].block == op.block:
            runs[-1].append(i)
        else:
            runs.append([i])
    # an op that starts a block on a cluster of the block before (GPT-2's first layer norm on
    # the cluster of the last add) belongs with the block before
    for g in range(1, len(runs)):
        held = {c for i in runs[g - 1] for c in placements[ops[i].name].clusters}
        while len(runs[g]) > 1 and held.intersection(placements[ops[runs[g][0]].name].clusters):
            runs[g - 1].append(runs[g].pop(0))
    groups = tuple(tuple(ops[i].name for i in run) for run in runs)
    group_of = {name: g for g, names in enumerate(groups) for name in names}
    # (counted from the group's end: a block's last ops are the ones the next block reads, and
    # a first block with an op more than the rest gives them the places the others do)
    index = {name: len(names) - k for names in groups for k, name in enumerate(names)}
    owner: dict[int, int] = {}
    feeds: dict[str, set[int]] = {}
    shapes: dict[tuple, int] = {}
    numbers, clusters, pairs, start, follows = [], [], [], -1, []
    for g, run in enumerate(runs):
        local: dict[int, int] = {}  # the group's clusters, numbered by first use
        descs, group_pairs, sources = [], [], set()
        for i in run:
            op, p = ops[i], placements[ops[i].name]
            for c in p.clusters:
                if owner.setdefault(c, g) != g:
                    return None  # (a cluster two groups use: their runs interfere)
                local.setdefault(c, len(local))
            edges = []
            for e in op.inputs:
                if e.src == INPUT:
                    edges.append((e.kind, "input"))
                    start = g
                    continue
                src_g = group_of[e.src]
                if src_g != g:
                    feeds.setdefault(e.src, set()).add(g)
                    sources.add(src_g)
                edges.append((e.kind, g - src_g, index[e.src],
                              placements[e.src].out_unit == UnitId.cluster(placements[e.src].pmca)))
            descs.append((op.shape, op.last_tokens, tuple(edges), p.tile, p.rank, p.cim,
                          p.gather, local[p.pmca], tuple((local[c], part) for c, part in p.slices),
                          p.out_unit == UnitId.cluster(p.pmca),
                          None if settings is None else settings[i], blocks[i], skipped[i],
                          resident[p.pmca]))
            group_pairs.append(_pairs(workload, placements, op.name))
        if not sources:
            start = g  # (nothing to wait for: it starts at once)
        order = tuple(local)
        # (replay maps a group's links onto another's place for place: their transfer pairs
        # must alias alike)
        shape = (tuple(descs), tuple(l2_held[c] for c in order), _pair_shape(group_pairs))
        numbers.append(shapes.setdefault(shape, len(shapes)))
        clusters.append(order)
        pairs.append(tuple(group_pairs))
        follows.append(g > 0 and sources == {g - 1})
    places: dict[int, set[int]] = {}  # per shape: the places of ops later groups read
    for name in feeds:
        places.setdefault(numbers[group_of[name]], set()).add(index[name])
    logged = frozenset(name for g, names in enumerate(groups) for name in names
                       if index[name] in places.get(numbers[g], ()))
    return Plan(groups, group_of, index, tuple(numbers),
                {name: tuple(sorted(gs)) for name, gs in feeds.items()}, logged, start,
                tuple(pairs), tuple(clusters), tuple(follows),
                tuple(f and numbers[g] == numbers[g - 1] for g, f in enumerate(follows)))


def _pairs(workload: Workload, placements: Mapping[str, Placement], name: str,
           ) -> tuple[tuple[str, str], ...]:
    """Every (source, destination) a transfer of op `name` can take (`aimcsim.sim.blocks`):
    from its inputs' units and its tile to its tile, its cluster and its slices' clusters, and
    from its slices' clusters to its cluster."""
    p = placements[name]
    home = UnitId.cluster(p.pmca)
    sources = [placements[e.src].out_unit for e in workload.op(name).inputs if e.src != INPUT]
    dests = [home, *(UnitId.cluster(c) for c, _ in p.slices)]
    if p.tile is not None:
        sources.append(UnitId.tile(name))
        dests.append(UnitId.tile(name))
    found = [(s, d) for s in sources for d in dests if s != d]
    found += [(UnitId.cluster(c), home) for c, _ in p.slices if c != p.pmca]
    return tuple(dict.fromkeys(found))


def _pair_shape(pairs: Sequence[tuple[tuple[str, str], ...]]) -> tuple:
    """A group's transfer pairs with each unit numbered by its first appearance: equal for
    two groups whose links correspond place for place."""
    numbers: dict[str, int] = {}
    return tuple(tuple((numbers.setdefault(src, len(numbers)), numbers.setdefault(dst,
                                                                                 len(numbers)))
                       for src, dst in op_pairs) for op_pairs in pairs)


__all__ = ["Plan", "plan"]
