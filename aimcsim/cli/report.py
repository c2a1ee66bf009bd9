"""`aimcsim report`: one self-contained HTML page of a run, search, sweep or serve folder (figures
embedded; opens offline)."""

from __future__ import annotations

import argparse
from pathlib import Path

from aimcsim.outputs.report import report as make_report
from aimcsim.outputs.run_folder import REPORT_FILE


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path,
                        help="the --out folder of run, search, sweep or serve")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"HTML file to write (default: {REPORT_FILE.name} in the results "
                        "folder)")


def execute(args: argparse.Namespace) -> int:
    path = make_report(args.results, args.out)
    print(f"wrote {path} ({path.stat().st_size / 1024:,.0f} KiB; opens offline)")
    return 0

