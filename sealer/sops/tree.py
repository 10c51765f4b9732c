"""Walking a SOPS document: which values and comments are encrypted, under which AAD path, and the MAC.

The tree is a list of YAML nodes (ruamel's composer output, or `sealer.sops.nodes` built by the fast YAML reader
and the JSON store; code here tells them apart only by `node.id`), so comments, key order and quoting survive
untouched where we do not encrypt. Order matters: the MAC is a
SHA-512 over leaf values in document order, exactly as sops walks its tree.

Paths (AAD) hold mapping keys only, joined by ':' with a trailing ':'; list indices are not part of them, so
every element of a list shares its list's path. A comment belongs to the mapping or list that encloses it,
decided as go-yaml decides it (ruamel attaches a comment to the node before it, which may be nested deeper than
the comment itself): by its column, and after the end of nested blocks by `_foot_comments`.

The walk also records `Walk.events`, leaves and comments interleaved in sops' tree order, which the comment
regexes (`encrypted_comment_regex`, `unencrypted_comment_regex`) decide by (`Walk.decide`).
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

    The comment regexes decide by the comments before a value (sops' comment stack, see `decisions`): a value
    follows `encrypted_comment_regex` only when a comment above it, in its own mapping or list or in an
    enclosing one since that one's previous item, matches; `unencrypted_comment_regex` leaves such values (and
    the matching comments themselves) in plaintext. Immutable, compared and hashed by value."""

    __slots__ = ("encrypted_comment_regex", "encrypted_regex", "encrypted_suffix", "mac_only_encrypted",
                 "unencrypted_comment_regex", "unencrypted_regex", "unencrypted_suffix")

    # sops' metadata field order
    FIELDS = ("unencrypted_suffix", "encrypted_suffix", "unencrypted_regex", "encrypted_regex",
              "unencrypted_comment_regex", "encrypted_comment_regex")
    REGEX_FIELDS = ("unencrypted_regex", "encrypted_regex", "unencrypted_comment_regex", "encrypted_comment_regex")

    def __init__(self, unencrypted_suffix: str | None = None, encrypted_suffix: str | None = None,
                 unencrypted_regex: str | None = None, encrypted_regex: str | None = None,
                 mac_only_encrypted: bool = False, unencrypted_comment_regex: str | None = None,
                 encrypted_comment_regex: str | None = None) -> None:
        for name, value in (("unencrypted_suffix", unencrypted_suffix), ("encrypted_suffix", encrypted_suffix),
                            ("unencrypted_regex", unencrypted_regex), ("encrypted_regex", encrypted_regex),
                            ("unencrypted_comment_regex", unencrypted_comment_regex),
                            ("encrypted_comment_regex", encrypted_comment_regex),
                            ("mac_only_encrypted", mac_only_encrypted)):
            object.__setattr__(self, name, value)
        self._check()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def _key(self) -> tuple[object, ...]:
        return (self.unencrypted_suffix, self.encrypted_suffix, self.unencrypted_regex, self.encrypted_regex,
                self.unencrypted_comment_regex, self.encrypted_comment_regex, self.mac_only_encrypted)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Rule:
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return ("Rule(unencrypted_suffix={!r}, encrypted_suffix={!r}, unencrypted_regex={!r}, encrypted_regex={!r}, "
                "unencrypted_comment_regex={!r}, encrypted_comment_regex={!r}, mac_only_encrypted={!r})"
                ).format(*self._key())

    def _check(self) -> None:
        for f in self.FIELDS:
            if getattr(self, f) is not None and not isinstance(getattr(self, f), str):
                raise InputError(f"must be a string, got {type(getattr(self, f)).__name__}", field=f)
        chosen = [f for f in self.FIELDS if getattr(self, f)]
        if len(chosen) > 1:
            raise InputError(f"only one encryption rule may be set, got {', '.join(chosen)}")
        for f in self.REGEX_FIELDS:
            if getattr(self, f):
                try:
                    re.compile(getattr(self, f))
                except re.error as e:
                    raise InputError(f"invalid regular expression: {e}", field=f) from None
                from sealer import regexcost

                if regexcost.exponential(getattr(self, f)):
                    raise InputError("regular expression too costly: a repeated group that repeats or alternates "
                                     "(sops' RE2 runs it in linear time, Python's re could take hours)", field=f)

    @classmethod
    def default(cls, mac_only_encrypted: bool = False) -> Rule:
        return cls(unencrypted_suffix="_unencrypted", mac_only_encrypted=mac_only_encrypted)

    @property
    def by_comments(self) -> bool:
        """Whether comments decide (a comment regex is the rule)."""
        return bool(self.encrypted_comment_regex or self.unencrypted_comment_regex)

    def encrypts(self, path: tuple[str, ...], stack: list[list[str]] | None = None, is_comment: bool = False) -> bool:
        """Whether a value (or, with ``is_comment``, a comment) at ``path`` is encrypted, as sops'
        shouldBeEncrypted decides: a key rule matching any key on the path, or a comment regex matching a
        comment of ``stack`` (the comment texts before it, one list per enclosing mapping or list, outermost
        first; for a comment, itself last). Without a stack a comment-regex rule answers False: "not known to
        be encrypted", which is what linting and the SopsSecret binding check need."""
        if self.encrypted_regex:
            encrypted = any(re.search(self.encrypted_regex, p) for p in path)
        elif self.unencrypted_regex:
            encrypted = not any(re.search(self.unencrypted_regex, p) for p in path)
        elif self.encrypted_suffix:
            encrypted = any(p.endswith(self.encrypted_suffix) for p in path)
        elif self.unencrypted_suffix:
            encrypted = not any(p.endswith(self.unencrypted_suffix) for p in path)
        else:
            encrypted = True
        if not self.by_comments:
            return encrypted
        if stack is None:
            return False
        if self.unencrypted_comment_regex:
            # every comment of the stack, the comment being decided included: a matching comment stays readable
            return not any(re.search(self.unencrypted_comment_regex, c) for run in stack for c in run)
        last = len(stack) - 1
        for i, run in enumerate(stack):
            for j, c in enumerate(run):
                if is_comment and i == last and j == len(run) - 1:
                    continue  # the comment being decided does not select itself
                if re.search(self.encrypted_comment_regex, c):  # type: ignore[arg-type]
                    return True
        return False

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

    __slots__ = ("encrypted", "loc", "node", "parent", "path")

    def __init__(self, node: ScalarNode, path: tuple[str, ...], loc: tuple[object, ...],
                 parent: Node | None = None) -> None:
        self.node = node
        self.path = path
        self.loc = loc
        self.parent = parent
        self.encrypted = True  # what the rule says, once `Walk.decide` ran

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
    """One `# ...` line inside a ruamel CommentToken, with the paths it may belong to (most likely first) and
    the containers enclosing it, outermost first, its owner last (``chain``)."""

    __slots__ = ("candidates", "chain", "column", "encrypted", "eol", "line_index", "token")

    def __init__(self, token: object, line_index: int, candidates: list[tuple[str, ...]],
                 chain: list[_Container] | None = None, eol: bool = False, column: int = 0) -> None:
        self.token = token
        self.line_index = line_index
        self.candidates = candidates
        self.chain = chain or []
        self.eol = eol  # the end-of-line comment of a value: sops reads it before the value
        self.column = column
        self.encrypted = True  # what the rule says, once `Walk.decide` ran

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
    """A mapping or list on the way to a value. ``column`` is where its content starts; ``foot`` is the column
    a comment line after its end must reach to stay in it, as go-yaml sees it (past the dashes, for a list),
    None for a list indented no deeper than the mapping holding it, which go-yaml does not treat as a block."""

    __slots__ = ("column", "foot", "node", "path")

    def __init__(self, node: Node, path: tuple[str, ...], column: int, foot: int | None) -> None:
        self.node = node
        self.path = path
        self.column = column
        self.foot = foot


# Walk events, in sops' tree order (a value's end-of-line comment comes before the value, as sops reads it)
_ENTER, _ITEM, _LEAF, _COMMENT, _LIST_COMMENT = range(5)


class Walk:
    """Leaves and comment lines of a document, in document order, and ``events``: both interleaved with the
    mappings and lists they sit in, which is what the comment regexes need."""

    __slots__ = ("comments", "events", "leaves")

    def __init__(self) -> None:
        self.leaves: list[Leaf] = []
        self.comments: list[CommentLine] = []
        self.events: list[tuple] = []

    def decide(self, rule: Rule) -> None:
        """Set ``encrypted`` on every leaf and comment line as ``rule`` says. For a comment regex this replays
        sops' walk: each mapping or list keeps the comments seen since its previous item (its "run"); a value's
        comment stack is the runs of every container enclosing it. The texts are those in the tree: the
        plaintext when encrypting, what is on disk when decrypting (as sops decides both)."""
        if not rule.by_comments:
            for leaf in self.leaves:
                leaf.encrypted = rule.encrypts(leaf.path)
            for comment in self.comments:
                comment.encrypted = rule.encrypts(comment.candidates[0])
            return
        runs: dict[int, list[str]] = {}
        walked: dict[int, list[bool]] = {}  # a container's current item: [has anything of it been walked?]

        def walk_into(chain: list[_Container]) -> None:
            for c in chain:
                state = walked.get(id(c))
                if state is not None:
                    state[0] = True

        def add_comment(chain: list[_Container], text: str) -> list[list[str]]:
            owner = id(chain[-1])
            state = walked.get(owner)
            if state is not None and state[0]:  # the item before it is done: a new run starts
                runs[owner] = []
                walked[owner] = None  # type: ignore[assignment]
            runs[owner].append(text)
            return [runs[id(c)] for c in chain]

        for event in self.events:
            kind = event[0]
            if kind == _LEAF:
                leaf, chain = event[1], event[2]
                walk_into(chain)
                leaf.encrypted = rule.encrypts(leaf.path, [runs[id(c)] for c in chain])
            elif kind == _COMMENT:
                comment = event[1]
                if comment.chain:
                    comment.encrypted = rule.encrypts(comment.chain[-1].path,
                                                      add_comment(comment.chain, comment.text), True)
                else:
                    comment.encrypted = rule.encrypts((), [[comment.text]], True)
            elif kind == _ITEM:
                c = id(event[1])
                if walked.get(c) is not None:
                    runs[c] = []
                walked[c] = [False]
            elif kind == _ENTER:
                chain = event[1]
                walk_into(chain[:-1])
                runs[id(chain[-1])] = []
            else:  # a comment sops wrote as a list item: a comment of that list
                leaf, chain = event[1], event[2]
                leaf.encrypted = rule.encrypts(leaf.path, add_comment(chain, leaf.node.value), True)


def walk(roots: list[Node]) -> Walk:
    out = Walk()
    seen: set[int] = set()
    for root in roots:
        start, comments = len(out.events), len(out.comments)
        _walk(root, (), (), [], out, seen)
        if len(out.comments) > comments:
            _foot_comments(out.events, start)
    return out


def _foot_comments(events: list[tuple], start: int) -> None:
    """Owners of the comment lines after a value that ends nested blocks, as go-yaml (so sops) places them, which
    decides their AAD path: the lines directly above the next key or item (blank lines between allowed) at
    exactly its column are its head comments, owned by its mapping or list; the first other line is a foot
    comment of the innermost block that ends there, whatever its column, and each later line stays in that
    block or, when it is left of the block's `foot` column, moves out to the innermost enclosing block it
    reaches. At the end of a document the next "key" is at column 0, in the root."""
    pending: list[CommentLine] = []
    chain: list[_Container] | None = None
    for event in events[start:]:
        kind = event[0]
        if kind == _COMMENT:
            if chain is not None and not event[1].eol:
                pending.append(event[1])
            continue
        if chain is not None and pending:
            _settle(pending, chain, event[1] if kind == _ITEM else None)
        pending = []
        chain = event[2] if kind in (_LEAF, _LIST_COMMENT) else None
    if chain is not None and pending:
        _settle(pending, chain, None)


def _settle(lines: list[CommentLine], chain: list[_Container], next_container: _Container | None) -> None:
    if not chain:
        return
    if next_container is None:
        target, column, closing = chain[0], 0, chain[1:]
    else:
        depth = next((d for d, c in enumerate(chain) if c is next_container), None)
        if depth is None:
            return
        target, column, closing = next_container, next_container.column, chain[depth + 1:]
    blocks = [c for c in closing if c.foot is not None]
    head = len(lines)
    while head > 0 and lines[head - 1].column == column:
        head -= 1
    level = len(blocks) - 1  # index into blocks; -1 is the target
    for i, line in enumerate(lines):
        if i < head and i > 0:
            while level >= 0 and line.column < blocks[level].foot:  # type: ignore[operator]
                level -= 1
        owner = target if i >= head or level < 0 else blocks[level]
        depth = next(d for d, c in enumerate(chain) if c is owner)
        line.chain = chain[: depth + 1]
        line.candidates = [owner.path, *(p for p in line.candidates if p != owner.path)]


def _content_column(node: Node) -> int:
    mark = node.value[0][0].start_mark if node.id == "mapping" and node.value else node.start_mark
    return mark.column if mark is not None else 0


def is_list_comment(node: Node) -> bool:
    """A comment sops wrote as a list item (`- ENC[...,type:comment]`)."""
    return node.id == "scalar" and node.style is None and isinstance(node.value, str) and \
        node.value.startswith("ENC[") and node.value.endswith(",type:comment]")


def _walk(node: Node, path: tuple[str, ...], loc: tuple[object, ...], chain: list[_Container], out: Walk,
          seen: set[int], parent: Node | None = None) -> None:
    kind = node.id
    events = out.events
    if kind == "mapping":
        column = _content_column(node)
        chain = [*chain, _Container(node, path, column, column)]
        events.append((_ENTER, chain))
        events.extend(_comments(node, chain, out, seen))
        for key_node, value_node in node.value:
            if key_node.id != "scalar":
                raise InputError("complex mapping keys are not supported", field=_dotted(loc) or None)
            key = key_node.value
            events.append((_ITEM, chain[-1], key))
            events.extend(_comments(key_node, chain, out, seen))
            _walk(value_node, (*path, key), (*loc, key), chain, out, seen)
    elif kind == "sequence":
        column = _content_column(node)
        indentless = bool(chain) and chain[-1].node.id == "mapping" and column <= chain[-1].column
        chain = [*chain, _Container(node, path, column, None if indentless else column + 1)]
        events.append((_ENTER, chain))
        events.extend(_comments(node, chain, out, seen))
        for i, item in enumerate(node.value):
            if is_list_comment(item):
                leaf = Leaf(item, path, (*loc, i), node)
                out.leaves.append(leaf)
                events.append((_LIST_COMMENT, leaf, chain))
                events.extend(_comments(item, chain, out, seen, leaf=True))
                continue
            events.append((_ITEM, chain[-1], i))
            _walk(item, path, (*loc, i), chain, out, seen, node)
    else:
        leaf = Leaf(node, path, loc, parent)
        out.leaves.append(leaf)
        found = _comments(node, chain, out, seen, leaf=True)
        eol = 1 if found and found[0][1].eol else 0
        events.extend(found[:eol])
        events.append((_LEAF, leaf, chain))
        events.extend(found[eol:])


def _dotted(loc: tuple[object, ...]) -> str:
    return ".".join(str(p) for p in loc)


def _tokens(comment: object) -> Iterator[object]:
    from ruamel.yaml.tokens import CommentToken

    if isinstance(comment, CommentToken):
        yield comment
    elif isinstance(comment, list | tuple):
        for c in comment:
            yield from _tokens(c)


def _comments(node: Node, chain: list[_Container], out: Walk, seen: set[int],
              leaf: bool = False) -> list[tuple[int, CommentLine]]:
    """The comment lines attached to ``node``, as walk events. An end-of-line comment after a value (the first
    line of a leaf's first token) belongs to the value's own mapping or list whatever its column: once a value
    is replaced (decrypted, set), its column no longer says so, and the owner decides both the AAD and whether
    the rule encrypts it (a comment owned by the root would be written back in plaintext)."""
    comment = getattr(node, "comment", None)
    if not comment:
        return []  # nodes sealer reads or builds itself carry none; only ruamel's may
    found: list[tuple[int, CommentLine]] = []
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
            owner, owners = _owners(chain, col)
            eol = leaf and n == 0 and i == 0 and column is not None and bool(chain)
            if eol:
                owner = len(chain) - 1
                owners = [chain[-1].path, *(p for p in owners if p != chain[-1].path)]
            line_ = CommentLine(token, i, owners, chain[: owner + 1], eol, col)
            out.comments.append(line_)
            found.append((_COMMENT, line_))
    return found


def _owners(chain: list[_Container], column: int) -> tuple[int, list[tuple[str, ...]]]:
    """The enclosing container for a comment at ``column``: the deepest one whose content starts at or left of
    it (its index in ``chain``). The others' paths follow as fall-backs for reading files whose comments were
    placed differently."""
    owner = 0
    for i, c in enumerate(chain):
        if c.column <= column:
            owner = i
    if not chain:
        return 0, [()]
    paths = [chain[owner].path] + [c.path for i, c in enumerate(reversed(chain)) if len(chain) - 1 - i != owner]
    unique: list[tuple[str, ...]] = []
    for p in paths:
        if p not in unique:
            unique.append(p)
    return owner, unique


class Mac:
    """SHA-512 over leaf plaintexts in document order; with mac_only_encrypted, seeded and encrypted-only."""

    def __init__(self, mac_only_encrypted: bool) -> None:
        try:  # CPython's own SHA-2: hashlib would load OpenSSL's libcrypto (~3 ms of a one-file decrypt)
            from _sha256 import sha256
            from _sha512 import sha512
        except ImportError:  # pragma: no cover - Python >= 3.12 has them in _sha2; another interpreter: hashlib
            try:
                from _sha2 import sha256, sha512
            except ImportError:
                from hashlib import sha256, sha512

        self._hash = sha512()
        self._only_encrypted = mac_only_encrypted
        if mac_only_encrypted:
            self._hash.update(sha256(b"sops").digest())

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

