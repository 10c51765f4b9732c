"""The Sealed Secrets hybrid value: RSA-OAEP-wrapped session key + AES-256-GCM, and the scope labels.

Wire format (Bitnami-compatible): ``uint16 BE len(rsa_ct) || rsa_ct || aes_gcm_ct || tag``. The session key
is random per value and used once, which is why a fixed all-zero nonce is safe. The OAEP label binds the
ciphertext to a namespace and/or name, so a SealedSecret cannot be replayed elsewhere.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealer.errors import DecryptionError, InputError
from sealer.scope import (  # noqa: F401 - the scope names are used through this module too
    ANNOTATION_CLUSTER_WIDE,
    ANNOTATION_NAMESPACE_WIDE,
    Scope,
    scope_annotations,
    scope_from_annotations,
)

SESSION_KEY_BYTES = 32
_NONCE = bytes(12)
_LEN = struct.Struct(">H")



def _oaep(label: bytes) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=label or None)


def scope_label(scope: Scope, namespace: str, name: str) -> bytes:
    """The OAEP label for a scope. Raises InputError when the scope needs a name or namespace it lacks."""
    if scope is Scope.CLUSTER_WIDE:
        return b""
    if not namespace:
        raise InputError(f"{scope.value} scope needs a namespace (set metadata.namespace or -n)",
                         field="metadata.namespace")
    if scope is Scope.NAMESPACE_WIDE:
        return namespace.encode()
    if not name:
        raise InputError("strict scope needs a name (set metadata.name or --name)", field="metadata.name")
    return f"{namespace}/{name}".encode()


def encrypt(public_key: rsa.RSAPublicKey, plaintext: bytes, label: bytes) -> bytes:
    """Seal one value. Costs one RSA public operation."""
    session_key = os.urandom(SESSION_KEY_BYTES)
    wrapped = public_key.encrypt(session_key, _oaep(label))
    return _LEN.pack(len(wrapped)) + wrapped + AESGCM(session_key).encrypt(_NONCE, plaintext, None)


def split(ciphertext: bytes) -> tuple[bytes, bytes]:
    """(wrapped session key, AES-GCM ciphertext+tag); DecryptionError if the framing is impossible."""
    if len(ciphertext) < _LEN.size:
        raise DecryptionError("ciphertext too short")
    (n,) = _LEN.unpack_from(ciphertext)
    if n == 0 or len(ciphertext) < _LEN.size + n + 16:
        raise DecryptionError("ciphertext is truncated or its length prefix is corrupt")
    return ciphertext[_LEN.size:_LEN.size + n], ciphertext[_LEN.size + n:]


def decrypt(private_keys: Iterable[rsa.RSAPrivateKey], ciphertext: bytes, label: bytes) -> bytes:
    """Open one value with the first key that fits, in the order given (put the likely key first)."""
    return decrypt_indexed(private_keys, ciphertext, label)[0]


def decrypt_indexed(private_keys: Iterable[rsa.RSAPrivateKey], ciphertext: bytes,
                    label: bytes) -> tuple[bytes, int]:
    """Like `decrypt`, also returning the position of the key that opened it.

    Keys whose modulus size differs from the wrapped key's length are skipped without an RSA operation.
    The error never says which key was closest: a failing label and a wrong key look the same.
    """
    wrapped, sealed = split(ciphertext)
    oaep = _oaep(label)
    tried = False
    for index, key in enumerate(private_keys):
        if (key.key_size + 7) // 8 != len(wrapped):
            continue
        tried = True
        try:
            session_key = key.decrypt(wrapped, oaep)
        except ValueError:
            continue
        if len(session_key) not in (16, 24, 32):  # we write 32; Go's reader takes any AES key size
            continue
        try:
            return AESGCM(session_key).decrypt(_NONCE, sealed, None), index
        except InvalidTag:
            raise DecryptionError("ciphertext failed its integrity check (modified or corrupt)") from None
    if not tried:
        raise DecryptionError(f"no key of the right size ({len(wrapped) * 8}-bit RSA) is available")
    raise DecryptionError("no available key opens it (wrong key, or sealed for another name/namespace/scope)")
