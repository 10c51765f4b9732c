"""`sealer cert` (show a certificate, fetch the cluster's), and `load_cert`, where the commands that seal get
their certificate: --cert, else the one the controller publishes in the cluster."""

from __future__ import annotations

import sys

import click

from sealer import kube
from sealer.cli.options import CONTEXT, OUTPUT_FORMATS, cluster_of, cluster_options
from sealer.cli.output import emit
from sealer.errors import InputError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sealer.sealed.keys import SealingCert


def load_cert(cert: str | None, cluster: dict | None = None) -> SealingCert:
    """The sealing cert from --cert, else from the cluster (``cluster``: `options.cluster_of`); valid now."""
    from sealer.sealed import keys as k

    if not cert:
        pem, source = cluster_cert_pem(cluster or {})
        loaded = k.parse_cert(pem, source)
        loaded.check_valid(source)
        return loaded
    loaded = k.load_cert(cert)
    loaded.check_valid(cert)
    return loaded


def cluster_cert_pem(cluster: dict) -> tuple[bytes, str]:
    """(PEM, where from) of the cluster's sealing cert. With a controller name or URL in ``cluster``, that
    controller's /v1/cert.pem (through the API server's service proxy, as kubeseal fetches it); else the ConfigMap
    the controller publishes (readable by every authenticated user: no services/proxy right needed)."""
    namespace = cluster.get("controller_namespace") or kube.CONTROLLER_NAMESPACE
    if cluster.get("controller_name") or cluster.get("controller_url"):
        from sealer.cli.options import controller_client

        controller = controller_client({**cluster, "controller_namespace": namespace,
                                        "controller_name": cluster.get("controller_name") or kube.CONTROLLER_NAME})
        return controller.cert_pem(), controller.where() + "/v1/cert.pem"
    from sealer.sealed import clustercert

    pem = clustercert.fetch(namespace, cluster.get("kubeconfig"), cluster.get("kube_context"),
                            overrides=cluster.get("overrides") or kube.NO_OVERRIDES)
    return pem, f"ConfigMap {namespace}/{kube.CERTS_CONFIGMAP}"


@click.group(context_settings=CONTEXT, invoke_without_command=True)
@click.option("--cert", envvar=["SEALER_CERT", "SEALED_SECRETS_CERT"], metavar="FILE_OR_URL",
              help="Certificate (env SEALER_CERT or SEALED_SECRETS_CERT).")
@click.option("-o", "--output", "--format", "fmt", type=click.Choice(("text", *OUTPUT_FORMATS)), default="text",
              show_default=True, help="Output format.")
@click.pass_context
def cert(ctx: click.Context, cert: str | None, fmt: str) -> None:
    """Show a sealing certificate: fingerprint, subject, validity. Exit 1 unless it is valid now.

    `sealer cert fetch > cert.pem` saves the cluster's published cert for offline sealing.
    """
    from sealer.safetext import printable
    from sealer.sealed import keys as k

    if ctx.invoked_subcommand is not None:
        return
    if not cert:
        raise InputError("no certificate: pass --cert FILE_OR_URL or set SEALER_CERT", field="--cert")
    info = k.load_cert(cert).describe()
    if fmt == "text":
        width = max(map(len, info))
        emit("".join(f"{key:<{width}}  {printable(str(value))}\n" for key, value in info.items()))  # subject: input
    else:
        from sealer.io import manifests

        emit(manifests.dump_data(info, fmt))
    if info["status"] != "valid":
        sys.exit(1)


@cert.command("fetch", context_settings=CONTEXT)
@cluster_options
def cert_fetch(kubeconfig: str | None, kube_context: str | None, controller_namespace: str, **options) -> None:
    """Print the cert the controller publishes (ConfigMap sealer-certs), fetched through your kubeconfig."""
    from sealer.sealed import clustercert

    overrides = cluster_of(options)["overrides"]
    emit(clustercert.fetch(controller_namespace, kubeconfig, kube_context, cert_option=False,
                           overrides=overrides).decode())

