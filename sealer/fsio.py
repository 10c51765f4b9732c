"""File I/O with the guarantees users rely on: atomic replacement, private modes, stdin as '-'."""

from __future__ import annotations

import os
import sys

from sealer.errors import InputError

STDIN = "-"


def read_input(path: str) -> tuple[bytes, str]:
    """(bytes, name for messages) of a file, or of stdin for '-'."""
    if path == STDIN:
        if sys.stdin is None or sys.stdin.isatty():
            raise InputError("no input: give a FILE or pipe a manifest into stdin")
        return sys.stdin.buffer.read(), "<stdin>"
    try:
        with open(path, "rb") as f:
            return f.read(), path
    except IsADirectoryError:
        raise InputError("is a directory", source=path) from None
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror}", source=path) from None


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: str, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` in one rename: readers see the old file or the new, never a part.

    The temp file is created 0600 beside the target (same filesystem), so secrets in it are never
    world-readable even for an instant. ``mode`` defaults to the existing file's mode, else the umask's.
    """
    target = os.path.abspath(path)
    directory = os.path.dirname(target)
    if mode is None:
        try:
            mode = os.stat(target).st_mode & 0o7777
        except FileNotFoundError:
            mode = _default_mode()
        except OSError as e:
            raise InputError(f"cannot write: {e.strerror}", source=path) from None
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(target)}.", suffix=".tmp")
    except OSError as e:
        raise InputError(f"cannot write: {e.strerror}", source=path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as e:
        import contextlib

        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise InputError(f"cannot write: {e.strerror}", source=path) from None
        raise
