"""The SOPS commands as a user runs them: byte stability of edits, tampering, no plaintext leaks, ergonomics.

Every command runs as a real process (tests.cli_process.run_sealer) in a workspace with its own HOME, so neither
sealer nor sops can see the caller's keys. The real `sops` binary checks what sealer writes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.sops_helpers import (
    ENC_RE,
    SECRET_REGEX,
    AgeKey,
    Workspace,
    changed_lines,
    edit_spec,
    enc_types,
    enc_values,
    load_doc,
    load_docs,
    make_age_key,
    needs_sops,
    ok,
    parallel,
    plain_leaves,
    recipients,
    sops_block,
    write_editor,
)

pytestmark = needs_sops

LEAK = "Zq7-LEAKED-VALUE-x9"  # planted in failing files: must never reach stderr

SECRET = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: app
  namespace: prod
  labels:
    app: web
  annotations:
    team: payments
type: Opaque
stringData:
  # database credentials
  user: admin
  password: {LEAK}
  url: postgres://db:5432/app
data:
  token: c2VjcmV0LXRva2Vu
"""


@dataclass
class Env:
    ws: Workspace
    key: AgeKey
    other: AgeKey  # a key the files are not encrypted for
    editor: dict[str, str]
    by_sealer: str  # SECRET encrypted by sealer
    by_sops: str  # SECRET encrypted by sops

    def file(self, name: str, text: str | None = None, writer: str = "sealer") -> Path:
        return self.ws.write(name, text if text is not None else (self.by_sealer if writer == "sealer" else
                                                                  self.by_sops))


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    ws = Workspace(tmp_path_factory.mktemp("cli"))
    keys = ws.root / "keys"
    key, other = make_age_key(keys, "a"), make_age_key(keys, "b")
    ws.write("secret.yaml", SECRET)
    by_sealer, by_sops = map(ok, parallel(
        lambda: ws.sealer("encrypt", "--age", key.recipient, "secret.yaml"),
        lambda: ws.sops("encrypt", "--age", key.recipient, "--encrypted-regex", SECRET_REGEX, "secret.yaml")))
    return Env(ws, key, other, write_editor(ws.root), by_sealer, by_sops)


def listing(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*")}


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected a one-line error, got: {stderr!r}"
    return lines[0]


# --- 3. byte stability ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("writer", ["sealer", "sops"])
def test_set_changes_only_that_value_lastmodified_and_mac(env: Env, writer: str) -> None:
    f = env.file(f"set-{writer}.yaml", writer=writer)
    before = f.read_text()
    ok(env.ws.sealer("set", f.name, '["stringData"]["url"]', '"postgres://other:5432/app"', key=env.key))
    after = f.read_text()
    changed = [b.split(":")[0].strip() for _, b in changed_lines(before, after)]
    # lastmodified has one-second resolution: it is unchanged when the file was written in the same second
    assert changed in (["url", "lastmodified", "mac"], ["url", "mac"]), changed
    # sops agrees with the result (MAC verified) and sees the new value
    out = ok(env.ws.sops("decrypt", "--extract", '["stringData"]["url"]', f.name, key=env.key))
    assert out == "postgres://other:5432/app"


def test_set_keeps_comments_next_to_the_value(env: Env) -> None:
    env.ws.write("commented.yaml", "a: 1 # about a\n# between a and b\nb: 2\n# after b\n")
    f = env.ws.write("commented.enc.yaml", ok(env.ws.sealer("encrypt", "--age", env.key.recipient,
                                                            "commented.yaml")))
    before = f.read_text()
    ok(env.ws.sealer("set", f.name, '["a"]', "5", key=env.key))
    changed = {old.split(":")[0].strip() for old, _ in changed_lines(before, f.read_text())}
    # the value, the MAC, and lastmodified unless both writes fell in the same second
    assert changed in ({"a", "mac", "lastmodified"}, {"a", "mac"})
    out = ok(env.ws.sops("decrypt", f.name, key=env.key))
    assert "# about a" in out and "# between a and b" in out


@pytest.mark.parametrize("writer", ["sealer", "sops"])
def test_edit_that_changes_nothing_writes_nothing(env: Env, writer: str) -> None:
    f = env.file(f"noop-{writer}.yaml", writer=writer)
    before = f.read_bytes()
    old = 1_000_000_000
    os.utime(f, (old, old))
    r = env.ws.sealer("edit", f.name, key=env.key, **env.editor, TEST_EDIT_SPEC=edit_spec())
    assert r.returncode == 0, r.stderr
    assert "unchanged" in r.stderr and f.name in r.stderr
    assert f.read_bytes() == before
    assert f.stat().st_mtime == old


def test_edit_of_a_sops_file_changes_only_the_edited_lines(env: Env) -> None:
    f = env.file("edit-sops.yaml", writer="sops")
    before = f.read_text()
    r = env.ws.sealer("edit", f.name, key=env.key, **env.editor,
                      TEST_EDIT_SPEC=edit_spec(replace=[["user: admin", "user: root"]]))
    assert r.returncode == 0, r.stderr
    after = f.read_text()
    changed = [b.split(":")[0].strip() for _, b in changed_lines(before, after)]  # sops' layout kept
    assert changed in (["user", "lastmodified", "mac"], ["user", "mac"]), changed
    assert after.startswith("apiVersion: v1\nkind: Secret\nmetadata:\n    name: app\n")
    assert ok(env.ws.sops("decrypt", "--extract", '["stringData"]["user"]', f.name, key=env.key)) == "root"


# --- 4. tampering ---------------------------------------------------------------------------------------------


def _enc_of(text: str, key: str) -> str:
    m = re.search(rf"^\s*{key}: (ENC\[[^\]]*\])", text, re.M)
    assert m, key
    return m.group(1)


def _flip(text: str) -> str:
    value = _enc_of(text, "user")
    data = ENC_RE.fullmatch(value).group(1)  # type: ignore[union-attr]
    flipped = ("B" if data[0] == "A" else "A") + data[1:]
    return text.replace(value, value.replace(f"data:{data}", f"data:{flipped}"))


def _swap(text: str) -> str:
    user, url = _enc_of(text, "user"), _enc_of(text, "url")
    return text.replace(user, "@@").replace(url, user).replace("@@", url)


TAMPER = {
    # name: (change, exit code, field named in the message)
    "ciphertext-flipped": (_flip, 1, "stringData.user"),
    "values-swapped": (_swap, 1, "stringData.user"),
    "value-removed": (lambda t: re.sub(r"(?m)^\s*url: ENC.*\n", "", t), 1, "sops.mac"),
    "lastmodified-edited": (lambda t: re.sub(r'lastmodified: "\d{4}', 'lastmodified: "1999', t), 1, "sops.mac"),
    "plaintext-injected": (lambda t: t.replace("\ndata:\n", "\ndata:\n  extra: aW5qZWN0ZWQ=\n"), 1, "data.extra"),
    "mac-removed": (lambda t: re.sub(r"(?m)^\s*mac: ENC.*\n", "", t), 2, "sops.mac"),
}


@pytest.mark.parametrize("kind", list(TAMPER))
def test_tampered_files_are_refused_and_nothing_is_written(env: Env, kind: str) -> None:
    change, code, field = TAMPER[kind]
    text = change(env.by_sealer)
    assert text != env.by_sealer
    files = [env.file(f"tampered-{kind}-{op}.yaml", text) for op in ("decrypt", "set", "edit", "rotate")]
    decrypt, set_, edit, rotate = parallel(
        lambda: env.ws.sealer("decrypt", files[0].name, key=env.key),
        lambda: env.ws.sealer("set", files[1].name, '["stringData"]["user"]', '"x"', key=env.key),
        lambda: env.ws.sealer("edit", files[2].name, key=env.key, **env.editor,
                              TEST_EDIT_SPEC=edit_spec(replace=[["admin", "root"]])),
        lambda: env.ws.sealer("rotate", files[3].name, key=env.key))
    assert decrypt.returncode == code and decrypt.stdout == ""
    message = one_line(decrypt.stderr)
    assert message.startswith(f"sealer: error: {files[0].name}: ") and field in message, message
    assert LEAK not in decrypt.stderr
    for f, r in zip(files[1:], (set_, edit, rotate), strict=True):
        assert r.returncode == code, (f.name, r.stderr)
        assert f.name in one_line(r.stderr) and LEAK not in r.stderr
        assert f.read_text() == text, f"{f.name} was written"
    # sops refuses it too (the tampering is real, not a sealer quirk)
    assert env.ws.sops("decrypt", files[0].name, key=env.key).returncode != 0


def test_ignore_mac_recovers_a_file_with_a_value_removed(env: Env) -> None:
    removed = env.file("ignore-mac.yaml", TAMPER["value-removed"][0](env.by_sealer))
    stale = env.file("ignore-mac-lm.yaml", TAMPER["lastmodified-edited"][0](env.by_sealer))
    docs = []
    for r in parallel(lambda: env.ws.sealer("decrypt", "--ignore-mac", removed.name, key=env.key),
                      lambda: env.ws.sealer("decrypt", "--ignore-mac", stale.name, key=env.key)):
        docs.append(load_doc(ok(r)))
        assert docs[-1]["stringData"]["password"] == LEAK and docs[-1]["data"]["token"] == "c2VjcmV0LXRva2Vu"
    assert "url" not in docs[0]["stringData"] and "url" in docs[1]["stringData"]


# --- 6. no plaintext leaks ------------------------------------------------------------------------------------


def test_secret_values_never_reach_error_messages(env: Env) -> None:
    ws, key = env.ws, env.key
    ws.write("leak-bad-yaml.yaml", f"password: {LEAK}\nbroken: [unclosed\n")
    ws.write("leak-enc-bad-yaml.yaml", env.by_sealer + "broken: [unclosed\n")
    ws.write("leak-wrong-key.yaml", env.by_sealer)
    ws.write("leak-mac.yaml", TAMPER["value-removed"][0](env.by_sealer))
    ws.write("leak-injected.yaml", env.by_sealer.replace("\ndata:\n", f"\ndata:\n  extra: {LEAK}\n"))
    ws.write("leak-set.yaml", env.by_sealer)
    ws.write("leak-json.json", json.dumps({"password": LEAK, "n": 1}) + "\n}")
    runs = {
        "bad YAML after the value": lambda: ws.sealer("encrypt", "--age", key.recipient, "leak-bad-yaml.yaml"),
        "bad YAML in an encrypted file": lambda: ws.sealer("decrypt", "leak-enc-bad-yaml.yaml", key=key),
        "wrong key": lambda: ws.sealer("decrypt", "leak-wrong-key.yaml", key=env.other),
        "MAC mismatch": lambda: ws.sealer("decrypt", "leak-mac.yaml", key=key),
        "plaintext where the rule says encrypted": lambda: ws.sealer("decrypt", "leak-injected.yaml", key=key),
        "bad recipient": lambda: ws.sealer("encrypt", "--age", "age1notarecipient", "secret.yaml"),
        "non-JSON value for set": lambda: ws.sealer("set", "leak-set.yaml", '["stringData"]["user"]', LEAK, key=key),
        "bad JSON": lambda: ws.sealer("encrypt", "--age", key.recipient, "leak-json.json"),
        "bad identity": lambda: ws.sealer("decrypt", "leak-set.yaml", SOPS_AGE_KEY=f"AGE-SECRET-KEY-1{LEAK}"),
    }
    results = dict(zip(runs, parallel(*runs.values()), strict=True))
    for what, r in results.items():
        assert r.returncode in (1, 2), (what, r.returncode, r.stderr)
        assert r.stdout == "", what
        assert r.stderr.startswith("sealer: error: "), (what, r.stderr)
        assert LEAK not in r.stderr, f"{what}: {r.stderr}"
        assert "Traceback" not in r.stderr, what
    assert ws.files.joinpath("leak-set.yaml").read_text() == env.by_sealer


def _edit_records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("case", ["success", "editor-fails", "invalid-yaml"])
def test_edit_temp_file_is_private_and_always_removed(env: Env, tmp_path: Path, case: str) -> None:
    f = env.file(f"tmp-{case}.yaml")
    before = f.read_text()
    record = tmp_path / "record.jsonl"
    spec = {"record": str(record), "replace": [["admin", "root"]]}
    if case == "editor-fails":
        spec["exit"] = 3
    elif case == "invalid-yaml":
        spec["replace"] = [["user: admin", "user: [unclosed"]]
    r = env.ws.sealer("edit", f.name, key=env.key, **env.editor, TEST_EDIT_SPEC=json.dumps(spec))
    (seen,) = _edit_records(record)  # the editor ran once (non-interactive: no retry)
    assert seen["mode"] == 0o600 and seen["dir_mode"] == 0o700
    temp = Path(seen["path"])
    assert not temp.exists() and not temp.parent.exists()
    assert LEAK not in r.stderr
    if case == "success":
        assert r.returncode == 0, r.stderr
        assert ok(env.ws.sops("decrypt", "--extract", '["stringData"]["user"]', f.name, key=env.key)) == "root"
    else:
        assert r.returncode == 2, r.stderr  # bad input: the editor failed, or its result is not YAML
        assert f.read_text() == before
        assert r.stdout == "" and one_line(r.stderr)
        for recovery in re.findall(r"(/\S*?sealer-recovery-[^/\s]+)", r.stderr):  # the refused buffer, kept 0600
            shutil.rmtree(recovery, ignore_errors=True)


def test_commands_create_no_stray_files(env: Env, tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.write(".sops.yaml", f"creation_rules:\n  - age: {env.key.recipient}\n")
    target = ws.write("s.yaml", SECRET)
    files = ws.files
    expected = listing(files)
    steps = [
        ("encrypt", "-i", "s.yaml"),
        ("set", "s.yaml", '["stringData"]["user"]', '"root"'),
        ("unset", "s.yaml", '["data"]["token"]'),
        ("rotate", "s.yaml"),
        ("updatekeys", "-y", "s.yaml"),
        ("edit", "s.yaml"),
    ]
    for args in steps:
        r = ws.sealer(*args, key=env.key, **env.editor, TEST_EDIT_SPEC=edit_spec(replace=[["root", "admin"]]))
        assert r.returncode == 0, (args, r.stderr)
        assert listing(files) == expected, args
    r = ws.sealer("decrypt", "-o", "out.yaml", "s.yaml", key=env.key)
    assert r.returncode == 0 and r.stdout == ""
    assert listing(files) == expected | {"out.yaml"}
    doc = load_doc((files / "out.yaml").read_text())
    assert doc["stringData"] == {"user": "admin", "password": LEAK, "url": "postgres://db:5432/app"}
    assert "data" not in doc or not doc["data"]
    assert enc_types(target.read_text())  # still encrypted in place


# --- 7. CLI ergonomics ----------------------------------------------------------------------------------------


def test_recipient_precedence_flag_env_config(env: Env, tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    a, b, c = (make_age_key(tmp_path / "k", n) for n in "abc")
    # the rule's path_regex is relative to the config's directory, not to the working directory
    ws.write(".sops.yaml", f"creation_rules:\n  - path_regex: ^secrets/.*\\.yaml$\n    age: {c.recipient}\n")
    ws.write("secrets/x.yaml", SECRET)
    ws.write("other/y.yaml", SECRET)
    inside, outside = ws.files / "secrets", ws.files / "other"
    flag, from_env, from_config, no_rule, sops_config = parallel(
        lambda: ws.sealer("encrypt", "--age", a.recipient, "x.yaml", cwd=inside, SOPS_AGE_RECIPIENTS=b.recipient),
        lambda: ws.sealer("encrypt", "x.yaml", cwd=inside, SOPS_AGE_RECIPIENTS=b.recipient),
        lambda: ws.sealer("encrypt", "x.yaml", cwd=inside),
        lambda: ws.sealer("encrypt", "y.yaml", cwd=outside),
        lambda: ws.sops("encrypt", "x.yaml", cwd=inside))
    assert recipients(ok(flag)) == [a.recipient]
    assert recipients(ok(from_env)) == [b.recipient]
    assert recipients(ok(from_config)) == [c.recipient] == recipients(ok(sops_config))
    assert no_rule.returncode == 2 and no_rule.stdout == ""
    assert "no recipients" in no_rule.stderr and ".sops.yaml" in no_rule.stderr


def test_default_rules_secret_versus_other_yaml(env: Env, tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.write("secret.yaml", SECRET)
    ws.write("app.yaml", "name: app\npassword: pw\nport: 80\nhost_unencrypted: db\nnested:\n  k: v\n")
    secret, other = map(ok, parallel(lambda: ws.sealer("encrypt", "--age", env.key.recipient, "secret.yaml"),
                                     lambda: ws.sealer("encrypt", "--age", env.key.recipient, "app.yaml")))
    assert sops_block(secret)["encrypted_regex"] == SECRET_REGEX and "unencrypted_suffix" not in sops_block(secret)
    plain = plain_leaves(secret)
    assert plain[(0, "metadata", "name")] == "app" and plain[(0, "metadata", "labels", "app")] == "web"
    assert plain[(0, "kind")] == "Secret" and plain[(0, "type")] == "Opaque"
    assert {k[1] for k in enc_types(secret)} == {"stringData", "data"}
    assert sops_block(other)["unencrypted_suffix"] == "_unencrypted" and "encrypted_regex" not in sops_block(other)
    assert plain_leaves(other) == {(0, "host_unencrypted"): "db"}
    assert set(enc_types(other)) == {(0, "name"), (0, "password"), (0, "port"), (0, "nested", "k")}


def test_kind_sopssecret(env: Env, tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.write("s.yaml", SECRET)
    ws.write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  k: v\n")
    text, refused = parallel(lambda: ws.sealer("encrypt", "--age", env.key.recipient, "--kind", "sopssecret", "s.yaml"),
                             lambda: ws.sealer("encrypt", "--age", env.key.recipient, "--kind", "sopssecret",
                                               "cm.yaml"))
    out = ws.write("ss.yaml", ok(text))
    doc = load_doc(out.read_text())
    assert doc["apiVersion"] == "sealer.dev/v1alpha1" and doc["kind"] == "SopsSecret"
    assert doc["metadata"] == {"name": "app", "namespace": "prod"}
    assert doc["spec"]["template"] == {"metadata": {"labels": {"app": "web"}, "annotations": {"team": "payments"}},
                                       "type": "Opaque"}
    assert {k[1:] for k in enc_types(out.read_text())} == {
        ("spec", "stringData", "user"), ("spec", "stringData", "password"), ("spec", "stringData", "url"),
        ("spec", "data", "token"), ("spec", "binding")}
    assert sops_block(out.read_text())["encrypted_regex"] == "^(binding|data|stringData)$"
    assert LEAK not in out.read_text()
    from_sops, from_sealer = map(ok, parallel(lambda: ws.sops("decrypt", out.name, key=env.key),
                                              lambda: ws.sealer("decrypt", out.name, key=env.key)))
    for printed in (from_sops, from_sealer):
        spec = load_doc(printed)["spec"]
        token = {"token": "c2VjcmV0LXRva2Vu"}  # sealer:allow credential
        assert spec["stringData"]["password"] == LEAK and spec["data"] == token
        assert spec["binding"] == "prod/app"  # strict by default, readable by sops users
    assert refused.returncode == 2 and refused.stdout == "" and "cm.yaml" in refused.stderr


def test_extract_decode_in_place_output(env: Env) -> None:
    f = env.file("x.yaml")
    inplace = env.file("x-inplace.yaml")
    ws, key = env.ws, env.key
    password, token, subtree, sops_password, decoded, bad_path, missing, in_place = parallel(
        lambda: ws.sealer("decrypt", "--extract", '["stringData"]["password"]', f.name, key=key),
        lambda: ws.sealer("decrypt", "--extract", '["data"]["token"]', f.name, key=key),
        lambda: ws.sealer("decrypt", "--extract", '["metadata"]["labels"]', f.name, key=key),
        lambda: ws.sops("decrypt", "--extract", '["stringData"]["password"]', f.name, key=key),
        lambda: ws.sealer("decrypt", "--decode", f.name, key=key),
        lambda: ws.sealer("decrypt", "--extract", "stringData.password", f.name, key=key),
        lambda: ws.sealer("decrypt", "--extract", '["stringData"]["nope"]', f.name, key=key),
        lambda: ws.sealer("decrypt", "-i", inplace.name, key=key))
    assert ok(password) == LEAK == ok(sops_password)  # the bare value, no newline, as sops prints it
    assert ok(token) == "c2VjcmV0LXRva2Vu"
    assert load_doc(ok(subtree)) == {"app": "web"}
    doc = load_doc(ok(decoded))
    assert doc["stringData"]["token"] == "secret-token" and doc["stringData"]["password"] == LEAK
    assert not doc.get("data")
    assert bad_path.returncode == 2 and bad_path.stdout == ""
    assert missing.returncode != 0 and missing.stdout == ""
    assert ok(in_place) == ""
    assert load_doc(inplace.read_text()) == load_doc(SECRET)


def test_output_file_is_written_atomically_and_input_untouched(env: Env) -> None:
    src = env.ws.write("o/secret.yaml", SECRET)
    before = listing(src.parent)
    r = env.ws.sealer("encrypt", "--age", env.key.recipient, "-o", "o/enc.yaml", "o/secret.yaml")
    assert r.returncode == 0 and r.stdout == "", r.stderr
    assert src.read_text() == SECRET
    assert listing(src.parent) == before | {"enc.yaml"}
    assert load_docs(ok(env.ws.sops("decrypt", "o/enc.yaml", key=env.key))) == load_docs(SECRET)


def test_output_dash_means_stdout(env: Env, tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.write("s.yaml", SECRET)
    r = ws.sealer("encrypt", "--age", env.key.recipient, "-o", "-", "s.yaml")
    assert r.returncode == 0 and not (ws.files / "-").exists()
    assert enc_types(r.stdout)


def test_failed_multi_file_encrypt_in_place_writes_nothing(env: Env, tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    good = ws.write("good.yaml", SECRET)
    bad = ws.write("bad.yaml", "a: [unclosed\n")
    r = ws.sealer("encrypt", "--age", env.key.recipient, "-i", good.name, bad.name)
    assert r.returncode == 2 and "bad.yaml" in one_line(r.stderr)
    assert good.read_text() == SECRET and listing(ws.files) == {"good.yaml", "bad.yaml"}


def test_encrypting_an_encrypted_file_is_refused(env: Env) -> None:
    f = env.file("twice.yaml")
    for args in (("-i", f.name), (f.name,)):
        r = env.ws.sealer("encrypt", "--age", env.key.recipient, *args)
        assert r.returncode == 2 and r.stdout == ""
        assert f.name in one_line(r.stderr) and "already encrypted" in r.stderr
    assert f.read_text() == env.by_sealer


def test_identity_sources(env: Env, tmp_path: Path) -> None:
    f = env.file("ids.yaml")
    ws = Workspace(tmp_path)  # its HOME holds no keys
    xdg, home = tmp_path / "xdg", tmp_path / "home2"
    for keys_txt in (xdg / "sops" / "age" / "keys.txt", home / ".config" / "sops" / "age" / "keys.txt"):
        keys_txt.parent.mkdir(parents=True)
        shutil.copy(env.key.path, keys_txt)
    path = str(f)
    runs = parallel(
        lambda: ws.sealer("decrypt", path, SOPS_AGE_KEY=env.key.identity),
        lambda: ws.sealer("decrypt", path, SOPS_AGE_KEY_FILE=str(env.key.path)),
        lambda: ws.sealer("decrypt", "--age-key-file", env.key.path, path, key=env.other),
        lambda: ws.sealer("decrypt", path, XDG_CONFIG_HOME=str(xdg)),  # $XDG_CONFIG_HOME/sops/age/keys.txt
        lambda: ws.sealer("decrypt", path, HOME=str(home), XDG_CONFIG_HOME=""),  # else $HOME/.config/...
        lambda: ws.sealer("decrypt", path),  # no identity anywhere
    )
    for r in runs[:-1]:
        assert load_doc(ok(r))["stringData"]["password"] == LEAK
    none = runs[-1]
    assert none.returncode == 1 and none.stdout == ""
    assert "SOPS_AGE_KEY_FILE" in one_line(none.stderr) and f.name in none.stderr


def test_set_value_stdin_and_file_are_raw_strings(env: Env) -> None:
    f = env.file("raw.yaml")
    raw = 'line: one {not: "json"}\n  - two\n'
    env.ws.write("raw-value.txt", "42")
    r = env.ws.sealer("set", "--value-stdin", f.name, '["stringData"]["password"]', key=env.key, input=raw)
    assert r.returncode == 0, r.stderr
    ok(env.ws.sealer("set", "--value-file", "raw-value.txt", f.name, '["stringData"]["user"]', key=env.key))
    text = f.read_text()
    types = enc_types(text)
    assert types[(0, "stringData", "password")] == types[(0, "stringData", "user")] == "str"  # "42" not an int
    pw, user = parallel(
        lambda: env.ws.sops("decrypt", "--extract", '["stringData"]["password"]', f.name, key=env.key),
        lambda: env.ws.sops("decrypt", "--extract", '["stringData"]["user"]', f.name, key=env.key))
    assert ok(pw) == raw and ok(user) == "42"


def test_set_json_values_and_bad_paths(env: Env) -> None:
    f = env.file("json-set.yaml")
    ok(env.ws.sealer("set", f.name, '["stringData"]["extra"]', '{"n": 5, "b": true, "l": [1, "x"]}', key=env.key))
    text = f.read_text()
    types = enc_types(text)
    assert types[(0, "stringData", "extra", "n")] == "float" and types[(0, "stringData", "extra", "b")] == "bool"
    doc = load_doc(ok(env.ws.sops("decrypt", f.name, key=env.key)))
    assert doc["stringData"]["extra"] == {"n": 5, "b": True, "l": [1, "x"]}
    for bad in ("stringData.user", '["stringData"', "[stringData]", ""):
        r = env.ws.sealer("set", f.name, bad, '"x"', key=env.key)
        assert r.returncode == 2 and f.read_text() == text, (bad, r.stderr)


def test_path_and_editor_errors_name_the_file(env: Env) -> None:
    f = env.file("named.yaml")
    runs = parallel(
        lambda: env.ws.sealer("set", f.name, "stringData.user", '"x"', key=env.key),
        lambda: env.ws.sealer("decrypt", "--extract", '["nope"]', f.name, key=env.key),
        lambda: env.ws.sealer("edit", f.name, key=env.key, **env.editor, TEST_EDIT_SPEC=edit_spec(exit=1)))
    for r in runs:
        assert r.returncode != 0 and f.name in r.stderr, r.stderr


def test_updatekeys_and_rotate_many_files_in_one_run(env: Env, tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    a, b = make_age_key(tmp_path, "a"), make_age_key(tmp_path, "b")
    ws.write(".sops.yaml", f"creation_rules:\n  - age: {a.recipient}\n")
    names = ["one.yaml", "two.yaml", "three.yaml"]
    for n in names:
        ws.write(n, SECRET.replace("name: app", f"name: {n[:-5]}"))
    ok(ws.sealer("encrypt", "-i", *names))
    before = {n: (ws.files / n).read_text() for n in names}
    ws.write(".sops.yaml", f"creation_rules:\n  - age: {a.recipient},{b.recipient}\n")
    r = ws.sealer("updatekeys", "-y", *names, key=a)
    assert r.returncode == 0, r.stderr
    after = {n: (ws.files / n).read_text() for n in names}
    for n in names:
        assert recipients(after[n]) == [a.recipient, b.recipient]
        assert enc_values(after[n]) == enc_values(before[n])  # values and MAC untouched
        assert f"{n}: + {b.recipient}" in r.stderr
    r = ws.sealer("rotate", *names, key=b)
    assert r.returncode == 0 and "rotated 3 files" in r.stderr, r.stderr
    results = parallel(*(lambda n=n: ws.sops("decrypt", n, key=a) for n in names))
    for n, res in zip(names, results, strict=True):
        rotated = (ws.files / n).read_text()
        assert not set(enc_values(rotated)) & set(enc_values(after[n]))
        assert recipients(rotated) == [a.recipient, b.recipient]
        assert load_doc(ok(res))["metadata"]["name"] == n[:-5]
    # a run that fails on one file writes none of them
    ws.write("broken.yaml", "not: encrypted\n")
    snapshot = {n: (ws.files / n).read_text() for n in names}
    r = ws.sealer("rotate", *names, "broken.yaml", key=a)
    assert r.returncode == 2 and "broken.yaml" in r.stderr
    assert {n: (ws.files / n).read_text() for n in names} == snapshot


def test_duplicate_keys_are_refused_like_sops(env: Env) -> None:
    env.ws.write("dup.yaml", f"password: {LEAK}\npassword: other\n")
    sops, sealer = parallel(lambda: env.ws.sops("encrypt", "--age", env.key.recipient, "dup.yaml"),
                            lambda: env.ws.sealer("encrypt", "--age", env.key.recipient, "dup.yaml"))
    assert sops.returncode != 0 and "already defined" in sops.stderr
    assert sealer.returncode == 2 and sealer.stdout == "" and "dup.yaml" in sealer.stderr
    assert LEAK not in sealer.stderr


def test_extract_prints_scalars_like_sops(env: Env) -> None:
    env.ws.write("scalars.yaml", "n: null\nnan: .nan\ninf: .inf\ni: 42\nb: true\ns: text\n")
    f = env.ws.write("scalars.enc.yaml", ok(env.ws.sealer("encrypt", "--age", env.key.recipient, "scalars.yaml")))
    paths = ['["n"]', '["nan"]', '["inf"]', '["i"]', '["b"]', '["s"]']
    runs = parallel(*(lambda p=p, tool=tool: tool("decrypt", "--extract", p, f.name, key=env.key)
                      for p in paths for tool in (env.ws.sops, env.ws.sealer)))
    printed = {p: (ok(runs[2 * i]), ok(runs[2 * i + 1])) for i, p in enumerate(paths)}
    assert printed['["s"]'] == ("text", "text")
    assert {p: mine for p, (_, mine) in printed.items()} == {p: theirs for p, (theirs, _) in printed.items()}


def test_end_of_line_comment_is_not_pushed_far_right(env: Env) -> None:
    env.ws.write("eol.yaml", "a: x # note\nb: y\n")
    f = env.ws.write("eol.enc.yaml", ok(env.ws.sealer("encrypt", "--age", env.key.recipient, "eol.yaml")))
    out = ok(env.ws.sealer("decrypt", f.name, key=env.key))
    assert "# note" in out and "     #" not in out


# --- 8. SSH recipients ----------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="ssh-keygen not installed")
def test_ssh_ed25519_recipient(env: Env, tmp_path: Path) -> None:
    key = tmp_path / "id_test"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dev@laptop", "-f", str(key)], check=True,
                   capture_output=True)
    public = key.with_suffix(".pub").read_text().strip()
    ws = Workspace(tmp_path / "ws")
    ws.write("s.yaml", SECRET)
    f = ws.write("enc.yaml", ok(ws.sealer("encrypt", "--age", public, "s.yaml")))
    assert recipients(f.read_text()) == [public]
    ssh = {"SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(key)}
    by_sops = ws.write("by-sops.yaml", ok(ws.sops("encrypt", "--age", public, "--encrypted-regex", SECRET_REGEX,
                                                  "s.yaml")))
    results = parallel(lambda: ws.sops("decrypt", f.name, **ssh), lambda: ws.sealer("decrypt", f.name, **ssh),
                       lambda: ws.sealer("decrypt", by_sops.name, **ssh), lambda: ws.sealer("decrypt", f.name))
    for r in results[:3]:
        assert load_docs(ok(r)) == load_docs(SECRET)
    assert results[3].returncode == 1 and results[3].stdout == ""
