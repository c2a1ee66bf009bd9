"""The kernel store on disk (`aimcsim.hw.pmca.memo`): what it returns is what the kernel
computes, keyed by everything the timing depends on; a network run from a warm store is
bit-identical to one that simulates every kernel; a store that cannot be used is not."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from aimcsim.hw.pmca import cycle_level, memo, programs
from aimcsim.hw.pmca.cycle_level import CycleLevelPmca
from aimcsim.simulator import simulate

KERNELS = [("matmul", (16, 512, 8), {}), ("matmul", (16, 8, 128), {"accumulate": True}),
           ("matmul", (4, 32, 96), {"dma_bytes": 4096}), ("elementwise", ("softmax", 1000), {}),
           ("dma", (12345,), {})]


def _raw(name):
    return getattr(CycleLevelPmca, name).__wrapped__.__wrapped__  # below the store and lru


def _stored(name):
    return getattr(CycleLevelPmca, name).__wrapped__  # the store, below the lru


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
    assert _stored("matmul")(model, 8, 64, 8) == want
    assert memo.store().get("anything") is None


def test_a_run_from_a_warm_store_is_bit_identical(hybrid_arch, mobilebert, tmp_path,
                                                  monkeypatch):
    """The same tables with every kernel simulated (store off), from a cold store and from a
    warm one (the in-process caches emptied before each, the block programs' too: else no
    kernel is asked for again), the warm run with the kernels made to fail: every timing
    read back."""
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
        runs.append(simulate(hybrid_arch, work, "hybrid", timeline=False))
    for run in runs[1:]:
        pd.testing.assert_frame_equal(run.layers, runs[0].layers, check_exact=True)
        assert run.summary == runs[0].summary
