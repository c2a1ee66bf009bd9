"""Trace generators: transformer configurations -> workload documents, registered by name.

`TRACES` maps a generator's name (`aimcsim trace NAME`) to it; `for_model` finds the one that
regenerates a trace from its `model` field (sweeps over `workload.seq_len`); `from_config`
traces any Hugging Face `config.json` of a known family (`model_type`). The bundled
configurations live in `workloads/configs/`. A new model family is one function in
`families.py` (or a module) with the dataclass declaring the config.json fields it reads
(`aimcsim.traces.hf_config`), and one entry in `FAMILIES`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aimcsim.errors import SpecError, SpecIssue
from aimcsim.params.files import load_json
from aimcsim.params.reader import shown
from aimcsim.traces.families import DECODERS, FAMILIES
from aimcsim.traces.hf_config import check_tokens
from aimcsim.traces.mobilebert import MOBILEBERT_UNCASED, mobilebert_trace

#: The bundled config.json files (the repository's workloads/configs/).
CONFIGS = Path(__file__).resolve().parents[2] / "workloads" / "configs"


@dataclass(frozen=True)
class TraceGenerator:
    """name: the CLI's name. model: the `model` field of the traces it writes.
    generate(seq_len, config=None, context=0, lm_head=True): the workload document (config:
    the model's config.json fields; None: the bundled default; context: a decode step, which
    an encoder refuses; lm_head: a decoder's LM head traced)."""

    name: str
    model: str
    generate: Callable[..., dict[str, Any]]


def read_config(path: str | Path) -> dict[str, Any]:
    """A config.json as a dict, read as every input is (`aimcsim.params.files`); a
    `SpecError` naming the file when it is not one."""
    cfg = load_json(path)
    if not isinstance(cfg, dict):
        raise SpecError(str(path), [SpecIssue("", "a config.json is a JSON object (a mapping of "
                                                  f"fields), not a {type(cfg).__name__}")])
    return cfg


def from_config(cfg: dict[str, Any], seq_len: int, *, model: str, generator: str,
                file: str = "config.json", name: str = "", context: int = 0,
                lm_head: bool = True) -> dict[str, Any]:
    """The trace of any configuration of a known family, chosen by its `model_type`; with
    `context`, one decode step (seq_len 1) attending to `context` keys (decoders only). A
    decoder's trace ends with its LM head unless `lm_head` is False.

    The family reads the fields it declares (`SpecError` naming `file`, the key and the
    value; unknown keys are allowed) and checks the trace's tokens against the positions the
    model has: refused past learned positions, a `SettingWarning` past rotary ones.
    ValueError for arguments out of range (`seq_len`, `context` within `MAX_TOKENS`)."""
    check_tokens(seq_len, context)
    family = cfg.get("model_type") if isinstance(cfg, dict) else None
    known = sorted([*FAMILIES, "mobilebert"])
    if family not in known:
        raise SpecError(file, [SpecIssue("model_type", f"{shown(family)} is not a family "
                                         f"aimcsim traces; known: {', '.join(known)}")])
    if context:
        if family not in DECODERS:
            raise ValueError(f"{file}: model_type {family!r} has no decode steps (an "
                             f"encoder); decoders: {', '.join(DECODERS)}")
        if seq_len != 1:
            raise ValueError(f"a decode step is 1 token over a context >= 1, got {seq_len} "
                             f"tokens over {context}")
        return FAMILIES[family](1, cfg, model, generator,
                                name or f"{generator}-decode-{context}", context, file=file,
                                lm_head=lm_head)
    if family == "mobilebert":
        return mobilebert_trace(seq_len, {**cfg, "model": model}, file=file)
    if family in DECODERS:
        return FAMILIES[family](seq_len, cfg, model, generator, name, file=file,
                                lm_head=lm_head)
    return FAMILIES[family](seq_len, cfg, model, generator, name, file=file)


def _mobilebert(seq_len: int = 384, config: dict[str, Any] | None = None, context: int = 0,
                lm_head: bool = True) -> dict[str, Any]:
    """`mobilebert_trace` behind the generators' call: an encoder has no decode steps
    (ValueError for a `context`) and no LM head to leave out."""
    if context:
        raise ValueError("mobilebert is an encoder: it has no decode steps")
    return mobilebert_trace(seq_len, config)


def _bundled(name: str, file: str, model: str) -> TraceGenerator:
    def generate(seq_len: int = 128, config: dict[str, Any] | None = None,
                 context: int = 0, lm_head: bool = True) -> dict[str, Any]:
        cfg = config if config is not None else read_config(CONFIGS / file)
        return from_config(cfg, seq_len, model=model, generator=name,
                           file=f"workloads/configs/{file}", context=context, lm_head=lm_head)
    return TraceGenerator(name, model, generate)


TRACES: dict[str, TraceGenerator] = {
    g.name: g for g in (
        TraceGenerator("mobilebert", MOBILEBERT_UNCASED["model"], _mobilebert),
        _bundled("bert-base", "bert-base-uncased.json", "bert-base-uncased"),
        _bundled("bert-large", "bert-large-uncased.json", "bert-large-uncased"),
        _bundled("gpt2", "gpt2.json", "gpt2"),
        _bundled("llama-3.2-1b", "Llama-3.2-1B.json", "meta-llama/Llama-3.2-1B"),
        _bundled("llama-3.1-8b", "Llama-3.1-8B.json", "meta-llama/Llama-3.1-8B"),
    )
}


def config_model(cfg: dict[str, Any], path: Path) -> str:
    """The name of the model a config.json describes: its `_name_or_path`, else its folder's
    name (a model folder's `config.json`), else the file's stem."""
    given = cfg.get("_name_or_path")
    if given is not None and not isinstance(given, str):
        raise SpecError(str(path), [SpecIssue(
            "_name_or_path", f"expected a string (the model's name), got {shown(given)}")])
    return given or (path.resolve().parent.name if path.name == "config.json" else path.stem)


def model_trace(model: str | Path, seq_len: int, *, context: int = 0, lm_head: bool = True,
                generator: str = "--config") -> dict[str, Any]:
    """The trace document of `model`: a bundled generator's name (`TRACES`) or a Hugging Face
    config.json file (its trace named `<model>-<seq_len>`, by `generator`); with `context`, a
    decode step. ValueError naming the bundled models when a text `model` is neither (a
    `Path` is always a file: `read_config` says what is wrong with it)."""
    return generator_for(model, generator).generate(seq_len, context=context, lm_head=lm_head)


def generator_for(model: str | Path, generator: str = "--config") -> TraceGenerator:
    """The generator of `model`: a bundled one by name (`TRACES`) or one of a Hugging Face
    config.json file, read once, now (its traces say they came from `generator`). ValueError
    naming the bundled models when a text `model` is neither."""
    if isinstance(model, str) and model in TRACES:  # (a Path is a file, whatever its name)
        return TRACES[model]
    path = Path(model)
    if isinstance(model, str) and not (path.exists() or path.is_symlink()):
        close = difflib.get_close_matches(model, TRACES, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise ValueError(f"{model}: neither a bundled model ({', '.join(sorted(TRACES))}) "
                         f"nor a config.json file{hint}")
    cfg = read_config(path)
    name = config_model(cfg, path)

    def generate(seq_len: int = 128, config: dict[str, Any] | None = None, context: int = 0,
                 lm_head: bool = True) -> dict[str, Any]:
        return from_config(config if config is not None else cfg, seq_len, model=name,
                           generator=generator, file=str(path), context=context,
                           name=f"{Path(name).name}-{seq_len}", lm_head=lm_head)
    return TraceGenerator(str(path), name, generate)


def for_model(model: str | None) -> TraceGenerator | None:
    """The generator whose traces carry `model`, if any."""
    return next((g for g in TRACES.values() if g.model == model), None)


__all__ = ["CONFIGS", "MOBILEBERT_UNCASED", "TRACES", "TraceGenerator", "config_model",
           "for_model", "from_config", "generator_for", "mobilebert_trace", "model_trace",
           "read_config"]
