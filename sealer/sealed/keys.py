"""RSA sealing keys and certificates: generate, load (PEM, URL, key-Secret backups), fingerprint, describe.

A fingerprint is the SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex: it names a key pair whether
we hold the certificate or only the private key, so the CLI and the controller agree on it.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sealer.errors import InputError, KeyMaterialError
from sealer.io import pem

DEFAULT_BITS = 4096
MIN_BITS = 2048
# 8192-bit keys take seconds to minutes to generate and make every unseal several times slower; 16384 and up
# ran for minutes without being any use. Bitnami's controller makes 4096 by default.
MAX_BITS = 8192
DEFAULT_DAYS = 3650
MAX_DAYS = 36500  # 100 years: far from the end of X.509 (and Python) dates in 9999
DEFAULT_CN = "sealer"
CERT_FETCH_TIMEOUT = 10.0

_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----", re.S)


def fingerprint(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


@dataclass(frozen=True)
class SealingCert:
    """A certificate whose RSA public key seals values."""

    cert: x509.Certificate
    public_key: rsa.RSAPublicKey
    fingerprint: str

    def describe(self) -> dict[str, object]:
        return {
            "fingerprint": self.fingerprint,
            "subject": self.cert.subject.rfc4514_string(),
            "issuer": self.cert.issuer.rfc4514_string(),
            "serial": format(self.cert.serial_number, "x"),
            "notBefore": _iso(self.cert.not_valid_before_utc),
            "notAfter": _iso(self.cert.not_valid_after_utc),
            "keyAlgorithm": f"RSA-{self.public_key.key_size}",
            "status": self.status(),
        }

    def status(self, now: dt.datetime | None = None) -> str:
        """"valid", "expired" or "not yet valid"."""
        now = now or dt.datetime.now(dt.UTC)
        if now > self.cert.not_valid_after_utc:
            return "expired"
        return "not yet valid" if now < self.cert.not_valid_before_utc else "valid"

    def check_valid(self, source: str, now: dt.datetime | None = None) -> None:
        now = now or dt.datetime.now(dt.UTC)
        if now > self.cert.not_valid_after_utc:
            raise KeyMaterialError(f"certificate expired on {_iso(self.cert.not_valid_after_utc)}; "
                                   "fetch the controller's current cert", source=source)
        if now < self.cert.not_valid_before_utc:
            raise KeyMaterialError(f"certificate is not valid before {_iso(self.cert.not_valid_before_utc)}",
                                   source=source)


@dataclass(frozen=True)
class PrivateKey:
    """A private sealing key and where it came from (for messages: never the key itself)."""

    key: rsa.RSAPrivateKey
    fingerprint: str
    origin: str


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- generation ---------------------------------------------------------------------------------------

def generate(bits: int = DEFAULT_BITS, cn: str = DEFAULT_CN, days: int = DEFAULT_DAYS,
             now: dt.datetime | None = None) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A new RSA key (e = 65537) and a self-signed certificate for it, as Bitnami's controller makes them."""
    check_generate_args(bits=bits, cn=cn, days=days)
    now = now or dt.datetime.now(dt.UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sealer")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=True,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def check_generate_args(bits: int, cn: str, days: int) -> None:
    """InputError (exit 2, one line) for a key size or validity `generate` refuses, before any slow work."""
    if not MIN_BITS <= bits <= MAX_BITS or bits % 256:
        raise InputError(f"must be a multiple of 256 from {MIN_BITS} to {MAX_BITS}, got {bits}", field="--bits")
    if not 1 <= days <= MAX_DAYS:
        raise InputError(f"must be from 1 to {MAX_DAYS} (100 years), got {days}", field="--days")
    if not cn:
        raise InputError("must not be empty", field="--cn")


def private_key_pem(key: rsa.RSAPrivateKey) -> bytes:
    """PKCS#1 PEM (``BEGIN RSA PRIVATE KEY``), the form Bitnami stores in ``tls.key``."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


# --- loading certificates -----------------------------------------------------------------------------

def _der_item(der: bytes, at: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the DER item at ``at``; IndexError/ValueError if cut short."""
    tag, first = der[at], der[at + 1]
    if first < 0x80:
        start, length = at + 2, first
    else:
        size = first & 0x7F
        if not 1 <= size <= 4:
            raise ValueError("unsupported DER length")
        start, length = at + 2 + size, int.from_bytes(der[at + 2:at + 2 + size], "big")
    if start + length > len(der):
        raise ValueError("DER item runs past the end")
    return tag, start, start + length


def serial_positive(data: bytes) -> bool | None:
    """Whether the certificate's serial number is positive (RFC 5280 requires it; Go's x509, and so kubeseal,
    refuses a negative one; `cryptography` warns about zero or negative and will refuse them); None when ``data``
    is no certificate this walk can read (the loader then names what is wrong). Read from the DER before loading,
    so no library warning is printed."""
    if b"-----BEGIN" in data:
        data = next((der for kind, der in pem.blocks(data) if kind in ("CERTIFICATE", "X509 CERTIFICATE")), b"")
    try:
        tag, start, _ = _der_item(data, 0)  # Certificate
        if tag != 0x30:
            return None
        tag, at, _ = _der_item(data, start)  # tbsCertificate
        if tag != 0x30:
            return None
        tag, start, end = _der_item(data, at)
        if tag == 0xA0:  # [0] version
            tag, start, end = _der_item(data, end)
        if tag != 0x02 or end == start:  # INTEGER serialNumber
            return None
    except (IndexError, ValueError):
        return None
    value = data[start:end]
    return value[0] < 0x80 and any(value)


def parse_cert(data: bytes, source: str) -> SealingCert:
    """A PEM or DER certificate holding an RSA key of at least MIN_BITS."""
    if serial_positive(data) is False:
        raise KeyMaterialError("the certificate's serial number is zero or negative (RFC 5280 allows only "
                               "positive ones; kubeseal refuses a negative one)", source=source)
    try:
        cert = (x509.load_pem_x509_certificate(data) if b"-----BEGIN" in data
                else x509.load_der_x509_certificate(data))
    except (ValueError, x509.InvalidVersion):
        raise KeyMaterialError("not a PEM or DER X.509 certificate", source=source) from None
    try:
        public_key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):  # the certificate's structure parses, its key does not
        raise KeyMaterialError("the certificate's public key is unreadable", source=source) from None
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise KeyMaterialError(f"certificate key is {type(public_key).__name__.removeprefix('_')}, "
                               "sealing needs RSA", source=source)
    if public_key.key_size < MIN_BITS:
        raise KeyMaterialError(f"certificate key is RSA-{public_key.key_size}, below the {MIN_BITS}-bit minimum",
                               source=source)
    return SealingCert(cert, public_key, fingerprint(public_key))


def read_cert_source(location: str) -> bytes:
    """Bytes of a cert from a file path, a file:// URL or an http(s) URL (as ``kubeseal --cert`` accepts)."""
    path = location
    if location.startswith("file://"):  # file:///abs/path, or file://localhost/abs/path; percent-escapes decoded
        import urllib.parse

        parsed = urllib.parse.urlsplit(location)
        if parsed.netloc not in ("", "localhost"):
            raise KeyMaterialError("a file:// URL must name a local file (file:///path)", source=location)
        path = urllib.parse.unquote(parsed.path)
    elif location.startswith(("http://", "https://")):
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(location, timeout=CERT_FETCH_TIMEOUT) as resp:  # noqa: S310 - scheme checked
                return resp.read(1 << 20)
        except urllib.error.HTTPError as e:
            raise KeyMaterialError(f"fetching certificate failed: HTTP {e.code}", source=location) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise KeyMaterialError(f"fetching certificate failed: {reason}", source=location) from None
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise KeyMaterialError(f"cannot read certificate: {e.strerror}", source=location) from None


def load_cert(location: str) -> SealingCert:
    return parse_cert(read_cert_source(location), location)


# --- loading private keys -----------------------------------------------------------------------------

def _load_pem_private_key(block: bytes, origin: str) -> PrivateKey:
    try:
        # cryptography's key validation costs ~0.3 s per RSA-4096 key (a year of 30-day renewals: 4 s per call).
        # These are the operator's own keys, and every value they open is authenticated by AES-GCM, so a
        # malformed key can only fail to open things, never open them wrongly.
        key = serialization.load_pem_private_key(block, password=None, unsafe_skip_rsa_key_validation=True)
    except TypeError:
        raise KeyMaterialError("private key is encrypted; decrypt it first "
                               "(openssl rsa -in KEY -out KEY.plain)", source=origin) from None
    except (ValueError, UnsupportedAlgorithm):
        raise KeyMaterialError("unreadable PEM private key", source=origin) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise KeyMaterialError(f"private key is {type(key).__name__.removeprefix('_')}, sealing keys are RSA",
                               source=origin)
    return PrivateKey(key, fingerprint(key.public_key()), origin)


def keys_from_pem(data: bytes, origin: str) -> list[PrivateKey]:
    keys = [_load_pem_private_key(m.group(0), origin) for m in _PEM_BLOCK.finditer(data)
            if m.group(1).endswith(b"PRIVATE KEY")]
    if not keys:
        raise KeyMaterialError("no private key found in PEM file", source=origin)
    return keys


def secret_pem(data: Mapping[str, Any], item: str) -> bytes | None:
    """The PEM in item `tls.key` or `tls.crt` of a key Secret's data (kubernetes.io/tls, Bitnami's layout and the
    controller's): None when the item is absent, ValueError when it is not base64. Callers name the source."""
    raw = data.get(item)
    if raw is None:
        return None
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, TypeError, ValueError):
        raise ValueError(f"invalid base64 in {item}") from None


def _keys_from_secrets(data: bytes, origin: str) -> list[PrivateKey]:
    from sealer.io import manifests

    keys: list[PrivateKey] = []
    for doc in manifests.load_objects(data, origin):
        if doc.get("kind") != "Secret":
            continue
        name = manifests.describe(doc)
        items = doc.get("data") or {}
        if not isinstance(items, dict):
            raise KeyMaterialError("must be a mapping", source=origin, field=f"{name}: data")
        try:
            pem = secret_pem(items, "tls.key")
        except ValueError:
            raise KeyMaterialError("invalid base64", source=origin, field=f"{name}: data.tls.key") from None
        if pem is None:
            continue
        keys.extend(keys_from_pem(pem, f"{origin}: {name}"))
    if not keys:
        raise KeyMaterialError("no Secret with data.tls.key found (expected a key backup from "
                               "`kubectl get secret -l ... -o yaml`)", source=origin)
    return keys


CERT_NOT_KEY = ("is a certificate (public); unsealing needs the private key: the key Secret's tls.key, or the key "
                "Secret itself (kubectl get secret -o yaml)")


def load_private_keys(path: str) -> list[PrivateKey]:
    """Every RSA private key in a file ('-': stdin): PEM (one or more blocks) or a YAML/JSON backup of key
    Secrets. A certificate alone is refused by name: it is the usual mix-up (tls.crt for tls.key)."""
    if path == "-":
        from sealer.io.files import read_input

        data, path = read_input(path)
    else:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise KeyMaterialError(f"cannot read key file: {e.strerror}", source=path) from None
    if b"-----BEGIN" in data and b"PRIVATE KEY-----" in data and b"tls.key" not in data:
        return keys_from_pem(data, path)
    if b"-----BEGIN CERTIFICATE-----" in data and b"tls.key" not in data:
        raise KeyMaterialError(CERT_NOT_KEY, source=path)
    return _keys_from_secrets(data, path)
