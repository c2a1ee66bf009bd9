"""Request streams: who arrives when, with how long a prompt, how many output tokens and which
adapter.

`poisson_stream` draws a seeded stream: exponential inter-arrival times at `rate_per_s`
requests per second, output tokens fixed or log-normal (`lognormal:MEAN,SIGMA`: see
`parse_output_tokens`), adapters uniform or Zipf
(`zipf:S`: adapter k, counted from 1, has weight k^-S). `read_arrivals` reads a CSV with the
columns of `ARRIVAL_COLUMNS` (public serving traces such as Azure's LLM inference trace give the
arrival time, the context tokens and the generated tokens: rename them to these, and add the
adapter column).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aimcsim.params.files import read_text

#: the columns of an arrivals CSV (`--arrivals`)
ARRIVAL_COLUMNS = {
    "arrival_ns": "when the request arrives (ns from the stream's start, non-decreasing)",
    "prompt_tokens": "tokens of its prompt (>= 1)",
    "output_tokens": "tokens it generates (>= 1; the first comes out of the prefill)",
    "adapter": "the adapter it names (an integer >= 0)",
}


@dataclass(frozen=True)
class Request:
    """One request of a stream (times in ps, the engine's unit)."""

    request: int
    arrival_ps: int
    prompt_tokens: int
    output_tokens: int
    adapter: int


def parse_output_tokens(text: str) -> tuple[str, float, float]:
    """`O` (fixed) or `lognormal:MEAN,SIGMA` (MEAN the distribution's mean in tokens, SIGMA the
    underlying normal's standard deviation; each draw rounded, at least 1)."""
    if text.startswith("lognormal:"):
        try:
            mean, sigma = (float(v) for v in text.split(":", 1)[1].split(","))
        except ValueError:
            raise ValueError(f"--output-tokens {text!r}: expected lognormal:MEAN,SIGMA, "
                             "e.g. lognormal:8,0.5") from None
        if not (mean >= 1 and 0 <= sigma <= 4):
            raise ValueError(f"--output-tokens {text!r}: MEAN must be >= 1 and SIGMA in 0..4")
        return "lognormal", mean, sigma
    try:
        fixed = int(text)
    except ValueError:
        raise ValueError(f"--output-tokens {text!r}: expected a number of tokens or "
                         "lognormal:MEAN,SIGMA") from None
    if fixed < 1:
        raise ValueError(f"--output-tokens must be >= 1, got {fixed}")
    return "fixed", float(fixed), 0.0


def parse_mix(text: str) -> float:
    """`uniform` (0.0) or `zipf:S` (S > 0): the Zipf exponent of the adapters' popularity."""
    if text == "uniform":
        return 0.0
    if text.startswith("zipf:"):
        try:
            s = float(text.split(":", 1)[1])
        except ValueError:
            s = math.nan
        if s > 0:
            return s
    raise ValueError(f"--mix {text!r}: expected uniform or zipf:S with S > 0, e.g. zipf:1.1")


def poisson_stream(requests: int, rate_per_s: float, *, prompt: int,
                   output: tuple[str, float, float], adapters: int, zipf_s: float = 0.0,
                   seed: int = 0) -> list[Request]:
    """A seeded stream (see the module docstring)."""
    if requests < 1 or not rate_per_s > 0 or prompt < 1 or adapters < 1:
        raise ValueError(f"requests, rate, prompt and adapters must be positive, got "
                         f"{requests}, {rate_per_s}, {prompt} and {adapters}")
    rng = np.random.default_rng(seed)
    gaps_ps = rng.exponential(1e12 / rate_per_s, size=requests)
    arrivals = np.rint(np.cumsum(gaps_ps)).astype(np.int64)
    kind, mean, sigma = output
    if kind == "fixed":
        outs = np.full(requests, int(mean))
    else:  # (mean of a log-normal: exp(mu + sigma^2 / 2))
        mu = math.log(mean) - sigma * sigma / 2
        outs = np.maximum(1, np.rint(rng.lognormal(mu, sigma, size=requests))).astype(int)
    weights = np.arange(1, adapters + 1, dtype=float) ** -zipf_s
    names = rng.choice(adapters, size=requests, p=weights / weights.sum())
    return [Request(i, int(arrivals[i]), prompt, int(outs[i]), int(names[i]))
            for i in range(requests)]


def read_arrivals(path: str | Path) -> list[Request]:
    """The requests of an arrivals CSV (`ARRIVAL_COLUMNS`; read bounded, as every input);
    ValueError naming the file, the line and the column for anything else."""
    text = read_text(path, "csv")
    rows = csv.DictReader(io.StringIO(text))
    missing = [c for c in ARRIVAL_COLUMNS if c not in (rows.fieldnames or ())]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}; an arrivals file has "
                         f"the columns {', '.join(ARRIVAL_COLUMNS)}")
    out: list[Request] = []
    last = 0.0
    for row in rows:
        where = f"{path}: line {rows.line_num}"
        values = [_count(where, c, row[c], 0 if c == "adapter" else 1)
                  for c in ("prompt_tokens", "output_tokens", "adapter")]
        try:
            at = float(row["arrival_ns"])
        except (TypeError, ValueError):
            at = math.nan
        if not (math.isfinite(at) and at >= last):
            raise ValueError(f"{where}: arrival_ns must be a finite number of ns, not before "
                             f"the line above, got {row['arrival_ns']!r}")
        last = at
        out.append(Request(len(out), round(at * 1000), *values))
    if not out:
        raise ValueError(f"{path}: no requests (a header and one line per request)")
    return out


def _count(where: str, column: str, text: str | None, least: int) -> int:
    """An integer cell (`3` or `3.0`) at least `least`."""
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        value = math.nan
    if not (value.is_integer() and value >= least):
        raise ValueError(f"{where}: {column} must be an integer >= {least}, got {text!r}")
    return int(value)


__all__ = ["ARRIVAL_COLUMNS", "Request", "parse_mix", "parse_output_tokens", "poisson_stream",
           "read_arrivals"]
