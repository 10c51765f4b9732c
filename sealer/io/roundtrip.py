"""Manifests edited in place (merge-into, re-encrypt, later SOPS edits): comments, key order and quoting
survive, so the Git diff shows only the values that changed. Loading this module imports ruamel.yaml,
which is slower than PyYAML; only editing paths pay for it.
"""

from __future__ import annotations

import io
import json
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import YAMLError

from sealer.errors import (
    DUPLICATE_KEY,
    TOO_DEEP,
    YAML_VALUE_ERROR,
    YAML_VALUE_ERRORS,
    InputError,
    check_yaml_graph,
    depth_exceeds,
    flow_depth_exceeds,
    json_error_message,
    yaml_error_message,
)


class Document:
    """A file's documents, editable as mutable mappings, written back in the file's own format."""

    def __init__(self, docs: list[Any], is_json: bool, explicit_start: bool) -> None:
        self.docs = docs
        self.is_json = is_json
        self.explicit_start = explicit_start

    def dumps(self) -> str:
        if self.is_json:
            return json.dumps(self.docs[0], indent=2, ensure_ascii=False) + "\n"
        out = io.StringIO()
        _yaml(self.explicit_start).dump_all(self.docs, out)
        return out.getvalue()


class _CheckedConstructor(RoundTripConstructor):
    """ruamel.yaml's round-trip constructor, with each document's node graph checked first (alias bombs and
    loops, a key twice: named, where ruamel's own error would quote the values)."""

    documents = 0

    def construct_document(self, node: Any) -> Any:
        self.documents += 1
        check_yaml_graph(node, document=self.documents if self.documents > 1 else None)
        return super().construct_document(node)


def _yaml(explicit_start: bool = False) -> YAML:
    y = YAML(typ="rt")
    y.Constructor = _CheckedConstructor
    y.preserve_quotes = True
    y.width = 1 << 30
    y.indent(mapping=2, sequence=2, offset=0)
    y.explicit_start = explicit_start
    return y


def load(data: bytes, source: str) -> Document:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", source=source) from None
    try:
        document = _load(text, source)
    except RecursionError:
        raise InputError(TOO_DEEP, source=source) from None
    if depth_exceeds(document.docs):
        raise InputError(TOO_DEEP, source=source)
    return document


def _load(text: str, source: str) -> Document:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        from sealer.io.manifests import unique_pairs

        try:
            return Document([json.loads(text, object_pairs_hook=unique_pairs)], is_json=True, explicit_start=False)
        except json.JSONDecodeError as e:
            raise InputError(json_error_message(e), source=source) from None
        except ValueError as e:  # a key twice
            raise InputError(f"not valid JSON: {DUPLICATE_KEY} ({str(e)[:60]!r})", source=source) from None
    if flow_depth_exceeds(text):
        raise InputError(TOO_DEEP, source=source)
    try:
        docs = [d for d in _yaml().load_all(text) if d is not None]
    except InputError as e:
        raise e.within(source=source) from None
    except YAMLError as e:
        raise InputError(yaml_error_message(e), source=source) from None
    except YAML_VALUE_ERRORS:  # e.g. `!!int` with no value: ruamel indexes the empty text
        raise InputError(YAML_VALUE_ERROR, source=source) from None
    for i, d in enumerate(docs, 1):
        if not hasattr(d, "get"):
            raise InputError(f"document {i} is a {type(d).__name__}, expected a Kubernetes object", source=source)
    return Document(docs, is_json=False, explicit_start=stripped.startswith("---"))
