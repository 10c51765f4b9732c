"""The cutover from Bitnami Sealed Secrets end to end (issue 15, "Tests"): the controller as its own process against
the API emulator, on a "cluster" as Bitnami leaves it, then `sealer migrate bitnami` and the re-apply.

The cluster: Bitnami's key Secrets of two generations (NotBefore 400 and 10 days ago) and the legacy unlabelled
`sealed-secrets-key`, copied newest first (so creationTimestamp and name both point at an old key: only NotBefore
picks the newest); the Secrets Bitnami's controller made (owned by their bitnami.com SealedSecret); bitnami.com
SealedSecrets sealed to each key by `sealer kubeseal --api-version bitnami.com/v1alpha1`: a multi-line Go template
in Bitnami's config-template style (toJson, printf, range, trim markers), `sealedsecrets.bitnami.com/managed` on a
Secret nobody owns, `sealedsecrets.bitnami.com/patch` on another, and the three scopes (the namespace-wide and
cluster-wide ones sealed under another name and moved, which only those scopes allow).

Sealer's controller starts with --import-bitnami-keys --bitnami-compat: no Secret's data changes by a byte (the
templated Secret is new: its items are what Go's text/template + sprig render), every SealedSecret is Synced=True and
Ready=True, the published cert is the newest key's. Then the files are migrated, the sealer.dev objects created and
the bitnami.com ones deleted as `kubectl delete --cascade=orphan` does: still not a byte changes, the Secrets now
belong to the sealer.dev objects. The planted values appear in no log, status or Event.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import urllib.request
from pathlib import Path

import pytest
import yaml
from sealer_testkit.apiserver import KubeServer

from controller import keyring as kr
from sealer.kube import CERTS_CONFIGMAP
from tests.bitnami_cluster import (
    BITNAMI,
    BITNAMI_RESOURCES,
    SEALER,
    b64,
    bitnami_key_secret,
    bitnami_secret,
    conditions,
    wait_synced,
)
from tests.cli_process import run_sealer
from tests.controller_process import NS, assert_no_leak, start_controller
from tests.gotemplate import reference

PLANT = "PLANTED-migration-7d3a"
APP = "app"
USER = "app&ops"  # Go's toJson writes & as \u0026: byte-identical means that too

# Bitnami's docs/examples/config-template style: one config file built from the sealed items
CONFIG_JSON = """{{- /* Bitnami's docs/examples/config-template style, with sprig */ -}}
{
  "db": {{ dict "user" .user "password" .password "port" "5432" | toJson }},
  "dsn": {{ printf "postgres://%s:%s@db.app.svc:5432/app?sslmode=%s" (.user | urlquery) (.password | urlquery) \
"require" | quote }},
  "hosts": [
{{- range $i, $h := list "a" "b" "c" }}
    {{- if $i }},{{ end }}
    "{{ $h }}.db.app.svc"
{{- end }}
  ]
}
"""
SETTINGS_INI = "[app]\nuser = {{ .user | upper }}\ntoken = {{ .password | b64enc }}\n"
CONFIG_ITEMS = {"user": USER, "password": f"{PLANT}-config"}
# what Go 1.19's text/template with sprig 3.2.3 renders (checked against Go itself when it is installed)
_PW = CONFIG_ITEMS["password"]
RENDERED = {
    "config.json": (
        "{\n"
        f'  "db": {{"password":"{_PW}","port":"5432","user":"app\\u0026ops"}},\n'  # sealer:allow credential (planted)
        f'  "dsn": "postgres://app%26ops:{_PW}@db.app.svc:5432/app?sslmode=require",\n'  # sealer:allow credential
        '  "hosts": [\n    "a.db.app.svc",\n    "b.db.app.svc",\n    "c.db.app.svc"\n  ]\n}\n').encode(),
    "settings.ini": b"[app]\nuser = APP&OPS\ntoken = " + base64.b64encode(_PW.encode()) + b"\n",
}


@pytest.fixture
def bkube(tmp_path: Path):
    with KubeServer(tmp_path / "kube", resources=BITNAMI_RESOURCES) as server:
        yield server


def kubeseal(cert: str, name: str, items: dict[str, str], *args: str, namespace: str = APP) -> dict:
    """A bitnami.com SealedSecret as a Bitnami user makes it: kubeseal (sealer's) from a Secret."""
    secret = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "stringData": items,
              "metadata": {"name": name, "namespace": namespace}}
    r = run_sealer("kubeseal", "--cert", cert, "--api-version", BITNAMI[0], "-o", "yaml", *args,
                   input=json.dumps(secret))
    assert r.returncode == 0, r.stderr
    return yaml.safe_load(r.stdout)


def moved(obj: dict, name: str, namespace: str = APP) -> dict:
    """The SealedSecret (and its template) renamed: only namespace-wide / cluster-wide ciphertexts still open."""
    for meta in (obj["metadata"], obj["spec"]["template"]["metadata"]):
        meta.update(name=name, namespace=namespace)
    return obj


def data_of(kube: KubeServer, name: str) -> dict[str, str]:
    return kube.client.get("v1", "Secret", name, APP)["data"]


def owner_uids(kube: KubeServer, name: str) -> list[str]:
    refs = kube.client.get("v1", "Secret", name, APP)["metadata"].get("ownerReferences") or []
    assert all(r.get("controller") for r in refs)
    return [r["uid"] for r in refs]


def delete_orphaning(kube: KubeServer, api: tuple[str, str], name: str, namespace: str) -> None:
    """`kubectl delete --cascade=orphan`: Kubernetes' garbage collector removes the object's uid from its
    dependents' ownerReferences, then the object goes. The emulator has no orphan propagation (it collects every
    dependent at once), so the first step is done here."""
    uid = kube.client.get(*api, name, namespace)["metadata"]["uid"]
    for secret in kube.client.list("v1", "Secret", namespace):
        refs = secret["metadata"].get("ownerReferences") or []
        if any(r.get("uid") == uid for r in refs):
            rest = [r for r in refs if r.get("uid") != uid]
            kube.client.patch("v1", "Secret", secret["metadata"]["name"],
                              {"metadata": {"ownerReferences": rest or None}}, namespace)
    kube.client.delete(*api, name, namespace)


def test_cutover_from_bitnami_changes_no_byte(bkube: KubeServer, tmp_path: Path) -> None:
    kube = bkube
    now, days = dt.datetime.now(dt.UTC), dt.timedelta(days=1)
    # --- Bitnami's keys, copied newest first: the two labelled generations (10 and 400 days) and the legacy
    # unlabelled one; the newest has the earliest creationTimestamp and name, so only NotBefore makes it the newest
    new, new_fp = bitnami_key_secret("sealed-secrets-keyaaaaa", now - 10 * days)
    old, old_fp = bitnami_key_secret("sealed-secrets-keyzzzzz", now - 400 * days)
    legacy_key, legacy_fp = bitnami_key_secret(kr.BITNAMI_LEGACY_NAME, now - 900 * days, labelled=False)
    kube.client.ensure_namespace(NS)
    pems = {}
    for label, key in (("new", new), ("old", old), ("legacy", legacy_key)):
        kube.client.create(key)
        pems[label] = base64.b64decode(key["data"]["tls.crt"]).decode()
        (tmp_path / f"{label}.pem").write_text(pems[label])
    certs = {"new": f"file://{tmp_path / 'new.pem'}", "old": str(tmp_path / "old.pem"),
             "legacy": str(tmp_path / "legacy.pem")}

    # --- the bitnami.com SealedSecrets, as in Git
    db = kubeseal(certs["legacy"], "db", {"password": f"{PLANT}-db", "user": "admin"})  # strict
    config = moved(kubeseal(certs["new"], "config-draft", CONFIG_ITEMS, "--scope", "namespace-wide"), "config")
    config["spec"]["template"]["data"] = {"config.json": CONFIG_JSON, "settings.ini": SETTINGS_INI}
    legacy = moved(kubeseal(certs["new"], "anything", {"api-key": f"{PLANT}-legacy"}, "--scope", "cluster-wide",
                            namespace="elsewhere"), "legacy-app")
    patched = kubeseal(certs["old"], "patched", {"password": f"{PLANT}-patched"})
    assert config["metadata"]["annotations"]["sealedsecrets.bitnami.com/namespace-wide"] == "true"
    assert legacy["metadata"]["annotations"]["sealedsecrets.bitnami.com/cluster-wide"] == "true"
    in_git = {"db": db, "config": config, "legacy-app": legacy, "patched": patched}
    planted = [PLANT, f"{PLANT}-db", f"{PLANT}-config", f"{PLANT}-legacy", f"{PLANT}-patched"]

    # --- the cluster Bitnami's controller leaves behind
    created = {name: kube.client.create(obj) for name, obj in in_git.items()}
    kube.client.create(bitnami_secret(created["db"], {"password": b64(f"{PLANT}-db"), "user": b64("admin")}))
    kube.client.create({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",  # made by hand, nobody's
                        "metadata": {"name": "legacy-app", "namespace": APP,
                                     "annotations": {"sealedsecrets.bitnami.com/managed": "true"}},
                        "data": {"api-key": b64(f"{PLANT}-legacy")}})
    kube.client.create({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",  # patched by Bitnami already
                        "metadata": {"name": "patched", "namespace": APP,
                                     "annotations": {"sealedsecrets.bitnami.com/patch": "true"}},
                        "data": {"theirs": b64("kept"), "password": b64(f"{PLANT}-patched")}})
    before = {name: data_of(kube, name) for name in ("db", "legacy-app", "patched")}
    if reference.missing() is None:
        assert reference.run([(CONFIG_JSON, CONFIG_ITEMS), (SETTINGS_INI, CONFIG_ITEMS)]) == [
            RENDERED["config.json"], RENDERED["settings.ini"]]
    before["config"] = {**{k: b64(v) for k, v in CONFIG_ITEMS.items()},
                        **{k: base64.b64encode(v).decode() for k, v in RENDERED.items()}}

    # --- sealer's controller in Bitnami's place
    proc, port = start_controller(kube, tmp_path, "--import-bitnami-keys", "--bitnami-compat")
    statuses = []
    for name in in_git:
        cond = wait_synced(kube, BITNAMI, name, APP, "True")
        assert cond["Ready"]["status"] == "True", (name, cond)
        statuses.append(kube.client.get(*BITNAMI, name, APP).get("status"))
    for name, data in before.items():
        assert data_of(kube, name) == data, name
    uids = {name: obj["metadata"]["uid"] for name, obj in created.items()}
    assert {name: owner_uids(kube, name) for name in in_git} == {
        "db": [uids["db"]], "config": [uids["config"]], "legacy-app": [uids["legacy-app"]], "patched": []}
    cm = kube.client.get("v1", "ConfigMap", CERTS_CONFIGMAP, NS)["data"]
    assert cm["fingerprint"] == new_fp not in (old_fp, legacy_fp) and cm["cert.pem"] == pems["new"]
    assert cm["certs.pem"].count("BEGIN CERTIFICATE") == 3
    served = urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/cert.pem", timeout=10).read().decode()
    assert served == pems["new"]
    assert kube.client.list("v1", "Secret", NS, label_selector=kr.LABEL) == []  # no key of sealer's own

    # --- the files in Git, migrated, applied; the bitnami.com objects deleted with --cascade=orphan
    files = {tmp_path / "apps.yaml": ["db", "config"], tmp_path / "legacy.yaml": ["legacy-app", "patched"]}
    original = {}
    for path, names in files.items():
        original[path] = "# sealed for the app team\n" + "---\n".join(
            yaml.safe_dump(in_git[n], sort_keys=False) for n in names)
        path.write_text(original[path])
    r = run_sealer("migrate", "bitnami", *files, "-i")
    assert r.returncode == 0, r.stderr
    assert "migrated 4 SealedSecrets in 2 files" in r.stderr
    for path, text in original.items():  # one line per SealedSecret, the rest byte for byte
        assert path.read_text() == text.replace(f"apiVersion: {BITNAMI[0]}\n", f"apiVersion: {SEALER[0]}\n")
    migrated = [d for path in files for d in yaml.safe_load_all(path.read_text())]
    assert [d["apiVersion"] for d in migrated] == [SEALER[0]] * 4
    assert [{**d, "apiVersion": BITNAMI[0]} for d in migrated] == [in_git[n] for names in files.values()
                                                                    for n in names]
    new_uids = {d["metadata"]["name"]: kube.client.create(d)["metadata"]["uid"] for d in migrated}

    def adopted() -> bool:
        return all(conditions(kube, SEALER, n, APP).get("Ready", {}).get("status") == "True" for n in in_git) and {
            n: owner_uids(kube, n) for n in in_git} == {**{n: [new_uids[n]] for n in in_git}, "patched": []}

    kube.client.wait_for(adopted, timeout=30, message="the sealer.dev SealedSecrets own their Secrets")
    # (adoption replaced the bitnami.com ownerReferences: even a delete without --cascade=orphan keeps the Secrets)
    # until the old objects go, both kinds are served: the bitnami.com ones step back (the Secret is no longer
    # theirs) and nothing flips back
    for name in ("db", "config", "legacy-app"):
        wait_synced(kube, BITNAMI, name, APP, "False")
        status = kube.client.get(*BITNAMI, name, APP).get("status")
        synced = {c["type"]: c for c in status["conditions"]}["Synced"]
        assert synced["reason"] == "Superseded" and "--cascade=orphan" in synced["message"], synced
        statuses.append(status)
    assert adopted() and all(data_of(kube, name) == data for name, data in before.items())
    for name in in_git:
        delete_orphaning(kube, BITNAMI, name, APP)
    assert kube.client.list(*BITNAMI, APP) == []
    log = proc.log_text()
    done = "SealedSecret resync: "  # two more passes over every SealedSecret, by the sealer.dev objects alone
    proc.wait_for_log(done, timeout=30, count=log.count(done) + 2)

    # --- nothing changed
    for name, data in before.items():
        assert data_of(kube, name) == data, name
    assert {n: owner_uids(kube, n) for n in in_git} == {**{n: [new_uids[n]] for n in in_git}, "patched": []}
    for name in in_git:
        cond = conditions(kube, SEALER, name, APP)
        assert cond["Ready"]["status"] == cond["Synced"]["status"] == "True", (name, cond)
        statuses.append(kube.client.get(*SEALER, name, APP).get("status"))
    assert "ERROR" not in proc.log_text()[len(log):] and "Traceback" not in proc.log_text()
    texts = {path: path.read_text() for path in files}
    mtimes = {path: path.stat().st_mtime_ns for path in files}
    again = run_sealer("migrate", "bitnami", *files, "-i")
    assert again.returncode == 0 and "migrated 0 SealedSecrets in 0 files" in again.stderr, again.stderr
    assert {p: p.read_text() for p in files} == texts and {p: p.stat().st_mtime_ns for p in files} == mtimes

    # --- the planted values: in no log, status or Event
    events = kube.client.events(APP) + kube.client.events(NS)
    assert events
    assert_no_leak(proc.log_text() + json.dumps(statuses) + json.dumps(events), *planted)
