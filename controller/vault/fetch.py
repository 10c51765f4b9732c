"""The Vault reads of one VaultSecret sync, through its store's shared client and the clients of the stores its
items name in `sourceRef`: find walks (LIST) first, then each distinct read once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from controller.vault import data
from controller.vault.client import NOT_FOUND, StoreClient, VaultError
from controller.vault.data import DataError, ReadKey, Sources, StoreRef

StoreClients = Callable[[StoreRef], StoreClient]  # another store's client, or VaultError (not found, not allowed)


class Fetched(dict[ReadKey, Mapping[str, Any]]):
    """What was read, by `data.read_key`; `found`: the secret paths each find entry matched (dataFrom index ->
    paths)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: dict[int, tuple[str, ...]] = {}


def walk(client: StoreClient, base: str, where: str) -> list[str]:
    """Every secret path below `base` ('' = the whole mount), listing folder by folder, bounded: a tenant
    chooses the path. A folder Vault does not know is empty. Paths stay below the store's mount: `base` has no
    '..' segment (data.parse_sources) and names Vault lists that could step out are skipped."""
    folders, out, lists = [f"{base}/" if base else ""], [], 0
    while folders:
        folder = folders.pop()
        lists += 1
        if lists > data.MAX_FIND_FOLDERS:
            raise DataError(f"more than {data.MAX_FIND_FOLDERS} folders below {base or '/'}; narrow find.path",
                            field=where)
        try:
            names = client.list(folder)
        except VaultError as e:
            if e.reason != NOT_FOUND:
                raise
            continue
        for name in names:
            full = data.listed_name(folder, name, where)
            if full is None:
                continue
            (folders if full.endswith("/") else out).append(full)
            if len(out) + len(folders) > data.MAX_FIND_NAMES:
                raise DataError(f"more than {data.MAX_FIND_NAMES} names below {base or '/'}; narrow find.path",
                                field=where)
    return out


def read_all(client: StoreClient, spec: Sources, stores: StoreClients | None = None) -> tuple[Fetched, list[str]]:
    """Each read the spec needs, made once: (what was read, what Vault says does not exist). A secret a find
    matched and that is gone by the time it is read is skipped, as in ESO. Any other failure raises VaultError
    (or DataError for a find over its bounds), and the sync stops before anything is written."""
    clients: dict[StoreRef | None, StoreClient] = {None: client}

    def client_for(ref: StoreRef | None) -> StoreClient:
        if ref not in clients:
            if stores is None or ref is None:
                raise VaultError("InvalidSpec", "sourceRef: other stores are not available here")
            clients[ref] = stores(ref)
        return clients[ref]

    fetched = Fetched()
    walks: dict[tuple[StoreRef | None, str], list[str]] = {}
    for i, src in data.finds(spec):
        assert src.find is not None
        where = f"spec.dataFrom[{i}].find"
        if (src.store, src.find.path) not in walks:
            walks[(src.store, src.find.path)] = walk(client_for(src.store), src.find.path, where)
        fetched.found[i] = data.matching(src, walks[(src.store, src.find.path)], where)
        if sum(len(v) for v in fetched.found.values()) > data.MAX_FIND_SECRETS:
            raise DataError(f"finds match more than {data.MAX_FIND_SECRETS} Vault secrets in all", field=where)
    required = set(data.reads(spec))
    missing: list[str] = []
    for key in data.reads(spec, fetched.found):
        path, version, store, metadata = data.read_parts(key)
        c = client_for(store)
        try:
            fetched[key] = data.metadata_values(c.read_metadata(path)) if metadata else c.read(path, version)
        except VaultError as e:
            if e.reason != NOT_FOUND:
                raise
            if key in required:
                missing.append(path + (f" (version {version})" if version else "") + (" (metadata)" if metadata
                               else "") + (f" ({store.kind} {store.name})" if store else ""))
    return fetched, missing
