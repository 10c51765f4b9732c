"""Shared fixtures: real key pairs made at test time (never committed) and the CLI run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

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


@pytest.fixture(scope="session")
def kp2048(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return make_keypair(tmp_path_factory.mktemp("kp2048"), 2048)


@pytest.fixture(scope="session")
def kp2048b(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    """A second, unrelated key: the 'wrong cluster'."""
    return make_keypair(tmp_path_factory.mktemp("kp2048b"), 2048)


@pytest.fixture(scope="session")
def kp4096(tmp_path_factory: pytest.TempPathFactory) -> KeyPair:
    return make_keypair(tmp_path_factory.mktemp("kp4096"), 4096)


def run_sealer(*args: str | os.PathLike[str], input: bytes | str | None = None, cwd: Path | None = None,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m sealer ARGS` as its own process, the way a user does; text stdout/stderr."""
    if isinstance(input, bytes):
        input = input.decode()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SEALER_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "sealer", *map(str, args)], input=input if input is not None else "",
                          capture_output=True, text=True, cwd=cwd, env=full_env, timeout=120)


@pytest.fixture
def sealer_cli():
    return run_sealer
