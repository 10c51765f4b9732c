"""Faults while writing, tried as a hostile or unlucky user would (issue 13): signals mid-write, a full disk,
symlinks, modes and owners, concurrent writers, an editor that leaves nothing or garbage, a key pair cut in half.

Every case runs the CLI as its own process and checks the exit code, a one-line message naming the file, the
original byte-identical, no temp file left, and no planted secret value in any output.

Signals are sent at the moment a temp file exists through SEALER_TEST_HOLD_WRITE (sealer.io.files._test_hold): the
write pauses with its temp file complete until the test deletes the hold file, so no timing guess is involved.
A full disk is a real one where the machine lets us mount a small tmpfs (root), and otherwise an ENOSPC shim
loaded into the sealer process (a sitecustomize that makes fsync fail for chosen file names).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_process import run_sealer
from tests.sops_helpers import SECRET_REGEX, AgeKey, Workspace, load_doc, make_age_key, ok, write_editor

LEAK = "Zq7-LEAKED-VALUE-x9"  # planted in every file: must never reach stdout or stderr

SECRET = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: app
  namespace: prod
type: Opaque
stringData:
  user: admin
  password: {LEAK}
"""

HOLD = "SEALER_TEST_HOLD_WRITE"
SIGNALS = {"SIGTERM": 143, "SIGHUP": 129}


# --- helpers ------------------------------------------------------------------------------------------------------


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected a one-line message, got: {stderr!r}"
    return lines[0]


def temps(*directories: Path) -> list[str]:
    """Temp files of the write path (.NAME.XXXX.tmp) left in ``directories``."""
    return [p.name for d in directories for p in d.iterdir() if re.fullmatch(r"\..+\.tmp", p.name)]


def no_leak(proc: subprocess.CompletedProcess[str] | tuple[str, str]) -> None:
    out, err = (proc.stdout, proc.stderr) if isinstance(proc, subprocess.CompletedProcess) else proc
    assert LEAK not in out and LEAK not in err


def sealer_env(ws: Workspace, key: AgeKey | None = None, **extra: str) -> dict[str, str]:
    """The environment run_sealer would give, for processes the test starts itself (Popen)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALER_")}
    env.update(ws.env(key, **extra))
    return env


def start(ws: Workspace, *args: str | os.PathLike[str], key: AgeKey | None = None, stderr=subprocess.PIPE,
          **extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "sealer", *map(str, args)], cwd=ws.files, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                            env=sealer_env(ws, key, **extra))


def wait_for(predicate, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def held_temp(hold: Path, proc: subprocess.Popen[str]) -> Path:
    """The temp file a process paused at SEALER_TEST_HOLD_WRITE is holding (complete, not yet renamed)."""
    wait_for(lambda: proc.poll() is not None or (hold.exists() and hold.read_text()), "the write to pause")
    assert proc.poll() is None, f"the write did not pause (exit {proc.returncode}): {proc.communicate()}"
    return Path(hold.read_text())


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@pytest.fixture(scope="module")
def age_key(tmp_path_factory: pytest.TempPathFactory) -> AgeKey:
    return make_age_key(tmp_path_factory.mktemp("age"), "a")


@pytest.fixture(scope="module")
def encrypted(tmp_path_factory: pytest.TempPathFactory, age_key: AgeKey) -> str:
    """SECRET encrypted for age_key."""
    ws = Workspace(tmp_path_factory.mktemp("enc"))
    ws.write("secret.yaml", SECRET)
    return ok(ws.sealer("encrypt", "--age", age_key.recipient, "secret.yaml"))


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("cert")
    ok(run_sealer("keys", "generate", "--out-dir", d / "k", "--bits", "2048"))
    return d / "k" / "sealer.crt"


def decrypted(ws: Workspace, key: AgeKey, name: str) -> dict:
    return load_doc(ok(ws.sealer("decrypt", name, key=key)))


# --- 1. signals while the temp file exists ----------------------------------------------------------------------

# (command, file it writes, whether that file exists before, whether the temp holds plaintext)
WRITES = {
    "seal -w (new file)": (["seal", "secret.yaml", "-w", "out.yaml"], "out.yaml", False),
    "seal -w (over a file)": (["seal", "secret.yaml", "-w", "out.yaml"], "out.yaml", True),
    "encrypt -i": (["encrypt", "-i", "secret.yaml"], "secret.yaml", True),
    "decrypt -i": (["decrypt", "-i", "enc.yaml"], "enc.yaml", True),
    "decrypt --output": (["decrypt", "enc.yaml", "--output", "out.yaml"], "out.yaml", False),
    "set": (["set", "enc.yaml", '["stringData"]["user"]', '"root"'], "enc.yaml", True),
    "rotate": (["rotate", "enc.yaml"], "enc.yaml", True),
}


def _prepare(ws: Workspace, age_key: AgeKey, encrypted: str, cert: Path) -> None:
    ws.write("secret.yaml", SECRET)
    ws.write("enc.yaml", encrypted)
    ws.write(".sops.yaml", f"creation_rules:\n  - age: {age_key.recipient}\n    encrypted_regex: {SECRET_REGEX}\n")
    ws.write("out.yaml", "previous: content\n")


@pytest.mark.parametrize("signame", SIGNALS)
@pytest.mark.parametrize("case", WRITES)
def test_signal_while_the_temp_file_exists_removes_it_and_leaves_the_file(ws: Workspace, age_key: AgeKey,
                                                                           encrypted: str, cert: Path, case: str,
                                                                           signame: str) -> None:
    args, target_name, existed = WRITES[case]
    _prepare(ws, age_key, encrypted, cert)
    target = ws.files / target_name
    if not existed:
        target.unlink(missing_ok=True)
    before = target.read_bytes() if existed else None
    listing = sorted(p.name for p in ws.files.iterdir())
    hold = ws.root / "hold"
    proc = start(ws, *args, key=age_key, SEALER_CERT=str(cert), **{HOLD: str(hold)})
    tmp = held_temp(hold, proc)
    # the moment that matters: the temp file exists, complete, beside the target, readable by its owner only
    assert tmp.parent == ws.files and tmp.exists()
    assert stat.S_IMODE(tmp.stat().st_mode) == 0o600
    proc.send_signal(getattr(signal, signame))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == SIGNALS[signame], err
    line = one_line(err)
    assert target_name in line and signame in line and "unchanged" in line
    no_leak((out, err))
    assert not tmp.exists() and temps(ws.files) == []
    assert sorted(p.name for p in ws.files.iterdir()) == listing
    if existed:
        assert target.read_bytes() == before
    else:
        assert not target.exists()


def test_sigint_while_the_temp_file_exists_removes_it(ws: Workspace, age_key: AgeKey, encrypted: str,
                                                      cert: Path) -> None:
    """Ctrl-C was handled before (KeyboardInterrupt); kept here so the signal work does not undo it."""
    _prepare(ws, age_key, encrypted, cert)
    before = (ws.files / "enc.yaml").read_bytes()
    hold = ws.root / "hold"
    proc = start(ws, "decrypt", "-i", "enc.yaml", key=age_key, **{HOLD: str(hold)})
    tmp = held_temp(hold, proc)
    assert LEAK in tmp.read_text()  # the temp of `decrypt -i` is plaintext: it must not stay in the work tree
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "interrupted" in one_line(err)
    no_leak((out, err))
    assert temps(ws.files) == [] and (ws.files / "enc.yaml").read_bytes() == before


def test_a_signal_after_the_rename_ends_the_process_with_the_file_written(ws: Workspace, age_key: AgeKey,
                                                                          encrypted: str, cert: Path) -> None:
    """A signal that arrives once the temp file is renamed is not reported as 'unchanged': the default action."""
    _prepare(ws, age_key, encrypted, cert)
    hold = ws.root / "hold"
    proc = start(ws, "set", "enc.yaml", '["stringData"]["user"]', '"root"', key=age_key, **{HOLD: str(hold)})
    held_temp(hold, proc)
    hold.unlink()  # let it go on: the write completes
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert decrypted(ws, age_key, "enc.yaml")["stringData"]["user"] == "root"


# --- 2. symlinks are written through -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["encrypt -i", "decrypt -i", "set", "unset", "rotate", "updatekeys"])
def test_a_symlink_is_written_through_and_stays_a_link(ws: Workspace, age_key: AgeKey, encrypted: str,
                                                       command: str) -> None:
    real_dir = ws.root / "real"
    real_dir.mkdir()
    real = real_dir / "secret.yaml"
    real.write_text(SECRET if command == "encrypt -i" else encrypted)
    real.chmod(0o640)
    link = ws.files / "link.yaml"
    link.symlink_to(os.path.relpath(real, ws.files))
    other = make_age_key(ws.root / "k", "other")
    ws.write(".sops.yaml", f"creation_rules:\n  - age: {age_key.recipient},{other.recipient}\n"
                           f"    encrypted_regex: {SECRET_REGEX}\n")
    before = real.read_text()
    args = {
        "encrypt -i": ["encrypt", "-i", "link.yaml"],
        "decrypt -i": ["decrypt", "-i", "link.yaml"],
        "set": ["set", "link.yaml", '["stringData"]["user"]', '"root"'],
        "unset": ["unset", "link.yaml", '["stringData"]["user"]'],
        "rotate": ["rotate", "link.yaml"],
        "updatekeys": ["updatekeys", "-y", "link.yaml"],
    }[command]
    r = ws.sealer(*args, key=age_key)
    assert r.returncode == 0, r.stderr
    no_leak(r)
    assert link.is_symlink() and os.readlink(link) == os.path.relpath(real, ws.files)
    after = real.read_text()
    assert after != before
    assert stat.S_IMODE(real.stat().st_mode) == 0o640  # the target's mode kept
    assert temps(ws.files, real_dir) == []
    if command == "decrypt -i":
        assert load_doc(after)["stringData"]["password"] == LEAK
        return
    assert LEAK not in after  # the plaintext is gone from the target, not left behind a replaced link
    doc = decrypted(ws, age_key, "link.yaml")
    if command == "set":
        assert doc["stringData"]["user"] == "root"
    elif command == "unset":
        assert "user" not in doc["stringData"]
    elif command == "rotate":
        assert load_doc(after)["sops"]["age"][0]["enc"] != load_doc(before)["sops"]["age"][0]["enc"]
    elif command == "updatekeys":
        assert other.recipient in after


@pytest.mark.parametrize("command", ["seal --merge-into", "reencrypt -i"])
def test_sealed_secret_writes_go_through_a_symlink(ws: Workspace, age_key: AgeKey, encrypted: str, cert: Path,
                                                   command: str) -> None:
    _prepare(ws, age_key, encrypted, cert)
    real_dir = ws.root / "real"
    real_dir.mkdir()
    real = real_dir / "sealed.yaml"
    real.write_text(ok(ws.sealer("seal", "secret.yaml", "--cert", cert)))
    link = ws.files / "sealed.yaml"
    link.symlink_to(real)
    before = real.read_text()
    if command == "seal --merge-into":
        ws.write("more.yaml", SECRET.replace("user: admin", "extra: value"))
        r = ws.sealer("seal", "more.yaml", "--cert", cert, "--merge-into", "sealed.yaml")
    else:
        new = ws.root / "new"
        ok(run_sealer("keys", "generate", "--out-dir", new, "--bits", "2048"))
        r = ws.sealer("reencrypt", "--key", cert.parent / "sealer.key", "--cert", new / "sealer.crt", "-i",
                      "sealed.yaml")
    assert r.returncode == 0, r.stderr
    no_leak(r)
    assert link.is_symlink() and real.read_text() != before
    assert temps(ws.files, real_dir) == []


def test_one_file_named_twice_is_locked_once(ws: Workspace, age_key: AgeKey, encrypted: str) -> None:
    """The lock is per file, not per name: a file and a symlink to it in one command do not wait for each other."""
    ws.write("enc.yaml", encrypted)
    (ws.files / "alias.yaml").symlink_to("enc.yaml")
    r = ws.sealer("rotate", "enc.yaml", "alias.yaml", "enc.yaml", key=age_key)
    assert r.returncode == 0, r.stderr
    assert "waiting" not in r.stderr
    assert decrypted(ws, age_key, "enc.yaml")["stringData"]["password"] == LEAK


def test_output_through_a_dangling_symlink_creates_its_target(ws: Workspace, age_key: AgeKey, encrypted: str,
                                                             cert: Path) -> None:
    _prepare(ws, age_key, encrypted, cert)
    link = ws.files / "sealed.yaml"
    link.symlink_to("generated/sealed.yaml")
    (ws.files / "generated").mkdir()
    r = ws.sealer("seal", "secret.yaml", "-w", "sealed.yaml", SEALER_CERT=str(cert))
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and "SealedSecret" in (ws.files / "generated" / "sealed.yaml").read_text()


def test_a_symlink_loop_is_one_line_exit_2(ws: Workspace, age_key: AgeKey, encrypted: str) -> None:
    (ws.files / "a.yaml").symlink_to("b.yaml")
    (ws.files / "b.yaml").symlink_to("a.yaml")
    ws.write("enc.yaml", encrypted)
    r = ws.sealer("decrypt", "enc.yaml", "--output", "a.yaml", key=age_key)
    assert r.returncode == 2 and "a.yaml" in one_line(r.stderr)
    no_leak(r)
    assert (ws.files / "a.yaml").is_symlink() and temps(ws.files) == []


# --- 3. modes and owners ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_the_target_keeps_its_mode(ws: Workspace, age_key: AgeKey, encrypted: str, mode: int) -> None:
    f = ws.write("enc.yaml", encrypted)
    f.chmod(mode)
    r = ws.sealer("set", "enc.yaml", '["stringData"]["user"]', '"root"', key=age_key)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(f.stat().st_mode) == mode


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another owner needs root")
def test_the_target_keeps_its_owner_and_group(ws: Workspace, age_key: AgeKey, encrypted: str) -> None:
    f = ws.write("enc.yaml", encrypted)
    os.chown(f, 12345, 23456)
    r = ws.sealer("rotate", "enc.yaml", key=age_key)
    assert r.returncode == 0, r.stderr
    st = f.stat()
    assert (st.st_uid, st.st_gid) == (12345, 23456)


def test_output_to_a_fifo_is_streamed_not_replaced(ws: Workspace, age_key: AgeKey, encrypted: str) -> None:
    """`--output` naming something that is not a regular file (a FIFO, /dev/stdout) is written to, not renamed over."""
    ws.write("enc.yaml", encrypted)
    fifo = ws.files / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    r = ws.sealer("decrypt", "enc.yaml", "--output", "pipe", key=age_key)
    if not got:  # a sealer that renamed a file over the FIFO left the reader waiting: release it
        with contextlib.suppress(OSError), open(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK), "wb"):
            pass
    reader.join(10)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO was replaced by a regular file"
    assert got and load_doc(got[0].decode())["stringData"]["password"] == LEAK
    assert temps(ws.files) == []


def test_waiting_for_a_fifo_reader_can_be_interrupted(ws: Workspace, age_key: AgeKey, encrypted: str) -> None:
    ws.write("enc.yaml", encrypted)
    os.mkfifo(ws.files / "pipe")
    proc = start(ws, "decrypt", "enc.yaml", "--output", "pipe", key=age_key)
    time.sleep(1.0)  # no reader: the write waits in open()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode != 0
    no_leak((out, err))
    assert stat.S_ISFIFO(os.lstat(ws.files / "pipe").st_mode)


def test_output_to_dev_stdout(ws: Workspace, age_key: AgeKey, encrypted: str, cert: Path) -> None:
    _prepare(ws, age_key, encrypted, cert)
    r = ws.sealer("seal", "secret.yaml", "-w", "/dev/stdout", SEALER_CERT=str(cert))
    assert r.returncode == 0, r.stderr
    assert "kind: SealedSecret" in r.stdout and LEAK not in r.stdout


def test_output_to_a_directory_is_one_line_exit_2(ws: Workspace, age_key: AgeKey, encrypted: str) -> None:
    ws.write("enc.yaml", encrypted)
    (ws.files / "out").mkdir()
    r = ws.sealer("decrypt", "enc.yaml", "--output", "out", key=age_key)
    assert r.returncode == 2 and "out" in one_line(r.stderr)
    no_leak(r)
    assert list((ws.files / "out").iterdir()) == [] and temps(ws.files) == []


# --- 4. concurrent writers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_sets_on_one_file_all_land(ws: Workspace, age_key: AgeKey, encrypted: str, round_: int) -> None:
    f = ws.write("enc.yaml", encrypted)
    n = 6
    procs = [start(ws, "set", "enc.yaml", f'["stringData"]["k{i}"]', f'"v{i}"', key=age_key) for i in range(n)]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    for rc, out, err in results:
        assert rc == 0, err
        no_leak((out, err))
    data = decrypted(ws, age_key, "enc.yaml")["stringData"]
    assert {f"k{i}": f"v{i}" for i in range(n)}.items() <= data.items(), f"updates lost: {sorted(data)}"
    assert data["password"] == LEAK
    assert sorted(p.name for p in ws.files.iterdir()) == [f.name]  # no lock file, no temp file


SET_FIRST = ["set", "enc.yaml", '["stringData"]["first"]', '"1"']
SET_SECOND = ["set", "enc.yaml", '["stringData"]["second"]', '"2"']
PAIRS = {  # first writer (paused holding the lock), second writer, values expected afterwards
    "set, set": (SET_FIRST, SET_SECOND, {"first": "1", "second": "2"}),
    "set, unset": (SET_FIRST, ["unset", "enc.yaml", '["stringData"]["user"]'], {"first": "1", "user": None}),
    "set, rotate": (SET_FIRST, ["rotate", "enc.yaml"], {"first": "1"}),
    "set, updatekeys": (SET_FIRST, ["updatekeys", "-y", "enc.yaml"], {"first": "1"}),
    "set, decrypt -i": (SET_FIRST, ["decrypt", "-i", "enc.yaml"], {"first": "1"}),
    "encrypt -i, set": (["encrypt", "-i", "enc.yaml"], SET_SECOND, {"second": "2", "user": "admin"}),
    "decrypt -i, encrypt -i": (["decrypt", "-i", "enc.yaml"], ["encrypt", "-i", "enc.yaml"], {"user": "admin"}),
}


@pytest.mark.parametrize("pair", PAIRS)
def test_a_second_writer_waits_for_the_first(ws: Workspace, age_key: AgeKey, encrypted: str, pair: str) -> None:
    """Deterministic: the first writer is paused with its temp file written (lock held); the second must say it
    waits, and only then is the first let go. The second works on the first one's result: nothing is lost."""
    first_args, second_args, expected = PAIRS[pair]
    ws.write("enc.yaml", SECRET if first_args[0] == "encrypt" else encrypted)
    ws.write(".sops.yaml", f"creation_rules:\n  - age: {age_key.recipient}\n    encrypted_regex: {SECRET_REGEX}\n")
    hold = ws.root / "hold"
    first = start(ws, *first_args, key=age_key, **{HOLD: str(hold)})
    held_temp(hold, first)
    log = ws.root / "second.err"
    with open(log, "w") as err:
        other = start(ws, *second_args, key=age_key, stderr=err)
        wait_for(lambda: "waiting for another sealer process" in log.read_text() or other.poll() is not None,
                 "the second writer to wait")
        assert other.poll() is None, f"the second writer did not wait: {log.read_text()}"
        hold.unlink()
        assert first.wait(timeout=60) == 0, first.communicate()
        rc = other.wait(timeout=60)
    message = log.read_text()
    assert rc == 0, message
    no_leak(("", message))
    text = (ws.files / "enc.yaml").read_text()
    data = load_doc(text)["stringData"] if second_args[:2] == ["decrypt", "-i"] else \
        decrypted(ws, age_key, "enc.yaml")["stringData"]
    for name, value in expected.items():
        assert data.get(name) == value, (name, sorted(data))
    assert data["password"] == LEAK
    assert temps(ws.files) == []


# --- 5. edit ------------------------------------------------------------------------------------------------------


def recovery_path(stderr: str) -> Path:
    m = re.search(r"kept in (\S+) \(plaintext", stderr)
    assert m, f"no recovery file named in {stderr!r}"
    return Path(m.group(1))


def check_recovery(ws: Workspace, stderr: str, buffer: str) -> None:
    path = recovery_path(stderr)
    try:
        assert path.read_text() == buffer
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert ws.root not in path.parents  # never in the work tree
        if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
            assert path.parent.parent == Path("/dev/shm")  # in memory, not on a disk
    finally:
        shutil.rmtree(path.parent, ignore_errors=True)


BAD_BUFFERS = {
    "empty": ("", "empty"),
    "blank lines": ("\n  \n\n", "empty"),
    "comments only": ("# nothing but a comment\n", "no document"),
    "not YAML": (None, "not valid YAML"),
    "a list": ("- a\n- b\n", "not a mapping"),
    "a sops block": (None, "sops"),
}


@pytest.mark.parametrize("case", BAD_BUFFERS)
def test_edit_never_replaces_the_file_with_an_empty_or_invalid_buffer(ws: Workspace, age_key: AgeKey,
                                                                      encrypted: str, case: str) -> None:
    buffer, wording = BAD_BUFFERS[case]
    f = ws.write("enc.yaml", encrypted)
    before = f.read_bytes()
    editor = write_editor(ws.root)
    if case == "not YAML":
        spec = {"replace": [["user: admin", "user: [unclosed"]]}
    elif case == "a sops block":
        spec = {"replace": [["user: admin", "user: changed"], [r"\Z", "sops:\n    version: 3.11.0\n"]]}
    else:
        spec = {"content": buffer}
    record = ws.root / "record.jsonl"
    spec["record"] = str(record)
    r = ws.sealer("edit", "enc.yaml", key=age_key, **editor, TEST_EDIT_SPEC=json.dumps(spec))
    assert r.returncode == 2, r.stderr
    line = one_line(r.stderr)
    assert "enc.yaml" in line and wording in line
    no_leak(r)
    assert f.read_bytes() == before
    assert temps(ws.files) == []
    seen = Path(json.loads(record.read_text())["path"])
    assert not seen.parent.exists()
    if wording == "empty":
        assert "kept in" not in line  # nothing to keep
    else:
        kept = recovery_path(r.stderr).read_text()
        if buffer is not None:
            assert kept == buffer
        else:  # the whole decrypted buffer with the user's change: their work is not lost
            assert spec["replace"][0][1] in kept and LEAK in kept
        check_recovery(ws, r.stderr, kept)


CONCURRENT_EDITOR = '''\
import json, os, subprocess, sys
path = sys.argv[-1]
spec = json.loads(os.environ["TEST_EDIT_SPEC"])
subprocess.run(spec["meanwhile"], check=True, capture_output=True)  # another writer, while the editor is open
with open(path, encoding="utf-8") as f:
    text = f.read()
with open(path, "w", encoding="utf-8") as f:
    f.write(text.replace("user: admin", "user: from-the-editor"))
'''


@pytest.mark.parametrize("meanwhile", ["set", "rm"])
def test_edit_refuses_to_save_over_a_file_changed_while_the_editor_was_open(ws: Workspace, age_key: AgeKey,
                                                                            encrypted: str, meanwhile: str) -> None:
    f = ws.write("enc.yaml", encrypted)
    script = ws.root / "concurrent_editor.py"
    script.write_text(CONCURRENT_EDITOR)
    command = ([sys.executable, "-m", "sealer", "set", str(f), '["stringData"]["user"]', '"from-set"']
               if meanwhile == "set" else ["rm", str(f)])
    r = ws.sealer("edit", "enc.yaml", key=age_key, EDITOR=f"{sys.executable} {script}",
                  TEST_EDIT_SPEC=json.dumps({"meanwhile": command}))
    assert r.returncode == 1, r.stderr
    line = one_line(r.stderr)
    assert "enc.yaml" in line and "changed on disk" in line
    no_leak(r)
    path = recovery_path(r.stderr)
    assert "user: from-the-editor" in path.read_text()
    check_recovery(ws, r.stderr, path.read_text())
    if meanwhile == "set":  # the other writer's change survives
        assert decrypted(ws, age_key, "enc.yaml")["stringData"]["user"] == "from-set"
    else:
        assert not f.exists()
    assert temps(ws.files) == []


def test_edit_keeps_plaintext_in_memory_and_a_killed_edit_is_cleaned_up_next_time(ws: Workspace, age_key: AgeKey,
                                                                                  encrypted: str) -> None:
    if not (os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK)):
        pytest.skip("no usable /dev/shm on this machine: plaintext goes to the system temp directory")
    ws.write("enc.yaml", encrypted)
    ws.write("other.yaml", encrypted)
    script = ws.root / "slow_editor.py"
    record = ws.root / "editor.json"
    script.write_text("import json, os, sys, time\n"
                      f"open({str(record)!r}, 'w').write(json.dumps({{'path': sys.argv[-1], 'pid': os.getpid()}}))\n"
                      "time.sleep(120)\n")
    proc = start(ws, "edit", "enc.yaml", key=age_key, EDITOR=f"{sys.executable} {script}")
    wait_for(lambda: record.exists() and record.read_text(), "the editor to start")
    seen = json.loads(record.read_text())
    temp = Path(seen["path"])
    try:
        assert temp.parent.parent == Path("/dev/shm"), temp  # plaintext in memory, not on a disk
        assert LEAK in temp.read_text()
        proc.kill()  # SIGKILL: nothing in the process can clean up
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(seen["pid"], signal.SIGKILL)  # the editor, which holds the pipes open
        proc.communicate(timeout=30)
    assert temp.parent.exists()  # the residual risk, documented: until the next edit (or a reboot)
    r = ws.sealer("edit", "other.yaml", key=age_key, **write_editor(ws.root), TEST_EDIT_SPEC="{}")
    assert r.returncode == 0, r.stderr
    assert not temp.parent.exists(), "the next edit did not remove the killed edit's plaintext"
    assert str(temp.parent) in r.stderr and "killed" in r.stderr


# --- 6. a full disk -----------------------------------------------------------------------------------------------

SHIM = '''\
"""ENOSPC shim (tests only): fsync of a file whose name contains FAULT_ENOSPC_FSYNC fails with ENOSPC."""
import errno, os
_match = os.environ.get("FAULT_ENOSPC_FSYNC")
if _match:
    _fsync = os.fsync

    def fsync(fd):
        try:
            name = os.path.basename(os.readlink(f"/proc/self/fd/{fd}"))
        except OSError:
            name = ""
        if _match in name:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return _fsync(fd)

    os.fsync = fsync
'''


class Disk:
    """A place to write that fills up: a real small tmpfs, or a directory plus the ENOSPC shim."""

    def __init__(self, root: Path, kind: str) -> None:
        self.kind, self.root = kind, root
        self.dir = root / "disk"
        self.dir.mkdir()
        self.shim = root / "shim"
        self.mounted = False
        if kind == "tmpfs":
            r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", str(self.dir)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip()}); the shim covers disk-full")
            self.mounted = True
        else:
            self.shim.mkdir()
            (self.shim / "sitecustomize.py").write_text(SHIM)

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.dir)], check=False)

    def fill(self, leave_pages: int = 0, match: str = ".tmp") -> dict[str, str]:
        """Make the next writes fail with ENOSPC; returns the environment the sealer process needs for that. The
        tmpfs keeps ``leave_pages`` pages free; the shim fails the fsync of files whose name contains ``match``."""
        if self.kind == "tmpfs":
            filler = self.dir / ".filler"
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                with contextlib.suppress(OSError):
                    while os.write(fd, b"\0" * 4096):
                        pass
            finally:
                os.close(fd)
            page = os.statvfs(self.dir).f_frsize
            os.truncate(filler, max(filler.stat().st_size - leave_pages * page, 0))
            return {}
        return {"PYTHONPATH": os.pathsep.join(filter(None, [str(self.shim), os.environ.get("PYTHONPATH")])),
                "FAULT_ENOSPC_FSYNC": match}

    def free(self) -> None:
        (self.dir / ".filler").unlink(missing_ok=True)


@pytest.fixture(params=["tmpfs", "shim"])
def disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Disk]:
    d = Disk(tmp_path, request.param)
    try:
        yield d
    finally:
        d.close()


@pytest.mark.parametrize("command", ["set", "encrypt -i", "decrypt -i", "rotate"])
def test_a_full_disk_leaves_the_file_as_it_was(ws: Workspace, age_key: AgeKey, encrypted: str, disk: Disk,
                                              command: str) -> None:
    f = disk.dir / "enc.yaml"
    f.write_text(SECRET if command == "encrypt -i" else encrypted)
    before = f.read_bytes()
    env = disk.fill()
    args = {"set": ["set", f, '["stringData"]["user"]', '"root"'], "encrypt -i": ["encrypt", "-i", f],
            "decrypt -i": ["decrypt", "-i", f], "rotate": ["rotate", f]}[command]
    r = ws.sealer(*args, key=age_key, **env, **({"SOPS_AGE_RECIPIENTS": age_key.recipient}
                                                if command == "encrypt -i" else {}))
    assert r.returncode == 2, r.stderr
    line = one_line(r.stderr)
    assert str(f) in line and "No space left on device" in line
    no_leak(r)
    assert f.read_bytes() == before
    assert temps(disk.dir) == []


def test_keys_generate_on_a_full_disk_leaves_no_half_pair_and_a_rerun_works(tmp_path: Path, disk: Disk) -> None:
    out = disk.dir / "keys"
    env = disk.fill(leave_pages=1, match="sealer.crt")  # room for the key, not for the cert
    r = run_sealer("keys", "generate", "--out-dir", out, "--bits", "2048", env=env)
    assert r.returncode == 2, r.stderr
    line = one_line(r.stderr)
    assert "sealer.crt" in line and "No space left on device" in line
    assert "PRIVATE KEY" not in r.stdout + r.stderr
    assert not out.exists() or list(out.iterdir()) == [], "half a key pair (or a temp file) was left"
    disk.free()
    r = run_sealer("keys", "generate", "--out-dir", out, "--bits", "2048")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["sealer.crt", "sealer.key"]


def test_keys_generate_force_on_a_full_disk_keeps_the_old_pair(tmp_path: Path, disk: Disk) -> None:
    out = disk.dir / "keys"
    ok(run_sealer("keys", "generate", "--out-dir", out, "--bits", "2048"))
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    env = disk.fill(leave_pages=1, match="sealer.crt")
    r = run_sealer("keys", "generate", "--out-dir", out, "--bits", "2048", "--force", env=env)
    assert r.returncode == 2 and "sealer.crt" in r.stderr.strip().splitlines()[-1]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # a matching pair, the old one


# --- 7. keys: directory mode, flag limits, identity output -------------------------------------------------------


def test_keys_generate_creates_its_directory_0700(tmp_path: Path) -> None:
    out = tmp_path / "new" / "keys"
    r = run_sealer("keys", "generate", "--out-dir", out, "--bits", "2048")
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "sealer.key").stat().st_mode) == 0o600


@pytest.mark.parametrize("flag,value", [("--bits", "65536"), ("--bits", "16384"), ("--bits", "8448"),
                                        ("--bits", "1024"), ("--bits", "3000"), ("--days", "3000000"),
                                        ("--days", "36501"), ("--days", "0"), ("--days", "-1")])
def test_keys_generate_refuses_sizes_and_validities_out_of_range_at_once(tmp_path: Path, flag: str,
                                                                         value: str) -> None:
    args = {"--bits": "2048", "--days": "30", flag: value}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "sealer", "keys", "generate", "--out-dir", str(tmp_path / "k"),
                           *[x for item in args.items() for x in item]], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2, proc.stderr
    line = one_line(proc.stderr)
    assert flag in line and value in line and "internal error" not in line
    assert time.monotonic() - started < 20  # refused before generating a key
    assert not (tmp_path / "k").exists()


@pytest.mark.parametrize("bits", ["2048", "3072"])
def test_keys_generate_accepts_the_usual_sizes(tmp_path: Path, bits: str) -> None:
    r = run_sealer("keys", "generate", "--out-dir", tmp_path / "k", "--bits", bits, "--days", "36500")
    assert r.returncode == 0, r.stderr
    # a pair of exactly that size, valid for the ~100 years asked, the private half readable by its owner only
    assert sorted(p.name for p in (tmp_path / "k").iterdir()) == ["sealer.crt", "sealer.key"]
    assert stat.S_IMODE((tmp_path / "k" / "sealer.key").stat().st_mode) == 0o600
    described = json.loads(ok(run_sealer("cert", "--cert", tmp_path / "k" / "sealer.crt", "-o", "json")))
    assert described["keyAlgorithm"] == f"RSA-{bits}" and described["status"] == "valid"
    assert int(described["notAfter"][:4]) - int(described["notBefore"][:4]) in (99, 100)


def _age_generate_into(target: Path, cwd: Path, user: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    with open(target, "a") as out:  # what the shell does for `>> target` (`>` truncates the same file)
        return subprocess.run([*(user or []), sys.executable, "-m", "sealer", "keys", "age-generate"], stdout=out,
                              stderr=subprocess.PIPE, text=True, cwd=cwd, timeout=60)


def test_age_identity_redirected_into_a_file_is_made_private(tmp_path: Path) -> None:
    target = tmp_path / "age.yaml"
    target.touch(mode=0o644)
    target.chmod(0o644)
    r = _age_generate_into(target, tmp_path)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.path.realpath(target) in r.stderr and "private" in r.stderr
    assert "AGE-SECRET-KEY" not in r.stderr


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv for a 2nd uid")
def test_age_identity_into_a_file_we_do_not_own_warns(tmp_path: Path) -> None:
    target = tmp_path / "age.yaml"
    target.touch()
    target.chmod(0o666)  # root's file, writable by all: the other uid may write to it, not chmod it
    # the shell opens the file; the other uid gets the descriptor (it need not reach the directory)
    r = _age_generate_into(target, Path("/"), ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o666
    assert "warning" in r.stderr and os.path.realpath(target) in r.stderr and "chmod 600" in r.stderr


def test_a_directory_we_cannot_write_into_is_one_line_exit_2(ws: Workspace, age_key: AgeKey, encrypted: str) -> None:
    """A directory we may not write into: one line, the file named, exit 2 (no traceback)."""
    if os.geteuid() == 0:
        pytest.skip("root writes everywhere")
    closed = ws.root / "closed"
    closed.mkdir()
    target = closed / "enc.yaml"
    target.write_text(encrypted)
    closed.chmod(0o555)
    try:
        r = ws.sealer("set", target, '["stringData"]["user"]', '"root"', key=age_key)
    finally:
        closed.chmod(0o755)
    assert r.returncode == 2 and str(target) in one_line(r.stderr)
    assert target.read_text() == encrypted and temps(closed) == []
