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
import math
from pathlib import Path
from typing import Any

import pandas as pd

from aimcsim import __version__, plots
from aimcsim.outputs.console import MISSING, formatted, point_label
from aimcsim.outputs.figures import drawable
from aimcsim.outputs.run_folder import LOAD_FILE, RECORDED, REPORT_FILE, RunFolder
from aimcsim.outputs.run_summary import throughput
from aimcsim.results import static_overhead

NUMBER_T = (int, float)

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.4; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.table { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: right; }
td { white-space: nowrap; } .left { text-align: left; }
td.wrap { white-space: normal; min-width: 12rem; }
th { background: #f3f3f3; }
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


def _table(frame: pd.DataFrame, units: dict[str, str | None] | None = None) -> str:
    """A table of `frame`, each figure formatted (`aimcsim.outputs.console.formatted`: the
    unit `units` gives its column, else the one its name says, `column_unit`)."""
    units = units or {}
    rows = [{c: formatted(v, units[c] if c in units else column_unit(str(c)))
             for c, v in zip(frame.columns, row, strict=True)}
            for row in frame.itertuples(index=False)]
    return _text_table([str(c) for c in frame.columns], rows)


def _text_table(columns: list[str], rows: list[dict[str, str]],
                wrap: tuple[str, ...] = ()) -> str:
    """A table of text cells, in a box that scrolls sideways when it is wider than the page:
    a column of figures (every cell starts as a number does) to the right, of text to the
    left (`wrap`: columns of long text, which wrap)."""
    left = {c for c in columns if not all(r[c][:1] in _NUMERIC for r in rows)}

    def cell(tag: str, column: str, text: str) -> str:
        kinds = [k for k, on in (("left", column in left), ("wrap", column in wrap)) if on]
        return (f'<{tag} class="{" ".join(kinds)}">' if kinds else f"<{tag}>") + \
            f"{html.escape(text)}</{tag}>"

    head = "".join(cell("th", c, c) for c in columns)
    body = "".join("<tr>" + "".join(cell("td", c, r[c]) for c in columns) + "</tr>"
                   for r in rows)
    return (f'<div class="table"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
            "</table></div>")


_NUMERIC = set("0123456789+-.") | {MISSING}


#: the unit a stored column's name says (by its suffix or a word in it), first match wins
_UNITS = (("edp_pj_s", "pJ*s"), ("_pj", "pJ"), ("_ns", "ns"), ("bytes", "B"),
          ("_mm2", "mm^2"), ("overhead", "%"), ("fraction", "%"), ("attainment", "%"),
          ("utilisation", "%"), ("tokens_per_s", "tokens/s"), ("requests_per_s", "requests/s"))


def column_unit(column: str) -> str | None:
    """The unit of a stored column by its name (`latency_ns_hybrid`: ns, `overhead`: a
    fraction); None for a plain number."""
    return next((unit for word, unit in _UNITS if word in column), None)


def _label(column: str) -> str:
    """A stored column's name as a table's header (`aimc_only_latency_ns`: 'AIMC-only
    latency'); the unit is in each cell."""
    words = [w for w in column.replace("aimc_only", "AIMC-only").split("_")
             if w not in ("ns", "pj", "bytes", "mm2")]
    return " ".join(words)


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
    sections = [("Reproduce", _command(command)), ("Headline", _headline(modes))]
    if len(modes) == 2:
        over = static_overhead(layers)
        over["role"] = layers.drop_duplicates("layer").set_index("layer").loc[
            over["layer"], "role"].to_numpy()
        by_role = over.groupby("role", sort=False)["overhead"].agg(
            ["count", "median", "min", "max"]).reset_index()
        by_role.columns = ["layer type", "layers", "median overhead", "min", "max"]
        total = summary.get("total_overhead")
        total = total if isinstance(total, NUMBER_T) else None
        sections.append(("Overhead of the LoRA branch per layer type",
                         (f"<p>Whole network: {formatted(total, '+%')}.</p>"
                          if total is not None else "")
                         + _table(by_role, {c: "%" for c in ("median overhead", "min",
                                                            "max")})))
    figures = _figures(folder)
    sections.append(("Figures", "".join(figures)))
    sections.append(("Inputs", _inputs(folder, summary.get("inputs"))))
    return title, sections


#: the run headline's rows: (figure, where it is in a mode's summary, unit)
HEADLINE = (("latency", ("total_latency_ns",), "ns"),
            ("throughput", ("throughput_tokens_per_s",), "tokens/s"),
            ("tile utilisation", ("utilisation", "aimc"), "%"),
            ("cluster utilisation", ("utilisation", "pmca"), "%"),
            ("link utilisation", ("utilisation", "noc"), "%"),
            ("energy", ("energy", "total_pj"), "pJ"),
            ("energy per token", ("energy", "per_token_pj"), "pJ"),
            ("energy-delay product", ("energy", "edp_pj_s"), "pJ*s"),
            ("operations per energy", ("energy", "tops_per_w"), "TOPS/W"),
            ("area of what the run uses", ("area", "total_mm2"), "mm^2"),
            ("tiles", ("tiles",), None), ("clusters", ("clusters",), None),
            ("TCDM peak", ("tcdm_peak_bytes",), "B"),
            ("GPU estimate: latency", ("gpu_estimate", "latency_ns"), "ns"),
            ("GPU estimate: energy per token", ("gpu_estimate", "per_token_pj"), "pJ"))


def _at(doc: Any, path: tuple[str, ...]) -> Any:
    """The number at `path` of a summary's mapping, or None (a key missing, or no number)."""
    for key in path:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc if isinstance(doc, NUMBER_T) and not isinstance(doc, bool) else None


def _headline(modes: dict[str, Any]) -> str:
    """A run's figures per mode, a row each (a figure no mode has is left out), with the run
    against the GPU's estimate when the run made one."""
    rows = []
    for figure, path, unit in HEADLINE:
        values = {m: _at(s, path) for m, s in modes.items()}
        if figure == "throughput":  # (of a folder written before it was recorded)
            values = {m: v if v is not None else throughput(s) if _at(s, ("tokens",))
                      else None for (m, v), s in zip(values.items(), modes.values(),
                                                     strict=True)}
        if any(v is not None for v in values.values()):
            rows.append({"figure": figure, **{m: formatted(v, unit) for m, v in
                                              values.items()}})
    for figure, mine, ref, unit in (
            ("latency against the GPU", ("total_latency_ns",), ("gpu_estimate", "latency_ns"),
             "x"),
            ("energy per token against the GPU", ("energy", "per_token_pj"),
             ("gpu_estimate", "per_token_pj"), "%")):
        ratios = {m: (_at(s, mine) / _at(s, ref)) if _at(s, mine) and _at(s, ref) else None
                  for m, s in modes.items()}
        if any(v is not None for v in ratios.values()):
            rows.append({"figure": figure, **{m: formatted(v, unit) for m, v in
                                              ratios.items()}})
    return _text_table(["figure", *modes], rows)


def _serve(folder: RunFolder) -> tuple[str, list[tuple[str, str]]]:
    summary = folder.summary({"inputs.model": str})
    inputs = summary["inputs"]
    title = f"serving {inputs['model']}"
    if folder.file(LOAD_FILE).exists():
        table = folder.read(LOAD_FILE)
        shown = pd.DataFrame({
            "offered load": table.rate_per_s,
            **{f"{v.upper()} p{q}": table[f"{v}_ns_p{q}"] for v in ("ttft", "tpot")
               for q in (50, 99)}})
        head = ("Offered loads", _table(shown, {"offered load": "requests/s"}))
    else:
        keys = [k for k in ("requests", "iterations", "throughput_tokens_per_s",
                            "ttft_ns_p50", "ttft_ns_p99", "tpot_ns_p50", "tpot_ns_p99",
                            "slo_attainment", "adapter_loads", "busy_fraction",
                            "energy_per_token_pj") if isinstance(summary.get(k), NUMBER_T)]
        head = ("Headline", _text_table(["figure", "value"], [
            {"figure": _label(k), "value": formatted(summary[k], column_unit(k))}
            for k in keys]))
    sections = [head, ("Figures", "".join(_figures(folder))),
                ("Inputs", _inputs(folder, inputs))]
    return title, sections


def _figures(folder: RunFolder) -> list[str]:
    """Every registered figure the folder's report shows (`aimcsim.outputs.figures`), in the
    registry's order, each with its caption."""
    return [_figure(kind.draw(folder, options), caption)
            for kind in drawable(folder) if kind.report is not None
            for options, caption in kind.report(folder)]


def _search(folder: RunFolder) -> tuple[str, list[tuple[str, str]]]:
    summary = folder.summary({"arch": str, "workload": str, "objective": str,
                              "network": list})
    points = folder.search
    title = f"balance search: {summary['workload']} on {summary['arch']}"
    best = points[points["best"]]
    shown = pd.DataFrame({
        "shape": [f"{a:g}x{b:g}" for a, b in zip(best.d_in, best.d_out, strict=True)],
        "integration time": best["integration_time_ns"], "cores": best["cores"],
        "rank": best["rank"],
        "setting": [f"{s} x{t:g}, {o}" for s, t, o in zip(
            best.strategy, best.parallel_tokens, best.tile_output, strict=True)],
        "latency": best.latency_ns, "AIMC-only latency": best.aimc_only_latency_ns,
        "overhead": best.overhead, "TCDM": best.tcdm_bytes,
        **({"energy": best.energy_pj} if best.energy_pj.notna().any() else {})})
    network = pd.DataFrame([{_label(k): formatted(v, column_unit(k)) for k, v in n.items()
                             if not isinstance(v, (dict, list))}
                            for n in summary["network"] if isinstance(n, dict)])
    sections = [
        ("Reproduce", _command(summary["command"] if isinstance(summary.get("command"), list)
                               else [
            "aimcsim", "search", summary["arch"], summary["workload"], "--out",
            str(folder.path)])),
        (f"Best settings ({summary['objective']})", _table(shown, {
            "integration time": "ns", "latency": "ns", "AIMC-only latency": "ns",
            "overhead": "%", "TCDM": "B", "energy": "pJ"})),
        ("Whole network at the best settings", _table(network)),
    ]
    figures = _figures(folder)
    sections.append(("Figures", "".join(figures)))
    sections.append(("Inputs", _inputs(folder, summary.get("inputs"))))
    return title, sections


def _sweep(folder: RunFolder) -> tuple[str, list[tuple[str, str]]]:
    points = folder.points.sort_values("index", kind="stable")
    manifest = folder.manifest
    title = f"sweep {manifest.get('name', folder.path.name)}"
    skipped = _skipped(manifest)
    failed = points[points["status"] != "ok"]
    sections = [
        ("Reproduce", _command(["aimcsim", "sweep", str(manifest.get("sweep", "SWEEP.yaml")),
                                "--out", str(folder.path)])),
        (f"Points ({len(points)} run, {len(skipped)} skipped)", _points(points)),
    ]
    if skipped or not failed.empty:
        sections.append((f"Points not run ({len(skipped)}) and failed ({len(failed)})",
                         _not_run(skipped, failed, _axes(points))))
    figures = _figures(folder)
    if figures:
        sections.append(("Figures", "".join(figures)))
    sections.append(("Inputs", _inputs(folder)))
    return title, sections


#: the figures of a sweep's points table the report shows, in order: (header, stored column,
#: unit); each is shown when the sweep recorded it (a mode's when the sweep ran that mode)
_POINT_FIGURES = (
    ("AIMC-only latency", "latency_ns_aimc_only", "ns"),
    ("hybrid latency", "latency_ns_hybrid", "ns"), ("overhead", "overhead", "+%"),
    ("AIMC-only energy", "energy_pj_aimc_only", "pJ"),
    ("hybrid energy", "energy_pj_hybrid", "pJ"), ("energy overhead", "energy_overhead", "+%"),
    ("AIMC-only TCDM peak", "tcdm_peak_bytes_aimc_only", "B"),
    ("hybrid TCDM peak", "tcdm_peak_bytes_hybrid", "B"),
    # a serve sweep's (`aimcsim.serve.sweep`)
    ("throughput", "throughput_tokens_per_s", "tokens/s"), ("TTFT p50", "ttft_ns_p50", "ns"),
    ("TTFT p99", "ttft_ns_p99", "ns"), ("TPOT p50", "tpot_ns_p50", "ns"),
    ("TPOT p99", "tpot_ns_p99", "ns"), ("SLO attainment", "slo_attainment", "%"),
    ("adapter loads", "adapter_loads", None))


def _axes(points: pd.DataFrame) -> list[str]:
    """The columns a sweep's point is labelled by: its axes (dotted paths), and the workload
    when the sweep has several."""
    axes = [c for c in points.columns if "." in c]
    return (["workload"] if points["workload"].nunique() > 1 else []) + axes


def _points(points: pd.DataFrame) -> str:
    """A sweep's points, each labelled by its axis values (its id last), with the figures
    the sweep recorded per mode and the overheads."""
    axes = _axes(points)
    shown = [(header, stored, unit) for header, stored, unit in _POINT_FIGURES
             if stored in points and points[stored].notna().any()]
    rows = [{"point": point_label({a: p[a] for a in axes}), "status": str(p["status"]),
             **{header: formatted(p[stored], unit) for header, stored, unit in shown},
             "id": str(p["point"])} for _, p in points.iterrows()]
    return _text_table(["point", "status", *(h for h, _, _ in shown), "id"], rows,
                       wrap=("point",))


def _skipped(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The points a sweep's manifest records as skipped before they ran (each with its index,
    axis values and reason; an entry of another shape is left out)."""
    entries = manifest.get("invalid")
    return [e for e in entries if isinstance(e, dict) and isinstance(e.get("params"), dict)
            and isinstance(e.get("reason"), str)] if isinstance(entries, list) else []


def _not_run(skipped: list[dict[str, Any]], failed: pd.DataFrame, axes: list[str]) -> str:
    """The points skipped before they ran and those that failed, each by its axis values
    with the reason or the error."""
    entries = [(e.get("index"), e["params"], "skipped", e["reason"]) for e in skipped]
    entries += [(p["index"], {a: p[a] for a in axes}, str(p["status"]), str(p["error"]))
                for _, p in failed.iterrows()]
    entries.sort(key=lambda e: float(e[0]) if isinstance(e[0], NUMBER_T) else math.inf)
    rows = [{"point": point_label(params), "index": formatted(index), "status": status,
             "reason": reason} for index, params, status, reason in entries]
    return _text_table(["point", "index", "status", "reason"], rows, wrap=("point", "reason"))


__all__ = ["report"]
