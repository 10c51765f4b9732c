"""A decrypted tree in another shape: another store's format (`--output-type`), or environment variables
(`exec-env`). Pure functions; the CLI reads, decrypts, calls these and writes or runs."""

from __future__ import annotations

from sealer.errors import InputError, SealerError
from sealer.sops import scalars

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sealer.sops.document import Decrypted
    from sealer.sops.nodes import Node
    from sealer.sops.stores import Tree

FORMATS = ("yaml", "json", "dotenv", "ini", "binary")
_FLAT = ("dotenv", "ini")


def _go_layout():  # -> stores.Layout
    """go-yaml's layout, as sops writes a YAML file it did not read."""
    from sealer.sops import emit, stores

    mapping, sequence, offset = emit.GO_LAYOUT
    return stores.Layout(mapping=mapping, sequence=sequence, offset=offset)


def sops_string(kind: str, value: object) -> str:
    """A scalar as sops' stores.ValueToString writes it into the dotenv and INI stores and the environment: Go's
    'G' float format with `.0` added to whole numbers (`3.0`, `1E+06`), RFC 3339 times without fractions, `true`,
    and `<nil>` for a null."""
    if kind == scalars.NULL:
        return "<nil>"
    if kind == scalars.BOOL:
        return "true" if value else "false"
    if kind == scalars.FLOAT:
        import math

        x = float(value)  # type: ignore[arg-type]
        if math.isnan(x) or math.isinf(x):
            return scalars.go_format_float_f(x)
        text = scalars.go_format_float_g(x).upper()
        return text + ".0" if text.lstrip("-").isdigit() else text
    if kind == scalars.TIME:
        import re

        return re.sub(r"(:\d\d)\.\d+", r"\1", value.text, count=1)  # type: ignore[union-attr]
    return str(value)


Typed = dict  # loc (keys and list indices, as sealer.sops.tree.walk names leaves) -> (kind, value)


def typed_values(decrypted: Decrypted) -> Typed:
    """The type and value of every value that was encrypted, from its plaintext: a decrypted `3.0` is a float
    (its node reads `3`, which YAML would take for an int), as sops keeps it in memory."""
    return {loc: (kind, scalars.from_bytes(kind, plaintext))
            for loc, (kind, plaintext, _iv) in decrypted.previous.values.items()}


def _scalar(tree: Tree, node: Node, loc: tuple[object, ...], typed: Typed) -> tuple[str, object]:
    found = typed.get(loc)
    if found is not None:
        return found
    from sealer.sops import document

    return document.resolve(tree, node)


def env_items(tree: Tree, typed: Typed) -> list[tuple[str, str]]:
    """(name, value) for each top-level value of a decrypted tree's first document, as `sops exec-env` sets them:
    a nested value is refused (sops: "cannot use complex value in environment"), a name holding '=' or a NUL, or
    a value holding a NUL, cannot be an environment variable."""
    if not tree.roots:
        return []
    root = tree.roots[0]
    if root.id != "mapping":
        raise SealerError("the file's top level is not a mapping of names to values; it cannot be an environment")
    items = []
    for key, value in root.value:
        name = str(key.value)
        if value.id != "scalar":
            raise SealerError(f"cannot use complex value in environment; offending key {name}")
        if "=" in name or "\x00" in name or not name:
            raise InputError("cannot be an environment variable name (empty, '=' or NUL)", field=name)
        text = sops_string(*_scalar(tree, value, (key.value,), typed))
        if "\x00" in text:
            raise InputError("holds a NUL byte, which an environment variable cannot", field=name)
        items.append((name, text))
    return items


def convert(tree: Tree, fmt: str, typed: Typed | None = None) -> Tree:
    """The decrypted ``tree`` re-typed for the store ``fmt``: every scalar is read with its own store's rules (or
    taken from ``typed``) and written as ``fmt``'s encoder writes that value (a YAML `5` is a JSON number, a JSON
    string stays quoted in YAML, dotenv and INI take sops' ValueToString text). Comments go along where the target
    has them (YAML, dotenv, INI). What the target cannot hold (a nested value in dotenv, a top-level value outside
    a section in INI) is refused by its store when written, as sops refuses it."""
    from sealer.sops import stores

    if fmt == tree.format:
        return tree
    if tree.format == "binary" and fmt != "binary" and not _holds_data(tree):
        import copy

        tree = copy.copy(tree)
        tree.format = "json"  # a binary-store file sops wrote from another tree: its JSON, as sops reads it
    if fmt == "binary" or tree.format == "binary":
        return _convert_binary(tree, fmt)
    typed = typed or {}
    keep = fmt in _FLAT and tree.format in _FLAT  # comments: between the flat stores only (see the README)
    roots = [_node(tree, root, fmt, keep, (), typed) for root in tree.roots[:None if fmt == "yaml" else 1]]
    if fmt == "dotenv" and tree.format == "yaml" and roots and roots[0].id == "mapping":
        _yaml_comments_to_dotenv(tree, roots[0])
    out = stores.Tree(roots, None, fmt)
    if fmt == "yaml":
        out.layout = _go_layout()
    return out


def _holds_data(tree: Tree) -> bool:
    from sealer.sops.stores import binary

    root = tree.roots[0] if len(tree.roots) == 1 else None
    return root is not None and root.id == "mapping" and any(
        str(k.value) == binary.DATA_KEY and v.id == "scalar" for k, v in root.value)


def _convert_binary(tree: Tree, fmt: str) -> Tree:
    """To the binary store: sops writes the `data` value of a tree that has one (anything else is refused). From
    it: a tree of one `data` string."""
    from sealer.sops import stores
    from sealer.sops.nodes import MAP_TAG, MappingNode
    from sealer.sops.stores import binary, values

    if fmt == "binary":
        root = tree.roots[0] if tree.roots else None
        if root is not None and root.id == "mapping":
            for key, value in root.value:
                if str(key.value) == binary.DATA_KEY and value.id == "scalar":
                    return stores.Tree([MappingNode(MAP_TAG, [(values.json_str(binary.DATA_KEY),
                                                                values.json_str(str(value.value)))])], None,
                                       "binary")
        raise InputError("no binary data found in tree (the binary store writes the value of a top-level `data` "
                         "key)", field="--output-type")
    # bytes that are not UTF-8 (kept as surrogate escapes) become U+FFFD, as Go's encoders write them
    text = binary.data_of(tree).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    node = values.json_str(text) if fmt in ("json", "dotenv", "ini") else values.format_value(scalars.STR, text, fmt)
    key = values.json_str(binary.DATA_KEY) if fmt == "json" else values.scalar(binary.DATA_KEY)
    out = stores.Tree([MappingNode(MAP_TAG, [(key, node)], flow_style=False)], None, fmt)
    if fmt == "yaml":
        out.layout = _go_layout()
    return out


def _node(tree: Tree, node: Node, fmt: str, keep_comments: bool, loc: tuple[object, ...], typed: Typed) -> Node:
    from sealer.sops.nodes import MAP_TAG, SEQ_TAG, MappingNode, SequenceNode
    from sealer.sops.stores import values

    if node.id == "mapping":
        pairs = []
        for key, value in node.value:
            new_key = values.json_str(str(key.value)) if fmt == "json" else values.scalar(str(key.value))
            if keep_comments:
                new_key.comment = getattr(key, "comment", None)
            pairs.append((new_key, _node(tree, value, fmt, keep_comments, (*loc, key.value), typed)))
        out: Node = MappingNode(MAP_TAG, pairs, flow_style=False)
    elif node.id == "sequence":
        out = SequenceNode(SEQ_TAG, [_node(tree, v, fmt, keep_comments, (*loc, i), typed)
                                     for i, v in enumerate(node.value)], flow_style=False)
    else:
        kind, value = _scalar(tree, node, loc, typed)
        if fmt in _FLAT:
            out = values.json_str(sops_string(kind, value))
        elif kind == scalars.NULL:
            out = values.typed("null", scalars.NULL, fmt == "json")
        else:
            out = values.format_value(kind, value, fmt)
    if keep_comments:
        out.comment = getattr(node, "comment", None)
    return out


def _yaml_comments_to_dotenv(tree: Tree, root: Node) -> None:
    """The comment lines of a YAML file's top level, before the key they precede (or at the end), as sops writes
    them into dotenv. Read from the YAML text the store writes: a dotenv file has a top level only."""
    from sealer.sops import stores
    from sealer.sops.stores import flat

    pending: list[object] = []
    keys = iter(root.value)
    for line in stores.dumps(stores.Tree(tree.roots[:1], None, "yaml", tree.layout)).split("\n"):
        if line.startswith("#"):
            pending.append(flat.comment_token(line))
        elif line and not line[0].isspace() and not line.startswith(("- ", "---", "...")):
            pair = next(keys, None)
            if pair is None:
                break
            if pending:
                pair[0].comment, pending = pending, []
    if pending:
        root.comment = pending


def dumps_as(tree: Tree, fmt: str, typed: Typed | None = None) -> str:
    """The decrypted ``tree`` written by the store ``fmt`` (`decrypt --output-type`, `exec-file --output-type`).
    From dotenv or INI to YAML, the comments go where sops writes them: a dotenv comment before its key, an INI
    section's comment as the first line inside it, an INI key's comment after the key (sops' INI store keeps it
    as the item after the key)."""
    from sealer.sops import stores

    text = stores.dumps(convert(tree, fmt, typed))
    if fmt == "yaml" and tree.format in _FLAT and tree.roots and tree.roots[0].id == "mapping":
        from sealer.sops.stores import flat

        root = tree.roots[0]
        if tree.format == "dotenv":
            before = [flat.comment_values(key) for key, _ in root.value]
            text = _insert_comments(text, before, [[] for _ in root.value], [], flat.comment_values(root))
        else:
            first = [flat.comment_values(section) for _, section in root.value]
            after = [[flat.comment_values(key) for key, _ in section.value] if section.id == "mapping" else []
                     for _, section in root.value]
            text = _insert_comments(text, [[] for _ in root.value], first, after, [])
    return text


def _insert_comments(text: str, before: list[list[str]], first: list[list[str]], after: list[list[list[str]]],
                     trailing: list[str]) -> str:
    """Comment lines into YAML text written for a flat file (top-level keys at column 0, a section's keys at
    column 4, anything deeper is a continuation): ``before`` top-level key i, ``first`` inside its mapping, and
    ``after`` key j of section i (after its continuation lines)."""
    out: list[str] = []
    pending: list[str] = []
    top, sub = -1, -1

    def lines(comments: list[str], indent: str) -> list[str]:
        return [f"{indent}#{line}" for c in comments for line in c.split("\n")]

    body = text[:-1] if text.endswith("\n") else text
    for line in body.split("\n") if body else []:
        indent = len(line) - len(line.lstrip(" "))
        if line and indent <= 4 and not line.lstrip().startswith("#"):
            out.extend(pending)
            pending = []
        if line and indent == 0 and not line.startswith(("#", "-")):
            top, sub = top + 1, -1
            if top < len(before):
                out.extend(lines(before[top], ""))
            out.append(line)
            if top < len(first):
                out.extend(lines(first[top], "    "))
            continue
        out.append(line)
        if line and indent == 4 and not line.lstrip().startswith("#") and 0 <= top < len(after):
            sub += 1
            if sub < len(after[top]):
                pending = lines(after[top][sub], "    ")
    out.extend(pending)
    out.extend(lines(trailing, ""))
    return "\n".join(out) + "\n" if out else text
