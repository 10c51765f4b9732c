"""The `sops` entry of a file: its key, its value as plain data (both stores), and the `sops:` block written as
go-yaml writes it (the YAML store), so sops' own files come back with their metadata byte-identical."""

from __future__ import annotations

import re

from sealer.errors import InputError
from sealer.sops import scalars
from sealer.sops.nodes import STR_TAG, implicit_tag
from sealer.sops.stores.values import YAML_1_1_BOOLISH, to_data

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from sealer.sops.nodes import Node
    from sealer.sops.stores import Layout


METADATA_KEY = "sops"


def metadata_data(node: Node, source: str) -> Any:
    try:
        return to_data(node)
    except scalars.UnsupportedValue as e:  # a tag or number no sops block holds
        raise InputError(str(e), source=source, field=METADATA_KEY) from None


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
             implicit_tag(text) == STR_TAG and not YAML_1_1_BOOLISH.match(text) and
             scalars.resolve_plain(text)[0] == scalars.STR)
    if plain:
        return text
    try:  # what json.dumps(text, ensure_ascii=False) calls, without importing json (~2 ms of a one-file encrypt)
        from _json import encode_basestring
    except ImportError:  # pragma: no cover - an interpreter without the C accelerator
        from json.encoder import py_encode_basestring as encode_basestring

    return encode_basestring(text)
