"""The sealing certificate from the cluster, through the user's kubeconfig: the controller publishes it in the
ConfigMap `sealer-certs`, readable by every authenticated user, so no service proxy or port-forward is needed.
Imports the Kubernetes client only when called (it is slow to import, and `--cert` users never need it)."""

from __future__ import annotations

from sealer.errors import InputError, KeyMaterialError, yaml_error_message
from sealer.kube import CERTS_CONFIGMAP, CONTROLLER_NAMESPACE, NO_OVERRIDES, ClientOverrides, load_kubeconfig


def fetch(namespace: str = CONTROLLER_NAMESPACE, kubeconfig: str | None = None, context: str | None = None,
          timeout: float = 10.0, cert_option: bool = True, overrides: ClientOverrides = NO_OVERRIDES) -> bytes:
    """PEM bytes of the current sealing cert; InputError with a next step when it cannot be had.
    ``cert_option``: the calling command has a --cert option to suggest (seal has, `cert fetch` has not).
    ``overrides``: kubectl's flags (--server, --token, --as, ...)."""
    import kubernetes

    source = f"ConfigMap {namespace}/{CERTS_CONFIGMAP}"
    instead = ", or --cert FILE_OR_URL" if cert_option else ""

    def unusable(e: Exception) -> InputError:
        where = kubeconfig or "~/.kube/config"
        return InputError(f"no usable kubeconfig: {_problem(e, where)}; pass --kubeconfig PATH (or set KUBECONFIG) "
                          f"and --context NAME{instead}", source=where)

    configuration = type.__call__(kubernetes.client.Configuration)
    load_kubeconfig(kubeconfig, context, unusable, configuration, overrides)
    client = kubernetes.client.ApiClient(configuration)
    for header, value in overrides.headers().items():
        client.set_default_header(header, value)
    api = kubernetes.client.CoreV1Api(client)
    try:
        cm = api.read_namespaced_config_map(CERTS_CONFIGMAP, namespace, _request_timeout=timeout)
    except kubernetes.client.ApiException as e:
        if e.status == 404:
            raise InputError("not found: is the sealer controller installed here? (--controller-namespace"
                             f"{instead})", source=source) from None
        raise InputError(f"the API server refused: HTTP {e.status} {e.reason}", source=source) from None
    except Exception as e:  # connection refused, DNS, TLS: urllib3 raises many types
        raise InputError(f"cannot reach the API server ({type(e).__name__})", source=source) from None
    pem = (cm.data or {}).get("cert.pem")
    if not pem:
        raise KeyMaterialError("has no cert.pem yet (the controller has not published a key)", source=source)
    return pem.encode()


def _problem(e: Exception, where: str) -> str:
    """What is wrong with the kubeconfig at ``where`` (a path list), in our words: the client's text can quote it."""
    import os

    import kubernetes
    import yaml

    if not any(os.path.exists(os.path.expanduser(p)) for p in where.split(os.pathsep) if p):
        return "no such file"
    if isinstance(e, yaml.YAMLError):
        return yaml_error_message(e)
    if isinstance(e, kubernetes.config.ConfigException):
        return "no current context, or a context, cluster or user is missing or incomplete"
    return "not a kubeconfig (expected a mapping with clusters, contexts and users)"
