"""The controller as its own process (`python -m controller`) against the Kubernetes API emulator, and what tests
read back from the emulator: the published cert, produced Secrets, Ready conditions."""

from __future__ import annotations

import base64
import re
import sys
import urllib.request
from pathlib import Path

import yaml
from sealer_testkit.apiserver import KubeServer, Proc, free_port

from controller import keyring as kr
from sealer.kube import CERTS_CONFIGMAP, CONTROLLER_NAME
from tests.cli_process import run_sealer

NS = "sealer-system"
SS = ("sealer.dev/v1alpha1", "SealedSecret")


def start_controller(kube: KubeServer, tmp_path: Path, *extra: str, log_name: str = "controller.log",
                     resync_period: str = "2s") -> tuple[Proc, int]:
    """Start it on a free port and wait until it says it is ready; returns the process and its HTTP port."""
    port = free_port()
    argv = [sys.executable, "-m", "controller", "--standalone", "--key-bits", "2048", "--http-host", "127.0.0.1",
            "--http-port", str(port), "--resync-period", resync_period, "--key-renew-period", "0", *extra]
    proc = kube.spawn(argv, log=tmp_path / log_name, env={"POD_NAMESPACE": NS})
    proc.wait_for_log("sealer controller ready", timeout=60)
    return proc, port


def published_cert(kube: KubeServer, tmp_path: Path, fingerprint_not: str | None = None) -> tuple[Path, str]:
    """Wait for the certs ConfigMap (with another fingerprint than `fingerprint_not`); returns (cert file, fp)."""
    def ready():
        cm = kube.client.find("v1", "ConfigMap", CERTS_CONFIGMAP, NS)
        data = (cm or {}).get("data") or {}
        if data.get("cert.pem") and data.get("fingerprint") != fingerprint_not:
            return data
        return None

    data = kube.client.wait_for(ready, timeout=30, message="certs ConfigMap")
    path = tmp_path / f"cert-{data['fingerprint'][:8]}.pem"
    path.write_text(data["cert.pem"])
    return path, data["fingerprint"]


def seal(tmp_path: Path, cert: Path, name: str, namespace: str, value: str) -> dict:
    """A SealedSecret made by `sealer seal --cert`, for a Secret with items password=`value` and user=admin."""
    src = tmp_path / f"{namespace}-{name}.yaml"
    src.write_text(f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {namespace}, labels: "
                   f"{{app: web}}}}\ntype: Opaque\nstringData: {{password: {value}, user: admin}}\n")
    r = run_sealer("seal", src, "--cert", cert)
    assert r.returncode == 0, r.stderr
    return yaml.safe_load(r.stdout)


def secret_items(kube: KubeServer, name: str, namespace: str) -> dict[str, bytes] | None:
    """The decoded items of a Secret, or None while it does not exist."""
    s = kube.client.find("v1", "Secret", name, namespace)
    return {k: base64.b64decode(v) for k, v in (s.get("data") or {}).items()} if s else None


def ready_condition(kube: KubeServer, name: str, namespace: str) -> dict | None:
    obj = kube.client.find(*SS, name, namespace) or {}
    conds = (obj.get("status") or {}).get("conditions") or []
    return conds[0] if conds else None


def wait_ready(kube: KubeServer, name: str, namespace: str, status: str, timeout: float = 30) -> dict:
    """Wait until the SealedSecret's Ready condition has `status`; returns the condition."""
    return kube.client.wait_for(
        lambda: (c := ready_condition(kube, name, namespace)) and c["status"] == status and c,
        timeout=timeout, message=f"{namespace}/{name} Ready={status}")


def assert_no_leak(everything: str, *planted: str) -> None:
    """None of the planted values, plain or base64, appears in `everything` (logs, events, status)."""
    for value in planted:
        for form in (value, base64.b64encode(value.encode()).decode()):
            assert form not in everything, f"planted value leaked: {form[:6]}..."


def publish(kube: KubeServer, namespace: str = "sealer-system") -> kr.SealingKey:
    """What the controller does: a key Secret and the certs ConfigMap (the controller's e2e tests cover that it
    does; here only the CLI side is under test)."""
    ring = kr.Keyring()
    ring.put(kube.client.create(kr.new_key_secret(namespace, bits=2048)))
    kube.client.create(kr.certs_configmap(namespace, ring))
    return ring.current()


class Cluster:
    """One emulator and one controller behind the API server's service proxy, for a test module's read-only cases
    (the controller takes seconds to start): make one per module in a fixture, stop ``kube`` afterwards."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.kube = KubeServer(directory / "kube").start()
        self.proc, self.port = start_controller(self.kube, directory)
        self.cert, self.fingerprint = published_cert(self.kube, directory)
        self.url = f"http://127.0.0.1:{self.port}"
        self.kube.proxy_to(NS, CONTROLLER_NAME, self.url)
        self.env = {"KUBECONFIG": str(self.kube.kubeconfig), "HOME": str(directory)}

    def access(self, how: str) -> tuple[list[str], dict[str, str]]:
        """Command-line options and environment for reaching the controller: "proxy", "url" or "env"."""
        if how == "proxy":
            return ["--kubeconfig", str(self.kube.kubeconfig)], {}
        if how == "url":
            return ["--controller-url", self.url], {}
        return [], {"SEALER_CONTROLLER_URL": self.url}



def metric(port: int, name: str, kind: str = "SealedSecret") -> int:
    """A counter of the controller's /metrics for one kind (0 while it has no sample)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    m = re.search(rf'^{name}{{kind="{kind}"}} (\d+)$', text, re.M)
    return int(m.group(1)) if m else 0
