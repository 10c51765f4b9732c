"""`sealer kubeseal`: kubeseal's own single-verb interface, so `alias kubeseal='sealer kubeseal'` keeps scripts
working. Its flags, environment variables (SEALED_SECRETS_*) and defaults are kubeseal 0.36's, its work is
sealer's own commands' (seal, unseal, validate, reencrypt, cert fetch). Where they differ, and why:
- the controller is sealer's (`sealer-system/sealer-controller`, not `kube-system/sealed-secrets-controller`);
  without --cert the cert comes from the ConfigMap it publishes (any authenticated user may read it), or from
  --controller-name's /v1/cert.pem through the service proxy when that flag is given, as kubeseal fetches it;
- output is `sealer.dev/v1alpha1` (--api-version bitnami.com/v1alpha1 for Bitnami's kind);
- a Secret's own namespace and -n must agree (kubeseal silently prefers the Secret's), --merge-into keeps the
  file's own format and comments, errors are `sealer: error: ...` with sealer's exit codes (2 for bad input).
"""

from __future__ import annotations

import click

from sealer import __version__, kube
from sealer.cli.cert import cluster_cert_pem, load_cert
from sealer.cli.options import CONTEXT, OUTPUT_FORMATS, SCOPES, cluster_of, controller_client, kubectl_options
from sealer.cli.output import emit
from sealer.cli.seal import gap_namespace, merge_into_file, raw_target, raw_value
from sealer.errors import DecryptionError, InputError

ENV = "SEALED_SECRETS_"  # kubeseal reads every flag from SEALED_SECRETS_<FLAG> too


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    """pflag's string slices: repeated, or comma-separated."""
    return tuple(v for value in values for v in value.split(",") if v)


@click.command(context_settings=CONTEXT)
@click.option("--cert", envvar=[f"{ENV}CERT", "SEALER_CERT"], metavar="FILE_OR_URL",
              help="Certificate file or URL (file://, http(s)://) to seal to; default: the cluster's.")
@click.option("--controller-namespace", default=kube.CONTROLLER_NAMESPACE, show_default=True,
              envvar=f"{ENV}CONTROLLER_NAMESPACE", help="Namespace of the sealer controller.")
@click.option("--controller-name", envvar=f"{ENV}CONTROLLER_NAME", metavar="NAME",
              help=f"The controller's Service (default {kube.CONTROLLER_NAME}); given, the cert is fetched from its "
                   "/v1/cert.pem through the service proxy.")
@click.option("--controller-url", envvar="SEALER_CONTROLLER_URL", metavar="URL",
              help="Talk to the controller directly (a port-forward) instead of through the service proxy.")
@click.option("-o", "--format", "fmt", type=click.Choice(OUTPUT_FORMATS), default="json", show_default=True,
              envvar=f"{ENV}FORMAT", help="Output format (a .yaml/.yml -w file is written as YAML).")
@click.option("-w", "--sealed-secret-file", "out", metavar="FILE", envvar=f"{ENV}SEALED_SECRET_FILE",
              help="Output file, written atomically.")
@click.option("-f", "--secret-file", "source", metavar="FILE", envvar=f"{ENV}SECRET_FILE",
              help="Input file (default: stdin).")
@click.option("--fetch-cert", is_flag=True, help="Print the sealing certificate.")
@click.option("--allow-empty-data", is_flag=True, help="Seal a Secret with no items.")
@click.option("--validate", "validate", is_flag=True, help="Ask the controller whether the SealedSecret opens.")
@click.option("--merge-into", metavar="FILE", help="Merge the Secret's items into this SealedSecret file.")
@click.option("--raw", is_flag=True, help="Seal one value (--from-file, else stdin); print its ciphertext.")
@click.option("--name", metavar="NAME", help="Name of the SealedSecret (with --raw and strict scope: required).")
@click.option("--from-file", "from_files", multiple=True, metavar="[NAME=]PATH", help="With --raw: the value.")
@click.option("--scope", type=click.Choice(SCOPES), envvar=f"{ENV}SCOPE",
              help="strict, namespace-wide or cluster-wide (default: the Secret's annotations, else strict).")
@click.option("--re-encrypt", "--rotate", "re_encrypt", is_flag=True,
              help="Re-seal the SealedSecret to the cluster's newest key (by the controller).")
@click.option("--recovery-unseal", is_flag=True, help="Decrypt the SealedSecret offline with --recovery-private-key.")
@click.option("--recovery-private-key", "private_keys", multiple=True, metavar="FILE[,FILE]",
              help="Private keys for --recovery-unseal: PEM, or backups of key Secrets.")
@click.option("--api-version", default=kube.API_VERSION, show_default=True,
              type=click.Choice((kube.API_VERSION, kube.BITNAMI_API_VERSION)), help="Of the SealedSecrets written.")
@click.option("--timeout", default=30.0, type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Per request to the controller.")
@click.option("--version", "show_version", is_flag=True, help="Print the version.")
@click.option("-n", "--namespace", envvar=f"{ENV}NAMESPACE", metavar="NS",
              help="Namespace for a Secret without one (default: the kubeconfig context's).")
@click.option("--kubeconfig", metavar="PATH", envvar=[f"{ENV}KUBECONFIG", "KUBECONFIG"], help="kubeconfig file.")
@click.option("--context", "kube_context", metavar="NAME", envvar=f"{ENV}CONTEXT", help="kubeconfig context.")
@kubectl_options
def kubeseal(fmt: str, out: str | None, source: str | None, show_version: bool, **o) -> None:
    """kubeseal's interface on sealer: `alias kubeseal='sealer kubeseal'`.

    \b
    kubeseal < secret.json > sealed.json          seal (the cert from the cluster, or --cert)
    kubeseal -f secret.yaml -w sealed.yaml        the same, files; YAML from the .yaml extension
    kubeseal --raw --name N -n NS --from-file v   one value
    kubeseal --fetch-cert > cert.pem
    kubeseal --validate < sealed.yaml             exit 1 if the controller cannot open it
    kubeseal --re-encrypt -f sealed.yaml          re-sealed to the newest key, in place
    kubeseal --recovery-unseal --recovery-private-key key.pem < sealed.yaml
    """
    if show_version:
        emit(f"kubeseal version: {__version__} (sealer)\n")
        return
    if o["from_files"] and not o["raw"]:
        raise InputError("--from-file requires --raw", field="--from-file")
    if o["re_encrypt"] and not out and source:  # kubeseal re-encrypts in place when given only -f
        out = source
    if out and out.rsplit(".", 1)[-1].lower() in ("yaml", "yml"):  # kubeseal: the extension wins over --format
        fmt = "yaml"
    cluster = {**cluster_of(o), "controller_name": o["controller_name"]}
    if o["recovery_unseal"]:
        return _unseal(source, out, fmt, _split(o["private_keys"]))
    if o["validate"]:
        return _validate(source, _controller(cluster))
    if o["re_encrypt"]:
        return _reencrypt(source, out, fmt, _controller(cluster))
    if o["fetch_cert"]:
        return emit(_cert_pem(o["cert"], cluster).decode(), out)
    cert = load_cert(o["cert"], cluster)
    scope = _scope(o["scope"])
    if o["merge_into"]:
        return merge_into_file(*_read(source), o["merge_into"], cert, None, None)
    if o["raw"]:
        from sealer.sealed import sealedsecret as sealed
        from sealer.sealed.hybrid import Scope

        chosen = scope or Scope.STRICT
        value = raw_value(_split(o["from_files"]))
        namespace, name = raw_target(chosen, o["namespace"], o["name"], cluster)
        return emit(sealed.seal_value(cert, value, chosen, namespace, name), out)
    _seal(source, out, fmt, cert, scope, o, cluster)


def _scope(text: str | None):
    from sealer.sealed.hybrid import Scope

    return Scope(text) if text else None


def _controller(cluster: dict):
    return controller_client({**cluster, "controller_name": cluster["controller_name"] or kube.CONTROLLER_NAME})


def _cert_pem(cert: str | None, cluster: dict) -> bytes:
    """--fetch-cert: the --cert file or URL as it is, else the cluster's published cert."""
    if cert:
        from sealer.sealed.keys import read_cert_source

        return read_cert_source(cert)
    return cluster_cert_pem(cluster)[0]


def _read(source: str | None) -> tuple[list, str]:
    from sealer.io import manifests
    from sealer.io.files import read_input

    data, where = read_input(source or "-")
    objects = manifests.load_objects(data, where)
    if not objects:
        raise InputError("no object in input", source=where)
    return objects, where


def _seal(source: str | None, out: str | None, fmt: str, cert, scope, o: dict, cluster: dict) -> None:
    """Seal each Secret: --name replaces its name (kubeseal's override); a missing namespace comes from -n, else
    the kubeconfig context; none at all is kubeseal's error."""
    from sealer.io import manifests
    from sealer.sealed import sealedsecret as sealed

    objects, where = _read(source)
    if o["name"] and len(objects) > 1:
        raise InputError("--name applies to a single Secret, input has several", field="--name")

    def one(obj):
        if o["name"]:
            obj = {**obj, "metadata": {**manifests.metadata(obj), "name": o["name"]}}
        has_namespace = bool(manifests.metadata(obj).get("namespace"))
        namespace = None if has_namespace else o["namespace"] or gap_namespace(obj, scope, cluster)
        return sealed.seal_secret(obj, cert, scope=scope, namespace=namespace, api_version=o["api_version"],
                                  allow_empty=o["allow_empty_data"])

    emit(manifests.dump_objects(sealed.each(objects, where, one), fmt), out)


def _unseal(source: str | None, out: str | None, fmt: str, key_paths: tuple[str, ...]) -> None:
    from sealer.cli.keys import load_keys
    from sealer.io import manifests
    from sealer.sealed import sealedsecret as sealed

    if not key_paths:
        raise InputError("--recovery-unseal needs --recovery-private-key FILE", field="--recovery-private-key")
    if "-" in key_paths and not source:
        raise InputError("'-' reads the private key from stdin, which already carries the input: give the input "
                         "with -f FILE", field="--recovery-private-key")
    objects, where = _read(source)
    private_keys = load_keys(key_paths)
    emit(manifests.dump_objects(sealed.each(objects, where, lambda obj: sealed.unseal(obj, private_keys)), fmt), out)


def _validate(source: str | None, controller) -> None:
    """Silent when every SealedSecret opens (as kubeseal), else kubeseal's message and exit 1."""
    from sealer.sealed import operations

    objects, where = _read(source)
    problems = operations.verify_all(controller, [(where, obj) for obj in operations.checked(objects, where)])
    failed = [p for p in problems if p is not None]
    if failed:
        raise DecryptionError(f"unable to decrypt sealed secret ({failed[0]})", source=where)


def _reencrypt(source: str | None, out: str | None, fmt: str, controller) -> None:
    """Re-sealed by the controller. Written back to the -f file it keeps that file's comments and layout; to
    another file or stdout, in --format (kubeseal's default: JSON)."""
    import json

    from sealer.io import manifests, roundtrip
    from sealer.io.files import locked, read_input
    from sealer.sealed import operations
    from sealer.sealed import sealedsecret as sealed

    with locked([out] if out and out == source else []):
        data, where = read_input(source or "-")
        doc = roundtrip.load(data, where)
        found = [d for d in doc.docs if sealed.is_sealed_secret(d)]
        if not found:
            raise InputError("no SealedSecret in input", source=where)
        operations.reencrypt_all(found, where, controller=controller)
        if out and out == source:
            text = doc.dumps()
        else:
            text = manifests.dump_objects([json.loads(json.dumps(d, default=str)) for d in found], fmt)
        emit(text, out)
