"""A "cluster" as Bitnami Sealed Secrets leaves it, for the controller tests of the switch to sealer (issue 15):
Bitnami's key Secrets, the Secrets its controller made for `bitnami.com` SealedSecrets, and reading back the
`Synced` / `Ready` conditions sealer writes on them."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sealer_testkit.apiserver import SEALER_RESOURCES, KubeServer, Resource

from controller import keyring as kr
from sealer.sealed import keys
from tests import reference_sealed as ref
from tests.controller_process import NS

BITNAMI = ("bitnami.com/v1alpha1", "SealedSecret")
SEALER = ("sealer.dev/v1alpha1", "SealedSecret")
# what the emulator serves when Bitnami's CRD is installed beside sealer's
BITNAMI_RESOURCES = (*SEALER_RESOURCES, Resource("bitnami.com/v1alpha1", "sealedsecrets", "SealedSecret",
                                                 namespaced=True, status=True))


def b64(value: str) -> str:
    return base64.b64encode(value.encode()).decode()


def bitnami_key_secret(name: str, not_before: dt.datetime, labelled: bool = True,
                       namespace: str = NS) -> tuple[dict, str]:
    """A key Secret as Bitnami's controller writes it (PKCS#1 key, its cert), with the cert's NotBefore given;
    returns it and the key's fingerprint."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sealed-secret"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sealed-secret")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before)
            .not_valid_after(not_before + dt.timedelta(days=3650)).sign(key, hashes.SHA256()))
    meta: dict = {"name": name, "namespace": namespace}
    if labelled:
        meta["labels"] = {kr.BITNAMI_LABEL: kr.ACTIVE}
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls", "metadata": meta,
              "data": {"tls.key": base64.b64encode(keys.private_key_pem(key)).decode(),
                       "tls.crt": base64.b64encode(keys.cert_pem(cert)).decode()}}
    return secret, keys.fingerprint(key.public_key())


def bitnami_secret(owner: dict, data: dict[str, str], **meta: Any) -> dict:
    """A Secret as Bitnami's controller makes it: named after its SealedSecret, controlled by it, no sealer label."""
    m = owner["metadata"]
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": data,
            "metadata": {"name": m["name"], "namespace": m["namespace"], **meta, "ownerReferences": [
                {"apiVersion": owner["apiVersion"], "kind": "SealedSecret", "name": m["name"], "uid": m["uid"],
                 "controller": True}]}}


def conditions(kube: KubeServer, api: tuple[str, str], name: str, ns: str) -> dict[str, dict]:
    obj = kube.client.find(*api, name, ns) or {}
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions") or []}


def wait_synced(kube: KubeServer, api: tuple[str, str], name: str, ns: str, want: str) -> dict:
    """Wait until the object's `Synced` condition has status `want`; returns all its conditions by type."""
    return kube.client.wait_for(lambda: (c := conditions(kube, api, name, ns)).get("Synced", {}).get(
        "status") == want and c, timeout=30, message=f"{ns}/{name} Synced={want}")


def v1_sealed(cert_path: Path, name: str = "db", namespace: str = "app", value: bytes = b"hunter2",
              annotations: dict | None = None) -> dict:
    """A SealedSecret as Bitnami's NewSealedSecretV1 wrote it: the whole Secret as JSON (Go's field order), one
    ciphertext in spec.data, sealed by the independent reference with openssl."""
    inner = {"kind": "Secret", "apiVersion": "v1",
             "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None, "labels": {"app": "web"}},
             "data": {"password": base64.b64encode(value).decode()}, "type": "kubernetes.io/basic-auth"}
    meta = {"name": name, "namespace": namespace, **({"annotations": annotations} if annotations else {})}
    scope = ref.scope_of_manifest({"metadata": meta})
    blob = ref.encrypt_b64(json.dumps(inner).encode(), ref.label(scope, namespace, name),
                           ref.openssl_wrap(cert_path=cert_path))
    return {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": meta, "spec": {"data": blob}}
