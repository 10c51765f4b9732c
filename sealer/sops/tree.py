"""Walking a SOPS document: which values and comments are encrypted, under which AAD path, and the MAC.

The tree is a list of YAML nodes (ruamel's composer output, or `sealer.sops.nodes` built by the fast YAML reader
and the JSON store; code here tells them apart only by `node.id`), so comments, key order and quoting survive
untouched where we do not encrypt. Order matters: the MAC is a
SHA-512 over leaf values in document order, exactly as sops walks its tree.

Paths (AAD) hold mapping keys only, joined by ':' with a trailing ':'; list indices are not part of them, so
every element of a list shares its list's path. A comment belongs to the mapping or list that encloses it,
decided by its column as go-yaml decides it (ruamel attaches a comment to the node before it, which may be
nested deeper than the comment itself).
"""

from __future__ import annotations

import re

from sealer.errors import InputError
from sealer.sops import scalars
from sealer.sops.nodes import tag_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sealer.sops.nodes import Node, ScalarNode

__all__ = ["tag_name"]


class Rule:
    """A file's one encryption rule (sops allows a single one); none set means `_unencrypted` suffix.

    Immutable, compared and hashed by value."""

    __slots__ = ("encrypted_regex", "encrypted_suffix", "mac_only_encrypted", "unencrypted_regex",
                 "unencrypted_suffix")

    FIELDS = ("unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex")

    def __init__(self, unencrypted_suffix: str | None = None, encrypted_suffix: str | None = None,
                 unencrypted_regex: str | None = None, encrypted_regex: str | None = None,
                 mac_only_encrypted: bool = False) -> None:
        for name, value in (("unencrypted_suffix", unencrypted_suffix), ("encrypted_suffix", encrypted_suffix),
                            ("unencrypted_regex", unencrypted_regex), ("encrypted_regex", encrypted_regex),
                            ("mac_only_encrypted", mac_only_encrypted)):
            object.__setattr__(self, name, value)
        self._check()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def _key(self) -> tuple[object, ...]:
        return (self.unencrypted_suffix, self.encrypted_suffix, self.unencrypted_regex, self.encrypted_regex,
                self.mac_only_encrypted)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Rule:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return ("Rule(unencrypted_suffix={!r}, encrypted_suffix={!r}, unencrypted_regex={!r}, encrypted_regex={!r}, "
                "mac_only_encrypted={!r})").format(*self._key())

    def _check(self) -> None:
        for f in self.FIELDS:
            if getattr(self, f) is not None and not isinstance(getattr(self, f), str):
                raise InputError(f"must be a string, got {type(getattr(self, f)).__name__}", field=f)
        chosen = [f for f in self.FIELDS if getattr(self, f)]
        if len(chosen) > 1:
            raise InputError(f"only one encryption rule may be set, got {', '.join(chosen)}")
        for f in ("unencrypted_regex", "encrypted_regex"):
            if getattr(self, f):
                try:
                    re.compile(getattr(self, f))
                except re.error as e:
                    raise InputError(f"invalid regular expression: {e}", field=f) from None

    @classmethod
    def default(cls, mac_only_encrypted: bool = False) -> Rule:
        return cls(unencrypted_suffix="_unencrypted", mac_only_encrypted=mac_only_encrypted)

    def encrypts(self, path: tuple[str, ...]) -> bool:
        """Whether a value at ``path`` is encrypted: a rule matching any key on the path decides."""
        if self.encrypted_regex:
            return any(re.search(self.encrypted_regex, p) for p in path)
        if self.unencrypted_regex:
            return not any(re.search(self.unencrypted_regex, p) for p in path)
        if self.encrypted_suffix:
            return any(p.endswith(self.encrypted_suffix) for p in path)
        if self.unencrypted_suffix:
            return not any(p.endswith(self.unencrypted_suffix) for p in path)
        return True

    def as_metadata(self) -> dict[str, object]:
        out: dict[str, object] = {f: getattr(self, f) for f in self.FIELDS if getattr(self, f)}
        if self.mac_only_encrypted:
            out["mac_only_encrypted"] = True
        return out


def aad(path: tuple[str, ...]) -> str:
    return "".join(p + ":" for p in path) if path else ":"


class Leaf:
    """A scalar value in the tree. ``loc`` identifies it (keys and list indices); ``path`` is its AAD path;
    ``parent`` is the sequence holding it, when it is a list item."""

    __slots__ = ("loc", "node", "parent", "path")

    def __init__(self, node: ScalarNode, path: tuple[str, ...], loc: tuple[object, ...],
                 parent: Node | None = None) -> None:
        self.node = node
        self.path = path
        self.loc = loc
        self.parent = parent

    @property
    def where(self) -> str:
        """A readable location for messages: data.password, list[2]."""
        out = ""
        for part in self.loc:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out or "<root>"


def _lines(token: object) -> list[str]:
    """The comment lines of a ruamel CommentToken: one per line break, unless the store says the token is one
    comment whatever its line breaks (`whole`: an INI comment block, which sops encrypts as one value)."""
    value = token.value  # type: ignore[attr-defined]
    return [value] if getattr(token, "whole", False) else value.split("\n")


class CommentLine:
    """One `# ...` line inside a ruamel CommentToken, with the paths it may belong to (most likely first)."""

    __slots__ = ("candidates", "line_index", "token")

    def __init__(self, token: object, line_index: int, candidates: list[tuple[str, ...]]) -> None:
        self.token = token
        self.line_index = line_index
        self.candidates = candidates

    @property
    def text(self) -> str:
        """What follows the '#'."""
        line = _lines(self.token)[self.line_index]
        return line.lstrip()[1:]

    def replace(self, text: str) -> None:
        lines = _lines(self.token)
        line = lines[self.line_index]
        indent = line[: len(line) - len(line.lstrip())]
        lines[self.line_index] = f"{indent}#{text}"
        self.token.value = "\n".join(lines)


class _Container:
    __slots__ = ("column", "node", "path")

    def __init__(self, node: Node, path: tuple[str, ...], column: int) -> None:
        self.node = node
        self.path = path
        self.column = column


class Walk:
    """Leaves and comment lines of a document, in document order."""

    __slots__ = ("comments", "leaves")

    def __init__(self) -> None:
        self.leaves: list[Leaf] = []
        self.comments: list[CommentLine] = []


def walk(roots: list[Node]) -> Walk:
    out = Walk()
    seen: set[int] = set()
    for root in roots:
        _walk(root, (), (), [], out, seen)
    return out


def _content_column(node: Node) -> int:
    mark = node.value[0][0].start_mark if node.id == "mapping" and node.value else node.start_mark
    return mark.column if mark is not None else 0


def _walk(node: Node, path: tuple[str, ...], loc: tuple[object, ...], chain: list[_Container], out: Walk,
          seen: set[int], parent: Node | None = None) -> None:
    kind = node.id
    if kind == "mapping":
        chain = [*chain, _Container(node, path, _content_column(node))]
        _comments(node, chain, out, seen)
        for key_node, value_node in node.value:
            if key_node.id != "scalar":
                raise InputError("complex mapping keys are not supported", field=_dotted(loc) or None)
            key = key_node.value
            _comments(key_node, chain, out, seen)
            _walk(value_node, (*path, key), (*loc, key), chain, out, seen)
    elif kind == "sequence":
        chain = [*chain, _Container(node, path, _content_column(node))]
        _comments(node, chain, out, seen)
        for i, item in enumerate(node.value):
            _walk(item, path, (*loc, i), chain, out, seen, node)
    else:
        out.leaves.append(Leaf(node, path, loc, parent))
        _comments(node, chain, out, seen, leaf=True)


def _dotted(loc: tuple[object, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _tokens(comment: object) -> Iterator[object]:
    from ruamel.yaml.tokens import CommentToken

    if isinstance(comment, CommentToken):
        yield comment
    elif isinstance(comment, list | tuple):
        for c in comment:
            yield from _tokens(c)


def _comments(node: Node, chain: list[_Container], out: Walk, seen: set[int], leaf: bool = False) -> None:
    """The comment lines attached to ``node``. An end-of-line comment after a value (the first line of a leaf's
    first token) belongs to the value's own mapping or list whatever its column: once a value is replaced
    (decrypted, set), its column no longer says so, and the owner decides both the AAD and whether the rule
    encrypts it (a comment owned by the root would be written back in plaintext)."""
    comment = getattr(node, "comment", None)
    if not comment:
        return  # nodes sealer reads or builds itself carry none; only ruamel's may
    for n, token in enumerate(_tokens(comment)):
        if id(token) in seen:
            continue
        seen.add(id(token))
        column = token.column
        for i, line in enumerate(_lines(token)):
            stripped = line.lstrip()
            if not stripped.startswith("#"):
                column = None
                continue
            col = column if (i == 0 and column is not None) else len(line) - len(stripped)
            owners = _owners(chain, col)
            if leaf and n == 0 and i == 0 and column is not None and chain:
                owners = [chain[-1].path, *(p for p in owners if p != chain[-1].path)]
            out.comments.append(CommentLine(token, i, owners))


def _owners(chain: list[_Container], column: int) -> list[tuple[str, ...]]:
    """The enclosing container for a comment at ``column``: the deepest one whose content starts at or left of
    it. The others follow as fall-backs for reading files whose comments were placed differently."""
    owner = 0
    for i, c in enumerate(chain):
        if c.column <= column:
            owner = i
    paths = [chain[owner].path] + [c.path for i, c in enumerate(reversed(chain)) if len(chain) - 1 - i != owner]
    unique: list[tuple[str, ...]] = []
    for p in paths:
        if p not in unique:
            unique.append(p)
    return unique


class Mac:
    """SHA-512 over leaf plaintexts in document order; with mac_only_encrypted, seeded and encrypted-only."""

    def __init__(self, mac_only_encrypted: bool) -> None:
        import hashlib

        self._hash = hashlib.sha512()
        self._only_encrypted = mac_only_encrypted
        if mac_only_encrypted:
            self._hash.update(hashlib.sha256(b"sops").digest())

    def add(self, plaintext: bytes, encrypted: bool) -> None:
        if encrypted or not self._only_encrypted:
            self._hash.update(plaintext)

    def hexdigest(self) -> str:
        return self._hash.hexdigest().upper()


def resolve_yaml(node: ScalarNode, implicit_tag: Callable[[str], str]) -> tuple[str, object]:
    """(type, value) of a YAML scalar node as sops (go-yaml v3) reads it."""
    tag = tag_name(node)
    if node.style is not None:  # quoted or block scalar: always a string
        # ruamel marks the fold points of a `>` scalar with \a; the YAML value has them folded away
        text = node.value.replace("\a", "") if node.style == ">" else node.value
        if tag and tag != "tag:yaml.org,2002:str" and tag != implicit_tag(text):
            return scalars.resolve_tagged(tag, text)
        return scalars.STR, text
    if tag and tag != implicit_tag(node.value):
        return scalars.resolve_tagged(tag, node.value)
    return scalars.resolve_plain(node.value)

