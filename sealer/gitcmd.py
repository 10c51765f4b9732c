"""Running the `git` command: one place for how sealer calls it (no terminal input, output captured, a missing or
failing git reported as None), shared by the lint walk and the key commands' "is this path ignored?" check."""

from __future__ import annotations

import subprocess


def run(args: list[str], cwd: str, *, input: bytes | None = None,
        timeout: float | None = None) -> subprocess.CompletedProcess[bytes] | None:
    """`git ARGS` in ``cwd``, its output captured; None when git is missing, cannot start or times out."""
    try:
        return subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, check=False,
                              stdin=None if input is not None else subprocess.DEVNULL, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
