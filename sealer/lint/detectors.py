"""Credential detectors over text: known token formats, passwords in URLs, and generic `name = value` assignments.

Built the way gitleaks builds its rules: each detector has lowercase keywords, and its regex runs only on text
whose lowercased form contains one of them, so most files cost one `lower()` and the keyword gate (~12 regex
passes, each a search for one rare character, find every keyword: see ``KeywordGate``). Token families (one
`_tok` line each: prefix, alphabet, length, optional checksum) count their keywords only inside the file's long
runs of token characters, which keeps ~100 families cheap. Values are then checked by code (entropy, filler,
checksums, placeholders, references, ciphertext shapes) rather than by ever longer regexes. The same functions
classify values found structurally (Secret data, ConfigMaps, env).
"""

from __future__ import annotations

import base64
import binascii
import bisect
import functools
import math
import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sealer.lint.keywords import KeywordGate

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


# the detectors of `name = value` settings, as opposed to token formats: less specific, reported last
GENERIC = ("generic-assignment", "sensitive-key", "container-env", "kubeconfig-credential")


@dataclass(frozen=True)
class Detector:
    id: str
    regex: re.Pattern[str]
    keywords: tuple[str, ...]  # lowercase; the regex runs only if one occurs in the lowercased text
    group: int = 1  # the group holding the secret
    entropy: float = 0.0
    check: Callable[[str], bool] | None = None  # extra validation of the secret
    gate: bool = True  # drop filler samples (repeats, `abcdef`, `xxxx`): every token family but key blocks
    bounded: bool = False  # a token: starts after a non-token character; keywords tested on token runs only


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
_REFERENCE_WHOLE = re.compile(  # matched at the start: `$VAR`, `%VAR%`, `<password>`, `[REDACTED]`, `****`, tags
    r"\$[A-Za-z_]|%[A-Za-z_]\w*%$|<[^>]*>$|\[[A-Z_]+\]$|\*+$|env:|!(?:Ref|Sub|GetAtt|ImportValue|vault|env)\b|@Microsoft\.KeyVault\(")
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


def _random_segment(value: str) -> bool:
    """A dotted value with a 16+ character part in mixed case with digits: a token with dots, not a name."""
    return any(len(p) >= 16 and _random_looking(p) and any(c.islower() for c in p) for p in value.split("."))


def is_reference(value: str) -> bool:
    """A value filled in later: `${VAR}`, `$(VAR)`, Helm/Go templates, format strings, env lookups."""
    return _REFERENCE_WHOLE.match(value) is not None or _REFERENCE.search(value.lower()) is not None


def is_placeholder(value: str) -> bool:
    low = value.lower().strip()
    if low in _PLACEHOLDER_EXACT or len(set(low)) <= 2:
        return True
    return any(w in low for w in _PLACEHOLDER_WORDS)


# An age recipient: `age1` + bech32 data (X25519), or a plugin's `age1NAME1...` (yubikey, tpm, ...). Public by design
# (it is what `--age` and `.sops.yaml` take), and `# public key: age1...` in age-keygen's file reads as `key: value`.
_AGE_RECIPIENT = re.compile(r"age1(?:[a-z0-9]{1,32}1)?[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58,}")


def is_age_recipient(value: str) -> bool:
    """An age public key (never a finding: it only lets others encrypt to its owner)."""
    return _AGE_RECIPIENT.fullmatch(value) is not None


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
    if is_age_recipient(v):
        return False
    if not structured and ((_IDENTIFIER.match(v) and not _random_segment(v)) or any(c.isspace() for c in v)):
        return False
    if (len(v) >= 20 and filler(v)) or mostly_sequential(v):
        return False  # long values are tokens, not typed passwords: `xxxx`/`abcdef...` there is a sample
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
    if len(lines) == 1:  # newlines stripped (an env var, a one-line JSON field): the body between the markers
        lines = ["", re.sub(r"-----(?:BEGIN|END)[A-Z0-9 ]*-----", "", lines[0]), ""]
    body = "".join(line.strip().strip("\"',").replace(" ", "") for line in lines[1:-1] if ":" not in line)
    return len(body) >= 64 and re.fullmatch(r"[A-Za-z0-9+/=]+", body) is not None


def _b64_private_key(value: str) -> bool:
    try:
        text = base64.b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return False
    return b"PRIVATE KEY-----" in text


def _jwt(value: str) -> bool:
    """Three (or two, unsigned) base64url segments whose first two decode to JSON objects."""
    parts = value.split(".")
    for part in parts[:2]:
        try:
            raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except (binascii.Error, ValueError):
            return False
        if not raw.startswith(b"{"):
            return False
    return True


def _b64_jwt(value: str) -> bool:
    """A JWT stored base64-encoded (Kubernetes Secret data, .dockerconfigjson-like blobs)."""
    try:
        text = base64.b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    m = re.match(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}(?:\.[\w-]*)?", text.strip())
    return m is not None and _jwt(m.group(0))


def marked_fake(value: str) -> bool:
    """Documentation and test values say so: AWS's AKIAIOSFODNN7EXAMPLE, `...FAKEFAKE...` fixtures."""
    low = value.lower()
    return "example" in low or "fake" in low


def _random_looking(value: str) -> bool:
    return any(c.isdigit() for c in value) and any(c.isupper() for c in value) and entropy(value) >= 3.5


_SEQUENCES = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_RUN = re.compile(r"([A-Za-z0-9])\1{5,}")  # six identical characters: 1e-4 odds in a random hex token
_FILLER_WORDS = ("xxxxx", "XXXXX", "placeholder", "changeme", "redacted", "your_", "your-", "<", "${", "{{")


def filler(value: str) -> bool:
    """A sample made to look like a token: repeated characters, sequential alphabets (`abcdef`, `123456`),
    `xxxx` filler, template marks. Random tokens contain none of these except by rare chance; unlike the
    generic placeholder words this does not drop `test_`/`_test`, which live test-mode keys carry."""
    if _RUN.search(value) or any(w in value for w in _FILLER_WORDS):
        return True
    for seq in _SEQUENCES:
        for i in range(len(seq) - 5):
            if seq[i:i + 6] in value:
                return True
    return entropy(value) < min(3.0, math.log2(max(len(value), 2)) - 1.5)


def mostly_sequential(value: str) -> bool:
    """At least half of the value is runs of 6+ consecutive alphabet characters (`0123456789012345`,
    `abcdefghijk`): a sample, where a typed password with an `abcdef` in it is still a password."""
    covered = [False] * len(value)
    for seq in _SEQUENCES:
        for i in range(len(value) - 5):
            if value[i:i + 6] in seq:
                covered[i:i + 6] = [True] * 6
    return len(value) >= 8 and 2 * sum(covered) >= len(value)


_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def base62(n: int, width: int) -> str:
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = _B62[r] + out
    return out.rjust(width, "0")


def _github_checksum(value: str) -> bool:
    """ghp_/gho_/ghu_/ghs_/ghr_ tokens end in 6 base62 digits of the CRC32 of the 30 characters before them;
    a sample typed by hand almost never satisfies it. Other lengths (old or fine-grained tokens) pass."""
    body = value[4:]
    if value[:4] not in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_") or len(body) != 36:
        return True
    return github_checksum(body[:30]) == body[30:]


def github_checksum(entropy_part: str) -> str:
    """The 6-character suffix GitHub appends to the 30 random characters of a ghp_/gho_/... token."""
    return base62(binascii.crc32(entropy_part.encode()), 6)


_PUBLIC_EXAMPLES = frozenset({
    # Firebase SDK sample keys published in firebase/firebase-android-sdk (gitleaks allows the same list)
    "AIzaSyabcdefghijklmnopqrstuvwxyz1234567", "AIzaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyIs",
    "AIzaSyCkEhVjf3pduRDt6d1yKOMitrUEke8agEM", "AIzaSyDMAScliyLx7F0NPDEJi1QmyCgHIAODrlU",
    "AIzaSyD3asb-2pEZVqMkmL6M9N6nHZRR_znhrh0", "AIzayDNSXIbFmlXbIE6mCzDLQAqITYefhixbX4A",
    "AIzaSyAdOS2zB6NCsk1pCdZ4-P6GBdi_UUPwX7c", "AIzaSyASWm6HmTMdYWpgMnjRBjxcQ9CKctWmLd4",
    "AIzaSyANUvH9H9BsUccjsu2pCmEkOPjjaXeDQgY", "AIzaSyA5_iVawFQ8ABuTZNUdcwERLJv_a_p4wtM",
    "AIzaSyA4UrcGxgwQFTfaI3no3t7Lt1sjmdnP5sQ", "AIzaSyDSb51JiIcB6OJpwwMicseKRhhrOq1cS7g",
    "AIzaSyBF2RrAIm4a0mO64EShQfqfd2AFnzAvvuU", "AIzaSyBcE-OOIbhjyR83gm4r2MFCu4MJmprNXsw",
    "AIzaSyB8qGxt4ec15vitgn44duC5ucxaOi4FmqE", "AIzaSyA8vmApnrHNFE0bApF4hoZ11srVL_n0nvY",
    # AWS documentation keys are caught by marked_fake (they end in EXAMPLE)
})


def _not_public_example(value: str) -> bool:
    return value not in _PUBLIC_EXAMPLES


def _credential_pair(value: str) -> bool:
    """`user:password` from curl -u: the password part is a literal worth reporting."""
    user, _, password = value.partition(":")
    return bool(user) and len(password) >= 4 and not (is_reference(password) or is_placeholder(password)
                                                      or password.isdigit())


def _header_value(value: str) -> bool:
    return not (is_reference(value) or is_placeholder(value)) and entropy(value) >= 3.0


_NOT_B64 = r"(?![A-Za-z0-9+/=])"
_TOKEN_CHARS = frozenset(string.ascii_letters + string.digits + "_-")
_STOP = r"(?![A-Za-z0-9_-])"
_Q = r"\\?[\"']?"  # an optional quote, escaped when the text is inside a JSON or YAML double-quoted string

# What stands between a setting's name and its value in every common file shape (gitleaks' sample shapes):
# the name's closing quote (escaped inside a JSON/YAML string), a declared type (Go `var x string =`, Kotlin /
# TypeScript `x: String =`), an assignment operator of any language (`=`, `:`, `:=`, Make's `::=` `:::=` `?=`
# `+=`, PHP's `.=` and `??=`, `=>`), a call's `"name", "value"` (`setProperty`, `put`), an XML element's `>`
# (value on the same or the next line), and YAML block scalars (`|` / `>` then the value's line).
_TYPE = r"(?:[ \t]{0,4}:?[ \t]{0,4}(?:string|String|str|&str|char ?\*|\[\]byte)(?![\w.\[])[ \t]{0,4})?"
_OPERATOR = r"(?::{1,3}=|\?{1,2}=|[+.]=|=>|=(?!=)|:(?![:/=]))"
_SEP = (r"(?:\\?[\"'`][ \t]{0,4},[ \t]{0,4}(?=\\?[\"'`])"  # "name", "value"
        r"|(?:\\?[\"'`])?" + _TYPE + r"[ \t]{0,8}(?:" + _OPERATOR + r"[ \t]{0,8}(?:[|>][-+]?[ \t]*\r?\n[ \t]{0,16})?"
        r"|>[ \t]{0,8}(?:\r?\n[ \t]{0,16})?)"
        r"|,(?=[^\s,\"'`]))")  # a CSV row: name,value,


def _tok(ident: str, body: str, keywords: tuple[str, ...], *, entropy: float = 0.0, stop: str = _STOP,
         check: Callable[[str], bool] | None = None, gate: bool = True) -> Detector:
    """One family with its own format: prefix, alphabet and length in ``body``; found wherever it stands.
    Its keywords are parts of the token itself, so they are looked for only in the file's long runs of token
    characters (see ``token_runs``), a small fraction of its text."""
    return Detector(ident, re.compile("(" + _run_start(body) + ")" + stop), keywords, entropy=entropy,
                    check=check, bounded=True, gate=gate)


def _run_start(body: str) -> str:
    """``body`` with the token-start test (see `_token_start`) in the regex itself, placed after the body's literal
    prefix: a run like `eyeyey...` is then tried once, at its start, not at each of its positions (quadratic
    time), and the regex engine still skips ahead to the prefix. Bodies without a literal prefix rely on
    `_token_start` after the match."""
    m = re.match(r"[A-Za-z0-9_]+", body)
    n = m.end() if m else 0
    if n and body[n:n + 1] in ("*", "+", "?", "{"):
        n -= 1  # the last letter is repeated: not part of the fixed prefix
    if not n:
        return body
    prefix = body[:n]
    return prefix + rf"(?:(?<![A-Za-z0-9_-]{prefix})|(?<=\\[nrt]{prefix}))" + body[n:]


def _kv(ident: str, names: str, body: str, keywords: tuple[str, ...], *, entropy: float = 3.0,
        check: Callable[[str], bool] | None = None, gate: bool = True) -> Detector:
    """A family whose token has no distinctive prefix: its value must follow a setting named for the service
    (`datadog_api_key = ...`, `"herokuKey": "..."`), found by keyword first."""
    regex = r"(?i:" + names + r")[\w.-]{0,30}?" + _SEP + r"(?:\\?[\"'`])?(" + body + r")(?![\w.-])"
    return Detector(ident, re.compile(regex), keywords, entropy=entropy, check=check, gate=gate)


_HEX = "[a-f0-9]"
_UUID = "[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}"

# Services whose keys have no prefix of their own: a value of the service's shape after a setting named for the
# service (`twitch_api = "..."`, `<flickrToken>...`, `FRESHBOOKS_SECRET := "..."`) in any file shape. One line a
# service: id, the names (plain words, also the keywords), the value's shapes. Client ids and user ids are
# identifiers, not credentials: not listed (gitleaks reports ten such rules).
_A = "A-Za-z0-9"
_SERVICES: tuple[tuple[str, str, str], ...] = (
    ("adafruit-key", "adafruit", rf"[{_A}_-]{{32}}"),
    ("airtable-key", "airtable", rf"[{_A}]{{17}}|pat[{_A}]{{14}}\.[a-f0-9]{{64}}"),
    ("alibaba-secret-key", "alibaba", rf"[{_A}]{{30}}"),
    ("beamer-token", "beamer", rf"b_[{_A}=_-]{{44}}"),
    ("bitbucket-client-secret", "bitbucket", rf"[{_A}=_-]{{64}}"),
    ("bittrex-key", "bittrex", rf"[{_A}]{{32}}"),
    ("cisco-meraki-key", "meraki", r"[0-9a-f]{40}"),
    ("codecov-token", "codecov", rf"[{_A}]{{32}}"),
    ("coinbase-token", "coinbase", rf"[{_A}_-]{{64}}"),
    ("confluent-key", "confluent", rf"[{_A}]{{64}}|[{_A}]{{16}}"),
    ("discord-client-secret", "discord", rf"[{_A}=_-]{{32}}"),
    ("droneci-token", "droneci|drone", rf"[{_A}]{{32}}"),
    ("etsy-token", "etsy", rf"[{_A}]{{24}}"),
    ("facebook-secret", "facebook", r"[a-f0-9]{32}"),
    ("finicity-key", "finicity", rf"[a-f0-9]{{32}}|[{_A}]{{20}}"),
    ("finnhub-token", "finnhub", rf"[{_A}]{{20}}"),
    ("flickr-token", "flickr", rf"[{_A}]{{32}}"),
    ("freshbooks-token", "freshbooks", rf"[{_A}]{{64}}"),
    ("gitter-token", "gitter", rf"[{_A}_-]{{40}}"),
    ("intercom-key", "intercom", rf"[{_A}=_-]{{60}}"),
    ("jfrog-key", "jfrog|artifactory|bintray|xray", rf"[{_A}]{{73}}|[{_A}]{{64}}"),
    ("kraken-token", "kraken", rf"[{_A}/=_+-]{{80,90}}"),
    ("kucoin-key", "kucoin", r"[a-f0-9]{24}|" + _UUID),
    ("linear-client-secret", "linear", r"[a-f0-9]{32}"),
    ("linkedin-client-secret", "linkedin|linked_in|linked-in", rf"[{_A}]{{16}}"),
    ("looker-client-secret", "looker", rf"[{_A}]{{24}}"),
    ("mailgun-signing-key", "mailgun", r"[a-h0-9]{32}-[a-h0-9]{8}-[a-h0-9]{8}"),
    ("mattermost-token", "mattermost", rf"[{_A}]{{26}}"),
    ("messagebird-token", "messagebird|message-bird|message_bird", rf"[{_A}]{{25}}"),
    ("netlify-token", "netlify", rf"[{_A}=_-]{{40,46}}"),
    ("nytimes-token", "nytimes|new-york-times|newyorktimes", rf"[{_A}=_-]{{32}}"),
    ("plaid-secret", "plaid", rf"[{_A}]{{30}}"),
    ("privateai-token", "privateai|private_ai|private-ai", rf"[{_A}]{{32}}"),
    ("rapidapi-token", "rapidapi", rf"[{_A}_-]{{50}}"),
    ("sendbird-token", "sendbird", r"[a-f0-9]{40}"),
    ("sentry-token", "sentry", r"[a-f0-9]{64}"),
    ("snyk-token", "snyk", _UUID),
    ("sonar-token", "sonar", rf"(?:squ_|sqp_|sqa_)?[{_A}=_-]{{40}}"),
    ("squarespace-token", "squarespace", _UUID),
    ("travisci-token", "travis", rf"[{_A}]{{22}}"),
    ("twitch-token", "twitch", rf"[{_A}]{{30}}"),
    ("twitter-key", "twitter", rf"[{_A}]{{50}}|[{_A}]{{45}}|[{_A}]{{25}}|\d{{15,25}}-[{_A}]{{20,40}}"),
    ("zendesk-secret-key", "zendesk", rf"[{_A}]{{40}}"),
)

# Most specific first: overlapping hits keep the earlier detector's. `gate=False` only for key blocks (their
# bodies are checked structurally); every other family drops filler samples (see ``filler``).
DETECTORS: tuple[Detector, ...] = (
    Detector("private-key", re.compile(
        r"(-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY(?: BLOCK)?-----[\s\S]{40,12000}?-----END \2PRIVATE KEY"
        r"(?: BLOCK)?-----)"), ("private key",), check=_pem_body_ok, gate=False),
    Detector("base64-private-key", re.compile(r"(LS0tLS1CRUdJTi[A-Za-z0-9+/]{60,}={0,2})"), ("ls0tls1crudjti",),
             check=_b64_private_key, gate=False, bounded=True),
    Detector("kubeconfig-client-key", re.compile(r"client-key-data[\"']?\s*:\s*[\"']?([A-Za-z0-9+/]{16,}={0,2})"),
             ("client-key-data",), gate=False),
    _tok("age-secret-key", r"AGE-SECRET-KEY-(?:PQ-)?1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58,}", ("age-secret-key-",)),
    # --- cloud providers
    _tok("aws-access-key-id", r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}",
         ("akia", "asia", "abia", "acca", "a3t"), stop=r"(?![A-Za-z0-9])"),
    Detector("aws-secret-access-key", re.compile(
        r"(?i:aws)?[_-]?(?i:secret)[_-]?(?i:access)[_-]?(?i:key)" + _Q + r"\s*[:=]\s*" + _Q
        + r"([A-Za-z0-9/+]{40})" + _NOT_B64), ("secret_access_key", "secret-access-key", "secretaccesskey"),
        entropy=3.5),
    _tok("aws-bedrock-key", r"ABSKQmVkcm9ja0FQSUtleS[A-Za-z0-9+/]{100,300}={0,2}", ("absk",), stop=_NOT_B64),
    _tok("gcp-api-key", r"AIza[\w-]{35}", ("aiza",), entropy=3.5, check=_not_public_example),
    Detector("azure-storage-key", re.compile(r"AccountKey=([A-Za-z0-9+/]{86}==)"), ("accountkey=",), bounded=True),
    _tok("azure-ad-client-secret", r"[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}", ("q~",), entropy=3.0),
    _tok("alibaba-access-key-id", r"LTAI[A-Za-z0-9]{20}", ("ltai",)),
    _tok("digitalocean-token", r"do[por]_v1_[a-f0-9]{64}", ("dop_v1_", "doo_v1_", "dor_v1_")),
    _tok("cloudflare-origin-ca-key", r"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}", ("v1.0-",)),
    _kv("cloudflare-api-key", "cloudflare", r"[A-Za-z0-9_-]{40}|[a-f0-9]{37}", ("cloudflare",)),
    _tok("heroku-api-key", r"HRKU-AA[0-9A-Za-z_-]{58}", ("hrku-aa",)),
    _kv("heroku-api-key", "heroku", _UUID, ("heroku",)),
    _tok("flyio-token", r"(?:fo1_[\w-]{43}|fm1[ar]_[A-Za-z0-9+/]{100,}={0,3}|fm2_[A-Za-z0-9+/]{100,}={0,3})",
         ("fo1_", "fm1a_", "fm1r_", "fm2_"), stop=_NOT_B64),
    _tok("openshift-token", r"sha256~[\w-]{43}", ("sha256~",)),
    _tok("scalingo-token", r"tk-us-[\w-]{48}", ("tk-us-",)),
    _kv("yandex-key", "yandex", r"AQVN[A-Za-z0-9_-]{35,38}|YC[A-Za-z0-9_-]{38}|t1\.[A-Z0-9a-z_-]+={0,2}"
                                r"\.[A-Z0-9a-z_-]{86}={0,2}", ("yandex",)),  # shapes too plain without the name
    _tok("hashicorp-tf-token", r"[a-z0-9]{14}\.atlasv1\.[a-z0-9_=-]{60,70}", (".atlasv1.",)),
    _tok("vault-token", r"hv[sr]\.[\w-]{90,120}|hvb\.[\w-]{138,300}", ("hvs.", "hvb.", "hvr.")),
    Detector("vault-token", re.compile(r"(?<![\w.])(s\.[A-Za-z0-9]{24})(?![\w.])"),
             ("vault", "openbao", "bao_token", "bao token"), check=_random_looking),
    _tok("doppler-token", r"dp\.(?:pt|st|ct|sa|scim|audit)\.(?:[a-z0-9_-]{1,40}\.)?[A-Za-z0-9]{40,44}",
         ("dp.pt.", "dp.st.", "dp.ct.", "dp.sa.", "dp.scim.", "dp.audit.")),
    _tok("dynatrace-token", r"dt0[a-z]\d{2}\.[A-Z0-9]{24}\.[A-Z0-9]{64}", ("dt0",)),
    # --- source hosting, CI/CD, package registries
    _tok("github-token", r"(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{82}",
         ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), check=_github_checksum),
    _tok("gitlab-token", r"gl(?:pat|dt|rt|ptt|cbt|oas|ft|imt|soat|agent|ffct)-[A-Za-z0-9_.-]{20,}|GR1348941[\w-]{20}",
         ("glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "gloas-", "glft-", "glimt-", "glsoat-", "glagent-",
          "glffct-", "gr1348941")),
    _tok("bitbucket-token", r"ATBB[A-Za-z0-9_=.-]{32,}|ATCTT3xFfGN0[A-Za-z0-9_=.-]{100,}", ("atbb", "atctt3")),
    _tok("atlassian-api-token", r"ATATT3[A-Za-z0-9_=-]{186}", ("atatt3",)),
    _kv("atlassian-api-token", "atlassian|confluence|jira", r"[a-zA-Z0-9]{24}", ("atlassian", "confluence", "jira"),
        entropy=3.5),
    _tok("npm-token", r"npm_[A-Za-z0-9]{36}", ("npm_",)),
    _tok("pypi-token", r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}", ("pypi-ageichlwas5vcmc",)),
    _tok("rubygems-token", r"rubygems_[a-f0-9]{48}", ("rubygems_",)),
    _tok("clojars-token", r"CLOJARS_[a-z0-9]{60}", ("clojars_",)),
    _tok("pulumi-token", r"pul-[a-f0-9]{40}", ("pul-",)),
    _tok("docker-hub-token", r"dckr_(?:pat|oat)_[A-Za-z0-9_-]{27,}", ("dckr_pat_", "dckr_oat_")),
    _tok("artifactory-token", r"AKCp[A-Za-z0-9]{69}|cmVmdGtu[A-Za-z0-9]{56}", ("akcp", "cmvmdgtu")),
    _tok("octopus-deploy-key", r"API-[A-Z0-9]{26}", ("api-",)),
    _tok("harness-token", r"(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}", ("pat.", "sat.")),
    _tok("databricks-token", r"dapi[a-f0-9]{32}(?:-\d)?", ("dapi",)),
    _tok("prefect-token", r"pnu_[A-Za-z0-9]{36}", ("pnu_",)),
    _tok("readme-api-token", r"rdme_[a-z0-9]{70}", ("rdme_",)),
    _tok("infracost-token", r"ico-[A-Za-z0-9]{32}", ("ico-",)),
    _tok("sourcegraph-token", r"sgp_(?:[a-fA-F0-9]{16}_|local_)?[a-fA-F0-9]{40}", ("sgp_",)),
    _kv("sourcegraph-token", "sourcegraph", r"[a-f0-9]{40}", ("sourcegraph",)),
    _tok("nuget-api-key", r"oy2[a-z0-9]{43}", ("oy2",)),
    Detector("nuget-config-password", re.compile(
        r"key=" + _Q + r"(?:ClearTextPassword|Password|ApiKey)" + _Q + r"\s+value=" + _Q
        + r"((?:[^\"'\\<>\s]|\\\\){4,256})" + _Q), ("cleartextpassword", "apikey", "password"),
        check=lambda v: not (is_reference(v) or is_placeholder(v)) and entropy(v) >= 2.5),
    _tok("settlemint-token", r"sm_(?:pat|aat|sat)_[A-Za-z0-9]{16}", ("sm_pat_", "sm_aat_", "sm_sat_")),
    _tok("frameio-token", r"fio-u-[A-Za-z0-9_=-]{64}", ("fio-u-",)),
    _tok("1password-service-token", r"ops_eyJ[A-Za-z0-9+/]{250,}={0,3}", ("ops_eyj",), stop=_NOT_B64),
    _tok("1password-secret-key", r"A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}"
                                 r"-[A-Z0-9]{5}", ("a3-",)),
    _tok("clickhouse-cloud-key", r"4b1d[A-Za-z0-9]{38}", ("4b1d",), entropy=3.0),
    _tok("defined-networking-token", r"dnkey-[A-Za-z0-9=_-]{26}-[A-Za-z0-9=_-]{52}", ("dnkey-",)),
    _tok("gitlab-session-cookie", r"_gitlab_session=[0-9a-z]{32}", ("_gitlab_session=",)),
    _kv("sidekiq-secret", "bundle_(?:enterprise|gems)__contribsys__com", r"[a-f0-9]{8}:[a-f0-9]{8}", ("contribsys",),
        entropy=2.5),
    # --- payment and commerce
    _tok("stripe-key", r"(?:sk|rk)_(?:test|live|prod)_[A-Za-z0-9]{10,99}", ("_test_", "_live_", "_prod_")),
    _tok("shippo-token", r"shippo_(?:live|test)_[a-fA-F0-9]{40}", ("shippo_",)),
    _tok("duffel-token", r"duffel_(?:test|live)_[A-Za-z0-9_=-]{43}", ("duffel_",)),
    _tok("flutterwave-key", r"FLW(?:PUBK|SECK)_TEST-[a-hA-H0-9]{32}-X|FLWSECK_TEST-?[a-hA-H0-9]{12}",
         ("flwpubk_test", "flwseck_test")),
    _tok("easypost-token", r"EZ[AT]K[A-Za-z0-9]{54}", ("ezak", "eztk")),
    _tok("square-token", r"(?:EAAA|sq0atp-)[\w-]{22,60}|sq0csp-[\w-]{43}", ("eaaa", "sq0atp-", "sq0csp-")),
    _tok("shopify-token", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}", ("shpat_", "shpca_", "shppa_", "shpss_")),
    _kv("gocardless-token", "gocardless", r"live_[A-Za-z0-9_=-]{40}", ("gocardless",)),
    _tok("lob-key", r"(?:live|test)_pub_[a-f0-9]{31}", ("live_pub_", "test_pub_")),
    _tok("lob-key", r"(?:live|test)_[a-f0-9]{35}", ("live_", "test_")),
    _tok("freemius-secret-key", r"sk_[!-~]{29}", ("sk_",),
         stop=r"(?=\\?[\"'])",
         check=lambda v: '"' not in v and "'" not in v and "\\" not in v and entropy(v) >= 3.5),
    _tok("plaid-token", r"access-(?:sandbox|development|production)-" + _UUID, ("access-",)),
    # --- chat and collaboration
    _tok("slack-token", r"xoxb-\d{8,14}-(?:\d{8,14}-)?[A-Za-z0-9]{18,34}|xox[pe](?:-\d{10,13}){3}-[A-Za-z0-9-]{28,34}"
                        r"|xox[os]-\d+-\d+-\d+-[a-fA-F\d]+|xox[ar]-(?:\d-)?[0-9A-Za-z]{8,48}"
                        r"|xoxe\.xox[bp]-\d-[A-Za-z0-9]{140,170}|xoxe-\d-[A-Za-z0-9]{140,150}",
         ("xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-", "xoxe-", "xoxe.")),
    _tok("slack-app-token", r"xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+", ("xapp-",)),
    Detector("slack-webhook", re.compile(r"(https?://hooks\.slack\.com/(?:services|workflows|triggers)/"
                                         r"[A-Za-z0-9+/]{40,140})"), ("hooks.slack.com",),
             bounded=True),
    Detector("teams-webhook", re.compile(
        r"(https://[a-z0-9-]+\.webhook\.office\.com/webhookb2/" + _UUID + "@" + _UUID
        + r"/IncomingWebhook/[a-f0-9]{32}/" + _UUID + r"(?:/[A-Za-z0-9_-]{20,})?)"), ("webhook.office.com",),
        bounded=True),
    Detector("discord-webhook", re.compile(r"(https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d{17,20}"
                                           r"/[A-Za-z0-9_-]{60,68})"), ("discord",)),
    _kv("discord-token", "discord", r"[A-Za-z0-9_-]{59,72}|[a-f0-9]{64}", ("discord",), entropy=3.5),
    Detector("telegram-bot-token", re.compile(r"(?<!\d)(\d{5,16}:A[A-Za-z0-9_-]{34})" + _STOP), ("telegram",)),
    _tok("notion-token", r"ntn_\d{11}[A-Za-z0-9]{35}|secret_[A-Za-z0-9]{43}", ("ntn_", "secret_"),
         check=lambda v: v.startswith("ntn_") or _random_looking(v)),
    _tok("linear-api-key", r"lin_api_[A-Za-z0-9]{40}", ("lin_api_",)),
    _tok("typeform-token", r"tfp_[A-Za-z0-9_.=-]{59}", ("tfp_",)),
    _kv("asana-token", "asana", r"\d/\d{16}:[a-f0-9]{32}|\d{16}", ("asana",), entropy=2.5),
    _kv("dropbox-token", "dropbox", r"sl\.[A-Za-z0-9_=-]{135,}|[A-Za-z0-9]{11}AAAAAAAAAA[A-Za-z0-9_=-]{43}",
        ("dropbox",), gate=False, check=lambda v: not filler(v.replace("A" * 10, ""))),  # ten A's inside
    _tok("postman-api-key", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", ("pmak-",)),
    _tok("mailgun-key", r"(?:key|pubkey)-[a-f0-9]{32}", ("key-",)),
    _tok("mailchimp-key", r"[a-f0-9]{32}-us\d{1,2}", ("-us",)),
    _tok("sendgrid-key", r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}", ("sg.",)),
    _tok("sendinblue-key", r"xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}", ("xkeysib-",)),
    _tok("twilio-api-key", r"SK[0-9a-fA-F]{32}", ("sk",), entropy=3.0),
    _tok("facebook-token", r"EAA[MC][A-Za-z0-9]{100,}", ("eaam", "eaac")),
    _tok("twitter-bearer-token", r"A{22}[A-Za-z0-9%]{80,120}", ("aaaaaaaaaaaaaaaaaaaaaa",),
         check=lambda v: not filler(v[22:]), gate=False),  # 22 A's, then the random part
    # --- observability
    _tok("grafana-token", r"glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"
                          r"|eyJrIjoi[A-Za-z0-9]{70,400}={0,2}", ("glc_", "glsa_", "eyjrijoi"), stop=_NOT_B64),
    _tok("new-relic-key", r"NRAK-[A-Z0-9]{27}|NRJS-[a-f0-9]{19}|NRII-[A-Za-z0-9-]{32}", ("nrak-", "nrjs-", "nrii-")),
    _tok("sentry-token", r"sntrys_eyJpYXQiO[A-Za-z0-9+/=_]{50,}|sntryu_[a-f0-9]{64}", ("sntrys_", "sntryu_")),
    _kv("datadog-key", "datadog|dd_api|dd_app", r"[a-f0-9]{32}|[a-f0-9]{40}", ("datadog", "dd_api", "dd_app")),
    _kv("sumologic-key", "sumo", r"[A-Za-z0-9]{64}|su[A-Za-z0-9]{12}", ("sumo",)),
    _kv("honeycomb-key", "honeycomb", r"hc[a-z]{2}c_[a-z0-9]{58}|[A-Za-z0-9]{22}|[a-f0-9]{32}", ("honeycomb",)),
    _kv("okta-token", "okta", r"00[\w=-]{40}", ("okta",), entropy=3.5),
    _kv("fastly-token", "fastly", r"[A-Za-z0-9_=-]{32}", ("fastly",)),
    _kv("algolia-key", "algolia", r"[a-z0-9]{32}", ("algolia",)),
    _kv("hubspot-key", "hubspot", _UUID, ("hubspot",)),
    _kv("launchdarkly-key", "launchdarkly", r"(?:api|sdk|mob)-" + _UUID, ("launchdarkly",)),
    _kv("contentful-token", "contentful", r"[A-Za-z0-9=_-]{43}", ("contentful",)),
    _tok("mapbox-token", r"(?:pk|sk)\.[A-Za-z0-9]{60}\.[A-Za-z0-9_-]{22}", ("pk.", "sk.")),
    _tok("adobe-client-secret", r"p8e-[A-Za-z0-9]{32}", ("p8e-",)),
    _tok("maxmind-license-key", r"[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk", ("_mmk",)),
    _tok("planetscale-token", r"pscale_(?:tkn|pw|oauth)_[\w=.-]{32,64}", ("pscale_",)),
    _tok("intra42-secret", r"s-s4t2(?:ud|af)-[a-f0-9]{64}", ("s-s4t2",)),
    _tok("authress-key", r"(?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\.[a-z0-9]{4,6}\.acc[_-][a-z0-9-]{10,32}"
                         r"\.[A-Za-z0-9+/_=-]{30,120}", (".acc_", ".acc-")),
    # --- AI APIs
    _tok("anthropic-key", r"sk-ant-(?:api03|admin01)-[\w-]{93}AA", ("sk-ant-",)),
    _tok("openai-key", r"sk-(?:proj|svcacct|admin)-[\w-]{58,74}T3BlbkFJ[\w-]{58,74}|sk-[A-Za-z0-9]{20}T3BlbkFJ"
                       r"[A-Za-z0-9]{20}",
         ("t3blbkfj",)),
    _tok("huggingface-token", r"hf_[A-Za-z]{34}|api_org_[A-Za-z]{34}", ("hf_", "api_org_")),
    _tok("perplexity-key", r"pplx-[A-Za-z0-9]{48}", ("pplx-",)),
    _tok("xai-key", r"xai-[A-Za-z0-9]{80}", ("xai-",)),
    _tok("groq-key", r"gsk_[A-Za-z0-9]{52}", ("gsk_",)),
    _kv("cohere-key", "cohere|co_api", r"[A-Za-z0-9]{40}", ("cohere", "co_api"), entropy=3.5),
    # --- HTTP credentials in commands and headers
    # in a file that runs curl: `-u` or `--user` with a user and a password (the pattern itself: sealer:allow)
    Detector("curl-basic-auth", re.compile(
        r"(?<![\w-])(?:-u|--user)[= ]?\s*[\"']?([^\s\"':]{1,64}:[^\s\"']{4,128})[\"']?"),  # sealer:allow
        ("curl",), check=_credential_pair),
    Detector("authorization-header", re.compile(
        r"(?i:authorization)" + _Q + r"\s{0,5}[:=]\s{0,5}" + _Q + r"(?i:basic|bearer|token)\s+"
        r"([A-Za-z0-9._~+/=-]{16,4096})"), ("authorization",), check=_header_value),
    Detector("api-key-header", re.compile(  # curl/wget -H "X-Api-Key: ...", GitLab's PRIVATE-TOKEN, ...
        r"(?:-H|--header)[= ]\s{0,5}" + _Q + r"(?i:x-api-key|x-apikey|api-key|apikey|x-auth-token|x-access-token"
        r"|private-token|x-vault-token)\s{0,5}:\s{0,5}([A-Za-z0-9._~+/=-]{16,4096})"), ("curl", "wget", "--header"),
        check=_header_value),
    Detector("facebook-app-token", re.compile(r"(?<![\w|])(\d{15,16}(?:\||%7[Cc])[A-Za-z0-9_-]{27,40})" + _STOP),
             ("facebook", "fb_", "access_token"), check=lambda v: entropy(re.split(r"\||%7[Cc]", v)[1]) >= 3.5),
    # --- JSON Web Tokens, plain and base64-encoded
    _tok("jwt", r"ey[A-Za-z0-9_-]{15,}\.ey[A-Za-z0-9_-]{15,}\.(?:[A-Za-z0-9_-]{10,})?", ("ey",), check=_jwt),
    _tok("jwt", r"ZXlK[A-Za-z0-9+/]{60,}={0,2}", ("zxlk",), check=_b64_jwt, stop=_NOT_B64),
    *(_kv(ident, names, body, tuple(names.split("|"))) for ident, names, body in _SERVICES),
)

_KEYWORDS = frozenset(k for d in DETECTORS if not d.bounded for k in d.keywords)
_TOKEN_KEYWORDS = frozenset(k for d in DETECTORS if d.bounded for k in d.keywords)
_TOKEN_RUN = re.compile(r"[a-z0-9_.~+/=:@%-]{16,}")  # searched in the lowercased text


def token_runs(low: str) -> str:
    """The runs of 16+ token characters of a (lowercased) text, joined: every family token lies inside one,
    and they are a small fraction of most files (~8% of Python's standard library), so testing ~150 token
    keywords there instead of in the whole text makes the keyword gate cheap."""
    return "\n".join(_TOKEN_RUN.findall(low))
_URL = re.compile(r"://([^\s:/?#@\"'<>\[\]{}`]{0,128}):([^\s/@\"'<>`]{1,256})@(?=[\w\[])")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,30}$")
_DOC_HOST = re.compile(r"[\w.-]*?(?:\.|^)(?:example\.(?:com|org|net)|example)(?![\w-])", re.I)

_GENERIC_KEYWORD = re.compile(
    r"passw(?:or)?d|passphrase|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential"
    r"|auth[_-]?key|client[_-]?key|signing[_-]?key|encryption[_-]?key|master[_-]?key|account[_-]?key|key")
_NAME_CHAR = re.compile(r"[\w.-]*")
_ASSIGN = re.compile(_SEP + r"(?:\\?\"((?:[^\"\\\n]|\\[^\"\n]){1,1000})\\?\"|'([^'\n]{1,1000})'|`([^`\n]{1,1000})`"
                     r"|([^\s\"'`;<]{1,1000}))")
_CLOSE_TAG = re.compile(r"[ \t]*(?:\r?\n[ \t]*)?</")
_CALL_OPEN = re.compile(r"(?i:set|put|add|define|with)\w{0,20}[ \t]*\([ \t]*\\?[\"'`]$")  # a setter's first argument
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


def _csv_row(text: str, start: int, end: int) -> bool:
    """The name opens its line and the value ends at a comma or the line's end: `dbPassword,VALUE,`."""
    if start and text[start - 1] in "\"'":
        start -= 1
    return (start == 0 or text[start - 1] == "\n") and (end >= len(text) or text[end] in ",\n\r\"'")


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
        for g in (1, 2, 3, 4):
            value = a.group(g)
            if value is not None:
                break
        if code and (g == 4 or _EXPRESSION_AFTER.match(text, a.end())):
            continue
        sep = text[end:a.start(g)].lstrip(" \t\"'`\\")[:1]
        if sep == ">" and not (start and text[start - 1] == "<" and _CLOSE_TAG.match(text, a.end(g))):
            continue  # `>` separates a value only in an XML element: `<password>...</password>`
        if sep == "," and not (_CALL_OPEN.search(text, max(0, start - 40), start)
                               or (not code and _csv_row(text, start, a.end(g)))):
            continue  # a setter's arguments (`setProperty("password", "...")`) or a CSV row, not any list
        if g == 4:
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
    present, in_runs = keyword_gate().find(low)  # keywords in the text; token keywords in its long runs
    for d in DETECTORS:
        if d.keywords and (in_runs if d.bounded else present).isdisjoint(d.keywords):
            continue
        for m in d.regex.finditer(text):
            secret = m.group(d.group)
            if d.bounded and not _token_start(text, m.start(d.group)):
                continue
            if d.entropy and entropy(secret) < d.entropy:
                continue
            if d.check is not None and not d.check(secret):
                continue
            if d.gate and marked_fake(secret):  # a key block's random body can spell "fake" (~1 in 700 keys)
                continue
            if d.gate and filler(secret):
                continue
            hits.append(Hit(d.id, m.start(d.group), m.end(d.group), secret))
    if "://" in text:
        hits.extend(_url_hits(text))
    if generic:
        hits.extend(_generic_hits(text, low, code, threshold))
    return dedupe(hits)


@functools.cache
def keyword_gate() -> KeywordGate:
    """The gate of DETECTORS, compiled on first use (scan_all builds it before forking its workers)."""
    return KeywordGate(_KEYWORDS, _TOKEN_KEYWORDS)


def _token_start(text: str, at: int) -> bool:
    """A token starts the text, follows a non-token character, or follows an escaped `\\n`/`\\r`/`\\t`."""
    return at == 0 or text[at - 1] not in _TOKEN_CHARS or (at >= 2 and text[at - 2] == "\\"
                                                            and text[at - 1] in "nrt")


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
