"""YAML nodes without ruamel.yaml: the tree sealer's SOPS code works on, and YAML 1.2 implicit typing.

The node classes have the attributes of ruamel.yaml's composer nodes (``tag`` as a string, ``value``, ``style``,
``flow_style``, ``start_mark``, ``comment``, ``anchor``, and ``id``: 'scalar' / 'mapping' / 'sequence'), so the
tree code handles both kinds alike by looking at ``id``. Nodes sealer builds itself (decrypted values, JSON
files, files read by the fast YAML reader) are these; files only ruamel.yaml can read keep ruamel's nodes, and
the YAML store converts ours to ruamel's before ruamel writes a tree (`stores.yaml.to_ruamel`).

`implicit_tag` is ruamel.yaml's YAML 1.2 implicit resolver (the regular expressions and their order, copied from
ruamel/yaml/resolver.py), so a node built here gets the tag ruamel would give the same text. It is not how sops
types a value (that is `scalars.resolve_plain`, go-yaml's rules); it decides which tag a plain scalar carries and
so whether a string has to be quoted to stay a string.
"""

from __future__ import annotations

import re

STR_TAG = "tag:yaml.org,2002:str"
MAP_TAG = "tag:yaml.org,2002:map"
SEQ_TAG = "tag:yaml.org,2002:seq"
NULL_TAG = "tag:yaml.org,2002:null"

SCALAR, MAPPING, SEQUENCE = "scalar", "mapping", "sequence"


class Mark:
    """Where a node starts (0-based line and column), as far as sealer needs it."""

    __slots__ = ("column", "line")

    def __init__(self, line: int, column: int) -> None:
        self.line = line
        self.column = column

    def __repr__(self) -> str:
        return f"Mark(line={self.line}, column={self.column})"


class Node:
    __slots__ = ("anchor", "comment", "end_mark", "start_mark", "tag", "value")
    id = ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tag={self.tag!r}, value={self.value!r})"


class ScalarNode(Node):
    __slots__ = ("style",)
    id = SCALAR

    def __init__(self, tag: str, value: str, start_mark: Mark | None = None, end_mark: Mark | None = None,
                 style: str | None = None, comment: object = None, anchor: str | None = None) -> None:
        self.tag = tag
        self.value = value
        self.start_mark = start_mark
        self.end_mark = end_mark
        self.style = style
        self.comment = comment
        self.anchor = anchor


class CollectionNode(Node):
    __slots__ = ("flow_style",)

    def __init__(self, tag: str, value: list, start_mark: Mark | None = None, end_mark: Mark | None = None,
                 flow_style: bool | None = None, comment: object = None, anchor: str | None = None) -> None:
        self.tag = tag
        self.value = value
        self.start_mark = start_mark
        self.end_mark = end_mark
        self.flow_style = flow_style
        self.comment = comment
        self.anchor = anchor


class SequenceNode(CollectionNode):
    __slots__ = ()
    id = SEQUENCE


class MappingNode(CollectionNode):
    __slots__ = ()
    id = MAPPING


def tag_name(node: object) -> str | None:
    """The tag of a node as a string (ruamel gives composed nodes a Tag object in some versions)."""
    t = node.tag  # type: ignore[attr-defined]
    return t if t is None or isinstance(t, str) else t.value


# --- ruamel.yaml's YAML 1.2 implicit resolver -------------------------------------------------------------

_BOOL = re.compile(r"""^(?:true|True|TRUE|false|False|FALSE)$""", re.X)
_FLOAT = re.compile(r"""^(?:
         [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""", re.X)
_INT = re.compile(r"""^(?:[-+]?0b[0-1_]+
        |[-+]?0o?[0-7_]+
        |[-+]?[0-9_]+
        |[-+]?0x[0-9a-fA-F_]+)$""", re.X)
_MERGE = re.compile(r"^(?:<<)$")
_NULL = re.compile(r"""^(?: ~
        |null|Null|NULL
        | )$""", re.X)
_TIMESTAMP = re.compile(r"""^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
        |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
        (?:[Tt]|[ \t]+)[0-9][0-9]?
        :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
        (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$""", re.X)
_VALUE = re.compile(r"^(?:=)$")
_YAML = re.compile(r"^(?:!|&|\*)$")

_RESOLVERS: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
for _tag, _regexp, _first in (
    ("tag:yaml.org,2002:bool", _BOOL, "tTfF"),
    ("tag:yaml.org,2002:float", _FLOAT, "-+0123456789."),
    ("tag:yaml.org,2002:int", _INT, "-+0123456789"),
    ("tag:yaml.org,2002:merge", _MERGE, "<"),
    ("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:timestamp", _TIMESTAMP, "0123456789"),
    ("tag:yaml.org,2002:value", _VALUE, "="),
    ("tag:yaml.org,2002:yaml", _YAML, "!&*"),
):
    for _ch in _first:
        _RESOLVERS.setdefault(_ch, []).append((_tag, _regexp))

_implicit_cache: dict[str, str] = {}


def implicit_tag(text: str) -> str:
    """The tag ruamel.yaml (round-trip, YAML 1.2) gives a plain scalar with this text."""
    tag = _implicit_cache.get(text)
    if tag is None:
        tag = STR_TAG
        for candidate, regexp in _RESOLVERS.get(text[:1], ()):
            if regexp.match(text):
                tag = candidate
                break
        if len(_implicit_cache) < 4096:
            _implicit_cache[text] = tag
    return tag
