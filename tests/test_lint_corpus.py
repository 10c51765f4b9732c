"""`sealer lint` over the labelled corpus (tests/lint_corpus): every planted finding, nothing else, no value leaked."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli_process import run_sealer
from tests.lint_corpus import build


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[build.Expected]]:
    root = tmp_path_factory.mktemp("corpus")
    return root, build.materialize(root)


def lint_json(root: Path, *args: str) -> tuple[int, list[dict]]:
    r = run_sealer("lint", ".", "--format", "json", *args, cwd=root)
    assert r.returncode in (0, 1), r.stderr
    return r.returncode, json.loads(r.stdout)["findings"]


def test_every_planted_finding_is_reported_and_nothing_else(corpus):
    root, expected = corpus
    code, findings = lint_json(root, "--cert", build.CERT)
    assert code == 1
    got = {(f["file"], f["line"], f["rule"]) for f in findings}
    want = {e.key for e in expected}
    assert sorted(want - got) == [], "planted findings missed"
    assert sorted(got - want) == [], "findings on ciphertext or look-alikes"
    assert len(want) >= 50


def test_ciphertext_and_lookalike_files_give_no_finding(corpus):
    root, _ = corpus
    _, findings = lint_json(root, "--cert", build.CERT)
    flagged = {f["file"] for f in findings}
    clean = ["k8s/sealedsecret.yaml", "sops/db.enc.yaml", "sops/config.enc.json", "helm/shop/templates/secret.yaml",
             "lookalikes/references.yaml", "lookalikes/public-material.yaml", "lookalikes/docs.md",
             "lookalikes/code.py", "lookalikes/package-lock.json"]
    for name in clean:
        assert (root / name).exists()
        assert name not in flagged


def test_without_cert_only_broken_sealed_values_are_reported(corpus):
    root, _ = corpus
    _, findings = lint_json(root)
    sealed = {(f["file"], f["line"]) for f in findings if f["rule"] == "sealed-unknown-key"}
    assert sealed == {("k8s/sealed-broken.yaml", 11), ("k8s/sealed-broken.yaml", 12)}


def _planted_values(root: Path, expected: list[build.Expected]) -> set[str]:
    """The value part of every leak line: what must never appear in a report."""
    values = set()
    for e in expected:
        if not e.leak:
            continue
        lines = (root / e.file).read_text().splitlines()
        line = lines[e.line - 1]
        if "-----BEGIN" in line:  # a key block: its first body line must not appear either
            line = lines[e.line] if e.line < len(lines) else ""
            values.add(line.strip()[:40])
            continue
        m = re.search(r"(?:[:=]\s*|\s)[\"']?([^\"'\s]{8,}?)[\"']?\s*$", line)
        if m:
            values.add(m.group(1))
    return values


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_reports_carry_no_planted_value(corpus, fmt, tmp_path):
    root, expected = corpus
    values = _planted_values(root, expected)
    assert len(values) >= 35
    out = tmp_path / f"report.{fmt}"
    r = run_sealer("lint", ".", "--format", fmt, "-o", out, "--cert", build.CERT, cwd=root)
    assert r.returncode == 1, r.stderr
    report = out.read_text() + r.stdout + r.stderr
    assert report.count("\n") > 10
    leaked = [v for v in values if v in report or v[4:-4] in report]
    assert leaked == []
