"""What lint reports: the rule catalogue and the Finding record, with its redaction-safe fingerprint.

A finding names where a secret is and which rule saw it, never the secret. Its fingerprint is a salted, slowed
hash of the value (PBKDF2-HMAC-SHA256, salt = rule and path), so a baseline can recognise the same secret on
another line and a *new* secret on an old line is still reported, while a report does not hand out a fast hash
of a short password to guess against. It does not hash the commit: a `--history` finding has the fingerprint
the same secret has in the work tree, so one baseline entry covers every commit that carries it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

ERROR = "error"
WARNING = "warning"

FINGERPRINT_ITERATIONS = 1000  # ~0.3 ms per finding; a guess costs an attacker the same


@dataclass(frozen=True)
class RuleInfo:
    id: str
    severity: str
    title: str  # one line: what it finds
    help: str  # how to fix it (shown in SARIF / GitHub code scanning)


RULES: dict[str, RuleInfo] = {r.id: r for r in (
    RuleInfo("plaintext-secret", ERROR, "Kubernetes Secret with plaintext data or stringData",
             "Never commit a Secret as it is: seal it (`sealer seal secret.yaml --cert CERT`) or encrypt it with "
             "SOPS (`sealer encrypt secret.yaml --age age1...`), commit the result, and rotate the exposed value."),
    RuleInfo("credential", ERROR, "Credential in plain text (token, key, password)",
             "Remove the credential from the file and from Git history, rotate it, and reference it from a "
             "SealedSecret, a SOPS-encrypted Secret or a VaultSecret instead."),
    RuleInfo("sops-plaintext-value", ERROR, "SOPS file with a value its rule says must be encrypted, or without "
             "a MAC / metadata",
             "Re-encrypt the file with `sealer encrypt -i FILE` (or `sops encrypt -i`); a value edited in by hand "
             "is plaintext in Git and breaks the MAC. Rotate any value that was committed in clear."),
    RuleInfo("sops-recipients", WARNING, "SOPS file encrypted for other recipients than its .sops.yaml rule names",
             "Run `sealer updatekeys -y FILE` (or `sops updatekeys`) so the file is readable by exactly the keys "
             "the matching creation rule lists."),
    RuleInfo("sopssecret-scope", ERROR, "SopsSecret without an encrypted spec.binding (the controller refuses it)",
             "Bind it to its namespace and name with `sealer rescope -i FILE` (it needs an identity for the file); "
             "a binding written in plaintext binds nothing: re-encrypt with `sealer encrypt --kind sopssecret`."),
    RuleInfo("sealed-unknown-key", ERROR, "SealedSecret not sealed for any of the given cluster certificates",
             "Re-seal the Secret with the target cluster's certificate (`sealer seal --cert CERT`, or `sealer "
             "reencrypt` with the old key); the controller of that cluster cannot open it as it is."),
    RuleInfo("sealed-scope", WARNING, "SealedSecret scope annotations inconsistent with its name/namespace",
             "Scope is read only from the SealedSecret's own annotations, with the exact string \"true\"; fix the "
             "annotations (or re-seal with `--scope`) so what the file says matches what the controller does."),
    RuleInfo("scan-limit", ERROR, "File lint could not scan fully: larger than max_file_size, or YAML whose "
             "aliases expand too much (alias bomb)",
             "A file the gate did not read must not pass it (padding a file would otherwise hide a secret in it). "
             "If the file is meant to be that large, raise `max_file_size` in .sealer-lint.yaml or `exclude` it "
             "there; replace deeply nested YAML aliases with plain copies. The finding's fingerprint hashes the "
             "file's content, so a baselined file is reported again once it changes."),
)}


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    severity: str
    path: str  # as displayed: relative to the working directory, '/' separators
    line: int  # 1-based
    column: int  # 1-based
    message: str  # names and positions only, never the value
    fingerprint: str
    detector: str = ""  # which detector of the rule (credential: github-token, url-password, ...)
    commit: str = ""  # --history: the commit that added the line (full sha), and its author date (ISO 8601)
    date: str = ""

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.column, self.rule)

    def to_dict(self) -> dict[str, object]:
        entry: dict[str, object] = {"rule": self.rule, "severity": self.severity, "file": self.path,
                                    "line": self.line, "column": self.column, "detector": self.detector,
                                    "message": self.message, "fingerprint": self.fingerprint}
        if self.commit:
            entry.update(commit=self.commit, commit_short=self.short_commit, date=self.date)
        return entry

    @property
    def short_commit(self) -> str:
        return self.commit[:12]


def fingerprint(rule: str, path: str, material: bytes | str) -> str:
    """Stable over runs and machines, different for a different value, file or rule; 32 hex digits."""
    if isinstance(material, str):
        material = material.encode("utf-8", "surrogateescape")
    salt = f"sealer-lint\0{rule}\0{path}".encode("utf-8", "surrogateescape")
    return hashlib.pbkdf2_hmac("sha256", material, salt, FINGERPRINT_ITERATIONS)[:16].hex()
