"""`python -m controller`: watch all namespaces with the in-cluster service account or KUBECONFIG."""

from __future__ import annotations

import argparse
import random
import sys

from controller import runtime
from sealer import __version__


def parse_args(argv: list[str] | None = None) -> tuple[runtime.Config, argparse.Namespace]:
    p = argparse.ArgumentParser(prog="python -m controller", description=__doc__)
    p.add_argument("--import-bitnami-keys", action="store_true",
                   help="also load Bitnami's keys (sealedsecrets.bitnami.com/sealed-secrets-key=active)")
    p.add_argument("--bitnami-compat", action="store_true", help="also serve bitnami.com/v1alpha1 SealedSecrets")
    p.add_argument("--key-renew-period", default="30d", help="new sealing key after this long; 0 = never")
    p.add_argument("--resync-period", default="10m", help="re-check every SealedSecret this often; 0 = never")
    p.add_argument("--key-bits", type=int, default=4096, help="size of generated RSA keys")
    p.add_argument("--http-port", type=int, default=8080, help="/healthz, /v1/cert.pem, /v1/verify, /metrics")
    p.add_argument("--http-host", default="0.0.0.0", help="address to serve HTTP on")  # noqa: S104
    p.add_argument("--standalone", action="store_true", help="no kopf peering (a single replica)")
    p.add_argument("--peering", default="sealer", help="kopf peering name for several replicas")
    p.add_argument("--vault-retry-min", default="1s", help="first retry after a failed VaultSecret sync (doubles, "
                   "with jitter)")
    p.add_argument("--vault-retry-max", default="5m", help="longest pause between VaultSecret retries")
    p.add_argument("--vault-store-check-period", default="1m",
                   help="how often Vault store tokens are renewed when due and unready stores re-checked")
    p.add_argument("--allow-unscoped-sops", action="store_true",
                   help="decrypt SopsSecrets without spec.binding (written before scopes), with a Warning Event; "
                   "any namespace can then use such a ciphertext (README: Multi-tenant clusters)")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--version", action="version", version=f"sealer controller {__version__}")
    args = p.parse_args(argv)
    try:
        config = runtime.Config(import_bitnami_keys=args.import_bitnami_keys, bitnami_compat=args.bitnami_compat,
                                key_renew_period=runtime.parse_duration(args.key_renew_period),
                                resync_period=runtime.parse_duration(args.resync_period), key_bits=args.key_bits,
                                http_host=args.http_host, http_port=args.http_port,
                                allow_unscoped_sops=args.allow_unscoped_sops)
        vault = vaultsync_options(args)
    except ValueError as e:
        p.error(str(e))
    args.vault_options = vault
    return config, args


def vaultsync_options(args: argparse.Namespace) -> object:
    from controller.vaultsync import Options

    seconds = {name: runtime.parse_duration(getattr(args, name)).total_seconds()
               for name in ("vault_retry_min", "vault_retry_max", "vault_store_check_period")}
    if min(seconds.values()) <= 0:
        raise ValueError("--vault-retry-min, --vault-retry-max and --vault-store-check-period must be above 0")
    return Options(seconds["vault_retry_min"], max(seconds["vault_retry_min"], seconds["vault_retry_max"]),
                   seconds["vault_store_check_period"])


def main(argv: list[str] | None = None) -> int:
    config, args = parse_args(argv)
    runtime.ACTIVE_CONFIG = config
    from controller import vaultsync

    vaultsync.ACTIVE_OPTIONS = args.vault_options
    import kopf

    import controller.handlers  # noqa: F401 - registers the handlers with kopf

    kopf.configure(verbose=args.verbose)  # kopf's log format and levels, for our loggers too
    if args.standalone:
        kopf.run(clusterwide=True, standalone=True)
    else:
        # A peering name makes peering mandatory, and replicas of equal priority all pause: give each replica a
        # random priority (the highest leads) and make sure the peering object exists.
        from controller.kube import Kube

        Kube().ensure_cluster_object("kopf.dev/v1", "clusterkopfpeerings", {
            "apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": args.peering}})
        kopf.run(clusterwide=True, peering_name=args.peering, priority=random.randint(1, 2**30))  # noqa: S311
    return 0


if __name__ == "__main__":
    sys.exit(main())
