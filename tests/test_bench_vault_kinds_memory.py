"""The scheduled kinds' memory bench compares like with like: its ExternalSecret, on its ESO SecretStore, is the
peer's VaultSecret once converted (`sealer.eso`, what --eso-compat serves), reading the same path with the same auth;
its VaultPKISecret and VaultPushSecret are ones the controller accepts, on the same store."""

from __future__ import annotations

from typing import Any

from bench import vault_kinds_memory_bench as bench
from controller.vault import pki, push
from sealer import eso


class Recorder:
    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []

    def create(self, obj: dict[str, Any]) -> None:
        self.created.append(obj)


def test_the_external_secret_converts_to_the_peers_vault_secret():
    client = Recorder()
    bench.eso_store(client, "http://127.0.0.1:8200", "role-id", "secret-id")
    secret, store = client.created
    assert secret["metadata"]["namespace"] == store["metadata"]["namespace"] == bench.NS
    assert eso.convert_store(store)["spec"]["auth"]["appRole"]["secretIdRef"]["name"] == secret["metadata"]["name"]
    converted = eso.convert_external_secret(bench.external_secret(7), {("SecretStore", "vault"): store})
    peer = bench.vault_secret(7)
    assert converted["spec"]["dataFrom"] == peer["spec"]["dataFrom"] == [{"path": "bench/app-0007"}]
    assert converted["spec"]["refreshInterval"] == peer["spec"]["refreshInterval"]
    assert converted["spec"]["storeRef"]["name"] == peer["spec"]["storeRef"]["name"]


def test_the_pki_secret_is_one_the_controller_accepts_on_the_same_store():
    body = bench.pki_secret(7)
    spec = pki.parse_pki_secret(body)
    assert (spec.mount, spec.role, spec.common_name) == (bench.PKI_MOUNT, "bench", "app-0007.example.com")
    assert body["spec"]["storeRef"] == bench.vault_secret(7)["spec"]["storeRef"]


def test_the_push_secret_is_one_the_controller_accepts_on_the_same_store():
    body = bench.push_secret(7)
    spec = push.parse_push_secret(body)
    assert spec.stores == (("VaultStore", bench.vault_secret(7)["spec"]["storeRef"]["name"]),)
    assert [item.remote_key for item in spec.items] == [f"{bench.PUSH_PATH}/app-0007"]
