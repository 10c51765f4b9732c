"""Sealing key pairs made at test time (never committed): the conftest fixtures kp2048, kp2048b and kp4096 are
built with `make_keypair`; tests that need another one (a different size or CN) call it themselves."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sealer.sealed import keys


@dataclass(frozen=True)
class KeyPair:
    key_path: Path
    cert_path: Path
    private: keys.PrivateKey
    cert: keys.SealingCert


def make_keypair(directory: Path, bits: int = 2048, cn: str = "test") -> KeyPair:
    directory.mkdir(parents=True, exist_ok=True)
    key, cert = keys.generate(bits=bits, cn=cn)
    key_path, cert_path = directory / "sealer.key", directory / "sealer.crt"
    key_path.write_bytes(keys.private_key_pem(key))
    key_path.chmod(0o600)
    cert_path.write_bytes(keys.cert_pem(cert))
    return KeyPair(key_path, cert_path, keys.load_private_keys(str(key_path))[0], keys.load_cert(str(cert_path)))
