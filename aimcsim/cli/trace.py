"""`aimcsim trace`: generate a workload trace from a model configuration."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import yaml

from aimcsim.spec.workload import MAX_TOKENS
from aimcsim.traces import TRACES, model_trace
from aimcsim.traces.families import FAMILIES

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", choices=sorted(TRACES),
                        help="a bundled model (its config.json in workloads/configs/; "
                        "MobileBERT's in aimcsim/traces/mobilebert.py)")
    parser.add_argument("--config", type=Path, default=None, metavar="config.json",
                        help="trace this Hugging Face config.json instead (model_type one of "
                        f"{', '.join(sorted([*FAMILIES, 'mobilebert']))})")
    parser.add_argument("--seq-len", type=int, default=384, help="tokens per sequence")
    parser.add_argument("--context", type=int, default=0,
                        help="a decode step: the keys its token attends to (KV cache + 1; "
                             "decoders, with --seq-len 1)")
    parser.add_argument("--no-lm-head", dest="lm_head", action="store_false",
                        help="a decoder's trace without its LM head (hidden -> vocabulary)")
    parser.add_argument("--out", type=Path, required=True, help="YAML file to write")


def execute(args: argparse.Namespace) -> int:
    if not 1 <= args.seq_len <= MAX_TOKENS:
        raise ValueError(f"--seq-len must be in 1..{MAX_TOKENS} tokens, got {args.seq_len}")
    if not 0 <= args.context <= MAX_TOKENS:
        raise ValueError(f"--context must be in 1..{MAX_TOKENS} keys (a decode step; absent: "
                         f"a prefill), got {args.context}")
    if (args.model is None) == (args.config is None):
        raise ValueError("name a bundled model or give --config config.json (one of the two)")
    model = args.config if args.config is not None else args.model
    doc = model_trace(model, args.seq_len, context=args.context, lm_head=args.lm_head)
    command = (f"aimcsim trace --config {args.config}" if args.config is not None
               else f"aimcsim trace {args.model}") + f" --seq-len {args.seq_len}"
    if args.context:
        command += f" --context {args.context}"
    if not args.lm_head:
        command += " --no-lm-head"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    header = f"# {doc['source']}: {command}\n"
    args.out.write_text(header + _trace_text(doc), encoding="utf-8")
    print(f"wrote {args.out}: {len(doc['ops'])} operations, {args.seq_len} tokens")
    return 0


def _trace_text(doc: dict[str, Any]) -> str:
    """A trace document as YAML: libyaml's emitter where PyYAML has it (the text of PyYAML's
    own, about 15x faster: a 1,024-layer trace or a config.json of megabytes in a second), or
    PyYAML's where libyaml cannot encode a string (a lone surrogate, which JSON may escape)."""
    try:
        return yaml.dump(doc, Dumper=_DUMPER, sort_keys=False, width=100)
    except UnicodeEncodeError:
        return yaml.safe_dump(doc, sort_keys=False, width=100)

