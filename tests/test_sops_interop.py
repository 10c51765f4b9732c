"""SOPS interoperability with the real `sops` 3.11 binary, in both directions.

Every file shape below is encrypted once by sops and once by sealer (module-scoped cache), then each tool
decrypts both. Compared: the decrypted content (parsed with YAML 1.2 rules), which values are encrypted and with
which type tag, what stays plaintext, the rule recorded in the `sops` block and the number of encrypted comments.
A successful `sops decrypt` (exit 0) means sops verified the MAC sealer wrote.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sealer.sops.keys.age import dearmor
from tests.sops_helpers import (
    ENC_RE,
    SECRET_REGEX,
    AgeKey,
    Workspace,
    edit_spec,
    enc_types,
    enc_values,
    load_docs,
    make_age_key,
    needs_sops,
    ok,
    parallel,
    plain_leaves,
    recipients,
    sops_block,
    write_editor,
)

pytestmark = needs_sops

SECRETS = """\
# Two Secrets in one file; comments inside the encrypted sections are encrypted too
apiVersion: v1
kind: Secret
metadata:
  name: app
  namespace: prod
  labels:
    app: web
  annotations:
    team: payments
type: Opaque
stringData:
  # the database password
  password: hunter2
  url: postgres://u:p@db:5432/app
  config.yaml: |
    key: value
    nested:
      other: 2
  date: "2024-13-01"
  empty: ""
data:
  # the API token
  token: c2VjcmV0LXRva2Vu
---
apiVersion: v1
kind: Secret
metadata:
  name: second
  namespace: prod
stringData:
  api_key: sk-live-123
  port: "5432"
"""

# Scalars where YAML 1.1 and YAML 1.2 (and Go's yaml.v3) disagree, plus every SOPS value type. Each tricky
# value has an `_unencrypted` twin: plaintext values are in the MAC too, so both tools must read them alike.
# (Not -0.0: sops writes a plaintext -0.0 back as `-0` and then fails its own MAC; sealer does the same.)
_TRICKY = """\
yes1: yes
on1: on
oct: 0o17
oct2: 017
und: 1_000
hex: 0x1F
nine: 09
inf: .inf
ninf: -.inf
nan: .nan
e3: 1e3
s5: !!str 5
d: 2024-01-01
ts: 2024-01-01 10:00:00
tz: 2024-01-01T10:00:00+02:00
baddate: 2024-13-01
"""
SCALARS = (
    "i: 42\nneg: -7\nf: 3.5\nf3: 3.0\nb: true\nbf: false\nn: null\ntilde: ~\nempty: \"\"\n"
    "nz: -0.0\nml: |\n  line one\n  line two\nuni: \"héllo wörld ✓ 日本\"\nquoted: \"yes\"\n"
    "list:\n  - 1\n  - two\n  - 3.25\n  - null\nnested:\n  deep:\n    v: x\n"
    + _TRICKY
    + "plain:\n"
    + "".join(f"  {line.split(':')[0]}_unencrypted:{line.split(':', 1)[1]}\n" for line in _TRICKY.splitlines())
)

JSON_DOC = json.dumps({
    "a": "x", "n": 5, "neg": -3, "f": 1.5, "whole": 2.0, "b": True, "z": None, "e": "", "u": "héllo ✓",
    "arr": [1, "two", {"k": "v"}, None], "o": {"p_unencrypted": "plain", "q": "secret", "deep": {"r": False}},
}, indent=2, ensure_ascii=False) + "\n"

SUFFIXED = """\
user: alice
password: s3cret
host_unencrypted: db.local
nested:
  port_unencrypted: 5432
  key: abc
  list_unencrypted: [a, b]
  opts_plain:
    x: 1
  token_secret: tkn
public: visible
description: also visible
"""

MAC_ONLY = """\
secret_pw: hunter2
secret_n: 7
note: plaintext note
count: 3
"""


@dataclass(frozen=True)
class Shape:
    name: str
    text: str
    filename: str = "f.yaml"
    flags: tuple[str, ...] = ()  # rule flags given to both tools
    sops_only_flags: tuple[str, ...] = ()  # flags only sops needs (sealer's default gives the same)
    config: str | None = None  # .sops.yaml ({A} = recipient); then no --age is passed
    rule: dict[str, object] = field(default_factory=dict)  # expected rule fields in the sops block


SHAPES = [
    Shape("k8s-secrets-multidoc-comments", SECRETS, sops_only_flags=("--encrypted-regex", SECRET_REGEX),
          rule={"encrypted_regex": SECRET_REGEX}),
    Shape("yaml12-scalars", SCALARS, rule={"unencrypted_suffix": "_unencrypted"}),
    Shape("json", JSON_DOC, filename="f.json", rule={"unencrypted_suffix": "_unencrypted"}),
    Shape("unencrypted-suffix-default", SUFFIXED, rule={"unencrypted_suffix": "_unencrypted"}),
    Shape("unencrypted-suffix-custom", SUFFIXED, flags=("--unencrypted-suffix", "_plain"),
          rule={"unencrypted_suffix": "_plain"}),
    Shape("encrypted-suffix", SUFFIXED, flags=("--encrypted-suffix", "_secret"), rule={"encrypted_suffix": "_secret"}),
    Shape("unencrypted-regex", SUFFIXED, flags=("--unencrypted-regex", "^(public|description|host_unencrypted)$"),
          rule={"unencrypted_regex": "^(public|description|host_unencrypted)$"}),
    Shape("mac-only-encrypted", MAC_ONLY,
          config="creation_rules:\n  - age: {A}\n    encrypted_regex: ^secret_\n    mac_only_encrypted: true\n",
          rule={"encrypted_regex": "^secret_", "mac_only_encrypted": True}),
]


@dataclass
class Encrypted:
    """One shape encrypted by both tools, and what each tool decrypts each file to."""

    ws: Workspace
    key: AgeKey
    shape: Shape
    plain: Path
    by_sops: str
    by_sealer: str
    sops_of_sops: str
    sops_of_sealer: str
    sealer_of_sops: str
    sealer_of_sealer: str


@pytest.fixture(scope="module")
def interop(tmp_path_factory: pytest.TempPathFactory):
    cache: dict[str, Encrypted] = {}
    key = make_age_key(tmp_path_factory.mktemp("keys"), "a")

    def get(shape: Shape) -> Encrypted:
        if shape.name in cache:
            return cache[shape.name]
        ws = Workspace(tmp_path_factory.mktemp(shape.name))
        plain = ws.write(shape.filename, shape.text)
        if shape.config:
            ws.write(".sops.yaml", shape.config.format(A=key.recipient))
            keys: tuple[str, ...] = ()
        else:
            keys = ("--age", key.recipient)
        suffix = plain.suffix
        by_sops, by_sealer = map(ok, parallel(
            lambda: ws.sops("encrypt", *keys, *shape.flags, *shape.sops_only_flags, plain.name),
            lambda: ws.sealer("encrypt", *keys, *shape.flags, plain.name)))
        f_sops, f_sealer = ws.write(f"by-sops{suffix}", by_sops), ws.write(f"by-sealer{suffix}", by_sealer)
        decrypted = map(ok, parallel(
            lambda: ws.sops("decrypt", f_sops.name, key=key), lambda: ws.sops("decrypt", f_sealer.name, key=key),
            lambda: ws.sealer("decrypt", f_sops.name, key=key), lambda: ws.sealer("decrypt", f_sealer.name, key=key)))
        enc = Encrypted(ws, key, shape, plain, by_sops, by_sealer, *decrypted)
        cache[shape.name] = enc
        return enc

    return get


def comment_lines(text: str) -> list[str]:
    return sorted(line.strip() for line in text.splitlines() if line.strip().startswith("#"))


def n_encrypted_comments(text: str) -> int:
    return sum(1 for v in enc_values(text) if v.endswith("type:comment]"))


# --- 1. sops -> sealer ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_sealer_decrypts_what_sops_wrote(interop, shape: Shape) -> None:
    e = interop(shape)
    assert load_docs(e.sealer_of_sops) == load_docs(e.sops_of_sops)
    if shape.name != "yaml12-scalars":
        # sops prints `2024-13-01` bare; sealer quotes it ("2024-13-01") so YAML 1.1 tools don't misread it
        same = e.sops_of_sops.replace("date: 2024-13-01", 'date: "2024-13-01"')
        assert e.sealer_of_sops == same
    # comments sops encrypted come back
    assert comment_lines(e.sealer_of_sops) == comment_lines(e.sops_of_sops)


def test_the_shapes_exercise_what_they_claim(interop) -> None:
    """Guard the fixtures: sops really encrypted comments, left metadata and suffixed keys plaintext, etc."""
    secrets = interop(SHAPES[0])
    assert "hunter2" not in secrets.by_sops and "the database password" not in secrets.by_sops
    assert n_encrypted_comments(secrets.by_sops) == 2  # the top-level comment is outside data/stringData
    assert secrets.by_sops.startswith("# Two Secrets") and secrets.by_sealer.startswith("# Two Secrets")
    assert "# the database password" in secrets.sops_of_sops
    assert plain_leaves(secrets.by_sops)[(0, "metadata", "labels", "app")] == "web"
    suffixed = interop(SHAPES[3])
    assert plain_leaves(suffixed.by_sops)[(0, "host_unencrypted")] == "db.local"
    assert (0, "password") in enc_types(suffixed.by_sops)
    enc_suffix = interop(SHAPES[5])
    assert set(enc_types(enc_suffix.by_sops)) == {(0, "nested", "token_secret")}


# --- 2. sealer -> sops ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_sops_decrypts_what_sealer_wrote(interop, shape: Shape) -> None:
    e = interop(shape)
    # sops printed both (it keeps each input's indentation, so compare content, then comments)
    assert load_docs(e.sops_of_sealer) == load_docs(e.sops_of_sops)
    assert comment_lines(e.sops_of_sealer) == comment_lines(e.sops_of_sops)
    # the same values are encrypted, with the same type tags; the same stay plaintext
    assert enc_types(e.by_sealer) == enc_types(e.by_sops)
    # (sops rewrites plaintext `017` as `15`, sealer keeps the source text: the loader reads both as Go does)
    assert plain_leaves(e.by_sealer) == plain_leaves(e.by_sops)
    assert n_encrypted_comments(e.by_sealer) == n_encrypted_comments(e.by_sops)
    for doc in range(len(load_docs(e.by_sops))):
        block, reference = sops_block(e.by_sealer, doc), sops_block(e.by_sops, doc)
        for name, value in shape.rule.items():
            assert block.get(name) == reference.get(name) == value
        assert recipients(e.by_sealer, doc) == [e.key.recipient]
        assert block["version"] == reference["version"]
    # and sealer reads its own file as it reads sops'
    assert load_docs(e.sealer_of_sealer) == load_docs(e.sealer_of_sops)
    assert comment_lines(e.sealer_of_sealer) == comment_lines(e.sealer_of_sops)


# --- 5. Go YAML 1.2 semantics for the MAC -------------------------------------------------------------------


def test_yaml12_scalars_typed_and_maced_like_go(interop) -> None:
    e = interop(SHAPES[1])
    types = enc_types(e.by_sops)
    # what Go's yaml.v3 makes of them (sops' choice of type tag), and sealer agrees per value
    assert {k[1]: v for k, v in types.items() if len(k) == 2} == {k[1]: v for k, v in enc_types(e.by_sealer).items()
                                                                  if len(k) == 2}
    assert types[(0, "yes1")] == types[(0, "on1")] == types[(0, "s5")] == types[(0, "baddate")] == "str"
    assert types[(0, "oct")] == types[(0, "hex")] == types[(0, "und")] == "int"
    assert types[(0, "d")] == types[(0, "ts")] == "time"
    # sops verified sealer's MAC (exit 0 above) over the plaintext twins too, and prints the same values
    printed = load_docs(e.sops_of_sealer)[0]
    assert printed["plain"]["yes1_unencrypted"] == "yes" and printed["yes1"] == "yes"
    assert printed["oct2"] == printed["plain"]["oct2_unencrypted"] == load_docs(e.sops_of_sops)[0]["oct2"]
    assert load_docs(e.sops_of_sealer) == load_docs(e.sops_of_sops)
    # vice versa: sealer reads sops' file as it reads its own (sealer keeps each file's plaintext scalars as
    # written: `~` stays `~` in its own file, where sops wrote `null`)
    assert load_docs(e.sealer_of_sops) == load_docs(e.sealer_of_sealer)


def test_mac_only_encrypted_ignores_plaintext_changes_in_both_tools(interop) -> None:
    e = interop(SHAPES[7])
    for name, text in (("sops", e.by_sops), ("sealer", e.by_sealer)):
        assert sops_block(text)["mac_only_encrypted"] is True
        changed = e.ws.write(f"mac-only-{name}.yaml", text.replace("note: plaintext note", "note: edited"))
        assert "note: edited" in changed.read_text()
        assert "note: edited" in ok(e.ws.sops("decrypt", changed.name, key=e.key))
        assert "note: edited" in ok(e.ws.sealer("decrypt", changed.name, key=e.key))


def test_mac_only_encrypted_flag(interop) -> None:
    e = interop(SHAPES[7])
    # run outside the directory holding .sops.yaml: only the flags say mac_only_encrypted
    f = e.ws.write("flag.yaml", ok(e.ws.sealer("encrypt", "--age", e.key.recipient, "--mac-only-encrypted",
                                               "--encrypted-regex", "^secret_", f"files/{e.plain.name}",
                                               cwd=e.ws.root)))
    text = f.read_text()
    assert sops_block(text)["mac_only_encrypted"] is True and set(enc_types(text)) == set(enc_types(e.by_sops))
    changed = e.ws.write("flag-changed.yaml", text.replace("count: 3", "count: 4"))
    for r in parallel(lambda: e.ws.sops("decrypt", changed.name, key=e.key),
                      lambda: e.ws.sealer("decrypt", changed.name, key=e.key)):
        assert load_docs(ok(r)) == [{"secret_pw": "hunter2", "secret_n": 7, "note": "plaintext note", "count": 4}]


def test_folded_block_scalar_value_survives_sealer_encrypt(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    key = make_age_key(tmp_path, "a")
    ws.write("f.yaml", "folded: >\n  folded text\n  here\n")
    enc = ws.write("enc.yaml", ok(ws.sealer("encrypt", "--age", key.recipient, "f.yaml")))
    of_sops, of_sealer = parallel(lambda: ws.sops("decrypt", "--extract", '["folded"]', enc.name, key=key),
                                  lambda: ws.sealer("decrypt", "--extract", '["folded"]', enc.name, key=key))
    assert ok(of_sops) == ok(of_sealer) == "folded text here\n"


def test_folded_plaintext_annotation_keeps_the_mac_valid_for_sops(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    key = make_age_key(tmp_path, "a")
    secret = ("apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  annotations:\n    description: >\n"
              "      a long folded\n      description\nstringData:\n  pw: hunter2\n")
    ws.write("s.yaml", secret)
    enc = ws.write("enc.yaml", ok(ws.sealer("encrypt", "--age", key.recipient, "s.yaml")))
    assert load_docs(ok(ws.sops("decrypt", enc.name, key=key))) == load_docs(secret)


# --- key groups + Shamir ------------------------------------------------------------------------------------


def test_shamir_key_groups_both_ways(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    keys = [make_age_key(tmp_path / "keys", f"g{i}") for i in range(3)]
    ws.write(".sops.yaml", "creation_rules:\n  - path_regex: .*\n    shamir_threshold: 2\n    key_groups:\n"
             + "".join(f"      - age: [{k.recipient}]\n" for k in keys))
    ws.write("p.yaml", SUFFIXED)
    by_sops = ws.write("by-sops.yaml", ok(ws.sops("encrypt", "p.yaml")))
    by_sealer = ws.write("by-sealer.yaml", ok(ws.sealer("encrypt", "p.yaml")))
    for f in (by_sops, by_sealer):
        block = sops_block(f.read_text())
        assert block["shamir_threshold"] == 2
        assert [[a["recipient"] for a in g["age"]] for g in block["key_groups"]] == [[k.recipient] for k in keys]
    expected = load_docs(SUFFIXED)
    for i, (a, b) in enumerate(itertools.combinations(keys, 2)):
        both = ws.write(f"pair{i}.txt", a.path.read_text() + b.path.read_text())
        assert load_docs(ok(ws.sealer("decrypt", by_sops.name, key=both))) == expected
        if i == 0:  # sops needs any two groups of sealer's split too
            assert load_docs(ok(ws.sops("decrypt", by_sealer.name, key=both))) == expected
            assert load_docs(ok(ws.sealer("decrypt", by_sealer.name, key=both))) == expected
    for f in (by_sops, by_sealer):
        r = ws.sealer("decrypt", f.name, key=keys[2])
        assert r.returncode == 1 and r.stdout == ""
        assert f.name in r.stderr and "shamir" in r.stderr.lower()
    # one share is not enough for sops either: sealer really split the key
    assert ws.sops("decrypt", by_sealer.name, key=keys[1]).returncode != 0


# --- 2. sealer edit / set / unset / updatekeys / rotate, then sops decrypt --------------------------------


@dataclass
class Pair:
    ws: Workspace
    key: AgeKey
    files: dict[str, str]  # writer -> encrypted text


@pytest.fixture(scope="module")
def secret_pair(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    ws = Workspace(tmp_path_factory.mktemp("pair"))
    key = make_age_key(ws.root, "a")
    ws.write("secret.yaml", SECRETS)
    return Pair(ws, key, {
        "sops": ok(ws.sops("encrypt", "--age", key.recipient, "--encrypted-regex", SECRET_REGEX, "secret.yaml")),
        "sealer": ok(ws.sealer("encrypt", "--age", key.recipient, "secret.yaml")),
    })


def _expected_docs(**changes) -> list[dict]:
    docs = load_docs(SECRETS)
    for path, value in changes.items():
        doc, section, name = path.split(".")
        if value is None:
            del docs[int(doc)][section][name]
        else:
            docs[int(doc)][section][name] = value
    return docs


@pytest.mark.parametrize("writer", ["sops", "sealer"])
@pytest.mark.parametrize("operation", ["edit", "set", "unset", "rotate"])
def test_sops_decrypts_after_sealer_changes(secret_pair: Pair, tmp_path: Path, writer: str, operation: str) -> None:
    ws, key = secret_pair.ws, secret_pair.key
    before = secret_pair.files[writer]
    f = ws.write(f"{writer}-{operation}.yaml", before)
    extra: dict[str, str] = {}
    if operation == "edit":
        args: tuple[str, ...] = ("edit", f.name)
        extra = {**write_editor(tmp_path), "TEST_EDIT_SPEC": edit_spec(
            replace=[[r"(\n *)password: hunter2", r"\1# added by edit\1password: changed-pw"],
                     [r"(\n *)api_key: sk-live-123", r"\1api_key: sk-2\1new: n"]])}
        expected = _expected_docs(**{"0.stringData.password": "changed-pw", "1.stringData.api_key": "sk-2",
                                     "1.stringData.new": "n"})
    elif operation == "set":
        args = ("set", f.name, '["stringData"]["password"]', '"new"')
        expected = _expected_docs(**{"0.stringData.password": "new"})
    elif operation == "unset":
        args = ("unset", f.name, '["stringData"]["url"]')
        expected = _expected_docs(**{"0.stringData.url": None})
    else:
        args = ("rotate", f.name)
        expected = load_docs(SECRETS)
    ok(ws.sealer(*args, key=key, **extra))
    after = f.read_text()
    assert after != before
    printed = ok(ws.sops("decrypt", f.name, key=key))
    assert load_docs(printed) == expected
    # encrypted comments survive and still decrypt; a comment added in the editor is encrypted too
    added = ["# added by edit"] if operation == "edit" else []
    assert comment_lines(printed) == sorted(comment_lines(SECRETS) + added)
    assert "added by edit" not in after and "changed-pw" not in after
    assert load_docs(ok(ws.sealer("decrypt", f.name, key=key))) == expected
    if operation == "rotate":
        # a new data key: every value, comment and the MAC re-encrypted, the wrapped key replaced
        old, new = set(enc_values(before)), set(enc_values(after))
        assert len(new) == len(old) and not old & new
        assert sops_block(after)["age"][0]["enc"] != sops_block(before)["age"][0]["enc"]
        assert recipients(after) == recipients(before) == [key.recipient]


@pytest.mark.parametrize("writer", ["sops", "sealer"])
def test_updatekeys_rewraps_for_the_rules_new_recipients(tmp_path: Path, writer: str) -> None:
    ws = Workspace(tmp_path)
    a, b = make_age_key(tmp_path, "a"), make_age_key(tmp_path, "b")
    config = "creation_rules:\n  - path_regex: \\.yaml$\n    encrypted_regex: ^(data|stringData)$\n    age: {}\n"
    ws.write(".sops.yaml", config.format(a.recipient))
    ws.write("secret.yaml", SECRETS)
    tool = ws.sops if writer == "sops" else ws.sealer
    f = ws.write("enc.yaml", ok(tool("encrypt", "secret.yaml")))
    before = f.read_text()
    ws.write(".sops.yaml", config.format(b.recipient))
    r = ws.sealer("updatekeys", "-y", f.name, key=a)
    assert r.returncode == 0, r.stderr
    assert f"+ {b.recipient}" in r.stderr and f"- {a.recipient}" in r.stderr
    after = f.read_text()
    for doc in range(2):
        assert recipients(after, doc) == [b.recipient]
    # values, lastmodified and MAC untouched: only the key entries changed
    assert enc_values(after) == enc_values(before)
    assert sops_block(after)["lastmodified"] == sops_block(before)["lastmodified"]
    assert load_docs(ok(ws.sops("decrypt", f.name, key=b))) == load_docs(SECRETS)
    assert ws.sops("decrypt", f.name, key=a).returncode != 0
    r = ws.sealer("decrypt", f.name, key=a)
    assert r.returncode == 1 and r.stdout == ""


def test_age_recipients_match_the_age_cli(tmp_path: Path) -> None:
    """The wrapped data key is a plain age file: the independent `age` CLI opens the one sealer wrote, and its
    32 bytes are the key sops' own ENC values open under."""
    if not shutil.which("age"):
        pytest.skip("age CLI not installed")
    ws = Workspace(tmp_path)
    key = make_age_key(tmp_path, "a")
    ws.write("p.yaml", "pw: hunter2\n")
    text = ok(ws.sealer("encrypt", "--age", key.recipient, "p.yaml"))
    armored = sops_block(text)["age"][0]["enc"]
    data_key = subprocess.run(["age", "-d", "-i", str(key.path)], input=dearmor(armored), capture_output=True,
                              check=True).stdout
    assert len(data_key) == 32
    m = ENC_RE.search(text.split("\n", 1)[0])
    assert m is not None
    data, iv, tag = (base64.b64decode(m.group(i)) for i in (1, 2, 3))
    assert AESGCM(data_key).decrypt(iv, data + tag, b"pw:") == b"hunter2"


def test_shamir_file_rotated_and_rekeyed_by_sealer(tmp_path: Path) -> None:
    """rotate keeps the key groups and threshold; updatekeys can reshape one group into three."""
    ws = Workspace(tmp_path)
    keys = [make_age_key(tmp_path / "keys", f"g{i}") for i in range(3)]
    groups = "".join(f"      - age: [{k.recipient}]\n" for k in keys)
    ws.write(".sops.yaml", f"creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n{groups}")
    ws.write("p.yaml", SUFFIXED)
    f = ws.write("enc.yaml", ok(ws.sops("encrypt", "p.yaml")))
    first_two = ws.write("first-two.txt", keys[0].path.read_text() + keys[1].path.read_text())
    last_two = ws.write("last-two.txt", keys[1].path.read_text() + keys[2].path.read_text())
    before = f.read_text()
    ok(ws.sealer("rotate", f.name, key=first_two))
    rotated = f.read_text()
    assert sops_block(rotated)["shamir_threshold"] == 2 and len(sops_block(rotated)["key_groups"]) == 3
    assert not set(enc_values(rotated)) & set(enc_values(before))
    assert load_docs(ok(ws.sops("decrypt", f.name, key=last_two))) == load_docs(SUFFIXED)
    # one group of one key, then back to three groups
    ws.write(".sops.yaml", f"creation_rules:\n  - age: {keys[0].recipient}\n")
    ok(ws.sealer("updatekeys", "-y", f.name, key=last_two))
    assert "key_groups" not in sops_block(f.read_text()) and recipients(f.read_text()) == [keys[0].recipient]
    assert load_docs(ok(ws.sops("decrypt", f.name, key=keys[0]))) == load_docs(SUFFIXED)
    ws.write(".sops.yaml", f"creation_rules:\n  - shamir_threshold: 2\n    key_groups:\n{groups}")
    ok(ws.sealer("updatekeys", "-y", f.name, key=keys[0]))
    assert load_docs(ok(ws.sops("decrypt", f.name, key=last_two))) == load_docs(SUFFIXED)
    assert ws.sops("decrypt", f.name, key=keys[2]).returncode != 0


# --- deviations found while testing (fixed; the last one is a known gap) ---------------------------------


LIST_COMMENTS = "items:\n  # first item\n  - name: a\n    v: 1\n  # second item\n  - name: b\nplain_unencrypted: x\n"


def test_sealer_decrypts_sops_file_with_comments_in_a_list(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    key = make_age_key(tmp_path, "a")
    ws.write("l.yaml", LIST_COMMENTS)
    f = ws.write("enc.yaml", ok(ws.sops("encrypt", "--age", key.recipient, "l.yaml")))
    assert "type:comment]" in f.read_text()
    by_sops, by_sealer = parallel(lambda: ws.sops("decrypt", f.name, key=key),
                                  lambda: ws.sealer("decrypt", f.name, key=key))
    assert load_docs(ok(by_sealer)) == load_docs(ok(by_sops)) == load_docs(LIST_COMMENTS)
    assert comment_lines(by_sealer.stdout) == ["# first item", "# second item"]


def test_encrypt_yaml_with_anchors_like_sops(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    key = make_age_key(tmp_path, "a")
    ws.write("a.yaml", "base: &b\n  x: one\nuse: *b\nmerged:\n  <<: *b\n  y: two\n")
    f = ws.write("enc.yaml", ok(ws.sealer("encrypt", "--age", key.recipient, "a.yaml")))
    expected = [{"base": {"x": "one"}, "use": {"x": "one"}, "merged": {"x": "one", "y": "two"}}]
    assert load_docs(ok(ws.sops("decrypt", f.name, key=key))) == expected


def test_sealer_decrypts_sops_file_with_encrypted_comment_regex(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    key = make_age_key(tmp_path, "a")
    ws.write(".sops.yaml", f"creation_rules:\n  - age: {key.recipient}\n    encrypted_comment_regex: 'sops:enc'\n")
    ws.write("c.yaml", "a: 1 # sops:enc\nb: 2\n")
    f = ws.write("enc.yaml", ok(ws.sops("encrypt", "c.yaml")))
    assert set(enc_types(f.read_text())) == {(0, "a")}
    assert load_docs(ok(ws.sealer("decrypt", f.name, key=key))) == [{"a": 1, "b": 2}]


def test_binary_tag_encrypted_like_sops(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    key = make_age_key(tmp_path, "a")
    ws.write("b.yaml", "bin: !!binary aGVsbG8=\n")
    by_sops, by_sealer = map(ok, parallel(lambda: ws.sops("encrypt", "--age", key.recipient, "b.yaml"),
                                          lambda: ws.sealer("encrypt", "--age", key.recipient, "b.yaml")))
    ws.write("s.yaml", by_sops)
    ws.write("e.yaml", by_sealer)
    assert enc_values(by_sops)[0].split(",iv:")[0].count("=") == 1  # 5 bytes: sops encrypted b"hello"
    of_sops, of_sealer = map(ok, parallel(lambda: ws.sops("decrypt", "s.yaml", key=key),
                                          lambda: ws.sops("decrypt", "e.yaml", key=key)))
    assert of_sealer == of_sops == "bin: hello\n"


def test_empty_document_in_a_stream(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    key = make_age_key(tmp_path, "a")
    ws.write("m.yaml", "a: 1\n---\n---\nb: 2\n")
    f = ws.write("enc.yaml", ok(ws.sealer("encrypt", "--age", key.recipient, "m.yaml")))
    assert load_docs(ok(ws.sops("decrypt", f.name, key=key))) == [{"a": 1}, {}, {"b": 2}]
