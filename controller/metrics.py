"""Prometheus metrics, rendered by hand on scrape (the text format is small; prometheus-client would add a
dependency and its own registry for a dozen series). Each source declares its series here, so one file lists
everything `/metrics` can show."""

from __future__ import annotations

import threading
from collections import Counter as _Counts
from collections.abc import Sequence
from typing import Any

from sealer import __version__

_lock = threading.Lock()
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    escaped = (v.replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n") for v in values)
    return "{" + ",".join(f'{n}="{v}"' for n, v in zip(names, escaped, strict=True)) + "}"


class Counter:
    def __init__(self, name: str, help: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.label_names = name, help, tuple(labels)
        self._values: _Counts[tuple[str, ...]] = _Counts()
        if not labels:
            self._values[()] = 0

    def inc(self, *labels: str, by: int = 1) -> None:
        with _lock:
            self._values[tuple(labels)] += by

    def value(self, *labels: str) -> int:
        with _lock:
            return self._values[tuple(labels)]

    def render(self) -> list[str]:
        with _lock:
            items = sorted(self._values.items())
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter",
                *(f"{self.name}{_labels(self.label_names, k)} {v}" for k, v in items)]


class Gauge:
    """A value per label set; `forget` drops an object's values when it is gone (as Bitnami unregisters them).
    ``owner``: how many leading labels name the object (namespace, name): its values are indexed by them, so a
    deletion costs its own values, not a scan of every object's (10,000 deletions were 10,000 full scans)."""

    def __init__(self, name: str, help: str, labels: Sequence[str] = (), owner: int = 0) -> None:
        self.name, self.help, self.label_names, self.owner = name, help, tuple(labels), owner
        self._values: dict[tuple[str, ...], float] = {}
        self._owned: dict[tuple[str, ...], set[tuple[str, ...]]] = {}

    def set(self, value: float, *labels: str) -> None:
        key = tuple(labels)
        with _lock:
            self._values[key] = value
            if self.owner:
                self._owned.setdefault(key[:self.owner], set()).add(key)

    def forget(self, *owner: str) -> None:
        """Drop every value of the object named by the ``owner`` labels."""
        with _lock:
            for key in self._owned.pop(owner, ()):
                self._values.pop(key, None)

    def owners(self) -> set[tuple[str, ...]]:
        """The objects that have values now (by their ``owner`` labels)."""
        with _lock:
            return set(self._owned)

    def value(self, *labels: str) -> float | None:
        with _lock:
            return self._values.get(tuple(labels))

    def render(self) -> list[str]:
        with _lock:
            items = sorted(self._values.items())
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge",
                *(f"{self.name}{_labels(self.label_names, k)} {v:g}" for k, v in items)]


class Histogram:
    """Cumulative buckets per label set; keeps counts, not samples, so memory stays flat."""

    def __init__(self, name: str, help: str, labels: Sequence[str] = (), buckets: Sequence[float] = BUCKETS) -> None:
        self.name, self.help, self.label_names, self.buckets = name, help, tuple(labels), tuple(buckets)
        self._series: dict[tuple[str, ...], list[float]] = {}  # per bucket counts..., +Inf count, sum

    def observe(self, seconds: float, *labels: str) -> None:
        with _lock:
            s = self._series.setdefault(tuple(labels), [0.0] * (len(self.buckets) + 2))
            for i, b in enumerate(self.buckets):
                if seconds <= b:
                    s[i] += 1
            s[-2] += 1
            s[-1] += seconds

    def render(self) -> list[str]:
        with _lock:
            series = sorted((k, list(v)) for k, v in self._series.items())
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for key, s in series:
            names, values = (*self.label_names, "le"), (*key,)
            for i, b in enumerate(self.buckets):
                out.append(f"{self.name}_bucket{_labels(names, (*values, str(b)))} {int(s[i])}")
            out.append(f"{self.name}_bucket{_labels(names, (*values, '+Inf'))} {int(s[-2])}")
            out.append(f"{self.name}_sum{_labels(self.label_names, key)} {s[-1]:.6f}")
            out.append(f"{self.name}_count{_labels(self.label_names, key)} {int(s[-2])}")
        return out


# --- every series /metrics shows ----------------------------------------------------------------------

UNSEAL = Counter("sealer_unseal_total", "SealedSecret reconciles that unsealed.")
UNSEAL_ERRORS = Counter("sealer_unseal_errors_total", "SealedSecret reconciles that failed, by reason.", ["reason"])
SOPS_DECRYPT = Counter("sealer_sops_decrypt_total", "SopsSecret reconciles that decrypted.")
SOPS_ERRORS = Counter("sealer_sops_decrypt_errors_total", "SopsSecret reconciles that failed, by reason.", ["reason"])
VAULT_SYNC = Counter("sealer_vault_sync_total", "VaultSecret syncs that succeeded.")
VAULT_SYNC_ERRORS = Counter("sealer_vault_sync_errors_total", "VaultSecret syncs that failed, by reason.", ["reason"])
PKI_SYNC = Counter("sealer_vault_pki_sync_total", "VaultPKISecret syncs that succeeded (issued, renewed or valid).")
PKI_SYNC_ERRORS = Counter("sealer_vault_pki_sync_errors_total", "VaultPKISecret syncs that failed, by reason.",
                          ["reason"])
FANOUT_SYNC = Counter("sealer_cluster_vault_secret_sync_total", "ClusterVaultSecret passes that succeeded.")
FANOUT_SYNC_ERRORS = Counter("sealer_cluster_vault_secret_sync_errors_total",
                             "ClusterVaultSecret passes that failed (or failed in some namespaces), by reason.",
                             ["reason"])
VAULT_REQUESTS = Counter("sealer_vault_requests_total", "Calls to Vault, by operation and HTTP status.",
                         ["operation", "status"])
DECRYPT_OPERATIONS = Counter("sealer_decrypt_operations_total",
                             "Values decrypted to make Secrets (a SealedSecret item is one RSA private-key operation; "
                             "a SopsSecret counts one per data key opened), by kind.", ["kind"])
UNCHANGED = Counter("sealer_reconcile_unchanged_total",
                    "Reconciles that found the Secret holding what the object gave it (digest, data HMAC and, for "
                    "SopsSecrets, shape HMAC match) and decrypted nothing, by kind.", ["kind"])
SHARD_OWNED = Gauge("sealer_shard_owned", "1 for each shard this replica serves, 0 for the others (--shards).",
                    ["shard"])
SHARD_CHANGES = Counter("sealer_shard_lease_changes_total",
                        "Shard Leases this replica acquired, released or lost, by shard.", ["shard", "change"])
SWEEP_SECONDS = Gauge("sealer_resync_pass_seconds",
                      "How long the last resume or resync pass over every object of a kind took, by kind.", ["kind"])
RECONCILE = Histogram("sealer_reconcile_duration_seconds", "Time to reconcile one object, by kind.", ["kind"])
VAULT_SYNC_DURATION = Histogram("sealer_vault_sync_duration_seconds", "Time for one VaultSecret sync.")

ALL: list[Counter | Gauge | Histogram] = [
    UNSEAL, UNSEAL_ERRORS, SOPS_DECRYPT, SOPS_ERRORS, VAULT_SYNC, VAULT_SYNC_ERRORS, PKI_SYNC, PKI_SYNC_ERRORS,
    FANOUT_SYNC, FANOUT_SYNC_ERRORS, VAULT_REQUESTS, DECRYPT_OPERATIONS, UNCHANGED, SHARD_OWNED, SHARD_CHANGES,
    SWEEP_SECONDS, RECONCILE, VAULT_SYNC_DURATION]

# Bitnami's names (its pkg/controller/metrics.go), shown with --bitnami-compat beside ours so its documented alerts
# and dashboards keep working. They count SealedSecrets of both groups.
BITNAMI_UNSEAL_REQUESTS = Counter("sealed_secrets_controller_unseal_requests_total",
                                  "Total number of sealed secret unseal requests")
BITNAMI_UNSEAL_ERRORS = Counter("sealed_secrets_controller_unseal_errors_total",
                                "Total number of sealed secret unseal errors by reason", ["reason", "namespace"])
BITNAMI_CONDITION = Gauge("sealed_secrets_controller_condition_info",
                          "Current SealedSecret condition status. Values are -1 (false), 0 (unknown or absent), "
                          "1 (true)", ["namespace", "name", "condition"], owner=2)
BITNAMI: list[Counter | Gauge] = [BITNAMI_UNSEAL_REQUESTS, BITNAMI_UNSEAL_ERRORS, BITNAMI_CONDITION]

# sealer's reasons in Bitnami's reason words: it failed to unseal, the Secret is not ours, or writing it failed
_BITNAMI_REASON = {"UnsealFailed": "unseal", "NoKeys": "unseal", "InvalidSpec": "unseal", "NotOwned": "unmanaged",
                   "Conflict": "unmanaged", "Superseded": "unmanaged"}
_CONDITION_VALUE = {"True": 1.0, "False": -1.0}

_OUTCOME: dict[str, tuple[Counter, Counter]] = {
    "SealedSecret": (UNSEAL, UNSEAL_ERRORS), "SopsSecret": (SOPS_DECRYPT, SOPS_ERRORS),
    "VaultSecret": (VAULT_SYNC, VAULT_SYNC_ERRORS), "VaultPKISecret": (PKI_SYNC, PKI_SYNC_ERRORS),
    "ExternalSecret": (VAULT_SYNC, VAULT_SYNC_ERRORS),
    "ClusterVaultSecret": (FANOUT_SYNC, FANOUT_SYNC_ERRORS)}


def observe(kind: str, ready: bool, reason: str, seconds: float, namespace: str = "") -> None:
    """One reconcile of ``kind`` finished: count it by outcome and time it."""
    ok, errors = _OUTCOME[kind]
    if ready:
        ok.inc()
    else:
        errors.inc(reason)
    RECONCILE.observe(seconds, kind)
    if kind == "SealedSecret":
        BITNAMI_UNSEAL_REQUESTS.inc()
        if not ready:
            BITNAMI_UNSEAL_ERRORS.inc(_BITNAMI_REASON.get(reason, "update"), namespace)


def observe_conditions(namespace: str, name: str, conditions: Sequence[dict[str, Any]]) -> None:
    """A SealedSecret's conditions as written (Bitnami's ObserveCondition)."""
    for c in conditions:
        BITNAMI_CONDITION.set(_CONDITION_VALUE.get(str(c.get("status")), 0.0), namespace, name, str(c.get("type")))


def forget_conditions(namespace: str, name: str) -> None:
    """The SealedSecret is gone (Bitnami's UnregisterCondition)."""
    BITNAMI_CONDITION.forget(namespace, name)


def conditions_observed() -> set[tuple[str, ...]]:
    """(namespace, name) of every SealedSecret with a condition series now."""
    return BITNAMI_CONDITION.owners()


def render(controller: Any) -> bytes:
    lines = ["# HELP sealer_build_info Build information.", "# TYPE sealer_build_info gauge",
             f'sealer_build_info{{version="{__version__}"}} 1',
             "# HELP sealer_keys_loaded Sealing keys loaded.", "# TYPE sealer_keys_loaded gauge",
             f"sealer_keys_loaded {len(controller.keyring)}"]
    for metric in ALL:
        lines += metric.render()
    if getattr(getattr(controller, "config", None), "bitnami_compat", False):
        lines += ["# HELP sealed_secrets_controller_build_info Build information.",
                  "# TYPE sealed_secrets_controller_build_info gauge",
                  f'sealed_secrets_controller_build_info{{revision="{__version__}"}} 1']
        for bitnami in BITNAMI:
            lines += bitnami.render()
    return ("\n".join(lines) + "\n").encode()
