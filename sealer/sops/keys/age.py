"""age recipients for SOPS files: wrap a data key for one recipient, unwrap it with local identities.

Compatible with sops 3.11 (getsops/sops `age/keysource.go`, built on filippo.io/age v1.3.1): each `sops.age[]`
entry's `enc` is an ASCII-armoured age file addressed to that one recipient, and identities are looked up in the
places sops looks, in sops' order. Private key material never reaches a message or a repr: errors name the source
and the line number, never the line.
"""

from __future__ import annotations

import binascii  # base64's own primitives: `import base64` adds base64 and struct to a one-file run
import os
import sys

import pyrage

from sealer.errors import DecryptionError, InputError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

ARMOR_HEADER = "-----BEGIN AGE ENCRYPTED FILE-----"
ARMOR_FOOTER = "-----END AGE ENCRYPTED FILE-----"
ARMOR_COLUMNS = 64
_ARMOR_LINE_BYTES = 48  # 64 base64 columns
_AGE_MAGIC = b"age-encryption.org/v1\n"

# Environment variables, as sops 3.11 names them.
ENV_KEY = "SOPS_AGE_KEY"
ENV_KEY_FILE = "SOPS_AGE_KEY_FILE"
ENV_KEY_CMD = "SOPS_AGE_KEY_CMD"
ENV_SSH_KEY_FILE = "SOPS_AGE_SSH_PRIVATE_KEY_FILE"
ENV_RECIPIENTS = "SOPS_AGE_RECIPIENTS"
USER_KEYS_FILE = os.path.join("sops", "age", "keys.txt")  # under the user config dir

_SECRET_PREFIX = "AGE-SECRET-KEY-1"  # noqa: S105 - a format prefix, not a key
_PQ_SECRET_PREFIX = "AGE-SECRET-KEY-PQ-1"  # noqa: S105 - a format prefix, not a key
_PLUGIN_PREFIX = "AGE-PLUGIN-"
_SSH_KINDS = ("ssh-ed25519", "ssh-rsa")  # the SSH key types age (agessh) supports


# --- recipients ---------------------------------------------------------------------------------------------


class _Frozen:
    """Immutable slots objects without importing dataclasses (20 ms: this module is on the decrypt path)."""

    __slots__ = ()

    def __init__(self, **fields: Any) -> None:
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")


class Recipient(_Frozen):
    """A parsed recipient. `text` is what sops writes as `recipient:` (trimmed; an SSH comment is kept); `kind` is
    "x25519", "ssh-ed25519" or "ssh-rsa"; `key` the pyrage recipient (not shown, not compared). Immutable."""

    __slots__ = ("key", "kind", "text")

    def __init__(self, text: str, kind: str, key: Any) -> None:
        super().__init__(text=text, kind=kind, key=key)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Recipient:
            return NotImplemented
        return (self.text, self.kind) == (other.text, other.kind)

    def __hash__(self) -> int:
        return hash((self.text, self.kind))

    def __repr__(self) -> str:
        return f"Recipient(text={self.text!r}, kind={self.kind!r})"

    def __str__(self) -> str:
        return self.text


def parse_recipient(text: str, source: str = "--age") -> Recipient:
    """Parse one recipient the way sops' `parseRecipient` does: `age1...` X25519, or an ssh-ed25519/ssh-rsa key.

    Only public keys are ever echoed in messages, clipped; anything unrecognised is not (it might be a secret).
    """
    text = text.strip()
    if not text:
        raise InputError("empty age recipient", source=source)
    if text.startswith(("AGE-SECRET-KEY-", _PLUGIN_PREFIX)):
        raise InputError("this is an age secret key, not a recipient: pass its public key (age1...)", source=source)
    if text.startswith("age1"):
        # Bech32 data never contains "1": a second one means a plugin (or post-quantum) recipient, as in sops.
        if text.count("1") > 1:
            raise InputError(f"age plugin and post-quantum recipients are not supported: {_clip(text)}", source=source)
        try:
            key = pyrage.x25519.Recipient.from_str(text)
        except pyrage.RecipientError:
            raise InputError(f"malformed age recipient {_clip(text)} (bad length or checksum)", source=source) from None
        return Recipient(text, "x25519", key)
    if text.startswith("ssh-"):
        kind = text.split(None, 1)[0]
        if kind not in _SSH_KINDS:
            raise InputError(
                f"SSH key type {_clip(kind)} cannot be an age recipient (use ssh-ed25519 or ssh-rsa)", source=source
            )
        try:
            key = pyrage.ssh.Recipient.from_str(text)
        except pyrage.RecipientError:
            raise InputError(f"malformed {kind} public key {_clip(text)}", source=source) from None
        return Recipient(text, kind, key)
    raise InputError("not an age recipient: expected age1... or an ssh-ed25519 / ssh-rsa public key", source=source)


def parse_recipients(text: str, source: str) -> list[Recipient]:
    """A comma-separated list, as sops' `--age` flag and SOPS_AGE_RECIPIENTS take it (blank entries skipped)."""
    out: list[Recipient] = []
    for n, part in enumerate(text.split(","), 1):
        if part.strip():
            try:
                out.append(parse_recipient(part, source))
            except InputError as e:
                raise e.within(context=f"entry {n}") from None
    return out


# --- wrap / unwrap ------------------------------------------------------------------------------------------


def wrap(data_key: bytes, recipient_text: str | Recipient) -> str:
    """Encrypt `data_key` to ONE recipient and armour it: the `enc` text of one `sops.age[]` entry."""
    if not isinstance(data_key, bytes | bytearray) or not data_key:
        raise ValueError("data_key must be non-empty bytes")
    recipient = recipient_text if isinstance(recipient_text, Recipient) else parse_recipient(recipient_text)
    return armor(pyrage.encrypt(bytes(data_key), [recipient.key]))


def unwrap(armored_or_binary: str | bytes, identities: Iterable[Any], *, source: str | None = None) -> bytes:
    """Decrypt an age file (armoured as sops writes it, or binary) with any of `identities`.

    `identities` holds `Identity` objects (from `load_identities`) or raw pyrage identities. Malformed input is an
    InputError; no matching identity, or a file that fails age's integrity checks, is a DecryptionError.
    """
    binary = _to_binary(armored_or_binary, source)
    if not binary.startswith(_AGE_MAGIC):
        raise InputError("not an age file (missing the age-encryption.org/v1 header)", source=source)
    keys = [i.identity if isinstance(i, Identity) else i for i in identities]
    recipients = _count_recipients(binary)
    skipped = getattr(identities, "skipped", None)
    passed_over = f"; passed over {', '.join(skipped)}" if skipped else ""
    if not keys:
        looked = getattr(identities, "empty_locations", None)
        where = f"; looked in {', '.join(looked)}" if looked else ""
        raise DecryptionError(
            f"no age identity matches this data key: no age identities found{where}{passed_over} "
            f"(set {ENV_KEY_FILE} or {ENV_KEY}, or use --age-key-file)",
            source=source,
        )
    try:
        return pyrage.decrypt(binary, keys)
    except pyrage.DecryptError as e:
        if "no matching keys" in str(e).lower():
            plural = "identity" if len(keys) == 1 else "identities"
            raise DecryptionError(
                f"no age identity matches this data key ({len(keys)} {plural} tried, "
                f"{recipients} recipient{'s' if recipients != 1 else ''} in the file{passed_over})",
                source=source,
            ) from None
        raise DecryptionError("age data key is corrupt or was tampered with", source=source) from None


def _count_recipients(binary: bytes) -> int:
    """Recipient stanzas in the header, leaving out rage's random "-grease" stanzas."""
    header = binary.partition(b"\n---")[0]
    count = 0
    for line in header.split(b"\n"):
        if line.startswith(b"-> "):
            kind = line[3:].split(b" ", 1)[0]
            count += not kind.endswith(b"-grease")
    return count


def _to_binary(data: str | bytes, source: str | None) -> bytes:
    """Text is always armour (as sops stores it); bytes may be binary age, recognised by its first line."""
    if isinstance(data, bytes | bytearray) and data.startswith(_AGE_MAGIC):
        return bytes(data)
    return dearmor(data, source=source)


# --- armor (C2SP age: strict PEM, RFC 7468 section 3) -----------------------------------------------------------


def armor(binary: bytes) -> str:
    """Armour as filippo.io/age's armor.Writer does: padded base64 in 64-column lines, header and footer lines."""
    b64 = binascii.b2a_base64(binary, newline=False).decode("ascii")  # = base64.b64encode
    body = "".join(b64[i : i + ARMOR_COLUMNS] + "\n" for i in range(0, len(b64), ARMOR_COLUMNS))
    return f"{ARMOR_HEADER}\n{body}{ARMOR_FOOTER}\n"


def dearmor(text: str | bytes, *, source: str | None = None) -> bytes:
    """Strict decode, accepting what filippo.io/age's armor.Reader (used by sops) accepts and nothing else.

    Tolerated: blank lines before the header, whitespace after the footer, CRLF line ends. Required: the exact
    header and footer, canonical padded base64, every line but the last exactly 64 columns.
    """

    def fail(message: str) -> InputError:
        return InputError(f"malformed age armor: {message}", source=source)

    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise fail("not ASCII") from None
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i == len(lines):
        raise fail("empty")
    if lines[i] != ARMOR_HEADER:
        raise fail(f"line {i + 1} is not {ARMOR_HEADER!r}")
    out = bytearray()
    i += 1
    while True:
        if i >= len(lines):
            raise fail(f"missing {ARMOR_FOOTER!r}")
        line = lines[i]
        if line == ARMOR_FOOTER:
            break
        if len(line) > ARMOR_COLUMNS:
            raise fail(f"line {i + 1} is longer than {ARMOR_COLUMNS} columns")
        try:
            chunk = binascii.a2b_base64(line, strict_mode=True)  # = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError):
            raise fail(f"line {i + 1} is not valid base64") from None
        if binascii.b2a_base64(chunk, newline=False).decode("ascii") != line:
            raise fail(f"line {i + 1} is not canonical base64")
        out += chunk
        i += 1
        if len(chunk) < _ARMOR_LINE_BYTES:  # a short line is the last one
            if i < len(lines) and lines[i] == ARMOR_FOOTER:
                break
            if not any(rest.strip() for rest in lines[i:]):
                raise fail(f"missing {ARMOR_FOOTER!r}")
            raise fail(f"line {i} is shorter than {ARMOR_COLUMNS} columns but is not the last line")
    if any(rest.strip() for rest in lines[i + 1 :]):
        raise fail(f"data after {ARMOR_FOOTER!r}")
    return bytes(out)


# --- identities ---------------------------------------------------------------------------------------------


class Identity(_Frozen):
    """A private key able to unwrap data keys, and where it came from (`path:line`, an env var, an SSH key file).

    `identity` is the pyrage x25519 or ssh Identity (str() of it is the secret: never shown); `kind` is "x25519"
    or "ssh". Immutable; compared by identity."""

    __slots__ = ("identity", "kind", "origin")

    def __init__(self, identity: Any, origin: str, kind: str) -> None:
        super().__init__(identity=identity, origin=origin, kind=kind)

    def __repr__(self) -> str:
        return f"Identity(origin={self.origin!r}, kind={self.kind!r})"

    @property
    def recipient(self) -> str | None:
        """The age1... public key of an X25519 identity (None for SSH keys: pyrage does not expose theirs)."""
        return str(self.identity.to_public()) if self.kind == "x25519" else None


class IdentityList(list[Identity]):
    """Identities in the order they were found, plus the places that held none and the keys passed over.

    Both notes are for messages (they hold paths and env var names, never key material).
    """

    def __init__(self) -> None:
        super().__init__()
        self.empty_locations: list[str] = []
        self.skipped: list[str] = []
        self.empty_named: list[str] = []  # files named explicitly (flag, env var) that hold no identity


def load_identities(env: Mapping[str, str] | None = None, key_file: str | None = None) -> IdentityList:
    """Collect every identity sops 3.11 would, from the union of its sources (none takes precedence over another).

    Order: `key_file` (our --age-key-file) first, then sops' own order (age/keysource.go `loadIdentities`):
    SOPS_AGE_SSH_PRIVATE_KEY_FILE, ~/.ssh/id_ed25519, ~/.ssh/id_rsa, SOPS_AGE_KEY, SOPS_AGE_KEY_FILE,
    SOPS_AGE_KEY_CMD (runs the command), then <user config dir>/sops/age/keys.txt. Files named explicitly must
    exist; default locations may be missing, and unusable default SSH keys (passphrase-protected, unsupported
    type) are passed over. Env vars set to "" count as unset. `env` defaults to os.environ and also supplies
    HOME / XDG_CONFIG_HOME and the environment of SOPS_AGE_KEY_CMD.
    """
    explicit_env = env is not None
    env = os.environ if env is None else env
    found = IdentityList()
    loaded: set[str] = set()

    def read_once(path: str, required: bool) -> bytes | None:
        """A file's bytes the first time it is named (the same file via two sources loads once)."""
        real = os.path.realpath(path)
        if real in loaded:
            return None
        data = _read(path, required, found)
        if data is not None:
            loaded.add(real)
        return data

    def from_key_file(path: str, required: bool) -> None:
        if (data := read_once(path, required)) is not None:
            _add_age_identities(found, data, path, required)

    def from_ssh_file(path: str, required: bool) -> None:
        if (data := read_once(path, required)) is None:
            return
        ident = _parse_ssh_identity(data, path, required, found)
        if ident is not None:
            found.append(Identity(ident, path, "ssh"))

    if key_file:
        from_key_file(key_file, required=True)
        if found.empty_locations and found.empty_locations[-1] == key_file:
            found.empty_named.append(key_file)

    def named_by(variable: str, path: str, load: Callable[[str, bool], None]) -> None:
        """A file named by an environment variable: errors say which variable (it is set out of sight)."""
        try:
            load(path, True)
        except InputError as e:
            if e.source == path:
                e.source = f"{path} ({variable})"
            raise
        if found.empty_locations and found.empty_locations[-1] == path:
            found.empty_named.append(f"{path} ({variable})")

    if ssh_file := env.get(ENV_SSH_KEY_FILE):
        named_by(ENV_SSH_KEY_FILE, ssh_file, from_ssh_file)
    else:
        found.empty_locations.append(ENV_SSH_KEY_FILE)
    home = _home_dir(env)
    if home:
        for name in ("id_ed25519", "id_rsa"):
            from_ssh_file(os.path.join(home, ".ssh", name), required=False)

    if key_text := env.get(ENV_KEY):
        _add_age_identities(found, key_text.encode("utf-8", "surrogateescape"), ENV_KEY, required=True)
    else:
        found.empty_locations.append(ENV_KEY)

    if path := env.get(ENV_KEY_FILE):
        named_by(ENV_KEY_FILE, path, from_key_file)
    else:
        found.empty_locations.append(ENV_KEY_FILE)

    if command := env.get(ENV_KEY_CMD):
        output = _run_key_command(command, dict(env) if explicit_env else None)
        _add_age_identities(found, output, ENV_KEY_CMD, required=True)
    else:
        found.empty_locations.append(ENV_KEY_CMD)

    user_file = user_key_file(env)
    if user_file:
        from_key_file(user_file, required=False)
    else:
        found.skipped.append("user config directory (XDG_CONFIG_HOME is relative, or HOME is unset)")
    return found


def user_key_file(env: Mapping[str, str] | None = None) -> str | None:
    """Where sops looks for keys by default: <user config dir>/sops/age/keys.txt (None if it cannot tell).

    The config dir is Go's os.UserConfigDir, except that on macOS a set XDG_CONFIG_HOME wins, as sops does.
    """
    env = os.environ if env is None else env
    xdg = env.get("XDG_CONFIG_HOME", "")
    home = _home_dir(env)
    if sys.platform == "darwin":
        base = xdg or (os.path.join(home, "Library", "Application Support") if home else None)
    elif sys.platform == "win32":
        base = env.get("APPDATA") or env.get("AppData") or None
    elif xdg:
        base = xdg if os.path.isabs(xdg) else None  # Go: "path in $XDG_CONFIG_HOME is relative"
    else:
        base = os.path.join(home, ".config") if home else None
    return os.path.join(base, USER_KEYS_FILE) if base else None


def _home_dir(env: Mapping[str, str]) -> str | None:
    """Go's os.UserHomeDir: $HOME (%USERPROFILE% on Windows)."""
    return (env.get("USERPROFILE") if sys.platform == "win32" else env.get("HOME")) or None


def _read(path: str, required: bool, found: IdentityList) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        if required:
            raise InputError("key file not found", source=path) from None
        found.empty_locations.append(path)
    except OSError as e:
        if required:
            raise InputError(f"cannot read key file: {e.strerror or type(e).__name__}", source=path) from None
        found.skipped.append(f"{path} (unreadable: {e.strerror or type(e).__name__})")
    return None


def parse_identities(data: bytes, origin: str) -> IdentityList:
    """The identities in one age identity file's content (e.g. a Secret's `*.agekey` item); `origin` names it in
    errors and in each identity (never the key itself)."""
    found = IdentityList()
    _add_age_identities(found, data, origin, required=True)
    return found


def _add_age_identities(found: IdentityList, data: bytes, origin: str, required: bool) -> None:
    """An age identity file, as sops' `unwrapIdentities` reads it: one AGE-SECRET-KEY-1 per line, '#' comments."""
    if data.startswith((b"age-encryption", b"-----BEGIN AGE")):
        # sops would ask for the passphrase of an age-encrypted identity file; we never prompt.
        if required:
            raise InputError("passphrase-protected age identity files are not supported", source=origin)
        found.skipped.append(f"{origin} (passphrase-protected)")
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("age identity file is not UTF-8 text", source=origin) from None
    before = len(found)
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw.strip()
        if line and not line.startswith("#"):
            found.append(Identity(_parse_age_identity(line, origin, n), f"{origin}:{n}", "x25519"))
    if len(found) == before:
        found.empty_locations.append(origin)


def _parse_age_identity(line: str, origin: str, n: int) -> Any:
    where: dict[str, str] = {"source": origin, "field": f"line {n}"}
    if line.startswith(_PQ_SECRET_PREFIX):
        raise InputError("post-quantum age identities (AGE-SECRET-KEY-PQ-1...) are not supported", **where)
    if line.startswith(_PLUGIN_PREFIX):
        raise InputError("age plugin identities (AGE-PLUGIN-...) are not supported", **where)
    if line.startswith("-----BEGIN") and "PRIVATE KEY" in line:
        raise InputError(f"an SSH private key is not an age identity file (name it in {ENV_SSH_KEY_FILE})", **where)
    if not line.startswith(_SECRET_PREFIX):
        raise InputError("not an age identity (expected AGE-SECRET-KEY-1...)", **where)
    try:
        return pyrage.x25519.Identity.from_str(line)
    except pyrage.IdentityError:
        raise InputError("malformed AGE-SECRET-KEY-1 identity (bad length or checksum)", **where) from None


def _parse_ssh_identity(data: bytes, path: str, required: bool, found: IdentityList) -> Any | None:
    """An unencrypted ssh-ed25519 / ssh-rsa private key (OpenSSH or PEM), as agessh.ParseIdentity reads it."""
    try:
        return pyrage.ssh.Identity.from_buffer(data)
    except pyrage.IdentityError as e:
        if "decrypt" in str(e).lower():
            reason = "passphrase-protected SSH keys are not supported"
        else:
            reason = "not an ssh-ed25519 or ssh-rsa private key age can use"
    if required:
        raise InputError(reason, source=path)
    found.skipped.append(f"{path} ({reason})")
    return None


def _run_key_command(command: str, env: dict[str, str] | None) -> bytes:
    """SOPS_AGE_KEY_CMD: split like a shell (no shell runs), execute, read its stdout as an identity file."""
    import shlex
    import subprocess

    try:
        argv = shlex.split(command)
    except ValueError:
        raise InputError("cannot parse the command (unbalanced quotes?)", source=ENV_KEY_CMD) from None
    if not argv:
        raise InputError("empty command", source=ENV_KEY_CMD)
    try:
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env, check=False)
    except OSError as e:
        raise InputError(f"cannot run {argv[0]!r}: {e.strerror or type(e).__name__}", source=ENV_KEY_CMD) from None
    if proc.returncode != 0:
        raise InputError(f"command {argv[0]!r} exited with status {proc.returncode}", source=ENV_KEY_CMD)
    return proc.stdout


# --- keys ---------------------------------------------------------------------------------------------------


def generate() -> tuple[str, str]:
    """A fresh X25519 key pair: ("AGE-SECRET-KEY-1...", "age1...")."""
    identity = pyrage.x25519.Identity.generate()
    return str(identity), str(identity.to_public())


def _clip(text: str, keep: int = 16) -> str:
    """A public key shortened for messages."""
    return repr(text if len(text) <= keep + 3 else text[:keep] + "...")
