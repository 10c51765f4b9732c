"""Credentials hidden by an encoding inside a Kubernetes value: base64 (Secret `data`, ConfigMap `binaryData`, or a
blob in a string), JSON and YAML documents in strings, nested up to a bound, and Docker config `auth` entries
(base64 of `user:password`). Ciphertext is never a finding at any depth. Pure: `Explorer` collects
(secret -> detector, trail) and the credential rule reports them on the outer value; `render` says how the value
was encoded, never what it is."""

from __future__ import annotations

import base64
import binascii
import json
import re

from sealer.lint import detectors
from sealer.lint import yamlnodes as yn

DESCRIPTIONS = {
    "docker-config-auth": "container registry credential in a Docker config",
    "basic-auth": "base64 user:password under an `auth` key",
    "encoded-sensitive-key": "literal value under a sensitive key in an embedded document",
}
_MAX_LAYERS = 6  # decodes and parses on one path: three base64 layers, each holding JSON or YAML
_MAX_DECODED = 1 << 20  # a larger embedded text is not parsed or decoded further
_MAX_TEXTS = 400_000  # texts looked into per Kubernetes value; a safety net: the limits above keep it linear
_MAX_NESTING = 64  # JSON/YAML nesting walked
_B64_ALPHABET = re.compile(r"[A-Za-z0-9+/]+={0,2}")
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_YAML_KEY_LINE = re.compile(r"^[ \t]*[\w\"'.-]+[ \t]*:(?:[ \t]|$)", re.M)
_NOT_SECRET_BLOCK = re.compile(  # public PEM blocks and age armour: no credential inside, random base64 in them
    r"-----BEGIN (CERTIFICATE|TRUSTED CERTIFICATE|X509 CRL|CERTIFICATE REQUEST|PUBLIC KEY|RSA PUBLIC KEY"
    r"|AGE ENCRYPTED FILE)-----.*?-----END \1-----", re.S)
_SOPS_SPAN = re.compile(r"ENC\[[^\]\n]*\]")
_PLAIN_KEY = re.compile(r"[A-Za-z_][\w-]*")
_USERINFO = re.compile(r"//[^/@\s]*@")
_SPECIFIC_FIRST = {"docker-config-auth": 1, "basic-auth": 1, "encoded-sensitive-key": 2}


def render(trail: tuple) -> str:
    """("base64", ("JSON", <keys auths, r, auth>)) -> `base64-encoded JSON: auths."r".auth`."""
    parts: list[str] = []
    words: list[str] = []
    for step in trail:
        if step == "base64":
            words.append("base64-encoded")
            continue
        fmt, keys = step
        words.append(f"{fmt}: {_path(_keys(keys))}")
        parts.append(" ".join(words))
        words = []
    if words:
        parts.append(" ".join(words))
    return " > ".join(parts) or "embedded"


def _path(keys: tuple) -> str:
    """Key names as a reader writes them: `auths."registry.example".auth`, `hosts[0].password`."""
    out = ""
    for key in keys:
        if not isinstance(key, str):
            out += f"[{key}]"
            continue
        shown = key if _PLAIN_KEY.fullmatch(key) else json.dumps(_USERINFO.sub("//...@", key)[:80])
        out += ("." if out else "") + shown
    return out


def _text(raw: bytes) -> str | None:
    """Bytes that are UTF-8 text (a few control characters allowed); None for binary (DER, PNG, keystores)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text if len(_NOT_TEXT.findall(text)) * 20 <= len(text) else None


def _base64_text(value: str) -> str | None:
    """The text a string decodes to when it is strictly one base64 blob (>= 16 characters) of text."""
    compact = "".join(value.split())
    if len(compact) < 16 or len(compact) * 3 // 4 > _MAX_DECODED or not _B64_ALPHABET.fullmatch(compact):
        return None
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    return _text(raw)


def _basic_auth_password(value: str) -> str | None:
    """The password of an `auth` value (base64 of `user:password`, as Docker config files store them)."""
    compact = value.strip()
    if not 8 <= len(compact) <= 4096:
        return None
    try:
        text = base64.b64decode(compact, validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    user, sep, password = text.partition(":")
    return password if sep and user and password and not _NOT_TEXT.search(text) else None


class Explorer:
    """One Kubernetes value, decoded and parsed as far as `_MAX_LAYERS` and `_MAX_DECODED` allow.

    A text is: ciphertext (never a finding, at any depth); a JSON object or array, walked with the
    sensitive-key rules, its string leaves explored in turn; a YAML mapping (only a text with a newline);
    or one strict base64 blob of text, explored decoded. Text that came out of base64 (the text scan never saw
    it) also goes through the token detectors. ``found`` maps each secret to its (detector, trail)."""

    def __init__(self, structured: float, raw: float) -> None:
        self.structured = structured
        self.raw = raw
        self.texts = _MAX_TEXTS
        self.found: dict[str, tuple[str, tuple]] = {}

    def add(self, detector: str, secret: str, trail: tuple) -> None:
        """One finding per secret: the most specific detector (a GitHub token over a registry password over a
        sensitive key over a generic assignment), with the longest trail (the key path, where one is known)."""
        current = self.found.get(secret)
        if current is None:
            self.found[secret] = (detector, trail)
            return
        best = detector if _rank(detector) < _rank(current[0]) else current[0]
        self.found[secret] = (best, trail if len(trail) > len(current[1]) else current[1])

    def base64_item(self, value: str) -> None:
        """A Secret `data` / ConfigMap `binaryData` item: base64 by definition. Binary or very large content gets
        the token detectors only (as a text scan would), text is explored."""
        compact = "".join(value.split())
        if len(compact) < 8:
            return
        try:
            raw = base64.b64decode(compact, validate=True)
        except (binascii.Error, ValueError):
            return
        text = _text(raw) if len(raw) <= _MAX_DECODED else None
        if text is None:
            self.scan(raw.decode("utf-8", "replace"), ("base64",))
        else:
            self.explore(text, 1, ("base64",), scan=True)

    def scan(self, text: str, trail: tuple) -> None:
        if "-----BEGIN" in text:
            text = _NOT_SECRET_BLOCK.sub(lambda m: " " * len(m.group(0)), text)
        if "ENC[" in text:
            text = _SOPS_SPAN.sub(lambda m: " " * len(m.group(0)), text)
        for hit in detectors.scan_value(text, threshold=self.raw):
            self.add(hit.detector, hit.secret, trail)

    def explore(self, text: str, layer: int, trail: tuple, *, scan: bool) -> None:
        self.texts -= 1
        stripped = text.strip()
        if self.texts < 0 or not stripped or len(stripped) > _MAX_DECODED or detectors.is_ciphertext(stripped):
            return
        if scan:
            self.scan(text, trail)
        if layer >= _MAX_LAYERS:
            return
        if stripped[0] in "{[":
            try:
                data = json.loads(stripped)
            except (ValueError, RecursionError):
                data = None
            if isinstance(data, (dict, list)):
                self.walk(data, (), layer + 1, trail, "JSON", 0)
                return
        if "\n" in stripped and _YAML_KEY_LINE.search(stripped):
            for data in _yaml_mappings(stripped):
                self.walk(data, (), layer + 1, trail, "YAML", 0)
            return
        decoded = _base64_text(stripped)
        if decoded is not None:
            self.explore(decoded, layer + 1, (*trail, "base64"), scan=True)

    def walk(self, data: object, keys: tuple, layer: int, trail: tuple, fmt: str, depth: int) -> None:
        """``keys`` is the path as a cons list, (parent's keys, key), so a step costs one small tuple."""
        if depth > _MAX_NESTING:
            return
        entries = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
        for key, value in entries:
            if isinstance(value, (dict, list)):
                self.walk(value, (keys, key), layer, trail, fmt, depth + 1)
                continue
            if isinstance(value, str):
                here = None
                if isinstance(key, str) and (key.lower() == "auth" or detectors.sensitive_name(key)):
                    here = (keys, key)
                    if self.credential(value, here, (*trail, (fmt, here)), True):
                        continue
                if len(value) >= 16 and (" " not in value or "\n" in value or value.lstrip()[:1] in "{["):
                    here = here or (keys, key)  # (one line of prose is neither JSON, YAML nor base64)
                    self.explore(value, layer, (*trail, (fmt, here)), scan=False)
            elif (isinstance(key, str) and isinstance(value, (int, float)) and not isinstance(value, bool)
                  and detectors.sensitive_name(key)):
                self.credential(str(value), (keys, key), (*trail, (fmt, (keys, key))), False)

    def credential(self, value: str, keys: tuple, trail: tuple, is_str: bool) -> bool:
        """A literal under a sensitive name, or a Docker-style `auth` (base64 of `user:password`)."""
        key = keys[1]
        path = _keys(keys)
        if is_str and key.lower() == "auth":
            password = _basic_auth_password(value)
            if password is not None and detectors.plausible_secret(password, self.structured, structured=True):
                self.add("docker-config-auth" if _registry_entry(path) else "basic-auth", password, trail)
                return True
        if (detectors.sensitive_name(key) and "\n" not in value.strip()
                and detectors.plausible_secret(value, detectors.name_threshold(key, self.structured),
                                               structured=True)):
            docker = len(path) >= 3 and path[-3] == "auths"
            self.add("docker-config-auth" if docker else "encoded-sensitive-key", value.strip(), trail)
            return True
        return False


def _rank(detector: str) -> int:
    return 3 if detector in detectors.GENERIC else _SPECIFIC_FIRST.get(detector, 0)


def _keys(cons: tuple) -> tuple:
    """(((), "a"), "b") -> ("a", "b")."""
    out = []
    while cons:
        cons, key = cons
        out.append(key)
    return tuple(reversed(out))


def _registry_entry(keys: tuple) -> bool:
    """`auths.<host>.auth` (config.json, .dockerconfigjson) or `<host>.auth` (the legacy .dockercfg)."""
    if len(keys) >= 3 and keys[-3] == "auths":
        return True
    return len(keys) == 2 and isinstance(keys[0], str) and ("." in keys[0] or ":" in keys[0] or keys[0] == "localhost")


def _yaml_mappings(text: str) -> list[dict]:
    """The mappings a YAML text holds (alias bombs and parse errors give none)."""
    try:
        roots = yn.compose(text)
    except yn.TooComplex:
        return []
    return [yn.to_data(root) for root in roots or () if isinstance(root, yn.MappingNode)]
