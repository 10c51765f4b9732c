"""Prometheus metrics. Counters are plain integers updated by the runtime; rendering happens on scrape."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from sealer import __version__

_lock = threading.Lock()
UNSEALS: Counter[str] = Counter()  # by result reason
DURATIONS: list[float] = []
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def observe(reason: str, seconds: float) -> None:
    with _lock:
        UNSEALS[reason] += 1
        DURATIONS.append(seconds)
        if len(DURATIONS) > 100_000:
            del DURATIONS[:50_000]


def render(controller: Any) -> bytes:
    with _lock:
        unseals = dict(UNSEALS)
        durations = list(DURATIONS)
    lines = [
        "# HELP sealer_build_info Build information.", "# TYPE sealer_build_info gauge",
        f'sealer_build_info{{version="{__version__}"}} 1',
        "# HELP sealer_keys_loaded Sealing keys loaded.", "# TYPE sealer_keys_loaded gauge",
        f"sealer_keys_loaded {len(controller.keyring)}",
        "# HELP sealer_unseal_total SealedSecret reconciles that unsealed.", "# TYPE sealer_unseal_total counter",
        f"sealer_unseal_total {unseals.get('Unsealed', 0)}",
        "# HELP sealer_unseal_errors_total SealedSecret reconciles that failed, by reason.",
        "# TYPE sealer_unseal_errors_total counter",
    ]
    lines += [f'sealer_unseal_errors_total{{reason="{r}"}} {n}' for r, n in sorted(unseals.items()) if r != "Unsealed"]
    lines += ["# HELP sealer_reconcile_duration_seconds Time to reconcile one SealedSecret.",
              "# TYPE sealer_reconcile_duration_seconds histogram"]
    for b in BUCKETS:
        lines.append(f'sealer_reconcile_duration_seconds_bucket{{le="{b}"}} {sum(1 for d in durations if d <= b)}')
    lines.append(f'sealer_reconcile_duration_seconds_bucket{{le="+Inf"}} {len(durations)}')
    lines.append(f"sealer_reconcile_duration_seconds_sum {sum(durations):.6f}")
    lines.append(f"sealer_reconcile_duration_seconds_count {len(durations)}")
    return ("\n".join(lines) + "\n").encode()
