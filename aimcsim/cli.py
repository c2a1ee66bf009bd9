"""The `aimcsim` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from aimcsim import __version__, plots
from aimcsim.decode import decode as decode_run
from aimcsim.decode import summary as decode_summary
from aimcsim.errors import AimcsimError, AimcsimWarning, SpecError, SpecIssue
from aimcsim.gpu import estimate, load_gpu
from aimcsim.hw.pmca.cycle_level import KERNEL_OPS, run_kernel
from aimcsim.outputs.run_folder import (
    CRITICAL,
    LAYERS,
    NUMBER,
    POINT_FIGURES,
    POINTS,
    SEARCH,
    TEXT,
    TIMELINE,
    read_table,
    record_inputs,
    record_sweep,
    recorded_arch,
    workload_record,
)
from aimcsim.params.files import digest, read_bytes
from aimcsim.plots import KINDS
from aimcsim.reload import SOURCES, request_stream
from aimcsim.report import report as make_report
from aimcsim.results import overhead, overhead_stats, write_json, write_layers_csv
from aimcsim.search import (
    GROUP,
    OBJECTIVES,
    RATINGS,
    SearchSpace,
    load_space,
    search,
    token_curves,
)
from aimcsim.simulator import simulate
from aimcsim.spec._reader import shown
from aimcsim.spec.arch import MODES, arch_schema, load_arch
from aimcsim.spec.run import apply_run
from aimcsim.spec.tech import technology_schema
from aimcsim.spec.workload import MAX_TOKENS, load_workload, workload_schema
from aimcsim.sweep import build_points, compare, load_sweep, plain_progress, run_sweep
from aimcsim.trace_export import chrome_trace
from aimcsim.traces import TRACES, from_config, read_config


class _Help(argparse.HelpFormatter):
    """Help that shows each option's default, unless the help text already says it (or there
    is none to show)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("default" in text or default in (None, False, argparse.SUPPRESS)
                or not action.option_strings or isinstance(default, bool)):
            return text
        return f"{text} (default: %(default)s)"


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Help)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # one line, exit 2, no usage dump
        self.exit(2, f"aimcsim: error: {message} (see 'aimcsim {self._cmd()} --help')\n")

    def _cmd(self) -> str:
        return self.prog.split(" ", 1)[1] if " " in self.prog else ""


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="aimcsim", description=__doc__)
    parser.add_argument("--version", action="version", version=f"aimcsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="simulate a workload on an architecture")
    run.add_argument("arch", help="architecture YAML (see arch/)")
    run.add_argument("workload", help="workload trace YAML (see workloads/)")
    run.add_argument("--settings", type=Path, default=None, metavar="RUN.yaml",
                     help="run settings over the architecture's: mode, pipeline, lora and "
                     "per-op overrides (see arch/runs/)")
    run.add_argument("--mode", choices=[*MODES, "both"], default=None,
                     help="default: the architecture's mode")
    run.add_argument("--out", type=Path, default=None,
                     help="write layers.csv, summary.json, critical_path.csv and "
                     "timeline.parquet to this folder")
    run.add_argument("--trace", type=Path, default=None,
                     help="write the timeline as Chrome trace-event JSON (Perfetto)")
    run.add_argument("--gpu", type=Path, default=None, metavar="GPU.yaml",
                     help="compare energy per token with a roofline estimate of the workload "
                     "on this GPU (see tech/gpu/)")

    kernel = sub.add_parser("kernel", help="run one kernel on the cycle-level cluster (JSON)")
    kernel.add_argument("arch", help="architecture YAML: its pmca section and lora.dtype")
    kernel.add_argument("--op", choices=KERNEL_OPS, default="matmul")
    kernel.add_argument("--m", type=int, default=1, help="rows (matmul: of A)")
    kernel.add_argument("--k", type=int, default=1, help="contraction length (matmul)")
    kernel.add_argument("--n", type=int, default=1, help="columns")
    kernel.add_argument("--dtype", default=None,
                        help="data type (default: the architecture's lora.dtype)")
    kernel.add_argument("--accumulate", action="store_true",
                        help="matmul: C += A B, each output starting from C (as the in-place "
                        "LoRA T B)")

    find = sub.add_parser("search", help="exact search of pipeline, token parallelism, buffer "
                          "policy and cluster size")
    find.add_argument("arch", help="architecture YAML")
    find.add_argument("workload", help="workload trace YAML")
    find.add_argument("--space", type=Path, default=None,
                      help="search-space YAML (default: arch/spaces/default.yaml's values)")
    find.add_argument("--out", type=Path, required=True, help="folder for search.csv, summary.json")
    find.add_argument("--max-overhead", type=float, default=None, metavar="PERCENT",
                      help="latency: pick the least TCDM whose per-layer overhead stays at most "
                           "PERCENT (default: pick the fastest setting); energy, edp: only "
                           "settings within PERCENT")
    find.add_argument("--objective", choices=OBJECTIVES, default="latency",
                      help="what the best setting minimises: latency, energy or edp (energy x "
                           "latency; these need a technology file) (default: latency)")

    sweep = sub.add_parser("sweep", help="run a design-space sweep from a sweep YAML")
    sweep.add_argument("sweep", help="sweep YAML (see arch/sweeps/)")
    sweep.add_argument("--out", type=Path, required=True, help="folder for the tables and parts")
    sweep.add_argument("--workers", type=int, default=1, help="local worker processes")
    sweep.add_argument("--scheduler", default=None,
                       help="address of a Dask distributed scheduler to run on instead")
    sweep.add_argument("--resume", action="store_true", help="skip the points already finished")
    sweep.add_argument("--csv", action="store_true", help="also write points.csv and layers.csv")

    plot = sub.add_parser("plot", help="draw a figure from a run, search or sweep folder")
    plot.add_argument("results", type=Path, help="the --out folder of run, search or sweep")
    plot.add_argument("--kind", required=True, choices=KINDS)
    plot.add_argument("--out", type=Path, default=None,
                      help="figure file: .png, .pdf or .svg (default: KIND.png in the results "
                           "folder)")
    plot.add_argument("--mode", choices=MODES, default="hybrid", help="run results: which mode")
    plot.add_argument("--block", type=int, default=0,
                      help="transformer block (breakdown, timeline)")
    plot.add_argument("--point", default=None, help="sweep point id (breakdown, compare)")
    plot.add_argument("--integration-time", type=float, default=None,
                      help="pareto: integration time in ns (default: the middle one)")
    plot.add_argument("--x", default=None, help="heatmap: swept axis on x (default: the first)")
    plot.add_argument("--y", default=None, help="heatmap: swept axis on y (default: the second)")
    plot.add_argument("--value", default="overhead", help="heatmap: column of points to show")
    plot.add_argument("--at", action="append", default=[], metavar="AXIS=VALUE",
                      help="heatmap: fix another swept axis to one value (repeatable)")

    rep = sub.add_parser("report", help="one self-contained HTML page of a run, search or "
                         "sweep folder (figures embedded; opens offline)")
    rep.add_argument("results", type=Path, help="the --out folder of run, search or sweep")
    rep.add_argument("--out", type=Path, default=None,
                     help="HTML file to write (default: report.html in the results folder)")

    comp = sub.add_parser("compare", help="AIMC-only vs hybrid per point of a sweep folder")
    comp.add_argument("folder", type=Path, help="the --out folder of a sweep")

    dec = sub.add_parser("decode", help="prefill and decode of a decoder model: time to "
                         "first token, time per output token")
    dec.add_argument("arch", help="architecture YAML")
    dec.add_argument("model", choices=sorted(n for n, g in TRACES.items()
                                             if n.startswith(("gpt2", "llama"))),
                     help="a bundled decoder model")
    dec.add_argument("--prompt", type=int, default=64, help="prompt tokens")
    dec.add_argument("--steps", type=int, default=8, help="tokens generated")
    dec.add_argument("--out", type=Path, default=None, help="write decode.csv to this folder")
    dec.add_argument("--workers", type=int, default=1,
                     help="local processes sharing the steps")

    reload = sub.add_parser("reload", help="the cost of switching tasks (reloading LoRA "
                            "adapters) and of a request stream with a task mix")
    reload.add_argument("arch", help="architecture YAML (hybrid mode)")
    reload.add_argument("workload", help="workload trace YAML")
    reload.add_argument("--from", dest="source", choices=SOURCES, default="l2",
                        help="where the adapters of other tasks wait")
    reload.add_argument("--tasks", type=int, default=4, help="tasks in the stream")
    reload.add_argument("--requests", type=int, default=100,
                        help="requests in the stream")
    reload.add_argument("--seed", type=int, default=0, help="seed of the task order")

    trace = sub.add_parser("trace", help="generate a workload trace from a model configuration")
    trace.add_argument("model", nargs="?", choices=sorted(TRACES),
                       help="a bundled model (workloads/configs/)")
    trace.add_argument("--config", type=Path, default=None, metavar="config.json",
                       help="trace this Hugging Face config.json instead (model_type: bert, "
                            "gpt2, llama or mobilebert)")
    trace.add_argument("--seq-len", type=int, default=384, help="tokens per sequence")
    trace.add_argument("--context", type=int, default=0,
                       help="a decode step: the keys its token attends to (KV cache + 1; "
                            "decoders, with --seq-len 1)")
    trace.add_argument("--out", type=Path, required=True, help="YAML file to write")

    schema = sub.add_parser("schema", help="write the JSON Schemas of architecture files and "
                            "workload traces (for editors: # yaml-language-server: "
                            "$schema=arch.schema.json)")
    schema.add_argument("--out", type=Path, default=Path("schemas"),
                        help="folder to write arch.schema.json and workload.schema.json into "
                        "(default: %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    commands = {"run": _run, "kernel": _kernel, "search": _search, "sweep": _sweep,
                "compare": _compare, "plot": _plot, "trace": _trace, "schema": _schema,
                "reload": _reload, "decode": _decode, "report": _report}

    def show(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
        print(f"aimcsim: warning: {message}", file=sys.stderr)

    with warnings.catch_warnings():  # the library's setting warnings, as one plain line each
        warnings.simplefilter("default", AimcsimWarning)
        warnings.showwarning = show
        try:
            return commands[args.command](args)
        except (AimcsimError, ValueError, OSError) as exc:
            print(f"aimcsim: error: {exc}", file=sys.stderr)
            return 2


def _run(args: argparse.Namespace) -> int:
    arch, settings = load_arch(args.arch), {}
    workload = load_workload(args.workload)
    if args.settings is not None:
        arch, settings = apply_run(args.arch, args.settings, workload)
    mode = args.mode or arch.mode
    modes = list(MODES[::-1]) if mode == "both" else [mode]  # aimc-only first: the reference
    results = {m: simulate(arch, workload, m, settings=settings) for m in modes}
    layers = pd.concat([r.layers for r in results.values()], ignore_index=True)
    timeline = pd.concat([r.timeline.assign(mode=m) for m, r in results.items()],
                         ignore_index=True)
    if args.trace is not None:
        args.trace.parent.mkdir(parents=True, exist_ok=True)
        args.trace.write_text(json.dumps(chrome_trace(timeline)), encoding="utf-8")
        print(f"wrote {args.trace} ({len(timeline)} events; open it in ui.perfetto.dev)")
    summary = {"arch": str(args.arch), "workload": str(args.workload),
               **({"settings": str(args.settings)} if args.settings else {}),
               "modes": {m: r.summary for m, r in results.items()}}
    first = results[modes[0]].summary
    print(f"{workload.name} on {arch.name}: {workload.tokens} tokens, "
          f"{arch.pipeline.strategy}, {first['parallel_tokens']} parallel tokens")
    print(f"tiles: {first['tiles']} of {arch.aimc.rows} x {arch.aimc.cols}"
          + (f" ({first['tile_budget_used']:.0%} of the chip's {first['chip_tiles']})"
             if first["chip_tiles"] else "")
          + f", {first['cell_utilisation']:.1%} of their cells programmed")
    if settings:
        print(f"{len(settings)} ops with their own pipeline (overrides in {args.settings})")
    print(f"{'mode':<10} {'total latency (us)':>19} {'static ops':>11}")
    for m, r in results.items():
        n_static = int((r.layers["kind"] == "static_linear").sum())
        print(f"{m:<10} {r.summary['total_latency_ns'] / 1000:>19.3f} {n_static:>11}")
    if len(results) == 2:
        stats = overhead_stats(layers)
        summary["static_overhead"] = {
            "layers": int((results["hybrid"].layers["kind"] == "static_linear").sum()),
            **{key.removeprefix("static_overhead_"): value for key, value in stats.items()},
        }
        s = summary["static_overhead"]
        total = overhead(results["hybrid"].summary["total_latency_ns"],
                         results["aimc-only"].summary["total_latency_ns"])
        summary["total_overhead"] = total
        print(f"per-layer overhead of the {s['layers']} static layers (hybrid / aimc-only - 1): "
              f"min {s['min']:.1%}, median {s['median']:.1%}, max {s['max']:.1%}; "
              f"whole network {total:.1%}")
    for m, r in results.items():
        energy = r.summary["energy"]
        if energy:
            parts = ", ".join(f"{_PARTS[k]} {v / 1e9:.3f}" for k, v in
                              energy["dynamic_pj"].items() if v or k != "cim_pj")
            static = sum(energy["static_pj"].values())
            print(f"energy {m}: {energy['total_pj'] / 1e9:.3f} mJ ({parts}; static "
                  f"{static / 1e9:.3f} mJ), {energy['per_token_pj'] / 1e6:.1f} uJ per token, "
                  f"{energy['tops_per_w']:.3f} TOPS/W [{energy['technology']}]")
    if args.gpu is not None:
        gpu = load_gpu(args.gpu)
        for m, r in results.items():
            lora = arch.lora
            ref = estimate(gpu, workload, lora_rank=lora.rank if m == "hybrid" else None,
                           lora_applies=lora.applies_to)
            summary["modes"][m]["gpu_estimate"] = ref
            mine = r.summary["energy"].get("per_token_pj")
            versus = (f"; this run's energy per token is {mine / ref['per_token_pj']:.1%} of "
                      "it" if mine else "")
            print(f"GPU estimate {m} ({gpu.name}, roofline, not simulated): "
                  f"{ref['latency_ns'] / 1e3:.1f} us, {ref['energy_pj'] / 1e9:.3f} mJ, "
                  f"{ref['per_token_pj'] / 1e6:.1f} uJ per token{versus}")
    areas = {m: r.summary["area"] for m, r in results.items() if r.summary["area"]}
    if areas:
        print("area of what the run uses: " + "; ".join(
            f"{m} {a['total_mm2']:.1f} mm^2 (tiles {a['aimc_mm2']:.1f}, clusters "
            f"{a['pmca_mm2']:.1f}, links {a['noc_mm2']:.2f}"
            + (f", SRAM-CIM macros {a['cim_mm2']:.2f}" if "cim_mm2" in a else "") + ")"
            for m, a in areas.items()))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        recorded = record_inputs(args.out, arch, args.arch, args.settings)
        summary["inputs"] = {**recorded, "workload": workload_record(
            workload, digest(read_bytes(args.workload, "yaml")))}
        write_layers_csv(layers, args.out / "layers.csv")
        write_json(summary, args.out / "summary.json")
        timeline.to_parquet(args.out / "timeline.parquet", index=False)
        pd.concat([r.critical for r in results.values()], ignore_index=True).to_csv(
            args.out / "critical_path.csv", index=False)
        print(f"wrote {args.out / 'layers.csv'}, {args.out / 'summary.json'}, "
              f"{args.out / 'critical_path.csv'} and {args.out / 'timeline.parquet'}, with "
              f"the inputs as used ({', '.join(v for k, v in recorded.items())})")
    return 0


_PARTS = {"aimc_pj": "tiles", "pmca_pj": "cluster compute", "tcdm_pj": "TCDM", "dma_pj": "DMA",
          "noc_pj": "links", "cim_pj": "SRAM-CIM"}


def _search(args: argparse.Namespace) -> int:
    arch, workload = load_arch(args.arch), load_workload(args.workload)
    space = load_space(args.space) if args.space else SearchSpace()
    if args.max_overhead is not None and not args.max_overhead >= 0:
        raise ValueError(f"--max-overhead takes a percentage >= 0, got {args.max_overhead}")
    limit = None if args.max_overhead is None else args.max_overhead / 100
    result = search(arch, workload, space, max_overhead=limit, objective=args.objective)
    args.out.mkdir(parents=True, exist_ok=True)
    result.points.to_csv(args.out / "search.csv", index=False)
    best = result.best
    if args.objective != "latency":
        objective = f"least {args.objective}" + (
            "" if limit is None else f" within {args.max_overhead:g}%")
    else:
        objective = "fastest" if limit is None else f"least TCDM within {args.max_overhead:g}%"
    command = ["aimcsim", "search", str(args.arch), str(args.workload), "--out", str(args.out)]
    command += ["--space", str(args.space)] if args.space else []
    command += ["--objective", args.objective] if args.objective != "latency" else []
    command += ["--max-overhead", f"{args.max_overhead:g}"] if limit is not None else []
    recorded = record_inputs(args.out, arch, args.arch)
    write_json({"arch": str(args.arch), "workload": str(args.workload), "command": command,
                "objective": objective + (" overhead" if limit is not None else ""),
                "best": best.to_dict(orient="records"), "network": result.network,
                "inputs": {**recorded, "workload": workload_record(
                    workload, digest(read_bytes(args.workload, "yaml")))}},
               args.out / "summary.json")
    counts = result.points["rating"].value_counts()
    print(f"{workload.name} on {arch.name}: {len(result.points)} points; "
          + ", ".join(f"{counts.get(r, 0)} {r}" for r in RATINGS))
    energy = args.objective != "latency"
    print(f"{'shape':>9} {'t_int':>6} {'cores':>5} {'rank':>4}  {objective + ' setting':<32} "
          f"{'latency us':>10} {'aimc-only':>10} {'overhead':>8} {'TCDM B':>7}"
          + (f" {'energy uJ':>9}" if energy else ""))
    for r in best.itertuples():
        setting = f"{r.strategy} x{r.parallel_tokens}, {r.tile_output}" + (
            f", chunks of {r.output_chunk}" if r.output_chunk else "")
        print(f"{f'{r.d_in}x{r.d_out}':>9} {r.integration_time_ns:>6g} {r.cores:>5} {r.rank:>4}  "
              f"{setting:<32} {r.latency_ns / 1000:>10.2f} {r.aimc_only_latency_ns / 1000:>10.2f} "
              f"{r.overhead:>8.1%} {r.tcdm_bytes:>7}"
              + (f" {r.energy_pj / 1e6:>9.3f}" if energy else ""))
    groups = result.points.groupby(GROUP).ngroups
    if len(best) < groups:
        print(f"{groups - len(best)} group(s) have no setting within the limit")
    print("whole network with the best settings (hybrid vs aimc-only):")
    for n in result.network:
        if "skipped" in n:
            print(f"  t_int {n['integration_time_ns']:g} ns, {n['cores']} cores, rank "
                  f"{n['rank']}: not run, {n['skipped']}")
            continue
        print(f"  t_int {n['integration_time_ns']:g} ns, {n['cores']} cores, rank {n['rank']}: "
              f"{n['hybrid_latency_ns'] / 1e3:.1f} us vs {n['aimc_only_latency_ns'] / 1e3:.1f} us "
              f"({n['overhead']:+.1%}); static layers median {n['static_overhead_median']:.1%}, "
              f"max {n['static_overhead_max']:.1%}"
              + (f"; attention in key chunks of {n['attention_key_chunk']}"
                 if n["attention_key_chunk"] else "")
              + (f"; fastest setting for {', '.join(n['fastest_instead'])} (none within the "
                 "limit)" if n["fastest_instead"] else ""))
    print(f"wrote {args.out / 'search.csv'} and {args.out / 'summary.json'}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    cpus = os.cpu_count() or 1
    if not 1 <= args.workers <= cpus:
        raise ValueError(f"--workers must be in 1..{cpus} (this machine's CPUs), got "
                         f"{args.workers}")
    spec = load_sweep(args.sweep)
    points, invalid = build_points(spec)
    print(f"{spec.name}: {len(points) + len(invalid)} points, {len(points)} valid, "
          f"{len(invalid)} skipped")
    for bad in invalid:
        params = ", ".join(f"{k}={v}" for k, v in dict(bad.params).items())
        print(f"  skipped point {bad.index} ({params}): {bad.reason}")
    bar = None
    if sys.stderr.isatty():
        from tqdm import tqdm  # a terminal progress bar with rate and ETA

        bar = tqdm(total=len(points), unit="point", file=sys.stderr)

        def progress(done: int, total: int, failed: int, eta_s: float) -> None:
            bar.n = done
            bar.set_postfix(failed=failed, refresh=False)
            bar.refresh()
    else:
        progress = plain_progress()
    try:
        report = run_sweep(spec, args.out, workers=args.workers, scheduler=args.scheduler,
                           resume=args.resume, csv=args.csv, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    record_sweep(args.out, spec.file, load_arch(spec.arch_file))
    state = "interrupted" if report.interrupted else "finished"
    print(f"{state}: {report.ran} run now, {report.skipped} already done, {report.failed} failed; "
          f"tables in {args.out / 'points.parquet'} and {args.out / 'layers.parquet'}")
    return 130 if report.interrupted else 0


def _compare(args: argparse.Namespace) -> int:
    table = compare(args.folder)
    points = read_table(args.folder / "points.parquet", {
        **POINTS, "latency_ns_aimc_only": NUMBER, "latency_ns_hybrid": NUMBER,
        "overhead": NUMBER}, POINT_FIGURES).set_index("point")
    table.to_csv(args.folder / "compare.csv", index=False)
    axes = [c for c in points.columns if "." in c]
    for point, group in table.groupby("point", sort=False):
        p = points.loc[point]
        params = ", ".join(f"{a}={p[a]}" for a in axes)
        bounds = ", ".join(f"the {resource} in {count}" for resource, count
                           in group["bound"].value_counts().items())
        print(f"{point} ({params}): aimc-only {p['latency_ns_aimc_only'] / 1e3:.1f} us, hybrid "
              f"{p['latency_ns_hybrid'] / 1e3:.1f} us ({p['overhead']:+.1%}); static layers "
              f"min {group.overhead.min():.1%} median {group.overhead.median():.1%} max "
              f"{group.overhead.max():.1%}; hybrid layers bound by {bounds}")
    print(f"wrote {args.folder / 'compare.csv'}")
    return 0


def _report(args: argparse.Namespace) -> int:
    path = make_report(args.results, args.out)
    print(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KiB; opens offline)")
    return 0


def _results_kind(folder: Path) -> str:
    if (folder / "manifest.json").exists() and (folder / "points.parquet").exists():
        return "sweep"
    if (folder / "search.csv").exists():
        return "search"
    if (folder / "layers.csv").exists():
        return "run"
    raise ValueError(f"{folder} holds no results of run (layers.csv), search (search.csv) or "
                     "sweep (points.parquet)")


_PLOT_SOURCES = {"breakdown": ("run", "sweep"), "compare": ("run", "sweep"),
                 "layer-types": ("run", "sweep"), "energy": ("run", "sweep"),
                 "energy-front": ("sweep",),
                 "timeline": ("run",), "network": ("run",), "tokens": ("search",),
                 "pareto": ("search",),
                 "heatmap": ("sweep",)}


def _plot(args: argparse.Namespace) -> int:
    source = _results_kind(args.results)
    if source not in _PLOT_SOURCES[args.kind]:
        raise ValueError(f"--kind {args.kind} draws results of "
                         f"{' or '.join(_PLOT_SOURCES[args.kind])}; {args.results} holds {source} "
                         "results")
    if args.out is None:
        args.out = args.results / f"{args.kind}.png"
    if args.out.suffix.lower() not in (".png", ".pdf", ".svg"):
        raise ValueError(f"--out {args.out}: the figure file must end in .png, .pdf or .svg")
    layers = None
    if source == "run":
        layers = read_table(args.results / "layers.csv", LAYERS)
    elif source == "sweep" and args.kind in ("breakdown", "compare", "layer-types", "energy"):
        layers = read_table(args.results / "layers.parquet", {"point": TEXT, **LAYERS})
        point = args.point or layers["point"].iloc[0]
        layers = layers[layers["point"] == point]
        if layers.empty:
            raise ValueError(f"no point {point!r} in {args.results}")
    if args.kind == "breakdown":
        recorded = args.results / "timeline.parquet"
        critical = args.results / "critical_path.csv"
        fig = plots.breakdown(
            layers, read_table(recorded, TIMELINE) if source == "run" and recorded.exists()
            else None,
            critical=read_table(critical, CRITICAL) if source == "run" and critical.exists()
            else None,
            mode=args.mode, block=args.block,
            title=f"block {args.block}, {args.mode}"
            + (f", sweep point {layers['point'].iloc[0]}" if source == "sweep" else ""))
    elif args.kind == "compare":
        fig = plots.compare(layers)
    elif args.kind == "layer-types":
        fig = plots.layer_types(layers)
    elif args.kind == "energy":
        fig = plots.energy(layers)
    elif args.kind == "energy-front":
        fig = plots.energy_front(read_table(args.results / "points.parquet", POINTS, POINT_FIGURES),
                                 mode=args.mode)
    elif args.kind == "network":
        fig = plots.network(read_table(args.results / "timeline.parquet", TIMELINE), layers)
    elif args.kind == "timeline":
        fig = plots.timeline(read_table(args.results / "timeline.parquet", TIMELINE),
                             block=args.block, mode=args.mode, layers=layers)
    elif args.kind in ("tokens", "pareto"):
        points = read_table(args.results / "search.csv", SEARCH)
        arch = recorded_arch(args.results)  # (never a path read from a results file)
        if args.kind == "pareto":
            fig = plots.pareto(points, integration_time_ns=args.integration_time,
                               capacity_bytes=arch.pmca.tcdm_bytes)
        else:
            fig = plots.tokens(token_curves(arch, points), capacity_bytes=arch.pmca.tcdm_bytes,
                               strategy=f"{arch.pipeline.strategy}, {arch.pipeline.tile_output}")
    else:
        points = read_table(args.results / "points.parquet", POINTS, POINT_FIGURES)
        axes = [c for c in points.columns if "." in c and points[c].nunique() > 1]
        x = args.x or (axes[0] if axes else None)
        y = args.y or (axes[1] if len(axes) > 1 else None)
        if x is None or y is None:
            raise ValueError("heatmap needs two swept axes with several values; found "
                             + (", ".join(axes) or "none"))
        at = {}
        for item in args.at:
            axis, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--at {item}: expected AXIS=VALUE, e.g. lora.rank=8")
            at[axis.strip()] = value.strip()
        fig = plots.heatmap(points, x=x, y=y, value=args.value, at=at)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plots.save(fig, str(args.out))
    print(f"wrote {args.out}")
    return 0


MAX_KERNEL_SIDE = 1 << 16
MAX_KERNEL_MACS = 1 << 28


def _kernel(args: argparse.Namespace) -> int:
    for name in ("m", "k", "n"):
        if not 1 <= getattr(args, name) <= MAX_KERNEL_SIDE:
            raise ValueError(f"--{name} must be in 1..{MAX_KERNEL_SIDE}, got {getattr(args, name)}")
    if args.m * args.k * args.n > MAX_KERNEL_MACS:
        raise ValueError(f"--m x --k x --n = {args.m * args.k * args.n} is above "
                         f"{MAX_KERNEL_MACS} (2^28): the cycle-level kernel would run for minutes; "
                         "a block of a layer is far smaller")
    arch = load_arch(args.arch)
    dtype = args.dtype or arch.lora.dtype
    if dtype not in dict(arch.pmca.macs_per_cycle):
        raise ValueError(f"--dtype {dtype}: {args.arch} gives pmca.macs_per_cycle for "
                         f"{', '.join(dict(arch.pmca.macs_per_cycle))} only")
    if args.accumulate and args.op != "matmul":
        raise ValueError(f"--accumulate is for --op matmul, not {args.op}")
    stats = run_kernel(arch.pmca, args.op, args.m, args.k, args.n, dtype=dtype,
                       accumulate=args.accumulate)
    print(json.dumps(stats, indent=2))
    return 0


def _schema(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    for name, schema in (("arch", arch_schema()), ("workload", workload_schema()),
                         ("tech", technology_schema())):
        path = args.out / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    return 0


def _decode(args: argparse.Namespace) -> int:
    if not (1 <= args.prompt <= MAX_TOKENS and 0 <= args.steps <= 4096):
        raise ValueError(f"--prompt must be in 1..{MAX_TOKENS} and --steps in 0..4096, got "
                         f"{args.prompt} and {args.steps}")
    cpus = os.cpu_count() or 1
    if not 1 <= args.workers <= cpus:
        raise ValueError(f"--workers must be in 1..{cpus} (this machine's CPUs), got "
                         f"{args.workers}")
    arch = load_arch(args.arch)
    table = decode_run(arch, TRACES[args.model], prompt=args.prompt, steps=args.steps,
                       workers=args.workers)
    print(f"{args.model} on {arch.name}: prompt {args.prompt} tokens, {args.steps} decode steps")
    for mode, s in decode_summary(table).items():
        print(f"{mode:<10} time to first token {s['ttft_ns'] / 1e3:,.1f} us, time per output "
              f"token {s['tpot_ns'] / 1e3:,.1f} us")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out / "decode.csv", index=False)
        print(f"wrote {args.out / 'decode.csv'}")
    return 0


def _reload(args: argparse.Namespace) -> int:
    if not (1 <= args.tasks <= 1_000_000 and 1 <= args.requests <= 1_000_000):
        raise ValueError(f"--tasks and --requests must be in 1..1000000, got {args.tasks} and "
                         f"{args.requests}")
    arch, workload = load_arch(args.arch), load_workload(args.workload)
    s = request_stream(arch, workload, tasks=args.tasks, requests=args.requests,
                       seed=args.seed, source=args.source)
    energy = s["switch_energy_pj"]
    print(f"task switch from {args.source}: {s['adapter_bytes']} bytes of adapters, "
          f"{s['switch_latency_ns'] / 1e3:.3f} us"
          + (f", {energy / 1e6:.3f} uJ" if energy == energy else ""))
    print(f"{s['requests']} requests over {s['tasks']} tasks (seed {s['seed']}): "
          f"{s['switches']} switches, {s['total_latency_ns'] / 1e6:.3f} ms in all "
          f"({s['switch_time_share']:.2%} switching; one request "
          f"{s['request_latency_ns'] / 1e3:.1f} us)")
    return 0


def _trace(args: argparse.Namespace) -> int:
    if not 1 <= args.seq_len <= MAX_TOKENS:
        raise ValueError(f"--seq-len must be in 1..{MAX_TOKENS} tokens, got {args.seq_len}")
    if not 0 <= args.context <= MAX_TOKENS:
        raise ValueError(f"--context must be in 1..{MAX_TOKENS} keys (a decode step; absent: "
                         f"a prefill), got {args.context}")
    if (args.model is None) == (args.config is None):
        raise ValueError("name a bundled model or give --config config.json (one of the two)")
    if args.config is not None:
        cfg = read_config(args.config)
        given = cfg.get("_name_or_path")
        if given is not None and not isinstance(given, str):
            raise SpecError(str(args.config), [SpecIssue(
                "_name_or_path", f"expected a string (the model's name), got {shown(given)}")])
        name = given or (  # a model folder's config.json: the folder
            args.config.resolve().parent.name if args.config.name == "config.json"
            else args.config.stem)
        doc = from_config(cfg, args.seq_len, model=str(name), generator="--config",
                          file=str(args.config), context=args.context,
                          name=f"{Path(str(name)).name}-{args.seq_len}")
        command = f"aimcsim trace --config {args.config} --seq-len {args.seq_len}"
    elif args.context:
        if args.model == "mobilebert":
            raise ValueError("mobilebert is an encoder: it has no decode steps")
        doc = TRACES[args.model].generate(args.seq_len, context=args.context)
        command = f"aimcsim trace {args.model} --seq-len {args.seq_len}"
    else:
        doc = TRACES[args.model].generate(args.seq_len)
        command = f"aimcsim trace {args.model} --seq-len {args.seq_len}"
    if args.context:
        command += f" --context {args.context}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    header = f"# {doc['source']}: {command}\n"
    args.out.write_text(header + _trace_text(doc), encoding="utf-8")
    print(f"wrote {args.out}: {len(doc['ops'])} operations, {args.seq_len} tokens")
    return 0


_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _trace_text(doc: dict[str, Any]) -> str:
    """A trace document as YAML: libyaml's emitter where PyYAML has it (the text of PyYAML's
    own, about 15x faster: a 1,024-layer trace or a config.json of megabytes in a second), or
    PyYAML's where libyaml cannot encode a string (a lone surrogate, which JSON may escape)."""
    try:
        return yaml.dump(doc, Dumper=_DUMPER, sort_keys=False, width=100)
    except UnicodeEncodeError:
        return yaml.safe_dump(doc, sort_keys=False, width=100)


if __name__ == "__main__":
    raise SystemExit(main())
