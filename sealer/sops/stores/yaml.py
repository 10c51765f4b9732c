"""The YAML store. It keeps comments, key order, quoting and the file's own indentation (detected), so a sealer
edit of a file sops wrote, or of a hand-written manifest, changes only the lines whose values changed.

YAML is read and written by ruamel.yaml's round-trip loader and emitter. Plain files (no comments, anchors,
tags, ... : what sops and kubectl write) take a fast path instead (`fastyaml`) that builds the same tree and
writes the same bytes without importing ruamel.yaml; anything else goes to ruamel.yaml.
"""

from __future__ import annotations

import itertools

from sealer.errors import TOO_DEEP, InputError, check_yaml_graph, flow_depth_exceeds, yaml_error_message
from sealer.sops import emit
from sealer.sops.fastyaml import read
from sealer.sops.nodes import MAP_TAG, MappingNode, tag_name
from sealer.sops.nodes import Node as _LightNode
from sealer.sops.stores import Layout, Tree, sops_block

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from sealer.sops.nodes import Node


def load(text: str, source: str) -> Tree:
    roots: list[Any] | None = read.compose_all(text)
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
            if pair[0].id == "scalar" and pair[0].value == sops_block.METADATA_KEY:
                root.value.remove(pair)
                if metadata is None:
                    metadata = sops_block.metadata_data(pair[1], source)
        out.append(root)
    return Tree(out, metadata, "yaml", _guess_layout(text))


def dump(tree: Tree) -> str:
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
            y = _ruamel(layout)
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
            text += sops_block.metadata_yaml(tree.metadata, tree.layout)
        docs.append(text)
    return "".join(docs)


def _ruamel(layout: Layout | None = None) -> Any:
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
        return list(_ruamel().compose_all(text))
    except YAMLError as e:
        raise InputError(yaml_error_message(e), source=source) from None


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
