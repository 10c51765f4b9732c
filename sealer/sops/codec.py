"""The sops value cipher: ``ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<type>]``.

AES-256-GCM under the file's data key with a fresh 32-byte IV per value (12-byte IVs are read too); the
associated data is the value's path (``data:password:``), so a ciphertext moved to another key fails.
"""

from __future__ import annotations

import binascii  # base64's own primitives: `import base64` adds base64 and struct to a one-file run
import os
import re

try:
    # The class cryptography.hazmat.primitives.ciphers.aead exports, without importing the rest of that package
    # (cipher algorithms, modes, typing): ~10 ms of a one-file `sealer decrypt`. The fast-path test checks that
    # both names are the same object.
    from cryptography.hazmat.bindings._rust import openssl as _rust_openssl

    AESGCM = _rust_openssl.aead.AESGCM
except (ImportError, AttributeError):  # pragma: no cover - another cryptography layout
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealer.errors import DecryptionError, InputError
from sealer.sops.scalars import TYPES

IV_BYTES = 32
TAG_BYTES = 16
PREFIX = "ENC["
_ENC = re.compile(
    r"^ENC\[AES256_GCM,data:(?P<data>[A-Za-z0-9+/=]*),iv:(?P<iv>[A-Za-z0-9+/=]+),"
    r"tag:(?P<tag>[A-Za-z0-9+/=]+),type:(?P<type>[a-z]+)\]$")


def is_encrypted(text: object) -> bool:
    return isinstance(text, str) and text.startswith(PREFIX)


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")  # = base64.b64encode


def encrypt(key: AESGCM, plaintext: bytes, aad: str, kind: str, iv: bytes | None = None) -> str:
    """One ENC[...] value. ``iv`` is only passed to reproduce an existing ciphertext (unchanged values on edit)."""
    iv = iv or os.urandom(IV_BYTES)
    sealed = key.encrypt(iv, plaintext, aad.encode())
    return f"ENC[AES256_GCM,data:{_b64(sealed[:-TAG_BYTES])},iv:{_b64(iv)},tag:{_b64(sealed[-TAG_BYTES:])},type:{kind}]"


def parse(text: str) -> tuple[bytes, bytes, bytes, str]:
    """(data, iv, tag, type) of an ENC[...] value; InputError if it is not one."""
    m = _ENC.match(text)
    if not m:
        raise InputError("malformed ENC[...] value")
    kind = m.group("type")
    if kind not in TYPES:
        raise InputError(f"unknown value type {kind!r} in ENC[...]")
    try:
        # = base64.b64decode(..., validate=True)
        data, iv, tag = (binascii.a2b_base64(m.group(g), strict_mode=True) for g in ("data", "iv", "tag"))
    except (binascii.Error, ValueError):
        raise InputError("invalid base64 in ENC[...] value") from None
    if len(iv) not in (12, IV_BYTES) or len(tag) != TAG_BYTES:
        raise InputError("ENC[...] value has a wrong IV or tag size")
    return data, iv, tag, kind


def decrypt(key: AESGCM, text: str, aad: str) -> tuple[str, bytes, bytes]:
    """(type, plaintext, iv). DecryptionError when the value was changed, moved to another path, or the key is
    wrong: GCM cannot tell these apart, and neither can we."""
    data, iv, tag, kind = parse(text)
    try:
        return kind, key.decrypt(iv, data + tag, aad.encode()), iv
    except Exception as e:
        from cryptography.exceptions import InvalidTag

        if not isinstance(e, InvalidTag):
            raise
        raise DecryptionError("value failed authentication (changed, moved to another key, or wrong data key)")\
            from None
