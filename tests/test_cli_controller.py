"""`sealer validate` and `sealer reencrypt --controller` against the real controller process (`python -m controller`)
running on the Kubernetes API emulator, reached both ways: through the API server's service proxy with a kubeconfig
(the emulator forwards /api/v1/namespaces/NS/services/http:NAME:http/proxy/... to the controller, as kube-apiserver
does) and directly with --controller-url.
"""

from __future__ import annotations

import base64
import os
import socket
from pathlib import Path

import pytest
import yaml
from sealer_testkit.apiserver import KubeServer, free_port, write_kubeconfig

from controller import keyring as kr
from tests.cli_process import run_sealer
from tests.controller_process import NS, Cluster, published_cert, start_controller
from tests.keypairs import KeyPair

PLANT = "PLANTED-validate-9c41e"
SERVICE = "sealer-controller"
ENV = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def secret_yaml(name: str, namespace: str, value: str) -> str:
    return (f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {namespace}}}\n"
            f"stringData: {{password: {value}, user: admin}}\n")


def sealed_text(tmp_path: Path, cert: Path, name: str, namespace: str = "app", value: str = PLANT) -> str:
    src = tmp_path / f"src-{name}-{namespace}.yaml"
    src.write_text(secret_yaml(name, namespace, value))
    r = run_sealer("seal", src, "--cert", cert)
    assert r.returncode == 0, r.stderr
    src.unlink()
    return r.stdout


def tampered(text: str) -> str:
    obj = yaml.safe_load(text)
    ct = bytearray(base64.b64decode(obj["spec"]["encryptedData"]["password"]))
    ct[-1] ^= 1
    obj["spec"]["encryptedData"]["password"] = base64.b64encode(bytes(ct)).decode()
    return yaml.safe_dump(obj, sort_keys=False)


def sealer(*args, env: dict | None = None, **kw):
    r = run_sealer(*args, env={**ENV, **(env or {})}, **kw)
    assert "Traceback" not in r.stderr, r.stderr
    assert PLANT not in r.stdout + r.stderr
    return r


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    c = Cluster(tmp_path_factory.mktemp("cluster"))
    yield c
    c.kube.stop()
    assert PLANT not in c.proc.log_text()


# --- validate -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["proxy", "url", "env"])
def test_validate_all_open(cluster: Cluster, tmp_path: Path, how: str) -> None:
    f = tmp_path / "sealed.yaml"
    f.write_text(sealed_text(tmp_path, cluster.cert, "db") + "---\n" + sealed_text(tmp_path, cluster.cert, "api"))
    g = tmp_path / "other.json"
    g.write_text(run_sealer("seal", "-o", "json", "--cert", cluster.cert,
                            input=secret_yaml("cache", "web", PLANT)).stdout)
    args, env = cluster.access(how)
    r = sealer("validate", f, g, *args, env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"{f}: app/db: ok", f"{f}: app/api: ok", f"{g}: web/cache: ok"]
    assert r.stderr == ""


@pytest.mark.parametrize("how", ["proxy", "url"])
def test_validate_names_what_does_not_open(cluster: Cluster, tmp_path: Path, kp2048b: KeyPair, how: str) -> None:
    good = sealed_text(tmp_path, cluster.cert, "good")
    other_cluster = sealed_text(tmp_path, kp2048b.cert_path, "foreign")
    broken = tampered(sealed_text(tmp_path, cluster.cert, "broken"))
    moved = yaml.safe_load(sealed_text(tmp_path, cluster.cert, "moved"))
    moved["metadata"]["namespace"] = "elsewhere"  # strict scope: does not open in another namespace
    f = tmp_path / "mixed.yaml"
    f.write_text("---\n".join([good, other_cluster, broken, yaml.safe_dump(moved)]))
    args, env = cluster.access(how)
    r = sealer("validate", f, *args, env=env)
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"{f}: app/good: ok"
    for line, name in zip(lines[1:], ["app/foreign", "app/broken", "elsewhere/moved"], strict=True):
        assert line.startswith(f"{f}: {name}: does not open with the cluster's keys (")
    assert "password" in lines[2] and "user" not in lines[2]  # the tampered item is named, the other is fine
    assert r.stderr.strip() == "sealer: error: 3 of 4 SealedSecrets do not open with the cluster's keys"


def test_validate_stdin_and_bitnami(cluster: Cluster, tmp_path: Path) -> None:
    text = sealed_text(tmp_path, cluster.cert, "db").replace("sealer.dev/v1alpha1", "bitnami.com/v1alpha1")
    r = sealer("validate", "--controller-url", cluster.url, input=text)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "<stdin>: app/db: ok\n"


def test_validate_input_errors(cluster: Cluster, tmp_path: Path) -> None:
    """Exit 2 with one line naming the file; checked before the controller is asked (the URL is dead)."""
    dead = f"http://127.0.0.1:{free_port()}"
    plain = tmp_path / "secret.yaml"
    plain.write_text(secret_yaml("db", "app", PLANT))
    sealed = tmp_path / "sealed.yaml"
    sealed.write_text(sealed_text(tmp_path, cluster.cert, "db"))
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("apiVersion: v1\nkind: [SealedSecret\n")
    no_name = tmp_path / "noname.yaml"
    doc = yaml.safe_load(sealed.read_text())
    del doc["metadata"]["name"]
    no_name.write_text(yaml.safe_dump(doc))
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing here\n")
    cases = [
        ([sealed, plain], f"sealer: error: {plain}: Secret app/db is not a SealedSecret"),
        ([bad_yaml], f"sealer: error: {bad_yaml}: not valid YAML"),
        ([no_name], f"sealer: error: {no_name}: SealedSecret app/<unnamed>: metadata.name: missing"),
        ([empty], f"sealer: error: {empty}: no SealedSecret in input"),
        ([tmp_path / "missing.yaml"], f"sealer: error: {tmp_path / 'missing.yaml'}: cannot read"),
    ]
    for files, message in cases:
        r = sealer("validate", *files, "--controller-url", dead)
        assert r.returncode == 2, (files, r.stderr)
        assert r.stdout == ""
        assert r.stderr.startswith(message) and r.stderr.count("\n") == 1, r.stderr
    r = sealer("validate", sealed, "--controller-url", "ftp://example.org/")
    assert r.returncode == 2 and "--controller-url: not an http(s) URL" in r.stderr


def test_validate_unreachable(cluster: Cluster, tmp_path: Path) -> None:
    """Exit 2 and one line that says which address and what failed, for every way of not getting an answer."""
    f = tmp_path / "sealed.yaml"
    f.write_text(sealed_text(tmp_path, cluster.cert, "db"))
    dead_port = free_port()

    def one_line(r, *parts: str) -> None:
        assert r.returncode == 2, r.stderr
        assert r.stdout == ""
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("sealer: error: "), r.stderr
        for part in parts:
            assert part in r.stderr, (part, r.stderr)

    # direct: nothing listens
    r = sealer("validate", f, "--controller-url", f"http://127.0.0.1:{dead_port}")
    one_line(r, f"http://127.0.0.1:{dead_port}/v1/verify", "cannot reach the controller", "refused")

    # direct: something listens and never answers
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        r = sealer("validate", f, "--controller-url", url, "--timeout", "1")
    one_line(r, f"{url}/v1/verify", "no answer within 1s")

    # proxy: the API server itself is not there
    kubeconfig = write_kubeconfig(tmp_path / "dead-kubeconfig", f"http://127.0.0.1:{dead_port}")
    r = sealer("validate", f, "--kubeconfig", kubeconfig)
    one_line(r, f"http://127.0.0.1:{dead_port}/api/v1/namespaces/{NS}/services/http:{SERVICE}:http/proxy/v1/verify",
             "cannot reach the API server", "refused")

    # proxy: no such Service (wrong namespace) -> the API server's 404
    r = sealer("validate", f, "--kubeconfig", cluster.kube.kubeconfig, "--controller-namespace", "nowhere")
    one_line(r, "/api/v1/namespaces/nowhere/services/http:sealer-controller:http/proxy/v1/verify", "HTTP 404",
             'services "sealer-controller" not found', "--controller-namespace")

    # proxy: the Service exists but its pod does not answer -> the API server's 503
    cluster.kube.proxy_to("dead-ns", SERVICE, f"http://127.0.0.1:{dead_port}")
    r = sealer("validate", f, "--kubeconfig", cluster.kube.kubeconfig, "--controller-namespace", "dead-ns")
    one_line(r, "HTTP 503", "error trying to reach service")

    # no kubeconfig at all
    r = sealer("validate", f, "--kubeconfig", tmp_path / "no-such-kubeconfig")
    one_line(r, f"{tmp_path / 'no-such-kubeconfig'}: no usable kubeconfig")


def test_validate_body_limit(cluster: Cluster, tmp_path: Path) -> None:
    """The controller reads at most 4 MiB: larger SealedSecrets are refused before sending, not cut off."""
    obj = yaml.safe_load(sealed_text(tmp_path, cluster.cert, "huge"))
    obj["spec"]["template"]["metadata"]["annotations"] = {"pad": "x" * (4 << 20)}
    f = tmp_path / "huge.yaml"
    f.write_text(yaml.safe_dump(obj))
    r = sealer("validate", f, "--controller-url", cluster.url)
    assert r.returncode == 2 and "above the controller's limit" in r.stderr and r.stderr.count("\n") == 1


# --- reencrypt --controller ---------------------------------------------------------------------------------------

def key_file(secret: dict, path: Path) -> Path:
    path.write_bytes(base64.b64decode(secret["data"]["tls.key"]))
    path.chmod(0o600)
    return path


def test_reencrypt_through_controller(kube: KubeServer, tmp_path: Path, kp2048b: KeyPair) -> None:
    old_key = kr.new_key_secret(NS, bits=2048)
    kube.client.create(old_key)
    _, port = start_controller(kube, tmp_path)
    kube.proxy_to(NS, SERVICE, f"http://127.0.0.1:{port}")
    old_cert, old_fp = published_cert(kube, tmp_path)

    # a file with comments, two SealedSecrets and an unrelated document; a second file sealed in JSON
    first = tmp_path / "first.yaml"
    db, api = sealed_text(tmp_path, old_cert, "db"), sealed_text(tmp_path, old_cert, "api", "web")
    first.write_text("# database credentials: rotate yearly\n" + db.replace("spec:\n", "spec: # sealed\n")
                     + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}  # flow style kept\n"
                     + "data: {mode: fast}\n---\n" + api)
    second = tmp_path / "second.json"
    second.write_text(run_sealer("seal", "-o", "json", "--cert", old_cert,
                                 input=secret_yaml("cache", "web", PLANT)).stdout)
    before = {p: p.read_bytes() for p in (first, second)}

    # the cluster renews its key: a new labelled key Secret, picked up live
    new_key = kr.new_key_secret(NS, bits=2048)
    kube.client.create(new_key)
    _, new_fp = published_cert(kube, tmp_path, fingerprint_not=old_fp)
    new_pem, old_pem = key_file(new_key, tmp_path / "new.key"), key_file(old_key, tmp_path / "old.key")

    # --controller does not combine with --key / --cert
    for extra in (["--key", old_pem], ["--cert", old_cert]):
        r = sealer("reencrypt", "--controller", first, *extra, "--controller-url", f"http://127.0.0.1:{port}")
        assert r.returncode == 2 and "do not combine" in r.stderr, r.stderr

    # without -i: printed, files untouched
    r = sealer("reencrypt", "--controller", first, second, "--kubeconfig", kube.kubeconfig)
    assert r.returncode == 0, r.stderr
    assert {p: p.read_bytes() for p in (first, second)} == before
    assert r.stdout.count(new_fp) == 3 and "# database credentials" in r.stdout

    # -i through the service proxy
    r = sealer("reencrypt", "--controller", "-i", first, second, "--kubeconfig", kube.kubeconfig)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == f"re-encrypted 6 items in 3 SealedSecrets to key {new_fp[:16]}"
    text = first.read_text()
    assert text.startswith("# database credentials: rotate yearly\n") and "spec: # sealed\n" in text
    assert "metadata: {name: settings}  # flow style kept\n" in text
    docs = list(yaml.safe_load_all(text))
    assert [d["kind"] for d in docs] == ["SealedSecret", "ConfigMap", "SealedSecret"]
    for d in (docs[0], docs[2], yaml.safe_load(second.read_text())):
        assert d["metadata"]["annotations"]["sealer.dev/key-fingerprint"] == new_fp
    assert second.read_text().lstrip().startswith("{")

    # the values open with the new key alone, and no longer with the old one
    for path, names in ((first, ["db", "api"]), (second, ["cache"])):
        sealed_only = yaml.safe_dump_all([d for d in yaml.safe_load_all(path.read_text())
                                          if d["kind"] == "SealedSecret"])
        r = run_sealer("unseal", "--key", new_pem, input=sealed_only)
        assert r.returncode == 0, r.stderr
        secrets = list(yaml.safe_load_all(r.stdout))
        assert [s["metadata"]["name"] for s in secrets] == names
        assert all(base64.b64decode(s["data"]["password"]).decode() == PLANT for s in secrets)
        assert run_sealer("unseal", "--key", old_pem, input=sealed_only).returncode == 1

    # a second run is a no-op, byte for byte, and leaves the files' mtimes alone (through --controller-url too)
    after = {p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in (first, second)}
    for access in (["--kubeconfig", str(kube.kubeconfig)], ["--controller-url", f"http://127.0.0.1:{port}"]):
        r = sealer("reencrypt", "--controller", "-i", first, second, *access)
        assert r.returncode == 0, r.stderr
        assert r.stderr.strip() == f"re-encrypted 0 items in 3 SealedSecrets to key {new_fp[:16]}"
        assert {p: (p.read_bytes(), os.stat(p).st_mtime_ns) for p in (first, second)} == after

    # one SealedSecret the cluster cannot open: exit 1 naming it, and no file is written (all or nothing)
    third = tmp_path / "third.yaml"
    third.write_text(sealed_text(tmp_path, old_cert, "late"))
    foreign = tmp_path / "foreign.yaml"
    foreign.write_text(sealed_text(tmp_path, kp2048b.cert_path, "foreign"))
    snapshot = {p: p.read_bytes() for p in (third, foreign)}
    r = sealer("reencrypt", "--controller", "-i", third, foreign, "--controller-url", f"http://127.0.0.1:{port}")
    assert r.returncode == 1
    assert r.stderr.startswith(f"sealer: error: {foreign}: SealedSecret app/foreign: the cluster's keys do not open "
                               "it: spec.encryptedData items password, user"), r.stderr
    assert {p: p.read_bytes() for p in (third, foreign)} == snapshot

    # the controller is unreachable: exit 2, nothing written
    r = sealer("reencrypt", "--controller", "-i", third, "--controller-url", f"http://127.0.0.1:{free_port()}")
    assert r.returncode == 2 and "cannot reach the controller" in r.stderr
    assert third.read_bytes() == snapshot[third]


def test_apply_rotated_takes_only_ciphertexts() -> None:
    """What is copied from /v1/rotate's answer: changed ciphertexts and the key hint, never scope or template; an
    answer with other items than were sent is refused (pure function: a controller that does this cannot be run)."""
    from sealer.errors import InputError
    from sealer.sealed.controllerapi import apply_rotated

    def sealed(items: dict, annotations: dict | None = None) -> dict:
        return {"apiVersion": "sealer.dev/v1alpha1", "kind": "SealedSecret",
                "metadata": {"name": "s", "namespace": "n", **({"annotations": annotations} if annotations else {})},
                "spec": {"encryptedData": dict(items), "template": {"metadata": {"labels": {"a": "b"}}}}}

    obj = sealed({"x": "old-x", "y": "same-y"})
    answer = sealed({"x": "new-x", "y": "same-y"}, {"sealer.dev/key-fingerprint": "f" * 64,
                                                   "sealedsecrets.bitnami.com/cluster-wide": "true"})
    answer["spec"]["template"] = {"metadata": {"labels": {"evil": "yes"}}}
    assert apply_rotated(obj, answer) == (1, 1, "f" * 64)
    assert obj["spec"]["encryptedData"] == {"x": "new-x", "y": "same-y"}
    assert obj["metadata"]["annotations"] == {"sealer.dev/key-fingerprint": "f" * 64}
    assert obj["spec"]["template"] == {"metadata": {"labels": {"a": "b"}}}
    assert apply_rotated(obj, answer) == (0, 0, "f" * 64)  # nothing left to change
    for items in ({"x": "new-x"}, {"x": "new-x", "y": "same-y", "z": "extra"}, {"x": "new-x", "y": 5}):
        with pytest.raises(InputError, match="other items than it was sent"):
            apply_rotated(sealed({"x": "old-x", "y": "same-y"}), sealed(items))
