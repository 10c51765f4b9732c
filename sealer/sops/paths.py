"""Tree paths in sops' syntax, `["data"]["password"]` or `["list"][0]`: for --extract, set and unset."""

from __future__ import annotations

import re

from sealer.errors import InputError
from sealer.sops.nodes import MappingNode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sealer.sops.nodes import Node, ScalarNode

_PART = re.compile(r'\[\s*(?:"((?:[^"\\]|\\.)*)"|\'((?:[^\'\\]|\\.)*)\'|(-?\d+))\s*\]')


def parse(text: str) -> list[str | int]:
    """`["a"][0]["b"]` -> ["a", 0, "b"]; InputError for anything else."""
    parts: list[str | int] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _PART.match(text, pos)
        if not m:
            raise InputError(f"invalid path at character {pos + 1}: use the sops form '[\"data\"][\"key\"]'",
                             field="path")
        quoted = m.group(1) if m.group(1) is not None else m.group(2)
        parts.append(re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else int(m.group(3)))
        pos = m.end()
    if not parts:
        raise InputError("empty path", field="path")
    return parts


def show(parts: list[str | int]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f'["{p}"]' for p in parts)


def find(root: Node, parts: list[str | int]) -> Node:
    node = root
    for i, part in enumerate(parts):
        node = _child(node, part, parts[: i + 1])
    return node


def _child(node: Node, part: str | int, so_far: list[str | int]) -> Node:
    if isinstance(part, int):
        if node.id != "sequence" or not -len(node.value) <= part < len(node.value):
            raise InputError("no such element", field=show(so_far))
        return node.value[part]
    if node.id == "mapping":
        for key, value in node.value:
            if key.id == "scalar" and key.value == part:
                return value
    raise InputError("no such key", field=show(so_far))


def set_node(root: Node, parts: list[str | int], value: Node) -> None:
    """Replace or add the node at ``parts``, creating missing mappings on the way, as `sops set` does."""
    from sealer.sops.nodes import MAP_TAG
    from sealer.sops.stores.values import scalar

    node = root
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(part, int):
            if node.id != "sequence":
                raise InputError("not a list", field=show(parts[:i]) or "<root>")
            if part == len(node.value) and last:
                node.value.append(value)
                return
            child = _child(node, part, parts[: i + 1])
            if last:
                _keep_comments(child, value)
                node.value[part] = value
                return
            node = child
            continue
        if node.id != "mapping":
            raise InputError("not a mapping", field=show(parts[:i]) or "<root>")
        for j, (key, child) in enumerate(node.value):
            if key.id == "scalar" and key.value == part:
                if last:
                    _keep_comments(child, value)
                    node.value[j] = (key, value)
                    return
                node = child
                break
        else:
            new: Node = value if last else MappingNode(MAP_TAG, [], flow_style=False)
            key_node = _key_like(node, part) or scalar(part)
            node.value.append((key_node, new))
            if last:
                return
            node = new


def _keep_comments(old: Node, new: Node) -> None:
    """`sops set` keeps the comments around a value it replaces; so do we (end-of-line ones move with it)."""
    if getattr(old, "comment", None) and not getattr(new, "comment", None):
        new.comment = old.comment
        eol = new.comment[0] if isinstance(new.comment, list) and new.comment else None
        if eol is not None and hasattr(eol, "value") and not eol.value.startswith("\n"):
            from ruamel.yaml.error import CommentMark

            eol.start_mark = CommentMark(0)


def _key_like(mapping: MappingNode, text: str) -> ScalarNode | None:
    """A key node in the style of the mapping's other keys (JSON keys are JSON strings)."""
    from sealer.sops.stores.values import JsonScalar

    if mapping.value and isinstance(mapping.value[0][0], JsonScalar):
        from sealer.sops import scalars

        return JsonScalar(text, scalars.STR)
    return None


def unset(root: Node, parts: list[str | int]) -> None:
    parent = find(root, parts[:-1]) if len(parts) > 1 else root
    last = parts[-1]
    if isinstance(last, int):
        if parent.id != "sequence" or not -len(parent.value) <= last < len(parent.value):
            raise InputError("no such element", field=show(parts))
        del parent.value[last]
        return
    if parent.id == "mapping":
        for j, (key, value) in enumerate(parent.value):
            if key.id == "scalar" and key.value == last:
                if j > 0:
                    _hand_down_comments(value, parent.value[j - 1][1])
                del parent.value[j]
                return
    raise InputError("no such key", field=show(parts))


def _hand_down_comments(removed: Node, previous: Node) -> None:
    """The comment lines after a removed scalar (ruamel keeps them with it; sops keeps them as items of the
    mapping) stay where they were: they move to the scalar before it. Its own end-of-line comment goes."""
    if removed.id != "scalar" or previous.id != "scalar":
        return
    token = removed.comment[0] if isinstance(removed.comment, list) and removed.comment else None
    text = getattr(token, "value", None)
    if not isinstance(text, str) or "\n" not in text.rstrip("\n"):
        return
    following = text[text.index("\n"):]  # from the end of the removed line: "\n    # comment\n..."
    mine = previous.comment[0] if isinstance(previous.comment, list) and previous.comment else None
    if mine is None:
        from ruamel.yaml.error import CommentMark
        from ruamel.yaml.tokens import CommentToken

        if not isinstance(previous.comment, list):
            previous.comment = [None, None]
        previous.comment[0] = CommentToken(following, CommentMark(0), None)
    elif isinstance(getattr(mine, "value", None), str) and mine.value.endswith("\n"):
        mine.value = mine.value + following[1:]
