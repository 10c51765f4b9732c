"""Reports: text for people, JSON for scripts and baselines, SARIF 2.1.0 for GitHub code scanning.

Every format carries rule, file, line, column, message and fingerprint; none carries the value or the line's
text (SARIF results have no `snippet`), so a report can be uploaded or attached to a CI run as it is.

File names and the names in messages come from the repository being scanned: every format escapes their control
characters and workflow-command markers (sealer.safetext), so neither a terminal, nor a CI log, nor a script that
prints a JSON field (`jq -r`) acts on them. A text line starts with the file name, escaped with the rest of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from sealer import __version__
from sealer.lint.baseline import SARIF_FINGERPRINT
from sealer.lint.detectors import CustomRule
from sealer.lint.findings import RULES, WARNING, Finding, RuleInfo
from sealer.safetext import printable

FORMATS = ("text", "json", "sarif")
INFORMATION_URI = "https://github.com/sealer-dev/sealer#sealer-lint"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SECURITY_SEVERITY = {"plaintext-secret": "9.0", "credential": "9.0", "sops-plaintext-value": "8.0",
                      "sealed-unknown-key": "5.0", "sops-recipients": "4.0", "sealed-scope": "3.0",
                      "sopssecret-scope": "6.0", "scan-limit": "7.0"}


@dataclass
class Summary:
    files: int = 0
    bytes: int = 0
    binary: int = 0
    large: int = 0
    baselined: int = 0
    commits: int | None = None  # --history: commits read (files then counts file versions)
    provenance: tuple[str, str] | None = None  # --history: (repository URI, HEAD commit) for SARIF

    def to_dict(self, findings: list[Finding]) -> dict[str, int]:
        out = {"files": self.files, "bytes": self.bytes, "findings": len(findings),
               "errors": sum(f.severity != WARNING for f in findings),
               "warnings": sum(f.severity == WARNING for f in findings), "baselined": self.baselined,
               "skipped_binary": self.binary, "skipped_large": self.large}
        if self.commits is not None:
            out["commits"] = self.commits
        return out


def text(findings: list[Finding], summary: Summary, paint: Callable[[str, str], str] | None = None) -> str:
    """One line per finding. ``paint(text, role)`` colours the severity, rule id and fingerprint (the CLI passes
    sealer.cli.style's on a terminal); the text between the colour codes is the same escaped text."""
    if paint is None:
        return "".join(printable(f"{f.path}:{f.line}:{f.column}: {f.severity} {f.rule}: {f.message}{_commit(f)} "
                                 f"[{f.fingerprint}]") + "\n" for f in findings)
    return "".join(
        f"{printable(f'{f.path}:{f.line}:{f.column}:')} "
        f"{paint(printable(f.severity), 'warning' if f.severity == WARNING else 'error')} "
        f"{paint(printable(f.rule), 'rule')}: {printable(f'{f.message}{_commit(f)}')} "
        f"{paint(printable(f'[{f.fingerprint}]'), 'dim')}\n" for f in findings)


def _commit(f: Finding) -> str:
    return f" (commit {f.short_commit}, {f.date})" if f.commit else ""


def summary_line(findings: list[Finding], summary: Summary) -> str:
    errors = sum(f.severity != WARNING for f in findings)
    counts = f"{len(findings)} finding{'s' * (len(findings) != 1)}"
    if findings:
        counts += f" ({errors} error{'s' * (errors != 1)}, {len(findings) - errors} warning"
        counts += f"{'s' * (len(findings) - errors != 1)})"
    extra = [f"{summary.baselined} in the baseline"] if summary.baselined else []
    if summary.binary:
        extra.append(f"skipped {summary.binary} binary")
    if summary.large:  # not read, and not passed: each is a scan-limit finding unless that rule is disabled
        extra.append(f"{summary.large} over max_file_size not scanned")
    tail = f"; {'; '.join(extra)}" if extra else ""
    if summary.commits is not None:  # history: added lines of file versions; a huge one is a note, not a finding
        return (f"sealer lint: {counts} in {summary.commits} commit{'s' * (summary.commits != 1)} "
                f"({summary.files} file change{'s' * (summary.files != 1)}, {summary.bytes / 1e6:.1f} MB added)"
                f"{tail}")
    return (f"sealer lint: {counts} in {summary.files} file{'s' * (summary.files != 1)} "
            f"({summary.bytes / 1e6:.1f} MB){tail}")


def as_json(findings: list[Finding], summary: Summary) -> str:
    return json.dumps({"tool": "sealer lint", "version": __version__, "findings": [_json_finding(f) for f in findings],
                       "summary": summary.to_dict(findings)}, indent=2) + "\n"


def _json_finding(f: Finding) -> dict[str, object]:
    entry = f.to_dict()
    entry["file"], entry["message"] = printable(f.path), printable(f.message)
    return entry


def _rule_entry(info: RuleInfo) -> dict[str, object]:
    return {
        "id": info.id,
        "name": "".join(part.capitalize() for part in info.id.split("-")),
        "shortDescription": {"text": info.title},
        "fullDescription": {"text": info.title},
        "help": {"text": info.help, "markdown": f"**{info.title}**\n\n{info.help}"},
        "helpUri": INFORMATION_URI,
        "defaultConfiguration": {"level": "warning" if info.severity == WARNING else "error"},
        "properties": {"tags": ["security", "secrets"], "precision": "high",
                       "security-severity": _SECURITY_SEVERITY.get(info.id, "7.0")},
    }


def _artifact(path: str) -> dict[str, str]:
    """Relative paths resolve against the checkout (GitHub maps them to the repository); others are file URIs."""
    if path.startswith("/"):
        return {"uri": "file://" + quote(path, errors="surrogateescape")}
    return {"uri": quote(path, errors="surrogateescape"), "uriBaseId": "%SRCROOT%"}


def _fingerprints(f: Finding) -> dict[str, str]:
    """sealer/v1 (what a baseline matches); with --history also the commit, as gitleaks' SARIF has it."""
    prints = {SARIF_FINGERPRINT: f.fingerprint}
    if f.commit:
        prints["commitSha"] = f.commit
    return prints


def sarif(findings: list[Finding], summary: Summary, custom: tuple[CustomRule, ...] = ()) -> str:
    infos = list(RULES.values()) + [
        RuleInfo(c.id, c.severity, printable(c.description) or f"custom rule {c.id}",
                 f"Matches the custom rule {c.id} in .sealer-lint.yaml: remove the value and rotate it.")
        for c in custom]
    index = {info.id: i for i, info in enumerate(infos)}
    results = []
    for f in findings:
        results.append({
            "ruleId": f.rule,
            "ruleIndex": index.get(f.rule, 0),
            "level": "warning" if f.severity == WARNING else "error",
            "message": {"text": printable(f.message + (f" ({f.detector})" if f.detector and f.detector != f.rule
                                                       else ""))},
            "locations": [{"physicalLocation": {
                "artifactLocation": _artifact(f.path),
                "region": {"startLine": f.line, "startColumn": f.column},
            }}],
            "partialFingerprints": _fingerprints(f),
        })
        if f.commit:  # --history: which commit added the line, when
            results[-1]["properties"] = {"commitSha": f.commit, "commitShort": f.short_commit, "authorDate": f.date}
    run: dict[str, object] = {
        "tool": {"driver": {"name": "sealer", "semanticVersion": __version__, "version": __version__,
                            "informationUri": INFORMATION_URI,
                            "rules": [_rule_entry(info) for info in infos]}},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    if summary.provenance is not None:  # --history: the repository and the HEAD the history was read from
        run["versionControlProvenance"] = [{"repositoryUri": summary.provenance[0],
                                            "revisionId": summary.provenance[1]}]
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2) + "\n"
