"""VaultPKISecret end to end: OpenBao's PKI engine, the API emulator and the controller process. Issue, renewal
with rollout restart, no re-issue on a controller restart, drift (a deleted Secret gets a new certificate), revoke
on deletion, a store of another namespace refused, and the echo of our own write not taken for drift. Spec parsing
and the renewal rule as pure functions."""

from __future__ import annotations

import base64
import secrets
from pathlib import Path
from typing import Any

import pytest
from sealer_testkit.apiserver import KubeServer

from controller.config import Config
from controller.kube import Kube
from controller.runtime import Controller
from controller.vault import pki
from controller.vault.fields import SpecError
from controller.vault.pkisync import PkiSync
from controller.vault.sync import VaultSync
from tests.controller_process import NS
from tests.openbao import Bao
from tests.vault_resources import STORE, scrape, start_vault_controller, store, token_auth, token_secret, wait_cond

PKI = ("sealer.dev/v1alpha1", "VaultPKISecret")


def pki_secret(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": PKI[0], "kind": PKI[1], "metadata": {"name": name, "namespace": namespace},
            "spec": {"storeRef": {"name": "vault"}, **spec}}


def test_spec_and_renewal_rule() -> None:
    spec = pki.parse_pki_secret(pki_secret("web", "app", mount="pki-x", role="web", commonName="a.example",
                                           altNames=["b.example"], ipSans=["10.0.0.1"], ttl="2h",
                                           expiryOffset="30m"))
    assert spec.issue_body() == {"common_name": "a.example", "format": "pem", "private_key_format": "pkcs8",
                                 "alt_names": "b.example", "ip_sans": "10.0.0.1", "ttl": "2h"}
    assert (spec.mount, spec.secret_name, spec.expiry_offset) == ("pki-x", "web", 1800.0)
    assert pki.renew_at(0, 7200, 1800.0) == 5400
    assert pki.renew_at(0, 3000, None) == 2000  # two thirds of the lifetime
    assert pki.renew_at(100, 200, 1000.0) == 100  # an offset longer than the lifetime: at once
    for bad, field in (({"role": "../sys"}, "spec.role"), ({"ttl": "-1h"}, "spec.ttl"),
                       ({"altNames": ["a,b"]}, "spec.altNames"), ({"privateKeyFormat": "pem"},
                                                                   "spec.privateKeyFormat"),
                       ({"storeRef": {"name": "vault", "namespace": "other"}}, "spec.storeRef.namespace"),
                       ({"destination": {"name": "../x"}}, "spec.destination.name"),
                       ({"rolloutRestartTargets": [{"kind": "Deployment", "name": "w", "namespace": "other"}]},
                        "spec.rolloutRestartTargets[0].namespace")):
        with pytest.raises(SpecError) as e:
            pki.parse_pki_secret(pki_secret("web", "app", **{"role": "web", "commonName": "a.example", **bad}))
        assert e.value.field == field


def _pki_engine(bao: Bao) -> tuple[str, str]:
    mount = f"pki-{secrets.token_hex(3)}"
    bao.api("POST", f"sys/mounts/{mount}", {"type": "pki", "config": {"max_lease_ttl": "87600h"}})
    bao.api("POST", f"{mount}/root/generate/internal", {"common_name": "sealer test root", "ttl": "8760h"})
    bao.api("POST", f"{mount}/roles/web", {"allowed_domains": "example.com", "allow_subdomains": True,
                                           "allow_ip_sans": True, "max_ttl": "72h"})
    bao.write_policy(f"{mount}-issue", f'path "{mount}/issue/web" {{ capabilities = ["update"] }}\n'
                                       f'path "{mount}/revoke" {{ capabilities = ["update"] }}')
    return mount, bao.create_token(f"{mount}-issue")


def _tls(kube: KubeServer, name: str, namespace: str = "app") -> dict[str, bytes]:
    found = kube.client.find("v1", "Secret", name, namespace) or {}
    return {k: base64.b64decode(v) for k, v in (found.get("data") or {}).items()}


def _status(kube: KubeServer, name: str) -> dict[str, Any]:
    return (kube.client.find(*PKI, name, "app") or {}).get("status") or {}


def test_issue_renew_restart_drift_revoke(kube: KubeServer, openbao: Bao, tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    mount, token = _pki_engine(openbao)
    proc, _ = start_vault_controller(kube, tmp_path)
    client = kube.client
    token_secret(kube, "app", token)
    client.create(store(openbao, "vault", "app", token_auth()))
    client.create({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "app"},
                   "spec": {"selector": {"matchLabels": {"app": "web"}},
                            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": []}}}})
    # short-lived: Vault back-dates notBefore by 30 s, so 45 s of ttl with a 30 s offset renews ~15 s after issue
    client.create(pki_secret("short", "app", mount=mount, role="web", commonName="short.example.com",
                             altNames=["alt.example.com"], ipSans=["10.1.2.3"], ttl="45s", expiryOffset="30s",
                             rolloutRestartTargets=[{"kind": "Deployment", "name": "web"}]))
    client.create(pki_secret("long", "app", mount=mount, role="web", commonName="long.example.com", ttl="1h",
                             revoke=True, destination={"name": "long-tls", "labels": {"tier": "edge"}}))

    wait_cond(kube, "short", "app", "True", "Issued", kind=PKI)
    items = _tls(kube, "short")
    assert set(items) == {"tls.crt", "tls.key", "ca.crt"}
    secret = client.get("v1", "Secret", "short", "app")
    assert secret["type"] == "kubernetes.io/tls"
    cert = x509.load_pem_x509_certificate(items["tls.crt"])
    key = serialization.load_pem_private_key(items["tls.key"], None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    assert items["tls.key"].startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"short.example.com", "alt.example.com"} <= set(sans.get_values_for_type(x509.DNSName))
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]
    ca = x509.load_pem_x509_certificate(items["ca.crt"])
    assert cert.issuer == ca.subject and len(x509.load_pem_x509_certificates(items["tls.crt"])) >= 1
    first = _status(kube, "short")["serialNumber"]
    assert first == pki.serial_of(secret)[0]  # type: ignore[index]
    deployment = client.get("apps/v1", "Deployment", "web", "app")
    assert "sealer.dev/restartedAt" not in (deployment["spec"]["template"]["metadata"].get("annotations") or {})

    # renewal: a new certificate before the old one expires, and the Deployment restarts
    client.wait_for(lambda: _status(kube, "short").get("serialNumber") not in (None, first), timeout=60,
                    message="no renewal")
    wait_cond(kube, "short", "app", "True", kind=PKI)
    assert pki.serial_of(client.get("v1", "Secret", "short", "app"))[0] != first  # type: ignore[index]
    client.wait_for(lambda: "sealer.dev/restartedAt" in (client.get("apps/v1", "Deployment", "web", "app")["spec"][
        "template"]["metadata"].get("annotations") or {}), timeout=20, message="no rollout restart")

    # a restart of the controller issues nothing while the certificate is valid
    wait_cond(kube, "long", "app", "True", "Issued", kind=PKI)
    long_serial = _status(kube, "long")["serialNumber"]
    long_issued = _status(kube, "long")["lastIssued"]
    assert client.get("v1", "Secret", "long-tls", "app")["metadata"]["labels"]["tier"] == "edge"
    proc.stop()
    proc, _ = start_vault_controller(kube, tmp_path, log_name="controller2.log")
    wait_cond(kube, "long", "app", "True", "Valid", kind=PKI)
    assert (_status(kube, "long")["serialNumber"], _status(kube, "long")["lastIssued"]) == (long_serial, long_issued)

    # drift: the Secret deleted by hand gets a new certificate, and the status names it (what a revoke revokes)
    client.delete("v1", "Secret", "long-tls", "app")
    client.wait_for(lambda: (s := client.find("v1", "Secret", "long-tls", "app")) is not None
                    and pki.serial_of(s)[0] != long_serial, timeout=30, message="Secret not restored")  # type: ignore[index]
    wait_cond(kube, "long", "app", "True", kind=PKI)
    newest = pki.serial_of(client.get("v1", "Secret", "long-tls", "app"))[0]  # type: ignore[index]
    client.wait_for(lambda: _status(kube, "long")["serialNumber"] == newest, timeout=15,
                    message="the status does not name the restored certificate")

    # deletion with revoke: true revokes the certificate in Vault before the object goes
    client.delete(*PKI, "long", "app")
    client.wait_for(lambda: client.find(*PKI, "long", "app") is None, timeout=30, message="not deleted")
    revoked = openbao.api("GET", f"{mount}/cert/{newest}")["data"]
    assert revoked.get("revocation_time", 0) > 0

    # a VaultStore of another namespace cannot be named
    client.create(pki_secret("sneaky", "web", mount=mount, role="web", commonName="x.example.com"))
    wait_cond(kube, "sneaky", "web", "False", "StoreNotFound", kind=PKI)
    assert client.find("v1", "Secret", "sneaky", "web") is None
    proc.stop()
    log = proc.log_text() + (tmp_path / "controller.log").read_text()
    for value in (token, items["tls.key"].decode().splitlines()[1]):
        assert value not in log


def test_a_spec_change_issues_at_once_and_a_force_sync_keeps_a_valid_certificate(kube: KubeServer, openbao: Bao,
                                                                                  tmp_path: Path) -> None:
    """On the scheduler (a record per object, no daemon): a spec change issues a certificate for the new spec at
    once, hours before renewal; a new `sealer.dev/force-sync` value syncs at once and keeps the valid certificate."""
    from cryptography import x509

    mount, token = _pki_engine(openbao)
    proc, port = start_vault_controller(kube, tmp_path)
    client = kube.client
    token_secret(kube, "app", token)
    client.create(store(openbao, "vault", "app", token_auth()))
    client.create(pki_secret("svc", "app", mount=mount, role="web", commonName="one.example.com", ttl="2h"))
    wait_cond(kube, "svc", "app", "True", "Issued", kind=PKI)
    first = _status(kube, "svc")["serialNumber"]

    def names() -> set[str]:
        cert = x509.load_pem_x509_certificate(_tls(kube, "svc")["tls.crt"])
        return set(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
                   .get_values_for_type(x509.DNSName))

    client.patch(*PKI, "svc", {"spec": {"altNames": ["two.example.com"]}}, "app")
    client.wait_for(lambda: "two.example.com" in names(), timeout=15, message="no certificate for the new spec")
    second = _status(kube, "svc")["serialNumber"]
    assert second != first
    count = 'sealer_reconcile_duration_seconds_count{kind="VaultPKISecret"}'
    syncs = scrape(port)[count]
    client.patch(*PKI, "svc", {"metadata": {"annotations": {"sealer.dev/force-sync": "1"}}}, "app")
    client.wait_for(lambda: scrape(port)[count] > syncs, timeout=15, message="force-sync did not sync")
    assert _status(kube, "svc")["serialNumber"] == second and "two.example.com" in names()
    proc.stop()
    assert "Traceback" not in proc.log_text()


def test_the_echo_of_an_issue_is_not_drift(kube: KubeServer, openbao: Bao) -> None:
    """The produced-Secret watch brings our own write back before the status naming the new certificate is written:
    the drift check then sees the object as it was (here: no status yet). It must find the Secret holds what was
    just issued, not issue again (a second certificate and rollout restart on every renewal that lost the race)."""
    mount, token = _pki_engine(openbao)
    controller = Controller(Config(namespace=NS, key_bits=2048))
    controller._kube = Kube(str(kube.kubeconfig))
    vault = VaultSync(controller)
    certs = PkiSync(vault)
    woken: list[str | None] = []
    certs.wake = woken.append  # type: ignore[method-assign]  # the scheduler's door, recorded
    token_secret(kube, "app", token)
    vault.store_event("ADDED", kube.client.create(store(openbao, "vault", "app", token_auth())))
    body = kube.client.create(pki_secret("echo", "app", mount=mount, role="web", commonName="echo.example.com",
                                         ttl="2h"))
    try:
        issued = certs.sync(body)
        assert issued.result.reason == "Issued", issued.result
        serial = issued.status["serialNumber"]
        assert certs.reconcile(body).changed is False and woken == []  # as it was read before the status write
        assert pki.serial_of(kube.client.get("v1", "Secret", "echo", "app"))[0] == serial  # type: ignore[index]
        kept = certs.sync(body)  # the scheduler's next sync, its status write lost: kept, and the status put right
        assert kept.result.reason == "Valid" and kept.status["serialNumber"] == serial
        kube.client.patch("v1", "Secret", "echo", {"data": {"tls.key": base64.b64encode(b"edited").decode()}}, "app")
        assert certs.reconcile(body).changed is False and woken == [body["metadata"]["uid"]]  # a real drift: woken
    finally:
        vault.shutdown()
        controller.stop()


def test_a_certificate_issued_while_its_object_is_deleted_is_revoked_too(kube: KubeServer, openbao: Bao,
                                                                          tmp_path: Path) -> None:
    """Deleted while its first issue waits for the store's rate (one request per 5 s): the revocation waits for that
    issue and revokes the certificate it made, which the status names only after the deletion began."""
    mount, token = _pki_engine(openbao)
    client = kube.client
    token_secret(kube, "app", token)
    client.create(store(openbao, "vault", "app", token_auth(), requestsPerSecond=0.2))
    proc, _ = start_vault_controller(kube, tmp_path)
    wait_cond(kube, "vault", "app", "True", kind=STORE)  # its check took the rate
    client.create(pki_secret("late", "app", mount=mount, role="web", commonName="late.example.com", ttl="1h",
                             revoke=True))
    client.wait_for(lambda: "sealer.dev/finalizer" in (client.get(*PKI, "late", "app")["metadata"].get("finalizers")
                                                       or []), timeout=15, message="no finalizer")
    client.delete(*PKI, "late", "app")
    assert client.find("v1", "Secret", "late", "app") is None, "the issue was not in flight: the test proves nothing"
    client.wait_for(lambda: client.find(*PKI, "late", "app") is None, timeout=30, message="not deleted")
    issued = openbao.api("LIST", f"{mount}/certs")["data"]["keys"]
    ca = openbao.api("GET", f"{mount}/cert/ca")["data"]["certificate"]
    leaves = [s for s in issued if openbao.api("GET", f"{mount}/cert/{s}")["data"]["certificate"] != ca]
    assert len(leaves) == 1  # issued once
    assert openbao.api("GET", f"{mount}/cert/{leaves[0]}")["data"].get("revocation_time", 0) > 0
    proc.stop()
    assert "revocation done, finalizer removed" in proc.log_text()


def test_a_revocation_whose_store_is_gone_is_skipped_at_once_with_a_warning(kube: KubeServer, openbao: Bao,
                                                                             tmp_path: Path) -> None:
    """A namespace's deletion takes its VaultStore with its VaultPKISecrets: no retry brings the store back, so the
    revocation is skipped at once (not tried 5 times) and a Warning says which certificate stays valid."""
    mount, token = _pki_engine(openbao)
    client = kube.client
    token_secret(kube, "app", token)
    client.create(store(openbao, "vault", "app", token_auth()))
    proc, _ = start_vault_controller(kube, tmp_path)
    client.create(pki_secret("orphan", "app", mount=mount, role="web", commonName="orphan.example.com", ttl="1h",
                             revoke=True))
    wait_cond(kube, "orphan", "app", "True", "Issued", kind=PKI)
    serial = _status(kube, "orphan")["serialNumber"]
    client.delete(*STORE, "vault", "app")
    client.delete(*PKI, "orphan", "app")
    client.wait_for(lambda: client.find(*PKI, "orphan", "app") is None, timeout=15, message="not deleted")
    warning = [e for e in client.events("app", name="orphan", kind="VaultPKISecret") if e["type"] == "Warning"]
    assert len(warning) == 1 and warning[0]["reason"] == "CleanupFailed", warning
    assert f"revocation skipped: certificate {serial} not revoked" in warning[0]["message"]
    assert not openbao.api("GET", f"{mount}/cert/{serial}")["data"].get("revocation_time")
    proc.stop()
    assert "revocation skipped, finalizer removed" in proc.log_text() and "failed (try" not in proc.log_text()
