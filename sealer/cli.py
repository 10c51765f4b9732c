"""Command line: parse, call the library, print. No crypto and no format logic here.

Heavy modules (cryptography, YAML libraries, later kopf/kubernetes/hvac) are imported inside commands so
that `sealer --help` and shell completion stay fast.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from sealer import __version__
from sealer.errors import EXIT_INPUT, EXIT_INTERNAL, InputError, SealerError

SCOPES = ("strict", "namespace-wide", "cluster-wide")
OUTPUT_FORMATS = ("yaml", "json")
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}


def _emit(text: str, out: str | None = None, mode: int | None = None) -> None:
    """Write everything at once, after all work succeeded: to OUT atomically, or to stdout."""
    if out and out != "-":
        from sealer.fsio import atomic_write

        atomic_write(out, text.encode(), mode)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def _note(message: str) -> None:
    click.echo(message, err=True)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


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

    Exit codes: 0 success, 1 operation failed (e.g. no key opens a value), 2 bad input or usage.
    """


# --- keys ---------------------------------------------------------------------------------------------

@cli.group(context_settings=CONTEXT)
def keys() -> None:
    """Sealing key pairs (see keys/README.md for storage, renewal, backup and recovery)."""


@keys.command("generate", context_settings=CONTEXT)
@click.option("--out-dir", required=True, type=click.Path(file_okay=False),
              help="Directory for sealer.key and sealer.crt.")
@click.option("--bits", default=4096, show_default=True, help="RSA modulus size.")
@click.option("--cn", default="sealer", show_default=True, help="Certificate common name.")
@click.option("--days", default=3650, show_default=True, help="Certificate validity.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def keys_generate(out_dir: str, bits: int, cn: str, days: int, force: bool) -> None:
    """Write DIR/sealer.key (PKCS#1 PEM, mode 0600) and DIR/sealer.crt (self-signed)."""
    from sealer import keys as k
    from sealer.fsio import atomic_write

    key_path, crt_path = os.path.join(out_dir, "sealer.key"), os.path.join(out_dir, "sealer.crt")
    existing = [p for p in (key_path, crt_path) if os.path.exists(p)]
    if existing and not force:
        raise InputError("already exists; pass --force to overwrite", source=existing[0])
    key, cert = k.generate(bits=bits, cn=cn, days=days)
    if existing:
        _note(f"warning: replacing {', '.join(existing)}: SealedSecrets sealed to the old key need its backup")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create directory: {e.strerror}", source=out_dir) from None
    atomic_write(key_path, k.private_key_pem(key), mode=0o600)
    atomic_write(crt_path, k.cert_pem(cert), mode=0o644)
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
        _emit("".join(f"{r['fingerprint']}  {r['keyAlgorithm']}  {r['origin']}\n" for r in rows))
    else:
        from sealer import manifests

        _emit(manifests.dump_data(rows, fmt))


# --- seal ---------------------------------------------------------------------------------------------

def _load_cert(cert: str | None):  # -> SealingCert
    from sealer import keys as k

    if not cert:
        raise InputError("no certificate: pass --cert FILE_OR_URL or set SEALER_CERT", field="--cert")
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
@click.option("--api-version", default="sealer.dev/v1alpha1", show_default=True,
              type=click.Choice(("sealer.dev/v1alpha1", "bitnami.com/v1alpha1")))
@click.option("--raw", is_flag=True, help="Seal one value (--from-file) and print its base64 ciphertext.")
@click.option("--from-file", metavar="PATH", help="With --raw: the value to seal ('-' for stdin).")
@click.option("--merge-into", metavar="FILE", help="Add or replace items in this SealedSecret, in place.")
@click.option("--allow-empty-data", is_flag=True, help="Seal a Secret with no items.")
def seal(file: str, cert: str | None, scope: str | None, namespace: str | None, name: str | None, fmt: str,
         out: str | None, api_version: str, raw: bool, from_file: str | None, merge_into: str | None,
         allow_empty_data: bool) -> None:
    """Encrypt Secret manifests (FILE or stdin) into SealedSecrets for the cluster's certificate."""
    from sealer import manifests, sealed
    from sealer.fsio import read_input
    from sealer.hybrid import Scope

    chosen = Scope(scope) if scope else None
    if raw:
        if not from_file:
            raise InputError("--raw needs --from-file PATH", field="--from-file")
        if merge_into:
            raise InputError("--raw and --merge-into do not combine", field="--raw")
        value, _ = read_input(from_file)
        c = _load_cert(cert)
        _emit(sealed.seal_value(c, value, chosen or Scope.STRICT, namespace or "", name or ""), out)
        return
    if from_file:
        raise InputError("--from-file only goes with --raw", field="--from-file")
    data, source = read_input(file)
    objects = manifests.load_objects(data, source)
    if not objects:
        raise InputError("no Secret in input", source=source)
    c = _load_cert(cert)
    if merge_into:
        _merge(objects, source, merge_into, c, namespace, name)
        return
    if name and len(objects) > 1:
        raise InputError("--name applies to a single Secret, input has several", field="--name")
    result = []
    for obj in objects:
        try:
            result.append(sealed.seal_secret(obj, c, scope=chosen, namespace=namespace, name=name,
                                             api_version=api_version, allow_empty=allow_empty_data))
        except SealerError as e:
            raise sealed.located(e, obj, source) from None
    _emit(manifests.dump_objects(result, fmt), out)


def _merge(objects, source: str, target: str, cert, namespace: str | None, name: str | None) -> None:
    from sealer import roundtrip, sealed
    from sealer.fsio import atomic_write, read_input

    if len(objects) != 1:
        raise InputError(f"--merge-into takes one Secret, input has {len(objects)}", source=source)
    data, tsource = read_input(target)
    doc = roundtrip.load(data, tsource)
    targets = [d for d in doc.docs if sealed.is_sealed_secret(d)]
    if len(targets) != 1:
        raise InputError(f"expected exactly one SealedSecret, found {len(targets)}", source=tsource)
    secret = objects[0]
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
    from sealer import keys as k

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
    from sealer import manifests, sealed
    from sealer.fsio import read_input

    data, source = read_input(file)
    objects = manifests.load_objects(data, source)
    if not objects:
        raise InputError("no SealedSecret in input", source=source)
    private_keys = _load_keys(key_paths)
    secrets = []
    for obj in objects:
        try:
            secrets.append(sealed.unseal(obj, private_keys))
        except SealerError as e:
            raise sealed.located(e, obj, source) from None
    _emit(manifests.dump_objects(secrets, fmt))


@cli.command(context_settings=CONTEXT)
@click.argument("files", nargs=-1, required=True)
@click.option("--key", "key_paths", multiple=True, metavar="PATH", help="Old private key(s). Repeatable.")
@click.option("--cert", envvar="SEALER_CERT", metavar="FILE_OR_URL", help="New sealing certificate.")
@click.option("-i", "--in-place", is_flag=True, help="Rewrite the files (atomically) instead of printing.")
def reencrypt(files: tuple[str, ...], key_paths: tuple[str, ...], cert: str | None, in_place: bool) -> None:
    """Re-seal every SealedSecret in FILES to a new certificate, offline; scope and template kept.

    All files are processed before any is written: one failure leaves every file untouched.
    Comments and formatting are preserved; other documents in the files are left as they are.
    """
    from sealer import roundtrip, sealed
    from sealer.fsio import atomic_write, read_input

    if in_place and "-" in files:
        raise InputError("-i cannot rewrite stdin", field="-i")
    private_keys = _load_keys(key_paths)
    c = _load_cert(cert)
    results, n_items, n_objects = [], 0, 0
    for file in files:
        data, source = read_input(file)
        doc = roundtrip.load(data, source)
        found = [d for d in doc.docs if sealed.is_sealed_secret(d)]
        if not found:
            _note(f"{source}: no SealedSecret, left as is")
        changed = 0
        for obj in found:
            try:
                changed += sealed.reencrypt(obj, private_keys, c)
            except SealerError as e:
                raise sealed.located(e, obj, source) from None
        n_items += changed
        n_objects += len(found)
        results.append((file, doc, changed))
    if in_place:
        for file, doc, changed in results:
            if changed:  # already sealed to this cert: leave the file (and its mtime) alone
                atomic_write(file, doc.dumps().encode())
    else:
        _emit("---\n".join(doc.dumps() for _, doc, _ in results))
    _note(f"re-encrypted {_plural(n_items, 'item')} in {_plural(n_objects, 'SealedSecret')} "
          f"to key {c.fingerprint[:16]}")


# --- cert ---------------------------------------------------------------------------------------------

@cli.command(context_settings=CONTEXT)
@click.option("--cert", envvar="SEALER_CERT", metavar="FILE_OR_URL", help="Certificate (env SEALER_CERT).")
@click.option("-o", "--output", "fmt", type=click.Choice(("text", *OUTPUT_FORMATS)), default="text",
              show_default=True)
def cert(cert: str | None, fmt: str) -> None:
    """Show a sealing certificate: fingerprint, subject, validity. Exit 1 unless it is valid now."""
    from sealer import keys as k

    if not cert:
        raise InputError("no certificate: pass --cert FILE_OR_URL or set SEALER_CERT", field="--cert")
    info = k.load_cert(cert).describe()
    if fmt == "text":
        width = max(map(len, info))
        _emit("".join(f"{key:<{width}}  {value}\n" for key, value in info.items()))
    else:
        from sealer import manifests

        _emit(manifests.dump_data(info, fmt))
    if info["status"] != "valid":
        sys.exit(1)


# --- the edge -----------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> NoReturn:
    """Run the CLI; turn every error into one line on stderr and a documented exit code."""
    try:
        rc = cli.main(args=argv, prog_name="sealer", standalone_mode=False)
        sys.exit(rc if isinstance(rc, int) else 0)
    except SealerError as e:
        click.echo(f"sealer: error: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(EXIT_INPUT if e.exit_code == 2 else e.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("sealer: interrupted", err=True)
        sys.exit(130)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(141)
    except Exception as e:
        if os.environ.get("SEALER_DEBUG"):
            raise
        # The exception text could quote input; only its type is shown. SEALER_DEBUG=1 shows the traceback.
        click.echo(f"sealer: internal error ({type(e).__name__}); rerun with SEALER_DEBUG=1 and report it",
                   err=True)
        sys.exit(EXIT_INTERNAL)


if __name__ == "__main__":
    main()
