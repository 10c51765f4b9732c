"""The YAML store. It keeps comments, key order, quoting and the file's own indentation (detected), so a sealer
edit of a file sops wrote, or of a hand-written manifest, changes only the lines whose values changed.

YAML is read and written by ruamel.yaml's round-trip loader and emitter. Plain files (no comments, anchors,
tags, ... : what sops and kubectl write) take a fast path instead (`fastyaml`) that builds the same tree and
writes the same bytes without importing ruamel.yaml; anything else goes to ruamel.yaml. A file in sops' own
layout (indent 4, lists indented under their key) is written as go-yaml writes it (`emit.GO_LAYOUT`), so
`sealer decrypt` of a file sops wrote prints what `sops decrypt` prints.
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
        if roots and roots[0] is not None and roots[0].id == "mapping":
            _keep_comments_before_start(text, roots[0])
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
        for n, pair in enumerate(list(root.value)):
            if pair[0].id == "scalar" and pair[0].value == sops_block.METADATA_KEY:
                if n:
                    _keep_comments_of_removed_key(pair[0], root.value[n - 1][1])
                root.value.remove(pair)
                if metadata is None:
                    metadata = sops_block.metadata_data(pair[1], source)
        out.append(root)
    return Tree(out, metadata, "yaml", _guess_layout(text))


def _keep_comments_of_removed_key(key: Any, previous: Any) -> None:
    """Comment lines ruamel attached before the `sops` key (after an empty `[]` / `{}` it gives them to the next
    key) belong to the document: they go after the value before it, where they were."""
    comment = getattr(key, "comment", None)
    before = comment[1] if isinstance(comment, list) and len(comment) > 1 else None
    if not isinstance(before, list) or not before:
        return
    text = "".join(" " * (getattr(getattr(t, "start_mark", None), "column", 0) or 0) + t.value.lstrip(" ")
                   for t in before if isinstance(getattr(t, "value", None), str))
    while previous.id != "scalar" and previous.value:  # after a collection: after its last scalar
        last = previous.value[-1]
        previous = last[1] if isinstance(last, tuple) else last
    if not text or not hasattr(previous, "comment"):
        return
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    mine = previous.comment if isinstance(previous.comment, list) else [None, None]
    eol = mine[0]
    if isinstance(getattr(eol, "value", None), str) and eol.value.endswith("\n"):
        eol.value += text
    else:
        mine[0] = CommentToken("\n" + text, CommentMark(0), None)
    previous.comment = mine
    if previous.id == "sequence":
        previous.flow_style = True  # an empty list: ruamel writes a comment after `[]` only in flow style


def _keep_comments_before_start(text: str, root: Any) -> None:
    """Comment lines before a first `---`: ruamel's composer drops them, go-yaml (so sops) keeps them as the
    document's head comment. They become the first mapping's leading comment lines, as without the `---`."""
    if not text.startswith(("#", "\n", " ")) or getattr(root, "comment", None):
        return
    lines: list[str] = []
    for line in text[:4096].split("\n"):
        stripped = line.strip()
        if stripped == "---" or stripped.startswith("--- "):
            break
        if stripped and not stripped.startswith("#"):
            return  # content or a directive before the marker: nothing to keep
        if stripped:
            lines.append(stripped)
    else:
        return
    if not lines:
        return
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    root.comment = [None, [CommentToken(line + "\n", CommentMark(0), None) for line in lines]]


def dump(tree: Tree) -> str:
    """Each document as ruamel writes it, then the `sops:` block as go-yaml would write it: sops' own files
    come back with their metadata byte-identical, and ours look like sops' to reviewers."""
    docs = []
    layout = tree.layout
    for i, root in enumerate(tree.roots):
        explicit = layout.explicit_start or i > 0
        column = getattr(getattr(root, "start_mark", None), "column", 0) or 0
        if column and root.id == "mapping":  # a mapping from inside a document (--extract): its comments too
            root = _dedent_comments(root, column)
        _settle_empty_flow_comments(root)
        if tree.metadata is not None and root.id == "mapping" and root.flow_style:
            root.flow_style = False  # `{...}` then `sops:` is not YAML: block style, as sops writes every mapping
        text = emit.serialize(root, layout.mapping, layout.sequence, layout.offset, explicit)
        if text is None and (layout.mapping, layout.sequence, layout.offset) == emit.GO_LAYOUT:
            light = _to_light(root)  # read by ruamel (the fast reader's subset is narrower), written as go-yaml
            if light is not None:
                text = emit.serialize(light, layout.mapping, layout.sequence, layout.offset, explicit)
        if text is None:
            import io

            out = io.StringIO()
            y = _ruamel(layout)
            go = (layout.mapping, layout.sequence, layout.offset) == emit.GO_LAYOUT
            y.Emitter = emit.ruamel_emitter(go=go)  # ruamel's output, in linear time
            y.explicit_start = explicit
            y.serialize(to_ruamel(root), out)
            text = out.getvalue()
        if text.endswith("\n...\n"):
            # the end marker ruamel writes after a trailing `|+` block: go-yaml writes none (the block keeps its
            # lines to the end of the stream or the next `---` without it), and before the `sops` key it would
            # start a second document, where sops finds no metadata
            text = text[:-4]
        if tree.metadata is not None:
            if text.strip() in ("{}", "--- {}"):
                text = text.replace("{}", "").rstrip(" \n") + ("\n" if text.startswith("---") else "")
            if ("{} " in text or "[] " in text) and "#" in text:
                text = _comments_of_empty_collections(text)
            text += sops_block.metadata_yaml(tree.metadata, tree.layout)
        docs.append(text)
    return "".join(docs)


_KEY = r"""(?:[^\s#'"{}\[\]:!&*|>%@`-][^:'"#]*|"[^"\\]*"|'[^']*')"""  # a plain or quoted key, nothing else
_EMPTY_COLLECTION_COMMENT = rf"^( *)((?:- )*{_KEY}: )(\{{\}}|\[\]) +(#.*)$"
_BLOCK_SCALAR_START = r"[:-] *[|>][-+0-9]*(?: +#.*)?$"


def _comments_of_empty_collections(text: str) -> str:
    """Comments on the line of an empty `{}` or `[]`, placed as sops places them, so `sops decrypt` of our file
    prints what it prints for its own: after `{}` the comment goes inside the braces (`e: {`, the comment 4
    columns in, `}` in column 0, as go-yaml writes it; both tools then drop it on decrypt); after `[]` a clear
    comment (one `encrypted_comment_regex` leaves clear) goes on the next line, or nowhere when the document's
    closing comments follow (sops drops it). An encrypted comment after `[]` stays: sops reads it as the list's
    comment item, as it writes it. Known comment losses: README, SOPS.
    Lines of a block scalar are content and stay as they are."""
    import re

    pattern = re.compile(_EMPTY_COLLECTION_COMMENT)
    block_start = re.compile(_BLOCK_SCALAR_START)
    out: list[str] = []
    scalar_indent = -1  # inside a block scalar: the indentation of the line that opened it
    lines = text.split("\n")
    for n, line in enumerate(lines):
        indent = len(line) - len(line.lstrip(" "))
        if scalar_indent >= 0 and (not line.strip() or indent > scalar_indent):
            out.append(line)
            continue
        scalar_indent = indent if block_start.search(line) else -1
        m = pattern.match(line)
        if m and m[3] == "{}":
            line = f"{m[1]}{m[2]}{{\n{' ' * (len(m[1]) + 4)}{m[4]}\n}}"
        elif m and not m[4].startswith("#ENC["):
            rest = [r for r in lines[n + 1:] if r.strip()]
            closing = not m[1] and bool(rest) and all(r.startswith("#") for r in rest)
            # go-yaml: the comment goes on the next line, unless the document's closing comments take its place
            line = f"{m[1]}{m[2]}[]" + ("" if closing else f"\n{m[1]}{m[4]}")
        out.append(line)
    return "\n".join(out)


def _settle_empty_flow_comments(node: Any, column: int = 0, last_in_root: bool = False, is_root: bool = True) -> None:
    """Comment lines attached before an empty list (sops writes the comment after `f: []` as the list's only
    item; decrypting leaves an empty list with a comment) go on the lines after it, as go-yaml prints them:
    ruamel would write them between the key and the `[]`, which is not YAML. The list's own lines take the column
    of its key or dash; lines that followed the item keep theirs; after the last key of a document, go-yaml
    prints the document's closing comments first, then a blank line, then the list's own."""
    if node.id == "mapping":
        for n, (key, value) in enumerate(node.value):
            col = getattr(getattr(key, "start_mark", None), "column", 0) or 0
            _settle_empty_flow_comments(value, col, is_root and n == len(node.value) - 1, False)
        return
    if node.id != "sequence":
        return
    if node.value:
        col = getattr(getattr(node, "start_mark", None), "column", 0) or 0
        for item in node.value:
            _settle_empty_flow_comments(item, col, False, False)
        return
    comment = node.comment
    before = comment[1] if isinstance(comment, list) and len(comment) > 1 else None
    if not before or not isinstance(before, list):
        return
    tokens = [t for t in before if isinstance(getattr(t, "value", None), str)]
    if not tokens:
        return
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    own_column = getattr(getattr(node, "start_mark", None), "column", None)
    own: list[str] = []
    after: list[str] = []
    for t in tokens:
        line = t.value.lstrip(" ")
        line += "" if line.endswith("\n") else "\n"
        col = getattr(getattr(t, "start_mark", None), "column", 0) or 0
        if own_column is None or col == own_column:
            own.append(" " * column + line)
        else:
            after.append(" " * col + line)
    text = "".join(after) + "\n" + "".join(own) if last_in_root and after else "".join(own + after)
    eol = comment[0]
    if isinstance(getattr(eol, "value", None), str) and eol.value.endswith("\n"):
        eol.value += text
    else:
        comment[0] = CommentToken("\n" + text, CommentMark(0), None)
    comment[1] = None
    node.flow_style = True  # an emptied block list: ruamel writes `[]` and then the comment only in flow style


def _dedent_comments(root: Any, column: int) -> Any:
    """A copy of ``root`` whose comment lines start ``column`` columns further left (ruamel keeps a comment's
    indentation in its text), as sops prints a mapping taken out of its document."""
    import copy
    import re

    root = copy.deepcopy(root)
    pattern = re.compile(rf"(^|\n) {{1,{column}}}")

    def tokens(comment: Any) -> Any:
        if isinstance(comment, list | tuple):
            for c in comment:
                yield from tokens(c)
        elif isinstance(getattr(comment, "value", None), str):
            yield comment

    def visit(node: Any) -> None:
        for token in tokens(getattr(node, "comment", None)):
            token.value = pattern.sub(r"\1", token.value)
            mark = getattr(token, "start_mark", None)
            if mark is not None and getattr(mark, "column", 0) >= column:
                mark.column -= column
        if node.id == "mapping":
            for k, v in node.value:
                visit(k)
                visit(v)
        elif node.id == "sequence":
            for v in node.value:
                visit(v)

    visit(root)
    return root


def _to_light(node: Any) -> Node | None:
    """A copy of a tree made of sealer's nodes, or None when a node carries a comment (only ruamel writes those)."""
    from sealer.sops.nodes import ScalarNode, SequenceNode

    if getattr(node, "comment", None) or getattr(node, "anchor", None) is not None:
        return None
    tag = tag_name(node)
    if node.id == "scalar":
        return ScalarNode(tag, node.value, style=node.style) if isinstance(node.value, str) else None
    if node.id == "mapping":
        pairs = []
        for k, v in node.value:
            k2, v2 = _to_light(k), _to_light(v)
            if k2 is None or v2 is None:
                return None
            pairs.append((k2, v2))
        return MappingNode(tag, pairs, flow_style=node.flow_style)
    items = []
    for v in node.value:
        v2 = _to_light(v)
        if v2 is None:
            return None
        items.append(v2)
    return SequenceNode(tag, items, flow_style=node.flow_style)


def _ruamel(layout: Layout | None = None) -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.width = emit.WIDTH
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
