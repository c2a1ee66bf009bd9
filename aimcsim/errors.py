"""The library's exceptions: one base class, so callers can catch everything aimcsim raises."""

from __future__ import annotations

from dataclasses import dataclass


class AimcsimError(Exception):
    """Base class of every error aimcsim raises on purpose."""


@dataclass(frozen=True)
class SpecIssue:
    """One problem found in an input file: where (YAML dot-path) and what."""

    path: str
    message: str
    file: str | None = None  # the file the value came from, where not the one validated

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class SpecError(AimcsimError):
    """An input file (architecture, workload, sweep) failed validation.

    Carries every issue found in the file, so a user fixes them all in one pass.
    """

    def __init__(self, file: str, issues: list[SpecIssue]) -> None:
        self.file = file
        self.issues = list(issues)
        lines = [f"{issue.file or file}: {issue}" for issue in self.issues]
        # the head names the file every issue is in (a settings file over an architecture)
        culprits = {issue.file or file for issue in self.issues}
        head = f"{culprits.pop() if len(culprits) == 1 else file}: {len(self.issues)} error(s)"
        super().__init__("\n".join([head, *lines]) if len(lines) > 1 else lines[0])


class CapacityError(AimcsimError):
    """A buffer set does not fit the memory it must live in (e.g. a token block in TCDM)."""

    def __init__(self, message: str, *, needed_bytes: int, capacity_bytes: int) -> None:
        self.needed_bytes = needed_bytes
        self.capacity_bytes = capacity_bytes
        super().__init__(message)


class AimcsimWarning(UserWarning):
    """Base class of every warning aimcsim gives (the CLI prints each as one plain line)."""


class StoredDataWarning(AimcsimWarning):
    """Something aimcsim had stored on disk (a sweep's part, a kernel-store entry) could not
    be read or was not valid: it is ignored and computed again; the message says what and
    where."""


class CapacityWarning(AimcsimWarning):
    """A buffer set is above the memory it would live in, where aimcsim computes it anyway (a
    kernel run alone, to see what it would take); a run of the network refuses it instead
    (`CapacityError`)."""


class SettingWarning(AimcsimWarning):
    """A setting was used in another form than given (e.g. a block larger than the workload's
    tokens runs as one block of all tokens); the message says what was used."""


class KernelStoreWarning(StoredDataWarning):
    """The kernel store on disk (`aimcsim.hw.pmca.memo`) held an entry that cannot be a kernel's
    timing, or could not be used at all: the kernel was simulated instead (and its entry
    rewritten). The message names the store's file and what was wrong; it is given once per
    process and store."""
