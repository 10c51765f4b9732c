"""Vault Transit data-key wrapping against a real OpenBao dev server and the real `sops` binary.

Nothing is mocked: every wrap/unwrap below is an HTTP call to `bao server -dev` on 127.0.0.1 (tests/openbao.py),
and the interop tests let sops 3.11 write and read the `sops.hc_vault` entries we read and write.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealer.errors import DecryptionError, InputError, SealerError
from sealer.sops.keys import vault as V
from tests.openbao import Bao, start_openbao

SOPS = Path(sys.executable).parent / "sops"
needs_sops = pytest.mark.skipif(not SOPS.exists(), reason="sops not installed in the venv")

# Secrets planted so the tests can prove they never reach a message.
PLANTED_TOKEN = "PLANTED-" + uuid.uuid4().hex  # custom token ids may not start with "s."
DATA_KEY = bytes(range(100, 132))
DATA_KEY_B64 = base64.b64encode(DATA_KEY).decode()
PLAINTEXT = "hunter2-plaintext-canary"

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ENC_RE = re.compile(r"^ENC\[AES256_GCM,data:(?P<data>[^,]*),iv:(?P<iv>[^,]+),tag:(?P<tag>[^,]+),type:(?P<type>\w+)\]$")


@dataclass(frozen=True)
class Transit:
    """This module's keys on the shared server: names are unique so other modules' keys never collide."""

    bao: Bao
    key: str  # in the `transit` mount
    other: str  # a second key in the same mount
    nested_mount: str  # an engine path with a slash
    nested_key: str
    namespace: str
    ns_key: str  # in the `transit` mount of `namespace`

    def uri(self, key: str | None = None, mount: str = "transit") -> str:
        return f"{self.bao.addr}/v1/{mount}/keys/{key or self.key}"

    def env(self, token: str | None = None, **extra: str) -> dict[str, str]:
        """Only what the library should read: a token and a HOME without a token file."""
        return {"VAULT_TOKEN": token or self.bao.token, "HOME": str(self.bao.home), **extra}


@pytest.fixture(scope="module")
def transit(openbao: Bao) -> Transit:
    tag = uuid.uuid4().hex[:8]
    t = Transit(openbao, f"sealer-{tag}", f"other-{tag}", f"team-{tag}/transit", f"nested-{tag}", f"ns-{tag}",
                f"nskey-{tag}")
    openbao.create_transit_key(t.key)
    openbao.create_transit_key(t.other)
    openbao.create_transit_key(t.nested_key, t.nested_mount)
    openbao.create_namespace(t.namespace)
    openbao.create_transit_key(t.ns_key, namespace=t.namespace)
    openbao.write_policy(f"encrypt-only-{tag}", f'path "transit/encrypt/{t.key}" {{ capabilities = ["update"] }}')
    openbao.create_token(f"encrypt-only-{tag}", token_id=PLANTED_TOKEN)
    return t


def assert_clean(err: BaseException, *secrets: str) -> None:
    """One line, and none of the secrets anywhere in what a user or a log could see."""
    shown = [str(err), repr(err), getattr(err, "message", "")]
    for text in shown:
        assert "\n" not in text
        for secret in (PLANTED_TOKEN, DATA_KEY_B64, PLAINTEXT, *secrets):
            assert secret not in text


# --- URIs ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("uri", "address", "engine", "key"), [
    ("https://vault.example.com:8200/v1/transit/keys/my-key", "https://vault.example.com:8200", "transit", "my-key"),
    ("http://127.0.0.1:8200/v1/team/transit/keys/k", "http://127.0.0.1:8200", "team/transit", "k"),
    ("https://vault.example.com/v1/a/b/c/keys/k/", "https://vault.example.com", "a/b/c", "k"),
    ("  https://vault.example.com/v1/transit/keys/k ", "https://vault.example.com", "transit", "k"),
    ("HTTPS://Vault.Example.com/v2/transit/keys/k", "https://Vault.Example.com", "transit", "k"),  # as Go's url
    ("https://[::1]:8200/v1/transit/keys/k", "https://[::1]:8200", "transit", "k"),
    ("https://vault.example.com/v1/transit/anything/k", "https://vault.example.com", "transit", "k"),  # sops too
])
def test_parse_uri(uri: str, address: str, engine: str, key: str) -> None:
    parsed = V.parse_uri(uri)
    assert parsed == V.VaultKey(address, engine, key)
    assert V.parse_uri(parsed.uri) == parsed
    assert str(parsed) == f"{address}/v1/{engine}/keys/{key}"


@pytest.mark.parametrize(("uri", "says"), [
    ("", "empty"),
    ("   ", "empty"),
    ("vault.example.com:8200/v1/transit/keys/k", "http:// or https://"),
    ("ftp://vault.example.com/v1/transit/keys/k", "http:// or https://"),
    ("https:///v1/transit/keys/k", "http:// or https://"),
    ("https://vault.example.com:99999/v1/transit/keys/k", "malformed"),
    ("https://vault.example.com/prefix/v1/transit/keys/k", "prefix"),
    ("https://vault.example.com/v1/transit/k", "not of the form"),
    ("https://vault.example.com/transit/keys/k", "not of the form"),
    ("https://vault.example.com/v1/a/../keys/k", "'.' or '..'"),
    ("https://vault.example.com/v1/transit/keys/k?token=x", "query"),
    ("https://user:PLANTED-pw@vault.example.com/v1/transit/keys/k", "credentials"),
])
def test_parse_uri_rejects(uri: str, says: str) -> None:
    with pytest.raises(InputError) as exc:
        V.parse_uri(uri, source="--hc-vault-transit")
    assert says in str(exc.value)
    assert exc.value.source == "--hc-vault-transit"
    assert exc.value.exit_code == 2
    assert_clean(exc.value, "PLANTED-pw")


def test_parse_uris() -> None:
    keys = V.parse_uris("https://a/v1/transit/keys/x,,https://b:8200/v1/t/keys/y,", "creation_rules")
    assert keys == [V.VaultKey("https://a", "transit", "x"), V.VaultKey("https://b:8200", "t", "y")]
    assert V.parse_uris("", "x") == []
    with pytest.raises(InputError) as exc:
        V.parse_uris("https://a/v1/transit/keys/x,nonsense", ".sops.yaml")
    assert exc.value.source == ".sops.yaml"


# --- wrap / unwrap against the server -----------------------------------------------------------------------


def test_round_trip(transit: Transit) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    entry = V.wrap(DATA_KEY, transit.uri(), transit.env())
    assert list(entry) == list(V.ENTRY_FIELDS) == ["vault_address", "engine_path", "key_name", "created_at", "enc"]
    assert entry["vault_address"] == transit.bao.addr
    assert (entry["engine_path"], entry["key_name"]) == ("transit", transit.key)
    assert entry["enc"].startswith("vault:v1:")
    assert RFC3339_UTC.match(entry["created_at"])
    created = datetime.strptime(entry["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= created <= datetime.now(UTC) + timedelta(seconds=1)
    assert V.unwrap(entry, transit.env()) == DATA_KEY
    # a VaultKey works as well as its URI; each wrap is a fresh ciphertext of the same key
    again = V.wrap(DATA_KEY, V.parse_uri(transit.uri()), transit.env())
    assert again["enc"] != entry["enc"]
    assert V.unwrap(again, transit.env()) == DATA_KEY


def test_nested_engine_path(transit: Transit) -> None:
    entry = V.wrap(DATA_KEY, transit.uri(transit.nested_key, transit.nested_mount), transit.env())
    assert entry["engine_path"] == transit.nested_mount
    assert V.unwrap(entry, transit.env()) == DATA_KEY


def test_server_comes_from_the_entry_not_vault_addr(transit: Transit) -> None:
    """As in sops: the key's own address is used; VAULT_ADDR (here a dead port) is ignored."""
    env = transit.env(VAULT_ADDR="http://127.0.0.1:1", VAULT_AGENT_ADDR="http://127.0.0.1:1")
    assert V.unwrap(V.wrap(DATA_KEY, transit.uri(), env), env) == DATA_KEY


def test_token_file(transit: Transit, tmp_path: Path) -> None:
    """No VAULT_TOKEN: `$HOME/.vault-token` (trimmed) is used; VAULT_TOKEN wins over it when set."""
    (tmp_path / ".vault-token").write_text(f"  {transit.bao.token}\n")
    entry = V.wrap(DATA_KEY, transit.uri(), {"HOME": str(tmp_path)})
    assert V.unwrap(entry, {"HOME": str(tmp_path), "VAULT_TOKEN": ""}) == DATA_KEY
    (tmp_path / ".vault-token").write_text(PLANTED_TOKEN + "-revoked")
    assert V.unwrap(entry, {"HOME": str(tmp_path), "VAULT_TOKEN": transit.bao.token}) == DATA_KEY
    with pytest.raises(DecryptionError) as exc:
        V.unwrap(entry, {"HOME": str(tmp_path)})
    assert "permission denied" in str(exc.value)
    assert_clean(exc.value)


def test_missing_token(transit: Transit, tmp_path: Path) -> None:
    entry = V.wrap(DATA_KEY, transit.uri(), transit.env())
    for call in (lambda env: V.wrap(DATA_KEY, transit.uri(), env), lambda env: V.unwrap(entry, env)):
        with pytest.raises(InputError) as exc:
            call({"HOME": str(tmp_path)})
        assert exc.value.exit_code == 2
        assert "VAULT_TOKEN" in str(exc.value) and ".vault-token" in str(exc.value)
        assert_clean(exc.value)


def test_namespace(transit: Transit) -> None:
    """VAULT_NAMESPACE is sent with every request, as the Vault client (and so sops) does."""
    env = transit.env(VAULT_NAMESPACE=transit.namespace)
    entry = V.wrap(DATA_KEY, transit.uri(transit.ns_key), env)
    assert V.unwrap(entry, env) == DATA_KEY
    with pytest.raises(DecryptionError, match="not found"):
        V.unwrap(entry, transit.env())  # the root namespace has no such key


def test_unknown_key_engine_or_wrong_key(transit: Transit) -> None:
    entry = V.wrap(DATA_KEY, transit.uri(), transit.env())
    cases = [
        ({"key_name": "no-such-key"}, "transit key 'no-such-key' not found"),
        ({"engine_path": "no-such-mount"}, "no transit engine mounted at 'no-such-mount'"),
        ({"key_name": transit.other}, "cannot decrypt the data key (wrong key"),
        ({"enc": entry["enc"][:-8] + "AAAAAAAA"}, "cannot decrypt the data key"),
        ({"enc": "vault:v1:AAAA"}, "Vault refused to decrypt"),
    ]
    for change, says in cases:
        with pytest.raises(DecryptionError) as exc:
            V.unwrap({**entry, **change}, transit.env())
        assert says in str(exc.value), change
        assert exc.value.exit_code == 1
        assert_clean(exc.value, entry["enc"])


def test_malformed_entry(transit: Transit) -> None:
    entry = V.wrap(DATA_KEY, transit.uri(), transit.env())
    for name in ("vault_address", "engine_path", "key_name", "enc"):
        with pytest.raises(InputError) as exc:
            V.unwrap({k: v for k, v in entry.items() if k != name}, transit.env())
        assert exc.value.field == name
    with pytest.raises(InputError, match="not an http"):
        V.unwrap({**entry, "vault_address": "file:///etc/passwd"}, transit.env())


def test_permission_denied_never_shows_the_token(transit: Transit) -> None:
    """A token whose policy allows only encrypt with this key: wrap works, unwrap is refused, the token stays out."""
    env = transit.env(PLANTED_TOKEN)
    entry = V.wrap(DATA_KEY, transit.uri(), env)
    with pytest.raises(DecryptionError) as exc:
        V.unwrap(entry, env)
    assert "permission denied" in str(exc.value)
    assert_clean(exc.value, entry["enc"])
    # encrypting with another key, or to a key that does not exist yet, is outside its policy too
    for key in (transit.other, "not-yet-created"):
        with pytest.raises(InputError) as exc:
            V.wrap(DATA_KEY, transit.uri(key), env)
        assert "permission denied" in str(exc.value)
        assert_clean(exc.value)
    # an unknown token, and one with only the default policy
    default_token = transit.bao.create_token("default")
    for token in (PLANTED_TOKEN + "-unknown", default_token):
        with pytest.raises(DecryptionError) as exc:
            V.unwrap(entry, transit.env(token))
        assert "permission denied" in str(exc.value)
        assert_clean(exc.value, token)


def test_unreachable_server(tmp_path: Path) -> None:
    """A server that has gone away: a typed error naming the address, never the token; wrap fails with exit 1."""
    with start_openbao(tmp_path) as bao:
        bao.create_transit_key("k")
        token = bao.create_token("root", token_id=PLANTED_TOKEN)
        env = {"VAULT_TOKEN": token, "HOME": str(bao.home)}
        entry = V.wrap(DATA_KEY, f"{bao.addr}/v1/transit/keys/k", env)
        bao.stop()
        assert not bao.alive()
    with pytest.raises(DecryptionError) as exc:
        V.unwrap(entry, env)
    assert f"cannot reach Vault at {bao.addr}" in str(exc.value)
    assert_clean(exc.value, entry["enc"])
    with pytest.raises(SealerError) as exc:
        V.wrap(DATA_KEY, f"{bao.addr}/v1/transit/keys/k", env)
    assert not isinstance(exc.value, InputError) and exc.value.exit_code == 1
    assert bao.addr in str(exc.value)
    assert_clean(exc.value)


def test_tls(tmp_path: Path) -> None:
    """-dev-tls server with its own CA: refused without VAULT_CACERT, fine with it or with VAULT_SKIP_VERIFY."""
    with start_openbao(tmp_path, tls=True) as bao:
        assert bao.addr.startswith("https://") and bao.ca_cert is not None
        bao.create_transit_key("k")
        uri = f"{bao.addr}/v1/transit/keys/k"
        env = {"VAULT_TOKEN": bao.token, "HOME": str(bao.home)}
        with pytest.raises(SealerError, match="TLS verification failed"):
            V.wrap(DATA_KEY, uri, env)
        entry = V.wrap(DATA_KEY, uri, {**env, "VAULT_CACERT": str(bao.ca_cert)})
        assert V.unwrap(entry, {**env, "VAULT_CAPATH": str(bao.ca_cert)}) == DATA_KEY
        assert V.unwrap(entry, {**env, "VAULT_SKIP_VERIFY": "true"}) == DATA_KEY
        with pytest.raises(DecryptionError, match="TLS verification failed"):
            V.unwrap(entry, {**env, "VAULT_SKIP_VERIFY": "0"})


@pytest.mark.parametrize(("env", "says"), [
    ({"VAULT_SKIP_VERIFY": "maybe"}, "VAULT_SKIP_VERIFY"),
    ({"VAULT_CACERT": "/nonexistent/ca.pem"}, "VAULT_CACERT"),
    ({"VAULT_CLIENT_CERT": "/some/cert.pem"}, "VAULT_CLIENT_KEY"),
    ({"VAULT_CLIENT_TIMEOUT": "soon"}, "VAULT_CLIENT_TIMEOUT"),
])
def test_bad_client_settings(env: dict[str, str], says: str) -> None:
    with pytest.raises(InputError, match=says):
        V.wrap(DATA_KEY, "http://127.0.0.1:1/v1/transit/keys/k", {"VAULT_TOKEN": PLANTED_TOKEN, **env})


# --- the real sops, both directions -------------------------------------------------------------------------


def _sops(args: list[str], cwd: Path, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "SOPS_DISABLE_VERSION_CHECK": "1", **env}
    return subprocess.run([str(SOPS), *args], cwd=cwd, env=full, capture_output=True, text=True, check=check,
                          timeout=60)


@needs_sops
@pytest.mark.parametrize("nested", [False, True], ids=["transit", "nested-engine"])
def test_real_sops_interop(transit: Transit, tmp_path: Path, nested: bool) -> None:
    uri = transit.uri(transit.nested_key, transit.nested_mount) if nested else transit.uri()
    env = transit.env()
    plain = {"password": PLAINTEXT, "nested": {"port": 5432}}
    (tmp_path / "f.yaml").write_text(yaml.safe_dump(plain, sort_keys=False))

    # sops -> us: sops wraps with Vault; we unwrap its entry and the data key opens sops' values
    encrypted = _sops(["encrypt", "--hc-vault-transit", uri, "f.yaml"], tmp_path, env).stdout
    doc = yaml.safe_load(encrypted)
    (theirs,) = doc["sops"]["hc_vault"]
    assert list(theirs) == list(V.ENTRY_FIELDS)
    assert RFC3339_UTC.match(theirs["created_at"])
    key = V.parse_uri(uri)
    assert (theirs["vault_address"], theirs["engine_path"], theirs["key_name"]) == (
        key.address, key.engine_path, key.key_name)
    data_key = V.unwrap(theirs, env)
    assert len(data_key) == 32
    m = ENC_RE.match(doc["password"])
    assert m and m["type"] == "str"
    iv, data, tag = (base64.b64decode(m[k]) for k in ("iv", "data", "tag"))
    assert len(iv) == 32
    assert AESGCM(data_key).decrypt(iv, data + tag, b"password:") == PLAINTEXT.encode()

    # us -> sops: replace sops' entry by ours for the same data key; sops decrypts with it alone
    ours = V.wrap(data_key, uri, env)
    assert list(ours) == list(theirs)
    assert {k: v for k, v in ours.items() if k not in ("created_at", "enc")} == {
        k: v for k, v in theirs.items() if k not in ("created_at", "enc")}
    doc["sops"]["hc_vault"] = [ours]
    (tmp_path / "ours.enc.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    decrypted = _sops(["decrypt", "ours.enc.yaml"], tmp_path, env)
    assert yaml.safe_load(decrypted.stdout) == plain

    # and sops really used our entry: one wrapping another data key does not open the file
    doc["sops"]["hc_vault"] = [V.wrap(os.urandom(32), uri, env)]
    (tmp_path / "wrong.enc.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    failed = _sops(["decrypt", "wrong.enc.yaml"], tmp_path, env, check=False)
    assert failed.returncode != 0
    assert PLAINTEXT not in failed.stdout + failed.stderr


@needs_sops
def test_real_sops_honours_namespace(transit: Transit, tmp_path: Path) -> None:
    """sops (via the Vault client) and we read VAULT_NAMESPACE alike: entries cross over inside a namespace."""
    env = transit.env(VAULT_NAMESPACE=transit.namespace)
    uri = transit.uri(transit.ns_key)
    (tmp_path / "f.yaml").write_text(f"password: {PLAINTEXT}\n")
    doc = yaml.safe_load(_sops(["encrypt", "--hc-vault-transit", uri, "f.yaml"], tmp_path, env).stdout)
    data_key = V.unwrap(doc["sops"]["hc_vault"][0], env)
    doc["sops"]["hc_vault"] = [V.wrap(data_key, uri, env)]
    (tmp_path / "ours.enc.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    assert yaml.safe_load(_sops(["decrypt", "ours.enc.yaml"], tmp_path, env).stdout) == {"password": PLAINTEXT}


# --- start-up cost ------------------------------------------------------------------------------------------


def test_hvac_is_imported_lazily() -> None:
    code = "import sys, sealer.sops.keys.vault; print(sorted({'hvac', 'requests'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"
    helped = subprocess.run([sys.executable, "-X", "importtime", "-m", "sealer", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert helped.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in helped.stderr.splitlines() if "|" in line}
    assert not {m for m in imported if m.split(".")[0] in ("hvac", "requests")}


def test_wrap_to_a_new_key_creates_it(transit: Transit) -> None:
    """Vault's transit encrypt upserts: a token allowed to `create` (root) makes the key, as it does for sops."""
    name = f"upserted-{uuid.uuid4().hex[:8]}"
    entry = V.wrap(DATA_KEY, transit.uri(name), transit.env())
    assert transit.bao.api("GET", f"transit/keys/{name}")["data"]["name"] == name
    assert V.unwrap(entry, transit.env()) == DATA_KEY
