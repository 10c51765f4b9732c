"""Sealed Secrets: seal, unseal, reencrypt (offline, or by the cluster's controller) and validate."""

from __future__ import annotations

import click

from sealer import kube
from sealer.cli.cert import load_cert
from sealer.cli.keys import load_keys
from sealer.cli.options import (
    CONTEXT,
    OUTPUT_FORMATS,
    SCOPES,
    cluster_of,
    cluster_options,
    controller_client,
    controller_options,
)
from sealer.cli.output import emit, note, plural
from sealer.errors import DecryptionError, InputError, SealerError

CERT_ENV = ["SEALER_CERT", "SEALED_SECRETS_CERT"]  # sealer's, then kubeseal's


def format_for(fmt: str | None, out: str | None, default: str = "yaml") -> str:
    """-o/--format when given, else the output file's extension (.json, .yaml/.yml), else ``default``."""
    if fmt:
        return fmt
    ext = (out or "").rsplit(".", 1)[-1].lower() if "." in (out or "") else ""
    return {"json": "json", "yaml": "yaml", "yml": "yaml"}.get(ext, default)


def check_key_stdin(key_paths: tuple[str, ...], inputs: tuple[str, ...]) -> None:
    """`--key -` reads the key from stdin, which then cannot also carry the input."""
    if "-" in key_paths and "-" in inputs:
        raise InputError("'-' reads the private key from stdin, which already carries the input: give the input "
                         "as a FILE", field="--key")


def context_namespace(cluster: dict) -> str | None:
    """The kubeconfig context's namespace ("default" when it names none), None without a kubeconfig."""
    from sealer.kube import context_namespace as from_kubeconfig

    return from_kubeconfig(cluster.get("kubeconfig"), cluster.get("kube_context"))


def raw_value(from_files: tuple[str, ...]) -> bytes:
    """The one value `--raw` seals: --from-file PATH or NAME=PATH (kubectl's syntax; the name is not used), else
    stdin, as kubeseal reads it."""
    from sealer.io.files import read_input

    files = [f for spec in from_files for f in spec.split(",") if f]
    if len(files) > 1:
        raise InputError("--raw seals one value: give one --from-file", field="--from-file")
    path = files[0].split("=", 1)[-1] if files else "-"
    return read_input(path)[0]


def raw_target(scope, namespace: str | None, name: str | None, cluster: dict) -> tuple[str, str]:
    """(namespace, name) for --raw: -n, else the kubeconfig context's where the scope needs one (sealing says what
    is still missing)."""
    from sealer.sealed.hybrid import Scope

    if not namespace and scope is not Scope.CLUSTER_WIDE:
        namespace = context_namespace(cluster)
    return namespace or "", name or ""


def gap_namespace(obj, scope, cluster: dict) -> str | None:
    """The namespace for a Secret that has none and no -n: the kubeconfig context's, as kubeseal takes it (None
    when the scope needs none or there is no kubeconfig: sealing then says what is missing)."""
    from sealer.io import manifests
    from sealer.sealed import hybrid
    from sealer.sealed.hybrid import Scope

    meta = manifests.metadata(obj)
    if meta.get("namespace"):
        return None
    chosen = scope or hybrid.scope_from_annotations(meta.get("annotations"))
    return None if chosen is Scope.CLUSTER_WIDE else context_namespace(cluster)


@click.command(context_settings=CONTEXT)
@click.argument("file", default=None, required=False)
@click.option("-f", "--secret-file", metavar="FILE", help="The Secret manifest (kubeseal's name for FILE).")
@click.option("--cert", envvar=CERT_ENV, metavar="FILE_OR_URL",
              help="Sealing certificate: path, file://, http(s):// (env SEALER_CERT or SEALED_SECRETS_CERT).")
@click.option("--scope", type=click.Choice(SCOPES), help="Default: from the Secret's annotations, else strict.")
@click.option("-n", "--namespace", help="Namespace, when the Secret has none (default: the kubeconfig context's).")
@click.option("--name", help="Name, when the Secret has none (needed with --raw for strict scope).")
@click.option("-o", "--output", "--format", "fmt", type=click.Choice(OUTPUT_FORMATS),
              help="Output format (default: from -w's extension, else yaml).")
@click.option("-w", "--output-file", "--write", "--sealed-secret-file", "out", metavar="FILE",
              help="Write to FILE (atomically) instead of stdout.")
@click.option("--api-version", default=kube.API_VERSION, show_default=True,
              type=click.Choice((kube.API_VERSION, kube.BITNAMI_API_VERSION)))
@click.option("--raw", is_flag=True, help="Seal one value (--from-file, else stdin) and print its base64 ciphertext.")
@click.option("--from-file", "from_files", multiple=True, metavar="[NAME=]PATH",
              help="With --raw: the value to seal ('-' for stdin).")
@click.option("--merge-into", metavar="FILE", help="Add or replace items in this SealedSecret, in place.")
@click.option("--allow-empty-data", is_flag=True, help="Seal a Secret with no items.")
@click.option("--controller-name", metavar="NAME",
              help="Without --cert: fetch the cert from this controller's /v1/cert.pem through the API server's "
                   "service proxy (default: the ConfigMap the controller publishes).")
@cluster_options
def seal(file: str | None, secret_file: str | None, cert: str | None, scope: str | None, namespace: str | None,
         name: str | None, fmt: str | None, out: str | None, api_version: str, raw: bool, from_files: tuple[str, ...],
         merge_into: str | None, allow_empty_data: bool, **options) -> None:
    """Encrypt Secret manifests (FILE or stdin) into SealedSecrets for the cluster's certificate.

    Without --cert, the cert the controller publishes is fetched through your kubeconfig. A Secret without a
    namespace gets -n, else the kubeconfig context's (as kubeseal does).
    """
    cluster = cluster_of(options)
    from sealer.io import manifests
    from sealer.io.files import read_input
    from sealer.sealed import sealedsecret as sealed
    from sealer.sealed.hybrid import Scope

    if file and secret_file:
        raise InputError("give the Secret as FILE or -f/--secret-file, not both", field="-f")
    file = file or secret_file or "-"
    fmt = format_for(fmt, out)
    chosen = Scope(scope) if scope else None
    if raw:
        if merge_into:
            raise InputError("--raw and --merge-into do not combine", field="--raw")
        value = raw_value(from_files)
        c = load_cert(cert, cluster)
        ns, nm = raw_target(chosen or Scope.STRICT, namespace, name, cluster)
        emit(sealed.seal_value(c, value, chosen or Scope.STRICT, ns, nm), out)
        return
    if from_files:
        raise InputError("--from-file only goes with --raw", field="--from-file")
    data, source = read_input(file)
    objects = manifests.load_objects(data, source)
    if not objects:
        raise InputError("no Secret in input", source=source)
    c = load_cert(cert, cluster)
    if merge_into:
        merge_into_file(objects, source, merge_into, c, namespace, name)
        return
    if name and len(objects) > 1:
        raise InputError("--name applies to a single Secret, input has several", field="--name")
    result = sealed.each(objects, source, lambda obj: sealed.seal_secret(
        obj, c, scope=chosen, namespace=namespace or gap_namespace(obj, chosen, cluster), name=name,
        api_version=api_version, allow_empty=allow_empty_data))
    emit(manifests.dump_objects(result, fmt), out)


def merge_into_file(objects, source: str, target: str, cert, namespace: str | None, name: str | None) -> None:
    """--merge-into: the one Secret of ``objects`` sealed into the SealedSecret file ``target``, in place."""
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
@click.option("--key", "--recovery-private-key", "key_paths", multiple=True, metavar="PATH",
              help="Private key: PEM (the key Secret's tls.key), or a YAML/JSON backup of key Secrets; '-' reads "
                   "it from stdin. Repeatable.")
@click.option("-o", "--output", "--format", "fmt", type=click.Choice(OUTPUT_FORMATS),
              help="Output format (default: from -w's extension, else yaml).")
@click.option("-w", "--output-file", "out", metavar="FILE",
              help="Write the Secrets to FILE (atomically, mode 0600) instead of stdout.")
def unseal(file: str, key_paths: tuple[str, ...], fmt: str | None, out: str | None) -> None:
    """Decrypt SealedSecrets (sealer.dev or bitnami.com) offline into Secrets, for recovery.

    Prints nothing unless every value of every SealedSecret opens. Exit 1 if a value opens with no key,
    2 for bad input (not a SealedSecret, ciphertext that is not base64, a certificate given as --key).
    """
    from sealer.io import manifests
    from sealer.io.files import read_input
    from sealer.sealed import sealedsecret as sealed

    check_key_stdin(key_paths, (file,))
    data, source = read_input(file)
    objects = manifests.load_objects(data, source)
    if not objects:
        raise InputError("no SealedSecret in input", source=source)
    private_keys = load_keys(key_paths)
    secrets = sealed.each(objects, source, lambda obj: sealed.unseal(obj, private_keys))
    emit(manifests.dump_objects(secrets, format_for(fmt, out)), out, 0o600)  # plaintext: private


@click.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True)
@click.option("--key", "key_paths", multiple=True, metavar="PATH",
              help="Old private key(s); '-' reads one from stdin. Repeatable.")
@click.option("--cert", envvar=CERT_ENV, metavar="FILE_OR_URL", help="New sealing certificate.")
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
        check_key_stdin(key_paths, files)
        controller, private_keys, c = None, load_keys(key_paths), load_cert(cert)
    with locked(files if in_place else ()):  # from the reads to the writes
        _reencrypt_files(files, in_place, controller, private_keys, c)


def _reencrypt_files(files, in_place: bool, controller, private_keys, c) -> None:
    """reencrypt's work; ``controller`` for --controller, else ``private_keys`` and the cert ``c``."""
    from sealer.cli.progress import track
    from sealer.io import roundtrip
    from sealer.io.files import atomic_write, read_input
    from sealer.sealed import operations
    from sealer.sealed import sealedsecret as sealed

    results, n_items, n_objects, fingerprint = [], 0, 0, c.fingerprint if c else ""
    with track(files, "re-encrypting") as each:  # a bar on a terminal, for many files (sealer.cli.progress)
        for file in each:
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
@click.option("-o", "--output", "--format", "fmt", type=click.Choice(("text", *OUTPUT_FORMATS)), default="text",
              show_default=True, help="json/yaml: a list, one entry per SealedSecret (file, namespace, name, ok, "
              "error, keyFingerprint).")
@controller_options
def validate(files: tuple[str, ...], fmt: str, **options) -> None:
    """Ask the cluster's controller whether each SealedSecret in FILES (or stdin) opens with its keys.

    One line per SealedSecret (-o json|yaml: one entry each). Exit 0 if all open, 1 if any does not, 2 for bad
    input (not a SealedSecret, ciphertext that is not base64) or when the controller cannot be reached. Only
    ciphertext is sent (POST /v1/verify); nothing is decrypted on your machine.
    """
    from sealer.io import manifests
    from sealer.io.files import read_input
    from sealer.safetext import printable
    from sealer.sealed import operations
    from sealer.sealed.sealedsecret import FINGERPRINT_ANNOTATION

    todo = []
    for file in files or ("-",):
        data, source = read_input(file)
        todo += [(source, obj) for obj in operations.checked(manifests.load_objects(data, source), source)]
    problems = operations.verify_all(controller_client(options), todo)
    lines, rows = [], []
    for (source, obj), problem in zip(todo, problems, strict=True):
        meta = obj["metadata"]
        what = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
        lines.append(f"{source}: {what}: " + ("ok" if problem is None else
                                              f"does not open with the cluster's keys ({problem})"))
        # /v1/verify (Bitnami's API) answers yes or no; the key is the one the SealedSecret names as sealed for
        hint = (meta.get("annotations") or {}).get(FINGERPRINT_ANNOTATION)
        rows.append({"file": source, "namespace": meta.get("namespace") or None, "name": meta["name"],
                     "ok": problem is None, "error": problem,
                     "keyFingerprint": hint if problem is None and isinstance(hint, str) else None})
    if fmt == "text":
        emit("".join(printable(line) + "\n" for line in lines))  # names from the files: escaped
    else:
        emit(manifests.dump_data(rows, fmt))
    failed = sum(problem is not None for problem in problems)
    if failed:
        verb = "does" if failed == 1 else "do"
        raise DecryptionError(f"{failed} of {plural(len(todo), 'SealedSecret')} {verb} not open with the cluster's "
                              "keys")
