"""`python -m controller`: watch all namespaces (or --namespaces) with the in-cluster service account or KUBECONFIG."""

from __future__ import annotations

import argparse
import logging
import os
import random
import re
import secrets
import signal
import socket
import sys
import threading
from typing import Any, NoReturn

from controller import keyring as kr
from controller import served, shards
from controller.config import LOG_FORMATS, Config, parse_cutoff, parse_duration, parse_log_level
from sealer import __version__
from sealer.kube import CONTROLLER_NAMESPACE
from sealer.sealed import keys

_KEY_PREFIX = re.compile(r"^[a-z0-9][-a-z0-9.]{0,199}$")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """One line and exit code 2 for a bad flag (argparse would print the whole usage first)."""
        from sealer.safetext import printable

        self.exit(2, f"{self.prog}: error: {printable(message)} (see --help)\n")


# Bitnami's controller flags sealer does not take, and why: refused with this reason rather than ignored.
UNSUPPORTED = {
    "--old-gc-behavior": "sealer never deletes Secrets itself; Kubernetes garbage collection does (ownerReferences)",
    "--skip-recreate": "sealer watches the Secrets it produced to put back hand edits and deletions",
    "--watch-for-secrets": "sealer always watches its key Secrets (keys added or relabelled apply without a restart)",
    "--max-unseal-retries": "kopf retries failed reconciles with backoff; --resync-period re-checks every object",
    "--listen-metrics-addr": "sealer serves /metrics on --http-port beside /v1/cert.pem",
    "--listen-addr": "use --http-host and --http-port",
    "--read-timeout": "not configurable", "--write-timeout": "not configurable",
    "--kube-client-qps": "not configurable", "--kube-client-burst": "not configurable",
    "--leader-elect": "replicas elect a leader through kopf peering (--peering; --standalone for one replica)",
    "--leader-elect-lease-duration": "kopf peering has its own timing",
    "--leader-elect-renew-deadline": "kopf peering has its own timing",
    "--leader-elect-retry-period": "kopf peering has its own timing",
    "--metrics-omit-secret-labels": "sealer's metrics carry no Secret names",
    "--aws-kms-key-id": "sealing keys are RSA keys in Secrets",
}


def _go_bool(flag: str) -> object:
    """pflag's boolean: `--flag`, `--flag=true`, `--flag=false` (also 1/0, t/f, as strconv.ParseBool)."""
    def parse(text: str) -> bool:
        value = {"1": True, "t": True, "true": True, "0": False, "f": False, "false": False}.get(text.lower())
        if value is None:
            raise argparse.ArgumentTypeError(f"{flag}: {text!r} is not true or false")
        return value
    return parse


def _bool_flag(p: argparse.ArgumentParser, flag: str, default: bool, help: str) -> None:
    p.add_argument(flag, nargs="?", const=True, default=default, type=_go_bool(flag), metavar="true|false", help=help)


def _pairs(text: str, flag: str) -> dict[str, str]:
    """Bitnami's `k=v,k2=v2` for --privatekey-labels / --privatekey-annotations."""
    found: dict[str, str] = {}
    for part in filter(None, (t.strip() for t in text.split(","))):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"{flag}: {part!r} is not key=value")
        found[key.strip()] = value.strip()
    return found


def parse_args(argv: list[str] | None = None) -> tuple[Config, argparse.Namespace]:
    p = _Parser(prog="python -m controller", description=__doc__,
                epilog="Durations take Go's syntax (720h30m, 90s, 1.5h) and days (30d). Flags in the "
                "'Bitnami names' group are Bitnami Sealed Secrets' own; its other flags are refused with a reason.")
    p.add_argument("--import-bitnami-keys", action="store_true",
                   help="also load Bitnami's keys (sealedsecrets.bitnami.com/sealed-secrets-key=active, and its legacy "
                   "unlabelled Secret sealed-secrets-key)")
    p.add_argument("--bitnami-compat", action="store_true", help="also serve bitnami.com/v1alpha1 SealedSecrets")
    p.add_argument("--eso-compat", action="store_true",
                   help="also serve External Secrets Operator's external-secrets.io/v1 ExternalSecrets, SecretStores "
                   "and ClusterSecretStores of the Vault provider (with ESO's controller scaled to 0)")
    p.add_argument("--key-renew-period", "--rotate-period", default="30d",
                   help="new sealing key when the newest is this old (by its cert's NotBefore); 0 = never. "
                   "kill -USR1 renews at once")
    p.add_argument("--key-cutoff-time", metavar="RFC1123Z",
                   help="at start, renew at once if the newest key is older than this time "
                   "('Mon, 02 Jan 2006 15:04:05 -0700', `date -R`)")
    p.add_argument("--key-order-priority", choices=kr.KEY_ORDERS, default=kr.CERT_NOT_BEFORE,
                   help="which time makes a key the newest: its cert's NotBefore (default, as Bitnami) or its "
                   "Secret's creation time")
    p.add_argument("--resync-period", default="10m", help="re-check every SealedSecret this often; 0 = never")
    p.add_argument("--key-bits", "--key-size", type=int, default=4096, help="size of generated RSA keys")
    p.add_argument("--key-prefix", default=kr.KEY_PREFIX, help="name prefix of generated key Secrets")
    p.add_argument("--key-ttl", default=f"{keys.DEFAULT_DAYS}d",
                   help="validity of generated certs (whole days: 87600h, 3650d)")
    p.add_argument("--my-cn", default=kr.CONTROLLER_NAME, help="CN of generated certs")
    p.add_argument("--privatekey-labels", default="", metavar="K=V,...", help="extra labels on generated key Secrets")
    p.add_argument("--privatekey-annotations", default="", metavar="K=V,...",
                   help="extra annotations on generated key Secrets")
    p.add_argument("--http-port", type=int, default=8080, help="/healthz, /v1/cert.pem, /v1/verify, /metrics")
    p.add_argument("--http-host", default="0.0.0.0", help="address to serve HTTP on")  # noqa: S104
    p.add_argument("--rate-limit", type=float, default=0.0, metavar="PER_SECOND",
                   help="requests per second to /v1/verify and /v1/rotate per client (X-Forwarded-For); 0 = off "
                   "(Bitnami's default is 2)")
    p.add_argument("--rate-limit-burst", type=int, default=0, help="requests allowed above --rate-limit at once")
    p.add_argument("--standalone", action="store_true", help="no kopf peering (a single replica)")
    p.add_argument("--peering", default="sealer", help="kopf peering name for several replicas (a ClusterKopfPeering; "
                   "with --namespaces a KopfPeering in each watched namespace)")
    p.add_argument("--shards", type=int, default=None, metavar="N",
                   help="split the namespaces into N shards served by N replicas through Leases (default 1, or env "
                   "SEALER_SHARDS; README: Shards); implies no kopf peering")
    p.add_argument("--shard-index", type=int, default=None, metavar="I",
                   help="this replica's home shard (default: the ordinal of a StatefulSet pod name in POD_NAME or "
                   "HOSTNAME, or env SEALER_SHARD_INDEX)")
    p.add_argument("--shard-lease-duration", default="15s",
                   help="a shard whose holder has not renewed its Lease for this long is taken over")
    p.add_argument("--vault-retry-min", default="1s", help="first retry after a failed VaultSecret sync (doubles, "
                   "with jitter)")
    p.add_argument("--vault-retry-max", default="5m", help="longest pause between VaultSecret retries")
    p.add_argument("--vault-store-check-period", default="1m",
                   help="how often Vault store tokens are renewed when due and unready stores re-checked")
    p.add_argument("--service-account", default="sealer-controller", metavar="NAME",
                   help="the controller's ServiceAccount in its namespace: a ClusterVaultStore's Kubernetes auth "
                   "without serviceAccount logs in with its token (a TokenRequest when no token file is mounted)")
    p.add_argument("--allow-unscoped-sops", action="store_true",
                   help="decrypt SopsSecrets without spec.binding (written before scopes), with a Warning Event; "
                   "any namespace can then use such a ciphertext (README: Multi-tenant clusters)")
    p.add_argument("--namespaces", metavar="NS[,NS...]",
                   help="serve only these namespaces (default: all, or env SEALER_NAMESPACES); the controller's own "
                   "namespace is still read for its keys and age identities (README: Controller scope)")
    _bool_flag(p, "--all-namespaces", True, "Bitnami's: false serves only the controller's namespace (with "
               "--additional-namespaces, those too)")
    p.add_argument("--additional-namespaces", metavar="NS[,NS...]",
                   help="Bitnami's: serve these besides the controller's namespace")
    p.add_argument("--label-selector", metavar="SELECTOR",
                   help="serve only SealedSecrets, SopsSecrets and VaultSecrets whose labels match, e.g. "
                   "'team=payments,env!=dev' (Kubernetes label selector syntax)")
    _bool_flag(p, "--update-status", True, "Bitnami's: status is always written (false is refused)")
    _bool_flag(p, "--accept-deprecated-v1-data", True, "Bitnami's: open SealedSecrets in the deprecated single-blob "
               "format (spec.data); false refuses them (InvalidSpec)")
    p.add_argument("--log-level", default="info", help="debug, info, warn or error (any case)")
    p.add_argument("--log-format", default="text", choices=LOG_FORMATS,
                   help="text, or json: one object a line with time, level, logger, msg (and object)")
    _bool_flag(p, "--log-info-stdout", False, "records below WARNING to stdout, the rest to stderr")
    p.add_argument("--verbose", action="store_true", help="the same as --log-level debug")
    p.add_argument("--version", action="version", version=f"sealer controller {__version__}")
    refuse_unsupported(p, sys.argv[1:] if argv is None else argv)
    args = p.parse_args(argv)
    try:
        config = Config(import_bitnami_keys=args.import_bitnami_keys, bitnami_compat=args.bitnami_compat,
                        eso_compat=args.eso_compat,
                        key_renew_period=parse_duration(args.key_renew_period), key_policy=key_policy(args),
                        resync_period=parse_duration(args.resync_period), key_bits=args.key_bits,
                        http_host=args.http_host, http_port=args.http_port,
                        allow_unscoped_sops=args.allow_unscoped_sops,
                        accept_deprecated_v1_data=args.accept_deprecated_v1_data,
                        service_account=args.service_account,
                        **scope_options(args), **vault_options(args), **shard_options(args),
                        **log_options(args), **rate_options(args))
        if not keys.MIN_BITS <= args.key_bits <= keys.MAX_BITS or args.key_bits % 256:
            raise ValueError(f"--key-bits: must be a multiple of 256 from {keys.MIN_BITS} to {keys.MAX_BITS}, "
                             f"got {args.key_bits}")
        if not args.update_status:
            raise ValueError("--update-status=false is not supported: sealer always writes status conditions")
    except ValueError as e:  # one line, exit code 2, like argparse's own usage errors
        p.error(str(e))
    return config, args


def _env_int(name: str, default: int | None) -> int | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise ValueError(f"env {name}: {text!r} is not a whole number")
    return int(text)


def shard_options(args: argparse.Namespace) -> dict[str, object]:
    """--shards, --shard-index (or the pod's StatefulSet ordinal), --shard-lease-duration: ValueError when a
    sharded replica cannot tell which shard is its home."""
    count = args.shards if args.shards is not None else _env_int("SEALER_SHARDS", 1)
    if count < 1:
        raise ValueError(f"--shards: must be 1 or more, got {count}")
    if count == 1:
        return {}
    pod = os.environ.get("POD_NAME") or os.environ.get("HOSTNAME") or socket.gethostname()
    index = args.shard_index
    if index is None:
        index = _env_int("SEALER_SHARD_INDEX", None)
    if index is None:
        index = shards.ordinal(pod)
    if index is None:
        raise ValueError(f"--shards {count}: this replica's home shard is unknown: give --shard-index, or run the "
                         f"replicas as a StatefulSet (pod name NAME-ORDINAL; this pod is {pod!r})")
    if not 0 <= index < count:
        raise ValueError(f"--shard-index: {index} is not a shard of 0..{count - 1}")
    duration = parse_duration(args.shard_lease_duration).total_seconds()
    if duration < 1:
        raise ValueError("--shard-lease-duration: must be 1s or more")
    return {"shards": count, "shard_index": index, "shard_lease_duration": duration,
            "shard_identity": f"{pod}-{secrets.token_hex(3)}"}


def refuse_unsupported(p: argparse.ArgumentParser, argv: list[str]) -> None:
    """A Bitnami flag sealer does not take is an error naming the reason, never silently dropped."""
    for arg in argv:
        if arg == "--":
            break
        reason = UNSUPPORTED.get(arg.split("=", 1)[0])
        if reason:
            p.error(f"{arg.split('=', 1)[0]} (Bitnami's controller) is not supported: {reason}")


def key_policy(args: argparse.Namespace) -> kr.KeyPolicy:
    """--key-order-priority, --key-prefix, --my-cn, --key-ttl, --key-cutoff-time, --privatekey-*, checked."""
    ttl = parse_duration(args.key_ttl)
    days, rest = divmod(ttl.total_seconds(), 86400)
    if rest or not 1 <= days <= keys.MAX_DAYS:
        raise ValueError(f"--key-ttl: must be whole days from 1 to {keys.MAX_DAYS} (e.g. 87600h or 3650d), "
                         f"got {args.key_ttl!r}")
    if not _KEY_PREFIX.match(args.key_prefix):
        raise ValueError(f"--key-prefix: {args.key_prefix!r} must be lowercase letters, digits, '-' or '.', "
                         "at most 200 characters")
    cn = args.my_cn.strip()
    if not cn or len(cn) > 64:
        raise ValueError("--my-cn: 1 to 64 characters")
    cutoff = parse_cutoff(args.key_cutoff_time) if args.key_cutoff_time else None
    return kr.KeyPolicy(order=args.key_order_priority, prefix=args.key_prefix, cn=cn, days=int(days), cutoff=cutoff,
                        labels=_pairs(args.privatekey_labels, "--privatekey-labels"),
                        annotations=_pairs(args.privatekey_annotations, "--privatekey-annotations"))


def log_options(args: argparse.Namespace) -> dict[str, object]:
    return {"log_level": 10 if args.verbose else parse_log_level(args.log_level), "log_format": args.log_format,
            "log_info_stdout": args.log_info_stdout}


def rate_options(args: argparse.Namespace) -> dict[str, object]:
    if args.rate_limit < 0 or args.rate_limit_burst < 0:
        raise ValueError("--rate-limit and --rate-limit-burst must be 0 or more")
    return {"verify_rate": args.rate_limit, "verify_burst": args.rate_limit_burst}


def scope_options(args: argparse.Namespace) -> dict[str, object]:
    """--namespaces (or SEALER_NAMESPACES when the flag is absent; or Bitnami's --all-namespaces=false and
    --additional-namespaces, which add the controller's namespace) and --label-selector, checked: ServedError."""
    text, flag = args.namespaces, "--namespaces"
    bitnami = not args.all_namespaces or args.additional_namespaces is not None
    if bitnami:
        if text is not None:
            raise ValueError("--namespaces and Bitnami's --all-namespaces/--additional-namespaces: give one of them")
        own = os.environ.get("POD_NAMESPACE") or CONTROLLER_NAMESPACE
        text, flag = ",".join([own, *([args.additional_namespaces] if args.additional_namespaces else [])]), \
            "--additional-namespaces"
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
    logsafety.configure(config.log_level, config.log_format, config.log_info_stdout)
    try:
        load_config()  # a missing or broken kubeconfig is a configuration error: one line, exit 2, no retries
    except ConfigError as e:
        sys.stderr.write(f"python -m controller: error: {e}\n")
        return 2
    import kopf

    from controller import app as operator

    built = operator.build(config)
    registry = operator.registry(built)
    renew_on_signal(built.controller)
    watched = built.served.watched_namespaces()  # None: cluster-wide
    where: dict[str, object] = {"clusterwide": True} if watched is None else {"namespaces": watched}
    if built.sharding is not None:
        import asyncio

        from controller import running

        asyncio.run(running.sharded(registry, built, running.start_leases(built), where))
    elif args.standalone:
        kopf.run(registry=registry, standalone=True, **where)
    else:
        # A peering name makes peering mandatory, and replicas of equal priority all pause: give each replica a
        # random priority (the highest leads) and make sure the peering object(s) exist. Our own passes and Secret
        # watches follow the same answer (controller.peering).
        from controller.peering import PeeringView

        ensure_peering(args.peering, watched)
        priority = random.randint(1, 2**30)  # noqa: S311
        identity = f"{os.environ.get('POD_ID') or socket.gethostname()}-{secrets.token_hex(4)}"
        view = PeeringView(lambda: built.controller.kube, args.peering, watched[0] if watched else None, identity,
                           priority)
        view.on_activate = built.activated
        built.active = view.active
        view.start()
        kopf.run(registry=registry, peering_name=args.peering, priority=priority, identity=identity, **where)
    return 0


def renew_on_signal(controller: Any) -> None:
    """`kill -USR1` makes a new sealing key at once, as Bitnami's controller does (besides --key-cutoff-time)."""
    def renew() -> None:
        try:
            controller.create_key("renewal requested (SIGUSR1)")
            controller.publish_certs()
        except Exception as e:  # the controller keeps running; the next signal or period tries again
            logging.getLogger("sealer.controller").warning("key renewal on SIGUSR1 failed: %s", type(e).__name__)

    signal.signal(signal.SIGUSR1, lambda *_: threading.Thread(target=renew, name="renew-now", daemon=True).start())


if __name__ == "__main__":
    sys.exit(main())
