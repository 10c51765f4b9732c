"""`sealed-unknown-key` and `sealed-scope`: SealedSecrets that cannot open where they are meant to.

Without private keys lint cannot open a value, but the wire format shows the key size: each value is
`uint16 length || RSA-OAEP block || AES-GCM payload` (`sealer.sealed.hybrid`), and the block is as long as the key's
modulus. So a value sealed for a 2048-bit key is visible against a 4096-bit cluster cert, and the
`sealer.dev/key-fingerprint` annotation names the cert it was sealed for. Values that are not sealed values at all
(not base64, impossible framing: a plaintext pasted into encryptedData) are reported with or without `--cert`.

Scope is read the way the controller reads it (`sealer.sealed.hybrid.scope_from_annotations`: the SealedSecret's own
annotations, exact string "true", cluster-wide wins); `sealed-scope` reports annotations that say something
else than what the controller will do, and names/namespaces that contradict a strict or namespace-wide scope.
"""

from __future__ import annotations

import base64
import binascii

from sealer.lint import yamlnodes as yn
from sealer.lint.context import FileContext
from sealer.sealed.hybrid import ANNOTATION_CLUSTER_WIDE, ANNOTATION_NAMESPACE_WIDE, Scope, scope_from_annotations
from sealer.sealed.sealedsecret import FINGERPRINT_ANNOTATION

UNKNOWN_KEY = "sealed-unknown-key"
SCOPE = "sealed-scope"
_SCOPE_ANNOTATIONS = (ANNOTATION_NAMESPACE_WIDE, ANNOTATION_CLUSTER_WIDE)
_NOT_FRAMED = "is not framed as a sealed value (truncated, or not sealed)"


def check(ctx: FileContext, obj: yn.Node) -> set[int]:
    """Run both rules; returns the ids of the encryptedData value nodes (ciphertext: no other rule looks there)."""
    spec = yn.get(obj, "spec")
    encrypted = yn.get(spec, "encryptedData")
    where = yn.describe(obj)
    cipher_nodes: set[int] = set()
    if encrypted is not None:
        cipher_nodes.add(id(encrypted))
    for item, key_node, value_node in yn.pairs(encrypted):
        value = yn.text(value_node)
        shape = _shape(value) if value is not None else "is not a string"
        if isinstance(shape, int) or shape == _NOT_FRAMED:
            # base64 in encryptedData is not a plaintext credential; a broken one is reported here instead
            ctx.cipher_lines.update(range(yn.line(value_node), value_node.end_mark.line + 2))
        if isinstance(shape, int):
            if ctx.options.certs and shape not in {c.block_bytes for c in ctx.options.certs}:
                sizes = ", ".join(sorted({f"RSA-{c.block_bytes * 8}" for c in ctx.options.certs}))
                ctx.add(UNKNOWN_KEY, yn.line(key_node), yn.column(key_node),
                        f"{where}: encryptedData.{item} is sealed for an RSA-{shape * 8} key; the given certificates "
                        f"are {sizes}", f"size\0{item}\0{value}")
        else:
            ctx.add(UNKNOWN_KEY, yn.line(key_node), yn.column(key_node),
                    f"{where}: encryptedData.{item} {shape}: no key can open it", f"shape\0{item}\0{value}")
    meta = yn.get(obj, "metadata")
    annotations = yn.get(meta, "annotations")
    fp_node = yn.get(annotations, FINGERPRINT_ANNOTATION)
    fp = yn.text(fp_node)
    if fp and ctx.options.certs and fp.lower() not in {c.fingerprint for c in ctx.options.certs}:
        ctx.add(UNKNOWN_KEY, yn.line(fp_node), yn.column(fp_node),
                f"{where}: {FINGERPRINT_ANNOTATION} names a certificate other than the given ones "
                "(sealed for another cluster?)", f"fingerprint\0{fp}")
    _check_scope(ctx, obj, where)
    return cipher_nodes


def _shape(value: str) -> int | str:
    """RSA block bytes of a well-framed sealed value, else what is wrong with it."""
    try:
        raw = base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        return "is not base64 (plaintext in encryptedData?)"
    n = int.from_bytes(raw[:2], "big") if len(raw) >= 2 else 0
    if n < 64 or len(raw) < 2 + n + 16:
        return _NOT_FRAMED
    return n


def _annotations(meta: yn.Node | None) -> dict[str, tuple[object, yn.Node]]:
    """Scope annotations as the controller would read them (strings) with their nodes; a non-string scalar
    (unquoted `true`) is kept as a bool so it can be reported."""
    out: dict[str, tuple[object, yn.Node]] = {}
    for key, key_node, value in yn.pairs(yn.get(meta, "annotations")):
        if key in _SCOPE_ANNOTATIONS and isinstance(value, yn.ScalarNode):
            out[key] = (value.value if value.tag == "tag:yaml.org,2002:str" else yn.to_data(value), key_node)
    return out


def _scope_of(annotations: dict[str, tuple[object, yn.Node]]) -> Scope:
    return scope_from_annotations({k: v for k, (v, _) in annotations.items()})


def _check_scope(ctx: FileContext, obj: yn.Node, where: str) -> None:
    if not ctx.options.enabled(SCOPE):
        return
    meta = yn.get(obj, "metadata")
    own = _annotations(meta)
    scope = _scope_of(own)
    anchor = meta if meta is not None else obj

    def add(node: yn.Node, message: str) -> None:
        ctx.add(SCOPE, yn.line(node), yn.column(node), f"{where}: {message}", f"{where}\0{message}")

    for key, (value, key_node) in own.items():
        if value not in ("true", "false"):
            add(key_node, f"{key} is {value!r}, not the string \"true\": the controller treats the SealedSecret as "
                          f"{scope.value}")
    if all(own.get(k, (None,))[0] == "true" for k in _SCOPE_ANNOTATIONS):
        add(own[ANNOTATION_NAMESPACE_WIDE][1], "both namespace-wide and cluster-wide are \"true\"; cluster-wide wins")
    template_meta = yn.get(yn.get(yn.get(obj, "spec"), "template"), "metadata")
    template = _annotations(template_meta)
    if template and _scope_of(template) is not scope:
        node = next(iter(template.values()))[1]
        add(node, f"spec.template.metadata.annotations say {_scope_of(template).value} but the SealedSecret's own "
                  f"annotations say {scope.value} (only its own annotations count)")
    name, namespace = yn.text(yn.get(meta, "name")), yn.text(yn.get(meta, "namespace"))
    if scope is Scope.STRICT and not name:
        add(anchor, "strict scope needs metadata.name (the ciphertext is bound to namespace/name)")
    for field, own_value, scoped in (("name", name, scope is Scope.STRICT),
                                     ("namespace", namespace, scope is not Scope.CLUSTER_WIDE)):
        node = yn.get(template_meta, field)
        value = yn.text(node)
        if scoped and node is not None and value and own_value and value != own_value:
            add(node, f"spec.template.metadata.{field} {value!r} differs from metadata.{field} {own_value!r} under "
                      f"{scope.value} scope")
