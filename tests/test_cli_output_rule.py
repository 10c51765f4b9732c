"""One rule for `-o` (issue 20): `-o` is the output format on every verb (kubectl's rule); the file is
`-w/--output-file` (sops' `--output` on encrypt/decrypt, gitleaks' `-r/--report-path` on lint). The old `-o FILE` of
encrypt, decrypt and lint still writes FILE, with one warning line naming the new flag. Also the structured output
the issue asked for: `validate -o json|yaml`, `filestatus -o yaml`, `decrypt -o json`. Real processes."""

from __future__ import annotations

import json
import secrets
import stat
from pathlib import Path

import pytest
import yaml

from tests.cli_process import run_sealer, unsealed_items
from tests.keypairs import KeyPair
from tests.sops_helpers import AgeKey, Workspace, make_age_key, ok

VALUE = f"test-value-{secrets.token_hex(6)}"  # made at run time
SECRET = f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: app\nstringData:\n  password: {VALUE}\n"
SOPS_TYPES = "yaml, json, dotenv, ini, binary"
SOPS_WARNING = (f"sealer: warning: -o FILE is deprecated: -o is the output format ({SOPS_TYPES}); write to a file "
                "with --output FILE\n")
LINT_WARNING = ("sealer: warning: -o/--output FILE is deprecated: -o is the output format (text, json, sarif); write "
                "to a file with -w/--output-file FILE\n")


@pytest.fixture(scope="module")
def sops_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, AgeKey]:
    root = tmp_path_factory.mktemp("orule")
    ws = Workspace(root)
    key = make_age_key(root / "keys", "k")
    ws.write("secret.yaml", SECRET)
    ws.write("enc.yaml", ok(ws.sealer("encrypt", "--age", key.recipient, "secret.yaml")))
    return ws, key


# --- encrypt / decrypt --------------------------------------------------------------------------------------------

def test_decrypt_o_json_is_the_format_as_output_type(sops_env) -> None:
    ws, key = sops_env
    by_o = ws.sealer("decrypt", "-o", "json", "enc.yaml", key=key)
    assert (by_o.returncode, by_o.stderr) == (0, "")
    assert json.loads(by_o.stdout)["stringData"] == {"password": VALUE}
    assert by_o.stdout == ok(ws.sealer("decrypt", "--output-type", "json", "enc.yaml", key=key))
    assert ok(ws.sealer("decrypt", "-o", "json", "--output-type", "json", "enc.yaml", key=key)) == by_o.stdout


@pytest.mark.parametrize("flag", ["--output", "-w", "--output-file"])
def test_decrypt_writes_the_file_named_by_the_file_flags_without_a_warning(sops_env, flag: str) -> None:
    ws, key = sops_env
    target = ws.files / f"plain{flag}.yaml"
    r = ws.sealer("decrypt", flag, target.name, "enc.yaml", key=key)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    assert yaml.safe_load(target.read_text())["stringData"] == {"password": VALUE}


@pytest.mark.parametrize("command", ["decrypt", "encrypt"])
def test_the_old_o_file_still_writes_the_file_with_one_warning(sops_env, command: str) -> None:
    ws, key = sops_env
    target = ws.files / f"old-{command}.yaml"
    args = ["enc.yaml"] if command == "decrypt" else ["--age", key.recipient, "secret.yaml"]
    r = ws.sealer(command, "-o", target.name, *args, key=key)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", SOPS_WARNING)
    text = target.read_text()
    assert (VALUE in text) is (command == "decrypt")
    if command == "encrypt":  # the file written through the alias is a SOPS file that opens
        assert yaml.safe_load(ok(ws.sealer("decrypt", target.name, key=key)))["stringData"] == {"password": VALUE}


def test_the_old_o_file_is_the_same_on_the_fast_path_and_through_click(sops_env) -> None:
    """`sealer decrypt -o FILE F` goes through the fast parser; `-oFILE` through click: same file, same line."""
    ws, key = sops_env
    fast = ws.sealer("decrypt", "-o", "fast.yaml", "enc.yaml", key=key)
    slow = ws.sealer("decrypt", "-oslow.yaml", "enc.yaml", key=key)
    assert (fast.returncode, fast.stderr) == (slow.returncode, slow.stderr) == (0, SOPS_WARNING)
    assert (ws.files / "fast.yaml").read_text() == (ws.files / "slow.yaml").read_text()


@pytest.mark.parametrize(("args", "message"), [
    (["-o", "json", "--output-type", "yaml"], "-o: json and --output-type yaml name different formats"),
    (["-o", "a.yaml", "--output", "b.yaml"],
     f"-o: is not a format ({SOPS_TYPES}) and --output names the output file already"),
    (["-i", "--output", "b.yaml"], "-i: -i and --output do not combine"),
    (["-o", "sarif"], f"-o: sarif is not a format of this command (one of {SOPS_TYPES})"),
])
def test_conflicting_output_flags_are_usage_errors(sops_env, args: list[str], message: str) -> None:
    ws, key = sops_env
    r = ws.sealer("decrypt", *args, "enc.yaml", key=key)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr.splitlines()[-1] == f"sealer: error: {message}"
    assert not (ws.files / "a.yaml").exists() and not (ws.files / "b.yaml").exists()


def test_encrypt_o_json_writes_a_json_sops_file(sops_env) -> None:
    ws, key = sops_env
    r = ws.sealer("encrypt", "--age", key.recipient, "-o", "json", "secret.yaml", key=key)
    assert (r.returncode, r.stderr) == (0, "")
    assert "sops" in json.loads(r.stdout)


def test_help_states_the_rule(sops_env) -> None:
    text = " ".join(ok(run_sealer("decrypt", "--help")).split())
    assert "-o FORMAT Output format, as --output-type" in text and "-w, --output, --output-file FILE" in text
    assert "-o json (or sops' --output-type json)" in text
    lint = " ".join(ok(run_sealer("lint", "--help")).split())
    assert "-w, -r, --output-file, --report-path FILE" in lint and "-f, --format, --report-format" in lint
    assert "-o, --output FORMAT The same as --format" in lint


# --- lint ---------------------------------------------------------------------------------------------------------

@pytest.fixture
def lint_tree(tmp_path: Path) -> Path:
    (tmp_path / "secret.yaml").write_text(SECRET)  # a plaintext Secret: one finding
    return tmp_path


def test_lint_o_json_is_the_format(lint_tree: Path) -> None:
    by_o = run_sealer("lint", "-o", "json", "secret.yaml", cwd=lint_tree)
    by_format = run_sealer("lint", "--format", "json", "secret.yaml", cwd=lint_tree)
    by_f = run_sealer("lint", "-f", "json", "secret.yaml", cwd=lint_tree)
    assert by_o.returncode == by_format.returncode == by_f.returncode == 1
    assert by_o.stdout == by_format.stdout == by_f.stdout
    assert json.loads(by_o.stdout) and VALUE not in by_o.stdout
    assert "deprecated" not in by_o.stderr


@pytest.mark.parametrize("flag", ["-w", "--output-file", "-r", "--report-path"])
def test_lint_report_file_flags(lint_tree: Path, flag: str) -> None:
    r = run_sealer("lint", "-o", "sarif", flag, "report.sarif", "secret.yaml", cwd=lint_tree)
    assert (r.returncode, r.stdout) == (1, "")
    assert "deprecated" not in r.stderr
    assert json.loads((lint_tree / "report.sarif").read_text())["version"] == "2.1.0"


def test_lint_o_with_another_commands_format_is_a_usage_error_not_a_file(lint_tree: Path) -> None:
    r = run_sealer("lint", "-o", "yaml", "secret.yaml", cwd=lint_tree)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == "sealer: error: -o: yaml is not a format of this command (one of text, json, sarif)\n"
    assert not (lint_tree / "yaml").exists()


@pytest.mark.parametrize("flag", ["-o", "--output"])
def test_lint_old_o_file_still_writes_the_report_with_one_warning(lint_tree: Path, flag: str) -> None:
    r = run_sealer("lint", "--format", "json", flag, "report.json", "secret.yaml", cwd=lint_tree)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr.startswith(LINT_WARNING)
    assert json.loads((lint_tree / "report.json").read_text())


# --- seal / unseal / filestatus -------------------------------------------------------------------------------------

def test_seal_output_file_and_unseal_output_file(kp2048: KeyPair, tmp_path: Path) -> None:
    (tmp_path / "secret.yaml").write_text(SECRET)
    r = run_sealer("seal", "secret.yaml", "--cert", kp2048.cert_path, "--output-file", "sealed.json", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, ""), r.stderr
    assert json.loads((tmp_path / "sealed.json").read_text())["kind"] == "SealedSecret"
    r = run_sealer("unseal", "sealed.json", "--key", kp2048.key_path, "-w", "plain.json", cwd=tmp_path)
    assert (r.returncode, r.stdout) == (0, ""), r.stderr
    plain = tmp_path / "plain.json"
    assert stat.S_IMODE(plain.stat().st_mode) == 0o600  # plaintext: private
    assert json.loads(plain.read_text())["kind"] == "Secret"  # the format from -w's extension
    r = run_sealer("unseal", "sealed.json", "--key", kp2048.key_path, "-o", "yaml", cwd=tmp_path)
    assert unsealed_items(r.stdout) == {"password": VALUE.encode()}
    by_format = json.loads(ok(run_sealer("cert", "--cert", kp2048.cert_path, "--format", "json")))
    assert by_format == json.loads(ok(run_sealer("cert", "--cert", kp2048.cert_path, "-o", "json")))


def test_filestatus_o_yaml(sops_env) -> None:
    ws, _ = sops_env
    assert ok(ws.sealer("filestatus", "enc.yaml")) == '{"encrypted":true}\n'  # sops' exact line stays the default
    assert ok(ws.sealer("filestatus", "-o", "yaml", "enc.yaml")) == "encrypted: true\n"
    assert yaml.safe_load(ok(ws.sealer("filestatus", "--output", "yaml", "secret.yaml"))) == {"encrypted": False}


# --- validate -o json|yaml (against the real controller) -------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    from tests.controller_process import Cluster

    c = Cluster(tmp_path_factory.mktemp("cluster"))
    yield c
    c.kube.stop()


def test_validate_o_json_and_yaml(cluster, kp2048b: KeyPair, tmp_path: Path) -> None:
    (tmp_path / "secret.yaml").write_text(SECRET)
    good = ok(run_sealer("seal", "secret.yaml", "--cert", cluster.cert, cwd=tmp_path))
    foreign = ok(run_sealer("seal", "--cert", kp2048b.cert_path, cwd=tmp_path, input=SECRET.replace("db", "other")))
    f = tmp_path / "sealed.yaml"
    f.write_text(good + "---\n" + foreign)
    env = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
    r = run_sealer("validate", f, "-o", "json", "--controller-url", cluster.url, env=env)
    assert r.returncode == 1
    rows = json.loads(r.stdout)
    assert [(row["file"], row["namespace"], row["name"], row["ok"]) for row in rows] == [
        (str(f), "app", "db", True), (str(f), "app", "other", False)]
    assert rows[0]["error"] is None and rows[0]["keyFingerprint"] == cluster.fingerprint
    assert "password" in rows[1]["error"] and rows[1]["keyFingerprint"] is None
    assert r.stderr == "sealer: error: 1 of 2 SealedSecrets does not open with the cluster's keys\n"
    as_yaml = run_sealer("validate", f, "-o", "yaml", "--controller-url", cluster.url, env=env)
    assert yaml.safe_load(as_yaml.stdout) == rows
    assert VALUE not in r.stdout + r.stderr + as_yaml.stdout
