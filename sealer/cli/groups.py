"""`sealer groups add` / `sealer groups delete`: sops' commands for key groups, with its flags (`--file`, repeated
`--age`, `-i`, `--shamir-secret-sharing-threshold`). Output goes to stdout unless -i, as with sops."""

from __future__ import annotations

import click

from sealer.cli import sopsfiles
from sealer.cli.options import AGE_KEY_FILE, CONTEXT
from sealer.errors import InputError

_THRESHOLD = click.option("--shamir-secret-sharing-threshold", "threshold", metavar="N",
                          help="Key groups needed to open the file (default: the file's, else all).")
_FILE = click.option("-f", "--file", "file", required=True, metavar="FILE", help="The SOPS file to change.")
_IN_PLACE = click.option("-i", "--in-place", is_flag=True, help="Write back to FILE instead of stdout.")


@click.group(context_settings=CONTEXT)
def groups() -> None:
    """Add or delete key groups of a SOPS file (Shamir secret sharing across groups), as `sops groups`."""


def _write(file: str, text: str, in_place: bool) -> None:
    from sealer.cli.output import emit
    from sealer.io.files import atomic_write

    if in_place:
        atomic_write(file, text.encode("utf-8", "surrogateescape"))
    else:
        emit(text)


@groups.command(context_settings=CONTEXT)
@_FILE
@click.option("--age", "age", multiple=True, metavar="RECIPIENT", help="age recipient for the new group; repeat.")
@click.option("--hc-vault-transit", "vault", multiple=True, metavar="URI",
              help="Vault Transit key for the new group; repeat.")
@_IN_PLACE
@_THRESHOLD
@AGE_KEY_FILE
def add(file: str, age: tuple[str, ...], vault: tuple[str, ...], in_place: bool, threshold: str | None,
        age_key_file: str | None) -> None:
    """Add a key group holding the given recipients. Needs the data key (an identity that opens FILE)."""
    from sealer.io.files import locked, read_input
    from sealer.sops import keygroup_edit, operations
    from sealer.sops.keys.groups import KeySpec

    group = [KeySpec("age", r.strip()) for a in age for r in a.split(",") if r.strip()]
    group += [KeySpec("hc_vault", u.strip()) for v in vault for u in v.split(",") if u.strip()]
    with locked([file] if in_place else []):
        data, source = read_input(file)
        text = keygroup_edit.add_group(operations.load(data, source), source, sopsfiles.opener(age_key_file), group,
                                       sopsfiles.parse_threshold(threshold))
        _write(file, text, in_place)


@groups.command(context_settings=CONTEXT)
@_FILE
@click.argument("index")
@_IN_PLACE
@_THRESHOLD
@AGE_KEY_FILE
def delete(file: str, index: str, in_place: bool, threshold: str | None, age_key_file: str | None) -> None:
    """Delete key group INDEX (0 is the first). Needs the data key."""
    from sealer.io.files import locked, read_input
    from sealer.sops import keygroup_edit, operations

    if not index.isdigit():
        raise InputError("must be a group number (0 is the first)", field="INDEX")
    with locked([file] if in_place else []):
        data, source = read_input(file)
        text = keygroup_edit.delete_group(operations.load(data, source), source, sopsfiles.opener(age_key_file),
                                          int(index), sopsfiles.parse_threshold(threshold))
        _write(file, text, in_place)
