"""sops' own fixtures against the real `sops` binary, byte for byte: `../shared/peers/sops/check` (issue 16).

The runner drives sops 3.11 and sealer over every case (decrypt of sops' fixtures, encrypt one way and decrypt
the other, set/unset/rotate/updatekeys, .sops.yaml rules) and exits 0 only when every in-scope case agrees.
It lives beside the repository (`SEALER_SOPS_PEERS=DIR` points elsewhere); the test is skipped only when it is
absent, never when it disagrees.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PEERS = Path(os.environ.get("SEALER_SOPS_PEERS") or ROOT.parent / "shared" / "peers" / "sops")
CHECK = PEERS / "check"


@pytest.mark.skipif(not CHECK.is_file(), reason=f"the sops peer suite is not here ({CHECK}; set "
                                                "SEALER_SOPS_PEERS=DIR to its directory)")
def test_every_sops_fixture_case_agrees_with_sops() -> None:
    venv_bin = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k not in ("SEALER", "SOPS")}
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run([sys.executable, str(CHECK)], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=900)
    lines = proc.stdout.strip().splitlines()
    last = lines[-1] if lines else ""
    failures = "\n".join(line for line in lines if line.startswith(("disagree", "crash")))
    assert proc.returncode == 0, f"exit {proc.returncode}: {last}\n{failures}\n{proc.stderr[-2000:]}"
    assert last.startswith("sops peer: "), last
    agree, total = last.removeprefix("sops peer: ").split(" ", 1)[0].split("/")
    assert agree == total, f"{last}\n{failures}"
