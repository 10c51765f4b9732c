"""age data-key wrapping against the real `age` CLI and the real `sops` binary, with keys made at test time."""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyrage
import pytest
import yaml
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealer.errors import DecryptionError, InputError
from sealer.sops.keys import age as A

AGE = shutil.which("age")
AGE_KEYGEN = shutil.which("age-keygen")
SSH_KEYGEN = shutil.which("ssh-keygen")
SOPS = Path(sys.executable).parent / "sops"

needs_age = pytest.mark.skipif(AGE is None, reason="age CLI not installed")
needs_ssh_keygen = pytest.mark.skipif(SSH_KEYGEN is None, reason="ssh-keygen not installed")
needs_sops = pytest.mark.skipif(not SOPS.exists(), reason="sops not installed in the venv")
linux_dirs = pytest.mark.skipif(sys.platform in ("darwin", "win32"), reason="Linux config-dir rules")

DATA_KEY = bytes(range(32))
SECRET_RE = re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]+")


@dataclass(frozen=True)
class SshKey:
    kind: str
    private: Path
    public: str


def _ssh_keygen(directory: Path, kind: str, passphrase: str = "") -> SshKey:
    path = directory / f"id_{kind}{'_enc' if passphrase else ''}"
    args = [SSH_KEYGEN, "-q", "-t", kind, "-N", passphrase, "-C", "test@sealer", "-f", str(path)]
    if kind == "rsa":
        args[4:4] = ["-b", "2048"]
    subprocess.run(args, check=True, stdin=subprocess.DEVNULL)
    return SshKey(kind, path, path.with_suffix(".pub").read_text().strip())


@pytest.fixture(scope="session")
def ssh_keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SshKey]:
    if SSH_KEYGEN is None:
        pytest.skip("ssh-keygen not installed")
    d = tmp_path_factory.mktemp("ssh")
    return {
        "ed25519": _ssh_keygen(d, "ed25519"),
        "rsa": _ssh_keygen(d, "rsa"),
        "ed25519_enc": _ssh_keygen(d, "ed25519", passphrase="correct horse"),
    }


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """An empty home directory: no real user's keys ever leak into a test."""
    h = tmp_path / "home"
    h.mkdir()
    return h


def write_keys(path: Path, *identities: str, header: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# created: by a test", "# public key: (see below)", ""] if header else []
    path.write_text("\n".join([*lines, *identities]) + "\n")
    return path


def run_age(*args: str, data: bytes) -> bytes:
    return subprocess.run([AGE, *args], input=data, capture_output=True, check=True).stdout


# --- the age CLI ----------------------------------------------------------------------------------------------


@needs_age
def test_wrap_opens_with_age_cli(tmp_path: Path) -> None:
    sk, pk = A.generate()
    keyfile = write_keys(tmp_path / "key.txt", sk)
    enc = A.wrap(DATA_KEY, pk)
    assert run_age("-d", "-i", str(keyfile), data=enc.encode()) == DATA_KEY


@needs_age
@pytest.mark.skipif(AGE_KEYGEN is None, reason="age-keygen not installed")
def test_age_cli_output_unwraps_with_age_keygen_file(tmp_path: Path) -> None:
    keyfile = tmp_path / "keys.txt"
    subprocess.run([AGE_KEYGEN, "-o", str(keyfile)], check=True, capture_output=True)
    pk = subprocess.run([AGE_KEYGEN, "-y", str(keyfile)], check=True, capture_output=True, text=True).stdout.strip()
    enc = run_age("-e", "-a", "-r", pk, data=DATA_KEY)
    ids = A.load_identities({"HOME": str(tmp_path / "nohome")}, key_file=str(keyfile))
    assert [i.origin for i in ids] == [f"{keyfile}:3"]  # age-keygen writes two comment lines first
    assert ids[0].recipient == pk
    assert A.unwrap(enc.decode(), ids) == DATA_KEY
    assert A.unwrap(enc, ids) == DATA_KEY  # bytes armour too
    assert A.unwrap(run_age("-e", "-r", pk, data=DATA_KEY), ids) == DATA_KEY  # binary age


@needs_age
@pytest.mark.parametrize("kind", ["ed25519", "rsa"])
def test_ssh_keys_both_ways(kind: str, ssh_keys: dict[str, SshKey], tmp_path: Path, home: Path) -> None:
    key = ssh_keys[kind]
    recipient = A.parse_recipient(key.public)
    assert recipient.kind == f"ssh-{kind}"
    assert recipient.text == key.public  # the comment is kept, as sops keeps it
    assert run_age("-d", "-i", str(key.private), data=A.wrap(DATA_KEY, key.public).encode()) == DATA_KEY

    pubfile = tmp_path / "r.pub"
    pubfile.write_text(key.public + "\n")
    enc = run_age("-e", "-a", "-R", str(pubfile), data=DATA_KEY)
    ids = A.load_identities({"HOME": str(home), A.ENV_SSH_KEY_FILE: str(key.private)})
    assert [(i.origin, i.kind) for i in ids] == [(str(key.private), "ssh")]
    assert A.unwrap(enc.decode(), ids) == DATA_KEY


# --- armour ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 2, 3, 47, 48, 49, 95, 96, 97, 200, 480])
def test_armor_format(size: int) -> None:
    binary = os.urandom(size)
    text = A.armor(binary)
    lines = text.split("\n")
    assert lines[0] == "-----BEGIN AGE ENCRYPTED FILE-----"
    assert lines[-2:] == ["-----END AGE ENCRYPTED FILE-----", ""]
    body = lines[1:-2]
    assert all(len(line) == 64 for line in body[:-1])
    assert 0 < len(body[-1]) <= 64
    assert "".join(body) == base64.b64encode(binary).decode()
    assert A.dearmor(text) == binary


def test_wrap_output_shape_and_identical_to_rage_armor() -> None:
    _, pk = A.generate()
    enc = A.wrap(DATA_KEY, pk)
    assert enc.startswith("-----BEGIN AGE ENCRYPTED FILE-----\n")
    assert enc.endswith("\n-----END AGE ENCRYPTED FILE-----\n")
    body = enc.splitlines()[1:-1]
    assert all(len(line) == 64 for line in body[:-1]) and len(body[-1]) <= 64
    # rage's own armour writer lays out the same bytes exactly as we do
    rage_text = pyrage.encrypt(DATA_KEY, [pyrage.x25519.Recipient.from_str(pk)], armored=True).decode()
    assert A.armor(A.dearmor(rage_text)) == rage_text


@needs_age
def test_armor_identical_to_age_cli() -> None:
    _, pk = A.generate()
    for payload in (DATA_KEY, os.urandom(300)):
        text = run_age("-e", "-a", "-r", pk, data=payload).decode()
        assert A.armor(A.dearmor(text)) == text


def test_armor_tolerance_matches_go_reader() -> None:
    sk, pk = A.generate()
    ids = A.load_identities({A.ENV_KEY: sk})
    enc = A.wrap(DATA_KEY, pk)
    for variant in (enc, enc.replace("\n", "\r\n"), "\n  \n" + enc, enc + "  \n\n", enc.rstrip("\n")):
        assert A.unwrap(variant, ids) == DATA_KEY


def _edit_line(enc: str, index: int, edit: Callable[[str], str]) -> str:
    lines = enc.split("\n")
    lines[index] = edit(lines[index])
    return "\n".join(lines)


def _corrupt_last_body_line(enc: str) -> str:
    return _edit_line(enc, -3, lambda line: "!" + line[1:])


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda e: e.replace("BEGIN AGE ENCRYPTED FILE", "BEGIN PGP MESSAGE"), "line 1 is not"),
        (lambda e: e.replace("-----END AGE ENCRYPTED FILE-----\n", ""), "missing"),
        (_corrupt_last_body_line, "not valid base64"),
        (
            lambda e: e.replace("\n", "", 2).replace(
                "-----BEGIN AGE ENCRYPTED FILE-----", "-----BEGIN AGE ENCRYPTED FILE-----\n"
            ),
            "longer than 64",
        ),
        (lambda e: e + "trailing junk\n", "data after"),
        (lambda e: _edit_line(e, 1, lambda line: line[:10] + " " + line[11:]), "not valid base64"),
        (lambda e: _edit_line(e, 1, lambda line: line[:10] + "\t" + line[11:]), "not valid base64"),
        (lambda e: "junk\n" + e, "line 1 is not"),
    ],
)
def test_corrupted_armor_is_a_clear_input_error(mutate: Callable[[str], str], expected: str) -> None:
    sk, pk = A.generate()
    enc = A.wrap(os.urandom(33), pk)  # 33 bytes: the last line ends in padding
    bad = mutate(enc)
    assert bad != enc
    with pytest.raises(InputError) as err:
        A.unwrap(bad, A.load_identities({A.ENV_KEY: sk}), source="f.yaml")
    msg = str(err.value)
    assert msg.startswith("f.yaml: malformed age armor:") and expected in msg
    assert "\n" not in msg


def test_armor_rejects_non_canonical_and_short_inner_lines() -> None:
    with pytest.raises(InputError, match="canonical"):
        A.dearmor(f"{A.ARMOR_HEADER}\nAB==\n{A.ARMOR_FOOTER}\n")  # "AB==" has non-zero padding bits
    good = A.armor(os.urandom(100))
    lines = good.split("\n")
    short_first = "\n".join([lines[0], lines[1][:60], *lines[2:]])
    with pytest.raises(InputError, match="not the last line"):
        A.dearmor(short_first)
    with pytest.raises(InputError, match="malformed age armor: line 1 is not"):
        A.unwrap("age-encryption.org/v1\n", [])  # text is always armour; only bytes may be binary age
    with pytest.raises(InputError, match="not valid base64"):
        A.dearmor(f"{A.ARMOR_HEADER}\nAAA\n{A.ARMOR_FOOTER}\n")  # padding left out
    with pytest.raises(InputError, match="not an age file"):
        A.unwrap(A.armor(b"hello world"), [])


# --- unwrap failures ------------------------------------------------------------------------------------------


def test_no_matching_identity_is_a_decryption_error_without_key_material(home: Path) -> None:
    _, pk = A.generate()
    other_sk, _ = A.generate()
    enc = A.wrap(DATA_KEY, pk)
    ids = A.load_identities({"HOME": str(home), A.ENV_KEY: other_sk})
    with pytest.raises(DecryptionError) as err:
        A.unwrap(enc, ids, source="secret.enc.yaml")
    msg = str(err.value)
    assert msg == ("secret.enc.yaml: no age identity matches this data key (1 identity tried, 1 recipient in the file)")
    assert err.value.exit_code == 1
    assert not SECRET_RE.search(msg) and other_sk not in repr(err.value)


def test_no_identities_at_all_says_where_it_looked(home: Path) -> None:
    _, pk = A.generate()
    ids = A.load_identities({"HOME": str(home)})
    assert ids == []
    with pytest.raises(DecryptionError, match=r"no age identities found; looked in SOPS_AGE_SSH_PRIVATE_KEY_FILE, "):
        A.unwrap(A.wrap(DATA_KEY, pk), ids)


def test_tampered_payload_is_a_decryption_error() -> None:
    sk, pk = A.generate()
    binary = A.dearmor(A.wrap(DATA_KEY, pk))
    tampered = binary[:-1] + bytes([binary[-1] ^ 1])
    with pytest.raises(DecryptionError, match="corrupt or was tampered"):
        A.unwrap(A.armor(tampered), A.load_identities({A.ENV_KEY: sk}))


def test_wrap_is_one_recipient_per_file() -> None:
    _, pk = A.generate()
    assert A._count_recipients(A.dearmor(A.wrap(DATA_KEY, pk))) == 1  # rage's grease stanza is not counted


# --- recipients -----------------------------------------------------------------------------------------------


def test_parse_recipients_list(ssh_keys: dict[str, SshKey]) -> None:
    _, pk1 = A.generate()
    _, pk2 = A.generate()
    got = A.parse_recipients(f" {pk1} ,, {ssh_keys['ed25519'].public},{pk2}, ", "SOPS_AGE_RECIPIENTS")
    assert [r.text for r in got] == [pk1, ssh_keys["ed25519"].public, pk2]
    assert [r.kind for r in got] == ["x25519", "ssh-ed25519", "x25519"]
    assert str(got[0]) == pk1 and "key=" not in repr(got[0])
    assert A.parse_recipients("", "--age") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hunter2", "not an age recipient"),
        ("age1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq", "malformed age recipient"),
        ("age1yubikey1qqqqqqqqqqqqqqqqqqqqqqqqqqq", "plugin"),
        ("ssh-ed25519 AAAAnotbase64", "malformed ssh-ed25519 public key"),
        ("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "cannot be an age recipient"),
        ("ecdsa-sha2-nistp256 AAAAE2VjZHNh", "not an age recipient"),
        ("   ", "empty age recipient"),
    ],
)
def test_bad_recipients(text: str, expected: str) -> None:
    with pytest.raises(InputError) as err:
        A.parse_recipient(text, source="--age")
    assert str(err.value).startswith("--age: ") and expected in str(err.value)
    assert err.value.exit_code == 2


def test_secret_key_given_as_recipient_is_not_echoed() -> None:
    sk, _ = A.generate()
    with pytest.raises(InputError) as err:
        A.parse_recipients(f"{A.generate()[1]},{sk}", "--age")
    assert str(err.value).startswith("--age: entry 2: this is an age secret key")
    assert sk not in str(err.value) and not SECRET_RE.search(str(err.value))


def test_generate() -> None:
    sk, pk = A.generate()
    assert sk.startswith("AGE-SECRET-KEY-1") and pk.startswith("age1")
    assert A.load_identities({A.ENV_KEY: sk})[0].recipient == pk


# --- identity sources -----------------------------------------------------------------------------------------


def _cat_command(path: Path) -> str:
    script = "import sys; sys.stdout.write(open(sys.argv[1]).read())"
    return shlex.join([sys.executable, "-c", script, str(path)])


@linux_dirs
def test_every_source_in_sops_order(tmp_path: Path, home: Path, ssh_keys: dict[str, SshKey]) -> None:
    keys = {name: A.generate() for name in ("flag", "env", "file", "cmd", "user")}
    flag_file = write_keys(tmp_path / "flag.txt", keys["flag"][0])
    env_file = write_keys(tmp_path / "env.txt", keys["file"][0])
    cmd_file = write_keys(tmp_path / "cmd.txt", keys["cmd"][0], header=False)
    user_file = write_keys(home / ".config" / "sops" / "age" / "keys.txt", keys["user"][0])
    (home / ".ssh").mkdir()
    shutil.copy(ssh_keys["ed25519"].private, home / ".ssh" / "id_ed25519")
    shutil.copy(ssh_keys["rsa"].private, home / ".ssh" / "id_rsa")
    extra_ssh = tmp_path / "deploy_key"
    shutil.copy(ssh_keys["ed25519"].private, extra_ssh)
    env = {
        "HOME": str(home),
        A.ENV_SSH_KEY_FILE: str(extra_ssh),
        A.ENV_KEY: f"# a comment\n\n{keys['env'][0]}\r\n",
        A.ENV_KEY_FILE: str(env_file),
        A.ENV_KEY_CMD: _cat_command(cmd_file),
    }
    ids = A.load_identities(env, key_file=str(flag_file))
    assert [i.origin for i in ids] == [
        f"{flag_file}:4",
        str(extra_ssh),
        str(home / ".ssh" / "id_ed25519"),
        str(home / ".ssh" / "id_rsa"),
        "SOPS_AGE_KEY:3",
        f"{env_file}:4",
        "SOPS_AGE_KEY_CMD:1",
        f"{user_file}:4",
    ]
    assert [i.recipient for i in ids if i.kind == "x25519"] == [
        keys[n][1] for n in ("flag", "env", "file", "cmd", "user")
    ]
    assert ids.empty_locations == [] and ids.skipped == []
    # each source alone opens what was wrapped for it
    for name, (_, pk) in keys.items():
        assert A.unwrap(A.wrap(DATA_KEY, pk), ids) == DATA_KEY, name
    text = repr(ids) + " ".join(repr(i) for i in ids)
    assert not SECRET_RE.search(text)


@linux_dirs
def test_user_config_dir_rules(tmp_path: Path, home: Path) -> None:
    sk, _ = A.generate()
    xdg = tmp_path / "xdg"
    write_keys(xdg / "sops" / "age" / "keys.txt", sk)
    write_keys(home / ".config" / "sops" / "age" / "keys.txt", sk)
    assert A.user_key_file({"HOME": str(home), "XDG_CONFIG_HOME": str(xdg)}) == str(xdg / "sops/age/keys.txt")
    assert A.user_key_file({"HOME": str(home), "XDG_CONFIG_HOME": ""}) == str(home / ".config/sops/age/keys.txt")
    assert A.user_key_file({"HOME": str(home)}) == str(home / ".config/sops/age/keys.txt")
    assert A.user_key_file({"HOME": str(home), "XDG_CONFIG_HOME": "relative/dir"}) is None  # as Go's UserConfigDir
    assert A.user_key_file({}) is None
    assert [i.origin for i in A.load_identities({"HOME": str(home), "XDG_CONFIG_HOME": str(xdg)})] == [
        f"{xdg}/sops/age/keys.txt:4"
    ]
    ids = A.load_identities({"HOME": str(home), "XDG_CONFIG_HOME": "rel"})
    assert ids == [] and "user config directory" in ids.skipped[0]


def test_missing_defaults_are_fine_missing_explicit_files_are_not(tmp_path: Path, home: Path) -> None:
    assert A.load_identities({"HOME": str(home)}) == []
    missing = str(tmp_path / "nope.txt")
    for env, key_file, named in (
        ({A.ENV_KEY_FILE: missing}, None, f"{missing} ({A.ENV_KEY_FILE})"),  # set out of sight: say which variable
        ({A.ENV_SSH_KEY_FILE: missing}, None, f"{missing} ({A.ENV_SSH_KEY_FILE})"),
        ({}, missing, missing),
    ):
        with pytest.raises(InputError) as err:
            A.load_identities({"HOME": str(home), **env}, key_file=key_file)
        assert str(err.value) == f"{named}: key file not found"
    # set-but-empty variables count as unset
    assert A.load_identities({"HOME": str(home), A.ENV_KEY: "", A.ENV_KEY_FILE: "", A.ENV_KEY_CMD: ""}) == []


def test_same_file_from_two_sources_loads_once(home: Path) -> None:
    sk, _ = A.generate()
    user = write_keys(Path(A.user_key_file({"HOME": str(home)}) or ""), sk)
    ids = A.load_identities({"HOME": str(home), A.ENV_KEY_FILE: str(user)}, key_file=str(user))
    assert len(ids) == 1


# TEST ONLY, none of them a key: the key-shaped lines are put together here (spelled FAKE, failing the bech32
# checksum), so no key-looking text is committed; real identities are generated per test
_AGE, _PEM = "AGE-SECRET-KEY-", "-----BEGIN OPENSSH PRIV" + "ATE KEY-----"


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        (_AGE + "1QQQQ" + "FAKE" * 14, "malformed AGE-SECRET-KEY-1"),
        ("hunter2-not-a-key", "not an age identity"),
        (_AGE + "PQ-1QQQQ" + "FAKE" * 3, "post-quantum"),
        ("AGE-PLUGIN-YUBIKEY-1QQQQFAKEFAKE", "plugin"),
        (_PEM, "SSH private key"),
    ],
)
def test_bad_line_names_file_and_line_but_not_the_line(bad_line: str, expected: str, tmp_path: Path) -> None:
    sk, _ = A.generate()
    path = tmp_path / "keys.txt"
    path.write_text(f"# comment\n\n{sk}\n{bad_line}\n")
    with pytest.raises(InputError) as err:
        A.load_identities({"HOME": str(tmp_path)}, key_file=str(path))
    msg = str(err.value)
    assert msg.startswith(f"{path}: line 4: ") and expected in msg
    assert bad_line not in msg and bad_line not in repr(err.value) and sk not in msg
    assert not SECRET_RE.search(msg)
    assert err.value.exit_code == 2
    with pytest.raises(InputError) as err:
        A.load_identities({"HOME": str(tmp_path), A.ENV_KEY: f"{sk}\n{bad_line}"})
    assert str(err.value).startswith("SOPS_AGE_KEY: line 2: ") and bad_line not in str(err.value)


def test_crlf_key_file_and_encrypted_identity_file(tmp_path: Path, home: Path) -> None:
    sk, pk = A.generate()
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes(f"# created\r\n{sk}\r\n".encode())
    assert A.load_identities({"HOME": str(home)}, key_file=str(crlf))[0].recipient == pk
    protected = tmp_path / "protected.txt"
    protected.write_text(A.wrap(sk.encode(), pk))
    with pytest.raises(InputError, match="passphrase-protected age identity files are not supported"):
        A.load_identities({"HOME": str(home), A.ENV_KEY_FILE: str(protected)})


def test_ssh_defaults_passed_over_when_unusable_explicit_ones_fail(
    tmp_path: Path, home: Path, ssh_keys: dict[str, SshKey]
) -> None:
    (home / ".ssh").mkdir()
    shutil.copy(ssh_keys["ed25519_enc"].private, home / ".ssh" / "id_ed25519")
    (home / ".ssh" / "id_rsa").write_text("not a key\n")
    ids = A.load_identities({"HOME": str(home)})
    assert ids == []
    assert ids.skipped == [
        f"{home}/.ssh/id_ed25519 (passphrase-protected SSH keys are not supported)",
        f"{home}/.ssh/id_rsa (not an ssh-ed25519 or ssh-rsa private key age can use)",
    ]
    with pytest.raises(InputError, match="passphrase-protected SSH keys are not supported"):
        A.load_identities({"HOME": str(tmp_path), A.ENV_SSH_KEY_FILE: str(ssh_keys["ed25519_enc"].private)})


def test_key_cmd_failures(tmp_path: Path, home: Path) -> None:
    failing = shlex.join([sys.executable, "-c", "import sys; sys.exit(3)"])
    with pytest.raises(InputError, match=r"^SOPS_AGE_KEY_CMD: command .* exited with status 3$"):
        A.load_identities({"HOME": str(home), A.ENV_KEY_CMD: failing})
    with pytest.raises(InputError, match=r"^SOPS_AGE_KEY_CMD: cannot run '/nonexistent/tool'"):
        A.load_identities({"HOME": str(home), A.ENV_KEY_CMD: "/nonexistent/tool --flag"})
    with pytest.raises(InputError, match="unbalanced"):
        A.load_identities({"HOME": str(home), A.ENV_KEY_CMD: "cat 'unterminated"})


# --- the real sops binary -------------------------------------------------------------------------------------

ENC_RE = re.compile(r"^ENC\[AES256_GCM,data:(?P<data>[^,]*),iv:(?P<iv>[^,]+),tag:(?P<tag>[^,]+),type:(?P<type>\w+)\]$")


def _sops(args: list[str], cwd: Path, home: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "SOPS_DISABLE_VERSION_CHECK": "1",
        **extra,
    }
    return subprocess.run([str(SOPS), *args], cwd=cwd, env=env, capture_output=True, text=True, check=True)


@needs_sops
def test_real_sops_interop(tmp_path: Path, home: Path, ssh_keys: dict[str, SshKey]) -> None:
    sk, pk = A.generate()
    plain = tmp_path / "f.yaml"
    plain.write_text("password: hunter2\n")
    doc = yaml.safe_load(_sops(["encrypt", "--age", pk, str(plain)], tmp_path, home).stdout)
    entry = doc["sops"]["age"][0]
    assert entry["recipient"] == pk

    # sops -> us: unwrap the data key, then prove it by opening the value with AES-256-GCM
    data_key = A.unwrap(entry["enc"], A.load_identities({"HOME": str(home), A.ENV_KEY: sk}))
    assert len(data_key) == 32
    m = ENC_RE.match(doc["password"])
    assert m and m["type"] == "str"
    iv, data, tag = (base64.b64decode(m[k]) for k in ("iv", "data", "tag"))
    assert len(iv) == 32
    assert AESGCM(data_key).decrypt(iv, data + tag, b"password:") == b"hunter2"

    # us -> sops: re-wrap the same data key for new recipients; sops opens the file with only their keys
    sk2, pk2 = A.generate()
    ssh = ssh_keys["ed25519"]
    for recipient, extra in ((pk2, {A.ENV_KEY: sk2}), (ssh.public, {A.ENV_SSH_KEY_FILE: str(ssh.private)})):
        doc["sops"]["age"] = [{"recipient": recipient, "enc": A.wrap(data_key, recipient)}]
        rewrapped = tmp_path / "rewrapped.enc.yaml"
        rewrapped.write_text(yaml.safe_dump(doc, sort_keys=False))
        out = _sops(["decrypt", str(rewrapped)], tmp_path, home, **extra).stdout
        assert yaml.safe_load(out) == {"password": "hunter2"}
