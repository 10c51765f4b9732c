""".sops.yaml: finding it and choosing the creation rule for a file, the way sops 3.11 does.

Behaviour mirrored from sops (checked against the real binary, see tests/test_sops_config.py):

- Discovery walks up from the *working directory* (not the file's directory), at most 100 levels, and only a
  file named ``.sops.yaml`` counts; a ``.sops.yml`` is skipped with a warning (``ConfigLookup.ignored``).
- Rules match first-wins: a rule without ``path_regex`` (or with ``path_regex: ""``) matches everything; otherwise
  an unanchored regex search (Go ``regexp.MatchString``) on the file's absolute path with the config file's
  directory plus ``/`` cut off the front. A file outside that directory is matched by its absolute path.
- With ``key_groups`` the rule-level keys (``age``, ``hc_vault_transit_uri``, ...) are ignored. Rule-level key
  fields take a comma-separated string or a list; inside key groups they must be lists. Recipients are trimmed,
  duplicates within a key group dropped; ``merge`` sub-groups are flattened in front of the group's own keys.
- At most one of the six encryption-rule fields (suffixes, key regexes, comment regexes) per rule.
- ``mac_only_encrypted`` takes a YAML bool or Go's extra spellings (y, yes, on, n, no, off, ...).
- ``destination_rules``, ``stores`` and unknown keys are ignored.

Deliberately stricter than sops (sops reports these only when the rule is used, or not at all): every rule is
checked at load time; regexes are compiled by Python's ``re`` (RE2-only syntax such as ``\\pL`` is refused);
string fields must be YAML strings (sops takes the source text of any scalar); duplicate mapping keys are
refused (as Go's YAML does); a ``shamir_threshold`` that cannot work with the rule's key groups is refused.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from sealer.errors import (
    TOO_DEEP,
    InputError,
    flow_depth_exceeds,
    input_too_large,
    max_input_bytes,
    yaml_error_message,
)

CONFIG_NAME = ".sops.yaml"
IGNORED_NAME = ".sops.yml"
MAX_DEPTH = 100  # sops gives up after this many directories

ENCRYPTION_RULE_FIELDS = (
    "encrypted_regex",
    "unencrypted_regex",
    "encrypted_suffix",
    "unencrypted_suffix",
    "encrypted_comment_regex",
    "unencrypted_comment_regex",
)
# Master key types sops knows but sealer cannot use; recorded so the caller can refuse with a clear message.
UNSUPPORTED_KEY_TYPES = ("pgp", "kms", "gcp_kms", "azure_keyvault", "hckms")
_GO_TRUE = frozenset({"y", "Y", "yes", "Yes", "YES", "on", "On", "ON"})
_GO_FALSE = frozenset({"n", "N", "no", "No", "NO", "off", "Off", "OFF"})

KeyGroup = dict[str, list[str]]  # {"age": [recipient, ...], "hc_vault": [transit key URI, ...]}
_Fail = Callable[[str, str | None], InputError]  # (message, field below the rule) -> error to raise


class ConfigLookup:
    """Where discovery ended: the config file sops would use, and a .sops.yml it would skip with a warning.

    Immutable and hashable. A plain class, not a dataclass: dataclasses imports inspect (~13 ms of a one-file
    encrypt, which looks for a .sops.yaml every time).
    """

    __slots__ = ("ignored", "path")
    path: str | None
    ignored: str | None

    def __init__(self, path: str | None, ignored: str | None = None) -> None:
        object.__setattr__(self, "path", path)
        object.__setattr__(self, "ignored", ignored)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not ConfigLookup:
            return NotImplemented
        return (self.path, self.ignored) == (other.path, other.ignored)

    def __hash__(self) -> int:
        return hash((self.path, self.ignored))

    def __repr__(self) -> str:
        return f"ConfigLookup(path={self.path!r}, ignored={self.ignored!r})"


class CreationRule:
    """One entry of ``creation_rules``; ``index`` is its position in the file, for messages.

    Mutable (``_parse_rule`` fills it in), compared by its fields, unhashable: what ``@dataclass`` gave, without
    importing dataclasses (see ConfigLookup).
    """

    _FIELDS = ("index", "path_regex", "age", "hc_vault_transit_uri", "key_groups", "shamir_threshold",
               *ENCRYPTION_RULE_FIELDS, "mac_only_encrypted", "unsupported_keys")
    __slots__ = (*_FIELDS, "_path_re")

    def __init__(self, index: int, path_regex: str | None = None, age: list[str] | None = None,
                 hc_vault_transit_uri: list[str] | None = None, key_groups: list[KeyGroup] | None = None,
                 shamir_threshold: int | None = None, encrypted_regex: str | None = None,
                 unencrypted_regex: str | None = None, encrypted_suffix: str | None = None,
                 unencrypted_suffix: str | None = None, encrypted_comment_regex: str | None = None,
                 unencrypted_comment_regex: str | None = None, mac_only_encrypted: bool | None = None,
                 unsupported_keys: list[str] | None = None) -> None:
        self.index = index
        self.path_regex = path_regex
        self.age: list[str] = [] if age is None else age
        self.hc_vault_transit_uri: list[str] = [] if hc_vault_transit_uri is None else hc_vault_transit_uri
        self.key_groups: list[KeyGroup] = [] if key_groups is None else key_groups
        self.shamir_threshold = shamir_threshold
        self.encrypted_regex = encrypted_regex
        self.unencrypted_regex = unencrypted_regex
        self.encrypted_suffix = encrypted_suffix
        self.unencrypted_suffix = unencrypted_suffix
        self.encrypted_comment_regex = encrypted_comment_regex
        self.unencrypted_comment_regex = unencrypted_comment_regex
        self.mac_only_encrypted = mac_only_encrypted
        # Effective master keys sealer cannot use, as field paths: ["pgp"], ["key_groups[1].kms"], ...
        self.unsupported_keys: list[str] = [] if unsupported_keys is None else unsupported_keys
        # The compiled path_regex (``_parse_rule`` sets it after checking the regex); None matches everything.
        self._path_re: re.Pattern[str] | None = re.compile(path_regex) if path_regex else None

    def __eq__(self, other: object) -> bool:
        if type(other) is not CreationRule:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self._FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "CreationRule(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in self._FIELDS) + ")"

    @property
    def encryption_rule(self) -> tuple[str, str] | None:
        """The one encryption-rule field this rule sets, as (name, value), or None (sops then uses the default)."""
        for name in ENCRYPTION_RULE_FIELDS:
            value = getattr(self, name)
            if value is not None:
                return name, value
        return None

    def effective_key_groups(self) -> list[KeyGroup]:
        """The key groups sops would encrypt for: ``key_groups`` if given, else one group of the rule-level keys."""
        if self.key_groups:
            return self.key_groups
        return [{"age": list(self.age), "hc_vault": list(self.hc_vault_transit_uri)}]

    def matches(self, rule_path: str) -> bool:
        """Go regexp.MatchString semantics: unanchored search; no regex matches everything."""
        return self._path_re is None or self._path_re.search(rule_path) is not None


def lookup_config(start_dir: str) -> ConfigLookup:
    """Walk up from ``start_dir`` (sops uses the working directory) to the first ``.sops.yaml``."""
    directory = os.path.abspath(start_dir)
    ignored = None
    for _ in range(MAX_DEPTH):
        candidate = os.path.join(directory, CONFIG_NAME)
        if os.path.exists(candidate):
            return ConfigLookup(candidate, ignored)
        alternate = os.path.join(directory, IGNORED_NAME)
        if ignored is None and os.path.exists(alternate):
            ignored = alternate
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return ConfigLookup(None, ignored)


def find_config(start_dir: str) -> str | None:
    """Path of the ``.sops.yaml`` sops would use when run in ``start_dir``, or None."""
    return lookup_config(start_dir).path


def rule_path(config_path: str, file_path: str) -> str:
    """The string sops matches ``path_regex`` against.

    sops makes the file path absolute (for stdin: the ``--filename-override`` path) and cuts off the config
    file's directory plus a separator, so files below the config directory match by relative path and others by
    absolute path. Separators are reported as ``/``.
    """
    config_dir = os.path.abspath(os.path.dirname(config_path))
    absolute = os.path.abspath(file_path)
    prefix = config_dir + os.sep
    relative = absolute[len(prefix) :] if absolute.startswith(prefix) else absolute
    return relative.replace(os.sep, "/")


def match_rule(rules: list[CreationRule], config_path: str, file_path: str) -> CreationRule | None:
    """First rule matching ``file_path`` (see ``rule_path``), or None.

    For ``sops encrypt`` None is an error even when keys are given on the command line ("no matching creation
    rules found"), unless the file has no ``creation_rules`` at all; the caller makes that distinction.
    """
    path = rule_path(config_path, file_path)
    return next((rule for rule in rules if rule.matches(path)), None)


def load_config(path: str) -> list[CreationRule]:
    """Parse the ``creation_rules`` of a .sops.yaml; [] when there are none. InputError names the field."""
    import yaml  # only when a .sops.yaml exists: PyYAML costs ~15 ms of a one-file encrypt

    from sealer.io.manifests import SafeLoader  # refuses duplicate keys (as Go's YAML does), alias bombs and loops

    limit = max_input_bytes()
    try:
        with open(path, "rb") as handle:
            raw = handle.read(limit + 1)
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read config file: {getattr(exc, 'strerror', None) or exc}", source=path) from exc
    if len(raw) > limit:
        raise InputError(input_too_large(limit), source=path)
    if flow_depth_exceeds(text):
        raise InputError(TOO_DEEP, source=path)
    try:
        document = yaml.load(text, Loader=SafeLoader)  # noqa: S506 - a SafeLoader subclass
    except InputError as exc:
        raise exc.within(source=path) from None
    except yaml.YAMLError as exc:
        raise InputError(yaml_error_message(exc), source=path) from None
    except RecursionError:
        raise InputError(TOO_DEEP, source=path) from None
    except (ValueError, LookupError, TypeError, AttributeError):  # a value that does not fit its tag (`2024-02-30`)
        raise InputError("not valid YAML: a value does not fit its type (quote it)", source=path) from None
    if document is None:
        return []
    if not isinstance(document, dict):
        raise InputError("expected a mapping with creation_rules", source=path)
    raw_rules = document.get("creation_rules")
    if raw_rules is None:
        return []
    if not isinstance(raw_rules, list):
        raise InputError("expected a list of rules", source=path, field="creation_rules")
    return [_parse_rule(raw, index, path) for index, raw in enumerate(raw_rules) if raw is not None]


def _parse_rule(raw: object, index: int, source: str) -> CreationRule:
    where = f"creation_rules[{index}]"

    def fail(message: str, name: str | None = None) -> InputError:
        return InputError(message, source=source, field=f"{where}.{name}" if name else where)

    if not isinstance(raw, dict):
        raise fail("expected a mapping")
    rule = CreationRule(index=index)
    for name in ("path_regex", *ENCRYPTION_RULE_FIELDS):
        value = raw.get(name)
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise fail("expected a string (quote it)", name)
        if name.endswith("regex"):
            try:
                compiled = re.compile(value)
            except re.error as exc:
                raise fail(f"invalid regular expression: {exc}", name) from exc
            if name == "path_regex":
                rule._path_re = compiled
        setattr(rule, name, value)
    set_fields = [name for name in ENCRYPTION_RULE_FIELDS if getattr(rule, name) is not None]
    if len(set_fields) > 1:
        raise fail(f"cannot use more than one of {', '.join(ENCRYPTION_RULE_FIELDS)} (found {', '.join(set_fields)})")

    mac_only = raw.get("mac_only_encrypted")
    if mac_only is not None:
        if isinstance(mac_only, str) and mac_only in _GO_TRUE | _GO_FALSE:
            mac_only = mac_only in _GO_TRUE
        if not isinstance(mac_only, bool):
            raise fail("expected true or false", "mac_only_encrypted")
        rule.mac_only_encrypted = mac_only

    rule.age = _rule_keys(raw.get("age"), fail, "age")
    rule.hc_vault_transit_uri = _rule_keys(raw.get("hc_vault_transit_uri"), fail, "hc_vault_transit_uri")

    groups = raw.get("key_groups")
    if groups is not None and not isinstance(groups, list):
        raise fail("expected a list of key groups", "key_groups")
    for gi, group in enumerate(groups or []):
        name = f"key_groups[{gi}]"
        age, vault, unsupported = _group_keys(group, fail, name)
        rule.key_groups.append({"age": age, "hc_vault": vault})
        rule.unsupported_keys += [f"{name}.{kind}" for kind in unsupported]
    if not rule.key_groups:
        rule.unsupported_keys = [kind for kind in UNSUPPORTED_KEY_TYPES if raw.get(kind) not in (None, "", [])]

    threshold = raw.get("shamir_threshold")
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, int):
            raise fail("expected an integer", "shamir_threshold")
        if threshold < 0:
            raise fail("must not be negative", "shamir_threshold")
        count = len(rule.effective_key_groups())
        if threshold and count > 1 and not 2 <= threshold <= count:
            raise fail(f"must be between 2 and the number of key groups ({count})", "shamir_threshold")
        rule.shamir_threshold = threshold or None
    return rule


def _split_recipients(text: str, fail: _Fail, name: str) -> list[str]:
    """sops joins and re-splits keys on commas and trims each; an empty one is an error."""
    parts = [part.strip() for part in text.split(",")]
    if not all(parts):
        raise fail("empty key in comma-separated list", name)
    return parts


def _rule_keys(value: object, fail: _Fail, name: str) -> list[str]:
    """Rule-level keys: a comma-separated string (empty items skipped) or a list of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, list):
        raise fail("expected a comma-separated string or a list of strings", name)
    keys: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise fail("expected a string", f"{name}[{i}]")
        keys += _split_recipients(item, fail, f"{name}[{i}]")
    return keys


def _group_keys(group: object, fail: _Fail, name: str) -> tuple[list[str], list[str], list[str]]:
    """(age, hc_vault, unsupported types) of one key group, ``merge`` flattened first, duplicates dropped."""
    if not isinstance(group, dict):
        raise fail("expected a mapping", name)
    age: list[str] = []
    vault: list[str] = []
    unsupported: list[str] = []
    merged = group.get("merge")
    if merged is not None and not isinstance(merged, list):
        raise fail("expected a list of key groups", f"{name}.merge")
    for mi, sub in enumerate(merged or []):
        sub_age, sub_vault, sub_unsupported = _group_keys(sub, fail, f"{name}.merge[{mi}]")
        age += sub_age
        vault += sub_vault
        unsupported += sub_unsupported
    for kind, target in (("age", age), ("hc_vault", vault)):
        items = group.get(kind)
        if items is None:
            continue
        if not isinstance(items, list):
            raise fail("expected a list", f"{name}.{kind}")
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise fail("expected a string", f"{name}.{kind}[{i}]")
            if kind == "age":
                target += _split_recipients(item, fail, f"{name}.{kind}[{i}]")
            else:
                target.append(item.strip())
    for kind in UNSUPPORTED_KEY_TYPES:
        if group.get(kind) not in (None, []) and kind not in unsupported:
            unsupported.append(kind)
    return list(dict.fromkeys(age)), list(dict.fromkeys(vault)), unsupported
