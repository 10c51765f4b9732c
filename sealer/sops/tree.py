"""Walking a SOPS document: which values and comments are encrypted, under which AAD path, and the MAC.

The tree is a list of YAML nodes (ruamel's composer output, or nodes built from JSON by the JSON store), so
comments, key order and quoting survive untouched where we do not encrypt. Order matters: the MAC is a
SHA-512 over leaf values in document order, exactly as sops walks its tree.

Paths (AAD) hold mapping keys only, joined by ':' with a trailing ':'; list indices are not part of them, so
every element of a list shares its list's path. A comment belongs to the mapping or list that encloses it,
decided by its column as go-yaml decides it (ruamel attaches a comment to the node before it, which may be
nested deeper than the comment itself).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.tokens import CommentToken

from sealer.errors import InputError
from sealer.sops import scalars

Resolver = Callable[[ScalarNode], tuple[str, object]]


@dataclass(frozen=True)
class Rule:
    """A file's one encryption rule (sops allows a single one); none set means `_unencrypted` suffix."""

    unencrypted_suffix: str | None = None
    encrypted_suffix: str | None = None
    unencrypted_regex: str | None = None
    encrypted_regex: str | None = None
    mac_only_encrypted: bool = False

    FIELDS = ("unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex")

    def __post_init__(self) -> None:
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


@dataclass
class Leaf:
    """A scalar value in the tree. ``loc`` identifies it (keys and list indices); ``path`` is its AAD path."""

    node: ScalarNode
    path: tuple[str, ...]
    loc: tuple[object, ...]
    parent: Node | None = None  # the sequence holding it, when it is a list item

    @property
    def where(self) -> str:
        """A readable location for messages: data.password, list[2]."""
        out = ""
        for part in self.loc:
            out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
        return out or "<root>"


@dataclass
class CommentLine:
    """One `# ...` line inside a ruamel CommentToken, with the paths it may belong to (most likely first)."""

    token: CommentToken
    line_index: int
    candidates: list[tuple[str, ...]]

    @property
    def text(self) -> str:
        """What follows the '#'."""
        line = self.token.value.split("\n")[self.line_index]
        return line.lstrip()[1:]

    def replace(self, text: str) -> None:
        lines = self.token.value.split("\n")
        line = lines[self.line_index]
        indent = line[: len(line) - len(line.lstrip())]
        lines[self.line_index] = f"{indent}#{text}"
        self.token.value = "\n".join(lines)


@dataclass
class _Container:
    node: Node
    path: tuple[str, ...]
    column: int


@dataclass
class Walk:
    """Leaves and comment lines of a document, in document order."""

    leaves: list[Leaf] = field(default_factory=list)
    comments: list[CommentLine] = field(default_factory=list)


def walk(roots: list[Node]) -> Walk:
    out = Walk()
    seen: set[int] = set()
    for root in roots:
        _walk(root, (), (), [], out, seen)
    return out


def _content_column(node: Node) -> int:
    mark = node.value[0][0].start_mark if isinstance(node, MappingNode) and node.value else node.start_mark
    return mark.column if mark is not None else 0


def _walk(node: Node, path: tuple[str, ...], loc: tuple[object, ...], chain: list[_Container], out: Walk,
          seen: set[int], parent: Node | None = None) -> None:
    if isinstance(node, MappingNode):
        chain = [*chain, _Container(node, path, _content_column(node))]
        _comments(node, chain, out, seen)
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise InputError("complex mapping keys are not supported", field=_dotted(loc) or None)
            key = key_node.value
            _comments(key_node, chain, out, seen)
            _walk(value_node, (*path, key), (*loc, key), chain, out, seen)
    elif isinstance(node, SequenceNode):
        chain = [*chain, _Container(node, path, _content_column(node))]
        _comments(node, chain, out, seen)
        for i, item in enumerate(node.value):
            _walk(item, path, (*loc, i), chain, out, seen, node)
    else:
        out.leaves.append(Leaf(node, path, loc, parent))
        _comments(node, chain, out, seen)


def _dotted(loc: tuple[object, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _tokens(comment: object) -> Iterator[CommentToken]:
    if isinstance(comment, CommentToken):
        yield comment
    elif isinstance(comment, list | tuple):
        for c in comment:
            yield from _tokens(c)


def _comments(node: Node, chain: list[_Container], out: Walk, seen: set[int]) -> None:
    for token in _tokens(getattr(node, "comment", None)):
        if id(token) in seen:
            continue
        seen.add(id(token))
        column = token.column
        for i, line in enumerate(token.value.split("\n")):
            stripped = line.lstrip()
            if not stripped.startswith("#"):
                column = None
                continue
            col = column if (i == 0 and column is not None) else len(line) - len(stripped)
            out.comments.append(CommentLine(token, i, _owners(chain, col)))


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


def tag_name(node: Node) -> str | None:
    """ruamel gives composed nodes a Tag object, but a plain string in some paths."""
    t = node.tag
    return t if t is None or isinstance(t, str) else t.value
