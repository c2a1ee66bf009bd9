"""The kernel store on disk (`aimcsim.hw.pmca.memo`): what it returns is what the kernel
computes, keyed by everything the timing depends on; a network run from a warm store is
bit-identical to one that simulates every kernel; a store that cannot be used is not; an entry
that cannot be the kernel's timing is not believed but recomputed and rewritten, with one
warning per store."""

from __future__ import annotations

import dataclasses
import itertools
import json
import sqlite3
import warnings
from pathlib import Path

import pandas as pd
import pytest

from aimcsim import load_arch
from aimcsim.errors import KernelStoreWarning
from aimcsim.hw.pmca import cycle_level, memo, programs
from aimcsim.hw.pmca.cycle_level import CycleLevelPmca
from aimcsim.hw.pmca.model import KernelStats, ThroughputPmca, implausible
from aimcsim.simulator import simulate

KERNELS = [("matmul", (16, 512, 8), {}), ("matmul", (16, 8, 128), {"accumulate": True}),
           ("matmul", (4, 32, 96), {"dma_bytes": 4096}), ("elementwise", ("softmax", 1000), {}),
           ("dma", (12345,), {})]


def _raw(name):
    return getattr(CycleLevelPmca, name).__wrapped__.__wrapped__  # below the store and lru


def _stored(name):
    return getattr(CycleLevelPmca, name).__wrapped__  # the store, below the lru


def _rows(path: Path) -> list[tuple[str, object]]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT key, value FROM kernels").fetchall()


def _set_value(path: Path, key: str, value: object) -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE kernels SET value = ? WHERE key = ?", (value, key))


def _store_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, KernelStoreWarning)]


@pytest.mark.parametrize("name,args,kwargs", KERNELS)
def test_the_store_returns_what_the_kernel_computes(hybrid_arch, tmp_path, monkeypatch, name,
                                                    args, kwargs):
    monkeypatch.setenv(memo.ENV, str(tmp_path))
    model = CycleLevelPmca(hybrid_arch.pmca, "fp16")
    computed = _raw(name)(model, *args, **kwargs)
    assert _stored(name)(model, *args, **kwargs) == computed  # computed, then stored
    assert len(list(tmp_path.glob("kernels-*.sqlite"))) == 1

    def never(*_a, **_k):
        raise AssertionError("the kernel ran although its timing is stored")

    for kernel in ("microtile_matmul", "stream_kernel"):  # what this cluster's kernels run
        monkeypatch.setattr(cycle_level, kernel, never)
    CycleLevelPmca._microtile_matmul.cache_clear()
    with pytest.raises(AssertionError, match="kernel ran"):
        _raw(name)(CycleLevelPmca(hybrid_arch.pmca, "fp16"), *args, **kwargs)
    assert _stored(name)(model, *args, **kwargs) == computed  # from the store
    other = CycleLevelPmca(dataclasses.replace(hybrid_arch.pmca, tcdm_banks=16), "fp16")
    assert other.memo_key != model.memo_key


def test_other_parameters_are_other_keys(hybrid_arch, tmp_path, monkeypatch):
    monkeypatch.setenv(memo.ENV, str(tmp_path))
    a = CycleLevelPmca(hybrid_arch.pmca, "fp16")
    b = CycleLevelPmca(dataclasses.replace(hybrid_arch.pmca, tcdm_banks=8), "fp16")
    first = _stored("matmul")(a, 16, 128, 128)
    assert _stored("matmul")(b, 16, 128, 128) == _raw("matmul")(b, 16, 128, 128) != first
    assert CycleLevelPmca(hybrid_arch.pmca, "fp8").memo_key != a.memo_key


def test_off_and_unusable_stores_leave_the_kernels_to_run(hybrid_arch, tmp_path, monkeypatch):
    model = CycleLevelPmca(hybrid_arch.pmca, "fp16")
    want = _raw("matmul")(model, 8, 64, 8)
    monkeypatch.setenv(memo.ENV, "off")
    assert memo.store() is None
    assert _stored("matmul")(model, 8, 64, 8) == want
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(memo.ENV, str(blocker / "memo"))  # cannot be created
    with pytest.warns(KernelStoreWarning, match="a-file/memo/kernels-.*: not used"):
        assert _stored("matmul")(model, 8, 64, 8) == want
    assert memo.store().get("anything") is None


#: Entries a store may hold instead of a kernel's timing, made from the good one (a record by
#: field name); a string is written as it is, anything else as JSON. The matmul brings 64 KiB
#: in meanwhile: on the test cluster its DMA (1,044 cycles) outlasts its MACs at the peak
#: (384 cycles), so a timing can be consistent, fast enough for its MACs and still too fast.
POISONS = {
    "cycles 1": lambda good: {**good, "cycles": 1},
    "parts not summing": lambda good: {**good, "cycles": good["cycles"] + 1},
    "negative": lambda good: {**good, "stall_cycles": -5, "cycles": good["cycles"] - 5
                              - good["stall_cycles"]},
    "a list": lambda good: list(good.values()),
    "a string": lambda good: json.dumps("fast"),
    "not JSON": lambda good: "fast",
    "1e30": lambda good: {**good, "cycles": 1e30},
    "an int over 2**53": lambda good: {**good, "cycles": 10**30},
    "a float": lambda good: {**good, "cycles": float(good["cycles"])},
    "a bool": lambda good: {**good, "conflicts": True},
    "NaN": lambda good: {**good, "cycles": float("nan")},
    "a field missing": lambda good: {f: v for f, v in good.items() if f != "dma_bytes"},
    "a field unknown": lambda good: {**good, "energy_pj": 1},
    "wrong macs": lambda good: {**good, "macs": good["macs"] + 1},
    "another kernel's": lambda good: {**good, "macs": 2 * good["macs"],
                                      "stream_reads": 2 * good["stream_reads"]},
    "wrong overhead": lambda good: {**good, "overhead_cycles": 0,
                                    "stall_cycles": good["stall_cycles"]
                                    + good["overhead_cycles"]},
    "compute below the MACs": lambda good: {**good, "compute_cycles": 1, "stall_cycles":
                                            good["stall_cycles"] + good["compute_cycles"] - 1},
    "faster than its DMA": lambda good: {**good, "cycles": 384 + 40, "compute_cycles": 384,
                                         "dma_cycles": 0, "stall_cycles": 0},
    "invalid JSON": lambda good: "{cycles: 1",
    "nested too deep": lambda good: "[" * 100_000,
    "digits without end": lambda good: '{"cycles": ' + "9" * 10_000 + "}",
    "a long string": lambda good: json.dumps({**good, "cycles": "x" * 100_000}),
    "a blob": lambda good: sqlite3.Binary(json.dumps(good).encode()),
}


@pytest.mark.parametrize("poison", POISONS)
def test_a_bad_entry_is_recomputed_rewritten_and_warned_once(hybrid_arch, tmp_path,
                                                             monkeypatch, poison):
    monkeypatch.setenv(memo.ENV, str(tmp_path))
    model = CycleLevelPmca(hybrid_arch.pmca, "fp16")
    call = ((4, 32, 96), {"dma_bytes": 65536})
    want = _raw("matmul")(model, *call[0], **call[1])
    _stored("matmul")(model, *call[0], **call[1])
    path = memo.store().path
    [(key, text)] = _rows(path)
    good = json.loads(text)
    assert good == dataclasses.asdict(want)
    bad = POISONS[poison](good)
    _set_value(path, key, bad if isinstance(bad, (str, memoryview)) else json.dumps(bad))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _stored("matmul")(model, *call[0], **call[1]) == want  # recomputed
        assert _stored("matmul")(model, *call[0], **call[1]) == want  # the rewritten entry
    [message] = _store_warnings(caught)
    assert str(path) in message and "ignored its entry of matmul(4, 32, 96, dma_bytes=65536)" \
        in message
    assert len(message) < 600
    assert _rows(path) == [(key, text)]


def test_the_message_says_what_was_wrong(hybrid_arch, tmp_path, monkeypatch):
    monkeypatch.setenv(memo.ENV, str(tmp_path))
    model = CycleLevelPmca(hybrid_arch.pmca, "fp16")
    _stored("elementwise")(model, "relu", 1000)
    path = memo.store().path
    [(key, text)] = _rows(path)
    softmax = dataclasses.asdict(_raw("elementwise")(model, "softmax", 1000))
    _set_value(path, key, json.dumps(softmax))  # same counters, not the same kernel
    with pytest.warns(KernelStoreWarning) as caught:
        _stored("elementwise")(model, "relu", 1000)
    [message] = _store_warnings(caught.list)
    relu = json.loads(text)["compute_cycles"]
    assert f"compute_cycles = {softmax['compute_cycles']}, the kernel's is {relu}" in message
    monkeypatch.setenv(memo.ENV, str(tmp_path / "another"))  # a store not yet warned about
    _stored("elementwise")(model, "relu", 1000)
    path = memo.store().path
    _set_value(path, key, json.dumps({**softmax, "cycles": "x" * 10_000}))
    with pytest.warns(KernelStoreWarning, match=r"cycles = 'xxx.*\.\.\. \(10002 characters\) is "
                      r"not an int from 0 to 9007199254740992") as caught:
        _stored("elementwise")(model, "relu", 1000)
    assert len(_store_warnings(caught.list)[0]) < 600


def test_a_poisoned_store_warns_once(hybrid_arch, tmp_path, monkeypatch):
    """Every entry wrong: each is recomputed and rewritten, the process warns once."""
    monkeypatch.setenv(memo.ENV, str(tmp_path))
    model = CycleLevelPmca(hybrid_arch.pmca, "fp16")
    want = {}
    for name, args, kwargs in KERNELS:
        want[name, args] = _stored(name)(model, *args, **kwargs)
    path = memo.store().path
    good = _rows(path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE kernels SET value = '{\"cycles\": 1}'")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name, args, kwargs in KERNELS:
            assert _stored(name)(model, *args, **kwargs) == want[name, args]
    assert len(_store_warnings(caught)) == 1
    assert sorted(_rows(path)) == sorted(good)


@pytest.mark.parametrize("damage", ["not a database", "a foreign table", "NULL values"])
def test_a_damaged_file_is_warned_about_once(hybrid_arch, tmp_path, monkeypatch, damage):
    monkeypatch.setenv(memo.ENV, str(tmp_path))
    model = CycleLevelPmca(hybrid_arch.pmca, "fp16")
    path = memo.store().path
    key = f"{model.memo_key}|matmul|(8, 64, 8)|[]"  # as the store keys it (read back below)
    if damage == "not a database":
        path.write_bytes(b"SQLite format 2\0" + bytes(range(256)) * 64)
    else:
        with sqlite3.connect(path) as db:
            if damage == "a foreign table":
                db.execute("CREATE TABLE kernels (k INTEGER, v REAL)")
            else:  # a schema without NOT NULL (another writer's)
                db.execute("CREATE TABLE kernels (key TEXT PRIMARY KEY, value TEXT)")
                db.execute("INSERT INTO kernels VALUES (?, NULL)", (key,))
    want = [_raw("matmul")(model, 8, 64, 8), _raw("elementwise")(model, "add", 512)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _stored("matmul")(model, 8, 64, 8) == want[0]
        assert _stored("elementwise")(model, "add", 512) == want[1]
    [message] = _store_warnings(caught)
    assert str(path) in message
    if damage == "NULL values":
        assert "not text but NoneType" in message
        assert [k for k, _ in _rows(path)] == [key, f"{model.memo_key}|elementwise|('add', "
                                               "512)|[]"]
        assert json.loads(_rows(path)[0][1]) == dataclasses.asdict(want[0])
    else:
        assert "not used (DatabaseError" in message or "not used (OperationalError" in message


def _shipped_models() -> list[tuple[str, str]]:
    root = Path(__file__).resolve().parents[1]
    return [(path.name, dtype) for path in sorted((root / "arch").glob("*.yaml"))
            for dtype, _ in load_arch(path).pmca.macs_per_cycle]


@pytest.mark.parametrize("arch_file,dtype", _shipped_models())
def test_every_timing_the_models_compute_is_plausible(root, arch_file, dtype):
    """No good entry is refused: what both cluster models compute passes every check, on
    the matrix engine, streaming and load-use cores, odd shapes, with DMA and accumulation."""
    pmca = load_arch(root / "arch" / arch_file).pmca
    for model in (CycleLevelPmca(pmca, dtype), ThroughputPmca(pmca, dtype)):
        for (m, k, n), acc, dma in itertools.product(
                [(1, 1, 1), (3, 7, 5), (16, 64, 8), (17, 130, 96)], (False, True), (0, 8, 4096)):
            stats = model.matmul(m, k, n, dma_bytes=dma, accumulate=acc)
            assert KernelStats.from_record(dataclasses.asdict(stats)) == stats
            assert implausible(pmca, dtype, "matmul", stats, m=m, k=k, n=n, accumulate=acc,
                               dma_bytes=dma) == ""
        for function, elements in itertools.product(("add", "softmax", "mul", "rope"),
                                                    (0, 1, 7, 4099)):
            stats = model.elementwise(function, elements)
            assert implausible(pmca, dtype, "elementwise", stats, function=function,
                               elements=elements) == ""
        for nbytes in (0, 1, 63, 65, 12345):
            assert implausible(pmca, dtype, "dma", model.dma(nbytes), dma_bytes=nbytes) == ""


def test_a_run_from_a_warm_store_is_bit_identical(hybrid_arch, mobilebert, tmp_path,
                                                  monkeypatch):
    """The same tables with every kernel simulated (store off), from a cold store and from a
    warm one (the in-process caches emptied before each, the block programs' too: else no
    kernel is asked for again), the warm run with the kernels made to fail: every timing
    read back, none refused."""
    work = dataclasses.replace(mobilebert, ops=tuple(op for op in mobilebert.ops
                                                     if op.block < 2))

    def never(*_a, **_k):
        raise AssertionError("the kernel ran although its timing is stored")

    runs = []
    for where in ("off", str(tmp_path), "warm"):
        monkeypatch.setenv(memo.ENV, str(tmp_path) if where == "warm" else where)
        if where == "warm":
            for kernel in ("microtile_matmul", "stream_kernel"):
                monkeypatch.setattr(cycle_level, kernel, never)
        for name in ("matmul", "elementwise", "dma", "_microtile_matmul"):
            getattr(CycleLevelPmca, name).cache_clear()
        programs._program.cache_clear()
        with warnings.catch_warnings():
            warnings.simplefilter("error", KernelStoreWarning)  # no good entry refused
            runs.append(simulate(hybrid_arch, work, "hybrid", timeline=False))
    for run in runs[1:]:
        pd.testing.assert_frame_equal(run.layers, runs[0].layers, check_exact=True)
        assert run.summary == runs[0].summary
