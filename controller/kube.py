"""The few Kubernetes API calls the controller makes, as plain dicts (no client models: less to import,
less to convert). Credentials come from the in-cluster service account or KUBECONFIG, like any client."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

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
            return
        except kubernetes.config.ConfigException:
            pass
    try:
        kubernetes.config.load_kube_config(config_file=config_file)
    except Exception as e:  # ConfigException, YAML errors, OSError, and shapes the loader does not expect
        raise ConfigError(_kubeconfig_problem(e)) from None


def _kubeconfig_problem(e: Exception) -> str:
    from sealer.errors import yaml_error_message
    from sealer.safetext import printable

    setting = os.environ.get("KUBECONFIG")
    where = f"KUBECONFIG {setting}" if setting else "~/.kube/config (KUBECONFIG is not set)"
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
        pending = b""
        for chunk in self._response.stream(amt=None, decode_content=False):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.decode()
        if pending:
            yield pending.decode()

    def close(self) -> None:
        self._response.close()
        self._response.release_conn()


def _watch_options(version: str, timeout: int, label_selector: str | None) -> dict[str, Any]:
    return {"watch": True, "resource_version": version, "allow_watch_bookmarks": True, "timeout_seconds": timeout,
            "label_selector": label_selector or "", "_preload_content": False, "_request_timeout": (30, timeout + 30)}


class Kube:
    def __init__(self, config_file: str | None = None) -> None:
        import kubernetes

        load_config(config_file)
        self._k = kubernetes
        self.api = kubernetes.client.ApiClient()
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.custom = kubernetes.client.CustomObjectsApi(self.api)
        self.coordination = kubernetes.client.CoordinationV1Api(self.api)

    @staticmethod
    def _json(resp: Any) -> dict[str, Any]:
        return json.loads(resp.data)

    def _missing(self, e: Exception) -> bool:
        return isinstance(e, self._k.client.ApiException) and e.status == 404

    def _found(self, read: Any, *args: Any) -> dict[str, Any] | None:
        """A read call's object, or None when it does not exist (404)."""
        try:
            return self._json(read(*args, _preload_content=False))
        except self._k.client.ApiException as e:
            if self._missing(e):
                return None
            raise

    def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._found(self.core.read_namespaced_secret, name, namespace)

    def get_configmap(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._found(self.core.read_namespaced_config_map, name, namespace)

    def list_secrets(self, namespace: str, label_selector: str | None = None) -> list[dict[str, Any]]:
        resp = self.core.list_namespaced_secret(namespace, label_selector=label_selector, _preload_content=False)
        return self._json(resp).get("items") or []

    def list_secrets_versioned(self, namespace: str | None, label_selector: str | None,
                               limit: int = 500) -> tuple[Iterator[dict[str, Any]], str]:
        """Secrets of a namespace (None: every namespace), a page at a time, and the resourceVersion of the list
        (its first page) to watch from: a relist of thousands of Secrets never holds them all at once."""
        if namespace is None:
            return self._versioned_pages(self.core.list_secret_for_all_namespaces, label_selector=label_selector or "",
                                         limit=limit)
        return self._versioned_pages(self.core.list_namespaced_secret, namespace, label_selector=label_selector or "",
                                     limit=limit)

    def watch_secrets(self, namespace: str | None, label_selector: str | None, version: str,
                      timeout: int) -> _Lines:
        """The event lines of a Secret watch from ``version`` (bookmarks on), until the server ends it."""
        options = _watch_options(version, timeout, label_selector)
        if namespace is None:
            return _Lines(self.core.list_secret_for_all_namespaces(**options))
        return _Lines(self.core.list_namespaced_secret(namespace, **options))

    def objects_version(self, api_version: str, plural: str, namespace: str | None) -> str:
        """The current resourceVersion of a custom resource's list (one item read, not the whole list): where a
        watch that needs no snapshot starts."""
        group, version = api_version.split("/")
        if namespace is None:
            resp = self.custom.list_cluster_custom_object(group, version, plural, limit=1, _preload_content=False)
        else:
            resp = self.custom.list_namespaced_custom_object(group, version, namespace, plural, limit=1,
                                                             _preload_content=False)
        return str((self._json(resp).get("metadata") or {}).get("resourceVersion") or "")

    def watch_objects(self, api_version: str, plural: str, namespace: str | None, version: str,
                      timeout: int) -> _Lines:
        """The event lines of a custom resource's watch from ``version`` (bookmarks on), until the server ends it."""
        group, api = api_version.split("/")
        options = _watch_options(version, timeout, None)
        if namespace is None:
            return _Lines(self.custom.list_cluster_custom_object(group, api, plural, **options))
        return _Lines(self.custom.list_namespaced_custom_object(group, api, namespace, plural, **options))

    def create_secret(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._json(self.core.create_namespaced_secret(namespace, body, _preload_content=False))

    def create_secret_if_absent(self, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Create, or None when it already exists (409): how concurrent replicas agree on one key."""
        try:
            return self.create_secret(namespace, body)
        except self._k.client.ApiException as e:
            if e.status == 409:
                return None
            raise

    def ensure_cluster_object(self, api_version: str, plural: str, body: dict[str, Any]) -> None:
        """Create a cluster-scoped custom object unless it exists (kopf's peering object)."""
        group, version = api_version.split("/")
        try:
            self.custom.create_cluster_custom_object(group, version, plural, body, _preload_content=False)
        except self._k.client.ApiException as e:
            if e.status != 409:
                raise

    def patch_secret(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._json(self.core.patch_namespaced_secret(name, namespace, body, _preload_content=False))

    def apply_configmap(self, namespace: str, body: dict[str, Any]) -> None:
        """Patch, or create when missing. Replicas starting together race here: a create that finds the object
        made meanwhile (409) patches it instead."""
        name = body["metadata"]["name"]
        try:
            self.core.patch_namespaced_config_map(name, namespace, body, _preload_content=False)
            return
        except self._k.client.ApiException as e:
            if not self._missing(e):
                raise
        try:
            self.core.create_namespaced_config_map(namespace, body, _preload_content=False)
        except self._k.client.ApiException as e:
            if e.status != 409:
                raise
            self.core.patch_namespaced_config_map(name, namespace, body, _preload_content=False)

    def get_object(self, api_version: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        group, version = api_version.split("/")
        return self._found(self.custom.get_namespaced_custom_object, group, version, namespace, plural, name)

    def get_cluster_object(self, api_version: str, plural: str, name: str) -> dict[str, Any] | None:
        group, version = api_version.split("/")
        return self._found(self.custom.get_cluster_custom_object, group, version, plural, name)

    def create_object(self, api_version: str, plural: str, namespace: str, body: dict[str, Any]) -> None:
        group, version = api_version.split("/")
        self.custom.create_namespaced_custom_object(group, version, namespace, plural, body, _preload_content=False)

    def list_objects(self, api_version: str, plural: str, label_selector: str | None = None,
                     namespace: str | None = None) -> list[dict[str, Any]]:
        """A namespaced custom resource's objects in one namespace, or in every namespace (None)."""
        group, version = api_version.split("/")
        if namespace is not None:
            resp = self.custom.list_namespaced_custom_object(group, version, namespace, plural,
                                                             label_selector=label_selector or "",
                                                             _preload_content=False)
        else:
            resp = self.custom.list_cluster_custom_object(group, version, plural,
                                                          label_selector=label_selector or "", _preload_content=False)
        return self._json(resp).get("items") or []

    def _versioned_pages(self, call: Any, *args: Any, **options: Any) -> tuple[Iterator[dict[str, Any]], str]:
        """The items of a list call a page of ``limit`` at a time (``continue`` tokens), and the first page's
        resourceVersion (the first page is read at once, the others as the items are consumed)."""
        first = self._json(call(*args, _preload_content=False, **options))

        def items() -> Iterator[dict[str, Any]]:
            body = first
            while True:
                yield from body.get("items") or []
                token = (body.get("metadata") or {}).get("continue")
                if not token:
                    return
                body = self._json(call(*args, _preload_content=False, _continue=token, **options))

        return items(), str((first.get("metadata") or {}).get("resourceVersion") or "")

    def _pages(self, call: Any, *args: Any, **options: Any) -> Iterator[dict[str, Any]]:
        """The items of a list call, a page of ``limit`` at a time, read as they are consumed."""
        yield from self._versioned_pages(call, *args, **options)[0]

    def iter_objects(self, api_version: str, plural: str, namespace: str | None = None,
                     limit: int = 500) -> Iterator[dict[str, Any]]:
        """A namespaced custom resource's objects (every namespace: None) a page of ``limit`` at a time, in the API
        server's order (namespace, then name): memory stays one page however many there are."""
        group, version = api_version.split("/")
        if namespace is not None:
            return self._pages(self.custom.list_namespaced_custom_object, group, version, namespace, plural,
                               limit=limit)
        return self._pages(self.custom.list_cluster_custom_object, group, version, plural, limit=limit)

    def iter_secrets(self, namespace: str | None, label_selector: str, limit: int = 500) -> Iterator[dict[str, Any]]:
        """Secrets with these labels, a page at a time, in the API server's order (namespace, then name)."""
        if namespace is None:
            return self._pages(self.core.list_secret_for_all_namespaces, label_selector=label_selector, limit=limit)
        return self._pages(self.core.list_namespaced_secret, namespace, label_selector=label_selector, limit=limit)

    def patch_object(self, api_version: str, plural: str, namespace: str, name: str, body: dict[str, Any]) -> None:
        group, version = api_version.split("/")
        self.custom.patch_namespaced_custom_object(group, version, namespace, plural, name, body,
                                                   _preload_content=False)

    def delete_object(self, api_version: str, plural: str, namespace: str, name: str) -> None:
        group, version = api_version.split("/")
        try:
            self.custom.delete_namespaced_custom_object(group, version, namespace, plural, name,
                                                        _preload_content=False)
        except self._k.client.ApiException as e:
            if not self._missing(e):
                raise

    def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._found(self.coordination.read_namespaced_lease, name, namespace)

    def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Create, or None when another replica made it first (409)."""
        try:
            return self._json(self.coordination.create_namespaced_lease(namespace, body, _preload_content=False))
        except self._k.client.ApiException as e:
            if e.status == 409:
                return None
            raise

    def replace_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """Replace with ``body``'s resourceVersion as the precondition: None when the Lease changed meanwhile
        (409), so two replicas never both believe they took it."""
        try:
            return self._json(self.coordination.replace_namespaced_lease(body["metadata"]["name"], namespace, body,
                                                                         _preload_content=False))
        except self._k.client.ApiException as e:
            if e.status == 409:
                return None
            raise

    def create_event(self, namespace: str, body: dict[str, Any]) -> None:
        self.core.create_namespaced_event(namespace, body, _preload_content=False)

    def list_namespaces(self) -> list[dict[str, Any]]:
        return self._json(self.core.list_namespace(_preload_content=False)).get("items") or []

    def patch_status(self, api_version: str, plural: str, namespace: str | None, name: str,
                     status: dict[str, Any]) -> None:
        """Merge-patch a custom object's status subresource (namespace None: a cluster-scoped object)."""
        group, version = api_version.split("/")
        if namespace is None:
            self.custom.patch_cluster_custom_object_status(group, version, plural, name, {"status": status},
                                                           _preload_content=False)
            return
        self.custom.patch_namespaced_custom_object_status(group, version, namespace, plural, name,
                                                          {"status": status}, _preload_content=False)

    def get_namespace(self, name: str) -> dict[str, Any] | None:
        return self._found(self.core.read_namespace, name)

    def delete_secret(self, namespace: str, name: str) -> None:
        self.core.delete_namespaced_secret(name, namespace, _preload_content=False)

    def request_token(self, namespace: str, service_account: str, audiences: list[str],
                      expiration_seconds: int) -> str | None:
        """A TokenRequest for the ServiceAccount: its token, or None when the answer holds none."""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": audiences, "expirationSeconds": expiration_seconds}}
        resp = self.core.create_namespaced_service_account_token(service_account, namespace, body,
                                                                 _preload_content=False)
        return (self._json(resp).get("status") or {}).get("token")

    def patch_workload(self, kind: str, namespace: str, name: str, body: dict[str, Any]) -> None:
        """Patch a Deployment, StatefulSet or DaemonSet (a rollout restart)."""
        apps = self._k.client.AppsV1Api(self.api)
        patch = getattr(apps, f"patch_namespaced_{kind.lower().replace('set', '_set')}")
        patch(name, namespace, body, _preload_content=False)
