"""Wire compatibility of the Sealed Secrets value, both directions, against an independent reference.

`reference_sealed` is written from the format facts and imports nothing from sealer; some tests do the RSA
step with the `openssl` CLI, so neither side of those shares RSA-OAEP code with sealer. The CLI tests run
`python -m sealer` as a real process on real files.
"""

from __future__ import annotations

import base64
import copy
import random
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from sealer.errors import DecryptionError
from sealer.sealed import hybrid
from sealer.sealed import sealedsecret as sealed
from sealer.sealed.hybrid import Scope
from tests import reference_sealed as ref

SCOPES = ("strict", "namespace-wide", "cluster-wide")
API_VERSIONS = ("bitnami.com/v1alpha1", "sealer.dev/v1alpha1")
NS, NAME = "team-a", "db-creds"

_rng = random.Random(0x5EA1)
VALUES: dict[str, bytes] = {
    "all-bytes": bytes(range(256)),
    "random.bin": _rng.randbytes(5000),
    "unicode": "pässwörd ✓ 密码 🔑 Ωμέγα".encode(),
    "multi-line.pem": b"-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBg\n  indented\r\nCRLF line\n\n-----END X-----\n",
    "nul_and_newlines": b"\x00\n\x00\r\n\x00",
    "empty": b"",
}
# Standard alphabet, padded, no line breaks.
B64 = re.compile(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$")
PREFIX = {2048: "AQ", 4096: "Ag"}

# NIST/McGrew-Viega GCM test cases 13 and 14: AES-256, all-zero key, all-zero 96-bit IV.
GCM_KAT_EMPTY_TAG = bytes.fromhex("530f8afbc74536b9a963b4f1c4cb738b")
GCM_KAT_16_ZEROS = bytes.fromhex("cea7403d4d606b6e074ec5d3baf39d18" "d0d1c8a799996bf0265b98b5d48ab919")


@pytest.fixture(params=[2048, 4096], ids=["rsa2048", "rsa4096"])
def kp(request: pytest.FixtureRequest):
    return request.getfixturevalue(f"kp{request.param}")


def bits(kp) -> int:
    return kp.private.key.key_size


def scope_annotations(scope: str) -> dict[str, str]:
    return {"strict": {}, "namespace-wide": {ref.NAMESPACE_WIDE: "true"},
            "cluster-wide": {ref.CLUSTER_WIDE: "true"}}[scope]


def sealed_manifest(encrypted: dict[str, str], *, api_version: str = "bitnami.com/v1alpha1", name: str = NAME,
                    namespace: str = NS, annotations: dict[str, str] | None = None,
                    template_annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """A SealedSecret the way kubeseal writes one."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = dict(annotations)
    tmeta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": {"app": "db"}}
    if template_annotations:
        tmeta["annotations"] = dict(template_annotations)
    return {"apiVersion": api_version, "kind": "SealedSecret", "metadata": meta,
            "spec": {"encryptedData": encrypted, "template": {"metadata": tmeta, "type": "Opaque"}}}


def write_yaml(path: Path, obj: Any) -> Path:
    path.write_text(yaml.safe_dump(obj, sort_keys=False, allow_unicode=True))
    return path


def unseal_cli(sealer_cli, tmp_path: Path, objs: list[dict[str, Any]], *key_paths: Path):
    """`sealer unseal` on a multi-document file; one process for many SealedSecrets keeps the suite fast."""
    f = tmp_path / "sealed.yaml"
    f.write_text(yaml.safe_dump_all(objs, sort_keys=False, allow_unicode=True))
    args: list[Any] = ["unseal", f]
    for k in key_paths:
        args += ["--key", k]
    return sealer_cli(*args)


def data_of(secret: dict[str, Any]) -> dict[str, bytes]:
    assert secret["apiVersion"] == "v1"
    assert secret["kind"] == "Secret"
    return {k: base64.b64decode(v, validate=True) for k, v in (secret.get("data") or {}).items()}


def secrets_out(stdout: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(stdout) if d is not None]


def assert_refused(proc, *, named: tuple[str, ...], not_named: tuple[str, ...] = ()) -> None:
    """Exit 1, nothing on stdout, and the one-line error names exactly the failing items."""
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    assert proc.stderr.startswith("sealer: error: ")
    for item in named:
        assert item in proc.stderr, item
    for item in not_named:
        assert item not in proc.stderr, item


def ref_encrypt_all(values: dict[str, bytes], lbl: bytes, wrap: ref.Wrap) -> dict[str, str]:
    return {k: ref.encrypt_b64(v, lbl, wrap) for k, v in values.items()}


# --- known answers ------------------------------------------------------------------------------------

def test_reference_aes_part_matches_gcm_known_answers(kp2048):
    wrap = ref.py_wrap(kp2048.cert.public_key)
    n = 256
    empty = ref.encrypt(b"", b"x", wrap, session_key=bytes(32))
    zeros = ref.encrypt(bytes(16), b"x", wrap, session_key=bytes(32))
    assert empty[:2] == n.to_bytes(2, "big") and len(empty) == 2 + n + 16
    assert empty[2 + n:] == GCM_KAT_EMPTY_TAG
    assert zeros[2 + n:] == GCM_KAT_16_ZEROS


@pytest.mark.parametrize("plaintext, gcm", [(b"", GCM_KAT_EMPTY_TAG), (bytes(16), GCM_KAT_16_ZEROS)],
                         ids=["empty", "16-zeros"])
def test_sealer_opens_hand_built_known_answer_value(kp, plaintext, gcm):
    """Bytes assembled by hand: openssl wraps the all-zero session key, the AES part is the NIST vector."""
    lbl = ref.label("strict", NS, NAME)
    wrapped = ref.openssl_wrap(cert_path=kp.cert_path)(bytes(32), lbl)
    assert len(wrapped) == bits(kp) // 8
    blob = len(wrapped).to_bytes(2, "big") + wrapped + gcm
    assert hybrid.decrypt([kp.private.key], blob, lbl) == plaintext
    assert base64.b64encode(blob).decode().startswith(PREFIX[bits(kp)])
    with pytest.raises(DecryptionError):
        hybrid.decrypt([kp.private.key], blob, ref.label("strict", NS, "other"))


# --- library level: hybrid.encrypt / hybrid.decrypt ----------------------------------------------------

@pytest.mark.parametrize("scope", SCOPES)
def test_reference_encrypts_sealer_decrypts(kp, kp2048b, scope):
    lbl = ref.label(scope, NS, NAME)
    wrap = ref.py_wrap(kp.cert.public_key)
    for item, value in VALUES.items():
        blob = ref.encrypt(value, lbl, wrap)
        assert hybrid.decrypt([kp.private.key], blob, lbl) == value, item
        # A wrong key first is skipped; a wrong key alone fails.
        assert hybrid.decrypt([kp2048b.private.key, kp.private.key], blob, lbl) == value, item
        with pytest.raises(DecryptionError):
            hybrid.decrypt([kp2048b.private.key], blob, lbl)
    blob = ref.encrypt(b"v", lbl, wrap)
    for other in SCOPES:
        if other != scope:
            with pytest.raises(DecryptionError):
                hybrid.decrypt([kp.private.key], blob, ref.label(other, NS, NAME))


@pytest.mark.parametrize("scope", SCOPES)
def test_sealer_encrypts_reference_decrypts(kp, scope):
    lbl = ref.label(scope, NS, NAME)
    unwrap = ref.py_unwrap(kp.private.key)
    k = bits(kp) // 8
    for item, value in VALUES.items():
        blob = hybrid.encrypt(kp.cert.public_key, value, lbl)
        assert int.from_bytes(blob[:2], "big") == k, item
        assert len(blob) == 2 + k + len(value) + 16, item
        assert ref.decrypt(blob, lbl, unwrap) == value, item
    blob = hybrid.encrypt(kp.cert.public_key, b"v", lbl)
    for other in SCOPES:
        if other != scope:
            with pytest.raises(ref.ReferenceDecryptError):
                ref.decrypt(blob, ref.label(other, NS, NAME), unwrap)


def test_sealer_uses_a_fresh_session_key_per_value(kp2048):
    """All-zero nonce is only safe with one-time session keys: equal plaintexts must not give equal bytes."""
    a = hybrid.encrypt(kp2048.cert.public_key, b"same", b"l")
    b = hybrid.encrypt(kp2048.cert.public_key, b"same", b"l")
    assert a[2 + 256:] != b[2 + 256:]
    assert a[2:2 + 256] != b[2:2 + 256]


def test_base64_prefix_by_key_size(kp):
    lbl = ref.label("strict", NS, NAME)
    for text in (base64.b64encode(hybrid.encrypt(kp.cert.public_key, b"x", lbl)).decode(),
                 ref.encrypt_b64(b"x", lbl, ref.py_wrap(kp.cert.public_key))):
        assert B64.match(text)
        assert text.startswith(PREFIX[bits(kp)])


# --- openssl does the RSA part --------------------------------------------------------------------------

@pytest.mark.parametrize("scope", SCOPES)
def test_openssl_wraps_sealer_decrypts(kp, scope):
    lbl = ref.label(scope, NS, NAME)
    wrap = ref.openssl_wrap(cert_path=kp.cert_path)
    for item in ("all-bytes", "unicode", "empty"):
        blob = ref.encrypt(VALUES[item], lbl, wrap)
        assert hybrid.decrypt([kp.private.key], blob, lbl) == VALUES[item], item


def test_openssl_pubin_wraps_sealer_decrypts(kp2048, tmp_path):
    pub = ref.openssl_pubkey(kp2048.cert_path, tmp_path / "pub.pem")
    assert pub.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")
    wrap = ref.openssl_wrap(pubkey_path=pub)
    for scope in SCOPES:
        lbl = ref.label(scope, NS, NAME)
        blob = ref.encrypt(VALUES["random.bin"], lbl, wrap)
        assert hybrid.decrypt([kp2048.private.key], blob, lbl) == VALUES["random.bin"], scope


@pytest.mark.parametrize("scope", SCOPES)
def test_sealer_encrypts_openssl_unwraps(kp, scope):
    lbl = ref.label(scope, NS, NAME)
    unwrap = ref.openssl_unwrap(kp.key_path)
    for item in ("all-bytes", "multi-line.pem", "empty"):
        blob = hybrid.encrypt(kp.cert.public_key, VALUES[item], lbl)
        assert ref.decrypt(blob, lbl, unwrap) == VALUES[item], item


def test_openssl_unwrap_enforces_the_label(kp2048):
    """Control: the openssl path really checks the OAEP label, so the tests above are not vacuous."""
    blob = hybrid.encrypt(kp2048.cert.public_key, b"v", ref.label("strict", NS, NAME))
    unwrap = ref.openssl_unwrap(kp2048.key_path)
    for lbl in (ref.label("strict", NS, "x"), ref.label("namespace-wide", NS, NAME), b""):
        with pytest.raises(ref.ReferenceDecryptError):
            ref.decrypt(blob, lbl, unwrap)
    blob = hybrid.encrypt(kp2048.cert.public_key, b"v", b"")
    with pytest.raises(ref.ReferenceDecryptError):
        ref.decrypt(blob, ref.label("namespace-wide", NS, NAME), unwrap)
    assert ref.decrypt(blob, b"", unwrap) == b"v"


# --- CLI: reference-built SealedSecrets -> `sealer unseal` ------------------------------------------------

def test_cli_unseals_reference_sealed_secrets(sealer_cli, tmp_path, kp):
    """Both apiVersions x all scopes, one SealedSecret each, in one multi-document file."""
    wrap = ref.py_wrap(kp.cert.public_key)
    cases = [(api, scope, f"{NAME}-{i}") for i, (api, scope) in
             enumerate((a, s) for a in API_VERSIONS for s in SCOPES)]
    objs = [sealed_manifest(ref_encrypt_all(VALUES, ref.label(scope, NS, name), wrap), api_version=api,
                            name=name, annotations=scope_annotations(scope)) for api, scope, name in cases]
    proc = unseal_cli(sealer_cli, tmp_path, objs, kp.key_path)
    assert proc.returncode == 0, proc.stderr
    secrets = secrets_out(proc.stdout)
    assert len(secrets) == len(cases)
    for (api, scope, name), secret in zip(cases, secrets, strict=True):
        where = f"{api} {scope}"
        assert secret["metadata"]["name"] == name, where
        assert secret["metadata"]["namespace"] == NS, where
        assert secret["metadata"]["labels"] == {"app": "db"}, where
        assert secret["type"] == "Opaque", where
        assert secret["data"]["empty"] == "", where
        assert data_of(secret) == VALUES, where


def test_cli_unseals_openssl_wrapped_sealed_secrets(sealer_cli, tmp_path, kp2048):
    wrap = ref.openssl_wrap(cert_path=kp2048.cert_path)
    values = {k: VALUES[k] for k in ("all-bytes", "unicode", "empty")}
    objs = [sealed_manifest(ref_encrypt_all(values, ref.label(scope, NS, NAME), wrap),
                            annotations=scope_annotations(scope)) for scope in SCOPES]
    proc = unseal_cli(sealer_cli, tmp_path, objs, kp2048.key_path)
    assert proc.returncode == 0, proc.stderr
    assert [data_of(s) for s in secrets_out(proc.stdout)] == [values] * 3


def test_cli_unseal_tries_keys_of_both_sizes(sealer_cli, tmp_path, kp2048, kp4096):
    lbl = ref.label("strict", NS, NAME)
    obj = sealed_manifest({"small": ref.encrypt_b64(b"s", lbl, ref.py_wrap(kp2048.cert.public_key)),
                           "big": ref.encrypt_b64(b"b", lbl, ref.py_wrap(kp4096.cert.public_key))})
    proc = unseal_cli(sealer_cli, tmp_path, [obj], kp2048.key_path, kp4096.key_path)
    assert proc.returncode == 0, proc.stderr
    assert data_of(secrets_out(proc.stdout)[0]) == {"small": b"s", "big": b"b"}
    proc = unseal_cli(sealer_cli, tmp_path, [obj], kp2048.key_path)
    assert_refused(proc, named=(f"SealedSecret {NS}/{NAME}", "big"), not_named=("small",))


def test_cli_unseal_wrong_key_fails(sealer_cli, tmp_path, kp2048, kp2048b):
    lbl = ref.label("strict", NS, NAME)
    obj = sealed_manifest({"password": ref.encrypt_b64(b"hunter2", lbl, ref.py_wrap(kp2048.cert.public_key))})
    proc = unseal_cli(sealer_cli, tmp_path, [obj], kp2048b.key_path)
    assert_refused(proc, named=(f"SealedSecret {NS}/{NAME}", "password"), not_named=("hunter2",))


# --- CLI: `sealer seal` -> reference decoder -------------------------------------------------------------

def secret_manifest(name: str = NAME, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": NS}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
            "data": {k: base64.b64encode(v).decode() for k, v in VALUES.items()},
            "stringData": {"from-string-data": "héllo\nwörld\n"}}


EXPECTED_SEALED = {**VALUES, "from-string-data": "héllo\nwörld\n".encode()}


def seal_cli(sealer_cli, tmp_path: Path, secrets: list[dict[str, Any]], *args: Any) -> list[dict[str, Any]]:
    f = tmp_path / "secret.yaml"
    f.write_text(yaml.safe_dump_all(secrets, sort_keys=False, allow_unicode=True))
    proc = sealer_cli("seal", f, *args)
    assert proc.returncode == 0, proc.stderr
    out = [d for d in yaml.safe_load_all(proc.stdout) if d is not None]
    assert len(out) == len(secrets)
    return out


def open_with_reference(sealed_obj: dict[str, Any], unwrap: ref.Unwrap, key_bits: int) -> dict[str, bytes]:
    """Every item, with the label the reference computes from the SealedSecret's own metadata."""
    lbl = ref.label_of_manifest(sealed_obj)
    out = {}
    for item, text in sealed_obj["spec"]["encryptedData"].items():
        assert B64.match(text), item
        assert text.startswith(PREFIX[key_bits]), item
        out[item] = ref.decrypt_b64(text, lbl, unwrap)
    return out


def test_cli_seal_scope_from_secret_annotations_reference_opens(sealer_cli, tmp_path, kp):
    """No --scope: each Secret's own scope annotation decides (none -> strict)."""
    api = {2048: "sealer.dev/v1alpha1", 4096: "bitnami.com/v1alpha1"}[bits(kp)]
    secrets = [secret_manifest(f"{NAME}-{s}", scope_annotations(s)) for s in SCOPES]
    out = seal_cli(sealer_cli, tmp_path, secrets, "--cert", kp.cert_path, "--api-version", api)
    unwrap = ref.py_unwrap(kp.private.key)
    for scope, obj in zip(SCOPES, out, strict=True):
        assert obj["apiVersion"] == api
        assert obj["kind"] == "SealedSecret"
        assert (obj["metadata"]["name"], obj["metadata"]["namespace"]) == (f"{NAME}-{scope}", NS)
        assert ref.scope_of_manifest(obj) == scope
        assert open_with_reference(obj, unwrap, bits(kp)) == EXPECTED_SEALED, scope
        # The scope is bound into the ciphertext, not only written as an annotation.
        for other in SCOPES:
            if other != scope:
                with pytest.raises(ref.ReferenceDecryptError):
                    ref.decrypt_b64(obj["spec"]["encryptedData"]["unicode"],
                                    ref.label(other, NS, f"{NAME}-{scope}"), unwrap)


@pytest.mark.parametrize("scope", SCOPES)
def test_cli_seal_scope_flag_openssl_unwraps(sealer_cli, tmp_path, kp2048, scope):
    [obj] = seal_cli(sealer_cli, tmp_path, [secret_manifest()], "--cert", kp2048.cert_path, "--scope", scope)
    assert ref.scope_of_manifest(obj) == scope
    assert open_with_reference(obj, ref.openssl_unwrap(kp2048.key_path), 2048) == EXPECTED_SEALED


@pytest.mark.parametrize("scope", ["strict", "cluster-wide"])
def test_cli_seal_raw_openssl_unwraps(sealer_cli, tmp_path, kp4096, scope):
    value = tmp_path / "value.bin"
    value.write_bytes(VALUES["all-bytes"])
    proc = sealer_cli("seal", "--raw", "--from-file", value, "--cert", kp4096.cert_path, "--scope", scope,
                      "-n", NS, "--name", NAME)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.strip()
    assert B64.match(text)
    assert text.startswith("Ag")
    unwrap = ref.openssl_unwrap(kp4096.key_path)
    assert ref.decrypt_b64(text, ref.label(scope, NS, NAME), unwrap) == VALUES["all-bytes"]


# --- no items ------------------------------------------------------------------------------------------

def test_secret_with_no_items_round_trips(sealer_cli, tmp_path, kp2048):
    empty_secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": NAME, "namespace": NS}}
    f = tmp_path / "empty.yaml"
    f.write_text(yaml.safe_dump(empty_secret))
    refused = sealer_cli("seal", f, "--cert", kp2048.cert_path)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert "--allow-empty-data" in refused.stderr

    sealed_objs = []
    for api in API_VERSIONS:
        [obj] = seal_cli(sealer_cli, tmp_path, [empty_secret], "--cert", kp2048.cert_path, "--allow-empty-data",
                         "--api-version", api)
        assert obj["apiVersion"] == api
        assert obj["spec"]["encryptedData"] == {}
        sealed_objs.append(obj)
    # Plus one written by hand, as kubeseal would.
    sealed_objs.append(sealed_manifest({}))
    proc = unseal_cli(sealer_cli, tmp_path, sealed_objs, kp2048.key_path)
    assert proc.returncode == 0, proc.stderr
    secrets = secrets_out(proc.stdout)
    assert len(secrets) == 3
    for secret in secrets:
        assert secret["kind"] == "Secret"
        assert secret["data"] == {}
        assert (secret["metadata"]["name"], secret["metadata"]["namespace"]) == (NAME, NS)


# --- scope mobility --------------------------------------------------------------------------------------

MOVES = {"namespace": ("team-b", NAME), "rename": (NS, "db-creds-2"), "both": ("team-b", "db-creds-2")}
SURVIVES = {
    "strict": set(),
    "namespace-wide": {"rename"},
    "cluster-wide": {"namespace", "rename", "both"},
}
MOBILE_VALUES = {"username": b"admin", "password": b"s3cr3t-\xff\x00-value"}


def moved(obj: dict[str, Any], namespace: str, name: str) -> dict[str, Any]:
    """What a user does when copying a manifest elsewhere: edit the name/namespace everywhere."""
    obj = copy.deepcopy(obj)
    obj["metadata"].update(namespace=namespace, name=name)
    obj["spec"]["template"]["metadata"].update(namespace=namespace, name=name)
    return obj


def reference_sealed(kp, scope: str) -> dict[str, Any]:
    lbl = ref.label(scope, NS, NAME)
    obj = sealed_manifest(ref_encrypt_all(MOBILE_VALUES, lbl, ref.py_wrap(kp.cert.public_key)),
                          annotations=scope_annotations(scope))
    # Control: where it was sealed, it opens.
    assert sealed.unseal(obj, [kp.private])["data"] == {k: base64.b64encode(v).decode()
                                                         for k, v in MOBILE_VALUES.items()}
    return obj


@pytest.mark.parametrize("move", list(MOVES))
@pytest.mark.parametrize("scope", SCOPES)
def test_scope_mobility_cli(sealer_cli, tmp_path, kp2048, scope, move):
    new_ns, new_name = MOVES[move]
    proc = unseal_cli(sealer_cli, tmp_path, [moved(reference_sealed(kp2048, scope), new_ns, new_name)],
                      kp2048.key_path)
    if move in SURVIVES[scope]:
        assert proc.returncode == 0, proc.stderr
        [secret] = secrets_out(proc.stdout)
        assert data_of(secret) == MOBILE_VALUES
        assert (secret["metadata"]["namespace"], secret["metadata"]["name"]) == (new_ns, new_name)
    else:
        assert_refused(proc, named=(f"SealedSecret {new_ns}/{new_name}", "username", "password"),
                       not_named=("admin", "s3cr3t"))


@pytest.mark.parametrize("scope", SCOPES)
def test_scope_mobility_of_sealer_output(kp2048, scope):
    """The same table for SealedSecrets sealer wrote, checked by the reference decoder and by sealed.unseal."""
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": NAME, "namespace": NS},
              "data": {k: base64.b64encode(v).decode() for k, v in MOBILE_VALUES.items()}}
    obj = sealed.seal_secret(secret, kp2048.cert, scope=Scope(scope), api_version="bitnami.com/v1alpha1")
    unwrap = ref.py_unwrap(kp2048.private.key)
    assert open_with_reference(obj, unwrap, 2048) == MOBILE_VALUES
    for move, (new_ns, new_name) in MOVES.items():
        there = moved(obj, new_ns, new_name)
        if move in SURVIVES[scope]:
            assert open_with_reference(there, unwrap, 2048) == MOBILE_VALUES, move
            assert data_of(sealed.unseal(there, [kp2048.private])) == MOBILE_VALUES, move
        else:
            with pytest.raises(ref.ReferenceDecryptError):
                open_with_reference(there, unwrap, 2048)
            with pytest.raises(DecryptionError) as e:
                sealed.unseal(there, [kp2048.private])
            assert "username" in str(e.value) and "password" in str(e.value), move


# --- where scope is read from, and what counts as "true" ------------------------------------------------

def test_template_only_scope_annotations_are_ignored(sealer_cli, tmp_path, kp2048):
    both = {ref.NAMESPACE_WIDE: "true", ref.CLUSTER_WIDE: "true"}
    wrap = ref.py_wrap(kp2048.cert.public_key)
    encrypted = {"as-strict": ref.encrypt_b64(b"strict", ref.label("strict", NS, NAME), wrap),
                 "as-namespace": ref.encrypt_b64(b"ns", ref.label("namespace-wide", NS, NAME), wrap),
                 "as-cluster": ref.encrypt_b64(b"cl", ref.label("cluster-wide", NS, NAME), wrap)}
    obj = sealed_manifest(encrypted, template_annotations=both)
    assert ref.scope_of_manifest(obj) == "strict"
    proc = unseal_cli(sealer_cli, tmp_path, [obj], kp2048.key_path)
    assert_refused(proc, named=("as-namespace", "as-cluster"), not_named=("as-strict",))

    obj = sealed_manifest({"as-strict": encrypted["as-strict"]}, template_annotations=both)
    proc = unseal_cli(sealer_cli, tmp_path, [obj], kp2048.key_path)
    assert proc.returncode == 0, proc.stderr
    assert data_of(secrets_out(proc.stdout)[0]) == {"as-strict": b"strict"}


NOT_TRUE = ("True", "TRUE", "yes", "1", "on", " true", "true ")


@pytest.mark.parametrize("annotation", [ref.NAMESPACE_WIDE, ref.CLUSTER_WIDE])
def test_scope_annotation_must_be_exactly_true(sealer_cli, tmp_path, kp2048, annotation):
    """Each document holds only a strict-label item, so it opens only if sealer read the scope as strict."""
    wide = "namespace-wide" if annotation == ref.NAMESPACE_WIDE else "cluster-wide"
    wrap = ref.py_wrap(kp2048.cert.public_key)
    objs = []
    for i, value in enumerate(NOT_TRUE):
        name = f"{NAME}-{i}"
        obj = sealed_manifest({"as-strict": ref.encrypt_b64(value.encode(), ref.label("strict", NS, name), wrap)},
                              name=name, annotations={annotation: value})
        assert ref.scope_of_manifest(obj) == "strict"
        objs.append(obj)
    proc = unseal_cli(sealer_cli, tmp_path, objs, kp2048.key_path)
    assert proc.returncode == 0, proc.stderr
    assert [data_of(s)["as-strict"] for s in secrets_out(proc.stdout)] == [v.encode() for v in NOT_TRUE]
    # And the wider label is refused for such a document.
    obj = sealed_manifest({"as-wide": ref.encrypt_b64(b"w", ref.label(wide, NS, NAME), wrap)},
                          annotations={annotation: "True"})
    with pytest.raises(DecryptionError):
        sealed.unseal(obj, [kp2048.private])


WINNERS = [
    ({ref.NAMESPACE_WIDE: "true", ref.CLUSTER_WIDE: "true"}, "cluster-wide"),
    ({ref.NAMESPACE_WIDE: "true", ref.CLUSTER_WIDE: "false"}, "namespace-wide"),
    ({ref.NAMESPACE_WIDE: "false", ref.CLUSTER_WIDE: "true"}, "cluster-wide"),
    ({ref.NAMESPACE_WIDE: "false", ref.CLUSTER_WIDE: "false"}, "strict"),
]


def test_cluster_wide_wins(sealer_cli, tmp_path, kp2048):
    """Each document's only item is sealed with the winning label; the three labels all differ."""
    wrap = ref.py_wrap(kp2048.cert.public_key)
    objs = []
    for i, (annots, winner) in enumerate(WINNERS):
        name = f"{NAME}-{i}"
        obj = sealed_manifest({"v": ref.encrypt_b64(winner.encode(), ref.label(winner, NS, name), wrap)},
                              name=name, annotations=annots)
        assert ref.scope_of_manifest(obj) == winner
        objs.append(obj)
        for loser in SCOPES:
            if loser != winner:
                wrong = sealed_manifest({"v": ref.encrypt_b64(b"x", ref.label(loser, NS, name), wrap)},
                                        name=name, annotations=annots)
                with pytest.raises(DecryptionError):
                    sealed.unseal(wrong, [kp2048.private])
    proc = unseal_cli(sealer_cli, tmp_path, objs, kp2048.key_path)
    assert proc.returncode == 0, proc.stderr
    assert [data_of(s)["v"] for s in secrets_out(proc.stdout)] == [w.encode() for _, w in WINNERS]
