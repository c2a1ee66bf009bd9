"""`aimcsim search`: exact search of pipeline, token parallelism, buffer policy and cluster
size."""

from __future__ import annotations

import argparse
from pathlib import Path

from aimcsim.cli.main import set_argument
from aimcsim.explore.search import OBJECTIVES, RATINGS, search
from aimcsim.explore.space import GROUP, SearchSpace, load_space
from aimcsim.outputs.console import number, percent, quantity, table_lines
from aimcsim.outputs.run_folder import SEARCH_FILE, SUMMARY_FILE, RunFolder
from aimcsim.spec.overrides import load_arch_with, parse_sets
from aimcsim.spec.workload import load_workload


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help="architecture YAML")
    parser.add_argument("workload", help="workload trace YAML")
    parser.add_argument("--space", type=Path, default=None,
                        help="search-space YAML (default: arch/spaces/default.yaml's values)")
    parser.add_argument("--out", type=Path, required=True,
                        help=f"folder for {SEARCH_FILE.name}, {SUMMARY_FILE.name}")
    parser.add_argument("--max-overhead", type=float, default=None, metavar="PERCENT",
                        help="latency: pick the least TCDM whose per-layer overhead stays at most "
                             "PERCENT (default: pick the fastest setting); energy, edp: only "
                             "settings within PERCENT")
    parser.add_argument("--objective", choices=OBJECTIVES, default="latency",
                        help="what the best setting minimises: latency, energy or edp (energy x "
                             "latency; these need a technology file) (default: latency)")

    set_argument(parser)


def execute(args: argparse.Namespace) -> int:
    sets = parse_sets(args.set)
    arch, workload = load_arch_with(args.arch, sets), load_workload(args.workload)
    space = load_space(args.space) if args.space else SearchSpace()
    if args.max_overhead is not None and not args.max_overhead >= 0:
        raise ValueError(f"--max-overhead takes a percentage >= 0, got {args.max_overhead}")
    limit = None if args.max_overhead is None else args.max_overhead / 100
    result = search(arch, workload, space, max_overhead=limit, objective=args.objective)
    best = result.best
    if args.objective != "latency":
        objective = f"least {args.objective}" + (
            "" if limit is None else f" within {args.max_overhead:g}%")
    else:
        objective = "fastest" if limit is None else f"least TCDM within {args.max_overhead:g}%"
    command = ["aimcsim", "search", str(args.arch), str(args.workload), "--out", str(args.out),
               *(f"--set={text}" for text in args.set)]
    command += ["--space", str(args.space)] if args.space else []
    command += ["--objective", args.objective] if args.objective != "latency" else []
    command += ["--max-overhead", f"{args.max_overhead:g}"] if limit is not None else []
    folder = RunFolder(args.out)
    folder.write_search(result, arch=arch, arch_file=args.arch, workload=workload,
                        workload_file=args.workload, command=command,
                        objective=objective + (" overhead" if limit is not None else ""),
                        sets=sets)
    counts = result.points["rating"].value_counts()
    print(f"{workload.name} on {arch.name}: {len(result.points)} points; "
          + ", ".join(f"{counts.get(r, 0)} {r}" for r in RATINGS))
    energy = args.objective != "latency"
    rows = [{"shape": f"{r.d_in}x{r.d_out}", "t_int": quantity(r.integration_time_ns, "ns"),
             "cores": number(r.cores), "rank": number(r.rank),
             f"{objective} setting": f"{r.strategy} x{r.parallel_tokens}, {r.tile_output}"
             + (f", chunks of {r.output_chunk}" if r.output_chunk else ""),
             "latency": quantity(r.latency_ns, "ns"),
             "aimc-only": quantity(r.aimc_only_latency_ns, "ns"),
             "overhead": percent(r.overhead), "TCDM": quantity(r.tcdm_bytes, "B"),
             **({"energy": quantity(r.energy_pj, "pJ")} if energy else {})}
            for r in best.itertuples()]
    for line in table_lines(rows, indent="  "):
        print(line)
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
              f"{quantity(n['hybrid_latency_ns'], 'ns')} vs "
              f"{quantity(n['aimc_only_latency_ns'], 'ns')} ({percent(n['overhead'], sign=True)})"
              f"; static layers median {percent(n['static_overhead_median'])}, max "
              f"{percent(n['static_overhead_max'])}"
              + (f"; attention in key chunks of {n['attention_key_chunk']}"
                 if n["attention_key_chunk"] else "")
              + (f"; fastest setting for {', '.join(n['fastest_instead'])} (none within the "
                 "limit)" if n["fastest_instead"] else ""))
    print(f"wrote {folder.file(SEARCH_FILE)} and {folder.file(SUMMARY_FILE)}")
    return 0

