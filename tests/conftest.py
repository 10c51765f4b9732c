"""Shared fixtures: real key pairs made at test time (never committed), the CLI run as a real process, a fresh
Kubernetes API emulator per test and one OpenBao dev server per session. Helpers live in modules named for what
they hold (keypairs, cli_process, controller_process, openbao, ...); test modules import those, never each other."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.cli_process import run_sealer
from tests.keypairs import KeyPair, make_keypair

if TYPE_CHECKING:
    from sealer_testkit.apiserver import KubeServer

    from tests.openbao import Bao


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


@pytest.fixture
def sealer_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_sealer


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[KubeServer]:
    """A fresh, empty API server with SEALER_RESOURCES for one test; processes it spawned are stopped after it.

    The emulator (`sealer_testkit.apiserver`, imported here lazily so modules without it still collect) lists in
    its docstring what is and is not emulated."""
    from sealer_testkit.apiserver import KubeServer

    with KubeServer(tmp_path / "kube") as server:
        yield server


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bao]:
    """One OpenBao dev server per pytest process, shared by every module; stopped at exit. Tests must not stop it:
    they use `tests.openbao.start_openbao` for that."""
    from tests.openbao import start_openbao

    with start_openbao(tmp_path_factory.mktemp("openbao")) as bao:
        yield bao
