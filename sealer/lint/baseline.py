"""Baselines: findings accepted for now, recognised by fingerprint (a hash of rule, file and the value itself).

A baseline is simply an earlier report: `sealer lint --format json -o .sealer-baseline.json` (or a SARIF report,
via its `partialFingerprints`). Because the fingerprint hashes the value and not the line number, a baselined
secret stays baselined when lines move, and a new secret on a baselined line is reported.
"""

from __future__ import annotations

import json

from sealer.errors import InputError, json_error_message
from sealer.lint.findings import Finding

SARIF_FINGERPRINT = "sealer/v1"


def load(path: str) -> frozenset[str]:
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", source=path, field="--baseline") from None
    except json.JSONDecodeError as e:
        raise InputError(f"not a JSON report ({json_error_message(e)})", source=path, field="--baseline") from None
    except UnicodeDecodeError:
        raise InputError("not a JSON report (not UTF-8 text)", source=path, field="--baseline") from None
    prints: set[str] = set()
    if isinstance(data, dict) and isinstance(data.get("findings"), list):
        entries = data["findings"]
    elif isinstance(data, dict) and isinstance(data.get("runs"), list):  # SARIF
        entries = [{"fingerprint": (r.get("partialFingerprints") or {}).get(SARIF_FINGERPRINT)}
                   for run in data["runs"] if isinstance(run, dict)
                   for r in run.get("results") or [] if isinstance(r, dict)]
    elif isinstance(data, list):
        entries = data
    else:
        raise InputError("not a sealer lint report (JSON with \"findings\", or SARIF)", source=path,
                         field="--baseline")
    for i, entry in enumerate(entries):
        fp = entry.get("fingerprint") if isinstance(entry, dict) else None
        if not isinstance(fp, str) or not fp:
            raise InputError("has no fingerprint", source=path, field=f"findings[{i}]")
        prints.add(fp)
    return frozenset(prints)


def apply(findings: list[Finding], baseline: frozenset[str]) -> tuple[list[Finding], int]:
    """(findings not in the baseline, how many were)."""
    kept = [f for f in findings if f.fingerprint not in baseline]
    return kept, len(findings) - len(kept)
