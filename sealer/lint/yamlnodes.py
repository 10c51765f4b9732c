"""Parsing YAML/JSON for lint: the composed node tree (every node knows its line and column), never constructed
Python objects, so findings point at the right place and hostile input (anchors, odd tags) cannot make it
expensive. Helm templates are made parseable first by blanking directive lines and marking inline `{{ }}`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

try:
    from yaml._yaml import CParser as _Parser  # libyaml, as yaml.CSafeLoader uses it
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _Parser = None
Node = yaml.Node
MappingNode = yaml.MappingNode
SequenceNode = yaml.SequenceNode
ScalarNode = yaml.ScalarNode

TEMPLATE_MARK = "_tpl_"  # detectors treat a value containing it as a reference
_TEMPLATE = re.compile(r"\{\{.*?\}\}")
_ONLY_TEMPLATES = re.compile(r"^\s*(?:\{\{.*?\}\}\s*)+$")
_STR = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"


def _mark(m: re.Match[str]) -> str:
    n = len(m.group(0))
    return (TEMPLATE_MARK + "_" * n)[:n]


def strip_templates(text: str) -> str:
    """Same lines and columns; `{{ ... }}`-only lines blanked, inline templates replaced by a marker."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if "{{" in line:
            lines[i] = " " * len(line) if _ONLY_TEMPLATES.match(line) else _TEMPLATE.sub(_mark, line)
    return "\n".join(lines)


_BOOLS = frozenset(w.capitalize() if i % 3 == 1 else w.upper() if i % 3 == 2 else w
                   for i, w in enumerate(x for x in ("true", "false", "yes", "no", "on", "off") for _ in range(3)))
_NULLS = frozenset(("", "~", "null", "Null", "NULL"))
_INT = re.compile(r"[-+]?(?:0|[1-9][0-9_]*|0o?[0-7_]+|0x[0-9a-fA-F_]+)$")


def _resolve(kind: type, value: str, implicit: tuple[bool, bool]) -> str:
    """The tags lint cares about (str, int, bool, null), at a fraction of PyYAML's resolver's cost: it runs
    once per scalar, in Python, even under the C parser."""
    if kind is not ScalarNode:
        return "tag:yaml.org,2002:map" if kind is MappingNode else "tag:yaml.org,2002:seq"
    if not implicit[0]:
        return _STR
    if value in _NULLS:
        return _NULL
    if value in _BOOLS:
        return _BOOL
    if value[:1] in "-+0123456789" and _INT.match(value):
        return _INT_TAG
    return _STR


if _Parser is not None:
    class _Composer(_Parser):  # type: ignore[misc, valid-type]
        """libyaml's parser and composer with `_resolve`; lint only composes, it never constructs."""

        def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
            return _resolve(kind, value, implicit)

        def descend_resolver(self, current_node: object, current_index: object) -> None:
            pass

        def ascend_resolver(self) -> None:
            pass
else:  # pragma: no cover - PyYAML without libyaml
    _Composer = yaml.SafeLoader  # type: ignore[assignment, misc]


class TooComplex(Exception):
    """The text is YAML whose aliases expand too much (an alias bomb) or loop: the rules, which follow aliases,
    would run for ever. The message is sealer's own (names nothing from the file)."""


def compose(text: str) -> list[Node] | None:
    """Every non-empty document's root node, or None when the text is not YAML (it is then scanned as text).
    TooComplex for an alias bomb (`sealer.errors.check_yaml_graph`), found before any rule walks it."""
    if "{{" in text:
        text = strip_templates(text)
    try:
        roots = [n for n in yaml.compose_all(text, Loader=_Composer) if n is not None]
    except (yaml.YAMLError, ValueError, RecursionError, TypeError):
        return None
    if "*" in text:  # no alias without one
        from sealer.errors import InputError, check_yaml_graph

        for root in roots:
            try:
                check_yaml_graph(root, duplicates=False)
            except InputError as e:
                raise TooComplex(e.message) from None
    return roots


def get(node: Node | None, key: str) -> Node | None:
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == key:
                return v
    return None


def text(node: Node | None) -> str | None:
    """The string of a scalar that YAML reads as a string (not a number, bool or null)."""
    if isinstance(node, ScalarNode) and node.tag == _STR:
        return node.value
    return None


def literal(node: Node | None) -> str | None:
    """Any non-null scalar's source text (a password may be `12345678` or `yes`)."""
    if isinstance(node, ScalarNode) and node.tag != _NULL:
        return node.value
    return None


def pairs(node: Node | None) -> Iterator[tuple[str, Node, Node]]:
    """(key, key node, value node) of a mapping, string keys only."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode):
                yield k.value, k, v


def items(node: Node | None) -> list[Node]:
    return list(node.value) if isinstance(node, SequenceNode) else []


def line(node: Node) -> int:
    return node.start_mark.line + 1


def column(node: Node) -> int:
    return node.start_mark.column + 1


def value_position(node: Node) -> tuple[int, int]:
    """Where a scalar's value text starts: after the opening quote, or on the line after a `|` / `>` header."""
    mark = node.start_mark
    style = getattr(node, "style", None)
    if style in ('"', "'"):
        return mark.line + 1, mark.column + 2
    if style in ("|", ">"):
        return mark.line + 2, 1
    return mark.line + 1, mark.column + 1


def to_data(node: Node | None, depth: int = 0) -> Any:
    """Plain data for small blocks (a `sops:` metadata block): strings, ints, bools, lists, dicts."""
    if node is None or depth > 50:
        return None
    if isinstance(node, ScalarNode):
        if node.tag == _NULL:
            return None
        if node.tag == _INT_TAG:
            try:
                return int(node.value, 0)
            except ValueError:
                return node.value
        if node.tag == _BOOL:
            return node.value.lower() in ("true", "yes", "on")
        return node.value
    if isinstance(node, SequenceNode):
        return [to_data(n, depth + 1) for n in node.value]
    return {k: to_data(v, depth + 1) for k, _, v in pairs(node)}


def describe(obj: Node) -> str:
    """`Kind namespace/name` of an object node, for messages (sealer.io.manifests.describe on its names)."""
    from sealer.io import manifests

    meta = get(obj, "metadata")
    names = {k: text(get(meta, k)) for k in ("name", "namespace")}
    return manifests.describe({"kind": text(get(obj, "kind")), "metadata": {k: v for k, v in names.items() if v}})
