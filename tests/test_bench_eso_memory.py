"""The ESO memory bench compares like with like: its ExternalSecret, on its ESO SecretStore, is the VaultSecret of
the peer run once converted (`sealer.eso`, what --eso-compat serves), reading the same path with the same auth."""

from __future__ import annotations

from typing import Any

from bench import eso_memory_bench
from sealer import eso


class Recorder:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    def create(self, obj: dict[str, Any]) -> None:
        self.created.append(obj)


def test_the_external_secret_converts_to_the_peers_vault_secret():
    client = Recorder()
    eso_memory_bench.eso_store(client, "http://127.0.0.1:8200", "role-id", "secret-id")
    secret, store = client.created
    assert secret["metadata"]["namespace"] == store["metadata"]["namespace"] == eso_memory_bench.NS
    assert eso.convert_store(store)["spec"]["auth"]["appRole"]["secretIdRef"]["name"] == secret["metadata"]["name"]
    converted = eso.convert_external_secret(eso_memory_bench.external_secret(7), {("SecretStore", "vault"): store})
    peer = eso_memory_bench.vault_secret(7)
    assert converted["spec"]["dataFrom"] == peer["spec"]["dataFrom"] == [{"path": "bench/app-0007"}]
    assert converted["spec"]["refreshInterval"] == peer["spec"]["refreshInterval"]
    assert converted["spec"]["storeRef"]["name"] == peer["spec"]["storeRef"]["name"]
