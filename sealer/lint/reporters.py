"""Reports: text for people, JSON for scripts and baselines, SARIF 2.1.0 for GitHub code scanning.

Every format carries rule, file, line, column, message and fingerprint; none carries the value or the line's
text (SARIF results have no `snippet`), so a report can be uploaded or attached to a CI run as it is.

File names and the names in messages come from the repository being scanned: every format escapes their control
characters and workflow-command markers (sealer.safetext), so neither a terminal, nor a CI log, nor a script that
prints a JSON field (`jq -r`) acts on them. A text line starts with the file name, escaped with the rest of it.
"""

from __future__ import annotations

import json
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

    def to_dict(self, findings: list[Finding]) -> dict[str, int]:
        return {"files": self.files, "bytes": self.bytes, "findings": len(findings),
                "errors": sum(f.severity != WARNING for f in findings),
                "warnings": sum(f.severity == WARNING for f in findings), "baselined": self.baselined,
                "skipped_binary": self.binary, "skipped_large": self.large}


def text(findings: list[Finding], summary: Summary) -> str:
    return "".join(printable(f"{f.path}:{f.line}:{f.column}: {f.severity} {f.rule}: {f.message} [{f.fingerprint}]")
                   + "\n" for f in findings)


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
            "partialFingerprints": {SARIF_FINGERPRINT: f.fingerprint},
        })
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "sealer", "semanticVersion": __version__, "version": __version__,
                                "informationUri": INFORMATION_URI,
                                "rules": [_rule_entry(info) for info in infos]}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
    return json.dumps(doc, indent=2) + "\n"
