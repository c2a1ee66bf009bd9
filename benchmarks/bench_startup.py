"""Start-up of the command line: `aimcsim --version` and `aimcsim --help` against a bare
`python -c "import numpy"` (issue 32 asks for at most 3x), and `aimcsim run --help`, which
imports its command's module. Median of N runs of each, as whole processes.

Run: python benchmarks/bench_startup.py [--runs N]. Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c 'import numpy'": [sys.executable, "-c", "import numpy"],
    "aimcsim --version": [sys.executable, "-m", "aimcsim.cli", "--version"],
    "aimcsim --help": [sys.executable, "-m", "aimcsim.cli", "--help"],
    "aimcsim run --help": [sys.executable, "-m", "aimcsim.cli", "run", "--help"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):  # interleaved, so a drift of the machine hits all alike
        for name, argv in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(argv, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["python -c 'import numpy'"])
    for name, runs in times.items():
        median = statistics.median(runs)
        print(f"{name:<28} median {median * 1e3:6.0f} ms ({median / base:.1f}x import numpy; "
              f"min {min(runs) * 1e3:.0f}, max {max(runs) * 1e3:.0f} ms, {args.runs} runs)")


if __name__ == "__main__":
    main()
