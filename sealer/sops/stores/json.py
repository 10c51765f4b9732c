"""The JSON store: parsed with the standard library and rebuilt as nodes, so one walker serves both stores. sops
reads every JSON number as a float64, and so do we; duplicate keys and key order survive, as in sops. Like sops,
a whole file always ends with a newline and a value printed alone (`--extract`) never does."""

from __future__ import annotations

import re

from sealer.errors import InputError, json_error_message
from sealer.sops import scalars
from sealer.sops.nodes import MAP_TAG, SEQ_TAG, MappingNode, SequenceNode
from sealer.sops.stores import Layout, Tree, sops_block, values

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from sealer.sops.nodes import Node


def load(text: str, source: str) -> Tree:
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
        if pair[0].value == sops_block.METADATA_KEY:
            root.value.remove(pair)
            metadata = sops_block.metadata_data(pair[1], source)
    indent = re.search(r"\n([ \t]+)\"", text)
    return Tree([root], metadata, "json", Layout(json_indent=indent.group(1) if indent else "\t"))


def dump(tree: Tree) -> str:
    root = tree.roots[0]
    if tree.metadata is not None:
        entry = (values.json_str(sops_block.METADATA_KEY), values.from_data(tree.metadata, True))
        root = MappingNode(root.tag, [*root.value, entry])
    return value_text(root, tree.layout.json_indent) + "\n"


def value_text(node: Node, indent: str = "\t") -> str:
    """One value as sops' JSON store prints it, with no final newline."""
    out: list[str] = []
    _emit_json(node, indent, 0, out)
    return "".join(out)


_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_GO_EXTRA = re.compile("[<>&\u2028\u2029]")


def go_string(text: str) -> str:
    """A JSON string as Go's encoding/json writes it (sops' JSON store): Python's escapes, plus `<`, `>`, `&`
    (HTML-safe) and U+2028 / U+2029 (JavaScript line separators) as \\u escapes."""
    import json

    out = json.dumps(text, ensure_ascii=False)
    return _GO_EXTRA.sub(lambda m: _GO_ESCAPES[m.group()], out) if _GO_EXTRA.search(out) else out


def _emit_json(node: Node, indent: str, depth: int, out: list[str]) -> None:
    pad, inner = indent * depth, indent * (depth + 1)
    if node.id == "mapping":
        if not node.value:
            out.append("{}")
            return
        out.append("{\n")
        for i, (k, v) in enumerate(node.value):
            out.append(f"{inner}{go_string(k.value)}: ")
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
        kind = node.json_kind if isinstance(node, values.JsonScalar) else scalars.STR
        out.append(go_string(node.value) if kind == scalars.STR else node.value)


class _Number(str):
    """A JSON number literal, kept as written."""


class _Pairs(list):
    """A JSON object as ordered (key, value) pairs: duplicate keys and order survive, as in sops."""


def _json_node(value: Any) -> Node:
    if isinstance(value, _Pairs):
        return MappingNode(MAP_TAG, [(values.json_str(k), _json_node(v)) for k, v in value], flow_style=False)
    if isinstance(value, list):
        return SequenceNode(SEQ_TAG, [_json_node(v) for v in value], flow_style=False)
    if isinstance(value, _Number):
        return values.JsonScalar(str(value), scalars.FLOAT)
    if isinstance(value, str):
        return values.json_str(value)
    return values.typed({True: "true", False: "false", None: "null"}[value],
                        scalars.NULL if value is None else scalars.BOOL, True)
