"""Shamir secret sharing as sops does it for key groups (sops' fork of HashiCorp Vault's ``shamir`` package).

With several key groups, sops splits the 32-byte data key into one share per group and wraps each share with
that group's master keys; any ``shamir_threshold`` groups together recover the key. To read and write such
files, shares must use the same field and layout as sops:

- GF(2^8) with the AES (Rijndael) polynomial x^8 + x^4 + x^3 + x + 1 (0x11b); addition is XOR.
- Every secret byte gets its own random polynomial of degree ``threshold - 1`` with that byte as constant term.
- A share is the polynomial values for every secret byte, followed by ONE byte: the share's x-coordinate.
- sops 3.11 uses x = 1, 2, ..., parts (group i gets x = i + 1); Vault randomises x. Combining accepts any
  distinct nonzero x, so both interoperate; ``split`` follows sops unless ``random_x`` is asked for.
"""

from __future__ import annotations

import secrets

from sealer.errors import DecryptionError, InputError

_POLY_LOW = 0x1B  # x^8 = x^4 + x^3 + x + 1 modulo the AES polynomial 0x11b
MAX_PARTS = 255


def gf_mul(a: int, b: int) -> int:
    """Product in GF(2^8) mod 0x11b: shift-and-add, reducing whenever the degree reaches 8."""
    product = 0
    while b:
        if b & 1:
            product ^= a
        a <<= 1
        if a & 0x100:
            a = (a & 0xFF) ^ _POLY_LOW
        b >>= 1
    return product


def gf_inv(a: int) -> int:
    """Multiplicative inverse: a^254, since a^255 = 1 for every nonzero a in GF(2^8)."""
    if a == 0:
        raise ZeroDivisionError("0 has no inverse in GF(2^8)")
    result, base, exp = 1, a, 254
    while exp:
        if exp & 1:
            result = gf_mul(result, base)
        base = gf_mul(base, base)
        exp >>= 1
    return result


def _evaluate(coefficients: list[int], x: int) -> int:
    """Horner's rule, highest coefficient first."""
    y = 0
    for c in reversed(coefficients):
        y = gf_mul(y, x) ^ c
    return y


def split(secret: bytes, parts: int, threshold: int, *, random_x: bool = False) -> list[bytes]:
    """Split ``secret`` into ``parts`` shares (len(secret) + 1 bytes each), any ``threshold`` of which recover it.

    Limits are Vault's/sops': 2 <= threshold <= parts <= 255 and a non-empty secret. The top coefficient is never
    zero, so every byte really needs ``threshold`` shares.
    """
    if parts < threshold:
        raise InputError(f"Shamir parts ({parts}) cannot be less than the threshold ({threshold})")
    if parts > MAX_PARTS:
        raise InputError(f"Shamir parts cannot exceed {MAX_PARTS}")
    if threshold < 2:
        raise InputError("Shamir threshold must be at least 2")
    if not secret:
        raise InputError("cannot split an empty secret")
    if random_x:
        pool = list(range(1, 256))
        xs = [pool.pop(secrets.randbelow(len(pool))) for _ in range(parts)]
    else:
        xs = list(range(1, parts + 1))
    shares = [bytearray() for _ in range(parts)]
    for byte in secret:
        coefficients = [byte] + [secrets.randbelow(256) for _ in range(threshold - 2)] + [1 + secrets.randbelow(255)]
        for share, x in zip(shares, xs, strict=True):
            share.append(_evaluate(coefficients, x))
    return [bytes(share) + bytes([x]) for share, x in zip(shares, xs, strict=True)]


def combine(shares: list[bytes]) -> bytes:
    """Recover the secret by Lagrange interpolation at x = 0.

    With fewer than ``threshold`` shares this returns garbage, not an error (the scheme cannot tell); the caller
    notices when the data key fails to open the values. Structurally broken share sets raise DecryptionError.
    """
    if len(shares) < 2:
        raise DecryptionError("fewer than two Shamir shares cannot reconstruct the data key")
    length = len(shares[0])
    if length < 2:
        raise DecryptionError("Shamir shares must be at least two bytes long")
    if any(len(share) != length for share in shares):
        raise DecryptionError("Shamir shares differ in length")
    xs = [share[-1] for share in shares]
    if len(set(xs)) != len(xs):
        raise DecryptionError("duplicate Shamir share (same x-coordinate)")
    # Lagrange basis at 0: l_i(0) = prod_{j != i} x_j / (x_j - x_i); subtraction is XOR.
    weights = []
    for i, xi in enumerate(xs):
        num = den = 1
        for j, xj in enumerate(xs):
            if i != j:
                num = gf_mul(num, xj)
                den = gf_mul(den, xi ^ xj)
        weights.append(gf_mul(num, gf_inv(den)))
    secret = bytearray()
    for idx in range(length - 1):
        value = 0
        for share, weight in zip(shares, weights, strict=True):
            value ^= gf_mul(share[idx], weight)
        secret.append(value)
    return bytes(secret)
