"""Sealing and unsealing many Secrets: in one Python process through the library, and through the CLI.

In-process runs are interleaved with the peer: after every chunk of Secrets, the bare RSA operation runs
a fixed number of times. Sealer and peer therefore share the same moments of machine load (this machine is
shared), and both are timed in CPU seconds as well as wall seconds. Results are checked after timing, so a
fast but wrong sealer cannot post a figure.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import CpuClock, Timing, run_checked, sealer_cli
from bench.rsa_peer import run_ops


@dataclass(frozen=True)
class Paired:
    """One interleaved run: sealer's total time over all items, and the peer's over ``peer_ops`` operations."""

    sealer: Timing
    peer: Timing
    peer_ops: int


def _interleaved(work: Callable[[int, int], None], total: int, chunk: int, peer: Callable[[], object],
                 peer_per_item: int) -> Paired:
    s_wall = s_cpu = p_wall = p_cpu = 0.0
    ops = 0
    for lo in range(0, total, chunk):
        hi = min(lo + chunk, total)
        with CpuClock() as clock:
            work(lo, hi)
        s_wall, s_cpu = s_wall + clock.timing.wall, s_cpu + clock.timing.cpu
        t = run_ops(peer, (hi - lo) * peer_per_item)
        p_wall, p_cpu, ops = p_wall + t.wall, p_cpu + t.cpu, ops + (hi - lo) * peer_per_item
    return Paired(Timing(s_wall, s_cpu), Timing(p_wall, p_cpu), ops)


def seal_library(secrets: Sequence[Mapping[str, Any]], cert: Any, peer: Callable[[], object],
                 peer_per_secret: int, chunk: int = 50) -> tuple[Paired, list[dict[str, Any]]]:
    """`sealedsecret.seal_secret` over every Secret in this process, interleaved with the peer operation."""
    from sealer.sealed.sealedsecret import seal_secret

    out: list[dict[str, Any]] = []

    def work(lo: int, hi: int) -> None:
        out.extend(seal_secret(s, cert) for s in secrets[lo:hi])

    paired = _interleaved(work, len(secrets), chunk, peer, peer_per_secret)
    for secret, sealed in zip(secrets, out, strict=True):
        if sorted(sealed["spec"]["encryptedData"]) != sorted(secret["data"]):
            raise RuntimeError(f"seal_secret lost items of {secret['metadata']['name']}")
    return paired, out


def unseal_library(sealed: Sequence[Mapping[str, Any]], keys: Sequence[Any], originals: Sequence[Mapping[str, Any]],
                   peer: Callable[[], object], peer_per_secret: int, chunk: int = 5) -> Paired:
    """`sealedsecret.unseal` over every SealedSecret in this process, interleaved with the peer; checks the
    plaintext afterwards."""
    from sealer.sealed.sealedsecret import unseal

    out: list[dict[str, Any]] = []

    def work(lo: int, hi: int) -> None:
        out.extend(unseal(s, keys) for s in sealed[lo:hi])

    paired = _interleaved(work, len(sealed), chunk, peer, peer_per_secret)
    for secret, original in zip(out, originals, strict=True):
        if _decoded(secret["data"]) != _decoded(original["data"]):
            raise RuntimeError(f"unseal gave wrong values for {original['metadata']['name']}")
    return paired


def _decoded(data: Mapping[str, str]) -> dict[str, bytes]:
    return {k: base64.b64decode(v) for k, v in data.items()}


def _count_docs(path: Path, kind: str) -> int:
    text = path.read_text()
    return text.count(f"\nkind: {kind}\n") + text.startswith(f"kind: {kind}\n")


def seal_cli(infile: Path, cert: Path, outfile: Path, expected: int, env: dict[str, str] | None = None) -> Timing:
    """`sealer seal INFILE --cert CERT > OUTFILE`, process start to exit."""
    with outfile.open("wb") as out:
        timing = run_checked([sealer_cli(), "seal", str(infile), "--cert", str(cert)], stdout=out, env=env)
    got = _count_docs(outfile, "SealedSecret")
    if got != expected:
        raise RuntimeError(f"sealer seal wrote {got} SealedSecrets, expected {expected}")
    return timing


def unseal_cli(infile: Path, key: Path, outfile: Path, expected: int, env: dict[str, str] | None = None) -> Timing:
    """`sealer unseal INFILE --key KEY > OUTFILE`, process start to exit."""
    with outfile.open("wb") as out:
        timing = run_checked([sealer_cli(), "unseal", str(infile), "--key", str(key)], stdout=out, env=env)
    got = _count_docs(outfile, "Secret")
    if got != expected:
        raise RuntimeError(f"sealer unseal wrote {got} Secrets, expected {expected}")
    return timing
