"""The block processes of a run: what one token block of an op does on the machine.

A static op's block runs two branches. Tile branch: X to the tile, the MVM burst, the output to
the cluster when the cluster must finish it (LoRA add, partial sums). Cluster branch (hybrid):
X to the cluster, T = X A and U = T B (`pre`), then the add of U to the tile output (`post`);
the strategy (`aimcsim.sim.strategies`) says whether `pre` waits for the tile branch. A
digital op's block brings its streamed inputs to its cluster and runs its kernel; a spread op
(`pipeline.attention_clusters`) runs one slice per cluster. Each block takes its TCDM working
set while it runs. `BlockRunner` is the part of `aimcsim.sim.network.NetworkSim` that runs
blocks; the servers it books are the `Machine`'s.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any

from aimcsim.hw.lanes import UnitId
from aimcsim.hw.pmca.programs import BlockProgram
from aimcsim.mapping import Placement
from aimcsim.sim.machine import Machine, Proc
from aimcsim.sim.probes import Probe, Segments, end_of
from aimcsim.sim.stats import OpStats
from aimcsim.sim.strategies import strategy
from aimcsim.spec.workload import Op

if TYPE_CHECKING:
    import simpy


class BlockRunner:
    """Block processes over `self.machine` (mixed into `NetworkSim`, which provides the
    run's placements, programs, statistics and completion)."""

    machine: Machine
    probe: Probe
    watching: bool
    env: simpy.Environment
    eb: int
    exclusive_links: bool
    programs: Any
    slice_programs: Any
    stats: dict[str, OpStats]
    settings: dict[str, Any]

    def _spread_block(self, op: Op, place_: Placement, b: int, size: int) -> Proc:
        """A block of an op spread over clusters: every slice at once, each on its cluster;
        its chain is the slice that ended last."""
        admitted = self.env.now
        paths: list[Segments | None] = [self.probe.chain() for _ in place_.slices]
        yield self.env.all_of([
            self.env.process(self._slice(op, place_, c, part, prog, size, path))
            for (c, part), prog, path in zip(place_.slices, self.slice_programs[op.name][size],
                                             paths, strict=True)])
        chain = max(paths, key=lambda path: end_of(path, admitted)) if self.watching else None
        self._complete(op.name, b, size, admitted, chain)

    def _slice(self, op: Op, place_: Placement, cluster: int, part: int, prog: BlockProgram,
               size: int, path: Segments | None) -> Proc:
        stats = self.stats[op.name]
        if prog.tcdm_bytes:
            yield from self.machine.alloc(cluster, prog.tcdm_bytes, stats, path)
        dst = UnitId.cluster(cluster)
        moves = []  # the slice's share of each streamed input not already on its cluster
        for edge in op.inputs:
            src = self._out_unit(edge.src)
            producer = self.placements.get(edge.src)
            alike = producer is not None and producer.slices and not producer.gather
            if edge.kind == "streaming" and src is not None and src != dst and not alike:
                moves.append((src, size * self.workload.width_of(edge.src) * part
                              // place_.whole * self.eb))
        if moves:
            yield from self._parallel(moves, dst, stats, op.name, path)
        yield from self.machine.kernel(cluster, prog.pre, stats, op.name, op.function or "matmul",
                                path)
        if place_.gather and cluster != place_.pmca:  # its output joins the others
            yield from self.machine.transfer(dst, UnitId.cluster(place_.pmca),
                                      size * op.d_out * part // place_.whole * self.eb, stats,
                                      op.name, path=path)
        if prog.tcdm_bytes:
            self.machine.free(cluster, prog.tcdm_bytes, stats)

    def _block(self, op: Op, place_: Placement, b: int, size: int) -> Proc:
        if place_.slices:
            yield from self._spread_block(op, place_, b, size)
            return
        prog = self.programs[op.name][size]
        stats = self.stats[op.name]
        cluster = place_.pmca
        admitted = self.env.now
        path: Segments | None = self.probe.chain()
        if prog.tcdm_bytes:
            yield from self.machine.alloc(cluster, prog.tcdm_bytes, stats, path)
        if op.kind == "static_linear":
            path = yield from self._static_block(op, place_, prog, size, stats, path)
        else:
            yield from self._gather(op, place_, size, stats, path)
            yield from self.machine.kernel(place_.pmca, prog.pre, stats, op.name,
                                    op.function or "matmul", path)
        if prog.tcdm_bytes:
            self.machine.free(cluster, prog.tcdm_bytes, stats)
        self._complete(op.name, b, size, admitted, path)

    def _tile_only_block(self, op: Op, place_: Placement, b: int, size: int,
                         at_once: bool = False) -> None:
        """A block of a static op whose output stays at its tile, on its own links: booked at
        once, done when its output has arrived (by a timer; `at_once`: counted now, as
        nothing waits for it but its op's end, which a later block makes)."""
        src = self._out_unit(op.inputs[0].src)
        to_cluster = place_.out_unit == UnitId.cluster(place_.pmca)
        admitted = self.env.now
        path: Segments | None = self.probe.chain()
        end = self._tile_branch(op, place_, size, src, size * op.d_in * self.eb,
                                self.stats[op.name], to_cluster, path)
        if at_once:
            self._complete(op.name, b, size, admitted, end_ps=end)
            return
        timer = self.env.timeout(end - self.env.now)
        timer.callbacks.append(lambda _event: self._complete(op.name, b, size, admitted, path))

    def _static_block(
        self, op: Op, place_: Placement, prog: BlockProgram, size: int, stats: OpStats,
        path: Segments | None = None,
    ) -> Generator[simpy.Event, Any, Segments | None]:
        """The block's two branches; returns its critical chain (`path` extended by the
        branch that ended last, then the post kernel) when recording."""
        src = self._out_unit(op.inputs[0].src)
        x_bytes = size * op.d_in * self.eb
        to_cluster = place_.out_unit == UnitId.cluster(place_.pmca)
        tile_path = None if path is None else list(path)
        send = prog.chunks is None  # else the cluster pulls the output chunk by chunk
        if self.exclusive_links:
            # the tile's links serve this op alone: its whole branch is known at admission
            tile_done = self._tile_branch(op, place_, size, src, x_bytes, stats, to_cluster,
                                          tile_path, send)
            tile = None
        else:
            tile = self.env.process(self._tile(op, place_, size, src, x_bytes, stats, to_cluster,
                                               tile_path, send))
        chain = tile_path
        if prog.pre is not None:
            pre_path = None if path is None else list(path)
            yield from self.machine.transfer(src, UnitId.cluster(place_.pmca), x_bytes, stats,
                                             op.name, path=pre_path)
            if strategy(self.settings[op.name].strategy).pre_waits_for_tile:
                yield tile if tile is not None else self.machine.until(tile_done)
                pre_path = None if path is None else list(tile_path)  # after the tile branch
            yield from self.machine.kernel(place_.pmca, prog.pre, stats, op.name, "lora_xab",
                                           pre_path)
            pre_end = self.env.now
        yield tile if tile is not None else self.machine.until(tile_done)
        if prog.pre is not None and path is not None and pre_end >= end_of(tile_path, pre_end):
            chain = pre_path  # the cluster branch ended last (ties: the cluster's)
        if prog.chunks is not None:  # pull a chunk of the output, reduce it, the next one
            unit, dst = UnitId.tile(op.name), UnitId.cluster(place_.pmca)
            for nbytes, kernel in prog.chunks:
                yield from self.machine.transfer(unit, dst, nbytes, stats, op.name, path=chain)
                yield from self.machine.kernel(place_.pmca, kernel, stats, op.name, "add", chain)
        elif prog.post is not None:
            yield from self.machine.kernel(place_.pmca, prog.post, stats, op.name, "add", chain)
        return chain

    def _tile_branch(
        self, op: Op, place_: Placement, size: int, src: str | None, x_bytes: int,
        stats: OpStats, to_cluster: bool, path: Segments | None = None, send: bool = True,
    ) -> int:
        """The tile branch of a block, booked now; returns when its output has arrived (and
        extends `path` by its critical chain). Without `send` the output waits at the tile
        (and the macros') for the cluster to pull it: returns when it is there."""
        unit = UnitId.tile(op.name)
        ready = self.machine.book(src, unit, x_bytes, stats, op.name, self.env.now, path=path)
        at_tile = None if path is None else list(path)
        end = self.machine.mvm(op.name, ready, size, stats, path)
        if not to_cluster:
            return end
        if not send:
            return self._held(op, place_, ready, end, size, stats, path, at_tile)
        dst = UnitId.cluster(place_.pmca)
        if not place_.cim:
            return self.machine.book(unit, dst, self._y_bytes(op, place_, size), stats,
                                     op.name, end, path=path)
        u_path = at_tile
        u_end = self.machine.cim(op.name, op.d_in, op.d_out, place_, ready, size, stats, u_path)
        # Y and U share the tile's link: booked in the order they are ready
        sends = self._y_and_u(op, place_, size, end, u_end, path, u_path)
        arrivals = [(self.machine.book(unit, dst, nbytes, stats, op.name, at, path=chain), chain)
                    for at, nbytes, chain in sends]
        last, chain = max(arrivals, key=lambda a: a[0])
        if path is not None and chain is not path:
            path[:] = chain
        return last

    def _tile(
        self, op: Op, place_: Placement, size: int, src: str | None, x_bytes: int,
        stats: OpStats, to_cluster: bool, path: Segments | None = None, send: bool = True,
    ) -> Proc:
        """The tile branch as a process, for links others share: each transfer is asked for
        when the data is there, so it queues in time order."""
        unit = UnitId.tile(op.name)
        yield from self.machine.transfer(src, unit, x_bytes, stats, op.name, path=path)
        at_tile = None if path is None else list(path)
        end = self.machine.mvm(op.name, self.env.now, size, stats, path)
        if not to_cluster or not send:
            if to_cluster:
                end = self._held(op, place_, self.env.now, end, size, stats, path, at_tile)
            yield self.env.timeout(end - self.env.now)
            return
        dst = UnitId.cluster(place_.pmca)
        if not place_.cim:
            yield self.env.timeout(end - self.env.now)
            yield from self.machine.transfer(unit, dst, self._y_bytes(op, place_, size), stats,
                                      op.name, path=path)
            return
        u_path = at_tile
        u_end = self.machine.cim(op.name, op.d_in, op.d_out, place_, self.env.now, size,
                                 stats, u_path)
        # Y and U: each transfer asked for when its data is ready (the link queues them)
        sends = self._y_and_u(op, place_, size, end, u_end, path, u_path)
        yield self.env.all_of([
            self.env.process(self.machine.send_at(at, unit, dst, nbytes, stats, op.name, chain))
            for at, nbytes, chain in sends])
        if path is not None and end_of(u_path, 0) > end_of(path, 0):
            path[:] = u_path

    def _y_and_u(self, op: Op, place_: Placement, size: int, y_ready: int, u_ready: int,
                 y_path: Segments | None, u_path: Segments | None,
                 ) -> list[tuple[int, int, Segments | None]]:
        """The tile output Y and the macros' U of a block, (ready, bytes, chain) each, in the
        order they are ready (Y first among equals)."""
        return sorted([(y_ready, self._y_bytes(op, place_, size), y_path),
                       (u_ready, self._u_bytes(op, size), u_path)], key=lambda s: s[0])

    def _held(self, op: Op, place_: Placement, ready: int, end: int, size: int,
              stats: OpStats, path: Segments | None, at_tile: Segments | None) -> int:
        """When a block's output is ready at the tile (and U at the macros) for the cluster to
        pull: the MVMs' end, or the macros' if later (`path` then follows them)."""
        if not place_.cim:
            return end
        u_end = self.machine.cim(op.name, op.d_in, op.d_out, place_, ready, size, stats, at_tile)
        if path is not None and u_end > end:
            path[:] = at_tile
        return max(end, u_end)

    def _u_bytes(self, op: Op, size: int) -> int:
        """The LoRA branch's output U of a block."""
        return size * op.d_out * self.eb

    def _y_bytes(self, op: Op, place_: Placement, size: int) -> int:
        """Tile output of a block: one partial result per row slice."""
        return size * op.d_out * place_.tile.row_splits * self.eb

    def _gather(self, op: Op, place_: Placement, size: int, stats: OpStats,
                path: Segments | None = None) -> Proc:
        """Bring the block of every streamed input to the op's cluster, in parallel."""
        dst = UnitId.cluster(place_.pmca)
        moves = []
        for edge in op.inputs:
            src = self._out_unit(edge.src)
            if edge.kind == "streaming" and src is not None and src != dst:
                moves.append((src, size * self.workload.width_of(edge.src) * self.eb))
        if len(moves) == 1:
            yield from self.machine.transfer(moves[0][0], dst, moves[0][1], stats, op.name,
                                             path=path)
        elif moves:
            yield from self._parallel(moves, dst, stats, op.name, path)

    def _parallel(self, moves: list[tuple[str, int]], dst: str, stats: OpStats, name: str,
                  path: Segments | None) -> Proc:
        """Transfers at once; `path` follows the one that arrived last."""
        paths = [None if path is None else list(path) for _ in moves]
        yield self.env.all_of([self.env.process(self.machine.transfer(s, dst, n, stats, name,
                                                               path=chain))
                               for (s, n), chain in zip(moves, paths, strict=True)])
        if path is not None:
            path[:] = max(paths, key=lambda chain: end_of(chain, 0))
