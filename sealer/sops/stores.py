"""SOPS files on disk: one store per format, as in sops. Both give the tree as YAML nodes so one walker serves.

YAML keeps comments, key order, quoting and the file's own indentation (detected), so a sealer edit of a file
sops wrote, or of a hand-written manifest, changes only the lines whose values changed. JSON is parsed with
the standard library and rebuilt as nodes; sops reads every JSON number as a float64, and so do we.

YAML is read and written by ruamel.yaml's round-trip loader and emitter. Plain files (no comments, anchors,
tags, ... : what sops and kubectl write) take a fast path instead (`fastyaml`) that builds the same tree and
writes the same bytes without importing ruamel.yaml; anything else goes to ruamel.yaml.
"""

from __future__ import annotations

import itertools
import re

from sealer.errors import (
    TOO_DEEP,
    InputError,
    check_yaml_graph,
    flow_depth_exceeds,
    json_error_message,
    yaml_error_message,
)
from sealer.sops import emit, fastyaml, scalars
from sealer.sops.nodes import (
    MAP_TAG,
    SEQ_TAG,
    STR_TAG,
    MappingNode,
    ScalarNode,
    SequenceNode,
    implicit_tag,
    tag_name,
)
from sealer.sops.nodes import Node as _LightNode
from sealer.sops.tree import resolve_yaml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from sealer.sops.nodes import Node

__all__ = ["MAP_TAG", "SEQ_TAG", "STR_TAG", "implicit_tag"]

METADATA_KEY = "sops"
_YAML_1_1_BOOLISH = re.compile(r"^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$")


class Layout:
    __slots__ = ("explicit_start", "final_newline", "json_indent", "mapping", "offset", "sequence")

    def __init__(self, mapping: int = 2, sequence: int = 2, offset: int = 0, explicit_start: bool = False,
                 json_indent: str = "\t", final_newline: bool = True) -> None:
        self.mapping = mapping
        self.sequence = sequence
        self.offset = offset
        self.explicit_start = explicit_start
        self.json_indent = json_indent
        self.final_newline = final_newline

    def _key(self) -> tuple[object, ...]:
        return (self.mapping, self.sequence, self.offset, self.explicit_start, self.json_indent,
                self.final_newline)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Layout:
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return ("Layout(mapping={!r}, sequence={!r}, offset={!r}, explicit_start={!r}, json_indent={!r}, "
                "final_newline={!r})").format(*self._key())


class Tree:
    """A file's documents (root nodes, the `sops` entry removed) and its metadata block as plain data."""

    __slots__ = ("format", "layout", "metadata", "roots")

    def __init__(self, roots: list[Node], metadata: Any | None, format: str,
                 layout: Layout | None = None) -> None:
        self.roots = roots
        self.metadata = metadata
        self.format = format
        self.layout = Layout() if layout is None else layout

    def __repr__(self) -> str:
        return f"Tree(roots={self.roots!r}, metadata={self.metadata!r}, format={self.format!r}, layout={self.layout!r})"


def tag(name: str) -> str:
    return name


def scalar(text: str, style: str | None = None, tag_name: str = STR_TAG) -> ScalarNode:
    return ScalarNode(tag_name, text, style=style)


def detect_format(source: str, data: bytes, forced: str | None = None) -> str:
    if forced:
        return forced
    lower = source.lower()
    if lower.endswith(".json"):
        return "json"
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    return "json" if data.lstrip()[:1] == b"{" else "yaml"


def load(data: bytes, source: str, fmt: str | None = None) -> Tree:
    fmt = detect_format(source, data, fmt)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", source=source) from None
    try:
        return _load_json(text, source) if fmt == "json" else _load_yaml(text, source)
    except RecursionError:
        raise InputError(TOO_DEEP, source=source) from None


def dumps(tree: Tree) -> str:
    return _dump_json(tree) if tree.format == "json" else _dump_yaml(tree)


# --- YAML ---------------------------------------------------------------------------------------------------

def _yaml(layout: Layout | None = None) -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.width = 1 << 16
    if layout:
        y.indent(mapping=layout.mapping, sequence=layout.sequence, offset=layout.offset)
        y.explicit_start = layout.explicit_start
    return y


def _guess_layout(text: str) -> Layout:
    layout = Layout(explicit_start=text.lstrip().startswith("---"))
    lines = [(len(line) - len(line.lstrip(" ")), line.strip()) for line in text.splitlines()]
    lines = [(i, s) for i, s in lines if s and not s.startswith("#")]
    found_map = found_seq = False
    for (ind, s), (nxt_ind, nxt) in itertools.pairwise(lines):
        if not s.endswith(":") or s.startswith("- "):
            continue
        if nxt.startswith("- ") or nxt == "-":
            if not found_seq and nxt_ind >= ind:
                layout.offset = nxt_ind - ind
                layout.sequence = layout.offset + 2
                found_seq = True
        elif nxt_ind > ind and not found_map:
            layout.mapping = nxt_ind - ind
            found_map = True
        if found_map and found_seq:
            break
    layout.sequence = max(layout.sequence, layout.mapping) if layout.offset else layout.sequence
    return layout


def _compose_ruamel(text: str, source: str) -> list[Any]:
    from ruamel.yaml.error import YAMLError

    if flow_depth_exceeds(text):
        raise InputError(TOO_DEEP, source=source)
    try:
        return list(_yaml().compose_all(text))
    except YAMLError as e:
        raise InputError(yaml_error_message(e), source=source) from None


def _load_yaml(text: str, source: str) -> Tree:
    roots: list[Any] | None = fastyaml.compose_all(text)
    may_alias = roots is None and "*" in text  # the fast reader declines anchors and aliases
    if roots is None:
        roots = _compose_ruamel(text, source)
    metadata: Any | None = None
    out: list[Node] = []
    for i, root in enumerate(roots, 1):
        if root is None or (root.id == "scalar" and tag_name(root) == "tag:yaml.org,2002:null"):
            root = MappingNode(MAP_TAG, [], flow_style=False)  # an empty document, as sops reads it: {}
        if root.id != "mapping":
            raise InputError(f"document {i} is not a mapping (sops files hold mappings)", source=source)
        try:  # before _expand copies what aliases share: alias bombs and loops, a key twice (named)
            check_yaml_graph(root, aliases=may_alias, document=i if len(roots) > 1 else None)
        except InputError as e:
            raise e.within(source=source) from None
        root = _expand(root, set())
        for pair in list(root.value):
            if pair[0].id == "scalar" and pair[0].value == METADATA_KEY:
                root.value.remove(pair)
                if metadata is None:
                    metadata = _metadata_data(pair[1], source)
        out.append(root)
    return Tree(out, metadata, "yaml", _guess_layout(text))


MERGE_TAG = "tag:yaml.org,2002:merge"


def _expand(node: Node, seen: set[int]) -> Node:
    """Resolve aliases and `<<` merge keys into plain copies, as sops (go-yaml decoding) sees the document:
    each occurrence is then its own value with its own ciphertext."""
    if id(node) in seen:
        import copy

        node = copy.deepcopy(node)
    seen.add(id(node))
    node.anchor = None
    if node.id == "mapping":
        pairs: list[tuple[Node, Node]] = []
        merged: list[tuple[Node, Node]] = []
        for key, value in node.value:
            is_merge = tag_name(key) == MERGE_TAG or (key.value == "<<" and key.style is None)
            if key.id == "scalar" and is_merge:
                import copy

                sources = value.value if value.id == "sequence" else [value]
                for src in sources:
                    src = _expand(copy.deepcopy(src), seen)
                    if src.id != "mapping":
                        raise InputError("a << merge key must refer to a mapping")
                    merged.extend(src.value)
                continue
            pairs.append((key, _expand(value, seen)))
        explicit = {k.value for k, _ in pairs if k.id == "scalar"}
        taken: set[str] = set()
        extra = []
        for k, v in merged:
            if k.id == "scalar" and k.value not in explicit and k.value not in taken:
                taken.add(k.value)
                extra.append((k, v))
        node.value = pairs + extra if extra else pairs
    elif node.id == "sequence":
        node.value = [_expand(item, seen) for item in node.value]
    return node


def _dump_yaml(tree: Tree) -> str:
    """Each document as ruamel writes it, then the `sops:` block as go-yaml would write it: sops' own files
    come back with their metadata byte-identical, and ours look like sops' to reviewers."""
    docs = []
    layout = tree.layout
    for i, root in enumerate(tree.roots):
        explicit = layout.explicit_start or i > 0
        text = emit.serialize(root, layout.mapping, layout.sequence, layout.offset, explicit)
        if text is None:
            import io

            out = io.StringIO()
            y = _yaml(layout)
            y.Emitter = emit.ruamel_emitter()  # ruamel's output, in linear time
            y.explicit_start = explicit
            y.serialize(to_ruamel(root), out)
            text = out.getvalue()
        if tree.metadata is not None:
            if text.endswith("\n...\n"):
                # the end marker the emitter writes after a trailing `|+` block: the `sops` key continues the
                # mapping (kept, it would start a second document and sops would find no metadata)
                text = text[:-4]
            if text.strip() in ("{}", "--- {}"):
                text = text.replace("{}", "").rstrip(" \n") + ("\n" if text.startswith("---") else "")
            text += metadata_yaml(tree.metadata, tree.layout)
        docs.append(text)
    return "".join(docs)


def to_ruamel(node: Any) -> Any:
    """The node as ruamel.yaml's serializer needs it: sealer's own nodes become ruamel nodes (same tag, value,
    style, flow style, comments); ruamel nodes stay, with any of ours below them converted in place."""
    if not isinstance(node, _LightNode):
        if node.id == "mapping":
            node.value = [(to_ruamel(k), to_ruamel(v)) for k, v in node.value]
        elif node.id == "sequence":
            node.value = [to_ruamel(v) for v in node.value]
        return node
    from ruamel.yaml import nodes as ruamel_nodes

    if node.id == "scalar":
        return ruamel_nodes.ScalarNode(node.tag, node.value, node.start_mark, node.end_mark, style=node.style,
                                       comment=node.comment, anchor=node.anchor)
    if node.id == "mapping":
        return ruamel_nodes.MappingNode(node.tag, [(to_ruamel(k), to_ruamel(v)) for k, v in node.value],
                                        node.start_mark, node.end_mark, flow_style=node.flow_style,
                                        comment=node.comment, anchor=node.anchor)
    return ruamel_nodes.SequenceNode(node.tag, [to_ruamel(v) for v in node.value], node.start_mark, node.end_mark,
                                     flow_style=node.flow_style, comment=node.comment, anchor=node.anchor)


_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9_./^$()|+=,\[\]@~%*!-][^#\n]*$")


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if value is None:
        return "null"
    text = str(value)
    plain = (_PLAIN_SAFE.match(text) and ": " not in text and not text.endswith((":", " ")) and
             implicit_tag(text) == STR_TAG and not _YAML_1_1_BOOLISH.match(text) and
             scalars.resolve_plain(text)[0] == scalars.STR)
    if plain:
        return text
    import json

    return json.dumps(text, ensure_ascii=False)


def metadata_yaml(data: dict[str, Any], layout: Layout) -> str:
    """The `sops:` mapping in go-yaml's block style, using the file's mapping indent and dash offset."""
    lines: list[str] = [f"{METADATA_KEY}:"]
    _meta_map(data, layout.mapping, layout, lines, first_prefix=None, block_base=0)
    return "\n".join(lines) + "\n"


def _meta_map(data: dict[str, Any], col: int, layout: Layout, lines: list[str], first_prefix: str | None,
              block_base: int) -> None:
    """Keys at ``col``; with ``first_prefix`` the first key shares a line with a list dash. ``block_base`` is
    the indent go-yaml measures literal blocks from (the dash column for a mapping inside a list)."""
    for i, (key, value) in enumerate(data.items()):
        lead = first_prefix if (i == 0 and first_prefix is not None) else " " * col
        if isinstance(value, dict) and value:
            lines.append(f"{lead}{key}:")
            _meta_map(value, col + layout.mapping, layout, lines, None, col + layout.mapping)
        elif isinstance(value, list) and value:
            lines.append(f"{lead}{key}:")
            dash = col + layout.offset
            for item in value:
                prefix = " " * dash + "- "
                if isinstance(item, dict) and item:
                    _meta_map(item, dash + 2, layout, lines, prefix, dash)
                else:
                    lines.append(prefix + _yaml_scalar(item))
        elif isinstance(value, list | dict):
            lines.append(f"{lead}{key}: {'[]' if isinstance(value, list) else '{}'}")
        elif isinstance(value, str) and "\n" in value.rstrip("\n"):
            content = block_base + layout.mapping
            if content <= col:
                content = col + layout.mapping
            indicator = "|" if value.endswith("\n") and not value.endswith("\n\n") else "|-"
            lines.append(f"{lead}{key}: {indicator}")
            lines.extend(" " * content + line if line else "" for line in value.rstrip("\n").split("\n"))
        else:
            lines.append(f"{lead}{key}: {_yaml_scalar(value)}")


def to_data(node: Node) -> Any:
    """Plain Python data from a node (metadata blocks, --extract output): YAML 1.2 scalars."""
    if node.id == "mapping":
        return {to_data(k): to_data(v) for k, v in node.value}
    if node.id == "sequence":
        return [to_data(v) for v in node.value]
    kind, value = resolve_json(node) if isinstance(node, JsonScalar) else resolve_yaml(node, implicit_tag)
    if kind in (scalars.STR, scalars.COMMENT, scalars.BYTES):
        return value
    if kind == scalars.TIME:
        return value.text  # type: ignore[union-attr]
    return value


def _metadata_data(node: Node, source: str) -> Any:
    try:
        return to_data(node)
    except scalars.UnsupportedValue as e:  # a tag or number no sops block holds
        raise InputError(str(e), source=source, field=METADATA_KEY) from None


def from_data(data: Any, json_mode: bool = False) -> Node:
    """Nodes for plain data (the metadata block): multi-line strings as literal blocks, like sops."""
    if isinstance(data, dict):
        return MappingNode(MAP_TAG, [(_json_str(k) if json_mode else scalar(str(k)), from_data(v, json_mode))
                                     for k, v in data.items()], flow_style=False)
    if isinstance(data, list):
        return SequenceNode(SEQ_TAG, [from_data(v, json_mode) for v in data], flow_style=False)
    if isinstance(data, bool):
        return _typed("true" if data else "false", scalars.BOOL, json_mode)
    if isinstance(data, int):
        return _typed(str(data), scalars.INT, json_mode)
    if data is None:
        return _typed("null", scalars.NULL, json_mode)
    text = str(data)
    if json_mode:
        return _json_str(text)
    if "\n" in text:
        return scalar(text, "|")
    return scalar(text, '"' if implicit_tag(text) != STR_TAG or _YAML_1_1_BOOLISH.match(text) else None)


def _typed(text: str, kind: str, json_mode: bool) -> ScalarNode:
    return JsonScalar(text, kind) if json_mode else scalar(text, None, implicit_tag(text))


def format_value(kind: str, value: object, fmt: str) -> ScalarNode:
    """A fresh node for a decrypted value: the text and quoting Go's encoders would write."""
    if kind in (scalars.STR, scalars.COMMENT, scalars.BYTES):
        text = str(value)
        if fmt == "json":
            return _json_str(text)
        if "\x85" in text or "\u2028" in text or "\u2029" in text:
            return scalar(text, '"')  # line breaks to YAML 1.1 readers (go-yaml, so sops): only escapes keep them
        if "\n" in text.rstrip("\n") or (text.endswith("\n") and "\n" in text):
            # a literal block, unless it cannot hold the text (control characters, a space before a line break
            # or at the end): then double-quoted with escapes, as go-yaml falls back (tabs it keeps in a block)
            block = emit.analyze_scalar(text.replace("\t", "x")).allow_block
            return scalar(text, "|" if block else '"')
        ambiguous = implicit_tag(text) != STR_TAG or _YAML_1_1_BOOLISH.match(text) or \
            scalars.resolve_plain(text)[0] != scalars.STR
        return scalar(text, '"' if ambiguous or text != text.strip() else None)
    if kind == scalars.INT:
        return _typed(str(value), kind, fmt == "json")
    if kind == scalars.FLOAT:
        f = float(value)  # type: ignore[arg-type]
        return _typed(scalars.go_format_float_json(f) if fmt == "json" else scalars.go_format_float_g(f), kind,
                      fmt == "json")
    if kind == scalars.BOOL:
        return _typed("true" if value else "false", kind, fmt == "json")
    if kind == scalars.TIME:
        text = value.text  # type: ignore[union-attr]
        return _json_str(text) if fmt == "json" else _typed(text, kind, False)
    raise InputError(f"cannot write a value of type {kind}")


def encrypted_node(text: str, fmt: str) -> ScalarNode:
    return _json_str(text) if fmt == "json" else scalar(text)


# --- JSON -------------------------------------------------------------------------------------------------

class JsonScalar(ScalarNode):
    """A JSON scalar: its type is fixed by JSON syntax, not by YAML resolution."""

    __slots__ = ("json_kind",)

    def __init__(self, text: str, kind: str) -> None:
        super().__init__(STR_TAG if kind == scalars.STR else implicit_tag(text), text,
                         style='"' if kind == scalars.STR else None)
        self.json_kind = kind


class _Number(str):
    """A JSON number literal, kept as written."""


def _json_str(text: str) -> ScalarNode:
    return JsonScalar(text, scalars.STR)


def _json_node(value: Any) -> Node:
    if isinstance(value, _Pairs):
        return MappingNode(MAP_TAG, [(_json_str(k), _json_node(v)) for k, v in value], flow_style=False)
    if isinstance(value, list):
        return SequenceNode(SEQ_TAG, [_json_node(v) for v in value], flow_style=False)
    if isinstance(value, _Number):
        return JsonScalar(str(value), scalars.FLOAT)
    if isinstance(value, str):
        return _json_str(value)
    return _typed({True: "true", False: "false", None: "null"}[value],
                  scalars.NULL if value is None else scalars.BOOL, True)


class _Pairs(list):
    """A JSON object as ordered (key, value) pairs: duplicate keys and order survive, as in sops."""


def resolve_json(node: ScalarNode) -> tuple[str, object]:
    kind = node.json_kind if isinstance(node, JsonScalar) else scalars.STR
    if kind == scalars.FLOAT:
        return scalars.FLOAT, float(node.value)
    if kind == scalars.BOOL:
        return scalars.BOOL, node.value == "true"
    if kind == scalars.NULL:
        return scalars.NULL, None
    if kind == scalars.INT:
        return scalars.FLOAT, float(node.value)
    return scalars.STR, node.value


def _load_json(text: str, source: str) -> Tree:
    import json

    try:
        value = json.loads(text, object_pairs_hook=_Pairs, parse_float=_Number, parse_int=_Number,
                           parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except json.JSONDecodeError as e:
        raise InputError(json_error_message(e), source=source) from None
    except ValueError:
        raise InputError("not valid JSON: NaN and Infinity are not JSON", source=source) from None
    if not isinstance(value, _Pairs):
        raise InputError("the JSON document must be an object", source=source)
    root = _json_node(value)
    metadata = None
    for pair in list(root.value):
        if pair[0].value == METADATA_KEY:
            root.value.remove(pair)
            metadata = _metadata_data(pair[1], source)
    indent = re.search(r"\n([ \t]+)\"", text)
    return Tree([root], metadata, "json", Layout(json_indent=indent.group(1) if indent else "\t",
                                                 final_newline=text.endswith("\n")))


def _dump_json(tree: Tree) -> str:
    root = tree.roots[0]
    if tree.metadata is not None:
        root = MappingNode(root.tag, [*root.value, (_json_str(METADATA_KEY), from_data(tree.metadata, True))])
    out: list[str] = []
    _emit_json(root, tree.layout.json_indent, 0, out)
    return "".join(out) + ("\n" if tree.layout.final_newline else "")


def _emit_json(node: Node, indent: str, depth: int, out: list[str]) -> None:
    import json

    pad, inner = indent * depth, indent * (depth + 1)
    if node.id == "mapping":
        if not node.value:
            out.append("{}")
            return
        out.append("{\n")
        for i, (k, v) in enumerate(node.value):
            out.append(f"{inner}{json.dumps(k.value, ensure_ascii=False)}: ")
            _emit_json(v, indent, depth + 1, out)
            out.append(",\n" if i < len(node.value) - 1 else "\n")
        out.append(pad + "}")
    elif node.id == "sequence":
        if not node.value:
            out.append("[]")
            return
        out.append("[\n")
        for i, v in enumerate(node.value):
            out.append(inner)
            _emit_json(v, indent, depth + 1, out)
            out.append(",\n" if i < len(node.value) - 1 else "\n")
        out.append(pad + "]")
    else:
        kind = node.json_kind if isinstance(node, JsonScalar) else scalars.STR
        out.append(json.dumps(node.value, ensure_ascii=False) if kind == scalars.STR else node.value)
