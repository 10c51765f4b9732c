"""sops' binary store and the small JSON-store rules, against the real `sops` 3.11 binary.

A file whose name is not YAML/JSON (or any file under --input-type binary) is one value, `data`, in a JSON
envelope; decrypt gives the file's bytes back. Each direction is checked byte for byte through output files (a
text-mode pipe would fold CRLF).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sops_helpers import ENC_RE, AgeKey, Workspace, edit_spec, make_age_key, needs_sops, ok, write_editor

pytestmark = needs_sops

CONTENTS = {
    "plain.txt": b"Welcome to SOPS!\n\nline two: with a colon, # and a hash\n",
    "no_newline.txt": "no trailing newline ✓".encode(),
    "nul.bin": b"\x00\x01\x02 NUL bytes \x00 and tabs\t\r\n\x7f",
    "bom.conf": b"\xef\xbb\xbfstarts with a BOM\r\nand CRLF\r\n",
    "empty.bin": b"",
    "raw.bin": bytes(range(256)) + b"\xff\xfe not UTF-8 \xc3",
    "yaml-looking.txt": b"key: value\nlist:\n  - 1\n",
    "json-looking.txt": b'{"a": 1}\n',
}


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, AgeKey]:
    root = tmp_path_factory.mktemp("binary")
    return Workspace(root), make_age_key(root / "keys", "k")


def _encrypt(ws: Workspace, key: AgeKey, tool: str, name: str, out: str, *extra: str) -> Path:
    run = ws.sealer if tool == "sealer" else ws.sops
    ok(run("encrypt", "--age", key.recipient, *extra, "--output", out, name, key=key))
    return ws.files / out


def _decrypt(ws: Workspace, key: AgeKey, tool: str, name: str, out: str, *extra: str) -> bytes:
    run = ws.sealer if tool == "sealer" else ws.sops
    target = ws.files / out
    target.unlink(missing_ok=True)
    ok(run("decrypt", *extra, "--output", out, name, key=key))
    return target.read_bytes()


@pytest.mark.parametrize("name", sorted(CONTENTS))
@pytest.mark.parametrize(("writer", "reader"), [("sealer", "sops"), ("sops", "sealer"), ("sealer", "sealer")])
def test_round_trip(ws: tuple[Workspace, AgeKey], name: str, writer: str, reader: str) -> None:
    w, key = ws
    stem, ext = name.rsplit(".", 1)
    w.write(name, CONTENTS[name])
    enc = _encrypt(w, key, writer, name, f"{stem}.{writer}.enc.{ext}")
    envelope = json.loads(enc.read_text())
    assert list(envelope) == ["data", "sops"]  # the JSON store's envelope, as sops writes it
    assert enc.read_text().endswith("}\n") and "\n\t\"data\": " in enc.read_text()
    if CONTENTS[name]:
        assert ENC_RE.fullmatch(envelope["data"]) and envelope["data"].endswith("type:str]")
    else:
        assert envelope["data"] == ""  # sops leaves an empty string unencrypted; the file still opens
    assert _decrypt(w, key, reader, enc.name, f"{stem}.{writer}-{reader}.out") == CONTENTS[name]


def test_sealer_output_is_what_sops_prints(ws: tuple[Workspace, AgeKey]) -> None:
    """Not the JSON wrapper: the raw text, on stdout too, exit 0."""
    w, key = ws
    w.write("hello.txt", "héllo\nworld\n")
    _encrypt(w, key, "sops", "hello.txt", "hello.enc.txt")
    assert ok(w.sealer("decrypt", "hello.enc.txt", key=key)) == ok(w.sops("decrypt", "hello.enc.txt", key=key))
    assert ok(w.sealer("decrypt", "hello.enc.txt", key=key)) == "héllo\nworld\n"
    assert ok(w.sealer("decrypt", "--extract", '["data"]', "hello.enc.txt", key=key)) == "héllo\nworld\n"


def test_input_type_binary_on_a_yaml_name(ws: tuple[Workspace, AgeKey]) -> None:
    w, key = ws
    text = b"# a comment sops would drop\nkey:   value   \n"
    w.write("forced.yaml", text)
    # the output type follows the input's file name unless given, as in sops: ask for the binary store's envelope
    _encrypt(w, key, "sealer", "forced.yaml", "forced.enc.json", "--input-type", "binary", "--output-type", "binary")
    assert list(json.loads((w.files / "forced.enc.json").read_text())) == ["data", "sops"]
    got = _decrypt(w, key, "sops", "forced.enc.json", "forced.sops.out", "--input-type", "binary",
                   "--output-type", "binary")
    assert got == text
    assert _decrypt(w, key, "sealer", "forced.enc.json", "forced.sealer.out", "--input-type", "binary",
                    "--output-type", "binary") == text


def test_tampering_refused_by_both_and_nothing_written(ws: tuple[Workspace, AgeKey]) -> None:
    w, key = ws
    w.write("tamper.txt", "secret text\n")
    enc = _encrypt(w, key, "sealer", "tamper.txt", "tamper.enc.txt")
    envelope = json.loads(enc.read_text())
    data = envelope["data"]
    i = data.index("data:") + 6
    envelope["data"] = data[:i] + ("A" if data[i] != "A" else "B") + data[i + 1:]
    w.write("tampered.txt", json.dumps(envelope, indent="\t") + "\n")
    out = w.files / "tampered.out"
    bad = w.sealer("decrypt", "--output", "tampered.out", "tampered.txt", key=key)
    assert bad.returncode != 0 and bad.stdout == "" and not out.exists()
    assert len(bad.stderr.strip().splitlines()) == 1
    assert w.sops("decrypt", "tampered.txt", key=key).returncode != 0


def test_bad_envelope_refused_in_one_line_with_nothing_written(ws: tuple[Workspace, AgeKey]) -> None:
    w, key = ws
    w.write("env.txt", "some text\n")
    enc = _encrypt(w, key, "sealer", "env.txt", "env.enc.txt")
    doc = json.loads(enc.read_text())
    for broken in ({"sops": doc["sops"]}, {"data": 5, "sops": doc["sops"]}):
        w.write("broken.txt", json.dumps(broken, indent="\t") + "\n")
        bad = w.sealer("decrypt", "--output", "broken.out", "broken.txt", key=key)
        assert bad.returncode != 0 and bad.stdout == "" and not (w.files / "broken.out").exists()
        assert len(bad.stderr.strip().splitlines()) == 1 and "internal error" not in bad.stderr
        assert w.sops("decrypt", "broken.txt", key=key).returncode != 0


def test_json_final_newline_and_extract_of_a_list(ws: tuple[Workspace, AgeKey]) -> None:
    """sops ends a JSON file with a newline whatever the input did; a list or number printed alone has none."""
    w, key = ws
    w.write("nonl.json", '{\n\t"list": [\n\t\t1,\n\t\t"two"\n\t],\n\t"n": 2.5,\n\t"m": {"k": "v"}\n}')
    for tool in ("sealer", "sops"):
        assert _encrypt(w, key, tool, "nonl.json", f"nonl.{tool}.enc.json").read_text().endswith("}\n")
    for enc in ("nonl.sealer.enc.json", "nonl.sops.enc.json"):
        assert ok(w.sealer("decrypt", enc, key=key)) == ok(w.sops("decrypt", enc, key=key))
        assert ok(w.sealer("decrypt", enc, key=key)).endswith("}\n")
        for path in ('["list"]', '["n"]', '["m"]', '["list"][1]'):
            mine = ok(w.sealer("decrypt", "--extract", path, enc, key=key))
            assert mine == ok(w.sops("decrypt", "--extract", path, enc, key=key)), path
        assert ok(w.sealer("decrypt", "--extract", '["list"]', enc, key=key)).endswith("]")


@pytest.mark.parametrize("name", ["nomac.yaml", "nomac.json"])
def test_ignore_mac_opens_a_file_without_a_mac(ws: tuple[Workspace, AgeKey], name: str) -> None:
    w, key = ws
    w.write(name, "a: 1\nb: text\n" if name.endswith(".yaml") else '{"a": 1, "b": "text"}\n')
    enc = _encrypt(w, key, "sealer", name, f"enc.{name}")
    lines = [line for line in enc.read_text().splitlines(keepends=True) if "mac" not in line.split(":")[0]]
    if name.endswith(".json"):  # the entry before the removed "mac" may now end in a comma
        doc = json.loads(enc.read_text())
        del doc["sops"]["mac"]
        enc.write_text(json.dumps(doc, indent="\t") + "\n")
    else:
        enc.write_text("".join(lines))
    assert "ENC[" in enc.read_text() and '"mac"' not in enc.read_text() and "\n    mac:" not in enc.read_text()
    refused = w.sealer("decrypt", enc.name, key=key)
    assert refused.returncode != 0 and refused.stdout == "" and "mac" in refused.stderr
    mine = ok(w.sealer("decrypt", "--ignore-mac", enc.name, key=key))
    assert mine == ok(w.sops("decrypt", "--ignore-mac", enc.name, key=key))
    assert "text" in mine


def test_edit_a_binary_file_then_sops_reads_it(ws: tuple[Workspace, AgeKey]) -> None:
    w, key = ws
    w.write("notes.txt", "first line\nsecond line\n")
    enc = _encrypt(w, key, "sops", "notes.txt", "notes.enc.txt")
    editor = write_editor(w.root)
    ok(w.sealer("edit", enc.name, key=key, **editor, TEST_EDIT_SPEC=edit_spec(replace=[["second", "2nd"]])))
    assert list(json.loads(enc.read_text())) == ["data", "sops"]
    assert _decrypt(w, key, "sops", enc.name, "notes.out") == b"first line\n2nd line\n"
