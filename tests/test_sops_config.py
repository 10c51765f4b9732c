""".sops.yaml discovery, parsing and rule matching, checked against the real sops binary where it matters."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sealer.errors import InputError
from sealer.sops import config
from sealer.sops.config import find_config, load_config, lookup_config, match_rule, rule_path

SOPS = shutil.which("sops", path=str(Path(sys.executable).parent)) or shutil.which("sops")
AGE_KEYGEN = shutil.which("age-keygen")
needs_sops = pytest.mark.skipif(not (SOPS and AGE_KEYGEN), reason="sops and age-keygen are needed")

# Syntactically valid age recipients for parsing tests (not used to encrypt).
A1 = "age1ntg3hmry8gmdelmuefstknflukulxxtv67ds50yn996v9e3er3xsntq0d8"
A2 = "age1v07wva7f2jppcwy6p2xwzjxre09j4aszmv2a6ed9djw33nctf5zs9phesc"
VAULT = "https://vault.example.org:8200/v1/transit/keys/dev"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def rules_from(tmp_path: Path, text: str) -> list[config.CreationRule]:
    return load_config(str(write(tmp_path / ".sops.yaml", text)))


def load_error(tmp_path: Path, text: str) -> InputError:
    with pytest.raises(InputError) as caught:
        rules_from(tmp_path, text)
    return caught.value


# --- discovery --------------------------------------------------------------------------------------------------


def test_discovery_walks_up_to_the_nearest_config(tmp_path: Path) -> None:
    top = write(tmp_path / ".sops.yaml", "creation_rules: []\n")
    inner = write(tmp_path / "a" / ".sops.yaml", "creation_rules: []\n")
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "x").mkdir()
    assert find_config(str(tmp_path / "a" / "b" / "c")) == str(inner)
    assert find_config(str(tmp_path / "a")) == str(inner)
    assert find_config(str(tmp_path / "x")) == str(top)


def test_discovery_from_relative_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path / ".sops.yaml", "")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert find_config(".") == str(cfg)


def test_discovery_ignores_sops_yml(tmp_path: Path) -> None:
    alt = write(tmp_path / "p" / ".sops.yml", "creation_rules: []\n")
    lookup = lookup_config(str(tmp_path / "p"))
    assert lookup.ignored == str(alt)
    assert lookup.path is None or not lookup.path.startswith(str(tmp_path))
    cfg = write(tmp_path / ".sops.yaml", "")
    assert lookup_config(str(tmp_path / "p")) == config.ConfigLookup(str(cfg), str(alt))


def test_discovery_gives_up_after_100_directories(tmp_path: Path) -> None:
    cfg = write(tmp_path / ".sops.yaml", "")
    deep = tmp_path.joinpath(*["d"] * 100)
    deep.mkdir(parents=True)
    assert find_config(str(deep.parent)) == str(cfg)  # 99 levels up: found
    found = find_config(str(deep))  # 100 levels up: out of reach
    assert found is None or not found.startswith(str(tmp_path))


# --- matching ---------------------------------------------------------------------------------------------------


def test_first_match_wins_and_catch_all(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        f"creation_rules:\n"
        f"  - path_regex: ^prod/\n    age: {A1}\n"
        f"  - path_regex: secret\n    age: {A2}\n"
        f"  - age: {A1},{A2}\n",
    )
    cfg = str(tmp_path / ".sops.yaml")
    assert match_rule(rules, cfg, str(tmp_path / "prod" / "secret.yaml")).index == 0
    assert match_rule(rules, cfg, str(tmp_path / "dev" / "secret.yaml")).index == 1  # unanchored search
    assert match_rule(rules, cfg, str(tmp_path / "dev" / "other.yaml")).index == 2
    assert match_rule(rules[:2], cfg, str(tmp_path / "dev" / "other.yaml")) is None


def test_relative_path_from_a_subdirectory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = rules_from(tmp_path, f"creation_rules:\n  - path_regex: ^apps/web/[^/]+\\.yaml$\n    age: {A1}\n")
    cfg = str(tmp_path / ".sops.yaml")
    (tmp_path / "apps" / "web").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "apps" / "web")
    assert rule_path(cfg, "s.yaml") == "apps/web/s.yaml"
    assert match_rule(rules, cfg, "s.yaml") is rules[0]
    assert match_rule(rules, cfg, "deeper/s.yaml") is None
    monkeypatch.chdir(tmp_path / "apps")
    assert rule_path(cfg, "../apps/./web/s.yaml") == "apps/web/s.yaml"


def test_files_outside_the_config_directory_match_by_absolute_path(tmp_path: Path) -> None:
    cfg = str(tmp_path / "repo" / ".sops.yaml")
    assert rule_path(cfg, str(tmp_path / "elsewhere" / "s.yaml")) == str(tmp_path / "elsewhere" / "s.yaml")
    assert rule_path(cfg, str(tmp_path / "repo2" / "s.yaml")) == str(tmp_path / "repo2" / "s.yaml")  # no prefix trap
    assert rule_path("/.sops.yaml", "/etc/s.yaml") == "/etc/s.yaml"  # sops cuts "//", which never matches


def test_empty_path_regex_and_null_rules(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, f"creation_rules:\n  -\n  - path_regex: ''\n    age: {A1}\n  - age: {A2}\n")
    assert [rule.index for rule in rules] == [1, 2]
    assert rules[0].path_regex is None
    assert match_rule(rules, str(tmp_path / ".sops.yaml"), "anything") is rules[0]


def test_no_rules(tmp_path: Path) -> None:
    assert rules_from(tmp_path, "") == []
    assert rules_from(tmp_path, "stores:\n  yaml:\n    indent: 2\ndestination_rules: [{path_regex: x}]\n") == []
    assert rules_from(tmp_path, "creation_rules:\n") == []
    assert match_rule([], str(tmp_path / ".sops.yaml"), "s.yaml") is None


# --- keys -------------------------------------------------------------------------------------------------------


def test_recipients_comma_separated_or_list(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        f"creation_rules:\n"
        f"  - age: ' {A1} , {A2} ,'\n    hc_vault_transit_uri: {VAULT}\n"
        f"  - age: [{A1}, '{A2}']\n    hc_vault_transit_uri: [{VAULT}]\n"
        f"  - age: ['{A1},{A2}', {A1}]\n",
    )
    assert rules[0].age == rules[1].age == [A1, A2]
    assert rules[0].hc_vault_transit_uri == rules[1].hc_vault_transit_uri == [VAULT]
    assert rules[2].age == [A1, A2, A1]  # rule-level keys are not de-duplicated by sops
    assert rules[0].effective_key_groups() == [{"age": [A1, A2], "hc_vault": [VAULT]}]


def test_key_groups_and_threshold(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        f"creation_rules:\n"
        f"  - age: {A2}\n"
        f"    shamir_threshold: 2\n"
        f"    key_groups:\n"
        f"      - age: [{A1}]\n"
        f"        hc_vault: [{VAULT}]\n"
        f"      - merge: [{{age: [{A1}]}}]\n"
        f"        age: [{A2}, '{A1}']\n"
        f"      - pgp: [ABCDEF]\n",
    )
    rule = rules[0]
    assert rule.shamir_threshold == 2
    assert rule.key_groups == [
        {"age": [A1], "hc_vault": [VAULT]},
        {"age": [A1, A2], "hc_vault": []},
        {"age": [], "hc_vault": []},
    ]
    assert rule.effective_key_groups() == rule.key_groups  # rule-level age is ignored with key_groups
    assert rule.unsupported_keys == ["key_groups[2].pgp"]


def test_unsupported_key_types_are_recorded(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        "creation_rules:\n"
        "  - pgp: ABCDEF\n    kms: [arn:aws:kms:x]\n    gcp_kms: ''\n"
        f"  - age: {A1}\n    azure_keyvault: https://v.vault.azure.net/keys/k/1\n",
    )
    assert rules[0].unsupported_keys == ["pgp", "kms"]
    assert rules[0].effective_key_groups() == [{"age": [], "hc_vault": []}]
    assert rules[1].unsupported_keys == ["azure_keyvault"]


def test_threshold_zero_means_unset(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, f"creation_rules:\n  - shamir_threshold: 0\n    age: {A1}\n")
    assert rules[0].shamir_threshold is None


# --- encryption rule fields -------------------------------------------------------------------------------------


def test_encryption_rule_fields(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        "creation_rules:\n"
        "  - encrypted_regex: ^(data|stringData)$\n    mac_only_encrypted: true\n"
        "  - unencrypted_suffix: _plain\n    mac_only_encrypted: 'on'\n"
        "  - encrypted_comment_regex: sops:enc\n    mac_only_encrypted: no\n"
        "  - encrypted_regex: ''\n",
    )
    assert rules[0].encryption_rule == ("encrypted_regex", "^(data|stringData)$")
    assert rules[1].encryption_rule == ("unencrypted_suffix", "_plain")
    assert rules[2].encryption_rule == ("encrypted_comment_regex", "sops:enc")
    assert [rule.mac_only_encrypted for rule in rules] == [True, True, False, None]
    assert rules[3].encryption_rule is None


@pytest.mark.parametrize("pattern", ["(a+)+$", "^(a|aa)*b", "(x*y?)*z", "^(" + "(a)" * 11 + ")$"])
def test_a_regex_that_backtracks_exponentially_is_refused(tmp_path: Path, pattern: str) -> None:
    """sops runs rule regexes with RE2 (linear time); Python's re would backtrack for hours on some: refused with
    the field named (sealer/regexcost.py). Plain alternations and anchors stay fine."""
    from sealer.sops.tree import Rule

    with pytest.raises(InputError, match="too costly") as e:
        Rule(encrypted_regex=pattern)
    assert e.value.field == "encrypted_regex"
    recipient = "age1lzd99uklcjnc0e7d860axevet2cz99ce9pq6tzuzd05l5nr28ams36nvun"
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {recipient}\n    encrypted_regex: '{pattern}'\n")
    (tmp_path / "f.yaml").write_text("a: 1\n")
    r = subprocess.run([sys.executable, "-m", "sealer", "encrypt", "f.yaml"], capture_output=True, text=True,
                       cwd=tmp_path, timeout=60)
    assert r.returncode == 2 and "too costly" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert r.stdout == ""
    for fine in ("^(data|stringData)$", "^(binding|data|stringData)$", "_secret$", "^(.*_key|password)$"):
        Rule(encrypted_regex=fine)


@pytest.mark.parametrize("field", ["encrypted_comment_regex", "unencrypted_comment_regex"])
def test_comment_regex_rule_becomes_the_files_rule(tmp_path: Path, field: str) -> None:
    """A comment regex is the file's one rule, as in sops: no default `_unencrypted` suffix beside it."""
    from sealer.sops.keys.service import plan
    from sealer.sops.tree import Rule

    recipient = "age1lzd99uklcjnc0e7d860axevet2cz99ce9pq6tzuzd05l5nr28ams36nvun"
    (tmp_path / ".sops.yaml").write_text(f"creation_rules:\n  - age: {recipient}\n    {field}: '^ sops:enc'\n")
    chosen = plan(str(tmp_path / "f.yaml"), env={}, cwd=str(tmp_path))
    assert chosen.rule == Rule(**{field: "^ sops:enc"})
    assert chosen.rule.as_metadata() == {field: "^ sops:enc"}


@pytest.mark.parametrize(
    "pair",
    [
        ("encrypted_regex", "unencrypted_suffix"),
        ("encrypted_suffix", "unencrypted_suffix"),
        ("encrypted_regex", "encrypted_comment_regex"),
        ("unencrypted_comment_regex", "encrypted_comment_regex"),
    ],
)
def test_only_one_encryption_rule_field(tmp_path: Path, pair: tuple[str, str]) -> None:
    error = load_error(tmp_path, f"creation_rules:\n  - {pair[0]}: a\n    {pair[1]}: b\n")
    assert error.field == "creation_rules[0]"
    assert "more than one" in error.message and pair[0] in error.message and pair[1] in error.message


# --- errors -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (
            "creation_rules:\n  - age: x\n  - age: y\n  - path_regex: '(unclosed'\n",
            "creation_rules[2].path_regex",
            "invalid regular expression",
        ),
        ("creation_rules:\n  - encrypted_regex: '['\n", "creation_rules[0].encrypted_regex", "invalid regular"),
        ("creation_rules:\n  - path_regex: 5\n", "creation_rules[0].path_regex", "expected a string"),
        ("creation_rules: {age: x}\n", "creation_rules", "expected a list"),
        ("creation_rules:\n  - just a string\n", "creation_rules[0]", "expected a mapping"),
        ("creation_rules:\n  - age: 5\n", "creation_rules[0].age", "comma-separated string or a list"),
        ("creation_rules:\n  - age: [x, 5]\n", "creation_rules[0].age[1]", "expected a string"),
        ("creation_rules:\n  - age: [x, '']\n", "creation_rules[0].age[1]", "empty key"),
        ("creation_rules:\n  - key_groups: {age: [x]}\n", "creation_rules[0].key_groups", "list of key groups"),
        ("creation_rules:\n  - key_groups: [{age: x}]\n", "creation_rules[0].key_groups[0].age", "expected a list"),
        (
            "creation_rules:\n  - key_groups: [{hc_vault: [1]}]\n",
            "creation_rules[0].key_groups[0].hc_vault[0]",
            "expected a string",
        ),
        (
            "creation_rules:\n  - key_groups: [{age: [x]}, {merge: [5]}]\n",
            "creation_rules[0].key_groups[1].merge[0]",
            "expected a mapping",
        ),
        ("creation_rules:\n  - shamir_threshold: '2'\n", "creation_rules[0].shamir_threshold", "integer"),
        ("creation_rules:\n  - shamir_threshold: true\n", "creation_rules[0].shamir_threshold", "integer"),
        ("creation_rules:\n  - shamir_threshold: -1\n", "creation_rules[0].shamir_threshold", "negative"),
        (
            "creation_rules:\n  - shamir_threshold: 3\n    key_groups: [{age: [x]}, {age: [y]}]\n",
            "creation_rules[0].shamir_threshold",
            "between 2 and the number of key groups (2)",
        ),
        (
            "creation_rules:\n  - shamir_threshold: 1\n    key_groups: [{age: [x]}, {age: [y]}]\n",
            "creation_rules[0].shamir_threshold",
            "between 2",
        ),
        ("creation_rules:\n  - mac_only_encrypted: 1\n", "creation_rules[0].mac_only_encrypted", "true or false"),
        ("creation_rules:\n  - mac_only_encrypted: 'true'\n", "creation_rules[0].mac_only_encrypted", "true or false"),
    ],
)
def test_errors_name_file_and_field(tmp_path: Path, text: str, field: str, message: str) -> None:
    error = load_error(tmp_path, text)
    assert error.source == str(tmp_path / ".sops.yaml")
    assert error.field == field
    assert message in error.message
    assert "\n" not in str(error)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("creation_rules:\n  - age: [x\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
        ("creation_rules:\n  - age: x\n    age: y\n", "a key appears twice in one mapping"),
    ],
)
def test_file_level_errors(tmp_path: Path, text: str, message: str) -> None:
    error = load_error(tmp_path, text)
    assert error.source == str(tmp_path / ".sops.yaml") and message in error.message
    assert error.exit_code == 2


def test_yaml_error_names_the_line(tmp_path: Path) -> None:
    error = load_error(tmp_path, "creation_rules:\n  - age: x\n  - age: [y\n")
    assert "line " in error.message


def test_unreadable_config(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read config file") as caught:
        load_config(str(tmp_path / "missing.yaml"))
    assert caught.value.source == str(tmp_path / "missing.yaml")


def test_anchors_and_merge_keys(tmp_path: Path) -> None:
    rules = rules_from(
        tmp_path,
        f"keys: &keys [{A1}, {A2}]\n"
        "base: &base {encrypted_regex: ^data$}\n"
        "creation_rules:\n"
        "  - <<: *base\n    key_groups: [{age: *keys}]\n"
        "  - <<: *base\n    encrypted_regex: ^stringData$\n",  # own keys override merged ones, no duplicate
    )
    assert rules[0].encrypted_regex == "^data$" and rules[0].key_groups == [{"age": [A1, A2], "hc_vault": []}]
    assert rules[1].encrypted_regex == "^stringData$"


# --- the real sops ----------------------------------------------------------------------------------------------


def _keygen(directory: Path, count: int) -> list[str]:
    recipients = []
    for i in range(count):
        key = directory / f"k{i}.txt"
        subprocess.run([AGE_KEYGEN, "-o", str(key)], check=True, capture_output=True)
        recipients.append(
            subprocess.run([AGE_KEYGEN, "-y", str(key)], check=True, capture_output=True, text=True).stdout.strip()
        )
    return recipients


def _sops_encrypt(cwd: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOPS_DISABLE_VERSION_CHECK": "1"}
    return subprocess.run([SOPS, "encrypt", *args], cwd=cwd, env=env, capture_output=True, text=True, input=stdin)


def _recipients(output: str) -> list[list[str]]:
    meta = yaml.safe_load(output)["sops"]
    groups = meta.get("key_groups") or [{"age": meta.get("age") or []}]
    return [[entry["recipient"] for entry in group.get("age") or []] for group in groups]


@needs_sops
def test_rule_choice_matches_real_sops(tmp_path: Path) -> None:
    r = _keygen(tmp_path, 4)
    root = tmp_path / "repo"
    write(
        root / ".sops.yaml",
        "creation_rules:\n"
        f"  - path_regex: ^prod/\n    age: {r[0]}\n"
        f"  - path_regex: \\.enc\\.yaml$\n    age: {r[1]}\n"
        f"  - path_regex: ^/.*/outside/\n    age: {r[2]}\n"
        f"  - age: {r[3]}\n",
    )
    for name in ("prod/app/s.yaml", "dev/s.yaml", "dev/x.enc.yaml", "xprod/s.yaml", "prod.yaml"):
        write(root / name, "password: hunter2\n")
    write(tmp_path / "outside" / "o.yaml", "password: hunter2\n")
    rules = load_config(str(root / ".sops.yaml"))
    cases = [  # (cwd, file argument)
        (root, "prod/app/s.yaml"),
        (root / "prod" / "app", "s.yaml"),
        (root / "dev", "../prod/app/s.yaml"),
        (root / "dev", "s.yaml"),
        (root / "dev", "x.enc.yaml"),
        (root, "xprod/s.yaml"),
        (root, "prod.yaml"),
        (root, "../outside/o.yaml"),
        (root / "prod", str(tmp_path / "outside" / "o.yaml")),
    ]
    for cwd, argument in cases:
        result = _sops_encrypt(cwd, argument)
        assert result.returncode == 0, result.stderr
        cfg = find_config(str(cwd))
        assert cfg == str(root / ".sops.yaml")
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(cwd)
            rule = match_rule(rules, cfg, argument)
        assert rule is not None
        assert _recipients(result.stdout) == [rule.age], (cwd, argument)

    # stdin: sops matches the --filename-override path
    result = _sops_encrypt(root / "prod", "--filename-override", "z.enc.yaml", stdin="a: b\n")
    assert result.returncode == 0, result.stderr
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root / "prod")
        assert _recipients(result.stdout) == [match_rule(rules, str(root / ".sops.yaml"), "z.enc.yaml").age]
    assert _recipients(result.stdout) == [[r[0]]]


@needs_sops
def test_discovery_starts_at_the_working_directory_like_sops(tmp_path: Path) -> None:
    r = _keygen(tmp_path, 2)
    root = tmp_path / "repo"
    write(root / ".sops.yaml", f"creation_rules:\n  - age: {r[0]}\n")
    write(root / "team" / ".sops.yaml", f"creation_rules:\n  - age: {r[1]}\n")
    write(root / "team" / ".sops.yml", f"creation_rules:\n  - age: {r[0]}\n")
    write(root / "team" / "s.yaml", "a: b\n")
    write(root / "other" / ".sops.yml", "creation_rules: []\n")
    # From the repo root the team file is encrypted with the root config, not the one next to it.
    for cwd, argument in ((root, "team/s.yaml"), (root / "team", "s.yaml"), (root / "other", "../team/s.yaml")):
        result = _sops_encrypt(cwd, argument)
        assert result.returncode == 0, result.stderr
        cfg = find_config(str(cwd))
        expected = load_config(cfg)[0].age
        assert _recipients(result.stdout) == [expected], (cwd, argument)
    assert find_config(str(root)) == str(root / ".sops.yaml")
    assert find_config(str(root / "other")) == str(root / ".sops.yaml")
    assert "ignoring" in _sops_encrypt(root / "other", "../team/s.yaml").stderr
    assert lookup_config(str(root / "other")).ignored == str(root / "other" / ".sops.yml")


@needs_sops
def test_key_groups_and_recipient_lists_like_sops(tmp_path: Path) -> None:
    r = _keygen(tmp_path, 4)
    write(tmp_path / "s.yaml", "a: b\n")
    configs = [
        f"creation_rules:\n  - age: ' {r[0]} , {r[1]} ,'\n",
        f"creation_rules:\n  - age: [{r[1]}, {r[0]}, {r[1]}]\n",
        f"creation_rules:\n  - key_groups:\n      - merge: [{{age: [{r[0]}]}}]\n        age: [{r[1]}, {r[0]}]\n"
        f"      - age: ['{r[2]}, {r[3]}']\n",
    ]
    for text in configs:
        rule = rules_from(tmp_path, text)[0]
        result = _sops_encrypt(tmp_path, "s.yaml")
        assert result.returncode == 0, result.stderr
        assert _recipients(result.stdout) == [group["age"] for group in rule.effective_key_groups()], text


@needs_sops
def test_config_errors_sops_also_refuses(tmp_path: Path) -> None:
    r = _keygen(tmp_path, 1)
    write(tmp_path / "s.yaml", "a: b\n")
    for text in (
        f"creation_rules:\n  - age: {r[0]}\n    encrypted_regex: a\n    encrypted_comment_regex: b\n",
        f"creation_rules:\n  - age: {r[0]}\n    shamir_threshold: '2'\n",
        f"creation_rules:\n  - age: {r[0]}\n    mac_only_encrypted: 'true'\n",
        f"creation_rules:\n  - age: {r[0]}\n    path_regex: '('\n",
        f"creation_rules:\n  - key_groups: [{{age: [{r[0]}]}}, {{age: [{r[0]}]}}]\n    shamir_threshold: 3\n",
        f"creation_rules:\n  - age: [{r[0]}, 5]\n",
        f"creation_rules:\n  - age: {r[0]}\n    age: {r[0]}\n",
    ):
        with pytest.raises(InputError):
            rules_from(tmp_path, text)
        assert _sops_encrypt(tmp_path, "s.yaml").returncode != 0, text
