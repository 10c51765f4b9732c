"""The controller's keep-alive connections to the API server (`controller.httpconn`): real sockets on localhost.
Answers are written byte by byte by a scripted server where the framing is the point (chunks, a closed idle
connection, no length); TLS runs a real handshake with certificates made here (CA, server, client)."""

from __future__ import annotations

import datetime
import http.server
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import kubernetes
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from controller.httpconn import Connections, ProtocolError

HEADERS = {"Accept": "application/json"}


class Last(bytes):
    """An answer after which the server closes the connection."""


class Scripted:
    """Accepts connections; for each request read, ``answer(n, request_bytes)`` gives the bytes to write back
    (None: close the connection without answering; `Last(bytes)`: write them, then close). Counts connections and
    requests."""

    def __init__(self, answer: Callable[[int, bytes], bytes | None]) -> None:
        self.answer = answer
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        file = conn.makefile("rb")
        with conn:
            while True:
                head = b""
                while not head.endswith(b"\r\n\r\n"):
                    line = file.readline()
                    if not line:
                        return
                    head += line
                length = next((int(v) for k, _, v in (h.partition(b":") for h in head.split(b"\r\n"))
                               if k.lower() == b"content-length"), 0)
                request = head + file.read(length)
                self.requests.append(request)
                out = self.answer(len(self.requests), request)
                if out is None:
                    return
                conn.sendall(out)
                if isinstance(out, Last):
                    return

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def scripted() -> Iterator[Callable[[Callable[[int, bytes], bytes | None]], Scripted]]:
    servers: list[Scripted] = []

    def make(answer: Callable[[int, bytes], bytes | None]) -> Scripted:
        servers.append(Scripted(answer))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def ok(body: bytes = b'{"kind":"Secret"}', extra: str = "") -> bytes:
    return (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
            ).encode() + body


def connections(port: int, path: str = "") -> Connections:
    return Connections("127.0.0.1", port, path, None)


def test_one_connection_carries_many_requests_and_the_request_is_well_formed(scripted: Any) -> None:
    server = scripted(lambda n, req: ok())
    conns = connections(server.port, "/k8s/clusters/c1")
    for _ in range(5):
        answer = conns.request("POST", "/api/v1/namespaces/ns/secrets", {**HEADERS, "Content-Type": "application/json"},
                               b'{"a":1}')
        assert (answer.status, answer.reason, answer.data) == (200, "OK", b'{"kind":"Secret"}')
    assert server.connections == 1
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /k8s/clusters/c1/api/v1/namespaces/ns/secrets HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}".encode() in lines and b"Content-Length: 7" in lines
    assert body == b'{"a":1}'


def test_a_chunked_answer_with_extensions_and_trailers_is_read_whole(scripted: Any) -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4;ext=1\r\n{\"ki\r\n9\r\nnd\":\"Se\"}\r\n0\r\nX-Trailer: t\r\n\r\n")
    server = scripted(lambda n, req: chunked)
    conns = connections(server.port)
    assert conns.request("GET", "/x", HEADERS).data == b'{"kind":"Se"}'
    assert conns.request("GET", "/x", HEADERS).data == b'{"kind":"Se"}'
    assert server.connections == 1  # the chunked framing left the connection usable


def test_connection_close_and_an_answer_without_length_end_the_connection(scripted: Any) -> None:
    answers = {1: Last(ok(extra="Connection: close\r\n")), 2: Last(b"HTTP/1.1 200 OK\r\n\r\nto the end")}

    def answer(n: int, req: bytes) -> bytes | None:
        return answers.get(n, ok())

    server = scripted(answer)
    conns = connections(server.port)
    assert conns.request("GET", "/x", HEADERS).status == 200
    assert conns.request("GET", "/x", HEADERS).status == 200
    assert server.connections == 2
    assert conns.request("GET", "/x", HEADERS).status == 200


def test_a_kept_connection_the_server_closed_is_replaced_once_without_an_error(scripted: Any) -> None:
    """The server drops idle connections (its keep-alive timeout): the next request goes on a new one."""

    def answer(n: int, req: bytes) -> bytes | None:
        return None if n == 2 else ok()  # answers the first request, then closes instead of answering the second

    server = scripted(answer)
    conns = connections(server.port)
    assert conns.request("GET", "/x", HEADERS).status == 200
    assert conns.request("GET", "/x", HEADERS).status == 200
    assert server.connections == 2 and len(server.requests) == 3


def test_a_kept_connection_reset_by_the_server_is_replaced_however_the_reset_shows(scripted: Any,
                                                                                   monkeypatch: Any) -> None:
    """The server resets the connection after its answer (SO_LINGER 0). Without the idle check, the next request
    meets the reset in `sendall` or in the first read, whichever the kernel reports: either way it goes again on a
    new connection."""
    import struct

    def answer(n: int, req: bytes) -> bytes | None:
        return Last(ok()) if n == 1 else ok()

    server = scripted(answer)
    original = server._one

    def one_then_reset(conn: socket.socket) -> None:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        original(conn)

    server._one = one_then_reset
    monkeypatch.setattr("controller.httpconn._Connection.idle_closed", lambda self: False)
    conns = connections(server.port)
    assert conns.request("GET", "/x", HEADERS).status == 200
    time.sleep(0.2)  # the reset has arrived
    for _ in range(3):
        assert conns.request("POST", "/x", HEADERS, b"{}").status == 200
    assert server.connections == 2


def test_a_new_connection_closed_without_an_answer_is_an_error_not_a_loop(scripted: Any) -> None:
    server = scripted(lambda n, req: None)
    with pytest.raises(ProtocolError, match="without answering"):
        connections(server.port).request("GET", "/x", HEADERS)
    assert len(server.requests) == 1


@pytest.mark.parametrize("answer,problem", [
    (b"SSH-2.0-OpenSSH\r\n\r\n", "not HTTP"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", "inside the answer's body"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n", "not a number"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"),
    (b"HTTP/1.1 200 OK\r\nContent-Type: app", "inside the answer's headers"),
])
def test_a_broken_answer_is_a_protocol_error_naming_what_is_wrong(scripted: Any, answer: bytes,
                                                                  problem: str) -> None:
    def once(n: int, req: bytes) -> bytes | None:
        return Last(answer) if n == 1 else None

    server = scripted(once)
    conns = connections(server.port)
    with pytest.raises(ProtocolError, match=problem):
        # the server closes after the answer: a short body or header block ends with the connection
        conns.request("GET", "/x", HEADERS)
    assert not conns._free  # a connection left mid-answer is never reused


def test_an_interim_100_answer_is_skipped_and_no_content_has_no_body(scripted: Any) -> None:
    answers = {1: b"HTTP/1.1 100 Continue\r\n\r\n" + ok(), 2: b"HTTP/1.1 204 No Content\r\n\r\n"}
    server = scripted(lambda n, req: answers.get(n, ok()))
    conns = connections(server.port)
    assert conns.request("GET", "/x", HEADERS).data == b'{"kind":"Secret"}'
    assert conns.request("DELETE", "/x", HEADERS).status == 204
    assert conns.request("GET", "/x", HEADERS).status == 200
    assert server.connections == 1


def test_error_statuses_are_answers_with_their_body(scripted: Any) -> None:
    server = scripted(lambda n, req: b'HTTP/1.1 409 Conflict\r\nContent-Length: 2\r\n\r\n{}')
    answer = connections(server.port).request("POST", "/x", HEADERS, b"{}")
    assert (answer.status, answer.reason, answer.data) == (409, "Conflict", b"{}")


# --- streamed answers (watches) ---------------------------------------------------------------------------------

def test_a_streamed_answer_yields_its_lines_across_chunk_boundaries(scripted: Any) -> None:
    events = [json.dumps({"type": "ADDED", "object": {"metadata": {"name": f"s{i}"}}}).encode() + b"\n"
              for i in range(3)]
    body = b"".join(events)
    cuts = [body[:10], body[10:len(events[0]) + 5], body[len(events[0]) + 5:]]  # a line split over chunks
    chunked = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in cuts) + b"0\r\n\r\n"
    server = scripted(lambda n, req: Last(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked))
    lines = connections(server.port).stream("/api/v1/secrets?watch=true", HEADERS, 5.0)
    assert [json.loads(line)["object"]["metadata"]["name"] for line in lines] == ["s0", "s1", "s2"]


def test_a_streamed_answer_with_a_length_or_none_ends_with_it(scripted: Any) -> None:
    answers = {1: Last(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nab\ncd\nef"),
               2: Last(b"HTTP/1.1 200 OK\r\n\r\nline one\nline two\n")}
    server = scripted(lambda n, req: answers[n])
    conns = connections(server.port)
    assert list(conns.stream("/w", HEADERS, 5.0)) == ["ab", "cd", "ef"]
    assert list(conns.stream("/w", HEADERS, 5.0)) == ["line one", "line two"]


def test_a_refused_stream_is_a_whole_answer_and_its_connection_is_not_kept(scripted: Any) -> None:
    server = scripted(lambda n, req: b'HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\n{}')
    conns = connections(server.port)
    answer = conns.stream("/w", HEADERS, 5.0)
    assert (answer.status, answer.reason, answer.data) == (403, "Forbidden", b"{}")
    assert not conns._free


def test_closing_a_stream_closes_its_connection_and_a_quiet_one_times_out(scripted: Any) -> None:
    """A watch the server keeps open: `close` ends it (its connection is never reused), and no byte within the
    read timeout is an error the watch loop resumes from."""
    open_stream = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab\n\r\n"  # and nothing more
    server = scripted(lambda n, req: open_stream if n == 1 else ok())
    conns = connections(server.port)
    lines = conns.stream("/w", HEADERS, 0.5)
    it = iter(lines)
    assert next(it) == "ab"
    with pytest.raises(TimeoutError):
        next(it)
    lines.close()
    assert not conns._free
    assert conns.request("GET", "/x", HEADERS).status == 200  # on a new connection
    assert server.connections == 2


# --- TLS, as a kubeconfig sets it ------------------------------------------------------------------------------

def _cert(subject: str, key: Any, issuer: x509.Name, signer: Any, *, ca: bool = False, server: bool = False,
          names: tuple[str, ...] = ()) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    b = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
         .issuer_name(issuer).public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if names:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
    if not ca:
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return b.sign(signer, hashes.SHA256())


def _pem(path: Path, *objs: Any) -> str:
    data = b""
    for o in objs:
        if isinstance(o, x509.Certificate):
            data += o.public_bytes(serialization.Encoding.PEM)
        else:
            data += o.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    path.write_bytes(data)
    return str(path)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("pki")
    ca_key, other_key, srv_key, cli_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(4))
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = _cert("test CA", ca_key, ca_name, ca_key, ca=True)
    other = _cert("other CA", other_key, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "other CA")]),
                  other_key, ca=True)
    srv = _cert("api", srv_key, ca_name, ca_key, server=True, names=("api.cluster.internal",))
    cli = _cert("sealer", cli_key, ca_name, ca_key)
    return {"ca": _pem(d / "ca.pem", ca), "other_ca": _pem(d / "other.pem", other),
            "ca_data": ca.public_bytes(serialization.Encoding.PEM).decode(),
            "server": _pem(d / "server.pem", srv, srv_key), "client": _pem(d / "client.pem", cli),
            "client_key": _pem(d / "client.key", cli_key)}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        subject = dict(x[0] for x in (peer or {}).get("subject", ()))
        data = json.dumps({"client": subject.get("commonName")}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def tls_server(pki: dict[str, str]) -> Iterator[int]:
    """An HTTPS server that requires a client certificate from the test CA."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["server"])
    ctx.load_verify_locations(pki["ca"])
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def configuration(port: int, pki: dict[str, str], **settings: Any) -> kubernetes.client.Configuration:
    c = kubernetes.client.Configuration(host=f"https://127.0.0.1:{port}")
    c.ssl_ca_cert, c.cert_file, c.key_file = pki["ca"], pki["client"], pki["client_key"]
    c.tls_server_name = "api.cluster.internal"
    for k, v in settings.items():
        setattr(c, k, v)
    return c


def test_tls_with_the_kubeconfigs_ca_and_client_certificate(tls_server: int, pki: dict[str, str]) -> None:
    conns = Connections.for_configuration(configuration(tls_server, pki))
    assert conns is not None
    for _ in range(3):
        assert json.loads(conns.request("GET", "/x", HEADERS).data) == {"client": "sealer"}
    assert len(conns._free) == 1  # one TLS handshake, kept


def test_tls_with_ca_data_instead_of_a_file(tls_server: int, pki: dict[str, str]) -> None:
    conns = Connections.for_configuration(configuration(tls_server, pki, ssl_ca_cert=None, ca_cert_data=pki["ca_data"]))
    assert conns is not None and conns.request("GET", "/x", HEADERS).status == 200


@pytest.mark.parametrize("settings", [
    {"ssl_ca_cert": "other_ca"},  # a server certificate from another CA
    {"tls_server_name": None},  # 127.0.0.1 is not a name the certificate holds
])
def test_tls_refuses_a_server_the_kubeconfig_does_not_vouch_for(tls_server: int, pki: dict[str, str],
                                                                settings: dict[str, Any]) -> None:
    settings = {k: pki.get(v, v) if isinstance(v, str) else v for k, v in settings.items()}
    conns = Connections.for_configuration(configuration(tls_server, pki, **settings))
    assert conns is not None
    with pytest.raises(ssl.SSLCertVerificationError):
        conns.request("GET", "/x", HEADERS)


def test_insecure_skip_tls_verify_and_assert_hostname_false_are_honoured(tls_server: int, pki: dict[str, str]) -> None:
    skip = Connections.for_configuration(configuration(tls_server, pki, ssl_ca_cert=pki["other_ca"],
                                                       verify_ssl=False))
    no_name = Connections.for_configuration(configuration(tls_server, pki, tls_server_name=None,
                                                          assert_hostname=False))
    assert skip is not None and skip.request("GET", "/x", HEADERS).status == 200
    assert no_name is not None and no_name.request("GET", "/x", HEADERS).status == 200


def test_settings_that_need_urllib3_get_no_direct_connections(pki: dict[str, str]) -> None:
    assert Connections.for_configuration(configuration(1, pki, proxy="http://proxy:3128")) is None
    assert Connections.for_configuration(configuration(1, pki, assert_hostname="other.name")) is None
    assert Connections.for_configuration(configuration(1, pki, socket_options=[])) is None
    assert Connections.for_configuration(kubernetes.client.Configuration(host="unix:///run/k8s.sock")) is None
