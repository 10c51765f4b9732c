"""The Vault reads of one VaultSecret sync, through its store's shared client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from controller.vault.client import NOT_FOUND, StoreClient, VaultError
from controller.vault.data import Sources, reads


def read_all(client: StoreClient, spec: Sources) -> tuple[dict[tuple[str, int | None], Mapping[str, Any]], list[str]]:
    """Each path the spec needs, read once: (what was read, the paths Vault says do not exist). Any other failure
    raises VaultError, and the sync stops before anything is written."""
    fetched: dict[tuple[str, int | None], Mapping[str, Any]] = {}
    missing: list[str] = []
    for path, version in reads(spec):
        try:
            fetched[(path, version)] = client.read(path, version)
        except VaultError as e:
            if e.reason != NOT_FOUND:
                raise
            missing.append(path + (f" (version {version})" if version else ""))
    return fetched, missing
