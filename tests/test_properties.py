"""Property tests for the sealed value and SealedSecret seal/unseal (hypothesis).

Keys are the session-scoped 2048-bit fixtures from conftest.py (made once per run), so examples are cheap.
"""

from __future__ import annotations

import base64
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sealer.errors import DecryptionError, InputError
from sealer.sealed import hybrid
from sealer.sealed import sealedsecret as sealed
from sealer.sealed.hybrid import Scope
from tests import reference_sealed as ref

SETTINGS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Kubernetes Secret item keys: ^[-._a-zA-Z0-9]{1,253}$
# Kubernetes' Secret key rule: this alphabet, and not ".", ".." or a ".." prefix.
item_keys = st.text(alphabet=string.ascii_letters + string.digits + "-._", min_size=1, max_size=253).filter(
    lambda k: k not in (".", "..") and not k.startswith(".."))
dns_label = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", fullmatch=True)
dns_subdomain = st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?){0,3}",
                              fullmatch=True)
scopes = st.sampled_from(list(Scope))
values = st.binary(max_size=2048)
items = st.dictionaries(item_keys, values, max_size=5)


def secret(data: dict[str, bytes], name: str, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v).decode() for k, v in data.items()}}


def decoded(secret_obj: dict[str, Any]) -> dict[str, bytes]:
    return {k: base64.b64decode(v, validate=True) for k, v in secret_obj["data"].items()}


def flip(blob: bytes, bit: int) -> bytes:
    out = bytearray(blob)
    out[bit // 8] ^= 0x80 >> (bit % 8)
    return bytes(out)


# --- round trips ---------------------------------------------------------------------------------------

@SETTINGS
@given(data=items, name=dns_subdomain, namespace=dns_label, scope=scopes)
def test_seal_unseal_round_trip(kp2048, kp2048b, data, name, namespace, scope):
    obj = sealed.seal_secret(secret(data, name, namespace), kp2048.cert, scope=scope, allow_empty=True)
    assert set(obj["spec"]["encryptedData"]) == set(data)
    assert sealed.scope_of(obj) is scope
    # An independent decoder agrees, using the label it derives from the manifest itself.
    assert ref.label_of_manifest(obj) == ref.label(scope.value, namespace, name)
    unwrap = ref.py_unwrap(kp2048.private.key)
    assert {k: ref.decrypt_b64(v, ref.label_of_manifest(obj), unwrap)
            for k, v in obj["spec"]["encryptedData"].items()} == data

    out = sealed.unseal(obj, [kp2048b.private, kp2048.private])  # a wrong key first is harmless
    assert out["kind"] == "Secret"
    assert (out["metadata"]["name"], out["metadata"]["namespace"]) == (name, namespace)
    assert decoded(out) == data
    if data:
        with pytest.raises(DecryptionError):
            sealed.unseal(obj, [kp2048b.private])


@SETTINGS
@given(value=values, name=dns_subdomain, namespace=dns_label, scope=scopes, data=st.data())
def test_label_binds_name_and_namespace(kp2048, value, name, namespace, scope, data):
    """Moved to another namespace: only cluster-wide opens. Renamed: strict does not open."""
    obj = sealed.seal_secret(secret({"v": value}, name, namespace), kp2048.cert, scope=scope)
    other_ns = data.draw(dns_label.filter(lambda n: n != namespace), label="other_namespace")
    other_name = data.draw(dns_subdomain.filter(lambda n: n != name), label="other_name")
    for ns, nm, opens in ((other_ns, name, scope is Scope.CLUSTER_WIDE),
                          (namespace, other_name, scope is not Scope.STRICT)):
        there = {**obj, "metadata": {**obj["metadata"], "namespace": ns, "name": nm}}
        if opens:
            assert decoded(sealed.unseal(there, [kp2048.private])) == {"v": value}
        else:
            with pytest.raises(DecryptionError):
                sealed.unseal(there, [kp2048.private])


@SETTINGS
@given(plaintext=values, label=st.binary(max_size=300))
def test_hybrid_round_trip_both_ways_with_reference(kp2048, plaintext, label):
    blob = hybrid.encrypt(kp2048.cert.public_key, plaintext, label)
    assert len(blob) == 2 + 256 + len(plaintext) + 16
    assert blob[:2] == b"\x01\x00"
    assert hybrid.decrypt([kp2048.private.key], blob, label) == plaintext
    assert ref.decrypt(blob, label, ref.py_unwrap(kp2048.private.key)) == plaintext
    theirs = ref.encrypt(plaintext, label, ref.py_wrap(kp2048.cert.public_key))
    assert hybrid.decrypt([kp2048.private.key], theirs, label) == plaintext


# --- tampering -----------------------------------------------------------------------------------------

@SETTINGS
@given(plaintext=st.binary(max_size=300), label=st.binary(max_size=64), data=st.data())
def test_any_bit_flip_fails_hybrid(kp2048, kp2048b, plaintext, label, data):
    blob = hybrid.encrypt(kp2048.cert.public_key, plaintext, label)
    bit = data.draw(st.integers(0, len(blob) * 8 - 1), label="bit")
    with pytest.raises(DecryptionError):
        hybrid.decrypt([kp2048b.private.key, kp2048.private.key], flip(blob, bit), label)


def test_every_single_bit_flip_fails_exhaustively(kp2048):
    """All 2200 one-bit variants, every truncation and one extension of a small ciphertext."""
    label = b"team-a/db"
    blob = hybrid.encrypt(kp2048.cert.public_key, b"x", label)
    assert len(blob) == 2 + 256 + 1 + 16
    keys = [kp2048.private.key]
    survivors = []
    for bit in range(len(blob) * 8):
        try:
            hybrid.decrypt(keys, flip(blob, bit), label)
        except DecryptionError:
            continue
        survivors.append(bit)
    assert survivors == []
    for cut in range(len(blob)):
        with pytest.raises(DecryptionError):
            hybrid.decrypt(keys, blob[:cut], label)
    with pytest.raises(DecryptionError):
        hybrid.decrypt(keys, blob + b"\x00", label)
    assert hybrid.decrypt(keys, blob, label) == b"x"  # control: the untouched value opens


@SETTINGS
@given(plaintext=st.binary(max_size=100), data=st.data())
def test_truncation_fails(kp2048, plaintext, data):
    blob = hybrid.encrypt(kp2048.cert.public_key, plaintext, b"l")
    cut = data.draw(st.integers(0, len(blob) - 1), label="cut")
    with pytest.raises(DecryptionError):
        hybrid.decrypt([kp2048.private.key], blob[:cut], b"l")


@SETTINGS
@given(data_items=st.dictionaries(item_keys, st.binary(max_size=200), min_size=1, max_size=4),
       name=dns_subdomain, namespace=dns_label, scope=scopes, data=st.data())
def test_bit_flip_in_one_item_fails_unseal_and_names_it(kp2048, data_items, name, namespace, scope, data):
    obj = sealed.seal_secret(secret(data_items, name, namespace), kp2048.cert, scope=scope)
    victim = data.draw(st.sampled_from(sorted(data_items)), label="victim")
    raw = base64.b64decode(obj["spec"]["encryptedData"][victim])
    bit = data.draw(st.integers(0, len(raw) * 8 - 1), label="bit")
    obj["spec"]["encryptedData"][victim] = base64.b64encode(flip(raw, bit)).decode()
    with pytest.raises(DecryptionError) as e:
        sealed.unseal(obj, [kp2048.private])
    assert victim in str(e.value)
    assert e.value.field == f"spec.encryptedData item {victim}"  # only the tampered item is blamed


@SETTINGS
@given(data_items=st.dictionaries(item_keys, st.binary(max_size=200), min_size=1, max_size=3),
       name=dns_subdomain, namespace=dns_label, scope=scopes, data=st.data())
def test_one_character_change_in_the_committed_text_fails_unseal(kp2048, data_items, name, namespace, scope, data):
    """What a reviewer sees in Git is base64 text: any one changed character of an item is refused (a
    DecryptionError naming the item, or an InputError when it is no longer base64), unless it only touches the
    unused bits of the last base64 character, in which case the bytes, and so the Secret, are the same."""
    obj = sealed.seal_secret(secret(data_items, name, namespace), kp2048.cert, scope=scope)
    victim = data.draw(st.sampled_from(sorted(data_items)), label="victim")
    text = obj["spec"]["encryptedData"][victim]
    pos = data.draw(st.integers(0, len(text) - 1), label="pos")
    new = data.draw(st.sampled_from(string.ascii_letters + string.digits + "+/=-_ .\n").filter(
        lambda c: c != text[pos]), label="char")
    obj["spec"]["encryptedData"][victim] = text[:pos] + new + text[pos + 1:]
    try:
        out = sealed.unseal(obj, [kp2048.private])
    except DecryptionError as e:
        assert e.field == f"spec.encryptedData item {victim}"
        return
    except InputError as e:  # not base64: malformed input (exit 2), not a value no key opens
        assert e.field == f"spec.encryptedData.{victim}"
        return
    assert base64.b64decode(obj["spec"]["encryptedData"][victim]) == base64.b64decode(text)
    assert decoded(out) == data_items
