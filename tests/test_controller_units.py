"""The controller's pure decisions: Secret ownership and take-over, the key ring, renewal, durations.

These cover what the API emulator cannot show: it has no admission, and conflicts/garbage collection in a real
cluster differ; here the decisions are checked directly."""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from controller import keyring as kr
from controller import sealed, secrets
from controller.config import parse_duration
from sealer.kube import MANAGED_BY, MANAGED_BY_LABEL
from sealer.sealed import sealedsecret as sealer_sealed
from sealer.sealed.hybrid import Scope

UID = "uid-123"


def desired(data: dict[str, str] | None = None, owner: bool = True) -> dict:
    meta: dict = {"name": "db", "namespace": "app", "labels": {MANAGED_BY_LABEL: MANAGED_BY}}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "sealer.dev/v1alpha1", "kind": "SealedSecret", "name": "db",
                                    "uid": UID, "controller": True}]
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
            "data": data if data is not None else {"p": "eA=="}}


def existing(data: dict[str, str], owner_uid: str | None = None, annotations: dict | None = None,
             labels: dict | None = None, immutable: bool = False) -> dict:
    meta: dict = {"name": "db", "namespace": "app", "annotations": annotations or {}, "labels": labels or {}}
    if owner_uid:
        meta["ownerReferences"] = [{"kind": "SealedSecret", "name": "db", "uid": owner_uid, "controller": True}]
    return {"metadata": meta, "type": "Opaque", "data": data, **({"immutable": True} if immutable else {})}


def test_plan_creates_when_missing() -> None:
    assert secrets.plan(None, desired(), UID).action == secrets.CREATE


def test_plan_is_a_noop_when_already_right() -> None:
    assert secrets.plan(existing({"p": "eA=="}, UID, labels={MANAGED_BY_LABEL: "sealer"}), desired(),
                        UID).action == secrets.NOOP


def test_plan_updates_owned_secret_and_drops_items_no_longer_sealed() -> None:
    step = secrets.plan(existing({"p": "b2xk", "gone": "eA=="}, UID), desired(), UID)
    assert step.action == secrets.UPDATE and step.reason == "Updated"
    assert step.body["data"] == {"gone": None, "p": "eA=="}  # merge-patch null deletes the stale key


def test_plan_refuses_a_secret_it_does_not_own() -> None:
    step = secrets.plan(existing({"p": "b2xk"}), desired(), UID)
    assert step.action == secrets.REFUSE and step.reason == "NotOwned" and "sealer.dev/managed" in step.message
    other_owner = secrets.plan(existing({"p": "b2xk"}, "someone-else"), desired(), UID)
    assert other_owner.action == secrets.REFUSE


def test_plan_takes_over_when_annotated_managed() -> None:
    step = secrets.plan(existing({"p": "b2xk"}, annotations={secrets.MANAGED_ANNOTATION: "true"}), desired(), UID)
    assert step.action == secrets.UPDATE and step.reason == "TakenOver"
    assert step.body["metadata"]["ownerReferences"][0]["uid"] == UID


def test_plan_merges_only_items_when_annotated_patch() -> None:
    current = existing({"p": "b2xk", "theirs": "eQ=="}, "other-owner", annotations={secrets.PATCH_ANNOTATION: "true"})
    step = secrets.plan(current, desired(), UID)
    assert step.action == secrets.UPDATE and step.body == {"data": {"p": "eA=="}}  # their items and owner stay
    current["data"]["p"] = "eA=="
    assert secrets.plan(current, desired(), UID).action == secrets.NOOP


def test_plan_refuses_to_change_an_immutable_secret() -> None:
    step = secrets.plan(existing({"p": "b2xk"}, UID, immutable=True), desired(), UID)
    assert step.action == secrets.REFUSE and step.reason == "Immutable"


@pytest.mark.parametrize("annotation", [None, secrets.MANAGED_ANNOTATION, secrets.PATCH_ANNOTATION])
def test_plan_refuses_a_secret_another_sealer_source_produces(annotation: str | None) -> None:
    """Two sources naming one Secret: the second gets Conflict, whatever the Secret opts into, so the two never
    take it from each other in turn."""
    current = existing({"p": "b2xk"}, annotations={annotation: "true"} if annotation else None)
    current["metadata"]["ownerReferences"] = [{"apiVersion": "sealer.dev/v1alpha1", "kind": "SopsSecret",
                                               "name": "db", "uid": "the-first", "controller": True}]
    step = secrets.plan(current, desired(), UID)
    assert (step.action, step.reason) == (secrets.REFUSE, "Conflict") and "SopsSecret db" in step.message
    assert secrets.plan(current, desired(), "the-first").action != secrets.REFUSE  # the first keeps it


def test_a_bitnami_sealedsecret_whose_secret_was_adopted_is_told_it_is_superseded() -> None:
    """During the migration both objects exist: the bitnami.com one steps back with the next step to take; any
    other object meeting a sealer.dev producer (a VaultSecret of the same name, a recreated SealedSecret) is still
    a Conflict."""
    current = existing({"p": "eA=="})
    current["metadata"]["ownerReferences"] = [{"apiVersion": "sealer.dev/v1alpha1", "kind": "SealedSecret",
                                               "name": "db", "uid": "the-sealer-one", "controller": True}]
    bitnami = {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "db", "uid": UID}}
    assert secrets._adopted_from(current, bitnami)
    step = secrets.plan(current, desired(), UID, superseded=True)
    assert (step.action, step.reason) == (secrets.REFUSE, "Superseded") and "--cascade=orphan" in step.message
    for other in ({**bitnami, "apiVersion": "sealer.dev/v1alpha1"}, {**bitnami, "kind": "VaultSecret"},
                  {**bitnami, "metadata": {"name": "other", "uid": UID}}):
        assert not secrets._adopted_from(current, other)
    assert secrets.plan(current, desired(), UID).reason == "Conflict"


def test_skip_owner_references_is_recognised_by_label() -> None:
    mine = existing({"p": "b2xk"}, labels={MANAGED_BY_LABEL: MANAGED_BY})
    assert secrets.plan(mine, desired(owner=False), UID).action == secrets.UPDATE
    assert secrets.plan(existing({"p": "b2xk"}), desired(owner=False), UID).action == secrets.REFUSE


def test_desired_secret_and_failure_reasons(kp2048, kp2048b) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "app"},
              "stringData": {"p": "PLANTED-unit"}}
    obj = sealer_sealed.seal_secret(secret, kp2048.cert, scope=Scope.STRICT)
    obj["metadata"]["uid"] = UID
    ok = sealed.desired(obj, [kp2048.private])
    assert ok.ready and base64.b64decode(ok.secret["data"]["p"]) == b"PLANTED-unit"
    assert ok.secret["metadata"]["ownerReferences"][0]["uid"] == UID
    assert sealed.desired(obj, []).reason == "NoKeys"
    bad = sealed.desired(obj, [kp2048b.private])
    assert not bad.ready and bad.reason == "UnsealFailed" and "PLANTED" not in bad.message
    obj["spec"]["template"]["metadata"]["annotations"] = {sealed.SKIP_OWNER_ANNOTATION: "true"}
    assert "ownerReferences" not in sealed.desired(obj, [kp2048.private]).secret["metadata"]
    assert sealed.desired({"kind": "SealedSecret", "apiVersion": "sealer.dev/v1alpha1", "metadata": {"name": "x"}},
                          [kp2048.private]).reason == "InvalidSpec"


def test_keyring_tracks_key_secrets_and_orders_newest_first() -> None:
    ring = kr.Keyring()
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    old = kr.new_key_secret("ns", bits=2048, now=t0)
    new = kr.new_key_secret("ns", bits=2048, now=t0 + dt.timedelta(days=31))
    assert ring.sync(old, import_bitnami=False).startswith("loaded key")
    ring.sync(new, import_bitnami=False)
    assert [k.name for k in ring.all()] == [new["metadata"]["name"], old["metadata"]["name"]]
    assert ring.needs_renewal(dt.timedelta(days=30), now=t0 + dt.timedelta(days=40)) is False
    assert ring.needs_renewal(dt.timedelta(days=30), now=t0 + dt.timedelta(days=62)) is True
    assert ring.needs_renewal(dt.timedelta(0), now=t0 + dt.timedelta(days=999)) is False
    relabelled = {**old, "metadata": {**old["metadata"], "labels": {kr.LABEL: "compromised"}}}
    assert ring.sync(relabelled, import_bitnami=False).startswith("removed key")
    assert len(ring) == 1
    cm = kr.certs_configmap("ns", ring)
    assert cm["data"]["fingerprint"] == ring.current().fingerprint
    assert "BEGIN CERTIFICATE" in cm["data"]["cert.pem"] and "PRIVATE" not in repr(cm)


def test_keyring_ignores_broken_key_secrets_without_leaking() -> None:
    ring = kr.Keyring()
    broken = kr.new_key_secret("ns", bits=2048)
    pem = b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"
    broken["data"]["tls.key"] = base64.b64encode(pem).decode()
    note = ring.sync(broken, import_bitnami=False)
    assert note.startswith("ignored key Secret") and len(ring) == 0 and "AAAA" not in note


def test_bitnami_keys_only_with_the_import_flag() -> None:
    ring = kr.Keyring()
    bitnami = kr.new_key_secret("ns", bits=2048)
    bitnami["metadata"]["labels"] = {kr.BITNAMI_LABEL: "active"}
    assert ring.sync(bitnami, import_bitnami=False) is None and len(ring) == 0
    ring.sync(bitnami, import_bitnami=True)
    assert len(ring) == 1


@pytest.mark.parametrize(("text", "seconds"), [("30d", 2592000), ("12h", 43200), ("15m", 900), ("90s", 90),
                                               ("0", 0), ("500ms", 0.5)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_bad_duration() -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration("monthly")


def test_key_generations_are_named_deterministically() -> None:
    ring = kr.Keyring()
    assert kr.next_key_name(ring) == "sealer-key-00001"
    ring.sync(kr.new_key_secret("ns", bits=2048, name="sealer-key-00001"), import_bitnami=False)
    ring.sync(kr.new_key_secret("ns", bits=2048, name="imported-by-hand"), import_bitnami=False)
    assert kr.next_key_name(ring) == "sealer-key-00002"  # two replicas renewing now pick the same name


def test_apply_configmap_survives_a_replica_creating_it_first() -> None:
    """Two replicas start together: both find no `sealer-certs` (404), one creates it, the other's create gets 409
    and must patch instead of crashing its startup (seen once in CI with two replicas). The emulator cannot order
    that race on demand, so the API calls are scripted here; the decision is what is tested."""
    import kubernetes

    from controller.kube import Kube

    calls = []

    def call(method, path, query=None, body=None, content_type="application/json"):
        calls.append(method)
        if calls == ["PATCH"]:
            raise kubernetes.client.ApiException(status=404)
        if method == "POST":
            raise kubernetes.client.ApiException(status=409)
        return {}

    kube = Kube.__new__(Kube)
    kube._k, kube._call = kubernetes, call
    kube.apply_configmap("sealer-system", {"metadata": {"name": "sealer-certs"}})
    assert calls == ["PATCH", "POST", "PATCH"]
