"""`sealer seal` without --cert and `sealer cert fetch`: the cert comes from the cluster through a kubeconfig."""

from __future__ import annotations

from pathlib import Path

import yaml
from sealer_testkit.apiserver import KubeServer

from controller import keyring as kr
from tests.cli_process import run_sealer
from tests.controller_process import publish

SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: app}\nstringData: {password: fetched}\n"


def test_seal_without_cert_uses_the_published_cert(kube: KubeServer, tmp_path: Path) -> None:
    key = publish(kube)
    (tmp_path / "s.yaml").write_text(SECRET)
    env = {"KUBECONFIG": str(kube.kubeconfig), "HOME": str(tmp_path)}
    r = run_sealer("seal", tmp_path / "s.yaml", env=env)
    assert r.returncode == 0, r.stderr
    sealed = yaml.safe_load(r.stdout)
    assert sealed["metadata"]["annotations"]["sealer.dev/key-fingerprint"] == key.fingerprint
    (tmp_path / "sealed.yaml").write_text(r.stdout)
    key_file = tmp_path / "k.pem"
    key_file.write_bytes(kr.sealer_keys.private_key_pem(key.private.key))
    u = run_sealer("unseal", tmp_path / "sealed.yaml", "--key", key_file)
    assert u.returncode == 0 and "ZmV0Y2hlZA==" in u.stdout
    f = run_sealer("cert", "fetch", "--kubeconfig", kube.kubeconfig, env={"HOME": str(tmp_path)})
    assert f.returncode == 0 and f.stdout == key.cert_pem.decode()


def test_missing_controller_is_a_clear_error(kube: KubeServer, tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SECRET)
    r = run_sealer("seal", tmp_path / "s.yaml", "--kubeconfig", kube.kubeconfig, "--controller-namespace", "nope",
                   env={"HOME": str(tmp_path)})
    assert r.returncode == 2 and "nope/sealer-certs" in r.stderr and "installed" in r.stderr
    assert "Traceback" not in r.stderr and not r.stdout
