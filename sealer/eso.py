"""External Secrets Operator's Vault manifests rewritten as sealer's kinds (`sealer migrate eso`). Pure: bytes in,
text out, no cluster.

`external-secrets.io/v1` (and `v1beta1`) `SecretStore` / `ClusterSecretStore` with `provider.vault` become
`VaultStore` / `ClusterVaultStore`; an `ExternalSecret` whose store is among the files given (ESO's or an already
converted sealer one) becomes a `VaultSecret`. Its store must be there because ESO's `remoteRef.key` may carry the
store's mount (`secret/data/foo` with `path: secret`), which sealer's `path` does not, and because only the store
says whether it is a Vault one at all.

Fields are renamed where they stand (ruamel.yaml round-trip), so key order and comments survive; only the YAML
documents that change are written again, every other document keeps its bytes. An object that uses something
sealer has not (another provider, LDAP auth, `creationPolicy: None`, ...) is left as it is and named with the field
and the reason; a second run changes nothing.
"""

from __future__ import annotations

import copy
import io
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sealer.errors import InputError
from sealer.io import roundtrip
from sealer.kube import API_VERSION

ESO_API_VERSIONS = ("external-secrets.io/v1", "external-secrets.io/v1beta1")
STORE_KINDS = {"SecretStore": "VaultStore", "ClusterSecretStore": "ClusterVaultStore"}
ES_KIND = "ExternalSecret"


class Unconvertible(Exception):
    """An ESO object that sealer's kinds cannot express; `field` is the ESO field, `why` one line."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field}: {why}")
        self.field = field
        self.why = why


@dataclass
class FileResult:
    source: str
    text: str | None = None  # the new text, None when nothing changes
    converted: list[str] = field(default_factory=list)  # "Kind ns/name" of each object converted (sealer kind)
    notes: list[str] = field(default_factory=list)  # one line each: left as is, or a field dropped


@dataclass
class _Loaded:
    source: str
    data: bytes
    document: roundtrip.Document
    chunks: list[str] | None  # the YAML text per document (None: the file is written back whole)
    chunk_docs: list[Any]  # the object parsed from each chunk (None for a chunk with no document)


@dataclass(frozen=True)
class _Store:
    mount: str
    kv_version: int


# ---------------------------------------------------------------------------------------------------- loading

_MARKER = re.compile(r"^---(?=[ \t\r\n]|$)", re.M)


def _load(data: bytes, source: str) -> _Loaded:
    doc = roundtrip.load(data, source)  # the errors of every other command: not YAML, nesting, a key twice, ...
    for i, d in enumerate(doc.docs, 1):
        if not isinstance(d, Mapping):
            raise InputError(f"document {i} is a {type(d).__name__}, expected a Kubernetes object", source=source)
    if doc.is_json:
        return _Loaded(source, data, doc, None, doc.docs)
    text = data.decode("utf-8-sig")
    chunks = _split(text)
    parsed: list[Any] = []
    try:
        for chunk in chunks:
            first = chunk.split("\n", 1)[0]
            if _MARKER.match(first) and first[3:].strip() and not first[3:].strip().startswith("#"):
                raise InputError("content on a '---' line")
            docs = roundtrip.load(chunk.encode(), source).docs
            if len(docs) > 1:
                raise InputError("several documents in one chunk")
            parsed.append(docs[0] if docs else None)
    except InputError:  # directives, '...' markers, odd layouts: the whole file is written back instead
        return _Loaded(source, data, doc, None, doc.docs)
    if sum(d is not None for d in parsed) != len(doc.docs):
        return _Loaded(source, data, doc, None, doc.docs)
    return _Loaded(source, data, doc, chunks, parsed)


def _split(text: str) -> list[str]:
    """The text cut before each `---` line: each piece holds at most one document (a `---` at column 0 cannot be
    inside a scalar of a block mapping)."""
    starts = [m.start() for m in _MARKER.finditer(text) if m.start() > 0]
    bounds = [0, *starts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds) if b > a] or [text]


def _objects(doc: Any) -> list[tuple[Any, Any, Any]]:
    """(container, key, object) of a document and of the items of a `List` (so an object can be replaced)."""
    if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
        return [(doc["items"], i, o) for i, o in enumerate(doc["items"]) if isinstance(o, Mapping)]
    return [(None, None, doc)]


def _meta(obj: Any) -> tuple[str, str]:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _label(obj: Any) -> str:
    ns, name = _meta(obj)
    return f"{obj.get('kind')} {ns + '/' if ns else ''}{name}"


# ---------------------------------------------------------------------------------------------------- stores

def _store_index(loaded: list[_Loaded]) -> dict[tuple[str, str, str], Any]:
    """(sealer kind, namespace, name) -> the store object: ESO Vault stores and sealer's own, from every file."""
    index: dict[tuple[str, str, str], Any] = {}
    for f in loaded:
        for d in f.document.docs:
            for _, _, obj in _objects(d):
                kind, api = obj.get("kind"), obj.get("apiVersion")
                if api in ESO_API_VERSIONS and kind in STORE_KINDS:
                    kind = STORE_KINDS[kind]
                elif not (api == API_VERSION and kind in STORE_KINDS.values()):
                    continue
                ns, name = _meta(obj)
                index.setdefault((kind, "" if kind == "ClusterVaultStore" else ns, name), obj)
    return index


def _store_settings(obj: Any) -> _Store:
    """Mount and KV version of a store (ESO's or sealer's); Unconvertible when it is not a usable Vault store."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
    if obj.get("apiVersion") == API_VERSION:
        return _Store(str(spec.get("mount") or "secret").strip("/"), 1 if spec.get("kvVersion") == 1 else 2)
    vault = _vault(spec)
    path = vault.get("path")
    if not isinstance(path, str) or not path.strip("/"):
        raise Unconvertible("spec.provider.vault.path", "is not set: ESO then takes the KV mount from each key, "
                            "sealer's store has one mount; set path and make the keys relative to it first")
    version = vault.get("version", "v2")
    if version not in ("v1", "v2"):
        raise Unconvertible("spec.provider.vault.version", "must be v1 or v2")
    return _Store(path.strip("/"), 1 if version == "v1" else 2)


def _vault(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    provider = spec.get("provider")
    if not isinstance(provider, Mapping) or not provider:
        raise Unconvertible("spec.provider", "is not set")
    other = [k for k in provider if k != "vault"]
    if other:
        raise Unconvertible(f"spec.provider.{other[0]}", "is not the Vault provider (sealer serves Vault only)")
    vault = provider["vault"]
    if not isinstance(vault, Mapping):
        raise Unconvertible("spec.provider.vault", "must be an object")
    return vault


def _convert_store(obj: Any, notes: list[str]) -> Any:
    """A converted copy of an ESO Vault store, or Unconvertible. `notes` gets each field dropped."""
    new = copy.deepcopy(obj)
    kind = STORE_KINDS[obj["kind"]]
    spec = new.get("spec")
    if not isinstance(spec, Mapping):
        raise Unconvertible("spec", "is not set")
    _store_settings(obj)
    vault = _vault(spec)
    known = {"provider", "refreshInterval"} | ({"conditions"} if kind == "ClusterVaultStore" else set())
    for key, value in spec.items():
        if key not in known and value not in (None, "", [], {}):
            raise Unconvertible(f"spec.{key}", "has no sealer equivalent")
    vault_keys = {"server", "path", "version", "namespace", "caBundle", "caProvider", "tls", "headers", "auth"}
    for key, value in vault.items():
        if key not in vault_keys and value not in (None, False, "", [], {}):
            raise Unconvertible(f"spec.provider.vault.{key}", "has no sealer equivalent")
    if not isinstance(vault.get("auth"), Mapping):
        raise Unconvertible("spec.provider.vault.auth", "is not set: sealer's store needs an auth method")
    lifted: list[tuple[str, Any, str]] = []
    for key, value in vault.items():
        if key not in vault_keys or value in (None, False, "", [], {}):
            continue
        if key == "path":
            lifted.append(("mount", value if value == value.strip("/") else value.strip("/"), key))
        elif key == "version":
            lifted.append(("kvVersion", 1 if value == "v1" else 2, key))
        elif key == "auth":
            lifted.append(("auth", _convert_auth(value, kind == "ClusterVaultStore", notes), key))
        else:
            lifted.append((key, value, key))
    _splice(spec, "provider", lifted, vault)
    if "refreshInterval" in spec:
        notes.append("spec.refreshInterval: dropped (sealer checks every store each --vault-store-check-period)")
        _drop(spec, "refreshInterval")
    if "conditions" in spec:
        _splice(spec, "conditions", _conditions(spec["conditions"]), None)
    new["apiVersion"] = _like(obj.get("apiVersion"), API_VERSION)
    new["kind"] = _like(obj.get("kind"), kind)
    return new


def _conditions(raw: Any) -> list[tuple[str, Any]]:
    if raw in (None, []):
        return []
    if not isinstance(raw, list) or len(raw) != 1 or not isinstance(raw[0], Mapping):
        raise Unconvertible("spec.conditions", "has several conditions: sealer's store takes one list of namespaces "
                            "and one selector; merge them first")
    out = []
    for key, value in raw[0].items():
        if key == "namespaceRegexes" and value:
            raise Unconvertible("spec.conditions[0].namespaceRegexes", "has no sealer equivalent: list the "
                                "namespaces or select them by label")
        if key in ("namespaces", "namespaceSelector"):
            out.append((key, value))
        elif value:
            raise Unconvertible(f"spec.conditions[0].{key}", "has no sealer equivalent")
    return out


_AUTH_MOUNT = {"appRole": "path", "jwt": "path", "cert": "path", "userPass": "path", "kubernetes": "mountPath"}
_AUTH_FIELDS = {
    "appRole": {"path", "roleId", "roleRef", "secretRef"},
    "kubernetes": {"mountPath", "role", "serviceAccountRef", "secretRef"},
    "jwt": {"path", "role", "secretRef", "kubernetesServiceAccountToken"},
    "cert": {"path", "clientCert", "secretRef"},
    "userPass": {"path", "username", "secretRef"},
}


def _convert_auth(auth: Any, cluster: bool, notes: list[str]) -> Any:
    """ESO's `auth` -> sealer's, in place (the store is a copy already). ESO's default mounts of each method
    (approle, kubernetes, jwt, cert, userpass) are sealer's too, so a path ESO's manifest names is copied as it
    is and an absent one stays absent."""
    where = "spec.provider.vault.auth"
    if not isinstance(auth, Mapping):
        raise Unconvertible(where, "must be an object")
    methods = [k for k in auth if k != "namespace" and auth[k] is not None]
    if len(methods) != 1:
        raise Unconvertible(where, "needs exactly one auth method")
    method = methods[0]
    body = auth[method]
    if method == "tokenSecretRef":
        _splice(auth, method, [("token", _new_map(auth, [("secretRef", body)]))], None)
        return auth
    if method not in _AUTH_FIELDS:
        raise Unconvertible(f"{where}.{method}", "is an auth method sealer does not have")
    if not isinstance(body, Mapping):
        raise Unconvertible(f"{where}.{method}", "must be an object")
    for key, value in body.items():
        if key not in _AUTH_FIELDS[method] and value not in (None, ""):
            raise Unconvertible(f"{where}.{method}.{key}", "has no sealer equivalent")
    if _AUTH_MOUNT[method] in body:
        _rename(body, _AUTH_MOUNT[method], "mount")
    if method == "appRole" and "secretRef" in body:
        _rename(body, "secretRef", "secretIdRef")
    if method == "kubernetes":
        if body.get("secretRef") is not None:
            raise Unconvertible(f"{where}.kubernetes.secretRef", "a long-lived ServiceAccount token in a Secret has "
                                "no sealer equivalent: name the ServiceAccount (serviceAccountRef) instead")
        sa = body.get("serviceAccountRef")
        _drop(body, "secretRef")
        if sa is None and cluster:  # ESO logs in as itself; sealer's ClusterVaultStore as the controller
            _drop(body, "serviceAccountRef")
            notes.append(f"{where}.kubernetes: without serviceAccountRef ESO logs in with its own ServiceAccount; "
                         "sealer logs in with the controller's: bind the Vault role to it")
            return auth
        if not isinstance(sa, Mapping) or not sa.get("name"):
            raise Unconvertible(f"{where}.kubernetes.serviceAccountRef", "is not set (ESO then logs in with its "
                                "own ServiceAccount, which only a ClusterVaultStore may do in sealer): name the "
                                "ServiceAccount")
        audiences = sa.get("audiences")
        account = [(k, v) for k, v in sa.items() if k in ("name", "namespace")]
        if any(k not in ("name", "namespace", "audiences") and v for k, v in sa.items()):
            raise Unconvertible(f"{where}.kubernetes.serviceAccountRef", "has fields sealer does not have")
        _splice(body, "serviceAccountRef", [("serviceAccount", _new_map(sa, account), "name")]
                + ([("audiences", audiences, "audiences")] if audiences else []), sa)
    return auth


# ---------------------------------------------------------------------------------------------------- ExternalSecret

def _convert_secret(obj: Any, stores: Mapping[tuple[str, str, str], Any], notes: list[str]) -> Any:
    new = copy.deepcopy(obj)
    spec = new.get("spec")
    if not isinstance(spec, Mapping):
        raise Unconvertible("spec", "is not set")
    namespace = _meta(obj)[0]
    known = {"secretStoreRef", "refreshInterval", "refreshPolicy", "target", "data", "dataFrom"}
    for key, value in spec.items():
        if key not in known and value not in (None, "", [], {}):
            raise Unconvertible(f"spec.{key}", "has no sealer equivalent")
    if spec.get("refreshPolicy") not in (None, "", "Periodic"):
        raise Unconvertible("spec.refreshPolicy", f"{spec['refreshPolicy']} has no sealer equivalent (sealer "
                            "refreshes every refreshInterval)")
    if "refreshPolicy" in spec:
        _drop(spec, "refreshPolicy")
    if not isinstance(spec.get("secretStoreRef"), Mapping):
        raise Unconvertible("spec.secretStoreRef", "is not set")
    default = _store_ref(spec["secretStoreRef"], "spec.secretStoreRef", namespace, stores)
    _rename(spec, "secretStoreRef", "storeRef")
    target = spec.get("target")
    if isinstance(target, Mapping):
        for key, value in target.items():
            if key not in ("name", "creationPolicy", "deletionPolicy", "template", "immutable") and value:
                raise Unconvertible(f"spec.target.{key}", "has no sealer equivalent")
        if target.get("creationPolicy") == "None":
            raise Unconvertible("spec.target.creationPolicy", "None (no Secret at all) has no sealer equivalent")
        if target.get("deletionPolicy") == "Merge":
            raise Unconvertible("spec.target.deletionPolicy", "Merge has no sealer equivalent (Retain or Delete)")
    for i, item in enumerate(spec.get("data") or []):
        where = f"spec.data[{i}]"
        if not isinstance(item, Mapping):
            raise Unconvertible(where, "must be an object")
        for key, value in item.items():
            if key not in ("secretKey", "remoteRef", "sourceRef") and value:
                raise Unconvertible(f"{where}.{key}", "has no sealer equivalent")
        store = _source_ref(item, where, namespace, stores) or default
        if not isinstance(item.get("remoteRef"), Mapping):
            raise Unconvertible(f"{where}.remoteRef", "is not set")
        _remote_ref(item["remoteRef"], f"{where}.remoteRef", store)
    for i, item in enumerate(spec.get("dataFrom") or []):
        where = f"spec.dataFrom[{i}]"
        if not isinstance(item, Mapping):
            raise Unconvertible(where, "must be an object")
        for key, value in item.items():
            if key not in ("extract", "find", "rewrite", "sourceRef") and value:
                raise Unconvertible(f"{where}.{key}", "has no sealer equivalent")
        store = _source_ref(item, where, namespace, stores) or default
        if item.get("extract") and item.get("find"):
            raise Unconvertible(where, "has both extract and find (ESO takes one)")
        if isinstance(item.get("extract"), Mapping):
            extract = item["extract"]
            _remote_ref(extract, f"{where}.extract", store)
            _splice(item, "extract", list(extract.items()), extract)
        elif isinstance(item.get("find"), Mapping):
            find = item["find"]
            for key, value in find.items():
                if key == "conversionStrategy" and value in ("Default", None, ""):
                    continue
                if key not in ("path", "name", "decodingStrategy") and value:
                    raise Unconvertible(f"{where}.find.{key}", "has no sealer equivalent")
            if "conversionStrategy" in find:
                _drop(find, "conversionStrategy")
        else:
            raise Unconvertible(where, "needs extract or find")
    new["apiVersion"] = _like(obj.get("apiVersion"), API_VERSION)
    new["kind"] = _like(obj.get("kind"), "VaultSecret")
    return new


def _store_ref(ref: Any, where: str, namespace: str, stores: Mapping[tuple[str, str, str], Any]) -> _Store:
    """Check an ESO store reference, point it at sealer's kind (in place), and return the store's settings."""
    if not isinstance(ref, Mapping) or not ref.get("name"):
        raise Unconvertible(f"{where}.name", "is not set")
    eso_kind = ref.get("kind") or "SecretStore"
    if eso_kind not in STORE_KINDS:
        raise Unconvertible(f"{where}.kind", f"{eso_kind} is not a SecretStore or ClusterSecretStore")
    kind = STORE_KINDS[eso_kind]
    key = (kind, "" if kind == "ClusterVaultStore" else namespace, str(ref["name"]))
    store = stores.get(key)
    if store is None and kind == "VaultStore":  # a namespace left to `kubectl apply -n` on one side
        found = [s for (k, ns, n), s in stores.items() if k == kind and n == key[2] and not (ns and namespace)]
        store = found[0] if len(found) == 1 else None
    if store is None:
        raise Unconvertible(where, f"{eso_kind} {ref['name']} is not in the files given: pass its file too (the "
                            "store says whether it is Vault, and the mount that keys may start with)")
    try:
        settings = _store_settings(store)
        if store.get("apiVersion") != API_VERSION:
            _convert_store(store, [])  # a store left as is (another provider, LDAP auth, ...): so is this
    except Unconvertible as e:
        raise Unconvertible(where, f"its store is left as is ({e.field}: {e.why})") from None
    if "kind" in ref:
        ref["kind"] = _like(ref["kind"], kind)
    return settings


def _source_ref(item: Any, where: str, namespace: str, stores: Mapping[tuple[str, str, str], Any]
                ) -> _Store | None:
    source = item.get("sourceRef")
    if source is None:
        return None
    if not isinstance(source, Mapping):
        raise Unconvertible(f"{where}.sourceRef", "must be an object")
    if source.get("generatorRef"):
        raise Unconvertible(f"{where}.sourceRef.generatorRef", "generators have no sealer equivalent")
    if not isinstance(source.get("storeRef"), Mapping):
        raise Unconvertible(f"{where}.sourceRef.storeRef", "is not set")
    return _store_ref(source["storeRef"], f"{where}.sourceRef.storeRef", namespace, stores)


_REMOTE = {"key", "property", "version", "decodingStrategy", "metadataPolicy", "conversionStrategy"}


def _remote_ref(ref: Any, where: str, store: _Store) -> None:
    """ESO's remote reference -> sealer's, in place: `key` -> a `path` below the store's mount, `version` a
    number, `conversionStrategy: Default` dropped."""
    for key, value in ref.items():
        if key not in _REMOTE and value not in (None, ""):
            raise Unconvertible(f"{where}.{key}", "has no sealer equivalent")
    if ref.get("conversionStrategy") not in (None, "", "Default"):
        raise Unconvertible(f"{where}.conversionStrategy", f"{ref['conversionStrategy']} has no sealer equivalent")
    key = ref.get("key")
    if not isinstance(key, str) or not key:
        raise Unconvertible(f"{where}.key", "is not set")
    version = ref.get("version")
    if version not in (None, ""):
        if not re.fullmatch(r"[1-9][0-9]{0,17}", str(version)):
            raise Unconvertible(f"{where}.version", "is not a KV version number")
        _rename(ref, "version", "version", int(version))
    relative = mount_relative(key, store.mount, store.kv_version)
    _rename(ref, "key", "path", key if relative == key else _like(key, relative))
    if "conversionStrategy" in ref:
        _drop(ref, "conversionStrategy")


def mount_relative(key: str, mount: str, kv_version: int) -> str:
    """ESO's `remoteRef.key` as sealer's mount-relative `path`. ESO's Vault provider (buildPath) drops a leading
    `<store path>/` from a key, then on KV v2 a `data/` after it: `secret/data/foo`, `secret/foo` and `foo` all
    read `secret/data/foo` with `path: secret`. So does this, and the same secret is read."""
    out = key
    if out.startswith(mount + "/"):
        out = out[len(mount) + 1:]
        if kv_version == 2 and out.startswith("data/"):
            out = out[len("data/"):]
    return out


# ---------------------------------------------------------------------------------------------------- editing

def _like(old: Any, value: str) -> Any:
    """``value`` written as ``old`` was (same quotes), for a scalar replaced in place."""
    cls = type(old)
    if isinstance(old, str) and cls is not str:
        try:
            return cls(value)
        except TypeError:
            return value
    return value


def _rename(m: Any, old: str, new: str, value: Any = None) -> None:
    """Key ``old`` of mapping ``m`` renamed to ``new`` where it stands, with its comment (and a new value)."""
    keys = list(m)
    pos = keys.index(old)
    v = m[old] if value is None else value
    comment = _comments(m).pop(old, None)
    del m[old]
    _insert(m, pos, new, v)
    if comment is not None:
        _comments(m)[new] = comment


def _drop(m: Any, key: str) -> None:
    if key in m:
        _comments(m).pop(key, None)
        del m[key]


def _splice(m: Any, old: str, items: list[tuple[str, Any] | tuple[str, Any, str]], source: Any) -> None:
    """Key ``old`` of ``m`` replaced by ``items`` (key, value[, key in source]) at its place; the comments of
    ``source``'s keys move along."""
    pos = list(m).index(old)
    own = _comments(m).pop(old, None)
    del m[old]
    moved = _comments(source) if source is not None else {}
    for i, (key, value, *origin) in enumerate(items):
        if key in m:
            del m[key]
        _insert(m, pos + i, key, value)
        if (origin[0] if origin else key) in moved:
            _comments(m)[key] = moved[origin[0] if origin else key]
    if own is not None and items and items[-1][0] not in _comments(m):
        _comments(m)[items[-1][0]] = own


def _insert(m: Any, pos: int, key: str, value: Any) -> None:
    if hasattr(m, "insert"):
        m.insert(pos, key, value)
        return
    items = list(m.items())
    items.insert(pos, (key, value))
    m.clear()
    m.update(items)


def _comments(m: Any) -> dict[str, Any]:
    ca = getattr(m, "ca", None)
    return ca.items if ca is not None else {}


def _new_map(like: Any, items: list[tuple[str, Any]]) -> Any:
    """A mapping of ``items`` of the same type as ``like`` (a ruamel map in YAML, a dict in JSON)."""
    from ruamel.yaml.comments import CommentedMap

    if isinstance(like, CommentedMap):
        out = CommentedMap(items)
        if like.fa.flow_style():
            out.fa.set_flow_style()
        return out
    return dict(items)


# ---------------------------------------------------------------------------------------------------- files

def migrate(files: list[tuple[str, bytes]]) -> list[FileResult]:
    """Each file's result, in order. All files are parsed first (an InputError names the file); stores are looked
    up across every file, so an ExternalSecret's store may be in another one."""
    loaded = [_load(data, source) for source, data in files]
    stores = _store_index(loaded)
    return [_migrate_file(f, stores) for f in loaded]


def _migrate_file(f: _Loaded, stores: Mapping[tuple[str, str, str], Any]) -> FileResult:
    result = FileResult(f.source)
    changed: set[int] = set()
    docs = f.chunk_docs
    number = 0
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        number += 1
        objects = _objects(doc)
        for container, key, obj in objects:
            kind, api = obj.get("kind"), obj.get("apiVersion")
            where = f"document {number}" + (f" item {key + 1}" if container is not None else "")
            if not isinstance(api, str) or not api.startswith("external-secrets.io/"):
                continue
            if api not in ESO_API_VERSIONS or kind not in (*STORE_KINDS, ES_KIND):
                why = (f"{kind} has no sealer kind here" if api in ESO_API_VERSIONS else
                       f"{api} is not converted: move it to external-secrets.io/v1 first")
                result.notes.append(f"{f.source}: {where} ({_label(obj)}): {why}; left as is")
                continue
            notes: list[str] = []
            try:
                new = (_convert_secret(obj, stores, notes) if kind == ES_KIND
                       else _convert_store(obj, notes))
            except Unconvertible as e:
                result.notes.append(f"{f.source}: {where} ({_label(obj)}): {e.field}: {e.why}; left as is")
                continue
            result.notes += [f"{f.source}: {where} ({_label(obj)}): {n}" for n in notes]
            if container is None:
                docs[index] = new
            else:
                container[key] = new
            result.converted.append(_label(new))
            changed.add(index)
    if changed:
        result.text = _render(f, changed)
    return result


def _render(f: _Loaded, changed: set[int]) -> str:
    if f.chunks is None:
        f.document.docs = [d for d in f.chunk_docs if d is not None]
        return f.document.dumps()
    out = []
    for i, chunk in enumerate(f.chunks):
        if i not in changed:
            out.append(chunk)
            continue
        head = ""
        if _MARKER.match(chunk):
            head, _, chunk = chunk.partition("\n")
            head += "\n"
        body = _reindent_comments(_dump(f.chunk_docs[i], _layout(chunk)), chunk)
        out.append(head + (body.replace("\n", "\r\n") if "\r\n" in chunk else body))
    bom = "\ufeff" if f.data.startswith(b"\xef\xbb\xbf") else ""
    return bom + "".join(out)


def _reindent_comments(text: str, original: str) -> str:
    """Full-line comments that moved to another depth (a store's fields lifted out of provider.vault) indented as
    the line they stand above; a comment that stands above the same line as in the original keeps its place."""

    def pairs(lines: list[str]) -> list[tuple[int, str | None]]:
        out = []
        for i, line in enumerate(lines):
            if line.lstrip(" ").startswith("#"):
                out.append((i, next((n for n in lines[i + 1:] if n.strip() and not n.lstrip(" ").startswith("#")),
                                    None)))
        return out

    before = original.splitlines()
    kept = {(before[i], after) for i, after in pairs(before)}
    lines = text.splitlines()
    for i, after in pairs(lines):
        if after is not None and (lines[i], after) not in kept:
            lines[i] = " " * (len(after) - len(after.lstrip(" "))) + lines[i].lstrip(" ")
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


def _layout(text: str) -> tuple[int, int]:
    """(mapping indent, dash offset of a block sequence below its key) as the document writes them: the first
    nested mapping and the first nested sequence decide; 2 and 0 (the house layout) otherwise."""
    mapping, offset = None, None
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    for prev, cur in itertools.pairwise(lines):
        if not prev.rstrip().endswith(":"):
            continue
        depth = len(cur) - len(cur.lstrip(" ")) - (len(prev) - len(prev.lstrip(" ")))
        if prev.lstrip().startswith("- "):
            depth -= 2
        if cur.lstrip().startswith("- "):
            offset = depth if offset is None and depth >= 0 else offset
        elif mapping is None and depth > 0:
            mapping = depth
    return mapping or 2, offset or 0


def _dump(doc: Any, layout: tuple[int, int]) -> str:
    from ruamel.yaml import YAML

    y = YAML(typ="rt")
    y.width = 1 << 30
    mapping, offset = layout
    y.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue()


# ------------------------------------------------------------------------------------------- objects in memory

def convert_store(obj: Mapping[str, Any]) -> dict[str, Any]:
    """One ESO Vault store as sealer's VaultStore / ClusterVaultStore (a plain dict), for the controller's
    --eso-compat: the same conversion as `sealer migrate eso`, in memory. Unconvertible when sealer cannot serve it
    (another provider, a field sealer lacks)."""
    if obj.get("kind") not in STORE_KINDS:
        raise Unconvertible("kind", f"{obj.get('kind')} is not a SecretStore or ClusterSecretStore")
    return _convert_store(copy.deepcopy(dict(obj)), [])


def store_refs(obj: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (ESO store kind, name) an ExternalSecret names: spec.secretStoreRef and each sourceRef.storeRef."""
    spec = obj.get("spec") if isinstance(obj.get("spec"), Mapping) else {}
    refs = [spec.get("secretStoreRef")]
    for key in ("data", "dataFrom"):
        for item in spec.get(key) or []:
            source = item.get("sourceRef") if isinstance(item, Mapping) else None
            refs.append(source.get("storeRef") if isinstance(source, Mapping) else None)
    found = [(str(r.get("kind") or "SecretStore"), str(r["name"])) for r in refs
             if isinstance(r, Mapping) and r.get("name")]
    return list(dict.fromkeys(found))


def convert_external_secret(obj: Mapping[str, Any], stores: Mapping[tuple[str, str], Mapping[str, Any]]
                            ) -> dict[str, Any]:
    """One ExternalSecret as sealer's VaultSecret (a plain dict), given the ESO stores it names (`store_refs`),
    keyed by (ESO kind, name). Unconvertible when sealer cannot serve it."""
    namespace = _meta(obj)[0]
    index = {(STORE_KINDS[kind], "" if kind == "ClusterSecretStore" else namespace, name): store
             for (kind, name), store in stores.items() if kind in STORE_KINDS}
    return _convert_secret(copy.deepcopy(dict(obj)), index, [])
