"""`sealer demo` as a user runs it: every step passes, and everything it started is gone afterwards, also when
it is interrupted half-way."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from sealer_testkit.apiserver import pid_gone


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SEALER_", "SOPS_", "VAULT_", "KUBECONFIG"))}


def _started(text: str) -> tuple[list[int], Path]:
    pids = [int(p) for p in re.findall(r"\bpid (\d+)", text)]
    work = Path(re.search(r"working directory (\S+)", text).group(1))
    return pids, work


def test_demo_runs_every_step_and_cleans_up() -> None:
    r = subprocess.run([sys.executable, "-m", "sealer", "demo"], capture_output=True, text=True, env=_env(),
                       timeout=180)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    for step in ("Kubernetes API", "controller", "SealedSecret", "SopsSecret", "VaultSecret", "lint"):
        assert re.search(rf"^  \| {step} \| ok \|", r.stdout, re.M), f"{step} did not pass:\n{r.stdout[-3000:]}"
    assert "the one stand-in" in r.stdout  # the output says what is emulated
    assert "Tr0ub4dor" not in r.stdout.split("[6]")[1]  # lint redacts the planted leak
    pids, work = _started(r.stdout)
    assert len(pids) >= 2  # the controller and OpenBao
    assert all(pid_gone(p) for p in pids)
    assert not work.exists()


def test_demo_interrupted_stops_what_it_started() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "sealer", "demo"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=_env())
    seen = []
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if line.startswith("[3]") or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=60)
    text = "".join(seen) + rest
    assert proc.returncode == 130, text
    assert "interrupted: stopping everything" in text
    pids, work = _started(text)
    assert pids, text  # the controller was running when the interrupt came
    assert all(pid_gone(p) for p in pids)
    assert not work.exists()
