"""Start-up cost of the CLI: wall time, peak RSS, which modules load, and where import time goes."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.common import log, median, run_checked

FORBIDDEN = ("kopf", "kubernetes", "hvac")  # cluster/Vault clients: the controller's business, never the CLI's
HEAVY = ("cryptography", "yaml", "ruamel")  # fine for commands that need them, a smell on --help
GNU_TIME = "/usr/bin/time"


def bytecode_env(cache_dir: Path, *, cached: bool = True) -> dict[str, str]:
    """Environment for timing CLI processes.

    ``cached``: bytecode is written to and read from ``cache_dir`` (PYTHONPYCACHEPREFIX), as a normal install
    has .pyc files for every module; the bench writes nothing into the source tree. Otherwise
    PYTHONDONTWRITEBYTECODE=1 and the default cache locations: modules without a __pycache__ (an editable
    checkout's sources, when the environment forbids writing bytecode) are compiled on every start.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    if cached:
        env["PYTHONPYCACHEPREFIX"] = str(cache_dir)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env

def has_bytecode(module: str) -> bool:
    """Whether ``module``'s source has a cached .pyc in its __pycache__ (without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.cached:
        return False
    return Path(spec.cached).exists()


# Runs the CLI in this interpreter, then (at exit, after main() calls sys.exit) writes sys.modules to a file.
_MODULES_WRAPPER = """
import atexit, os, sys
def _dump():
    with open(os.environ["BENCH_MODULES_OUT"], "w") as f:
        f.write("\\n".join(sorted(sys.modules)))
atexit.register(_dump)
sys.argv = ["sealer", *sys.argv[1:]]
from sealer.cli import main
main()
"""

_RUSAGE_WRAPPER = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def wall_times(cmds: dict[str, Sequence[str]], runs: int, envs: dict[str, dict[str, str]]) -> dict[str, list[float]]:
    """Wall seconds of each command (run with ``envs[name]``), ``runs`` times, interleaved so drift hits all
    alike, after one warm-up run each (page cache, bytecode cache)."""
    for name, cmd in cmds.items():
        run_checked(cmd, env=envs[name])
    times: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        for name, cmd in cmds.items():
            times[name].append(run_checked(cmd, env=envs[name]).wall)
    return dict(times)


# --- peak RSS -----------------------------------------------------------------------------------------

def ensure_gnu_time() -> bool:
    """True when /usr/bin/time is usable, installing the `time` package with apt-get if it is missing."""
    if os.access(GNU_TIME, os.X_OK):
        return True
    apt = shutil.which("apt-get")
    if apt:
        log("/usr/bin/time missing: installing it with apt-get (package `time`)")
        sudo = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
        if sudo is not None:
            quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": False}
            if subprocess.run([*sudo, apt, "install", "-y", "time"], **quiet).returncode != 0:
                subprocess.run([*sudo, apt, "update"], **quiet)
                subprocess.run([*sudo, apt, "install", "-y", "time"], **quiet)
    return os.access(GNU_TIME, os.X_OK)


def _rss_gnu_time(cmd: Sequence[str], env: dict[str, str]) -> int:
    proc = subprocess.run([GNU_TIME, "-v", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          text=True, env=env, check=False)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if proc.returncode != 0 or not m:
        raise RuntimeError(f"/usr/bin/time -v {' '.join(cmd)} failed (exit {proc.returncode})")
    return int(m.group(1))


def _rss_getrusage(cmd: Sequence[str], env: dict[str, str]) -> int:
    out = subprocess.run([sys.executable, "-c", _RUSAGE_WRAPPER, *cmd], capture_output=True, text=True,
                         env=env, check=True).stdout
    return int(out.strip().splitlines()[-1])


def peak_rss_kib(cmds: dict[str, Sequence[str]], runs: int, env: dict[str, str]) -> tuple[dict[str, float], str]:
    """Median peak RSS (KiB) of each whole process, and how it was measured."""
    if ensure_gnu_time():
        measure, method = _rss_gnu_time, "`/usr/bin/time -v` (Maximum resident set size)"
    else:
        measure, method = _rss_getrusage, "getrusage(RUSAGE_CHILDREN).ru_maxrss (/usr/bin/time unavailable)"
    return {name: median([measure(cmd, env) for _ in range(runs)]) for name, cmd in cmds.items()}, method


# --- which modules load -------------------------------------------------------------------------------

def loaded_modules(args: Sequence[str], env: dict[str, str], cwd: Path | None = None) -> set[str]:
    """Every module in sys.modules after running `sealer ARGS` to completion in a fresh interpreter."""
    with tempfile.NamedTemporaryFile("r", suffix=".txt") as out:
        run_checked([sys.executable, "-c", _MODULES_WRAPPER, *args], env=dict(env, BENCH_MODULES_OUT=out.name),
                    cwd=cwd)
        return set(Path(out.name).read_text().split())


def top_level_hits(modules: set[str], names: Sequence[str]) -> list[str]:
    """Which of ``names`` (top-level packages) appear among ``modules``."""
    tops = {m.split(".", 1)[0] for m in modules}
    return [n for n in names if n in tops]


# --- import time --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ImportCost:
    module: str
    self_us: float
    cumulative_us: float


_IMPORTTIME = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")


def parse_importtime(stderr: str) -> dict[str, tuple[int, int]]:
    """module -> (self us, cumulative us) from `python -X importtime` output."""
    out: dict[str, tuple[int, int]] = {}
    for line in stderr.splitlines():
        m = _IMPORTTIME.match(line)
        if m:
            out[m.group(4)] = (int(m.group(1)), int(m.group(2)))
    return out


def import_costs(script: str, args: Sequence[str], runs: int, env: dict[str, str]) -> list[ImportCost]:
    """Median self and cumulative import time per module for `python -X importtime SCRIPT ARGS`, slowest
    cumulative first."""
    samples: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-X", "importtime", script, *args], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, env=env, check=True)
        for module, cost in parse_importtime(proc.stderr).items():
            samples[module].append(cost)
    costs = [ImportCost(m, median([s for s, _ in v]), median([c for _, c in v])) for m, v in samples.items()]
    return sorted(costs, key=lambda c: c.cumulative_us, reverse=True)
