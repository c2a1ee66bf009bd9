"""`aimcsim schema`: write the JSON Schemas of architecture files and workload traces (for
editors: # yaml-language-server: $schema=arch.schema.json)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from aimcsim.spec.schema import arch_schema, technology_schema
from aimcsim.spec.workload import workload_schema


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=Path("schemas"),
                        help="folder to write arch.schema.json, workload.schema.json and "
                        "tech.schema.json into (default: %(default)s)")


def execute(args: argparse.Namespace) -> int:
    args.out.mkdir(parents=True, exist_ok=True)
    for name, schema in (("arch", arch_schema()), ("workload", workload_schema()),
                         ("tech", technology_schema())):
        path = args.out / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}")
    return 0

