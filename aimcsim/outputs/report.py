"""`aimcsim report DIR`: one self-contained HTML file of a run, search, sweep or serve folder.

The page holds everything a reader needs offline, so it can be mailed: the command that
reproduces the results, the inputs the folder recorded (`aimcsim.outputs.run_folder`: the
architecture as resolved, its technology, the run settings or the sweep file; never a file a
results file names), the headline table, the
tables of the folder (per layer type for a run, the best settings for a search, the points for
a sweep) and its figures as embedded PNG images. Nothing is fetched: no script, style sheet or
font from elsewhere. A short inline script marks, once the page has loaded, how many figures
decoded whole (`data-figures-loaded` on the body), which the browser test reads.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import pandas as pd

from aimcsim import __version__, plots
from aimcsim.outputs.figures import drawable
from aimcsim.outputs.run_folder import LOAD_FILE, RECORDED, REPORT_FILE, RunFolder
from aimcsim.results import static_overhead

NUMBER_T = (int, float)

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.4; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
pre { background: #f6f6f6; padding: 0.6rem; overflow-x: auto; font-size: 0.8rem; }
figure { margin: 1rem 0; } figcaption { font-size: 0.85rem; color: #555; }
img { max-width: 100%; }
"""
_SCRIPT = """
window.addEventListener("load", () => {
  // a figure decoded whole: its last row of pixels is drawn (figures are saved opaque, so a
  // truncated image leaves that row transparent)
  const whole = (img) => {
    if (!img.complete || img.naturalWidth === 0) return false;
    const canvas = document.createElement("canvas");
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    const g = canvas.getContext("2d");
    g.drawImage(img, 0, 0);
    const row = g.getImageData(0, canvas.height - 1, canvas.width, 1).data;
    for (let i = 3; i < row.length; i += 4) if (row[i] !== 255) return false;
    return true;
  };
  const ok = [...document.querySelectorAll("figure img")].filter(whole).length;
  document.body.dataset.figuresLoaded = String(ok);
});
"""


def report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of the results in `folder` (default: its `report.html`)."""
    results = RunFolder(folder)
    out = Path(out) if out is not None else results.file(REPORT_FILE)
    title, sections = {"sweep": _sweep, "search": _search, "run": _run,
                       "serve": _serve}[results.kind](results)
    figures = sum(body.count("<figure") for _, body in sections)
    page = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>", f"<style>{_STYLE}</style>", "</head>",
        f'<body data-figures="{figures}">', f"<h1>{html.escape(title)}</h1>",
        f"<p>aimcsim {__version__}; results folder "
        f"<code>{html.escape(str(results.path))}</code>.</p>",
    ]
    for heading, body in sections:
        page += [f"<h2>{html.escape(heading)}</h2>", body]
    page += [f"<script>{_SCRIPT}</script>", "</body>", "</html>"]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(page) + "\n", encoding="utf-8")
    return out


def _figure(fig: Any, caption: str) -> str:
    buffer = io.BytesIO()
    with plots.plt.rc_context(plots.STYLE):
        fig.savefig(buffer, format="png", facecolor="white", transparent=False)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _table(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> str:
    formats = formats or {}
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for row in frame.itertuples(index=False):
        cells = []
        for col, value in zip(frame.columns, row, strict=True):
            text = format(value, formats[col]) if col in formats and pd.notna(value) \
                else str(value)
            cells.append(f"<td>{html.escape(text)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


#: how the report names each recorded input, by its role
_INPUTS = {"arch": "architecture (as resolved)", "technology": "technology",
           "settings": "run settings", "sweep": "sweep"}


def _inputs(folder: RunFolder, recorded: Any = None) -> str:
    """The inputs the folder recorded, embedded (never a file a results file names), and the
    workload `summary.json` records (`recorded`: its `inputs`)."""
    parts = []
    workload = recorded.get("workload") if isinstance(recorded, dict) else None
    if isinstance(workload, dict):
        parts.append(f"<p>workload: <code>{html.escape(str(workload.get('name')))}</code>, "
                     f"{html.escape(str(workload.get('tokens')))} tokens (SHA-256 "
                     f"<code>{html.escape(str(workload.get('digest')))}</code>)</p>")
    for role, label in _INPUTS.items():
        text = folder.recorded_text(RECORDED[role])
        if text is not None:
            parts.append(f"<details><summary>{label}: <code>{RECORDED[role].name}</code>"
                         "</summary><pre>"
                         f"{html.escape(text)}</pre></details>")
    return "".join(parts) or ("<p>This folder records no inputs (it was written by an earlier "
                              "version of aimcsim).</p>")


def _command(words: list[str]) -> str:
    return f"<pre>{html.escape(' '.join(map(str, words)))}</pre>"


def _run(folder: RunFolder) -> tuple[str, list[tuple[str, str]]]:
    summary = folder.summary({"arch": str, "workload": str, "modes.*.workload": str,
                                    "modes.*.arch": str, "modes.*.total_latency_ns": NUMBER_T,
                                    "modes.*.energy": dict, "modes.*.tiles": int,
                                    "modes.*.clusters": int, "modes.*.tcdm_peak_bytes": int})
    layers = folder.layers
    modes = summary["modes"]
    first = next(iter(modes.values()))
    title = f"{first['workload']} on {first['arch']}"
    command = ["aimcsim", "run", summary["arch"], summary["workload"], "--mode",
               "both" if len(modes) == 2 else next(iter(modes)), "--out", str(folder.path)]
    if "settings" in summary:
        command += ["--settings", str(summary["settings"])]
    traced = (summary.get("inputs") or {}).get("workload") or {}
    if isinstance(traced, dict) and traced.get("file", "") is None:  # (a model, traced)
        command += ["--tokens", str(traced.get("tokens"))]
    headline = pd.DataFrame([{
        "mode": mode, "latency (us)": s["total_latency_ns"] / 1e3,
        "energy (mJ)": _number(s["energy"].get("total_pj")) / 1e9,
        "energy per token (uJ)": _number(s["energy"].get("per_token_pj")) / 1e6,
        "tiles": s["tiles"], "clusters": s["clusters"],
        "TCDM peak (B)": s["tcdm_peak_bytes"]} for mode, s in modes.items()])
    sections = [("Reproduce", _command(command)),
                ("Headline", _table(headline, {"latency (us)": ",.1f", "energy (mJ)": ".3f",
                                               "energy per token (uJ)": ".1f"}))]
    if len(modes) == 2:
        over = static_overhead(layers)
        over["role"] = layers.drop_duplicates("layer").set_index("layer").loc[
            over["layer"], "role"].to_numpy()
        by_role = over.groupby("role", sort=False)["overhead"].agg(
            ["median", "min", "max", "count"]).reset_index()
        by_role.columns = ["layer type", "median overhead", "min", "max", "layers"]
        total = summary.get("total_overhead")
        total = total if isinstance(total, NUMBER_T) else None
        sections.append(("Overhead of the LoRA branch per layer type",
                         (f"<p>Whole network: {total:+.1%}.</p>" if total is not None else "")
                         + _table(by_role, {c: ".1%" for c in ("median overhead", "min",
                                                              "max")})))
    figures = _figures(folder)
    sections.append(("Figures", "".join(figures)))
    sections.append(("Inputs", _inputs(folder, summary.get("inputs"))))
    return title, sections


def _serve(folder: RunFolder) -> tuple[str, list[tuple[str, str]]]:
    summary = folder.summary({"inputs.model": str})
    inputs = summary["inputs"]
    title = f"serving {inputs['model']}"
    if folder.file(LOAD_FILE).exists():
        table = folder.read(LOAD_FILE)
        shown = pd.DataFrame({
            "requests/s": table.rate_per_s,
            **{f"{v.upper()} p{q} (ms)": table[f"{v}_ns_p{q}"] / 1e6
               for v in ("ttft", "tpot") for q in (50, 99)}})
        head = ("Offered loads", _table(shown, {c: ",.3f" for c in shown.columns[1:]}))
    else:
        keys = [k for k in ("requests", "iterations", "throughput_tokens_per_s",
                            "ttft_ns_p50", "ttft_ns_p99", "tpot_ns_p50", "tpot_ns_p99",
                            "slo_attainment", "adapter_loads", "busy_fraction",
                            "energy_per_token_pj") if isinstance(summary.get(k), NUMBER_T)]
        shown = pd.DataFrame({"figure": keys, "value": [float(summary[k]) for k in keys]})
        head = ("Headline", _table(shown, {"value": ",.4g"}))
    sections = [head, ("Figures", "".join(_figures(folder))),
                ("Inputs", _inputs(folder, inputs))]
    return title, sections


def _figures(folder: RunFolder) -> list[str]:
    """Every registered figure the folder's report shows (`aimcsim.outputs.figures`), in the
    registry's order, each with its caption."""
    return [_figure(kind.draw(folder, options), caption)
            for kind in drawable(folder) if kind.report is not None
            for options, caption in kind.report(folder)]


def _number(value: Any) -> float:
    return float(value) if isinstance(value, NUMBER_T) else float("nan")


def _search(folder: RunFolder) -> tuple[str, list[tuple[str, str]]]:
    summary = folder.summary({"arch": str, "workload": str, "objective": str,
                              "network": list})
    points = folder.search
    title = f"balance search: {summary['workload']} on {summary['arch']}"
    best = points[points["best"]][["d_in", "d_out", "integration_time_ns", "cores", "rank",
                                   "strategy", "parallel_tokens", "tile_output", "latency_ns",
                                   "aimc_only_latency_ns", "overhead", "tcdm_bytes"]]
    network = pd.DataFrame([{k: v for k, v in n.items() if not isinstance(v, (dict, list))}
                            for n in summary["network"] if isinstance(n, dict)])
    sections = [
        ("Reproduce", _command(summary["command"] if isinstance(summary.get("command"), list)
                               else [
            "aimcsim", "search", summary["arch"], summary["workload"], "--out",
            str(folder.path)])),
        (f"Best settings ({summary['objective']})",
         _table(best, {"latency_ns": ",.0f", "aimc_only_latency_ns": ",.0f",
                       "overhead": ".1%"})),
        ("Whole network at the best settings", _table(network, {
            "hybrid_latency_ns": ",.0f", "aimc_only_latency_ns": ",.0f", "overhead": ".1%"})),
    ]
    figures = _figures(folder)
    sections.append(("Figures", "".join(figures)))
    sections.append(("Inputs", _inputs(folder, summary.get("inputs"))))
    return title, sections


def _sweep(folder: RunFolder) -> tuple[str, list[tuple[str, str]]]:
    points = folder.points
    manifest = folder.manifest
    title = f"sweep {manifest.get('name', folder.path.name)}"
    axes = [c for c in points.columns if "." in c]
    shown = [c for c in ["point", *axes, "status", "latency_ns_aimc_only",
                         "latency_ns_hybrid", "overhead"] if c in points]
    sections = [
        ("Reproduce", _command(["aimcsim", "sweep", str(manifest.get("sweep", "SWEEP.yaml")),
                                "--out", str(folder.path)])),
        (f"Points ({len(points)})", _table(points[shown], {"overhead": ".1%"})),
    ]
    figures = _figures(folder)
    if figures:
        sections.append(("Figures", "".join(figures)))
    sections.append(("Inputs", _inputs(folder)))
    return title, sections


__all__ = ["report"]
