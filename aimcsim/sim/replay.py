"""Replaying repeated operations of a layer-by-layer run instead of simulating them again.

With `pipeline.between_layers: layer-by-layer` an op starts when the op before it has finished,
so every server (links, cores, SRAM-CIM macros, tile phases) is free by then and the TCDM
holds only the resident adapters: what the op does from its start on depends on the op, its
placement and settings, the free TCDM of its clusters and the shape of the routes between the
units it uses, and not on when it starts. A transformer repeats its blocks, so most ops of a
run are a time shift of one already simulated: the engine (`NetworkSim._drive`,
`aimcsim.sim.network`) simulates the first op of each `signature`, records what it did
(`Footprint`: its statistics, and the state it left on every server it used, relative to its
start) and applies that record, shifted, to every later op of the same signature, without an
event. The same holds for the blocks of a simulated op with one block in flight: each starts
with the op's servers free, so a block is a time shift of the op's first of its size
(`apply_block`, `NetworkSim._run_op`).

The shift is exact (integer time, FIFO servers whose grants depend on differences of times
only), so the result is the one the reference engine gives (`simulate(..., replay=False)`;
`tests/test_replay.py` asserts equal tables, summaries and server states, and after every block
equal statistics, over random architectures and workloads). Every simulated op and recorded
block is checked to leave its servers free when it finishes (the premise above); were one not
to, the rest of the run is simulated op by op. Runs that record a timeline simulate every op.
What of a signature the workload and the placements decide (`structure`) is memoised by their
identities, so the points of a sweep compute it once; and the runs of a process share the
footprints of ops whose run does not read what differs between them (`shared_footprints`:
digital ops across tile timings, tile-only ops across strategies).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

from aimcsim.hw.lanes import UnitId
from aimcsim.identity import Same
from aimcsim.mapping import Placement
from aimcsim.sim.machine import Machine
from aimcsim.sim.prepare import Prepared
from aimcsim.sim.stats import OpStats, RunStats
from aimcsim.spec.workload import INPUT, Op, Workload


class Run(Protocol):
    """What replay reads of a run: its machine (the servers), its ops' statistics, and of
    its preparation the ops' structure and settings (`aimcsim.sim.machine.network.NetworkSim`)."""

    machine: Machine
    stats: RunStats  # by op (a replayed op's set whole in `.replayed`)
    structure: dict[str, tuple[int, Units]]
    settings: dict[str, Any]
    uniform_settings: bool
    shared: Mapping[str, Placement]
    workload: Workload
    footprints: dict[tuple, Footprint | None]  # the run's, by signature
    shared_prints: Shared | None  # `shared_footprints`, when runs share them
    routes: dict[str, tuple]  # `_routes`' memo (`Shared.routes`, else the run's own)
    programs: Mapping[str, Mapping[int, Any]]  # each op's block programs by size
    exclusive_links: bool


#: where `OpStats.snapshot` holds each field: the times an op sets, and the fields a block
#: adds to (its tokens excepted: `NetworkSim._complete` counts them)
FIRST, LAST, AIMC_END = (OpStats.INDEX[f] for f in ("first_ps", "last_ps", "aimc_end_ps"))
ADDITIVE = tuple(OpStats.INDEX[f] for f in (
    "aimc_busy_ps", "dma_busy_ps", "noc_busy_ps", "noc_held_ps", "pmca_busy_ps", "stall_ps",
    "tcdm_live_bytes", *OpStats.COUNTERS))

#: A link of an op's routes: (role of the source, role of the destination, index on the route)
LinkRef = tuple[int, int, int]


class Units(NamedTuple):
    """The units an op can move data between, in a canonical order (`roles`: the sources of
    its inputs, its tile, its cluster, its slices' clusters), and the indices of the clusters
    among them, in that order."""

    roles: tuple[str, ...]
    clusters: tuple[int, ...]


@dataclass(frozen=True)
class Footprint:
    """What one simulated op (or block of an op) did, relative to its start: its statistics,
    when it finished and the state it left on the servers it used."""

    source: str  # the op simulated
    end_ps: int
    stats: tuple  # `OpStats.snapshot` at the end (absolute: a fresh op's take it whole)
    delta: tuple  # the change of the `ADDITIVE` fields (a block's add to its op's)
    times: tuple  # first_ps, last_ps, aimc_end_ps: relative if they changed, else None
    links: tuple[tuple[LinkRef, int], ...]  # (link, free_ps relative)
    # (k: the op's k-th cluster, `Units.clusters`)
    cores: tuple[tuple[int, int], ...]  # (k, its cores' free_ps relative)
    peaks: tuple[tuple[int, int], ...]  # (k, its TCDM peak during the op)
    cim_ps: int | None  # the op's SRAM-CIM macros, free from (relative)
    tile_ps: tuple[int, int, int] | None  # the op's tile phases, free from (relative)


#: the fields of an architecture a run never reads at all (its energy and area are priced
#: after it)
UNREAD_FIELDS = frozenset({"chip", "technology", "name", "source", "document"})
#: and those the run of a digital op (one without a tile or SRAM-CIM macros: its kernels,
#: transfers and TCDM are the clusters', the links' and the pipeline's) never reads: those and
#: the tiles' timing and shape (the placements hold what the shape decides)
TILE_FIELDS = UNREAD_FIELDS | {"aimc"}


class Shared(NamedTuple):
    """What runs share (`shared_footprints`): footprints by signature, and the routes between
    each op's units."""

    digital: dict[tuple, Footprint]  # of digital ops
    tile_only: dict[tuple, Footprint]  # of static ops whose blocks use their tile alone
    #: per op, the routes between its units (`_routes`): the placements and the interconnect
    #: decide them
    routes: dict[str, tuple[tuple, dict[tuple[int, int], list]]]


def shared_footprints(prepared: Prepared) -> Shared | None:
    """The footprints runs share: those of every run of the workload, its placements, mode
    and cluster model, on architectures equal but for `TILE_FIELDS` (for digital ops: a
    sweep over tile timings simulates its attention, norms and activations once), or but for
    `UNREAD_FIELDS` and the pipeline's strategy (for static ops whose blocks use the tile
    alone on links of their own: booked at once, their blocks wait for nothing the strategy
    decides). Memoised, the last 256 such cases of each; None when a part of the case cannot
    be a key (a cluster model or an engine's section that does not hash: nothing is shared)."""
    arch = prepared.arch
    case = Same(prepared.workload, prepared.placements), prepared.model, prepared.mode
    pipeline = tuple(getattr(arch.pipeline, f.name) for f in fields(arch.pipeline)
                     if f.name != "strategy")
    try:
        return Shared(
            _memo("digital", *case, tuple(getattr(arch, f.name) for f in fields(arch)
                                          if f.name not in TILE_FIELDS)),
            _memo("tile-only", *case, pipeline, tuple(
                getattr(arch, f.name) for f in fields(arch)
                if f.name not in UNREAD_FIELDS and f.name != "pipeline")),
            _memo("routes", case[0], arch.interconnect))
    except TypeError:  # (unhashable)
        return None


@lru_cache(maxsize=1024)  # (256 of each kind)
def _memo(_kind: str, *_key: Any) -> dict:
    return {}


def forget_shared_footprints() -> None:
    """Drop the footprints runs share (`shared_footprints`): the next run simulates its ops as
    if it were the first of its case (a benchmark of one run's cost starts from here)."""
    _memo.cache_clear()


def _shared(sim: Run, op: Op) -> dict[tuple, Footprint] | None:
    """The footprints op's run can share with other runs (`shared_footprints`), if any."""
    if sim.shared_prints is None:
        return None
    place_ = sim.shared[op.name]
    if place_.cim:
        return None
    if place_.tile is None:
        return sim.shared_prints.digital
    if (op.kind == "static_linear" and sim.exclusive_links
            and not any(prog.uses_cluster for prog in sim.programs[op.name].values())):
        return sim.shared_prints.tile_only
    return None


def footprint_of(sim: Run, op: Op, key: tuple) -> Footprint | None:
    """The footprint op replays (None: it is simulated): one of its run's, or one another run
    recorded (`shared_footprints`; this run's op then stands for it, so that the ops after it
    count its events as its twins)."""
    if key in sim.footprints:
        return sim.footprints[key]
    shared = _shared(sim, op)
    found = shared.get(key) if shared is not None else None
    if found is not None:
        found = sim.footprints[key] = replace(found, source=op.name)
    return found


def remember(sim: Run, op: Op, key: tuple, footprint: Footprint | None) -> None:
    """Keep the footprint of op, simulated and settled, for the ops after it of its signature
    (None: seen, not replayable), and for other runs (`shared_footprints`)."""
    if key in sim.footprints:
        return
    sim.footprints[key] = footprint
    shared = _shared(sim, op) if footprint is not None else None
    if shared is not None:
        shared[key] = footprint


def signature(sim: Run, op: Op) -> tuple[tuple, Units]:
    """What decides an op's run from its start in a layer-by-layer run (equal signatures:
    runs equal up to a shift in time), and its units: its `structure`, its settings, the free
    TCDM of its clusters and (unless the topology's routes are uniform) its routes."""
    shape, units = sim.structure[op.name]
    key = (shape, None if sim.uniform_settings else sim.settings[op.name],
           tuple([sim.machine.clusters[c].free_bytes for c in units.clusters]),
           None if sim.machine.net.uniform else _routes(sim, op, units.roles)[0])
    return key, units


def signatures(sim: Run) -> list[tuple[tuple, Units]] | None:
    """Every op's `signature` as the run's start gives it, in trace order: its own while every
    op before it left its clusters' TCDM as it found it (`Recorder.finish`; else replay
    stops). Memoised by the workload, placements, free TCDM at the start and (unless routes
    are uniform) interconnect; None when the ops' settings differ (read as each op comes)."""
    if not sim.uniform_settings:
        return None
    net = sim.machine.net
    memo = _memo("signatures", Same(sim.workload, sim.shared),
                 tuple([c.free_bytes for c in sim.machine.clusters]),
                 None if net.uniform else net.noc)
    found = memo.get("ops")
    if found is None:
        found = memo["ops"] = [signature(sim, op) for op in sim.workload.ops]
    return found


def structure(workload: Workload, placements: Mapping[str, Placement],
              ) -> dict[str, tuple[int, Units]]:
    """Per op, what of its signature the workload and the placements decide (its shape, its
    inputs, where they come from and where it runs, up to the names of units: `op_structure`)
    as a number (equal numbers: equal shapes), and its units. Memoised by the identity of both
    (`aimcsim.mapping.placed` shares one dict per case)."""
    return _structure(Same(workload, placements))


@lru_cache(maxsize=64)
def _structure(same: Same) -> dict[str, tuple[int, Units]]:
    workload, placements = same.objects
    shapes: dict[tuple, int] = {}  # (each shape as its number: keys hash an int, not a tree)
    return {op.name: (shapes.setdefault(shape, len(shapes)), units)
            for op in workload.ops
            for shape, units in (op_structure(workload, placements, op),)}


def op_structure(workload: Workload, placements: Mapping[str, Placement], op: Op,
                  ) -> tuple[tuple, Units]:
    p = placements[op.name]
    roles: dict[str, int] = {}
    clusters = []
    edges = []
    for e in op.inputs:
        if e.src == INPUT:
            edges.append((e.kind, -1, workload.input_width, False))
            continue
        producer = placements[e.src]
        unit = producer.out_unit
        if unit not in roles:
            roles[unit] = len(roles)
            if unit == UnitId.cluster(producer.pmca):  # (else the producer's tile)
                clusters.append(producer.pmca)
        edges.append((e.kind, roles[unit], workload.op(e.src).d_out,
                      bool(producer.slices) and not producer.gather))
    tile = -1
    if p.tile is not None:
        tile = roles[UnitId.tile(op.name)] = len(roles)
    unit = UnitId.cluster(p.pmca)
    if unit not in roles:
        roles[unit] = len(roles)
        clusters.append(p.pmca)
    home = roles[unit]
    slices = ()
    if p.slices:
        for c, _ in p.slices:
            unit = UnitId.cluster(c)
            if unit not in roles:
                roles[unit] = len(roles)
                clusters.append(c)
        slices = tuple((roles[UnitId.cluster(c)], part) for c, part in p.slices)
    shape = (op.shape, op.last_tokens, tuple(edges), tile, home, slices,
             roles.get(p.out_unit, -1), len(roles), p.tile, p.rank, p.cim, p.gather)
    return shape, Units(tuple(roles), tuple(clusters))


def _paths(sim: Run, units: tuple[str, ...]) -> Iterator[tuple[int, int, list, bool]]:
    """(i, j, link keys, hop flag) of the route from each of `units` to each other one."""
    for i, a in enumerate(units):
        for j, b in enumerate(units):
            if a != b:
                yield i, j, *sim.machine.net.path(a, b)


def _routes(sim: Run, op: Op, roles: tuple[str, ...]) -> tuple[tuple, dict[tuple[int, int], list]]:
    """The routes between every two of op's units (`roles`): their shape, each link numbered by
    first appearance (two routes share a number exactly when they share a link) with their
    hop flags, and the link keys of each by (i, j). Memoised by the case and the interconnect
    (`Shared.routes`): on a mesh, walking them took half a replayed op's time."""
    memo = sim.routes
    found = memo.get(op.name)
    if found is None:
        numbers: dict[tuple, int] = {}
        shape, keys_of = [], {}
        for i, j, keys, hops in _paths(sim, roles):
            shape.append((tuple(numbers.setdefault(k, len(numbers)) for k in keys), hops))
            keys_of[(i, j)] = keys
        found = memo[op.name] = (tuple(shape), keys_of)
    return found


def link_refs(sim: Run, units: tuple[str, ...]) -> dict[tuple, LinkRef]:
    """Each link on the routes between `units`, by key, named by its first place on them."""
    refs: dict[tuple, LinkRef] = {}
    for i, j, keys, _ in _paths(sim, units):
        for n, k in enumerate(keys):
            refs.setdefault(k, (i, j, n))
    return refs


class Recorder:
    """Watches the simulation of one op, or of one block of it: whether it leaves its servers
    free when it finishes (`settled`), and its `Footprint`."""

    def __init__(self, sim: Run, op: Op, units: Units) -> None:
        self.sim, self.op, self.units = sim, op, units
        self.t0 = sim.machine.env.now
        self.before = sim.stats[op.name].snapshot()
        self.refs = link_refs(sim, units.roles)
        self.links, self.cores = sim.machine.snapshot(units.clusters, self.refs)
        self.link_count = len(sim.machine.net.servers)
        # each cluster's peak counts from here (restored, with the op's, in `finish`)
        self.peaks = [sim.machine.clusters[c].peak_bytes for c in units.clusters]
        self.used = [sim.machine.clusters[c].used_bytes for c in units.clusters]
        for c in units.clusters:
            sim.machine.clusters[c].peak_bytes = sim.machine.clusters[c].used_bytes

    def finish(self, now: int | None = None) -> tuple[bool, Footprint | None]:
        """At the op's end (`now`, default the clock's): whether every server it used is free
        by then and its clusters' TCDM holds what it held at its start (then the signatures
        of the ops after it are those the run's start gives: `signatures`), and its footprint
        (None when it used a link off its routes)."""
        sim, t0 = self.sim, self.t0
        now = sim.machine.env.now if now is None else now
        peaks = []
        for k, (c, before) in enumerate(zip(self.units.clusters, self.peaks, strict=True)):
            cluster = sim.machine.clusters[c]
            peaks.append((k, cluster.peak_bytes))
            cluster.peak_bytes = max(before, cluster.peak_bytes)
        servers = sim.machine.net.servers
        links = [(ref, servers[k].free_ps - t0) for k, ref in self.refs.items()
                 if k in servers and self.links.get(k) != servers[k].free_ps]
        # (the links it created are all on its routes)
        created = len(servers) - self.link_count
        on_routes = sum(k in servers and k not in self.links for k in self.refs)
        cores = [(k, sim.machine.clusters[c].cores.free_ps - t0)
                 for k, (c, before) in enumerate(zip(self.units.clusters, self.cores,
                                                     strict=True))
                 if sim.machine.clusters[c].cores.free_ps != before]
        st = sim.stats[self.op.name]
        cim = sim.machine.cims.get(self.op.name)
        tile = sim.machine.tiles.get(self.op.name)
        settled = (all(free <= now - t0 for _, free in links + cores)
                   and (cim is None or cim.free_ps <= now)
                   and (tile is None or max(tile.state()) <= now)
                   and not any(sim.machine.clusters[c].waiting for c in self.units.clusters)
                   and self.used == [sim.machine.clusters[c].used_bytes
                                     for c in self.units.clusters])
        if created != on_routes:
            return settled, None
        after = st.snapshot()
        return settled, Footprint(
            self.op.name, now - t0, after,
            tuple(after[i] - self.before[i] for i in ADDITIVE),
            tuple(None if after[i] == self.before[i] else after[i] - t0
                  for i in (FIRST, LAST, AIMC_END)),
            tuple(links), tuple(cores), tuple(peaks),
            None if cim is None else cim.free_ps - t0,
            None if tile is None else tuple(v - t0 for v in tile.state()))


def apply(sim: Run, op: Op, units: Units, fp: Footprint, t0: int) -> None:
    """Leave what `fp` says on a fresh op's statistics and on its servers, shifted to start at
    `t0` (ps). The servers' state is deferred (`Machine.deferred_links`: they are free when
    the next op starts, and what runs after it reads them only through their grants)."""
    values = fp.stats
    first, last, aimc_end = fp.times
    if first is not None or last is not None or aimc_end is not None:
        values = list(values)
        if first is not None:
            values[FIRST] = first + t0
        if last is not None:
            values[LAST] = last + t0
        if aimc_end is not None:
            values[AIMC_END] = aimc_end + t0
    sim.stats.replayed[op.name] = values  # (a fresh op's, set whole: `NetworkSim.stats`)
    machine = sim.machine
    if fp.links:  # (inline, not `_servers`: a replayed op's hot path, where calls cost)
        later, roles = machine.deferred_links, units.roles
        link = getattr(machine.net.topology, "key", None) if machine.net.uniform else None
        if link is not None:  # (a link of its own per pair of units, named by the pair)
            for (i, j, _), free_ps in fp.links:
                later[link(roles[i], roles[j])] = free_ps + t0
        else:  # (routes of several links: walked once per case, `_routes`)
            keys_of = _routes(sim, op, roles)[1]
            for (i, j, n), free_ps in fp.links:
                later[keys_of[(i, j)][n]] = free_ps + t0
    clusters = units.clusters
    if fp.cores:
        later = machine.deferred_cores
        for k, free_ps in fp.cores:
            later[clusters[k]] = free_ps + t0
    if fp.tile_ps is not None or fp.cim_ps is not None:
        machine.deferred_own.append((op.name, fp.tile_ps, fp.cim_ps, t0))
    for k, peak in fp.peaks:
        cluster = machine.clusters[clusters[k]]
        if peak > cluster.peak_bytes:
            cluster.peak_bytes = peak


def apply_block(sim: Run, op: Op, units: Units, fp: Footprint, t0: int, times: int = 1
                ) -> None:
    """Add what the block of `fp` did to its op's statistics (its tokens excepted) and leave
    its servers' state, shifted to start at `t0` (ps). (The op's first block, and the first of
    each size, are simulated: its span's start and its TCDM peak are set already.)

    `times` blocks one after the other, the last starting at `t0`, are applied at once: their
    additive statistics add up, and the later block's span end and servers' state are those
    each earlier one's would be set to."""
    st = sim.stats[op.name]
    values = list(st.snapshot())
    for i, change in zip(ADDITIVE, fp.delta, strict=True):
        values[i] += change * times
    _, last, aimc_end = fp.times
    if last is not None:
        values[LAST] = max(values[LAST], last + t0)
    if aimc_end is not None:
        values[AIMC_END] = aimc_end + t0
    st.restore(tuple(values))
    _servers(sim, op, units, fp, t0)


def _servers(sim: Run, op: Op, units: Units, fp: Footprint, t0: int) -> None:
    """Leave the servers' state `fp` recorded, shifted to start at `t0`."""
    machine = sim.machine
    links = None
    if fp.links:  # (the routes' link keys: walked once per case, `_routes`)
        keys_of = _routes(sim, op, units.roles)[1]
        links = [(keys_of[(i, j)][n], free_ps) for (i, j, n), free_ps in fp.links]
    clusters = units.clusters
    machine.restore(op.name, links, fp.cores and [(clusters[k], free_ps)
                                                  for k, free_ps in fp.cores],
                    fp.cim_ps, fp.tile_ps, t0)
    for k, peak in fp.peaks:
        cluster = machine.clusters[clusters[k]]
        if peak > cluster.peak_bytes:
            cluster.peak_bytes = peak
