"""The click application behind `sealer`: parse, call the library, print. No crypto and no format logic here.

`sealer.cli.main` is the entry point; it runs simple `encrypt` / `decrypt` command lines without click (same
bodies, from `sealer.clitools`) and everything else through the `cli` group defined here.

Heavy modules (cryptography, YAML libraries, later kopf/kubernetes/hvac) are imported inside commands so
that `sealer --help` and shell completion stay fast.
"""

from __future__ import annotations

import os
import sys

import click

from sealer import __version__, clitools, kube
from sealer.errors import DecryptionError, InputError, SealerError
from sealer.safetext import printable

SCOPES = ("strict", "namespace-wide", "cluster-wide")
OUTPUT_FORMATS = ("yaml", "json")
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}

_emit = clitools.emit
_note = clitools.note
_plural = clitools.plural
_progress = clitools.progress
_opener = clitools.opener


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="sealer")
def cli() -> None:
    """Secrets in Git for GitOps: Git holds ciphertext only; the cluster turns it back into Secrets.

    \b
    Sealing (cluster key, wire-compatible with Bitnami Sealed Secrets):
      sealer keys generate --out-dir DIR     make a sealing key pair (offline clusters, tests)
      sealer seal secret.yaml --cert CERT    Secret -> SealedSecret
      sealer unseal sealed.yaml --key KEY    SealedSecret -> Secret (offline recovery)
      sealer reencrypt FILE... --key OLD --cert NEW -i
      sealer cert --cert CERT                fingerprint, subject, validity

    \b
    With the cluster's controller (kubeconfig + service proxy, or --controller-url):
      sealer validate FILE...                does each SealedSecret open with the cluster's keys?
      sealer reencrypt --controller FILE... -i   re-seal to the cluster's newest key

    \b
    SOPS (interoperable with the sops binary; age and Vault Transit):
      sealer encrypt secret.yaml --age age1... -i    Secret -> SOPS file (data/stringData encrypted)
      sealer decrypt secret.yaml                     SOPS file -> plaintext (MAC verified)
      sealer edit / set / unset / updatekeys / rotate
      sealer keys age-generate | kubectl apply --server-side -f -    age identity for the controller

    Exit codes: 0 success, 1 operation failed (no key opens a value, MAC mismatch), 2 bad input or usage.
    """


# --- keys ---------------------------------------------------------------------------------------------

@cli.group(context_settings=CONTEXT)
def keys() -> None:
    """Sealing key pairs and age identities (see keys/README.md for storage, renewal, backup and recovery)."""


@keys.command("generate", context_settings=CONTEXT)
@click.option("--out-dir", required=True, type=click.Path(file_okay=False),
              help="Directory for sealer.key and sealer.crt.")
@click.option("--bits", default=4096, show_default=True,
              help="RSA modulus size: a multiple of 256 from 2048 to 8192.")
@click.option("--cn", default="sealer", show_default=True, help="Certificate common name.")
@click.option("--days", default=3650, show_default=True, help="Certificate validity, 1 to 36500 days.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def keys_generate(out_dir: str, bits: int, cn: str, days: int, force: bool) -> None:
    """Write DIR/sealer.key (PKCS#1 PEM, mode 0600) and DIR/sealer.crt (self-signed).

    Both or neither: on a full disk (or any error) no half pair is left, so a rerun works. A directory this
    creates is 0700.
    """
    from sealer.io.files import write_all
    from sealer.sealed import keys as k

    key_path, crt_path = os.path.join(out_dir, "sealer.key"), os.path.join(out_dir, "sealer.crt")
    k.check_generate_args(bits=bits, cn=cn, days=days)  # before anything else: no slow key for a bad flag
    existing = [p for p in (key_path, crt_path) if os.path.lexists(p)]
    if existing and not force:
        raise InputError("already exists; pass --force to overwrite", source=existing[0])
    key, cert = k.generate(bits=bits, cn=cn, days=days)
    if existing:
        _note(f"warning: replacing {', '.join(existing)}: SealedSecrets sealed to the old key need its backup")
    created = not os.path.isdir(out_dir)
    try:
        os.makedirs(out_dir, mode=0o700, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create directory: {e.strerror}", source=out_dir) from None
    try:
        write_all([(key_path, k.private_key_pem(key), 0o600), (crt_path, k.cert_pem(cert), 0o644)])
    except BaseException:
        if created:  # leave no trace of a failed run
            import contextlib

            with contextlib.suppress(OSError):
                os.rmdir(out_dir)
        raise
    click.echo(f"wrote {key_path} (private, 0600) and {crt_path}")
    click.echo(f"fingerprint {k.fingerprint(key.public_key())}")


@keys.command("list", context_settings=CONTEXT)
@click.option("--key", "key_paths", multiple=True, required=True, metavar="PATH",
              help="PEM key file or key-Secret backup. Repeatable.")
@click.option("-o", "--output", "fmt", type=click.Choice(("text", *OUTPUT_FORMATS)), default="text",
              show_default=True)
def keys_list(key_paths: tuple[str, ...], fmt: str) -> None:
    """List the private keys in key files or backups: fingerprint, size, origin. Never prints key material."""
    rows = [{"fingerprint": key.fingerprint, "keyAlgorithm": f"RSA-{key.key.key_size}", "origin": key.origin}
            for key in _load_keys(key_paths)]
    if fmt == "text":
        _emit("".join(printable(f"{r['fingerprint']}  {r['keyAlgorithm']}  {r['origin']}") + "\n" for r in rows))
    else:
        from sealer.io import manifests

        _emit(manifests.dump_data(rows, fmt))


AGE_ITEM = "age.agekey"  # Flux's name; the controller reads every key ending in .agekey
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"


def _private_stdout() -> None:
    """When stdout is a regular file (`> age.yaml`), it is about to hold a private key: make it 0600 when it is
    readable by others, or say so on stderr when that is not ours to change."""
    import stat

    try:
        st = os.fstat(1)
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o077:
        return
    try:
        path = os.readlink("/proc/self/fd/1")
    except OSError:
        path = "stdout"
    try:
        os.fchmod(1, st.st_mode & 0o7700)
    except OSError:
        _note(f"warning: {path} is readable by others (mode {st.st_mode & 0o777:04o}) and is about to hold a "
              f"private key: chmod 600 it")
        return
    _note(f"{path}: made private (mode {st.st_mode & 0o700:04o}): it holds a private key")


def _stdout_in_git_tree() -> tuple[str, str] | None:
    """(file, work tree) when stdout is a regular file inside a Git work tree, as `> key.yaml` in a repo makes it.
    Where /proc is missing the file's directory is unknown, and the working directory is judged instead."""
    import stat

    try:
        if not stat.S_ISREG(os.fstat(1).st_mode):
            return None
    except OSError:
        return None
    try:
        path = os.readlink("/proc/self/fd/1")
    except OSError:
        path = ""
    directory = os.path.dirname(path) if path.startswith("/") else os.getcwd()
    while True:
        if os.path.exists(os.path.join(directory, ".git")):
            return path or "stdout", directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


@keys.command("age-generate", context_settings=CONTEXT)
@click.option("-n", "--namespace", default=kube.CONTROLLER_NAMESPACE, show_default=True,
              help="Namespace of the Secret (the controller's).")
@click.option("--name", default="sealer-age", show_default=True, help="Name of the Secret.")
def keys_age_generate(namespace: str, name: str) -> None:
    """Print a new age identity as a Secret for the controller, ready for kubectl.

    `sealer keys age-generate | kubectl apply --server-side -f -` (server-side apply keeps the key out of the
    last-applied-configuration annotation). The Secret holds the identity under the key age.agekey (Flux's
    naming), labelled app.kubernetes.io/part-of=sealer. The recipient (age1...) and a .sops.yaml rule for it
    go to stderr. Nothing is written to disk, and stdout redirected into a file inside a Git work tree is
    refused: the identity exists only in this output, so apply it and keep a backup somewhere safe. Stdout
    redirected into a file elsewhere is made 0600 (or, when that file is not ours to change, a warning says so).
    """
    import datetime
    import re

    from sealer.io import manifests

    if not re.fullmatch(_DNS_LABEL, namespace):
        raise InputError(f"{namespace!r} is not a valid namespace (lowercase letters, digits, '-')",
                         field="--namespace")
    if len(name) > 253 or not re.fullmatch(rf"{_DNS_LABEL}(\.{_DNS_LABEL})*", name):
        raise InputError(f"{name!r} is not a valid Secret name (lowercase letters, digits, '-', '.')",
                         field="--name")
    inside = _stdout_in_git_tree()
    if inside:
        raise InputError(f"stdout is a file inside the Git work tree {inside[1]}: a private key must not be "
                         "committed; pipe it to `kubectl apply --server-side -f -` instead", source=inside[0])
    _private_stdout()
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    keyfile = f"# created: {created}\n# public key: {recipient}\n{identity}\n"  # as age-keygen writes it
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "sealer"}},
        "type": "Opaque",
        "data": {AGE_ITEM: manifests.b64(keyfile.encode())},
    }
    _emit(manifests.dump_objects([secret], "yaml"))
    _note(f"age recipient: {recipient}\n"
          "# .sops.yaml: Secrets in this repository encrypted to it (data and stringData; metadata stays readable)\n"
          "creation_rules:\n"
          "  - path_regex: .*\\.ya?ml$\n"
          "    encrypted_regex: ^(data|stringData)$\n"
          f"    age: {recipient}\n"
          f"The identity is only in the Secret on stdout ({namespace}/{name}): apply it and keep a backup.")


# --- seal ---------------------------------------------------------------------------------------------

def _cluster_options(f, purpose: str = "fetching the cert when --cert is not given"):
    """Where the cluster is (the user's kubeconfig): for the published cert, or the controller's service proxy."""
    f = click.option("--controller-namespace", default=kube.CONTROLLER_NAMESPACE, show_default=True,
                     help="Namespace of the sealer controller.")(f)
    f = click.option("--context", "kube_context", metavar="NAME", help="kubeconfig context.")(f)
    return click.option("--kubeconfig", metavar="PATH", envvar="KUBECONFIG",
                        help=f"kubeconfig for {purpose}.")(f)


def _controller_options(f):
    """How to reach the controller's HTTP API: --controller-url, else the API server's service proxy."""
    f = click.option("--timeout", default=30.0, show_default=True, metavar="SECONDS",
                     type=click.FloatRange(min=0, min_open=True), help="Per request.")(f)
    f = click.option("--controller-url", envvar="SEALER_CONTROLLER_URL", metavar="URL",
                     help="Talk to the controller directly (e.g. a port-forward) instead of through the API "
                          "server's service proxy; env SEALER_CONTROLLER_URL.")(f)
    f = click.option("--controller-name", default="sealer-controller", show_default=True,
                     help="The controller's Service (port named http).")(f)
    return _cluster_options(f, "the API server's service proxy to the controller")


def _controller(options: dict):  # -> controllerapi.Controller
    from sealer.sealed import controllerapi

    return controllerapi.Controller(options["controller_url"], namespace=options["controller_namespace"],
                                    name=options["controller_name"], kubeconfig=options["kubeconfig"],
                                    context=options["kube_context"], timeout=options["timeout"])


def _load_cert(cert: str | None, cluster: dict | None = None):  # -> SealingCert
    from sealer.sealed import keys as k

    if not cert:
        from sealer.sealed import clustercert

        cluster = cluster or {}
        namespace = cluster.get("controller_namespace") or kube.CONTROLLER_NAMESPACE
        pem = clustercert.fetch(namespace, cluster.get("kubeconfig"), cluster.get("kube_context"))
        source = f"ConfigMap {namespace}/{kube.CERTS_CONFIGMAP}"
        loaded = k.parse_cert(pem, source)
        loaded.check_valid(source)
        return loaded
    loaded = k.load_cert(cert)
    loaded.check_valid(cert)
    return loaded


@cli.command(context_settings=CONTEXT)
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
@_cluster_options
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
        c = _load_cert(cert, cluster)
        _emit(sealed.seal_value(c, value, chosen or Scope.STRICT, namespace or "", name or ""), out)
        return
    if from_file:
        raise InputError("--from-file only goes with --raw", field="--from-file")
    data, source = read_input(file)
    objects = manifests.load_objects(data, source)
    if not objects:
        raise InputError("no Secret in input", source=source)
    c = _load_cert(cert, cluster)
    if merge_into:
        _merge(objects, source, merge_into, c, namespace, name)
        return
    if name and len(objects) > 1:
        raise InputError("--name applies to a single Secret, input has several", field="--name")
    result = sealed.each(objects, source, lambda obj: sealed.seal_secret(
        obj, c, scope=chosen, namespace=namespace, name=name, api_version=api_version, allow_empty=allow_empty_data))
    _emit(manifests.dump_objects(result, fmt), out)


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
    _note(f"merged {', '.join(written)} into {target}")


# --- unseal / reencrypt -------------------------------------------------------------------------------

def _load_keys(paths: tuple[str, ...]):  # -> list[PrivateKey]
    from sealer.sealed import keys as k

    if not paths:
        raise InputError("no private keys: pass --key PATH (PEM or a backup of key Secrets)", field="--key")
    return [key for p in paths for key in k.load_private_keys(p)]


@cli.command(context_settings=CONTEXT)
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
    private_keys = _load_keys(key_paths)
    secrets = sealed.each(objects, source, lambda obj: sealed.unseal(obj, private_keys))
    _emit(manifests.dump_objects(secrets, fmt))


@cli.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True)
@click.option("--key", "key_paths", multiple=True, metavar="PATH", help="Old private key(s). Repeatable.")
@click.option("--cert", envvar="SEALER_CERT", metavar="FILE_OR_URL", help="New sealing certificate.")
@click.option("--controller", "via_controller", is_flag=True,
              help="Let the controller re-seal to its newest key (POST /v1/rotate); no --key/--cert.")
@click.option("-i", "--in-place", is_flag=True, help="Rewrite the files (atomically) instead of printing.")
@_controller_options
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
        controller, private_keys, c = _controller(options), None, None
    else:
        controller, private_keys, c = None, _load_keys(key_paths), _load_cert(cert)
    with locked(files if in_place else ()):  # from the reads to the writes
        _reencrypt_files(files, in_place, controller, private_keys, c)


def _reencrypt_files(files, in_place: bool, controller, private_keys, c) -> None:
    """reencrypt's work; ``controller`` for --controller, else ``private_keys`` and the cert ``c``."""
    from sealer.io import roundtrip
    from sealer.io.files import atomic_write, read_input
    from sealer.sealed import sealedsecret as sealed

    results, n_items, n_objects, fingerprint = [], 0, 0, c.fingerprint if c else ""
    for file in files:
        data, source = read_input(file)
        doc = roundtrip.load(data, source)
        found = [d for d in doc.docs if sealed.is_sealed_secret(d)]
        if not found:
            _note(f"{source}: no SealedSecret, left as is")
        changed = edited = 0
        for obj in found:
            try:
                if controller is not None:
                    from sealer.sealed import controllerapi

                    sealed.check_sealed(obj)
                    items, touched, fingerprint = controllerapi.apply_rotated(obj, controller.rotate(obj))
                    changed, edited = changed + items, edited + touched
                else:
                    changed += sealed.reencrypt(obj, private_keys, c)
            except SealerError as e:  # with a source already, the error is about reaching the controller
                raise (e if e.source else sealed.located(e, obj, source)) from None
        n_items += changed
        n_objects += len(found)
        results.append((file, doc, changed or edited))
    if in_place:
        for file, doc, changed in results:
            if changed:  # already sealed to this cert: leave the file (and its mtime) alone
                atomic_write(file, doc.dumps().encode())
    else:
        _emit("---\n".join(doc.dumps() for _, doc, _ in results))
    _note(f"re-encrypted {_plural(n_items, 'item')} in {_plural(n_objects, 'SealedSecret')}"
          + (f" to key {fingerprint[:16]}" if fingerprint else ""))


@cli.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1)
@_controller_options
def validate(files: tuple[str, ...], **options) -> None:
    """Ask the cluster's controller whether each SealedSecret in FILES (or stdin) opens with its keys.

    One line per SealedSecret. Exit 0 if all open, 1 if any does not, 2 for bad input or when the controller
    cannot be reached. Only ciphertext is sent (POST /v1/verify); nothing is decrypted on your machine.
    """
    from sealer.io import manifests
    from sealer.io.files import read_input
    from sealer.sealed import sealedsecret as sealed

    todo = []
    for file in files or ("-",):
        data, source = read_input(file)
        objects = manifests.load_objects(data, source)
        if not objects:
            raise InputError("no SealedSecret in input", source=source)
        for obj in objects:
            if not sealed.is_sealed_secret(obj):
                raise InputError(f"{manifests.describe(obj)} is not a SealedSecret (apiVersion "
                                 f"{kube.API_VERSION} or {kube.BITNAMI_API_VERSION})", source=source)
            try:
                sealed.check_sealed(obj)
            except SealerError as e:
                raise sealed.located(e, obj, source) from None
            todo.append((source, obj))
    controller = _controller(options)
    lines, failed = [], 0
    for source, obj in todo:
        meta = obj["metadata"]
        what = f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]
        try:
            problem = controller.verify(obj)
        except SealerError as e:  # about this SealedSecret, or (with a source: the URL) about reaching the cluster
            raise (e if e.source else sealed.located(e, obj, source)) from None
        failed += problem is not None
        lines.append(f"{source}: {what}: " + ("ok" if problem is None else
                                              f"does not open with the cluster's keys ({problem})"))
    _emit("".join(printable(line) + "\n" for line in lines))  # names from the files: escaped
    if failed:
        verb = "does" if failed == 1 else "do"
        raise DecryptionError(f"{failed} of {_plural(len(todo), 'SealedSecret')} {verb} not open with the cluster's "
                              "keys")


# --- cert ---------------------------------------------------------------------------------------------

@cli.group(context_settings=CONTEXT, invoke_without_command=True)
@click.option("--cert", envvar="SEALER_CERT", metavar="FILE_OR_URL", help="Certificate (env SEALER_CERT).")
@click.option("-o", "--output", "fmt", type=click.Choice(("text", *OUTPUT_FORMATS)), default="text",
              show_default=True)
@click.pass_context
def cert(ctx: click.Context, cert: str | None, fmt: str) -> None:
    """Show a sealing certificate: fingerprint, subject, validity. Exit 1 unless it is valid now.

    `sealer cert fetch > cert.pem` saves the cluster's published cert for offline sealing.
    """
    from sealer.sealed import keys as k

    if ctx.invoked_subcommand is not None:
        return
    if not cert:
        raise InputError("no certificate: pass --cert FILE_OR_URL or set SEALER_CERT", field="--cert")
    info = k.load_cert(cert).describe()
    if fmt == "text":
        width = max(map(len, info))
        _emit("".join(f"{key:<{width}}  {printable(str(value))}\n" for key, value in info.items()))  # subject: input
    else:
        from sealer.io import manifests

        _emit(manifests.dump_data(info, fmt))
    if info["status"] != "valid":
        sys.exit(1)


@cert.command("fetch", context_settings=CONTEXT)
@_cluster_options
def cert_fetch(kubeconfig: str | None, kube_context: str | None, controller_namespace: str) -> None:
    """Print the cert the controller publishes (ConfigMap sealer-certs), fetched through your kubeconfig."""
    from sealer.sealed import clustercert

    _emit(clustercert.fetch(controller_namespace, kubeconfig, kube_context, cert_option=False).decode())


# --- SOPS: encrypt / decrypt / edit / set / unset / updatekeys / rotate ---------------------------------

RULE_OPTIONS = (
    ("encrypted_regex", "Encrypt only values under keys matching this regex."),
    ("unencrypted_regex", "Leave values under keys matching this regex in plaintext."),
    ("encrypted_suffix", "Encrypt only values under keys ending with this suffix."),
    ("unencrypted_suffix", "Leave values under keys ending with this suffix in plaintext (default _unencrypted)."),
)
INPUT_TYPES = click.Choice(("yaml", "json"))
SCOPES = click.Choice(("strict", "namespace-wide", "cluster-wide"))


def _rule_options(f):
    for name, help_text in reversed(RULE_OPTIONS):
        f = click.option("--" + name.replace("_", "-"), name, metavar="RE" if "regex" in name else "S",
                         help=help_text)(f)
    return f


@cli.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1)
@click.option("--age", metavar="RECIPIENT,...", help="age recipients (age1..., ssh-ed25519, ssh-rsa).")
@click.option("--hc-vault-transit", "vault", metavar="URI,...",
              help="Vault Transit keys, e.g. https://vault:8200/v1/transit/keys/name.")
@_rule_options
@click.option("--mac-only-encrypted", is_flag=True, help="The MAC covers encrypted values only.")
@click.option("--kind", type=click.Choice(("secret", "sopssecret")), default="secret", show_default=True,
              help="For Secrets: keep kind Secret (Flux), or wrap as a sealer.dev SopsSecret.")
@click.option("--scope", type=SCOPES, help="--kind sopssecret: where the controller may decrypt it (default: "
              "strict, or the Secret's sealedsecrets.bitnami.com annotations).")
@click.option("-i", "--in-place", is_flag=True, help="Replace each FILE with its encrypted form.")
@click.option("-o", "--output", "out", metavar="OUT", help="Write here (atomically) instead of stdout.")
@click.option("--input-type", type=INPUT_TYPES, help="Format of the input (default: from the file name).")
@click.option("--filename-override", metavar="PATH", help="Path to match .sops.yaml rules against (for stdin).")
def encrypt(files, age, vault, encrypted_regex, unencrypted_regex, encrypted_suffix, unencrypted_suffix,
            mac_only_encrypted, kind, scope, in_place, out, input_type, filename_override) -> None:
    """Encrypt FILES as SOPS documents that the sops binary reads too.

    Recipients: --age/--hc-vault-transit, else SOPS_AGE_RECIPIENTS, else the first matching .sops.yaml
    creation rule. A Kubernetes Secret defaults to encrypted_regex ^(data|stringData)$. A SopsSecret is bound
    to its namespace and name (spec.binding, encrypted) unless --scope relaxes it.
    """
    clitools.encrypt(files, age, vault, encrypted_regex, unencrypted_regex, encrypted_suffix, unencrypted_suffix,
                     mac_only_encrypted, kind, in_place, out, input_type, filename_override, scope)


@cli.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1)
@click.option("-i", "--in-place", is_flag=True, help="Replace each FILE with its plaintext (think twice).")
@click.option("-o", "--output", "out", metavar="OUT", help="Write here (atomically) instead of stdout.")
@click.option("--extract", metavar="PATH", help='Print one value or subtree, e.g. \'["data"]["password"]\'.')
@click.option("--ignore-mac", is_flag=True, help="Do not verify the MAC (recovering a damaged file).")
@click.option("--decode", is_flag=True, help="Secrets: show data values base64-decoded (as stringData).")
@click.option("--age-key-file", metavar="PATH", help="age identities, in addition to the SOPS_AGE_* sources.")
@click.option("--input-type", type=INPUT_TYPES, help="Format of the input (default: from the file name).")
def decrypt(files, in_place, out, extract, ignore_mac, decode, age_key_file, input_type) -> None:
    """Decrypt SOPS FILES (written by sops or sealer) and verify their MAC.

    Identities: SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD, --age-key-file, the user's
    sops/age/keys.txt, SSH keys; Vault Transit with VAULT_TOKEN. Exit 1 if no identity opens a file or its
    MAC fails; nothing is printed or written then.
    """
    clitools.decrypt(files, in_place, out, extract, ignore_mac, decode, age_key_file, input_type)


@cli.command(context_settings=CONTEXT)
@click.argument("file")
@click.option("--age-key-file", metavar="PATH", help="age identities, in addition to the SOPS_AGE_* sources.")
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
    original = document.decrypt_tree(tree, source, opener=_opener(age_key_file))
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
        _note(f"sealer: error: {error}")
        return click.confirm("Edit again? (no: stop; your text is kept in a private recovery file)", default=True,
                             err=True)

    suffix = ".json" if tree.format == "json" else ".yaml"
    try:
        edited = editor.edit_text(plaintext, suffix, accept, retry, name=os.path.basename(file))
    except SealerError as e:
        raise e.within(source=source) from None
    if edited is None:
        _note(f"{source}: unchanged, not written")
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


@cli.command("set", context_settings=CONTEXT)
@click.argument("file")
@click.argument("path")
@click.argument("value", required=False)
@click.option("--value-stdin", is_flag=True,
              help="Read the value from stdin as a raw string (keeps it out of shell history).")
@click.option("--value-file", metavar="PATH", help="Read the value from a file as a raw string.")
@click.option("--age-key-file", metavar="PATH", help="age identities, in addition to the SOPS_AGE_* sources.")
def set_(file, path, value, value_stdin, value_file, age_key_file) -> None:
    """Set one value at PATH ('["data"]["key"]') to VALUE (JSON, as with sops set); others stay byte-identical."""
    from sealer.io.files import atomic_write, locked, read_input
    from sealer.sops import operations

    with locked([file]):  # from the read to the write: two writers serialise, neither update is lost
        data, source = read_input(file)
        tree = operations.load(data, source)
        node = _value_from(value, value_stdin, value_file, tree.format)
        atomic_write(file, operations.set_value(tree, source, _opener(age_key_file), path, node).encode())


@cli.command(context_settings=CONTEXT)
@click.argument("file")
@click.argument("path")
@click.option("--age-key-file", metavar="PATH", help="age identities, in addition to the SOPS_AGE_* sources.")
def unset(file, path, age_key_file) -> None:
    """Remove the value at PATH ('["data"]["key"]'); other values stay byte-identical."""
    from sealer.io.files import atomic_write, locked, read_input
    from sealer.sops import operations

    with locked([file]):
        data, source = read_input(file)
        tree = operations.load(data, source)
        atomic_write(file, operations.unset_value(tree, source, _opener(age_key_file), path).encode())


@cli.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--age-key-file", metavar="PATH", help="age identities, in addition to the SOPS_AGE_* sources.")
def updatekeys(files, yes, age_key_file) -> None:
    """Re-wrap each file's data key for the recipients its .sops.yaml rule names now. Values untouched."""
    from sealer.io.files import locked

    with locked(files):
        _updatekeys_files(files, yes, age_key_file)


def _updatekeys_files(files, yes: bool, age_key_file: str | None) -> None:
    from sealer.io.files import atomic_write, read_input
    from sealer.sops import keyservice, operations

    opener = _opener(age_key_file)
    pending = []
    with _progress(files, "updating keys") as bar:
        for file in bar:
            data, source = read_input(file)
            tree = operations.load(data, source)
            plan = keyservice.plan(file, is_secret=operations.is_secret_file(tree), env={})
            text, change = operations.updatekeys(tree, source, opener, plan)
            if text is None:
                _note(f"{source}: already up to date")
                continue
            _note(f"{source}: " + "; ".join(
                [*(f"+ {r}" for r in change.added), *(f"- {r}" for r in change.removed)] or ["key groups reshaped"]))
            pending.append((file, text))
    if pending and not yes and sys.stdin.isatty() and not click.confirm("Apply?", default=False, err=True):
        raise InputError("not confirmed; nothing written")
    for file, text in pending:
        atomic_write(file, text.encode())


@cli.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True)
@click.option("--scope", type=SCOPES, help="Bind to this scope (default: keep a file's scope; strict if it has "
              "none).")
@click.option("-i", "--in-place", is_flag=True, help="Replace each FILE (otherwise print the result).")
@click.option("--age-key-file", metavar="PATH", help="age identities, in addition to the SOPS_AGE_* sources.")
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

    opener = _opener(age_key_file)
    results = []
    with _progress(files, "rescoping") as bar:
        for file in bar:
            data, source = read_input(file)
            text, changes = operations.rescope(operations.load(data, source), source, opener,
                                               Scope(scope) if scope else None)
            _note(f"{source}: " + ("; ".join(changes) or "rule extended to encrypt spec.binding") if text
                  else f"{source}: already bound, unchanged")
            if text is not None or not in_place:
                results.append((file, text if text is not None else data.decode("utf-8-sig")))
    if results:
        clitools.write_results(results, in_place, None)


@cli.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True)
@click.option("--age-key-file", metavar="PATH", help="age identities, in addition to the SOPS_AGE_* sources.")
def rotate(files, age_key_file) -> None:
    """Give each file a new data key and re-encrypt every value, for the same recipients. In place."""
    from sealer.io.files import atomic_write, locked, read_input
    from sealer.sops import operations

    opener = _opener(age_key_file)
    results = []
    with locked(files):
        with _progress(files, "rotating") as bar:
            for file in bar:
                data, source = read_input(file)
                results.append((file, operations.rotate(operations.load(data, source), source, opener)))
        for file, text in results:
            atomic_write(file, text.encode())
    _note(f"rotated {_plural(len(results), 'file')}")


@cli.command(context_settings=CONTEXT)
@click.option("--keep", is_flag=True, help="Keep the working directory (logs, files) for a look afterwards.")
def demo(keep: bool) -> None:
    """Run the whole product on this machine: emulated cluster, real controller, seal, SOPS, Vault, lint."""
    from sealer_testkit import demo as demo_mod

    raise SystemExit(demo_mod.run(keep=keep))


from sealer.lint.command import lint  # noqa: E402

cli.add_command(lint)
