"""Sweeps of request streams: a sweep file's `serve` section, so that serve settings are axes
of the sweep machinery (`aimcsim sweep`, its worker pool and Dask) like architecture values.

A sweep with a `serve` section runs, at each point, `aimcsim serve` of its `model` on the point's
architecture (hybrid mode) instead of workloads; its options are the command's, and any of them
is an axis by `serve.<option>` (`serve.rate`, `serve.adapters`, `serve.cache`, `serve.branch`,
...), beside architecture axes. `serve.branch` sets the point's `lora.engine`. A point's row in
`points.parquet` holds the stream's summary (`aimcsim.serve.engine`: throughput, TTFT, TPOT
and latency percentiles, SLO attainment, adapter loads and bytes, utilisation, energy per
token); a point has no layers rows. Each point builds its own step costs (a worker shares
nothing), so points that differ only in their stream repeat the same simulations: a sweep of
many rates is cheaper as `aimcsim serve --rate R1 R2 ...`, which shares them.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

from aimcsim.errors import AimcsimError
from aimcsim.explore.axes import Axis
from aimcsim.params.reader import Reader, join, relative_file, shown
from aimcsim.params.registry import SWEEP_KINDS
from aimcsim.serve.caches import POLICIES
from aimcsim.serve.engine import BRANCHES, serve_model
from aimcsim.serve.stream import parse_mix, parse_output_tokens, poisson_stream
from aimcsim.traces import TRACES, generator_for

#: the section's options: (type, bounds or choices, default, meaning); each can be an axis
OPTIONS: dict[str, tuple[type, Any, Any, str]] = {
    "model": (str, None, None, "a bundled decoder or a config.json (relative to the sweep "
              "file): required"),
    "requests": (int, (1, 10_000_000), 100, "requests in the drawn stream"),
    "rate": (float, (0.0, 1e9), 10.0, "Poisson arrivals per second"),
    "prompt": (int, (1, 65_536), 32, "prompt tokens of each request"),
    "output_tokens": (str, None, "8", "tokens each request generates: N or lognormal:MEAN,SIGMA"),
    "adapters": (int, (1, 1_000_000), 8, "adapters the requests name"),
    "mix": (str, None, "uniform", "the adapters' popularity: uniform or zipf:S"),
    "cache": (str, POLICIES, "lru", "what L2 keeps of the adapters"),
    "branch": (str, tuple(BRANCHES), None, "where the LoRA branch runs (default: as the "
               "architecture's lora.engine)"),
    "token_budget": (int, (1, 65_536), 512, "tokens of one iteration"),
    "seed": (int, (0, 2**63 - 1), 0, "seed of the drawn stream"),
    "slo_ttft_ms": (float, (0.0, 1e12), math.inf, "the time-to-first-token objective"),
    "slo_tpot_ms": (float, (0.0, 1e12), math.inf, "the time-per-output-token objective"),
}


@SWEEP_KINDS.register
class ServeSweep:
    """The `serve` section of a sweep file (see the module docstring)."""

    name = "serve"

    def read(self, r: Reader, raw: Any, sweep: Path) -> tuple[tuple[str, Any], ...]:
        """The section's options, checked (errors on `r` at `serve.<option>`), with their
        defaults; a config.json model made absolute (relative to the sweep file)."""
        d = r.mapping(raw, self.name, tuple(OPTIONS), required=("model",))
        options = {}
        for key in OPTIONS:
            value = self.take(r, self.name, key, d.get(key, OPTIONS[key][2]), given=key in d)
            options[key] = value
        model = options["model"]
        if isinstance(model, str) and model and model not in TRACES:
            try:
                path = relative_file(sweep, model)
                # (a name that is no file: refused as serve refuses it, the nearest named)
                generator_for(path if path.exists() or path.is_symlink() else model)
                options["model"] = str(path)
            except (ValueError, AimcsimError) as exc:
                r.error(join(self.name, "model"), str(exc))
        return tuple(options.items())

    def take(self, r: Reader, at: str, key: str, value: Any, *, given: bool = True) -> Any:
        """One option's value checked against `OPTIONS` (an issue on `r` at `at.key`)."""
        kind, bounds, default, _ = OPTIONS[key]
        if not given or (value is None and default is None):  # (null: the default, none)
            return default
        where = join(at, key) if at == self.name else at
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool):
            r.error(where, f"expected {'a number' if kind is float else kind.__name__}, got "
                    f"{shown(value)}")
            return default
        if isinstance(bounds, tuple) and bounds and isinstance(bounds[0], str):
            if value not in bounds:
                r.error(where, f"{shown(value)} is not allowed; allowed values: "
                        f"{', '.join(bounds)}")
        elif bounds is not None and not (bounds[0] <= value <= bounds[1]
                                         and (kind is not float or value > 0)):
            r.error(where, f"{value} is outside {bounds[0]:g}..{bounds[1]:g}"
                    f"{' (above 0)' if kind is float else ''}")
        elif key in ("output_tokens", "mix"):
            try:
                (parse_output_tokens if key == "output_tokens" else parse_mix)(value)
            except ValueError as exc:
                r.error(where, str(exc).replace("--output-tokens", "output_tokens"))
        return value

    def axis(self, r: Reader, at: str, path: str, values: tuple[Any, ...]) -> Axis | None:
        """An axis `serve.<option>`: each value checked as the option's."""
        key = path.split(".", 1)[1]
        if key not in OPTIONS or key == "model":
            r.error(at, f"serve has no option {key!r} to sweep; its options: "
                    f"{', '.join(k for k in OPTIONS if k != 'model')}")
            return None
        before = len(r.issues)
        for i, value in enumerate(values):
            self.take(r, join(at, i), key, value)
        if not values or len(r.issues) > before:
            return None
        if len(set(map(str, values))) < len(values):
            r.error(at, "lists a value twice (every grid point would run twice)")
            return None
        return Axis(path, tuple(values))

    def workload(self, options: dict[str, Any]) -> str:
        """What a point of these options runs, for the points table: the model."""
        return str(options["model"])

    def apply(self, options: dict[str, Any], doc: dict[str, Any]) -> None:
        """What the options set of a point's architecture document: `branch` its engine."""
        if options.get("branch") is not None:
            doc.setdefault("lora", {})["engine"] = BRANCHES[options["branch"]]

    def run(self, point: Any) -> dict[str, Any]:
        """A point's row: the stream's summary (`status` ok), or `failed` with the error."""
        o = dict(point.options)
        try:
            stream = poisson_stream(o["requests"], o["rate"], prompt=o["prompt"],
                                    output=parse_output_tokens(o["output_tokens"]),
                                    adapters=o["adapters"], zipf_s=parse_mix(o["mix"]),
                                    seed=o["seed"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # (the point's row says what it found)
                served = serve_model(point.arch, o["model"], stream, cache=o["cache"],
                                     token_budget=o["token_budget"],
                                     slo_ttft_ns=o["slo_ttft_ms"] * 1e6,
                                     slo_tpot_ns=o["slo_tpot_ms"] * 1e6)
        except (AimcsimError, ValueError) as exc:
            return {"status": "failed", "error": str(exc).replace("\n", "; ")}
        summary = {k: v for k, v in served.summary.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        return {"status": "ok", "error": "", **summary}


__all__ = ["OPTIONS", "ServeSweep"]
