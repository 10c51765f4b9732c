"""Go's own text/template + sprig 3.2.3 as a test oracle: tests/gotemplate/render.go, built once per session.

Needs Debian's golang-go and golang-github-masterminds-sprig-dev (`./dev test` installs them); `missing()` says
why the tests are skipped when they are absent.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
GOPATH = "/usr/share/gocode"
SPRIG = Path(GOPATH, "src/github.com/Masterminds/sprig/functions.go")


def missing() -> str | None:
    if shutil.which("go") is None:
        return "the Go toolchain is not installed (apt-get install golang-go)"
    if not SPRIG.exists():
        return "sprig is not installed (apt-get install golang-github-masterminds-sprig-dev)"
    return None


@functools.cache
def binary() -> str:
    """Build render.go in GOPATH mode against Debian's sprig; one build per test session."""
    tmp = Path(tempfile.mkdtemp(prefix="sealer-gotemplate-"))
    src = tmp / "src" / "render"
    src.mkdir(parents=True)
    shutil.copy(HERE / "render.go", src / "render.go")
    env = dict(os.environ, GO111MODULE="off", GOPATH=f"{tmp}:{GOPATH}", GOCACHE=str(tmp / "cache"),
               GOFLAGS="", CGO_ENABLED="0")
    subprocess.run(["go", "build", "-o", str(tmp / "render"), "."], cwd=src, env=env, check=True,
                   capture_output=True, timeout=300)
    return str(tmp / "render")


def run(cases: list[tuple[str, Any]], *, missing_key_error: bool = False) -> list[bytes | None]:
    """Go's output for each (template, data) case; None where Go refuses. data: a dict of strings (Bitnami's
    map[string]string) or ("json", value) for any JSON value. missing_key_error: External Secrets' option."""
    payload: list[dict[str, Any]] = []
    for template, data in cases:
        if isinstance(data, tuple):
            payload.append({"t": template, "j": data[1], "usej": True, "m": missing_key_error})
        else:
            payload.append({"t": template, "d": data, "m": missing_key_error})
    proc = subprocess.run([binary()], input=json.dumps(payload).encode(), capture_output=True, check=True,
                          timeout=300)
    return [base64.b64decode(r["out"] or "") if r["ok"] else None for r in json.loads(proc.stdout)]


def go_error(template: str, data: Any) -> str:
    """Go's error text for one case (for diagnosing a difference)."""
    proc = subprocess.run([binary()], input=json.dumps([{"t": template, "d": data}]).encode(), capture_output=True,
                          check=True, timeout=60)
    return json.loads(proc.stdout)[0]["err"]
