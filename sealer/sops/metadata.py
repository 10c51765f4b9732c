"""The `sops:` metadata block: key groups (wrapped data key or Shamir shares), the rule, lastmodified, the MAC.

Written in the field order sops' own struct uses, so files sealer writes diff cleanly against files sops
writes. Master key types sealer cannot use (pgp, kms, gcp_kms, azure_kv) are kept as they are, so a file
shared with people who use them survives our edits.
"""

from __future__ import annotations

from sealer.errors import InputError
from sealer.sops.tree import Rule

TYPE_CHECKING = False
if TYPE_CHECKING:
    import datetime as dt
    from typing import Any

KEY_TYPES = ("kms", "gcp_kms", "azure_kv", "hc_vault", "age", "pgp")
SUPPORTED_KEY_TYPES = ("age", "hc_vault")
FORMAT_VERSION = "3.11.0"  # the sops release whose format we write and test against


def now_lastmodified(now: dt.datetime | None = None) -> str:
    if now is None:  # time, not datetime: importing datetime costs ~3 ms of a one-file encrypt
        import time

        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    import datetime as dt

    return now.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class MasterKey:
    """One wrapped copy of the data key (or of one Shamir share): its type and sops' fields for it."""

    __slots__ = ("fields", "type")

    def __init__(self, type: str, fields: dict[str, Any]) -> None:
        self.type = type
        self.fields = fields

    def __eq__(self, other: object) -> bool:
        if type(other) is not MasterKey:
            return NotImplemented
        return (self.type, self.fields) == (other.type, other.fields)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"MasterKey(type={self.type!r}, fields={self.fields!r})"

    @property
    def enc(self) -> str:
        return str(self.fields.get("enc") or "")

    @property
    def name(self) -> str:
        """Who can open it, for messages and matching: the age recipient, the Vault key URI, the PGP fp."""
        f = self.fields
        if self.type == "age":
            return str(f.get("recipient", ""))
        if self.type == "hc_vault":
            return f"{f.get('vault_address', '')}/v1/{f.get('engine_path', '')}/keys/{f.get('key_name', '')}"
        return str(f.get("fp") or f.get("arn") or f.get("resource_id") or f.get("vault_url") or self.type)


class Metadata:
    __slots__ = ("extra", "key_groups", "lastmodified", "mac", "rule", "shamir_threshold", "version")

    def __init__(self, key_groups: list[list[MasterKey]], rule: Rule, lastmodified: str = "", mac: str = "",
                 shamir_threshold: int | None = None, version: str = FORMAT_VERSION,
                 extra: dict[str, Any] | None = None) -> None:
        self.key_groups = key_groups
        self.rule = rule
        self.lastmodified = lastmodified
        self.mac = mac
        self.shamir_threshold = shamir_threshold
        self.version = version
        self.extra = {} if extra is None else extra

    def _key(self) -> tuple[object, ...]:
        return (self.key_groups, self.rule, self.lastmodified, self.mac, self.shamir_threshold, self.version,
                self.extra)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Metadata:
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return ("Metadata(key_groups={!r}, rule={!r}, lastmodified={!r}, mac={!r}, shamir_threshold={!r}, "
                "version={!r}, extra={!r})").format(*self._key())

    def to_data(self, fmt: str = "yaml") -> dict[str, Any]:
        """Plain data in sops' field order, ready for the store of ``fmt`` to write. Each key group carries
        `hc_vault` and `age` even when empty, as sops writes them (`[]` in YAML, null in JSON; the flat stores
        drop them); the binary store has no encryption rule (sops ignores one there)."""
        out: dict[str, Any] = {}
        if len(self.key_groups) > 1:
            out["shamir_threshold"] = self.shamir_threshold or len(self.key_groups)
            empty = None if fmt in ("json", "binary") else []
            out["key_groups"] = [_group_data(g, always={"hc_vault": empty, "age": empty}) for g in self.key_groups]
        pgp = None
        if len(self.key_groups) <= 1:
            group = _group_data(self.key_groups[0] if self.key_groups else [])
            pgp = group.pop("pgp", None)  # sops writes pgp after the MAC
            out.update(group)
        out["lastmodified"] = self.lastmodified
        out["mac"] = self.mac
        if pgp:
            out["pgp"] = pgp
        if fmt != "binary":
            out.update(self.rule.as_metadata())
        elif self.rule.mac_only_encrypted:
            out["mac_only_encrypted"] = True
        out.update(self.extra)
        out["version"] = self.version
        return out


GROUP_ORDER = ("pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "age")  # sops' keygroup struct


def _group_data(group: list[MasterKey], always: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for t in (GROUP_ORDER if always is not None else KEY_TYPES):
        entries = [dict(k.fields) for k in group if k.type == t]
        if entries:
            out[t] = entries
        elif always is not None and t in always:
            out[t] = always[t]
    return out


def _group(data: Any, source: str, where: str) -> list[MasterKey]:
    if not isinstance(data, dict):
        raise InputError("must be a mapping", source=source, field=where)
    keys: list[MasterKey] = []
    for t, entries in data.items():
        if t not in KEY_TYPES or entries is None:  # sops writes `"hc_vault": null` in JSON key groups
            continue
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise InputError("must be a list of mappings", source=source, field=f"{where}.{t}")
        keys.extend(MasterKey(t, dict(e)) for e in entries)
    return keys


def parse(data: Any, source: str) -> Metadata:
    """Metadata from the plain data of a `sops:` block; InputError naming the field when it is malformed."""
    if not isinstance(data, dict):
        raise InputError("must be a mapping", source=source, field="sops")
    for required in ("lastmodified", "mac"):
        if not isinstance(data.get(required), str) or not data.get(required):
            raise InputError("missing", source=source, field=f"sops.{required}")
    if data.get("key_groups"):
        groups_data = data["key_groups"]
        if not isinstance(groups_data, list):
            raise InputError("must be a list", source=source, field="sops.key_groups")
        groups = [_group(g, source, f"sops.key_groups[{i}]") for i, g in enumerate(groups_data)]
    else:
        groups = [_group({t: data[t] for t in KEY_TYPES if data.get(t)}, source, "sops")]
    if not any(groups):
        raise InputError("no master keys: the data key is not wrapped for anyone", source=source, field="sops")
    threshold = data.get("shamir_threshold")
    if isinstance(threshold, float) and threshold.is_integer():
        threshold = int(threshold)  # a JSON number
    # sops writes a threshold even for a single group (where it means nothing); only check it where it matters
    bad_range = isinstance(threshold, int) and len(groups) > 1 and not 1 <= threshold <= len(groups)
    if threshold is not None and (not isinstance(threshold, int) or bad_range):
        raise InputError("must be a whole number no larger than the number of key groups", source=source,
                         field="sops.shamir_threshold")
    try:
        rule = Rule(**{f: data.get(f) for f in Rule.FIELDS}, mac_only_encrypted=bool(data.get("mac_only_encrypted")))
    except InputError as e:
        raise e.within(source=source, context="sops") from None
    known = {"key_groups", "shamir_threshold", "lastmodified", "mac", "version", "mac_only_encrypted",
             *KEY_TYPES, *Rule.FIELDS}
    extra = {k: v for k, v in data.items() if k not in known}
    return Metadata(groups, rule, data["lastmodified"], data["mac"], threshold if len(groups) > 1 else None,
                    str(data.get("version") or FORMAT_VERSION), extra)
