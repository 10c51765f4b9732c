"""The functions External Secrets Operator adds to sprig in its v2 templates (`target.template`), for VaultSecret
templates written for ESO: PEM filtering, PKCS#12 unpacking, JWK to PEM. Output is what Go's `encoding/pem` and
`crypto/x509` write (64-column base64, PKCS#8 private keys, PKIX public keys).

ESO's functions that build random-salted PKCS#12 archives, decrypt with RSA, or convert YAML are not here
(`UNSUPPORTED`): a template using one is refused with that name, as a template using an unknown function is.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from sealer.gotemplate.execute import Func
from sealer.gotemplate.sprig.cast import fn, sized
from sealer.gotemplate.values import GoError, to_bytes
from sealer.io import pem

UNSUPPORTED = frozenset({"pemToPkcs12", "pemToPkcs12Pass", "fullPemToPkcs12", "fullPemToPkcs12Pass",
                         "pemTruststoreToPKCS12", "pemTruststoreToPKCS12Pass", "filterCertChain", "toYaml",
                         "fromYaml", "rsaDecrypt", "getHostByName"})

def filter_pem(pem_type: str, text: str) -> str:
    data = to_bytes(text)
    start = data.find(b"-----BEGIN")
    if start > 0:
        data = data[start:]
    blocks = [pem.encode(kind, der) for kind, der in pem.blocks(data) if kind.lower() == pem_type.lower()]
    if not blocks and data.strip() and not pem.blocks(data):
        raise GoError("error filtering pem: found junk")
    return sized("".join(blocks))


def _pkcs12(password: str, text: str) -> tuple[Any, Any, list[Any]]:
    from cryptography.hazmat.primitives.serialization import pkcs12

    data = to_bytes(text)
    last: Exception | None = None
    for pw in ((None, b"") if password == "" else (password.encode(),)):
        try:
            key, cert, extra = pkcs12.load_key_and_certificates(data, pw)
            return key, cert, list(extra)
        except (ValueError, TypeError) as e:
            last = e
    raise GoError("unable to decode pkcs12 (wrong password or not a PKCS#12 archive)") from last


def pkcs12_key(password: str, text: str) -> str:
    from cryptography.hazmat.primitives import serialization as s

    key, _, _ = _pkcs12(password, text)
    if key is None:
        raise GoError("unable to decode pkcs12: no private key")
    return key.private_bytes(s.Encoding.PEM, s.PrivateFormat.PKCS8, s.NoEncryption()).decode()


def _ordered(certs: list[Any]) -> list[Any]:
    """Leaf first, then each issuer, as ESO orders a chain; the order given when the certificates are not one
    chain (several leaves, a disjunct certificate)."""
    issuers = {c.issuer for c in certs if c.issuer != c.subject}
    leaves = [c for c in certs if c.subject not in issuers]
    if len(leaves) != 1:
        return certs
    chain, seen = [leaves[0]], {leaves[0].subject}
    while chain[-1].issuer != chain[-1].subject:
        nxt = next((c for c in certs if c.subject == chain[-1].issuer and c.subject not in seen), None)
        if nxt is None:
            break
        chain.append(nxt)
        seen.add(nxt.subject)
    return chain if len(chain) == len(certs) else certs


def pkcs12_cert(password: str, text: str) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    _, cert, extra = _pkcs12(password, text)
    certs = ([cert] if cert is not None else []) + extra
    return "".join(pem.encode("CERTIFICATE", c.public_bytes(Encoding.DER)) for c in _ordered(certs))


def _b64url_int(jwk: dict[str, Any], name: str) -> int:
    return int.from_bytes(_b64url(jwk, name), "big")


def _b64url(jwk: dict[str, Any], name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise GoError(f"jwk: missing {name!r}")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise GoError(f"jwk: {name!r} is not base64url") from None


def _jwk_key(text: str, private: bool) -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    try:
        jwk = json.loads(text)
    except ValueError:
        raise GoError("jwk: not JSON") from None
    if not isinstance(jwk, dict):
        raise GoError("jwk: not a JSON object")
    kty = jwk.get("kty")
    try:
        if kty == "RSA":
            pub = rsa.RSAPublicNumbers(_b64url_int(jwk, "e"), _b64url_int(jwk, "n"))
            if not private:
                return pub.public_key()
            p, q, d = _b64url_int(jwk, "p"), _b64url_int(jwk, "q"), _b64url_int(jwk, "d")
            return rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                         rsa.rsa_crt_iqmp(p, q), pub).private_key()
        if kty == "EC":
            curves = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
            curve = curves.get(jwk.get("crv"))  # type: ignore[arg-type]
            if curve is None:
                raise GoError("jwk: unsupported curve")
            pub_ec = ec.EllipticCurvePublicNumbers(_b64url_int(jwk, "x"), _b64url_int(jwk, "y"), curve())
            if not private:
                return pub_ec.public_key()
            return ec.EllipticCurvePrivateNumbers(_b64url_int(jwk, "d"), pub_ec).private_key()
        if kty == "OKP" and jwk.get("crv") == "Ed25519":
            if not private:
                return ed25519.Ed25519PublicKey.from_public_bytes(_b64url(jwk, "x"))
            return ed25519.Ed25519PrivateKey.from_private_bytes(_b64url(jwk, "d"))
    except ValueError:
        raise GoError("jwk: invalid key") from None
    raise GoError("jwk: unsupported key type")


def jwk_public_pem(text: str) -> str:
    from cryptography.hazmat.primitives import serialization as s

    key = _jwk_key(text, private=False)
    return pem.encode("PUBLIC KEY", key.public_bytes(s.Encoding.DER, s.PublicFormat.SubjectPublicKeyInfo))


def jwk_private_pem(text: str) -> str:
    from cryptography.hazmat.primitives import serialization as s

    key = _jwk_key(text, private=True)
    return pem.encode("PRIVATE KEY", key.private_bytes(s.Encoding.DER, s.PrivateFormat.PKCS8, s.NoEncryption()))


FUNCS: dict[str, Func] = {
    "filterPEM": fn("string string", None, filter_pem),
    "pkcs12key": fn("string", None, lambda t: pkcs12_key("", t)),
    "pkcs12keyPass": fn("string string", None, pkcs12_key),
    "pkcs12cert": fn("string", None, lambda t: pkcs12_cert("", t)),
    "pkcs12certPass": fn("string string", None, pkcs12_cert),
    "jwkPublicKeyPem": fn("string", None, jwk_public_pem),
    "jwkPrivateKeyPem": fn("string", None, jwk_private_pem),
}

