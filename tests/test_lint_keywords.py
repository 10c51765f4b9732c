"""The keyword gate finds exactly the keywords a substring test finds (plain ones anywhere, token ones inside a
run of 16+ token characters), on texts built to stress it (keywords cut, overlapping, at run edges, reversed)
and on this repository's own files; a detector it wrongly skipped would be a silent miss."""

from __future__ import annotations

import random
import secrets
from pathlib import Path

import pytest

from sealer.lint import detectors
from sealer.lint.keywords import KeywordGate

PLAIN, TOKEN = detectors._KEYWORDS, detectors._TOKEN_KEYWORDS


def expected(low: str) -> tuple[set[str], set[str]]:
    runs = detectors.token_runs(low)
    return {k for k in PLAIN if k in low}, {k for k in TOKEN if k in runs}


def stress_text(rng: random.Random) -> str:
    words = sorted(PLAIN | TOKEN)
    parts = []
    for _ in range(rng.randint(1, 40)):
        w = rng.choice(words)
        choice = rng.random()
        if choice < 0.3:
            w = w[: rng.randint(1, len(w))]  # a cut keyword
        elif choice < 0.4:
            w = w[::-1]
        parts.append(w)
        parts.append(rng.choice(["", " ", "x" * rng.randint(1, 20), "\n", "=", "-", "_", ".", "/", "\"", "a1b2c3"]))
    return "".join(parts).lower()


def test_gate_is_exact_on_stressed_texts():
    gate = KeywordGate(PLAIN, TOKEN)
    rng = random.Random(secrets.randbits(64))
    for _ in range(3000):
        low = stress_text(rng)
        assert gate.find(low) == expected(low), low


@pytest.mark.parametrize("root", ["sealer", "tests/lint_corpus", "README.md", "bench"])
def test_gate_is_exact_on_real_files(root):
    gate = detectors.keyword_gate()
    base = Path(__file__).resolve().parent.parent / root
    files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
    for path in files:
        low = path.read_text(encoding="utf-8", errors="replace").lower()
        assert gate.find(low) == expected(low), path
