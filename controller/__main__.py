"""`python -m controller`: watch all namespaces (or --namespaces) with the in-cluster service account or KUBECONFIG."""

from __future__ import annotations

import argparse
import os
import random
import sys
from typing import NoReturn

from controller import served
from controller.config import Config, parse_duration
from sealer import __version__
from sealer.sealed import keys


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line and exit code 2 for a bad flag (argparse would print the whole usage first)."""
        from sealer.safetext import printable

        self.exit(2, f"{self.prog}: error: {printable(message)} (see --help)\n")


def parse_args(argv: list[str] | None = None) -> tuple[Config, argparse.Namespace]:
    p = _Parser(prog="python -m controller", description=__doc__)
    p.add_argument("--import-bitnami-keys", action="store_true",
                   help="also load Bitnami's keys (sealedsecrets.bitnami.com/sealed-secrets-key=active)")
    p.add_argument("--bitnami-compat", action="store_true", help="also serve bitnami.com/v1alpha1 SealedSecrets")
    p.add_argument("--key-renew-period", default="30d", help="new sealing key after this long; 0 = never")
    p.add_argument("--resync-period", default="10m", help="re-check every SealedSecret this often; 0 = never")
    p.add_argument("--key-bits", type=int, default=4096, help="size of generated RSA keys")
    p.add_argument("--http-port", type=int, default=8080, help="/healthz, /v1/cert.pem, /v1/verify, /metrics")
    p.add_argument("--http-host", default="0.0.0.0", help="address to serve HTTP on")  # noqa: S104
    p.add_argument("--standalone", action="store_true", help="no kopf peering (a single replica)")
    p.add_argument("--peering", default="sealer", help="kopf peering name for several replicas (a ClusterKopfPeering; "
                   "with --namespaces a KopfPeering in each watched namespace)")
    p.add_argument("--vault-retry-min", default="1s", help="first retry after a failed VaultSecret sync (doubles, "
                   "with jitter)")
    p.add_argument("--vault-retry-max", default="5m", help="longest pause between VaultSecret retries")
    p.add_argument("--vault-store-check-period", default="1m",
                   help="how often Vault store tokens are renewed when due and unready stores re-checked")
    p.add_argument("--allow-unscoped-sops", action="store_true",
                   help="decrypt SopsSecrets without spec.binding (written before scopes), with a Warning Event; "
                   "any namespace can then use such a ciphertext (README: Multi-tenant clusters)")
    p.add_argument("--namespaces", metavar="NS[,NS...]",
                   help="serve only these namespaces (default: all, or env SEALER_NAMESPACES); the controller's own "
                   "namespace is still read for its keys and age identities (README: Controller scope)")
    p.add_argument("--label-selector", metavar="SELECTOR",
                   help="serve only SealedSecrets, SopsSecrets and VaultSecrets whose labels match, e.g. "
                   "'team=payments,env!=dev' (Kubernetes label selector syntax)")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--version", action="version", version=f"sealer controller {__version__}")
    args = p.parse_args(argv)
    try:
        config = Config(import_bitnami_keys=args.import_bitnami_keys, bitnami_compat=args.bitnami_compat,
                        key_renew_period=parse_duration(args.key_renew_period),
                        resync_period=parse_duration(args.resync_period), key_bits=args.key_bits,
                        http_host=args.http_host, http_port=args.http_port,
                        allow_unscoped_sops=args.allow_unscoped_sops, **scope_options(args), **vault_options(args))
        if not keys.MIN_BITS <= args.key_bits <= keys.MAX_BITS or args.key_bits % 256:
            raise ValueError(f"--key-bits: must be a multiple of 256 from {keys.MIN_BITS} to {keys.MAX_BITS}, "
                             f"got {args.key_bits}")
    except ValueError as e:  # one line, exit code 2, like argparse's own usage errors
        p.error(str(e))
    return config, args


def scope_options(args: argparse.Namespace) -> dict[str, object]:
    """--namespaces (or SEALER_NAMESPACES when the flag is absent) and --label-selector, checked: ServedError."""
    text, flag = args.namespaces, "--namespaces"
    if text is None:
        text, flag = os.environ.get("SEALER_NAMESPACES") or None, "SEALER_NAMESPACES"
    options: dict[str, object] = {}
    if text is not None:
        options["namespaces"] = served.parse_namespaces(text, flag)
    if args.label_selector is not None:
        options["label_selector"] = str(served.parse_selector(args.label_selector))
    return options


def ensure_peering(name: str, namespaces: list[str] | None) -> None:
    """Create kopf's peering object(s) unless they exist: the ClusterKopfPeering NAME, or with --namespaces a
    KopfPeering NAME in every watched namespace (kopf then peers per namespace; a replica has one priority for all
    of them, so the same replica leads in every namespace, and any conflict pauses the whole replica)."""
    import kubernetes

    from controller.kube import Kube

    kube = Kube()
    if namespaces is None:
        kube.ensure_cluster_object("kopf.dev/v1", "clusterkopfpeerings", {
            "apiVersion": "kopf.dev/v1", "kind": "ClusterKopfPeering", "metadata": {"name": name}})
        return
    for ns in namespaces:
        body = {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": name, "namespace": ns}}
        try:
            kube.create_object("kopf.dev/v1", "kopfpeerings", ns, body)
        except kubernetes.client.ApiException as e:
            if e.status in (403, 404):
                raise SystemExit(f"python -m controller: error: cannot create KopfPeering {name} in namespace {ns} "
                                 f"(HTTP {e.status}): --namespaces needs the kopfpeerings.kopf.dev CRD and RBAC for it "
                                 "in every watched namespace (deploy/namespaced)") from None
            if e.status != 409:
                raise


def vault_options(args: argparse.Namespace) -> dict[str, float]:
    """--vault-retry-min, --vault-retry-max (at least the minimum), --vault-store-check-period, in seconds."""
    seconds = {name: parse_duration(getattr(args, name)).total_seconds()
               for name in ("vault_retry_min", "vault_retry_max", "vault_store_check_period")}
    if min(seconds.values()) <= 0:
        raise ValueError("--vault-retry-min, --vault-retry-max and --vault-store-check-period must be above 0")
    return {"vault_retry_min": seconds["vault_retry_min"],
            "vault_retry_max": max(seconds["vault_retry_min"], seconds["vault_retry_max"]),
            "vault_store_check": seconds["vault_store_check_period"]}


def main(argv: list[str] | None = None) -> int:
    config, args = parse_args(argv)
    from controller import logsafety
    from controller.kube import ConfigError, load_config

    logsafety.install()  # before any logging: secret fields redacted, control characters escaped, in every record
    try:
        load_config()  # a missing or broken kubeconfig is a configuration error: one line, exit 2, no retries
    except ConfigError as e:
        sys.stderr.write(f"python -m controller: error: {e}\n")
        return 2
    import kopf

    from controller import app as operator

    built = operator.build(config)
    registry = operator.registry(built)
    kopf.configure(verbose=args.verbose)  # kopf's log format and levels, for our loggers too
    watched = built.served.watched_namespaces()  # None: cluster-wide
    where: dict[str, object] = {"clusterwide": True} if watched is None else {"namespaces": watched}
    if args.standalone:
        kopf.run(registry=registry, standalone=True, **where)
    else:
        # A peering name makes peering mandatory, and replicas of equal priority all pause: give each replica a
        # random priority (the highest leads) and make sure the peering object(s) exist.
        ensure_peering(args.peering, watched)
        kopf.run(registry=registry, peering_name=args.peering, priority=random.randint(1, 2**30),  # noqa: S311
                 **where)
    return 0


if __name__ == "__main__":
    sys.exit(main())
