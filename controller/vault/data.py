"""What a VaultSecret reads (`spec.data`, `spec.dataFrom`) and the Secret items made of what Vault answered, with
External Secrets Operator's semantics: nested `property` paths, `decodingStrategy`, `metadataPolicy: Fetch`,
`dataFrom[].find` and `rewrite`, `sourceRef` per item. Pure: the reads and lists are made by `fetch`.

A read is keyed by `read_key(path, version, store, metadata)`: `(path, version)` for the VaultSecret's own store,
a longer tuple for another store or a metadata read, so each distinct read is made once per sync."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from controller.vault.fields import ITEM_KEY, SpecError, vault_path
from controller.vault.store import parse_store_ref
from sealer import gotemplate
from sealer.errors import InputError
from sealer.gotemplate.sprig.regex import _regex, _regex_replace  # RE2 syntax, Go's rules, cost-checked
from sealer.gotemplate.values import GoError, StrMap

NONE, BASE64, BASE64URL, AUTO = "None", "Base64", "Base64URL", "Auto"
DECODINGS = (NONE, BASE64, BASE64URL, AUTO)
DEFAULT, UNICODE = "Default", "Unicode"  # conversionStrategy
MAX_REWRITES = 16
# A tenant writes find: its walk is bounded (Vault LIST requests, names seen, depth, secrets read).
MAX_FIND_SECRETS = 1000
MAX_FIND_NAMES = 10000
MAX_FIND_FOLDERS = 500
MAX_FIND_DEPTH = 32
_METADATA_SYSTEM_KEYS = ("created_time", "current_version", "delete_version_after")  # as ESO shows them
_GJSON_SYNTAX = re.compile(r"[*?#|@]")


class DataError(SpecError):
    """Vault returned something that cannot become the Secret (a missing property, an invalid item key, a value
    the decoding strategy refuses). Messages name paths, keys and fields, never a value."""


@dataclass(frozen=True)
class StoreRef:
    """`sourceRef.storeRef`: another store for one item (None everywhere = the VaultSecret's own store)."""

    kind: str
    name: str


@dataclass(frozen=True)
class DataRef:
    secret_key: str
    path: str
    property: str | None = None
    version: int | None = None
    decoding: str = NONE
    metadata: bool = False  # metadataPolicy Fetch: the secret's KV v2 metadata instead of its data
    store: StoreRef | None = None


@dataclass(frozen=True)
class Rewrite:
    """One `dataFrom[].rewrite` step: a regexp (`source` -> `target`, Go's $1 expansion) or a Go template over
    `.value` (the key)."""

    source: str | None = None
    target: str = ""
    template: str | None = None


@dataclass(frozen=True)
class Find:
    path: str  # '' = the mount's root
    name: str | None = None  # a regexp on the secret's path below the mount; None = every secret


@dataclass(frozen=True)
class DataFrom:
    """One `dataFrom[]` entry: a whole secret (`path`, or ESO's `extract.key`) or the secrets `find` matches."""

    path: str | None = None
    property: str | None = None  # extract: a nested map of the secret instead of the whole secret
    version: int | None = None
    decoding: str = NONE
    metadata: bool = False
    conversion: str | None = None  # None: invalid keys are an error (sealer's `path` shorthand)
    find: Find | None = None
    rewrite: tuple[Rewrite, ...] = ()
    store: StoreRef | None = None


class Sources(Protocol):
    """What build_data needs of a VaultSecretSpec."""

    data: tuple[DataRef, ...]
    data_from: tuple[DataFrom, ...]


ReadKey = tuple[Any, ...]


def read_key(path: str, version: int | None = None, store: StoreRef | None = None, metadata: bool = False
             ) -> ReadKey:
    return (path, version) if store is None and not metadata else (path, version, store, metadata)


def read_parts(key: ReadKey) -> tuple[str, int | None, StoreRef | None, bool]:
    """(path, version, store, metadata) of a read_key."""
    if len(key) == 2:
        return key[0], key[1], None, False
    return key[0], key[1], key[2], key[3]


# --- parsing ---------------------------------------------------------------------------------------------------


def _property(raw: Mapping[str, Any], where: str) -> str | None:
    prop = raw.get("property")
    if prop is not None and (not isinstance(prop, str) or not prop):
        raise SpecError("must be a non-empty string", field=f"{where}.property")
    return prop


def _version(raw: Mapping[str, Any], where: str) -> int | None:
    version = raw.get("version")
    if isinstance(version, str) and version.isdigit():  # ESO writes versions as strings
        version = int(version)
    if version is not None and (not isinstance(version, int) or isinstance(version, bool) or version < 1):
        raise SpecError("must be a positive integer", field=f"{where}.version")
    return version


def _decoding(raw: Mapping[str, Any], where: str) -> str:
    value = raw.get("decodingStrategy") or NONE
    if value not in DECODINGS:
        raise SpecError("must be None, Base64, Base64URL or Auto", field=f"{where}.decodingStrategy")
    return str(value)


def _metadata(raw: Mapping[str, Any], where: str, version: int | None) -> bool:
    value = raw.get("metadataPolicy") or "None"
    if value not in ("None", "Fetch"):
        raise SpecError("must be None or Fetch", field=f"{where}.metadataPolicy")
    if value == "Fetch" and version is not None:
        raise SpecError("is not valid with metadataPolicy Fetch (metadata has no versions)", field=f"{where}.version")
    return value == "Fetch"


def _conversion(raw: Mapping[str, Any], where: str, default: str | None) -> str | None:
    value = raw.get("conversionStrategy") or default
    if value not in (None, DEFAULT, UNICODE):
        raise SpecError("must be Default or Unicode", field=f"{where}.conversionStrategy")
    return value


def _regexp(pattern: Any, where: str) -> str:
    if not isinstance(pattern, str) or not pattern:
        raise SpecError("must be a non-empty regular expression", field=where)
    try:
        _regex(pattern, "")
    except GoError as e:  # a syntax error, or a pattern that could backtrack for ever on a crafted name
        hint = "at most 2 of *, + and {n,m}" if "size" in str(e) else "RE2 syntax; no nested repetition"
        raise SpecError(f"{e} ({hint})", field=where) from None
    return pattern


def _source_ref(raw: Any, where: str) -> StoreRef | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise SpecError("must be an object", field=where)
    if raw.get("generatorRef") is not None:
        raise SpecError("is not supported (generators are not implemented)", field=f"{where}.generatorRef")
    return StoreRef(*parse_store_ref(raw.get("storeRef"), f"{where}.storeRef", ""))  # "": any namespace is refused


def _rewrites(raw: Any, where: str) -> tuple[Rewrite, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise SpecError("must be a list", field=where)
    if len(raw) > MAX_REWRITES:
        raise SpecError(f"at most {MAX_REWRITES} steps", field=where)
    out = []
    for j, step in enumerate(raw):
        at = f"{where}[{j}]"
        if not isinstance(step, Mapping) or sum(k in step for k in ("regexp", "transform", "merge")) != 1:
            raise SpecError("needs exactly one of regexp or transform", field=at)
        if "merge" in step:
            raise SpecError("is not supported (use regexp or transform)", field=f"{at}.merge")
        if "regexp" in step:
            r = step["regexp"]
            if not isinstance(r, Mapping) or not isinstance(r.get("target", ""), str):
                raise SpecError("needs source and target strings", field=f"{at}.regexp")
            out.append(Rewrite(_regexp(r.get("source"), f"{at}.regexp.source"), r.get("target") or ""))
            continue
        t = step["transform"]
        template = t.get("template") if isinstance(t, Mapping) else None
        if not isinstance(template, str) or not template:
            raise SpecError("is required", field=f"{at}.transform.template")
        try:  # syntax errors now, not at the first sync
            gotemplate.render(template, StrMap(value="key"), name="transform")
        except InputError as e:
            if "syntax" in e.message or "nested" in e.message:
                raise SpecError(e.message, field=f"{at}.transform.template") from None
        out.append(Rewrite(template=template))
    return tuple(out)


def _find(raw: Any, where: str) -> Find:
    if not isinstance(raw, Mapping):
        raise SpecError("must be an object", field=where)
    if raw.get("tags"):
        raise SpecError("is not supported: find secrets by name (find.name.regexp) and path", field=f"{where}.tags")
    path = "" if raw.get("path") in (None, "") else vault_path(raw.get("path"), f"{where}.path")
    name = raw.get("name")
    if name is not None and not isinstance(name, Mapping):
        raise SpecError("must be an object with a regexp", field=f"{where}.name")
    pattern = (name or {}).get("regexp")
    return Find(path, None if pattern in (None, "") else _regexp(pattern, f"{where}.name.regexp"))


def _data_from(item: Any, where: str) -> DataFrom:
    if not isinstance(item, Mapping):
        raise SpecError("must be an object", field=where)
    kinds = [k for k in ("path", "extract", "find") if item.get(k) is not None]
    if len(kinds) != 1:
        if not kinds:
            vault_path(None, f"{where}.path")  # "is required", as before find and extract existed
        raise SpecError("set exactly one of path, extract or find", field=where)
    rewrite = _rewrites(item.get("rewrite"), f"{where}.rewrite")
    store = _source_ref(item.get("sourceRef"), f"{where}.sourceRef")
    if kinds[0] == "find":
        at = f"{where}.find"
        found = _find(item["find"], at)
        return DataFrom(decoding=_decoding(item["find"], at), conversion=_conversion(item["find"], at, DEFAULT),
                        find=found, rewrite=rewrite, store=store)
    if kinds[0] == "extract":
        raw, at, key, conversion = item["extract"], f"{where}.extract", "key", DEFAULT  # ESO converts by default
        if not isinstance(raw, Mapping):
            raise SpecError("must be an object", field=at)
    else:  # sealer's shorthand: the extract fields next to `path`; invalid keys are an error unless converted
        raw, at, key, conversion = item, where, "path", None
    version = _version(raw, at)
    return DataFrom(vault_path(raw.get(key), f"{at}.{key}"), _property(raw, at), version, _decoding(raw, at),
                    _metadata(raw, at, version), _conversion(raw, at, conversion), None, rewrite, store)


def parse_sources(spec: Mapping[str, Any]) -> tuple[tuple[DataRef, ...], tuple[DataFrom, ...]]:
    """`spec.data` and `spec.dataFrom` of a VaultSecret, or SpecError naming the field."""
    data: list[DataRef] = []
    keys: set[str] = set()
    for i, item in enumerate(spec.get("data") or []):
        where = f"spec.data[{i}]"
        if not isinstance(item, Mapping):
            raise SpecError("must be an object", field=where)
        key = item.get("secretKey")
        if not isinstance(key, str) or not ITEM_KEY.match(key) or key in (".", ".."):
            raise SpecError("must be a valid Secret item key ([-._a-zA-Z0-9]+)", field=f"{where}.secretKey")
        if key in keys:
            raise SpecError(f"item {key!r} is listed twice", field=f"{where}.secretKey")
        keys.add(key)
        remote = item.get("remoteRef")
        if not isinstance(remote, Mapping):
            raise SpecError("is required", field=f"{where}.remoteRef")
        at = f"{where}.remoteRef"
        version = _version(remote, at)
        data.append(DataRef(key, vault_path(remote.get("path"), f"{at}.path"), _property(remote, at), version,
                            _decoding(remote, at), _metadata(remote, at, version),
                            _source_ref(item.get("sourceRef"), f"{where}.sourceRef")))
    data_from = [_data_from(item, f"spec.dataFrom[{i}]") for i, item in enumerate(spec.get("dataFrom") or [])]
    return tuple(data), tuple(data_from)


# --- reads -----------------------------------------------------------------------------------------------------


def finds(spec: Sources) -> list[tuple[int, DataFrom]]:
    """The dataFrom entries that list Vault before anything is read: (index, entry)."""
    return [(i, src) for i, src in enumerate(spec.data_from) if src.find is not None]


def reads(spec: Sources, found: Mapping[int, Iterable[str]] | None = None) -> list[ReadKey]:
    """Each read to make once per sync, in a stable order: several items of one secret cost one read. `found`:
    the secret paths each find entry matched (dataFrom index -> paths)."""
    seen: dict[ReadKey, None] = {}
    for i, src in enumerate(spec.data_from):
        if src.find is None:
            assert src.path is not None
            seen.setdefault(read_key(src.path, src.version, src.store, src.metadata), None)
        else:
            for path in (found or {}).get(i, ()):
                seen.setdefault(read_key(path, None, src.store), None)
    for ref in spec.data:
        seen.setdefault(read_key(ref.path, ref.version, ref.store, ref.metadata), None)
    return list(seen)


def listed_name(folder: str, name: str, where: str) -> str | None:
    """A name Vault listed in `folder`, joined to it; None for one that could step out of the folder (skipped)."""
    bare = name[:-1] if name.endswith("/") else name
    if not bare or "/" in bare or bare in (".", "..") or any(ord(c) < 32 for c in bare):
        return None
    full = folder + name
    if full.count("/") > MAX_FIND_DEPTH:
        raise DataError(f"folders nested deeper than {MAX_FIND_DEPTH} levels", field=where)
    return full


def matching(src: DataFrom, paths: Iterable[str], where: str) -> tuple[str, ...]:
    """The listed secret paths whose name the find regexp matches (Go's MatchString: anywhere in the path),
    at most MAX_FIND_SECRETS."""
    assert src.find is not None
    out = []
    for path in sorted(paths):
        if src.find.name is not None:
            try:
                if not _regex(src.find.name, path).search(path):
                    continue
            except GoError as e:
                raise DataError(f"find.name.regexp: {e}", field=where) from None
        out.append(path)
        if len(out) > MAX_FIND_SECRETS:
            raise DataError(f"more than {MAX_FIND_SECRETS} Vault secrets match; narrow find.path or "
                            "find.name.regexp", field=where)
    return tuple(out)


def metadata_values(raw: Mapping[str, Any]) -> dict[str, str]:
    """What metadataPolicy Fetch sees of KV v2 metadata, as ESO: created_time, current_version,
    delete_version_after, and the custom_metadata keys (all as strings)."""
    out = {k: _text(raw[k]) for k in _METADATA_SYSTEM_KEYS if raw.get(k) is not None}
    custom = raw.get("custom_metadata")
    if isinstance(custom, Mapping):
        out.update({str(k): _text(v) for k, v in custom.items()})
    return out


# --- values ----------------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    return value if isinstance(value, str) else _encode(value).decode()


def _encode(value: Any) -> bytes:
    """Strings as they are; anything else (numbers, booleans, maps) as compact JSON, as ESO does."""
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _gjson_parts(path: str) -> list[str]:
    """`a.b\\.c` -> ['a', 'b.c']: gjson's dotted path, a backslash escaping the next character."""
    parts, cur, i = [], [], 0
    while i < len(path):
        c = path[i]
        if c == "\\" and i + 1 < len(path):
            cur.append(path[i + 1])
            i += 2
            continue
        if c == ".":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    parts.append("".join(cur))
    return parts


def lookup(secret: Mapping[str, Any], prop: str) -> tuple[bool, Any]:
    """ESO's property: a key of the secret named exactly so first, else a gjson path into nested maps and lists
    (`a.b.c`, `list.0.name`, `a\\.b` for a key with a dot). (found, value)."""
    if prop in secret:
        return True, secret[prop]
    cur: Any = secret
    for part in _gjson_parts(prop):
        if isinstance(cur, Mapping) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return False, None
    return True, cur


def _no_property(what: str, prop: str, field: str) -> DataError:
    hint = " (gjson wildcards, queries and modifiers are not supported)" if _GJSON_SYNTAX.search(prop) else ""
    return DataError(f"{what} has no property {prop!r}{hint}", field=field)


def _b64(value: bytes, url: bool) -> bytes:
    """Go's base64.StdEncoding / URLEncoding: padded, strict alphabet, line breaks skipped."""
    s = value.replace(b"\r", b"").replace(b"\n", b"")
    if url:
        if b"+" in s or b"/" in s:
            raise ValueError("not base64url")
        s = s.translate(bytes.maketrans(b"-_", b"+/"))
    return base64.b64decode(s, validate=True)


def decode(value: bytes, strategy: str, what: str, field: str) -> bytes:
    """`decodingStrategy`: Base64 / Base64URL must decode (else DataError naming `what`, never the value); Auto
    tries Base64, then Base64URL, then keeps the value; None keeps it."""
    if strategy == NONE:
        return value
    for url in ((False, True) if strategy == AUTO else (strategy == BASE64URL,)):
        try:
            return _b64(value, url)
        except (ValueError, binascii.Error):
            continue
    if strategy == AUTO:
        return value
    raise DataError(f"{what} is not valid {'base64url' if strategy == BASE64URL else 'base64'} "
                    f"(decodingStrategy {strategy})", field=field)


def _convert(items: dict[str, bytes], strategy: str, where: str) -> dict[str, bytes]:
    """conversionStrategy: each character a Secret key cannot hold becomes `_` (Default) or `_U<hex>_`
    (Unicode); two keys that become one are an error, as in ESO."""
    out: dict[str, bytes] = {}
    for key, value in items.items():
        new = "".join(c if ITEM_KEY.match(c) else ("_" if strategy == DEFAULT else f"_U{ord(c):04x}_") for c in key)
        if new in out:
            raise DataError(f"keys collide as {new[:64]!r} after conversionStrategy {strategy}", field=where)
        out[new] = value
    return out


def _rewrite(items: dict[str, bytes], steps: tuple[Rewrite, ...], where: str) -> dict[str, bytes]:
    """ESO's rewrite, step by step over the keys. Two keys rewritten to one are an error (ESO would keep one at
    random)."""
    for j, step in enumerate(steps):
        at = f"{where}.rewrite[{j}]"
        out: dict[str, bytes] = {}
        for key in sorted(items):
            try:
                if step.template is None:
                    assert step.source is not None
                    new = _regex_replace(step.source, key, step.target)
                else:
                    new = gotemplate.render(step.template, StrMap(value=key), name="transform").decode(
                        "utf-8", "replace")
            except GoError as e:
                raise DataError(f"regexp failed on key {key[:64]!r}: {e}", field=at) from None
            except InputError as e:
                raise DataError(f"transform failed on key {key[:64]!r}: {e.message}", field=at) from None
            if new in out:
                raise DataError(f"two keys are rewritten to {new[:64]!r}", field=at)
            out[new] = items[key]
        items = out
    return items


def _entry_items(src: DataFrom, i: int, fetched: Mapping[ReadKey, Mapping[str, Any]],
                 found: Mapping[int, Iterable[str]]) -> dict[str, bytes]:
    """The items of one dataFrom entry, as ESO: get the map, rewrite (or convert) the keys, check them, decode."""
    where = f"spec.dataFrom[{i}]"
    items: dict[str, bytes]
    if src.find is not None:  # each found secret is one item (its path -> the secret as JSON)
        items = {path: _encode(dict(fetched[k])) for path in found.get(i, ())
                 if (k := read_key(path, None, src.store)) in fetched}  # gone since the list: skipped, as ESO
        what = f"find in {src.find.path or '/'}"
    else:
        assert src.path is not None
        what = f"Vault secret {src.path}" + (" metadata" if src.metadata else "")
        secret: Mapping[str, Any] = fetched[read_key(src.path, src.version, src.store, src.metadata)]
        if src.property is not None:
            ok, sub = lookup(secret, src.property)
            if not ok:
                raise _no_property(what, src.property, f"{where}.extract.property")
            if isinstance(sub, str):
                with contextlib.suppress(ValueError):  # a string holding a JSON object, as ESO unmarshals it
                    sub = json.loads(sub)
            if not isinstance(sub, Mapping):
                raise DataError(f"property {src.property!r} of {what} is not a JSON object", field=where)
            secret = sub
        items = {str(k): _encode(v) for k, v in secret.items()}
    if src.rewrite:
        items = _rewrite(items, src.rewrite, where)
    elif src.conversion is not None:
        items = _convert(items, src.conversion, where)
    items = {k: v for k, v in items.items() if k != ""}  # ESO drops keys rewritten to nothing
    for key in items:
        if len(key) > 253 or not ITEM_KEY.match(key) or key in (".", ".."):
            if src.rewrite:
                raise DataError(f"the rewrite makes a key {key[:64]!r} that is not a valid Secret item key",
                                field=where)
            raise DataError(f"{what} has a key {key[:64]!r} that is not a valid Secret item key; read it with "
                            "data[].remoteRef.property and a secretKey, or rename it with dataFrom[].rewrite",
                            field=where)
    return {k: decode(v, src.decoding, f"item {k}", where) for k, v in items.items()}


def build_data(spec: Sources, fetched: Mapping[ReadKey, Mapping[str, Any]],
               found: Mapping[int, Iterable[str]] | None = None) -> dict[str, bytes]:
    """Secret items from what was read for `reads(spec, found)`. dataFrom first, in order, then data (data wins
    on a clash, as in ESO). Without `property` an item holds the whole secret as JSON."""
    out: dict[str, bytes] = {}
    for i, src in enumerate(spec.data_from):
        out.update(_entry_items(src, i, fetched, found or {}))
    for ref in spec.data:
        where = f"spec.data[{ref.secret_key}]"
        secret = fetched[read_key(ref.path, ref.version, ref.store, ref.metadata)]
        what = f"Vault secret {ref.path}" + (" metadata" if ref.metadata else "")
        if ref.property is None:
            value = _encode(dict(secret))
        else:
            ok, got = lookup(secret, ref.property)
            if not ok:
                raise _no_property(what, ref.property, where)
            value = _encode(got)
        out[ref.secret_key] = decode(value, ref.decoding, f"item {ref.secret_key}", where)
    return out
