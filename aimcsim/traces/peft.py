"""A PEFT LoRA adapter's `adapter_config.json` as the `lora` section's rank and layers.

PEFT (Hugging Face `peft.LoraConfig`) names the modules an adapter wraps by `target_modules`:
a list of names, each matching a module whose dotted path ends with it (`q_proj` matches
`model.layers.3.self_attn.q_proj`), a string matched as a regular expression against the whole
path, or `all-linear` (every linear layer but the output head). The modules of each traced
family's layer are below, each with the static-layer role it is traced as
(`aimcsim.traces.families`):

- LLaMA, Mistral, Qwen2: `self_attn.{q,k,v,o}_proj`, `mlp.{gate,up,down}_proj`;
- GPT-2: `attn.c_attn` (Q, K and V as one module), `attn.c_proj`, `mlp.c_fc`, `mlp.c_proj`;
- BERT: `attention.self.{query,key,value}`, `attention.output.dense`, `intermediate.dense`,
  `output.dense`;
- every decoder: `lm_head`.

What a trace cannot express is refused with its reason, never approximated: ranks that differ
between modules (`rank_pattern`), adapters on some layers only (`layers_to_transform`), other
adapter types than LoRA. GPT-2's fused `c_attn` carries one A (hidden x r) and one B (r x
3 hidden); the trace has Q, K and V as three static layers, so an adapter on it is one of rank
r on each, and a warning says so (the X A of the fused module is computed three times).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

from aimcsim.errors import SettingWarning, SpecError, SpecIssue
from aimcsim.params.files import load_json
from aimcsim.params.reader import shown

#: each traced module's path within a layer (or the model, for lm_head) -> its roles
MODULES: dict[str, tuple[str, ...]] = {
    "self_attn.q_proj": ("query",), "self_attn.k_proj": ("key",),
    "self_attn.v_proj": ("value",), "self_attn.o_proj": ("attention_output",),
    "mlp.gate_proj": ("ffn_gate",), "mlp.up_proj": ("ffn_intermediate",),
    "mlp.down_proj": ("ffn_output",),
    "attn.c_attn": ("query", "key", "value"), "attn.c_proj": ("attention_output",),
    "mlp.c_fc": ("ffn_intermediate",), "mlp.c_proj": ("ffn_output",),
    "attention.self.query": ("query",), "attention.self.key": ("key",),
    "attention.self.value": ("value",), "attention.output.dense": ("attention_output",),
    "intermediate.dense": ("ffn_intermediate",), "output.dense": ("ffn_output",),
    "lm_head": ("lm_head",),
}
FUSED = "attn.c_attn"


def read_peft(path: str | Path) -> tuple[int, tuple[str, ...] | str]:
    """(rank, the roles that carry adapters, or "all") of a PEFT LoRA `adapter_config.json`;
    SpecError naming the file and the key for anything a trace cannot express."""
    doc = load_json(path)
    issues: list[SpecIssue] = []
    if not isinstance(doc, dict):
        raise SpecError(str(path), [SpecIssue("", f"expected a JSON object, got {shown(doc)}")])
    kind = doc.get("peft_type", "LORA")
    if kind != "LORA":
        issues.append(SpecIssue("peft_type", f"{shown(kind)}: only LORA adapters are modelled"))
    rank = doc.get("r")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= 65_536:
        issues.append(SpecIssue("r", f"expected a rank, an integer from 1 to 65536, got "
                                f"{shown(rank)}"))
    pattern = doc.get("rank_pattern") or {}
    if not isinstance(pattern, dict) or any(v != rank for v in pattern.values()):
        issues.append(SpecIssue("rank_pattern", f"{shown(pattern)}: ranks that differ between "
                                "modules are not modelled (every adapted layer has rank r)"))
    if doc.get("layers_to_transform") not in (None, []):
        issues.append(SpecIssue("layers_to_transform", f"{shown(doc['layers_to_transform'])}: "
                                "adapters on some transformer layers only are not modelled "
                                "(every layer's selected modules carry one)"))
    roles = _roles(doc.get("target_modules"), issues)
    if issues:
        raise SpecError(str(path), issues)
    return rank, roles


def _roles(targets: Any, issues: list[SpecIssue]) -> tuple[str, ...] | str:
    if targets == "all-linear":
        return "all"
    if isinstance(targets, str):
        try:
            regex = re.compile(targets)
        except re.error as exc:
            issues.append(SpecIssue("target_modules", f"{targets!r} is no regular expression "
                                    f"({exc})"))
            return ()
        # (PEFT matches the whole path: a layer's modules sit under '...layers.N.')
        found = [m for m in MODULES if regex.fullmatch(m) or regex.fullmatch(f"layers.0.{m}")
                 or regex.fullmatch(f"model.layers.0.{m}")]
    elif isinstance(targets, list) and targets and all(isinstance(t, str) for t in targets):
        found, unknown = [], []
        for target in targets:
            matched = [m for m in MODULES if m == target or m.endswith("." + target)
                       or target.endswith("." + m)]
            found += matched
            if not matched:
                unknown.append(target)
        if unknown:
            issues.append(SpecIssue("target_modules", f"{', '.join(map(repr, unknown))} "
                                    f"name(s) no traced module; the modules are: "
                                    f"{', '.join(MODULES)}"))
    else:
        issues.append(SpecIssue("target_modules", f"expected a list of module names, a regular "
                                f"expression or all-linear, got {shown(targets)}"))
        return ()
    if not found and not issues:
        issues.append(SpecIssue("target_modules", f"{targets!r} matches no traced module; the "
                                f"modules are: {', '.join(MODULES)}"))
    if FUSED in found:
        warnings.warn(SettingWarning(
            "target_modules: GPT-2's fused c_attn (Q, K and V in one module: one A, one B of "
            "3 x hidden columns) is traced as three layers, so its adapter runs as one of rank r "
            "on each of query, key and value"), stacklevel=3)
    return tuple(dict.fromkeys(role for m in found for role in MODULES[m]))
