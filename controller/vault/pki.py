"""VaultPKISecret: a certificate issued by Vault's (OpenBao's) PKI engine into a `kubernetes.io/tls` Secret,
renewed before it expires, shaped after Vault Secrets Operator's VaultPKISecret. Pure: the spec, the issue
request, the Secret, and when to renew.

The Secret holds `tls.crt` (the certificate, then the chain Vault returned, leaf first), `tls.key` and `ca.crt`
(the issuing CA), as cert-manager writes them, so Ingress controllers and workloads take it unchanged.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.vault.fields import SpecError, mount, object_name, parse_go_duration, text
from controller.vault.store import parse_store_ref
from sealer.kube import MANAGED_BY, MANAGED_BY_LABEL

RENEW_FRACTION = 2 / 3  # without expiryOffset: renew once two thirds of the lifetime have passed (cert-manager)
_ROLE = re.compile(r"^[A-Za-z0-9][-_.A-Za-z0-9]*$")
_SANS = 100


@dataclass(frozen=True)
class PkiSpec:
    namespace: str
    name: str
    store_kind: str
    store_name: str
    mount: str
    role: str
    common_name: str
    alt_names: tuple[str, ...] = ()
    ip_sans: tuple[str, ...] = ()
    uri_sans: tuple[str, ...] = ()
    ttl: str | None = None
    exclude_cn_from_sans: bool = False
    private_key_format: str = "pkcs8"
    expiry_offset: float | None = None  # seconds before notAfter to renew; None = RENEW_FRACTION of the lifetime
    revoke: bool = False  # revoke the certificate when the VaultPKISecret is deleted (and when replaced)
    secret_name: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    rollout_restart: tuple[tuple[str, str], ...] = ()

    def issue_body(self) -> dict[str, Any]:
        """The body of `POST <mount>/issue/<role>`."""
        body: dict[str, Any] = {"common_name": self.common_name, "format": "pem",
                                "private_key_format": self.private_key_format}
        if self.alt_names:
            body["alt_names"] = ",".join(self.alt_names)
        if self.ip_sans:
            body["ip_sans"] = ",".join(self.ip_sans)
        if self.uri_sans:
            body["uri_sans"] = ",".join(self.uri_sans)
        if self.ttl:
            body["ttl"] = self.ttl
        if self.exclude_cn_from_sans:
            body["exclude_cn_from_sans"] = True
        return body


def _names(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) and x and "," not in x for x in raw):
        raise SpecError("must be a list of names (no commas)", field=where)
    if len(raw) > _SANS:
        raise SpecError(f"more than {_SANS} names", field=where)
    return tuple(raw)


def parse_pki_secret(obj: Mapping[str, Any]) -> PkiSpec:
    """A VaultPKISecret object -> PkiSpec, or SpecError naming the field."""
    from controller.vault.spec import parse_rollout_targets

    meta = obj.get("metadata") or {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        raise SpecError("is required", field="spec")
    store_kind, store_name = parse_store_ref(spec.get("storeRef"), "spec.storeRef", namespace)
    role = text(spec, "role", "spec") or ""
    if not _ROLE.match(role):
        raise SpecError("must be a PKI role name", field="spec.role")
    common_name = text(spec, "commonName", "spec") or ""
    ttl = spec.get("ttl")
    if ttl is not None:
        if parse_go_duration(str(ttl), "spec.ttl") <= 0:
            raise SpecError("must be a positive duration", field="spec.ttl")
        ttl = str(ttl)
    offset = spec.get("expiryOffset")
    expiry_offset = parse_go_duration(str(offset), "spec.expiryOffset") if offset is not None else None
    key_format = spec.get("privateKeyFormat") or "pkcs8"
    if key_format not in ("pkcs8", "der"):
        raise SpecError("must be pkcs8 (a PEM PKCS#8 key; Vault's default 'der' is written as PEM PKCS#1/SEC1)",
                        field="spec.privateKeyFormat")
    for flag in ("revoke", "excludeCNFromSans"):
        if not isinstance(spec.get(flag, False), bool):
            raise SpecError("must be true or false", field=f"spec.{flag}")
    dest = spec.get("destination") or {}
    if not isinstance(dest, Mapping):
        raise SpecError("must be an object", field="spec.destination")
    secret_name = dest.get("name") or name
    object_name(str(secret_name), "spec.destination.name")
    labels = dest.get("labels") or {}
    annotations = dest.get("annotations") or {}
    for what, m in (("labels", labels), ("annotations", annotations)):
        if not isinstance(m, Mapping) or not all(isinstance(v, str) for v in m.values()):
            raise SpecError("must be a map of strings", field=f"spec.destination.{what}")
    restarts = parse_rollout_targets(spec.get("rolloutRestartTargets"), namespace)
    return PkiSpec(namespace, name, store_kind, store_name, mount(spec.get("mount"), "spec.mount", "pki"),
                   role, common_name, _names(spec.get("altNames"), "spec.altNames"),
                   _names(spec.get("ipSans"), "spec.ipSans"), _names(spec.get("uriSans"), "spec.uriSans"), ttl,
                   bool(spec.get("excludeCNFromSans", False)), key_format, expiry_offset,
                   bool(spec.get("revoke", False)), str(secret_name), tuple(sorted(labels.items())),
                   tuple(sorted(annotations.items())), restarts)


@dataclass(frozen=True)
class Issued:
    """What Vault answered to an issue request."""

    certificate: str
    private_key: str
    issuing_ca: str
    ca_chain: tuple[str, ...]
    serial_number: str
    not_before: float
    not_after: float

    def items(self) -> dict[str, bytes]:
        chain = [c for c in self.ca_chain if c.strip() and c.strip() != self.certificate.strip()]
        crt = "\n".join([self.certificate.strip(), *(c.strip() for c in chain)]) + "\n"
        return {"tls.crt": crt.encode(), "tls.key": self.private_key.strip().encode() + b"\n",
                "ca.crt": self.issuing_ca.strip().encode() + b"\n"}


def issued(answer: Mapping[str, Any]) -> Issued:
    """Vault's `data` of an issue answer -> Issued (validity read from the certificate itself)."""
    from cryptography import x509

    cert = answer.get("certificate")
    key = answer.get("private_key")
    if not isinstance(cert, str) or not isinstance(key, str):
        raise ValueError("no certificate or private key in Vault's answer")
    parsed = x509.load_pem_x509_certificate(cert.encode())
    chain = answer.get("ca_chain") or []
    return Issued(cert, key, str(answer.get("issuing_ca") or ""), tuple(str(c) for c in chain),
                  str(answer.get("serial_number") or ""), parsed.not_valid_before_utc.timestamp(),
                  parsed.not_valid_after_utc.timestamp())


def renew_at(not_before: float, not_after: float, expiry_offset: float | None) -> float:
    """The time (epoch seconds) to issue the next certificate."""
    if expiry_offset is not None:
        return max(not_before, not_after - expiry_offset)
    return not_before + (not_after - not_before) * RENEW_FRACTION


def serial_of(secret: Mapping[str, Any]) -> tuple[str, float, float] | None:
    """(serial as Vault writes it, notBefore, notAfter) of the certificate in a Secret's tls.crt, or None."""
    from cryptography import x509

    raw = (secret.get("data") or {}).get("tls.crt")
    if not raw:
        return None
    try:
        cert = x509.load_pem_x509_certificate(base64.b64decode(raw))
    except ValueError:
        return None
    hexed = f"{cert.serial_number:x}"
    hexed = ("0" if len(hexed) % 2 else "") + hexed
    serial = ":".join(hexed[i:i + 2] for i in range(0, len(hexed), 2))
    return serial, cert.not_valid_before_utc.timestamp(), cert.not_valid_after_utc.timestamp()


def desired_secret(obj: Mapping[str, Any], spec: PkiSpec, items: Mapping[str, bytes]) -> dict[str, Any]:
    """The kubernetes.io/tls Secret, owned by the VaultPKISecret."""
    from controller.vault.spec import owner_reference

    labels = dict(spec.labels)
    labels.setdefault(MANAGED_BY_LABEL, MANAGED_BY)
    meta: dict[str, Any] = {"name": spec.secret_name, "namespace": spec.namespace, "labels": labels,
                            "ownerReferences": [owner_reference(obj)]}
    if spec.annotations:
        meta["annotations"] = dict(spec.annotations)
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "kubernetes.io/tls",
            "data": {k: base64.b64encode(v).decode() for k, v in sorted(items.items())}}
