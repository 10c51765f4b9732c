"""SopsSecret scopes (spec.binding): written by `sealer encrypt --kind sopssecret`, kept by every verb of sealer and
of the real sops binary, checked by the controller's pure decision (`controller.sopssecret.desired`) on the
object as the API server returns it. The end-to-end attacks are in tests/test_tenant_isolation.py."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from controller import sopssecret
from sealer.scope import Scope
from sealer.sops import binding
from sealer.sops.tree import Rule
from tests.sops_helpers import AgeKey, Workspace, edit_spec, make_age_key, needs_sops, ok, sops_block, write_editor
from tests.sopssecret_objects import as_stored, ring

PLANT = "PLANTED-binding-value-3f1"  # sealer:allow (a planted value)
SECRET = f"""\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: team-a
stringData:
  password: {PLANT} # the database password
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return Workspace(tmp_path_factory.mktemp("binding"))


@pytest.fixture(scope="module")
def key(ws: Workspace) -> AgeKey:
    return make_age_key(ws.root / "keys", "k")


def encrypt(ws: Workspace, key: AgeKey, *flags: str, text: str = SECRET, name: str = "s.yaml") -> dict:
    ws.write(name, text)
    return yaml.safe_load(ok(ws.sealer("encrypt", "--age", key.recipient, "--kind", "sopssecret", *flags, name)))


def placed(obj: dict, namespace: str, name: str) -> dict:
    """The same document, applied by someone else under another namespace or name."""
    moved = copy.deepcopy(obj)
    moved["metadata"].update(namespace=namespace, name=name)
    return moved


def decide(obj: dict, key: AgeKey, **kw) -> sopssecret.Outcome:
    return sopssecret.desired(as_stored(obj), ring(key), {}, **kw)


# --- the rule itself (pure) ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("scope", "bound"), [(Scope.STRICT, "team-a/db"), (Scope.NAMESPACE_WIDE, "team-a/*"),
                                              (Scope.CLUSTER_WIDE, "*")])
def test_binding_format(scope: Scope, bound: str) -> None:
    assert binding.make(scope, "team-a", "db") == bound
    assert binding.parse(bound)[0] is scope


@pytest.mark.parametrize("bad", ["", "team-a", "team-a/", "/db", "*/db", "Team-A/db", "a/b/c", "team-a/db ", 5])
def test_malformed_binding_is_refused_without_echo(bad: object) -> None:
    with pytest.raises(Exception, match="must be NAMESPACE/NAME, NAMESPACE/\\* or \\*") as caught:
        binding.parse(bad)
    assert str(bad) not in str(caught.value).replace("spec.binding", "") or bad == ""


@pytest.mark.parametrize(("rule", "expected"), [
    (Rule(encrypted_regex="^(data|stringData)$"), "^(binding|data|stringData)$"),
    (Rule(encrypted_regex="^stringData$"), "^stringData$|^binding$"),
    (Rule(encrypted_regex="^(binding|data|stringData)$"), "^(binding|data|stringData)$"),
])
def test_an_encrypted_regex_is_extended_to_cover_the_binding(rule: Rule, expected: str) -> None:
    covered = binding.covering_rule(rule)
    assert covered.encrypted_regex == expected and covered.encrypts(binding.PATH)


def test_a_rule_that_leaves_the_binding_in_plaintext_is_refused() -> None:
    with pytest.raises(Exception, match=r"would leave spec\.binding in plaintext"):
        binding.covering_rule(Rule(encrypted_suffix="_secret"))
    assert binding.covering_rule(Rule.default()).encrypts(binding.PATH)  # the _unencrypted suffix covers it


# --- sealer encrypt -------------------------------------------------------------------------------------------

def test_encrypt_binds_strictly_by_default_and_sops_shows_it(ws: Workspace, key: AgeKey) -> None:
    obj = encrypt(ws, key)
    assert obj["spec"]["binding"].startswith("ENC[AES256_GCM,") and obj["sops"]["mac_only_encrypted"] is True
    assert list(obj["spec"]) == sorted(obj["spec"])  # the MAC order the API server will return
    path = ws.write("strict.enc.yaml", yaml.safe_dump(obj, sort_keys=False))
    assert yaml.safe_load(ok(ws.sops("decrypt", path, key=key)))["spec"]["binding"] == "team-a/db"


@pytest.mark.parametrize(("flags", "annotation", "bound"), [
    (("--scope", "namespace-wide"), None, "team-a/*"),
    (("--scope", "cluster-wide"), None, "*"),
    ((), "sealedsecrets.bitnami.com/namespace-wide", "team-a/*"),
    ((), "sealedsecrets.bitnami.com/cluster-wide", "*"),
    (("--scope", "strict"), "sealedsecrets.bitnami.com/cluster-wide", "team-a/db"),  # the flag wins
])
def test_scope_from_flag_or_bitnami_annotation(ws: Workspace, key: AgeKey, flags: tuple, annotation: str | None,
                                                bound: str) -> None:
    text = SECRET if annotation is None else SECRET.replace(
        "  namespace: team-a\n", f"  namespace: team-a\n  annotations:\n    {annotation}: \"true\"\n")
    obj = encrypt(ws, key, *flags, text=text, name="scoped.yaml")
    path = ws.write("scoped.enc.yaml", yaml.safe_dump(obj, sort_keys=False))
    assert yaml.safe_load(ok(ws.sealer("decrypt", path, key=key)))["spec"]["binding"] == bound


@pytest.mark.parametrize(("flags", "text", "message"), [
    (("--kind", "sopssecret"), SECRET.replace("  namespace: team-a\n", ""), "strict scope needs metadata.namespace"),
    (("--kind", "sopssecret", "--scope", "namespace-wide"), SECRET.replace("  namespace: team-a\n", ""),
     "namespace-wide scope needs metadata.namespace"),
    (("--scope", "strict"), SECRET, "--scope applies to --kind sopssecret"),
    (("--kind", "sopssecret", "--encrypted-suffix", "_x"), SECRET, "would leave spec.binding in plaintext"),
])
def test_encrypt_refuses_what_it_cannot_bind(ws: Workspace, key: AgeKey, flags: tuple, text: str,
                                             message: str) -> None:
    ws.write("bad.yaml", text)
    r = ws.sealer("encrypt", "--age", key.recipient, *flags, "bad.yaml")
    assert r.returncode == 2 and r.stdout == "" and message in r.stderr and len(r.stderr.splitlines()) == 1
    assert PLANT not in r.stderr


def test_sops_yaml_regex_is_extended(ws: Workspace, key: AgeKey, tmp_path: Path) -> None:
    """The regex Flux's docs recommend, in a .sops.yaml: the stored rule also encrypts the binding."""
    local = Workspace(tmp_path)
    local.write(".sops.yaml", f"creation_rules:\n  - encrypted_regex: '^(data|stringData)$'\n"
                              f"    age: {key.recipient}\n")
    local.write("s.yaml", SECRET)
    out = ok(local.sealer("encrypt", "--kind", "sopssecret", "s.yaml"))
    assert sops_block(out)["encrypted_regex"] == "^(binding|data|stringData)$"


# --- the controller's decision on the stored object ----------------------------------------------------------

def test_where_each_scope_may_live(ws: Workspace, key: AgeKey) -> None:
    strict, wide, anywhere = (encrypt(ws, key, "--scope", s, name=f"{s}.yaml")
                              for s in ("strict", "namespace-wide", "cluster-wide"))
    cases = [  # (document, namespace, name, ready)
        (strict, "team-a", "db", True), (strict, "team-a", "other", False), (strict, "team-b", "db", False),
        (wide, "team-a", "other", True), (wide, "team-b", "db", False),
        (anywhere, "team-b", "stolen", True),  # cluster-wide: by design, as with Bitnami's cluster-wide scope
    ]
    for doc, namespace, name, ready in cases:
        out = decide(placed(doc, namespace, name), key)
        assert out.ready is ready, (namespace, name, out.reason, out.message)
        if not ready:
            assert out.reason == "ScopeMismatch" and f"this SopsSecret is {namespace}/{name}" in out.message
            assert out.secret is None and PLANT not in out.message


def test_a_plaintext_binding_binds_nothing(ws: Workspace, key: AgeKey) -> None:
    """The attack on a document written before scopes: add `binding: team-b/stolen` in plaintext. A
    mac_only_encrypted MAC does not cover plaintext values, so only the ENC form may count."""
    legacy = unscoped(ws, key)
    forged = placed(legacy, "team-b", "stolen")
    forged["spec"]["binding"] = "team-b/stolen"
    for allow in (False, True):
        out = decide(forged, key, allow_unscoped=allow)
        assert (out.ready, out.reason) == (False, "ScopeMismatch") and "not encrypted" in out.message


def test_removing_or_swapping_the_binding_breaks_the_mac(ws: Workspace, key: AgeKey) -> None:
    strict = encrypt(ws, key)
    removed = placed(strict, "team-b", "db")
    del removed["spec"]["binding"]
    assert decide(removed, key, allow_unscoped=True).reason == "MACMismatch"
    other = encrypt(ws, key, text=SECRET.replace("namespace: team-a", "namespace: team-b"), name="b.yaml")
    swapped = placed(strict, "team-b", "db")
    swapped["spec"]["binding"] = other["spec"]["binding"]  # team-b/db, but encrypted under another data key
    assert decide(swapped, key).reason == "MACMismatch"


def unscoped(ws: Workspace, key: AgeKey) -> dict:
    """A SopsSecret as written before scopes: hand-written, no spec.binding."""
    ws.write("legacy.yaml", f"apiVersion: sealer.dev/v1alpha1\nkind: SopsSecret\nmetadata:\n  name: db\n"
                            f"  namespace: team-a\nspec:\n  stringData:\n    password: {PLANT}\n")
    return yaml.safe_load(ok(ws.sealer("encrypt", "--age", key.recipient, "--encrypted-regex", "^(data|stringData)$",
                                       "--mac-only-encrypted", "legacy.yaml")))


def test_unscoped_is_refused_unless_the_controller_allows_it(ws: Workspace, key: AgeKey) -> None:
    legacy = unscoped(ws, key)
    out = decide(legacy, key)
    assert (out.ready, out.reason) == (False, "Unscoped") and "sealer rescope" in out.message
    out = decide(legacy, key, allow_unscoped=True)
    assert out.ready and out.warning and "unscoped" in out.message


# --- every verb keeps the binding; rescope adds it ---------------------------------------------------------------

@pytest.mark.parametrize("verb", ["set", "unset", "rotate", "updatekeys", "edit", "sops-set", "sops-rotate"])
def test_binding_survives_every_verb(ws: Workspace, key: AgeKey, verb: str) -> None:
    ws.write(f"{verb}.yaml", SECRET.replace("stringData:", "stringData:\n  extra: x"))
    path = ws.write(f"{verb}.enc.yaml", ok(ws.sealer("encrypt", "--age", key.recipient, "--kind", "sopssecret",
                                                     f"{verb}.yaml")))
    assert "#ENC[" in path.read_text()
    ws.write(".sops.yaml", f"creation_rules:\n  - age: {key.recipient}\n")
    editor = write_editor(ws.root)
    run = {
        "set": lambda: ws.sealer("set", path.name, '["spec"]["stringData"]["extra"]', '"y"', key=key),
        "unset": lambda: ws.sealer("unset", path.name, '["spec"]["stringData"]["extra"]', key=key),
        "rotate": lambda: ws.sealer("rotate", path.name, key=key),
        "updatekeys": lambda: ws.sealer("updatekeys", "-y", path.name, key=key),
        "edit": lambda: ws.sealer("edit", path.name, key=key, **editor,
                                  TEST_EDIT_SPEC=edit_spec(replace=[["extra: x", "extra: z"]])),
        "sops-set": lambda: ws.sops("set", path.name, '["spec"]["stringData"]["extra"]', '"y"', key=key),
        "sops-rotate": lambda: ws.sops("rotate", "-i", path.name, key=key),
    }[verb]
    ok(run())
    after = yaml.safe_load(path.read_text())
    assert after["spec"]["binding"].startswith("ENC[")
    out = decide(after, key)
    assert out.ready, out.message
    assert decide(placed(after, "team-b", "db"), key).reason == "ScopeMismatch"
    assert "#ENC[" in path.read_text() or verb.startswith("sops")  # the comment stays encrypted (sealer's layout)
    assert "the database password" not in path.read_text()


def test_rescope_migrates_a_legacy_file_in_place(ws: Workspace, key: AgeKey) -> None:
    legacy = unscoped(ws, key)
    path = ws.write("legacy.enc.yaml", yaml.safe_dump(legacy, sort_keys=False))
    before = path.read_text()
    r = ws.sealer("rescope", "-i", path.name, key=key)
    assert r.returncode == 0 and "unscoped -> team-a/db" in r.stderr, r.stderr
    after = path.read_text()
    assert sops_block(after)["encrypted_regex"] == "^(binding|data|stringData)$"
    password = [line for line in before.splitlines() if "password" in line]
    assert password and password[0] in after  # the other values keep their exact ciphertext
    assert decide(yaml.safe_load(after), key).ready
    again = ws.sealer("rescope", "-i", path.name, key=key)
    assert "already bound, unchanged" in again.stderr and path.read_text() == after
    wide = ws.sealer("rescope", "--scope", "namespace-wide", path.name, key=key)
    assert "team-a/db -> team-a/*" in wide.stderr and path.read_text() == after  # printed, not written
    assert decide(placed(yaml.safe_load(wide.stdout), "team-a", "x"), key).ready


@needs_sops
def test_a_file_written_by_sops_with_a_binding_is_accepted(ws: Workspace, key: AgeKey, tmp_path: Path) -> None:
    """What the README tells sops users: write spec.binding yourself, encrypt it with the data."""
    local = Workspace(tmp_path)
    local.write(".sops.yaml", f"creation_rules:\n  - encrypted_regex: '{binding.BOUND_REGEX}'\n"
                              f"    mac_only_encrypted: true\n    age: {key.recipient}\n")
    local.write("hand.yaml", "apiVersion: sealer.dev/v1alpha1\nkind: SopsSecret\nmetadata:\n  name: db\n"
                             f"  namespace: team-a\nspec:\n  binding: team-a/db\n  stringData:\n    p: {PLANT}\n")
    doc = yaml.safe_load(ok(local.sops("encrypt", "hand.yaml")))
    assert decide(doc, key).ready
    assert decide(placed(doc, "team-b", "db"), key).reason == "ScopeMismatch"
    assert PLANT not in json.dumps(doc)


def test_end_of_line_comments_stay_encrypted_after_set_and_rotate(ws: Workspace, key: AgeKey) -> None:
    """Was a leak: after `set`, `unset`, `rotate` (and so `rescope`), an encrypted end-of-line comment under an
    encrypted_regex rule was written back in plaintext (its owner was taken from a column reset to 0)."""
    ws.write("c.yaml", "data:\n  a: 1 # secret note\n  b: 2\n")
    path = ws.write("c.enc.yaml", ok(ws.sealer("encrypt", "--age", key.recipient, "--encrypted-regex", "^data$",
                                               "c.yaml")))
    assert "secret note" not in path.read_text()
    for args in (("set", path.name, '["data"]["b"]', "3"), ("rotate", path.name),
                 ("unset", path.name, '["data"]["b"]')):
        ok(ws.sealer(*args, key=key))
        assert "secret note" not in path.read_text(), args
    assert "# secret note" in ok(ws.sealer("decrypt", path.name, key=key))
