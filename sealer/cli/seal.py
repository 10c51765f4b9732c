"""Sealed Secrets: seal, unseal, reencrypt (offline, or by the cluster's controller) and validate."""

from __future__ import annotations

import click

from sealer import kube
from sealer.cli.cert import load_cert
from sealer.cli.keys import load_keys
from sealer.cli.options import CONTEXT, OUTPUT_FORMATS, SCOPES, cluster_options, controller_client, controller_options
from sealer.cli.output import emit, note, plural
from sealer.errors import DecryptionError, InputError, SealerError


@click.command(context_settings=CONTEXT)
@click.argument("file", default="-", required=False)
@click.option("--cert", envvar="SEALER_CERT", metavar="FILE_OR_URL", help="Sealing certificate (env SEALER_CERT).")
@click.option("--scope", type=click.Choice(SCOPES), help="Default: from the Secret's annotations, else strict.")
@click.option("-n", "--namespace", help="Namespace, when the Secret has none.")
@click.option("--name", help="Name, when the Secret has none (needed with --raw for strict scope).")
@click.option("-o", "--output", "fmt", type=click.Choice(OUTPUT_FORMATS), default="yaml", show_default=True)
@click.option("-w", "--write", "out", metavar="OUT", help="Write here (atomically) instead of stdout.")
@click.option("--api-version", default=kube.API_VERSION, show_default=True,
              type=click.Choice((kube.API_VERSION, kube.BITNAMI_API_VERSION)))
@click.option("--raw", is_flag=True, help="Seal one value (--from-file) and print its base64 ciphertext.")
@click.option("--from-file", metavar="PATH", help="With --raw: the value to seal ('-' for stdin).")
@click.option("--merge-into", metavar="FILE", help="Add or replace items in this SealedSecret, in place.")
@click.option("--allow-empty-data", is_flag=True, help="Seal a Secret with no items.")
@cluster_options
def seal(file: str, cert: str | None, scope: str | None, namespace: str | None, name: str | None, fmt: str,
         out: str | None, api_version: str, raw: bool, from_file: str | None, merge_into: str | None,
         allow_empty_data: bool, kubeconfig: str | None, kube_context: str | None,
         controller_namespace: str) -> None:
    """Encrypt Secret manifests (FILE or stdin) into SealedSecrets for the cluster's certificate.

    Without --cert, the cert the controller publishes is fetched through your kubeconfig.
    """
    cluster = {"kubeconfig": kubeconfig, "kube_context": kube_context, "controller_namespace": controller_namespace}
    from sealer.io import manifests
    from sealer.io.files import read_input
    from sealer.sealed import sealedsecret as sealed
    from sealer.sealed.hybrid import Scope

    chosen = Scope(scope) if scope else None
    if raw:
        if not from_file:
            raise InputError("--raw needs --from-file PATH", field="--from-file")
        if merge_into:
            raise InputError("--raw and --merge-into do not combine", field="--raw")
        value, _ = read_input(from_file)
        c = load_cert(cert, cluster)
        emit(sealed.seal_value(c, value, chosen or Scope.STRICT, namespace or "", name or ""), out)
        return
    if from_file:
        raise InputError("--from-file only goes with --raw", field="--from-file")
    data, source = read_input(file)
    objects = manifests.load_objects(data, source)
    if not objects:
        raise InputError("no Secret in input", source=source)
    c = load_cert(cert, cluster)
    if merge_into:
        _merge(objects, source, merge_into, c, namespace, name)
        return
    if name and len(objects) > 1:
        raise InputError("--name applies to a single Secret, input has several", field="--name")
    result = sealed.each(objects, source, lambda obj: sealed.seal_secret(
        obj, c, scope=chosen, namespace=namespace, name=name, api_version=api_version, allow_empty=allow_empty_data))
    emit(manifests.dump_objects(result, fmt), out)


def _merge(objects, source: str, target: str, cert, namespace: str | None, name: str | None) -> None:
    from sealer.io.files import locked

    if len(objects) != 1:
        raise InputError(f"--merge-into takes one Secret, input has {len(objects)}", source=source)
    with locked([target]):
        _merge_locked(objects[0], target, cert, namespace, name)


def _merge_locked(secret, target: str, cert, namespace: str | None, name: str | None) -> None:
    from sealer.io import roundtrip
    from sealer.io.files import atomic_write, read_input
    from sealer.sealed import sealedsecret as sealed

    data, tsource = read_input(target)
    doc = roundtrip.load(data, tsource)
    targets = [d for d in doc.docs if sealed.is_sealed_secret(d)]
    if len(targets) != 1:
        raise InputError(f"expected exactly one SealedSecret, found {len(targets)}", source=tsource)
    if namespace or name:
        sealed.resolve_target(secret, namespace, name)
    try:
        written = sealed.merge_into(targets[0], secret, cert)
    except SealerError as e:
        raise sealed.located(e, targets[0], tsource) from None
    atomic_write(target, doc.dumps().encode())
    note(f"merged {', '.join(written)} into {target}")


@click.command(context_settings=CONTEXT)
@click.argument("file", default="-", required=False)
@click.option("--key", "key_paths", multiple=True, metavar="PATH",
              help="Private key: PEM, or a YAML/JSON backup of key Secrets. Repeatable.")
@click.option("-o", "--output", "fmt", type=click.Choice(OUTPUT_FORMATS), default="yaml", show_default=True)
def unseal(file: str, key_paths: tuple[str, ...], fmt: str) -> None:
    """Decrypt SealedSecrets (sealer.dev or bitnami.com) offline into Secrets, for recovery.

    Prints nothing unless every value of every SealedSecret opens.
    """
    from sealer.io import manifests
    from sealer.io.files import read_input
    from sealer.sealed import sealedsecret as sealed

    data, source = read_input(file)
    objects = manifests.load_objects(data, source)
    if not objects:
        raise InputError("no SealedSecret in input", source=source)
    private_keys = load_keys(key_paths)
    secrets = sealed.each(objects, source, lambda obj: sealed.unseal(obj, private_keys))
    emit(manifests.dump_objects(secrets, fmt))


@click.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True)
@click.option("--key", "key_paths", multiple=True, metavar="PATH", help="Old private key(s). Repeatable.")
@click.option("--cert", envvar="SEALER_CERT", metavar="FILE_OR_URL", help="New sealing certificate.")
@click.option("--controller", "via_controller", is_flag=True,
              help="Let the controller re-seal to its newest key (POST /v1/rotate); no --key/--cert.")
@click.option("-i", "--in-place", is_flag=True, help="Rewrite the files (atomically) instead of printing.")
@controller_options
@click.pass_context
def reencrypt(ctx: click.Context, files: tuple[str, ...], key_paths: tuple[str, ...], cert: str | None,
              via_controller: bool, in_place: bool, **options) -> None:
    """Re-seal every SealedSecret in FILES to a new certificate; scope and template kept.

    Offline with --key OLD... --cert NEW, or with --controller by the cluster's controller, which re-seals to
    its newest key (nothing but ciphertext leaves your machine). Items already sealed to the target key are
    left byte-identical, so a second run changes nothing. All files are processed before any is written: one
    failure leaves every file untouched. Comments and formatting are preserved; other documents in the files
    are left as they are.
    """
    from sealer.io.files import locked

    if in_place and "-" in files:
        raise InputError("-i cannot rewrite stdin", field="-i")
    if via_controller:
        given = [f"--{p}" for p in ("key", "cert") if ctx.get_parameter_source(
            "key_paths" if p == "key" else p) == click.core.ParameterSource.COMMANDLINE]
        if given:
            raise InputError(f"--controller re-seals to the cluster's newest key: {' and '.join(given)} do not "
                             "combine with it", field="--controller")
        controller, private_keys, c = controller_client(options), None, None
    else:
        controller, private_keys, c = None, load_keys(key_paths), load_cert(cert)
    with locked(files if in_place else ()):  # from the reads to the writes
        _reencrypt_files(files, in_place, controller, private_keys, c)


def _reencrypt_files(files, in_place: bool, controller, private_keys, c) -> None:
    """reencrypt's work; ``controller`` for --controller, else ``private_keys`` and the cert ``c``."""
    from sealer.io import roundtrip
    from sealer.io.files import atomic_write, read_input
    from sealer.sealed import operations
    from sealer.sealed import sealedsecret as sealed

    results, n_items, n_objects, fingerprint = [], 0, 0, c.fingerprint if c else ""
    for file in files:
        data, source = read_input(file)
        doc = roundtrip.load(data, source)
        found = [d for d in doc.docs if sealed.is_sealed_secret(d)]
        if not found:
            note(f"{source}: no SealedSecret, left as is")
        changed, edited, latest = operations.reencrypt_all(found, source, controller=controller,
                                                           private_keys=private_keys, cert=c)
        if latest is not None:
            fingerprint = latest
        n_items += changed
        n_objects += len(found)
        results.append((file, doc, changed or edited))
    if in_place:
        for file, doc, changed in results:
            if changed:  # already sealed to this cert: leave the file (and its mtime) alone
                atomic_write(file, doc.dumps().encode())
    else:
        emit("---\n".join(doc.dumps() for _, doc, _ in results))
    note(f"re-encrypted {plural(n_items, 'item')} in {plural(n_objects, 'SealedSecret')}"
         + (f" to key {fingerprint[:16]}" if fingerprint else ""))


@click.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1)
@controller_options
def validate(files: tuple[str, ...], **options) -> None:
    """Ask the cluster's controller whether each SealedSecret in FILES (or stdin) opens with its keys.

    One line per SealedSecret. Exit 0 if all open, 1 if any does not, 2 for bad input or when the controller
    cannot be reached. Only ciphertext is sent (POST /v1/verify); nothing is decrypted on your machine.
    """
    from sealer.io import manifests
    from sealer.io.files import read_input
    from sealer.safetext import printable
    from sealer.sealed import operations

    todo = []
    for file in files or ("-",):
        data, source = read_input(file)
        todo += [(source, obj) for obj in operations.checked(manifests.load_objects(data, source), source)]
    problems = operations.verify_all(controller_client(options), todo)
    lines = []
    for (source, obj), problem in zip(todo, problems, strict=True):
        meta = obj["metadata"]
        what = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
        lines.append(f"{source}: {what}: " + ("ok" if problem is None else
                                              f"does not open with the cluster's keys ({problem})"))
    emit("".join(printable(line) + "\n" for line in lines))  # names from the files: escaped
    failed = sum(problem is not None for problem in problems)
    if failed:
        verb = "does" if failed == 1 else "do"
        raise DecryptionError(f"{failed} of {plural(len(todo), 'SealedSecret')} {verb} not open with the cluster's "
                              "keys")
