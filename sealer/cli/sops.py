"""The SOPS commands: encrypt, decrypt, edit, set, unset, updatekeys, rescope, rotate.

encrypt and decrypt run sealer.cli.sopsfiles, with the options of sealer.cli.options' tables (the fast path
runs the same bodies with the same tables, without click).
"""

from __future__ import annotations

import os
import sys

import click

from sealer.cli import options, sopsfiles
from sealer.cli.options import AGE_KEY_FILE, CONTEXT, SCOPES
from sealer.cli.output import note, plural, write_results
from sealer.cli.progress import track
from sealer.errors import InputError, SealerError


@click.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1)
@options.apply(options.ENCRYPT)
def encrypt(**params) -> None:
    """Encrypt FILES as SOPS documents that the sops binary reads too.

    Recipients: --age/--hc-vault-transit, else SOPS_AGE_RECIPIENTS, else the first matching .sops.yaml
    creation rule. A Kubernetes Secret defaults to encrypted_regex ^(data|stringData)$. A SopsSecret is bound
    to its namespace and name (spec.binding, encrypted) unless --scope relaxes it.
    """
    sopsfiles.encrypt(**params)


@click.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1)
@options.apply(options.DECRYPT)
def decrypt(**params) -> None:
    """Decrypt SOPS FILES (written by sops or sealer) and verify their MAC.

    Identities: SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD, --age-key-file, the user's
    sops/age/keys.txt, SSH keys; Vault Transit with VAULT_TOKEN. Exit 1 if no identity opens a file or its
    MAC fails; nothing is printed or written then.

    Structured output: -o json (or sops' --output-type json) prints the plaintext as JSON; --output FILE (or
    -w FILE) writes it to a file.
    """
    sopsfiles.decrypt(**params)


@click.command(context_settings=CONTEXT)
@click.argument("file")
@AGE_KEY_FILE
def edit(file: str, age_key_file: str | None) -> None:
    """Decrypt FILE into a private temp file, open $EDITOR, re-encrypt.

    Unchanged values keep their exact ciphertext, so a one-value edit is a one-value Git diff.
    An unchanged file is not written. The temp file is 0600 in a 0700 directory, in memory (/dev/shm) where
    possible, and removed on every exit path. An empty or invalid result, or a FILE that another process changed
    while the editor was open, is never saved: the edited text is kept in a private recovery file instead.
    """
    from sealer.io import editor
    from sealer.io.files import atomic_write, locked, read_input
    from sealer.sops import document, operations, stores

    data, source = read_input(file)
    tree = operations.load(data, source)
    original = document.decrypt_tree(tree, source, opener=sopsfiles.opener(age_key_file))
    plaintext = stores.dumps(tree)
    holder: dict[str, str] = {}

    def accept(text: str) -> None:
        edited = operations.load(text.encode(), source, tree.format)
        if not edited.roots:
            raise InputError("the edited file holds no document (only comments or blank lines); nothing was written",
                             source=source)
        if edited.metadata is not None:
            raise InputError("the edited file must not contain a `sops` block", source=source, field="sops")
        edited.layout = tree.layout
        holder["text"] = operations.reencrypt_edited(original, edited, source)

    def retry(error: Exception) -> bool:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            return False
        note(f"sealer: error: {error}")
        return click.confirm("Edit again? (no: stop; your text is kept in a private recovery file)", default=True,
                             err=True)

    suffix = {"yaml": ".yaml", "json": ".json", "dotenv": ".env", "ini": ".ini"}.get(tree.format,
                                                                                  os.path.splitext(file)[1])
    try:
        edited = editor.edit_text(plaintext, suffix, accept, retry, name=os.path.basename(file))
    except SealerError as e:
        raise e.within(source=source) from None
    if edited is None:
        note(f"{source}: unchanged, not written")
        return
    with locked([file]):  # not while the editor is open: a changed file is refused below instead
        try:
            current = read_input(file)[0]
        except InputError:
            current = None
        if current != data:
            raise SealerError("changed on disk while the editor was open (another process wrote it or removed it); "
                              "not saved, so that change is not lost; "
                              + editor.recovery_note(edited, os.path.basename(file)), source=source)
        atomic_write(file, holder["text"].encode())


def _value_from(value: str | None, value_stdin: bool, value_file: str | None, fmt: str):
    from sealer.io.files import read_input
    from sealer.sops import operations

    given = [v for v in (value is not None, value_stdin, value_file is not None) if v]
    if len(given) != 1:
        raise InputError("give exactly one of VALUE, --value-stdin or --value-file", field="VALUE")
    if value is not None:
        return operations.value_node(value, fmt)
    raw, source = read_input("-" if value_stdin else value_file)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:  # sops refuses it too (its value must be JSON); a string holds text only
        raise InputError(f"not UTF-8 text (byte {e.start + 1}): a binary value goes base64-encoded into a Secret's "
                         "data, e.g. `base64 -w0 FILE | sealer set ... '[\"data\"][\"KEY\"]' --value-stdin`",
                         source=source, field="--value-stdin" if value_stdin else "--value-file") from None
    return operations.string_node(text, fmt)


@click.command("set", context_settings={**CONTEXT, "ignore_unknown_options": True})  # `-0.5` is a value, as for sops
@click.argument("file")
@click.argument("path")
@click.argument("value", required=False)
@click.option("--value-stdin", is_flag=True,
              help="Read the value from stdin as a raw string (keeps it out of shell history).")
@click.option("--value-file", metavar="PATH", help="Read the value from a file as a raw string.")
@AGE_KEY_FILE
def set_(file, path, value, value_stdin, value_file, age_key_file) -> None:
    """Set one value at PATH ('["data"]["key"]') to VALUE (JSON, as with sops set); others stay byte-identical."""
    from sealer.io.files import atomic_write, locked, read_input
    from sealer.sops import operations

    with locked([file]):  # from the read to the write: two writers serialise, neither update is lost
        data, source = read_input(file)
        tree = operations.load(data, source)
        node = _value_from(value, value_stdin, value_file, tree.format)
        atomic_write(file, operations.set_value(tree, source, sopsfiles.opener(age_key_file), path, node).encode())


@click.command(context_settings=CONTEXT)
@click.argument("file")
@click.argument("path")
@AGE_KEY_FILE
def unset(file, path, age_key_file) -> None:
    """Remove the value at PATH ('["data"]["key"]'); other values stay byte-identical."""
    from sealer.io.files import atomic_write, locked, read_input
    from sealer.sops import operations

    with locked([file]):
        data, source = read_input(file)
        tree = operations.load(data, source)
        atomic_write(file, operations.unset_value(tree, source, sopsfiles.opener(age_key_file), path).encode())


@click.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@options.INPUT_TYPE
@AGE_KEY_FILE
def updatekeys(files, yes, input_type, age_key_file) -> None:
    """Re-wrap each file's data key for the recipients its .sops.yaml rule names now. Values untouched."""
    from sealer.io.files import locked

    with locked(files):
        _updatekeys_files(files, yes, age_key_file, input_type)


def _updatekeys_files(files, yes: bool, age_key_file: str | None, input_type: str | None = None) -> None:
    from sealer.io.files import read_input, write_all
    from sealer.sops import operations
    from sealer.sops.keys import service as keyservice

    opener = sopsfiles.opener(age_key_file)
    pending = []
    with track(files, "updating keys") as bar:
        for file in bar:
            data, source = read_input(file)
            tree = operations.load(data, source, input_type)
            plan = keyservice.plan(file, is_secret=operations.is_secret_file(tree), env={})
            text, change = operations.updatekeys(tree, source, opener, plan)
            if text is None:
                note(f"{source}: already up to date")
                continue
            note(f"{source}: " + "; ".join(
                [*(f"+ {r}" for r in change.added), *(f"- {r}" for r in change.removed)] or ["key groups reshaped"]))
            pending.append((file, text))
    if pending and not yes and sys.stdin.isatty() and not click.confirm("Apply?", default=False, err=True):
        raise InputError("not confirmed; nothing written")
    write_all([(file, text.encode(), None) for file, text in pending])


@click.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True)
@click.option("--scope", type=click.Choice(SCOPES),
              help="Bind to this scope (default: keep a file's scope; strict if it has none).")
@click.option("-i", "--in-place", is_flag=True, help="Replace each FILE (otherwise print the result).")
@AGE_KEY_FILE
def rescope(files, scope, in_place, age_key_file) -> None:
    """Bind SopsSecret FILES to their namespace and name (spec.binding), or change their scope.

    For SopsSecrets written before scopes, which the controller refuses (reason Unscoped) unless it runs with
    --allow-unscoped-sops. Needs the data key (an identity), like edit; other values keep their exact
    ciphertext, comments and layout stay. All files are done before any is written.
    """
    from sealer.io.files import locked

    with locked(files if in_place else ()):
        _rescope_files(files, scope, in_place, age_key_file)


def _rescope_files(files, scope: str | None, in_place: bool, age_key_file: str | None) -> None:
    from sealer.io.files import read_input
    from sealer.scope import Scope
    from sealer.sops import operations

    opener = sopsfiles.opener(age_key_file)
    results = []
    with track(files, "rescoping") as bar:
        for file in bar:
            data, source = read_input(file)
            text, changes = operations.rescope(operations.load(data, source), source, opener,
                                               Scope(scope) if scope else None)
            note(f"{source}: " + ("; ".join(changes) or "rule extended to encrypt spec.binding") if text
                 else f"{source}: already bound, unchanged")
            if text is not None or not in_place:
                results.append((file, text if text is not None else data.decode("utf-8-sig")))
    if results:
        write_results(results, in_place, None)


@click.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True)
@click.option("--add-age", metavar="RECIPIENT,...", help="Also encrypt for these age recipients (first key group).")
@click.option("--rm-age", metavar="RECIPIENT,...", help="No longer encrypt for these age recipients.")
@click.option("--add-hc-vault-transit", "add_vault", metavar="URI,...", help="Also encrypt for these Vault keys.")
@click.option("--rm-hc-vault-transit", "rm_vault", metavar="URI,...", help="No longer encrypt for these Vault keys.")
@AGE_KEY_FILE
def rotate(files, add_age, rm_age, add_vault, rm_vault, age_key_file) -> None:
    """Give each file a new data key and re-encrypt every value, for the same recipients (with --add-*/--rm-*
    changes, as sops rotate). In place."""
    from sealer.io.files import locked, read_input, write_all
    from sealer.sops import operations
    from sealer.sops.keys.groups import KeySpec

    def specs(kind: str, text: str | None) -> list[KeySpec]:
        return [KeySpec(kind, v.strip()) for v in (text or "").split(",") if v.strip()]

    add = specs("age", add_age) + specs("hc_vault", add_vault)
    remove = specs("age", rm_age) + specs("hc_vault", rm_vault)
    opener = sopsfiles.opener(age_key_file)
    results = []
    with locked(files):
        with track(files, "rotating") as bar:
            for file in bar:
                data, source = read_input(file)
                results.append((file, operations.rotate(operations.load(data, source), source, opener, add, remove)))
        write_all([(file, text.encode(), None) for file, text in results])
    note(f"rotated {plural(len(results), 'file')}")



@click.command(context_settings=CONTEXT)
@click.argument("file", required=False)
@options.INPUT_TYPE
@click.option("-o", "--output", "--format", "fmt", type=click.Choice(options.OUTPUT_FORMATS), default="json",
              show_default=True, help="Output format (json: sops' exact line).")
def filestatus(file: str | None, input_type: str | None, fmt: str) -> None:
    """Print {"encrypted":true} if FILE has a SOPS metadata block with a version and a MAC, else
    {"encrypted":false}, as `sops filestatus` does. Exit 100 without FILE, 1 if FILE cannot be read or parsed."""
    from sealer.io.files import read_input
    from sealer.sops import operations

    if not file:
        raise _SopsCode("no file specified", 100)
    try:
        data, source = read_input(file)
        tree = operations.load(data, source, input_type)
        if tree.format == "binary" and tree.metadata is None:
            import json

            try:  # sops reads a binary-store file as JSON to look for its metadata: other bytes are an error
                json.loads(data)
            except ValueError:
                raise InputError("cannot check file status: not a JSON document (binary store)",
                                 source=source) from None
    except SealerError as e:
        raise _SopsCode(str(e), 1) from None
    meta = tree.metadata
    encrypted = isinstance(meta, dict) and bool(meta.get("version")) and bool(meta.get("mac"))
    word = "true" if encrypted else "false"
    click.echo(f"encrypted: {word}" if fmt == "yaml" else f'{{"encrypted":{word}}}')


class _SopsCode(SealerError):
    """An error with the exit code sops gives it (filestatus)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.exit_code = code
