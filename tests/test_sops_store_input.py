"""Bad input for every SOPS store, through `sealer encrypt` and `sealer decrypt` as a user runs them.

Each refusal is one line (`sealer: error: FILE: [FIELD: ]what`), exit 2 (README "Exit codes"), no traceback,
nothing on stdout, never the text of the offending line (it may be a secret), and with `-o` / `-i` no new, partial
or changed file. Where sops accepts an input, sealer follows it unless sops would lose data without a word:

- duplicate keys: dotenv and JSON keep both entries, as sops does (nothing lost); YAML is refused by both; INI is
  refused by sealer only (go-ini, and so sops, keeps the last value and drops the others silently);
- NUL bytes and bytes that are not UTF-8 are refused in the text stores (sops takes them in dotenv and INI) and
  kept exactly in the binary store;
- 50 MB: a 50 MB value (one line) and a 50 MB file of long lines round-trip in each store in seconds; the
  encrypted file of a 50 MB value is ~70 MB, over the default 64 MiB input limit, which decrypt names.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sealer.errors import EXIT_INPUT
from tests.sops_helpers import AgeKey, Workspace, make_age_key, needs_sops, ok

pytestmark = needs_sops

MB = 1024 * 1024
PLANT = "PLANTED-4f1e-secret"


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, AgeKey]:
    root = tmp_path_factory.mktemp("store-input")
    return Workspace(root), make_age_key(root / "keys", "k")


# (file name, content, words the message must have, field it must name or None)
REFUSED: list[tuple[str, bytes, str, str | None]] = [
    ("unclosed.ini", f"[s\na={PLANT}\n".encode(), "unclosed section header ('[' without ']') on line 1", None),
    ("emptysection.ini", b"[]\na=1\n", "empty section name on line 1", None),
    ("nodelim.ini", f"[s]\na=1\n{PLANT}\n".encode(), "key-value delimiter ('=' or ':') not found on line 3", None),
    ("emptykey.ini", f"[s]\n={PLANT}\n".encode(), "empty key name on line 2", None),
    ("openquote.ini", f'[s]\npw = """{PLANT}\nb = 2\n'.encode(), 'missing closing """ of the value that starts on '
                                                                  "line 2", "s.pw"),
    ("dupkey.ini", f"[db]\npassword = {PLANT}\nuser = u\npassword = other\n".encode(),
     "key 'password' appears twice in section [db] (again on line 4)", "db.password"),
    ("noeq.env", f"A=1\n{PLANT}\n".encode(), "invalid dotenv input on line 2: no '='", None),
    ("dupkey.yaml", f"a: {PLANT}\na: 2\n".encode(), "a key appears twice in one mapping ('a') at line 2", None),
    ("nul.env", f"A={PLANT}\x00\n".encode(), "cannot hold a NUL byte", None),
    ("nul.ini", f"[s]\na={PLANT}\x00\n".encode(), "cannot hold a NUL byte", None),
    ("nul.yaml", f'a: "{PLANT}\x00"\n'.encode(), "not valid YAML: a control character", None),
    ("nul.json", f'{{"a": "{PLANT}\x00"}}\n'.encode(), "not valid JSON: a control character inside a string", None),
    ("latin1.env", f"A={PLANT}\xe9\n".encode("latin-1"), "not UTF-8 text", None),
    ("latin1.ini", f"[s]\na={PLANT}\xe9\n".encode("latin-1"), "not UTF-8 text", None),
    ("latin1.yaml", f"a: {PLANT}\xe9\n".encode("latin-1"), "not UTF-8 text", None),
    ("latin1.json", f'{{"a": "{PLANT}\xe9"}}\n'.encode("latin-1"), "not UTF-8 text", None),
    ("deep.json", b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}\n", "nested too deeply", None),
    ("deep.yaml", b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested too deeply", None),
    ("deepblock.yaml", "".join("  " * i + "a:\n" for i in range(3000)).encode() + b"  " * 3000 + b"a: 1\n",
     "nested too deeply", None),
]


def _refused(res, name: str, words: str, field: str | None) -> None:
    assert res.returncode == EXIT_INPUT, (res.returncode, res.stderr)
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert lines[0].startswith(f"sealer: error: {name}: "), lines[0]
    assert words in lines[0], lines[0]
    if field is not None:
        assert lines[0].startswith(f"sealer: error: {name}: {field}: "), lines[0]
    assert PLANT not in res.stderr


@pytest.mark.parametrize("command", ["encrypt", "decrypt"])
@pytest.mark.parametrize(("name", "content", "words", "field"), REFUSED, ids=[r[0] for r in REFUSED])
def test_bad_input_one_line_error_and_no_file(ws: tuple[Workspace, AgeKey], command: str, name: str, content: bytes,
                                              words: str, field: str | None) -> None:
    w, key = ws
    here = w.files / f"{command}-{name.replace('.', '-')}"
    here.mkdir()
    src, target = here / name, here / f"out-{name}"
    src.write_bytes(content)
    target.write_bytes(b"old content\n")
    args = ["--age", key.recipient] if command == "encrypt" else []
    _refused(w.sealer(command, *args, "--output", target.name, src.name, key=key, cwd=here), src.name, words, field)
    assert target.read_bytes() == b"old content\n"
    _refused(w.sealer(command, *args, "-i", src.name, key=key, cwd=here), src.name, words, field)
    assert src.read_bytes() == content
    assert sorted(p.name for p in here.iterdir()) == sorted([src.name, target.name])  # no temp file left


def test_sops_refuses_what_sealer_refuses_in_yaml_and_json(ws: tuple[Workspace, AgeKey]) -> None:
    """The YAML/JSON refusals are sops' too (but sops reads JSON nested up to 10,000 deep; sealer stops at 300);
    the INI duplicate and the dotenv/INI NUL and non-UTF-8 ones are sealer's choices (see the module docstring)."""
    w, key = ws
    for name in ("dupkey.yaml", "nul.yaml", "nul.json"):
        content = next(c for n, c, _, _ in REFUSED if n == name)
        w.write(f"sops-{name}", content)
        assert w.sops("encrypt", "--age", key.recipient, f"sops-{name}", key=key).returncode != 0, name


def test_ini_duplicate_key_sops_would_drop_silently(ws: tuple[Workspace, AgeKey]) -> None:
    """Why sealer refuses it: sops encrypts the file without a word and decrypts it with the first value gone."""
    w, key = ws
    w.write("dup-by-sops.ini", "[s]\na = first\na = second\n")
    enc = ok(w.sops("encrypt", "--age", key.recipient, "dup-by-sops.ini", key=key))
    w.write("dup-by-sops.enc.ini", enc)
    assert ok(w.sops("decrypt", "dup-by-sops.enc.ini", key=key)) == "[s]\na = second\n"


@pytest.mark.parametrize(("name", "text"), [
    ("dup.env", "A=first\nB=2\nA=second\n"),
    ("dup.json", '{"a": "first", "b": 2, "a": "second"}'),
    ("dupsection.ini", "[s]\na = 1\n\n[s]\nb = 2\n"),
])
def test_duplicates_sops_keeps_are_kept(ws: tuple[Workspace, AgeKey], name: str, text: str) -> None:
    """Repeated dotenv keys and JSON keys, and repeated INI sections: sops keeps every entry, and so does sealer, in
    both directions."""
    w, key = ws
    w.write(name, text)
    ok(w.sealer("encrypt", "--age", key.recipient, "-o", f"sealer.{name}", name, key=key))
    ok(w.sops("encrypt", "--age", key.recipient, "--output", f"sops.{name}", name, key=key))
    want = ok(w.sops("decrypt", f"sops.{name}", key=key))
    assert "first" in want or name.endswith(".ini")
    assert ok(w.sops("decrypt", f"sealer.{name}", key=key)) == want
    assert ok(w.sealer("decrypt", f"sops.{name}", key=key)) == want


# --- 50 MB -------------------------------------------------------------------------------------------------------

def _big(ext: str, line_bytes: int, total: int) -> bytes:
    """About ``total`` bytes of a plaintext file of the store for ``ext``, in lines (values) of ``line_bytes``."""
    n = max(total // line_bytes, 1)
    value = "x" * line_bytes
    if ext == "env":
        return "".join(f"K{i}={value}\n" for i in range(n)).encode()
    if ext == "ini":
        return ("[s]\n" + "".join(f"k{i} = {value}\n" for i in range(n))).encode()
    if ext == "yaml":
        return "".join(f"k{i}: {value}\n" for i in range(n)).encode()
    if ext == "json":
        return ("{" + ", ".join(f'"k{i}": "{value}"' for i in range(n)) + "}\n").encode()
    return bytes(range(256)) * (total // 256)


def _content(ext: str, data: bytes) -> object:
    """What a file holds, for the stores that re-layout it (JSON is re-indented, INI's `=` aligned)."""
    if ext == "json":
        return json.loads(data)
    if ext == "yaml":
        import yaml

        return yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if ext == "ini":
        return [tuple(part.strip() for part in line.split("=", 1)) for line in data.decode().splitlines() if line]
    return data


@pytest.mark.parametrize(("ext", "line_bytes"), [("env", 50 * MB), ("ini", 50 * MB), ("yaml", 50 * MB),
                                                 ("json", 50 * MB), ("bin", 50 * MB), ("env", 50_000)])
def test_fifty_megabytes_round_trip(ws: tuple[Workspace, AgeKey], ext: str, line_bytes: int) -> None:
    """A 50 MB value on one line, or a 50 MB file of 50 kB lines: encrypted and decrypted back exactly (each takes
    seconds and ~0.4 GB; a 50 MB file of 870,000 short keys takes ~40 s and ~1 GB, linear in the keys)."""
    w, key = ws
    name = f"big-{line_bytes}.{ext}"
    content = _big(ext, line_bytes, 50 * MB)
    w.write(name, content)
    ok(w.sealer("encrypt", "--age", key.recipient, "-o", f"enc.{name}", name, key=key))
    assert (w.files / f"enc.{name}").stat().st_size > 64 * MB or line_bytes < MB
    if ext == "yaml":  # sops (go-yaml) never folds a line: the ENC value stays on its key's line
        with open(w.files / f"enc.{name}", "rb") as f:
            assert f.read(8) == b"k0: ENC["
    ok(w.sealer("decrypt", "-o", f"dec.{name}", f"enc.{name}", key=key, SEALER_MAX_INPUT="128M"))
    assert _content(ext, (w.files / f"dec.{name}").read_bytes()) == _content(ext, content)
    for p in (name, f"enc.{name}", f"dec.{name}"):
        (w.files / p).unlink()


def test_over_the_input_limit_names_the_knob(ws: tuple[Workspace, AgeKey]) -> None:
    w, key = ws
    w.write("limit.env", b"A=" + b"x" * (2 * MB) + b"\n")
    res = w.sealer("encrypt", "--age", key.recipient, "--output", "limit.enc.env", "limit.env", key=key,
                   SEALER_MAX_INPUT="1M")
    _refused(res, "limit.env", "input larger than the 1 MiB limit (raise it with SEALER_MAX_INPUT", None)
    assert not Path(w.files / "limit.enc.env").exists()
