"""`sealer migrate bitnami`: Bitnami SealedSecret files rewritten as sealer's (sealer.sealed.migration)."""

from __future__ import annotations

import click

from sealer.cli.options import CONTEXT
from sealer.cli.output import emit, note, plural
from sealer.errors import InputError


@click.group(context_settings=CONTEXT)
def migrate() -> None:
    """Move manifests from another tool to sealer."""


@migrate.command("bitnami", context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True)
@click.option("-i", "--in-place", is_flag=True, help="Rewrite the files (atomically) instead of printing.")
def bitnami(files: tuple[str, ...], in_place: bool) -> None:
    """Rewrite Bitnami SealedSecrets (bitnami.com/v1alpha1) in FILES as sealer.dev/v1alpha1 ones.

    Only apiVersion changes: ciphertexts, scope, template, comments and every other document stay as they are, so
    the Git diff is one line per SealedSecret and a second run changes nothing. All files are read before any is
    written. The steps to take in the cluster are printed on stderr.
    """
    from sealer.io.files import atomic_write, locked, read_input
    from sealer.sealed import migration

    if in_place and "-" in files:
        raise InputError("-i cannot rewrite stdin", field="-i")
    with locked(files if in_place else ()):
        results, migrated = [], []
        for file in files:
            data, source = read_input(file)
            text, named, skipped = migration.migrate(data, source)
            for namespace, name in skipped:
                note(f"{source}: {namespace + '/' if namespace else ''}{name} uses the deprecated spec.data, left as "
                     "is: re-seal it first (sealer reencrypt), then migrate")
            if not named and not skipped:
                note(f"{source}: no bitnami.com SealedSecret, left as is")
            results.append((file, data, text))
            migrated += named
        if in_place:
            for file, _, text in results:
                if text is not None:
                    atomic_write(file, text.encode())
        else:
            emit("---\n".join(text if text is not None else data.decode("utf-8-sig") for _, data, text in results))
    changed = sum(text is not None for _, _, text in results)
    note(f"migrated {plural(len(migrated), 'SealedSecret')} in {plural(changed, 'file')} to sealer.dev/v1alpha1 "
         "(ciphertexts unchanged)")
    if migrated:
        note(migration.cluster_steps(migrated))
