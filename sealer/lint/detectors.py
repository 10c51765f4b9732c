"""Credential detectors over text: known token formats, passwords in URLs, and generic `name = value` assignments.

Built the way gitleaks builds its rules: each detector has lowercase keywords, and its regex runs only on text
whose lowercased form contains one of them (a substring test in C), so most files cost one `lower()` and a few
`in` checks. Values are then checked by code (entropy, placeholders, references, ciphertext shapes) rather than
by ever longer regexes. The same functions classify values found structurally (Secret data, ConfigMaps, env).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import functools
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

RAW_ENTROPY = 3.0  # generic assignments found in raw text: bits per character, at least
STRUCTURED_ENTROPY = 2.5  # a sensitive key with a literal value in parsed YAML/JSON: the context is certain
BARE_KEY_ENTROPY = 4.0  # a setting named just `key` must look random (base64-like) to count
MIN_RAW_LENGTH = 6


@dataclass(frozen=True, slots=True)
class Hit:
    detector: str
    start: int  # offset of the secret in the text
    end: int
    secret: str


@dataclass(frozen=True)
class Detector:
    id: str
    regex: re.Pattern[str]
    keywords: tuple[str, ...]  # lowercase; the regex runs only if one occurs in the lowercased text
    group: int = 1  # the group holding the secret
    entropy: float = 0.0
    check: Callable[[str], bool] | None = None  # extra validation of the secret


def entropy(s: str) -> float:
    """Shannon entropy in bits per character."""
    n = len(s)
    if n == 0:
        return 0.0
    counts: dict[str, int] = {}
    for c in s:
        counts[c] = counts.get(c, 0) + 1
    return -sum(k / n * math.log2(k / n) for k in counts.values())


# --- ciphertext and look-alike recognition --------------------------------------------------------------

_B64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_RSA_BLOCKS = (128, 256, 384, 512, 768, 1024)  # 1024- to 8192-bit RSA


def sealed_shape(value: str) -> tuple[int, int] | None:
    """(RSA block bytes, payload bytes) when ``value`` is framed like a sealed value (uint16 length of the
    RSA-OAEP block, the block, AES-GCM ciphertext with its 16-byte tag); else None."""
    if len(value) < 200 or not _B64.match(value):
        return None
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    n = int.from_bytes(raw[:2], "big")
    if n in _RSA_BLOCKS and len(raw) >= 2 + n + 16:
        return n, len(raw) - 2 - n
    return None


def is_ciphertext(value: str) -> bool:
    """SOPS values, Vault Transit ciphertext, age armour and sealed values are never findings."""
    v = value.strip()
    return (v.startswith(("ENC[", "vault:v", "-----BEGIN AGE ENCRYPTED FILE-----"))
            or sealed_shape(v) is not None)


_TEMPLATE_MARK = "_tpl_"  # what yamlnodes puts where a `{{ ... }}` template was
_REFERENCE = re.compile(  # searched in the lowercased value
    r"\$\{|\$\(|\{\{|\}\}|%\(|%s|%d|\{\d*\}|\{[a-z_][a-z0-9_.]*\}|process\.env|os\.environ|getenv|secretkeyref"
    r"|valuefrom|vault:|ref\+|_tpl_")
_REFERENCE_WHOLE = re.compile(  # matched at the start: `$VAR`, `<password>`, `[REDACTED]`, `****`, tags, KeyVault
    r"\$[A-Za-z_]|<[^>]*>$|\[[A-Z_]+\]$|\*+$|env:|!(?:Ref|Sub|GetAtt|ImportValue|vault|env)\b|@Microsoft\.KeyVault\(")
_PLACEHOLDER_WORDS = (
    "changeme", "change-me", "change_me", "changeit", "placeholder", "example", "your-", "your_", "yourpass",
    "xxxx", "****", "....", "redacted", "replace", "fixme", "todo", "dummy", "notasecret", "not-a-secret",
    "not_a_secret", "<", ">", "undefined", "fake", "sample", "test-", "-test", "test_", "_test", "demo",
)
_PLACEHOLDER_EXACT = frozenset({
    "true", "false", "yes", "no", "on", "off", "null", "none", "nil", "empty", "test", "admin", "root", "user",
    "username", "pass", "pwd", "string", "str", "bytes", "int", "bool", "value", "values", "key", "keys",
    "password", "passwd", "secret", "token", "mypassword", "mysecret", "foobar", "required", "optional",
    "default", "unset", "disabled", "secretvalue", "secret-value", "secret_value",
})
_PATHISH = re.compile(r"^(?:/|\./|\.\./|~/|[A-Za-z]:\\)|\.(?:pem|key|crt|cer|p12|pfx|jks|json|ya?ml|txt|env|conf|"
                      r"ini|properties|toml|cfg|gpg|asc|age)$", re.I)
_DIGEST = re.compile(r"^(?:sha(?:1|224|256|384|512)[:-]|md5:)", re.I)
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+(?:\(.*)?$|^[A-Za-z_]\w*\(.*$"
                         r"|^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+$"  # dotted names, calls, CONSTANT_NAMES
                         r"|^[a-z]+(?:[-_.][a-z]+)*$")  # words and slugs: resource names, not passwords


def is_reference(value: str) -> bool:
    """A value filled in later: `${VAR}`, `$(VAR)`, Helm/Go templates, format strings, env lookups."""
    return _REFERENCE_WHOLE.match(value) is not None or _REFERENCE.search(value.lower()) is not None


def is_placeholder(value: str) -> bool:
    low = value.lower().strip()
    if low in _PLACEHOLDER_EXACT or len(set(low)) <= 2:
        return True
    return any(w in low for w in _PLACEHOLDER_WORDS)


def plausible_secret(value: str, threshold: float, *, structured: bool) -> bool:
    """Whether a value under a sensitive name is worth reporting: a literal, not a reference, placeholder,
    path, digest, number, identifier or ciphertext, with at least ``threshold`` bits of entropy per char."""
    v = value.strip()
    if not v or len(v) > 1000:
        return False
    if not structured and len(v) < MIN_RAW_LENGTH:
        return False
    if v.isdigit() and len(v) < 8:
        return False
    if is_ciphertext(v) or is_reference(v) or is_placeholder(v) or _PATHISH.search(v) or _DIGEST.match(v):
        return False
    if not structured and (_IDENTIFIER.match(v) or any(c.isspace() for c in v)):
        return False
    if v.startswith(("http://", "https://")) and "@" not in v:
        return False
    return entropy(v) >= threshold


# --- sensitive names --------------------------------------------------------------------------------------

_SENSITIVE = re.compile(
    r"passw(?:or)?d|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential"
    r"|auth[_-]?key|client[_-]?key|signing[_-]?key|encryption[_-]?key|master[_-]?key|account[_-]?key|^key$")
_NOT_A_VALUE_SUFFIX = re.compile(
    r"(?:^|[_.-])(?:name|names|ref|refs|file|files|path|paths|dir|url|uri|endpoint|type|types|length|len|size"
    r"|count|policy|policies|header|prefix|suffix|field|fields|format|template|mode|kind|class|env|var|regex"
    r"|pattern|hint|label|selector|version|ttl|expiry|expires|expiration|timeout|lifetime|algorithm|alg|usage"
    r"|provider|store|source|location|id|ids|enabled|required|rotation|period|interval|duration|cmd|command|api"
    r"|method|scope|scopes|audience|issuer|hash|digest|bits|encoding|min|max|namespace|annotation|volume|mount"
    r"|generator|backend|engine|role|roles|index|subject|key_ref|secret_ref|policy_ref|api_version|group)$")
_NOT_A_VALUE_PREFIX = re.compile(
    r"^(?:existing|use|enable|disable|require|allow|auto|show|is|has|no|num|max|min|generate|rotate|create"
    r"|mount|skip|with|without|include|exclude|validate|verify|default)[_.-]")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")


@functools.lru_cache(maxsize=4096)
def sensitive_name(name: str) -> bool:
    """A setting whose value is a credential: `password`, `DB_PASSWORD`, `api-key`, `client_secret`, ... but
    not `secretName`, `existingSecret`, `tokenPath`, `password_file`, which hold references to one."""
    bare = name.strip("\"'`")
    if not _SENSITIVE.search(bare.lower()):
        return False
    words = _CAMEL.sub(r"\1_\2", bare).lower()
    return not (_NOT_A_VALUE_SUFFIX.search(words) or _NOT_A_VALUE_PREFIX.search(words))


def name_threshold(name: str, base: float) -> float:
    """A bare `key` must look random; anything more specific uses the base threshold."""
    return max(base, BARE_KEY_ENTROPY) if name.strip("\"'`").lower() == "key" else base


# --- the token formats ------------------------------------------------------------------------------------

_BODY = re.compile(r"(?:\\[nr]|[\s\"',:;|>])+")


def _pem_body_ok(block: str) -> bool:
    """A private key block with a real body, not a header quoted in documentation."""
    lines = block.replace("\\n", "\n").replace("\\r", "\n").splitlines()
    body = "".join(line.strip().strip("\"',") for line in lines[1:-1] if ":" not in line)
    return len(body) >= 64 and re.fullmatch(r"[A-Za-z0-9+/=]+", body) is not None


def _b64_private_key(value: str) -> bool:
    try:
        text = base64.b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return False
    return b"PRIVATE KEY-----" in text


def _jwt(value: str) -> bool:
    head = value.split(".", 1)[0]
    try:
        header = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    except (binascii.Error, ValueError):
        return False
    return b'"alg"' in header


def marked_fake(value: str) -> bool:
    """Documentation and test values say so: AWS's AKIAIOSFODNN7EXAMPLE, `...FAKEFAKE...` fixtures."""
    low = value.lower()
    return "example" in low or "fake" in low


def _random_looking(value: str) -> bool:
    return any(c.isdigit() for c in value) and any(c.isupper() for c in value) and entropy(value) >= 3.5


_NOT_B64 = r"(?![A-Za-z0-9+/=])"

DETECTORS: tuple[Detector, ...] = (
    Detector("private-key", re.compile(
        r"(-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY(?: BLOCK)?-----[\s\S]{40,12000}?-----END \2PRIVATE KEY"
        r"(?: BLOCK)?-----)"), ("private key",), check=_pem_body_ok),
    Detector("base64-private-key", re.compile(r"(LS0tLS1CRUdJTi[A-Za-z0-9+/]{60,}={0,2})"), ("ls0tls1crudjti",),
             check=_b64_private_key),
    Detector("kubeconfig-client-key", re.compile(r"client-key-data[\"']?\s*:\s*[\"']?([A-Za-z0-9+/]{16,}={0,2})"),
             ("client-key-data",)),
    Detector("age-secret-key", re.compile(r"(AGE-SECRET-KEY-(?:PQ-)?1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58,})"),
             ("age-secret-key-",)),
    Detector("aws-access-key-id", re.compile(r"\b((?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})\b"),
             ("akia", "asia", "abia", "acca", "a3t")),
    Detector("aws-secret-access-key", re.compile(
        r"(?i:aws)?[_-]?(?i:secret)[_-]?(?i:access)[_-]?(?i:key)[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+]{40})"
        + _NOT_B64), ("secret_access_key", "secret-access-key", "secretaccesskey"), entropy=3.5),
    Detector("gcp-api-key", re.compile(r"\b(AIza[0-9A-Za-z_-]{35})(?![0-9A-Za-z_-])"), ("aiza",)),
    Detector("azure-storage-key", re.compile(r"AccountKey=([A-Za-z0-9+/]{86}==)"), ("accountkey=",)),
    Detector("github-token", re.compile(r"\b((?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{82})"
                                        r"(?![A-Za-z0-9_])"),
             ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    Detector("gitlab-token", re.compile(r"\b(gl(?:pat|dt|rt|ptt|cbt|oas|ft|imt|soat|agent)-[A-Za-z0-9_-]{20,})"),
             ("glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "gloas-", "glft-", "glimt-", "glsoat-", "glagent-")),
    Detector("slack-token", re.compile(r"\b(xox[baprse]-[0-9A-Za-z-]{10,250})"), ("xoxb-", "xoxa-", "xoxp-",
                                                                                  "xoxr-", "xoxs-", "xoxe-")),
    Detector("slack-webhook", re.compile(r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/"
                                         r"[A-Za-z0-9+/]{20,100}/[A-Za-z0-9+/]{6,60}(?:/[A-Za-z0-9+/]{6,60})?)"),
             ("hooks.slack.com",)),
    Detector("vault-token", re.compile(r"\b(hv[sbr]\.[A-Za-z0-9_-]{24,})"), ("hvs.", "hvb.", "hvr.")),
    Detector("vault-token", re.compile(r"(?<![\w.])(s\.[A-Za-z0-9]{24})(?![\w.])"),
             ("vault", "openbao", "bao_token", "bao token"), check=_random_looking),
    Detector("jwt", re.compile(r"\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,})"), ("eyj",),
             check=_jwt),
)

_KEYWORDS = frozenset(k for d in DETECTORS for k in d.keywords)
_URL = re.compile(r"://([^\s:/?#@\"'<>\[\]{}`]{0,128}):([^\s/@\"'<>`]{1,256})@(?=[\w\[])")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,30}$")
_DOC_HOST = re.compile(r"[\w.-]*?(?:\.|^)(?:example\.(?:com|org|net)|example)(?![\w-])", re.I)

_GENERIC_KEYWORD = re.compile(
    r"passw(?:or)?d|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential"
    r"|auth[_-]?key|client[_-]?key|signing[_-]?key|encryption[_-]?key|master[_-]?key|account[_-]?key|key")
_NAME_CHAR = re.compile(r"[\w.-]*")
_ASSIGN = re.compile(
    r"[\"'`]?[ \t]*(?::=|=>|\?=|=(?!=)|:(?![:/]))[ \t]*"
    r"(?:\"((?:[^\"\\\n]|\\.){1,1000})\"|'([^'\n]{1,1000})'|([^\s\"'`;]{1,1000}))")
_EXPRESSION_AFTER = re.compile(r"[ \t]*(?:[-+%*\[]|\.\w)")  # "prefix-" + x, "%s" % x, "{}".format(x)

CODE_SUFFIXES = frozenset({
    "py", "pyi", "pyx", "js", "mjs", "cjs", "ts", "tsx", "jsx", "go", "java", "kt", "kts", "scala", "rb", "php",
    "c", "h", "cc", "cpp", "hpp", "cs", "rs", "swift", "m", "pl", "pm", "lua", "r", "dart", "groovy", "el",
    "clj", "ex", "exs", "erl", "hs", "ml", "fs", "vb", "ps1", "tcl", "sql",
})


def _url_hits(text: str) -> Iterator[Hit]:
    for m in _URL.finditer(text):
        scheme_start = max(0, m.start() - 32)
        if not _URL_SCHEME.search(text, scheme_start, m.start()):
            continue
        password = m.group(2)
        if len(password) < 4 or is_reference(password) or is_placeholder(password) or password.isdigit():
            continue
        if _DOC_HOST.match(text, m.end()):
            continue  # RFC 2606 documentation hosts: user:password@example.com
        yield Hit("url-password", m.start(2), m.end(2), password)


_SOPS_VALUE = re.compile(r"enc\[aes256_gcm,[^\]\n]*\]")


def _inside(spans: list[tuple[int, int]], at: int) -> bool:
    i = bisect.bisect_right(spans, (at, 1 << 62)) - 1
    return i >= 0 and spans[i][0] <= at < spans[i][1]


def _generic_hits(text: str, low: str, code: bool, threshold: float) -> Iterator[Hit]:
    """`name = value` / `name: value` where the name is sensitive. In source code only quoted values count
    (an unquoted right-hand side is an expression there); in config files, unquoted ones too. Nothing inside a
    SOPS `ENC[...]` value counts: its random base64 spells `key`/`pwd` before `=` padding now and then."""
    spans = [m.span() for m in _SOPS_VALUE.finditer(low)] if "enc[aes256_gcm," in low else []
    last_end = -1
    for m in _GENERIC_KEYWORD.finditer(low):
        if m.start() < last_end or (spans and _inside(spans, m.start())):
            continue
        end = _NAME_CHAR.match(low, m.end()).end()
        last_end = end
        a = _ASSIGN.match(text, end)  # most keyword hits are not assignments: the cheap test first
        if a is None:
            continue
        start = m.start()  # widen to the whole name the keyword is part of
        while start > 0 and (low[start - 1].isalnum() or low[start - 1] in "_.-"):
            start -= 1
        name = text[start:end].strip(".-")
        if not name or not sensitive_name(name):
            continue
        for g in (1, 2, 3):
            value = a.group(g)
            if value is not None:
                break
        if code and (g == 3 or _EXPRESSION_AFTER.match(text, a.end())):
            continue
        if g == 3:
            if value[:1] in "{[":
                continue  # an unquoted `{` or `[` opens a YAML/JSON flow collection: structure, not a value
            value = value.rstrip(",")
        if not plausible_secret(value, name_threshold(name, threshold), structured=False):
            continue
        yield Hit("generic-assignment", a.start(g), a.end(g), value)


def scan(text: str, low: str, *, code: bool = False, threshold: float = RAW_ENTROPY,
         generic: bool = True) -> list[Hit]:
    """Every credential in ``text`` (``low`` is ``text.lower()``, computed once by the caller). Overlapping hits
    are reduced to the first detector's (the list is ordered from most to least specific)."""
    hits: list[Hit] = []
    present = {k for k in _KEYWORDS if k in low}  # each keyword's substring test once
    for d in DETECTORS:
        if present.isdisjoint(d.keywords):
            continue
        for m in d.regex.finditer(text):
            secret = m.group(d.group)
            if d.entropy and entropy(secret) < d.entropy:
                continue
            if (d.check is not None and not d.check(secret)) or marked_fake(secret):
                continue
            hits.append(Hit(d.id, m.start(d.group), m.end(d.group), secret))
    if "://" in text:
        hits.extend(_url_hits(text))
    if generic:
        hits.extend(_generic_hits(text, low, code, threshold))
    return dedupe(hits)


def dedupe(hits: list[Hit]) -> list[Hit]:
    kept: list[Hit] = []
    for h in hits:
        if not any(h.start < k.end and k.start < h.end for k in kept):
            kept.append(h)
    return kept


def scan_value(value: str, *, threshold: float = RAW_ENTROPY) -> list[Hit]:
    """Detectors over one value found structurally (a decoded Secret item, a ConfigMap entry, an env value)."""
    return scan(value, value.lower(), threshold=threshold)


# --- custom rules from .sealer-lint.yaml --------------------------------------------------------------------

@dataclass(frozen=True)
class CustomRule:
    id: str
    regex: re.Pattern[str]
    keywords: tuple[str, ...]
    entropy: float
    group: int
    severity: str
    description: str

    def scan(self, text: str, low: str) -> Iterator[Hit]:
        if self.keywords and not any(k in low for k in self.keywords):
            return
        for m in self.regex.finditer(text):
            secret = m.group(self.group) if self.group <= (self.regex.groups or 0) else m.group(0)
            if secret is None or (self.entropy and entropy(secret) < self.entropy):
                continue
            start = m.start(self.group) if self.group <= (self.regex.groups or 0) else m.start()
            yield Hit(self.id, start, start + len(secret), secret)
