"""Every parser of untrusted input holds its contract under fuzzing: it works or raises a typed SealerError.

The targets and their seeds live in `bench/fuzz.py` (one registry, also driven there for longer runs with
`python -m bench.fuzz --seconds N`). Here hypothesis drives each target for a short budget: inputs are its valid
seeds mutated (bytes, tokens, spans, one node of the parsed document changed) or plain random bytes. Below that,
each crash the fuzzer found is pinned with its minimal input and the typed error it now gets.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import re
import time

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from bench import fuzz
from sealer.errors import InputError, KeyMaterialError, SealerError
from sealer.io import pem

EXAMPLES = 200
NAMES = sorted(fuzz.TARGETS)


@pytest.mark.parametrize("name", NAMES)
def test_seeds_are_valid_inputs(name: str) -> None:
    """The fuzzing starts from inputs that work, so mutations reach past the first check."""
    t = fuzz.TARGETS[name]
    assert t.seeds()
    for seed in t.seeds():
        t.run(seed)


@pytest.mark.parametrize("name", NAMES)
def test_target_holds_the_contract(name: str) -> None:
    t = fuzz.TARGETS[name]
    seeds = t.seeds()

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(choice=st.integers(0, len(seeds) - 1), rng=st.randoms(use_true_random=False),
           raw=st.none() | st.binary(max_size=512))
    def run(choice: int, rng: random.Random, raw: bytes | None) -> None:
        data = raw if raw is not None and rng.random() < 0.2 else fuzz.mutate(seeds[choice], rng, t, seeds)
        note(f"input: {data!r}")
        crash = fuzz.check(t, data)
        assert crash is None, crash.describe()

    run()


# --- the harness catches what it should -------------------------------------------------------------------------------

def _target(run) -> fuzz.Target:
    return fuzz.Target("probe", run, lambda: [b"x"], "raw", leak_check=True)


def test_an_untyped_exception_is_a_crash_and_a_typed_one_is_not() -> None:
    def run(data: bytes) -> None:
        if data == b"typed":
            raise InputError("bad input", field="x")
        {}["missing"]  # the crash under test

    assert fuzz.check(_target(run), b"typed") is None
    crash = fuzz.check(_target(run), b"other")
    assert crash is not None and crash.kind == "KeyError"


def test_a_hang_is_a_crash() -> None:
    crash = fuzz.check(_target(lambda data: time.sleep(5)), b"x", limit=0.2)
    assert crash is not None and crash.kind == "hang"


def test_an_error_naming_the_planted_value_is_a_leak() -> None:
    def run(data: bytes) -> None:
        raise InputError(f"bad value {fuzz.PLANTED}")

    crash = fuzz.check(_target(run), b"x")
    assert crash is not None and crash.kind == "leak"


def test_runner_reports_a_table_and_exit_code(tmp_path, capsys) -> None:
    assert fuzz.main(["--seconds", "0.3", "--target", "sops-path", "--target", "cert", "--seed", "1",
                      "--crashes", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| sops-path |" in out and "| cert |" in out and "crashes |" in out


# --- crashes the fuzzer found, pinned ---------------------------------------------------------------------------------

def _sealed(**meta: object) -> bytes:
    """The first sealed seed with its metadata fields replaced."""
    obj = json.loads(fuzz.sealed_seeds()[1])
    obj["metadata"].update(meta)
    return json.dumps(obj).encode()


def _sealed_spec(**spec: object) -> bytes:
    obj = json.loads(fuzz.sealed_seeds()[1])
    obj["spec"].update(spec)
    return json.dumps(obj).encode()


def _sops_with(field: str, value: object) -> bytes:
    """An encrypted seed whose rule field (the one it has) holds another value."""
    for seed in fuzz.sops_yaml_seeds():
        text = seed.decode()
        if f"\n  {field}: " in text:
            return re.sub(rf"\n  {field}: .*\n", f"\n  {field}: {json.dumps(value)}\n", text).encode()
    raise AssertionError(f"no seed with {field}")


def _cert_with_unknown_key_algorithm() -> bytes:
    der = fuzz.fixtures().cert_der
    rsa_oid = bytes.fromhex("2a864886f70d010101")  # 1.2.840.113549.1.1.1, rsaEncryption
    assert rsa_oid in der
    return der.replace(rsa_oid, bytes.fromhex("2a864886f70d000101"), 1)


def _pkcs8_with_unknown_algorithm() -> bytes:
    """A PKCS#8 private key whose algorithm OID (rsaEncryption) has its last arc changed: no library knows it."""
    from cryptography.hazmat.primitives import serialization

    der = fuzz.fixtures().private.key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption())
    rsa_oid = bytes.fromhex("06092a864886f70d010101")
    assert rsa_oid in der
    der = der.replace(rsa_oid, rsa_oid[:-1] + b"\x7f", 1)
    return b"-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(der) + b"-----END PRIVATE KEY-----\n"


def _cert_with_version(version: int) -> bytes:
    """The DER cert with its version field ([0] EXPLICIT INTEGER 2, i.e. v3) set to another number."""
    der = fuzz.fixtures().cert_der
    v3 = bytes.fromhex("a003020102")
    assert v3 in der
    return der.replace(v3, bytes.fromhex("a0030201") + bytes([version]), 1)


def _cert_with_serial(first: int, *, one_byte: bool = False) -> bytes:
    """The DER cert with its serial number's first content byte set to ``first`` (0x80 and up: negative), or with
    a one-byte serial ``first`` (0x00: zero). The signature no longer matches; loading does not check it."""
    der = fuzz.fixtures().cert_der
    serial = fuzz.fixtures().cert.cert.serial_number
    octets = serial.to_bytes(serial.bit_length() // 8 + 1, "big")
    at = der.index(bytes([0x02, len(octets)]) + octets)
    if one_byte:
        return _with_shorter_serial(der, at, len(octets), bytes([first]))
    return der[:at + 2] + bytes([first]) + der[at + 3:]


def _with_shorter_serial(der: bytes, at: int, old: int, content: bytes) -> bytes:
    """A one-byte serial: the two enclosing SEQUENCE lengths (long form, two bytes) shrink by the difference."""
    cut = old - len(content)
    out = bytearray(der[:at] + bytes([0x02, len(content)]) + content + der[at + 2 + old:])
    for offset in (0, 4):  # Certificate then tbsCertificate: 30 82 HH LL
        assert out[offset:offset + 2] == b"\x30\x82"
        out[offset + 2:offset + 4] = (int.from_bytes(out[offset + 2:offset + 4], "big") - cut).to_bytes(2, "big")
    return bytes(out)


def _duplicate_kind(seed: bytes) -> bytes:
    """A JSON object with its `kind` key twice (json.loads keeps the last without a word)."""
    text = seed.decode().rstrip()
    assert text.endswith("}")
    return (text[:-1] + ', "kind": "SealedSecret"}').encode()


# 4 levels of 9 aliases: 59,049 leaves once expanded, over the limit; before it, the readers accepted it after seconds
# of work (9 levels: never finished). tests/test_fault_inputs.py runs the 9 x 9 one against the CLI.
BOMB = fuzz.alias_bomb(4)
BOMB_SECRET = fuzz.alias_bomb(4, head=b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: b\n")
ALIAS_BOMB = "aliases expand too much (alias bomb?)"
ALIAS_LOOP = "an alias refers to a node that contains it"

FOUND = [
    # (target, input, error type, text the one-line message must hold)
    ("manifests", b"kind: Secret\n\x80\n", InputError, "not UTF-8"),
    ("manifests", b"[" * 100_000, InputError, "nested too deeply"),
    ("manifests", b"a: 2024-02-30\n", InputError, "does not fit its type"),
    ("manifests", b"a: !!bool maybe\n", InputError, "does not fit its type"),
    ("manifests", b'a: !!int ""\n', InputError, "does not fit its type"),
    ("manifests", b"a: !!timestamp x\n", InputError, "does not fit its type"),
    ("seal-input", b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: b\n  x: "
     + b"[" * 1500 + b"]" * 1500 + b"\nstringData:\n  k: v\n", InputError, "nested too deeply"),
    ("unseal", _sealed(name=True), InputError, "metadata.name: must be a string"),
    ("unseal", _sealed(namespace=["prod"]), InputError, "metadata.namespace: must be a string"),
    ("unseal", _sealed_spec(template={"data": "x"}), InputError, "spec.template.data: must be a mapping"),
    ("sealed-edit", b"\xff\xfe", InputError, "not UTF-8"),
    ("sealed-edit", b"!!int", InputError, "does not fit its type"),  # found by the fuzzer: ruamel's IndexError
    ("sealed-edit", _sealed_spec(encryptedData=[]), InputError, "spec.encryptedData: must be a mapping"),
    ("sealed-edit", _sealed_spec(encryptedData=False), InputError, "spec.encryptedData: must be a mapping"),
    ("sealed-edit", b"a: " + b"[" * 20_000, InputError, "nested too deeply"),  # was quadratic: minutes
    ("sealed-edit", b"a: " + b"[" * 600, InputError, "nested too deeply"),
    ("sops-yaml", b"a: " + b"[" * 600 + b"]" * 600 + b"\n", InputError, "nested too deeply"),
    ("sops-json", b'{"a": ' + b"[" * 100_000, InputError, "nested too deeply"),
    ("sops-yaml", _sops_with("encrypted_regex", 5), InputError, "sops: encrypted_regex: must be a string"),
    ("sops-yaml", _sops_with("unencrypted_suffix", {"a": 1}), InputError, "unencrypted_suffix: must be a string"),
    ("sops-yaml", fuzz.sops_yaml_seeds()[0].replace(b"\n  version:", b"\n  x: !!python/object y\n  version:"),
     InputError, "sops: unsupported YAML tag"),
    ("sops-yaml", fuzz.sops_yaml_seeds()[0].replace(b"\n  version:", b"\n  x: 18446744073709551615\n  version:"),
     InputError, "sops: integer beyond int64"),
    ("sopssecret", json.dumps({**json.loads(fuzz.sopssecret_seeds()[0]), "metadata": 5}).encode(), InputError,
     "metadata: must be a mapping"),
    ("sops-config", b"creation_rules: " + b"[" * 1500 + b"]" * 1500, InputError, "nested too deeply"),
    ("sops-yaml", b"a: " + b"[" * 20_000, InputError, "nested too deeply"),  # was quadratic in ruamel's scanner
    ("sops-config", b"creation_rules:\n  - path_regex: 2024-02-30\n", InputError, "does not fit its type"),
    ("cert", _cert_with_unknown_key_algorithm(), KeyMaterialError, "public key is unreadable"),
    ("cert", _cert_with_version(32), KeyMaterialError, "not a PEM or DER X.509 certificate"),
    # cryptography warned (and will refuse); Go's x509, so kubeseal, refuses a negative serial
    ("cert", _cert_with_serial(0x80), KeyMaterialError, "serial number is zero or negative"),
    ("cert", pem.encode("CERTIFICATE", _cert_with_serial(0xFF, one_byte=True)).encode(), KeyMaterialError,
     "serial number is zero or negative"),
    ("cert", _cert_with_serial(0x00, one_byte=True), KeyMaterialError, "serial number is zero or negative"),
    ("private-keys", b"kind: Secret\nmetadata:\n  name: k\ndata: tls.key\n", KeyMaterialError, "data: must be a "),
    ("private-keys", b"kind: 5\n---\nkind: [List]\n", KeyMaterialError, "no Secret with data.tls.key"),
    ("private-keys", _pkcs8_with_unknown_algorithm(), KeyMaterialError, "unreadable PEM private key"),
    # issue 13: alias bombs and loops, duplicate keys, input over the size limit
    ("manifests", BOMB, InputError, ALIAS_BOMB),
    ("seal-input", BOMB_SECRET, InputError, ALIAS_BOMB),
    ("sealed-edit", BOMB_SECRET, InputError, ALIAS_BOMB),
    ("sops-yaml", BOMB, InputError, ALIAS_BOMB),
    ("sops-encrypt", BOMB_SECRET, InputError, ALIAS_BOMB),
    ("sops-edit", BOMB, InputError, ALIAS_BOMB),
    ("sops-config", fuzz.alias_bomb(4, head=b"creation_rules: []\n"), InputError, ALIAS_BOMB),
    ("manifests", b"a: &a [*a]\n", InputError, ALIAS_LOOP),
    ("sealed-edit", b"a: &a {b: *a}\n", InputError, ALIAS_LOOP),
    ("sops-yaml", b"a: &a\n  b: *a\n", InputError, ALIAS_LOOP),
    ("seal-input", b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: b\nstringData:\n  k: v\n"
     b"  k: again\n", InputError,
     "stringData: not valid YAML: a key appears twice in one mapping ('k') at line 8"),
    ("manifests", b"a:\n  yes: 1\n  true: 2\n", InputError, "a key appears twice in one mapping ('True')"),
    ("unseal", _duplicate_kind(fuzz.sealed_seeds()[1]), InputError, "a key appears twice in one mapping ('kind')"),
    ("sealed-edit", _duplicate_kind(fuzz.sealed_seeds()[1]), InputError,
     "a key appears twice in one mapping ('kind')"),
    ("read-input", fuzz.read_input_seeds()[1] + b"#", InputError, "input larger than the 4 KiB limit"),
]


@pytest.mark.parametrize(("name", "data", "error", "message"), FOUND,
                         ids=[f"{n}-{i}" for i, (n, *_) in enumerate(FOUND)])
def test_found_crash_is_now_a_typed_error(name: str, data: bytes, error: type[SealerError], message: str) -> None:
    with pytest.raises(error) as e:
        fuzz.TARGETS[name].run(data)
    assert message in str(e.value)
    assert "\n" not in str(e.value)


def test_found_crash_reencrypt_without_encrypted_data() -> None:
    """A SealedSecret with no encryptedData re-encrypts to itself (was a KeyError)."""
    from sealer.sealed import sealedsecret as sealed

    obj = json.loads(fuzz.sealed_seeds()[1])
    del obj["spec"]["encryptedData"]
    assert sealed.reencrypt(obj, [fuzz.fixtures().private], fuzz.fixtures().cert) == 0


def test_found_crash_unseal_json_output_with_a_date() -> None:
    """`unseal -o json` of a template holding a YAML date (was: datetime is not JSON serializable)."""
    from sealer.io import manifests

    out = manifests.dump_objects([{"kind": "Secret", "type": dt.date(2024, 1, 2)}], "json")
    assert json.loads(out)["type"] == "2024-01-02"


def test_found_crash_controller_answer_with_odd_metadata() -> None:
    """A rotate answer whose metadata is not a mapping: no key hint, no AttributeError."""
    from sealer.sealed import controllerapi

    obj = json.loads(fuzz.sealed_seeds()[1])
    answer = {"spec": {"encryptedData": dict(obj["spec"]["encryptedData"])}, "metadata": 5}
    assert controllerapi.apply_rotated(obj, answer) == (0, 0, "")
    assert fuzz.check(fuzz.TARGETS["controller-answer"], b"[" * 100_000) is None
