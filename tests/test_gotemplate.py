"""sealer.gotemplate against Go's own text/template + sprig 3.2.3 (tests/gotemplate/render.go, built here):
every case in tests/gotemplate/cases.py and random templates from a small grammar give the same bytes, or both
engines refuse. Then what Go cannot show: the budget, the error wording, and SealedSecret templates end to end.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from sealer import gotemplate
from sealer.errors import InputError
from sealer.gotemplate.values import StrMap
from sealer.io import manifests
from sealer.sealed import sealedsecret as sealed
from tests.gotemplate import reference
from tests.gotemplate.cases import CASES, DATA
from tests.keypairs import KeyPair

HERE = Path(__file__).parent / "gotemplate"
needs_go = pytest.mark.skipif(reference.missing() is not None, reason=reference.missing() or "")


def as_go_data(data: Any) -> Any:
    """The Python side of a case's data: a map of strings, or JSON decoded as Go decodes it (float64 numbers)."""
    if isinstance(data, tuple):
        return json.loads(json.dumps(data[1]), parse_int=float)
    return StrMap(data)


def ours(template: str, data: Any) -> bytes | None:
    try:
        return gotemplate.render(template, as_go_data(data))
    except InputError:
        return None


def test_case_list_covers_every_function() -> None:
    text = "\n".join(t for t, _ in CASES)
    unused = [name for name in gotemplate.FUNCS if not re.search(rf"(?<![\w.$]){name}\b", text)]
    assert not unused
    assert len(CASES) >= 300


@needs_go
def test_same_bytes_as_go() -> None:
    expected = reference.run(CASES)
    diffs = []
    for (template, data), want in zip(CASES, expected, strict=True):
        got = ours(template, data)
        if got != want:
            diffs.append(f"{template!r}: go {'refuses' if want is None else want!r}, "
                         f"sealer {'refuses' if got is None else got!r}")
    assert not diffs, "\n".join(diffs)
    assert sum(w is None for w in expected) > 50  # refusals are compared too


# --- random templates from a small grammar --------------------------------------------------------------

_values = st.sampled_from([".user", ".empty", ".missing", ".num", ".csv", ".multi", "1", "0", "-2", "2.5",
                           '"x"', '""', '"a,b"', "true", "false", "nil", "(list 1 \"a\")", "(dict \"k\" 1)",
                           "$", ".", "$v"])
_unary = st.sampled_from(["upper", "lower", "title", "trim", "quote", "squote", "b64enc", "toJson", "len", "not",
                          "empty", "first", "toString", "int", "atoi", "sha1sum", "camelcase", "snakecase",
                          "print", "html", "js", "urlquery", "splitList \",\"", "default \"d\"", "add 1",
                          "repeat 2", "indent 2", "trunc 3", "printf \"%v|%d|%s\"", "eq 1", "ne \"x\"", "lt 1",
                          "and 1", "or 0", "join \"-\"", "sortAlpha", "has 1", "index", "max 3", "ternary 1 2",
                          "cat \"a\"", "contains \"a\"", "replace \"a\" \"b\"", "toStrings", "uniq", "compact"])


@st.composite
def _pipeline(draw: st.DrawFn, depth: int = 0) -> str:
    head = draw(_values) if depth > 1 or draw(st.booleans()) else f"({draw(_pipeline(depth + 1))})"
    stages = draw(st.lists(_unary, max_size=3))
    return " | ".join([head, *stages])


@st.composite
def _template(draw: st.DrawFn, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["text", "action", "action", "if", "range", "with", "var"] if depth < 2
                                    else ["text", "action"]))
        lt, rt = draw(st.sampled_from(["{{", "{{- "])), draw(st.sampled_from(["}}", " -}}"]))
        if kind == "text":
            parts.append(draw(st.sampled_from([" ", "\n", "a", " b \n", "\t"])))
        elif kind == "action":
            parts.append(f"{lt} {draw(_pipeline())} {rt}")
        elif kind == "var":
            parts.append(f"{lt} $v := {draw(_pipeline())} {rt}{draw(_template(depth + 1))}")
        else:
            head = f"$i, $e := {draw(_pipeline())}" if kind == "range" and draw(st.booleans()) else draw(_pipeline())
            orelse = f"{{{{ else }}}}{draw(_template(depth + 1))}" if draw(st.booleans()) else ""
            parts.append(f"{lt} {kind} {head} {rt}{draw(_template(depth + 1))}{orelse}{{{{ end }}}}")
    return "".join(parts)


@needs_go
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_template(), min_size=10, max_size=10))
def test_random_templates_match_go(templates: list[str]) -> None:
    """Each example sends ten templates to Go in one process (a process per template would be slow)."""
    templates = ["{{ $v := 1 }}" + t for t in templates]  # $v is declared, so references to it parse
    cases = [(t, DATA) for t in templates]
    for (template, data), want in zip(cases, reference.run(cases), strict=True):
        note(template)
        assert ours(template, data) == want, template


# --- what only sealer has: a budget, and errors that name the item and the position, never a value -------------

SECRET = "hunter2-PLANTED-9c1"  # sealer:allow (a planted value: must never appear in a message)


@pytest.mark.parametrize(("template", "words"), [
    ('{{ define "x" }}{{ template "x" }}{{ end }}{{ template "x" }}', "nested template calls"),
    ('{{ $l := list 1 2 3 4 5 6 7 8 9 10 }}{{ range $l }}{{ range $l }}{{ range $l }}{{ range $l }}{{ range $l }}'
     '{{ range $l }}{{ end }}{{ end }}{{ end }}{{ end }}{{ end }}{{ end }}', "steps"),
    ('{{ repeat 100000000 "x" }}', "larger than"),
    ('{{ $l := list 1 2 3 4 5 6 7 8 9 10 }}{{ range $l }}{{ range $l }}{{ range $l }}{{ range $l }}'
     '{{ $.password }}{{ end }}{{ end }}{{ end }}{{ end }}', "output larger"),
    # memory, not only output: each refused before the large text exists (checked with tracemalloc below)
    ('{{ printf "%9999999d" 1 }}', "output larger"),
    ('{{ indent 999999999 "a" }}', "larger than"),
    ("{{ (list " + " ".join(['(repeat 1000000 "x")'] * 40) + ") | toJson }}", "functions built more than"),
    ("{{ $l := list }}{{ range $i, $_ := repeat 200 \"x\" | splitList \"\" }}"
     "{{ $l = append $l (repeat 1000000 \"x\") }}{{ end }}{{ len $l }}", "functions built more than"),
    ("{{ $a := repeat 1000000 \"x\" }}{{ list $a $a $a $a $a | toJson }}", "larger than"),
    ("{{ $a := repeat 1000000 \"x\" }}{{ printf \"%v\" (list $a $a $a) }}", "larger than"),
    ("{{ $a := repeat 1000000 \"x\" }}{{ list $a $a $a | join \"\" }}", "larger than"),
    ("{{ $a := repeat 1000000 \"x\" }}{{ cat $a $a $a }}", "larger than"),
])
def test_budget_stops_runaway_templates(template: str, words: str) -> None:
    """A tenant's template is hostile input to a shared controller: no template may run long or make the
    controller allocate much more than a Secret can hold, whatever it asks for."""
    import tracemalloc

    data = StrMap(password="p" * 200)
    tracemalloc.start()
    try:
        with pytest.raises(InputError) as err:
            gotemplate.render(template, data, field="spec.template.data.cfg")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert words in str(err.value)
    assert "spec.template.data.cfg" in str(err.value)
    assert peak < 64 << 20, f"peak {peak >> 20} MiB"


@pytest.mark.parametrize(("template", "where"), [
    ("{{ .password | int | repeat 2 }}", "1:"),
    ("line\n{{ range .password }}{{ end }}", "2:4"),
    ("{{ index .password 99 }}", "1:4"),
    ("{{ .password.x }}", "1:4"),
    ("{{ fail .password }}", "1:4"),
    ("{{ .password | upper | printf \"%d\" | fromJson | len }}", "1:49"),
    ("{{ if .password }}\n  {{ .password | b64dec | atoi | add | index . }}", "2:"),
    ("{{ .password | nope }}", "1:16"),
    ("{{ regexMatch \"(\" .password }}", "1:4"),
    ("{{ $x := .password }}{{ template $x }}", "1:"),
])
def test_errors_name_item_and_position_never_the_value(template: str, where: str) -> None:
    items = {"password": SECRET.encode(), "user": b"admin"}
    with pytest.raises(InputError) as err:
        gotemplate.render_items(template, items, name="cfg", field="spec.template.data.cfg")
    message = str(err.value)
    assert SECRET not in message and "hunter2" not in message
    assert "\n" not in message
    assert message.startswith("spec.template.data.cfg: template ")
    assert f" {where}" in message


def test_parse_is_cached_per_text() -> None:
    text = "{{ .user | upper }}-cache-test"
    gotemplate.render(text, StrMap(user="a"))
    hits = gotemplate._parse.cache_info().hits
    assert gotemplate.render(text, StrMap(user="b")) == b"B-cache-test"
    assert gotemplate._parse.cache_info().hits == hits + 1


# --- SealedSecret templates end to end ------------------------------------------------------------------------

# Bitnami's docs/examples/config-template/secret.yaml
EXAMPLE_ITEMS = {"server1": "foo", "server2": "bar", "database1": "baz"}


def _seal(template_file: Path, kp: KeyPair) -> dict[str, Any]:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "example", "namespace": "default"},
              "stringData": EXAMPLE_ITEMS}
    obj = sealed.seal_secret(secret, kp.cert)
    example = manifests.load_objects(template_file.read_bytes(), str(template_file))[0]
    obj["spec"]["template"]["data"] = example["spec"]["template"]["data"]
    return obj


@needs_go
def test_bitnami_config_template_example(kp2048: KeyPair) -> None:
    """Bitnami's docs/examples/config-template, sealed here and unsealed: the same bytes Go renders."""
    example = HERE / "config-template"
    obj = _seal(example / "sealedsecret.yaml", kp2048)
    secret = sealed.unseal(obj, [kp2048.private])
    got = base64.b64decode(secret["data"]["myconfig.json"])
    template = obj["spec"]["template"]["data"]["myconfig.json"]
    assert reference.run([(template, EXAMPLE_ITEMS)]) == [got]
    config = json.loads(got)
    assert [s["password"] for s in config["Server"]] == ["foo", "bar"]
    assert config["Database"][0]["password"] == "baz"
    assert sorted(secret["data"]) == ["database1", "myconfig.json", "server1", "server2"]


@pytest.mark.parametrize(("value", "expected"), [
    ("literal text", b"literal text"),
    ("{{ .user }}", b"admin"),
    ('{{ index . "user" }}', b"admin"),
    ("{{- .user -}}", b"admin"),
    ("postgres://{{ .user }}:{{ .password | urlquery }}@db/app",
     b"postgres://admin:p%40ss+w%C3%B6rd@db/app"),  # sealer:allow credential (a test value)
    ("{{ .password | b64enc }}", base64.b64encode("p@ss wörd".encode())),
    ("{{ printf \"%s:%s\" .user .password | sha256sum | trunc 8 }}", None),
    ("{{ .missing }}", b"<no value>"),  # what Bitnami's controller writes
])
def test_unseal_renders_template_data(kp2048: KeyPair, value: str, expected: bytes | None) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "prod"},
              "stringData": {"user": "admin", "password": "p@ss wörd"}}
    obj = sealed.seal_secret(secret, kp2048.cert)
    obj["spec"]["template"]["data"] = {"out": value, "password": None}
    data = sealed.unseal(obj, [kp2048.private])["data"]
    assert "password" not in data  # null drops an item, as before
    got = base64.b64decode(data["out"])
    if expected is None:
        import hashlib

        expected = hashlib.sha256("admin:p@ss wörd".encode()).hexdigest()[:8].encode()
    assert got == expected


def test_unseal_refuses_a_bad_template_naming_the_item(kp2048: KeyPair) -> None:
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "prod"},
              "stringData": {"password": SECRET}}
    obj = sealed.seal_secret(secret, kp2048.cert)
    obj["spec"]["template"]["data"] = {"dsn": "user={{ .password | atoi | upper }}"}
    with pytest.raises(InputError) as err:
        sealed.unseal(obj, [kp2048.private])
    assert str(err.value).startswith("spec.template.data.dsn: template failed at 1:")
    assert SECRET not in str(err.value)


def test_engine_is_imported_only_for_real_templates(kp2048: KeyPair, tmp_path: Path) -> None:
    """Literal values and {{ .item }} are answered without loading sealer.gotemplate (start-up time)."""
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "prod"},
              "stringData": {"user": "admin"}}
    obj = sealed.seal_secret(secret, kp2048.cert)
    script = ("import json, sys\nfrom sealer.sealed import keys, sealedsecret as s\n"
              "obj = json.loads(sys.argv[1])\nk = keys.load_private_keys(sys.argv[2])\n"
              "for tmpl in ({'a': 'lit', 'b': '{{ .user }}', 'c': None}, {'a': '{{ .user | upper }}'}):\n"
              "    obj['spec']['template']['data'] = tmpl\n    s.unseal(obj, k)\n"
              "    print('sealer.gotemplate' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", script, json.dumps(obj), str(kp2048.key_path)], check=True,
                         capture_output=True, text=True).stdout.split()
    assert out == ["False", "True"]
