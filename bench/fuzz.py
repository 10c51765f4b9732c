"""Fuzz targets for every parser of untrusted input, and a fixed-budget runner.

The contract every target holds: any input either works or raises a `sealer.errors.SealerError` (the typed
errors the CLI turns into a one-line message and exit 1 or 2). Anything else is a crash: KeyError, TypeError,
AttributeError, RecursionError, UnicodeError, a YAML library's own error escaping, or an input that takes longer
than the time limit (a hang). Targets whose seeds hold a planted value only inside ciphertext also fail when an
error message names that value (a leak).

Two drivers share the registry below: `tests/test_fuzz.py` (hypothesis, a short budget in CI) and this module's
runner, a plain mutation loop seeded from valid inputs for longer runs:

    python -m bench.fuzz --seconds 60                   # every target, 60 s each; markdown table on stdout
    python -m bench.fuzz --seconds 300 --target sops-yaml --target unseal
    python -m bench.fuzz --list
    python -m bench.fuzz --reproduce crash.bin --target unseal

Crashing inputs are written to --crashes DIR (default: a new temp dir); exit 1 when there are any. Keys are made
fresh for each run (RSA-2048, a new age identity): seeds hold no real secret.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import functools
import json
import os
import random
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sealer.errors import SealerError

PLANTED = "fuzz-planted-value-Q7vX2"  # a secret value that exists only inside the seeds' ciphertext
SOURCE = "fuzz-input"
MAX_INPUT = 64 * 1024
HANG_SECONDS = 10.0


# --- shared key material (made once per process) ---------------------------------------------------------------------

class _Fixtures:
    """Throwaway keys and the objects built from them, made on first use."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives import serialization

        from sealer.sealed import keys
        from sealer.sops.keys import age
        from sealer.sops.keys.service import Opener

        key, cert = keys.generate(bits=2048, cn="fuzz")
        self.key_pem = keys.private_key_pem(key)
        self.pkcs8_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption())
        self.cert_pem = keys.cert_pem(cert)
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.cert = keys.parse_cert(self.cert_pem, "fuzz.crt")
        self.private = keys.keys_from_pem(self.key_pem, "fuzz.key")[0]
        self.identity, self.recipient = age.generate()
        self.identity_file = (f"# created: 2024-01-01T00:00:00Z\n# public key: {self.recipient}\n"
                              f"{self.identity}\n").encode()
        self.identities = list(age.parse_identities(self.identity_file, "fuzz identity"))
        # A Vault address nothing listens on: a fuzzed file naming it gets a quick refusal, any other address is
        # refused before a token would be sent (Opener.check_vault_address).
        self.env = {"VAULT_ADDR": "http://127.0.0.1:9", "VAULT_TOKEN": "s.fuzz", "HOME": tempfile.gettempdir()}
        self.opener = Opener(env=self.env, identities=self.identities)
        self.workdir = Path(tempfile.mkdtemp(prefix="sealer-fuzz-"))


_fixtures: _Fixtures | None = None


def fixtures() -> _Fixtures:
    global _fixtures
    if _fixtures is None:
        _fixtures = _Fixtures()
    return _fixtures


# --- the registry ---------------------------------------------------------------------------------------------------

@dataclass
class Target:
    """A parser of untrusted input: ``run(bytes)`` and the valid inputs its fuzzing starts from."""

    name: str
    run: Callable[[bytes], object]
    make_seeds: Callable[[], list[bytes]]
    fmt: str  # "yaml", "json" or "raw": which structural mutations apply
    leak_check: bool = False  # seeds hold PLANTED only inside ciphertext
    doc: str = ""
    _seeds: list[bytes] | None = field(default=None, repr=False)

    def seeds(self) -> list[bytes]:
        if self._seeds is None:
            self._seeds = self.make_seeds()
        return self._seeds


TARGETS: dict[str, Target] = {}


def target(name: str, fmt: str, seeds: Callable[[], list[bytes]], *, leak_check: bool = False):
    def register(run: Callable[[bytes], object]) -> Callable[[bytes], object]:
        TARGETS[name] = Target(name, run, seeds, fmt, leak_check, (run.__doc__ or "").strip().split("\n")[0])
        return run
    return register


# --- seeds ------------------------------------------------------------------------------------------------------------

def _secret(name: str = "db", namespace: str = "prod", **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace,
                                                                "labels": {"app": "web"}},
            "type": "Opaque", "data": {"password": base64.b64encode(PLANTED.encode()).decode()},
            "stringData": {"user": PLANTED, "url": "postgres://db:5432/app"}, **extra}


def _yaml(*objects: Any) -> bytes:
    from sealer.io import manifests

    return manifests.dump_objects(objects, "yaml").encode()


def _json(*objects: Any) -> bytes:
    from sealer.io import manifests

    return manifests.dump_objects(objects, "json").encode()


def secret_seeds() -> list[bytes]:
    return [
        _yaml(_secret()),
        _json(_secret(name="api")),
        _yaml(_secret(), _secret(name="second", namespace="dev")),
        _yaml({"apiVersion": "v1", "kind": "List", "items": [_secret(), _secret(name="x")]}),
        _yaml(_secret(metadata={"name": "wide", "namespace": "prod", "annotations": {
            "sealedsecrets.bitnami.com/namespace-wide": "true"}})),
        b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: b\nstringData:\n  k: v\n",
        ALIASED_SECRET,
    ]


# Aliases a few levels deep, within the limits (sealer.errors.check_yaml_graph): mutations that repeat an alias or a
# span of them walk towards an alias bomb, which every reader must refuse quickly with a typed error.
ALIASED_SECRET = (b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: b\n  labels: &labels\n"
                  b"    app: web\n  annotations: *labels\nstringData:\n  k: v\nx:\n  l0: &l0 [a, b, c]\n"
                  b"  l1: &l1 [*l0, *l0, *l0]\n  l2: &l2 [*l1, *l1, *l1]\n  l3: [*l2, *l2, *l2]\n")
ALIASED_DOC = (b"base: &base\n  user: alice\n  port: 5432\nl0: &l0 [a, b, c]\nl1: &l1 [*l0, *l0, *l0]\n"
               b"l2: &l2 [*l1, *l1, *l1]\nsvc:\n  <<: *base\n  port: 6543\n  all: [*l2, *l2, *l2]\npassword: "
               + PLANTED.encode() + b"\n")


def alias_bomb(levels: int = 9, fanout: int = 9, head: bytes = b"") -> bytes:
    """The "billion laughs": ``levels`` lists of ``fanout`` aliases each of the one before (9 x 9: 550 bytes that
    expand to 387 million nodes). What `check_yaml_graph` refuses; used by tests and the fault corpus."""
    lines = [head.decode().rstrip("\n")] if head else []
    lines.append("bomb:\n  l0: &l0 [" + ", ".join(["x"] * fanout) + "]")
    lines += [f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * fanout) + "]" for i in range(1, levels + 1)]
    return ("\n".join(lines) + "\n").encode()


READ_LIMIT = 4096  # the read-input target's size limit (SEALER_MAX_INPUT in the CLI, 64 MiB by default)


def read_input_seeds() -> list[bytes]:
    """Inputs up to the size limit: a small Secret and one padded to the limit exactly (mutations grow past it)."""
    small = b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: b\nstringData:\n  k: v\n"
    padded = _yaml(_secret(metadata={"name": "big", "namespace": "prod", "annotations": {"note": ""}}))
    padded = padded.replace(b"note: ''", b"note: " + b"x" * (READ_LIMIT - len(padded) + 2))
    assert len(padded) == READ_LIMIT, len(padded)
    return [small, padded]


@functools.cache
def sealed_seeds() -> list[bytes]:
    from sealer import kube
    from sealer.sealed import sealedsecret as sealed
    from sealer.sealed.hybrid import Scope

    fx = fixtures()
    strict = sealed.seal_secret(_secret(), fx.cert)
    wide = sealed.seal_secret(_secret(name="w"), fx.cert, scope=Scope.CLUSTER_WIDE)
    bitnami = sealed.seal_secret(_secret(name="b"), fx.cert, scope=Scope.NAMESPACE_WIDE,
                                 api_version=kube.BITNAMI_API_VERSION)
    templated = copy.deepcopy(strict)
    templated["spec"]["template"]["data"] = {"dsn": "{{ .url }}", "user": None, "literal": "x"}
    return [_yaml(strict), _json(wide), _yaml(bitnami, templated)]


def _plain_docs() -> list[tuple[str, bytes]]:
    return [
        ("s.yaml", b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: n\nstringData:\n  password: "
                   + PLANTED.encode() + b"\n  n: 5\n"),
        ("c.yaml", b"# config\nuser: alice\npassword: " + PLANTED.encode() + b"  # eol\nport: 5432\nf: 1.5\n"
                   b"on: yes\nwhen: 2024-01-01\nlist:\n  - " + PLANTED.encode() + b"\n  - 2\n  - null\n"
                   b"nested:\n  deep:\n    k: |\n      multi\n      line\n  host_unencrypted: db\n"),
        ("m.yaml", b"a: " + PLANTED.encode() + b"\n---\nb: " + PLANTED.encode() + b"\n"),
        ("f.json", json.dumps({"a": PLANTED, "n": 5, "b": True, "z": None, "l": [PLANTED, 1.5],
                               "o": {"p_unencrypted": "x", "q": PLANTED}}, indent=2).encode()),
        ("aliases.yaml", ALIASED_DOC),
    ]


def _encrypt(name: str, text: bytes, **plan_args: Any) -> bytes:
    from sealer.sops import operations
    from sealer.sops.keys import service as keyservice

    fx = fixtures()
    tree = operations.load(text, name)
    plan = keyservice.plan(name, age=fx.recipient, is_secret=operations.is_secret_file(tree), env={},
                           cwd=str(fx.workdir), **plan_args)
    return operations.encrypt(tree, plan, name).encode()


def _shamir(text: bytes) -> bytes:
    """Two key groups, both needed (Shamir 2 of 2): the share-combining path."""
    from sealer.sops import operations
    from sealer.sops.keys.groups import KeySpec
    from sealer.sops.keys.service import Plan
    from sealer.sops.tree import Rule

    spec = KeySpec("age", fixtures().recipient)
    return operations.encrypt(operations.load(text, "k.yaml"), Plan([[spec], [spec]], 2, Rule.default(), "fuzz"),
                              "k.yaml").encode()


@functools.cache
def sops_yaml_seeds() -> list[bytes]:
    return [_encrypt(n, t) for n, t in _plain_docs() if n.endswith(".yaml")] + [
        _encrypt("r.yaml", b"a: 1\nsecret_b: x\n", rule_flags={"encrypted_regex": "^secret_"},
                 mac_only_encrypted=True),
        _shamir(b"token: " + PLANTED.encode() + b"\n")]


def sops_json_seeds() -> list[bytes]:
    return [_encrypt(n, t) for n, t in _plain_docs() if n.endswith(".json")]


def sopssecret_seeds() -> list[bytes]:
    from sealer.sops import operations
    from sealer.sops.keys import service as keyservice

    fx = fixtures()
    text = _plain_docs()[0][1]
    tree = operations.load(text, "s.yaml")
    plan = keyservice.plan("s.yaml", age=fx.recipient, is_secret=True, env={}, cwd=str(fx.workdir))
    yaml_text = operations.encrypt(tree, plan, "s.yaml", sopssecret=True)
    tree = operations.load(yaml_text.encode(), "s.yaml")
    from sealer.sops.stores import values

    obj = values.to_data(tree.roots[0])
    obj["sops"] = tree.metadata
    obj["metadata"]["uid"] = "1234"  # server-set fields the MAC does not cover
    obj["status"] = {"conditions": []}
    return [json.dumps(obj).encode()]


ENC_KEY = bytes(range(32))  # the enc-value target's data key
ENC_AAD = "data:password:"


def enc_value_seeds() -> list[bytes]:
    from sealer.sops import codec

    key = codec.AESGCM(ENC_KEY)
    return [codec.encrypt(key, PLANTED.encode(), ENC_AAD, "str").encode(),
            codec.encrypt(key, b"5432", ENC_AAD, "int").encode(),
            codec.encrypt(key, b"True", ENC_AAD, "bool", iv=b"\1" * 12).encode()]


def armor_seeds() -> list[bytes]:
    from sealer.sops.keys import age

    fx = fixtures()
    return [age.wrap(os.urandom(32), fx.recipient).encode(), age.wrap(b"k" * 32, fx.recipient).encode()]


def identity_seeds() -> list[bytes]:
    fx = fixtures()
    return [fx.identity_file, fx.identity.encode() + b"\n", b"# only a comment\n\n" + fx.identity.encode()]


def recipient_seeds() -> list[bytes]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    ssh = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return [fixtures().recipient.encode(), ssh + b" user@host", (fixtures().recipient + "," + ssh.decode()).encode()]


def config_seeds() -> list[bytes]:
    r = fixtures().recipient
    return [
        f"creation_rules:\n  - path_regex: ^secrets/.*\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {r}\n  - age: >-\n      {r},\n      {r}\n".encode(),
        f"creation_rules:\n  - path_regex: prod/\n    shamir_threshold: 2\n    key_groups:\n      - age:\n"
        f"          - {r}\n      - age: [{r}]\n        hc_vault: [http://127.0.0.1:9/v1/transit/keys/k]\n"
        f"    mac_only_encrypted: yes\n".encode(),
        f"creation_rules:\n  - unencrypted_suffix: _plain\n    age: [{r}]\n    pgp: ABCDEF\n"
        f"destination_rules: []\nstores:\n  yaml:\n    indent: 2\n".encode(),
        f"keys: &keys [{r}]\nbase: &base {{encrypted_regex: ^data$}}\nl0: &l0 [a, b]\nl1: [*l0, *l0, *l0]\n"
        f"creation_rules:\n  - <<: *base\n    key_groups: [{{age: *keys}}, {{age: *keys}}]\n".encode(),
    ]


def cert_seeds() -> list[bytes]:
    fx = fixtures()
    return [fx.cert_pem, fx.cert_der]


def key_seeds() -> list[bytes]:
    fx = fixtures()
    backup = {"apiVersion": "v1", "kind": "List", "items": [{
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
        "metadata": {"name": "sealed-secrets-key1", "namespace": "kube-system",
                     "labels": {"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}},
        "data": {"tls.crt": base64.b64encode(fx.cert_pem).decode(),
                 "tls.key": base64.b64encode(fx.key_pem).decode()}}]}
    return [fx.key_pem, fx.pkcs8_pem + fx.key_pem, _yaml(backup)]


def path_seeds() -> list[bytes]:
    return [b'["data"]["password"]', b'["list"][0]', b"[\"a b\"][10][\"c\\\"d\"]"]


def lint_seeds() -> list[bytes]:
    return [
        _yaml(_secret()),
        sealed_seeds()[0],
        sops_yaml_seeds()[0],
        b"DATABASE_URL=postgres://user:" + PLANTED.encode() + b"@db:5432/app\nAPI_KEY=abcdef0123456789abcdef\n",
        b"# sealer:allow generic-secret\npassword = 'correct horse battery staple'\ntoken: ghp_" + b"a" * 36 + b"\n",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  password: hunter2\n  url: https://x\n",
        ALIASED_SECRET,
    ]


def answer_seeds() -> list[bytes]:
    return [sealed_seeds()[1], json.dumps({"kind": "Status", "message": "denied", "reason": "Forbidden"}).encode()]


# --- targets ----------------------------------------------------------------------------------------------------------

@target("manifests", "yaml", secret_seeds)
def _manifests(data: bytes) -> object:
    """Kubernetes objects from YAML/JSON streams and `kind: List` (manifests.load_objects)."""
    from sealer.io import manifests

    objects = manifests.load_objects(data, SOURCE)
    return [manifests.describe(o) for o in objects]


@target("read-input", "yaml", read_input_seeds)
def _read_input(data: bytes) -> object:
    """A file at the input size limit (READ_LIMIT here, SEALER_MAX_INPUT in the CLI): read and parsed, or refused."""
    from sealer.io import files as fsio
    from sealer.io import manifests

    path = fixtures().workdir / "input.yaml"
    path.write_bytes(data)
    raw, source = fsio.read_input(str(path), limit=READ_LIMIT)
    return [manifests.describe(o) for o in manifests.load_objects(raw, source)]


@target("seal-input", "yaml", secret_seeds)
def _seal_input(data: bytes) -> object:
    """`sealer seal` input: Secrets (data, stringData, scope annotations) sealed for the cert."""
    from sealer.io import manifests
    from sealer.sealed import sealedsecret as sealed

    fx = fixtures()
    objects = manifests.load_objects(data, SOURCE)
    out = sealed.each(objects, SOURCE, lambda obj: sealed.seal_secret(obj, fx.cert, allow_empty=True))
    return manifests.dump_objects(out, "yaml")


@target("unseal", "yaml", sealed_seeds, leak_check=True)
def _unseal(data: bytes) -> object:
    """`sealer unseal` input: SealedSecrets (shape, scope, template, encryptedData, hybrid ciphertext)."""
    from sealer.io import manifests
    from sealer.sealed import sealedsecret as sealed

    fx = fixtures()
    out = sealed.each(manifests.load_objects(data, SOURCE), SOURCE, lambda obj: sealed.unseal(obj, [fx.private]))
    return manifests.dump_objects(out, "json")


@target("sealed-edit", "yaml", sealed_seeds, leak_check=True)
def _sealed_edit(data: bytes) -> object:
    """`--merge-into` and `reencrypt` input: SealedSecrets loaded for editing in place (roundtrip)."""
    from sealer.io import roundtrip
    from sealer.sealed import sealedsecret as sealed

    fx = fixtures()
    doc = roundtrip.load(data, SOURCE)
    for obj in doc.docs:
        if sealed.is_sealed_secret(obj):
            try:
                sealed.reencrypt(obj, [fx.private], fx.cert)
                sealed.merge_into(obj, _secret(name=obj["metadata"]["name"],
                                               namespace=obj["metadata"].get("namespace") or "prod"), fx.cert)
            except SealerError as e:
                raise sealed.located(e, obj, SOURCE) from None
    return doc.dumps()


@target("hybrid", "raw", lambda: [base64.b64decode(v) for v in json.loads(sealed_seeds()[1])["spec"][
    "encryptedData"].values()], leak_check=True)
def _hybrid(data: bytes) -> object:
    """The hybrid value itself (uint16 length, RSA-OAEP session key, AES-GCM), raw bytes."""
    from sealer.sealed import hybrid

    return hybrid.decrypt([fixtures().private.key], data, b"")


@target("sops-yaml", "yaml", sops_yaml_seeds, leak_check=True)
def _sops_yaml(data: bytes) -> object:
    """`sealer decrypt` of a YAML file: fastyaml/ruamel reader, metadata, age stanza, ENC values, MAC, writer."""
    from sealer.sops import operations

    return operations.decrypt(operations.load(data, "f.yaml"), "f.yaml", fixtures().opener).text


@target("sops-json", "json", sops_json_seeds, leak_check=True)
def _sops_json(data: bytes) -> object:
    """`sealer decrypt` of a JSON file."""
    from sealer.sops import operations

    return operations.decrypt(operations.load(data, "f.json"), "f.json", fixtures().opener).text


@target("sops-encrypt", "yaml", lambda: [t for _, t in _plain_docs()])
def _sops_encrypt(data: bytes) -> object:
    """`sealer encrypt` input: any YAML or JSON document, through the reader, the rule and the writer."""
    from sealer.sops import operations
    from sealer.sops.keys import service as keyservice

    fx = fixtures()
    name = "f.json" if data.lstrip()[:1] == b"{" else "f.yaml"
    tree = operations.load(data, name)
    plan = keyservice.plan(name, age=fx.recipient, is_secret=operations.is_secret_file(tree), env={},
                           cwd=str(fx.workdir))
    return operations.encrypt(tree, plan, name)


@target("sops-edit", "yaml", sops_yaml_seeds, leak_check=True)
def _sops_edit(data: bytes) -> object:
    """`sealer set` / `unset` / `rotate` on a YAML file (decrypt, change, re-encrypt with the same key)."""
    from sealer.sops import operations

    fx = fixtures()
    operations.set_value(operations.load(data, "f.yaml"), "f.yaml", fx.opener, '["fuzz"]',
                         operations.value_node('"v"', "yaml"))
    if b"\nuser:" in data:
        operations.unset_value(operations.load(data, "f.yaml"), "f.yaml", fx.opener, '["user"]')
    return operations.rotate(operations.load(data, "f.yaml"), "f.yaml", fx.opener)


@target("sops-metadata", "yaml", lambda: [s[s.index(b"\nsops:") + 1:] for s in sops_yaml_seeds()], leak_check=True)
def _sops_metadata(data: bytes) -> object:
    """The `sops:` block alone: key groups, Shamir threshold, rule, lastmodified, MAC; the data key opened."""
    from sealer.sops import document, metadata, stores

    meta = metadata.parse(stores.load(data, "f.yaml").metadata, "f.yaml")
    key = document.open_data_key(meta, fixtures().opener)
    document.check_mac_key(document.AESGCM(key), meta, "f.yaml")
    return meta.to_data()


@target("fastyaml", "yaml", lambda: sops_yaml_seeds() + [t for n, t in _plain_docs() if n.endswith(".yaml")])
def _fastyaml(data: bytes) -> object:
    """The strict fast reader and writer: any text is either taken (and written back) or declined (None)."""
    from sealer.sops.fastyaml import read, write

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    roots = read.compose_all(text)
    return [write.serialize(r, 2, 2, 0, i > 0) for i, r in enumerate(roots or [])]


@target("enc-value", "raw", enc_value_seeds, leak_check=True)
def _enc_value(data: bytes) -> object:
    """One `ENC[AES256_GCM,data:...,iv:...,tag:...,type:...]` value: parsed and opened."""
    from sealer.sops import codec

    return codec.decrypt(codec.AESGCM(ENC_KEY), data.decode("utf-8", "replace"), ENC_AAD)


@target("age-armor", "raw", armor_seeds, leak_check=True)
def _age_armor(data: bytes) -> object:
    """An age stanza as sops stores it: the armour (strict, as filippo.io/age reads it), then the age header."""
    from sealer.sops.keys import age

    age.dearmor(data)
    return age.unwrap(data.decode("latin-1"), fixtures().identities)


def binary_age_seeds() -> list[bytes]:
    from sealer.sops.keys import age

    return [age.dearmor(s) for s in armor_seeds()]


@target("age-binary", "raw", binary_age_seeds, leak_check=True)
def _age_binary(data: bytes) -> object:
    """A binary age file (header, stanzas, MAC, payload) given as bytes."""
    from sealer.sops.keys import age

    return age.unwrap(data, fixtures().identities)


@target("age-identities", "raw", identity_seeds)
def _age_identities(data: bytes) -> object:
    """An age identity file (SOPS_AGE_KEY_FILE, a Secret's `.agekey` item)."""
    from sealer.sops.keys import age

    return age.parse_identities(data, "fuzz.agekey")


@target("age-recipients", "raw", recipient_seeds)
def _age_recipients(data: bytes) -> object:
    """`--age` / SOPS_AGE_RECIPIENTS: age1... and SSH public keys, comma-separated."""
    from sealer.sops.keys import age

    return age.parse_recipients(data.decode("utf-8", "replace"), "--age")


@target("sops-config", "yaml", config_seeds)
def _sops_config(data: bytes) -> object:
    """`.sops.yaml`: creation rules, key groups, rule fields; then the plan encrypt would make from it."""
    from sealer.sops import config
    from sealer.sops.keys import service as keyservice

    fx = fixtures()
    directory = Path(tempfile.mkdtemp(dir=fx.workdir))
    try:
        (directory / config.CONFIG_NAME).write_bytes(data)
        rules = config.load_config(str(directory / config.CONFIG_NAME))
        for path in (str(directory / "secrets/a.yaml"), str(directory / "prod/b.yaml"), "/elsewhere/c.json"):
            rule = config.match_rule(rules, str(directory / config.CONFIG_NAME), path)
            if rule is not None:
                rule.effective_key_groups()
                keyservice.plan(path, env={}, cwd=str(directory), is_secret=True)
        return rules
    finally:
        for p in directory.iterdir():
            p.unlink()
        directory.rmdir()


@target("cert", "raw", cert_seeds)
def _cert(data: bytes) -> object:
    """`--cert FILE`: a PEM or DER certificate."""
    from sealer.sealed import keys

    return keys.parse_cert(data, "fuzz.crt")


@target("private-keys", "yaml", key_seeds)
def _private_keys(data: bytes) -> object:
    """`--key FILE`: PEM private keys (PKCS#1, PKCS#8, several blocks) or a YAML/JSON backup of key Secrets."""
    from sealer.sealed import keys

    path = fixtures().workdir / "fuzz.key"
    path.write_bytes(data)
    return keys.load_private_keys(str(path))


@target("sopssecret", "json", sopssecret_seeds, leak_check=True)
def _sopssecret(data: bytes) -> object:
    """A SopsSecret object as the controller gets it from the API server (JSON): decrypted to a Secret."""
    from sealer.sops import kubernetes

    try:
        obj = json.loads(data)
    except (ValueError, RecursionError):
        return None  # the API server only ever hands over valid JSON objects
    if not isinstance(obj, dict):
        return None
    return kubernetes.open_sopssecret(obj, fixtures().opener, "sopssecret")


@target("sops-path", "raw", path_seeds)
def _sops_path(data: bytes) -> object:
    """`--extract` / `set` paths: `["key"][0]`."""
    from sealer.sops import paths

    return paths.parse(data.decode("utf-8", "replace"))


def gotemplate_seeds() -> list[bytes]:
    return [
        b'postgres://{{ .user }}:{{ .password | urlquery }}@db/app',
        b'{{- range $k, $v := . }}\n{{ $k }}={{ $v | quote }}\n{{- end }}',
        b'{{ define "x" }}[{{ . | upper }}]{{ end }}{{ if and .user (not .missing) }}{{ template "x" .user }}'
        b'{{ else if eq .port "5432" }}pg{{ else }}{{ .password | b64enc }}{{ end }}',
        b'{{ $l := splitList "," .csv }}{{ range $i, $e := $l }}{{ if eq $i 1 }}{{ continue }}{{ end }}'
        b'{{ printf "%d:%q " $i $e }}{{ end }}{{ toPrettyJson (dict "n" (len $l) "l" (sortAlpha $l)) }}',
        b'{{ with fromJson .json }}{{ .a | add 1 }} {{ dig "c" "d" "-" . }}{{ end }} {{ regexReplaceAll "(o+)" '
        b'.password "${1}0" | sha256sum | trunc 8 }} {{ .user | snakecase | indent 2 | nindent 4 }}',
        b'{{/* comment */}}{{ "\\u00e9\\x41" }}{{ 1.5e3 }}{{ 0x1F }}{{ \'a\' }}{{ `raw` }}{{ .missing | default 3 }}',
    ]


@target("gotemplate", "raw", gotemplate_seeds, leak_check=True)
def _gotemplate(data: bytes) -> object:
    """A SealedSecret's spec.template.data value (Go text/template + sprig) over items that hold PLANTED."""
    from sealer import gotemplate

    items = {"user": b"admin", "password": PLANTED.encode(), "port": b"5432", "csv": b"b,a," + PLANTED.encode(),
             "json": b'{"a": 1, "c": {"d": "' + PLANTED.encode() + b'"}}'}
    return gotemplate.render_items(data.decode("utf-8", "surrogateescape"), items, name="cfg",
                                   field="spec.template.data.cfg")


@target("controller-answer", "json", answer_seeds)
def _controller_answer(data: bytes) -> object:
    """What `validate` / `reencrypt --controller` read from the controller: a rotated SealedSecret or a Status."""
    from sealer.sealed import controllerapi
    from sealer.sealed import sealedsecret as sealed

    class Canned(controllerapi.Controller):
        """The transport replaced by a fixed answer: only the parsing of it runs."""

        answer = (200, data)

        def _post(self, path: str, obj: Any) -> tuple[int, bytes]:
            return self.answer

    obj = json.loads(sealed_seeds()[1])
    sealed.check_sealed(obj)
    out = []
    for status in (200, 409, 403, 500):
        controller = Canned(url="http://127.0.0.1:9")
        controller.answer = (status, data)
        try:
            rotated = controller.rotate(obj)
            out.append(controllerapi.apply_rotated(copy.deepcopy(obj), rotated))
        except SealerError as e:
            out.append(str(e))
    return out


def _lint_available() -> bool:
    try:
        from sealer.lint import scan
    except ImportError:
        return False
    return hasattr(scan, "scan_text")


if _lint_available():
    @target("lint", "yaml", lint_seeds)
    def _lint(data: bytes) -> object:
        """`sealer lint` on one file's text: YAML structure rules (for .yaml) and the text detectors."""
        from sealer.lint.context import Options
        from sealer.lint.scan import scan_text

        text = data.decode("utf-8", "replace")
        suffix = (".yaml", ".json", ".env", ".py", ".tpl")[len(data) % 5]
        return scan_text("fuzz" + suffix, None, text, Options())


# --- checking one input ---------------------------------------------------------------------------------------------

class Hang(Exception):
    """The input ran longer than the time limit."""


@dataclass
class Crash:
    target: str
    kind: str  # exception type, "hang" or "leak"
    where: str  # innermost frame in sealer/ (or the last one)
    message: str
    data: bytes

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.target, self.kind, self.where)

    def describe(self) -> str:
        return f"{self.target}: {self.kind} at {self.where}: {self.message}"


def _where(tb: Any) -> str:
    frames = traceback.extract_tb(tb)
    ours = [f for f in frames if "/sealer/" in f.filename and "/bench/" not in f.filename]
    f = (ours or frames)[-1] if (ours or frames) else None
    if f is None:
        return "?"
    return f"{f.filename.rsplit('/sealer/', 1)[-1] if '/sealer/' in f.filename else f.filename}:{f.lineno}"


def _on_alarm(signum: int, frame: Any) -> None:
    raise Hang()


def check(t: Target, data: bytes, limit: float = HANG_SECONDS) -> Crash | None:
    """Run one input; a Crash when the contract is broken, else None."""
    use_alarm = limit > 0 and hasattr(signal, "setitimer") and _main_thread()
    if use_alarm:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        t.run(data)
    except SealerError as e:
        if t.leak_check and PLANTED in str(e):
            return Crash(t.name, "leak", _where(e.__traceback__), "an error message names the planted secret", data)
        return None
    except Hang as e:
        return Crash(t.name, "hang", _where(e.__traceback__), f"still running after {limit:g} s", data)
    except Exception as e:  # what the contract forbids
        message = str(e).splitlines()[0][:200] if str(e) else ""
        return Crash(t.name, type(e).__name__, _where(e.__traceback__), message, data)
    finally:
        if use_alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return None


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


# --- mutations --------------------------------------------------------------------------------------------------------

TOKENS = [
    b"\n", b": ", b"- ", b"  ", b"\t", b"{", b"}", b"[", b"]", b",", b"'", b'"', b"#", b"&a ", b"*a", b"<<: *a",
    b"!!binary ", b"!!str ", b"!!int ", b"!!timestamp ", b"!!python/object ", b"|", b"|+", b">-", b"---\n",
    b"...\n", b"~", b"null", b"true", b"yes", b"0x", b"1e400", b"-0", b"2024-13-45", b"\\u0000", b"\x00", b"\xff",
    b"\xc3", b"\xef\xbb\xbf", b"\r\n", b"=", b"ENC[AES256_GCM,data:", b",iv:", b",tag:", b",type:str]",
    b",type:int]", b",type:bytes]", b"sops:\n", b"age:", b"enc: |", b"key_groups:", b"shamir_threshold: ",
    b"lastmodified:", b"mac:", b"hc_vault:", b"vault_address: ", b"encrypted_regex: ", b"mac_only_encrypted: true",
    b"-----BEGIN AGE ENCRYPTED FILE-----\n", b"-----END AGE ENCRYPTED FILE-----", b"-----BEGIN CERTIFICATE-----",
    b"-----BEGIN RSA PRIVATE KEY-----", b"-----END PRIVATE KEY-----", b"kind: SealedSecret", b"kind: List",
    b"apiVersion: bitnami.com/v1alpha1", b"encryptedData:", b"template:", b"{{ .x }}", b"stringData:", b"data:",
    b"sealedsecrets.bitnami.com/cluster-wide: \"true\"", b"AGE-SECRET-KEY-1", b"age1", b"ssh-ed25519 ",
    b"creation_rules:", b"path_regex: ", b"(?P<x>", b"\\", b"Ag", b"=", b"==", b"AAAA",
]


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(14)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([0, -1, 1, 2**63, 2**64, -(2**70), 5])
    if choice == 2:
        return rng.choice([1.5, -0.0, float("inf"), 1e300])
    if choice == 3:
        return rng.choice([True, False])
    if choice == 4:
        return ""
    if choice == 5:
        return rng.choice(["x", "true", "yes", "0o17", "2024-01-01", "{{ .x }}", "../..", "a/b", "\u2028", "é" * 3,
                           " ", "ENC[AES256_GCM,data:,iv:,tag:,type:str]", "-----BEGIN AGE ENCRYPTED FILE-----\n"])
    if choice == 6:
        return "x" * rng.choice([64, 300, 5000])
    if choice == 7:
        return [] if depth > 2 else [_random_value(rng, depth + 1) for _ in range(rng.randrange(3))]
    if choice == 8:
        return {} if depth > 2 else {rng.choice(["a", "name", "data", "kind", "1"]): _random_value(rng, depth + 1)}
    if choice == 9:
        return dt.datetime(2024, 1, 1, 10, 0)
    if choice == 10:
        nested: Any = "x"
        for _ in range(rng.choice([10, 100, 2000])):
            nested = [nested]
        return nested
    if choice == 11:
        return base64.b64encode(os.urandom(rng.randrange(1, 600))).decode()
    if choice == 12:
        return rng.randrange(-5, 300)
    return {"x": None}


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if len(path) > 30:  # deep (or self-referencing, through YAML aliases) documents: the top is enough
        return out
    if isinstance(node, dict):
        for k, v in list(node.items())[:40]:
            out.extend(_paths(v, (*path, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node[:40]):
            out.extend(_paths(v, (*path, i)))
    return out


def structural(data: bytes, rng: random.Random, fmt: str) -> bytes:
    """Parse as YAML/JSON, change one node (new type, removed, renamed key, added key), write back."""
    import yaml

    try:
        docs = list(yaml.load_all(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    except Exception:  # PyYAML fails in many ways on mutated input (its own crashes are not ours to find)
        return data
    if not docs:
        return data
    doc_index = rng.randrange(len(docs))
    root = docs[doc_index]
    candidates = _paths(root)
    path = rng.choice(candidates)
    parent, last = None, None
    node = root
    for part in path:
        parent, last, node = node, part, node[part]
    action = rng.randrange(4)
    if parent is None:
        docs[doc_index] = _random_value(rng)
    elif action == 0 or not isinstance(parent, dict):
        parent[last] = _random_value(rng)
    elif action == 1:
        del parent[last]
    elif action == 2:
        parent[rng.choice([1, None, True, "sops", "kind", "metadata", str(last) + "x", "<<"])] = parent.pop(last)
    else:
        parent[rng.choice(["sops", "apiVersion", "status", "spec", "extra", "immutable"])] = _random_value(rng)
    try:
        if fmt == "json" or data.lstrip()[:1] in (b"{", b"["):
            return json.dumps(docs[0] if len(docs) == 1 else docs, default=str).encode()
        return yaml.dump_all(docs, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False,
                             allow_unicode=rng.random() < 0.5).encode()
    except Exception:
        return data


def mutate(data: bytes, rng: random.Random, t: Target, others: list[bytes]) -> bytes:
    """One to eight random edits: bit flips, bytes, tokens, cut/duplicate/splice spans, or a structural change."""
    if t.fmt != "raw" and rng.random() < 0.3:
        data = structural(data, rng, t.fmt)
        if rng.random() < 0.5:
            return data[:MAX_INPUT]
    out = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4, 8))):
        op = rng.randrange(9)
        n = len(out)
        pos = rng.randrange(n + 1)
        if op == 0 and n:
            out[min(pos, n - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and n:
            out[min(pos, n - 1)] = rng.choice((0, 0xFF, 0x7F, 0x80, 0x0A, 0x20, rng.randrange(256)))
        elif op == 2:
            out[pos:pos] = rng.choice(TOKENS)
        elif op == 3 and n:
            end = min(n, pos + rng.choice((1, 2, 4, 16, 64, n)))
            del out[pos:end]
        elif op == 4 and n:
            end = min(n, pos + rng.choice((1, 8, 64, 512)))
            out[pos:pos] = out[pos:end] * rng.choice((1, 2, 16))
        elif op == 5 and others:
            other = rng.choice(others)
            a = rng.randrange(len(other) + 1)
            out[pos:] = other[a: a + rng.randrange(1, 400)] + out[pos:]
        elif op == 6:
            del out[pos:]
        elif op == 7:
            # swap a token for another: keeps the document's shape, changes one meaningful piece
            token = rng.choice(TOKENS)
            where = bytes(out).find(token)
            if where >= 0:
                out[where: where + len(token)] = rng.choice(TOKENS)
        else:
            out[pos:pos] = rng.choice((b"[" * 3000, b"{a: " * 1500, b"- " * 2000 + b"x", b"a:\n" + b" " * 5000))
    return bytes(out[:MAX_INPUT])


# --- the runner -------------------------------------------------------------------------------------------------------

@dataclass
class Run:
    target: str
    execs: int = 0
    seconds: float = 0.0
    crashes: dict[tuple[str, str, str], Crash] = field(default_factory=dict)


def fuzz(t: Target, seconds: float, rng: random.Random, limit: float = HANG_SECONDS) -> Run:
    seeds = t.seeds()
    run = Run(t.name)
    for seed in seeds:  # the seeds themselves must pass
        crash = check(t, seed, limit)
        if crash is not None:
            run.crashes.setdefault(crash.key, crash)
    start = time.perf_counter()
    corpus = list(seeds)
    while time.perf_counter() - start < seconds:
        data = mutate(rng.choice(corpus), rng, t, corpus)
        crash = check(t, data, limit)
        run.execs += 1
        if crash is not None:
            run.crashes.setdefault(crash.key, crash)
        elif len(corpus) < 200 and rng.random() < 0.02:
            corpus.append(data)  # keep some survivors: mutations of mutations reach deeper
    run.seconds = time.perf_counter() - start
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="budget per target (default 10)")
    parser.add_argument("--target", action="append", help="only this target (repeatable); see --list")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    parser.add_argument("--crashes", help="directory for crashing inputs (default: a new temp dir)")
    parser.add_argument("--hang", type=float, default=HANG_SECONDS, help="seconds before an input counts as a hang")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    parser.add_argument("--reproduce", metavar="FILE", help="run one input file against --target and show the result")
    args = parser.parse_args(argv)
    if args.list:
        for name, t in TARGETS.items():
            print(f"{name:18} {t.doc}")
        return 0
    names = args.target or list(TARGETS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        parser.error(f"unknown target(s): {', '.join(unknown)} (see --list)")
    if args.reproduce:
        data = Path(args.reproduce).read_bytes()
        for name in names:
            crash = check(TARGETS[name], data, args.hang)
            print(f"{name}: " + ("ok (worked or a typed error)" if crash is None else crash.describe()))
            if crash is not None:
                TARGETS[name].run(data)  # again, for the traceback
        return 0
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    rng = random.Random(seed)
    crash_dir = Path(args.crashes) if args.crashes else Path(tempfile.mkdtemp(prefix="sealer-fuzz-crashes-"))
    print(f"[fuzz] seed {seed}, {args.seconds:g} s per target, crashes to {crash_dir}", file=sys.stderr)
    rows, total = [], 0
    for name in names:
        t = TARGETS[name]
        print(f"[fuzz] {name} ...", file=sys.stderr, flush=True)
        run = fuzz(t, args.seconds, rng, args.hang)
        for i, crash in enumerate(run.crashes.values()):
            crash_dir.mkdir(parents=True, exist_ok=True)
            path = crash_dir / f"{name}-{i}.bin"
            path.write_bytes(crash.data)
            print(f"[fuzz] CRASH {crash.describe()} -> {path}", file=sys.stderr)
        total += len(run.crashes)
        rate = run.execs / run.seconds if run.seconds else 0.0
        rows.append(f"| {name} | {run.execs} | {rate:,.0f} | {len(run.crashes)} |")
    print(f"Fuzzing, {args.seconds:g} s per target, seed {seed}, {dt.date.today().isoformat()}, "
          f"{os.cpu_count()} CPUs\n")
    print("| target | inputs | inputs/s | crashes |\n|---|---:|---:|---:|")
    print("\n".join(rows))
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
