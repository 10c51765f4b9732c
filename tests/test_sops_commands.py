"""The sops commands and options a sops user types, side by side with the real `sops` binary: exec-env, exec-file,
filestatus, --output-type / --input-type conversions, --filename-override, --shamir-secret-sharing-threshold, and
the SOPS_AGE_* identity sources. Each case runs both tools on the same file in the same environment and compares
what the child process saw, what was printed, and the exit code."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sops_helpers import Workspace, needs_sops, ok

pytestmark = needs_sops

PEERS = Path(__file__).resolve().parents[2] / "shared" / "peers" / "sops"
needs_peers = pytest.mark.skipif(not PEERS.is_dir(), reason="../shared/peers/sops (sops' fixtures) is absent")
KEY = PEERS / "keys" / "age-test.agekey"
RECIPIENT = "age1lzd99uklcjnc0e7d860axevet2cz99ce9pq6tzuzd05l5nr28ams36nvun"
SSH_KEY = PEERS / "keys" / "ssh_ed25519"

TYPED = """\
a: 1
b: true
c: x
d: 2.5
e: null
f: 1e300
g: 0.00001
h: "multi\\nline"
i: 2001-12-14t21:59:43.10-05:00
j: 3.0
k: -0.0
l: 1234567.5
# a comment
m: 1e6
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    if not PEERS.is_dir():
        pytest.skip("../shared/peers/sops (sops' fixtures) is absent")
    w = Workspace(tmp_path_factory.mktemp("commands"))
    plain = w.write("typed.yaml", TYPED)
    w.write("typed.enc.yaml", ok(w.sops("encrypt", "--age", RECIPIENT, plain)))
    nums = w.write("nums.json", '{"a": 3.0, "b": 5, "c": 1e300, "d": 12345678901234567890, "e": "s"}')
    w.write("nums.enc.json", ok(w.sops("encrypt", "--age", RECIPIENT, nums)))
    for plain, name in (("edge.quotes.env", "comments.enc.env"), ("edge.sections.ini", "sections.enc.ini")):
        w.write(name, ok(w.sops("encrypt", "--age", RECIPIENT, PEERS / "plain" / plain)))
    nested = w.write("nested.yaml", "top: 1\nsub:\n  x: 2\n")
    w.write("nested.enc.yaml", ok(w.sops("encrypt", "--age", RECIPIENT, nested)))
    return w


def both(ws: Workspace, *args: str | os.PathLike[str], **extra: str) -> tuple[subprocess.CompletedProcess[str], ...]:
    return ws.sops(*args, key=KEY, **extra), ws.sealer(*args, key=KEY, **extra)


ENV_FILES = ["files/typed.enc.yaml", "files/nums.enc.json", "grafted/format.enc.env", "grafted/example.txt"]


def _path(ws: Workspace, name: str) -> Path:
    return ws.root / name if name.startswith("files/") else PEERS / name


# --- exec-env ----------------------------------------------------------------------------------------------------


@needs_peers
@pytest.mark.parametrize("name", ENV_FILES)
def test_exec_env_gives_the_child_what_sops_gives_it(ws: Workspace, name: str) -> None:
    """--pristine: the child's whole environment is the file's values, each formatted as sops formats it
    (3.0, 1E+06, -0.0, <nil>, RFC 3339 without fractions); the exit code is the child's."""
    sops, sealer = both(ws, "exec-env", "--pristine", _path(ws, name), "env -0 | LC_ALL=C sort -z; exit 7")
    assert sops.returncode == sealer.returncode == 7
    assert sealer.stdout == sops.stdout
    assert "=" in sealer.stdout


def test_exec_env_keeps_the_inherited_environment_and_adds_the_values(ws: Workspace) -> None:
    sops, sealer = both(ws, "exec-env", ws.files / "typed.enc.yaml", 'printf "%s|%s" "$c" "$MARKER"', MARKER="kept")
    assert sealer.stdout == sops.stdout == "x|kept"
    assert sealer.returncode == 0


def test_exec_env_refuses_a_nested_value_like_sops(ws: Workspace) -> None:
    sops, sealer = both(ws, "exec-env", ws.files / "nested.enc.yaml", "echo ran")
    assert sops.returncode == sealer.returncode == 1
    assert "ran" not in sealer.stdout
    assert "cannot use complex value in environment; offending key sub" in sealer.stderr


def test_exec_env_usage_errors_have_sops_exit_codes(ws: Workspace) -> None:
    f = ws.files / "typed.enc.yaml"
    sops, sealer = both(ws, "exec-env", "--background", "--same-process", f, "true")
    assert sops.returncode == sealer.returncode == 8
    sops, sealer = both(ws, "exec-env", f)
    assert sops.returncode == sealer.returncode == 1


def test_exec_env_same_process_replaces_sealer(ws: Workspace) -> None:
    """--same-process: the command runs in sealer's own process (its pid), with the values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALER_")}
    env.update(ws.env(KEY))
    proc = subprocess.Popen([sys.executable, "-m", "sealer", "exec-env", "--same-process",
                             str(ws.files / "typed.enc.yaml"), 'echo "$$ $c"'], stdout=subprocess.PIPE, text=True,
                            env=env, cwd=ws.files)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert out.split() == [str(proc.pid), "x"]


@pytest.mark.skipif(os.geteuid() != 0, reason="--user needs the privilege to switch users (run as root)")
def test_exec_env_user_runs_the_command_as_that_user(ws: Workspace) -> None:
    import pwd

    nobody = pwd.getpwnam("nobody")
    sops, sealer = both(ws, "exec-env", "--user", "nobody", ws.files / "typed.enc.yaml", 'echo "$(id -u) $(id -g) $c"')
    assert sealer.stdout == sops.stdout == f"{nobody.pw_uid} {nobody.pw_gid} x\n"
    refused = ws.sealer("exec-env", "--user", "no-such-user-here", ws.files / "typed.enc.yaml", "echo ran", key=KEY)
    assert refused.returncode == 2 and "ran" not in refused.stdout


# --- exec-file ---------------------------------------------------------------------------------------------------


@needs_peers
@pytest.mark.parametrize("fifo", [True, False], ids=["fifo", "no-fifo"])
@pytest.mark.parametrize("name", ["grafted/example.yaml", "grafted/example.json", "grafted/format.enc.ini",
                                  "grafted/example.txt"])
def test_exec_file_child_reads_what_sops_gives_it(ws: Workspace, name: str, fifo: bool) -> None:
    flags = () if fifo else ("--no-fifo",)
    sops, sealer = both(ws, "exec-file", *flags, PEERS / name, "cat {}; exit 3")
    assert sops.returncode == sealer.returncode == 3
    assert sealer.stdout == sops.stdout != ""


@needs_peers
def test_exec_file_path_is_a_fifo_or_a_private_file_and_is_removed(ws: Workspace) -> None:
    f = PEERS / "grafted" / "example.yaml"
    out = ok(ws.sealer("exec-file", f, "stat -c '%F %a' {}; echo {}", key=KEY))
    kind, path = out.splitlines()
    assert kind == "fifo 600"
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))
    proc = ws.sealer("exec-file", "--no-fifo", "--filename", "creds.yaml", f, "stat -c '%F %a' {}; echo {}; exit 9",
                     key=KEY)
    assert proc.returncode == 9  # the child failed: the file is removed all the same
    kind, path = proc.stdout.splitlines()
    assert kind == "regular file 600" and path.endswith("/creds.yaml")
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))


@needs_peers
def test_exec_file_does_not_wait_for_a_command_that_never_reads_the_fifo(ws: Workspace) -> None:
    proc = ws.sealer("exec-file", PEERS / "grafted" / "example.yaml", "echo {}; exit 4", key=KEY)
    assert proc.returncode == 4
    assert not os.path.exists(proc.stdout.strip())


def _env(ws: Workspace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALER_")}
    env.update(ws.env(KEY))
    return env


@needs_peers
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_exec_file_temp_file_is_removed_on_interrupt(ws: Workspace, tmp_path: Path, sig: signal.Signals) -> None:
    """Ctrl-C or a SIGTERM to sealer: the signal goes on to the command, the plaintext file goes away, and the
    exit code says which signal ended the command."""
    marker = tmp_path / "path"
    proc = subprocess.Popen([sys.executable, "-m", "sealer", "exec-file", "--no-fifo",
                             str(PEERS / "grafted" / "example.yaml"), f"echo {{}} > {marker}; exec sleep 30"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(ws), cwd=ws.files)
    try:
        deadline = time.monotonic() + 30
        while not (marker.exists() and marker.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        path = marker.read_text().strip()
        assert os.path.isfile(path)
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + sig
    assert not os.path.exists(path) and not os.path.exists(os.path.dirname(path))


@needs_peers
@pytest.mark.parametrize("output_type", ["json", "yaml", "dotenv"])
def test_exec_file_output_type(ws: Workspace, output_type: str) -> None:
    sops, sealer = both(ws, "exec-file", "--output-type", output_type, PEERS / "grafted" / "format.enc.env",
                        "cat {}")
    assert sealer.returncode == sops.returncode == 0
    assert sealer.stdout == sops.stdout


# --- filestatus --------------------------------------------------------------------------------------------------


@needs_peers
@pytest.mark.parametrize("name", ["grafted/example.yaml", "grafted/example.ini", "grafted/format.enc.env",
                                  "grafted/example.txt", "grafted/no_mac.yaml", "plain/dec.example.yaml",
                                  "plain/dec.format.env", "plain/edge.nul.bin", "plain/no-such-file.yaml"])
def test_filestatus_like_sops(ws: Workspace, name: str) -> None:
    sops, sealer = both(ws, "filestatus", PEERS / name)
    assert (sealer.returncode, sealer.stdout) == (sops.returncode, sops.stdout)


def test_filestatus_without_a_file_exits_100(ws: Workspace) -> None:
    sops, sealer = both(ws, "filestatus")
    assert sops.returncode == sealer.returncode == 100


# --- --output-type / --input-type / --filename-override -----------------------------------------------------------

CONVERT_FILES = ["grafted/example.yaml", "grafted/example.json", "grafted/format.enc.env", "grafted/format.enc.ini",
                 "grafted/example.ini", "grafted/comments.enc.yaml", "grafted/example.txt", "files/typed.enc.yaml",
                 "files/comments.enc.env", "files/sections.enc.ini"]


@needs_peers
@pytest.mark.parametrize("output_type", ["json", "yaml", "dotenv", "ini", "binary"])
@pytest.mark.parametrize("name", CONVERT_FILES)
def test_decrypt_output_type_like_sops(ws: Workspace, name: str, output_type: str) -> None:
    """The same bytes, or a refusal where sops refuses (nested values to dotenv, no `data` key to binary)."""
    sops, sealer = both(ws, "decrypt", "--output-type", output_type, _path(ws, name))
    assert (sealer.returncode == 0) == (sops.returncode == 0), sops.stderr + sealer.stderr
    assert sealer.stdout == sops.stdout


@needs_peers
@pytest.mark.parametrize("output_type", ["json", "yaml"])
@pytest.mark.parametrize("path", ['["app2"]', '["app2"]["db"]["user"]', '["an_array"]', '["number"]',
                                  '["somebooleans"][0]'])
def test_decrypt_extract_with_output_type_like_sops(ws: Workspace, path: str, output_type: str) -> None:
    sops, sealer = both(ws, "decrypt", "--extract", path, "--output-type", output_type,
                        PEERS / "grafted" / "example.yaml")
    assert sealer.returncode == sops.returncode == 0
    assert sealer.stdout == sops.stdout


@needs_peers
@pytest.mark.parametrize("output_type", ["json", "yaml", "dotenv", "ini"])
@pytest.mark.parametrize("name", ["dec.example.json", "dec.format.env", "dec.format.ini", "edge.types.yaml",
                                  "dec.example.txt"])
def test_encrypt_output_type_opens_to_what_sops_writes(ws: Workspace, tmp_path: Path, name: str,
                                                       output_type: str) -> None:
    """sealer encrypt --output-type X and sops encrypt --output-type X: sops decrypts both to the same bytes (or
    both refuse)."""
    results = []
    for tool in ("sops", "sealer"):
        run = ws.sops if tool == "sops" else ws.sealer
        enc = run("encrypt", "--age", RECIPIENT, "--output-type", output_type, PEERS / "plain" / name)
        if enc.returncode != 0:
            results.append(None)
            continue
        target = tmp_path / f"{tool}.out"
        target.write_text(enc.stdout)
        dec = ws.sops("decrypt", "--input-type", output_type, target, key=KEY)
        results.append(dec.stdout if dec.returncode == 0 else None)
    assert results[1] == results[0]


@needs_peers
def test_filename_override_picks_the_store_for_stdin(ws: Workspace) -> None:
    data = (PEERS / "grafted" / "format.enc.json").read_text()
    sops, sealer = both(ws, "decrypt", "--filename-override", "x.json", input=data)
    assert sealer.returncode == sops.returncode == 0
    assert sealer.stdout == sops.stdout
    sops, sealer = both(ws, "decrypt", "--filename-override", "x.json", "--output-type", "yaml", input=data)
    assert sealer.stdout == sops.stdout != ""


def test_input_type_alone_keeps_the_output_format_of_the_file_name(ws: Workspace) -> None:
    """sops: `--input-type json f.yaml` reads JSON and writes YAML (the output store follows the name)."""
    renamed = ws.write("nums-in.yaml", (ws.files / "nums.enc.json").read_text())
    sops, sealer = both(ws, "decrypt", "--input-type", "json", renamed)
    assert sealer.returncode == sops.returncode == 0
    assert sealer.stdout == sops.stdout


@pytest.mark.parametrize("name, text, input_type", [("settings.conf", "[s]\na = 1\n", "ini"),
                                                    ("values.conf", "a: 1\nb: [x]\n", "yaml")])
def test_a_tree_encrypted_into_the_binary_store_is_written_as_sops_writes_it(ws: Workspace, name: str, text: str,
                                                                              input_type: str) -> None:
    """`sops encrypt --input-type ini settings.conf`: the output follows the name (binary), and sops' binary store
    writes any other tree as JSON; decrypting it needs `--output-type json` (or yaml, ini), as with sops."""
    ws.write(name, text)
    mine = ok(ws.sealer("encrypt", "--input-type", input_type, "--age", RECIPIENT, name))
    theirs = ok(ws.sops("encrypt", "--input-type", input_type, "--age", RECIPIENT, name))
    assert mine.startswith("{\n\t") and theirs.startswith("{\n\t")
    for who, enc in (("mine", mine), ("theirs", theirs)):
        f = ws.write(f"{who}.{name}", enc)
        for output_type in ("json", "yaml"):
            sops, sealer = both(ws, "decrypt", "--output-type", output_type, f)
            assert sealer.returncode == sops.returncode == 0 and sealer.stdout == sops.stdout != ""
        sops, sealer = both(ws, "decrypt", f)  # the binary store wants a `data` value: both refuse
        assert sops.returncode != 0 and sealer.returncode != 0 and sealer.stdout == ""


def test_encrypt_filename_override_picks_the_rule_and_the_store(ws: Workspace, tmp_path: Path) -> None:
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - path_regex: \\.env$\n    age: {RECIPIENT}\n")
    out = ok(ws.sealer("encrypt", "--filename-override", "app.env", input="A=1\nB=two\n", cwd=tmp_path))
    assert out.startswith("A=ENC[") and "sops_age__list_0__map_recipient=" + RECIPIENT in out
    target = tmp_path / "app.env"
    target.write_text(out)
    assert ok(ws.sops("decrypt", target, key=KEY, cwd=tmp_path)) == "A=1\nB=two\n"


# --- key groups ----------------------------------------------------------------------------------------------------


@needs_peers
def test_shamir_threshold_flag_overrides_the_config(ws: Workspace, tmp_path: Path) -> None:
    """Three key groups, the config asks for all three; the flag asks for two: two identities open the file."""
    ssh_recipient = (PEERS / "keys" / "ssh_ed25519.pub").read_text().strip()
    other_recipient = "age1afnrdrkyvy0sl5e08t9ffs4c7g5e5npc8luf7hjc77syewg5gajsls4r90"
    (tmp_path / ".sops.yaml").write_text(
        "creation_rules:\n  - shamir_threshold: 3\n    key_groups:\n"
        f"      - age: [{RECIPIENT}]\n      - age: [{other_recipient}]\n      - age: ['{ssh_recipient}']\n")
    plain = tmp_path / "s.yaml"
    plain.write_text("a: secret\n")
    two_keys = {"SOPS_AGE_SSH_PRIVATE_KEY_FILE": str(SSH_KEY)}
    for tool in (ws.sops, ws.sealer):
        enc = tmp_path / "s.enc.yaml"
        enc.write_text(ok(tool("encrypt", "--shamir-secret-sharing-threshold", "2", plain, cwd=tmp_path)))
        assert "shamir_threshold: 2" in enc.read_text()
        assert ok(ws.sops("decrypt", enc, key=KEY, cwd=tmp_path, **two_keys)) == "a: secret\n"
        assert ok(ws.sealer("decrypt", enc, key=KEY, cwd=tmp_path, **two_keys)) == "a: secret\n"
        assert ws.sealer("decrypt", enc, key=KEY, cwd=tmp_path).returncode == 1  # one part of two: no key
    for bad in ("1", "4"):  # sops: "threshold must be at least 2", "parts cannot be less than threshold"
        assert ws.sops("encrypt", "--shamir-secret-sharing-threshold", bad, plain, cwd=tmp_path).returncode != 0
        refused = ws.sealer("encrypt", "--shamir-secret-sharing-threshold", bad, plain, cwd=tmp_path)
        assert refused.returncode == 2 and "--shamir-secret-sharing-threshold" in refused.stderr


# --- SOPS_AGE_* identity sources -----------------------------------------------------------------------------------


@needs_peers
@pytest.mark.parametrize("source", ["SOPS_AGE_KEY", "SOPS_AGE_KEY_CMD", "SOPS_AGE_SSH_PRIVATE_KEY_FILE", "none"])
def test_age_identity_sources_like_sops(ws: Workspace, tmp_path: Path, source: str) -> None:
    if source == "SOPS_AGE_SSH_PRIVATE_KEY_FILE":
        recipient = (PEERS / "keys" / "ssh_ed25519.pub").read_text().strip()
        extra = {source: str(SSH_KEY)}
    else:
        recipient = RECIPIENT
        secret = next(line for line in KEY.read_text().splitlines() if line.startswith("AGE-SECRET-KEY-"))
        extra = {"SOPS_AGE_KEY": f"# a comment\n{secret}\n", "SOPS_AGE_KEY_CMD": f"cat {KEY}",
                 "none": {}}.get(source, {})  # type: ignore[assignment]
        extra = {source: extra} if isinstance(extra, str) else {}
    plain = tmp_path / "p.yaml"
    plain.write_text("a: secret\n")
    enc = tmp_path / "p.enc.yaml"
    enc.write_text(ok(ws.sops("encrypt", "--age", recipient, plain)))
    sops, sealer = ws.sops("decrypt", enc, **extra), ws.sealer("decrypt", enc, **extra)
    assert (sealer.returncode == 0) == (sops.returncode == 0) == (source != "none")
    assert sealer.stdout == sops.stdout


# --- groups add / delete, rotate --add-age / --rm-age -------------------------------------------------------------

OTHER_RECIPIENT = "age1afnrdrkyvy0sl5e08t9ffs4c7g5e5npc8luf7hjc77syewg5gajsls4r90"


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    other = PEERS / "keys" / "age-other.agekey"
    both_keys = tmp_path / "both.agekey"
    both_keys.write_text(KEY.read_text() + "\n" + other.read_text())
    return {"test": KEY, "other": other, "both": both_keys}


def _opens(ws: Workspace, path: Path, key: Path) -> tuple[bool, bool]:
    """(sops opens it, sealer opens it) with only ``key``."""
    return ws.sops("decrypt", path, key=key).returncode == 0, ws.sealer("decrypt", path, key=key).returncode == 0


@needs_peers
@pytest.mark.parametrize("writer", ["sops", "sealer"])
def test_groups_add_and_delete_like_sops(ws: Workspace, tmp_path: Path, keys: dict[str, Path], writer: str) -> None:
    """A second group makes both identities necessary (threshold 2, sops' default); deleting the first leaves a
    file only the other identity opens. Values, and so the plaintext, stay the same."""
    run = ws.sops if writer == "sops" else ws.sealer
    f = tmp_path / "g.yaml"
    f.write_text((ws.files / "nested.enc.yaml").read_text())
    before = ok(ws.sops("decrypt", f, key=KEY))
    ok(run("groups", "add", "--file", f, "--age", OTHER_RECIPIENT, "-i", key=KEY))
    assert _opens(ws, f, keys["test"]) == (False, False)
    assert _opens(ws, f, keys["other"]) == (False, False)
    assert ok(ws.sops("decrypt", f, key=keys["both"])) == ok(ws.sealer("decrypt", f, key=keys["both"])) == before
    refused = run("groups", "delete", "--file", f, "-i", "0", key=keys["both"])  # threshold 2 > 1 group left
    assert refused.returncode != 0
    one = ("--shamir-secret-sharing-threshold", "1")
    printed = run("groups", "delete", "--file", f, *one, "0", key=keys["both"])
    assert ok(printed).startswith("top: ENC[") and f.read_text() != printed.stdout  # stdout without -i
    ok(run("groups", "delete", "--file", f, "-i", *one, "0", key=keys["both"]))
    assert _opens(ws, f, keys["test"]) == (False, False)
    assert ok(ws.sops("decrypt", f, key=keys["other"])) == ok(ws.sealer("decrypt", f, key=keys["other"])) == before


def test_groups_errors(ws: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "g.yaml"
    f.write_text((ws.files / "typed.enc.yaml").read_text())
    before = f.read_text()
    for args in (("delete", "--file", f, "0"), ("delete", "--file", f, "5"), ("delete", "--file", f, "x"),
                 ("add", "--file", f)):
        proc = ws.sealer("groups", *args, "-i", key=KEY)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert f.read_text() == before


@needs_peers
@pytest.mark.parametrize("writer", ["sops", "sealer"])
def test_rotate_add_and_remove_age_like_sops(ws: Workspace, tmp_path: Path, keys: dict[str, Path],
                                            writer: str) -> None:
    f = tmp_path / "r.yaml"
    f.write_text((ws.files / "nested.enc.yaml").read_text())
    before = ok(ws.sops("decrypt", f, key=KEY))
    old_values = f.read_text().split("sops:")[0]
    if writer == "sops":
        ok(ws.sops("rotate", "-i", "--add-age", OTHER_RECIPIENT, f, key=KEY))
    else:
        ok(ws.sealer("rotate", "--add-age", OTHER_RECIPIENT, f, key=KEY))
    assert f.read_text().split("sops:")[0] != old_values  # a new data key: every value re-encrypted
    assert _opens(ws, f, keys["other"]) == (True, True)
    assert _opens(ws, f, keys["test"]) == (True, True)
    if writer == "sops":
        ok(ws.sops("rotate", "-i", "--rm-age", RECIPIENT, f, key=KEY))
    else:
        ok(ws.sealer("rotate", "--rm-age", RECIPIENT, f, key=KEY))
    assert _opens(ws, f, keys["test"]) == (False, False)
    assert ok(ws.sealer("decrypt", f, key=keys["other"])) == before


@needs_peers
def test_updatekeys_input_type(ws: Workspace, tmp_path: Path, keys: dict[str, Path]) -> None:
    """A SOPS YAML file under a name that says nothing about its format, re-keyed for a second recipient."""
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {RECIPIENT},{OTHER_RECIPIENT}\n")
    for run in (ws.sops, ws.sealer):
        f = tmp_path / "secrets.dat"
        f.write_text((ws.files / "nested.enc.yaml").read_text())
        ok(run("updatekeys", "-y", "--input-type", "yaml", f, key=KEY, cwd=tmp_path))
        opened = ws.sops("decrypt", "--input-type", "yaml", "--output-type", "yaml", f, key=keys["other"])
        assert ok(opened) == "top: 1\nsub:\n    x: 2\n"
