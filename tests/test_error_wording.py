"""User errors are worded by sealer, whichever YAML/JSON library (or version of it) found the problem.

PyYAML's C loader (libyaml), its pure-Python loader and ruamel.yaml word the same problem differently, and
libyaml's releases add errors of their own (its nesting limit turned a test red once). Each bad input below is
parsed by all three; the message a user sees must be the same, must be sealer's, and must not quote the input.
"""

from __future__ import annotations

import json

import pytest
import yaml
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError as RuamelError

from sealer.errors import InputError, json_error_message, yaml_error_message
from sealer.io import manifests, roundtrip
from sealer.sops import stores

PLANT = "s3cr3tPlantedValue"  # sealer:allow (a planted value: must never appear in a message)

BAD_YAML = [
    # (text, sealer's wording)
    (f"a: b: {PLANT}\n", "a ': ' where no mapping value may start"),
    (f"a: 1\n\tb: {PLANT}\n", "a tab, or a character that cannot start a YAML token"),
    (f"a: *x{PLANT}\n", "an alias (*name) with no anchor"),
    (f'a: "{PLANT}\\q"\n', "an unknown escape sequence"),
    (f"a: [1, {PLANT}\n", "a '[' list that is not closed by ']'"),
    (f"a: {{b: {PLANT}\n", "a '{' mapping that is not closed by '}'"),
    (f"a: '{PLANT}\n", "the text ends inside a quoted string"),
    (f"- {PLANT}\nb: 1\n", "indentation does not match"),
    (f"a:\n  b: {PLANT}\n c: 2\n", "indentation does not match"),
    (f"a: {PLANT}\x07\n", "a control character"),
    (f"@{PLANT}: 1\n", "a tab, or a character that cannot start a YAML token"),
]
# Deep nesting: refused by libyaml >= 0.2.6 (PyYAML 6.0.4's wheels), accepted by older ones, a RecursionError in
# pure-Python loaders. sealer refuses it itself, before and after parsing, whichever library is installed.
TOO_DEEP_TEXTS = [
    "a: " + "[" * 1500 + "]" * 1500 + "\n",
    "a: " + "[" * 301 + "]" * 301 + "\n",
    "".join(" " * i + f"k{i}:\n" for i in range(400)) + " " * 400 + "v: 1\n",  # block nesting
]


def _pyyaml(text: str, loader: type) -> BaseException:
    try:
        list(yaml.load_all(text, Loader=loader))
    except (yaml.YAMLError, RecursionError) as e:
        return e
    raise AssertionError("expected an error")


def _ruamel(text: str) -> BaseException:
    try:
        list(YAML(typ="rt").load_all(text))
    except (RuamelError, RecursionError) as e:
        return e
    raise AssertionError("expected an error")


LOADERS = {
    "pyyaml-python": lambda t: _pyyaml(t, yaml.SafeLoader),
    "ruamel": _ruamel,
}
if hasattr(yaml, "CSafeLoader"):
    LOADERS["pyyaml-libyaml"] = lambda t: _pyyaml(t, yaml.CSafeLoader)


@pytest.mark.parametrize(("text", "wording"), BAD_YAML, ids=[w[:30] for _, w in BAD_YAML])
def test_every_yaml_library_gets_sealers_wording(text: str, wording: str) -> None:
    messages = {name: yaml_error_message(load(text)) for name, load in LOADERS.items()}
    for name, message in messages.items():
        assert wording in message, (name, message)
        assert PLANT not in message and "\n" not in message, (name, message)
    # The position comes from the library's mark; where they all report one, the wording before it agrees.
    assert len({m.split(" at line ")[0] for m in messages.values()}) == 1, messages


@pytest.mark.parametrize(("text", "wording"), BAD_YAML, ids=[w[:30] for _, w in BAD_YAML])
def test_product_parsers_word_yaml_errors_alike(text: str, wording: str) -> None:
    """The Kubernetes manifest reader (PyYAML), the comment-keeping editor and the SOPS store (ruamel)."""
    for parse in (lambda d: manifests.parse_documents(d, "f.yaml"), lambda d: roundtrip.load(d, "f.yaml"),
                  lambda d: stores.load(d, "f.yaml", "yaml")):
        with pytest.raises(InputError) as caught:
            parse(text.encode())
        message = str(caught.value)
        assert message.startswith("f.yaml: not valid YAML"), message
        assert wording in message and PLANT not in message, message


@pytest.mark.parametrize("text", TOO_DEEP_TEXTS, ids=["flow-1500", "flow-301", "block-400"])
def test_nesting_limit_is_sealers_whatever_the_library(text: str) -> None:
    parsers = {"manifests (PyYAML)": lambda d: manifests.parse_documents(d, "f.yaml"),
               "roundtrip (ruamel)": lambda d: roundtrip.load(d, "f.yaml"),
               "sops store": lambda d: stores.load(d, "f.yaml", "yaml")}
    for name, parse in parsers.items():
        if name == "sops store" and text.startswith("k0"):
            continue  # the store's own parser reads block nesting without recursion: no limit needed there
        with pytest.raises(InputError) as caught:
            parse(text.encode())
        assert str(caught.value).startswith("f.yaml: not valid YAML/JSON: nested too deeply"), (name, caught.value)


def test_libyamls_own_nesting_error_is_worded_as_sealers() -> None:
    """libyaml 0.2.6's message, as PyYAML 6.0.4 raises it (built here, so the test holds with any libyaml)."""
    error = yaml.scanner.ScannerError("while increasing flow level", None, "exceeded maximum nesting depth",
                                      yaml.error.Mark("<unicode string>", 1003, 0, 1003, None, None))
    assert yaml_error_message(error) == "not valid YAML/JSON: nested too deeply at line 1, column 1004"


def test_duplicate_key_never_quotes_the_values() -> None:
    """ruamel.yaml's own message quotes both values of a duplicated key: a secret, in a Secret manifest."""
    text = f"password: {PLANT}\npassword: {PLANT}2\n"
    message = yaml_error_message(_ruamel(text))
    assert message == "not valid YAML: a key appears twice in one mapping at line 2, column 1"


def test_a_reused_anchor_is_refused_or_ignored_but_never_printed(tmp_path) -> None:
    """PyYAML refuses a reused anchor; ruamel.yaml accepts it (YAML 1.2 does) but warns by printing the lines
    around it. Neither reaches the user's terminal with the values."""
    import subprocess
    import sys

    secret = tmp_path / "s.yaml"
    secret.write_text(f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n  namespace: b\n"
                      f"stringData:\n  a: &x {PLANT}1\n  b: &x {PLANT}2\n")
    recipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
    runs = {verb: subprocess.run([sys.executable, "-m", "sealer", *args, str(secret)], capture_output=True,
                                 text=True, check=False)
            for verb, args in {"encrypt": ["encrypt", "--age", recipient], "lint": ["lint"]}.items()}
    assert "an anchor (&name) is defined twice" in yaml_error_message(_pyyaml(secret.read_text(), yaml.SafeLoader))
    assert runs["encrypt"].returncode == 0, runs["encrypt"].stderr
    for run in runs.values():
        assert PLANT not in run.stderr, run.stderr


def test_an_unknown_library_problem_is_a_syntax_error() -> None:
    error = yaml.YAMLError()
    error.problem = f"some future wording quoting {PLANT}"  # type: ignore[attr-defined]
    assert yaml_error_message(error) == "not valid YAML: syntax error"


@pytest.mark.parametrize(("text", "wording"), [
    ('{"a": 1,}', "a key is not in double quotes (or a trailing ',')"),
    (f'{{"a": "{PLANT}" "b"}}', "a ',' is missing"),
    (f'["{PLANT}"] x', "text after the end of the JSON value"),
    (f'{{"a": "{PLANT}', "a string is not closed"),
    (f'{{"a": "{PLANT}\\q"}}', "an invalid escape sequence"),
])
def test_json_errors_are_sealers_wording(text: str, wording: str) -> None:
    with pytest.raises(json.JSONDecodeError) as caught:
        json.loads(text)
    message = json_error_message(caught.value)
    assert message.startswith(f"not valid JSON: {wording} at line 1, column "), message
    assert PLANT not in message
