"""Kubernetes on top of SOPS: recognising Secrets, wrapping one as a `SopsSecret`, and a readable view.

A SopsSecret is itself a complete SOPS document (the `sops` binary decrypts it): Secret metadata stays on the
object, the Secret's labels/annotations/type/immutable move to `spec.template` (as in a SealedSecret), and
`spec.data` / `spec.stringData` are what the `^(data|stringData)$` rule encrypts. Keys are written sorted and
the MAC covers the encrypted values only (`mac_only_encrypted`), so the controller can verify it on the object
the API server returns: sorted keys, plus the labels, annotations and fields that GitOps tools and the server add.
"""

from __future__ import annotations

from sealer.errors import DecryptionError, InputError, MacMismatch, ScopeMismatch, SealerError
from sealer.kube import API_VERSION
from sealer.sops import stores
from sealer.sops.nodes import MAP_TAG, MappingNode
from sealer.sops.stores import values

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from sealer.scope import Scope
    from sealer.sops.keys.groups import Opener
    from sealer.sops.nodes import Node

SOPSSECRET_KIND = "SopsSecret"


def _get(mapping: Node, key: str) -> Node | None:
    if getattr(mapping, "id", None) == "mapping":
        for k, v in mapping.value:
            if k.id == "scalar" and k.value == key:
                return v
    return None


def _text(node: Node | None) -> str | None:
    return node.value if node is not None and node.id == "scalar" else None


def is_secret(root: Node) -> bool:
    return _text(_get(root, "kind")) == "Secret" and _text(_get(root, "apiVersion")) in ("v1", None)


def is_sopssecret(root: Node) -> bool:
    return _text(_get(root, "kind")) == SOPSSECRET_KIND and _text(_get(root, "apiVersion")) == API_VERSION


def to_sopssecret(root: MappingNode, scope: Scope | None = None) -> MappingNode:
    """The SopsSecret for a Secret document, bound (spec.binding) to its namespace and name by default, or as
    ``scope`` or the Secret's `sealedsecrets.bitnami.com/*-wide` annotation say. Nodes are moved, not copied, so
    their comments move with them."""
    from sealer.scope import scope_from_annotations
    from sealer.sops import binding  # not on the decrypt path: a one-file decrypt must start fast

    if not is_secret(root):
        raise InputError("--kind sopssecret needs a kind: Secret (apiVersion v1) document", field="kind")
    meta = _get(root, "metadata")
    if meta is None or meta.id != "mapping" or not _text(_get(meta, "name")):
        raise InputError("a Secret needs metadata.name", field="metadata.name")
    if scope is None:
        annotations = _get(meta, "annotations")
        scope = scope_from_annotations({_text(k): _text(v) for k, v in getattr(annotations, "value", None) or []
                                        if k.id == "scalar"} if getattr(annotations, "id", None) == "mapping" else {})
    bound = binding.make(scope, _text(_get(meta, "namespace")), _text(_get(meta, "name")))
    own_meta = [(k, v) for k, v in meta.value if k.value in ("name", "namespace")]
    template_meta = [(k, v) for k, v in meta.value if k.value in ("labels", "annotations")]
    template = [(values.scalar("metadata"), _map(template_meta))] if template_meta else []
    template += [(k, v) for k, v in root.value if k.value in ("type", "immutable")]
    spec = [(values.scalar(binding.KEY), values.scalar(bound))]
    spec += [(values.scalar("template"), _map(template))] if template else []
    spec += [(k, v) for k, v in root.value if k.value in ("data", "stringData")]
    return _sorted(MappingNode(root.tag, [
        (values.scalar("apiVersion"), values.scalar(API_VERSION)),
        (values.scalar("kind"), values.scalar(SOPSSECRET_KIND)),
        (values.scalar("metadata"), _map(own_meta)),
        (values.scalar("spec"), _map(spec)),
    ], flow_style=False, comment=root.comment))


def bind(root: MappingNode, scope: Scope | None, fmt: str) -> tuple[str | None, str]:
    """Set a SopsSecret document's (decrypted) spec.binding for ``scope`` (None: keep the scope it has, else
    strict), in sorted position, leaving every other node as it is. Returns (previous binding, new binding)."""
    from sealer.scope import Scope
    from sealer.sops import binding

    if not is_sopssecret(root):
        raise InputError(f"not a {API_VERSION} {SOPSSECRET_KIND}: only SopsSecrets have a scope", field="kind")
    meta, spec = _get(root, "metadata"), _get(root, "spec")
    if spec is None or spec.id != "mapping":
        raise InputError("missing or not a mapping", field="spec")
    before = _text(_get(spec, binding.KEY))
    if scope is None:
        scope = binding.parse(before)[0] if before is not None else Scope.STRICT
    after = binding.make(scope, _text(_get(meta, "namespace")), _text(_get(meta, "name")))
    pairs = [(k, v) for k, v in spec.value if not (k.id == "scalar" and k.value == binding.KEY)]
    at = next((i for i, (k, _) in enumerate(pairs) if str(k.value) > binding.KEY), len(pairs))
    pairs.insert(at, (values.scalar(binding.KEY), values.format_value("str", after, fmt)))
    spec.value = pairs
    return before, after


def _map(pairs: list) -> MappingNode:
    return MappingNode(MAP_TAG, list(pairs), flow_style=False)


def _sorted(node: Node) -> Node:
    """Keys in the order the API server returns them (it stores JSON objects with sorted keys): the MAC is a
    hash over the values in document order, so the controller can recompute it from the stored object."""
    if getattr(node, "id", None) == "mapping":
        node.value = sorted(((k, _sorted(v)) for k, v in node.value), key=lambda kv: str(kv[0].value))
    return node


# --- the controller's side: a stored SopsSecret back into a Secret --------------------------------------------

def open_sopssecret(obj: Mapping[str, Any], opener: Opener, source: str) -> tuple[dict[str, Any], Scope | None]:
    """The Secret a SopsSecret object (as the API server returns it) describes, after decrypting it and
    verifying its MAC, and the scope its binding admits it under (None: no binding, written before scopes).
    ScopeMismatch when the binding names another namespace or name, or is not encrypted. Only what the author
    wrote is decrypted: status and server-set metadata are dropped (a `mac_only_encrypted` MAC, which `--kind
    sopssecret` writes, does not cover metadata at all: the binding is what ties the ciphertext to a place)."""
    import base64
    import binascii
    import json

    from sealer.sops import binding, document

    if obj.get("kind") != SOPSSECRET_KIND or obj.get("apiVersion") != API_VERSION:
        raise InputError(f"not a {API_VERSION} {SOPSSECRET_KIND}", source=source, field="kind")
    meta = obj.get("metadata") or {}
    if not isinstance(meta, dict):
        raise InputError("must be a mapping", source=source, field="metadata")
    if not isinstance(obj.get("sops"), dict):
        raise InputError("no sops metadata block: not encrypted", source=source, field="sops")
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise InputError("spec must be a mapping", source=source, field="spec")
    bound = binding.KEY in spec
    if bound and not (isinstance(spec[binding.KEY], str) and spec[binding.KEY].startswith("ENC[")):
        raise ScopeMismatch("is not encrypted, so it binds nothing (edited by hand?); encrypt the SopsSecret "
                            "again with sealer encrypt --kind sopssecret", source=source, field=binding.FIELD)
    authored = {"apiVersion": obj["apiVersion"], "kind": obj["kind"],
                "metadata": {k: meta[k] for k in ("name", "namespace") if k in meta},
                "spec": spec, "sops": obj["sops"]}
    tree = stores.load(json.dumps(authored).encode(), source, "json")
    try:
        data_key = document.open_data_key(document.metadata_of(tree, source), opener)
    except SealerError as e:
        raise e.within(source=source) from None
    try:
        document.decrypt_tree(tree, source, data_key=data_key)
    except MacMismatch:
        raise
    except DecryptionError as e:  # the key is the file's own (age and Transit are authenticated): tampering
        raise MacMismatch(f"integrity check failed: {e.message}", source=e.source, field=e.field) from None
    plain = values.to_data(tree.roots[0])["spec"]
    scope = None
    if bound:
        try:
            scope = binding.check(plain[binding.KEY], meta.get("namespace"), meta.get("name"))
        except SealerError as e:
            raise e.within(source=source) from None
    template = plain.get("template") or {}
    if not isinstance(template, dict):
        raise InputError("must be a mapping", source=source, field="spec.template")
    data: dict[str, str] = {}
    for key, value in (plain.get("data") or {}).items():
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raise InputError("not valid base64", source=source, field=f"spec.data.{key}") from None
        data[key] = str(value)
    for key, value in (plain.get("stringData") or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    data = expand_envs(data, plain.get(ENVS), source)
    tmeta = template.get("metadata") or {}
    secret: dict[str, Any] = {
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace"),
                     **{k: dict(tmeta[k]) for k in ("labels", "annotations") if tmeta.get(k)}},
        "type": template.get("type") or "Opaque", "data": data}
    if template.get("immutable") is not None:
        secret["immutable"] = bool(template["immutable"])
    return secret, scope


ENVS = "envs"
ITEM_NAME = r"[-._a-zA-Z0-9]{1,253}"  # a Secret item name, as the API server validates it


def expand_envs(data: dict[str, str], envs: Any, source: str) -> dict[str, str]:
    """``data`` (item -> base64) with each item named in `spec.envs` replaced by one item per KEY of the dotenv
    file it holds, as Flux's kustomize-controller feeds a decrypted `.env` to a secretGenerator's `envs` (read by
    sops' dotenv rules: `KEY=value` lines, `#` comments, `\\n` a line break). The file's keys become item names
    only: they cannot name another Secret or namespace, and a key that is not a valid item name, appears twice,
    or is already an item of the SopsSecret is refused rather than written over. Messages carry names and line
    numbers, never values."""
    import base64
    import re

    if envs is None:
        return data
    if not isinstance(envs, list) or not all(isinstance(e, str) for e in envs):
        raise InputError("must be a list of item names (of spec.data or spec.stringData)", source=source,
                         field=f"spec.{ENVS}")
    from sealer.sops.stores import dotenv

    out = dict(data)
    for i, name in enumerate(envs):
        field = f"spec.{ENVS}[{i}]"
        if name not in out:
            raise InputError(f"names no item of spec.data or spec.stringData: {name!r}", source=source, field=field)
        try:
            text = base64.b64decode(out.pop(name)).decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(f"item {name!r} is not UTF-8 text, so not a dotenv file", source=source,
                             field=field) from None
        try:
            tree = dotenv.load(text, f"{source} item {name}")
        except SealerError as e:
            raise InputError(f"item {name!r} is not a dotenv file: {e.message}", source=source, field=field) from None
        if tree.metadata is not None:
            raise InputError(f"item {name!r} has sops_* lines: an encrypted dotenv file goes in decrypted (sealer "
                             "encrypt --kind sopssecret encrypts it), and sops_ is sops' reserved prefix",
                             source=source, field=field)
        seen: set[str] = set()
        for key_node, value_node in tree.roots[0].value:
            key = str(key_node.value)
            if not re.fullmatch(ITEM_NAME, key) or key in (".", ".."):
                raise InputError(f"item {name!r} has a key that is not a valid Secret item name "
                                 "(letters, digits, '-', '_', '.')", source=source, field=field)
            if key in seen:
                raise InputError(f"item {name!r} sets {key!r} twice (one value would be lost)", source=source,
                                 field=field)
            if key in out:
                raise InputError(f"item {name!r} sets {key!r}, which is already an item of this SopsSecret",
                                 source=source, field=field)
            seen.add(key)
            out[key] = base64.b64encode(str(value_node.value).encode()).decode()
    return out


def decode_data(root: MappingNode) -> int:
    """For reading only (`decrypt --decode`): move `data` items that are valid UTF-8 into `stringData`,
    decoded. Returns how many moved; binary items stay base64 in `data`."""
    if not (is_secret(root) or is_sopssecret(root)):
        return 0
    holder = _get(root, "spec") if is_sopssecret(root) else root
    import base64
    import binascii

    data = _get(holder, "data")
    if data is None or data.id != "mapping":
        return 0
    string_data = _get(holder, "stringData")
    if string_data is None:
        string_data = _map([])
        holder.value.append((values.scalar("stringData"), string_data))
    moved = 0
    for pair in list(data.value):
        key, value = pair
        try:
            text = base64.b64decode(_text(value) or "", validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        string_data.value.append((key, values.format_value("str", text, "yaml")))
        data.value.remove(pair)
        moved += 1
    if not data.value:
        holder.value = [(k, v) for k, v in holder.value if v is not data]
    return moved
