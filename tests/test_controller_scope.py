"""What the controller watches and writes: `--namespaces` and `--label-selector` (controller/served.py).

The controller runs as its own process against the API emulator, as in test_controller_e2e.py. Out-of-scope objects
must stay exactly as they were created (same resourceVersion: no status, no finalizer, not even kopf's bookkeeping
annotation), get no Secret and no Event, and the emulator's request log shows what the controller asked for.
The emulator has no RBAC: the namespaced RBAC of deploy/components/namespaced/ is checked offline in test_deploy.py.
The parsing and matching are pure functions, tested at the end (and checked against the emulator's own selector
implementation, which is what answers the server-side selectors here).
"""

from __future__ import annotations

import base64
import itertools
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from sealer_testkit.apiserver import KubeServer, free_port, parse_label_selector

from controller import keyring as kr
from controller import served
from controller.__main__ import parse_args
from sealer.kube import MANAGED_BY, MANAGED_BY_LABEL
from tests.controller_process import NS, SS, published_cert, seal, secret_items, start_controller, wait_ready

A, B = "team-a", "team-b"


def labelled(obj: dict, **labels: str) -> dict:
    obj["metadata"]["labels"] = dict(labels)
    return obj


def stray_secret(owner: dict, value: bytes) -> dict:
    """A Secret as the controller would have produced it for `owner` (managed-by label, controller ownerReference),
    with other data: what another controller instance, serving `owner`, leaves behind."""
    meta = owner["metadata"]
    return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"], "labels": {MANAGED_BY_LABEL: MANAGED_BY},
                         "ownerReferences": [{"apiVersion": owner["apiVersion"], "kind": owner["kind"],
                                              "name": meta["name"], "uid": meta["uid"], "controller": True}]},
            "data": {"password": base64.b64encode(value).decode()}}


def edit_by_hand(kube: KubeServer, name: str, namespace: str, value: bytes) -> None:
    kube.client.patch("v1", "Secret", name, {"data": {"password": base64.b64encode(value).decode()}}, namespace)


def assert_untouched(kube: KubeServer, created: dict) -> None:
    """Never reconciled: not a single write to the object, no Event about it."""
    meta = created["metadata"]
    live = kube.client.get(*SS, meta["name"], meta["namespace"])
    assert live["metadata"]["resourceVersion"] == meta["resourceVersion"], live["metadata"]
    assert not live.get("status") and not live["metadata"].get("finalizers"), live
    assert not any(k.startswith("kopf.") for k in live["metadata"].get("annotations") or {}), live["metadata"]
    assert kube.client.events(meta["namespace"], name=meta["name"]) == []


def settle(kube: KubeServer, proc, name: str, namespace: str, resyncs: int = 2) -> None:
    """Let every queued event be handled: undo a hand edit of the in-scope Secret `name` (handled after the
    earlier edits), then wait for `resyncs` more resync passes (every 2 s)."""
    edit_by_hand(kube, name, namespace, b"sentinel-edit")
    kube.client.wait_for(lambda: (secret_items(kube, name, namespace) or {}).get("password") != b"sentinel-edit",
                         timeout=30, message="the in-scope Secret restored")
    done = proc.log_text().count("SealedSecret resync: ")
    proc.wait_for_log("SealedSecret resync: ", timeout=30, count=done + resyncs)


def watches(kube: KubeServer) -> list[urllib.parse.SplitResult]:
    return [urllib.parse.urlsplit(path) for method, path in kube.requests() if method == "GET" and "watch=true" in path]


# --------------------------------------------------------------------------------------------------------------------
# --namespaces
# --------------------------------------------------------------------------------------------------------------------

def test_namespaces_serve_only_the_listed_ones(kube: KubeServer, tmp_path: Path) -> None:
    for ns in (A, B, NS):  # kopf serves listed namespaces that exist (as in a cluster)
        kube.client.ensure_namespace(ns)
    proc, _ = start_controller(kube, tmp_path, "--namespaces", A)
    assert f"serving namespaces {A}" in proc.log_text()
    cert, _ = published_cert(kube, tmp_path)

    # out of scope: team-b, and the controller's own namespace (read for its keys, not served unless listed)
    other = kube.client.create(seal(tmp_path, cert, "db", B, "team-b-value"))
    own = kube.client.create(seal(tmp_path, cert, "db", NS, "own-value"))
    kube.client.create(stray_secret(own, b"stale"))  # produced earlier (say, before --namespaces was set)
    edit_by_hand(kube, "db", NS, b"edited")  # drift in an unserved namespace: must not be "restored"

    # in scope: team-a
    kube.client.create(seal(tmp_path, cert, "db", A, "team-a-value"))
    assert wait_ready(kube, "db", A, "True")["reason"] == "Unsealed"
    assert secret_items(kube, "db", A)["password"] == b"team-a-value"
    settle(kube, proc, "db", A)
    requests = kube.requests()

    assert_untouched(kube, other)
    assert_untouched(kube, own)
    assert secret_items(kube, "db", B) is None
    assert secret_items(kube, "db", NS)["password"] == b"edited"
    assert kube.client.events(B) == []
    assert kube.client.events(A, name="db")  # the served one did get its Events

    # The request log: nothing in team-b but the test's own creation, and no cluster-wide watch of anything that
    # lives in namespaces (only of Namespaces, CRDs and the cluster-scoped ClusterVaultStores and ClusterVaultSecrets).
    assert {r for r in requests if f"/namespaces/{B}/" in r[1]} == {
        ("POST", f"/apis/sealer.dev/v1alpha1/namespaces/{B}/sealedsecrets")}
    for w in watches(kube):
        assert w.path.startswith((f"/api/v1/namespaces/{A}/", f"/apis/sealer.dev/v1alpha1/namespaces/{A}/",
                                  f"/api/v1/namespaces/{NS}/", f"/apis/sealer.dev/v1alpha1/namespaces/{NS}/")) \
            or w.path in ("/api/v1/namespaces", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                          "/apis/sealer.dev/v1alpha1/clustervaultstores",
                          "/apis/sealer.dev/v1alpha1/clustervaultsecrets"), w
    assert not kube.server_errors()


def test_listing_the_own_namespace_serves_it(kube: KubeServer, tmp_path: Path) -> None:
    for ns in (A, NS):
        kube.client.ensure_namespace(ns)
    _proc, _ = start_controller(kube, tmp_path, "--namespaces", f"{A},{NS}")
    cert, _ = published_cert(kube, tmp_path)
    kube.client.create(seal(tmp_path, cert, "db", NS, "own-value"))
    assert wait_ready(kube, "db", NS, "True")["reason"] == "Unsealed"
    assert secret_items(kube, "db", NS)["password"] == b"own-value"


def test_namespaced_peering_uses_a_kopfpeering_in_each_watched_namespace(kube: KubeServer, tmp_path: Path) -> None:
    for ns in (A, B, NS):
        kube.client.ensure_namespace(ns)
    argv = [sys.executable, "-m", "controller", "--key-bits", "2048", "--http-host", "127.0.0.1",
            "--resync-period", "0", "--key-renew-period", "0", "--namespaces", A]
    procs = [kube.spawn([*argv, "--http-port", str(free_port())], log=tmp_path / f"replica-{i}.log",
                        env={"POD_NAMESPACE": NS}) for i in range(2)]
    for p in procs:
        p.wait_for_log("sealer controller ready", timeout=60)
    assert len(kube.client.list("v1", "Secret", NS, label_selector=f"{kr.LABEL}={kr.ACTIVE}")) == 1

    def peers(ns: str) -> dict:
        return (kube.client.find("kopf.dev/v1", "KopfPeering", "sealer", ns) or {}).get("status") or {}

    for ns in (A, NS):  # both replicas announce themselves in every watched namespace
        kube.client.wait_for(lambda ns=ns: len(peers(ns)) == 2, timeout=30, message=f"two peers in {ns}")
    assert kube.client.find("kopf.dev/v1", "KopfPeering", "sealer", B) is None
    assert not [r for r in kube.requests() if "clusterkopfpeerings" in r[1]]  # never even looked at
    assert kube.client.list("kopf.dev/v1", "ClusterKopfPeering") == []
    cert, _ = published_cert(kube, tmp_path)
    kube.client.create(seal(tmp_path, cert, "ha", A, "peered"))
    kube.client.wait_for(lambda: secret_items(kube, "ha", A), timeout=60, message="Secret from the leader")
    assert secret_items(kube, "ha", A)["password"] == b"peered"


# --------------------------------------------------------------------------------------------------------------------
# --label-selector
# --------------------------------------------------------------------------------------------------------------------

def test_label_selector_serves_matching_objects_only(kube: KubeServer, tmp_path: Path) -> None:
    proc, _ = start_controller(kube, tmp_path, "--label-selector", "team=payments,env!=dev")
    cert, _ = published_cert(kube, tmp_path)

    dev = kube.client.create(labelled(seal(tmp_path, cert, "dev", "app", "dev-value"), team="payments", env="dev"))
    other = kube.client.create(labelled(seal(tmp_path, cert, "other", "app", "other-value"), team="search"))
    # another controller instance (serving team=search) produced other's Secret; a hand edit of it is not ours
    kube.client.create(stray_secret(other, b"stale"))
    edit_by_hand(kube, "other", "app", b"edited")

    kube.client.create(labelled(seal(tmp_path, cert, "pay", "app", "pay-value"), team="payments", env="prod"))
    assert wait_ready(kube, "pay", "app", "True")["reason"] == "Unsealed"
    assert secret_items(kube, "pay", "app")["password"] == b"pay-value"
    settle(kube, proc, "pay", "app")

    assert_untouched(kube, dev)
    assert_untouched(kube, other)
    assert secret_items(kube, "dev", "app") is None
    assert secret_items(kube, "other", "app")["password"] == b"edited"

    # relabelled into the selection: served at once (the watch reports it as added)
    kube.client.patch(*SS, "other", {"metadata": {"labels": {"team": "payments"}}}, "app")
    assert wait_ready(kube, "other", "app", "True")["reason"] == "Unsealed"
    assert secret_items(kube, "other", "app")["password"] == b"other-value"
    assert not kube.server_errors()


# --------------------------------------------------------------------------------------------------------------------
# Bad values: one line, exit code 2, no traceback
# --------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "env", "needle"), [
    (["--label-selector", "team in payments"], {}, "--label-selector 'team in payments': "),
    (["--label-selector", "team in ()"], {}, "needs a list of values"),
    (["--label-selector", "team=a,"], {}, "a stray ','"),
    (["--label-selector", "Team_/x=y"], {}, "the prefix must be a DNS subdomain"),
    (["--label-selector", "tier>1"], {}, "< and > are not supported"),
    (["--label-selector", "a=b\nc"], {}, "expected key=value"),
    (["--label-selector", " "], {}, "--label-selector: empty selector"),
    (["--namespaces", "Team_A"], {}, "--namespaces: 'Team_A' is not a namespace name"),
    (["--namespaces", "team-*"], {}, "patterns are not supported"),
    (["--namespaces", ","], {}, "--namespaces: no namespace given"),
    ([], {"SEALER_NAMESPACES": "a,,b"}, "SEALER_NAMESPACES: an empty name in 'a,,b'"),
    (["--resync-period", "10 minutes"], {}, "invalid duration"),
])
def test_bad_scope_values_exit_2_with_one_line(args: list[str], env: dict[str, str], needle: str) -> None:
    full_env = {k: v for k, v in os.environ.items() if k not in ("KUBECONFIG", "SEALER_NAMESPACES")} | env
    r = subprocess.run([sys.executable, "-m", "controller", *args], capture_output=True, text=True, timeout=60,
                       env=full_env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("python -m controller: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr and r.stdout == ""


# --------------------------------------------------------------------------------------------------------------------
# The pure functions
# --------------------------------------------------------------------------------------------------------------------

def test_parse_namespaces() -> None:
    assert served.parse_namespaces("team-a") == ("team-a",)
    assert served.parse_namespaces(" team-a , b2,team-a ") == ("team-a", "b2")  # trimmed, deduplicated, in order
    assert served.parse_namespaces("a" * 63) == ("a" * 63,)
    for bad in ("", " ", ",", "a,", "a,,b", "A", "a_b", "-a", "a-", "a.b", "a" * 64, "team-*", "!kube-system"):
        with pytest.raises(served.ServedError) as e:
            served.parse_namespaces(bad)
        assert str(e.value).startswith("--namespaces: ") and "\n" not in str(e.value)


SELECTORS = {  # text -> canonical form (what is sent to the API server)
    "team=payments": "team=payments",
    "team==payments": "team=payments",
    " team = payments , env != dev ": "team=payments,env!=dev",
    "tier in (b, a),env notin (dev)": "tier in (a,b),env notin (dev)",
    "tier in(a)": "tier in (a)",
    "example.com/team,!legacy": "example.com/team,!legacy",
    "team=": "team=",
    "app.kubernetes.io/part-of=sealer": "app.kubernetes.io/part-of=sealer",
}


@pytest.mark.parametrize("text", sorted(SELECTORS))
def test_parse_selector_canonical_form(text: str) -> None:
    parsed = served.parse_selector(text)
    assert str(parsed) == SELECTORS[text]
    assert served.parse_selector(str(parsed)) == parsed


MATCHES = [  # selector, labels, expected (the Kubernetes meaning of each operator)
    ("team=payments", {"team": "payments"}, True),
    ("team=payments", {"team": "search"}, False),
    ("team=payments", {}, False),
    ("env!=dev", {}, True),  # != and notin also match objects without the label
    ("env!=dev", {"env": "dev"}, False),
    ("env!=dev", {"env": "prod"}, True),
    ("tier in (a,b)", {"tier": "b"}, True),
    ("tier in (a,b)", {}, False),
    ("tier notin (a,b)", {}, True),
    ("tier notin (a,b)", {"tier": "a"}, False),
    ("team", {"team": ""}, True),
    ("!team", {"team": ""}, False),
    ("!team", {}, True),
    ("team=", {"team": ""}, True),
    ("team=", {}, False),
    ("team=payments,env!=dev", {"team": "payments", "env": "dev"}, False),
    ("team=payments,env!=dev", {"team": "payments", "env": "prod"}, True),
]


@pytest.mark.parametrize(("text", "labels", "expected"), MATCHES)
def test_selector_matching(text: str, labels: dict, expected: bool) -> None:
    assert served.parse_selector(text).matches(labels) is expected


def test_selector_matching_agrees_with_the_api_emulator() -> None:
    """The same selector is evaluated by the API server (the watches) and by the handlers' filter: they must agree.
    The emulator's selector code is an independent implementation of the API server's."""
    texts = [t for t, _, _ in MATCHES] + list(SELECTORS)
    label_sets = [{}] + [dict(c) for n in (1, 2) for c in itertools.combinations(
        [("team", "payments"), ("env", "dev"), ("tier", "a"), ("example.com/team", "x"), ("legacy", "1")], n)]
    label_sets += [{"team": ""}, {"env": "prod", "team": "search"}, {"tier": "c"}]
    for text, labels in itertools.product(texts, label_sets):
        parsed = served.parse_selector(text)
        assert parsed.matches(labels) == all(p(labels) for p in parse_label_selector(str(parsed))), (text, labels)


def test_scope_decisions() -> None:
    everything = served.Served("sealer-system")
    assert everything.serves("any", {}) and everything.serves_namespace("any")
    assert everything.watched_namespaces() is None  # cluster-wide

    teams = served.Served("sealer-system", ("team-a", "team-b"), served.parse_selector("team=payments"))
    assert teams.watched_namespaces() == ["team-a", "team-b", "sealer-system"]  # the own one for keys
    assert teams.serves("team-a", {"team": "payments"})
    assert not teams.serves("team-a", {"team": "search"}) and not teams.serves("team-a", None)
    assert not teams.serves("team-c", {"team": "payments"})
    assert not teams.serves("sealer-system", {"team": "payments"})  # read for keys, not served
    assert not teams.serves_namespace("sealer-system") and teams.serves_namespace(None)  # None: cluster-scoped

    listed = served.Served("sealer-system", ("sealer-system", "team-a"))
    assert listed.watched_namespaces() == ["sealer-system", "team-a"]
    assert listed.serves("sealer-system", {})


def test_parse_args_flags_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEALER_NAMESPACES", raising=False)
    config, _ = parse_args([])
    assert config.namespaces == () and config.label_selector == ""
    config, _ = parse_args(["--namespaces", "b,a", "--label-selector", "team = payments, env notin (dev,ci)"])
    assert config.namespaces == ("b", "a") and config.label_selector == "team=payments,env notin (ci,dev)"
    monkeypatch.setenv("SEALER_NAMESPACES", "team-a,team-b")
    assert parse_args([])[0].namespaces == ("team-a", "team-b")
    assert parse_args(["--namespaces", "team-c"])[0].namespaces == ("team-c",)  # the flag wins
    monkeypatch.setenv("SEALER_NAMESPACES", "")
    assert parse_args([])[0].namespaces == ()  # an empty variable is an unset one
