"""The Kubernetes API emulator as a pytest fixture. The emulator itself (kmock + the API-server behaviour kopf
needs, a kubeconfig, a sync client, processes started against it) lives in `sealer_testkit.apiserver`, because
`sealer demo` runs it too; its docstring lists what is and is not emulated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sealer_testkit.apiserver import *  # noqa: F403  (the names tests use: KubeServer, KubeClient, spawn, ...)
from sealer_testkit.apiserver import KubeServer


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[KubeServer]:
    """A fresh, empty API server with SEALER_RESOURCES for one test; processes it spawned are stopped after it."""
    with KubeServer(tmp_path / "kube") as server:
        yield server
