"""Shared helpers: medians, timing of subprocesses, number formatting, machine description, fixtures."""

from __future__ import annotations

import base64
import datetime as dt
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VALUES_PER_SECRET = 5
NAMESPACE = "bench"


def log(message: str) -> None:
    """Progress goes to stderr so stdout holds only the report."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def sealer_cli() -> str:
    """The `sealer` console script of the interpreter running the bench (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("sealer")
    if beside.exists():
        return str(beside)
    found = shutil.which("sealer")
    if not found:
        raise SystemExit("bench: cannot find the `sealer` command; install the package (pip install -e .)")
    return found


@dataclass(frozen=True)
class Timing:
    """Seconds of one measured piece of work: wall clock, and CPU (user + system) of the process doing it."""

    wall: float
    cpu: float


class CpuClock:
    """Wall and CPU time of a block in this process: ``with CpuClock() as c: ...; c.timing``."""

    def __enter__(self) -> CpuClock:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.timing = Timing(time.perf_counter() - self._wall, time.process_time() - self._cpu)


def run_checked(cmd: Sequence[str], *, stdout: Any = subprocess.DEVNULL, env: dict[str, str] | None = None,
                cwd: str | Path | None = None) -> Timing:
    """Run a command to completion; its wall time and CPU time (user + system, from wait4); raise if it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, env=env, cwd=cwd)
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.stderr.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        last = err.decode(errors="replace").strip().splitlines()[-1:] or ["<no stderr>"]
        raise RuntimeError(f"{' '.join(map(str, cmd))} exited {proc.returncode}: {last[0]}")
    return Timing(wall, usage.ru_utime + usage.ru_stime)


# --- formatting ---------------------------------------------------------------------------------------

def fmt_num(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds >= 0.0995 else f"{seconds * 1000:.1f} ms"


def fmt_s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def fmt_mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


# --- machine ------------------------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def openssl_cli_version() -> str:
    if not shutil.which("openssl"):
        return "openssl CLI not found"
    out = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=False).stdout.strip()
    return out.split(" (Library")[0] or "openssl CLI (unknown version)"


def machine_line(now: dt.datetime | None = None) -> str:
    import cryptography
    from cryptography.hazmat.backends.openssl import backend

    now = now or dt.datetime.now()
    return (f"{now:%Y-%m-%d %H:%M} · nproc {os.cpu_count()} · {cpu_model()} · "
            f"Python {platform.python_version()} · cryptography {cryptography.__version__} "
            f"({backend.openssl_version_text()}) · {openssl_cli_version()} (CLI, for `openssl speed`)")


# --- fixtures -----------------------------------------------------------------------------------------

def make_keys(workdir: Path, bits: int = 4096) -> tuple[Path, Path]:
    """A sealing key pair made the way users make one: `sealer keys generate`. Returns (cert, key)."""
    out = workdir / "keys"
    run_checked([sealer_cli(), "keys", "generate", "--out-dir", str(out), "--bits", str(bits)])
    return out / "sealer.crt", out / "sealer.key"


def make_secret(index: int) -> dict[str, Any]:
    """A Secret with five values of typical sizes (a user name up to a small PEM-sized blob)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"app-{index:04d}", "namespace": NAMESPACE, "labels": {"app": f"app-{index:04d}"}},
        "type": "Opaque",
        "data": {
            "username": base64.b64encode(f"user{index}".encode()).decode(),
            "password": base64.b64encode(secrets.token_bytes(24)).decode(),
            "api-token": base64.b64encode(secrets.token_hex(32).encode()).decode(),
            "database-url": base64.b64encode(
                f"postgres://user{index}:{secrets.token_hex(12)}@db.{NAMESPACE}.svc:5432/app".encode()).decode(),
            "tls.key": base64.b64encode(secrets.token_bytes(1200)).decode(),
        },
    }


def make_secrets(n: int) -> list[dict[str, Any]]:
    return [make_secret(i) for i in range(n)]


def write_multidoc(path: Path, objects: Sequence[dict[str, Any]]) -> Path:
    import yaml

    path.write_text(yaml.safe_dump_all(objects, sort_keys=False, explicit_start=True))
    return path


def markdown_table(rows: Sequence[Sequence[str]]) -> str:
    """The one table shape every bench module prints: figure, sealer, peer, ratio, target, verdict."""
    lines = ["| figure | sealer | peer | ratio | target | verdict |", "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def age_key(workdir: Path) -> tuple[Path, str]:
    """A fresh age identity: its key file (age-keygen's format) and recipient. `age-keygen` (the Go peer's own
    tool) when installed, else pyrage (the library sealer uses); either tool reads the file."""
    import re

    key_file = workdir / "age-key.txt"
    if shutil.which("age-keygen"):
        subprocess.run(["age-keygen", "-o", str(key_file)], check=True, capture_output=True)
        return key_file, re.search(r"public key: (age1\S+)", key_file.read_text()).group(1)  # type: ignore[union-attr]
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    key_file.write_text(f"# public key: {recipient}\n{identity}\n")
    key_file.chmod(0o600)
    return key_file, recipient
