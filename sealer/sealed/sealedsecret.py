"""Secret <-> SealedSecret: seal, unseal, merge items into, re-encrypt to a new cert.

The scope of an existing SealedSecret is read only from its own top-level annotations, never from
``spec.template.metadata``: that is the rule Bitnami's controller applies, and the one that stops a
template edit from widening where a ciphertext may be opened.

Functions that edit a SealedSecret in place take any mutable mapping, so a round-trip YAML document
(comments, key order) can be edited without disturbing what they do not touch.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from typing import Any, TypeVar

from sealer.errors import DecryptionError, InputError, SealerError
from sealer.io import manifests
from sealer.kube import API_VERSION, BITNAMI_API_VERSION
from sealer.sealed import hybrid
from sealer.sealed.hybrid import Scope
from sealer.sealed.keys import PrivateKey, SealingCert

T = TypeVar("T")
# How to run one function over items (the builtin `map`, or a thread pool's): results in the items' order.
Mapper = Callable[[Callable[[Any], Any], Sequence[Any]], Iterable[Any]]

API_VERSIONS = (API_VERSION, BITNAMI_API_VERSION)
KIND = "SealedSecret"
FINGERPRINT_ANNOTATION = "sealer.dev/key-fingerprint"
# Bitnami's first format, spec.data: one ciphertext of the whole Secret as JSON. Its controller opens it unless
# started with --accept-deprecated-v1-data=false; so do sealer's controller and `sealer unseal`.
V1_DATA_REFUSED = ("uses the deprecated single-blob format (spec.data), refused by --accept-deprecated-v1-data=false; "
                   "re-seal it with encryptedData (sealer reencrypt)")

# The common whole-value reference, answered without loading the template engine (same bytes as Go's).
_TEMPLATE_REF = re.compile(r"\{\{(?:-?[ \t\r\n]+)?(?:\.(\w+)|index[ \t\r\n]+\.[ \t\r\n]+\"([-.\w]+)\")"
                           r"(?:[ \t\r\n]+-?)?\}\}", re.ASCII)


def is_sealed_secret(obj: Mapping[str, Any]) -> bool:
    return obj.get("kind") == KIND and obj.get("apiVersion") in API_VERSIONS


# --- sealing ------------------------------------------------------------------------------------------

def resolve_target(secret: Mapping[str, Any], namespace: str | None, name: str | None) -> tuple[str, str]:
    """(namespace, name) for a Secret, with -n/--name filling gaps; a contradiction is an error, as in kubectl."""
    meta = manifests.metadata(secret)
    ns, nm = meta.get("namespace") or "", meta.get("name") or ""
    if not isinstance(ns, str) or not isinstance(nm, str):
        raise InputError("name and namespace must be strings", field="metadata")
    if namespace and ns and namespace != ns:
        raise InputError(f"namespace {ns!r} does not match -n {namespace!r}", field="metadata.namespace")
    if name and nm and name != nm:
        raise InputError(f"name {nm!r} does not match --name {name!r}", field="metadata.name")
    return ns or namespace or "", nm or name or ""


def seal_value(cert: SealingCert, value: bytes, scope: Scope, namespace: str, name: str) -> str:
    """One base64 ciphertext, as `kubeseal --raw` prints it."""
    return manifests.b64(hybrid.encrypt(cert.public_key, value, hybrid.scope_label(scope, namespace, name)))


def seal_secret(secret: Mapping[str, Any], cert: SealingCert, *, scope: Scope | None = None,
                namespace: str | None = None, name: str | None = None, api_version: str = API_VERSION,
                allow_empty: bool = False) -> dict[str, Any]:
    """A SealedSecret for a Secret manifest. Scope: argument, else the Secret's annotations, else strict."""
    if api_version not in API_VERSIONS:
        raise InputError(f"unsupported apiVersion {api_version!r} (one of {', '.join(API_VERSIONS)})",
                         field="--api-version")
    items = manifests.secret_items(secret)
    if not items and not allow_empty:
        raise InputError("Secret has no data or stringData (pass --allow-empty-data to seal it anyway)",
                         field="data")
    ns, nm = resolve_target(secret, namespace, name)
    if not nm:
        raise InputError("a Secret needs a name (set metadata.name or --name)", field="metadata.name")
    meta = manifests.clean_metadata(manifests.metadata(secret))
    if scope is None:
        scope = hybrid.scope_from_annotations(meta.get("annotations"))
    label = hybrid.scope_label(scope, ns, nm)

    template_meta = dict(meta, name=nm)
    if ns:
        template_meta["namespace"] = ns
    annotations = hybrid.scope_annotations(meta.get("annotations"), scope)
    if annotations:
        template_meta["annotations"] = annotations
    else:
        template_meta.pop("annotations", None)

    own_meta: dict[str, Any] = {"name": nm}
    if ns:
        own_meta["namespace"] = ns
    own_meta["annotations"] = hybrid.scope_annotations({FINGERPRINT_ANNOTATION: cert.fingerprint}, scope)

    template: dict[str, Any] = {"metadata": template_meta}
    if secret.get("type"):
        template["type"] = secret["type"]
    if secret.get("immutable") is not None:
        template["immutable"] = secret["immutable"]
    encrypted = {k: manifests.b64(hybrid.encrypt(cert.public_key, v, label)) for k, v in items.items()}
    return {
        "apiVersion": api_version,
        "kind": KIND,
        "metadata": own_meta,
        "spec": {"encryptedData": encrypted, "template": template},
    }


# --- reading an existing SealedSecret -----------------------------------------------------------------

def check_sealed(obj: Mapping[str, Any]) -> Mapping[str, str]:
    """Validate a SealedSecret's shape; return its encryptedData."""
    if obj.get("kind") != KIND:
        raise InputError(f"expected kind SealedSecret, got {obj.get('kind')!r}", field="kind")
    if obj.get("apiVersion") not in API_VERSIONS:
        raise InputError(f"unsupported apiVersion {obj.get('apiVersion')!r} (one of {', '.join(API_VERSIONS)})",
                         field="apiVersion")
    meta = manifests.metadata(obj)
    if not meta.get("name"):
        raise InputError("missing", field="metadata.name")
    for name in ("name", "namespace"):
        if meta.get(name) is not None and not isinstance(meta[name], str):
            raise InputError(f"must be a string, got {type(meta[name]).__name__}", field=f"metadata.{name}")
    manifests.string_map(meta.get("annotations"), "metadata.annotations")
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        raise InputError("missing or not a mapping", field="spec")
    encrypted = spec.get("encryptedData")
    encrypted = {} if encrypted is None else encrypted  # (an empty list or `false` is no mapping either)
    if not isinstance(encrypted, Mapping):
        raise InputError("must be a mapping of key to base64 ciphertext", field="spec.encryptedData")
    if spec.get("data") is not None:  # Bitnami's error, in our words: one object, one format
        if not isinstance(spec["data"], str):
            raise InputError("must be a base64 string (the deprecated single-blob format)", field="spec.data")
        if encrypted:
            raise InputError("encryptedData and the deprecated data cannot be used together", field="spec.data")
    for key, value in encrypted.items():
        manifests.check_secret_key(key, "spec.encryptedData")
        if not isinstance(value, str):
            raise InputError("must be a base64 string", field=f"spec.encryptedData.{key}")
    template = spec.get("template")
    if template is not None and not isinstance(template, Mapping):
        raise InputError("must be a mapping", field="spec.template")
    return encrypted


def scope_of(obj: Mapping[str, Any]) -> Scope:
    return hybrid.scope_from_annotations(manifests.metadata(obj).get("annotations"))


def label_of(obj: Mapping[str, Any]) -> bytes:
    meta = manifests.metadata(obj)
    return hybrid.scope_label(scope_of(obj), meta.get("namespace") or "", meta.get("name") or "")


def _ciphertext(value: str, item: str) -> bytes:
    """An item's ciphertext bytes. Not base64 is malformed input (InputError, exit 2), not a value no key opens."""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InputError("ciphertext is not valid base64", field=f"spec.encryptedData.{item}") from None


def check_ciphertexts(obj: Mapping[str, Any]) -> None:
    """Every ciphertext of a SealedSecret is base64 (InputError naming the first that is not): checked before
    the cluster's controller is asked about it, so bad input is exit 2 whichever command finds it."""
    encrypted = check_sealed(obj)
    if is_v1_data(obj):
        _v1_ciphertext(obj)
    for item, value in encrypted.items():
        _ciphertext(value, item)


def _v1_ciphertext(obj: Mapping[str, Any]) -> bytes:
    try:
        return base64.b64decode(obj["spec"]["data"], validate=True)
    except (binascii.Error, ValueError):
        raise InputError("ciphertext is not valid base64", field="spec.data") from None


def _ordered(keys: Sequence[PrivateKey], hint: str | None) -> list[PrivateKey]:
    return sorted(keys, key=lambda k: k.fingerprint != hint) if hint else list(keys)


def open_items(obj: Mapping[str, Any], keys: Sequence[PrivateKey], *, accept_v1_data: bool = True,
               ) -> dict[str, bytes]:
    """Every encryptedData item (or, in the deprecated format, every item of the sealed Secret) in plaintext. All
    failing items are named in one DecryptionError."""
    return {item: value for item, (value, _) in open_items_with_keys(obj, keys, accept_v1_data=accept_v1_data).items()}


def is_v1_data(obj: Mapping[str, Any]) -> bool:
    """Bitnami's deprecated single-blob format (spec.data)?"""
    spec = obj.get("spec")
    return isinstance(spec, Mapping) and spec.get("data") is not None


def open_v1_data(obj: Mapping[str, Any], keys: Sequence[PrivateKey]) -> tuple[dict[str, Any], PrivateKey]:
    """The Secret sealed whole in spec.data (JSON, as Bitnami's codec wrote it; label from the SealedSecret's own
    name, namespace and scope) and the key that opened it."""
    check_sealed(obj)
    if not keys:
        raise InputError("no private keys given", field="--key")
    order = _ordered(keys, (manifests.metadata(obj).get("annotations") or {}).get(FINGERPRINT_ANNOTATION))
    ct = _v1_ciphertext(obj)
    try:
        plaintext, index = hybrid.decrypt_indexed([k.key for k in order], ct, label_of(obj))
    except DecryptionError as e:
        raise DecryptionError(e.message, field="spec.data") from None
    import json

    try:
        secret = json.loads(plaintext)
    except (ValueError, UnicodeDecodeError, RecursionError):
        secret = None
    if not isinstance(secret, dict) or not isinstance(secret.get("metadata", {}), Mapping):
        raise InputError("opens, but holds no Secret as JSON", field="spec.data")
    secret.setdefault("kind", "Secret")  # Bitnami's decoder is told the kind; tolerate its absence as it does
    return secret, order[index]


def open_items_with_keys(obj: Mapping[str, Any], keys: Sequence[PrivateKey], *, accept_v1_data: bool = True,
                         map: Mapper | None = None) -> dict[str, tuple[bytes, PrivateKey]]:
    """Every item in plaintext with the key that opened it. Tries the fingerprint-hinted key first, then the
    one that last worked, then the rest. ``accept_v1_data``: open the deprecated spec.data format (Bitnami's
    default), else refuse it. ``map``: how to run the items' RSA operations, e.g. a thread pool's ``map`` (RSA
    releases the GIL, so threads open one object's items on several cores); results in order, as ``map``."""
    encrypted = check_sealed(obj)
    if is_v1_data(obj):
        if not accept_v1_data:
            raise InputError(V1_DATA_REFUSED, field="spec.data")
        secret, key = open_v1_data(obj, keys)
        return {item: (value, key) for item, value in manifests.secret_items(secret).items()}
    if not keys:
        raise InputError("no private keys given", field="--key")
    label = label_of(obj)
    hint = (manifests.metadata(obj).get("annotations") or {}).get(FINGERPRINT_ANNOTATION)
    order = _ordered(keys, hint)
    out: dict[str, tuple[bytes, PrivateKey]] = {}
    failed: list[str] = []
    reasons: set[str] = set()
    pending = [(item, _ciphertext(value, item)) for item, value in encrypted.items()]

    def opened(item: str, result: tuple[bytes, int] | DecryptionError, tried: list[PrivateKey]) -> None:
        if isinstance(result, DecryptionError):
            failed.append(item)
            reasons.add(result.message)
            return
        plaintext, index = result
        out[item] = (plaintext, tried[index])
        if tried is order and index:  # the key that worked goes first for the next item: usually all share one key
            order.insert(0, order.pop(index))

    # Concurrently only once the key is known (hinted, the only one, or found by the first item), so that no item
    # tries a wrong key that the sequential order would have skipped.
    while pending and (map is None or (len(order) > 1 and order[0].fingerprint != hint and not out)):
        item, ct = pending.pop(0)
        opened(item, _decrypt(order, ct, label), order)
    if pending:
        tried = list(order)
        for (item, _), result in zip(pending, map(lambda p: _decrypt(tried, p[1], label), pending), strict=True):
            opened(item, result, tried)
    if failed:
        what = "item" if len(failed) == 1 else "items"
        raise DecryptionError("; ".join(sorted(reasons)), field=f"spec.encryptedData {what} {', '.join(failed)}")
    return out


def _decrypt(order: Sequence[PrivateKey], ct: bytes, label: bytes) -> tuple[bytes, int] | DecryptionError:
    """One item's RSA-OAEP + AES-GCM opening; a failure is returned, not raised, so every item is tried."""
    try:
        return hybrid.decrypt_indexed([k.key for k in order], ct, label)
    except DecryptionError as e:
        return e


def _template_value(template: str, opened: Mapping[str, bytes], item: str) -> bytes:
    """A spec.template.data value rendered as Bitnami's controller does: Go text/template with sprig, the
    decrypted items as a map of strings."""
    if "{{" not in template:
        return template.encode()
    m = _TEMPLATE_REF.fullmatch(template)
    ref = m and next(g for g in m.groups() if g)
    if ref and ref in opened:
        return opened[ref]
    from sealer import gotemplate

    return gotemplate.render_items(template, opened, name=item, field=f"spec.template.data.{item}")


def unseal(obj: Mapping[str, Any], keys: Sequence[PrivateKey], *, accept_v1_data: bool = True) -> dict[str, Any]:
    """The Secret a controller would write for this SealedSecret (without the ownerReference).
    ``accept_v1_data``: open Bitnami's deprecated spec.data format (its controller's default), else refuse it."""
    return unseal_with_keys(obj, keys, accept_v1_data=accept_v1_data)[0]


def unseal_with_keys(obj: Mapping[str, Any], keys: Sequence[PrivateKey], *, accept_v1_data: bool = True,
                     map: Mapper | None = None) -> tuple[dict[str, Any], tuple[str, ...]]:
    """`unseal`, and the fingerprints of the keys that opened it (sorted, no repeats): a controller that
    remembers them knows which objects a removed key had opened."""
    if is_v1_data(obj):
        if not accept_v1_data:
            check_sealed(obj)
            raise InputError(V1_DATA_REFUSED, field="spec.data")
        return _unseal_v1(obj, keys)
    shell = secret_shell(obj)
    opened = open_items_with_keys(obj, keys, map=map)
    plain = {item: value for item, (value, _) in opened.items()}
    data = dict(plain)
    for item, value in ((obj["spec"].get("template") or {}).get("data") or {}).items():
        if value is None:
            data.pop(item, None)
        else:
            data[item] = _template_value(value, plain, item)
    shell["data"] = {k: manifests.b64(v) for k, v in data.items()}
    return shell, tuple(sorted({key.fingerprint for _, key in opened.values()}))


def secret_shell(obj: Mapping[str, Any]) -> dict[str, Any]:
    """The Secret this SealedSecret makes, without its data: metadata, type and immutability come from the
    template in clear, so a controller can compare them without opening anything. Not for the deprecated
    spec.data format, whose template is sealed too."""
    check_sealed(obj)
    meta = manifests.metadata(obj)
    template = obj["spec"].get("template") or {}
    tmeta = manifests.clean_metadata(manifests.metadata(template))
    tmeta["name"] = meta["name"]
    if meta.get("namespace"):
        tmeta["namespace"] = meta["namespace"]
    else:
        tmeta.pop("namespace", None)
    template_data = template.get("data") or {}
    if not isinstance(template_data, Mapping):
        raise InputError("must be a mapping of item to value or {{ .item }}", field="spec.template.data")
    for item, value in template_data.items():
        if value is not None and not isinstance(value, str):
            raise InputError("must be a string or null", field=f"spec.template.data.{item}")
    return _secret(tmeta, template, {})


def _secret(meta: dict[str, Any], shape: Mapping[str, Any], items: Mapping[str, bytes]) -> dict[str, Any]:
    """The Secret: ``meta``, the type and immutability ``shape`` (a template, or a v1 blob's Secret) says, items."""
    secret: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": meta}
    if shape.get("type"):
        secret["type"] = shape["type"]
    if shape.get("immutable") is not None:
        secret["immutable"] = shape["immutable"]
    secret["data"] = {k: manifests.b64(v) for k, v in items.items()}
    return secret


def _unseal_v1(obj: Mapping[str, Any], keys: Sequence[PrivateKey]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The Secret sealed whole in spec.data, named as the SealedSecret is (as Bitnami's controller writes it),
    and the fingerprint of the key that opened it."""
    inner, key = open_v1_data(obj, keys)
    items = manifests.secret_items(inner)
    meta = manifests.metadata(obj)
    tmeta = manifests.clean_metadata(manifests.metadata(inner))
    tmeta.pop("namespace", None)
    tmeta["name"] = meta["name"]
    if meta.get("namespace"):
        tmeta["namespace"] = meta["namespace"]
    return _secret(tmeta, inner, items), (key.fingerprint,)


def _template_of(secret: Mapping[str, Any]) -> dict[str, Any]:
    """spec.template for a Secret: its metadata, type and immutable (no data)."""
    template: dict[str, Any] = {"metadata": manifests.clean_metadata(manifests.metadata(secret))}
    for field in ("type", "immutable"):
        if secret.get(field) is not None:
            template[field] = secret[field]
    return template


# --- editing an existing SealedSecret in place --------------------------------------------------------

def _set_fingerprint(obj: MutableMapping[str, Any], fp: str | None) -> None:
    """Point the key hint at ``fp``, or drop it (None) when items are sealed to different keys:
    a hint that is wrong for some items is worse than none."""
    meta = obj["metadata"]
    if fp is None:
        if meta.get("annotations"):
            meta["annotations"].pop(FINGERPRINT_ANNOTATION, None)
        return
    if meta.get("annotations") is None:
        meta["annotations"] = {}
    meta["annotations"][FINGERPRINT_ANNOTATION] = fp


def merge_into(obj: MutableMapping[str, Any], secret: Mapping[str, Any], cert: SealingCert) -> list[str]:
    """Add or replace the Secret's items in an existing SealedSecret; other ciphertexts stay byte-identical.
    Sealed with the SealedSecret's own name, namespace and scope. Returns the items written."""
    check_sealed(obj)
    if is_v1_data(obj):
        raise InputError("is in the deprecated single-blob format: re-seal it first (sealer reencrypt)",
                         field="spec.data")
    meta = manifests.metadata(obj)
    resolve_target(secret, meta.get("namespace") or None, meta.get("name"))
    items = manifests.secret_items(secret)
    if not items:
        raise InputError("Secret has no data or stringData to merge", field="data")
    label = label_of(obj)
    spec = obj["spec"]
    if spec.get("encryptedData") is None:
        spec["encryptedData"] = {}
    untouched = [k for k in spec["encryptedData"] if k not in items]
    hint = (meta.get("annotations") or {}).get(FINGERPRINT_ANNOTATION)
    for key, value in items.items():
        spec["encryptedData"][key] = manifests.b64(hybrid.encrypt(cert.public_key, value, label))
    _set_fingerprint(obj, cert.fingerprint if not untouched or hint == cert.fingerprint else None)
    return list(items)


def reencrypt(obj: MutableMapping[str, Any], keys: Sequence[PrivateKey], cert: SealingCert) -> int:
    """Re-seal items to a new cert, same label (scope, name, namespace) and template; returns how many
    changed. Items already sealed to the cert's key are left byte-identical, so running it twice is a no-op
    and the Git diff shows only real changes. Opens everything before changing anything. The deprecated spec.data
    format becomes encryptedData (each item re-sealed) and a template, as Bitnami's re-encrypt does."""
    if is_v1_data(obj):
        return _reencrypt_v1(obj, keys, cert)
    opened = open_items_with_keys(obj, keys)
    label = label_of(obj)
    fresh = {k: manifests.b64(hybrid.encrypt(cert.public_key, v, label))
             for k, (v, key) in opened.items() if key.fingerprint != cert.fingerprint}
    for key, value in fresh.items():
        obj["spec"]["encryptedData"][key] = value  # (fresh is empty when there is no encryptedData)
    if fresh or opened:
        _set_fingerprint(obj, cert.fingerprint)
    return len(fresh)


def _reencrypt_v1(obj: MutableMapping[str, Any], keys: Sequence[PrivateKey], cert: SealingCert) -> int:
    secret, _ = _unseal_v1(obj, keys)
    label = label_of(obj)
    spec = obj["spec"]
    items = manifests.secret_items(secret)
    spec["encryptedData"] = {k: manifests.b64(hybrid.encrypt(cert.public_key, v, label)) for k, v in items.items()}
    if spec.get("template") is None:
        spec["template"] = _template_of(secret)
    del spec["data"]
    _set_fingerprint(obj, cert.fingerprint)
    return len(items)


def located(err: SealerError, obj: Mapping[str, Any], source: str) -> SealerError:
    """Attach `file: Kind ns/name` to an error raised while handling ``obj``."""
    return err.within(source=source, context=manifests.describe(obj))


def each(objects: Sequence[Mapping[str, Any]], source: str, fn: Callable[[Any], T]) -> list[T]:
    """``fn`` over every object of a file, all or nothing; an error names the file and the object."""
    out = []
    for obj in objects:
        try:
            out.append(fn(obj))
        except SealerError as e:
            raise located(e, obj, source) from None
    return out

