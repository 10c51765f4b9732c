"""Which replica serves which namespace when the controller runs as N shards (`--shards N`).

A namespace belongs to shard `sha256(namespace) mod N`, the same on every replica and in every release (a
cluster-scoped object, such as a ClusterExternalSecret, belongs to shard 0). A shard is served by the replica that
holds its Lease (`controller.leases`); replica `I` (`--shard-index`, or the ordinal of a StatefulSet pod name) is
its home replica, which claims it back from a stand-in. The keys, the age identities, /v1/cert.pem and /v1/verify
are the same on every replica: only the reconciling of namespaced objects is split.

Pure apart from the lock-free state the operator's filters read: `active` changes only while no handler runs
(between two operator runs, see `controller.running`), `lost` at once when a Lease is lost.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

LEASE_PREFIX = "sealer-shard-"
_ORDINAL = re.compile(r"-(\d+)$")


def shard_of(namespace: str | None, count: int) -> int:
    """The shard of a namespace's objects: a stable hash, so every replica and every version agrees."""
    if count <= 1 or not namespace:
        return 0
    return int.from_bytes(hashlib.sha256(namespace.encode()).digest()[:8], "big") % count


def ordinal(pod_name: str) -> int | None:
    """The ordinal of a StatefulSet pod (`sealer-controller-2` -> 2), None for another name."""
    m = _ORDINAL.search(pod_name or "")
    return int(m.group(1)) if m else None


def lease_name(shard: int) -> str:
    return f"{LEASE_PREFIX}{shard}"


@dataclass
class Sharding:
    """This replica's share. ``active``: the shards its handlers serve during this operator run; ``lost``: shards
    whose Lease went elsewhere (or could not be renewed in time) during the run, refused at once."""

    count: int
    home: int
    identity: str
    active: frozenset[int] = frozenset()
    lost: frozenset[int] = field(default_factory=frozenset)

    def owns(self, namespace: str | None) -> bool:
        shard = shard_of(namespace, self.count)
        return shard in self.active and shard not in self.lost

    def activate(self, shards: frozenset[int]) -> None:
        """Called while no handler runs: the shards the next operator run serves."""
        self.active, self.lost = frozenset(shards), frozenset()

    def lose(self, shard: int) -> None:
        self.lost = self.lost | {shard}

    def describe(self) -> str:
        held = ",".join(str(s) for s in sorted(self.active)) or "none"
        return f"shard(s) {held} of {self.count} (home {self.home})"
