"""Serve settings as sweep axes: a sweep file's `serve` section, each point a request stream
served on the point's architecture, through the sweep machinery (serial, pool, Dask, resume)."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
import yaml

from aimcsim.cli.main import main
from aimcsim.errors import SpecError
from aimcsim.explore.sweep import load_sweep, run_sweep
from aimcsim.serve.engine import serve_model
from aimcsim.serve.stream import poisson_stream
from aimcsim.spec.arch import load_arch
from aimcsim.spec.overrides import with_value

STREAM = {"model": "gpt2", "requests": 6, "prompt": 8, "output_tokens": "3", "seed": 4}


@pytest.fixture
def serve_sweep(tmp_path, root):
    def make(serve=None, axes=None, **top):
        doc = {"version": 1, "name": "serve-grid",
               "arch": str(root / "arch" / "hybrid_large_tcdm.yaml"),
               "serve": {**STREAM, **(serve or {})},
               "axes": axes or {"serve.rate": [30, 90], "serve.branch": ["cluster", "sram-cim"],
                                "serve.cache": ["lru", "pinned"],
                                "memory.l2_bytes": [16 << 20]}, **top}
        path = tmp_path / "serve_sweep.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
        return path
    return make


def _points(out):
    return pd.read_parquet(out / "points.parquet").sort_values("index").reset_index(drop=True)


def test_each_point_is_the_stream_serve_gives(serve_sweep, tmp_path, root):
    spec = load_sweep(serve_sweep())
    report = run_sweep(spec, tmp_path / "out")
    assert report.ran == 8 and report.failed == 0
    points = _points(tmp_path / "out")
    base = load_arch(root / "arch" / "hybrid_large_tcdm.yaml")
    for row in points.itertuples(index=False):
        rate, branch, cache = row[3], row[4], row[5]  # (the axes, in the file's order)
        arch = with_value(with_value(base, "memory.l2_bytes", 16 << 20), "lora.engine",
                          "sram-cim" if branch == "sram-cim" else "pmca")
        stream = poisson_stream(6, rate, prompt=8, output=("fixed", 3, 0), adapters=8, seed=4)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want = serve_model(arch, "gpt2", stream, cache=cache).summary
        for key in ("throughput_tokens_per_s", "ttft_ns_p99", "tpot_ns_p50", "adapter_loads",
                    "busy_fraction"):
            assert getattr(row, key) == want[key], (rate, branch, cache, key)
    # the branch moves where the time goes: the macros serve each token faster
    fast = points.groupby("serve.branch").tpot_ns_p50.mean()
    assert fast["sram-cim"] < fast["cluster"]
    assert (pd.read_parquet(tmp_path / "out" / "layers.parquet").empty)


def test_a_serve_sweep_resumes_and_runs_alike_on_workers_and_dask(serve_sweep, tmp_path):
    from distributed import Client, LocalCluster

    spec = load_sweep(serve_sweep(axes={"serve.rate": [30, 60, 90]}))
    run_sweep(spec, tmp_path / "serial")
    part = run_sweep(spec, tmp_path / "part", limit=1)
    rest = run_sweep(spec, tmp_path / "part", resume=True)
    assert part.ran == 1 and rest.ran == 2 and rest.skipped == 1
    run_sweep(spec, tmp_path / "pool", workers=2)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        run_sweep(spec, tmp_path / "dask", scheduler=client)
    for other in ("part", "pool", "dask"):
        pd.testing.assert_frame_equal(_points(tmp_path / "serial"), _points(tmp_path / other))
    # another stream is another sweep: resuming would mix them
    changed = load_sweep(serve_sweep(serve={"requests": 7}, axes={"serve.rate": [30, 60, 90]}))
    with pytest.raises(Exception, match="the serve section changed"):
        run_sweep(changed, tmp_path / "serial", resume=True)


@pytest.mark.parametrize(("change", "where", "says"), [
    ({"axes": {"serve.cache": ["lru", "fifo"]}}, "axes.serve.cache[1]", "allowed values: lru"),
    ({"axes": {"serve.colour": [1]}}, "axes.serve.colour", "no option 'colour'"),
    ({"axes": {"serve.rate": [0]}}, "axes.serve.rate[0]", "above 0"),
    ({"axes": {"serve.rate": [10, 10]}}, "axes.serve.rate", "twice"),
    ({"serve": {"output_tokens": "lognormal:0,1"}}, "serve.output_tokens", "MEAN must be"),
    ({"serve": {"model": "gtp2"}}, "serve.model", "did you mean gpt2"),
    ({"workloads": ["x.yaml"]}, "workloads", "runs its own model"),
    ({"modes": ["hybrid"]}, "modes", "hybrid mode"),
])
def test_bad_serve_sections_name_the_file_and_path(serve_sweep, change, where, says):
    path = serve_sweep(serve=change.get("serve"), axes=change.get("axes"),
                       **{k: v for k, v in change.items() if k not in ("serve", "axes")})
    with pytest.raises(SpecError) as info:
        load_sweep(path)
    text = str(info.value)
    assert "serve_sweep.yaml" in text and f"{where}:" in text and says in text


def test_a_serve_sweep_folder_reports_plots_and_refuses_compare(serve_sweep, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(serve_sweep(axes={"serve.rate": [30, 90],
                                                 "serve.adapters": [2, 8]})),
                 "--out", str(out)]) == 0
    assert main(["report", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert "TPOT p99" in page and "serve.rate=30" in page
    assert main(["plot", str(out), "--kind", "all"]) == 0
    assert (out / "heatmap.png").exists()
    capsys.readouterr()
    assert main(["compare", str(out)]) == 2
    assert "served request streams" in capsys.readouterr().err
