"""The SopsSecret scope rule: where a SopsSecret may be decrypted, written into the document itself.

A SealedSecret carries its scope in the RSA-OAEP label. A SOPS document has no such slot, so a SopsSecret carries
`spec.binding`, an *encrypted* string value:

| scope          | binding      | may live at                         |
|----------------|--------------|-------------------------------------|
| strict         | `team-a/db`  | namespace team-a, name db only      |
| namespace-wide | `team-a/*`   | any name in namespace team-a        |
| cluster-wide   | `*`          | anywhere (by design, as in Bitnami) |

Because the value is encrypted, the AEAD binds it to its path (`spec:binding:`) and the MAC, which covers every
encrypted value even with `mac_only_encrypted`, binds it to the rest of the file: without the data key nobody can
add, change, move or remove it. A *plaintext* binding proves nothing (a mac_only_encrypted MAC does not cover it),
so the controller refuses one. The file stays a plain SOPS document: `sops decrypt` shows the binding like any
other value, and `sops edit` / `sops rotate` re-encrypt it under the stored rule, which therefore must cover it.
"""

from __future__ import annotations

import re

from sealer.errors import InputError, ScopeMismatch
from sealer.scope import Scope
from sealer.sops.tree import Rule

KEY = "binding"
PATH = ("spec", KEY)
FIELD = "spec.binding"
SECRET_REGEX = "^(data|stringData)$"  # noqa: S105 - the rule a Secret gets by default; a SopsSecret gets BOUND_REGEX
BOUND_REGEX = "^(binding|data|stringData)$"
_NAME = r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?"  # DNS-1123 (namespaces are labels, names subdomains: close enough)
_BINDING = re.compile(rf"^(?:\*|(?P<ns>{_NAME})/(?:\*|(?P<name>{_NAME})))$")


def make(scope: Scope, namespace: str | None, name: str | None) -> str:
    """The binding for a scope; InputError when the scope needs a namespace or name the Secret lacks."""
    if scope is Scope.CLUSTER_WIDE:
        return "*"
    if not namespace:
        raise InputError(f"{scope.value} scope needs metadata.namespace (or choose --scope cluster-wide)",
                         field="metadata.namespace")
    if scope is Scope.NAMESPACE_WIDE:
        return f"{namespace}/*"
    if not name:
        raise InputError("strict scope needs metadata.name", field="metadata.name")
    return f"{namespace}/{name}"


def parse(binding: object) -> tuple[Scope, str | None, str | None]:
    """(scope, namespace, name) of a decrypted binding; InputError for anything else (never echoing it)."""
    m = _BINDING.match(binding) if isinstance(binding, str) else None
    if m is None:
        raise InputError("must be NAMESPACE/NAME, NAMESPACE/* or *", field=FIELD)
    if binding == "*":
        return Scope.CLUSTER_WIDE, None, None
    if m.group("name") is None:
        return Scope.NAMESPACE_WIDE, m.group("ns"), None
    return Scope.STRICT, m.group("ns"), m.group("name")


def check(binding: object, namespace: str | None, name: str | None) -> Scope:
    """The binding's scope if it admits a SopsSecret living at namespace/name; ScopeMismatch otherwise."""
    scope, bound_ns, bound_name = parse(binding)
    if scope is Scope.CLUSTER_WIDE:
        return scope
    if bound_ns != namespace or (scope is Scope.STRICT and bound_name != name):
        raise ScopeMismatch(f"bound to {binding} ({scope.value}), but this SopsSecret is {namespace}/{name}; "
                            "it was copied or renamed: encrypt it again for this namespace and name",
                            field=FIELD)
    return scope


def covering_rule(rule: Rule) -> Rule:
    """``rule``, extended so it encrypts spec.binding (a binding left in plaintext would be worthless). Only an
    encrypted_regex can be extended; other rules that leave it in plaintext are refused."""
    if rule.encrypts(PATH):
        return rule
    if rule.encrypted_regex:
        regex = BOUND_REGEX if rule.encrypted_regex == SECRET_REGEX else f"{rule.encrypted_regex}|^{KEY}$"
        return Rule(encrypted_regex=regex, mac_only_encrypted=rule.mac_only_encrypted)
    chosen = next(f for f in Rule.FIELDS if getattr(rule, f))
    raise InputError(f"this rule ({chosen}: {getattr(rule, chosen)}) would leave {FIELD} in plaintext, where it "
                     f"binds nothing; use encrypted_regex (e.g. {BOUND_REGEX})", field=chosen)
