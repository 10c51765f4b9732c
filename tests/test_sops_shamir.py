"""Shamir secret sharing for sops key groups: field arithmetic, split/combine, and shares the real sops wrote."""

from __future__ import annotations

import base64
import itertools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealer.errors import DecryptionError, InputError
from sealer.sops import shamir

SOPS = shutil.which("sops", path=str(Path(sys.executable).parent)) or shutil.which("sops")
AGE, AGE_KEYGEN = shutil.which("age"), shutil.which("age-keygen")
needs_tools = pytest.mark.skipif(not (SOPS and AGE and AGE_KEYGEN), reason="sops, age and age-keygen are needed")


def reference_mul(a: int, b: int) -> int:
    """Textbook GF(2^8): carry-less product, then remainder by x^8+x^4+x^3+x+1 via long division."""
    product = 0
    for bit in range(8):
        if b >> bit & 1:
            product ^= a << bit
    for degree in range(14, 7, -1):
        if product >> degree & 1:
            product ^= 0x11B << (degree - 8)
    return product


# --- field ----------------------------------------------------------------------------------------------------


def test_known_products_in_the_aes_field() -> None:
    assert shamir.gf_mul(0x53, 0xCA) == 0x01  # FIPS-197 / classic AES inverse pair
    assert shamir.gf_mul(0x57, 0x83) == 0xC1  # FIPS-197 section 4.2 example
    assert shamir.gf_mul(0x57, 0x13) == 0xFE  # FIPS-197 section 4.2.1 example
    assert shamir.gf_inv(0x53) == 0xCA
    assert shamir.gf_mul(0, 0xFF) == shamir.gf_mul(0xFF, 0) == 0


def test_multiplication_matches_the_polynomial_definition_everywhere() -> None:
    for a in range(256):
        for b in range(256):
            assert shamir.gf_mul(a, b) == reference_mul(a, b)


def test_generator_powers_match_vaults_exp_table() -> None:
    # Vault's tables.go lists powers of the generator 0xe5 in this field; its first entries:
    expected = [0x01, 0xE5, 0x4C, 0xB5, 0xFB, 0x9F, 0xFC, 0x12, 0x03, 0x34, 0xD4, 0xC4, 0x16, 0xBA, 0x1F, 0x36]
    value, powers = 1, []
    for _ in range(255):
        powers.append(value)
        value = shamir.gf_mul(value, 0xE5)
    assert powers[: len(expected)] == expected
    assert sorted(powers) == list(range(1, 256))  # 0xe5 generates the whole multiplicative group
    assert value == 1


def test_inverse() -> None:
    for a in range(1, 256):
        assert shamir.gf_mul(a, shamir.gf_inv(a)) == 1
    with pytest.raises(ZeroDivisionError):
        shamir.gf_inv(0)


# --- split / combine ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("parts", "threshold"), [(p, t) for p in range(2, 6) for t in range(2, p + 1)])
def test_round_trip_every_subset(parts: int, threshold: int) -> None:
    secret = os.urandom(32)
    shares = shamir.split(secret, parts, threshold)
    assert len(shares) == parts
    assert all(len(share) == len(secret) + 1 for share in shares)
    assert [share[-1] for share in shares] == list(range(1, parts + 1))  # sops 3.11: x = group index + 1
    for size in range(2, parts + 1):
        for subset in itertools.combinations(shares, size):
            if size >= threshold:
                assert shamir.combine(list(subset)) == secret
                assert shamir.combine(list(reversed(subset))) == secret  # order does not matter
            else:
                assert shamir.combine(list(subset)) != secret


def test_random_x_coordinates() -> None:
    secret = os.urandom(16)
    shares = shamir.split(secret, 255, 3, random_x=True)
    assert sorted(share[-1] for share in shares) == list(range(1, 256))
    xs = [share[-1] for share in shamir.split(secret, 5, 2, random_x=True)]
    assert len(set(xs)) == 5 and 0 not in xs
    assert shamir.combine([shares[200], shares[7], shares[99]]) == secret


def test_one_byte_secret_and_every_byte_value() -> None:
    for value in range(256):
        shares = shamir.split(bytes([value]), 3, 2)
        assert shamir.combine(shares[1:]) == bytes([value])


@pytest.mark.parametrize(
    ("secret", "parts", "threshold", "message"),
    [
        (b"k", 2, 3, "cannot be less than the threshold"),
        (b"k", 256, 2, "cannot exceed 255"),
        (b"k", 3, 1, "at least 2"),
        (b"k", 3, 0, "at least 2"),
        (b"", 3, 2, "empty secret"),
    ],
)
def test_split_rejects(secret: bytes, parts: int, threshold: int, message: str) -> None:
    with pytest.raises(InputError, match=message):
        shamir.split(secret, parts, threshold)


def test_combine_rejects() -> None:
    shares = shamir.split(b"0123456789", 3, 2)
    with pytest.raises(DecryptionError, match="fewer than two"):
        shamir.combine(shares[:1])
    with pytest.raises(DecryptionError, match="fewer than two"):
        shamir.combine([])
    with pytest.raises(DecryptionError, match="differ in length"):
        shamir.combine([shares[0], shares[1][1:]])
    with pytest.raises(DecryptionError, match="duplicate"):
        shamir.combine([shares[0], shares[0]])
    with pytest.raises(DecryptionError, match="at least two bytes"):
        shamir.combine([b"\x01", b"\x02"])


# --- the real sops ----------------------------------------------------------------------------------------------


def _age_identity(directory: Path, name: str) -> tuple[Path, str]:
    key = directory / name
    subprocess.run([AGE_KEYGEN, "-o", str(key)], check=True, capture_output=True)
    recipient = subprocess.run([AGE_KEYGEN, "-y", str(key)], check=True, capture_output=True, text=True).stdout
    return key, recipient.strip()


def _open_value(key: bytes, enc: str, aad: str) -> bytes:
    m = re.fullmatch(r"ENC\[AES256_GCM,data:(.*),iv:(.*),tag:(.*),type:str\]", enc)
    assert m, enc
    data, iv, tag = (base64.b64decode(part) for part in m.groups())
    return AESGCM(key).decrypt(iv, data + tag, aad.encode())


@needs_tools
def test_combine_opens_a_file_sops_split_across_key_groups(tmp_path: Path) -> None:
    identities = [_age_identity(tmp_path, f"key{i}.txt") for i in range(3)]
    groups = ", ".join(f"{{age: [{recipient}]}}" for _, recipient in identities)
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - shamir_threshold: 2\n    key_groups: [{groups}]\n")
    (tmp_path / "secret.yaml").write_text("password: hunter2\nnested:\n  token: abc\n")
    env = {**os.environ, "SOPS_DISABLE_VERSION_CHECK": "1"}
    encrypted = subprocess.run(
        [SOPS, "encrypt", "secret.yaml"], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
    ).stdout
    document = yaml.safe_load(encrypted)
    assert document["sops"]["shamir_threshold"] == 2
    shares = []
    for (key_file, recipient), group in zip(identities, document["sops"]["key_groups"], strict=True):
        assert group["age"][0]["recipient"] == recipient
        shares.append(
            subprocess.run(
                [AGE, "-d", "-i", str(key_file)], input=group["age"][0]["enc"].encode(), check=True, capture_output=True
            ).stdout
        )
    assert [share[-1] for share in shares] == [1, 2, 3] and all(len(share) == 33 for share in shares)
    for pair in itertools.combinations(shares, 2):
        data_key = shamir.combine(list(pair))
        assert _open_value(data_key, document["password"], "password:") == b"hunter2"
        assert _open_value(data_key, document["nested"]["token"], "nested:token:") == b"abc"


def test_split_key_recovers_from_any_threshold_subset() -> None:
    data_key = os.urandom(32)
    shares = shamir.split(data_key, 4, 3)
    nonce = os.urandom(32)
    sealed = AESGCM(data_key).encrypt(nonce, b"hunter2", b"password:")
    recovered = shamir.combine([shares[3], shares[0], shares[2]])
    assert AESGCM(recovered).decrypt(nonce, sealed, b"password:") == b"hunter2"
