"""Sweeps: validation, points, persistence, resume, pool vs Dask, compare."""

from __future__ import annotations

import copy
import os
import pickle
import re
import signal
import subprocess
import sys
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from aimcsim import AimcsimError, SpecError
from aimcsim.cli import main
from aimcsim.errors import StoredDataWarning
from aimcsim.explore.sweep import (
    build_points,
    compare,
    finished_ids,
    load_sweep,
    run_point,
    run_sweep,
)
from aimcsim.explore.sweep.run import _run
from aimcsim.explore.sweep.store import read_part
from aimcsim.spec.arch import parse_arch
from aimcsim.traces import MOBILEBERT_UNCASED, mobilebert_trace


@pytest.fixture
def sweep_file(tmp_path, root):
    def make(**overrides):
        trace = tmp_path / "tiny.yaml"
        config = {**MOBILEBERT_UNCASED, "num_hidden_layers": 1}
        trace.write_text(yaml.safe_dump(mobilebert_trace(32, config), sort_keys=False))
        doc = {
            "version": 1,
            "name": "tiny",
            "arch": str(root / "arch" / "hybrid.yaml"),
            "workloads": ["tiny.yaml"],
            "modes": ["aimc-only", "hybrid"],
            "axes": {"aimc.integration_time_ns": [128, 256],
                     "pipeline.parallel_tokens": [4, 8, 16]},
        }
        doc.update(overrides)
        path = tmp_path / "sweep.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path

    return make


def tables(out):
    return pd.read_parquet(out / "points.parquet"), pd.read_parquet(out / "layers.parquet")


def assert_same(a, b):
    pd.testing.assert_frame_equal(tables(a)[0], tables(b)[0])
    pd.testing.assert_frame_equal(tables(a)[1], tables(b)[1])


def test_shipped_sweeps_validate(root):
    for f in sorted((root / "arch" / "sweeps").glob("*.yaml")):
        points, _ = build_points(load_sweep(f))
        assert points


def test_sweep_file_errors_name_file_and_path(sweep_file):
    path = sweep_file(axes={"pmca.tcdm_kib": [1], "aimc.rows": {"linear": [1, 2]}},
                      constraints=["pmca.cores ~ 3", "pmca.corez >= 16"],
                      sampling={"random": {"samples": 0, "seed": 1}},
                      workloads=["missing.yaml"], colour="red")
    with pytest.raises(SpecError) as info:
        load_sweep(path)
    message = str(info.value)
    for expected in ("sweep.yaml: axes.pmca.tcdm_kib: 'pmca.tcdm_kib' is not a field",
                     "axes.aimc.rows.linear: expected [start, stop, count]",
                     "constraints[0]: expected 'dot.path OP value'",
                     "constraints[1]: 'pmca.corez' is not a field of an architecture file",
                     "sampling.random.samples: 0 is below the minimum 1",
                     "workloads[0]: file not found", "colour: unknown key 'colour'"):
        assert expected in message


def test_points_grid_random_ranges_and_constraints(sweep_file):
    spec = load_sweep(sweep_file(axes={"pmca.tcdm_bytes": {"log": [32768, 262144, 4], "round": True},
                                       "workload.seq_len": [16, 32]},
                                 constraints=["pmca.tcdm_bytes >= 65536"]))
    points, invalid = build_points(spec)
    assert len(points) + len(invalid) == 8
    assert sorted({dict(p.params)["pmca.tcdm_bytes"] for p in points}) == [65536, 131072, 262144]
    assert sum("excluded by constraint pmca.tcdm_bytes >= 65536" in i.reason for i in invalid) == 2
    sampled = load_sweep(sweep_file(sampling={"random": {"samples": 3, "seed": 11}}))
    first, again = build_points(sampled)[0], build_points(sampled)[0]
    assert len(first) == 3 and [p.id for p in first] == [p.id for p in again]


def test_each_point_holds_its_own_values_and_the_base_document_is_left_as_read(sweep_file):
    """Points share the sections of the architecture's document that no axis sets
    (`set_values(..., copy_paths=True)`): each point's document and architecture hold its
    own values, and the base document is unchanged."""
    spec = load_sweep(sweep_file())
    before = copy.deepcopy(spec.arch_doc)
    points, _ = build_points(spec)
    assert spec.arch_doc == before and len(points) == 6
    for p in points:
        values = dict(p.params)
        assert p.arch.aimc.integration_time_ns == values["aimc.integration_time_ns"]
        assert p.arch.document["aimc"]["integration_time_ns"] == values["aimc.integration_time_ns"]
        assert p.arch.pipeline.parallel_tokens == values["pipeline.parallel_tokens"]
        assert p.arch.document["pipeline"]["parallel_tokens"] == values["pipeline.parallel_tokens"]
        assert p.arch == parse_arch(copy.deepcopy(p.arch.document), p.arch.source)


def test_invalid_points_are_listed_and_skipped(sweep_file, tmp_path):
    # each value is valid alone (checked at load time); 60 bytes/cycle is not whole bank words
    spec = load_sweep(sweep_file(axes={"pipeline.parallel_tokens": [8, 32, 384],
                                       "pmca.dma_bytes_per_cycle": [64, 60]}))
    points, invalid = build_points(spec)
    reasons = " | ".join(i.reason for i in invalid)
    assert len(invalid) == 3 and "pmca.dma_bytes_per_cycle: 60 is not a multiple" in reasons
    assert "parallel_tokens = 384" not in reasons  # 32 tokens: blocks are capped at the length
    report = run_sweep(spec, tmp_path / "out")
    assert report.ran == len(points) and len(report.invalid) == len(invalid)


def test_interrupted_and_resumed_equals_uninterrupted(sweep_file, tmp_path):
    spec = load_sweep(sweep_file())
    whole = tmp_path / "whole"
    run_sweep(spec, whole)
    part = tmp_path / "part"
    first = run_sweep(spec, part, limit=2)
    assert first.ran == 2 and len(finished_ids(part)) == 2 and len(tables(part)[0]) == 2
    with pytest.raises(Exception, match="already holds a sweep; use --resume"):
        run_sweep(spec, part)
    rest = run_sweep(spec, part, resume=True)
    assert rest.ran == 4 and rest.skipped == 2
    assert_same(whole, part)
    points = tables(whole)[0]
    assert (points.status == "ok").all() and (points.overhead >= 0).all()
    assert len(tables(whole)[1]) == 6 * 2 * 30  # points x modes x ops


def test_process_pool_and_dask_give_identical_tables(sweep_file, tmp_path):
    from distributed import Client, LocalCluster

    spec = load_sweep(sweep_file())
    run_sweep(spec, tmp_path / "serial")
    run_sweep(spec, tmp_path / "pool", workers=2)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        run_sweep(spec, tmp_path / "dask", scheduler=client)
    assert_same(tmp_path / "serial", tmp_path / "pool")
    assert_same(tmp_path / "serial", tmp_path / "dask")


def test_ctrl_c_loses_no_finished_point(sweep_file, tmp_path):
    path = sweep_file(axes={"aimc.integration_time_ns": [128, 256, 512],
                            "pipeline.parallel_tokens": [1, 2, 4, 8],
                            "workload.seq_len": [384],
                            # slow enough to stop half-way: streaming runs replay no op
                            "pipeline.between_layers": ["streaming"]})
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "aimcsim.cli", "sweep", str(path), "--out",
                             str(out), "--workers", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(finished_ids(out) if out.exists() else ()) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    printed, err = proc.communicate(timeout=60)
    done = finished_ids(out)
    assert proc.returncode == 130, err.decode()
    assert 2 <= len(done) < 12 and b"interrupted:" in printed
    assert len(pd.read_parquet(out / "points.parquet")) == len(done)
    # the summary counts what is on disk, also what the workers saved after the parent heard
    assert f"interrupted: {len(done)} run now, 0 already done".encode() in printed
    assert main(["sweep", str(path), "--out", str(out), "--resume"]) == 0
    run_sweep(load_sweep(path), tmp_path / "whole")
    assert_same(out, tmp_path / "whole")


def test_resume_never_runs_code_from_the_folder(sweep_file, tmp_path):
    """A planted pickle (which would create a file when unpickled), in a folder with its
    manifest and in one without: nothing of it runs, and a folder of parts with no manifest
    is refused."""
    spec = load_sweep(sweep_file())
    out = tmp_path / "out"
    run_sweep(spec, out, limit=2)
    witness = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {witness}",))

    evil = pickle.dumps(Payload())
    victim = sorted((out / "parts").glob("*.arrow"))[0]
    victim.write_bytes(evil)  # a part by its name, holding a pickle
    (out / "parts" / f"{victim.stem}.pkl").write_bytes(evil)  # the old part format
    with pytest.warns(StoredDataWarning, match=f"{victim.name}: not a readable Arrow file"):
        report = run_sweep(spec, out, resume=True)
    assert not witness.exists() and report.skipped == 1 and report.ran == 5
    run_sweep(spec, tmp_path / "whole")
    assert_same(out, tmp_path / "whole")
    (out / "manifest.json").unlink()
    with pytest.raises(AimcsimError, match="holds sweep parts but no manifest"):
        run_sweep(spec, out, resume=True)
    assert not witness.exists()


def test_a_bad_part_is_computed_again_with_a_warning(sweep_file, tmp_path):
    """Truncated, emptied, another point's, a status it cannot have, other columns: each is
    refused as it is read back, warned about and computed again, and the tables equal an
    uninterrupted sweep's."""
    spec = load_sweep(sweep_file())
    whole = tmp_path / "whole"
    run_sweep(spec, whole)
    points = build_points(spec)[0]
    out = tmp_path / "out"
    run_sweep(spec, out)
    parts = [out / "parts" / f"{p.id}.arrow" for p in points]
    parts[0].write_bytes(parts[0].read_bytes()[:1000])
    parts[1].write_bytes(b"")
    parts[2].write_bytes(parts[3].read_bytes())  # point 3's part under point 2's name
    row, table = read_part(parts[4], points[4])
    _persist_table(parts[4], table, {**row, "status": "maybe"})
    _persist_table(parts[5], table.drop_columns(["energy_pj"]), read_part(parts[5], points[5])[0])
    with pytest.warns(StoredDataWarning) as caught:
        report = run_sweep(spec, out, resume=True)
    reasons = [str(w.message) for w in caught]
    for part, why in ((parts[0], "not a readable Arrow file"), (parts[1], "not a readable"),
                      (parts[2], f"its row does not name point {points[2].id}"),
                      (parts[4], "status 'maybe'"), (parts[5], "other columns")):
        assert any(r.startswith(f"{part}: {why}") or (r.startswith(str(part)) and why in r)
                   for r in reasons), (part, reasons)
    assert report.ran == 5 and report.skipped == 1
    assert_same(out, whole)


def _persist_table(path, table, row):
    """Write a part by hand: `table` with `row` as its points row."""
    import json

    import pyarrow as pa
    import pyarrow.ipc as ipc

    table = table.replace_schema_metadata({b"aimcsim.row": json.dumps(row)})
    with pa.OSFile(str(path), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def test_resume_refuses_a_folder_whose_inputs_changed(sweep_file, tmp_path, root):
    """The base architecture edited where no axis sweeps, the workload edited in place, the
    modes, the axes, the code: each is named, and nothing already computed is touched; a
    manifest of the wrong shape is an error naming the file."""
    path = sweep_file()
    out = tmp_path / "out"
    run_sweep(load_sweep(path), out, limit=2)
    before = sorted(p.name for p in (out / "parts").iterdir())
    base = tmp_path / "base.yaml"
    base.write_text(f"extends: {root / 'arch' / 'hybrid.yaml'}\npmca:\n  barrier_cycles: 17\n")
    trace = tmp_path / "tiny.yaml"
    edited = trace.read_text().replace("tokens: 32", "tokens: 16", 1)
    for changed, expected in (
            (dict(arch=str(base)), f"the base architecture {base} changed"),
            (dict(modes=["hybrid"]), "the modes changed (aimc-only, hybrid -> hybrid)"),
            (dict(axes={"aimc.integration_time_ns": [128, 512],
                        "pipeline.parallel_tokens": [4, 8, 16]}),
             "the axes, sampling or constraints changed (6 points before, 6 now, 3 in common)")):
        with pytest.raises(AimcsimError, match=re.escape(expected)):
            run_sweep(load_sweep(sweep_file(**changed)), out, resume=True)
    original = trace.read_text()
    trace.write_text(edited)
    with pytest.raises(AimcsimError, match=re.escape(f"workload {trace} changed")):
        run_sweep(load_sweep(path), out, resume=True)
    trace.write_text(original)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("aimcsim.explore.sweep.store.code_digest", lambda: "0" * 16)
        with pytest.raises(AimcsimError, match="aimcsim's code changed"):
            run_sweep(load_sweep(path), out, resume=True)
    assert sorted(p.name for p in (out / "parts").iterdir()) == before
    for bad, expected in (("[1, 2]", "not a sweep manifest (a JSON object), but a list"),
                          ('{"format": 1}', "written by another version of aimcsim"),
                          ('{"format": 2, "points": 3}', "not a sweep manifest: it needs"),
                          ("{", "invalid JSON at line 1")):
        (out / "manifest.json").write_text(bad)
        with pytest.raises(AimcsimError, match=re.escape(f"{out / 'manifest.json'}: {expected}")):
            run_sweep(load_sweep(path), out, resume=True)


def test_point_ids_follow_what_a_result_depends_on(sweep_file, tmp_path):
    """Two same-named workloads in two folders, the same axis values: different points; the
    same sweep twice: the same ids."""
    path = sweep_file()
    spec = load_sweep(path)
    other = tmp_path / "other"
    other.mkdir()
    trace = mobilebert_trace(16, {**MOBILEBERT_UNCASED, "num_hidden_layers": 1})
    (other / "tiny.yaml").write_text(yaml.safe_dump(trace, sort_keys=False))
    twin = load_sweep(sweep_file(workloads=["tiny.yaml", "other/tiny.yaml"]))
    ids = [p.id for p in build_points(twin)[0]]
    assert len(set(ids)) == len(ids) == 12
    assert [p.id for p in build_points(spec)[0]] == ids[:6]
    with pytest.raises(SpecError, match=re.escape("workloads[1]: the same trace as workloads[0]")):
        load_sweep(sweep_file(workloads=["tiny.yaml", "tiny.yaml"]))


def test_stored_columns_give_the_frames_of_run_point(sweep_file, tmp_path):
    """A part stores a point's layers as columns (strings as codes); the consolidated table
    holds, point by point, the frame `run_point` returns (written a row group of points at a
    time), and failed points without rows."""
    spec = load_sweep(sweep_file())
    points = build_points(spec)[0]
    failing = points[2].id

    def flaky(point):
        if point.id == failing:
            row = {"point": point.id, "index": point.index, "workload": "tiny.yaml",
                   **dict(point.params), "status": "failed", "error": "no"}
            return row, None
        return _run(point)

    out = tmp_path / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("aimcsim.explore.sweep.run._run", flaky)
        mp.setattr("aimcsim.explore.sweep.store.GROUP_POINTS", 2)  # (5 points with rows: 3 groups)
        run_sweep(spec, out)
    assert pq.ParquetFile(out / "layers.parquet").num_row_groups == 3
    table, layers = tables(out)
    assert table.set_index("point").loc[failing, "status"] == "failed"
    assert failing not in set(layers.point)
    expected = pd.concat([run_point(p)[1] for p in points if p.id != failing],
                         ignore_index=True)
    pd.testing.assert_frame_equal(layers, expected)


def test_compare_names_the_bounding_resource(sweep_file, tmp_path, capsys):
    spec = load_sweep(sweep_file())
    run_sweep(spec, tmp_path / "out", csv=True)
    table = compare(tmp_path / "out")
    assert len(table) == 6 * 15 and (table.overhead >= 0).all()
    # every row re-derived from the stored layers: the overhead of the same layer at the same
    # point, and the resource with the most busy time
    layers = tables(tmp_path / "out")[1].query("kind == 'static_linear'")
    by_mode = {m: g.set_index(["point", "layer"]) for m, g in layers.groupby("mode")}
    hybrid, aimc = by_mode["hybrid"], by_mode["aimc-only"]
    for row in table.itertuples():
        h, a = hybrid.loc[(row.point, row.layer)], aimc.loc[(row.point, row.layer)]
        assert row.overhead == pytest.approx(h.latency_ns / a.latency_ns - 1)
        busy = {"tile": h.aimc_busy_ns, "cluster": h.pmca_busy_ns + h.dma_busy_ns,
                "link": h.noc_busy_ns}
        assert busy[row.bound] == max(busy.values())
    slow_tile = table[table.point.isin(tables(tmp_path / "out")[0].query(
        "`aimc.integration_time_ns` == 256").point)]
    assert (slow_tile.bound == "tile").any()
    assert main(["compare", str(tmp_path / "out")]) == 0
    assert "bound by" in capsys.readouterr().out
    assert (tmp_path / "out" / "points.csv").exists()


def test_sigkill_of_the_sweep_leaves_no_worker_behind(sweep_file, tmp_path):
    """The pool's workers watch their parent: a SIGKILLed sweep takes them down within
    seconds instead of leaving them waiting for work forever."""
    import psutil

    path = sweep_file(axes={"aimc.integration_time_ns": [128, 256, 512],
                            "pipeline.parallel_tokens": [1, 2, 4, 8],
                            "workload.seq_len": [384]})
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "aimcsim.cli", "sweep", str(path), "--out",
                             str(out), "--workers", "2"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    parent = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    workers: list = []
    while time.monotonic() < deadline and len(workers) < 2:
        workers = [c for c in parent.children(recursive=True)
                   if "python" in c.name().lower()]
        time.sleep(0.1)
    assert len(workers) >= 2
    proc.kill()
    proc.wait(timeout=10)
    _, alive = psutil.wait_procs(workers, timeout=15)
    assert not alive, [p.pid for p in alive]


def test_a_points_overheads_without_stacking_its_tables():
    """A sweep point's overhead figures from its two tables equal those of the stacked table,
    also when the tables do not list the same layers (then by the stacked table)."""
    from conftest import make_arch, small_bert

    from aimcsim import simulate
    from aimcsim.results import overhead_stats, overhead_stats_of

    arch = make_arch(pipeline={"between_layers": "layer-by-layer", "parallel_tokens": 4})
    a, h = (simulate(arch, small_bert(24, 2), m, timeline=False).layers
            for m in ("aimc-only", "hybrid"))
    assert overhead_stats_of(a, h) == overhead_stats(pd.concat([a, h], ignore_index=True))
    reordered = h.iloc[::-1].reset_index(drop=True)
    assert overhead_stats_of(a, reordered) == overhead_stats(
        pd.concat([a, reordered], ignore_index=True))


def test_a_sequence_length_axis_over_a_hand_written_trace_is_refused_up_front(sweep_file,
                                                                               tmp_path):
    hand = tmp_path / "hand.yaml"  # a trace without the config it came from
    trace = mobilebert_trace(16, {**MOBILEBERT_UNCASED, "num_hidden_layers": 1})
    trace.pop("config")
    hand.write_text(yaml.safe_dump(trace, sort_keys=False))
    with pytest.raises(SpecError, match=re.escape(
            f"axes.workload.seq_len: {hand} is not a generated trace")):
        load_sweep(sweep_file(workloads=["hand.yaml"], axes={"workload.seq_len": [8, 16]}))


def test_the_sweep_accepts_what_simulate_runs_and_refuses_what_it_refuses(tmp_path, root):
    """The pre-check is the simulation's preparation: a 64 KiB TCDM with attention fused in
    chunks of 64 keys runs MobileBERT, so the sweep keeps the point (checked on the unfused
    workload it was refused, advising the very setting it has); a bounded L2 too small for K
    and V is refused by both."""
    import dataclasses

    from aimcsim import load_arch, load_workload, simulate
    from aimcsim.errors import CapacityError
    from aimcsim.explore.sweep import build_points, load_sweep

    (tmp_path / "w.yaml").write_text((root / "workloads" / "mobilebert.yaml").read_text())
    doc = {"version": 1, "arch": str(root / "arch" / "hybrid.yaml"), "workloads": ["w.yaml"],
           "modes": ["aimc-only"],
           "axes": {"pmca.tcdm_bytes": [65536], "pipeline.attention_key_chunk": [0, 64],
                    "memory.l2_bytes": [0, 1024]}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(doc))
    points, invalid = build_points(load_sweep(path))
    kept = {(dict(p.params)["pipeline.attention_key_chunk"], dict(p.params)["memory.l2_bytes"])
            for p in points}
    assert kept == {(64, 0)}, [i.reason for i in invalid]
    reasons = " ".join(i.reason for i in invalid)
    assert "memory.l2_bytes = 1024" in reasons
    arch = load_arch(root / "arch" / "hybrid.yaml")
    small = dataclasses.replace(arch, pmca=dataclasses.replace(arch.pmca, tcdm_bytes=65536),
                                pipeline=dataclasses.replace(arch.pipeline,
                                                             attention_key_chunk=64))
    work = load_workload(root / "workloads" / "mobilebert.yaml")
    assert simulate(small, work, "aimc-only", timeline=False).summary["total_latency_ns"] > 0
    unfused = dataclasses.replace(small, pipeline=arch.pipeline)
    with pytest.raises(CapacityError):
        simulate(unfused, work, "aimc-only", timeline=False)
