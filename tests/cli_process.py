"""The CLI as a user runs it: `python -m sealer` as its own process, and reading back what `sealer unseal` printed."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import yaml


def run_sealer(*args: str | os.PathLike[str], input: bytes | str | None = None, cwd: Path | None = None,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m sealer ARGS` as its own process, the way a user does; text stdout/stderr."""
    if isinstance(input, bytes):
        input = input.decode()
    # the caller's colour switches neither: a test's expected "sealer: error:" holds in a coloured CI shell too
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("SEALER_") and k not in ("FORCE_COLOR", "NO_COLOR", "CLICOLOR_FORCE")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "sealer", *map(str, args)], input=input if input is not None else "",
                          capture_output=True, text=True, cwd=cwd, env=full_env, timeout=120)


def unsealed_items(out: str) -> dict[str, bytes]:
    """The items of the one Secret `sealer unseal` printed, decoded."""
    (doc,) = [d for d in yaml.safe_load_all(out) if d]
    return {k: base64.b64decode(v) for k, v in (doc.get("data") or {}).items()}


def run_on_pty(args: list[str], cwd: Path, env: dict[str, str]) -> bytes:
    """Run `python -m sealer ARGS` with stdin/stdout/stderr on a pseudo-terminal, as in a user's shell: all it
    wrote, both streams interleaved as a terminal shows them."""
    import pty

    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, "-m", "sealer", *args], env)
        finally:
            os._exit(127)
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the pty
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    os.close(fd)
    return out
