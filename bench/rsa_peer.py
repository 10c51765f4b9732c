"""The RSA-4096 limits sealer is measured against: what one core can do with no sealer code around it.

* `openssl_speed`: `openssl speed -seconds N rsa4096`, single process. Its "sign/s" column is the private-key
  operation rate (CRT exponentiation, the same work as an OAEP decrypt); "verify/s" the public one. openssl
  counts CPU time (user), not wall time.
* `private_op` / `public_op`: one RSA-OAEP-SHA256 decrypt / encrypt of a 32-byte session key through
  `cryptography` (the library and OpenSSL build sealer itself uses), to be called in a tight loop.
* `run_ops_threads`: the same loop split over N threads (`cryptography` releases the GIL inside RSA): the floor
  for RSA work on every core of this machine, which is more than one core's time / N where cores share a host.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from bench.common import CpuClock, Timing

SESSION_KEY = bytes(range(32))
LABEL = b"bench/app-0000"


@dataclass(frozen=True)
class OpensslSpeed:
    sign_per_s: float  # private-key operations per second
    verify_per_s: float  # public-key operations per second


def parse_openssl_speed(output: str, bits: int = 4096) -> OpensslSpeed:
    """Read the rsa<bits> row of `openssl speed` output.

    OpenSSL 1.1/3.0/3.1 print `sign verify sign/s verify/s`; 3.2+ add `encrypt decrypt encr./s decr./s`
    (and may write times as `0.005ms`). Columns are matched by the header's names, counting from the right.
    """
    header: list[str] | None = None
    row = re.compile(rf"^rsa\s*{bits}\s+bits?\b")
    for line in output.splitlines():
        tokens = line.split()
        if "sign/s" in tokens and "verify/s" in tokens:
            header = tokens
        elif header and row.match(line.strip()):
            cols = dict(zip(header, tokens[-len(header):], strict=True))
            return OpensslSpeed(float(cols["sign/s"]), float(cols["verify/s"]))
    raise ValueError(f"no `rsa {bits} bits` row under a sign/s header in `openssl speed` output")


def openssl_speed(seconds: int, bits: int = 4096) -> OpensslSpeed | None:
    """Single-process `openssl speed`; None when the openssl command is missing."""
    if not shutil.which("openssl"):
        return None
    proc = subprocess.run(["openssl", "speed", "-seconds", str(seconds), f"rsa{bits}"],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl speed failed: {proc.stderr.strip()[-200:]}")
    return parse_openssl_speed(proc.stdout, bits)


def _oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=LABEL)


def private_op(key: rsa.RSAPrivateKey) -> Callable[[], object]:
    """One RSA-OAEP-SHA256 decrypt of a wrapped 32-byte session key (the same ciphertext every call)."""
    oaep = _oaep()
    ciphertext = key.public_key().encrypt(SESSION_KEY, oaep)
    key.decrypt(ciphertext, oaep)  # warm-up: OpenSSL sets up blinding and Montgomery contexts lazily
    return lambda: key.decrypt(ciphertext, oaep)


def public_op(public_key: rsa.RSAPublicKey) -> Callable[[], object]:
    """One RSA-OAEP-SHA256 encrypt of a 32-byte session key."""
    oaep = _oaep()
    public_key.encrypt(SESSION_KEY, oaep)
    return lambda: public_key.encrypt(SESSION_KEY, oaep)


def run_ops(op: Callable[[], object], n: int) -> Timing:
    """Time ``n`` back-to-back calls of ``op``."""
    with CpuClock() as clock:
        for _ in range(n):
            op()
    return clock.timing


def run_ops_threads(op: Callable[[], object], n: int, threads: int) -> Timing:
    """Time ``n`` calls of ``op`` shared out over ``threads`` threads (wall: until the last one ends; CPU: all of
    this process's threads)."""
    shares = [n // threads + (i < n % threads) for i in range(threads)]
    workers = [threading.Thread(target=lambda k=k: [op() for _ in range(k)]) for k in shares]
    with CpuClock() as clock:
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    return clock.timing
