"""What kopf is left to handle: only kinds that come a few per cluster or one per namespace (ClusterVaultSecrets,
Namespaces for them, the stores). The kinds that come by the thousand (SealedSecrets, SopsSecrets, the Vault kinds,
ESO's ExternalSecrets) and Secrets are watched by the controller itself, because kopf keeps state per object it
watches (12-50 KiB each, `bench/README.md`): a handler added for one of them, even one that serves a few objects
(a deletion handler), costs that for every object of the kind."""

from __future__ import annotations

from controller.app import build, registry
from controller.config import Config


def test_kopf_watches_only_the_few_per_cluster_kinds_and_runs_a_daemon_only_for_cluster_vault_secrets() -> None:
    reg = registry(build(Config(namespace="sealer-system", eso_compat=True)))
    handlers = [h for sub in (reg._watching, reg._spawning, reg._changing, reg._indexing) for h in sub._handlers]
    watched = {h.selector.any_name for h in handlers}
    assert watched == {"clustervaultsecrets", "namespaces", "vaultstores", "clustervaultstores", "secretstores",
                       "clustersecretstores"}
    assert {h.id for h in reg._spawning._handlers} == {"cluster_vault_secret_loop"}  # no daemon per store
