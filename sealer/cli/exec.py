"""`sealer exec-env` and `sealer exec-file`: run a command with a SOPS file's plaintext, as sops does.

exec-env puts the decrypted top-level values into the child's environment: the plaintext never touches a disk.
exec-file hands the child a path (`{}` in the command): a FIFO by default, which holds nothing once read, or with
--no-fifo a 0600 file; either lives in a private 0700 directory (in memory, /dev/shm, where the machine has one)
that is removed when the child ends, also when it fails and on SIGINT/SIGTERM/SIGHUP, which are passed on to the
child. The command runs through `/bin/sh -c`, as with sops. Exit codes: the child's (a child killed by a signal:
128 + its number, as a shell reports it); sops' own codes for sealer's errors before the child starts (1: no
key, a nested value; 8: --same-process with --background; 100: no file).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

import click

from sealer.cli import sopsfiles
from sealer.cli.options import AGE_KEY_FILE, CONTEXT, INPUT_TYPE, INPUT_TYPES
from sealer.errors import InputError, SealerError

SHELL = "/bin/sh"
FALLBACK_FILENAME = "tmp-file"  # sops' name for the FIFO or file when --filename is not given
EXIT_CONFLICT = 8  # sops' codes.ErrorConflictingParameters
EXIT_NO_FILE = 100  # sops' codes.NoFileSpecified
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class _Usage(SealerError):
    """A usage error with the exit code sops gives it."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code


def _args(args: tuple[str, ...]) -> tuple[str, str]:
    if len(args) != 2:  # sops: "error: missing file to decrypt", exit 1
        raise _Usage("give FILE and COMMAND (one argument; quote it)", 1)
    return args[0], args[1]


def _decrypted(file: str, input_type: str | None, age_key_file: str | None):  # -> document.Decrypted
    from sealer.io.files import read_input
    from sealer.sops import document, operations

    if file != "-" and not os.path.exists(file):
        raise _Usage(f"{file}: no such file", EXIT_NO_FILE)
    data, source = read_input(file)
    tree = operations.load(data, source, input_type)
    return document.decrypt_tree(tree, source, opener=sopsfiles.opener(age_key_file))


def _user_kwargs(user: str | None) -> dict:
    """Popen arguments that run the child as ``user`` (its uid, gid and groups), as sops' --user switches."""
    if not user:
        return {}
    import pwd

    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise InputError("no such user", field="--user") from None
    import grp

    groups = sorted({entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem})
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": groups}


class _Signals:
    """While installed, SIGINT/SIGTERM/SIGHUP/SIGQUIT go to the running child (a terminal's Ctrl-C reaches it
    anyway); before the child runs they raise KeyboardInterrupt, so the `finally` that removes plaintext runs."""

    def __init__(self) -> None:
        self.child: subprocess.Popen | None = None
        self.previous: dict = {}

    def __call__(self, signum: int, _frame: object) -> None:
        if self.child is None:
            raise KeyboardInterrupt(f"signal {signum}")
        if self.child.poll() is None:
            with contextlib.suppress(OSError):
                self.child.send_signal(signum)

    def __enter__(self) -> _Signals:
        self.previous = {s: signal.signal(s, self) for s in _FORWARDED}
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self.previous.items():
            signal.signal(s, handler)


def _run(command: str, env: dict[str, str] | None, background: bool, user: str | None, signals: _Signals) -> int:
    """Run ``command`` through the shell and return its exit code (128 + N for a child killed by signal N)."""
    try:
        child = subprocess.Popen([SHELL, "-c", command], env=env, **_user_kwargs(user))
    except OSError as e:
        raise SealerError(f"cannot run the command: {e.strerror}") from None
    if background:
        return 0
    signals.child = child
    code = child.wait()
    return 128 - code if code < 0 else code


def _warn_background(name: str) -> None:
    click.echo(f"sealer: warning: {name}'s --background is deprecated in sops; the command runs detached and its "
               "exit code is not reported", err=True)


@click.command("exec-env", context_settings={**CONTEXT, "allow_interspersed_args": False})
@click.argument("args", nargs=-1, metavar="FILE COMMAND")
@click.option("--background", is_flag=True, help="Start the command and do not wait for it (deprecated in sops).")
@click.option("--pristine", is_flag=True, help="Only the decrypted values in the environment, nothing inherited.")
@click.option("--user", metavar="NAME", help="Run the command as this user (needs the privilege to switch).")
@click.option("--same-process", is_flag=True, help="Replace sealer with the command (exec) instead of a child.")
@INPUT_TYPE
@AGE_KEY_FILE
def exec_env(args, background, pristine, user, same_process, input_type, age_key_file) -> None:
    """Run COMMAND (through /bin/sh -c) with FILE's decrypted top-level values in its environment.

    The plaintext never touches a disk. Values must be scalars (as with sops: a nested value is refused,
    exit 1); numbers, booleans and nulls appear as sops writes them (5, 2.5, 1E+06, true, <nil>).
    Exit code: COMMAND's.
    """
    file, command = _args(args)
    if background and same_process:
        raise _Usage("--same-process cannot be used with --background", EXIT_CONFLICT)
    from sealer.sops import convert

    decrypted = _decrypted(file, input_type, age_key_file)
    items = convert.env_items(decrypted.tree, convert.typed_values(decrypted))
    env = {} if pristine else dict(os.environ)
    env.update(items)
    if same_process:
        if user:
            kwargs = _user_kwargs(user)
            os.setgroups(kwargs["extra_groups"])
            os.setgid(kwargs["group"])
            os.setuid(kwargs["user"])
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            os.execve(SHELL, [SHELL, "-c", command], env)  # noqa: S606 - the shell is the point, as in sops
        except OSError as e:
            raise SealerError(f"cannot run the command: {e.strerror}") from None
    if background:
        _warn_background("exec-env")
    with _Signals() as signals:
        code = _run(command, env, background, user, signals)
    sys.exit(code)


@click.command("exec-file", context_settings={**CONTEXT, "allow_interspersed_args": False})
@click.argument("args", nargs=-1, metavar="FILE COMMAND")
@click.option("--no-fifo", is_flag=True, help="A regular 0600 file instead of a FIFO.")
@click.option("--user", metavar="NAME", help="Run the command as this user (needs the privilege to switch).")
@INPUT_TYPE
@click.option("--output-type", type=click.Choice(INPUT_TYPES), help="Format of the plaintext the command reads "
              "(default: the input's).")
@click.option("--filename", metavar="NAME", help=f"Name of the FIFO or file (default: {FALLBACK_FILENAME}).")
@AGE_KEY_FILE
def exec_file(args, no_fifo, user, input_type, output_type, filename, age_key_file) -> None:
    """Run COMMAND (through /bin/sh -c) with `{}` in it replaced by the path of FILE's plaintext.

    The path is a FIFO (or, with --no-fifo, a 0600 file) in a private directory, in memory where possible,
    removed when COMMAND ends, fails or is interrupted. Exit code: COMMAND's.
    """
    file, command = _args(args)
    if filename is not None and (not filename or "/" in filename or filename in (".", "..")):
        raise InputError("must be a plain file name (no '/')", field="--filename")
    from sealer.io import editor
    from sealer.sops import convert

    decrypted = _decrypted(file, input_type, age_key_file)
    tree = decrypted.tree
    text = convert.dumps_as(tree, output_type or tree.format, convert.typed_values(decrypted))
    plaintext = text.encode("utf-8", "surrogateescape")
    import shutil

    with _Signals() as signals:
        directory = editor.private_dir("sealer-exec-")
        try:
            path = _place(directory, filename, plaintext, fifo=not no_fifo)
            code = _run(command.replace("{}", path), None, False, user, signals)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
    sys.exit(code)


def _place(directory: str, filename: str | None, plaintext: bytes, fifo: bool) -> str:
    """The plaintext at a path in ``directory``: a FIFO fed by a thread (it blocks until the command opens it;
    a command that never reads it leaves the thread blocked until sealer exits), or a 0600 file."""
    if fifo:
        import threading

        path = os.path.join(directory, filename or FALLBACK_FILENAME)
        os.mkfifo(path, 0o600)

        def feed() -> None:
            try:
                with open(path, "wb") as pipe:
                    pipe.write(plaintext)
            except OSError:
                pass  # the command closed the FIFO early, or it is gone

        threading.Thread(target=feed, daemon=True).start()
        return path
    if filename:
        path = os.path.join(directory, filename)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    else:
        import tempfile

        fd, path = tempfile.mkstemp(prefix=FALLBACK_FILENAME, dir=directory)
    with os.fdopen(fd, "wb") as f:
        f.write(plaintext)
    return path
