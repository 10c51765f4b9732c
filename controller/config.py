"""What `python -m controller` was asked to do, as one value the app is built from (no module-level state)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field

from controller.keyring import KeyPolicy
from sealer import duration
from sealer.kube import CONTROLLER_NAMESPACE

LOG_LEVELS = {"debug": 10, "info": 20, "warn": 30, "warning": 30, "error": 40}  # slog's names, any case
LOG_FORMATS = ("text", "json")
RFC1123Z = "%a, %d %b %Y %H:%M:%S %z"  # Go's time.RFC1123Z, which Bitnami's --key-cutoff-time takes


def parse_duration(text: str) -> dt.timedelta:
    """`30d`, `12h`, `90s`, `500ms`, Go's compound `720h30m`, `0` (off): a flag's period, ValueError naming the
    forms otherwise (a negative period, which Go's syntax allows, too)."""
    found = duration.seconds(text, days=True)
    if found is None or found < 0:
        raise ValueError(f"invalid duration {text!r} (use e.g. 30d, 12h, 720h30m, 15m, 90s)")
    return dt.timedelta(seconds=found)


def parse_cutoff(text: str) -> dt.datetime:
    """Bitnami's --key-cutoff-time: RFC 1123 with a numeric zone, `Mon, 02 Jan 2006 15:04:05 -0700`."""
    try:
        return dt.datetime.strptime(text.strip(), RFC1123Z)
    except ValueError:
        raise ValueError(f"--key-cutoff-time: {text!r} is not RFC 1123 with a numeric zone "
                         "(e.g. 'Mon, 02 Jan 2006 15:04:05 -0700', as `date -R` prints)") from None


def parse_log_level(text: str) -> int:
    level = LOG_LEVELS.get(text.strip().lower())
    if level is None:
        raise ValueError(f"--log-level: {text!r} is not one of debug, info, warn, error")
    return level


@dataclass
class Config:
    namespace: str = field(default_factory=lambda: os.environ.get("POD_NAMESPACE") or CONTROLLER_NAMESPACE)
    import_bitnami_keys: bool = False
    bitnami_compat: bool = False
    eso_compat: bool = False  # --eso-compat: also serve external-secrets.io ExternalSecrets and Vault stores
    key_renew_period: dt.timedelta = dt.timedelta(days=30)
    key_policy: KeyPolicy = field(default_factory=KeyPolicy)  # order, prefix, CN, validity, cutoff of sealing keys
    resync_period: dt.timedelta = dt.timedelta(minutes=10)
    key_bits: int = 4096
    http_host: str = "0.0.0.0"  # noqa: S104 - a pod serves its probes and cert on its own IP
    http_port: int = 8080
    allow_unscoped_sops: bool = False  # SopsSecrets without spec.binding (written before scopes) are refused
    accept_deprecated_v1_data: bool = True  # Bitnami's spec.data single-blob format opens (Bitnami's default too)
    namespaces: tuple[str, ...] = ()  # --namespaces: serve only these (and read `namespace`); () = every namespace
    label_selector: str = ""  # --label-selector for SealedSecrets, SopsSecrets, VaultSecrets; "" = every object
    vault_retry_min: float = 1.0  # seconds to the first retry after a failed VaultSecret sync (then doubling)
    vault_retry_max: float = 300.0  # longest pause between VaultSecret retries
    vault_store_check: float = 60.0  # how often store tokens are renewed when due and unready stores re-checked
    service_account: str = "sealer-controller"  # --service-account: the controller's own, for Vault Kubernetes auth
    log_level: int = 20  # --log-level (logging's numbers); --verbose is debug
    log_format: str = "text"  # --log-format: text (kopf's layout) or json (one object a line, like Bitnami's)
    log_info_stdout: bool = False  # Bitnami's --log-info-stdout: records below WARNING go to stdout
    verify_rate: float = 0.0  # --rate-limit: requests per second to /v1/verify and /v1/rotate per client; 0 = off
    verify_burst: int = 0  # --rate-limit-burst
    shards: int = 1  # --shards: replicas split the namespaces by Leases (controller.shards); 1 = no sharding
    shard_index: int = 0  # --shard-index: this replica's home shard
    shard_identity: str = ""  # this replica in the shard Leases (pod name + a random suffix)
    shard_lease_duration: float = 15.0  # --shard-lease-duration, seconds
