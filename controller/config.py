"""What `python -m controller` was asked to do, as one value the app is built from (no module-level state)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field

from sealer import duration
from sealer.kube import CONTROLLER_NAMESPACE


def parse_duration(text: str) -> dt.timedelta:
    """`30d`, `12h`, `90s`, `500ms`, `1h30m`, `0` (off): a flag's period, ValueError naming the forms otherwise."""
    found = duration.seconds(text, days=True)
    if found is None:
        raise ValueError(f"invalid duration {text!r} (use e.g. 30d, 12h, 15m, 90s)")
    return dt.timedelta(seconds=found)


@dataclass
class Config:
    namespace: str = field(default_factory=lambda: os.environ.get("POD_NAMESPACE") or CONTROLLER_NAMESPACE)
    import_bitnami_keys: bool = False
    bitnami_compat: bool = False
    key_renew_period: dt.timedelta = dt.timedelta(days=30)
    resync_period: dt.timedelta = dt.timedelta(minutes=10)
    key_bits: int = 4096
    http_host: str = "0.0.0.0"  # noqa: S104 - a pod serves its probes and cert on its own IP
    http_port: int = 8080
    allow_unscoped_sops: bool = False  # SopsSecrets without spec.binding (written before scopes) are refused
    namespaces: tuple[str, ...] = ()  # --namespaces: serve only these (and read `namespace`); () = every namespace
    label_selector: str = ""  # --label-selector for SealedSecrets, SopsSecrets, VaultSecrets; "" = every object
    vault_retry_min: float = 1.0  # seconds to the first retry after a failed VaultSecret sync (then doubling)
    vault_retry_max: float = 300.0  # longest pause between VaultSecret retries
    vault_store_check: float = 60.0  # how often store tokens are renewed when due and unready stores re-checked
