"""How every command writes: results to a file (atomically) or stdout, notes on stderr, a progress bar.

Without click at import time: the fast path for encrypt/decrypt (sealer.cli.sopsfiles) writes through these
too. click is imported only to print a note or a progress bar.
"""

from __future__ import annotations

import sys

from sealer.errors import InputError


def emit(text: str, out: str | None = None, mode: int | None = None) -> None:
    """Write everything at once, after all work succeeded: to OUT atomically, or to stdout."""
    if out and out != "-":
        from sealer.io.files import atomic_write

        atomic_write(out, text.encode("utf-8", "surrogateescape"), mode)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def note(message: str) -> None:
    """A note on stderr; names in it come from input, so each line is escaped (sealer.safetext)."""
    import click

    from sealer.safetext import printable_lines

    click.echo(printable_lines(message), err=True)


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def write_results(results: list[tuple[str, str]], in_place: bool, out: str | None) -> None:
    """Write after every file succeeded: in place (all files or none, see write_all), to OUT, or to stdout."""
    from sealer.io.files import atomic_write, write_all

    if in_place:
        write_all([(path, text.encode("utf-8", "surrogateescape"), None) for path, text in results])
    elif out and out != "-":
        if len(results) != 1:
            raise InputError("--output takes one input file", field="--output")
        atomic_write(out, results[0][1].encode("utf-8", "surrogateescape"))
    else:
        emit("---\n".join(text for _, text in results) if len(results) > 1 else results[0][1])
