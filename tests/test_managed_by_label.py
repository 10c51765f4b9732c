"""A template's own `app.kubernetes.io/managed-by` label (Helm, Flux, Argo CD...) is kept on the Secret for every
source, as Bitnami keeps it: SealedSecrets (tests/test_bitnami_controller.py), SopsSecrets and VaultSecrets here.
The Secret stays ours by its controller ownerReference, or, for a VaultSecret's Orphan Secret (no ownerReference),
by the `sealer.dev/produced` annotation: first as pure functions, then with the controller process, the API
emulator and a real OpenBao (drift restored, re-synced, deleted by deletionPolicy Delete)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml
from sealer_testkit.apiserver import KubeServer

from controller import secrets, sopssecret
from controller.vault import spec as vs
from sealer.kube import MANAGED_BY, MANAGED_BY_LABEL
from tests.cli_process import run_sealer
from tests.controller_process import NS, secret_items
from tests.openbao import Bao, kv2_put
from tests.sops_helpers import AgeKey, Workspace, make_age_key
from tests.sopssecret_objects import as_stored, identities_secret, ring
from tests.vault_resources import start_vault_controller, store, token_auth, token_secret, vault_secret, wait_items

SOPS_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: flux
  namespace: app
  labels: {app: billing, app.kubernetes.io/managed-by: Flux}
type: Opaque
stringData: {password: from-sops}
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("managed-by"))


@pytest.fixture(scope="module")
def age_key(ws: Workspace) -> AgeKey:
    return make_age_key(ws.root / "keys", "cluster")


@pytest.fixture(scope="module")
def flux_sopssecret(ws: Workspace, age_key: AgeKey) -> dict:
    r = run_sealer("encrypt", "--age", age_key.recipient, "--kind", "sopssecret", ws.write("flux.yaml", SOPS_SECRET),
                   env=ws.env())
    assert r.returncode == 0, r.stderr
    return yaml.safe_load(r.stdout)


def vsec(**target: object) -> dict:
    return {"apiVersion": "sealer.dev/v1alpha1", "kind": "VaultSecret",
            "metadata": {"name": "db", "namespace": "app", "uid": "uid-1"},
            "spec": {"storeRef": {"name": "v"}, "dataFrom": [{"path": "a"}], "target": target}}


def helm(**target: object) -> dict:
    return vsec(**target, template={"metadata": {"labels": {MANAGED_BY_LABEL: "Helm", "team": "a"}}})


# --- pure -----------------------------------------------------------------------------------------------------------

def test_sopssecret_keeps_the_templates_managed_by(flux_sopssecret: dict, age_key: AgeKey) -> None:
    out = sopssecret.desired(as_stored(flux_sopssecret), ring(age_key), {})
    assert out.ready, out.message
    meta = out.secret["metadata"]
    assert meta["labels"] == {"app": "billing", MANAGED_BY_LABEL: "Flux"}
    assert meta["ownerReferences"][0]["uid"] == "uid-1" and "annotations" not in meta


@pytest.mark.parametrize(("policy", "labels", "annotations", "owned"), [
    ("Owner", {MANAGED_BY_LABEL: "Helm", "team": "a"}, None, True),
    ("Orphan", {MANAGED_BY_LABEL: "Helm", "team": "a"}, {secrets.PRODUCED_ANNOTATION: "true"}, False),
    ("Merge", {MANAGED_BY_LABEL: "Helm", "team": "a"}, None, False),
])
def test_vault_secret_keeps_the_templates_managed_by(policy: str, labels: dict, annotations: dict | None,
                                                     owned: bool) -> None:
    spec = vs.parse_vault_secret(helm(creationPolicy=policy))
    meta = vs.desired_secret(helm(), spec, {"k": b"v"})["metadata"]
    assert meta["labels"] == labels and meta.get("annotations") == annotations
    assert ("ownerReferences" in meta) is owned


@pytest.mark.parametrize("labels", [{}, {MANAGED_BY_LABEL: MANAGED_BY}])
def test_our_own_label_needs_no_produced_mark(labels: dict) -> None:
    spec = vs.parse_vault_secret(vsec(creationPolicy="Orphan", template={"metadata": {"labels": labels}}))
    meta = vs.desired_secret(vsec(), spec, {"k": b"v"})["metadata"]
    assert meta["labels"] == {MANAGED_BY_LABEL: MANAGED_BY} and "annotations" not in meta


def test_an_orphan_secret_with_helms_label_stays_ours() -> None:
    spec = vs.parse_vault_secret(helm(creationPolicy="Orphan"))
    written = vs.desired_secret(helm(), spec, {"k": b"v"})
    existing = {**written, "metadata": {**written["metadata"], "uid": "s-1", "resourceVersion": "7"}}
    changed = vs.desired_secret(helm(), spec, {"k": b"new"})
    assert secrets.plan(existing, changed, "uid-1", kind="VaultSecret").action == secrets.UPDATE
    assert secrets.produced_mark(existing)
    # the same Secret without our mark is someone else's
    theirs = {**existing, "metadata": {k: v for k, v in existing["metadata"].items() if k != "annotations"}}
    assert secrets.plan(theirs, changed, "uid-1", kind="VaultSecret").reason == "NotOwned"


# --- end to end -----------------------------------------------------------------------------------------------------

def test_controller_keeps_managed_by_and_still_owns_the_secrets(kube: KubeServer, openbao: Bao, tmp_path: Path,
                                                                 flux_sopssecret: dict, age_key: AgeKey) -> None:
    client = kube.client
    for ns in (NS, "app"):
        client.ensure_namespace(ns)
    base = f"managed-by-{tmp_path.name}"
    kv2_put(openbao, f"{base}/db", {"password": "from-vault"})
    kv2_put(openbao, f"{base}/gone", {"k": "v"})
    openbao.write_policy(f"{base}-read", 'path "*" { capabilities = ["read", "list"] }')
    token_secret(kube, "app", openbao.create_token(f"{base}-read"))
    client.create(identities_secret(age_key))
    client.create(store(openbao, "vault", "app", token_auth()))
    proc, _port = start_vault_controller(kube, tmp_path)
    client.create(flux_sopssecret)
    client.create(helm_vault_secret("owned", f"{base}/db"))
    client.create(helm_vault_secret("orphan", f"{base}/gone", creationPolicy="Orphan", deletionPolicy="Delete"))

    assert wait_items(kube, "flux", "app", lambda i: "password" in i) == {"password": b"from-sops"}
    wait_items(kube, "owned", "app", lambda i: i == {"password": b"from-vault"})
    wait_items(kube, "orphan", "app", lambda i: i == {"k": b"v"})
    flux, owned, orphan = (client.get("v1", "Secret", n, "app")["metadata"] for n in ("flux", "owned", "orphan"))
    assert flux["labels"][MANAGED_BY_LABEL] == "Flux" and flux["ownerReferences"][0]["kind"] == "SopsSecret"
    assert owned["labels"][MANAGED_BY_LABEL] == "Helm" and owned["ownerReferences"][0]["kind"] == "VaultSecret"
    assert orphan["labels"][MANAGED_BY_LABEL] == "Helm" and "ownerReferences" not in orphan
    assert orphan["annotations"][secrets.PRODUCED_ANNOTATION] == "true"

    # drift on the owned Secrets is put back (found by their ownerReference, whatever the label says)
    hacked = {"data": {"password": base64.b64encode(b"hacked").decode()}}
    client.patch("v1", "Secret", "flux", hacked, "app")
    client.patch("v1", "Secret", "owned", hacked, "app")
    wait_items(kube, "flux", "app", lambda i: i == {"password": b"from-sops"}, timeout=15)
    wait_items(kube, "owned", "app", lambda i: i == {"password": b"from-vault"}, timeout=15)

    # the Orphan Secret is still ours on the next sync, and ours to delete when Vault says the secret is gone
    kv2_put(openbao, f"{base}/gone", {"k": "v2"})
    wait_items(kube, "orphan", "app", lambda i: i == {"k": b"v2"}, timeout=15)
    openbao.api("DELETE", f"secret/metadata/{base}/gone")
    client.wait_for(lambda: secret_items(kube, "orphan", "app") is None, timeout=15, message="Orphan deleted")
    proc.stop()
    assert not kube.server_errors()


def helm_vault_secret(name: str, path: str, **target: str) -> dict:
    return vault_secret(name, "app", "vault", refreshInterval="1s", dataFrom=[{"path": path}],
                        target={**target, "template": {"metadata": {"labels": {MANAGED_BY_LABEL: "Helm"}}}})
