"""The dotenv store, as sops' stores/dotenv: one `KEY=value` a line (the key is everything before the first `=`,
nothing is trimmed or unquoted), `\\n` in a value is a line break, a line starting with `#` is a comment, and the
metadata rides along as flattened `sops_*` keys sorted at the end. A repeated key is kept twice, as sops keeps it."""

from __future__ import annotations

from sealer.errors import InputError
from sealer.sops.nodes import MAP_TAG, MappingNode
from sealer.sops.stores import Tree, flat, values

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sealer.sops.nodes import Node

PREFIX = "sops_"


def load(text: str, source: str) -> Tree:
    if "\x00" in text:
        raise InputError("a dotenv file cannot hold a NUL byte", source=source)
    entries: list[tuple[Node, Node]] = []
    pending: list[object] = []
    metadata: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), 1):
        if not line:
            continue
        if line[0] == "#":
            pending.append(flat.comment_token("#" + line[1:]))
            continue
        pos = line.find("=")
        if pos == -1:
            raise InputError(f"invalid dotenv input on line {number}: no '=' (sops: invalid dotenv input line)",
                             source=source)
        key, value = line[:pos], line[pos + 1:].replace("\\n", "\n")
        if key.startswith(PREFIX):
            metadata[key[len(PREFIX):]] = value
            continue
        key_node = values.scalar(key)
        if pending:
            key_node.comment, pending = pending, []
        entries.append((key_node, values.json_str(value)))
    root = MappingNode(MAP_TAG, entries, flow_style=False)
    if pending:
        root.comment = pending
    return Tree([root], flat.unflatten(metadata, source) if metadata else None, "dotenv")


def dump(tree: Tree) -> str:
    out: list[str] = []
    root = tree.roots[0]
    if root.id != "mapping":
        raise InputError("a dotenv file holds a mapping of keys to values")
    for key_node, value_node in root.value:
        out.extend(flat.comment_lines(key_node))
        if value_node.id != "scalar":
            raise InputError(f"cannot use complex value in dotenv file: {key_node.value}")
        out.append(f"{key_node.value}={escape(str(value_node.value))}\n")
    out.extend(flat.comment_lines(root))
    if tree.metadata is not None:
        out.extend(f"{PREFIX}{k}={v}\n" for k, v in flat.flatten(tree.metadata).items())
    return "".join(out)


def escape(text: str) -> str:
    return text.replace("\n", "\\n")
