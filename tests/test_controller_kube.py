"""The controller's API path (`controller.kube.Kube`), which goes straight to urllib3 with the kubernetes client's
pool and credentials: a token is reused between calls, renewed on a 401 (once), errors keep the client's
`ApiException` with its status, and a watch that the server refuses raises instead of yielding an error body.
A real HTTP server on localhost answers; no API call is scripted in-process."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest
import urllib3

from controller import kube as kube_module
from controller.httpconn import Connections
from controller.kube import Kube


class Server(http.server.ThreadingHTTPServer):
    """Accepts only ``valid`` as the bearer token; records (method, path, Authorization, Content-Type)."""

    def __init__(self) -> None:
        self.valid = "Bearer good"
        self.seen: list[tuple[str, str, str, str]] = []
        self.answers: dict[str, tuple[int, dict[str, Any]]] = {}
        self.direct = True
        super().__init__(("127.0.0.1", 0), Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    server: Server

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization") or "",
                                 self.headers.get("Content-Type") or ""))
        status, body = (401, {"kind": "Status", "code": 401}) if self.headers.get("Authorization") != \
            self.server.valid else self.server.answers.get(self.path.split("?")[0], (200, {"kind": "Secret"}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

    def log_message(self, *_: Any) -> None:
        pass


class Configuration:
    """What the kubernetes client's loader leaves: `auth_settings()` runs its refresh hook (counted here)."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.asked = tokens, 0

    def auth_settings(self) -> dict[str, dict[str, str]]:
        token = self.tokens[min(self.asked, len(self.tokens) - 1)]
        self.asked += 1
        return {"BearerToken": {"type": "api_key", "in": "header", "key": "authorization", "value": token}}


@pytest.fixture(params=["direct", "urllib3"])
def server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """Each test runs on both paths: the keep-alive connections (`controller.httpconn`) and urllib3's pool (a
    proxy)."""
    srv = Server()
    srv.direct = request.param == "direct"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def client(server: Server, tokens: list[str]) -> tuple[Kube, Configuration]:
    configuration = Configuration(tokens)
    kube = Kube.__new__(Kube)
    kube._k = kubernetes
    kube._pool = urllib3.PoolManager()
    kube._host = f"http://127.0.0.1:{server.server_address[1]}"
    kube._direct = Connections("127.0.0.1", server.server_address[1], "", None) if server.direct else None
    kube._credentials = kube_module._Credentials(configuration)
    return kube, configuration


def test_a_token_is_reused_between_calls_not_recomputed_per_call(server: Server) -> None:
    kube, configuration = client(server, ["Bearer good"])
    for _ in range(5):
        assert kube.get_secret("ns", "s") == {"kind": "Secret"}
    assert configuration.asked == 1
    assert [s[2] for s in server.seen] == ["Bearer good"] * 5


def test_an_expired_token_is_renewed_once_on_a_401(server: Server) -> None:
    kube, configuration = client(server, ["Bearer expired", "Bearer good"])
    assert kube.get_secret("ns", "s") == {"kind": "Secret"}
    assert [s[2] for s in server.seen] == ["Bearer expired", "Bearer good"]
    assert configuration.asked == 2


def test_a_token_still_refused_after_renewal_is_a_401_error_not_a_loop(server: Server) -> None:
    kube, _ = client(server, ["Bearer bad", "Bearer still-bad"])
    with pytest.raises(kubernetes.client.ApiException) as raised:
        kube.create_secret("ns", {"metadata": {"name": "s"}})
    assert raised.value.status == 401 and len(server.seen) == 2


def test_errors_keep_their_status_and_404_and_409_mean_what_callers_expect(server: Server) -> None:
    kube, _ = client(server, ["Bearer good"])
    server.answers["/api/v1/namespaces/ns/secrets/gone"] = (404, {"kind": "Status", "code": 404})
    server.answers["/api/v1/namespaces/ns/secrets"] = (409, {"kind": "Status", "code": 409})
    server.answers["/api/v1/namespaces/ns/secrets/broken"] = (500, {"kind": "Status", "code": 500})
    assert kube.get_secret("ns", "gone") is None
    assert kube.create_secret_if_absent("ns", {"metadata": {"name": "x"}}) is None
    with pytest.raises(kubernetes.client.ApiException) as raised:
        kube.get_secret("ns", "broken")
    assert raised.value.status == 500


def test_patch_content_types_are_the_kubernetes_clients(server: Server) -> None:
    """Built-in kinds get a strategic merge patch (as the kubernetes client sends a dict), custom objects and
    their status a JSON merge patch (custom resources accept no strategic merge)."""
    kube, _ = client(server, ["Bearer good"])
    kube.patch_secret("ns", "s", {"data": {}})
    kube.patch_status("sealer.dev/v1alpha1", "sealedsecrets", "ns", "s", {"observedGeneration": 1})
    kube.patch_object("sealer.dev/v1alpha1", "sealedsecrets", "ns", "s", {"metadata": {}})
    assert [(m, p, t) for m, p, _, t in server.seen] == [
        ("PATCH", "/api/v1/namespaces/ns/secrets/s", "application/strategic-merge-patch+json"),
        ("PATCH", "/apis/sealer.dev/v1alpha1/namespaces/ns/sealedsecrets/s/status", "application/merge-patch+json"),
        ("PATCH", "/apis/sealer.dev/v1alpha1/namespaces/ns/sealedsecrets/s", "application/merge-patch+json")]


def test_a_refused_watch_raises_with_its_status(server: Server) -> None:
    kube, _ = client(server, ["Bearer good"])
    server.answers["/api/v1/secrets"] = (403, {"kind": "Status", "code": 403})
    with pytest.raises(kubernetes.client.ApiException) as raised:
        kube.watch_secrets(None, "sealer.dev/produced-by", "1", 5)
    assert raised.value.status == 403
    method, path, _, _ = server.seen[-1]
    assert method == "GET" and "watch=true" in path and "resourceVersion=1" in path
    assert "labelSelector=sealer.dev%2Fproduced-by" in path and "allowWatchBookmarks=true" in path


def test_names_are_quoted_into_paths(server: Server) -> None:
    kube, _ = client(server, ["Bearer good"])
    kube.get_secret("ns", "a/../../b")
    assert server.seen[-1][1] == "/api/v1/namespaces/ns/secrets/a%2F..%2F..%2Fb"


def test_without_a_proxy_requests_go_to_the_servers_pool_with_its_path_prefix(server: Server) -> None:
    """A kubeconfig server URL may carry a path (Rancher's `/k8s/clusters/ID`): it prefixes every request."""
    kube, _ = client(server, ["Bearer good"])
    url = f"http://127.0.0.1:{server.server_address[1]}/k8s/clusters/c1"
    kube._pool, kube._host = kube_module._target(urllib3.PoolManager(), url)
    assert isinstance(kube._pool, urllib3.HTTPConnectionPool)
    if server.direct:
        kube._direct = Connections.for_configuration(kubernetes.client.Configuration(host=url))
    kube.get_secret("ns", "s")
    assert server.seen[-1][1] == "/k8s/clusters/c1/api/v1/namespaces/ns/secrets/s"


def test_through_a_proxy_requests_keep_the_full_url() -> None:
    proxy = urllib3.ProxyManager("http://127.0.0.1:3128")
    assert kube_module._target(proxy, "https://api.example:6443") == (proxy, "https://api.example:6443")
