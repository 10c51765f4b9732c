"""What a VaultSecret reads, with External Secrets Operator's semantics: nested `property` paths,
`decodingStrategy`, `metadataPolicy: Fetch`, `dataFrom[].extract` / `find` / `rewrite`, `sourceRef` per item.

Parsing and building are pure (controller/vault/data.py); the store client's LIST and metadata reads and the find
walk run against a real OpenBao dev server; one controller end-to-end test puts them together.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from sealer_testkit.apiserver import KubeServer

from controller.vault import data as vdata
from controller.vault import fetch as vfetch
from controller.vault import spec as vs
from controller.vault import store as vstore
from controller.vault.client import StoreClient, VaultError
from controller.vault.fields import SecretKeyRef, SpecError
from tests.controller_process import assert_no_leak
from tests.openbao import Bao, kv2_put
from tests.vault_resources import (
    CSTORE,
    VS,
    start_vault_controller,
    store,
    token_auth,
    token_secret,
    vault_secret,
    wait_cond,
    wait_items,
)

# --- helpers ------------------------------------------------------------------------------------------------


def vsec(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "sealer.dev/v1alpha1", "kind": "VaultSecret",
            "metadata": {"name": "db", "namespace": "app", "uid": "uid-1"},
            "spec": {"storeRef": {"name": "v"}, **spec}}


def parse(**spec: Any) -> vs.VaultSecretSpec:
    return vs.parse_vault_secret(vsec(**spec))


def b64(text: str, url: bool = False) -> str:
    raw = text.encode()
    return (base64.urlsafe_b64encode(raw) if url else base64.b64encode(raw)).decode()


class TokenCredentials:
    """The one credential the store client asks for here: OpenBao's root token."""

    def __init__(self, token: str) -> None:
        self.token = token

    def secret_value(self, ref: SecretKeyRef) -> str:
        return self.token

    def service_account_token(self, namespace: str, name: str, audiences: tuple[str, ...]) -> str:
        raise AssertionError("not used")


def client_for(bao: Bao, token: str | None = None, **spec: Any) -> StoreClient:
    obj = {"apiVersion": "sealer.dev/v1alpha1", "kind": "VaultStore", "metadata": {"name": "v", "namespace": "app"},
           "spec": {"server": bao.addr, "auth": {"token": {"secretRef": {"name": "t", "key": "token"}}}, **spec}}
    return StoreClient(vstore.parse_store(obj), TokenCredentials(token or bao.token))


def uniq(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


# --- parsing ------------------------------------------------------------------------------------------------


def test_parse_every_field() -> None:
    s = parse(data=[
        {"secretKey": "a", "remoteRef": {"path": "p", "property": "x.y", "decodingStrategy": "Base64URL"}},
        {"secretKey": "m", "remoteRef": {"path": "/p/", "property": "owner", "metadataPolicy": "Fetch"},
         "sourceRef": {"storeRef": {"kind": "ClusterVaultStore", "name": "shared"}}},
        {"secretKey": "v", "remoteRef": {"path": "p", "version": "3"}}],
        dataFrom=[
            {"path": "q", "property": "nested", "version": 2, "decodingStrategy": "Auto",
             "conversionStrategy": "Unicode"},
            {"extract": {"key": "r", "metadataPolicy": "Fetch"}, "sourceRef": {"storeRef": {"name": "other"}},
             "rewrite": [{"regexp": {"source": "^(.*)$", "target": "m_$1"}}]},
            {"find": {"path": "team/", "name": {"regexp": "db$"}, "decodingStrategy": "Base64"},
             "rewrite": [{"transform": {"template": "{{ .value | upper }}"}}]},
            {"find": {}}])
    assert s.data == (
        vdata.DataRef("a", "p", "x.y", None, "Base64URL"),
        vdata.DataRef("m", "p", "owner", None, "None", True, vdata.StoreRef("ClusterVaultStore", "shared")),
        vdata.DataRef("v", "p", None, 3))
    assert s.data_from == (
        vdata.DataFrom("q", "nested", 2, "Auto", False, "Unicode"),
        vdata.DataFrom("r", None, None, "None", True, "Default",
                       rewrite=(vdata.Rewrite("^(.*)$", "m_$1"),), store=vdata.StoreRef("VaultStore", "other")),
        vdata.DataFrom(decoding="Base64", conversion="Default", find=vdata.Find("team", "db$"),
                       rewrite=(vdata.Rewrite(template="{{ .value | upper }}"),)),
        vdata.DataFrom(conversion="Default", find=vdata.Find("", None)))
    # finds list first; the reads they lead to come next, keyed per store; metadata reads are their own reads
    assert [i for i, _ in vdata.finds(s)] == [2, 3]
    assert vdata.reads(s, {2: ("team/db",), 3: ("team/db", "x")}) == [
        ("q", 2), ("r", None, vdata.StoreRef("VaultStore", "other"), True), ("team/db", None), ("x", None),
        ("p", None), ("p", None, vdata.StoreRef("ClusterVaultStore", "shared"), True), ("p", 3)]


@pytest.mark.parametrize(("spec", "says"), [
    ({"data": [{"secretKey": "a", "remoteRef": {"path": "p", "decodingStrategy": "Hex"}}]},
     "spec.data[0].remoteRef.decodingStrategy: must be None, Base64, Base64URL or Auto"),
    ({"data": [{"secretKey": "a", "remoteRef": {"path": "p", "metadataPolicy": "Yes"}}]},
     "spec.data[0].remoteRef.metadataPolicy: must be None or Fetch"),
    ({"data": [{"secretKey": "a", "remoteRef": {"path": "p", "metadataPolicy": "Fetch", "version": 2}}]},
     "spec.data[0].remoteRef.version: is not valid with metadataPolicy Fetch"),
    ({"data": [{"secretKey": "a", "remoteRef": {"path": "p", "version": "two"}}]},
     "spec.data[0].remoteRef.version: must be a positive integer"),
    ({"data": [{"secretKey": "a", "remoteRef": {"path": "p"}, "sourceRef": {"storeRef": {"kind": "SecretStore",
                                                                                       "name": "x"}}}]},
     "spec.data[0].sourceRef.storeRef.kind: must be VaultStore or ClusterVaultStore"),
    ({"data": [{"secretKey": "a", "remoteRef": {"path": "p"}, "sourceRef": {"storeRef": {"name": "../x"}}}]},
     "spec.data[0].sourceRef.storeRef.name: must be a valid VaultStore name"),
    ({"data": [{"secretKey": "a", "remoteRef": {"path": "p"}, "sourceRef": {"generatorRef": {"name": "g"}}}]},
     "spec.data[0].sourceRef.generatorRef: is not supported"),
    ({"dataFrom": [{}]}, "spec.dataFrom[0].path: is required"),
    ({"dataFrom": [{"path": "a", "find": {}}]}, "spec.dataFrom[0]: set exactly one of path, extract or find"),
    ({"dataFrom": [{"extract": {"property": "x"}}]}, "spec.dataFrom[0].extract.key: is required"),
    ({"dataFrom": [{"extract": "a"}]}, "spec.dataFrom[0].extract: must be an object"),
    ({"dataFrom": [{"path": "a", "conversionStrategy": "Lower"}]},
     "spec.dataFrom[0].conversionStrategy: must be Default or Unicode"),
    ({"dataFrom": [{"find": {"path": "../../sys"}}]}, "spec.dataFrom[0].find.path: must not contain"),
    ({"dataFrom": [{"find": {"tags": {"a": "b"}}}]}, "spec.dataFrom[0].find.tags: is not supported"),
    ({"dataFrom": [{"find": {"name": {"regexp": "(a"}}}]}, "spec.dataFrom[0].find.name.regexp: error parsing"),
    ({"dataFrom": [{"find": {"name": "x"}}]}, "spec.dataFrom[0].find.name: must be an object"),
    ({"dataFrom": [{"path": "a", "rewrite": [{"regexp": {"source": "(x+)+$", "target": ""}}]}]},
     "spec.dataFrom[0].rewrite[0].regexp.source: regular expression too costly"),
    ({"dataFrom": [{"path": "a", "rewrite": [{"merge": {}}]}]}, "spec.dataFrom[0].rewrite[0].merge: is not supported"),
    ({"dataFrom": [{"path": "a", "rewrite": [{"regexp": {"source": "a", "target": "b"}, "transform": {}}]}]},
     "spec.dataFrom[0].rewrite[0]: needs exactly one of regexp or transform"),
    ({"dataFrom": [{"path": "a", "rewrite": [{"transform": {"template": "{{ .value"}}]}]},
     "spec.dataFrom[0].rewrite[0].transform.template: template syntax error"),
    ({"dataFrom": [{"path": "a", "rewrite": [{"transform": {}}]}]},
     "spec.dataFrom[0].rewrite[0].transform.template: is required"),
    ({"dataFrom": [{"path": "a", "rewrite": [{"regexp": {"source": "a", "target": "b"}}] * 17}]},
     "spec.dataFrom[0].rewrite: at most 16 steps"),
])
def test_parse_errors_name_the_field(spec: dict[str, Any], says: str) -> None:
    with pytest.raises(SpecError) as e:
        parse(**spec)
    assert says in str(e.value)


def test_tenant_find_regexp_with_catastrophic_backtracking_is_refused() -> None:
    """A tenant's regexp runs on Python's backtracking re: nested repetition is refused before any Vault call,
    and a name long enough to make even a plain pattern slow is refused when matched, not run."""
    for pattern in ("(a+)+$", "(a|aa)*b", "^(\\w+\\s?)*$", "((ab)*)*c"):
        with pytest.raises(SpecError, match="too costly"):
            parse(dataFrom=[{"find": {"name": {"regexp": pattern}}}])
    s = parse(dataFrom=[{"find": {"name": {"regexp": "a.*b.*c"}}}])
    started = time.monotonic()
    with pytest.raises(vdata.DataError, match="too costly for an input of this size"):
        vdata.matching(s.data_from[0], ["a" * 5000], "spec.dataFrom[0].find")
    assert time.monotonic() - started < 1


# --- building -----------------------------------------------------------------------------------------------


def test_nested_property_paths_as_gjson() -> None:
    secret = {"a.b": "whole-key", "a": {"b": "nested", "c": {"d": 5}}, "list": [{"n": "first"}], "x.y": {"z": 1},
              "flag": True}
    assert vdata.lookup(secret, "a.b") == (True, "whole-key")  # a key that contains a dot is tried whole first
    assert vdata.lookup(secret, "a.c.d") == (True, 5)
    assert vdata.lookup(secret, "list.0.n") == (True, "first")
    assert vdata.lookup(secret, "x\\.y.z") == (True, 1)
    assert vdata.lookup(secret, "a.c") == (True, {"d": 5})
    for missing in ("a.x", "list.1.n", "flag.x", "a.b.c"):
        assert vdata.lookup(secret, missing) == (False, None)
    s = parse(data=[{"secretKey": "d", "remoteRef": {"path": "p", "property": "a.c.d"}},
                    {"secretKey": "c", "remoteRef": {"path": "p", "property": "a.c"}},
                    {"secretKey": "n", "remoteRef": {"path": "p", "property": "list.0.n"}}])
    assert vdata.build_data(s, {("p", None): secret}) == {"d": b"5", "c": b'{"d":5}', "n": b"first"}
    s = parse(data=[{"secretKey": "w", "remoteRef": {"path": "p", "property": "list.#.n"}}])
    with pytest.raises(vdata.DataError, match=r"no property 'list\.#\.n' \(gjson wildcards, queries and modifiers"):
        vdata.build_data(s, {("p", None): secret})


def test_decoding_strategies_and_errors_without_values() -> None:
    plant = "PLANTED-" + secrets.token_hex(4)
    binary = base64.b64encode(b"\xff\xfe\xfd?>").decode()  # '+' and '/' in it: not base64url
    urlsafe = base64.urlsafe_b64encode(b"\xff\xfe\xfd?>").decode()
    secret = {"std": b64(plant), "url": b64(plant + "??>>", url=True), "bin": binary, "binurl": urlsafe,
              "plain": plant + "!", "wrapped": b64(plant * 10)[:40] + "\n" + b64(plant * 10)[40:]}
    s = parse(data=[{"secretKey": k, "remoteRef": {"path": "p", "property": p, "decodingStrategy": d}}
                    for k, p, d in [("std", "std", "Base64"), ("url", "url", "Base64URL"), ("bin", "bin", "Auto"),
                                    ("binurl", "binurl", "Auto"), ("plain", "plain", "Auto"),
                                    ("none", "std", "None"), ("wrapped", "wrapped", "Base64")]])
    got = vdata.build_data(s, {("p", None): secret})
    assert got == {"std": plant.encode(), "url": (plant + "??>>").encode(), "bin": b"\xff\xfe\xfd?>",
                   "binurl": b"\xff\xfe\xfd?>", "plain": (plant + "!").encode(), "none": secret["std"].encode(),
                   "wrapped": (plant * 10).encode()}
    for strategy, prop in (("Base64", "plain"), ("Base64URL", "bin"), ("Base64", "binurl")):
        s = parse(data=[{"secretKey": "k", "remoteRef": {"path": "p", "property": prop,
                                                         "decodingStrategy": strategy}}])
        with pytest.raises(vdata.DataError, match=f"item k is not valid .*decodingStrategy {strategy}") as e:
            vdata.build_data(s, {("p", None): secret})
        assert plant not in str(e.value) and "spec.data[k]" in str(e.value)
    s = parse(dataFrom=[{"path": "p", "decodingStrategy": "Base64"}])
    with pytest.raises(vdata.DataError, match=r"spec.dataFrom\[0\]: item plain is not valid base64") as e:
        vdata.build_data(s, {("p", None): {"plain": plant}})
    assert plant not in str(e.value)


def test_metadata_policy_fetch() -> None:
    raw = {"created_time": "2026-01-01T00:00:00Z", "current_version": 3, "delete_version_after": "0s",
           "custom_metadata": {"owner": "team-a", "tier": "gold"}, "versions": {"1": {}}, "max_versions": 0}
    meta = vdata.metadata_values(raw)
    assert meta == {"created_time": "2026-01-01T00:00:00Z", "current_version": "3", "delete_version_after": "0s",
                    "owner": "team-a", "tier": "gold"}
    s = parse(data=[{"secretKey": "owner", "remoteRef": {"path": "p", "property": "owner", "metadataPolicy": "Fetch"}},
                    {"secretKey": "pw", "remoteRef": {"path": "p", "property": "owner"}}],
              dataFrom=[{"extract": {"key": "p", "metadataPolicy": "Fetch"},
                         "rewrite": [{"regexp": {"source": "^", "target": "meta-"}}]}])
    key = vdata.read_key("p", None, None, True)
    assert vdata.reads(s) == [key, ("p", None)]
    got = vdata.build_data(s, {key: meta, ("p", None): {"owner": "from-data"}})
    assert got["owner"] == b"team-a" and got["pw"] == b"from-data" and got["meta-tier"] == b"gold"
    assert got["meta-current_version"] == b"3"
    s = parse(data=[{"secretKey": "x", "remoteRef": {"path": "p", "property": "nope", "metadataPolicy": "Fetch"}}])
    with pytest.raises(vdata.DataError, match="Vault secret p metadata has no property 'nope'"):
        vdata.build_data(s, {key: meta})


def test_extract_property_conversion_and_rewrite() -> None:
    secret = {"db": {"user": "u", "port": 5432}, "json": '{"k": "v"}', "scalar": "x", "a b": "1", "a_b": "2"}
    s = parse(dataFrom=[{"extract": {"key": "p", "property": "db"}},
                        {"path": "p", "property": "json", "conversionStrategy": "Default"}])
    assert vdata.build_data(s, {("p", None): secret}) == {"user": b"u", "port": b"5432", "k": b"v"}
    s = parse(dataFrom=[{"path": "p", "property": "scalar"}])
    with pytest.raises(vdata.DataError, match="property 'scalar' of Vault secret p is not a JSON object"):
        vdata.build_data(s, {("p", None): secret})
    # conversion: extract converts by default (ESO), and two keys that become one are an error
    s = parse(dataFrom=[{"extract": {"key": "p"}}])
    with pytest.raises(vdata.DataError, match="keys collide as 'a_b' after conversionStrategy Default"):
        vdata.build_data(s, {("p", None): secret})
    s = parse(dataFrom=[{"extract": {"key": "p", "conversionStrategy": "Unicode"}}])
    assert vdata.build_data(s, {("p", None): {"a b/é": "1"}}) == {"a_U0020_b_U002f__U00e9_": b"1"}
    # rewrite: steps in order, Go's $1 expansion, a template over .value; the result must be a valid key
    s = parse(dataFrom=[{"path": "p", "rewrite": [
        {"regexp": {"source": "^db-(.*)$", "target": "${1}_x"}},
        {"transform": {"template": '{{ .value | upper | replace "-" "_" }}'}}]}])
    assert vdata.build_data(s, {("p", None): {"db-user": "u", "api-key": "k"}}) == {"USER_X": b"u", "API_KEY": b"k"}
    s = parse(dataFrom=[{"path": "p", "rewrite": [{"regexp": {"source": "^.*$", "target": "same"}}]}])
    with pytest.raises(vdata.DataError, match="two keys are rewritten to 'same'"):
        vdata.build_data(s, {("p", None): {"a": "1", "b": "2"}})
    s = parse(dataFrom=[{"path": "p", "rewrite": [{"regexp": {"source": "^", "target": "a/"}}]}])
    with pytest.raises(vdata.DataError, match="the rewrite makes a key 'a/k' that is not a valid Secret item key"):
        vdata.build_data(s, {("p", None): {"k": "1"}})
    s = parse(dataFrom=[{"path": "p", "rewrite": [{"regexp": {"source": "^drop$", "target": ""}}]}])
    assert vdata.build_data(s, {("p", None): {"drop": "1", "keep": "2"}}) == {"keep": b"2"}  # empty: dropped, as ESO


def test_find_items_order_and_data_wins() -> None:
    s = parse(dataFrom=[{"find": {"path": "team", "name": {"regexp": "/db$"}}},
                        {"find": {"path": "team", "name": {"regexp": "db"}, "decodingStrategy": "Auto"},
                         "rewrite": [{"regexp": {"source": "^team/(.*)$", "target": "r-$1"}},
                                     {"regexp": {"source": "/", "target": "."}}]}],
              data=[{"secretKey": "team_db", "remoteRef": {"path": "team/db", "property": "pw"}}])
    paths = ["team/db", "team/sub/db2", "team/web", "team/sub/x"]
    found = {0: vdata.matching(s.data_from[0], paths, "f0"), 1: vdata.matching(s.data_from[1], paths, "f1")}
    assert found == {0: ("team/db",), 1: ("team/db", "team/sub/db2")}
    fetched = {("team/db", None): {"pw": "p1"}, ("team/sub/db2", None): {"pw": "p2", "n": 1}}
    got = vdata.build_data(s, fetched, found)
    assert got == {"team_db": b"p1",  # data wins over the find item of the same key
                   "r-db": b'{"pw":"p1"}', "r-sub.db2": b'{"n":1,"pw":"p2"}'}
    del fetched[("team/sub/db2", None)]  # gone between LIST and read: skipped
    assert "r-sub.db2" not in vdata.build_data(s, fetched, found)
    big = parse(dataFrom=[{"find": {}}])
    with pytest.raises(vdata.DataError, match="more than 1000 Vault secrets match"):
        vdata.matching(big.data_from[0], [f"s{i}" for i in range(1001)], "spec.dataFrom[0].find")


# --- the store client and the find walk against OpenBao -----------------------------------------------------


def test_client_list_metadata_and_find_walk_kv2(openbao: Bao) -> None:
    base = uniq("find")
    for path in ("db", "web", "sub/db2", "sub/deeper/db3"):
        kv2_put(openbao, f"{base}/{path}", {"pw": f"pw-{path}"})
    openbao.api("POST", f"secret/metadata/{base}/db", {"custom_metadata": {"owner": "team-a"}})
    client = client_for(openbao)
    assert sorted(client.list(base)) == ["db", "sub/", "web"]
    assert sorted(client.list(f"{base}/sub/")) == ["db2", "deeper/"]
    with pytest.raises(VaultError) as e:
        client.list(f"{base}/nothing-here")
    assert e.value.reason == "NotFound"
    meta = vdata.metadata_values(client.read_metadata(f"{base}/db"))
    assert meta["owner"] == "team-a" and meta["current_version"] == "1" and "created_time" in meta
    assert sorted(vfetch.walk(client, base, "w")) == [f"{base}/db", f"{base}/sub/db2", f"{base}/sub/deeper/db3",
                                                      f"{base}/web"]
    assert vfetch.walk(client, f"{base}/missing", "w") == []

    s = parse(dataFrom=[{"find": {"path": base, "name": {"regexp": "db[0-9]*$"}}}],
              data=[{"secretKey": "owner", "remoteRef": {"path": f"{base}/db", "property": "owner",
                                                         "metadataPolicy": "Fetch"}}])
    fetched, missing = vfetch.read_all(client, s)
    assert missing == [] and len(fetched) == 4  # three found secrets and one metadata read
    got = vdata.build_data(s, fetched, fetched.found)
    assert got == {f"{base}_db": b'{"pw":"pw-db"}', f"{base}_sub_db2": b'{"pw":"pw-sub/db2"}',
                   f"{base}_sub_deeper_db3": b'{"pw":"pw-sub/deeper/db3"}', "owner": b"team-a"}

    # a policy without `list` is a PermissionDenied status, not an empty find
    openbao.write_policy(f"{base}-read", 'path "secret/data/*" { capabilities = ["read"] }')
    no_list = client_for(openbao, openbao.create_token(f"{base}-read"))
    with pytest.raises(VaultError) as e:
        vfetch.read_all(no_list, s)
    assert e.value.reason == "PermissionDenied"


def test_find_walk_is_bounded_and_stays_in_the_mount(openbao: Bao, monkeypatch: pytest.MonkeyPatch) -> None:
    """find lists only below the store's mount: `..` cannot be written (parse), and the whole-mount walk of one
    mount never sees another mount's secrets."""
    mount_a, mount_b = uniq("kva"), uniq("kvb")
    for m in (mount_a, mount_b):
        openbao.api("POST", f"sys/mounts/{m}", {"type": "kv", "options": {"version": "2"}})
    kv2_put(openbao, "a/one", {"k": "A"}, mount=mount_a)
    kv2_put(openbao, "b/other-tenant", {"k": "B"}, mount=mount_b)
    client = client_for(openbao, mount=mount_a)
    assert vfetch.walk(client, "", "w") == ["a/one"]
    for path in ("..", f"../{mount_b}", "a/../..", "a//b"):
        with pytest.raises(SpecError, match=r"find\.path"):
            parse(dataFrom=[{"find": {"path": path}}])
    assert vdata.listed_name("a/", "../", "w") is None and vdata.listed_name("a/", "x/y", "w") is None
    # bounds: folders listed and nesting depth
    for i in range(4):
        kv2_put(openbao, f"wide/f{i}/s", {"k": "v"}, mount=mount_a)
    monkeypatch.setattr(vdata, "MAX_FIND_FOLDERS", 3)
    with pytest.raises(vdata.DataError, match="more than 3 folders below wide"):
        vfetch.walk(client, "wide", "spec.dataFrom[0].find")
    kv2_put(openbao, "deep/" + "/".join("d" * 5) + "/s", {"k": "v"}, mount=mount_a)
    monkeypatch.setattr(vdata, "MAX_FIND_FOLDERS", 500)
    monkeypatch.setattr(vdata, "MAX_FIND_DEPTH", 4)
    with pytest.raises(vdata.DataError, match="nested deeper than 4 levels"):
        vfetch.walk(client, "deep", "w")


def test_kv1_list_and_metadata_refused(openbao: Bao) -> None:
    mount = uniq("kv1")
    openbao.api("POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "1"}})
    openbao.api("POST", f"{mount}/app/one", {"k": "1"})
    openbao.api("POST", f"{mount}/app/two", {"k": "2"})
    client = client_for(openbao, mount=mount, kvVersion=1)
    assert sorted(vfetch.walk(client, "app", "w")) == ["app/one", "app/two"]
    with pytest.raises(VaultError, match="metadataPolicy Fetch is not valid with kvVersion 1"):
        client.read_metadata("app/one")


# --- end to end ---------------------------------------------------------------------------------------------


def test_controller_find_rewrite_nested_property_decoding_and_source_ref(kube: KubeServer, openbao: Bao,
                                                                         tmp_path: Path) -> None:
    base = uniq("e2e")
    plant = "PLANTED-find-" + secrets.token_hex(6)
    kv2_put(openbao, f"{base}/svc/db", {"password": b64(plant), "conn": {"host": "db.local", "port": 5432}})
    kv2_put(openbao, f"{base}/svc/cache", {"password": b64("cache-" + plant)})
    kv2_put(openbao, f"{base}/svc/skip-me", {"password": "x"})
    kv2_put(openbao, f"{base}/cfg", {"json": json.dumps({"tls": {"cert": b64("CERT", url=True)}})})
    openbao.api("POST", f"secret/metadata/{base}/cfg", {"custom_metadata": {"owner": "team-a"}})
    openbao.write_policy(f"{base}-read", 'path "secret/*" { capabilities = ["read", "list"] }')
    token = openbao.create_token(f"{base}-read")

    proc, _ = start_vault_controller(kube, tmp_path)
    token_secret(kube, "app", token)
    kube.client.create(store(openbao, "vault", "app", token_auth()))
    kube.client.create(store(openbao, "vault2", "app", token_auth()))
    kube.client.create({"apiVersion": CSTORE[0], "kind": CSTORE[1], "metadata": {"name": "closed"},
                        "spec": {"server": openbao.addr, "auth": {"token": {"secretRef": {
                            "name": "vault-token", "namespace": "app", "key": "token"}}}, "namespaces": ["other"]}})
    kube.client.create(vault_secret("bulk", "app", "vault", dataFrom=[
        {"find": {"path": f"{base}/svc", "name": {"regexp": "(db|cache)$"}},
         "rewrite": [{"regexp": {"source": "^.*/svc/(.*)$", "target": "$1"}},
                     {"transform": {"template": '{{ printf "%s.json" .value }}'}}]},
        {"extract": {"key": f"{base}/svc/db", "property": "conn"}, "rewrite": [{"regexp": {
            "source": "^", "target": "db_"}}]}],
        data=[{"secretKey": "password", "remoteRef": {"path": f"{base}/svc/db", "property": "password",
                                                      "decodingStrategy": "Base64"}},
              {"secretKey": "port", "remoteRef": {"path": f"{base}/svc/db", "property": "conn.port"}},
              {"secretKey": "owner", "remoteRef": {"path": f"{base}/cfg", "property": "owner",
                                                   "metadataPolicy": "Fetch"},
               "sourceRef": {"storeRef": {"name": "vault2"}}}]))
    got = wait_items(kube, "bulk", "app", lambda i: "password" in i)
    assert got == {"db.json": json.dumps({"conn": {"host": "db.local", "port": 5432}, "password": b64(plant)},
                                         sort_keys=True, separators=(",", ":")).encode(),
                   "cache.json": f'{{"password":"{b64("cache-" + plant)}"}}'.encode(),
                   "db_host": b"db.local", "db_port": b"5432",
                   "password": plant.encode(), "port": b"5432", "owner": b"team-a"}
    assert "7 items from 3 Vault secrets" in wait_cond(kube, "bulk", "app", "True")["message"]

    # a ClusterVaultStore that does not allow the namespace cannot be reached through sourceRef either; a value
    # the decoding strategy refuses fails the sync naming the item, not the value
    kube.client.create(vault_secret("refused", "app", "vault", data=[
        {"secretKey": "x", "remoteRef": {"path": f"{base}/cfg", "property": "json"},
         "sourceRef": {"storeRef": {"kind": "ClusterVaultStore", "name": "closed"}}}]))
    c = wait_cond(kube, "refused", "app", "False", "StoreNotAllowed")
    assert "ClusterVaultStore closed does not allow namespace app" in c["message"]
    kube.client.create(vault_secret("baddecode", "app", "vault", data=[
        {"secretKey": "raw", "remoteRef": {"path": f"{base}/svc/skip-me", "property": "password",
                                           "decodingStrategy": "Base64"}}]))
    c = wait_cond(kube, "baddecode", "app", "False", "InvalidSpec")
    assert "item raw is not valid base64" in c["message"]
    kube.client.create(vault_secret("costly", "app", "vault", dataFrom=[
        {"find": {"path": base, "name": {"regexp": "(a+)+$"}}}]))
    assert "too costly" in wait_cond(kube, "costly", "app", "False", "InvalidSpec")["message"]

    proc.stop()
    everything = proc.log_text() + repr(kube.client.events()) + repr(kube.client.list(*VS))
    assert_no_leak(everything, token, plant)
    assert not kube.server_errors()
