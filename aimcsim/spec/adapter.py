"""A PEFT LoRA adapter's `adapter_config.json`: which static layers carry an adapter, and of
what rank, matched as PEFT (Hugging Face `peft.LoraConfig`) matches them.

PEFT decides per module, by the module's dotted path in the model
(`model.layers.3.self_attn.q_proj`). Each traced static layer has such a path: its block index
(the layer's index in the model) and the module its role is traced from, below the family's
layer container (`model.layers` for LLaMA, Mistral and Qwen2, `transformer.h` for GPT-2,
`bert.encoder.layer` for BERT; `lm_head` at the top). The modules and their roles:

- LLaMA, Mistral, Qwen2: `self_attn.{q,k,v,o}_proj`, `mlp.{gate,up,down}_proj`;
- GPT-2: `attn.c_attn` (Q, K and V as one module), `attn.c_proj`, `mlp.c_fc`, `mlp.c_proj`;
- BERT: `attention.self.{query,key,value}`, `attention.output.dense`, `intermediate.dense`,
  `output.dense`;
- every decoder: `lm_head`.

On those paths, as PEFT does:

- `target_modules`: a list of names, each matching a path equal to it or ending with `.` and
  it; a string, a regular expression the whole path must match; or `all-linear` (every linear
  layer but the output head);
- `exclude_modules`, likewise, leaves modules out;
- `layers_to_transform` (an index or a list of them; with a list of `target_modules` only)
  keeps the modules whose path holds `.<pattern>.<index>.` for one of those indices, the
  pattern `layers_pattern`'s or one of `layers`, `h`, `block`, `blocks`, `layer`; a module
  with no layer index (`lm_head`) is then left out;
- `rank_pattern`: the first key, in the file's order, with `re.match(rf"(.*\\.)?({key})$",
  path)` gives that module's rank; the others have `r`.

What a trace cannot express is refused by name, never approximated: other adapter types than
LoRA, DoRA (`use_dora`: a magnitude vector and a column norm besides A and B), replicated
layers, adapters on parameters (`target_parameters`). `modules_to_save` (fully trained copies
of some modules, whose weights differ from the programmed base) is not modelled and a warning
says so. GPT-2's fused `c_attn` carries one A (hidden x r) and one B (r x 3 hidden); the trace
has Q, K and V as three static layers, so an adapter on it is one of rank r on each, and a
warning says so (the X A of the fused module is computed three times).

A regular expression read from a file is matched against paths of at most a few dozen
characters, but a nested repetition (`(a+)+`, `(a|a)*`) can still take exponential time: such
patterns are refused, and so are patterns of more than five repetitions (k adjacent `.*` try
about C(n + k, k) ways to split a path of n characters), so no adapter file can hang a run.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from aimcsim.errors import SettingWarning, SpecError, SpecIssue
from aimcsim.params.files import load_json
from aimcsim.params.reader import Reader, join, shown

try:  # (the parser of the re module: private, renamed in Python 3.11)
    import re._parser as _sre  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre  # type: ignore[no-redef]

#: each family's layer container (the path to its layer N is `<container>.N`)
CONTAINERS = {"llama": "model.layers", "gpt2": "transformer.h", "bert": "bert.encoder.layer"}

#: each traced module -> (its family, or "" for the model's top, its roles)
MODULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "self_attn.q_proj": ("llama", ("query",)), "self_attn.k_proj": ("llama", ("key",)),
    "self_attn.v_proj": ("llama", ("value",)),
    "self_attn.o_proj": ("llama", ("attention_output",)),
    "mlp.gate_proj": ("llama", ("ffn_gate",)), "mlp.up_proj": ("llama", ("ffn_intermediate",)),
    "mlp.down_proj": ("llama", ("ffn_output",)),
    "attn.c_attn": ("gpt2", ("query", "key", "value")),
    "attn.c_proj": ("gpt2", ("attention_output",)), "mlp.c_fc": ("gpt2", ("ffn_intermediate",)),
    "mlp.c_proj": ("gpt2", ("ffn_output",)),
    "attention.self.query": ("bert", ("query",)), "attention.self.key": ("bert", ("key",)),
    "attention.self.value": ("bert", ("value",)),
    "attention.output.dense": ("bert", ("attention_output",)),
    "intermediate.dense": ("bert", ("ffn_intermediate",)),
    "output.dense": ("bert", ("ffn_output",)),
    "lm_head": ("", ("lm_head",)),
}
FUSED = "attn.c_attn"
_ROLES = tuple(dict.fromkeys(r for _, roles in MODULES.values() for r in roles))
LM_HEAD = "lm_head"
#: PEFT's layer containers when `layers_pattern` is not given (COMMON_LAYERS_PATTERN)
LAYERS_PATTERNS = ("layers", "h", "block", "blocks", "layer")
#: keys of a LoRA config whose variants the traces cannot express (true or non-empty)
REFUSED = {"use_dora": "DoRA adds a magnitude vector and a column norm besides A and B",
           "layer_replication": "replicated layers change the model's shape",
           "target_parameters": "adapters on parameters, not on linear modules"}
_MAX_PATTERN = 1_000
#: repetitions a pattern may hold: k adjacent `.*` try about C(n + k, k) splits of a path of n
#: characters, 3 million at k = 5 for the longest traced paths (some milliseconds)
_MAX_REPEATS = 5


def module_paths(block: int, role: str) -> tuple[tuple[str, str], ...]:
    """The (module, path) of every traced module a static layer of `role` in block (layer)
    `block` can be, in every family."""
    return _paths(block, role)


@lru_cache(maxsize=4096)
def _paths(block: int, role: str) -> tuple[tuple[str, str], ...]:
    return tuple((m, m if not family else f"{CONTAINERS[family]}.{block}.{m}")
                 for m, (family, roles) in MODULES.items() if role in roles)


@dataclass(frozen=True)
class Adapter:
    """A PEFT LoRA adapter as read from its `adapter_config.json` (see the module docstring).
    `targets`: a tuple of names, a regular expression (str) or "all-linear"."""

    file: str
    rank: int
    targets: tuple[str, ...] | str
    exclude: tuple[str, ...] | str = ()
    rank_pattern: tuple[tuple[str, int], ...] = ()
    layers: tuple[int, ...] | None = None
    layers_pattern: tuple[str, ...] = LAYERS_PATTERNS

    def rank_of(self, block: int, role: str) -> int | None:
        """The rank of the adapter on the static layer of `role` in block `block` (None:
        none there): the first of its modules the adapter targets."""
        return _rank_of(self, block, role)

    def _targets(self, path: str) -> bool:
        if _names(self.exclude, path):
            return False
        if self.targets == "all-linear":
            found = not path.endswith(LM_HEAD)
        elif isinstance(self.targets, str):
            return re.fullmatch(self.targets, path) is not None  # (no layer indices: PEFT's)
        else:
            found = any(path == t or path.endswith("." + t) for t in self.targets)
        if not found or self.layers is None:
            return found
        for pattern in self.layers_pattern:
            index = re.match(rf".*\.{pattern}\.(\d+)\.", path)
            if index is not None:
                return int(index.group(1)) in self.layers
        return False

    def _rank(self, path: str) -> int:
        for key, rank in self.rank_pattern:
            if re.match(rf"(.*\.)?({key})$", path):
                return rank
        return self.rank


@lru_cache(maxsize=65_536)
def _rank_of(adapter: Adapter, block: int, role: str) -> int | None:
    for _, path in module_paths(block, role):
        if adapter._targets(path):
            return adapter._rank(path)
    return None


def _names(names: tuple[str, ...] | str, path: str) -> bool:
    if isinstance(names, str):
        return re.fullmatch(names, path) is not None
    return any(path == n or path.endswith("." + n) for n in names)


def read_adapter(path: str | Path) -> Adapter:
    """A PEFT LoRA `adapter_config.json` as an `Adapter`; SpecError naming the file and the
    key for anything a trace cannot express or a value PEFT would refuse."""
    doc = load_json(path)
    file = str(path)
    if not isinstance(doc, dict):
        raise SpecError(file, [SpecIssue("", f"expected a JSON object, got {shown(doc)}")])
    issues: list[SpecIssue] = []
    kind = doc.get("peft_type", "LORA")
    if kind != "LORA":
        issues.append(SpecIssue("peft_type", f"{shown(kind)}: only LORA adapters are modelled"))
    for key, why in REFUSED.items():
        if doc.get(key) not in (None, False, [], {}):
            issues.append(SpecIssue(key, f"{shown(doc[key])}: not modelled ({why})"))
    rank = _rank_value(doc.get("r"), "r", issues)
    targets = _modules(doc.get("target_modules"), "target_modules", issues, required=True)
    exclude = _modules(doc.get("exclude_modules"), "exclude_modules", issues)
    pattern: list[tuple[str, int]] = []
    raw = doc.get("rank_pattern") or {}
    if not isinstance(raw, dict):
        issues.append(SpecIssue("rank_pattern", f"expected an object of module name (or "
                                f"regular expression) -> rank, got {shown(raw)}"))
        raw = {}
    for key, value in raw.items():
        if _pattern(key, f"rank_pattern.{key}", issues):
            pattern.append((key, _rank_value(value, f"rank_pattern.{key}", issues)))
    layers = _layers(doc, targets, issues)
    lp = doc.get("layers_pattern")
    layers_pattern = LAYERS_PATTERNS
    if lp not in (None, [], ""):
        items = [lp] if isinstance(lp, str) else lp
        if not (isinstance(items, list) and all(isinstance(i, str) for i in items)):
            issues.append(SpecIssue("layers_pattern", f"expected a name or a list of names, "
                                    f"got {shown(lp)}"))
        elif layers is None:
            issues.append(SpecIssue("layers_pattern", "given without layers_to_transform "
                                    "(PEFT refuses it)"))
        else:
            layers_pattern = tuple(items)
    if issues:
        raise SpecError(file, issues)
    adapter = Adapter(file, rank, targets, exclude, tuple(pattern), layers, layers_pattern)
    if any(adapter._targets(f"{CONTAINERS['gpt2']}.{block}.{FUSED}")
           for block in range(1 + max(layers or (1,)))):
        warnings.warn(SettingWarning(
            f"{file}: target_modules: GPT-2's fused c_attn (Q, K and V in one module: one A, "
            "one B of 3 x hidden columns) is traced as three layers, so its adapter runs as one "
            "of rank r on each of query, key and value"), stacklevel=2)
    if doc.get("modules_to_save"):
        warnings.warn(SettingWarning(
            f"{file}: modules_to_save {shown(doc['modules_to_save'])}: fully trained copies of "
            "these modules (their weights differ from the programmed base) are not modelled"),
            stacklevel=2)
    return adapter


def read_adapter_at(r: Reader, d: dict[str, Any], p: str) -> Adapter | None:
    """The `adapter` key of the mapping `d` at YAML path `p` (a file name, made absolute by
    `aimcsim.spec.arch.read_arch_doc`) as an `Adapter`; its errors reported by `r` at
    `<p>.adapter`, naming the adapter file."""
    name = r.take(d, p, "adapter", str, default="")
    if not name:
        return None
    try:
        return read_adapter(name)
    except SpecError as exc:
        for issue in exc.issues:
            r.error(join(p, "adapter"), f"{exc.file}: {issue}")
        return None


def read_peft(path: str | Path) -> tuple[int, tuple[str, ...] | str]:
    """(r, the roles an adapter targets in some layer, or "all" for all-linear without other
    restrictions) of an `adapter_config.json` (`read_adapter`)."""
    adapter = read_adapter(path)
    if (adapter.targets == "all-linear" and not adapter.exclude and adapter.layers is None
            and not adapter.rank_pattern):
        return adapter.rank, "all"
    roles = dict.fromkeys(r for _, (_, rs) in MODULES.items() for r in rs)
    return adapter.rank, tuple(r for r in roles if any(
        adapter.rank_of(block, r) for block in range(1 + max(adapter.layers or (1,)))))


def _rank_value(value: Any, key: str, issues: list[SpecIssue]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65_536:
        issues.append(SpecIssue(key, f"expected a rank, an integer from 1 to 65536, got "
                                f"{shown(value)}"))
        return 1
    return value


def _modules(value: Any, key: str, issues: list[SpecIssue], *, required: bool = False,
             ) -> tuple[str, ...] | str:
    if value is None and not required:
        return ()
    if value == "all-linear" and key == "target_modules":
        return value
    if isinstance(value, str):
        if not _pattern(value, key, issues):
            return ()
        # (a pattern naming a layer index is checked against the workload when placed)
        if key == "target_modules" and not any(
                re.fullmatch(value, path) for block in range(4) for role in _ROLES
                for _, path in module_paths(block, role)) and not re.search(r"\d", value):
            issues.append(SpecIssue(key, f"{value!r} matches no traced module; the modules are: "
                                    f"{', '.join(MODULES)}"))
        return value
    if isinstance(value, list) and (value or not required) \
            and all(isinstance(t, str) for t in value):
        unknown = [t for t in value if not any(
            m == t or m.endswith("." + t) or t.endswith("." + m) for m in MODULES)]
        if unknown and key == "target_modules":
            issues.append(SpecIssue(key, f"{', '.join(map(repr, unknown))} name(s) no traced "
                                    f"module; the modules are: {', '.join(MODULES)}"))
        return tuple(value)
    issues.append(SpecIssue(key, f"expected a list of module names, a regular expression"
                            f"{' or all-linear' if key == 'target_modules' else ''}, got "
                            f"{shown(value)}"))
    return ()


def _pattern(text: str, key: str, issues: list[SpecIssue]) -> bool:
    """Whether `text` is a regular expression safe to match (no nested repetition)."""
    if len(text) > _MAX_PATTERN:
        issues.append(SpecIssue(key, f"a pattern of {len(text)} characters (at most "
                                f"{_MAX_PATTERN})"))
        return False
    try:
        tree = _sre.parse(text)
    except re.error as exc:
        issues.append(SpecIssue(key, f"{text!r} is no regular expression ({exc})"))
        return False
    if _nested(tree, inside=False):
        issues.append(SpecIssue(key, f"{text!r}: a repetition of a repetition or of "
                                "alternatives (e.g. (a+)+, (a|b)*) can take exponential time; "
                                "write it without one"))
        return False
    if (count := _repeats(tree)) > _MAX_REPEATS:
        issues.append(SpecIssue(key, f"{text!r}: {count} repetitions (at most {_MAX_REPEATS}: "
                                "each multiplies the time to match a path)"))
        return False
    return True


def _repeats(items: Any) -> int:
    """The repetitions of more than one (`*`, `+`, `{2,}`) in a parsed pattern."""
    count = 0
    for op, arg in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            count += (arg[1] == _sre.MAXREPEAT or arg[1] > 1) + _repeats(arg[2])
        elif name == "BRANCH":
            count += sum(_repeats(b) for b in arg[1])
        elif name == "SUBPATTERN":
            count += _repeats(arg[-1])
        elif name in ("ASSERT", "ASSERT_NOT"):
            count += _repeats(arg[1])
    return count


def _nested(items: Any, *, inside: bool) -> bool:
    for op, arg in items:
        name = str(op)
        if name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            _, high, body = arg
            many = high == _sre.MAXREPEAT or high > 1
            if many and inside:
                return True
            if _nested(body, inside=inside or many):
                return True
        elif name == "BRANCH":
            if inside:
                return True
            if any(_nested(b, inside=inside) for b in arg[1]):
                return True
        elif name == "SUBPATTERN":
            if _nested(arg[-1], inside=inside):
                return True
        elif name in ("ASSERT", "ASSERT_NOT"):
            if _nested(arg[1], inside=inside):
                return True
    return False


def _layers(doc: dict[str, Any], targets: tuple[str, ...] | str, issues: list[SpecIssue],
            ) -> tuple[int, ...] | None:
    raw = doc.get("layers_to_transform")
    if raw is None or raw == []:
        return None
    items = [raw] if isinstance(raw, int) and not isinstance(raw, bool) else raw
    if not (isinstance(items, list) and all(
            isinstance(i, int) and not isinstance(i, bool) and 0 <= i <= 1_000_000
            for i in items)):
        issues.append(SpecIssue("layers_to_transform", f"expected a layer index or a list of "
                                f"them (0 to 1000000), got {shown(raw)}"))
        return None
    if isinstance(targets, str) and targets != "all-linear":
        issues.append(SpecIssue("layers_to_transform", "cannot be used with target_modules "
                                "as a regular expression (PEFT refuses it)"))
        return None
    return tuple(sorted(set(items)))


__all__ = ["CONTAINERS", "MODULES", "Adapter", "module_paths", "read_adapter", "read_adapter_at",
           "read_peft"]
