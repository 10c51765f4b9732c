"""Offline recovery: `sealer unseal` with key files and key-Secret backups; `sealer reencrypt` to a new cert."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml

from tests.cli_process import run_sealer, unsealed_items
from tests.keypairs import KeyPair

SECRET = ("apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: prod}}\ntype: Opaque\n"
          "stringData: {{password: {value}, token: tok-{value}}}\n")


def sealed_file(kp: KeyPair, path: Path, name: str = "db", value: str = "hunter2", *args: str) -> Path:
    src = path.with_suffix(".in")
    src.write_text(SECRET.format(name=name, value=value))
    r = run_sealer("seal", src, "--cert", kp.cert_path, "-w", path, *args)
    assert r.returncode == 0, r.stderr
    return path


def key_backup(tmp_path: Path, *kps: KeyPair, as_json: bool = False) -> Path:
    """A backup as `kubectl get secret -l sealer.dev/sealing-key -o yaml` prints it: a v1 List of tls Secrets."""
    items = [{"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
              "metadata": {"name": f"sealer-key-{i}", "namespace": "sealer-system",
                           "labels": {"sealer.dev/sealing-key": "active"}},
              "data": {"tls.key": base64.b64encode(kp.key_path.read_bytes()).decode(),
                       "tls.crt": base64.b64encode(kp.cert_path.read_bytes()).decode()}}
             for i, kp in enumerate(kps)]
    doc = {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}
    path = tmp_path / ("backup.json" if as_json else "backup.yaml")
    path.write_text(json.dumps(doc) if as_json else yaml.safe_dump(doc))
    return path


def test_unseal_with_a_key_secret_backup(kp2048, kp2048b, tmp_path):
    f = sealed_file(kp2048, tmp_path / "s.yaml")
    for as_json in (False, True):
        backup = key_backup(tmp_path, kp2048b, kp2048, as_json=as_json)
        r = run_sealer("unseal", f, "--key", backup)
        assert r.returncode == 0, r.stderr
        assert unsealed_items(r.stdout) == {"password": b"hunter2", "token": b"tok-hunter2"}


def test_unseal_tries_every_key_when_the_hint_is_missing_or_wrong(kp2048, kp2048b, tmp_path):
    f = sealed_file(kp2048, tmp_path / "s.yaml")
    doc = yaml.safe_load(f.read_text())
    doc["metadata"]["annotations"]["sealer.dev/key-fingerprint"] = kp2048b.cert.fingerprint  # a lie
    f.write_text(yaml.safe_dump(doc))
    r = run_sealer("unseal", f, "--key", kp2048b.key_path, "--key", kp2048.key_path)
    assert r.returncode == 0, r.stderr
    del doc["metadata"]["annotations"]
    f.write_text(yaml.safe_dump(doc))
    r = run_sealer("unseal", f, "--key", kp2048b.key_path, "--key", kp2048.key_path)
    assert r.returncode == 0, r.stderr


def test_unseal_failure_names_object_and_item_prints_nothing_and_exits_1(kp2048, kp2048b, tmp_path):
    good = sealed_file(kp2048, tmp_path / "a.yaml", "first")
    text = good.read_text() + "---\n" + sealed_file(kp2048b, tmp_path / "b.yaml", "second").read_text()
    both = tmp_path / "both.yaml"
    both.write_text(text)
    r = run_sealer("unseal", both, "--key", kp2048.key_path)
    assert r.returncode == 1
    assert r.stdout == ""  # the first one opened, but nothing is printed unless all do
    assert "SealedSecret prod/second" in r.stderr and "password" in r.stderr and "token" in r.stderr
    assert "hunter2" not in r.stderr and r.stderr.count("\n") == 1


def test_unseal_rejects_unusable_keys_with_exit_2(kp2048, tmp_path):
    f = sealed_file(kp2048, tmp_path / "s.yaml")
    cases = {
        "garbage.pem": "-----BEGIN RSA PRIVATE KEY-----\nnot base64\n-----END RSA PRIVATE KEY-----\n",
        "nothing.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
        "badb64.yaml": "apiVersion: v1\nkind: Secret\nmetadata: {name: k}\ndata: {tls.key: '!!!'}\n",
    }
    for name, content in cases.items():
        (tmp_path / name).write_text(content)
        r = run_sealer("unseal", f, "--key", tmp_path / name)
        assert r.returncode == 2, (name, r.stderr)
        assert name in r.stderr and "Traceback" not in r.stderr and not r.stdout
    r = run_sealer("unseal", f)
    assert r.returncode == 2 and "--key" in r.stderr


def test_unseal_rejects_corrupt_ciphertext_with_exit_1(kp2048, tmp_path):
    f = sealed_file(kp2048, tmp_path / "s.yaml")
    doc = yaml.safe_load(f.read_text())
    ct = bytearray(base64.b64decode(doc["spec"]["encryptedData"]["token"]))
    ct[-1] ^= 1
    doc["spec"]["encryptedData"]["token"] = base64.b64encode(bytes(ct)).decode()
    f.write_text(yaml.safe_dump(doc))
    r = run_sealer("unseal", f, "--key", kp2048.key_path)
    assert r.returncode == 1 and "token" in r.stderr and "integrity" in r.stderr and not r.stdout


def test_reencrypt_to_a_new_cert_keeps_scope_template_and_comments(kp2048, kp2048b, tmp_path):
    f = sealed_file(kp2048, tmp_path / "s.yaml", "db", "hunter2", "--scope", "namespace-wide")
    f.write_text("# owned by team payments\n" + f.read_text())
    before = yaml.safe_load(f.read_text())
    r = run_sealer("reencrypt", f, "--key", kp2048.key_path, "--cert", kp2048b.cert_path, "-i")
    assert r.returncode == 0, r.stderr
    text = f.read_text()
    after = yaml.safe_load(text)
    assert text.startswith("# owned by team payments\n")
    assert after["spec"]["template"] == before["spec"]["template"]
    assert after["metadata"]["annotations"] == {
        "sealer.dev/key-fingerprint": kp2048b.cert.fingerprint,
        "sealedsecrets.bitnami.com/namespace-wide": "true"}
    assert after["spec"]["encryptedData"]["password"] != before["spec"]["encryptedData"]["password"]
    r = run_sealer("unseal", f, "--key", kp2048b.key_path)
    assert unsealed_items(r.stdout) == {"password": b"hunter2", "token": b"tok-hunter2"}
    r = run_sealer("unseal", f, "--key", kp2048.key_path)
    assert r.returncode == 1  # the old key no longer opens it


def test_reencrypt_without_i_prints_and_leaves_files(kp2048, kp2048b, tmp_path):
    f = sealed_file(kp2048, tmp_path / "s.yaml")
    before = f.read_text()
    r = run_sealer("reencrypt", f, "--key", kp2048.key_path, "--cert", kp2048b.cert_path)
    assert r.returncode == 0, r.stderr
    assert f.read_text() == before
    (tmp_path / "new.yaml").write_text(r.stdout)
    assert unsealed_items(run_sealer("unseal", tmp_path / "new.yaml", "--key", kp2048b.key_path).stdout)


def test_reencrypt_is_all_or_nothing_across_files(kp2048, kp2048b, tmp_path):
    ok = sealed_file(kp2048, tmp_path / "ok.yaml", "one")
    foreign = sealed_file(kp2048b, tmp_path / "foreign.yaml", "two")  # the old key cannot open this
    texts = {p: p.read_text() for p in (ok, foreign)}
    r = run_sealer("reencrypt", ok, foreign, "--key", kp2048.key_path, "--cert", kp2048b.cert_path, "-i")
    assert r.returncode == 1 and "foreign.yaml" in r.stderr
    assert {p: p.read_text() for p in (ok, foreign)} == texts


def test_reencrypt_leaves_other_documents_alone(kp2048, kp2048b, tmp_path):
    f = sealed_file(kp2048, tmp_path / "s.yaml")
    cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: 'fast'  # tuned\n"
    f.write_text(cm + "---\n" + f.read_text())
    r = run_sealer("reencrypt", f, "--key", kp2048.key_path, "--cert", kp2048b.cert_path, "-i")
    assert r.returncode == 0, r.stderr
    assert f.read_text().startswith(cm)


def test_reencrypt_twice_is_a_no_op(kp2048, kp2048b, tmp_path):
    f = sealed_file(kp2048, tmp_path / "s.yaml")
    args = ("reencrypt", f, "--key", kp2048.key_path, "--key", kp2048b.key_path, "--cert", kp2048b.cert_path, "-i")
    assert run_sealer(*args).returncode == 0
    once = f.read_text()
    mtime = f.stat().st_mtime_ns
    r = run_sealer(*args)
    assert r.returncode == 0 and "re-encrypted 0 items in 1 SealedSecret " in r.stderr
    assert f.read_text() == once and f.stat().st_mtime_ns == mtime


def test_merge_into_with_another_cert_drops_the_key_hint_instead_of_lying(kp2048, kp2048b, tmp_path):
    f = sealed_file(kp2048, tmp_path / "s.yaml")
    new = tmp_path / "new.yaml"
    new.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: prod}\nstringData: {extra: x}\n")
    r = run_sealer("seal", new, "--cert", kp2048b.cert_path, "--merge-into", f)
    assert r.returncode == 0, r.stderr
    annotations = yaml.safe_load(f.read_text())["metadata"].get("annotations") or {}
    assert "sealer.dev/key-fingerprint" not in annotations  # items are now sealed to two different keys
    r = run_sealer("unseal", f, "--key", kp2048.key_path, "--key", kp2048b.key_path)
    assert unsealed_items(r.stdout) == {"password": b"hunter2", "token": b"tok-hunter2", "extra": b"x"}
    # replacing every item with the new cert makes the hint true again
    new.write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: prod}\n"
                   "stringData: {extra: x, password: p, token: t}\n")
    assert run_sealer("seal", new, "--cert", kp2048b.cert_path, "--merge-into", f).returncode == 0
    annotations = yaml.safe_load(f.read_text())["metadata"]["annotations"]
    assert annotations["sealer.dev/key-fingerprint"] == kp2048b.cert.fingerprint


def test_keys_list_shows_fingerprints_never_key_material(kp2048, kp2048b, tmp_path):
    backup = key_backup(tmp_path, kp2048, kp2048b)
    r = run_sealer("keys", "list", "--key", backup, "--key", kp2048.key_path, "-o", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [row["fingerprint"] for row in rows] == [kp2048.cert.fingerprint, kp2048b.cert.fingerprint,
                                                    kp2048.cert.fingerprint]
    assert rows[0]["origin"] == f"{backup}: Secret sealer-system/sealer-key-0"
    assert "PRIVATE KEY" not in r.stdout and "MII" not in r.stdout


def test_keys_list_json_escapes_terminal_controls_in_names(kp2048, tmp_path):
    """A backup file's Secret name reaches `-o json` output: C1 controls (\\x9b is CSI on some terminals), bidi
    overrides and line separators come out as JSON escapes, so the document reads back the same."""
    backup = key_backup(tmp_path, kp2048, as_json=True)
    doc = json.loads(backup.read_text())
    evil = "key\u009b2J\u202ename\u2028x"
    doc["items"][0]["metadata"]["name"] = evil
    backup.write_text(json.dumps(doc))
    r = run_sealer("keys", "list", "--key", backup, "-o", "json")
    assert r.returncode == 0, r.stderr
    assert not any(c in r.stdout for c in "\u009b\u202e\u2028"), r.stdout
    assert json.loads(r.stdout)[0]["origin"] == f"{backup}: Secret sealer-system/{evil}"


def test_null_annotations_are_not_a_crash(kp2048, tmp_path):
    f = sealed_file(kp2048, tmp_path / "s.yaml")
    doc = yaml.safe_load(f.read_text())
    doc["metadata"]["annotations"] = None
    f.write_text(yaml.safe_dump(doc))
    r = run_sealer("unseal", f, "--key", kp2048.key_path)
    assert r.returncode == 0, r.stderr
    r = run_sealer("reencrypt", f, "--key", kp2048.key_path, "--cert", kp2048.cert_path)
    assert r.returncode == 0, r.stderr
