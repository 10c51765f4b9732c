"""Tenant escapes, tried as an attacker would: a user who may create every sealer kind in `team-b` wants the
secrets of `team-a`. One controller process against the API emulator serves both teams; the ciphertexts are
written by `sealer encrypt`, `sealer seal` and the real `sops` binary. Each attempt must end Ready=False with a
specific reason, with no Secret made or changed, and no planted value in the log, the Events or any status.
The emulator has no RBAC: the threat model is "team-b can create objects in team-b", which RBAC gives; what
RBAC cannot stop (a copied ciphertext, a reference to another namespace) is what the controller must refuse.
Vault stores have their own suite (tests/test_tenant_vault.py)."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from sealer_testkit.apiserver import KubeServer

from sealer.sops.binding import BOUND_REGEX
from tests.cli_process import run_sealer
from tests.controller_process import NS, published_cert, start_controller
from tests.sops_helpers import SOPS, AgeKey, Workspace, make_age_key, ok

PLANT = "PLANTED-team-a-secret-5d2"  # sealer:allow (team-a's value: must never reach team-b, logs or status)
PLANT_B = "PLANTED-team-b-own-8e1"  # sealer:allow (team-b's own value, for positive controls)
SOPS_KIND = ("sealer.dev/v1alpha1", "SopsSecret")
SEALED_KIND = ("sealer.dev/v1alpha1", "SealedSecret")


class Cluster:
    def __init__(self, kube: KubeServer, root: Path, proc, cert: Path, ws: Workspace, keys: dict[str, AgeKey]):
        self.kube, self.root, self.proc, self.cert, self.ws, self.keys = kube, root, proc, cert, ws, keys

    # --- writing, as each team would ---
    def secret_yaml(self, name: str, namespace: str, value: str = PLANT) -> Path:
        return self.ws.write(f"{namespace}-{name}.yaml", f"apiVersion: v1\nkind: Secret\nmetadata:\n"
                             f"  name: {name}\n  namespace: {namespace}\nstringData:\n  password: {value}\n")

    def sopssecret(self, name: str, namespace: str, *flags: str, key: str = "cluster", value: str = PLANT) -> dict:
        src = self.secret_yaml(name, namespace, value)
        r = run_sealer("encrypt", "--age", self.keys[key].recipient, "--kind", "sopssecret", *flags, src,
                       env=self.ws.env())
        assert r.returncode == 0, r.stderr
        return yaml.safe_load(r.stdout)

    def unscoped(self, name: str, namespace: str) -> dict:
        """A SopsSecret as written before scopes: by hand, no spec.binding, encrypted for the cluster."""
        src = self.ws.write(f"{name}.legacy.yaml", f"apiVersion: sealer.dev/v1alpha1\nkind: SopsSecret\nmetadata:\n"
                            f"  name: {name}\n  namespace: {namespace}\nspec:\n  stringData:\n    password: {PLANT}\n")
        return yaml.safe_load(ok(self.ws.sealer("encrypt", "--age", self.keys["cluster"].recipient,
                                                "--encrypted-regex", "^(data|stringData)$", "--mac-only-encrypted",
                                                src)))

    def sealed(self, name: str, namespace: str, scope: str) -> dict:
        r = run_sealer("seal", self.secret_yaml(name, namespace), "--cert", self.cert, "--scope", scope)
        assert r.returncode == 0, r.stderr
        return yaml.safe_load(r.stdout)

    def apply(self, obj: dict, namespace: str | None = None, name: str | None = None, **spec: object) -> dict:
        """Create ``obj`` (a copy), optionally somewhere else and with spec fields added, as kubectl would."""
        obj = copy.deepcopy(obj)
        obj["metadata"].update({k: v for k, v in (("namespace", namespace), ("name", name)) if v})
        obj.setdefault("spec", {}).update(spec)
        return self.kube.client.create(json.loads(json.dumps(obj, sort_keys=True)))

    # --- reading the outcome ---
    def condition(self, kind: tuple[str, str], name: str, namespace: str, status: str, timeout: float = 30) -> dict:
        def ready():
            obj = self.kube.client.find(*kind, name, namespace) or {}
            conds = (obj.get("status") or {}).get("conditions") or []
            return conds[0] if conds and conds[0]["status"] == status else None
        return self.kube.client.wait_for(ready, timeout=timeout, message=f"{kind[1]} {namespace}/{name} {status}")

    def refused(self, kind: tuple[str, str], name: str, namespace: str, reason: str) -> dict:
        cond = self.condition(kind, name, namespace, "False")
        assert cond["reason"] == reason, cond
        assert self.kube.client.find("v1", "Secret", name, namespace) is None
        return cond

    def items(self, name: str, namespace: str) -> dict[str, bytes] | None:
        s = self.kube.client.find("v1", "Secret", name, namespace)
        return {k: base64.b64decode(v) for k, v in (s.get("data") or {}).items()} if s else None


def agekey_secret(key: AgeKey, name: str, namespace: str) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "data": {"age.agekey": base64.b64encode(key.path.read_bytes()).decode()}}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("tenants")
    ws = Workspace(root / "ws")
    keys = {name: make_age_key(root / "keys", name) for name in ("cluster", "team-a", "team-b")}
    with KubeServer(root / "kube") as kube:
        for ns in (NS, "team-a", "team-b"):
            kube.client.ensure_namespace(ns)
        kube.client.create(agekey_secret(keys["cluster"], "sealer-age", NS))
        kube.client.create(agekey_secret(keys["team-a"], "team-keys", "team-a"))  # team-a owns its key
        kube.client.create(agekey_secret(keys["team-b"], "team-keys", "team-b"))
        proc, _port = start_controller(kube, root)
        cert, _ = published_cert(kube, root)
        c = Cluster(kube, root, proc, cert, ws, keys)
        # team-a's legitimate objects, the attacker's targets
        c.apply(c.sopssecret("db", "team-a"))
        c.apply(c.sealed("sealed-db", "team-a", "strict"))
        c.condition(SOPS_KIND, "db", "team-a", "True")
        c.condition(SEALED_KIND, "sealed-db", "team-a", "True")
        assert c.items("db", "team-a") == {"password": PLANT.encode()}
        yield c
        # nothing of team-a's reached the log, an Event or a status (every test of the module has run by now)
        log, events = proc.log_text(), json.dumps(kube.client.events())
        statuses = json.dumps([o.get("status") for kind in (SOPS_KIND, SEALED_KIND) for o in kube.client.list(*kind)])
        for where in (log, events, statuses):
            assert PLANT not in where and PLANT_B not in where
            assert all(k.identity not in where for k in keys.values())


# --- SopsSecrets ----------------------------------------------------------------------------------------------

def test_copied_strict_sopssecret_is_refused(cluster: Cluster) -> None:
    """team-a's SopsSecret, read from Git and applied in team-b under a new name, and under the same name."""
    stolen = cluster.kube.client.get(*SOPS_KIND, "db", "team-a")
    stolen = {k: stolen[k] for k in ("apiVersion", "kind", "metadata", "spec", "sops")}
    stolen["metadata"] = {"name": "db", "namespace": "team-a"}
    for name in ("stolen", "db"):
        cluster.apply(stolen, "team-b", name)
        cond = cluster.refused(SOPS_KIND, name, "team-b", "ScopeMismatch")
        assert f"bound to team-a/db (strict), but this SopsSecret is team-b/{name}" in cond["message"]


def test_renamed_strict_sopssecret_in_its_own_namespace_is_refused(cluster: Cluster) -> None:
    cluster.apply(cluster.sopssecret("db", "team-a"), "team-a", "renamed")
    cluster.refused(SOPS_KIND, "renamed", "team-a", "ScopeMismatch")


def test_namespace_wide_sopssecret_travels_within_its_namespace_only(cluster: Cluster) -> None:
    wide = cluster.sopssecret("wide", "team-a", "--scope", "namespace-wide")
    cluster.apply(wide, "team-a", "wide-renamed")  # allowed: that is what namespace-wide means
    cluster.condition(SOPS_KIND, "wide-renamed", "team-a", "True")
    cluster.apply(wide, "team-b", "wide")
    assert "bound to team-a/*" in cluster.refused(SOPS_KIND, "wide", "team-b", "ScopeMismatch")["message"]


def test_cluster_wide_sopssecret_goes_anywhere_by_design(cluster: Cluster) -> None:
    """As with Bitnami's cluster-wide scope: whoever may read the file may use it in any namespace."""
    cluster.apply(cluster.sopssecret("shared-conf", "team-a", "--scope", "cluster-wide", value=PLANT_B),
                  "team-b", "shared-conf")
    cluster.condition(SOPS_KIND, "shared-conf", "team-b", "True")
    assert cluster.items("shared-conf", "team-b") == {"password": PLANT_B.encode()}


def test_unscoped_sopssecret_is_refused_by_default(cluster: Cluster) -> None:
    """A document written before scopes (no spec.binding), copied to team-b."""
    doc = cluster.unscoped("legacy", "team-a")
    cluster.apply(doc, "team-b", "legacy")
    assert "sealer rescope" in cluster.refused(SOPS_KIND, "legacy", "team-b", "Unscoped")["message"]


def test_a_forged_plaintext_binding_is_refused(cluster: Cluster) -> None:
    """The attacker writes the binding they need in plaintext (a mac_only_encrypted MAC does not cover it)."""
    doc = cluster.unscoped("forged", "team-a")
    cluster.apply(doc, "team-b", "forged", binding="team-b/forged")
    assert "not encrypted" in cluster.refused(SOPS_KIND, "forged", "team-b", "ScopeMismatch")["message"]


def test_binding_swapped_from_an_own_document_breaks_the_mac(cluster: Cluster) -> None:
    """team-b encrypts its own SopsSecret (the cluster's recipient is public), and moves that valid binding
    into team-a's document."""
    mine = cluster.sopssecret("swap", "team-b", value=PLANT_B)
    theirs = cluster.sopssecret("swap", "team-a")
    theirs["spec"]["binding"] = mine["spec"]["binding"]
    cluster.apply(theirs, "team-b", "swap")
    cluster.refused(SOPS_KIND, "swap", "team-b", "MACMismatch")


@pytest.mark.skipif(SOPS is None, reason="the sops binary is needed")
def test_sops_written_document_is_bound_like_sealers(cluster: Cluster) -> None:
    """A team writing its SopsSecret with the real sops binary, binding included (README: Multi-tenant)."""
    local = Workspace(cluster.root / "sops-ws")
    local.write(".sops.yaml", f"creation_rules:\n  - encrypted_regex: '{BOUND_REGEX}'\n    mac_only_encrypted: true\n"
                              f"    age: {cluster.keys['cluster'].recipient}\n")
    local.write("s.yaml", "apiVersion: sealer.dev/v1alpha1\nkind: SopsSecret\nmetadata:\n  name: by-sops\n"
                          f"  namespace: team-a\nspec:\n  binding: team-a/by-sops\n  stringData:\n    p: {PLANT}\n")
    doc = yaml.safe_load(ok(local.sops("encrypt", "s.yaml")))
    cluster.apply(doc)
    cluster.condition(SOPS_KIND, "by-sops", "team-a", "True")
    cluster.apply(doc, "team-b", "by-sops")
    cluster.refused(SOPS_KIND, "by-sops", "team-b", "ScopeMismatch")


# --- per-namespace identities (spec.decryption.secretRef) ---------------------------------------------------

def test_own_namespace_identities_work_for_their_team(cluster: Cluster) -> None:
    """team-a encrypts for its own key only; the controller-wide identity cannot open it."""
    doc = cluster.sopssecret("own-key", "team-a", key="team-a")
    cluster.apply(doc)
    assert cluster.refused(SOPS_KIND, "own-key", "team-a", "DecryptFailed")
    cluster.kube.client.delete(*SOPS_KIND, "own-key", "team-a")
    cluster.kube.client.wait_for(lambda: cluster.kube.client.find(*SOPS_KIND, "own-key", "team-a") is None,
                                 timeout=30, message="deleted")
    cluster.apply(doc, decryption={"secretRef": {"name": "team-keys"}})
    cluster.condition(SOPS_KIND, "own-key", "team-a", "True")
    assert cluster.items("own-key", "team-a") == {"password": PLANT.encode()}


def test_secret_ref_to_another_namespace_is_refused(cluster: Cluster) -> None:
    doc = cluster.sopssecret("ref-other", "team-a", key="team-a")
    cluster.apply(doc, "team-b", "ref-other", decryption={"secretRef": {"name": "team-keys", "namespace": "team-a"}})
    assert "another namespace" in cluster.refused(SOPS_KIND, "ref-other", "team-b", "InvalidSpec")["message"]


def test_secret_ref_by_name_resolves_in_the_own_namespace_only(cluster: Cluster) -> None:
    """team-b names `team-keys`, hoping for team-a's: it gets its own, which cannot open team-a's data key; and
    naming the controller's identity Secret finds nothing in team-b."""
    doc = cluster.sopssecret("ref-name", "team-b", key="team-a")  # even bound to team-b: team-a's key only
    cluster.apply(doc, decryption={"secretRef": {"name": "team-keys"}})
    cluster.refused(SOPS_KIND, "ref-name", "team-b", "DecryptFailed")
    cluster.apply(doc, "team-b", "ref-ctrl", decryption={"secretRef": {"name": "sealer-age"}})
    cluster.refused(SOPS_KIND, "ref-ctrl", "team-b", "DecryptionSecretNotFound")


# --- SealedSecrets: the scope is in the OAEP label ------------------------------------------------------------

@pytest.mark.parametrize("scope", ["strict", "namespace-wide"])
def test_copied_sealedsecret_does_not_unseal(cluster: Cluster, scope: str) -> None:
    sealed = cluster.sealed(f"s-{scope}", "team-a", scope)
    cluster.apply(sealed, "team-b")
    cluster.refused(SEALED_KIND, f"s-{scope}", "team-b", "UnsealFailed")


def test_cluster_wide_sealedsecret_goes_anywhere_by_design(cluster: Cluster) -> None:
    cluster.apply(cluster.sealed("s-cluster", "team-a", "cluster-wide"), "team-b")
    assert cluster.condition(SEALED_KIND, "s-cluster", "team-b", "True")["reason"] == "Unsealed"
    assert cluster.items("s-cluster", "team-b") == {"password": PLANT.encode()}


def test_scope_annotations_on_a_copy_do_not_widen_it(cluster: Cluster) -> None:
    """The attacker adds the cluster-wide annotation to a strict SealedSecret (top-level and in the template)."""
    sealed = cluster.sealed("s-annotated", "team-a", "strict")
    sealed["metadata"]["annotations"] = {"sealedsecrets.bitnami.com/cluster-wide": "true"}
    sealed["spec"].setdefault("template", {}).setdefault("metadata", {})["annotations"] = {
        "sealedsecrets.bitnami.com/cluster-wide": "true"}
    cluster.apply(sealed, "team-b")
    cluster.refused(SEALED_KIND, "s-annotated", "team-b", "UnsealFailed")


# --- targets: unmanaged Secrets and two sources for one Secret ------------------------------------------------

def test_an_unmanaged_secret_is_never_overwritten(cluster: Cluster) -> None:
    before = cluster.kube.client.create({"apiVersion": "v1", "kind": "Secret",
                                         "metadata": {"name": "app-config", "namespace": "team-b"},
                                         "data": {"config": base64.b64encode(b"theirs").decode()}})
    cluster.apply(cluster.sopssecret("app-config", "team-b", value=PLANT_B))
    cond = cluster.condition(SOPS_KIND, "app-config", "team-b", "False")
    assert cond["reason"] == "NotOwned" and "sealer.dev/managed" in cond["message"]
    after = cluster.kube.client.get("v1", "Secret", "app-config", "team-b")
    assert after["data"] == before["data"] and not after["metadata"].get("ownerReferences")


def test_two_sources_for_one_secret_conflict_without_flip_flop(cluster: Cluster) -> None:
    sealed = cluster.apply(cluster.sealed("both", "team-b", "strict"))
    cluster.condition(SEALED_KIND, "both", "team-b", "True")
    first = cluster.kube.client.get("v1", "Secret", "both", "team-b")
    cluster.apply(cluster.sopssecret("both", "team-b", value=PLANT_B))
    cond = cluster.condition(SOPS_KIND, "both", "team-b", "False")
    assert cond["reason"] == "Conflict" and "SealedSecret both" in cond["message"]
    cluster.proc.wait_for_log("SopsSecret team-b/both: Conflict", timeout=30, count=3)  # three resyncs later
    now = cluster.kube.client.get("v1", "Secret", "both", "team-b")
    assert now["data"] == first["data"] and now["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert now["metadata"]["ownerReferences"][0]["uid"] == sealed["metadata"]["uid"]
    cluster.condition(SEALED_KIND, "both", "team-b", "True")


def test_a_good_secret_stays_when_its_sopssecret_is_replaced_by_one_bound_elsewhere(cluster: Cluster) -> None:
    cluster.apply(cluster.sopssecret("keep", "team-a"))
    cluster.condition(SOPS_KIND, "keep", "team-a", "True")
    before = cluster.kube.client.get("v1", "Secret", "keep", "team-a")
    live = cluster.kube.client.get(*SOPS_KIND, "keep", "team-a")
    other = cluster.sopssecret("other", "team-a", value=PLANT_B)
    live["spec"], live["sops"] = other["spec"], other["sops"]
    cluster.kube.client.replace(live)
    cond = cluster.kube.client.wait_for(
        lambda: (c := ((cluster.kube.client.get(*SOPS_KIND, "keep", "team-a").get("status") or {})
                       .get("conditions") or [{}])[0]) and c.get("reason") == "ScopeMismatch" and c,
        timeout=30, message="ScopeMismatch")
    assert "bound to team-a/other" in cond["message"]
    after = cluster.kube.client.get("v1", "Secret", "keep", "team-a")
    assert after["data"] == before["data"] and cluster.items("keep", "team-a") == {"password": PLANT.encode()}
