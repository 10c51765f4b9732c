"""Vault Transit recipients for SOPS files: wrap a data key with a transit key, unwrap it again.

Compatible with sops 3.11 (getsops/sops `hcvault/keysource.go`): the transit engine encrypts the *base64* of the
data key, and each `sops.hc_vault[]` entry records the server, engine path and key name beside the `vault:v1:...`
ciphertext, so a file works the same with either tool. As in sops, the server is the one named by the key (the
URI, or the entry's `vault_address`), never VAULT_ADDR; the token is VAULT_TOKEN, else `~/.vault-token`.

hvac (and requests under it) is imported only when a key is used, so the CLI starts without it. Messages name the
server and key, never the token, the data key or the ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import urllib.parse
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sealer.errors import DecryptionError, InputError, SealerError
from sealer.vaulterrors import http_status

DEFAULT_TIMEOUT = 10.0  # seconds per request; VAULT_CLIENT_TIMEOUT overrides
TOKEN_FILE = ".vault-token"  # noqa: S105 - a file name; in the user's home directory, as sops and the Vault CLI keep it
EXAMPLE_URI = "https://vault.example.com:8200/v1/transit/keys/my-key"

# Environment variables, as the Vault API client (used by sops) names them.
ENV_TOKEN = "VAULT_TOKEN"  # noqa: S105 - a variable name
ENV_NAMESPACE = "VAULT_NAMESPACE"
ENV_CACERT = "VAULT_CACERT"
ENV_CAPATH = "VAULT_CAPATH"
ENV_CLIENT_CERT = "VAULT_CLIENT_CERT"
ENV_CLIENT_KEY = "VAULT_CLIENT_KEY"
ENV_SKIP_VERIFY = "VAULT_SKIP_VERIFY"
ENV_TIMEOUT = "VAULT_CLIENT_TIMEOUT"

# sops' two checks on the URI path (engineAndKeyFromPath), unanchored as in Go's regexp.Match.
_PREFIXED_PATH = re.compile(r"/[^/]+/v\d+/[^/]+/[^/]+/[^/]+")
_KEY_PATH = re.compile(r"/v\d+/[^/]+/[^/]+/[^/]+")

# Fields of one `sops.hc_vault[]` entry, in the order sops writes them.
ENTRY_FIELDS = ("vault_address", "engine_path", "key_name", "created_at", "enc")


@dataclass(frozen=True)
class VaultKey:
    """One transit key: the server address (scheme://host[:port]), the engine's mount path and the key's name."""

    address: str
    engine_path: str
    key_name: str

    @property
    def uri(self) -> str:
        """The URI form sops prints and accepts (its `ToString`)."""
        return f"{self.address}/v1/{self.engine_path}/keys/{self.key_name}"

    def __str__(self) -> str:
        return self.uri


# --- URIs ---------------------------------------------------------------------------------------------------


def parse_uri(uri: str, source: str = "--hc-vault-transit") -> VaultKey:
    """Parse `https://host:8200/v1/<engine path>/keys/<key>` the way sops' `NewMasterKeyFromURI` does.

    Mirrors sops: the first path segment is the API version (`v1`), the last is the key name, the one before it
    (`keys`) is skipped unchecked, everything between is the engine path (may contain slashes); a path with
    anything before `/v1/` is a "prefixed" URL that sops refuses. Stricter than sops where sops would write a
    broken or leaky entry: the scheme must be http or https, and credentials, a query or a fragment are refused.
    """
    text = uri.strip()
    if not text:
        raise InputError(f"empty Vault Transit key URI (expected e.g. {EXAMPLE_URI})", source=source)
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise InputError(f"malformed Vault Transit key URI {_shown(text)} (expected e.g. {EXAMPLE_URI})",
                         source=source) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"Vault Transit key URI {_shown(text)} needs an http:// or https:// server address, "
                         f"e.g. {EXAMPLE_URI}", source=source)
    if "@" in parts.netloc:
        raise InputError(f"Vault Transit key URI {_shown(text)} must not carry credentials: the token comes from "
                         f"{ENV_TOKEN} or ~/{TOKEN_FILE}", source=source)
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise InputError(f"Vault Transit key URI {_shown(text)} must not have a query or fragment", source=source)
    path = parts.path
    if _PREFIXED_PATH.search(path):
        raise InputError(f"Vault behind a path prefix is not supported (as in sops): {_shown(text)}; the URI must "
                         f"look like {EXAMPLE_URI}", source=source)
    if not _KEY_PATH.search(path):
        raise InputError(f"Vault Transit key URI {_shown(text)} is not of the form {EXAMPLE_URI}", source=source)
    dirs = path.strip("/").split("/")
    engine = [d for d in dirs[1:-2] if d]  # Go's path.Join drops empty elements
    if any(d in (".", "..") for d in engine):
        raise InputError(f"Vault Transit key URI {_shown(text)} has '.' or '..' in its engine path", source=source)
    return VaultKey(f"{parts.scheme}://{parts.netloc}", "/".join(engine), dirs[-1])


def parse_uris(text: str, source: str = "--hc-vault-transit") -> list[VaultKey]:
    """Parse a comma-separated list of key URIs, as sops' `--hc-vault-transit` flag takes; empty items are skipped."""
    return [parse_uri(item, source) for item in text.split(",") if item.strip()]


def _shown(uri: str) -> str:
    """A URI fit for a message: any user:password@ removed, one line, clipped."""
    shown = re.sub(r"(?<=://)[^/@]*@", "***@", uri)
    shown = " ".join(shown.split())
    return shown if len(shown) <= 120 else shown[:117] + "..."


# --- wrap / unwrap ------------------------------------------------------------------------------------------


def wrap(data_key: bytes, key: VaultKey | str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Encrypt `data_key` with the transit key; return the `sops.hc_vault[]` entry, fields in sops' order.

    Like sops, transit encrypts base64(data_key), and `created_at` is RFC 3339 UTC to the second. Vault's transit
    engine creates a missing key on encrypt when the token may (`create` on the path), exactly as with sops.
    """
    if isinstance(key, str):
        key = parse_uri(key)
    created_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    plaintext = base64.b64encode(data_key).decode("ascii")
    with _transit(key, env, "encrypt", InputError, SealerError) as client:
        answer = client.secrets.transit.encrypt_data(name=key.key_name, plaintext=plaintext,
                                                     mount_point=key.engine_path)
    ciphertext = _answer_field(answer, "ciphertext")
    if ciphertext is None or not ciphertext.startswith("vault:"):
        raise SealerError(f"Vault Transit key {key.uri}: the encrypt answer holds no vault: ciphertext")
    return {"vault_address": key.address, "engine_path": key.engine_path, "key_name": key.key_name,
            "created_at": created_at, "enc": ciphertext}


def unwrap(fields: Mapping[str, str], env: Mapping[str, str] | None = None) -> bytes:
    """Decrypt one `sops.hc_vault[]` entry with its transit key and return the data key.

    The request goes to the entry's own `vault_address`, as sops sends it (so the file decides which server sees
    the token). Refusals, unknown keys and an unreachable server raise DecryptionError, so a caller can go on to
    the file's other keys as sops does; a missing token or a malformed entry raises InputError.
    """
    values = {}
    for name in ("vault_address", "engine_path", "key_name", "enc"):
        value = fields.get(name)
        if not isinstance(value, str) or not value:
            raise InputError(f"hc_vault entry has no {name}", field=name)
        values[name] = value
    address = values["vault_address"].rstrip("/")
    if not re.match(r"https?://[^/?#@\s]+$", address):
        raise InputError(f"hc_vault entry's vault_address {_shown(address)} is not an http(s) server address",
                         field="vault_address")
    key = VaultKey(address, values["engine_path"].strip("/"), values["key_name"])
    with _transit(key, env, "decrypt", DecryptionError, DecryptionError) as client:
        answer = client.secrets.transit.decrypt_data(name=key.key_name, ciphertext=values["enc"],
                                                     mount_point=key.engine_path)
    plaintext = _answer_field(answer, "plaintext")
    if plaintext is None:
        raise DecryptionError(f"Vault Transit key {key.uri}: the decrypt answer holds no plaintext")
    try:
        return base64.b64decode(plaintext, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionError(f"Vault Transit key {key.uri}: the decrypted data key is not base64 "
                              "(the entry was not written by sops or sealer)") from None


def _answer_field(answer: Any, name: str) -> str | None:
    data = answer.get("data") if isinstance(answer, dict) else None
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


# --- the client ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Settings:
    token: str
    namespace: str | None
    verify: bool | str
    cert: tuple[str, str] | None
    timeout: float


def _settings(env: Mapping[str, str]) -> _Settings:
    """Read the Vault client settings from `env` the way the Vault API client and sops do."""
    token = env.get(ENV_TOKEN, "").strip() or _token_from_file(env)
    if not token:
        raise InputError(f"no Vault token: set {ENV_TOKEN}, or log in (`vault login` / `bao login`) so that "
                         f"~/{TOKEN_FILE} holds one")
    verify: bool | str = True
    # VAULT_CACERT takes precedence over VAULT_CAPATH, as in the Vault CLI.
    for name in (ENV_CACERT, ENV_CAPATH):
        path = env.get(name, "")
        if path:
            if not os.path.exists(path):
                raise InputError(f"{name} points to {path}, which does not exist")
            verify = path
            break
    skip = env.get(ENV_SKIP_VERIFY, "")
    if skip:
        parsed = _go_bool(skip)
        if parsed is None:
            raise InputError(f"{ENV_SKIP_VERIFY} must be true or false, not {skip!r}")
        if parsed:
            verify = False
    cert = None
    cert_file, key_file = env.get(ENV_CLIENT_CERT, ""), env.get(ENV_CLIENT_KEY, "")
    if cert_file or key_file:
        if not (cert_file and key_file):
            raise InputError(f"{ENV_CLIENT_CERT} and {ENV_CLIENT_KEY} must be set together")
        cert = (cert_file, key_file)
    return _Settings(token, env.get(ENV_NAMESPACE) or None, verify, cert, _timeout(env.get(ENV_TIMEOUT, "")))


def _token_from_file(env: Mapping[str, str]) -> str:
    """`$HOME/.vault-token`, trimmed, or "" when there is none (sops' userVaultToken)."""
    home = env.get("HOME") or env.get("USERPROFILE") or _passwd_home()
    if not home:
        return ""
    path = os.path.join(home, TOKEN_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else "not UTF-8 text"
        raise InputError(f"cannot read the Vault token file: {reason}", source=path) from None


def _passwd_home() -> str | None:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_dir
    except (ImportError, KeyError, AttributeError):
        return None


def _go_bool(text: str) -> bool | None:
    """Go's strconv.ParseBool, which the Vault client uses for VAULT_SKIP_VERIFY."""
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return None


def _timeout(text: str) -> float:
    """VAULT_CLIENT_TIMEOUT: seconds, or a number with an s/m/h unit (e.g. `30s`); empty means the default."""
    text = text.strip()
    if not text:
        return DEFAULT_TIMEOUT
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text)
    if not m or float(m.group(1)) <= 0:
        raise InputError(f"{ENV_TIMEOUT} must be a positive duration such as 30 or 30s, not {text!r}")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


@contextmanager
def _transit(key: VaultKey, env: Mapping[str, str] | None, operation: str, refused: type[SealerError],
             failed: type[SealerError]) -> Iterator[Any]:
    """An hvac client for the key's server; turns every failure inside into one typed, token-free message.

    `refused` is raised when Vault says no (denied, unknown key or engine, bad ciphertext), `failed` when it cannot
    be asked (unreachable, TLS, server error). The token never reaches a message, even if a server echoes it.
    """
    settings = _settings(os.environ if env is None else env)
    import hvac
    import hvac.exceptions
    import requests.exceptions

    where = f"Vault Transit key {key.uri}"
    client = hvac.Client(url=key.address, token=settings.token, namespace=settings.namespace,
                         verify=settings.verify, cert=settings.cert or False, timeout=settings.timeout)
    try:
        with _quiet_insecure_warning(settings.verify is False):
            yield client
    except hvac.exceptions.VaultError as e:
        status = http_status(e)
        if status == 403:
            raise refused(f"{where}: permission denied (the token may not {operation} with this key, "
                          "or it is invalid or expired)") from None
        if status == 401:
            raise refused(f"{where}: unauthorized (the token is invalid or expired)") from None
        if status == 404:
            raise refused(f"{where}: no transit engine mounted at '{key.engine_path}' "
                          f"({_server_says(e, settings.token)})") from None
        if status == 400:
            says = _server_says(e, settings.token)
            if "not found" in says:
                raise refused(f"{where}: transit key '{key.key_name}' not found") from None
            if "authentication failed" in says:
                raise refused(f"{where}: this key cannot decrypt the data key (wrong key, or the ciphertext was "
                              "altered)") from None
            raise refused(f"{where}: Vault refused to {operation}: {says}") from None
        raise failed(f"{where}: Vault at {key.address} failed to {operation} ({type(e).__name__}: "
                     f"{_server_says(e, settings.token)})") from None
    except requests.exceptions.SSLError:
        raise failed(f"{where}: TLS verification failed for {key.address} (set {ENV_CACERT} to its CA "
                     f"certificate, or {ENV_SKIP_VERIFY}=true)") from None
    except requests.exceptions.Timeout:
        raise failed(f"{where}: Vault at {key.address} did not answer within {settings.timeout:g}s") from None
    except requests.exceptions.ConnectionError:
        raise failed(f"{where}: cannot reach Vault at {key.address} (connection failed)") from None
    except requests.exceptions.RequestException as e:
        raise failed(f"{where}: cannot talk to Vault at {key.address} ({type(e).__name__})") from None
    except ValueError:
        raise failed(f"{where}: Vault at {key.address} sent an answer that is not JSON") from None


@contextmanager
def _quiet_insecure_warning(active: bool) -> Iterator[None]:
    """VAULT_SKIP_VERIFY=true is the user's explicit choice: don't add urllib3's warning on every request."""
    if not active:
        yield
        return
    import warnings

    import urllib3

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
        yield


def _server_says(error: Exception, token: str) -> str:
    """Vault's error list as one clipped line, with the token scrubbed should a server ever echo it."""
    errors = getattr(error, "errors", None)
    text = "; ".join(str(x) for x in errors) if isinstance(errors, list) and errors else (
        str(error.args[0]) if error.args and error.args[0] else "no details")
    text = " ".join(text.split()).replace(token, "***")
    return text if len(text) <= 200 else text[:197] + "..."
