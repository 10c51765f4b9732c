"""Editing plaintext safely: a private temp file (0600 in a 0700 directory), removed on every exit path."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator

from sealer.errors import InputError


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into an exception while editing, so the `finally` that deletes plaintext runs."""

    def handler(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def editor_command(env: dict[str, str] | None = None) -> list[str]:
    env = dict(os.environ) if env is None else env
    command = env.get("SOPS_EDITOR") or env.get("EDITOR") or env.get("VISUAL") or "vi"
    argv = shlex.split(command)
    if not argv or not shutil.which(argv[0]):
        raise InputError(f"editor {argv[0] if argv else command!r} not found; set EDITOR", field="EDITOR")
    return argv


def edit_text(text: str, suffix: str, accept: Callable[[str], object],
              retry: Callable[[Exception], bool]) -> str | None:
    """Open ``text`` in the user's editor until ``accept`` takes the result; None when nothing changed.

    ``retry`` decides, after ``accept`` raised, whether to reopen the editor (interactive) or give up.
    """
    argv = editor_command()
    directory = tempfile.mkdtemp(prefix="sealer-edit-")  # 0700
    path = os.path.join(directory, f"plaintext{suffix}")
    try:
        with _signals_raise():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            while True:
                rc = subprocess.run([*argv, path], check=False).returncode
                if rc != 0:
                    raise InputError(f"editor exited with status {rc}; nothing was written", field="EDITOR")
                with open(path, encoding="utf-8") as f:
                    edited = f.read()
                if edited == text:
                    return None
                try:
                    accept(edited)
                    return edited
                except InputError as e:
                    if not retry(e):
                        raise
    finally:
        # the whole directory: editors leave swap and backup files (vim's .swp) that hold plaintext too
        shutil.rmtree(directory, ignore_errors=True)
