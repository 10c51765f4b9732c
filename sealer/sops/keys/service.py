"""Who can open a file: recipients and the encryption rule from flags, environment and `.sops.yaml`, and the
dispatch that wraps or opens a data key with age or Vault Transit.

Precedence, as a sops user expects it: command-line flags, then `SOPS_AGE_RECIPIENTS`, then the first
`.sops.yaml` creation rule matching the file. For a Kubernetes Secret with no rule from anywhere, the default
is `encrypted_regex: ^(data|stringData)$`, so metadata stays readable in review.
"""

from __future__ import annotations

import os

from sealer.errors import DecryptionError, InputError
from sealer.sops.keys.groups import KeySpec
from sealer.sops.metadata import MasterKey
from sealer.sops.tree import Rule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from sealer.sops.metadata import Metadata

VAULT_ALLOW_ENV = "SEALER_VAULT_ADDRS"
SECRET_RULE = Rule(encrypted_regex="^(data|stringData)$")
RULE_FLAGS = ("encrypted_regex", "unencrypted_regex", "encrypted_suffix", "unencrypted_suffix")


class Plan:
    """Everything needed to encrypt a new file, and where each part came from (for messages)."""

    __slots__ = ("groups", "recipients_from", "rule", "threshold")

    def __init__(self, groups: list[list[KeySpec]], threshold: int | None, rule: Rule, recipients_from: str) -> None:
        self.groups = groups
        self.threshold = threshold
        self.rule = rule
        self.recipients_from = recipients_from

    def _key(self) -> tuple[object, ...]:
        return (self.groups, self.threshold, self.rule, self.recipients_from)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Plan:
            return NotImplemented
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "Plan(groups={!r}, threshold={!r}, rule={!r}, recipients_from={!r})".format(*self._key())


def plan(file_path: str, *, age: str | None = None, vault: str | None = None,
         rule_flags: Mapping[str, str | None] | None = None, mac_only_encrypted: bool = False,
         is_secret: bool = False, env: Mapping[str, str] | None = None, cwd: str | None = None) -> Plan:
    from sealer.sops import config
    from sealer.sops.keys import age as age_mod

    env = os.environ if env is None else env
    chosen_rules = {k: v for k, v in (rule_flags or {}).items() if v}
    if len(chosen_rules) > 1:
        flags = ", ".join("--" + k.replace("_", "-") for k in chosen_rules)
        raise InputError(f"choose one encryption rule, got {flags}")

    creation = None
    config_path = config.find_config(cwd or os.getcwd())
    if config_path:
        rules = config.load_config(config_path)
        creation = config.match_rule(rules, config_path, file_path) if rules else None

    groups: list[list[KeySpec]]
    threshold = None
    if age or vault:
        groups = [_specs(age, vault)]
        origin = "command-line flags"
    elif env.get(age_mod.ENV_RECIPIENTS):
        groups = [_specs(env[age_mod.ENV_RECIPIENTS], None, age_mod.ENV_RECIPIENTS)]
        origin = age_mod.ENV_RECIPIENTS
    elif creation is not None:
        if creation.unsupported_keys and not any(g.get("age") or g.get("hc_vault")
                                                 for g in creation.effective_key_groups()):
            raise InputError(f"the matching rule uses only key types sealer does not support "
                             f"({', '.join(creation.unsupported_keys)}); add age or hc_vault keys",
                             source=config_path, field=f"creation_rules[{creation.index}]")
        groups = [[*(KeySpec("age", r) for r in g.get("age", [])),
                   *(KeySpec("hc_vault", u) for u in g.get("hc_vault", []))]
                  for g in creation.effective_key_groups()]
        groups = [g for g in groups if g]
        threshold = creation.shamir_threshold
        origin = f"{config_path} creation_rules[{creation.index}]"
    else:
        hint = f" ({config_path} has no rule matching {file_path})" if config_path else ""
        raise InputError("no recipients: pass --age or --hc-vault-transit, set SOPS_AGE_RECIPIENTS, "
                         f"or add a .sops.yaml creation rule{hint}")
    for group in groups:
        for spec in group:
            if spec.type == "age":
                age_mod.parse_recipient(spec.value, origin)

    rule_source: Mapping[str, object] = chosen_rules
    if not rule_source and creation is not None and creation.encryption_rule:
        field, value = creation.encryption_rule
        if field not in Rule.FIELDS:
            raise InputError(f"{field} is not supported by sealer yet", source=config_path,
                             field=f"creation_rules[{creation.index}].{field}")
        rule_source = {field: value}
    mac_only = mac_only_encrypted or bool(creation is not None and creation.mac_only_encrypted)
    if rule_source:
        rule = Rule(**rule_source, mac_only_encrypted=mac_only)  # type: ignore[arg-type]
    elif is_secret:
        rule = Rule(encrypted_regex=SECRET_RULE.encrypted_regex, mac_only_encrypted=mac_only)
    else:
        rule = Rule.default(mac_only)
    return Plan(groups, threshold, rule, origin)


def _specs(age: str | None, vault: str | None, source: str = "--age") -> list[KeySpec]:
    specs = [KeySpec("age", r) for r in (age or "").split(",") if r.strip()]
    specs += [KeySpec("hc_vault", u.strip()) for u in (vault or "").split(",") if u.strip()]
    if not specs:
        raise InputError("empty recipient list", field=source)
    return specs


def recipients_of(metadata: Metadata) -> tuple[list[list[KeySpec]], int | None]:
    """The recipients a file is currently encrypted for, as specs (for rotate)."""
    groups: list[list[KeySpec]] = []
    for group in metadata.key_groups:
        specs = []
        for key in group:
            if key.type == "age":
                specs.append(KeySpec("age", str(key.fields.get("recipient", ""))))
            elif key.type == "hc_vault":
                specs.append(KeySpec("hc_vault", key.name))
            else:
                raise InputError(f"the file has a {key.type} master key, which sealer cannot re-wrap; "
                                 "rotate it with sops", field="sops")
        groups.append(specs)
    return groups, metadata.shamir_threshold


def wrap_key(secret: bytes, spec: KeySpec) -> MasterKey:
    if spec.type == "age":
        from sealer.sops.keys import age

        recipient = age.parse_recipient(spec.value)
        return MasterKey("age", {"recipient": recipient.text, "enc": age.wrap(secret, recipient)})
    if spec.type == "hc_vault":
        from sealer.sops.keys import vault

        return MasterKey("hc_vault", dict(vault.wrap(secret, spec.value)))
    raise InputError(f"unsupported key type {spec.type}")


class Opener:
    """Opens master keys with the identities at hand; loads them once, on first need."""

    def __init__(self, env: Mapping[str, str] | None = None, age_key_file: str | None = None,
                 identities: list | None = None, vault_needs_allowlist: bool = False) -> None:
        """``identities`` given (the controller's, from Secrets) replaces every file and env var source.
        ``vault_needs_allowlist``: with neither VAULT_ADDR nor SEALER_VAULT_ADDRS set, use no Transit key at all
        (the controller: whoever may create a SopsSecret chooses the server its token would go to)."""
        self.env = os.environ if env is None else env
        self.age_key_file = age_key_file
        self.vault_needs_allowlist = vault_needs_allowlist
        self._identities: list | None = identities
        self._where: list[str] = []
        self._empty_named: list[str] = []

    def identities(self) -> list:
        if self._identities is None:
            from sealer.sops.keys import age

            found = age.load_identities(self.env, self.age_key_file)
            self._identities = list(found)
            self._where = list(getattr(found, "empty_locations", []))
            self._empty_named = list(getattr(found, "empty_named", []))
        return self._identities

    def __call__(self, key: MasterKey) -> bytes | None:
        if key.type == "age":
            from sealer.sops.keys import age

            identities = self.identities()
            if not identities:
                empty = self._empty_named
                held = f" ({', '.join(empty)} {'holds' if len(empty) == 1 else 'hold'} none)" if empty else ""
                raise DecryptionError(f"no age identities found{held}: set SOPS_AGE_KEY_FILE or SOPS_AGE_KEY, pass "
                                      "--age-key-file, or put keys in ~/.config/sops/age/keys.txt")
            try:
                return age.unwrap(key.enc, identities)
            except DecryptionError:
                return None
        if key.type == "hc_vault":
            from sealer.sops.keys import vault

            self.check_vault_address(str(key.fields.get("vault_address", "")))
            return vault.unwrap(key.fields, self.env)
        return None

    def check_vault_address(self, address: str) -> None:
        """The file names the server our Vault token is sent to; a hostile commit could name its own. Send it
        only to VAULT_ADDR or an address listed in SEALER_VAULT_ADDRS (when either is set)."""
        allowed = {a.strip().rstrip("/") for a in
                   (self.env.get("VAULT_ADDR", ""), *self.env.get(VAULT_ALLOW_ENV, "").split(",")) if a.strip()}
        if not allowed and self.vault_needs_allowlist:
            raise InputError("the file names a Vault Transit key but no Vault configured here (set VAULT_ADDR and "
                             f"VAULT_TOKEN, or {VAULT_ALLOW_ENV})", field="sops.hc_vault")
        if allowed and address.rstrip("/") not in allowed:
            raise InputError(f"the file's Vault address {address} is not VAULT_ADDR; not sending the token there "
                             f"(add it to {VAULT_ALLOW_ENV} to allow)", field="sops.hc_vault")
