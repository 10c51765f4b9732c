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


class ClientOverrides:
    """kubectl's flags that override the kubeconfig (`--server`, `--token`, `--as`, ...), as kubeseal takes them.
    Empty by default: the kubeconfig alone decides."""

    __slots__ = ("as_groups", "as_user", "certificate_authority", "client_certificate", "client_key", "cluster",
                 "insecure", "server", "token", "user")

    def __init__(self, *, server: str | None = None, token: str | None = None, user: str | None = None,
                 cluster: str | None = None, as_user: str | None = None, as_groups: tuple[str, ...] = (),
                 certificate_authority: str | None = None, client_certificate: str | None = None,
                 client_key: str | None = None, insecure: bool = False) -> None:
        self.server, self.token, self.user, self.cluster = server, token, user, cluster
        self.as_user, self.as_groups = as_user, tuple(as_groups)
        self.certificate_authority, self.client_certificate, self.client_key = (certificate_authority,
                                                                                client_certificate, client_key)
        self.insecure = insecure

    def headers(self) -> dict[str, str]:
        """Impersonation headers (`--as`, `--as-group`): the client's Configuration has no place for them."""
        from sealer.errors import InputError

        if len(self.as_groups) > 1:  # one header per group; the client sends a plain dict of headers
            raise InputError("only one --as-group is supported", field="--as-group")
        if self.as_groups and not self.as_user:
            raise InputError("--as-group needs --as", field="--as-group")
        headers = {"Impersonate-User": self.as_user} if self.as_user else {}
        if self.as_groups:
            headers["Impersonate-Group"] = self.as_groups[0]
        return headers


NO_OVERRIDES = ClientOverrides()


def load_kubeconfig(kubeconfig: str | None, context: str | None,
                    unusable: Callable[[Exception], Exception], configuration: Any = None,
                    overrides: ClientOverrides = NO_OVERRIDES) -> None:
    """Configure the Kubernetes client (``configuration``, else its default) from the user's kubeconfig, else from
    the pod's service account, then apply kubectl's ``overrides``. When neither works (and no --server is given),
    raise ``unusable(error)``, ``error`` being the kubeconfig's: each caller words its own next step, and never with
    the client's text (it can quote the kubeconfig, tokens included). Imports the client only when called (it is
    slow to import)."""
    import kubernetes
    import yaml

    target = configuration if configuration is not None else type.__call__(kubernetes.client.Configuration)
    try:
        _load(kubeconfig, context, target, overrides)
    except (kubernetes.config.ConfigException, OSError, TypeError, ValueError, AttributeError, KeyError,
            yaml.YAMLError) as e:  # a garbage kubeconfig: the YAML parser's errors too
        try:
            kubernetes.config.load_incluster_config(client_configuration=target)
        except kubernetes.config.ConfigException:
            if not overrides.server:  # kubectl works from --server (and --token) alone
                raise unusable(e) from None
    _override(target, overrides)
    if configuration is None:
        kubernetes.client.Configuration.set_default(target)


def _load(kubeconfig: str | None, context: str | None, target: Any, overrides: ClientOverrides) -> None:
    import kubernetes

    if not (overrides.user or overrides.cluster):
        kubernetes.config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=target)
        return
    # --user / --cluster swap the context's entries: the client has no public way to, so its loader is used
    from kubernetes.config import kube_config

    loader = kube_config._get_kube_config_loader(filename=kubeconfig or kube_config.KUBE_CONFIG_DEFAULT_LOCATION,
                                                 active_context=context, persist_config=True)
    config = loader._config
    if overrides.cluster:
        loader._cluster = config["clusters"].get_with_name(overrides.cluster)["cluster"]
    if overrides.user:
        loader._user = config["users"].get_with_name(overrides.user)["user"]
    loader.load_and_set(target)


def _override(target: Any, o: ClientOverrides) -> None:
    """Apply kubectl's flags; again after each credential refresh (the client's hook resets host, CA, token)."""
    _apply(target, o)
    hook = getattr(target, "refresh_api_key_hook", None)
    if hook is not None and not o.token:
        def refreshed(configuration: Any) -> None:
            hook(configuration)
            _apply(configuration, o)

        target.refresh_api_key_hook = refreshed


def _apply(target: Any, o: ClientOverrides) -> None:
    if o.server:
        target.host = o.server.rstrip("/")
    if o.certificate_authority:
        target.ssl_ca_cert = o.certificate_authority
    if o.insecure:
        target.verify_ssl = False
    if o.client_certificate:
        target.cert_file = o.client_certificate
    if o.client_key:
        target.key_file = o.client_key
    if o.token:
        target.api_key = {"authorization": f"Bearer {o.token}"}
        target.api_key_prefix = {}
        target.refresh_api_key_hook = None


def context_namespace(kubeconfig: str | None, context: str | None) -> str | None:
    """The namespace kubectl would use: the kubeconfig context's, else "default"; None without a usable kubeconfig
    (kubeseal then refuses to guess). Reads the file only: no API call."""
    import kubernetes
    import yaml

    try:
        contexts, current = kubernetes.config.list_kube_config_contexts(config_file=kubeconfig)
    except (kubernetes.config.ConfigException, OSError, TypeError, ValueError, AttributeError, KeyError,
            yaml.YAMLError):
        return None
    chosen = current if context is None else next((c for c in contexts or () if c.get("name") == context), None)
    if not isinstance(chosen, dict):
        return None
    found = (chosen.get("context") or {}).get("namespace")
    return found if isinstance(found, str) and found else "default"
