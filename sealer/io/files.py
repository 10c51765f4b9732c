"""File I/O with the guarantees users rely on: atomic replacement, private modes, stdin as '-'."""

from __future__ import annotations

import os
import sys

from sealer.errors import InputError, SealerError

TYPE_CHECKING = False
if TYPE_CHECKING:  # the one-file decrypt path must not import typing (sealer.cli: start-up time)
    from collections.abc import Callable
    from typing import BinaryIO

STDIN = "-"


def read_input(path: str, limit: int | None = None) -> tuple[bytes, str]:
    """(bytes, name for messages) of a file, or of stdin for '-'. At most ``limit`` bytes (default: the
    SEALER_MAX_INPUT limit, 64 MiB): more is an InputError, found without reading past the limit, so endless
    input (`< /dev/zero`) stops there."""
    from sealer.errors import input_too_large, max_input_bytes

    limit = max_input_bytes() if limit is None else limit

    def bounded(stream: BinaryIO) -> bytes:  # annotations are strings here: typing is never imported
        """Up to limit + 1 bytes, in blocks: a large limit is not allocated up front."""
        chunks, total = [], 0
        while total <= limit:
            chunk = stream.read(min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return b"".join(chunks)

    if path == STDIN:
        if sys.stdin is None or sys.stdin.isatty():
            raise InputError("no input: give a FILE or pipe a manifest into stdin")
        data, name = bounded(sys.stdin.buffer), "<stdin>"
    else:
        name = path
        try:
            with open(path, "rb") as f:
                if os.fstat(f.fileno()).st_size > limit:  # a regular file: refused without reading it
                    raise InputError(input_too_large(limit), source=path)
                data = bounded(f)
        except IsADirectoryError:
            raise InputError("is a directory", source=path) from None
        except OSError as e:
            raise InputError(f"cannot read: {e.strerror}", source=path) from None
    if len(data) > limit:
        raise InputError(input_too_large(limit), source=name)
    return data, name


# --- the one write path -------------------------------------------------------------------------------
#
# Every command that writes a file comes through here (atomic_write / write_all), and every read-modify-write
# holds `locked` around its read and its write. What a write guarantees:
#   - symlinks are written through (as sops does): the link stays a link, its target gets the new content;
#   - the target keeps its mode, and its owner and group where the kernel lets us (root, or a group we are in);
#   - the new content goes to a temp file created 0600 beside the target (same directory, same file system),
#     is fsync'ed, and replaces the target in one rename; the directory is fsync'ed after it (once per directory
#     for a write of several files, whose fsyncs run in a few threads: see _in_parallel);
#   - the temp file is removed on every exit Python can see: errors, Ctrl-C, and SIGTERM / SIGHUP, which are
#     caught while a write is in progress and end the command with exit 143 / 129 and the file as it was.
#     Only SIGKILL (or a power cut) between the temp's creation and the rename can leave a `.NAME.XXXX.tmp`;
#   - a target that exists but is no regular file (/dev/stdout, a FIFO) is written to as a stream.

_TEST_HOLD = "SEALER_TEST_HOLD_WRITE"  # tests only: see _test_hold


class Interrupted(SealerError):
    """SIGTERM or SIGHUP arrived while a file was being written: the temp file is gone, the target untouched.
    Exit 128 + the signal's number, as a shell reports a process the signal ended."""

    def __init__(self, signum: int, source: str) -> None:
        import signal

        super().__init__(f"interrupted by {signal.Signals(signum).name} while writing; the file is unchanged",
                         source=source)
        self.exit_code = 128 + signum


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _write_error(e: OSError, path: str) -> InputError:
    return InputError(f"cannot write: {e.strerror or e}", source=path)


def _resolve(path: str) -> tuple[str, os.stat_result | None]:
    """(the file a write to ``path`` lands in, its stat or None when it does not exist yet): symlinks resolved,
    a dangling one to the file it names (which the write then creates, as `>` in a shell would)."""
    try:
        st = os.stat(path)  # follows symlinks: ELOOP for a loop, EACCES for a closed directory
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise _write_error(e, path) from None
    return os.path.realpath(path), st


class _Signals:
    """While a write is in progress: SIGTERM and SIGHUP raise Interrupted (so the temp file is removed)."""

    CAUGHT = ("SIGTERM", "SIGHUP")

    def __init__(self, source: str) -> None:
        self.source = source
        self.previous: dict[int, object] = {}

    def __enter__(self) -> _Signals:
        import signal

        def handler(signum: int, _frame: object) -> None:
            raise Interrupted(signum, self.source)

        try:
            for name in self.CAUGHT:
                signum = getattr(signal, name, None)
                if signum is not None:
                    self.previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread: signals are not ours to handle
            self.restore()
        return self

    def restore(self) -> None:
        import signal

        while self.previous:
            signum, handler = self.previous.popitem()
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)  # type: ignore[arg-type]

    def __exit__(self, *exc: object) -> None:
        self.restore()


class _Blocked:
    """SIGINT, SIGTERM and SIGHUP held back for a few system calls that must not be split (create the temp and
    remember its name; rename and forget it). A signal that arrives meanwhile is delivered on leaving."""

    def __enter__(self) -> None:
        import signal

        self.mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}) \
            if hasattr(signal, "pthread_sigmask") else None

    def __exit__(self, *exc: object) -> None:
        if self.mask is not None:
            import signal

            signal.pthread_sigmask(signal.SIG_SETMASK, self.mask)  # runs the handler of a pending signal


def _test_hold(tmp: str) -> None:
    """Tests only (SEALER_TEST_HOLD_WRITE=PATH): with the temp file complete and not yet renamed, write its name
    to PATH and wait until the test deletes PATH (60 s at most). Signals can then be sent at exactly the moment a
    temp file exists, which no outside timing could hit reliably. Never set outside the test suite."""
    hold = os.environ.get(_TEST_HOLD)
    if not hold:
        return
    import time

    with open(hold, "w") as f:
        f.write(tmp)
    deadline = time.monotonic() + 60
    while os.path.exists(hold) and time.monotonic() < deadline:
        time.sleep(0.01)


def _keep_owner(fd: int, st: os.stat_result) -> None:
    """The replaced file's owner and group; as much as permitted (a user may give a file to a group of theirs)."""
    current = os.fstat(fd)
    if (current.st_uid, current.st_gid) == (st.st_uid, st.st_gid):
        return
    try:
        os.fchown(fd, st.st_uid, st.st_gid)
    except PermissionError:
        import contextlib

        with contextlib.suppress(PermissionError):
            os.fchown(fd, -1, st.st_gid)


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename itself is still atomic
    finally:
        os.close(fd)


class _Staged:
    """One file of a write: its temp file (complete, fsync'ed, not yet renamed), or a stream target."""

    def __init__(self, path: str, data: bytes, mode: int | None) -> None:
        self.path, self.data = path, data
        self.target, self.existing = _resolve(path)
        self.tmp: str | None = None
        self.fd: int | None = None  # the temp file, open until synced
        if self.existing is not None:
            import stat

            if stat.S_ISDIR(self.existing.st_mode):
                raise InputError("is a directory", source=path)
            self.stream = not stat.S_ISREG(self.existing.st_mode)
        else:
            self.stream = False
        self.mode = mode if mode is not None else (self.existing.st_mode & 0o7777 if self.existing is not None
                                                   else _default_mode())

    def stage(self) -> None:
        """Write the temp file, left open for ``sync`` (which write_all may run in another thread)."""
        if self.stream:
            return
        import tempfile

        directory, name = os.path.split(self.target)
        with _Blocked():
            self.fd, self.tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")  # 0600
        view = memoryview(self.data)
        while view:
            view = view[os.write(self.fd, view):]
        _test_hold(self.tmp)
        if self.existing is not None:
            _keep_owner(self.fd, self.existing)
        os.fchmod(self.fd, self.mode)

    def sync(self) -> None:
        """fsync the temp file and close it (in a worker thread for a bulk write: os.fsync releases the GIL)."""
        fd, self.fd = self.fd, None
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def commit(self) -> None:
        if self.stream:
            with open(self.path, "wb") as f:  # /dev/stdout, a FIFO: nothing to rename over
                f.write(self.data)
        else:
            os.replace(self.tmp, self.target)
            self.tmp = None

    def discard(self) -> None:
        if self.fd is not None:
            import contextlib

            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None
        if self.tmp is not None:
            import contextlib

            with contextlib.suppress(OSError):
                os.unlink(self.tmp)
            self.tmp = None


_SYNC_THREADS = 16  # fsyncs in flight at once in a write of several files
_SYNC_BATCH = 256  # temp files open at once, at most (fewer when RLIMIT_NOFILE is low)


def _batch_size() -> int:
    import resource

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return _SYNC_BATCH if soft == resource.RLIM_INFINITY else max(1, min(_SYNC_BATCH, soft // 4))


def _in_parallel(jobs: list[tuple[str, Callable[[], None]]]) -> None:
    """Run each (path, fsync) job, the first OSError as InputError naming its path. Several jobs run in up to
    _SYNC_THREADS threads: os.fsync releases the GIL and a journalling file system commits concurrent fsyncs
    together, where one after the other each waits for its own commit (most of a bulk `encrypt -i` on a busy disk).

    The threads start with SIGINT/SIGTERM/SIGHUP blocked (inherited from the main thread's mask at their start), so
    signals reach the main thread only and `_Blocked` keeps its meaning. A signal's exception in the main thread
    stops them after their current fsync and waits for them: no thread holds a temp file once this returns."""
    if len(jobs) == 1:
        path, job = jobs[0]
        try:
            job()
        except OSError as e:
            raise _write_error(e, path) from None
        return
    import threading

    failed: list[tuple[str, BaseException]] = []
    stop: list[bool] = []

    def work(part: list[tuple[str, Callable[[], None]]]) -> None:
        for path, job in part:
            if stop or failed:
                return
            try:
                job()
            except BaseException as e:  # reported by the main thread
                failed.append((path, e))

    count = min(_SYNC_THREADS, len(jobs))
    threads: list[threading.Thread] = []
    try:
        with _Blocked():  # each thread inherits this mask
            for i in range(count):
                thread = threading.Thread(target=work, args=(jobs[i::count],), name="sealer-fsync", daemon=True)
                thread.start()
                threads.append(thread)
        for thread in threads:
            thread.join()
    except BaseException:
        stop.append(True)
        with _Blocked():
            for thread in threads:
                thread.join()
        raise
    if failed:
        path, error = failed[0]
        if isinstance(error, OSError):
            raise _write_error(error, path) from None
        raise error


def atomic_write(path: str, data: bytes, mode: int | None = None) -> None:
    """Replace ``path`` with ``data`` in one rename: readers see the old file or the new, never a part.

    ``mode`` defaults to the existing file's mode, else the umask's. See the comment above for what a write
    guarantees (symlinks written through, owner kept, temp file 0600 and removed on SIGTERM / SIGHUP too)."""
    write_all([(path, data, mode)])


def write_new(path: str, data: bytes) -> None:
    """Write ``data`` to ``path``, mode 0600, only if nothing is there: a complete temp file is hard-linked into
    place (the link fails if ``path`` appeared meanwhile: no overwrite, no half file). Missing directories are
    made 0700. SIGTERM/SIGHUP during the write remove the temp file, as every sealer write does."""
    import errno
    import tempfile

    directory, name = os.path.split(path)
    missing = []
    parent = directory
    while parent and not os.path.isdir(parent) and parent != os.path.dirname(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for d in reversed(missing):  # each 0700 (os.makedirs gives its mode to the last one only)
        try:
            os.mkdir(d, 0o700)
        except FileExistsError:
            pass
        except OSError as e:
            raise InputError(f"cannot create directory: {e.strerror}", source=d) from None
    tmp: str | None = None
    with _Signals(path):
        try:
            with _Blocked():
                fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")  # 0600
            try:
                os.fchmod(fd, 0o600)
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise InputError("already exists: never overwritten (it may hold the only copy of a key)",
                                 source=path) from None
            except OSError as e:
                if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS):
                    raise
                if os.path.lexists(path):  # a file system without hard links: check, then rename
                    raise InputError("already exists: never overwritten (it may hold the only copy of a key)",
                                 source=path) from None
                with _Blocked():
                    os.rename(tmp, path)
                    tmp = None
        except OSError as e:
            raise InputError(f"cannot write: {e.strerror or e}", source=path) from None
        finally:
            if tmp is not None:
                with _Blocked():
                    import contextlib

                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
    _fsync_directory(directory)  # the new name survives a crash


def write_all(files: list[tuple[str, bytes, int | None]]) -> None:
    """Write several files all or nothing, as far as a file system allows: every temp file is complete before the
    first rename, and the renames run with signals held back, so a full disk, an error or a signal leaves every
    target as it was (a key pair is never half written)."""
    staged: list[_Staged] = []
    current = files[0][0] if files else ""
    batch_size = _batch_size() if len(files) > 1 else 1
    with _Signals(current) as signals:
        try:
            batch: list[_Staged] = []
            for i, (path, data, mode) in enumerate(files):
                current = signals.source = path
                staged.append(_Staged(path, data, mode))
                staged[-1].stage()
                if staged[-1].fd is not None:
                    batch.append(staged[-1])
                if batch and (len(batch) == batch_size or i == len(files) - 1):
                    _in_parallel([(s.path, s.sync) for s in batch])  # complete and fsync'ed before any rename
                    batch = []
            done: list[_Staged] = []
            with _Blocked():
                try:
                    for s in staged:
                        if not s.stream:
                            current = s.path
                            s.commit()
                            done.append(s)
                except OSError:
                    import contextlib

                    for s in done:  # a later rename failed: take back the new files that did not exist before
                        if s.existing is None:
                            with contextlib.suppress(OSError):
                                os.unlink(s.target)
                    raise
                # written: from here a signal has its usual effect (the default: end the process)
                signals.restore()
            for s in staged:  # streams last, with signals free: a FIFO may wait for its reader
                if s.stream:
                    current = s.path
                    s.commit()
        except BaseException as e:
            with _Blocked():
                for s in staged:
                    s.discard()
            if isinstance(e, OSError):
                raise _write_error(e, current) from None
            raise
    directories = {os.path.dirname(s.target) for s in staged if not s.stream}  # once each, after its renames
    if directories:
        _in_parallel([(d, lambda d=d: _fsync_directory(d)) for d in directories])


# --- advisory locks for read-modify-write ----------------------------------------------------------------------
#
# `flock` on the file itself, not on a lock file beside it: a lock file would be a stray file in the user's Git
# work tree (and removing one safely is its own race). Because a write replaces the file (a new inode), a writer
# that waited for the lock checks, once it has it, that the path still names the file it locked, and otherwise
# locks the new one. Advisory: it serialises sealer processes (set, unset, rotate, updatekeys, rescope, encrypt -i,
# decrypt -i, reencrypt -i, seal --merge-into, edit's save); sops and editors do not take it.

_NO_LOCKS = {"ENOLCK", "EOPNOTSUPP", "ENOTSUP", "ENOSYS", "EINVAL"}


def _lock_one(path: str, taken: set[tuple[int, int]]) -> int | None:
    """A descriptor holding an exclusive flock on the regular file ``path`` names; None when there is nothing to
    lock (missing, unreadable, not a regular file: the read reports it) or the file system has no locks."""
    import errno
    import fcntl
    import stat

    real = os.path.realpath(path)
    waited = False
    while True:
        try:
            fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) in taken:
                os.close(fd)
                return None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if not waited:
                    from sealer.safetext import printable

                    sys.stderr.write(f"sealer: {printable(path)}: waiting for another sealer process that is "
                                     "writing it\n")
                    sys.stderr.flush()
                    waited = True
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                now = os.stat(real)
            except FileNotFoundError:
                now = None
            if now is not None and (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
                taken.add((st.st_dev, st.st_ino))
                return fd
            os.close(fd)  # replaced (or removed) while we waited: lock what is there now
            if now is None:
                return None
        except OSError as e:
            os.close(fd)
            if errno.errorcode.get(e.errno or 0) in _NO_LOCKS:
                return None
            raise InputError(f"cannot lock: {e.strerror}", source=path) from None
        except BaseException:
            os.close(fd)
            raise


def _raise_open_file_limit(needed: int) -> None:
    """One descriptor per locked file: raise the soft RLIMIT_NOFILE toward the hard one (as Go programs, sops
    among them, do at start), so `encrypt -i` over thousands of files does not stop at 1,024."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        if target > soft:
            import contextlib

            with contextlib.suppress(ValueError, OSError):  # the reads then report the limit, naming the file
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class locked:
    """Hold an exclusive advisory lock on each of ``paths`` (their targets, in one global order so that two
    processes locking several files cannot deadlock) from the read to the write of a read-modify-write."""

    def __init__(self, paths) -> None:
        self.paths = [p for p in paths if p and p != STDIN]
        self.fds: list[int] = []

    def __enter__(self) -> locked:
        taken: set[tuple[int, int]] = set()
        if len(self.paths) > 64:
            _raise_open_file_limit(len(self.paths) + 512)
        try:
            for path in sorted(self.paths, key=os.path.realpath):
                fd = _lock_one(path, taken)
                if fd is not None:
                    self.fds.append(fd)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        while self.fds:
            os.close(self.fds.pop())  # closing the descriptor releases its lock
