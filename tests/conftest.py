from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import strategies as st
from numba.core import event

from aimcsim import load_arch, load_workload
from aimcsim.cli import main
from aimcsim.hw.interconnect import TOPOLOGIES
from aimcsim.spec.arch import Arch, parse_arch
from aimcsim.spec.workload import Workload, parse_workload
from aimcsim.traces import MOBILEBERT_UNCASED, mobilebert_trace

ROOT = Path(__file__).resolve().parents[1]


class Stopwatch:
    """Seconds of work in a `with working_seconds() as watch:` block, numba's compilation
    left out: a kernel compiles once per process (minutes of CPU on a cold cache and a
    loaded machine), which is not the input's doing."""

    seconds: float = 0.0


@contextmanager
def plugin(module: str, registry: Any, name: str) -> Iterator[Any]:
    """The toy plug-in `module` (tests/<module>.py) imported for one test, so that it registers
    `name` in `registry`, then gone (other tests see the built-in registry)."""
    sys.modules.pop(module, None)
    importlib.import_module(module)
    try:
        yield registry[name]
    finally:
        registry.pop(name)
        sys.modules.pop(module, None)


@contextmanager
def working_seconds() -> Iterator[Stopwatch]:
    watch = Stopwatch()
    start = time.perf_counter()
    with event.install_recorder("numba:compile") as recorder:
        try:
            yield watch
        finally:
            compiling, depth, since = 0.0, 0, 0.0
            for stamp, ev in recorder.buffer:  # nested compilations: count the outermost
                if ev.is_start:
                    depth, since = depth + 1, stamp if depth == 0 else since
                else:
                    depth -= 1
                    compiling += stamp - since if depth == 0 else 0.0
            watch.seconds = time.perf_counter() - start - compiling


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def hybrid_arch() -> Arch:
    return load_arch(ROOT / "arch" / "hybrid.yaml")


@pytest.fixture(scope="session")
def mobilebert():
    return load_workload(ROOT / "workloads" / "mobilebert.yaml")


def shipped_arch_text(name: str = "hybrid.yaml") -> str:
    """A shipped architecture file's text, its technology path made absolute (so a copy
    elsewhere still finds its technology file)."""
    text = (ROOT / "arch" / name).read_text()
    return text.replace("technology: ../tech/", f"technology: {ROOT / 'tech'}/")


def arch_doc(**sections) -> dict:
    """A small valid architecture document; keyword arguments update its sections."""
    doc = {
        "version": 1,
        "name": "test",
        "aimc": {"rows": 512, "cols": 512, "integration_time_ns": 256, "dac_ns": 16,
                 "adc_ns": 32, "pipelined": True},
        "pmca": {"cores": 8, "freq_mhz": 1000, "macs_per_cycle": {"fp16": 4},
                 "tcdm_bytes": 131072, "tcdm_banks": 32, "bank_width_bytes": 8,
                 "dma_bytes_per_cycle": 64, "dma_setup_cycles": 20, "barrier_cycles": 16,
                 "kernel_setup_cycles": 24,
                 "elementwise_cycles_per_vector": {"add": 1, "norm": 1, "add_norm": 2,
                                                   "relu": 1, "softmax": 8}},
        "interconnect": {"topology": "point-to-point", "freq_mhz": 1000, "bytes_per_cycle": 32,
                         "latency_cycles": 4},
        "pipeline": {"strategy": "overlapped", "parallel_tokens": 16},
        "lora": {"rank": 8, "dtype": "fp16", "layers": "all"},
    }
    for name, values in sections.items():
        doc[name] = {**doc[name], **values} if isinstance(values, dict) else values
    return doc


def make_arch(**sections) -> Arch:
    return parse_arch(arch_doc(**sections), "test.yaml")


def linear_workload(tokens: int, d_in: int, d_out: int, tail: str | None = None) -> dict:
    """One static layer reading the network input, optionally followed by an element-wise op."""
    ops = [{"name": "fc", "kind": "static_linear", "role": "fc", "d_in": d_in, "d_out": d_out,
            "inputs": [{"from": "input"}]}]
    if tail:
        ops.append({"name": "act", "kind": "elementwise", "function": tail, "width": d_out,
                    "inputs": [{"from": "fc"}]})
    return {"version": 1, "name": "one-layer", "tokens": tokens, "input": {"width": d_in},
            "ops": ops}


def small_bert(seq_len: int = 48, layers: int = 2) -> Workload:
    """MobileBERT with fewer transformer blocks (all 15 static layers each) and tokens."""
    config = {**MOBILEBERT_UNCASED, "num_hidden_layers": layers}
    return parse_workload(mobilebert_trace(seq_len, config), "small.yaml")


_POW2 = st.sampled_from([64, 128, 256, 512])


_ROOMY = st.just(1 << 22)
_ONE_AT_A_TIME = st.just("layer-by-layer")
_SHORT_HEAD = st.integers(0, 10)
_ANY_TOPOLOGY = st.sampled_from(sorted(TOPOLOGIES))


@st.composite
def architectures(draw, tcdm_bytes=_ROOMY, between=_ONE_AT_A_TIME,
                  latency_cycles=_SHORT_HEAD, topology=_ANY_TOPOLOGY) -> dict:
    """A random valid architecture document, from tiny to study-sized parts (hypothesis).
    `tcdm_bytes`, `between`, `latency_cycles` and `topology` draw those fields (default: room
    for everything, one op at a time, a link's head latency of at most 10 cycles, any
    topology)."""
    engine = draw(st.one_of(st.none(), st.fixed_dictionaries({
        "height": st.integers(1, 6), "pipe_regs": st.integers(1, 4),
        "orientation": st.sampled_from(["normal", "transposed"])})))
    if engine is not None:
        engine["rows"] = draw(st.integers(1, engine["height"] * engine["pipe_regs"]))
    bank_bytes = draw(st.sampled_from([4, 8]))
    pmca = {
        "cores": draw(st.integers(1, 16)),
        "tcdm_banks": draw(st.integers(4, 64)),
        "bank_width_bytes": bank_bytes,
        "tcdm_bytes": draw(tcdm_bytes),
        "macs_per_cycle": {"fp16": draw(st.sampled_from([1, 2, 4][:bank_bytes // 4 + 1]))},
        "streaming": draw(st.booleans()),
        "loop_overhead_cycles": draw(st.integers(0, 4)),
        "timing": draw(st.sampled_from(["cycle-level", "throughput"])),
        "dma_double_buffer": draw(st.booleans()),
        "kernel_setup_cycles": draw(st.integers(0, 40)),
        "barrier_cycles": draw(st.integers(0, 20)),
        "matrix_engine": engine,
    }
    if engine is None:
        del pmca["matrix_engine"]
    return arch_doc(
        aimc={"rows": draw(_POW2), "cols": draw(_POW2),
              "integration_time_ns": draw(st.sampled_from([8, 32, 128, 256, 512])),
              "dac_ns": draw(st.integers(1, 64)), "adc_ns": draw(st.integers(1, 64)),
              "pipelined": draw(st.booleans())},
        pmca=pmca,
        interconnect={"topology": draw(topology),
                      "bytes_per_cycle": draw(st.sampled_from([4, 16, 64])),
                      "latency_cycles": draw(latency_cycles),
                      "hop_latency_cycles": draw(st.integers(0, 4))},
        pipeline={"strategy": draw(st.sampled_from(["sequential", "overlapped",
                                                    "double-buffered"])),
                  "parallel_tokens": draw(st.integers(1, 12)),
                  "tile_output": draw(st.sampled_from(["in-place", "separate"])),
                  "between_layers": draw(between),
                  "attention_clusters": draw(st.sampled_from([1, 1, 2, 3])),
                  "attention_key_chunk": draw(st.sampled_from([0, 0, 1, 5, 64])),
                  "output_chunk": draw(st.sampled_from([0, 0, 7, 64]))},
        lora={"rank": draw(st.integers(1, 16)),
              "layers": draw(st.sampled_from(["all", ["query", "value"], ["ffn_output"]]))},
    )


@pytest.fixture(scope="session", autouse=True)
def _kernel_memo(tmp_path_factory):
    """The tests' kernel store is their own (never the user's ~/.cache), fresh per session."""
    from aimcsim.hw.pmca.memo import ENV

    before = os.environ.get(ENV)
    os.environ[ENV] = str(tmp_path_factory.mktemp("kernel-memo"))
    yield
    if before is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = before


@pytest.fixture(scope="session")
def results(tmp_path_factory, root):
    """run, search and sweep folders from a one-layer MobileBERT at 32 tokens."""
    tmp = tmp_path_factory.mktemp("results")
    trace = tmp / "tiny.yaml"
    trace.write_text(yaml.safe_dump(mobilebert_trace(32, {**MOBILEBERT_UNCASED,
                                                          "num_hidden_layers": 2})))
    arch = str(root / "arch" / "hybrid.yaml")
    assert main(["run", arch, str(trace), "--mode", "both", "--out", str(tmp / "run"),
                 "--trace", str(tmp / "trace.json")]) == 0
    space = tmp / "space.yaml"
    space.write_text("version: 1\nparallel_tokens: [2, 8, 32]\nintegration_time_ns: [128, 512]\n")
    assert main(["search", arch, str(trace), "--space", str(space), "--out",
                 str(tmp / "search")]) == 0
    sweep = tmp / "sweep.yaml"
    sweep.write_text(yaml.safe_dump({
        "version": 1, "arch": arch, "workloads": [str(trace)], "modes": ["aimc-only", "hybrid"],
        "axes": {"aimc.integration_time_ns": [128, 256], "pipeline.parallel_tokens": [4, 8]}}))
    assert main(["sweep", str(sweep), "--out", str(tmp / "sweep")]) == 0
    return tmp
