"""Kubernetes objects in and out: multi-document YAML/JSON, `kind: List`, Secret data normalisation.

Parsing errors are rebuilt from line/column only: YAML libraries quote the offending line, which in a
Secret manifest is likely to be the secret itself.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

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

SERVER_SET_METADATA = (
    "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
    "deletionGracePeriodSeconds", "managedFields", "selfLink", "ownerReferences", "finalizers",
)
LAST_APPLIED_ANNOTATIONS = (
    "kubectl.kubernetes.io/last-applied-configuration",
    "kubecfg.ksonnet.io/last-applied-configuration",
)
# Kubernetes validates Secret keys with this (IsConfigMapKey), and also refuses '.', '..' and a '..' prefix.
SECRET_KEY_RE = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")

_Dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_MERGE_TAG = "tag:yaml.org,2002:merge"


class SafeLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader (libyaml's parser where built) for every PyYAML reader of untrusted input: each
    document's node graph is checked before it is constructed (`check_yaml_graph`: alias bombs, alias loops,
    a key twice by text), and keys that only collide once constructed (`yes` and `true`, `1` and `0x1`) are
    refused too. PyYAML itself keeps the last value of a duplicated key without a word."""

    documents = 0

    def __init__(self, stream: str | bytes) -> None:
        super().__init__(stream)
        # no alias without a `*`: then only the keys need checking (a cheaper walk)
        self.may_alias = not isinstance(stream, str | bytes) or ("*" if isinstance(stream, str) else b"*") in stream

    def construct_document(self, node: yaml.Node) -> object:
        self.documents += 1
        check_yaml_graph(node, aliases=self.may_alias, document=self.documents if self.documents > 1 else None)
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[object, object]:
        if isinstance(node, yaml.MappingNode):
            seen: set[object] = set()
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue  # `<<: *anchor`: the mapping's own keys override merged ones
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:
                    continue  # unhashable: PyYAML's own error follows
                if duplicate:
                    mark = key_node.start_mark
                    raise InputError(f"not valid YAML: {DUPLICATE_KEY} ({str(key)[:60]!r}) at line {mark.line + 1}"
                                     f", column {mark.column + 1}")
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader = SafeLoader


def parse_documents(data: bytes | str, source: str) -> list[Any]:
    """Every non-empty document in a YAML stream or a JSON text."""
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", source=source) from None
    if flow_depth_exceeds(text):
        raise InputError(TOO_DEEP, source=source)
    try:
        docs = _parse_documents(text, source)
        if depth_exceeds(docs):
            raise InputError(TOO_DEEP, source=source)
        return docs
    except InputError as e:
        raise e.within(source=source) from None
    except RecursionError:
        raise InputError(TOO_DEEP, source=source) from None
    except YAML_VALUE_ERRORS:  # e.g. `!!timestamp x`, `!!int ""`
        raise InputError(YAML_VALUE_ERROR, source=source) from None


def _parse_documents(text: str, source: str) -> list[Any]:
    head = text.lstrip()[:1]
    if head in ("{", "["):
        try:
            return [json.loads(text, object_pairs_hook=unique_pairs)]
        except _DuplicateJsonKey as e:
            try:  # read as YAML (JSON is YAML) for the error with the mapping's path, line and column
                list(yaml.load_all(text, Loader=_Loader))
            except InputError as found:
                found.message = found.message.replace("not valid YAML", "not valid JSON", 1)
                raise found.within(source=source) from None
            except yaml.YAMLError:
                pass
            raise InputError(f"not valid JSON: {DUPLICATE_KEY} ({e.args[0][:60]!r})", source=source) from None
        except json.JSONDecodeError as e:
            # JSON is YAML too (mostly); only report JSON errors for text that is not YAML either.
            try:
                docs = list(yaml.load_all(text, Loader=_Loader))
            except yaml.YAMLError:
                raise InputError(json_error_message(e), source=source) from None
            return [d for d in docs if d is not None]
    try:
        return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except yaml.YAMLError as e:
        raise InputError(yaml_error_message(e), source=source) from None


class _DuplicateJsonKey(ValueError):
    pass


def unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`json.loads` object hook: a JSON object with a key twice is refused (the standard library keeps the last
    value without a word; the API server and sops do not)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateJsonKey(key)
            seen.add(key)
    return out


def load_objects(data: bytes | str, source: str) -> list[dict[str, Any]]:
    """Kubernetes objects from a stream; `kind: List` is flattened into its items."""
    objects: list[dict[str, Any]] = []
    for i, doc in enumerate(parse_documents(data, source), 1):
        if not isinstance(doc, dict):
            raise InputError(f"document {i} is a {type(doc).__name__}, expected a Kubernetes object",
                             source=source)
        kind = doc.get("kind")
        if kind == "List" or (isinstance(kind, str) and kind.endswith("List") and "items" in doc):
            items = doc.get("items") or []
            if not isinstance(items, list) or not all(isinstance(x, dict) for x in items):
                raise InputError(f"document {i}: items must be a list of objects", source=source)
            objects.extend(items)
        else:
            objects.append(doc)
    return objects


def describe(obj: Mapping[str, Any]) -> str:
    """`Kind namespace/name` for messages: names are not secret, values are."""
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    name = meta.get("name") or "<unnamed>"
    ns = meta.get("namespace")
    return f"{obj.get('kind') or '<no kind>'} {ns}/{name}" if ns else f"{obj.get('kind') or '<no kind>'} {name}"


def metadata(obj: Mapping[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise InputError("must be a mapping", field="metadata")
    return meta  # type: ignore[return-value]


def string_map(value: Any, field: str) -> dict[str, str]:
    """A labels/annotations-like map, checked: keys and values must be strings."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError("must be a mapping", field=field)
    for k, v in value.items():
        if not isinstance(k, str):
            raise InputError(f"key {k!r} must be a string", field=field)
        if not isinstance(v, str):
            raise InputError(f"must be a string, got {type(v).__name__} (quote it)", field=f"{field}.{k}")
    return dict(value)


def clean_metadata(meta: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata fit to commit: no server-set fields, no last-applied annotation (it holds plaintext)."""
    out = {k: v for k, v in meta.items() if k not in SERVER_SET_METADATA and v is not None}
    annotations = {k: v for k, v in string_map(meta.get("annotations"), "metadata.annotations").items()
                   if k not in LAST_APPLIED_ANNOTATIONS}
    if annotations:
        out["annotations"] = annotations
    else:
        out.pop("annotations", None)
    labels = string_map(meta.get("labels"), "metadata.labels")
    if labels:
        out["labels"] = labels
    else:
        out.pop("labels", None)
    return out


def check_secret_key(key: Any, field: str) -> str:
    if not isinstance(key, str):
        raise InputError(f"key {key!r} must be a string (quote it)", field=field)
    if not SECRET_KEY_RE.match(key) or key in (".", "..") or key.startswith(".."):
        raise InputError(f"key {key!r} is not a valid Secret key (letters, digits, '-', '_', '.')", field=field)
    return key


def secret_items(secret: Mapping[str, Any]) -> dict[str, bytes]:
    """A Secret's values as bytes: `data` base64-decoded, then `stringData` on top (it wins, as in the API)."""
    if secret.get("kind") != "Secret":
        raise InputError(f"expected kind Secret, got {secret.get('kind')!r}", field="kind")
    api = secret.get("apiVersion")
    if api not in (None, "v1"):
        raise InputError(f"expected apiVersion v1, got {api!r}", field="apiVersion")
    items: dict[str, bytes] = {}
    data = secret.get("data")
    if data is not None:
        if not isinstance(data, Mapping):
            raise InputError("must be a mapping of key to base64 value", field="data")
        for key, value in data.items():
            check_secret_key(key, "data")
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise InputError(f"must be a base64 string, got {type(value).__name__}", field=f"data.{key}")
            try:
                items[key] = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise InputError("invalid base64 (use stringData for plain text)", field=f"data.{key}") from None
    string_data = secret.get("stringData")
    if string_data is not None:
        if not isinstance(string_data, Mapping):
            raise InputError("must be a mapping of key to string", field="stringData")
        for key, value in string_data.items():
            check_secret_key(key, "stringData")
            if value is None:
                value = ""
            if not isinstance(value, str):
                raise InputError(f"must be a string, got {type(value).__name__} (quote it)",
                                 field=f"stringData.{key}")
            items[key] = value.encode()
    return items


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def dump_objects(objects: Iterable[Mapping[str, Any]], fmt: str) -> str:
    """kubectl-style output: YAML documents separated by `---`, or JSON (a `List` when more than one)."""
    try:
        return _dump_objects(list(objects), fmt)
    except RecursionError:  # input nested deeper than the writers recurse (the readers are iterative)
        raise InputError(TOO_DEEP) from None


def _json_value(value: Any) -> Any:
    """What JSON cannot hold but YAML input can: a date (`2024-01-01`) becomes its ISO text."""
    if isinstance(value, datetime.date):
        return value.isoformat()
    raise InputError(f"a {type(value).__name__} value cannot be written as JSON (quote it in the input)")


def _dump_objects(objects: list[Mapping[str, Any]], fmt: str) -> str:
    if fmt == "json":
        if len(objects) == 1:
            return json.dumps(objects[0], indent=2, ensure_ascii=False, default=_json_value) + "\n"
        return json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}, indent=2,
                          ensure_ascii=False, default=_json_value) + "\n"
    if fmt != "yaml":
        raise InputError(f"unknown output format {fmt!r} (yaml or json)", field="-o")
    return yaml.dump_all(objects, Dumper=_Dumper, default_flow_style=False, sort_keys=False,
                         allow_unicode=True, width=1 << 30, explicit_start=len(objects) > 1)


def dump_data(data: Any, fmt: str) -> str:
    """Plain data (reports, listings) as JSON or YAML."""
    if fmt == "json":
        from sealer.safetext import json_printable

        return json_printable(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"  # names read from input
    return yaml.dump(data, Dumper=_Dumper, default_flow_style=False, sort_keys=False, allow_unicode=True)
