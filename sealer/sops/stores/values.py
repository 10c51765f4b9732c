"""Nodes for values, as each format writes them, and plain data back from nodes: shared by the stores and by
whoever puts a value into a tree (decrypt, set, the SopsSecret builder)."""

from __future__ import annotations

import re

from sealer.errors import InputError
from sealer.sops import scalars
from sealer.sops.nodes import MAP_TAG, SEQ_TAG, STR_TAG, MappingNode, ScalarNode, SequenceNode, implicit_tag
from sealer.sops.tree import resolve_yaml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from sealer.sops.nodes import Node

YAML_1_1_BOOLISH = re.compile(r"^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$")


class JsonScalar(ScalarNode):
    """A JSON scalar: its type is fixed by JSON syntax, not by YAML resolution."""

    __slots__ = ("json_kind",)

    def __init__(self, text: str, kind: str) -> None:
        super().__init__(STR_TAG if kind == scalars.STR else implicit_tag(text), text,
                         style='"' if kind == scalars.STR else None)
        self.json_kind = kind


def scalar(text: str, style: str | None = None, tag_name: str = STR_TAG) -> ScalarNode:
    return ScalarNode(tag_name, text, style=style)


def json_str(text: str) -> ScalarNode:
    return JsonScalar(text, scalars.STR)


def typed(text: str, kind: str, json_mode: bool) -> ScalarNode:
    return JsonScalar(text, kind) if json_mode else scalar(text, None, implicit_tag(text))


def format_value(kind: str, value: object, fmt: str) -> ScalarNode:
    """A fresh node for a decrypted value: the text and quoting Go's encoders would write."""
    if kind in (scalars.STR, scalars.COMMENT, scalars.BYTES):
        text = str(value)
        if fmt == "json":
            return json_str(text)
        from sealer.sops import emit  # not for JSON: a one-file JSON decrypt never loads the YAML emitter

        if "\x85" in text or "\u2028" in text or "\u2029" in text:
            return scalar(text, '"')  # line breaks to YAML 1.1 readers (go-yaml, so sops): only escapes keep them
        if "\n" in text:
            # a literal block, unless it cannot hold the text: then double-quoted with escapes (go-yaml's rule)
            block = emit.go_flags(text)[3] and emit.analyze_scalar(text.replace("\t", "x")).allow_block
            return scalar(text, "|" if block else '"')
        try:
            plain_ok = scalars.resolve_plain(text)[0] == scalars.STR
        except scalars.UnsupportedValue:
            plain_ok = False  # an integer beyond int64: go-yaml reads it as a number
        style = emit.go_string_style(text, plain_ok and implicit_tag(text) == STR_TAG)
        return scalar(text, style)
    if kind == scalars.INT:
        return typed(str(value), kind, fmt == "json")
    if kind == scalars.FLOAT:
        f = float(value)  # type: ignore[arg-type]
        return typed(scalars.go_format_float_json(f) if fmt == "json" else scalars.go_format_float_g(f), kind,
                     fmt == "json")
    if kind == scalars.BOOL:
        return typed("true" if value else "false", kind, fmt == "json")
    if kind == scalars.TIME:
        text = value.text  # type: ignore[union-attr]
        return json_str(text) if fmt == "json" else typed(text, kind, False)
    raise InputError(f"cannot write a value of type {kind}")


def encrypted_node(text: str, fmt: str) -> ScalarNode:
    return json_str(text) if fmt == "json" else scalar(text)


def from_data(data: Any, json_mode: bool = False) -> Node:
    """Nodes for plain data (the metadata block): multi-line strings as literal blocks, like sops."""
    if isinstance(data, dict):
        return MappingNode(MAP_TAG, [(json_str(k) if json_mode else scalar(str(k)), from_data(v, json_mode))
                                     for k, v in data.items()], flow_style=False)
    if isinstance(data, list):
        return SequenceNode(SEQ_TAG, [from_data(v, json_mode) for v in data], flow_style=False)
    if isinstance(data, bool):
        return typed("true" if data else "false", scalars.BOOL, json_mode)
    if isinstance(data, int):
        return typed(str(data), scalars.INT, json_mode)
    if data is None:
        return typed("null", scalars.NULL, json_mode)
    text = str(data)
    if json_mode:
        return json_str(text)
    if "\n" in text:
        return scalar(text, "|")
    return scalar(text, '"' if implicit_tag(text) != STR_TAG or YAML_1_1_BOOLISH.match(text) else None)


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
