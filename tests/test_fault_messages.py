"""Hostile and unlucky input against the CLI as a process: what the user reads (issue 13).

Every case checks the exit code, a one-line message naming the file and the field, that no planted value
reaches any output, and that no output carries a raw control character or a CI workflow command: names, keys
and file names from the input arrive escaped (sealer.safetext), in error messages and in lint's text, JSON and
SARIF reports alike (the JSON fields as a consumer such as `jq -r` would print them).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from sealer.sops.keys import age as age_mod

PLANT = "PLANTED-fault-9d2e"  # a secret value: must never reach any output
# Names from files that a terminal, a log reader or a CI runner would act on: ESC sequences (colour, window title),
# CR/LF with a GitHub Actions workflow command, the runner's legacy `##[` command anywhere in a line, Azure's
# `##vso[`, a bidi override, Unicode line separators, a C1 control.
HOSTILE = ("evil\x1b[31mRED\x1b]0;title\x07\r\n::error file=x.py,line=1::pwned ##[error]legacy ##vso[task.complete]"
           "\u202egnp.exe\u2028\u2029\x85\x9b31m")
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
LEGACY_COMMAND = re.compile(r"##(vso)?\[", re.IGNORECASE)


def assert_safe(text: str, where: str = "output") -> None:
    """Nothing a terminal or CI runner acts on: raw controls (LF only between lines), workflow commands."""
    assert not UNSAFE.search(text), f"raw control character in {where}: {text!r}"
    for line in text.split("\n"):
        assert not line.lstrip().startswith("::"), f"line starts a workflow command in {where}: {line!r}"
    assert not LEGACY_COMMAND.search(text), f"legacy workflow command in {where}: {text!r}"
    assert PLANT not in text, f"planted value in {where}"


def sealer(*args: str | os.PathLike[str], cwd: Path, stdin: bytes = b"",
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m sealer ARGS` with HOME in the test directory and none of the caller's keys or kubeconfig;
    output decoded without hiding anything (undecodable bytes become U+FFFD, never dropped)."""
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("SEALER_", "SOPS_", "VAULT_")) and k not in ("KUBECONFIG", "EDITOR", "VISUAL")}
    full.update({"HOME": str(cwd / "home"), "XDG_CONFIG_HOME": str(cwd / "home" / ".config")})
    full.update(env or {})
    r = subprocess.run([sys.executable, "-m", "sealer", *map(str, args)], input=stdin, capture_output=True,
                       cwd=cwd, env=full, timeout=120)
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode("utf-8", "replace"),
                                       r.stderr.decode("utf-8", "replace"))


def one_line_error(r: subprocess.CompletedProcess[str], code: int, *parts: str) -> str:
    assert r.returncode == code, (r.returncode, r.stderr)
    assert r.stderr.startswith("sealer: error: ") and r.stderr.count("\n") == 1, r.stderr
    for part in parts:
        assert part in r.stderr, (part, r.stderr)
    assert_safe(r.stdout + r.stderr)
    return r.stderr


def secret_yaml(name: str, key: str, value: str = PLANT) -> str:
    # JSON strings are YAML double-quoted scalars: every control character travels as an escape
    return (f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {json.dumps(name)}\n  namespace: app\n"
            f"type: Opaque\nstringData:\n  {json.dumps(key)}: {value}\n")


# --- lint reports ----------------------------------------------------------------------------------------------


def _report_texts(fmt: str, stdout: str) -> list[str]:
    """What a person or a script sees of a report: text as it is; JSON and SARIF also field by field, decoded
    (a JSON escape like \\u001b is harmless in the document, not once `jq -r` prints the field)."""
    if fmt == "text":
        return [stdout]
    doc = json.loads(stdout)
    if fmt == "json":
        return [stdout, *(str(f[k]) for f in doc["findings"] for k in ("file", "message"))]
    results = doc["runs"][0]["results"]
    rules = doc["runs"][0]["tool"]["driver"]["rules"]
    return [stdout, *(r["message"]["text"] for r in results),
            *(loc["physicalLocation"]["artifactLocation"]["uri"] for r in results for loc in r["locations"]),
            *(rule["shortDescription"]["text"] for rule in rules)]


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_lint_report_escapes_names_from_the_file(tmp_path: Path, fmt: str) -> None:
    """Before: the name and key went into every report raw (ESC, CR LF + `::error`, `##[error]`)."""
    (tmp_path / "secret.yaml").write_text(secret_yaml(HOSTILE, f"key-{HOSTILE}"))
    r = sealer("lint", "--format", fmt, ".", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    texts = _report_texts(fmt, r.stdout)
    for text in [*texts, r.stderr]:
        assert_safe(text, fmt)
    assert "plaintext-secret" in r.stdout and "secret.yaml" in r.stdout
    assert "\\x1b[31mRED" in "".join(texts if fmt == "text" else texts[1:])  # escaped, and still there to read


HOSTILE_FILE_NAMES = [b"::error file=a.py,line=1::boom.yaml", b"nl\r\n::warning::x\x1b[2J.yaml",
                      b"legacy ##[error]x.yaml", b"undecodable-\xff\xfe.yaml"]


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_lint_report_escapes_file_names(tmp_path: Path, fmt: str) -> None:
    """A file name is the start of a text report line: `::error ...` there is a workflow command. Before: raw
    (and an undecodable name made the text report an internal error)."""
    for name in HOSTILE_FILE_NAMES:
        with open(os.path.join(os.fsencode(tmp_path), name), "wb") as f:
            f.write(secret_yaml("db", "password").encode())
    r = sealer("lint", "--format", fmt, ".", cwd=tmp_path)
    assert r.returncode == 1, (r.returncode, r.stderr)
    for text in [*_report_texts(fmt, r.stdout), r.stderr]:
        assert_safe(text, fmt)
    if fmt == "text":
        findings = r.stdout.count("plaintext-secret")
    else:
        doc = json.loads(r.stdout)
        findings = len(doc["findings"] if fmt == "json" else doc["runs"][0]["results"])
    assert findings == len(HOSTILE_FILE_NAMES), r.stdout


def test_lint_custom_rule_description_is_escaped(tmp_path: Path) -> None:
    """.sealer-lint.yaml is part of the scanned repository: its rule descriptions reach SARIF. Before: raw."""
    (tmp_path / ".sealer-lint.yaml").write_text(
        f"rules:\n  - id: acme-key\n    description: {json.dumps(HOSTILE)}\n    regex: 'acme_[a-z0-9]{{12}}'\n")
    (tmp_path / "app.env").write_text("TOKEN=acme_abcdef123456\n")
    r = sealer("lint", "--format", "sarif", ".", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    for text in _report_texts("sarif", r.stdout):
        assert_safe(text, "sarif")
    # the custom rule did fire, and its description is still there to read, escaped (not dropped)
    run = json.loads(r.stdout)["runs"][0]
    assert "acme-key" in [x["ruleId"] for x in run["results"]]
    (described,) = [x["shortDescription"]["text"] for x in run["tool"]["driver"]["rules"] if x["id"] == "acme-key"]
    assert described.startswith("evil\\x1b[31mRED") and "pwned" in described


# --- error messages ------------------------------------------------------------------------------------------


@pytest.fixture
def cert_file(tmp_path: Path) -> Path:
    r = sealer("keys", "generate", "--out-dir", tmp_path / "keys", "--bits", "2048", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return tmp_path / "keys" / "sealer.crt"


def test_seal_error_escapes_names_from_the_file(tmp_path: Path, cert_file: Path) -> None:
    """Before: the Secret's name reached the one-line error raw, splitting it into forged lines."""
    (tmp_path / "s.yaml").write_text(secret_yaml(HOSTILE, f"bad key {HOSTILE}"))
    r = sealer("seal", "s.yaml", "--cert", cert_file, cwd=tmp_path)
    one_line_error(r, 2, "s.yaml: Secret app/evil\\x1b[31mRED", "stringData", "not a valid Secret key")
    assert r.stdout == ""


def test_cert_text_escapes_the_subject(tmp_path: Path) -> None:
    """A certificate fetched from anywhere names its subject: `sealer cert` prints it. Before: raw."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "evil\x1b[31mRED\r\n::error::x ##[error]\u202e"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "\x1b]0;title\x07\u2028\x85\x9b31m")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=9))
            .sign(key, hashes.SHA256()))
    (tmp_path / "evil.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    r = sealer("cert", "--cert", "evil.pem", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "subject" in r.stdout and "\\x1b[31mRED" in r.stdout
    assert_safe(r.stdout + r.stderr)


# --- SOPS files ------------------------------------------------------------------------------------------------


@pytest.fixture
def sops_file(tmp_path: Path) -> tuple[Path, Path]:
    """(an encrypted Secret, the age identity file that opens it)."""
    identity, recipient = age_mod.generate()
    keys = tmp_path / "keys.txt"
    keys.write_text(f"{identity}\n")
    keys.chmod(0o600)
    (tmp_path / "plain.yaml").write_text(secret_yaml("db", "password"))
    r = sealer("encrypt", "--age", recipient, "plain.yaml", "-o", "enc.yaml", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    return tmp_path / "enc.yaml", keys


@pytest.mark.parametrize(("command", "path"), [("set", '["sops"]["mac"]'), ("set", '["sops"]'),
                                               ("unset", '["sops"]["mac"]'), ("unset", '["sops"]')])
def test_set_and_unset_refuse_the_sops_metadata_block(tmp_path: Path, sops_file: tuple[Path, Path], command: str,
                                                      path: str) -> None:
    """Before: `set '["sops"]["mac"]'` exited 0 and left a file that never opened again (duplicate key `sops`);
    `unset` said "no such key"."""
    enc, keys = sops_file
    before = enc.read_bytes()
    args = [command, enc.name, path] + (['"x"'] if command == "set" else [])
    r = sealer(*args, cwd=tmp_path, env={"SOPS_AGE_KEY_FILE": str(keys)})
    one_line_error(r, 2, 'enc.yaml: ["sops"]: ', "metadata block")
    assert enc.read_bytes() == before
    assert sealer("decrypt", enc.name, cwd=tmp_path, env={"SOPS_AGE_KEY_FILE": str(keys)}).returncode == 0


@pytest.mark.parametrize("content", [None, b"", f"not-a-key {PLANT}\n".encode(), b"AGE-SECRET-KEY-1QQQQ\n",
                                     f"# comment\n{PLANT}-AGE-SECRET-KEY\n".encode()])
def test_a_missing_or_garbage_sops_age_key_file_is_named(tmp_path: Path, sops_file: tuple[Path, Path],
                                                         content: bytes | None) -> None:
    """Before: "key file not found" / "not an age identity" without saying which file, nor that
    SOPS_AGE_KEY_FILE (set out of sight) named it."""
    enc, _ = sops_file
    named = tmp_path / "named-keys.txt"
    if content is not None:
        named.write_bytes(content)
    r = sealer("decrypt", enc.name, cwd=tmp_path, env={"SOPS_AGE_KEY_FILE": str(named)})
    one_line_error(r, 1, "enc.yaml: ", f"{named} (SOPS_AGE_KEY_FILE)")
    assert r.stdout == ""


@pytest.mark.parametrize("how", ["--value-file", "--value-stdin"])
def test_set_with_a_binary_value_is_a_clear_input_error(tmp_path: Path, sops_file: tuple[Path, Path],
                                                        how: str) -> None:
    """Before: "internal error (UnicodeDecodeError)", exit 70. sops refuses it too (exit 7, not JSON)."""
    enc, keys = sops_file
    before = enc.read_bytes()
    binary = b"\xff\xfe\x00\x1b[2J" + PLANT.encode() + b"\x80"
    (tmp_path / "value.bin").write_bytes(binary)
    args = ["--value-file", "value.bin"] if how == "--value-file" else ["--value-stdin"]
    r = sealer("set", enc.name, '["stringData"]["blob"]', *args, cwd=tmp_path,
               stdin=binary if how == "--value-stdin" else b"", env={"SOPS_AGE_KEY_FILE": str(keys)})
    source = "value.bin" if how == "--value-file" else "<stdin>"
    one_line_error(r, 2, f"{source}: {how}: not UTF-8 text", "base64")
    assert enc.read_bytes() == before


@pytest.mark.parametrize("content", [b"", b"\n  \n", b"# only a comment\n"])
def test_encrypt_refuses_a_file_without_a_document(tmp_path: Path, content: bytes) -> None:
    """Before: exit 0, and `-i` left the empty file as its "encrypted" self (sops: exit 92 / 2)."""
    _, recipient = age_mod.generate()
    empty = tmp_path / "empty.yaml"
    empty.write_bytes(content)
    r = sealer("encrypt", "-i", "--age", recipient, empty.name, cwd=tmp_path)
    one_line_error(r, 2, "empty.yaml: no document to encrypt")
    assert empty.read_bytes() == content and sorted(p.name for p in tmp_path.iterdir()) == ["empty.yaml"]
    r = sealer("encrypt", "--age", recipient, empty.name, cwd=tmp_path)
    one_line_error(r, 2, "empty.yaml: no document to encrypt")
    assert r.stdout == ""
    r = sealer("encrypt", "--age", recipient, cwd=tmp_path, stdin=content)
    one_line_error(r, 2, "<stdin>: no document to encrypt")


# --- the cluster's cert without a kubeconfig -------------------------------------------------------------------


def test_cert_fetch_without_a_kubeconfig_suggests_its_own_options(tmp_path: Path) -> None:
    """Before: `cert fetch` suggested `--cert`, an option it does not have."""
    r = sealer("cert", "fetch", cwd=tmp_path)
    msg = one_line_error(r, 2, "~/.kube/config: no usable kubeconfig: no such file", "--kubeconfig", "KUBECONFIG")
    assert "--cert" not in msg
    (tmp_path / "s.yaml").write_text(secret_yaml("db", "password"))
    r = sealer("seal", "s.yaml", cwd=tmp_path)  # seal has --cert: it is suggested there
    one_line_error(r, 2, "no usable kubeconfig", "--kubeconfig", "--cert FILE_OR_URL")


def test_a_garbage_kubeconfig_is_an_input_error_that_quotes_nothing(tmp_path: Path) -> None:
    """Before: "internal error (ParserError)", exit 70, for `cert fetch` and `validate`."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(f"users: [{{name: u, user: {{token: {PLANT}}}}}]\ncontexts: [\n")
    r = sealer("cert", "fetch", "--kubeconfig", kubeconfig, cwd=tmp_path)
    msg = one_line_error(r, 2, f"{kubeconfig}: no usable kubeconfig: not valid YAML", "line 3")
    assert "--cert" not in msg
    (tmp_path / "s.yaml").write_text("apiVersion: sealer.dev/v1alpha1\nkind: SealedSecret\nmetadata: {name: a, "
                                     "namespace: b}\nspec: {encryptedData: {x: AgAA}}\n")
    r = sealer("validate", "s.yaml", "--kubeconfig", kubeconfig, cwd=tmp_path)
    one_line_error(r, 2, f"{kubeconfig}: no usable kubeconfig")
