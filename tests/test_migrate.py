"""`sealer migrate bitnami`: Bitnami SealedSecret files become sealer.dev ones. Only apiVersion changes (the rest of
each file byte for byte), ciphertexts still open with the same key, a second run changes nothing, and the cluster
steps are printed on stderr. The SealedSecrets are made by `sealer seal --api-version bitnami.com/v1alpha1`
(wire-compatible with kubeseal: tests/test_wire_compat.py)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.cli_process import run_sealer, unsealed_items
from tests.keypairs import KeyPair

BITNAMI = "bitnami.com/v1alpha1"


def bitnami_sealed(kp: KeyPair, name: str, namespace: str, value: str, *args: str) -> str:
    secret = f"apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {namespace}}}\n" \
             f"stringData: {{password: {value}}}\n"
    r = run_sealer("seal", "--cert", kp.cert_path, "--api-version", BITNAMI, *args, input=secret)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_migrates_in_place_keeping_everything_else(kp2048: KeyPair, tmp_path: Path) -> None:
    db = bitnami_sealed(kp2048, "db", "app", "one")
    wide = bitnami_sealed(kp2048, "shared", "app", "two", "--scope", "cluster-wide").replace(
        f"apiVersion: {BITNAMI}", f"apiVersion: '{BITNAMI}'  # quoted, with a comment")
    config = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata:\n  ref: bitnami.com/v1alpha1\n"
    original = ("# header comment\n---\n" + db + "---\n" + config + "---\n" + wide
                + "---\napiVersion: v1\nkind: List\nitems:\n" + "".join(
                    "- " + line if i == 0 else "  " + line
                    for i, line in enumerate(bitnami_sealed(kp2048, "api", "web", "three").splitlines(True))))
    f = tmp_path / "sealed.yaml"
    f.write_text(original)
    untouched = tmp_path / "plain.yaml"
    untouched.write_text(config)
    r = run_sealer("migrate", "bitnami", f, untouched, "-i")
    assert r.returncode == 0, r.stderr
    text = f.read_text()
    old_lines, new_lines = original.splitlines(), text.splitlines()
    assert len(old_lines) == len(new_lines)
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert changed == [
        (f"apiVersion: {BITNAMI}", "apiVersion: sealer.dev/v1alpha1"),
        (f"apiVersion: '{BITNAMI}'  # quoted, with a comment",
         "apiVersion: 'sealer.dev/v1alpha1'  # quoted, with a comment"),
        (f"- apiVersion: {BITNAMI}", "- apiVersion: sealer.dev/v1alpha1"),
    ]
    assert untouched.read_text() == config
    # stderr: what was done, and the cluster steps naming each SealedSecret
    assert "migrated 3 SealedSecrets in 1 file" in r.stderr
    assert "--import-bitnami-keys" in r.stderr
    for ns, name in (("app", "db"), ("app", "shared"), ("web", "api")):
        assert f"kubectl annotate secret -n {ns} {name} sealedsecrets.bitnami.com/managed=true" in r.stderr
        assert f"kubectl delete sealedsecrets.bitnami.com -n {ns} {name} --cascade=orphan" in r.stderr
    assert f"{untouched}: no bitnami.com SealedSecret" in r.stderr
    # the ciphertexts still open, with the same key
    u = run_sealer("unseal", "--key", kp2048.key_path, input="---\n".join(
        d for d in text.split("---\n")[1:4] if "SealedSecret" in d))
    assert u.returncode == 0, u.stderr
    opened = [d for d in yaml.safe_load_all(u.stdout) if d]
    assert [(d["metadata"]["name"], d["data"]["password"]) for d in opened] == [("db", "b25l"), ("shared", "dHdv")]
    # idempotent: nothing left to do, the file is not rewritten
    mtime = f.stat().st_mtime_ns
    again = run_sealer("migrate", "bitnami", f, "-i")
    assert again.returncode == 0 and f.read_text() == text and f.stat().st_mtime_ns == mtime
    assert "migrated 0 SealedSecrets in 0 files" in again.stderr and "kubectl" not in again.stderr


def test_migrated_file_opens_as_before(kp2048: KeyPair, tmp_path: Path) -> None:
    f = tmp_path / "one.yaml"
    f.write_text(bitnami_sealed(kp2048, "db", "app", "secret-value"))
    before = yaml.safe_load(f.read_text())
    r = run_sealer("migrate", "bitnami", f)  # without -i: printed, the file stays
    assert r.returncode == 0, r.stderr
    assert yaml.safe_load(f.read_text()) == before
    after = yaml.safe_load(r.stdout)
    assert after["apiVersion"] == "sealer.dev/v1alpha1"
    assert {k: v for k, v in after.items() if k != "apiVersion"} == {k: v for k, v in before.items()
                                                                     if k != "apiVersion"}
    (tmp_path / "migrated.yaml").write_text(r.stdout)
    u = run_sealer("unseal", tmp_path / "migrated.yaml", "--key", kp2048.key_path)
    assert u.returncode == 0 and unsealed_items(u.stdout) == {"password": b"secret-value"}


def test_json_and_errors(kp2048: KeyPair, tmp_path: Path) -> None:
    j = tmp_path / "s.json"
    r = run_sealer("seal", "--cert", kp2048.cert_path, "--api-version", BITNAMI, "-o", "json", "-w", j,
                   input="apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: app}\nstringData: {k: v}\n")
    assert r.returncode == 0, r.stderr
    before = json.loads(j.read_text())
    r = run_sealer("migrate", "bitnami", "-i", j)
    assert r.returncode == 0, r.stderr
    after = json.loads(j.read_text())
    assert after == {**before, "apiVersion": "sealer.dev/v1alpha1"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: [SealedSecret\n")
    r = run_sealer("migrate", "bitnami", "-i", j, bad)
    assert r.returncode == 2 and str(bad) in r.stderr
    r = run_sealer("migrate", "bitnami", "-i", "-", input="{}")
    assert r.returncode == 2 and "stdin" in r.stderr


def test_v1_data_is_left_for_reencrypt_first(kp2048: KeyPair, tmp_path: Path) -> None:
    """sealer's CRD has no spec.data (an API server would prune it): such objects are named and left as they are;
    `sealer reencrypt` turns them into encryptedData, and then they migrate."""
    from tests.bitnami_cluster import v1_sealed

    f = tmp_path / "v1.yaml"
    f.write_text(yaml.safe_dump(v1_sealed(kp2048.cert_path, name="old", namespace="app")))
    original = f.read_text()
    r = run_sealer("migrate", "bitnami", "-i", f)
    assert r.returncode == 0 and f.read_text() == original, r.stderr
    assert "app/old uses the deprecated spec.data" in r.stderr and "reencrypt" in r.stderr
    assert run_sealer("reencrypt", f, "--key", kp2048.key_path, "--cert", kp2048.cert_path, "-i").returncode == 0
    r = run_sealer("migrate", "bitnami", "-i", f)
    assert r.returncode == 0 and "migrated 1 SealedSecret in 1 file" in r.stderr, r.stderr
    u = run_sealer("unseal", f, "--key", kp2048.key_path)
    assert yaml.safe_load(f.read_text())["apiVersion"] == "sealer.dev/v1alpha1"
    assert u.returncode == 0 and unsealed_items(u.stdout) == {"password": b"hunter2"}
