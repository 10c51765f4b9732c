"""Which objects this controller serves: `--namespaces` and `--label-selector`, as pure functions.

`--namespaces a,b` restricts the controller to those namespaces: kopf watches only them (plus the controller's own
namespace, where its sealing keys and age identities live), and nothing is reconciled or written elsewhere.
`--label-selector` takes the Kubernetes label selector syntax (`team=payments,env!=dev`, `tier in (a,b)`,
`tier notin (c)`, `key`, `!key`) and applies to SealedSecrets, SopsSecrets and VaultSecrets, with the meaning the
API server gives it. Both are applied by the handlers' `when=` filter (`Served.serves`): kopf is blind to an object
its filters reject, so it reconciles nothing and writes nothing to it (no status, Event, finalizer or annotation).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # an RFC 1123 label, as Namespace names are
_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")  # a label name, or a label value
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")  # a key's prefix
_SET = re.compile(r"^(\S+)\s+(in|notin)\s*\((.*)\)$", re.DOTALL)
_EQUALITY = re.compile(r"^([^=!\s]+)\s*(==|!=|=)\s*(\S*)$")
_EXISTS = re.compile(r"^(!?)\s*([^=!\s()<>]+)$")


class ServedError(ValueError):
    """A bad --namespaces or --label-selector value; the message is one line naming the flag."""


def parse_namespaces(text: str, flag: str = "--namespaces") -> tuple[str, ...]:
    """`a,b` -> ("a", "b"): exact namespace names (no patterns), whitespace around them ignored, duplicates
    dropped, order kept. An empty list is an error: omit the flag to serve every namespace."""
    names = [raw.strip() for raw in text.split(",")]
    if not any(names):
        raise ServedError(f"{flag}: no namespace given (omit the flag to serve every namespace)")
    if not all(names):
        raise ServedError(f"{flag}: an empty name in {text!r} (write a,b)")
    for name in names:
        if len(name) > 63 or not _NAMESPACE.match(name):
            raise ServedError(f"{flag}: {name!r} is not a namespace name (lowercase letters, digits and '-', "
                             "at most 63 characters; patterns are not supported)")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Requirement:
    """One term of a label selector. `op` is one of =, !=, in, notin, exists, !exists (`==` is read as `=`)."""

    key: str
    op: str
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        return present if self.op == "exists" else not present

    def __str__(self) -> str:
        if self.op == "exists":
            return self.key
        if self.op == "!exists":
            return f"!{self.key}"
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op} ({','.join(self.values)})"
        return f"{self.key}{self.op}{self.values[0]}"


@dataclass(frozen=True)
class Selector:
    """A parsed label selector: every requirement must hold. `str()` is the canonical form sent to the API."""

    requirements: tuple[Requirement, ...]

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def _split_terms(text: str) -> list[str]:
    """Split on the commas outside `in (a,b)` parentheses."""
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
            if depth > 1:
                raise ServedError("nested '('")
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise ServedError("')' without '('")
        elif ch == "," and depth == 0:
            terms.append(text[start:i])
            start = i + 1
    if depth:
        raise ServedError("'(' without ')'")
    terms.append(text[start:])
    return terms


def _key(key: str) -> str:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _SUBDOMAIN.match(prefix)):
        raise ServedError(f"label key {key!r}: the prefix must be a DNS subdomain (example.com/name)")
    if not name or len(name) > 63 or not _NAME.match(name):
        raise ServedError(f"label key {key!r}: the name must be 1-63 letters, digits, '-', '_' or '.', starting and "
                         "ending with a letter or digit")
    return key


def _value(value: str, key: str) -> str:
    if value and (len(value) > 63 or not _NAME.match(value)):
        raise ServedError(f"label value {value!r} (key {key}): at most 63 letters, digits, '-', '_' or '.', starting "
                         "and ending with a letter or digit")
    return value


def _requirement(term: str) -> Requirement:
    if any(c in term for c in "<>"):
        raise ServedError(f"{term!r}: the operators < and > are not supported (use =, ==, !=, in, notin, key, !key)")
    if m := _SET.match(term):
        key, op, inner = _key(m.group(1)), m.group(2), m.group(3)
        values = [v.strip() for v in inner.split(",")]
        if not inner.strip() or any(not v for v in values):
            raise ServedError(f"{term!r}: '{op}' needs a list of values, e.g. {key} {op} (a,b)")
        return Requirement(key, op, tuple(sorted({_value(v, key) for v in values})))
    if m := _EQUALITY.match(term):
        key, op, value = _key(m.group(1)), m.group(2), m.group(3)
        return Requirement(key, "=" if op == "==" else op, (_value(value, key),))
    if m := _EXISTS.match(term):
        return Requirement(_key(m.group(2)), "!exists" if m.group(1) else "exists")
    raise ServedError(f"{term!r}: expected key=value, key!=value, key in (a,b), key notin (a,b), key or !key")


def parse_selector(text: str, flag: str = "--label-selector") -> Selector:
    """Parse a Kubernetes label selector; ServedError (one line, naming the flag) when the API server would refuse
    it or when it is empty (omit the flag to serve every object)."""
    if not text.strip():
        raise ServedError(f"{flag}: empty selector (omit the flag to serve every object)")
    try:
        terms = _split_terms(text)
        if any(not t.strip() for t in terms):
            raise ServedError("an empty requirement (a stray ',')")
        return Selector(tuple(_requirement(t.strip()) for t in terms))
    except ServedError as e:
        raise ServedError(f"{flag} {text!r}: {e}") from None


@dataclass(frozen=True)
class Served:
    """What one controller serves. `namespaces` empty: every namespace; `selector` None: every object."""

    own_namespace: str
    namespaces: tuple[str, ...] = ()
    selector: Selector | None = None

    @classmethod
    def of(cls, config: Any) -> Served:
        """From a config.Config (its `namespace`, `namespaces` and `label_selector`)."""
        return cls(config.namespace, tuple(config.namespaces),
                   parse_selector(config.label_selector) if config.label_selector else None)

    def serves_namespace(self, namespace: str | None) -> bool:
        """Objects (and produced Secrets) in this namespace are reconciled. None: a cluster-scoped object."""
        return namespace is None or not self.namespaces or namespace in self.namespaces

    def serves(self, namespace: str | None, labels: Mapping[str, str] | None) -> bool:
        """A SealedSecret, SopsSecret or VaultSecret is reconciled: its namespace is served and its labels match."""
        return self.serves_namespace(namespace) and (self.selector is None or self.selector.matches(labels))

    def watched_namespaces(self) -> list[str] | None:
        """kopf's `namespaces=` (served ones, then the controller's own for its keys); None: cluster-wide."""
        if not self.namespaces:
            return None
        return [*self.namespaces, *([] if self.own_namespace in self.namespaces else [self.own_namespace])]

    def describe(self) -> str:
        where = f"namespaces {','.join(self.namespaces)}" if self.namespaces else "all namespaces"
        return where + (f", labels {self.selector}" if self.selector is not None else "")
