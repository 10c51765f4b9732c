"""Bulk writes (`encrypt -i`, `decrypt -i`, `rotate`, `updatekeys` over many files): one `write_all` whose fsyncs
run in threads (sealer.io.files._in_parallel), with every guarantee of a one-file write kept.

Each case runs the CLI as its own process over 70 files in two directories (in several batches where the test
lowers RLIMIT_NOFILE, which bounds how many temp files a write keeps open). A sitecustomize shim loaded into the
sealer process records every fsync and rename (and can make one fsync fail with ENOSPC or sleep), so the tests see
the order of events and how many fsyncs overlapped: every temp file fsync'ed before the first rename, each
directory fsync'ed once after the renames into it, the fsyncs in parallel, and a failure or a signal anywhere in
the middle leaving every file as it was and no temp file.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.sops_helpers import SECRET_REGEX, SOPS, AgeKey, Workspace, load_doc, load_docs, make_age_key, ok

N = 70  # with RLIMIT_NOFILE 128, write_all syncs in batches of 32 temp files: three batches
LEAK = "Zq7-BULK-LEAK-x9"

SHIM = '''\
"""Tests only: log fsyncs and renames of the sealer process to FSYNC_LOG; fail (ENOSPC) the fsync of a file whose
name contains FSYNC_FAIL; sleep FSYNC_SLEEP seconds in each fsync of a file; lower RLIMIT_NOFILE to FSYNC_NOFILE
(the hard limit too with FSYNC_NOFILE_HARD)."""
import _thread, errno, json, os, time  # not threading: a test checks the one-file path never imports it
_log = os.environ.get("FSYNC_LOG")
if os.environ.get("FSYNC_NOFILE"):
    import resource
    _soft = int(os.environ["FSYNC_NOFILE"])
    _hard = _soft if os.environ.get("FSYNC_NOFILE_HARD") else resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (_soft, _hard))
if _log:
    _fsync, _replace, _lock = os.fsync, os.replace, _thread.allocate_lock()
    _fail, _sleep = os.environ.get("FSYNC_FAIL"), float(os.environ.get("FSYNC_SLEEP") or 0)
    _active = [0]

    def _event(**e):
        with _lock:
            with open(_log, "a") as f:
                f.write(json.dumps(e) + "\\n")

    def fsync(fd):
        path = os.readlink(f"/proc/self/fd/{fd}")
        if os.path.isdir(path):
            _event(op="dirsync", path=path)
            return _fsync(fd)
        with _lock:
            _active[0] += 1
            active = _active[0]
        _event(op="fsync-start", path=path)
        try:
            if _fail and _fail in os.path.basename(path):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            time.sleep(_sleep)
            result = _fsync(fd)
        finally:
            with _lock:
                _active[0] -= 1
        _event(op="fsync", path=path, active=active, thread=_thread.get_ident())
        return result

    def replace(src, dst, **kw):
        _replace(src, dst, **kw)
        _event(op="rename", src=os.fspath(src), path=os.fspath(dst))

    os.fsync, os.replace = fsync, replace
'''

SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: s{i}
stringData:
  user: admin{i}
  password: {leak}-{i}
"""


@pytest.fixture(scope="module")
def age_key(tmp_path_factory: pytest.TempPathFactory) -> AgeKey:
    return make_age_key(tmp_path_factory.mktemp("age"), "a")


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    ws = Workspace(tmp_path)
    (tmp_path / "shim").mkdir()
    (tmp_path / "shim" / "sitecustomize.py").write_text(SHIM)
    return ws


def names(n: int = N) -> list[str]:
    """f00.yaml ... in two directories: the top one and sub/."""
    return [f"{'sub/' if i % 2 else ''}f{i:02d}.yaml" for i in range(n)]


def shimmed(ws: Workspace, **extra: str) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(ws.root / "shim"), os.environ.get("PYTHONPATH")])),
            "FSYNC_LOG": str(ws.root / "events.jsonl"), **extra}


def events(ws: Workspace) -> list[dict]:
    log = ws.root / "events.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def temps(ws: Workspace) -> list[str]:
    return [p.name for p in ws.files.rglob(".*.tmp")]


def prepare(ws: Workspace, key: AgeKey, command: str) -> list[str]:
    """N files ready for ``command`` (plaintext for encrypt -i, encrypted for the others), a .sops.yaml, modes."""
    files = names()
    plain = {name: SECRET.format(i=i, leak=LEAK) for i, name in enumerate(files)}
    for name, text in plain.items():
        ws.write(name, text)
    ws.write(".sops.yaml", f"creation_rules:\n  - age: {key.recipient}\n    encrypted_regex: {SECRET_REGEX}\n")
    if command != "encrypt -i":
        ok(ws.sealer("encrypt", "-i", *files))
    for i, name in enumerate(files):
        (ws.files / name).chmod(0o640 if i % 3 else 0o600)
    if command == "updatekeys":  # a second recipient for the rule: every file needs its keys updated
        other = make_age_key(ws.root / "k", "other")
        ws.write(".sops.yaml", f"creation_rules:\n  - age: {key.recipient},{other.recipient}\n"
                               f"    encrypted_regex: {SECRET_REGEX}\n")
    return files


ARGS = {"encrypt -i": ["encrypt", "-i"], "decrypt -i": ["decrypt", "-i"], "rotate": ["rotate"],
        "updatekeys": ["updatekeys", "-y"]}


def snapshot(ws: Workspace, files: list[str]) -> dict[str, tuple[bytes, int]]:
    return {n: ((ws.files / n).read_bytes(), stat.S_IMODE((ws.files / n).stat().st_mode)) for n in files}


@pytest.mark.parametrize("command", ARGS)
def test_a_bulk_write_syncs_every_file_in_parallel_before_renaming_and_each_directory_once(
        ws: Workspace, age_key: AgeKey, command: str) -> None:
    files = prepare(ws, age_key, command)
    before = snapshot(ws, files)
    r = ws.sealer(*ARGS[command], *files, key=age_key, **shimmed(ws, FSYNC_SLEEP="0.02", FSYNC_NOFILE="128",
                                                                     FSYNC_NOFILE_HARD="1"))
    assert r.returncode == 0, r.stderr
    assert LEAK not in r.stdout + r.stderr
    log = events(ws)
    renames = [i for i, e in enumerate(log) if e["op"] == "rename"]
    syncs = [i for i, e in enumerate(log) if e["op"] == "fsync"]
    dirsyncs = [e["path"] for e in log if e["op"] == "dirsync"]
    assert len(renames) == len(syncs) == N
    assert max(syncs) < min(renames), "a file was renamed before every temp file was fsync'ed"
    assert {log[i]["src"] for i in renames} == {log[i]["path"] for i in syncs}  # the temp files, each once
    assert sorted(dirsyncs) == sorted({str(ws.files), str(ws.files / "sub")}), "each directory once"
    assert all(log.index(e) > max(renames) for e in log if e["op"] == "dirsync")
    assert 1 < max(log[i]["active"] for i in syncs) <= 16, "the fsyncs ran one after the other, or unbounded"
    assert len({log[i]["thread"] for i in syncs}) > 1
    after = snapshot(ws, files)
    assert all(after[n][1] == before[n][1] for n in files), "a mode changed"
    assert all(after[n][0] != before[n][0] for n in files)
    assert temps(ws) == []
    if command == "decrypt -i":
        assert all(load_doc(after[n][0].decode())["stringData"]["password"] == f"{LEAK}-{i}"
                   for i, n in enumerate(files))
        return
    assert all(LEAK.encode() not in after[n][0] for n in files)
    docs = [d for d in load_docs(ok(ws.sealer("decrypt", *files, key=age_key))) if d]
    assert [d["stringData"]["password"] for d in docs] == [f"{LEAK}-{i}" for i in range(N)]
    if SOPS is not None:  # the real sops reads what the threaded write left (first, middle, last)
        for i in (0, N // 2 + 1, N - 1):
            assert load_doc(ok(ws.sops("decrypt", files[i], key=age_key)))["stringData"]["user"] == f"admin{i}"


def test_more_files_than_the_soft_open_file_limit(ws: Workspace, age_key: AgeKey) -> None:
    """Each locked file holds a descriptor: sealer raises the soft RLIMIT_NOFILE toward the hard one, as Go
    programs (sops) do, instead of stopping with "Too many open files" at the soft limit."""
    files = [f"m{i:03d}.yaml" for i in range(300)]
    for i, name in enumerate(files):
        ws.write(name, SECRET.format(i=i, leak=LEAK))
    ws.write(".sops.yaml", f"creation_rules:\n  - age: {age_key.recipient}\n    encrypted_regex: {SECRET_REGEX}\n")
    r = ws.sealer("encrypt", "-i", *files, key=age_key, **shimmed(ws, FSYNC_NOFILE="256"))
    assert r.returncode == 0, r.stderr
    assert all(LEAK.encode() not in (ws.files / n).read_bytes() for n in files)
    r = ws.sealer("rotate", *files, key=age_key, **shimmed(ws, FSYNC_NOFILE="256", FSYNC_NOFILE_HARD="1"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and LEAK not in r.stderr  # no way up


def test_a_symlink_in_a_bulk_write_is_written_through(ws: Workspace, age_key: AgeKey) -> None:
    files = prepare(ws, age_key, "encrypt -i")
    real = ws.root / "elsewhere" / "real.yaml"
    real.parent.mkdir()
    (ws.files / files[5]).rename(real)
    (ws.files / files[5]).symlink_to(real)
    ok(ws.sealer("encrypt", "-i", *files, key=age_key))
    assert (ws.files / files[5]).is_symlink() and LEAK.encode() not in real.read_bytes()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert temps(ws) == [] and [p.name for p in real.parent.iterdir()] == ["real.yaml"]


@pytest.mark.parametrize("failing", [0, 37, N - 1])
@pytest.mark.parametrize("command", ["encrypt -i", "decrypt -i", "rotate"])
def test_a_failed_fsync_anywhere_in_a_bulk_write_leaves_every_file_as_it_was(
        ws: Workspace, age_key: AgeKey, command: str, failing: int) -> None:
    """The first file's fsync fails while the others are being written, a middle one while threads are busy, the
    last one when only the final wait can see it: all three are the same one-line error and no file changes."""
    files = prepare(ws, age_key, command)
    before = snapshot(ws, files)
    bad = files[failing]
    r = ws.sealer(*ARGS[command], *files, key=age_key,
                  **shimmed(ws, FSYNC_FAIL=f".{os.path.basename(bad)}.", FSYNC_SLEEP="0.005"))
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and bad in lines[0] and "No space left on device" in lines[0], r.stderr
    assert LEAK not in r.stdout + r.stderr
    assert not [e for e in events(ws) if e["op"] == "rename"]
    assert snapshot(ws, files) == before
    assert temps(ws) == []


def _hold_until(hold: Path, proc: subprocess.Popen[str], count: int) -> None:
    """Let the write go on file by file (SEALER_TEST_HOLD_WRITE pauses it at each temp file) until the
    ``count``-th temp file is held: by then the earlier ones are with the fsync threads."""
    seen = None
    for _ in range(count):
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"the write did not pause (exit {proc.returncode}): {proc.communicate()}"
            text = hold.read_text() if hold.exists() else ""
            if text.endswith(".tmp") and text != seen:
                break
            assert time.monotonic() < deadline, "timed out waiting for the write to pause"
            time.sleep(0.005)
        seen = text
        if _ < count - 1:
            hold.unlink()


@pytest.mark.parametrize("when", ["writing", "syncing"])
@pytest.mark.parametrize(("signame", "code"), [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)])
def test_a_signal_in_the_middle_of_a_bulk_write_removes_every_temp_file(ws: Workspace, age_key: AgeKey,
                                                                       signame: str, code: int, when: str) -> None:
    """While the temp files are written (the 40th held), or while threads fsync them (each fsync 0.5 s: all of them
    would take 2.5 s; the threads stop after their current one)."""
    files = prepare(ws, age_key, "decrypt -i")  # the temp files hold plaintext: none may stay
    before = snapshot(ws, files)
    hold = ws.root / "hold"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALER_")}
    extra = {"SEALER_TEST_HOLD_WRITE": str(hold)} if when == "writing" else {"FSYNC_SLEEP": "0.5"}
    env.update(ws.env(age_key, **shimmed(ws, **extra)))
    proc = subprocess.Popen([sys.executable, "-m", "sealer", "decrypt", "-i", *files], cwd=ws.files, text=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        if when == "writing":
            _hold_until(hold, proc, 40)
        else:
            deadline = time.monotonic() + 30
            while not any(e["op"] == "fsync-start" for e in events(ws)):
                assert proc.poll() is None and time.monotonic() < deadline, "no fsync started"
                time.sleep(0.005)
        assert len(temps(ws)) > 1
        proc.send_signal(getattr(signal, signame))
        sent = time.monotonic()
        out, err = proc.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == code, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0], err
    assert LEAK not in out + err
    assert temps(ws) == []
    assert snapshot(ws, files) == before
    assert not [e for e in events(ws) if e["op"] == "rename"]
    if when == "syncing":
        assert elapsed < 2.0, f"the fsync threads did not stop early ({elapsed:.1f} s)"


def test_one_file_commands_do_not_start_threads(ws: Workspace, age_key: AgeKey) -> None:
    """The one-file path stays as lean as before: no `threading` import, one fsync for the file, one for its
    directory."""
    ws.write("one.yaml", SECRET.format(i=1, leak=LEAK))
    probe = ("import sys, sealer.cli\ncode = sealer.cli._run(sys.argv[1:])\n"
             "assert 'threading' not in sys.modules, 'threading imported'\nsys.exit(code)\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALER_")}
    env.update(ws.env(age_key, **shimmed(ws)))
    for args in (["encrypt", "-i", "--age", age_key.recipient, "one.yaml"], ["decrypt", "-i", "one.yaml"]):
        r = subprocess.run([sys.executable, "-c", probe, *args], cwd=ws.files, env=env, capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stderr
    assert [e["op"] for e in events(ws) if e["op"] != "fsync-start"] == ["fsync", "rename", "dirsync"] * 2
    assert re.fullmatch(r"apiVersion: v1\n(.|\n)*", (ws.files / "one.yaml").read_text())
