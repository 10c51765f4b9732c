"""Kubernetes on top of SOPS: recognising Secrets, wrapping one as a `SopsSecret`, and a readable view.

A SopsSecret is itself a complete SOPS document (the `sops` binary decrypts it): Secret metadata stays on the
object, the Secret's labels/annotations/type/immutable move to `spec.template` (as in a SealedSecret), and
`spec.data` / `spec.stringData` are what the `^(data|stringData)$` rule encrypts.
"""

from __future__ import annotations

from sealer.errors import InputError
from sealer.sops import stores
from sealer.sops.nodes import MappingNode

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sealer.sops.nodes import Node

SOPSSECRET_API = "sealer.dev/v1alpha1"
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
    return _text(_get(root, "kind")) == SOPSSECRET_KIND and _text(_get(root, "apiVersion")) == SOPSSECRET_API


def to_sopssecret(root: MappingNode) -> MappingNode:
    """The SopsSecret for a Secret document; nodes are moved, not copied, so their comments move with them."""
    if not is_secret(root):
        raise InputError("--kind sopssecret needs a kind: Secret (apiVersion v1) document", field="kind")
    meta = _get(root, "metadata")
    if meta is None or meta.id != "mapping" or not _text(_get(meta, "name")):
        raise InputError("a Secret needs metadata.name", field="metadata.name")
    own_meta = [(k, v) for k, v in meta.value if k.value in ("name", "namespace")]
    template_meta = [(k, v) for k, v in meta.value if k.value in ("labels", "annotations")]
    template = [(stores.scalar("metadata"), _map(template_meta))] if template_meta else []
    template += [(k, v) for k, v in root.value if k.value in ("type", "immutable")]
    spec = [(stores.scalar("template"), _map(template))] if template else []
    spec += [(k, v) for k, v in root.value if k.value in ("data", "stringData")]
    return MappingNode(root.tag, [
        (stores.scalar("apiVersion"), stores.scalar(SOPSSECRET_API)),
        (stores.scalar("kind"), stores.scalar(SOPSSECRET_KIND)),
        (stores.scalar("metadata"), _map(own_meta)),
        (stores.scalar("spec"), _map(spec)),
    ], flow_style=False, comment=root.comment)


def _map(pairs: list) -> MappingNode:
    return MappingNode(stores.MAP_TAG, list(pairs), flow_style=False)


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
        holder.value.append((stores.scalar("stringData"), string_data))
    moved = 0
    for pair in list(data.value):
        key, value = pair
        try:
            text = base64.b64decode(_text(value) or "", validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        string_data.value.append((key, stores.format_value("str", text, "yaml")))
        data.value.remove(pair)
        moved += 1
    if not data.value:
        holder.value = [(k, v) for k, v in holder.value if v is not data]
    return moved
