"""sops' dotenv and INI stores, against the real `sops` 3.11 binary, in both directions.

Each plaintext is encrypted by sops and by sealer; each tool decrypts both files and must print what sops prints
for its own file. sealer's encrypted layout must be sops' with only ciphertexts, timestamps and (INI: the `[sops]`
section, which sops writes in Go map order) the metadata order differing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sealer.sops.stores import flat
from tests.sops_helpers import ENC_RE, AgeKey, Workspace, make_age_key, needs_sops, ok

pytestmark = needs_sops

PLAIN = {
    "app.env": "# database\nDB_URL=postgres://u:p@h:5432/db?ssl=require\nWITH_EQUALS=a=b=c\n"
               "QUOTED=\"kept as written\"\nEMPTY=\nMULTI=line1\\nline2\nUNICODE=värde ✓\n"
               "TOKEN_unencrypted=visible\n#trailing comment\n",
    "dup.env": "A=1\nA=2\n",
    "app.ini": "; top comment\nname = global\n\n[database]\n# hash comment\nurl = postgres://u:p@h/db?a=b\n"
               "empty =\nport: 5432\nspaced = \"  padded  \"\nhash = a#b ; inline\ncontinued = one \\\n  two\n"
               "block = \"\"\"l1\nl2\"\"\"\n`k=v` = quoted key\npassword_unencrypted = clear\n\n[empty section]\n",
    "dup.ini": "[s]\na=1\n[s]\nb=3\n[DEFAULT]\nc=4\n",  # a repeated section is kept; a repeated key is refused
    "block.ini": "; first line of a block\n; second line, also secret\n[sec]\nkey = value\n",
}


def test_an_ini_comment_block_is_one_encrypted_value(ws: tuple[Workspace, AgeKey]) -> None:
    """sops encrypts consecutive comment lines as one comment: no line of the block stays in clear."""
    w, key = ws
    for tool in ("sops", "sealer"):
        text = _encrypt(w, key, tool, "block.ini").read_text()
        assert "second line" not in text and len(re.findall(r"^; ENC\[", text, re.M)) == 1, (tool, text)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, AgeKey]:
    root = tmp_path_factory.mktemp("flatstores")
    w = Workspace(root)
    for name, text in PLAIN.items():
        w.write(name, text)
    return w, make_age_key(root / "keys", "k")


def _encrypt(ws: Workspace, key: AgeKey, tool: str, name: str) -> Path:
    run = ws.sealer if tool == "sealer" else ws.sops
    out = f"{tool}.{name}"
    ok(run("encrypt", "--age", key.recipient, "--output", out, name, key=key))
    return ws.files / out


def _mask(text: str) -> list[str]:
    text = ENC_RE.sub("ENC", text)
    text = re.sub(r"(lastmodified *=).*", r"\1 T", text)
    text = re.sub(r"(__map_enc *=).*", r"\1 X", text)
    return sorted(text.splitlines()) if "[sops]" in text else text.splitlines()


@pytest.mark.parametrize("name", sorted(PLAIN))
def test_round_trips_both_ways_with_sops(ws: tuple[Workspace, AgeKey], name: str) -> None:
    w, key = ws
    by_sops, by_sealer = _encrypt(w, key, "sops", name), _encrypt(w, key, "sealer", name)
    want = ok(w.sops("decrypt", by_sops.name, key=key))
    assert ok(w.sops("decrypt", by_sealer.name, key=key)) == want  # sops verified sealer's MAC
    assert ok(w.sealer("decrypt", by_sops.name, key=key)) == want
    assert ok(w.sealer("decrypt", by_sealer.name, key=key)) == want
    if name.endswith(".env"):
        assert want == PLAIN[name]  # sops' dotenv store gives the input back byte for byte
    assert _mask(by_sealer.read_text()) == _mask(by_sops.read_text())
    if name.startswith("app."):  # comments are encrypted, as sops encrypts them
        assert "type:comment" in by_sealer.read_text() and "hash comment" not in by_sealer.read_text()


def test_ini_written_as_go_ini_pretty_prints(ws: tuple[Workspace, AgeKey]) -> None:
    w, key = ws
    text = ok(w.sealer("decrypt", _encrypt(w, key, "sealer", "app.ini").name, key=key))
    assert text == ("; top comment\nname = global\n\n[database]\n; hash comment\n"
                    "url                  = postgres://u:p@h/db?a=b\nempty                = \n"
                    "port                 = 5432\nspaced               = \"  padded  \"\n; b ; inline\n"
                    "hash                 = a\ncontinued            = one two\n"
                    "block                = \"\"\"l1\nl2\"\"\"\n"
                    "`k=v`                = quoted key\npassword_unencrypted = clear\n\n[empty section]\n")


def test_dotenv_metadata_is_flattened_sops_keys(ws: tuple[Workspace, AgeKey]) -> None:
    w, key = ws
    lines = _encrypt(w, key, "sealer", "app.env").read_text().splitlines()
    meta = [line.split("=", 1)[0] for line in lines if line.startswith("sops_")]
    assert meta == sorted(meta) and "sops_age__list_0__map_recipient" in meta and "sops_mac" in meta
    assert "TOKEN_unencrypted=visible" in lines and "EMPTY=" in lines
    assert lines[0].startswith("#ENC[AES256_GCM,") and lines[0].endswith(",type:comment]")


@pytest.mark.parametrize("name", ["app.env", "app.ini"])
def test_one_byte_tampering_refused_by_both(ws: tuple[Workspace, AgeKey], name: str) -> None:
    w, key = ws
    for tool in ("sops", "sealer"):
        text = _encrypt(w, key, tool, name).read_text()
        m = next(m for m in ENC_RE.finditer(text) if m.group(4) == "str" and len(m.group(1)) > 4)
        data = m.group(1)
        flipped = ("B" if data[0] == "A" else "A") + data[1:]
        bad = w.write(f"tampered.{tool}.{name}", text[:m.start(1)] + flipped + text[m.end(1):])
        assert w.sops("decrypt", bad.name, key=key).returncode != 0
        res = w.sealer("decrypt", "--output", "out." + name, bad.name, key=key)
        assert res.returncode != 0 and not (w.files / ("out." + name)).exists()


@pytest.mark.parametrize(("name", "text", "why"), [
    ("nul.env", "A=1\nB=x\x00y\n", "NUL byte"),
    ("nul.ini", "[s]\na=x\x00\n", "NUL byte"),
    ("noeq.env", "A=1\njust words\n", "no '='"),
    ("unclosed.ini", "[s\na=1\n", "unclosed section"),
    ("nodelim.ini", "[s]\nflag\n", "key-value delimiter ('=' or ':') not found on line 2"),
    ("dupkey.ini", "[s]\na=1\na=2\n", "key 'a' appears twice in section [s]"),
    ("emptykey.ini", "[s]\n=1\n", "empty key name"),
    ("openquote.ini", "[s]\na = \"\"\"never closed\nb = 2\n", "missing closing"),
])
def test_malformed_input_one_line_error_no_output(ws: tuple[Workspace, AgeKey], name: str, text: str,
                                                  why: str) -> None:
    w, key = ws
    w.write(name, text)
    res = w.sealer("encrypt", "--age", key.recipient, "--output", "enc." + name, name, key=key)
    assert res.returncode != 0 and why in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert not (w.files / ("enc." + name)).exists()
    assert w.sops("encrypt", "--age", key.recipient, name, key=key).returncode != 0 or name.startswith(("nul", "dup"))


def test_input_type_overrides_the_file_name(ws: tuple[Workspace, AgeKey]) -> None:
    w, key = ws
    w.write("settings.conf", "[s]\na = 1\n")
    res = ok(w.sealer("encrypt", "--input-type", "ini", "--output-type", "ini", "--age", key.recipient,
                      "settings.conf", key=key))
    assert "[sops]" in res
    w.write("enc.settings.conf", res)
    assert ok(w.sops("decrypt", "--input-type", "ini", "--output-type", "ini", "enc.settings.conf",
                     key=key)) == "[s]\na = 1\n"


def test_flat_metadata_round_trip() -> None:
    meta = {"key_groups": [{"age": [{"recipient": "r1", "enc": "a\nb\n"}]}, {"pgp": [{"fp": "F"}]}],
            "shamir_threshold": 2, "mac_only_encrypted": True, "lastmodified": "T", "version": "3.11.0"}
    flattened = flat.flatten(meta)
    assert flattened["key_groups__list_0__map_age__list_0__map_enc"] == "a\\nb\\n"
    assert flattened["shamir_threshold"] == "2" and flattened["mac_only_encrypted"] == "true"
    assert list(flattened) == sorted(flattened)
    assert flat.unflatten(flattened, "x") == meta
