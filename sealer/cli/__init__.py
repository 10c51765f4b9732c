"""The command line: parse, call the library, print. No crypto and no format logic in this package.

`main` is the entry point and the one edge where errors become a line on stderr and an exit code. The commands
are a click application (`sealer.cli.app`, also reachable as `sealer.cli.cli`), one module per command group.
Importing click costs ~40 ms, most of what a one-file `sealer decrypt` may take, so `main` first tries a small
parser that knows the plain forms of `encrypt` and `decrypt` (file arguments and their options written as separate
words), reading the option tables the click commands are built from (`sealer.cli.options`), and runs the very same
command bodies (`sealer.cli.sopsfiles`). Anything it does not know for certain (help, `--opt=value`, `--`, a
repeated option, a value that starts with '-', an invalid choice, any other command) goes to click, so help texts,
usage errors and every other behaviour stay click's.
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
    """`sealer.cli.cli`, the click group, is imported on first use (click is slow to import)."""
    if name == "cli":
        from sealer.cli.app import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_simple(args: Sequence[str]) -> tuple[str, dict[str, object]] | None:
    """(command, keyword arguments of its sealer.cli.sopsfiles function) for a plain encrypt/decrypt command line,
    as click would parse it; None when click has to decide."""
    if not args or args[0] not in ("decrypt", "encrypt"):
        return None
    from sealer.cli import options as o

    command = args[0]
    table, kwargs = (o.DECRYPT, dict(o.DECRYPT_DEFAULTS)) if command == "decrypt" else \
        (o.ENCRYPT, dict(o.ENCRYPT_DEFAULTS))
    by_flag = {flag: option for option in table for flag in option.flags}
    files: list[str] = []
    seen: set[str] = set()
    i = 1
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "-" or not arg.startswith("-"):
            files.append(arg)
            continue
        option = by_flag.get(arg)
        if option is None:
            return None  # help, `--opt=value`, `--`, combined short flags, unknown options: click's business
        if option.name in seen:
            return None
        seen.add(option.name)
        if option.is_flag:
            kwargs[option.name] = True
            continue
        if i >= len(args):
            return None  # missing value: click's error message
        value = args[i]
        i += 1
        if value.startswith("-") or (option.choices is not None and value not in option.choices):
            return None
        kwargs[option.name] = value
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
        from sealer.cli.app import cli

        return cli.main(args=argv, prog_name="sealer", standalone_mode=False)
    from sealer.cli import sopsfiles

    command, kwargs = parsed
    run: Callable[..., None] = sopsfiles.decrypt if command == "decrypt" else sopsfiles.encrypt
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

    from sealer.cli import style

    red = style.err_enabled()  # the prefix in red on a terminal (sealer.cli.style: NO_COLOR, FORCE_COLOR)
    if isinstance(e, SealerError):
        click.echo(f"{style.paint('sealer: error:', 'error', red)} {e}", err=True, color=red)
        return e.exit_code
    if isinstance(e, click.exceptions.Exit):
        return e.exit_code
    if isinstance(e, click.ClickException):
        import io

        from sealer.safetext import printable_lines

        shown = io.StringIO()  # usage errors quote the command line: escaped like every other message
        e.show(file=shown)
        text = printable_lines(shown.getvalue().rstrip("\n"))
        head, _, last = text.rpartition("\n")
        if red and last.startswith("Error:"):  # click's last line, "Error: ...", in red on a terminal
            text = f"{head}\n{style.paint('Error:', 'error', red)}{last[6:]}".lstrip("\n")
        sys.stderr.write(text + "\n")
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
        click.echo(f"{style.paint('sealer: internal error', 'error', red)} ({type(e).__name__}); rerun with "
                   "SEALER_DEBUG=1 and report it", err=True, color=red)
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
