"""kubeseal's interface on sealer (`sealer kubeseal ...`, and kubeseal's names on `sealer seal`/`unseal`), and
Bitnami's deprecated single-blob format (spec.data).

No kubeseal binary is to be had here (no PyPI package; GitHub release downloads are not reachable), so each case
checks kubeseal 0.36's documented and coded behaviour (cmd/kubeseal/main.go, pkg/kubeseal): flags, SEALED_SECRETS_*
variables, the format from -w's extension, the namespace from the kubeconfig context, --raw from stdin,
--re-encrypt writing back to -f. Every ciphertext is opened again, by `sealer unseal` or by the independent
reference (tests/reference_sealed.py, openssl). Cluster cases run the CLI against the API emulator and the
controller as its own process.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml
from sealer_testkit.apiserver import KubeServer, free_port, write_kubeconfig

from tests import reference_sealed as ref
from tests.bitnami_cluster import v1_sealed
from tests.cli_process import run_sealer, unsealed_items
from tests.controller_process import Cluster, publish, published_cert, start_controller
from tests.keypairs import KeyPair

ENV = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: app}\nstringData: {password: hunter2}\n"
NO_NS = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hunter2}\n"


def kubeseal(*args, env: dict | None = None, home: Path | None = None, **kw):
    full = {**ENV, **(env or {})}
    if home is not None:
        full.setdefault("HOME", str(home))
    r = run_sealer("kubeseal", *args, env=full, **kw)
    assert "Traceback" not in r.stderr, r.stderr
    return r


def opened(tmp_path: Path, kp: KeyPair, text: str) -> dict[str, bytes]:
    f = tmp_path / "to-open.yaml"
    f.write_text(text)
    u = run_sealer("unseal", f, "--key", kp.key_path)
    assert u.returncode == 0, u.stderr
    return unsealed_items(u.stdout)


def offline_kubeconfig(path: Path, contexts: dict[str, str | None], current: str) -> Path:
    """A kubeconfig whose contexts carry these namespaces (None: none); its server is never called."""
    config = {"apiVersion": "v1", "kind": "Config",
              "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{free_port()}"}}],
              "users": [{"name": "u", "user": {"token": "t"}}],
              "contexts": [{"name": n, "context": {"cluster": "c", "user": "u", **({"namespace": ns} if ns else {})}}
                           for n, ns in contexts.items()],
              "current-context": current}
    path.write_text(json.dumps(config))
    return path


# --- formats, files, certificates ----------------------------------------------------------------------------------

def test_files_and_the_format_from_the_extension(kp2048: KeyPair, tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SECRET)
    r = kubeseal("-f", tmp_path / "s.yaml", "--cert", kp2048.cert_path)  # stdout: JSON, kubeseal's default
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["kind"] == "SealedSecret"
    for name, parse in (("out.yaml", yaml.safe_load), ("out.yml", yaml.safe_load), ("out.json", json.loads),
                        ("out.txt", json.loads)):
        r = kubeseal("--secret-file", tmp_path / "s.yaml", "--sealed-secret-file", tmp_path / name,
                     "--cert", kp2048.cert_path)
        assert r.returncode == 0 and r.stdout == "", r.stderr
        text = (tmp_path / name).read_text()
        assert parse(text)["spec"]["encryptedData"]["password"]
        assert text.lstrip().startswith("{") == (parse is json.loads), name
        assert opened(tmp_path, kp2048, text) == {"password": b"hunter2"}
    # kubeseal: a .yaml file is YAML even with --format json; -o yaml on stdout
    r = kubeseal("-o", "json", "-w", tmp_path / "forced.yaml", "--cert", kp2048.cert_path, input=SECRET)
    assert r.returncode == 0 and not (tmp_path / "forced.yaml").read_text().startswith("{")
    r = kubeseal("--format", "yaml", "--cert", kp2048.cert_path, input=SECRET)
    assert yaml.safe_load(r.stdout)["metadata"]["name"] == "db"


def test_sealer_seal_takes_kubeseals_names(kp2048: KeyPair, tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(SECRET)
    env = {"SEALED_SECRETS_CERT": str(kp2048.cert_path)}
    r = run_sealer("seal", "-f", tmp_path / "s.yaml", "-w", tmp_path / "x.json", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "x.json").read_text())["apiVersion"] == "sealer.dev/v1alpha1"
    r = run_sealer("seal", tmp_path / "s.yaml", "--format", "json", "--sealed-secret-file", tmp_path / "y.out",
                   env=env)
    assert r.returncode == 0 and (tmp_path / "y.out").read_text().startswith("{")
    r = run_sealer("seal", tmp_path / "s.yaml", "-w", tmp_path / "z.yaml", env=env)  # sealer's default: YAML
    assert r.returncode == 0 and yaml.safe_load((tmp_path / "z.yaml").read_text())["kind"] == "SealedSecret"
    r = run_sealer("seal", tmp_path / "s.yaml", "-f", tmp_path / "s.yaml", env=env)
    assert r.returncode == 2 and "not both" in r.stderr
    # SEALER_CERT first when both are set
    r = run_sealer("seal", tmp_path / "s.yaml", env={"SEALER_CERT": str(kp2048.cert_path),
                                                     "SEALED_SECRETS_CERT": str(tmp_path / "missing.pem")})
    assert r.returncode == 0, r.stderr


def test_cert_as_file_url(kp2048: KeyPair, tmp_path: Path) -> None:
    url = kp2048.cert_path.resolve().as_uri()  # file:///...
    assert url.startswith("file:///")
    r = kubeseal("--cert", url, "-o", "yaml", input=SECRET)
    assert r.returncode == 0, r.stderr
    assert opened(tmp_path, kp2048, r.stdout) == {"password": b"hunter2"}
    r = run_sealer("seal", "--cert", url.replace("file://", "file://localhost"), input=SECRET)
    assert r.returncode == 0, r.stderr
    r = run_sealer("cert", "--cert", url)
    assert r.returncode == 0 and "fingerprint" in r.stdout
    r = run_sealer("seal", "--cert", "file://elsewhere/x.pem", input=SECRET)
    assert r.returncode == 2 and "local file" in r.stderr
    r = kubeseal("--fetch-cert", "--cert", url)
    assert r.returncode == 0 and r.stdout == kp2048.cert_path.read_text()


# --- the namespace --------------------------------------------------------------------------------------------------

def test_namespace_from_the_kubeconfig_context(kp2048: KeyPair, tmp_path: Path) -> None:
    """kubeseal: the Secret's namespace, else -n, else the context's, else "default"; none without a kubeconfig."""
    kc = offline_kubeconfig(tmp_path / "kc", {"dev": "team-a", "bare": None}, current="dev")
    env = {"KUBECONFIG": str(kc)}
    for command in (("kubeseal", "-o", "yaml"), ("seal",)):
        def ns_of(*args, text=NO_NS, command=command):
            r = run_sealer(*command, "--cert", kp2048.cert_path, *args, input=text, env=env)
            assert r.returncode == 0, r.stderr
            return yaml.safe_load(r.stdout)["metadata"].get("namespace"), r.stdout

        ns, text = ns_of()
        assert ns == "team-a"
        assert opened(tmp_path, kp2048, text) == {"password": b"hunter2"}  # sealed for team-a/db
        assert ns_of("-n", "flag")[0] == "flag"
        assert ns_of("--context", "bare")[0] == "default"
        assert ns_of(text=SECRET)[0] == "app"
        cluster_wide = ns_of("--scope", "cluster-wide")
        assert cluster_wide[0] is None  # a cluster-wide SealedSecret needs none
    # kubeseal prefers the Secret's own namespace over -n; sealer seal says they disagree
    r = kubeseal("-n", "other", "--cert", kp2048.cert_path, input=SECRET, env=env)
    assert r.returncode == 0 and json.loads(r.stdout)["metadata"]["namespace"] == "app"
    r = run_sealer("seal", "-n", "other", "--cert", kp2048.cert_path, input=SECRET, env=env)
    assert r.returncode == 2 and "does not match" in r.stderr
    # no kubeconfig at all: nothing to take a namespace from
    r = kubeseal("--cert", kp2048.cert_path, input=NO_NS, env={"KUBECONFIG": str(tmp_path / "none")}, home=tmp_path)
    assert r.returncode == 2 and "needs a namespace" in r.stderr and not r.stdout


def test_name_override(kp2048: KeyPair, tmp_path: Path) -> None:
    r = kubeseal("--name", "renamed", "-o", "yaml", "--cert", kp2048.cert_path, input=SECRET)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(r.stdout)["metadata"]["name"] == "renamed"
    assert opened(tmp_path, kp2048, r.stdout) == {"password": b"hunter2"}


# --- --raw --------------------------------------------------------------------------------------------------------

def test_raw_from_stdin_and_from_file(kp2048: KeyPair, tmp_path: Path) -> None:
    unwrap = ref.openssl_unwrap(kp2048.key_path)
    r = kubeseal("--raw", "--name", "db", "-n", "app", "--cert", kp2048.cert_path, input="from stdin")
    assert r.returncode == 0, r.stderr
    assert ref.decrypt_b64(r.stdout, b"app/db", unwrap) == b"from stdin"
    value = tmp_path / "value.txt"
    value.write_bytes(b"from a file\n")
    r = kubeseal("--raw", "--name", "db", "-n", "app", "--from-file", f"password={value}", "--cert", kp2048.cert_path)
    assert r.returncode == 0 and ref.decrypt_b64(r.stdout, b"app/db", unwrap) == b"from a file\n"
    r = run_sealer("seal", "--raw", "--name", "db", "-n", "app", "--from-file", f"password={value}",
                   "--cert", kp2048.cert_path)
    assert r.returncode == 0 and ref.decrypt_b64(r.stdout, b"app/db", unwrap) == b"from a file\n"
    r = run_sealer("seal", "--raw", "--scope", "cluster-wide", "--cert", kp2048.cert_path, input="piped")
    assert r.returncode == 0 and ref.decrypt_b64(r.stdout, b"", unwrap) == b"piped"
    # the namespace from the kubeconfig context
    kc = offline_kubeconfig(tmp_path / "kc", {"dev": "team-a"}, current="dev")
    r = kubeseal("--raw", "--scope", "namespace-wide", "--cert", kp2048.cert_path, input="x",
                 env={"KUBECONFIG": str(kc)})
    assert r.returncode == 0 and ref.decrypt_b64(r.stdout, b"team-a", unwrap) == b"x"
    # refusals
    r = kubeseal("--raw", "-n", "app", "--from-file", value, "--from-file", value, "--cert", kp2048.cert_path)
    assert r.returncode == 2 and "one --from-file" in r.stderr and not r.stdout
    r = kubeseal("--raw", "-n", "app", "--cert", kp2048.cert_path, input="x")
    assert r.returncode == 2 and "needs a name" in r.stderr
    r = kubeseal("--from-file", value, "--cert", kp2048.cert_path)
    assert r.returncode == 2 and "--from-file requires --raw" in r.stderr


# --- recovery, merge, version --------------------------------------------------------------------------------------

def test_recovery_unseal_merge_into_and_version(kp2048: KeyPair, kp2048b: KeyPair, tmp_path: Path) -> None:
    sealed = tmp_path / "sealed.yaml"
    r = kubeseal("-w", sealed, "--cert", kp2048.cert_path, input=SECRET)
    assert r.returncode == 0, r.stderr
    r = kubeseal("--recovery-unseal", "--recovery-private-key", f"{kp2048b.key_path},{kp2048.key_path}", "-f", sealed)
    assert r.returncode == 0, r.stderr
    secret = json.loads(r.stdout)  # kubeseal's default format
    assert secret["kind"] == "Secret" and base64.b64decode(secret["data"]["password"]) == b"hunter2"
    r = run_sealer("unseal", sealed, "--recovery-private-key", kp2048.key_path, "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout)["metadata"]["name"] == "db"
    r = kubeseal("--recovery-unseal", "-f", sealed)
    assert r.returncode == 2 and "--recovery-private-key" in r.stderr
    before = sealed.read_text()
    r = kubeseal("--merge-into", sealed, "--cert", kp2048.cert_path,
                 input=SECRET.replace("password: hunter2", "token: t0ken"))
    assert r.returncode == 0, r.stderr
    after = yaml.safe_load(sealed.read_text())
    assert set(after["spec"]["encryptedData"]) == {"password", "token"}
    assert after["spec"]["encryptedData"]["password"] == yaml.safe_load(before)["spec"]["encryptedData"]["password"]
    assert opened(tmp_path, kp2048, sealed.read_text()) == {"password": b"hunter2", "token": b"t0ken"}
    r = kubeseal("--version")
    assert r.returncode == 0 and r.stdout.startswith("kubeseal version: ")


# --- the cluster: published cert, kubectl's flags ------------------------------------------------------------------

def test_fetch_cert_and_kubectl_flags(kube: KubeServer, tmp_path: Path) -> None:
    key = publish(kube)
    home = {"HOME": str(tmp_path)}
    r = kubeseal("--fetch-cert", "--kubeconfig", kube.kubeconfig, env=home)
    assert r.returncode == 0 and r.stdout == key.cert_pem.decode(), r.stderr
    r = kubeseal("--kubeconfig", kube.kubeconfig, "-o", "yaml", env=home, input=SECRET)
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(r.stdout)["metadata"]["annotations"]["sealer.dev/key-fingerprint"] == key.fingerprint
    # a kubeconfig whose server is dead: --server points elsewhere, as kubectl's flag does
    dead = write_kubeconfig(tmp_path / "dead", f"http://127.0.0.1:{free_port()}")
    r = run_sealer("cert", "fetch", "--kubeconfig", dead, env={**ENV, **home})
    assert r.returncode == 2 and "cannot reach" in r.stderr
    r = run_sealer("cert", "fetch", "--kubeconfig", dead, "--server", kube.url, "--token", "other", env={**ENV, **home})
    assert r.returncode == 0 and r.stdout == key.cert_pem.decode(), r.stderr
    r = kubeseal("--fetch-cert", "--kubeconfig", dead, "-s", kube.url, "--insecure-skip-tls-verify", env=home)
    assert r.returncode == 0, r.stderr
    # no kubeconfig, only --server and --token (kubectl accepts that)
    r = kubeseal("--fetch-cert", "--kubeconfig", tmp_path / "none", "--server", kube.url, "--token", "t", env=home)
    assert r.returncode == 0 and r.stdout == key.cert_pem.decode(), r.stderr
    # --cluster / --user pick other entries of the kubeconfig than the context names
    both = json.loads(dead.read_text())
    both["clusters"].append({"name": "live", "cluster": {"server": kube.url}})
    both["users"].append({"name": "other", "user": {"token": "t2"}})
    (tmp_path / "both").write_text(json.dumps(both))
    r = run_sealer("seal", "--kubeconfig", tmp_path / "both", "--cluster", "live", "--user", "other", input=SECRET,
                   env={**ENV, **home})
    assert r.returncode == 0, r.stderr
    r = run_sealer("seal", "--kubeconfig", tmp_path / "both", input=SECRET, env={**ENV, **home})
    assert r.returncode == 2 and "cannot reach" in r.stderr
    r = run_sealer("cert", "fetch", "--kubeconfig", kube.kubeconfig, "--as", "a", "--as-group", "g1", "--as-group",
                   "g2", env={**ENV, **home})
    assert r.returncode == 2 and "--as-group" in r.stderr


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    c = Cluster(tmp_path_factory.mktemp("kubeseal-cluster"))
    yield c
    c.kube.stop()


def test_controller_name_validate_and_re_encrypt(cluster: Cluster, kp2048: KeyPair, tmp_path: Path) -> None:
    # the cert through the controller's /v1/cert.pem (service proxy), as kubeseal fetches it
    r = kubeseal("--fetch-cert", "--controller-name", "sealer-controller", env=cluster.env)
    assert r.returncode == 0 and r.stdout == cluster.cert.read_text(), r.stderr
    r = run_sealer("seal", "--controller-name", "sealer-controller", input=SECRET, env={**ENV, **cluster.env})
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(r.stdout)["metadata"]["annotations"]["sealer.dev/key-fingerprint"] == cluster.fingerprint
    r = kubeseal("--fetch-cert", "--controller-name", "nope", env=cluster.env)
    assert r.returncode == 2 and "nope" in r.stderr
    # --validate: silent when it opens, kubeseal's message and exit 1 when not
    good = tmp_path / "good.yaml"
    assert kubeseal("-w", good, env=cluster.env, input=SECRET).returncode == 0
    r = kubeseal("--validate", "-f", good, env=cluster.env)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == ""
    r = kubeseal("--validate", env=cluster.env, input=good.read_text())
    assert r.returncode == 0
    foreign = run_sealer("seal", "--cert", kp2048.cert_path, input=SECRET).stdout
    r = kubeseal("--validate", env=cluster.env, input=foreign)
    assert r.returncode == 1 and "unable to decrypt sealed secret" in r.stderr
    # --re-encrypt: by the controller; with -f alone, back into that file (kubeseal #405), comments kept
    f = tmp_path / "resealed.yaml"
    f.write_text("# keep me\n" + good.read_text())
    before = yaml.safe_load(good.read_text())
    r = kubeseal("--re-encrypt", "-f", f, env=cluster.env)
    assert r.returncode == 0 and r.stdout == "", r.stderr
    assert f.read_text().startswith("# keep me\n")
    after = yaml.safe_load(f.read_text())
    assert after["metadata"]["annotations"]["sealer.dev/key-fingerprint"] == cluster.fingerprint
    assert after["spec"]["template"] == before["spec"]["template"]
    r = kubeseal("--rotate", env=cluster.env, input=good.read_text())  # the deprecated name; stdout in JSON
    assert r.returncode == 0 and json.loads(r.stdout)["kind"] == "SealedSecret"


# --- Bitnami's deprecated single-blob format (spec.data) ----------------------------------------------------------

def test_v1_data_opens_offline(kp2048: KeyPair, tmp_path: Path) -> None:
    f = tmp_path / "v1.yaml"
    f.write_text(yaml.safe_dump(v1_sealed(kp2048.cert_path)))
    r = run_sealer("unseal", f, "--key", kp2048.key_path)
    assert r.returncode == 0, r.stderr
    secret = yaml.safe_load(r.stdout)
    assert secret["metadata"] == {"name": "db", "namespace": "app", "labels": {"app": "web"}}
    assert secret["type"] == "kubernetes.io/basic-auth"
    assert unsealed_items(r.stdout) == {"password": b"hunter2"}
    moved = v1_sealed(kp2048.cert_path)
    moved["metadata"]["namespace"] = "elsewhere"  # the label pins it to app/db
    f.write_text(yaml.safe_dump(moved))
    r = run_sealer("unseal", f, "--key", kp2048.key_path)
    assert r.returncode == 1 and "spec.data" in r.stderr and not r.stdout
    both = v1_sealed(kp2048.cert_path)
    both["spec"]["encryptedData"] = {"x": "AAAA"}
    f.write_text(yaml.safe_dump(both))
    r = run_sealer("unseal", f, "--key", kp2048.key_path)
    assert r.returncode == 2 and "cannot be used together" in r.stderr
    wide = v1_sealed(kp2048.cert_path, annotations={"sealedsecrets.bitnami.com/cluster-wide": "true"})
    f.write_text(yaml.safe_dump(wide))
    assert unsealed_items(run_sealer("unseal", f, "--key", kp2048.key_path).stdout) == {"password": b"hunter2"}


def test_v1_data_reencrypt_converts_to_encrypted_data(kp2048: KeyPair, kp2048b: KeyPair, tmp_path: Path) -> None:
    f = tmp_path / "v1.yaml"
    f.write_text(yaml.safe_dump(v1_sealed(kp2048.cert_path)))
    r = run_sealer("reencrypt", f, "--key", kp2048.key_path, "--cert", kp2048b.cert_path, "-i")
    assert r.returncode == 0, r.stderr
    doc = yaml.safe_load(f.read_text())
    assert "data" not in doc["spec"] and set(doc["spec"]["encryptedData"]) == {"password"}
    assert doc["spec"]["template"]["type"] == "kubernetes.io/basic-auth"
    assert doc["spec"]["template"]["metadata"]["labels"] == {"app": "web"}
    u = run_sealer("unseal", f, "--key", kp2048b.key_path)
    assert u.returncode == 0 and unsealed_items(u.stdout) == {"password": b"hunter2"}
    assert yaml.safe_load(u.stdout)["type"] == "kubernetes.io/basic-auth"


def secret_condition(kube: KubeServer, group: str, name: str, namespace: str) -> dict | None:
    obj = kube.client.find(group, "SealedSecret", name, namespace) or {}
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), None)


@pytest.mark.parametrize("accept", [None, "false"])
def test_controller_v1_data_flag(kube: KubeServer, tmp_path: Path, accept: str | None) -> None:
    """Bitnami's default (accepted), and --accept-deprecated-v1-data=false (InvalidSpec, no Secret)."""
    extra = ("--bitnami-compat",) + ((f"--accept-deprecated-v1-data={accept}",) if accept else ())
    start_controller(kube, tmp_path, *extra)
    cert, _ = published_cert(kube, tmp_path)
    kube.client.create(v1_sealed(cert))

    def settled():
        c = secret_condition(kube, "bitnami.com/v1alpha1", "db", "app")
        return c if c and (c["status"] == "True" or c.get("reason") == "InvalidSpec") else None

    condition = kube.client.wait_for(settled, timeout=30, message="Ready condition")
    secret = kube.client.find("v1", "Secret", "db", "app")
    if accept is None:
        assert condition["status"] == "True", condition
        assert base64.b64decode(secret["data"]["password"]) == b"hunter2"
        assert secret["type"] == "kubernetes.io/basic-auth"
    else:
        assert condition["reason"] == "InvalidSpec" and "accept-deprecated-v1-data" in condition["message"]
        assert secret is None
