"""A client for the controller's HTTP API (`POST /v1/verify`, `POST /v1/rotate`), for `sealer validate` and
`sealer reencrypt --controller`.

Two ways in, as with kubeseal: directly (`--controller-url`, e.g. a `kubectl port-forward`), or through the API
server's service proxy with the user's kubeconfig credentials, which needs no network path to the pod and no
extra port. The Kubernetes client is imported only for the proxy path (it is slow to import).

Requests carry one SealedSecret (ciphertext only) as JSON. Errors are one line naming the URL and what failed;
reaching the controller is an InputError (exit 2), a SealedSecret that does not open a DecryptionError (exit 1).
Response texts are the controller's own messages (names and item names, never values), cut to one short line.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping, MutableMapping
from typing import Any

from sealer.errors import DecryptionError, InputError
from sealer.kube import CONTROLLER_NAME, CONTROLLER_NAMESPACE, MAX_BODY, NO_OVERRIDES, ClientOverrides, load_kubeconfig

DEFAULT_TIMEOUT = 30.0
_SERVER_PREFIX = "request body: "  # how the controller names what it was sent


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    if line.startswith(_SERVER_PREFIX):
        line = line[len(_SERVER_PREFIX):]
    return line if len(line) <= limit else line[:limit - 3] + "..."


def _api_status(body: bytes) -> str | None:
    """The message of a Kubernetes `Status` body: the API server (not the controller) answered."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if isinstance(doc, dict) and doc.get("kind") == "Status":
        return str(doc.get("message") or doc.get("reason") or "")
    return None


def apply_rotated(obj: MutableMapping[str, Any], rotated: Mapping[str, Any]) -> tuple[int, int, str]:
    """Copy the controller's re-sealed ciphertexts into ``obj`` (a round-trip document: comments, order and
    every other field stay as they are), item by item, plus the key hint. Returns (items changed, 1 if the
    hint changed else 0, the key fingerprint). Only ciphertexts are taken from the answer, never scope or
    template, and the answer must hold exactly the items that were sent."""
    from sealer.sealed.sealedsecret import FINGERPRINT_ANNOTATION

    encrypted = obj["spec"].get("encryptedData") or {}
    fresh = rotated["spec"]["encryptedData"]
    if set(fresh) != set(encrypted) or not all(isinstance(v, str) for v in fresh.values()):
        raise InputError("the controller answered with other items than it was sent", field="spec.encryptedData")
    changed = [item for item in encrypted if fresh[item] != encrypted[item]]
    for item in changed:
        encrypted[item] = fresh[item]
    answer_meta = rotated.get("metadata")
    annotations = answer_meta.get("annotations") if isinstance(answer_meta, dict) else None
    fingerprint = annotations.get(FINGERPRINT_ANNOTATION) if isinstance(annotations, dict) else None
    fingerprint = fingerprint if isinstance(fingerprint, str) else ""
    meta = obj["metadata"]
    hint_changed = 0
    if fingerprint and (meta.get("annotations") or {}).get(FINGERPRINT_ANNOTATION) != fingerprint:
        if meta.get("annotations") is None:
            meta["annotations"] = {}
        meta["annotations"][FINGERPRINT_ANNOTATION] = fingerprint
        hint_changed = 1
    return len(changed), hint_changed, fingerprint


class Controller:
    """Where the controller is and how to reach it. ``url``: talk to it directly; otherwise through the API
    server's service proxy to service ``name`` in ``namespace`` (port named `http`) with the kubeconfig."""

    def __init__(self, url: str | None = None, *, namespace: str = CONTROLLER_NAMESPACE, name: str = CONTROLLER_NAME,
                 kubeconfig: str | None = None, context: str | None = None,
                 timeout: float = DEFAULT_TIMEOUT, overrides: ClientOverrides = NO_OVERRIDES) -> None:
        if url is not None:
            parsed = urllib.parse.urlsplit(url)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise InputError(f"not an http(s) URL: {url!r}", field="--controller-url")
        self.url = url.rstrip("/") if url else None
        self.namespace, self.name = namespace, name
        self.kubeconfig, self.context, self.overrides = kubeconfig, context, overrides
        self.timeout = timeout
        self._client: Any = None  # kubernetes ApiClient, made on first use

    @property
    def proxy_path(self) -> str:
        q = urllib.parse.quote
        return f"/api/v1/namespaces/{q(self.namespace, safe='')}/services/http:{q(self.name, safe='')}:http/proxy"

    def where(self) -> str:
        """The controller's address for messages."""
        if self.url:
            return self.url
        host = self._api().configuration.host if self._client is not None else "the API server"
        return f"{host}{self.proxy_path}"

    # --- the calls --------------------------------------------------------------------------------------------

    def cert_pem(self) -> bytes:
        """The sealing cert the controller serves (GET /v1/cert.pem), as `kubeseal --controller-name` fetches it."""
        status, body = self._request("GET", "/v1/cert.pem", None)
        if status != 200:
            raise self._failure("/v1/cert.pem", status, body)
        return body

    def verify(self, obj: Mapping[str, Any]) -> str | None:
        """None if the cluster's keys open every item of the SealedSecret, else why not (item names only)."""
        status, body = self._post("/v1/verify", obj)
        if status == 200:
            return None
        if status == 409:
            return _one_line(body.decode("utf-8", "replace"))
        raise self._failure("/v1/verify", status, body)

    def rotate(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """The SealedSecret re-sealed by the controller to its newest key (items already sealed to it unchanged)."""
        status, body = self._post("/v1/rotate", obj)
        if status == 409:
            raise DecryptionError(f"the cluster's keys do not open it: {_one_line(body.decode('utf-8', 'replace'))}")
        if status != 200:
            raise self._failure("/v1/rotate", status, body)
        try:
            result = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            result = None
        spec = result.get("spec") if isinstance(result, dict) else None
        if not isinstance(spec, dict) or not isinstance(spec.get("encryptedData"), dict):
            raise InputError("answered with something that is not a SealedSecret", source=self.where() + "/v1/rotate")
        return result

    # --- transport --------------------------------------------------------------------------------------------

    def _failure(self, path: str, status: int, body: bytes) -> InputError:
        where = self.where() + path
        api = _api_status(body)
        if api is not None:  # the API server answered for the proxy: RBAC, no such service, no endpoints
            hint = ""
            if status == 404:
                hint = " (is the controller installed? --controller-namespace / --controller-name)"
            elif status in (401, 403):
                hint = " (POST through the service proxy needs `create` on services/proxy: the Role " \
                       "sealer-controller-proxy in deploy/rbac-users.yaml; or use --controller-url with a port-forward)"
            return InputError(f"HTTP {status}: {_one_line(api)}{hint}", source=where)
        if status == 503:
            return InputError("the controller has no sealing key yet (HTTP 503)", source=where)
        if status == 400:  # the controller could not read what we sent
            return InputError(f"the controller at {where} refused it: {_one_line(body.decode('utf-8', 'replace'))}")
        return InputError(f"unexpected answer HTTP {status}", source=where)

    def _post(self, path: str, obj: Mapping[str, Any]) -> tuple[int, bytes]:
        body = json.dumps(obj, default=str).encode()
        if len(body) > MAX_BODY:
            raise InputError(f"the SealedSecret is {len(body)} bytes as JSON, above the controller's limit of "
                             f"{MAX_BODY} bytes")
        return self._request("POST", path, body)

    def _request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        if self.url:
            return self._direct(method, self.url + path, body)
        return self._proxy(method, self.proxy_path + path, body)

    def _direct(self, method: str, url: str, body: bytes | None) -> tuple[int, bytes]:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(url, data=body, method=method,  # noqa: S310 - checked: http(s) only
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - http(s) only
                return response.status, response.read(MAX_BODY + 1)
        except urllib.error.HTTPError as e:
            return e.code, e.read(MAX_BODY + 1)
        except (urllib.error.URLError, OSError, ValueError) as e:
            if _timed_out(e):
                raise InputError(f"no answer within {self.timeout:g}s", source=url) from None
            raise InputError(f"cannot reach the controller: {_reason(_root_cause(e))}", source=url) from None

    def _api(self) -> Any:
        if self._client is None:
            import kubernetes

            def unusable(e: Exception) -> InputError:
                return InputError(f"no usable kubeconfig ({type(e).__name__}); pass --kubeconfig, or --controller-url "
                                  "URL", source=self.kubeconfig or "kubeconfig")

            configuration = kubernetes.client.Configuration()
            load_kubeconfig(self.kubeconfig, self.context, unusable, configuration, self.overrides)
            self._client = kubernetes.client.ApiClient(configuration)
        return self._client

    def _proxy(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        """POST (or GET) through the API server with the kubeconfig's TLS settings and credentials (tokens from exec
        plugins and OIDC refreshers included: the client's auth settings produce the header)."""
        import kubernetes
        import urllib3

        client = self._api()
        configuration = client.configuration
        headers = {"Content-Type": "application/json", "Accept": "application/json, */*", **self.overrides.headers()}
        for setting in configuration.auth_settings().values():
            if setting.get("in") == "header" and setting.get("value"):
                headers[setting["key"]] = setting["value"]
        url = configuration.host + path
        try:  # the client serialises JSON bodies itself
            response = client.rest_client.request(method, url, headers=headers,
                                                  body=None if body is None else json.loads(body),
                                                  _request_timeout=self.timeout)
            if getattr(response, "data", None) is None:
                response.read()
        except kubernetes.client.ApiException as e:  # clients before 37 raise for every non-2xx answer
            data = e.body if isinstance(e.body, bytes) else str(e.body or "").encode()
            return int(e.status or 0), data
        except (urllib3.exceptions.HTTPError, OSError) as e:  # refused, DNS, TLS, timeouts
            if _timed_out(e):
                raise InputError(f"no answer within {self.timeout:g}s", source=url) from None
            raise InputError(f"cannot reach the API server: {_reason(_root_cause(e))}", source=url) from None
        return int(response.status), bytes(response.data or b"")


def _root_cause(e: BaseException) -> BaseException:
    """The innermost error of urllib3's wrapping (MaxRetryError -> NewConnectionError -> ConnectionRefusedError)."""
    seen = {id(e)}
    while True:
        inner = getattr(e, "reason", None)
        if not isinstance(inner, BaseException):
            inner = e.__cause__ or e.__context__
        if not isinstance(inner, BaseException) or id(inner) in seen:
            return e
        seen.add(id(inner))
        e = inner


def _timed_out(e: BaseException) -> bool:
    """urllib raises TimeoutError (maybe inside URLError), urllib3 its own ReadTimeoutError/ConnectTimeoutError."""
    return any(isinstance(x, TimeoutError) or "Timeout" in type(x).__name__ for x in (e, _root_cause(e)))


def _reason(reason: object) -> str:
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror.lower() if reason.strerror[:1].isupper() else reason.strerror
    return " ".join(str(reason).split())[:200]
