"""An independent, minimal reference for the Bitnami Sealed Secrets value format (tests only).

Written from the format facts alone and deliberately imports nothing from ``sealer``:

- session key: 32 random bytes, wrapped with RSA-OAEP (SHA-256 for the OAEP hash and for MGF1), OAEP label =
  scope label;
- value: AES-256-GCM under the session key, 12-byte all-zero nonce, no associated data, 16-byte tag appended;
- bytes: ``uint16 big-endian len(rsa_ct) || rsa_ct || gcm_ct+tag``, stored as standard padded base64;
- label: strict = ``namespace/name``, namespace-wide = ``namespace``, cluster-wide = empty; read only from the
  SealedSecret's own top-level annotations, exact value ``"true"``, cluster-wide wins.

The RSA step has two implementations: Python's ``cryptography`` (``py_wrap`` / ``py_unwrap``) and the
``openssl pkeyutl`` command (``openssl_wrap`` / ``openssl_unwrap``), which shares no code with the former.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

OPENSSL = "/usr/bin/openssl"
SESSION_KEY_LEN = 32
NONCE = b"\x00" * 12
TAG_LEN = 16
NAMESPACE_WIDE = "sealedsecrets.bitnami.com/namespace-wide"
CLUSTER_WIDE = "sealedsecrets.bitnami.com/cluster-wide"

Wrap = Callable[[bytes, bytes], bytes]  # (session_key, label) -> RSA ciphertext
Unwrap = Callable[[bytes, bytes], bytes]  # (RSA ciphertext, label) -> session_key


class ReferenceDecryptError(Exception):
    """The reference could not open a value (bad framing, wrong key or label, failed tag)."""


# --- labels -------------------------------------------------------------------------------------------

def label(scope: str, namespace: str, name: str) -> bytes:
    if scope == "strict":
        return f"{namespace}/{name}".encode()
    if scope == "namespace-wide":
        return namespace.encode()
    if scope == "cluster-wide":
        return b""
    raise ValueError(f"unknown scope {scope!r}")


def scope_of_manifest(obj: Mapping[str, Any]) -> str:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if annotations.get(CLUSTER_WIDE) == "true":
        return "cluster-wide"
    if annotations.get(NAMESPACE_WIDE) == "true":
        return "namespace-wide"
    return "strict"


def label_of_manifest(obj: Mapping[str, Any]) -> bytes:
    """The label for a SealedSecret, from its own top-level metadata only."""
    meta = obj.get("metadata") or {}
    return label(scope_of_manifest(obj), meta.get("namespace") or "", meta.get("name") or "")


# --- RSA-OAEP(SHA-256, MGF1-SHA-256, label) via cryptography -----------------------------------------

def _oaep(lbl: bytes) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(),
                        label=lbl if lbl else None)


def py_wrap(public_key: rsa.RSAPublicKey) -> Wrap:
    return lambda session_key, lbl: public_key.encrypt(session_key, _oaep(lbl))


def py_unwrap(private_key: rsa.RSAPrivateKey) -> Unwrap:
    def unwrap(wrapped: bytes, lbl: bytes) -> bytes:
        try:
            return private_key.decrypt(wrapped, _oaep(lbl))
        except ValueError as e:
            raise ReferenceDecryptError(f"RSA-OAEP unwrap failed: {e}") from None
    return unwrap


# --- the same via the openssl CLI ---------------------------------------------------------------------

def _pkeyopts(lbl: bytes) -> list[str]:
    opts = ["-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"]
    if lbl:  # OpenSSL's default label is empty; only pass one when there is one
        opts += ["-pkeyopt", f"rsa_oaep_label:{lbl.hex()}"]
    return opts


def _openssl(args: list[str], data: bytes) -> bytes:
    proc = subprocess.run([OPENSSL, "pkeyutl", *args], input=data, capture_output=True, timeout=60, check=False)
    if proc.returncode != 0:
        detail = proc.stderr.decode(errors="replace").strip()
        raise ReferenceDecryptError(f"openssl pkeyutl failed ({proc.returncode}): {detail}")
    return proc.stdout


def openssl_wrap(*, cert_path: str | os.PathLike[str] | None = None,
                 pubkey_path: str | os.PathLike[str] | None = None) -> Wrap:
    """Wrap with ``openssl pkeyutl -encrypt``, from an X.509 certificate (-certin) or a public key PEM (-pubin)."""
    if (cert_path is None) == (pubkey_path is None):
        raise ValueError("give exactly one of cert_path, pubkey_path")
    source = ["-certin", "-inkey", str(cert_path)] if cert_path else ["-pubin", "-inkey", str(pubkey_path)]
    return lambda session_key, lbl: _openssl(["-encrypt", *source, *_pkeyopts(lbl)], session_key)


def openssl_unwrap(key_path: str | os.PathLike[str]) -> Unwrap:
    return lambda wrapped, lbl: _openssl(["-decrypt", "-inkey", str(key_path), *_pkeyopts(lbl)], wrapped)


def openssl_pubkey(cert_path: str | os.PathLike[str], out: Path) -> Path:
    """Extract a certificate's public key as PEM with ``openssl x509`` (for the -pubin path)."""
    proc = subprocess.run([OPENSSL, "x509", "-in", str(cert_path), "-pubkey", "-noout"], capture_output=True,
                          timeout=60, check=True)
    out.write_bytes(proc.stdout)
    return out


# --- the value ----------------------------------------------------------------------------------------

def encrypt(plaintext: bytes, lbl: bytes, wrap: Wrap, session_key: bytes | None = None) -> bytes:
    """Raw sealed bytes. ``session_key`` may be fixed for known-answer tests (never in real use)."""
    if session_key is None:
        session_key = os.urandom(SESSION_KEY_LEN)
    wrapped = wrap(session_key, lbl)
    if not 0 < len(wrapped) < 1 << 16:
        raise ValueError("RSA ciphertext length does not fit a uint16")
    return len(wrapped).to_bytes(2, "big") + wrapped + AESGCM(session_key).encrypt(NONCE, plaintext, None)


def split(blob: bytes) -> tuple[bytes, bytes]:
    if len(blob) < 2:
        raise ReferenceDecryptError("shorter than the length prefix")
    n = int.from_bytes(blob[:2], "big")
    if n == 0 or len(blob) < 2 + n + TAG_LEN:
        raise ReferenceDecryptError("length prefix does not fit the data")
    return blob[2:2 + n], blob[2 + n:]


def decrypt(blob: bytes, lbl: bytes, unwrap: Unwrap) -> bytes:
    wrapped, sealed = split(blob)
    session_key = unwrap(wrapped, lbl)
    if len(session_key) != SESSION_KEY_LEN:
        raise ReferenceDecryptError(f"session key is {len(session_key)} bytes, expected {SESSION_KEY_LEN}")
    try:
        return AESGCM(session_key).decrypt(NONCE, sealed, None)
    except Exception as e:  # InvalidTag
        raise ReferenceDecryptError(f"AES-GCM open failed: {type(e).__name__}") from None


def b64encode(blob: bytes) -> str:
    return base64.b64encode(blob).decode("ascii")


def b64decode(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def encrypt_b64(plaintext: bytes, lbl: bytes, wrap: Wrap) -> str:
    return b64encode(encrypt(plaintext, lbl, wrap))


def decrypt_b64(text: str, lbl: bytes, unwrap: Unwrap) -> bytes:
    return decrypt(b64decode(text), lbl, unwrap)
