"""The age identities the controller decrypts SopsSecrets with: every item whose key ends in `.agekey` (Flux's
naming) in any Secret of the controller's namespace; several Secrets and several identities per item are fine.

Kept in memory and updated from Secret events, so an identity added or removed is used without a restart.
Nothing here ever formats an identity: messages name the Secret and the item only.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Mapping
from typing import Any

from sealer.errors import SealerError
from sealer.sops.keys import age

SUFFIX = ".agekey"


def holds_identities(body: Mapping[str, Any]) -> bool:
    return any(str(k).endswith(SUFFIX) for k in (body.get("data") or {}))


def parse_secret(body: Mapping[str, Any]) -> tuple[list[age.Identity], list[str]]:
    """The identities in a Secret's `.agekey` items, and notes on items skipped (never quoting them)."""
    name = (body.get("metadata") or {}).get("name") or ""
    notes: list[str] = []
    found: list[age.Identity] = []
    for key, value in sorted((body.get("data") or {}).items()):
        if not str(key).endswith(SUFFIX):
            continue
        origin = f"Secret {name}, item {key}"
        try:
            found += age.parse_identities(base64.b64decode(value or "", validate=True), origin)
        except (binascii.Error, ValueError):
            notes.append(f"{origin}: not valid base64; skipped")
        except SealerError as e:
            notes.append(f"{e}; skipped")
    return found, notes


class AgeRing:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_secret: dict[str, list[age.Identity]] = {}

    def __len__(self) -> int:
        with self._lock:
            return sum(len(v) for v in self._by_secret.values())

    def identities(self) -> list[age.Identity]:
        with self._lock:
            return [i for name in sorted(self._by_secret) for i in self._by_secret[name]]

    def knows(self, name: str) -> bool:
        with self._lock:
            return name in self._by_secret

    def sync(self, body: Mapping[str, Any], deleted: bool = False) -> list[str]:
        """Take in (or drop) one Secret's identities. Returns log notes; a bad item is skipped with a note, the
        Secret's other items still count."""
        name = (body.get("metadata") or {}).get("name") or ""
        found, notes = ([], []) if deleted else parse_secret(body)
        with self._lock:
            before = len(self._by_secret.get(name, []))
            if found:
                self._by_secret[name] = found
            else:
                self._by_secret.pop(name, None)
        if len(found) != before or (found and not deleted and not before):
            notes.append(f"age identities from Secret {name}: {len(found)} (was {before})")
        return notes
