"""Editing plaintext safely: a private temp file (0600 in a 0700 directory), removed on every exit path.

The directory is made in memory (/dev/shm) when the machine has one we may use, else in the system temp
directory, so plaintext the editor sees does not reach a disk. SIGKILL (or a crash of the machine) cannot be
caught: the directory then stays until the next `sealer edit` by the same user, which removes directories left
by edits whose process is gone (or until a reboot empties /dev/shm). Editors may also keep their own swap, backup
or undo files elsewhere (vim's 'directory', 'undodir'): sealer cannot see or remove those.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator

from sealer.errors import InputError, SealerError

MEMORY_TEMP = "/dev/shm"  # noqa: S108 - only a base for mkdtemp (random name, 0700)
EDIT_PREFIX = "sealer-edit-"
RECOVERY_PREFIX = "sealer-recovery-"
_STALE = re.compile(rf"{EDIT_PREFIX}(\d+)-")


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


def _bases() -> list[str | None]:
    """Where private directories go, best first: memory (/dev/shm) when usable, then the system temp (None)."""
    shm = os.path.isdir(MEMORY_TEMP) and os.access(MEMORY_TEMP, os.W_OK | os.X_OK)
    return [MEMORY_TEMP, None] if shm else [None]


def private_dir(prefix: str) -> str:
    """A new directory only we can enter (0700), in memory when possible."""
    for base in _bases():
        try:
            return tempfile.mkdtemp(prefix=prefix, dir=base)
        except OSError as e:
            error = e
    raise InputError(f"cannot create a private temp directory: {error.strerror}", field="TMPDIR")


def remove_stale() -> list[str]:
    """Remove this user's edit directories whose `sealer edit` process is gone (killed by SIGKILL, or the machine
    crashed before /dev/shm was emptied): they hold plaintext. Returns what was removed."""
    removed = []
    entries = []
    for base in _bases():
        with contextlib.suppress(OSError):
            entries += list(os.scandir(base or tempfile.gettempdir()))
    for entry in entries:
        m = _STALE.match(entry.name)
        if not m or int(m.group(1)) == os.getpid():
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not entry.is_dir(follow_symlinks=False) or st.st_uid != os.getuid():
                continue
            os.kill(int(m.group(1)), 0)
            continue  # that edit is still running
        except ProcessLookupError:
            pass
        except OSError:
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        if not os.path.exists(entry.path):
            removed.append(entry.path)
    return removed


def keep_recovery(text: str, name: str) -> str:
    """Keep an edited buffer that was not saved, 0600 in a new private directory outside the work tree (in memory
    when possible); returns its path. It is plaintext: the message that names it says so."""
    directory = private_dir(RECOVERY_PREFIX)
    path = os.path.join(directory, os.path.basename(name) or "edited")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def recovery_note(text: str, name: str) -> str:
    """Keep ``text`` (keep_recovery) and say where, for the end of an error message; never raises."""
    try:
        path = keep_recovery(text, name)
    except (OSError, SealerError) as e:
        return f"your edited text could not be kept ({getattr(e, 'strerror', None) or e})"
    from sealer.safetext import printable

    return (f"your edited text is kept in {printable(path)} (plaintext, readable only by you): copy what you need, "
            "then delete it")


def edit_text(text: str, suffix: str, accept: Callable[[str], object],
              retry: Callable[[Exception], bool], name: str = "edited") -> str | None:
    """Open ``text`` in the user's editor until ``accept`` takes the result; None when nothing changed.

    ``retry`` decides, after ``accept`` raised, whether to reopen the editor (interactive) or give up. An empty
    buffer is refused like an invalid one. On giving up, a non-empty buffer is kept in a recovery file (see
    keep_recovery, named after ``name``) and the error says where."""
    argv = editor_command()
    for path in remove_stale():
        from sealer.safetext import printable

        sys.stderr.write(f"sealer: removed {printable(path)}: plaintext left by an edit that was killed\n")
    directory = private_dir(f"{EDIT_PREFIX}{os.getpid()}-")  # 0700
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
                    if not edited.strip():
                        raise InputError("the editor left an empty file; nothing was written (to delete the "
                                         "file, use rm)")
                    accept(edited)
                    return edited
                except SealerError as e:
                    if isinstance(e, InputError) and retry(e):
                        continue
                    if edited.strip():
                        e.message = f"{e.message}; the file was not changed; {recovery_note(edited, name)}"
                        e.args = (e.message,)
                    raise
    finally:
        # the whole directory: editors leave swap and backup files (vim's .swp) that hold plaintext too
        shutil.rmtree(directory, ignore_errors=True)
