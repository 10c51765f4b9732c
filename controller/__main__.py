"""`python -m controller`: watch all namespaces with the in-cluster service account or KUBECONFIG."""

from __future__ import annotations

import argparse
import random
import sys

from controller import runtime


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
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    try:
        config = runtime.Config(import_bitnami_keys=args.import_bitnami_keys, bitnami_compat=args.bitnami_compat,
                                key_renew_period=runtime.parse_duration(args.key_renew_period),
                                resync_period=runtime.parse_duration(args.resync_period), key_bits=args.key_bits,
                                http_host=args.http_host, http_port=args.http_port)
    except ValueError as e:
        p.error(str(e))
    return config, args


def main(argv: list[str] | None = None) -> int:
    config, args = parse_args(argv)
    runtime.ACTIVE_CONFIG = config
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
