"""How a trace family reads a Hugging Face `config.json`: the fields it uses, declared once on
a frozen dataclass (`Annotated[int, declare(meaning, ge=, le=)]`, as an architecture section
declares its fields), read by the collect-then-fail `Reader` (every message names the file,
the JSON key and the value; a boolean is not a number), then the family's own checks and the
positions the model has.

Unknown keys are allowed: a real config.json carries dozens a trace does not use. A field
whose Hugging Face default is None (`n_inner`, `num_key_value_heads`, `head_dim`: listed in
the class's `NULLABLE`) may be null or absent; its default 0 then stands for the value HF
derives, which its meaning names. A required field has no default: a config that leaves out
a size or a count is not the model it names.

Bounds: no published model comes near them; they keep a trace small (at most `MAX_LAYERS`
transformer layers) and every width a trace writes within what a workload accepts
(`MAX_WIDTH` values per token, `MAX_HEADS` heads, `MAX_TOKENS` tokens), so that a file of
nonsense (10^6 layers, a hidden size of 2^40, a 400-digit integer) is refused before any work.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, TypeVar

from aimcsim.errors import SettingWarning, SpecError, SpecIssue
from aimcsim.params.fields import read_fields
from aimcsim.params.reader import Reader, shown
from aimcsim.spec.workload import MAX_TOKENS, MAX_WIDTH

#: Transformer layers a config.json may declare: the deepest published transformers have
#: about 130 (LLaMA-3.1-405B 126, GPT-3 96); 1,024 keeps a trace below about 20,000 operations
#: (45,000 for a MobileBERT of 8 stacked FFNs), written in seconds.
MAX_LAYERS = 1024
#: Positions a config.json may declare: above every published context window (about 10 M
#: tokens); the value is only compared with the tokens of a trace.
MAX_POSITIONS = 1 << 30

__all__ = ["MAX_LAYERS", "MAX_POSITIONS", "FamilyConfig", "check_tokens", "divides", "read_family",
           "scores_fit", "within"]


class FamilyConfig(Protocol):
    """What a family's config dataclass provides beside its declared fields: `POSITIONS`, the
    field holding the positions the model has; `LEARNED`, whether they are learned absolute
    positions (a trace past them is refused) or rotary ones (RoPE: a warning); `NULLABLE`, the
    keys whose null means HF's default (a class's `NULL_IS_ZERO`, where there is one: the
    keys whose null means 0); `check`, the family's checks after reading, given the
    keys a trace's attention spans: issues recorded on the reader, and the notes to warn
    about (`SettingWarning`) when the file has none."""

    POSITIONS: ClassVar[str]
    LEARNED: ClassVar[bool]
    NULLABLE: ClassVar[tuple[str, ...]]

    def check(self, r: Reader, keys: int) -> list[str]: ...


C = TypeVar("C", bound=FamilyConfig)


def read_family(cls: type[C], cfg: Mapping[str, Any], file: str, *, keys: int,
                decode: bool = False) -> C:
    """The fields `cls` declares, read from the parsed config.json `cfg` (SpecError naming
    `file`, the key and the value, every issue at once), checked by the family and against
    the positions for a trace whose attention spans `keys` keys (the prefill's tokens, or a
    decode step's context when `decode`)."""
    r = Reader(file)
    if not isinstance(cfg, Mapping):
        raise SpecError(file, [SpecIssue("", f"a config.json is a JSON object, got "
                                             f"{shown(cfg)}")])
    zero = getattr(cls, "NULL_IS_ZERO", ())  # (keys whose null is 0, not their default)
    data = {k: 0 if v is None and k in zero else v for k, v in cfg.items()
            if not (v is None and k in cls.NULLABLE)}
    values = read_fields(r, cls, data, "")
    r.finish()  # the checks below need every field read
    config = cls(**values)
    notes = [*config.check(r, keys), *_positions(r, config, cfg, keys, decode)]
    r.finish()  # a refused file gets its errors alone
    for note in notes:
        warnings.warn(SettingWarning(f"{file}: {note}"), stacklevel=3)
    return config


def divides(r: Reader, key: str, value: int, of_key: str, of_value: int, why: str) -> bool:
    """Record an issue at `key` unless `value` divides `of_value`; whether it does."""
    if of_value % value:
        r.error(key, f"{value} does not divide {of_key} = {of_value} ({why})")
        return False
    return True


def within(r: Reader, key: str, what: str, width: int, limit: int = MAX_WIDTH) -> None:
    """Record an issue at `key` when a width the trace would write (`what`) is above a
    workload's bound (a trace `aimcsim run` would refuse is not written)."""
    if width > limit:
        r.error(key, f"{what} = {width} values per token, above the {limit} a workload "
                     "accepts (MAX_WIDTH)")


def scores_fit(r: Reader, key: str, heads: int, keys: int) -> None:
    """The softmax of `heads` heads over `keys` keys: heads x keys values per token."""
    within(r, key, f"the attention scores of {heads} heads x {keys} keys", heads * keys)


def _positions(r: Reader, config: FamilyConfig, cfg: Mapping[str, Any], keys: int,
               decode: bool) -> list[str]:
    """Refuse `keys` past learned positions; the note to warn about past rotary ones."""
    key = config.POSITIONS
    limit = getattr(config, key)
    if keys <= limit:
        return []
    given = "" if key in cfg else " (not in the file: the HF config class's default)"
    what = (f"the {keys} keys of the decode step (the prompt and the tokens generated so far)"
            if decode else f"the trace's {keys} tokens")
    if config.LEARNED:
        r.error(key, f"{limit} learned positions{given}, fewer than {what}: absolute "
                     "position embeddings have no position past them (a config.json that "
                     "gives more traces a model that has them)")
        return []
    return [f"{key} = {limit} rotary positions (RoPE){given}, fewer than {what}: the model runs "
            "past the positions it was trained on (its quality there is unknown); traced as "
            "asked"]


def check_tokens(seq_len: int, context: int) -> None:
    """ValueError unless `seq_len` tokens and a `context` (0: a prefill) are within a
    workload's `MAX_TOKENS`."""
    if not 1 <= seq_len <= MAX_TOKENS:
        raise ValueError(f"seq_len must be in 1..{MAX_TOKENS} tokens, got {seq_len}")
    if not 0 <= context <= MAX_TOKENS:
        raise ValueError(f"context must be in 1..{MAX_TOKENS} keys (0: a prefill), got "
                         f"{context}")

