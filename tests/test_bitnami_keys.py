"""Bitnami's sealing keys after a cutover: which one seals, the legacy key, and when the next renewal is due.

Bitnami orders keys by their certificate's NotBefore (`--key-order-priority CertNotBefore`, its default). Keys
copied into the controller's namespace as keys/README.md says all get a fresh creationTimestamp, in whatever order
`kubectl create` took them; before this, sealer ordered by creationTimestamp and name and published the
400-day-old key's cert, and restarted the renewal clock at the copy.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import urllib.request
from pathlib import Path

import pytest
from sealer_testkit.apiserver import KubeServer

from controller import keyring as kr
from sealer.kube import CERTS_CONFIGMAP
from sealer.sealed import keys, sealedsecret
from sealer.sealed.hybrid import Scope
from tests.bitnami_cluster import bitnami_key_secret
from tests.controller_process import NS, published_cert, secret_items, start_controller

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def two_generations() -> dict[str, tuple[dict, str]]:
    """Bitnami's two generations: 400 days and 10 days old; the old one has the later name."""
    return {"old": bitnami_key_secret("sealed-secrets-keyzzzzz", NOW - dt.timedelta(days=400)),
            "new": bitnami_key_secret("sealed-secrets-keyaaaaa", NOW - dt.timedelta(days=10))}


def copied(secret: dict, created: dt.datetime) -> dict:
    """The Secret as the API server returns the copy: creationTimestamp is the day it was copied."""
    return {**secret, "metadata": {**secret["metadata"], "creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ")}}


def test_the_newest_not_before_seals_whatever_the_copy_order(two_generations) -> None:
    (old, old_fp), (new, new_fp) = two_generations["old"], two_generations["new"]
    ring = kr.Keyring()
    ring.sync(copied(new, NOW), import_bitnami=True)
    ring.sync(copied(old, NOW + dt.timedelta(seconds=5)), import_bitnami=True)  # copied last, named last
    assert [k.fingerprint for k in ring.all()] == [new_fp, old_fp]
    assert kr.certs_configmap(NS, ring)["data"]["fingerprint"] == new_fp
    assert ring.private_keys()[1].fingerprint == old_fp  # the old key still opens
    # Bitnami's other rule, by request: the Secret's creation time
    by_creation = kr.Keyring(kr.KeyPolicy(order=kr.BY_CREATION_TIME))
    for obj in (copied(new, NOW), copied(old, NOW + dt.timedelta(seconds=5))):
        by_creation.sync(obj, import_bitnami=True)
    assert by_creation.current().fingerprint == old_fp


def test_renewal_clock_starts_at_not_before_not_at_the_copy(two_generations) -> None:
    ring = kr.Keyring()
    for name in ("old", "new"):
        ring.sync(copied(two_generations[name][0], NOW), import_bitnami=True)
    period = dt.timedelta(days=30)
    assert ring.next_renewal(period) == NOW - dt.timedelta(days=10) + period  # not NOW + 30 days
    assert ring.renewal_due(period, now=NOW) is None
    assert ring.renewal_due(dt.timedelta(days=5), now=NOW) == "renewal period elapsed"
    assert ring.next_renewal(dt.timedelta(0)) is None and ring.renewal_due(dt.timedelta(0), now=NOW) is None


def test_key_cutoff_time_counts_at_start_only(two_generations) -> None:
    cutoff = NOW - dt.timedelta(days=1)  # the newest key (10 days) is older than this
    ring = kr.Keyring(kr.KeyPolicy(cutoff=cutoff))
    ring.sync(copied(two_generations["new"][0], NOW), import_bitnami=True)
    assert "--key-cutoff-time" in ring.renewal_due(dt.timedelta(0), now=NOW, at_start=True)
    assert ring.renewal_due(dt.timedelta(0), now=NOW) is None
    # a key sealer generated after the cutoff ends it (its NotBefore is 5 minutes back, still after the cutoff)
    ring.sync(kr.new_key_secret(NS, bits=2048, policy=ring.policy), import_bitnami=True)
    assert ring.renewal_due(dt.timedelta(0), at_start=True) is None


def test_sealer_generated_keys_count_from_their_generation_time() -> None:
    """sealer backdates a cert's NotBefore by 5 minutes (clock skew); the renewal clock uses the generation time it
    recorded, so a short period does not renew 5 minutes early (or at once)."""
    ring = kr.Keyring()
    ring.sync(kr.new_key_secret(NS, bits=2048, now=NOW), import_bitnami=False)
    assert ring.current().not_before == NOW - dt.timedelta(minutes=5)
    assert ring.next_renewal(dt.timedelta(minutes=3)) == NOW + dt.timedelta(minutes=3)


def test_legacy_unlabelled_key_is_a_key_only_when_importing() -> None:
    legacy, _ = bitnami_key_secret(kr.BITNAMI_LEGACY_NAME, NOW - dt.timedelta(days=900), labelled=False)
    assert kr.is_key_secret(legacy, import_bitnami=True)
    assert not kr.is_key_secret(legacy, import_bitnami=False)
    other, _ = bitnami_key_secret("some-tls", NOW, labelled=False)
    assert not kr.is_key_secret(other, import_bitnami=True)
    retired = {**legacy, "metadata": {**legacy["metadata"], "labels": {kr.BITNAMI_LABEL: "compromised"}}}
    assert not kr.is_key_secret(retired, import_bitnami=True)  # a label, even a retired one, decides


def test_generated_key_secret_follows_the_key_policy() -> None:
    policy = kr.KeyPolicy(prefix="sealed-secrets-key", cn="my-cluster", days=30, labels={"team": "platform"},
                          annotations={"backup": "daily"})
    ring = kr.Keyring(policy)
    body = kr.new_key_secret(NS, bits=2048, name=kr.next_key_name(ring), policy=policy, now=NOW)
    assert body["metadata"]["name"] == "sealed-secrets-key00001"
    assert body["metadata"]["labels"] == {"team": "platform", kr.LABEL: kr.ACTIVE}
    assert body["metadata"]["annotations"]["backup"] == "daily"
    key = ring.put(body)
    assert key.cert.cert.subject.rfc4514_string() == "O=sealer,CN=my-cluster"
    assert key.cert.cert.not_valid_after_utc == NOW + dt.timedelta(days=30)


# --- the controller process against the API emulator ------------------------------------------------------------


def sealed_secret(cert: keys.SealingCert, name: str, value: str) -> dict:
    plain = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "app"},
             "stringData": {"password": value}}
    return sealedsecret.seal_secret(plain, cert, scope=Scope.STRICT)


def served_cert(port: int) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/cert.pem", timeout=10).read().decode()


def test_import_publishes_the_newest_bitnami_key_and_opens_with_all(kube: KubeServer, tmp_path: Path,
                                                                   two_generations) -> None:
    """Two generations copied newest first (so the old one has the later creationTimestamp and name) plus the
    legacy unlabelled key: the newest NotBefore seals, every key opens, no key is generated (the newest is 10
    days old, the renewal period 30 days) and the next renewal is due 20 days from now, not 30."""
    (old, old_fp), (new, new_fp) = two_generations["old"], two_generations["new"]
    legacy, legacy_fp = bitnami_key_secret(kr.BITNAMI_LEGACY_NAME, NOW - dt.timedelta(days=900), labelled=False)
    kube.client.ensure_namespace(NS)
    for obj in (new, old, legacy):
        kube.client.create(obj)
    proc, port = start_controller(kube, tmp_path, "--import-bitnami-keys", "--key-renew-period", "720h")
    cert, fp = published_cert(kube, tmp_path)
    assert fp == new_fp
    cm = kube.client.get("v1", "ConfigMap", CERTS_CONFIGMAP, NS)
    assert cm["data"]["certs.pem"].count("BEGIN CERTIFICATE") == 3
    assert served_cert(port) == cert.read_text() == keys.cert_pem(
        keys.parse_cert(base64.b64decode(new["data"]["tls.crt"]), "new").cert).decode()
    assert kube.client.list("v1", "Secret", NS, label_selector=kr.LABEL) == []  # nothing generated
    log = proc.wait_for_log("next key renewal")
    due = dt.datetime.fromisoformat(re.search(r"next key renewal due at (\S+)", log).group(1))
    assert abs(due - (NOW + dt.timedelta(days=20))) < dt.timedelta(minutes=5)
    assert f"loaded key {kr.BITNAMI_LEGACY_NAME} ({legacy_fp[:16]})" in log

    # SealedSecrets sealed to the old and the legacy key still open
    for name, secret in (("to-old", old), ("to-legacy", legacy)):
        cert_of = keys.parse_cert(base64.b64decode(secret["data"]["tls.crt"]), name)
        kube.client.create(sealed_secret(cert_of, name, f"value-{name}"))
        items = kube.client.wait_for(lambda n=name: secret_items(kube, n, "app"), timeout=30)
        assert items["password"] == f"value-{name}".encode()
    assert old_fp != fp


def test_renewal_is_due_from_the_imported_keys_age(kube: KubeServer, tmp_path: Path, two_generations) -> None:
    """The newest imported key is 10 days old: with a 5-day period, a key is generated at start-up (before: the
    copy's creationTimestamp restarted the clock and nothing happened for 5 more days); it then seals."""
    kube.client.ensure_namespace(NS)
    for name in ("new", "old"):
        kube.client.create(two_generations[name][0])
    proc, port = start_controller(kube, tmp_path, "--import-bitnami-keys", "--key-renew-period", "120h")
    log = proc.wait_for_log("renewal period elapsed")
    generated = kube.client.list("v1", "Secret", NS, label_selector=f"{kr.LABEL}={kr.ACTIVE}")
    assert [s["metadata"]["name"] for s in generated] == ["sealer-key-00001"]
    _, fp = published_cert(kube, tmp_path)
    assert fp not in (two_generations["new"][1], two_generations["old"][1])
    assert served_cert(port).startswith("-----BEGIN CERTIFICATE-----")
    due = dt.datetime.fromisoformat(re.search(r"next key renewal due at (\S+)", log).group(1))
    assert abs(due - (dt.datetime.now(dt.UTC) + dt.timedelta(days=5))) < dt.timedelta(minutes=5)


def test_key_cutoff_time_renews_at_start(kube: KubeServer, tmp_path: Path, two_generations) -> None:
    """Bitnami's --key-cutoff-time (RFC 1123 with a numeric zone): the newest key is older, so a new key seals;
    renewal stays off (period 0)."""
    kube.client.ensure_namespace(NS)
    kube.client.create(two_generations["new"][0])
    cutoff = (NOW - dt.timedelta(days=1)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    proc, _ = start_controller(kube, tmp_path, "--import-bitnami-keys", "--key-cutoff-time", cutoff)
    proc.wait_for_log("older than --key-cutoff-time")
    _, fp = published_cert(kube, tmp_path)
    assert fp != two_generations["new"][1]
    assert "next key renewal off" in proc.log_text()
    proc.stop()
    # restarted with the same flag: the newest key is now newer than the cutoff, nothing more is generated
    proc, _ = start_controller(kube, tmp_path, "--import-bitnami-keys", "--key-cutoff-time", cutoff,
                               log_name="controller-2.log")
    assert len(kube.client.list("v1", "Secret", NS, label_selector=kr.LABEL)) == 1


def test_sigusr1_renews_at_once(kube: KubeServer, tmp_path: Path) -> None:
    """Bitnami's early renewal on demand: `kill -USR1 <controller pid>`."""
    import os
    import signal

    proc, port = start_controller(kube, tmp_path)
    _, first = published_cert(kube, tmp_path)
    os.kill(proc.pid, signal.SIGUSR1)
    _, second = published_cert(kube, tmp_path, fingerprint_not=first)
    assert second != first
    assert served_cert(port) == kube.client.get("v1", "ConfigMap", CERTS_CONFIGMAP, NS)["data"]["cert.pem"]
    assert len(kube.client.list("v1", "Secret", NS, label_selector=kr.LABEL)) == 2
    assert proc.alive()
