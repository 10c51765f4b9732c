"""`sealer migrate bitnami` / `eso`: Bitnami SealedSecrets (sealer.sealed.migration) and External Secrets Operator's
Vault manifests (sealer.eso) rewritten as sealer's."""

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


@migrate.command("eso", context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True)
@click.option("-i", "--in-place", is_flag=True, help="Rewrite the files (all or none, atomically) instead of printing.")
def eso(files: tuple[str, ...], in_place: bool) -> None:
    """Rewrite External Secrets Operator's Vault objects in FILES as sealer.dev/v1alpha1 ones.

    SecretStore / ClusterSecretStore with provider vault become VaultStore / ClusterVaultStore; an ExternalSecret
    becomes a VaultSecret when its store is in FILES too (ESO's or already converted): the store tells the KV
    mount that ESO lets a remoteRef key start with (secret/data/foo), which sealer's path leaves out. Fields are
    renamed where they stand: comments and key order survive, and every other document keeps its bytes. An object
    using something sealer has not (another provider, LDAP auth, creationPolicy None, ...) is left as it is and
    named on stderr with the field and why (the exit code stays 0); a second run changes nothing. All files are
    read before any is written.
    """
    from sealer import eso as conversion
    from sealer.io.files import locked, read_input, write_all

    if in_place and "-" in files:
        raise InputError("-i cannot rewrite stdin", field="-i")
    with locked(files if in_place else ()):
        read = [(file, *read_input(file)) for file in files]
        results = conversion.migrate([(source, data) for _, data, source in read])
        for r in results:
            for line in r.notes:
                note(line)
        if in_place:
            writes = [(file, r.text.encode(), None) for (file, _, _), r in zip(read, results, strict=True)
                      if r.text is not None]
            if writes:
                write_all(writes)
        else:
            emit("---\n".join(r.text if r.text is not None else data.decode("utf-8-sig")
                              for (_, data, _), r in zip(read, results, strict=True)))
    converted = [name for r in results for name in r.converted]
    left = sum(line.endswith("; left as is") for r in results for line in r.notes)
    changed = sum(r.text is not None for r in results)
    note(f"converted {plural(len(converted), 'object')} in {plural(changed, 'file')} to sealer.dev/v1alpha1"
         + (f"; {plural(left, 'object')} left as is (above)" if left else ""))
