"""The product's names in the Kubernetes API, written once: API group and version, the controller's namespace,
Service and ConfigMap, labels and annotations every component agrees on, and the HTTP body limit the controller
and its clients share; and the one place the CLI loads the user's kubeconfig. Importing this costs nothing: the
Kubernetes client is imported only when a kubeconfig is loaded."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

GROUP = "sealer.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"  # SealedSecret, SopsSecret, VaultSecret, VaultStore, ClusterVaultStore
BITNAMI_GROUP = "bitnami.com"
BITNAMI_API_VERSION = f"{BITNAMI_GROUP}/{VERSION}"  # Bitnami's SealedSecret (served with --bitnami-compat)

CONTROLLER_NAMESPACE = "sealer-system"  # deploy/: where the controller runs and keeps its keys
CONTROLLER_NAME = "sealer-controller"  # its Service, for the API server's service proxy
CERTS_CONFIGMAP = "sealer-certs"  # the published sealing certs, readable by every authenticated user

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "sealer"  # the value of MANAGED_BY_LABEL on every Secret the controller produces

MAX_BODY = 4 << 20  # bytes: the controller's /v1/verify and /v1/rotate refuse larger request bodies


def load_kubeconfig(kubeconfig: str | None, context: str | None,
                    unusable: Callable[[Exception], Exception], configuration: Any = None) -> None:
    """Configure the Kubernetes client (``configuration``, else its default) from the user's kubeconfig, else from
    the pod's service account. When neither works, raise ``unusable(error)``, ``error`` being the kubeconfig's: each
    caller words its own next step, and never with the client's text (it can quote the kubeconfig, tokens included).
    Imports the client only when called (it is slow to import)."""
    import kubernetes
    import yaml

    try:
        kubernetes.config.load_kube_config(config_file=kubeconfig, context=context,
                                           client_configuration=configuration)
    except (kubernetes.config.ConfigException, OSError, TypeError, ValueError, AttributeError, KeyError,
            yaml.YAMLError) as e:  # a garbage kubeconfig: the YAML parser's errors too
        try:
            kubernetes.config.load_incluster_config(client_configuration=configuration)
        except kubernetes.config.ConfigException:
            raise unusable(e) from None
