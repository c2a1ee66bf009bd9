#!/usr/bin/env python3
"""Price single-ported SRAM banks with CACTI 7 on a (bank size x word width) grid.

A maintainer script: it is not imported by aimcsim, and neither the library nor CI needs
hwcomponents or CACTI. It needs Python >= 3.12 with hwcomponents-cacti 1.0.40 installed from
its sdist, so that CACTI is compiled here (see tools/techgen/README.md).

Every grid point is one call of hwcomponents-cacti's own Python API,

    s = SRAM(tech_node=<node>e-9, width=W, depth=B*8//W, size=B*8, n_rw_ports=1, n_banks=1)

for a bank of B bytes and W-bit words, and the values kept are

    read_pj    = s.read().energy * 1e12     (J per access   -> pJ per access)
    write_pj   = s.write().energy * 1e12    (J per access   -> pJ per access)
    leakage_mw = s.leak_power * 1e3         (W              -> mW)
    area_mm2   = s.area * 1e6               (m^2            -> mm^2)
    access_ns  = s.read().latency * 1e9     (s              -> ns; CACTI's access time)

each rounded to 4 significant digits. A point that CACTI cannot organise (it prints an
error and writes no result, and hwcomponents raises) is recorded as null.

    python tools/techgen/cacti_grid.py --node 22 --transistor lstp
    python tools/techgen/cacti_grid.py --all          # 22, 32 and 45 nm, every type
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
GRIDS = HERE / "grids"

NODES_NM = (22, 32, 45)  # CACTI 7 has technology files down to 22 nm; hwcomponents interpolates
                         # between 22/32/45/65/90 and extrapolates outside, which we do not want
BANK_BYTES = tuple(2 ** k for k in range(11, 23))  # 2 KiB ... 4 MiB
WIDTH_BITS = (32, 64, 128, 256, 512)
FIELDS = ("read_pj", "write_pj", "leakage_mw", "area_mm2", "access_ns")

# hwcomponents-cacti 1.0.40 fixes the SRAM's transistor types in its default_cfg.cfg
# ("-Data array cell type - "itrs-lstp"", peripheral and tag arrays the same); SRAM() takes
# no argument for them. So the one type its API offers is ITRS low standby power (LSTP).
TRANSISTORS = {"lstp": "itrs-lstp"}
HWC_VERSION = "1.0.40"

CALL = ("SRAM(tech_node={node}e-9, width={{width_bits}}, depth={{bank_bytes}}*8//{{width_bits}}, "
        "size={{bank_bytes}}*8, n_rw_ports=1, n_banks=1)")
SOURCE = (
    "CACTI 7.0 via hwcomponents-cacti {hwc}: s = hwcomponents_cacti.{call}; "
    "read_pj = s.read().energy*1e12, write_pj = s.write().energy*1e12, "
    "leakage_mw = s.leak_power*1e3, area_mm2 = s.area*1e6, access_ns = s.read().latency*1e9, "
    "each rounded to 4 significant digits (cells and periphery {ttype}, as fixed in "
    "hwcomponents-cacti's default_cfg.cfg; CACTI optimisation as there: fast access mode, ED^2); "
    "CACTI built from the CACTI 7.0 sources shipped in the hwcomponents-cacti {hwc} sdist "
    "(version_cacti.h: 7.0, 3DD Prerelease, Aug 2012) by its own make build "
    "(pip install --no-binary hwcomponents-cacti), {cxx}"
)


def _hwc_dir() -> Path:
    import hwcomponents_cacti  # a maintainer tool's dependency, imported on use

    return Path(hwcomponents_cacti.__file__).resolve().parent


def _clear_hwc_cache() -> None:
    """hwcomponents-cacti keeps CACTI's outputs keyed by the hash of the .cfg it wrote and
    re-reads them instead of running CACTI again; start from nothing so that every value is
    a CACTI run of this invocation (and the timing means something)."""
    cache = _hwc_dir() / "cacti_inputs_outputs"
    if cache.is_dir():
        shutil.rmtree(cache)


def _cxx_version() -> str:
    import subprocess

    try:
        out = subprocess.run(["g++", "--version"], capture_output=True, text=True, check=True)
        return out.stdout.splitlines()[0]
    except (OSError, subprocess.CalledProcessError):
        return "g++ (version unknown)"


def hwc_scales(bank_bytes: int, width_bits: int) -> bool:
    """True where hwcomponents-cacti 1.0.40 does not hand CACTI the bank as asked but a larger
    one and scales the result by its own empirical factors (_Memory._interp_size): a depth
    below 64 words, or a width below 32 bits or not a multiple of 8."""
    depth = bank_bytes * 8 // width_bits
    return depth < 64 or width_bits < 32 or width_bits % 8 != 0


def run_point(args: tuple[int, int, int]) -> tuple[int, int, dict | None, str, float]:
    """One CACTI run through hwcomponents-cacti. Returns (bank_bytes, width_bits, values or
    None, error text, seconds)."""
    node, bank_bytes, width_bits = args
    from hwcomponents_cacti import SRAM

    t0 = time.perf_counter()
    tech_node = float(f"{node}e-9")
    try:
        s = SRAM(tech_node=tech_node, width=width_bits, depth=bank_bytes * 8 // width_bits,
                 size=bank_bytes * 8, n_rw_ports=1, n_banks=1)
        # hwcomponents converts metres to nm and interpolates between its nodes when the
        # product is not exactly one of them: make sure it was not
        if s.tech_node != node:
            raise RuntimeError(f"hwcomponents took the node as {s.tech_node!r} nm, not {node}")
        read, write = s.read(), s.write()
        values = {
            "read_pj": read.energy * 1e12,
            "write_pj": write.energy * 1e12,
            "leakage_mw": s.leak_power * 1e3,
            "area_mm2": s.area * 1e6,
            "access_ns": read.latency * 1e9,
        }
        bad = [k for k, v in values.items() if not (isinstance(v, float) and math.isfinite(v))]
        if bad:
            raise RuntimeError(f"CACTI gave a non-finite {', '.join(bad)}: {values}")
        return bank_bytes, width_bits, values, "", time.perf_counter() - t0
    except Exception as e:  # CACTI's failures come back from hwcomponents as bare Exceptions
        msg = " ".join(str(e).split())
        return bank_bytes, width_bits, None, f"{type(e).__name__}: {msg}", \
            time.perf_counter() - t0


def sig4(v: float | None) -> str:
    """A value rounded to 4 significant digits as a YAML float (PyYAML reads '1e-05' as a
    string: the mantissa always gets a dot)."""
    if v is None:
        return "null"
    s = repr(float(f"{v:.4g}"))
    if "e" in s:
        m, e = s.split("e")
        if "." not in m:
            m += ".0"
        s = f"{m}e{e}"
    return s


def rows(table: dict, field: str) -> str:
    out = []
    for b in BANK_BYTES:
        cells = [sig4(None if table[b, w] is None else table[b, w][field]) for w in WIDTH_BITS]
        out.append(f"    - [{', '.join(cells)}]   # {b} B")
    return "\n".join(out)


def write_grid(node: int, transistor: str, table: dict, errors: dict, path: Path) -> None:
    gen = f"python tools/techgen/cacti_grid.py --node {node} --transistor {transistor}"
    source = SOURCE.format(hwc=metadata.version("hwcomponents-cacti"),
                           call=CALL.format(node=node), ttype=TRANSISTORS[transistor],
                           cxx=_cxx_version())
    scaled = [(b, w) for b in BANK_BYTES for w in WIDTH_BITS if hwc_scales(b, w)]
    lines = [f"# generated by {gen}: do not edit by hand",
             f"# {len(BANK_BYTES) * len(WIDTH_BITS)} points, each one CACTI run through"
             " hwcomponents-cacti.",
             "# Units: read_pj, write_pj: pJ per access of one width_bits word; leakage_mw: mW"
             " for the bank",
             "# (CACTI's standby leakage, subthreshold + gate); area_mm2: mm^2; access_ns: ns"
             " (CACTI access time).",
             "# Rows follow bank_bytes, columns width_bits."]
    if scaled:
        lines.append("# Not a CACTI run of that exact geometry (depth below 64 words):"
                     " hwcomponents ran CACTI for")
        lines.append("# 64 words and scaled energy by depth_ratio^0.78, leakage and area by"
                     " depth_ratio: "
                     + ", ".join(f"{b} B x {w} b" for b, w in scaled) + ".")
    if errors:
        lines.append("# null: CACTI found no organisation (hwcomponents raised): "
                     + ", ".join(f"{b} B x {w} b" for b, w in errors) + ".")
    else:
        lines.append("# No null: CACTI organised every point.")
    lines += [
        "sram:",
        f'  generator: "{gen}"',
        f'  source: "{source}"',
        f"  node_nm: {node}",
        f"  transistor: {transistor}",
        "  ports: 1",
        f"  bank_bytes: [{', '.join(str(b) for b in BANK_BYTES)}]",
        f"  width_bits: [{', '.join(str(w) for w in WIDTH_BITS)}]",
    ]
    for field in FIELDS:
        lines.append(f"  {field}:")
        lines.append(rows(table, field))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def not_rising(table: dict, field: str) -> list[str]:
    """Points where the field falls as the bank doubles at a fixed width."""
    out = []
    for w in WIDTH_BITS:
        for lo, hi in itertools.pairwise(BANK_BYTES):
            a, b = table[lo, w], table[hi, w]
            if a is not None and b is not None and b[field] < a[field]:
                out.append(f"{w} b: {lo} B {a[field]:.4g} -> {hi} B {b[field]:.4g}")
    return out


def grid(node: int, transistor: str, jobs: int, out_dir: Path, keep_cache: bool) -> None:
    if not keep_cache:
        _clear_hwc_cache()
    points = [(node, b, w) for b in BANK_BYTES for w in WIDTH_BITS]
    t0 = time.perf_counter()
    table: dict = {}
    errors: dict = {}
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        for b, w, values, err, secs in pool.map(run_point, points):
            table[b, w] = values
            if values is None:
                errors[b, w] = err
                print(f"  {node} nm {b:>8} B x {w:>3} b: FAILED ({secs:.1f} s): {err[:300]}",
                      file=sys.stderr)
            else:
                print(f"  {node} nm {b:>8} B x {w:>3} b: {secs:6.1f} s  read "
                      f"{values['read_pj']:.4g} pJ", file=sys.stderr)
    seconds = time.perf_counter() - t0
    path = out_dir / f"cacti_{node}nm_{transistor}.yaml"
    write_grid(node, transistor, table, errors, path)
    print(f"{path}: {len(points)} points, {len(errors)} null, {seconds:.0f} s", file=sys.stderr)
    for field in FIELDS:
        for line in not_rising(table, field):
            print(f"  {field} not rising with bank size at {line}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--node", type=int, choices=NODES_NM, help="technology node, nm")
    p.add_argument("--transistor", choices=sorted(TRANSISTORS), default="lstp",
                   help="cell and periphery transistor type: hwcomponents-cacti 1.0.40 offers "
                        "only ITRS LSTP (fixed in its default_cfg.cfg)")
    p.add_argument("--all", action="store_true", help="every node and type")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                   help="CACTI runs at once (default: the machine's cores)")
    p.add_argument("--out", type=Path, default=GRIDS, help="directory of the YAML grids")
    p.add_argument("--keep-cache", action="store_true",
                   help="let hwcomponents re-read CACTI outputs it kept from earlier runs")
    a = p.parse_args(argv)
    if not a.all and a.node is None:
        p.error("give --node or --all")
    try:
        version = metadata.version("hwcomponents-cacti")
    except metadata.PackageNotFoundError:
        p.error("hwcomponents-cacti is not installed here: see tools/techgen/README.md")
    if version != HWC_VERSION:
        print(f"warning: hwcomponents-cacti {version}, the grids were made with "
              f"{HWC_VERSION}", file=sys.stderr)
    for node in NODES_NM if a.all else (a.node,):
        for transistor in sorted(TRANSISTORS) if a.all else (a.transistor,):
            grid(node, transistor, a.jobs, a.out, a.keep_cache)
    return 0


if __name__ == "__main__":
    sys.exit(main())
