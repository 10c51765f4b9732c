"""The sealing certificate from the cluster, through the user's kubeconfig: the controller publishes it in the
ConfigMap `sealer-certs`, readable by every authenticated user, so no service proxy or port-forward is needed.
Imports the Kubernetes client only when called (it is slow to import, and `--cert` users never need it)."""

from __future__ import annotations

from sealer.errors import InputError, KeyMaterialError

CONFIGMAP = "sealer-certs"
DEFAULT_NAMESPACE = "sealer-system"


def fetch(namespace: str = DEFAULT_NAMESPACE, kubeconfig: str | None = None, context: str | None = None,
          timeout: float = 10.0) -> bytes:
    """PEM bytes of the current sealing cert; InputError with a next step when it cannot be had."""
    import kubernetes

    source = f"ConfigMap {namespace}/{CONFIGMAP}"
    try:
        kubernetes.config.load_kube_config(config_file=kubeconfig, context=context)
    except (kubernetes.config.ConfigException, OSError, TypeError, ValueError) as e:
        try:
            kubernetes.config.load_incluster_config()
        except kubernetes.config.ConfigException:
            raise InputError(f"no usable kubeconfig ({type(e).__name__}); pass --cert FILE_OR_URL or --kubeconfig",
                             field="--cert") from None
    api = kubernetes.client.CoreV1Api()
    try:
        cm = api.read_namespaced_config_map(CONFIGMAP, namespace, _request_timeout=timeout)
    except kubernetes.client.ApiException as e:
        if e.status == 404:
            raise InputError("not found: is the sealer controller installed here? (--controller-namespace, "
                             "or pass --cert)", source=source) from None
        raise InputError(f"the API server refused: HTTP {e.status} {e.reason}", source=source) from None
    except Exception as e:  # connection refused, DNS, TLS: urllib3 raises many types
        raise InputError(f"cannot reach the API server ({type(e).__name__})", source=source) from None
    pem = (cm.data or {}).get("cert.pem")
    if not pem:
        raise KeyMaterialError("has no cert.pem yet (the controller has not published a key)", source=source)
    return pem.encode()
