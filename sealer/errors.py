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
        """One printable line: names and paths from input arrive with their control characters escaped, so
        they can neither drive a terminal nor forge a log line or a CI workflow command (sealer.safetext)."""
        from sealer.safetext import printable

        parts = [p for p in (self.source, self.field) if p]
        parts.append(self.message)
        return printable(": ".join(parts))


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

# YAML aliases (`*name`) share one node, but every reader that walks, copies, encrypts or writes the data sees it
# once per alias: nine levels of nine aliases are 550 bytes and 387 million nodes ("billion laughs"). SOPS files
# and Kubernetes objects never need that. A document is refused before it is constructed when its aliases make it
# larger than ALIAS_EXPANSION_FACTOR times its own size (and more than ALIAS_EXPANSION_FLOOR, so small files may
# share freely), or when it uses more than MAX_ALIASES aliases. Size: one per node plus its scalar's characters.
MAX_ALIASES = 10_000
ALIAS_EXPANSION_FACTOR = 10
ALIAS_EXPANSION_FLOOR = 100_000
ALIAS_BOMB = "not valid YAML: aliases expand too much (alias bomb?)"
ALIAS_LOOP = "not valid YAML: an alias refers to a node that contains it"
DUPLICATE_KEY = "a key appears twice in one mapping"
# YAML libraries' constructors raise plain Python errors for a value that does not fit its (implicit) tag:
# `!!int abc`, `!!int` with no value, `!!bool maybe`, the date-looking `2024-02-30`. Their messages quote the value,
# so both readers (PyYAML's and ruamel's) replace them with this one.
YAML_VALUE_ERRORS = (ValueError, LookupError, TypeError, AttributeError)
YAML_VALUE_ERROR = "not valid YAML: a value does not fit its type (e.g. 2024-02-30 or !!int on text; quote it)"


def check_yaml_graph(root: object, *, duplicates: bool = True, aliases: bool = True,
                     document: int | None = None) -> None:
    """Refuse one composed YAML document (PyYAML's, ruamel.yaml's or sealer's nodes: anything with ``id`` and
    ``value``) whose aliases expand too much or loop, and, with ``duplicates``, a mapping with a key twice
    (compared by text, as go-yaml and so sops compare them). Iterative and linear in the distinct nodes, so it
    runs before anything expands the aliases; ``aliases=False`` when the reader cannot have made any (no `*` in
    the text) skips that part. The InputError names the key and where, never a value."""
    where = f"document {document}" if document else None
    if not aliases:
        if duplicates:
            _check_keys(root, root, where)
        return
    sizes: dict[int, int] = {}  # expanded size of each node done; scalars on sight
    ancestors: set[int] = set()
    own = uses = 0
    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        value = node.value  # type: ignore[attr-defined]
        mapping = node.id == "mapping"  # type: ignore[attr-defined]
        if done:
            ancestors.discard(id(node))
            total = 1
            for child in ([c for pair in value for c in pair] if mapping else value):
                total += sizes[id(child)]
            sizes[id(node)] = total
            continue
        if id(node) in sizes:  # a second path to a collection pushed twice
            uses += 1
            continue
        if node.id not in ("mapping", "sequence"):  # type: ignore[attr-defined]
            sizes[id(node)] = size = 1 + (len(value) if isinstance(value, str) else 0)
            own += size
            continue
        own += 1
        ancestors.add(id(node))
        stack.append((node, True))
        if mapping and duplicates:
            _check_mapping(root, node, where)
        for child in reversed([c for pair in value for c in pair] if mapping else value):
            key = id(child)
            if key in sizes:
                uses += 1
            elif key in ancestors:
                raise InputError(ALIAS_LOOP, field=where)
            elif child.id == "scalar":
                sizes[key] = size = 1 + (len(child.value) if isinstance(child.value, str) else 0)
                own += size
            else:
                stack.append((child, False))
        if uses > MAX_ALIASES:
            raise InputError(ALIAS_BOMB, field=where)
    if sizes[id(root)] > max(ALIAS_EXPANSION_FLOOR, ALIAS_EXPANSION_FACTOR * own):
        raise InputError(ALIAS_BOMB, field=where)


def _check_keys(root: object, node: object, where: str | None) -> None:
    """Every mapping under ``node`` (a tree: each node reached once) has each key once."""
    stack = [node]
    while stack:
        node = stack.pop()
        kind = node.id  # type: ignore[attr-defined]
        if kind == "mapping":
            _check_mapping(root, node, where)
            stack.extend(v for _, v in node.value if v.id != "scalar")  # type: ignore[attr-defined]
        elif kind == "sequence":
            stack.extend(v for v in node.value if v.id != "scalar")  # type: ignore[attr-defined]


def _check_mapping(root: object, mapping: object, where: str | None) -> None:
    pairs = mapping.value  # type: ignore[attr-defined]
    names = {key.value for key, _ in pairs if key.id == "scalar"}
    if len(names) == len(pairs):
        return
    seen: set[str] = set()
    for key, _ in pairs:
        if key.id == "scalar":
            if key.value in seen:
                raise _duplicate(key.value, key, _path_to(root, mapping), where)
            seen.add(key.value)


def _path_to(root: object, target: object) -> str:
    """`spec.template.data`, `items[0].data`: the first path from ``root`` to ``target`` (for a message only)."""
    stack: list[tuple[object, str, int]] = [(root, "", 0)]
    visited: set[int] = set()
    while stack:
        node, path, depth = stack.pop()
        if node is target:
            return path
        if id(node) in visited or depth > 50:
            continue
        visited.add(id(node))
        if node.id == "mapping":  # type: ignore[attr-defined]
            for key, value in node.value:  # type: ignore[attr-defined]
                name = key.value if key.id == "scalar" else "?"
                stack.append((value, f"{path}.{name}" if path else name, depth + 1))
        elif node.id == "sequence":  # type: ignore[attr-defined]
            for i, value in enumerate(node.value):  # type: ignore[attr-defined]
                stack.append((value, f"{path}[{i}]", depth + 1))
    return ""


def _duplicate(name: str, key: object, path: str, where: str | None) -> InputError:
    """`not valid YAML: a key appears twice in one mapping ('name') at line L, column C`, field = the mapping."""
    mark = getattr(key, "start_mark", None)
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    shown = name if len(name) <= 60 else name[:57] + "..."
    field = ": ".join(p for p in (where, path) if p)
    return InputError(f"not valid YAML: {DUPLICATE_KEY} ({shown!r}){at}", field=field or None)


# Input read from a file or stdin is bounded (`sealer decrypt < /dev/zero` stops there instead of growing until
# MemoryError). One knob for every command and reader: the environment variable, as bytes or with a binary
# suffix (k, M, G: 64M is 64 MiB).
MAX_INPUT_ENV = "SEALER_MAX_INPUT"
MAX_INPUT_DEFAULT = 64 * 1024 * 1024
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int | None:
    """Bytes of `1048576`, `512k`, `64M`, `1G` (also `64Mi`, `64MiB`, `64MB`: all binary multiples); else None."""
    import re

    m = re.fullmatch(r"\s*(\d{1,15})\s*(?:([kKmMgGtT])(?:i|iB|B)?|B)?\s*", text)
    if m is None:
        return None
    size = int(m.group(1)) * _SIZE_UNITS[(m.group(2) or "").lower()]
    return size if size > 0 else None


def max_input_bytes() -> int:
    """The input limit: SEALER_MAX_INPUT if set, else 64 MiB. A bad value is a usage error naming the variable."""
    import os

    raw = os.environ.get(MAX_INPUT_ENV, "").strip()
    if not raw:
        return MAX_INPUT_DEFAULT
    size = parse_size(raw)
    if size is None:
        raise InputError("must be a positive number of bytes, optionally with k, M or G (e.g. 256M)",
                         source=MAX_INPUT_ENV)
    return size


def format_size(size: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def input_too_large(limit: int) -> str:
    """The message for input over ``limit``: what the limit is and how to raise it."""
    return f"input larger than the {format_size(limit)} limit (raise it with {MAX_INPUT_ENV}, e.g. " \
           f"{MAX_INPUT_ENV}={max(2 * limit >> 20, 1)}M)"

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
