"""Keep-alive HTTP/1.1 connections to the API server for the controller's requests and watches.

urllib3 and http.client cost about 0.5 ms of CPU per request on top of the request itself (a Retry and a Timeout
object per call, URL re-parsing, response headers parsed through the `email` package): three such calls per new
SealedSecret are most of what a burst spends outside RSA. Here a request is one `sendall` and the answer is read
with the socket file's own `readline`/`read`: about 0.15 ms with the JSON included. A watch's chunks are read the
same way (urllib3's chunk parsing was most of what the controller's watch threads spent).

Only the plain case is handled: a direct connection (no proxy) with the TLS settings a kubeconfig gives (CA file or
data, client certificate, `insecure-skip-tls-verify`, `tls-server-name`). Anything else (a proxy, SOCKS, a string
`assert_hostname`, custom socket options) stays on urllib3: `Connections.for_configuration` answers None.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

CONNECT_TIMEOUT = 30.0
READ_TIMEOUT = 120.0  # the API server ends a non-watch request after 60 s (its --request-timeout) itself
MAX_HEADER_LINE = 65536
MAX_HEADERS = 200


class ProtocolError(ConnectionError):
    """The server's answer is not HTTP/1.x as expected (or the connection ended inside it)."""


@dataclass(frozen=True)
class Answer:
    """What a caller of `Kube._request` reads of a response (the attributes urllib3's response has)."""

    status: int
    reason: str
    data: bytes


class _Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.file = sock.makefile("rb")
        self.used = False  # answered a request before: a failure before any answer may be a stale keep-alive

    def idle_closed(self) -> bool:
        """The server closed (or wrote to) the idle connection: reading now would not block."""
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def close(self) -> None:
        for part in (self.file, self.sock):
            with contextlib.suppress(OSError):
                part.close()


class Connections:
    """A free list of keep-alive connections to one API server, shared by the controller's threads: a request
    takes one (or opens one), and gives it back when the answer says the connection stays open."""

    def __init__(self, host: str, port: int, path: str, tls: ssl.SSLContext | None,
                 server_hostname: str | None = None, keep: int = 32) -> None:
        self.host, self.port, self.path = host, port, path
        self.tls, self.server_hostname = tls, server_hostname or host
        self.keep = keep
        self._free: list[_Connection] = []
        self._lock = threading.Lock()
        authority = f"[{host}]" if ":" in host else host
        default = 443 if tls is not None else 80
        self._host_header = authority if port == default else f"{authority}:{port}"

    @classmethod
    def for_configuration(cls, configuration: Any, keep: int = 32) -> Connections | None:
        """Connections for a kubernetes client `Configuration`, or None when its settings need urllib3."""
        if configuration.proxy or getattr(configuration, "socket_options", None) is not None:
            return None
        assert_hostname = getattr(configuration, "assert_hostname", None)
        if assert_hostname not in (None, True, False):
            return None
        url = urlsplit(configuration.host)
        if url.scheme not in ("http", "https") or not url.hostname:
            return None
        tls = None
        if url.scheme == "https":
            tls = ssl.create_default_context(cafile=configuration.ssl_ca_cert,
                                             cadata=_text(getattr(configuration, "ca_cert_data", None)))
            if not configuration.verify_ssl:
                tls.check_hostname = False
                tls.verify_mode = ssl.CERT_NONE
            elif assert_hostname is False:
                tls.check_hostname = False
            if configuration.cert_file:
                tls.load_cert_chain(configuration.cert_file, configuration.key_file)
        port = url.port or (443 if tls is not None else 80)
        return cls(url.hostname, port, url.path.rstrip("/"), tls,
                   getattr(configuration, "tls_server_name", None), keep)

    # --- connections ------------------------------------------------------------------------------------------

    def _open(self) -> _Connection:
        sock = socket.create_connection((self.host, self.port), timeout=CONNECT_TIMEOUT)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.server_hostname)
            sock.settimeout(READ_TIMEOUT)
        except BaseException:
            sock.close()
            raise
        return _Connection(sock)

    def _take(self) -> _Connection:
        while True:
            with self._lock:
                conn = self._free.pop() if self._free else None
            if conn is None:
                return self._open()
            if not conn.idle_closed():
                return conn
            conn.close()

    def _give(self, conn: _Connection) -> None:
        with self._lock:
            if len(self._free) < self.keep:
                self._free.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            free, self._free = self._free, []
        for conn in free:
            conn.close()

    # --- one request ------------------------------------------------------------------------------------------

    def request(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None = None) -> Answer:
        """Send one request (``target``: path and query, without the server URL's own path) and read its answer.
        A connection kept from before that fails before any answer byte (the server closed it meanwhile) is
        replaced once: the request was not handled (a create sent twice would answer 409, which callers judge)."""
        conn, head = self._exchange(self._message(method, target, headers, body), method)
        try:
            data = _read_body(conn.file, method, head)
        except BaseException:
            conn.close()
            raise
        if head.close:
            conn.close()
        else:
            self._give(conn)
        return Answer(head.status, head.reason, data)

    def stream(self, target: str, headers: Mapping[str, str], read_timeout: float) -> Answer | Lines:
        """GET a streamed answer (a watch): its lines as they come when it is 2xx, on a connection of its own that
        is closed at the end; otherwise the whole answer. ``read_timeout``: the longest wait for the next byte."""
        conn, head = self._exchange(self._message("GET", target, headers, None), "GET")
        if not 200 <= head.status < 300:
            try:
                data = _read_body(conn.file, "GET", head)
            finally:
                conn.close()
            return Answer(head.status, head.reason, data)
        conn.sock.settimeout(read_timeout)
        return Lines(conn, head)

    def _message(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None) -> bytes:
        lines = [f"{method} {self.path}{target} HTTP/1.1", f"Host: {self._host_header}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")

    def _exchange(self, message: bytes, method: str) -> tuple[_Connection, _Head]:
        """Send ``message`` and read the answer's head (once more on a new connection when a kept one turns out
        closed before answering); the body is left to read."""
        while True:
            conn = self._take()
            try:
                try:
                    conn.sock.sendall(message)
                except OSError:  # reset or closed by the server while kept: as if nothing was read
                    if conn.used:
                        raise _NothingRead from None
                    raise
                head = _read_head(conn.file, method)
            except _NothingRead:
                conn.close()
                if conn.used:
                    continue
                raise ProtocolError("the API server closed the connection without answering") from None
            except BaseException:
                conn.close()
                raise
            conn.used = True
            return conn, head


class Lines:
    """The lines of a streamed answer (without their newline), as they arrive; the connection is closed when they
    end or on `close`."""

    def __init__(self, conn: _Connection, head: _Head) -> None:
        self._conn, self._head = conn, head
        self.status = head.status

    def __iter__(self) -> Iterator[str]:
        try:
            yield from split_lines(self._pieces())
        finally:
            self.close()

    def _pieces(self) -> Iterator[bytes]:
        file, head = self._conn.file, self._head
        if head.chunked:
            yield from _chunks(file)
            return
        left = head.length
        while left is None or left > 0:
            data = file.read1(65536 if left is None else min(left, 65536))
            if not data:
                return
            if left is not None:
                left -= len(data)
            yield data

    def close(self) -> None:
        self._conn.close()


class _NothingRead(Exception):
    """The connection ended (or was reset) before the first byte of an answer."""


@dataclass(frozen=True)
class _Head:
    status: int
    reason: str
    length: int | None  # Content-Length, if given
    chunked: bool
    close: bool  # the connection ends with this answer


def _read_head(file: Any, method: str) -> _Head:
    try:
        status_line = file.readline(MAX_HEADER_LINE + 1)
    except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        raise _NothingRead from None
    if not status_line:
        raise _NothingRead
    version, _, rest = status_line.decode("latin-1").rstrip("\r\n").partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/1.") or not code.isdigit() or len(code) != 3:
        raise ProtocolError("the API server's answer is not HTTP/1.x")
    status = int(code)
    length: int | None = None
    chunked = False
    close = version == "HTTP/1.0"
    for _ in range(MAX_HEADERS + 1):
        line = file.readline(MAX_HEADER_LINE + 1)
        if len(line) > MAX_HEADER_LINE:
            raise ProtocolError("an answer header line is too long")
        if line in (b"\r\n", b"\n"):
            break
        if not line:
            raise ProtocolError("the connection ended inside the answer's headers")
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            try:
                length = int(value.strip())
            except ValueError:
                raise ProtocolError("the answer's Content-Length is not a number") from None
        elif name == b"transfer-encoding":
            chunked = value.strip().lower().endswith(b"chunked")
        elif name == b"connection":
            tokens = value.strip().lower()
            if b"close" in tokens:
                close = True
            elif b"keep-alive" in tokens:
                close = False
    else:
        raise ProtocolError("the answer has too many headers")
    if 100 <= status < 200:  # an interim answer (we never send Expect: 100-continue): the real one follows
        return _read_head(file, method)
    if not chunked and length is None and method != "HEAD" and status not in (204, 304):
        close = True  # the body ends with the connection
    return _Head(status, reason.strip(), length, chunked, close)


def _read_body(file: Any, method: str, head: _Head) -> bytes:
    if method == "HEAD" or head.status in (204, 304):
        return b""
    if head.chunked:
        return _read_chunked(file)
    if head.length is not None:
        data = file.read(head.length)
        if len(data) != head.length:
            raise ProtocolError("the connection ended inside the answer's body")
        return data
    return file.read()


def _chunk_size(line: bytes) -> int:
    try:
        return int(line.split(b";", 1)[0].strip(), 16)
    except ValueError:
        raise ProtocolError("a chunk size of the answer is not a number") from None


def _chunks(file: Any) -> Iterator[bytes]:
    """The data of each chunk of a chunked body, up to the last (empty) one; its trailers are left to read."""
    while True:
        size = _chunk_size(file.readline(MAX_HEADER_LINE + 1))
        if size == 0:
            return
        chunk = file.read(size)
        if len(chunk) != size or file.readline(MAX_HEADER_LINE + 1) not in (b"\r\n", b"\n"):
            raise ProtocolError("the connection ended inside a chunk of the answer")
        yield chunk


def _read_chunked(file: Any) -> bytes:
    data = b"".join(_chunks(file))
    for _ in range(MAX_HEADERS + 1):  # trailers, up to the empty line
        line = file.readline(MAX_HEADER_LINE + 1)
        if line in (b"\r\n", b"\n", b""):
            return data
    raise ProtocolError("the answer has too many trailers")


def split_lines(pieces: Iterable[bytes]) -> Iterator[str]:
    """Lines (without their newline) out of the pieces a stream arrives in, each as soon as it is whole."""
    pending = b""
    for data in pieces:
        pending += data
        if b"\n" in data:
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.decode()
    if pending:
        yield pending.decode()


def _text(data: str | bytes | None) -> str | None:
    """PEM CA data as the ssl module wants it (bytes would be read as DER)."""
    if not data:
        return None
    return data.decode("ascii") if isinstance(data, bytes) else data
