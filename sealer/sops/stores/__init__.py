"""SOPS files on disk: one store per format, as in sops (`yaml`, `json`, `dotenv`, `ini`, `binary`), behind `load` and
`dumps`. Every store gives the tree as YAML nodes (`sealer.sops.nodes`), so one walker serves all formats;
`values` makes the nodes for values, `sops_block` reads and writes the `sops` entry, `flat` the flattened
metadata of dotenv and INI.

A store is imported when a file of its format is first read or written: a one-file YAML decrypt never loads the
JSON store.
"""

from __future__ import annotations

from sealer.errors import TOO_DEEP, InputError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import ModuleType
    from typing import Any

    from sealer.sops.nodes import Node


class Layout:
    __slots__ = ("explicit_start", "json_indent", "mapping", "offset", "sequence")

    def __init__(self, mapping: int = 2, sequence: int = 2, offset: int = 0, explicit_start: bool = False,
                 json_indent: str = "\t") -> None:
        self.mapping = mapping
        self.sequence = sequence
        self.offset = offset
        self.explicit_start = explicit_start
        self.json_indent = json_indent

    def _key(self) -> tuple[object, ...]:
        return (self.mapping, self.sequence, self.offset, self.explicit_start, self.json_indent)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Layout:
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "Layout(mapping={!r}, sequence={!r}, offset={!r}, explicit_start={!r}, json_indent={!r})".format(
            *self._key())


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


def detect_format(source: str, data: bytes, forced: str | None = None) -> str:
    if forced:
        return forced
    lower = source.lower()
    if lower.endswith(".env"):
        return "dotenv"
    if lower.endswith(".ini"):
        return "ini"
    if lower.endswith(".json"):
        return "json"
    if lower.endswith((".yaml", ".yml")):
        return "yaml"
    if "." in lower.rsplit("/", 1)[-1].lstrip("."):  # sops: any other file name is the binary store
        return "binary"
    return "json" if data.lstrip()[:1] == b"{" else "yaml"


def load(data: bytes, source: str, fmt: str | None = None) -> Tree:
    fmt = detect_format(source, data, fmt)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", source=source) from None
    store = _store(fmt)
    try:
        return store.load(text, source)
    except RecursionError:
        raise InputError(TOO_DEEP, source=source) from None


def dumps(tree: Tree) -> str:
    return _store(tree.format).dump(tree)


def _store(fmt: str) -> ModuleType:
    """The store module for a format, imported on first use."""
    if fmt == "json":
        from sealer.sops.stores import json

        return json
    if fmt == "dotenv":
        from sealer.sops.stores import dotenv

        return dotenv
    if fmt == "ini":
        from sealer.sops.stores import ini

        return ini
    if fmt == "binary":
        from sealer.sops.stores import binary

        return binary
    from sealer.sops.stores import yaml

    return yaml
