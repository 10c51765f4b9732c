"""The few Kubernetes API calls the controller makes, as plain dicts (no client models: less to import, less to
convert), without the kubernetes client's generated per-call layer (see `Kube`).
Credentials come from the in-cluster service account or KUBECONFIG, like any client."""

from __future__ import annotations

import json
import os
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlencode

import urllib3

from controller.httpconn import READ_TIMEOUT, Connections, Lines, split_lines

CORE = "v1"


class ConfigError(Exception):
    """No usable cluster credentials. The message names the kubeconfig and what is wrong with it, never the
    client library's text: that can quote the file, tokens included."""


def load_config(config_file: str | None = None) -> None:
    """The in-cluster service account, else KUBECONFIG (default ~/.kube/config), or ``config_file`` when given:
    ConfigError when none works."""
    import kubernetes

    if config_file is None:
        try:
            kubernetes.config.load_incluster_config()
            _check_tls("the in-cluster service account")
            return
        except kubernetes.config.ConfigException:
            pass
    try:
        kubernetes.config.load_kube_config(config_file=config_file)
    except Exception as e:  # ConfigException, YAML errors, OSError, and shapes the loader does not expect
        raise ConfigError(_kubeconfig_problem(e)) from None
    _check_tls(_where())


def _check_tls(where: str) -> None:
    """The CA and client certificate the connections will use load (`Connections.for_configuration` reads them
    once, when the client is made): a broken one is a configuration error now, not a traceback later."""
    import kubernetes

    from sealer.safetext import printable

    try:
        Connections.for_configuration(kubernetes.client.Configuration.get_default_copy())
    except OSError as e:  # ssl.SSLError is one: not PEM, or a key that does not match its certificate
        problem = "cannot be read" if not isinstance(e, ssl.SSLError) else \
            "is not usable (not PEM, or a key that does not match its certificate)"
        raise ConfigError(printable(f"{where}: the CA or client certificate {problem}")) from None


def _where() -> str:
    setting = os.environ.get("KUBECONFIG")
    return f"KUBECONFIG {setting}" if setting else "~/.kube/config (KUBECONFIG is not set)"


def _kubeconfig_problem(e: Exception) -> str:
    from sealer.errors import yaml_error_message
    from sealer.safetext import printable

    setting = os.environ.get("KUBECONFIG")
    where = _where()
    paths = [os.path.expanduser(p) for p in (setting or "~/.kube/config").split(os.pathsep) if p]
    text = str(e)
    if not any(os.path.exists(p) for p in paths):
        problem = "no such file, and not running in a cluster (no service account)"
    elif hasattr(e, "problem_mark") or type(e).__module__.startswith("yaml"):
        problem = yaml_error_message(e)
    elif isinstance(e, OSError):
        problem = f"cannot read: {e.strerror or type(e).__name__}"
    elif "No configuration found" in text or "file is empty" in text or text.strip() == "Invalid kube-config.":
        problem = "empty, or not a kubeconfig"
    elif "current-context" in text:
        problem = "no current-context"
    elif "Expected object with name" in text:
        problem = "the current context, or a cluster or user it names, is not defined"
    elif type(e).__name__ == "ConfigException":
        problem = "not a usable kubeconfig (a cluster, context or user is incomplete)"
    else:
        problem = "not a kubeconfig (expected a mapping with clusters, contexts and users)"
    return printable(f"{where}: {problem}")


class _Lines:
    """The lines of a streamed response; `close` from another thread ends the iteration."""

    def __init__(self, response: Any) -> None:
        self._response = response

    def __iter__(self) -> Iterator[str]:
        return split_lines(self._response.stream(amt=None, decode_content=False))

    def close(self) -> None:
        self._response.close()
        self._response.release_conn()


POOL_SIZE = 32  # connections kept per host: the change workers, pass workers, watches and Vault loops share them
AUTH_REFRESH = 30.0  # seconds a credential is reused before the loader is asked again (it renews expiring tokens)
STRATEGIC = "application/strategic-merge-patch+json"  # built-in kinds' patches (what the kubernetes client sends)
MERGE = "application/merge-patch+json"  # custom objects' patches
LEASES = "coordination.k8s.io/v1"
USER_AGENT = "sealer-controller"  # what audit logs show
WORKLOADS = {"Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets"}


def _q(name: str) -> str:
    return quote(str(name), safe="")


def _core(namespace: str | None, plural: str, name: str | None = None) -> str:
    path = f"/api/v1/namespaces/{_q(namespace)}/{plural}" if namespace is not None else f"/api/v1/{plural}"
    return f"{path}/{_q(name)}" if name is not None else path


def _group_path(api_version: str, namespace: str | None, plural: str, name: str | None = None,
                sub: str | None = None) -> str:
    path = f"/apis/{api_version}"
    if namespace is not None:
        path += f"/namespaces/{_q(namespace)}"
    path += f"/{plural}"
    if name is not None:
        path += f"/{_q(name)}"
    return f"{path}/{sub}" if sub else path


def _list_query(label_selector: str | None = None, limit: int | None = None, token: str | None = None,
                **more: Any) -> dict[str, Any]:
    query: dict[str, Any] = {}
    if label_selector:
        query["labelSelector"] = label_selector
    if limit:
        query["limit"] = limit
    if token:
        query["continue"] = token
    query.update(more)
    return query


class _Credentials:
    """The Authorization header the kubernetes client's loader computes, asked for again every AUTH_REFRESH
    seconds (its hook renews the in-cluster token and exec-plugin credentials) or after a 401, not on every call:
    the hook re-applies the whole kubeconfig each time it runs."""

    def __init__(self, configuration: Any) -> None:
        self._configuration = configuration
        self._lock = threading.Lock()
        self._headers: dict[str, str] = {}
        self._at = -AUTH_REFRESH

    def headers(self, renew: bool = False) -> dict[str, str]:
        if renew or time.monotonic() - self._at >= AUTH_REFRESH:
            with self._lock:
                settings = self._configuration.auth_settings().values()
                self._headers = {s["key"]: s["value"] for s in settings if s.get("in") == "header" and s.get("value")}
                self._at = time.monotonic()
        return self._headers


def _target(manager: Any, host: str) -> tuple[Any, str]:
    """Where requests go and the URL prefix they take: without a proxy, the API server's own connection pool and
    the path only (a PoolManager would parse the URL and look the pool up again on every request); through a
    proxy, the manager and the full URL."""
    if type(manager) is not urllib3.PoolManager:  # a ProxyManager, or SOCKS
        return manager, host
    return manager.connection_from_url(host), urllib3.util.parse_url(host).path or ""


class Kube:
    """Requests skip the generated client's per-call wrapper (argument validation, re-applying the kubeconfig, a
    scan of the proxy variables), which cost more CPU than the call (1.1 ms against 0.7 ms per Secret create), with
    the loader's credentials. Requests and watches go over `controller.httpconn` keep-alive connections (0.15 ms of
    CPU per call against 0.55 ms through urllib3); when a proxy (or another setting only urllib3 knows) is set,
    everything goes to urllib3 through the kubernetes client's own pool (its TLS, client certificates and proxy
    settings). Errors are the client's `ApiException` (``status``)."""

    def __init__(self, config_file: str | None = None) -> None:
        import kubernetes

        load_config(config_file)
        self._k = kubernetes
        configuration = kubernetes.client.Configuration.get_default_copy()
        configuration.connection_pool_maxsize = POOL_SIZE
        self.api = kubernetes.client.ApiClient(configuration)
        manager = self.api.rest_client.pool_manager
        self._pool, self._host = _target(manager, configuration.host.rstrip("/"))
        self._direct = Connections.for_configuration(configuration, POOL_SIZE) \
            if type(manager) is urllib3.PoolManager else None
        self._credentials = _Credentials(configuration)

    # --- the one request path -------------------------------------------------------------------------------

    def _request(self, method: str, path: str, query: Mapping[str, Any] | None = None, body: Any = None,
                 content_type: str = "application/json", stream: bool = False,
                 timeout: tuple[float, float] | None = None) -> Any:
        """The response of one call (unread when ``stream``); ApiException for any status but 2xx."""
        target = path + (f"?{urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        for attempt in (0, 1):
            headers = {"Accept": "application/json", "User-Agent": USER_AGENT,
                       **self._credentials.headers(renew=attempt == 1)}
            if data is not None:
                headers["Content-Type"] = content_type
            if self._direct is None:
                response = self._pool.request(method, self._host + target, body=data, headers=headers,
                                              preload_content=not stream,
                                              timeout=None if timeout is None else urllib3.Timeout(
                                                  connect=timeout[0], read=timeout[1]))
                if stream and not 200 <= response.status < 300:  # the connection goes back to the pool
                    response.drain_conn()
                    response.release_conn()
            elif stream:
                response = self._direct.stream(target, headers, timeout[1] if timeout else READ_TIMEOUT)
            else:
                response = self._direct.request(method, target, headers, data)
            if 200 <= response.status < 300:
                return response
            if response.status != 401 or attempt:  # a 401 first: the token expired; renew it once
                break
        raise self._k.client.ApiException(status=response.status, reason=response.reason)

    def _call(self, method: str, path: str, query: Mapping[str, Any] | None = None, body: Any = None,
              content_type: str = "application/json") -> dict[str, Any]:
        return json.loads(self._request(method, path, query, body, content_type).data or b"{}")

    def _found(self, path: str) -> dict[str, Any] | None:
        """The object at ``path``, or None when it does not exist (404)."""
        return self._unless(404, "GET", path)

    def _unless(self, status: int, method: str, path: str, body: Any = None,
                content_type: str = "application/json") -> dict[str, Any] | None:
        """The call's answer, or None when it answered ``status`` (a create that lost a race: 409)."""
        try:
            return self._call(method, path, body=body, content_type=content_type)
        except self._k.client.ApiException as e:
            if e.status == status:
                return None
            raise

    def _stream(self, path: str, query: Mapping[str, Any], timeout: int) -> Lines | _Lines:
        response = self._request("GET", path, query, stream=True, timeout=(30, timeout + 30))
        return response if isinstance(response, Lines) else _Lines(response)

    def _versioned_pages(self, path: str, query: Mapping[str, Any]) -> tuple[Iterator[dict[str, Any]], str]:
        """The items of a list a page of ``limit`` at a time (``continue`` tokens), and the first page's
        resourceVersion (the first page is read at once, the others as the items are consumed)."""
        first = self._call("GET", path, query)

        def items() -> Iterator[dict[str, Any]]:
            body = first
            while True:
                yield from body.get("items") or []
                token = (body.get("metadata") or {}).get("continue")
                if not token:
                    return
                body = self._call("GET", path, {**query, "continue": token})

        return items(), str((first.get("metadata") or {}).get("resourceVersion") or "")

    # --- Secrets, ConfigMaps, Events, namespaces ------------------------------------------------------------

    def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._found(_core(namespace, "secrets", name))

    def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._found(_core(namespace, "configmaps", name))

    def list_secrets(self, namespace: str, label_selector: str | None = None) -> list[dict[str, Any]]:
        return self._call("GET", _core(namespace, "secrets"), _list_query(label_selector)).get("items") or []

    def list_secrets_versioned(self, namespace: str | None, label_selector: str | None,
                               limit: int = 500) -> tuple[Iterator[dict[str, Any]], str]:
        """Secrets of a namespace (None: every namespace), a page at a time, and the resourceVersion of the list
        (its first page) to watch from: a relist of thousands of Secrets never holds them all at once."""
        return self._versioned_pages(_core(namespace, "secrets"), _list_query(label_selector, limit))

    def iter_secrets(self, namespace: str | None, label_selector: str, limit: int = 500) -> Iterator[dict[str, Any]]:
        """Secrets with these labels, a page at a time, in the API server's order (namespace, then name)."""
        return self._versioned_pages(_core(namespace, "secrets"), _list_query(label_selector, limit))[0]

    def watch_secrets(self, namespace: str | None, label_selector: str | None, version: str,
                      timeout: int) -> Lines | _Lines:
        """The event lines of a Secret watch from ``version`` (bookmarks on), until the server ends it."""
        return self._stream(_core(namespace, "secrets"), _watch_query(version, timeout, label_selector), timeout)

    def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", _core(namespace, "secrets"), body=body)

    def create_secret_if_absent(self, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Create, or None when it already exists (409): how concurrent replicas agree on one key."""
        return self._unless(409, "POST", _core(namespace, "secrets"), body)

    def patch_secret(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("PATCH", _core(namespace, "secrets", name), body=body, content_type=STRATEGIC)

    def delete_secret(self, namespace: str, name: str) -> None:
        self._call("DELETE", _core(namespace, "secrets", name))

    def apply_configmap(self, namespace: str, body: dict[str, Any]) -> None:
        """Patch, or create when missing. Replicas starting together race here: a create that finds the object
        made meanwhile (409) patches it instead."""
        path = _core(namespace, "configmaps", body["metadata"]["name"])
        if self._unless(404, "PATCH", path, body, STRATEGIC) is not None:
            return
        if self._unless(409, "POST", _core(namespace, "configmaps"), body) is None:
            self._call("PATCH", path, body=body, content_type=STRATEGIC)

    def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        self._request("POST", _core(namespace, "events"), body=body)

    def list_namespaces(self) -> list[dict[str, Any]]:
        return self._call("GET", "/api/v1/namespaces").get("items") or []

    def get_namespace(self, name: str) -> dict[str, Any] | None:
        return self._found(f"/api/v1/namespaces/{_q(name)}")

    def request_token(self, namespace: str, service_account: str, audiences: list[str],
                      expiration_seconds: int) -> str | None:
        """A TokenRequest for the ServiceAccount: its token, or None when the answer holds none."""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": audiences, "expirationSeconds": expiration_seconds}}
        answer = self._call("POST", _core(namespace, "serviceaccounts", service_account) + "/token", body=body)
        return (answer.get("status") or {}).get("token")

    def patch_workload(self, kind: str, namespace: str, name: str, body: dict[str, Any]) -> None:
        """Patch a Deployment, StatefulSet or DaemonSet (a rollout restart)."""
        self._call("PATCH", _group_path("apps/v1", namespace, WORKLOADS[kind], name), body=body,
                   content_type=STRATEGIC)

    # --- custom objects -------------------------------------------------------------------------------------

    def objects_version(self, api_version: str, plural: str, namespace: str | None) -> str:
        """The current resourceVersion of a custom resource's list (one item read, not the whole list): where a
        watch that needs no snapshot starts."""
        answer = self._call("GET", _group_path(api_version, namespace, plural), _list_query(limit=1))
        return str((answer.get("metadata") or {}).get("resourceVersion") or "")

    def watch_objects(self, api_version: str, plural: str, namespace: str | None, version: str,
                      timeout: int) -> Lines | _Lines:
        """The event lines of a custom resource's watch from ``version`` (bookmarks on), until the server ends it."""
        return self._stream(_group_path(api_version, namespace, plural), _watch_query(version, timeout, None),
                            timeout)

    def ensure_cluster_object(self, api_version: str, plural: str, body: dict[str, Any]) -> None:
        """Create a cluster-scoped custom object unless it exists (kopf's peering object)."""
        self._unless(409, "POST", _group_path(api_version, None, plural), body)

    def get_object(self, api_version: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        return self._found(_group_path(api_version, namespace, plural, name))

    def get_cluster_object(self, api_version: str, plural: str, name: str) -> dict[str, Any] | None:
        return self._found(_group_path(api_version, None, plural, name))

    def create_object(self, api_version: str, plural: str, namespace: str, body: dict[str, Any]) -> None:
        self._request("POST", _group_path(api_version, namespace, plural), body=body)

    def list_objects(self, api_version: str, plural: str, label_selector: str | None = None,
                     namespace: str | None = None) -> list[dict[str, Any]]:
        """A namespaced custom resource's objects in one namespace, or in every namespace (None)."""
        return self._call("GET", _group_path(api_version, namespace, plural),
                          _list_query(label_selector)).get("items") or []

    def iter_objects(self, api_version: str, plural: str, namespace: str | None = None,
                     limit: int = 500) -> Iterator[dict[str, Any]]:
        """A namespaced custom resource's objects (every namespace: None) a page of ``limit`` at a time, in the API
        server's order (namespace, then name): memory stays one page however many there are."""
        return self._versioned_pages(_group_path(api_version, namespace, plural), _list_query(limit=limit))[0]

    def patch_object(self, api_version: str, plural: str, namespace: str, name: str, body: dict[str, Any]) -> None:
        self._request("PATCH", _group_path(api_version, namespace, plural, name), body=body, content_type=MERGE)

    def patch_status(self, api_version: str, plural: str, namespace: str | None, name: str,
                     status: dict[str, Any]) -> None:
        """Merge-patch a custom object's status subresource (namespace None: a cluster-scoped object)."""
        self._request("PATCH", _group_path(api_version, namespace, plural, name, "status"), body={"status": status},
                      content_type=MERGE)

    def delete_object(self, api_version: str, plural: str, namespace: str, name: str) -> None:
        self._unless(404, "DELETE", _group_path(api_version, namespace, plural, name))

    # --- Leases ---------------------------------------------------------------------------------------------

    def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._found(_group_path(LEASES, namespace, "leases", name))

    def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Create, or None when another replica made it first (409)."""
        return self._unless(409, "POST", _group_path(LEASES, namespace, "leases"), body)

    def replace_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Replace with ``body``'s resourceVersion as the precondition: None when the Lease changed meanwhile
        (409), so two replicas never both believe they took it."""
        return self._unless(409, "PUT", _group_path(LEASES, namespace, "leases", body["metadata"]["name"]), body)



def _watch_query(version: str, timeout: int, label_selector: str | None) -> dict[str, Any]:
    return _list_query(label_selector, watch="true", resourceVersion=version, allowWatchBookmarks="true",
                       timeoutSeconds=timeout)
