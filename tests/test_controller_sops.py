"""SopsSecrets: what the controller makes of one, first as pure functions on the object the API server would
return (sorted keys, added metadata, status), then end to end with the controller process and the emulator.

Both writers are exercised: `sealer encrypt --kind sopssecret` and the real `sops` binary.
"""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import pytest
import yaml
from sealer_testkit.apiserver import KubeServer

from controller import agekeys, sopssecret
from sealer.kube import MANAGED_BY, MANAGED_BY_LABEL
from sealer.sops.binding import BOUND_REGEX
from tests.cli_process import run_sealer
from tests.controller_process import NS, secret_items, start_controller
from tests.sops_helpers import SOPS, AgeKey, Workspace, make_age_key, ok
from tests.sopssecret_objects import as_stored, identities_secret, ring

PLANT = "PLANTED-sops-value-91c2"
SECRET = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: app
  labels: {{app: billing}}
type: Opaque
stringData:
  username: admin
  password: {PLANT}
data:
  ca.crt: {base64.b64encode(b"-- not a real cert --").decode()}
"""
EXPECTED = {"username": b"admin", "password": PLANT.encode(), "ca.crt": b"-- not a real cert --"}


def decoded(secret: dict) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in secret["data"].items()}


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("sops-controller"))


@pytest.fixture(scope="module")
def cluster_key(ws: Workspace) -> AgeKey:
    return make_age_key(ws.root / "keys", "cluster")


@pytest.fixture(scope="module")
def by_sealer(ws: Workspace, cluster_key: AgeKey) -> dict:
    src = ws.write("db.yaml", SECRET)
    r = run_sealer("encrypt", "--age", cluster_key.recipient, "--kind", "sopssecret", src, env=ws.env())
    assert r.returncode == 0, r.stderr
    return yaml.safe_load(r.stdout)


@pytest.fixture(scope="module")
def by_sops(ws: Workspace, cluster_key: AgeKey) -> dict:
    """A SopsSecret written by hand and encrypted by the real sops binary, as the README tells sops users to."""
    if SOPS is None:
        pytest.skip("the sops binary is needed")
    src = ws.write("hand.yaml", f"""\
apiVersion: sealer.dev/v1alpha1
kind: SopsSecret
metadata:
  name: db
  namespace: app
spec:
  binding: app/*
  data:
    ca.crt: LS0gbm90IGEgcmVhbCBjZXJ0IC0t
  stringData:
    password: {PLANT}
    username: admin
  template:
    metadata:
      labels:
        app: billing
    type: Opaque
""")
    # sops 3.11 takes mac_only_encrypted from a .sops.yaml rule only
    ws.write(".sops.yaml", f"creation_rules:\n  - path_regex: hand\\.yaml$\n    encrypted_regex: '{BOUND_REGEX}'\n"
                           f"    mac_only_encrypted: true\n    age: {cluster_key.recipient}\n")
    out = ok(ws.sops("encrypt", src))
    return yaml.safe_load(out)


# --- pure: the object as the API server returns it ------------------------------------------------------------

@pytest.mark.parametrize("writer", ["by_sealer", "by_sops"])
def test_stored_sopssecret_becomes_the_secret(writer: str, request: pytest.FixtureRequest,
                                              cluster_key: AgeKey, kp2048) -> None:
    obj = as_stored(request.getfixturevalue(writer))
    out = sopssecret.desired(obj, ring(make_age_key(Path(str(kp2048.key_path.parent)) / "o", "other"),
                                       cluster_key), {})
    assert out.ready, out.message
    assert (out.reason, out.message) == ("Decrypted", "decrypted 3 items")
    secret = out.secret
    assert decoded(secret) == EXPECTED
    assert secret["metadata"]["labels"] == {"app": "billing", MANAGED_BY_LABEL: MANAGED_BY}
    assert secret["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert (secret["metadata"]["name"], secret["metadata"]["namespace"], secret["type"]) == ("db", "app", "Opaque")


def test_sealer_writes_sorted_keys_and_a_mac_over_encrypted_values(by_sealer: dict) -> None:
    assert by_sealer["sops"]["mac_only_encrypted"] is True
    assert list(by_sealer["spec"]) == sorted(by_sealer["spec"])
    assert list(by_sealer["spec"]["stringData"]) == ["password", "username"]


def test_the_real_sops_binary_decrypts_what_sealer_wrote(ws: Workspace, by_sealer: dict, cluster_key: AgeKey) -> None:
    if SOPS is None:
        pytest.skip("the sops binary is needed")
    path = ws.write("sealer-written.yaml", yaml.safe_dump(by_sealer, sort_keys=False))
    out = yaml.safe_load(ok(ws.sops("decrypt", path, key=cluster_key)))
    assert out["spec"]["stringData"]["password"] == PLANT


def test_wrong_identity_is_decrypt_failed(by_sealer: dict, ws: Workspace) -> None:
    out = sopssecret.desired(as_stored(by_sealer), ring(make_age_key(ws.root / "keys", "stranger")), {})
    assert (out.ready, out.reason) == (False, "DecryptFailed")
    assert "no identity opens the data key" in out.message and PLANT not in out.message


def test_no_identities_says_how_to_add_one(by_sealer: dict) -> None:
    out = sopssecret.desired(as_stored(by_sealer), [], {})
    assert (out.ready, out.reason) == (False, "NoIdentities")
    assert ".agekey" in out.message


@pytest.mark.parametrize("tamper", ["value", "removed", "reordered", "moved"])
def test_tampering_is_a_mac_mismatch(tamper: str, by_sealer: dict, cluster_key: AgeKey) -> None:
    obj = copy.deepcopy(by_sealer)
    string_data = obj["spec"]["stringData"]
    if tamper == "value":
        enc = string_data["password"]
        data = enc.split("data:")[1].split(",")[0]
        flipped = base64.b64encode(bytes([base64.b64decode(data)[0] ^ 1]) + base64.b64decode(data)[1:]).decode()
        string_data["password"] = enc.replace(f"data:{data},", f"data:{flipped},")
    elif tamper == "removed":
        del string_data["username"]
    elif tamper == "reordered":  # what an unsorted hand-written file looks like once the API server sorted it
        obj["spec"]["stringData"] = dict(reversed(list(string_data.items())))
    else:
        string_data["user2"] = string_data.pop("username")
    out = sopssecret.desired(json.loads(json.dumps(obj)), ring(cluster_key), {})
    assert (out.ready, out.reason) == (False, "MACMismatch"), out.message
    assert PLANT not in out.message


def test_vault_keys_need_a_configured_vault(by_sealer: dict, cluster_key: AgeKey) -> None:
    obj = copy.deepcopy(by_sealer)
    obj["sops"]["age"] = []
    obj["sops"]["hc_vault"] = [{"vault_address": "https://attacker.example", "engine_path": "transit",
                                "key_name": "k", "created_at": "2026-01-01T00:00:00Z", "enc": "vault:v1:AAAA"}]
    out = sopssecret.desired(obj, ring(cluster_key), {"VAULT_TOKEN": "s.planted-token"})
    assert (out.ready, out.reason) == (False, "DecryptFailed")  # other keys of the file would still be tried
    assert "no Vault configured" in out.message and "planted-token" not in out.message
    out = sopssecret.desired(obj, ring(cluster_key), {"VAULT_ADDR": "https://vault.internal:8200",
                                                      "VAULT_TOKEN": "s.planted-token"})
    assert (out.ready, out.reason) == (False, "DecryptFailed")
    assert "not VAULT_ADDR" in out.message and "planted-token" not in out.message


def test_age_ring_reads_every_agekey_item_and_skips_bad_ones(ws: Workspace) -> None:
    a, b = make_age_key(ws.root / "keys", "ring-a"), make_age_key(ws.root / "keys", "ring-b")
    r = agekeys.AgeRing()
    body = identities_secret(a)
    body["data"]["second.agekey"] = base64.b64encode(b.path.read_bytes()).decode()
    body["data"]["broken.agekey"] = base64.b64encode(b"AGE-SECRET-KEY-1NOTAKEY\n").decode()
    body["data"]["readme.txt"] = base64.b64encode(b"AGE-SECRET-KEY-1 ignored: not .agekey").decode()
    notes = r.sync(body)
    assert {i.recipient for i in r.identities()} == {a.recipient, b.recipient}
    assert any("broken.agekey" in n and "skipped" in n for n in notes)
    assert not any(a.identity in n or b.identity in n for n in notes)
    r.sync(body, deleted=True)
    assert len(r) == 0


# --- payloads in other stores: a dotenv item becomes items (spec.envs), JSON-store SopsSecrets ----------------

ENV_FILE = f"# database\nDB_USER=admin\nDB_PASSWORD={PLANT}\nMULTI=a\\nb\n"


def envs_sopssecret(ws: Workspace, key: AgeKey, env_text: str, name: str = "app", namespace: str = "app",
                    envs: list | None = None) -> dict:
    """`sealer encrypt --kind sopssecret` of a Secret holding a dotenv file as the item `app.env` (and `ca.crt`),
    with `spec.envs: [app.env]` added by hand in plaintext, as the README says."""
    src = ws.write(f"{namespace}-{name}-env.yaml", yaml.safe_dump({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
        "stringData": {"app.env": env_text}, "data": {"ca.crt": base64.b64encode(b"-- ca --").decode()}}))
    r = run_sealer("encrypt", "--age", key.recipient, "--kind", "sopssecret", src, env=ws.env())
    assert r.returncode == 0, r.stderr
    obj = yaml.safe_load(r.stdout)
    obj["spec"]["envs"] = ["app.env"] if envs is None else envs
    return obj


def test_dotenv_item_becomes_one_item_per_key(ws: Workspace, cluster_key: AgeKey) -> None:
    """Flux's secretGenerator `envs` for a decrypted .env: one item per KEY, by sops' dotenv rules (comments
    skipped, `\\n` a line break); the file item itself is not written."""
    out = sopssecret.desired(as_stored(envs_sopssecret(ws, cluster_key, ENV_FILE)), ring(cluster_key), {})
    assert (out.ready, out.reason, out.message) == (True, "Decrypted", "decrypted 4 items")
    assert decoded(out.secret) == {"DB_USER": b"admin", "DB_PASSWORD": PLANT.encode(), "MULTI": b"a\nb",
                                   "ca.crt": b"-- ca --"}


@pytest.mark.parametrize(("env_text", "envs", "words"), [
    ("../escape=1\n", None, "not a valid Secret item name"),
    ("kube-system/db=1\n", None, "not a valid Secret item name"),
    ("A=1\nA=2\n", None, "sets 'A' twice"),
    (f"ca.crt={PLANT}\n", None, "sets 'ca.crt', which is already an item"),
    (f"A={PLANT}\nsops_mac=ENC[x]\n", None, "has sops_* lines"),
    (f"A=1\n{PLANT}\n", None, "no '='"),
    ("A=1\n", ["missing.env"], "names no item"),
    ("A=1\n", "app.env", "must be a list"),
])
def test_hostile_dotenv_payload_is_invalid_spec(ws: Workspace, cluster_key: AgeKey, env_text: str, envs,
                                                words: str) -> None:
    """A tenant's dotenv item cannot step outside its Secret's items: a key naming a path or another Secret, a key
    set twice, one that would overwrite another item, or sops' metadata prefix are refused, no Secret is built,
    and the message names the item, never a value."""
    obj = envs_sopssecret(ws, cluster_key, env_text, envs=envs)
    out = sopssecret.desired(as_stored(obj), ring(cluster_key), {})
    assert (out.ready, out.reason) == (False, "InvalidSpec"), out.message
    assert words in out.message and "spec.envs" in out.message and PLANT not in out.message
    assert out.secret is None


_DESIRED_IN_A_PROCESS = """
import json, sys
from pathlib import Path
from controller import sopssecret
from tests.sops_helpers import AgeKey
from tests.sopssecret_objects import as_stored, ring
obj, key = json.loads(Path(sys.argv[1]).read_text()), AgeKey(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
out = sopssecret.desired(as_stored(obj), ring(key), {})
print(json.dumps([out.ready, out.secret is None, out.message]))
"""


@pytest.mark.parametrize("field", ["encrypted_regex", "unencrypted_regex", "encrypted_comment_regex"])
def test_a_catastrophic_rule_regex_is_refused_not_run(by_sealer: dict, cluster_key: AgeKey, field: str,
                                                      tmp_path: Path) -> None:
    """A tenant writes the sops metadata, rule regexes included: `^(a+)+$` on a key of 40 `a`s and a `!` would
    backtrack for hours in Python's re (sops' RE2 is linear; re holds the GIL, so the whole controller stalls).
    It is refused unrun. Run in a process of its own: a regression hangs that process, not the test run."""
    import subprocess
    import sys

    obj = copy.deepcopy(by_sealer)
    meta = obj["sops"]
    for f in ("encrypted_regex", "unencrypted_regex", "encrypted_suffix", "unencrypted_suffix"):
        meta.pop(f, None)
    meta[field] = "^(a+)+$"
    obj["spec"]["stringData"]["a" * 40 + "!"] = "x"
    (tmp_path / "obj.json").write_text(json.dumps(obj))
    root = Path(__file__).resolve().parents[1]
    try:
        r = subprocess.run([sys.executable, "-c", _DESIRED_IN_A_PROCESS, str(tmp_path / "obj.json"),
                            cluster_key.identity, cluster_key.recipient, str(cluster_key.path)],
                           capture_output=True, text=True, cwd=root, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("the controller ran the regex (still backtracking after 120 s)")
    assert r.returncode == 0, r.stderr[-2000:]
    ready, no_secret, message = json.loads(r.stdout)
    assert not ready and no_secret and "too costly" in message and field in message, message


@pytest.mark.parametrize("writer", ["sealer", "sops"])
def test_json_store_sopssecret(writer: str, ws: Workspace, cluster_key: AgeKey) -> None:
    """A SopsSecret written as JSON (the JSON store) opens like a YAML one, from either writer."""
    if writer == "sealer":
        src = ws.write("db-secret.json", json.dumps(yaml.safe_load(SECRET)))
        r = run_sealer("encrypt", "--age", cluster_key.recipient, "--kind", "sopssecret", src, env=ws.env())
        assert r.returncode == 0, r.stderr
        text = r.stdout
    else:
        if SOPS is None:
            pytest.skip("the sops binary is needed")
        src = ws.write("hand.json", json.dumps({
            "apiVersion": "sealer.dev/v1alpha1", "kind": "SopsSecret", "metadata": {"name": "db", "namespace": "app"},
            "spec": {"binding": "app/db", "data": {"ca.crt": base64.b64encode(b"-- not a real cert --").decode()},
                     "stringData": {"password": PLANT, "username": "admin"},
                     "template": {"metadata": {"labels": {"app": "billing"}}, "type": "Opaque"}}}, indent=2))
        ws.write(".sops.yaml", f"creation_rules:\n  - path_regex: hand\\.(yaml|json)$\n    encrypted_regex: "
                               f"'{BOUND_REGEX}'\n    mac_only_encrypted: true\n    age: {cluster_key.recipient}\n")
        text = ok(ws.sops("encrypt", src))
    assert text.lstrip().startswith("{")
    out = sopssecret.desired(as_stored(json.loads(text)), ring(cluster_key), {})
    assert (out.ready, out.reason) == (True, "Decrypted"), out.message
    assert decoded(out.secret) == EXPECTED


# --- end to end: the controller process and the emulator -------------------------------------------------------

def _ready(kube: KubeServer, name: str, namespace: str, status: str, timeout: float = 30) -> dict:
    def cond():
        obj = kube.client.find("sealer.dev/v1alpha1", "SopsSecret", name, namespace) or {}
        conds = (obj.get("status") or {}).get("conditions") or []
        return conds[0] if conds and conds[0]["status"] == status else None

    return kube.client.wait_for(cond, timeout=timeout, message=f"SopsSecret {namespace}/{name} Ready={status}")


def test_controller_decrypts_sopssecrets_from_both_writers(kube: KubeServer, tmp_path: Path, by_sealer: dict,
                                                           by_sops: dict, cluster_key: AgeKey, ws: Workspace) -> None:
    for ns in (NS, "app", "team"):
        kube.client.ensure_namespace(ns)
    proc, _port = start_controller(kube, tmp_path)
    # a SopsSecret before any identity exists: NoIdentities, and it heals once the identity Secret arrives
    kube.client.create(as_api(by_sealer))
    assert _ready(kube, "db", "app", "False")["reason"] == "NoIdentities"
    kube.client.create(identities_secret(cluster_key))
    proc.wait_for_log("age identities from Secret sealer-age: 1", timeout=30)
    _ready(kube, "db", "app", "True", timeout=30)  # the 2 s resync retries it
    assert secret_items(kube, "db", "app") == EXPECTED
    secret = kube.client.get("v1", "Secret", "db", "app")
    assert secret["metadata"]["ownerReferences"][0]["kind"] == "SopsSecret"

    # written by the real sops binary, bound by hand to the namespace (spec.binding: app/*): any name in app
    other = as_api(by_sops)
    other["metadata"]["name"] = "db2"
    kube.client.create(other)
    _ready(kube, "db2", "app", "True")
    assert secret_items(kube, "db2", "app") == EXPECTED
    copied = as_api(by_sops)
    copied["metadata"]["namespace"] = "team"  # metadata is outside a mac_only_encrypted MAC: the binding is not
    kube.client.create(copied)
    assert "bound to app/*" in _ready(kube, "db", "team", "False")["message"]
    assert secret_items(kube, "db", "team") is None

    # tamper: remove an item in place → MACMismatch, and the good Secret stays byte-identical
    before = kube.client.get("v1", "Secret", "db", "app")["data"]
    live = kube.client.get("sealer.dev/v1alpha1", "SopsSecret", "db", "app")
    del live["spec"]["stringData"]["username"]
    kube.client.replace(live)
    cond = kube.client.wait_for(
        lambda: (c := ((kube.client.get("sealer.dev/v1alpha1", "SopsSecret", "db", "app").get("status") or {})
                       .get("conditions") or [{}])[0]) and c.get("reason") == "MACMismatch" and c,
        timeout=30, message="MACMismatch")
    assert cond["status"] == "False"
    assert kube.client.get("v1", "Secret", "db", "app")["data"] == before

    # drift: a hand edit of the produced Secret is put back
    kube.client.patch("v1", "Secret", "db2", {"data": {"password": base64.b64encode(b"hand").decode()}}, "app")
    kube.client.wait_for(lambda: secret_items(kube, "db2", "app") == EXPECTED, timeout=30, message="restored")

    # nothing secret in the log, the events or the status
    text = proc.log_text()
    events = json.dumps(kube.client.events())
    status = json.dumps([o.get("status") for o in kube.client.list("sealer.dev/v1alpha1", "SopsSecret")])
    for where in (text, events, status):
        assert PLANT not in where and cluster_key.identity not in where
    assert "restored it from the SopsSecret" in events


def as_api(obj: dict) -> dict:
    """How a client sends it: the API server will sort keys anyway; the emulator keeps order, so sort here."""
    return json.loads(json.dumps(obj, sort_keys=True))


def test_vault_transit_sopssecret_opens_with_the_controllers_vault(openbao, tmp_path: Path) -> None:
    """A SopsSecret wrapped for Vault Transit on a real OpenBao: opens with the controller's VAULT_ADDR and
    VAULT_TOKEN; the same file naming another server is refused before any token is sent."""
    openbao.enable_transit()
    openbao.create_transit_key("cluster")
    src = tmp_path / "db.yaml"
    src.write_text(SECRET)
    env = {k: v for k, v in openbao.env().items() if not k.startswith("SOPS_")}
    r = run_sealer("encrypt", "--hc-vault-transit", f"{openbao.addr}/v1/transit/keys/cluster", "--kind",
                   "sopssecret", src, env={**env, "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    obj = as_stored(yaml.safe_load(r.stdout))
    controller_env = {"VAULT_ADDR": openbao.addr, "VAULT_TOKEN": env["VAULT_TOKEN"]}
    out = sopssecret.desired(obj, [], controller_env)
    assert out.ready, out.message
    assert decoded(out.secret) == EXPECTED
    out = sopssecret.desired(obj, [], {**controller_env, "VAULT_ADDR": "http://127.0.0.1:1"})
    assert (out.ready, out.reason) == (False, "DecryptFailed")
    assert env["VAULT_TOKEN"] not in out.message


def test_controller_expands_dotenv_items_and_holds_tenants_to_their_own(kube: KubeServer, tmp_path: Path,
                                                                        ws: Workspace, cluster_key: AgeKey) -> None:
    """End to end: a SopsSecret whose dotenv item becomes items; a tenant (namespace `team`, which can encrypt for
    the cluster's public recipient too) whose dotenv names `app`'s namespace and Secret gets only items of its own
    Secret, one that would overwrite another item gets InvalidSpec and no Secret, and app's SopsSecret copied
    into `team` is a ScopeMismatch. app's Secret stays byte-identical throughout."""
    for ns in (NS, "app", "team"):
        kube.client.ensure_namespace(ns)
    kube.client.create(identities_secret(cluster_key))
    proc, _port = start_controller(kube, tmp_path)
    app = envs_sopssecret(ws, cluster_key, ENV_FILE)
    kube.client.create(as_api(app))
    _ready(kube, "app", "app", "True")
    want = {"DB_USER": b"admin", "DB_PASSWORD": PLANT.encode(), "MULTI": b"a\nb", "ca.crt": b"-- ca --"}
    assert secret_items(kube, "app", "app") == want
    before = kube.client.get("v1", "Secret", "app", "app")["data"]

    hostile = envs_sopssecret(ws, cluster_key, "namespace=app\nname=app\nDB_PASSWORD=pwned\n", namespace="team")
    kube.client.create(as_api(hostile))
    _ready(kube, "app", "team", "True")
    assert secret_items(kube, "app", "team") == {"namespace": b"app", "name": b"app", "DB_PASSWORD": b"pwned",
                                                 "ca.crt": b"-- ca --"}
    clash = envs_sopssecret(ws, cluster_key, "ca.crt=evil\n", name="clash", namespace="team")
    kube.client.create(as_api(clash))
    cond = _ready(kube, "clash", "team", "False")
    assert cond["reason"] == "InvalidSpec" and "already an item" in cond["message"]
    assert secret_items(kube, "clash", "team") is None
    copied = as_api(app)
    copied["metadata"]["namespace"] = "team"
    copied["metadata"]["name"] = "copied"
    kube.client.create(copied)
    assert _ready(kube, "copied", "team", "False")["reason"] == "ScopeMismatch"
    assert secret_items(kube, "copied", "team") is None
    assert kube.client.get("v1", "Secret", "app", "app")["data"] == before
    everything = proc.log_text() + json.dumps(kube.client.events()) + json.dumps(
        [o.get("status") for o in kube.client.list("sealer.dev/v1alpha1", "SopsSecret")])
    assert PLANT not in everything and "pwned" not in everything
