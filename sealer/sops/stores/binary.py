"""The binary store: sops' store for every file that is not YAML, JSON, dotenv or INI by name. The whole file is
one string under `data`; encrypted, it is the JSON store's `{"data": "ENC[...]", "sops": {...}}`, and decrypted it
is the file's bytes again, never the wrapper.

The file's bytes are taken as they are: no BOM stripped, NUL bytes and bytes that are not UTF-8 kept.
"""

from __future__ import annotations

from sealer.errors import InputError
from sealer.sops import scalars
from sealer.sops.nodes import MAP_TAG, MappingNode
from sealer.sops.stores import Layout, Tree, values

DATA_KEY = "data"


def load_bytes(data: bytes, source: str) -> Tree:
    """An encrypted binary-store file (a JSON object with a `sops` entry) or any plaintext file, as one value.
    Bytes that are not UTF-8 ride along as surrogate escapes, which `plaintext` and the writers turn back into
    the same bytes."""
    return load(data.decode("utf-8", "surrogateescape"), source)


def plaintext(value: str) -> bytes:
    """The bytes a `data` value stands for (sops encrypts the file's bytes, whatever they are)."""
    return value.encode("utf-8", "surrogateescape")


def load(text: str, source: str) -> Tree:
    if text.lstrip(" \t\r\n").startswith("{"):
        from sealer.sops.stores import json

        try:
            tree = json.load(text, source)
        except InputError:
            tree = None
        if tree is not None and tree.metadata is not None:
            tree.format = "binary"
            tree.layout = Layout()
            return tree
    root = MappingNode(MAP_TAG, [(values.json_str(DATA_KEY), values.json_str(text))], flow_style=False)
    return Tree([root], None, "binary")


def dump(tree: Tree) -> str:
    """Encrypted: the JSON envelope sops writes (tab indent, final newline). Plain: the `data` string itself."""
    if tree.metadata is not None:
        from sealer.sops.stores import json

        return json.dump(Tree(tree.roots, tree.metadata, "json", Layout()))
    return data_of(tree)


def data_of(tree: Tree) -> str:
    root = tree.roots[0] if len(tree.roots) == 1 else None
    if root is None or root.id != "mapping":
        raise InputError("a binary-store file holds exactly one object")
    for key, value in root.value:
        if key.value == DATA_KEY:
            if not (isinstance(value, values.JsonScalar) and value.json_kind == scalars.STR):
                raise InputError("its value is not a string", field=DATA_KEY)
            return value.value
    raise InputError("no binary data found (a binary-store file keeps its bytes under `data`)")
