"""What one file's scan shares with the rules: options, the text, positions, and the findings collected so far."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from sealer.lint.detectors import RAW_ENTROPY, STRUCTURED_ENTROPY, CustomRule
from sealer.lint.findings import RULES, Finding, fingerprint


@dataclass(frozen=True)
class CertInfo:
    """What sealed-unknown-key needs of a `--cert`: its fingerprint and RSA block size (plain data, picklable)."""

    fingerprint: str
    block_bytes: int
    source: str


@dataclass(frozen=True)
class Options:
    disabled: frozenset[str] = frozenset()
    certs: tuple[CertInfo, ...] = ()
    custom: tuple[CustomRule, ...] = ()
    raw_entropy: float = RAW_ENTROPY
    structured_entropy: float = STRUCTURED_ENTROPY
    max_bytes: int = 10 * 1024 * 1024

    def enabled(self, rule: str) -> bool:
        return rule not in self.disabled

    def severity(self, rule: str) -> str:
        info = RULES.get(rule)
        if info is not None:
            return info.severity
        return next((c.severity for c in self.custom if c.id == rule), "error")


_ALLOW = re.compile(r"sealer:allow(?:[ \t]+([\w-]+(?:[ \t]*,[ \t]*[\w-]+)*))?")


@dataclass
class FileContext:
    path: str  # display path (also the fingerprint's salt)
    location: str | None  # the file on disk, for finding .sops.yaml next to it; None if there is none
    text: str
    options: Options
    findings: list[Finding] = field(default_factory=list)
    cipher_lines: set[int] = field(default_factory=set)  # lines holding ciphertext: text hits there are dropped
    reference_lines: set[int] = field(default_factory=set)  # key names in reference fields: no generic text hits
    _starts: list[int] | None = None

    def position(self, offset: int) -> tuple[int, int]:
        """(line, column), both 1-based, of a character offset."""
        if self._starts is None:
            starts = [0]
            find = self.text.find
            i = find("\n")
            while i != -1:
                starts.append(i + 1)
                i = find("\n", i + 1)
            self._starts = starts
        index = bisect.bisect_right(self._starts, offset) - 1
        return index + 1, offset - self._starts[index] + 1

    def line_text(self, line: int) -> str:
        if self._starts is None:
            self.position(0)
        assert self._starts is not None
        if not 1 <= line <= len(self._starts):
            return ""
        start = self._starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end == -1 else self.text[start:end]

    def allowed(self, rule: str, line: int) -> bool:
        """`sealer:allow` (every rule) or `sealer:allow rule-a, rule-b` in a comment on the line."""
        text = self.line_text(line)
        if "sealer:allow" not in text:
            return False
        return any(m.group(1) is None or rule in re.split(r"[ \t]*,[ \t]*", m.group(1))
                   for m in _ALLOW.finditer(text))

    def add(self, rule: str, line: int, column: int, message: str, material: bytes | str,
            detector: str = "") -> None:
        if not self.options.enabled(rule) or self.allowed(rule, line):
            return
        self.findings.append(Finding(rule, self.options.severity(rule), self.path, line, column, message,
                                     fingerprint(rule, self.path, material), detector))
