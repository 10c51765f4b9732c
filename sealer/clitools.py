"""What the CLI commands share, without click: writing results, notes on stderr, and the bodies of
`sealer encrypt` and `sealer decrypt`.

The click commands (`sealer.commands`) and the fast entry point for simple encrypt/decrypt command lines
(`sealer.cli`) both call these, so both run the same code. click is imported only to print a note or a
progress bar.
"""

from __future__ import annotations

import sys

from sealer.errors import InputError


def emit(text: str, out: str | None = None, mode: int | None = None) -> None:
    """Write everything at once, after all work succeeded: to OUT atomically, or to stdout."""
    if out and out != "-":
        from sealer.io.files import atomic_write

        atomic_write(out, text.encode(), mode)
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
    """Write after every file succeeded: in place (atomic per file), to OUT, or to stdout."""
    from sealer.io.files import atomic_write

    if in_place:
        for path, text in results:
            atomic_write(path, text.encode())
    elif out and out != "-":
        if len(results) != 1:
            raise InputError("-o/--output takes one input file", field="--output")
        atomic_write(out, results[0][1].encode())
    else:
        emit("---\n".join(text for _, text in results) if len(results) > 1 else results[0][1])


def check_targets(files: tuple[str, ...], in_place: bool, out: str | None) -> tuple[str, ...]:
    files = files or ("-",)
    if in_place and "-" in files:
        raise InputError("-i cannot rewrite stdin", field="-i")
    if in_place and out:
        raise InputError("-i and -o do not combine", field="-i")
    return files


def progress(items, label: str):
    """A progress bar on stderr when there are many files and someone is watching."""
    items = list(items)
    if len(items) > 20 and sys.stderr.isatty():
        import click

        return click.progressbar(items, label=label, file=sys.stderr)
    return _Plain(items)


class _Plain:
    """contextlib.nullcontext(items), without importing contextlib."""

    def __init__(self, items: list) -> None:
        self.items = items

    def __enter__(self) -> list:
        return self.items

    def __exit__(self, *exc: object) -> None:
        return None


def opener(age_key_file: str | None):
    from sealer.sops.keyservice import Opener

    return Opener(age_key_file=age_key_file)


def encrypt(files: tuple[str, ...], age: str | None, vault: str | None, encrypted_regex: str | None,
            unencrypted_regex: str | None, encrypted_suffix: str | None, unencrypted_suffix: str | None,
            mac_only_encrypted: bool, kind: str, in_place: bool, out: str | None, input_type: str | None,
            filename_override: str | None, scope: str | None = None) -> None:
    from sealer.io.files import locked, read_input
    from sealer.scope import Scope
    from sealer.sops import keyservice, operations

    files = check_targets(files, in_place, out)
    rule_flags = {"encrypted_regex": encrypted_regex, "unencrypted_regex": unencrypted_regex,
                  "encrypted_suffix": encrypted_suffix, "unencrypted_suffix": unencrypted_suffix}
    results = []
    with locked(files if in_place else ()):  # -i: from the reads to the writes, so concurrent writers serialise
        with progress(files, "encrypting") as bar:
            for file in bar:
                data, source = read_input(file)
                tree = operations.load(data, source, input_type)
                secret = operations.is_secret_file(tree)
                if kind == "sopssecret" and not secret:
                    raise InputError("--kind sopssecret needs Kubernetes Secret documents", source=source,
                                     field="kind")
                plan = keyservice.plan(filename_override or (file if file != "-" else "stdin"), age=age, vault=vault,
                                       rule_flags=rule_flags, mac_only_encrypted=mac_only_encrypted, is_secret=secret)
                results.append((file, operations.encrypt(tree, plan, source, sopssecret=kind == "sopssecret",
                                                         scope=Scope(scope) if scope else None)))
        write_results(results, in_place, out)


def decrypt(files: tuple[str, ...], in_place: bool, out: str | None, extract: str | None, ignore_mac: bool,
            decode: bool, age_key_file: str | None, input_type: str | None) -> None:
    from sealer.io.files import locked, read_input
    from sealer.sops import operations

    files = check_targets(files, in_place, out)
    if extract and len(files) > 1:
        raise InputError("--extract takes one file", field="--extract")
    keys = opener(age_key_file)
    results = []
    with locked(files if in_place else ()):  # -i: from the reads to the writes
        with progress(files, "decrypting") as bar:
            for file in bar:
                data, source = read_input(file)
                result = operations.decrypt(operations.load(data, source, input_type), source, keys,
                                            ignore_mac=ignore_mac, extract=extract, decode=decode)
                if result.undecryptable_comments:
                    note(f"{source}: warning: {plural(result.undecryptable_comments, 'encrypted comment')} "
                         "could not be decrypted and were left as they are")
                results.append((file, result.text))
        write_results(results, in_place, out)
