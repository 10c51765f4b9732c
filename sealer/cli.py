"""Command line entry point: parse, call the library, print. No crypto and no format logic here.

The commands are a click application (`sealer.commands`; its names, `cli` included, are also reachable as
attributes of this module). Importing click costs ~40 ms, most of what a one-file `sealer decrypt` may take,
so `main` first tries a small parser that knows the plain forms of `encrypt` and `decrypt` (file arguments and
their options written as separate words). It runs the very same command bodies (`sealer.clitools`). Anything it
does not know for certain (help, `--opt=value`, `--`, a repeated option, a value that starts with '-', an invalid
choice, any other command) goes to click, so help texts, usage errors and every other behaviour stay click's.
"""

from __future__ import annotations

import os
import sys

from sealer.errors import EXIT_INPUT, EXIT_INTERNAL, SealerError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import NoReturn

_FAST = True  # tests turn this off to run the same command lines through click


def __getattr__(name: str) -> object:
    """`sealer.cli.cli` and the other click objects live in sealer.commands, imported on first use."""
    if name.startswith("__"):
        raise AttributeError(name)
    from sealer import commands

    try:
        return getattr(commands, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


# --- the fast parser: option name -> (parameter, kind); kind is "flag", "value" or a tuple of choices --------

_DECRYPT_OPTIONS: dict[str, tuple[str, object]] = {
    "-i": ("in_place", "flag"), "--in-place": ("in_place", "flag"),
    "-o": ("out", "value"), "--output": ("out", "value"),
    "--extract": ("extract", "value"),
    "--ignore-mac": ("ignore_mac", "flag"),
    "--decode": ("decode", "flag"),
    "--age-key-file": ("age_key_file", "value"),
    "--input-type": ("input_type", ("yaml", "json")),
}
_DECRYPT_DEFAULTS = {"in_place": False, "out": None, "extract": None, "ignore_mac": False, "decode": False,
                     "age_key_file": None, "input_type": None}

_ENCRYPT_OPTIONS: dict[str, tuple[str, object]] = {
    "--age": ("age", "value"),
    "--hc-vault-transit": ("vault", "value"),
    "--encrypted-regex": ("encrypted_regex", "value"),
    "--unencrypted-regex": ("unencrypted_regex", "value"),
    "--encrypted-suffix": ("encrypted_suffix", "value"),
    "--unencrypted-suffix": ("unencrypted_suffix", "value"),
    "--mac-only-encrypted": ("mac_only_encrypted", "flag"),
    "--kind": ("kind", ("secret", "sopssecret")),
    "--scope": ("scope", ("strict", "namespace-wide", "cluster-wide")),
    "-i": ("in_place", "flag"), "--in-place": ("in_place", "flag"),
    "-o": ("out", "value"), "--output": ("out", "value"),
    "--input-type": ("input_type", ("yaml", "json")),
    "--filename-override": ("filename_override", "value"),
}
_ENCRYPT_DEFAULTS = {"age": None, "vault": None, "encrypted_regex": None, "unencrypted_regex": None,
                     "encrypted_suffix": None, "unencrypted_suffix": None, "mac_only_encrypted": False,
                     "kind": "secret", "in_place": False, "out": None, "input_type": None, "filename_override": None,
                     "scope": None}


def parse_simple(args: Sequence[str]) -> tuple[str, dict[str, object]] | None:
    """(command, keyword arguments of its clitools function) for a plain encrypt/decrypt command line, as click
    would parse it; None when click has to decide."""
    if not args or args[0] not in ("decrypt", "encrypt"):
        return None
    command = args[0]
    options, kwargs = (_DECRYPT_OPTIONS, dict(_DECRYPT_DEFAULTS)) if command == "decrypt" else \
        (_ENCRYPT_OPTIONS, dict(_ENCRYPT_DEFAULTS))
    files: list[str] = []
    seen: set[str] = set()
    i = 1
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "-" or not arg.startswith("-"):
            files.append(arg)
            continue
        spec = options.get(arg)
        if spec is None:
            return None  # help, `--opt=value`, `--`, combined short flags, unknown options: click's business
        name, kind = spec
        if name in seen:
            return None
        seen.add(name)
        if kind == "flag":
            kwargs[name] = True
            continue
        if i >= len(args):
            return None  # missing value: click's error message
        value = args[i]
        i += 1
        if value.startswith("-") or (isinstance(kind, tuple) and value not in kind):
            return None
        kwargs[name] = value
    kwargs["files"] = tuple(files)
    return command, kwargs


_COMPLETE_VAR = "_SEALER_COMPLETE"  # click's shell completion request for prog_name "sealer"


def _run(argv: list[str] | None) -> object:
    fast = _FAST and _COMPLETE_VAR not in os.environ
    parsed = parse_simple(sys.argv[1:] if argv is None else argv) if fast else None
    if parsed is None or len(parsed[1]["files"]) > 1:  # type: ignore[arg-type]
        import gc

        gc.enable()  # see main: only a one-file run goes without the cycle collector
    if parsed is None:
        from sealer.commands import cli

        return cli.main(args=argv, prog_name="sealer", standalone_mode=False)
    from sealer import clitools

    command, kwargs = parsed
    run: Callable[..., None] = clitools.decrypt if command == "decrypt" else clitools.encrypt
    try:
        run(**kwargs)
    except (SealerError, SystemExit):
        raise  # click lets these through unchanged
    except BaseException as e:
        return _as_click(e)
    return 0


def _as_click(error: BaseException) -> object:
    """What click's Command.main makes of an exception raised inside a command (an interrupt becomes Abort after
    a blank line, a broken pipe exits 1 with quiet streams, ...): let click handle the same exception."""
    import click

    @click.command()
    def again() -> None:
        raise error

    return again.main(args=[], prog_name="sealer", standalone_mode=False)


def _failure(e: BaseException) -> int | None:
    """Print one line for an error and return the exit code; None for exceptions main lets through."""
    import click

    if isinstance(e, SealerError):
        click.echo(f"sealer: error: {e}", err=True)
        return e.exit_code
    if isinstance(e, click.exceptions.Exit):
        return e.exit_code
    if isinstance(e, click.ClickException):
        import io

        from sealer.safetext import printable_lines

        shown = io.StringIO()  # usage errors quote the command line: escaped like every other message
        e.show(file=shown)
        sys.stderr.write(printable_lines(shown.getvalue().rstrip("\n")) + "\n")
        return EXIT_INPUT if e.exit_code == 2 else e.exit_code
    if isinstance(e, click.Abort | KeyboardInterrupt):
        click.echo("sealer: interrupted", err=True)
        return 130
    if isinstance(e, BrokenPipeError):
        sys.stderr.close()
        return 141
    if isinstance(e, Exception):
        if os.environ.get("SEALER_DEBUG"):
            return None
        # The exception text could quote input; only its type is shown. SEALER_DEBUG=1 shows the traceback.
        click.echo(f"sealer: internal error ({type(e).__name__}); rerun with SEALER_DEBUG=1 and report it",
                   err=True)
        return EXIT_INTERNAL
    return None


def main(argv: list[str] | None = None) -> NoReturn:
    """Run the CLI; turn every error into one line on stderr and a documented exit code.

    The cyclic garbage collector is off while the command line is read; it stays off only for a fast-path run on
    one file (a short process: imports allocate many objects that live to the end, and collecting them costs
    ~5 ms of a one-file decrypt). Every other run switches it back on before doing any work."""
    import gc
    import warnings

    # ruamel.yaml warns about a reused anchor (valid YAML) by printing the lines around it: values, in a Secret.
    warnings.filterwarnings("ignore", module=r"ruamel\.yaml")
    gc.disable()
    try:
        try:
            rc = _run(argv)
            code = rc if isinstance(rc, int) else 0
        except SystemExit:
            raise
        except BaseException as e:
            failed = _failure(e)
            if failed is None:
                raise
            code = failed
        # The process is about to end: move every object to the collector's permanent generation, so the final
        # collections at interpreter shutdown do not walk them all (5-10 ms of a one-file run). Output is
        # already written and flushed, files are closed; nothing here depends on a collection.
        gc.freeze()
    finally:
        gc.enable()
    sys.exit(code)


if __name__ == "__main__":
    main()
