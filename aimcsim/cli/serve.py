"""`aimcsim serve`: a request stream on one programmed chip, many adapters, iteration-level
batching and an adapter cache in L2 (`aimcsim.serve`)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aimcsim.cli.main import set_argument
from aimcsim.outputs.run_folder import (
    LOAD_FIGURE,
    LOAD_FILE,
    REQUESTS_FILE,
    SUMMARY_FILE,
    RunFolder,
)
from aimcsim.results import write_json
from aimcsim.serve.caches import POLICIES
from aimcsim.serve.engine import BRANCH_OF, BRANCHES, serve_loads, serve_model
from aimcsim.serve.stream import (
    Request,
    parse_mix,
    parse_output_tokens,
    poisson_stream,
    read_arrivals,
)
from aimcsim.spec.arch import Arch
from aimcsim.spec.overrides import load_arch_with, parse_sets
from aimcsim.traces import TRACES

LOAD_CSV, LOAD_PNG, REQUESTS_CSV = LOAD_FILE.name, LOAD_FIGURE.name, REQUESTS_FILE.name


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help="architecture YAML (pipeline.between_layers: "
                        "layer-by-layer, mode: hybrid)")
    parser.add_argument("model", help=f"a bundled decoder model ({', '.join(sorted(n for n in TRACES if n.startswith(('gpt2', 'llama'))))}) or a config.json")  # noqa: E501
    parser.add_argument("--requests", type=int, default=100, help="requests in the stream")
    parser.add_argument("--rate", type=float, nargs="+", default=[10.0],
                        help="arrivals per second (Poisson); several: the stream served at "
                        f"each, a row of {LOAD_CSV} and a point of {LOAD_PNG} each")
    parser.add_argument("--prompt", type=int, default=32, help="prompt tokens of each request")
    parser.add_argument("--output-tokens", default="8",
                        help="tokens each request generates: a number or lognormal:MEAN,SIGMA")
    parser.add_argument("--adapters", type=int, nargs="+", default=[8],
                        help="adapters the requests name (several: the stream at each)")
    parser.add_argument("--mix", default="uniform",
                        help="the adapters' popularity: uniform or zipf:S")
    parser.add_argument("--cache", choices=POLICIES, nargs="+", default=["lru"],
                        help="what L2 keeps of the adapters (several: the stream under each)")
    parser.add_argument("--token-budget", type=int, default=512,
                        help="tokens of one iteration (decode tokens and whole prompts)")
    parser.add_argument("--slo-ttft", type=float, default=math.inf, metavar="MS",
                        help="time-to-first-token objective, ms")
    parser.add_argument("--slo-tpot", type=float, default=math.inf, metavar="MS",
                        help="time-per-output-token objective, ms")
    parser.add_argument("--arrivals", type=Path, default=None,
                        help="a CSV of requests (arrival_ns, prompt_tokens, output_tokens, "
                        "adapter) instead of the drawn stream")
    parser.add_argument("--seed", type=int, default=0, help="seed of the drawn stream")
    parser.add_argument("--branch", choices=BRANCHES, nargs="+", default=None,
                        help="where the LoRA branch runs: cluster (lora.engine: pmca) or "
                        "sram-cim (lora.engine: sram-cim, on the architecture's sram_cim "
                        "macros beside the tiles; adapters are written into them); several: "
                        "the stream on each; default: as the architecture says")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"write {REQUESTS_CSV} and {SUMMARY_FILE.name} to this folder")
    set_argument(parser)


def execute(args: argparse.Namespace) -> int:
    sets = parse_sets(args.set)
    branches = list(dict.fromkeys(args.branch or [None]))
    archs = [load_arch_with(args.arch, [*sets, *(
        [("lora.engine", BRANCHES[b])] if b is not None else [])]) for b in branches]
    if len(branches) == 1 and branches[0] is not None:
        sets.append(("lora.engine", BRANCHES[branches[0]]))
    arch = archs[0]
    _check(args)
    output, zipf_s = parse_output_tokens(args.output_tokens), parse_mix(args.mix)

    def draw(rate: float, adapters: int) -> list[Request]:
        if args.arrivals is not None:
            return read_arrivals(args.arrivals)
        return poisson_stream(args.requests, rate, prompt=args.prompt, output=output,
                              adapters=adapters, zipf_s=zipf_s, seed=args.seed)

    options = {"token_budget": args.token_budget,
               "slo_ttft_ns": args.slo_ttft * 1e6, "slo_tpot_ns": args.slo_tpot * 1e6}
    points = [(r, k, c) for c in dict.fromkeys(args.cache) for k in sorted(set(args.adapters))
              for r in sorted(set(args.rate))]
    if len(points) > 1 or len(archs) > 1:
        if args.arrivals is not None and len(points) > 1:
            raise ValueError("--arrivals gives the stream: give one --rate and --adapters")
        return _loads(args, archs, sets, points, draw, options)
    served = serve_model(arch, args.model, draw(args.rate[0], args.adapters[0]),
                         cache=args.cache[0], **options)
    _print(args, arch, served.summary)
    if args.out is not None:
        folder = _folder(args.out)
        served.requests.to_csv(folder.file(REQUESTS_FILE), index=False)
        write_json({**served.summary, "inputs": _inputs(args, folder, arch, sets)},
                   folder.file(SUMMARY_FILE))
        print(f"wrote {folder.file(REQUESTS_FILE)} and {folder.file(SUMMARY_FILE)}")
    return 0


def _check(args: argparse.Namespace) -> None:
    """Each option in its range, named when it is not."""
    from aimcsim.serve.sweep import OPTIONS  # (the bounds a serve sweep's options have)

    for name, value, key in (("--requests", args.requests, "requests"),
                             ("--prompt", args.prompt, "prompt"),
                             *[("--adapters", k, "adapters") for k in args.adapters],
                             ("--token-budget", args.token_budget, "token_budget")):
        low, high = OPTIONS[key][1]
        if not low <= value <= high:
            raise ValueError(f"{name} must be in {low}..{high}, got {value}")
    for name, value in [("--rate", r) for r in args.rate] + [
            ("--slo-ttft", args.slo_ttft), ("--slo-tpot", args.slo_tpot)]:
        if not value > 0:
            raise ValueError(f"{name} must be above 0, got {value:g}")


def _loads(args: argparse.Namespace, archs: list[Arch], sets: list[tuple[str, Any]],
           points: list[tuple[float, int, str]], draw: Callable[[float, int], list[Request]],
           options: dict[str, Any]) -> int:
    """The stream at each point (offered load, adapters, cache) on each architecture (one per
    `--branch`): a line each, `load.csv` and `load.png`."""
    import pandas as pd

    table = pd.concat([serve_loads(a, args.model, points, draw, **options) for a in archs],
                      ignore_index=True)
    arch = archs[0]
    grid = len({(k, c) for _, k, c in points}) > 1
    print(f"{args.model} on {arch.name}: {args.requests} requests at each load")
    for row in table.itertuples(index=False):
        where = (f"{row.branch:<8} " if len(archs) > 1 else "") + (
            f"{row.cache:<6} {row.adapters:>5} adapters " if grid else "")
        print(f"{where}{row.rate_per_s:8g}/s: {row.throughput_tokens_per_s:9,.1f} tokens/s, "
              f"busy {row.busy_fraction:6.1%}; TTFT p50 {row.ttft_ns_p50 / 1e6:,.3f} ms, p99 "
              f"{row.ttft_ns_p99 / 1e6:,.3f} ms; TPOT p50 {row.tpot_ns_p50 / 1e6:,.3f} ms, "
              f"p99 {row.tpot_ns_p99 / 1e6:,.3f} ms" + (f"; {row.adapter_loads} loads"
                                                       if grid else ""))
    if args.out is not None:
        folder = _folder(args.out)
        table.to_csv(folder.file(LOAD_FILE), index=False)
        from aimcsim.plots.serve import load  # (matplotlib only when drawing)
        from aimcsim.plots.style import save

        save(load(table), str(folder.file(LOAD_FIGURE)))
        write_json({"points": [list(p) for p in points],
                    "branches": list(dict.fromkeys(table["branch"])),
                    "inputs": _inputs(args, folder, arch, sets)}, folder.file(SUMMARY_FILE))
        print(f"wrote {folder.file(LOAD_FILE)} and {folder.file(LOAD_FIGURE)}")
    return 0


def _print(args: argparse.Namespace, arch: Arch, s: dict[str, Any]) -> None:
    print(f"{args.model} on {arch.name}: {s['requests']} requests, {s['output_tokens']} output "
          f"tokens in {s['iterations']} iterations")
    print(f"throughput {s['throughput_tokens_per_s']:,.1f} tokens/s, "
          f"{s['throughput_requests_per_s']:,.2f} requests/s; busy {s['busy_fraction']:.1%}")
    for name in ("ttft", "tpot", "latency"):
        print(f"{name:<8} p50 {s[f'{name}_ns_p50'] / 1e6:,.3f} ms, p90 "
              f"{s[f'{name}_ns_p90'] / 1e6:,.3f} ms, p99 {s[f'{name}_ns_p99'] / 1e6:,.3f} ms")
    print(f"adapter loads from off chip {s['adapter_loads']} "
          f"({s['adapter_bytes_offchip'] / 2**20:,.1f} MiB), L2 to "
          f"{'macros' if arch.lora.engine == 'sram-cim' else 'TCDM'} {s['adapter_swaps']}; "
          f"SLO attainment {s['slo_attainment']:.1%}")


def _folder(out: Path) -> RunFolder:
    out.mkdir(parents=True, exist_ok=True)
    return RunFolder(out)


def _inputs(args: argparse.Namespace, folder: RunFolder, arch: Arch,
            sets: list[tuple[str, Any]]) -> dict[str, Any]:
    """The inputs recorded in the folder, and the stream's options."""
    recorded = folder.record_inputs(arch, args.arch, sets=sets)
    stream = {k: getattr(args, k) for k in ("requests", "rate", "prompt", "output_tokens",
                                            "adapters", "mix", "seed")}
    if args.arrivals is not None:
        stream = {"arrivals": str(args.arrivals)}
    slo = {k: getattr(args, k) for k in ("slo_ttft", "slo_tpot") if math.isfinite(getattr(args, k))}
    return {**recorded, "model": str(args.model), "stream": stream, "cache": args.cache,
            "token_budget": args.token_budget, "slo_ms": slo,
            "branch": BRANCH_OF.get(arch.lora.engine, arch.lora.engine)
            if not args.branch or len(args.branch) == 1 else list(args.branch)}
