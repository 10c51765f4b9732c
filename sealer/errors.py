"""The one exception hierarchy. Raised by the library, caught once at the edge (CLI, controller).

Messages are one line, name the file and field, and never contain a secret value: callers build them
from names and positions only, never from the data being processed.
"""

from __future__ import annotations

# Exit codes, documented in README.md ("Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1  # the operation ran and says no: a value no key opens, integrity check failed
EXIT_INPUT = 2  # bad input or usage: unreadable file, malformed manifest, bad key or cert
EXIT_INTERNAL = 70  # a bug in sealer (EX_SOFTWARE); the message says how to get the traceback


class SealerError(Exception):
    """Base of every error sealer raises on purpose."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source
        self.field = field

    def within(self, *, source: str | None = None, context: str | None = None) -> SealerError:
        """Add where the error happened as it propagates outward: the file, then the object in it."""
        if source and not self.source:
            self.source = source
        if context:
            self.field = f"{context}: {self.field}" if self.field else context
        return self

    def __str__(self) -> str:
        parts = [p for p in (self.source, self.field) if p]
        parts.append(self.message)
        return ": ".join(parts)


class InputError(SealerError):
    """The input is malformed: not YAML, not a Secret, bad base64, missing namespace, bad flag combination."""

    exit_code = EXIT_INPUT


class KeyMaterialError(InputError):
    """A key or certificate cannot be used: unreadable, not RSA, expired, too small."""


class DecryptionError(SealerError):
    """Ciphertext that no available key opens, or that fails its integrity check."""


class MacMismatch(DecryptionError):
    """A SOPS file whose MAC does not verify: values added, removed, reordered, changed, or lastmodified edited."""


# ruamel.yaml recurses once or twice per nesting level and scans unclosed flow collections in quadratic time
# (3,000 `[` take over 10 s). Texts nested deeper than this are refused before it sees them.
MAX_FLOW_DEPTH = 300


def flow_depth_exceeds(text: str, limit: int = MAX_FLOW_DEPTH) -> bool:
    """Whether `[` / `{` nest deeper than ``limit``. Brackets inside scalars count too (an overestimate that no
    real file reaches), which keeps this a cheap scan."""
    if text.count("[") + text.count("{") <= limit:
        return False
    import re

    depth = 0
    for m in re.finditer(r"[\[\]{}]", text):
        depth = depth + 1 if m.group() in "[{" else max(depth - 1, 0)
        if depth > limit:
            return True
    return False


def yaml_error_message(e: Exception) -> str:
    """Problem and position only (PyYAML and ruamel errors alike): never the quoted line."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or "syntax error"
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"not valid YAML: {problem}{where}"
