"""The wheel installs alone, from the lock, in a new virtual environment; its metadata declares what it imports;
neither the wheel nor the controller image carries the test kit.

A user runs `pip install sealer` (or the controller image installs the wheel) without this repository's venv. These
tests build the product wheel and the test kit's wheel (testkit/: the Kubernetes API emulator and the `sealer demo`
flow) from the tracked files, install the product into an empty venv with exactly the pins of requirements/base.txt,
then requirements/demo.txt and the test kit (hashes checked; pip's cache serves them after `./dev setup`), and run
the entry points there. `./dev test --latest` runs the same tests against the newest allowed versions.
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
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tracked (and new, not ignored) files: what a clean clone builds from."""
    src = tmp_path_factory.mktemp("src")
    listed = _ok("git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    for rel in filter(None, listed.split("\0")):
        if (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    return src


def _build(project: Path, out: Path, name: str) -> Path:
    # setuptools comes from the lock (requirements/build.in): no build isolation, nothing fetched.
    _ok(sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "-q", "--no-deps",
        "--no-build-isolation", "-w", out, project)
    (built,) = out.glob(f"{name}-*.whl")
    return built


@pytest.fixture(scope="module")
def wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The product wheel (the root's pyproject.toml)."""
    return _build(source, tmp_path_factory.mktemp("dist"), "sealer")


@pytest.fixture(scope="module")
def testkit_wheel(source: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test kit's wheel (testkit/pyproject.toml)."""
    return _build(source / "testkit", tmp_path_factory.mktemp("dist-testkit"), "sealer_testkit")


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


# --- no test kit in the product: the emulator imports kmock and patches its internals at import time ----------------

def _emulator_parts(files: dict[str, str]) -> list[str]:
    """What of the test kit a set of files (path -> Python source) holds: its package, the emulator, the demo flow,
    anything importing kmock. The `sealer demo` command may import the test kit, but only inside a function (the
    command says how to install it when it is missing)."""
    found = []
    for path, text in sorted(files.items()):
        parts = path.split("/")
        if "sealer_testkit" in parts or "testkit" in parts or Path(path).stem == "apiserver" or "demo" in parts[:-1]:
            found.append(f"{path}: the test kit's files")
        if Path(path).stem == "demo" and parts[:2] != ["sealer", "cli"]:
            found.append(f"{path}: a demo module outside the CLI's command modules")
        if not path.endswith(".py"):
            continue
        tree = ast.parse(text, path)
        functions = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
        lazy = {id(n) for f in ast.walk(tree) if isinstance(f, functions) for n in ast.walk(f)}
        for node in ast.walk(tree):
            for module in _imported(node):
                if module == "kmock":
                    found.append(f"{path}: imports kmock")
                if module == "sealer_testkit" and id(node) not in lazy:
                    found.append(f"{path}: imports sealer_testkit at import time")
    return found


def test_wheel_holds_the_product_only(wheel: Path) -> None:
    archive = zipfile.ZipFile(wheel)
    names = archive.namelist()
    tops = {n.split("/")[0] for n in names}
    assert {"sealer", "controller"} <= tops
    assert not tops & {"tests", "bench", "deploy", "keys", "requirements", "testkit", "sealer_testkit"}, tops
    assert f"sealer-{sealer.__version__}.dist-info" in tops
    files = {n: archive.read(n).decode() for n in names if n.endswith(".py")}
    assert not _emulator_parts(files), _emulator_parts(files)


def test_testkit_wheel_holds_the_test_kit(testkit_wheel: Path) -> None:
    names = zipfile.ZipFile(testkit_wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"sealer_testkit", f"sealer_testkit-{sealer.__version__}.dist-info"}
    assert {"sealer_testkit/apiserver.py", "sealer_testkit/demo.py"} <= set(names)


def test_testkit_is_released_with_the_product() -> None:
    """The test kit runs this very sealer (its CLI, its controller): same version, and it asks for exactly that one."""
    project = tomllib.loads((ROOT / "testkit" / "pyproject.toml").read_text())["project"]
    assert project["version"] == sealer.__version__
    assert project["dependencies"] == [f"sealer[demo]=={sealer.__version__}"]


def _dockerfile_copies() -> list[str]:
    """The build-context paths the Dockerfile COPYs (not those from another stage)."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    sources = []
    for line in text.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word.upper() == "COPY" and "--from" not in rest:
            sources += [s for s in rest.split()[:-1] if not s.startswith("--")]
    return sources


def test_controller_image_holds_no_test_kit() -> None:
    """What the Dockerfile copies (and so what the image's wheel is built from) carries no emulator."""
    sources = _dockerfile_copies()
    assert {"sealer", "controller"} <= set(sources), sources
    files = {}
    for src in sources:
        for path in [ROOT / src] if (ROOT / src).is_file() else sorted((ROOT / src).rglob("*")):
            rel = path.relative_to(ROOT).as_posix()
            if path.is_file() and "__pycache__" not in rel:
                files[rel] = path.read_text() if path.suffix == ".py" else ""
    assert not _emulator_parts(files), _emulator_parts(files)


def test_wheel_installs_alone_from_the_lock(wheel: Path, testkit_wheel: Path, venv: Path, tmp_path: Path) -> None:
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

    # The product alone has no demo: the command says what to install, in one line, without a traceback.
    without = _run(venv / "bin" / "sealer", "demo", env=env)
    assert without.returncode == 2 and "test kit" in without.stderr, without.stderr
    assert "Traceback" not in without.stderr, without.stderr

    # The demo extra's pins and the test kit, then the demo itself: emulator, controller process, seal, SOPS, lint
    # (Vault is skipped: OpenBao is a test dependency, not part of the demo extra).
    _ok(python, *PIP, "--require-hashes", "-r", ROOT / "requirements" / "demo.txt", env=env)
    _ok(python, *PIP, "--no-deps", testkit_wheel, env=env)
    _ok(python, "-m", "pip", "check", env=env)
    demo = _run(venv / "bin" / "sealer", "demo", env=env)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]


# --- what the code imports is what the metadata declares -----------------------------------------------------

def _imported(node: ast.AST) -> list[str]:
    """The top-level module names an (absolute) import statement imports; [] for any other node."""
    if isinstance(node, ast.Import):
        return [a.name.split(".")[0] for a in node.names]
    if isinstance(node, ast.ImportFrom) and not node.level and node.module:
        return [node.module.split(".")[0]]
    return []


def _imports(package: Path) -> dict[str, set[str]]:
    """Top-level module name -> files importing it (anywhere in the file: lazy imports count)."""
    found: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for name in _imported(node):
                found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _declared() -> dict[str, set[str]]:
    """Extra ('' for the base) -> distribution names pyproject.toml asks for."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    groups = {"": project["dependencies"], **project["optional-dependencies"]}
    return {extra: {_canon(re.split(r"[\s\[<>=!~;]", req, maxsplit=1)[0]) for req in reqs}
            for extra, reqs in groups.items()}


NEWER_STDLIB = {"_sha2"}  # standard modules of newer CPythons that a fallback import names (sealer/sops/tree.py)


def test_every_third_party_import_is_declared() -> None:
    """An import the metadata does not declare works here (something else brought it) and fails for a user."""
    declared = _declared()
    dists = importlib.metadata.packages_distributions()
    # The product imports its base dependencies only; the test kit (sealer-testkit depends on sealer[demo]) may
    # import the demo extra too.
    allowed = {"sealer": declared[""], "controller": declared[""],
               "testkit/sealer_testkit": declared[""] | declared["demo"]}
    first_party = ("sealer", "controller", "sealer_testkit", "__future__")
    problems = []
    for package, ours in allowed.items():
        for module, files in sorted(_imports(ROOT / package).items()):
            if module in sys.stdlib_module_names or module in NEWER_STDLIB or module in first_party:
                continue
            owners = {_canon(d) for d in dists.get(module, [module])}
            if not owners & ours:
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
