"""Assignments in every common file shape (the shapes gitleaks samples its rules in): a credential assigned to a
sensitive name, or to a service's setting (`datadog...`), is found whether it is written as INI, JSON, escaped
JSON, XML, YAML (block scalars too), C#, Go (typed, short, backticks), Java (`setProperty`), Kotlin, PHP `.=`,
Python, logstash or Make (`=`, `:=`, `::=`, `:::=`, `?=`, `+=`); look-alike shapes are not findings. Values
are random, made at test time."""

from __future__ import annotations

import secrets
import string

import pytest

from sealer.lint.context import Options
from sealer.lint.scan import scan_text

# (file name, template): {i} is the setting's stem, {s} the value
SHAPES: tuple[tuple[str, str], ...] = (
    ("app.ini", '{i}Token="{s}"\n'),
    ("app2.ini", "{i}Token = {s}\n"),
    ("app.json", '{{\n    "{i}_token": "{s}"\n}}\n'),
    ("escaped.txt", '"{{\\n    \\"{i}_token\\": \\"{s}\\"\\n}}"\n'),
    ("one.xml", "<{i}Token>{s}</{i}Token>\n"),
    ("multi.xml", "<{i}Token>\n    {s}\n</{i}Token>\n"),
    ("plain.yaml", "{i}_token: {s}\n"),
    ("single.yaml", "{i}_token: '{s}'\n"),
    ("double.yaml", '{i}_token: "{s}"\n'),
    ("literal.yaml", "{i}_token: |\n  {s}\n"),
    ("folded.yaml", "{i}_token: >\n  {s}\n"),
    ("App.cs", 'string {i}Token = "{s}";\n'),
    ("typed.go", 'var {i}Token string = "{s}"\n'),
    ("short.go", '{i}Token := "{s}"\n'),
    ("raw.go", "{i}Token := `{s}`\n"),
    ("App.java", 'String {i}Token = "{s}";\n'),
    ("Props.java", 'props.setProperty("{i}Token", "{s}");\n'),
    ("app.kt", 'var {i}Token = "{s}"\n'),
    ("typed.kt", 'val {i}Token: String = "{s}"\n'),
    ("concat.php", '${i}Token .= "{s}";\n'),
    ("define.php", "define('{i}_TOKEN', '{s}');\n"),
    ("coalesce.php", '${i}Token ??= "{s}";\n'),
    ("single.py", "{i}Token = '{s}'\n"),
    ("double.py", '{i}Token = "{s}"\n'),
    ("logstash.conf", '  "{i}Token" => "{s}"\n'),
    ("recursive.mk", '{i}_TOKEN = "{s}"\n'),
    ("simple.mk", '{i}_TOKEN := "{s}"\n'),
    ("shell.mk", '{i}_TOKEN ::= "{s}"\n'),
    ("evaluated.mk", '{i}_TOKEN :::= "{s}"\n'),
    ("conditional.mk", '{i}_TOKEN ?= "{s}"\n'),
    ("append.mk", '{i}_TOKEN += "{s}"\n'),
    ("rows.csv", "name,value,\n{i}Token,{s},\n"),
)


def _random(alphabet: str, n: int) -> str:
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(n))
        if any(c.isdigit() for c in value) and any(c.isalpha() for c in value):
            return value


def credential_detectors(path: str, text: str) -> set[str]:
    return {f.detector for f in scan_text(path, None, text, Options()) if f.rule == "credential"}


@pytest.mark.parametrize(("path", "template"), SHAPES, ids=[s[0] for s in SHAPES])
def test_generic_assignment_in_every_shape(path, template):
    value = _random(string.ascii_letters + string.digits, 24)
    found = credential_detectors(path, template.format(i="service", s=value))
    assert found & {"generic-assignment", "sensitive-key"}, found


@pytest.mark.parametrize(("path", "template"), SHAPES, ids=[s[0] for s in SHAPES])
def test_service_family_in_every_shape(path, template):
    """A family without a token prefix (Datadog: 32 hex characters) needs its service's name before the value."""
    value = _random("0123456789abcdef", 32)
    assert "datadog-key" in credential_detectors(path, template.format(i="datadog", s=value))


LOOKALIKES: tuple[tuple[str, str], ...] = (
    # a `>` that is not an XML element holding the value
    ("docs.md", "Use `redis://:<password>@redis:6379/0` as the URL.\n"),
    ("page.html", '<input type="password" name="password">Enter it here\n'),
    ("open.xml", "<password>\n  <nested>{s}</nested>\n</password>\n"),
    # `"name", "value"` outside a setter: tuples, lists, other calls
    ("kinds.py", 'if kind not in ("Secret", "ConfigMap"):\n'),
    ("table.py", '_f("1password-secret-key", "1password-secret-key", "A3-")\n'),
    ("args.yaml", 'args: ["get-token", "--oidc-issuer-url=https://issuer.invalid/{s}"]\n'),
    # an unquoted right-hand side in code is an expression, also after a type or a Make-style operator
    ("expr.go", "var apiToken string = loadToken({s})\n"),
    ("expr.py", "token = make_token()\n"),
    # YAML: a mapping under a sensitive name is structure, not a value on the next line
    ("nested.yaml", "secrets:\n  dbPasswordRef: {s}\n"),
    # a comma after a name is a CSV row only when the name opens the line
    ("call.txt", "register(token, {s})\n"),
    ("flow.yaml", "kinds: [password, {s}]\n"),
    # comparisons are not assignments
    ("cmp.py", 'if token == "{s}":\n    pass\n'),
)


@pytest.mark.parametrize(("path", "template"), LOOKALIKES, ids=[s[0] for s in LOOKALIKES])
def test_lookalike_shapes_are_not_findings(path, template):
    value = _random(string.ascii_letters + string.digits, 24)
    assert credential_detectors(path, template.format(s=value)) == set()


@pytest.mark.parametrize("value", ["0123456789012345", "abcdefghijk0123", "ABCDEFGHIJKLMNOP"])
def test_sequential_samples_are_not_credentials(value):
    for path, template in (("a.yaml", "asana_token: '{s}'\n"), ("c.xml", "<asanaToken>{s}</asanaToken>\n")):
        assert credential_detectors(path, template.format(s=value)) == set()


def test_a_typed_password_with_a_short_run_is_still_one():
    assert credential_detectors("app.ini", "password = Tr0ub4dor&abcdef\n") == {"generic-assignment"}


def test_private_key_with_its_newlines_stripped():
    body = "".join(secrets.choice(string.ascii_letters + string.digits + "+/") for _ in range(400))
    one_line = f'PRIVATE_KEY="-----BEGIN PRIVATE KEY-----{body}-----END PRIVATE KEY-----"\n'
    assert "private-key" in credential_detectors("app.env", one_line)
    header_only = 'echo "-----BEGIN PRIVATE KEY----- goes first, -----END PRIVATE KEY----- last"\n'
    assert "private-key" not in credential_detectors("doc.sh", header_only)


def test_a_dotted_token_is_a_value_and_a_dotted_name_is_not():
    part = _random("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 20)
    assert credential_detectors("app.ini", f"accessToken={part}.PGz.{part[::-1]}\n") == {"generic-assignment"}
    for name in ("settings.AWS_SECRET_KEY2", "config.secretKey", "os.environ.token"):
        assert credential_detectors("app.ini", f"token = {name}\n") == set()
