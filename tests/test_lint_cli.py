"""`sealer lint` as CI runs it: a real process on real trees and real Git repositories.

Exit codes, report formats (SARIF shape and stable fingerprints), inline allows, baselines, the config file,
.gitignore (git's own rules inside a repository, ours outside: checked against `git check-ignore`), --staged and
--since, --jobs, and planted values that must never reach any output.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import subprocess
from pathlib import Path

import pytest

from sealer.lint import scan, walk
from sealer.lint.context import Options
from tests.cli_process import run_sealer


def pw() -> str:
    """A fresh password-like value with special characters (what plaintext-secret and credential must find)."""
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(10)) + "&!9Zq"


def secret_yaml(value: str, name: str = "db") -> str:
    return f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\nstringData:\n  password: \"{value}\"\n"


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_SYSTEM": "/dev/null"}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=env).stdout


def findings(r: subprocess.CompletedProcess[str]) -> list[tuple[str, int, str]]:
    return [(f["file"], f["line"], f["rule"]) for f in json.loads(r.stdout)["findings"]]


# --- exit codes and errors -------------------------------------------------------------------------------------

def test_exit_codes_clean_findings_and_usage(tmp_path):
    (tmp_path / "ok.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n")
    r = run_sealer("lint", tmp_path)
    assert (r.returncode, r.stdout) == (0, "") and "0 findings in 1 file" in r.stderr
    (tmp_path / "s.yaml").write_text(secret_yaml(pw()))
    r = run_sealer("lint", tmp_path)
    assert r.returncode == 1 and "plaintext-secret" in r.stdout


@pytest.mark.parametrize("args,needle", [
    (["missing-dir"], "missing-dir: cannot read"),
    (["--baseline", "nope.json", "."], "nope.json: --baseline: cannot read"),
    (["--staged", "."], "--staged: not a Git repository (run it inside a clone)"),
    (["--since", "main", "."], "--since: not a Git repository (run it inside a clone)"),
    (["--cert", "nope.pem", "."], "nope.pem: cannot read certificate"),
    (["--staged", "--since", "x"], "do not combine"),
    (["--format", "xml"], "Invalid value for '-f' / '--format'"),
])
def test_usage_and_io_errors_exit_2_with_one_line(tmp_path, args, needle):
    r = run_sealer("lint", *args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr and r.stdout == ""


@pytest.mark.parametrize("args", [["--staged", "."], ["--since", "main", "."], ["--history", "."]])
def test_git_not_installed_is_named_as_such(tmp_path, args):
    """Without git on PATH the error says git is missing, not that the directory is no Git work tree."""
    empty = tmp_path / "bin"
    empty.mkdir()
    r = run_sealer("lint", *args, cwd=tmp_path, env={"PATH": str(empty)})
    assert r.returncode == 2, r.stderr
    assert r.stderr == f"sealer: error: {args[0]}: git is needed and was not found\n"


def test_unreadable_file_is_an_error_not_a_silent_skip(tmp_path):
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    f = tmp_path / "locked.yaml"
    f.write_text(secret_yaml(pw()))
    f.chmod(0)
    r = run_sealer("lint", tmp_path)
    assert r.returncode == 2 and "locked.yaml: cannot read" in r.stderr


# --- reports ---------------------------------------------------------------------------------------------------

def test_sarif_shape_rules_and_stable_fingerprints(tmp_path):
    value = pw()
    (tmp_path / "s.yaml").write_text(secret_yaml(value))
    runs = [run_sealer("lint", ".", "--format", "sarif", cwd=tmp_path) for _ in range(2)]
    assert runs[0].stdout == runs[1].stdout
    doc = json.loads(runs[0].stdout)
    assert doc["version"] == "2.1.0" and doc["$schema"].endswith("sarif-2.1.0.json")
    run = doc["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    ids = [r["id"] for r in rules]
    assert set(ids) >= {"plaintext-secret", "credential", "sops-plaintext-value", "sops-recipients",
                        "sealed-unknown-key", "sealed-scope"}
    for rule in rules:
        assert rule["help"]["text"] and rule["shortDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning")
        assert float(rule["properties"]["security-severity"]) > 0
    (result,) = [r for r in run["results"] if r["ruleId"] == "plaintext-secret"]
    assert ids[result["ruleIndex"]] == "plaintext-secret"
    loc = result["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "s.yaml"
    assert loc["region"] == {"startLine": 6, "startColumn": 3}
    assert "snippet" not in json.dumps(doc) and value not in runs[0].stdout
    assert len(result["partialFingerprints"]["sealer/v1"]) == 32


def test_text_report_format(tmp_path):
    (tmp_path / "s.yaml").write_text(secret_yaml(pw()))
    r = run_sealer("lint", "s.yaml", cwd=tmp_path)
    (line,) = r.stdout.splitlines()
    assert line.startswith("s.yaml:6:3: error plaintext-secret: Secret db: stringData.password is a plaintext")
    assert line.endswith("]")


def test_output_file_is_written_and_stdout_stays_empty(tmp_path):
    (tmp_path / "s.yaml").write_text(secret_yaml(pw()))
    r = run_sealer("lint", ".", "--format", "json", "-o", "report.json", cwd=tmp_path)
    assert r.returncode == 1 and r.stdout == ""
    assert json.loads((tmp_path / "report.json").read_text())["summary"]["findings"] == 1


def test_planted_values_never_reach_any_output(tmp_path):
    planted = {
        "url": "postgres://app:" + pw() + "@db.prod.svc/app",
        "token": "gh" + "p_" + "".join(secrets.choice(string.ascii_letters) for _ in range(36)),
        "secret": pw(),
    }
    (tmp_path / "s.yaml").write_text(secret_yaml(planted["secret"]))
    (tmp_path / "app.env").write_text(f"DATABASE_URL={planted['url']}\nGH={planted['token']}\n")
    outputs = []
    for fmt in ("text", "json", "sarif"):
        r = run_sealer("lint", ".", "--format", fmt, cwd=tmp_path)
        assert r.returncode == 1
        outputs.append(r.stdout + r.stderr)
    blob = "\n".join(outputs)
    assert "credential" in blob and "plaintext-secret" in blob
    for value in [planted["secret"], planted["token"], planted["url"].split(":")[2].split("@")[0]]:
        assert value not in blob and value[:8] not in blob


# --- allow comments, baseline, config -------------------------------------------------------------------------------

def test_inline_allow_silences_the_named_rule_on_its_line_only(tmp_path):
    a, b = pw(), pw()
    (tmp_path / "app.env").write_text(f"DB_PASSWORD={a}  # sealer:allow credential\nAPI_TOKEN={b}\n"
                                      f"OTHER_TOKEN={b}x  # sealer:allow sealed-scope\nX_SECRET={a}y  # sealer:allow\n")
    r = run_sealer("lint", ".", "--format", "json", cwd=tmp_path)
    assert [line for _, line, _ in findings(r)] == [2, 3]


def test_baseline_by_content_survives_moves_but_not_a_new_value(tmp_path):
    old = pw()
    f = tmp_path / "app.env"
    f.write_text(f"DB_PASSWORD={old}\n")
    r = run_sealer("lint", ".", "--format", "json", "-o", "baseline.json", cwd=tmp_path)
    assert r.returncode == 1
    assert run_sealer("lint", "app.env", "--baseline", "baseline.json", cwd=tmp_path).returncode == 0
    f.write_text(f"# moved down\n\nDB_PASSWORD={old}\n")
    r = run_sealer("lint", "app.env", "--baseline", "baseline.json", cwd=tmp_path)
    assert r.returncode == 0 and "1 in the baseline" in r.stderr
    f.write_text(f"# moved down\n\nDB_PASSWORD={pw()}\n")  # a new secret on the baselined line
    r = run_sealer("lint", "app.env", "--baseline", "baseline.json", "--format", "json", cwd=tmp_path)
    assert r.returncode == 1 and findings(r) == [("app.env", 3, "credential")]


def test_sarif_report_works_as_a_baseline(tmp_path):
    first = secret_yaml(pw())
    (tmp_path / "s.yaml").write_text(first)
    r = run_sealer("lint", "s.yaml", "--format", "sarif", "-o", "base.sarif", cwd=tmp_path)
    assert r.returncode == 1, r.stderr
    results = json.loads((tmp_path / "base.sarif").read_text())["runs"][0]["results"]
    assert [(x["ruleId"], x["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
             x["locations"][0]["physicalLocation"]["region"]["startLine"]) for x in results] == [
        ("plaintext-secret", "s.yaml", 6)]
    r = run_sealer("lint", "s.yaml", "--baseline", "base.sarif", "--format", "json", cwd=tmp_path)
    assert r.returncode == 0 and findings(r) == [] and "1 in the baseline" in r.stderr
    # a secret added after the baseline was taken is still reported; the baselined one is not
    (tmp_path / "s.yaml").write_text(first + "---\n" + secret_yaml(pw(), name="api"))
    r = run_sealer("lint", "s.yaml", "--baseline", "base.sarif", "--format", "json", cwd=tmp_path)
    assert r.returncode == 1 and findings(r) == [("s.yaml", 13, "plaintext-secret")]


def test_config_disables_excludes_and_adds_custom_rules(tmp_path):
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "s.yaml").write_text(secret_yaml(pw()))
    (tmp_path / "s.yaml").write_text(secret_yaml(pw()))
    acme = "acme_live_" + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
    (tmp_path / "app.txt").write_text(f"key one {acme}\nkey two acme_live_{'a' * 32}\n")
    (tmp_path / ".sealer-lint.yaml").write_text(
        "disable: [plaintext-secret, credential]\nexclude: [vendor/]\nrules:\n"
        "  - id: acme-key\n    description: ACME API key\n    regex: 'acme_live_([A-Za-z0-9]{32})'\n"
        "    keywords: [acme_live_]\n    entropy: 3.0\n    severity: warning\n")
    r = run_sealer("lint", ".", "--format", "json", cwd=tmp_path)
    report = json.loads(r.stdout)
    assert [(f["file"], f["line"], f["rule"], f["severity"]) for f in report["findings"]] == [
        ("app.txt", 1, "acme-key", "warning")]
    sarif = json.loads(run_sealer("lint", ".", "--format", "sarif", cwd=tmp_path).stdout)
    assert "acme-key" in [rule["id"] for rule in sarif["runs"][0]["tool"]["driver"]["rules"]]


@pytest.mark.parametrize("text,needle", [
    ("disable: [no-such-rule]\n", "disable[0]: unknown rule 'no-such-rule'"),
    ("exclude: vendor\n", "exclude: must be a list"),
    ("rules:\n  - id: x\n    regex: '('\n", "rules[0].regex: invalid regular expression"),
    ("rules:\n  - id: credential\n    regex: a\n", "rules[0].id: 'credential' is a built-in rule id"),
    ("entropy: high\n", "entropy: must be a number"),
    ("colour: blue\n", "colour: unknown setting"),
    ("a: [\n", "not valid YAML"),
])
def test_bad_config_exits_2_naming_file_and_field(tmp_path, text, needle):
    (tmp_path / "lint.yaml").write_text(text)
    r = run_sealer("lint", ".", "--config", "lint.yaml", cwd=tmp_path)
    assert r.returncode == 2 and f"lint.yaml: {needle}" in r.stderr and "Traceback" not in r.stderr


def test_size_cap_and_binary_files_are_skipped_and_counted(tmp_path):
    """A binary file is skipped; a file over the cap is counted and, not having been read, is a scan-limit finding
    (issue 13: padding a file must not carry a secret through the gate; tests/test_fault_inputs.py has more)."""
    (tmp_path / "big.env").write_text(f"DB_PASSWORD={pw()}\n" + "#" * 2000)
    (tmp_path / "blob.bin").write_bytes(b"\0\1\2DB_PASSWORD=" + pw().encode())
    (tmp_path / ".sealer-lint.yaml").write_text("max_file_size: 1000\n")
    r = run_sealer("lint", ".", "--format", "json", cwd=tmp_path)
    summary = json.loads(r.stdout)["summary"]
    assert r.returncode == 1 and summary["skipped_large"] == 1 and summary["skipped_binary"] == 1
    assert findings(r) == [("big.env", 1, "scan-limit")]


# --- which files: .gitignore, --staged, --since ------------------------------------------------------------------

def test_gitignore_is_honoured_outside_git_and_named_files_are_always_read(tmp_path):
    (tmp_path / ".gitignore").write_text("build/\n*.log\n!keep.log\n/top-only.yaml\n")
    for name in ("build/s.yaml", "a.log", "keep.log", "top-only.yaml", "sub/top-only.yaml", "sub/build/x.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"DB_PASSWORD={pw()}\n")
    r = run_sealer("lint", ".", "--format", "json", cwd=tmp_path)
    assert sorted(f for f, _, _ in findings(r)) == ["keep.log", "sub/top-only.yaml"]
    r = run_sealer("lint", "a.log", "--format", "json", cwd=tmp_path)
    assert [f for f, _, _ in findings(r)] == ["a.log"]


PATTERNS = ["*.log", "!important.log", "build/", "/root-only", "docs/**/*.md", "**/tmp", "a/**/b", "\\#hash",
            "name[0-9].txt", "deep/*/x", "trailing\\ ", "*.swp", "nested/"]
PATHS = ["x.log", "important.log", "sub/x.log", "build/a", "src/build/a", "root-only", "sub/root-only",
         "docs/a.md", "docs/x/y/a.md", "a.md", "tmp/f", "x/tmp/f", "a/b", "a/x/y/b", "#hash", "name5.txt",
         "name55.txt", "deep/one/x", "deep/one/two/x", "trailing ", "f.swp", "nested/f", "q/nested/f", "keep.txt"]


def test_gitignore_matcher_agrees_with_git_check_ignore(tmp_path):
    (tmp_path / ".gitignore").write_text("\n".join(PATTERNS) + "\n")
    git(tmp_path, "init", "-q")
    out = subprocess.run(["git", "check-ignore", "--no-index", "--stdin"], cwd=tmp_path, input="\n".join(PATHS),
                         capture_output=True, text=True).stdout
    by_git = set(out.splitlines())
    rules = walk.IgnoreRules().extended(PATTERNS, "")
    ours = {p for p in PATHS if rules.excluded(p)}
    assert ours == by_git


def test_git_repository_walk_uses_git_ignores_and_skips_untracked_ignored(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / ".git" / "info" / "exclude").write_text("private.env\n")
    (tmp_path / "private.env").write_text(f"DB_PASSWORD={pw()}\n")
    (tmp_path / "tracked.env").write_text(f"DB_PASSWORD={pw()}\n")
    (tmp_path / "untracked.env").write_text(f"DB_PASSWORD={pw()}\n")
    git(tmp_path, "add", "tracked.env")
    r = run_sealer("lint", "--format", "json", cwd=tmp_path)
    assert sorted(f for f, _, _ in findings(r)) == ["tracked.env", "untracked.env"]


def test_staged_scans_the_index_not_the_working_tree(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "clean.yaml").write_text("a: b\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base")
    f = tmp_path / "app.env"
    f.write_text(f"DB_PASSWORD={pw()}\n")
    git(tmp_path, "add", "app.env")
    f.write_text("DB_PASSWORD=${FROM_ENV}\n")  # fixed in the working tree, not staged
    (tmp_path / "notstaged.env").write_text(f"DB_PASSWORD={pw()}\n")
    r = run_sealer("lint", "--staged", "--format", "json", cwd=tmp_path)
    assert r.returncode == 1 and findings(r) == [("app.env", 1, "credential")]
    git(tmp_path, "add", "app.env")
    assert run_sealer("lint", "--staged", cwd=tmp_path).returncode == 0


def test_since_scans_files_changed_since_the_merge_base(tmp_path):
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "legacy.env").write_text(f"DB_PASSWORD={pw()}\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "base")
    git(tmp_path, "checkout", "-qb", "feature")
    (tmp_path / "k8s").mkdir()
    (tmp_path / "k8s" / "new.yaml").write_text(secret_yaml(pw()))
    (tmp_path / "k8s" / "clean.yaml").write_text("a: b\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "feature")
    r = run_sealer("lint", "--since", "main", "--format", "json", cwd=tmp_path)
    assert findings(r) == [("k8s/new.yaml", 6, "plaintext-secret")]
    r = run_sealer("lint", "--since", "main", "--format", "json", cwd=tmp_path / "k8s")
    assert findings(r) == [("new.yaml", 6, "plaintext-secret")]
    r = run_sealer("lint", "--since", "no-such-branch", cwd=tmp_path)
    assert r.returncode == 2 and "unknown revision 'no-such-branch'" in r.stderr


# --- parallel scan ---------------------------------------------------------------------------------------------

def test_parallel_scan_gives_the_same_findings_as_one_process(tmp_path, monkeypatch):
    for i in range(120):
        body = secret_yaml(pw(), f"s{i}") if i % 3 == 0 else f"DB_PASSWORD={pw()}\n" if i % 3 == 1 else "a: b\n"
        (tmp_path / f"f{i:03}.{'yaml' if i % 3 != 1 else 'env'}").write_text(body)
    sources = walk.sources_from_files(walk.discover([str(tmp_path)]), None, str(tmp_path))
    one = scan.scan_all(sources, Options(), 1)
    monkeypatch.setattr(scan, "_PARALLEL_MIN_BYTES", 0)
    two = scan.scan_all(sources, Options(), 2)
    assert one.findings == two.findings and len(one.findings) == 80
    assert one.stats == two.stats
    r = run_sealer("lint", ".", "--jobs", "2", cwd=tmp_path)
    assert r.returncode == 1 and r.stdout.count("\n") == 80


def test_sarif_uri_for_a_file_outside_the_working_directory(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "s.yaml").write_text(secret_yaml(pw()))
    r = run_sealer("lint", tmp_path / "s.yaml", "--format", "sarif", cwd=tmp_path / "in")
    loc = json.loads(r.stdout)["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": f"file://{tmp_path}/s.yaml"}
