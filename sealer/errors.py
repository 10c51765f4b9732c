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


class ScopeMismatch(SealerError):
    """Ciphertext bound to another namespace or name (a SopsSecret's spec.binding), or not bound where it must be:
    someone copied or renamed it. Names are not secret; the message may say both places."""


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


def depth_exceeds(values: list, limit: int = MAX_FLOW_DEPTH) -> bool:
    """Whether parsed documents nest mappings and lists deeper than ``limit``, flow or block alike: the same
    limit whichever parser read them (libyaml's own limit arrived in a release; recursion limits differ between
    loaders and versions). Iterative, so it cannot itself run out of stack."""
    stack = [(value, 1) for value in values]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


TOO_DEEP = "not valid YAML/JSON: nested too deeply"

# YAML libraries word the same problem differently (PyYAML's C and Python loaders, ruamel.yaml, libyaml releases:
# "mapping values are not allowed here" / "... in this context"), quote characters and values from the input
# (ruamel's duplicate-key error quotes both values), and add new errors over time (libyaml's nesting limit).
# A user reads sealer's wording instead: the first fragment found in the library's problem picks it.
YAML_PROBLEMS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("nesting depth", "recursion"), TOO_DEEP.split(": ", 1)[1]),
    (("duplicate key", "already defined"), "a key appears twice in one mapping"),
    (("duplicate anchor",), "an anchor (&name) is defined twice"),
    (("mapping values are not allowed",), "a ': ' where no mapping value may start (quote the value)"),
    (("tab character", "cannot start any token"),
     "a tab, or a character that cannot start a YAML token (indent with spaces; quote values starting with @ or `)"),
    (("undefined alias",), "an alias (*name) with no anchor (&name) before it"),
    (("unknown escape",), "an unknown escape sequence in a double-quoted string"),
    (("end of stream",), "the text ends inside a quoted string"),
    (("',' or ']'",), "a '[' list that is not closed by ']'"),
    (("',' or '}'",), "a '{' mapping that is not closed by '}'"),
    (("block end", "'-' indicator", "expected key"), "indentation does not match the mapping or list around it"),
    (("could not find expected ':'",), "a key without ':' (or a plain value that spans lines)"),
    (("block sequence entries",), "a '- ' list item where no list may start (indentation?)"),
    (("constructor for the tag", "unknown tag"), "unsupported YAML tag"),
    (("unhashable key",), "a mapping key that is itself a list or mapping"),
    (("alphabetic or numeric",), "an anchor, alias or tag name with characters YAML does not allow"),
    (("control characters", "special characters", "unacceptable character", "utf-8", "octet"),
     "a control character or byte sequence YAML does not allow (quote it with escapes)"),
)


def yaml_problem(problem: str) -> str:
    """Sealer's wording for a YAML library's ``problem`` text; "syntax error" for one it does not know."""
    lowered = problem.lower()
    for fragments, wording in YAML_PROBLEMS:
        if any(f in lowered for f in fragments):
            return wording
    return "syntax error"


def yaml_error_message(e: BaseException) -> str:
    """`not valid YAML: <sealer's wording> at line L, column C`, the same whichever YAML library or version
    failed: never the library's text (it changes between versions and quotes the input)."""
    if isinstance(e, RecursionError):
        return TOO_DEEP
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or getattr(e, "reason", None) or ""
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    wording = yaml_problem(f"{problem} {getattr(e, 'context', None) or ''}")
    return f"{TOO_DEEP}{where}" if TOO_DEEP.endswith(wording) else f"not valid YAML: {wording}{where}"


def json_error_message(e: ValueError) -> str:
    """`not valid JSON: <what> at line L, column C` from the standard library's JSONDecodeError."""
    lineno, colno, msg = getattr(e, "lineno", None), getattr(e, "colno", None), getattr(e, "msg", "")
    where = f" at line {lineno}, column {colno}" if lineno is not None else ""
    return f"not valid JSON: {_JSON_PROBLEMS.get(msg.split(':')[0], 'syntax error')}{where}"


# The standard library's json messages, reworded once here (the text after ':' can quote the input).
_JSON_PROBLEMS = {
    "Expecting value": "a value is missing",
    "Expecting ',' delimiter": "a ',' is missing",
    "Expecting ':' delimiter": "a ':' is missing",
    "Expecting property name enclosed in double quotes": "a key is not in double quotes (or a trailing ',')",
    "Extra data": "text after the end of the JSON value",
    "Unterminated string starting at": "a string is not closed",
    "Invalid control character at": "a control character inside a string",
    "Invalid \\escape": "an invalid escape sequence",
    "Invalid \\uXXXX escape": "an invalid \\u escape",
    "Illegal trailing comma before end of object": "a trailing ',' in an object",
    "Illegal trailing comma before end of array": "a trailing ',' in an array",
}
