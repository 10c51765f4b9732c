"""`sealer lint --history` and `--since` on real Git repositories built here: the lines each commit added.

What "reachable" means: `--history` reads HEAD's history, `--history RANGE` what `git rev-list RANGE` lists,
`--history all` every ref (branches, tags, remote-tracking refs, the stash). A commit that only a reflog still
knows (history rewritten, nothing pointing at it) is not scanned: clones never receive it.
"""

from __future__ import annotations

import json
import os
import secrets
import string
import subprocess
from pathlib import Path

from sealer.lint import history
from sealer.safetext import printable
from tests.cli_process import run_sealer

_clock = [1_700_000_000]


def pw() -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(12)) + "&!9Zq"


def git(cwd: Path, *args: str, input: bytes | None = None) -> str:
    _clock[0] += 60  # distinct, increasing author dates
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_SYSTEM": "/dev/null",
           "GIT_AUTHOR_DATE": f"{_clock[0]} +0000", "GIT_COMMITTER_DATE": f"{_clock[0]} +0000"}
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, env=env,
                          input=input).stdout.decode()


def commit(repo: Path, files: dict[str, str | bytes | None], message: str = "c") -> str:
    """Write (None: delete) files, commit them all; the new commit's sha."""
    for name, body in files.items():
        p = repo / name
        if body is None:
            p.unlink()
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(body if isinstance(body, bytes) else body.encode())
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    return git(repo, "rev-parse", "HEAD").strip()


def new_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, {"README.md": "hello\n"}, "base")
    return repo


def report(repo: Path, *args: str) -> tuple[int, list[dict[str, object]], dict[str, int]]:
    r = run_sealer("lint", "--history", *args, "--format", "json", cwd=repo)
    assert r.returncode in (0, 1), r.stderr
    doc = json.loads(r.stdout)
    return r.returncode, doc["findings"], doc["summary"]


def where(findings: list[dict[str, object]]) -> list[tuple[object, object, object]]:
    return [(f["file"], f["line"], str(f["commit"])[:12]) for f in findings]


# --- what is found, and where --------------------------------------------------------------------------------

def test_secret_added_then_removed_is_found_in_history_not_in_the_work_tree(tmp_path):
    repo = new_repo(tmp_path)
    value = pw()
    added = commit(repo, {"app.env": f"A=1\nDB_PASSWORD={value}\n"})
    commit(repo, {"app.env": "A=1\nDB_PASSWORD=${FROM_ENV}\n"})
    commit(repo, {"app.env": "A=2\nDB_PASSWORD=${FROM_ENV}\nB=3\n"})
    assert run_sealer("lint", cwd=repo).returncode == 0
    code, found, summary = report(repo)
    assert code == 1 and where(found) == [("app.env", 2, added[:12])]
    f = found[0]
    assert f["commit"] == added and f["commit_short"] == added[:12] and f["rule"] == "credential"
    assert str(f["date"]).startswith("2023-") and str(f["date"]).endswith("+00:00")  # ISO 8601 author date
    assert summary["commits"] == 4
    r = run_sealer("lint", "--history", cwd=repo)
    assert r.returncode == 1 and r.stdout.startswith("app.env:2:13: error credential: ") and added[:12] in r.stdout
    assert "in 4 commits" in r.stderr


def test_a_secret_kept_over_many_commits_is_one_finding_at_the_commit_that_added_it(tmp_path):
    repo = new_repo(tmp_path)
    value = pw()
    added = commit(repo, {"app.env": f"DB_PASSWORD={value}\n"})
    for i in range(3):
        commit(repo, {"app.env": f"X{i}=1\n" + (repo / "app.env").read_text()})  # the line moves down
    commit(repo, {"app.env": "X=1\n"})
    commit(repo, {"app.env": f"X=1\nDB_PASSWORD={value}\n"})  # re-added: still the same secret
    _, found, _ = report(repo)
    assert where(found) == [("app.env", 1, added[:12])]


def test_rewritten_history_is_scanned_where_a_ref_still_reaches_it(tmp_path):
    repo = new_repo(tmp_path)
    leaked = commit(repo, {"app.env": f"DB_PASSWORD={pw()}\n"})
    git(repo, "tag", "before-rewrite")
    git(repo, "update-ref", "refs/heads/keep", leaked)  # a branch without a reflog
    git(repo, "reset", "-q", "--hard", "HEAD~1")  # "force-push": main no longer contains it
    commit(repo, {"app.env": "DB_PASSWORD=${FROM_ENV}\n"})
    assert report(repo)[1] == []  # HEAD's history
    assert where(report(repo, "all")[1]) == [("app.env", 1, leaked[:12])]  # every ref: tag and branch
    assert where(report(repo, "before-rewrite")[1]) == [("app.env", 1, leaked[:12])]
    git(repo, "tag", "-d", "before-rewrite")
    assert where(report(repo, "keep")[1]) == [("app.env", 1, leaked[:12])]
    git(repo, "branch", "-D", "keep")
    assert report(repo, "all")[1] == []  # only the reflog knows it now: not reachable, not in any clone


def test_a_range_scans_only_its_commits(tmp_path):
    repo = new_repo(tmp_path)
    old = commit(repo, {"old.env": f"DB_PASSWORD={pw()}\n"})
    git(repo, "checkout", "-qb", "feature")
    first = commit(repo, {"a.env": f"API_TOKEN={pw()}\n"})
    second = commit(repo, {"b.env": f"DB_PASSWORD={pw()}\n"})
    assert sorted(where(report(repo, "main..feature")[1])) == [("a.env", 1, first[:12]), ("b.env", 1, second[:12])]
    assert where(report(repo, f"{second}^..HEAD")[1]) == [("b.env", 1, second[:12])]
    assert len(report(repo)[1]) == 3 and ("old.env", 1, old[:12]) in where(report(repo)[1])


def test_merges_report_branch_secrets_once_and_scan_what_only_the_merge_adds(tmp_path):
    repo = new_repo(tmp_path)
    git(repo, "checkout", "-qb", "side")
    on_side = commit(repo, {"side.env": f"DB_PASSWORD={pw()}\n"})
    git(repo, "checkout", "-q", "main")
    commit(repo, {"main.txt": "x\n"})
    git(repo, "merge", "-q", "--no-ff", "--no-commit", "side")
    (repo / "merge.env").write_text(f"API_TOKEN={pw()}\n")  # an "evil merge": only the merge commit adds it
    git(repo, "add", "merge.env")
    git(repo, "commit", "-qm", "merge")
    merge = git(repo, "rev-parse", "HEAD").strip()
    assert sorted(where(report(repo)[1])) == [("merge.env", 1, merge[:12]), ("side.env", 1, on_side[:12])]


def test_a_rename_adds_nothing_new_and_only_edited_lines_are_scanned(tmp_path):
    repo = new_repo(tmp_path)
    body = "".join(f"SETTING_{i}=value number {i}\n" for i in range(20))
    added = commit(repo, {"old.env": body + f"DB_PASSWORD={pw()}\n"})
    git(repo, "mv", "old.env", "new.env")
    git(repo, "commit", "-qm", "rename")
    edit = commit(repo, {"new.env": (repo / "new.env").read_text() + f"API_TOKEN={pw()}\n"})
    assert where(report(repo)[1]) == [("old.env", 21, added[:12]), ("new.env", 22, edit[:12])]


def test_binary_files_are_skipped_and_counted(tmp_path):
    repo = new_repo(tmp_path)
    commit(repo, {"blob.bin": b"\0\1\2DB_PASSWORD=" + pw().encode() + b"\n\0"})
    code, found, summary = report(repo)
    assert (code, found, summary["skipped_binary"]) == (0, [], 1)


def test_paths_with_spaces_quotes_tabs_and_unicode(tmp_path):
    repo = new_repo(tmp_path)
    names = ["dir with space/app é.env", "tab\there.env", 'quote"d.env', "日本/秘密.env"]
    commit(repo, {n: f"DB_PASSWORD={pw()}\n" for n in names})
    assert sorted(f for f, _, _ in where(report(repo)[1])) == sorted(printable(n) for n in names)  # tab: "\\t"
    assert history.unquote(b'"a\\tb\\303\\251\\"c"') == "a\tbé\"c".encode()


# --- allow, baseline, reports, no value anywhere ---------------------------------------------------------------

def test_sealer_allow_and_baseline_work_on_history(tmp_path):
    repo = new_repo(tmp_path)
    commit(repo, {"allowed.env": f"DB_PASSWORD={pw()}  # sealer:allow credential\n"})
    commit(repo, {"app.env": f"DB_PASSWORD={pw()}\n"})
    commit(repo, {"app.env": "X=1\n" + (repo / "app.env").read_text()})
    code, found, _ = report(repo)
    assert code == 1 and [f["file"] for f in found] == ["app.env"]
    r = run_sealer("lint", "--history", "--format", "json", "-o", tmp_path / "base.json", cwd=repo)
    assert r.returncode == 1
    r = run_sealer("lint", "--history", "--baseline", tmp_path / "base.json", cwd=repo)
    assert r.returncode == 0 and "1 in the baseline" in r.stderr
    # a work-tree baseline (run at the top of the repository) covers the same secret in history: same fingerprint
    r = run_sealer("lint", "--format", "sarif", "-o", tmp_path / "tree.sarif", cwd=repo)
    assert r.returncode == 1
    assert run_sealer("lint", "--history", "--baseline", tmp_path / "tree.sarif", cwd=repo).returncode == 0


def test_json_and_sarif_carry_commit_and_date_and_no_format_carries_the_value(tmp_path):
    repo = new_repo(tmp_path)
    value = pw()
    added = commit(repo, {"k8s/app.env": f"DB_PASSWORD={value}\n"})
    commit(repo, {"k8s/app.env": None})
    outputs = []
    for fmt in ("text", "json", "sarif"):
        r = run_sealer("lint", "--history", "--format", fmt, cwd=repo)
        assert r.returncode == 1
        outputs += [r.stdout, r.stderr]
    sarif = json.loads(outputs[4])
    result = sarif["runs"][0]["results"][0]
    assert result["properties"]["commitSha"] == added and result["partialFingerprints"]["commitSha"] == added
    assert result["properties"]["authorDate"].startswith("2023-")
    provenance = sarif["runs"][0]["versionControlProvenance"][0]
    assert provenance["revisionId"] == git(repo, "rev-parse", "HEAD").strip()
    assert provenance["repositoryUri"].startswith("file://")
    for text in outputs:
        assert value not in text and value[:12] not in text


def test_sarif_provenance_strips_credentials_from_the_remote_url(tmp_path):
    repo = new_repo(tmp_path)
    git(repo, "remote", "add", "origin", "https://user:hunter2secret@example.com/org/repo.git")
    uri, head = history.provenance(str(repo))  # type: ignore[misc]
    assert uri == "https://example.com/org/repo.git" and len(head) == 40


def test_output_without_history_is_unchanged(tmp_path):
    repo = new_repo(tmp_path)
    (repo / "app.env").write_text(f"DB_PASSWORD={pw()}\n")
    doc = json.loads(run_sealer("lint", "--format", "json", cwd=repo).stdout)
    assert set(doc["findings"][0]) == {"rule", "severity", "file", "line", "column", "detector", "message",
                                       "fingerprint"}
    assert "commits" not in doc["summary"]
    sarif = json.loads(run_sealer("lint", "--format", "sarif", cwd=repo).stdout)
    assert "versionControlProvenance" not in sarif["runs"][0]
    assert "properties" not in sarif["runs"][0]["results"][0]


# --- errors ----------------------------------------------------------------------------------------------------

def test_bad_ranges_and_no_repository_are_one_line_exit_2(tmp_path):
    repo = new_repo(tmp_path)
    for args in (["--history", "nonsense"], ["--history", "main..nope"], ["--history", "a b"],
                 ["--history", "--staged"], ["--history", "HEAD", "some/path"]):
        r = run_sealer("lint", *args, cwd=repo)
        assert r.returncode == 2 and r.stdout == "", (args, r.stderr)
        assert "--history" in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    plain = tmp_path / "plain"
    plain.mkdir()
    r = run_sealer("lint", "--history", cwd=plain)
    assert r.returncode == 2 and "--history: not a Git repository" in r.stderr


def test_a_bare_mirror_is_scanned_too(tmp_path):
    repo = new_repo(tmp_path)
    added = commit(repo, {"app.env": f"DB_PASSWORD={pw()}\n"})
    git(tmp_path, "clone", "-q", "--mirror", str(repo), str(tmp_path / "mirror.git"))
    assert where(report(tmp_path / "mirror.git")[1]) == [("app.env", 1, added[:12])]


def test_empty_repository_has_no_history_to_scan(tmp_path):
    repo = tmp_path / "empty"
    repo.mkdir()
    git(repo, "init", "-q")
    r = run_sealer("lint", "--history", cwd=repo)
    assert r.returncode == 0 and "0 findings in 0 commits" in r.stderr


# --- parallel and --since --------------------------------------------------------------------------------------

def test_parallel_history_gives_the_same_findings_as_one_process(tmp_path):
    repo = tmp_path / "many"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    stream = []
    for i in range(1, 91):  # fast-import: 90 commits, a secret every 7th, removed 3 commits later
        files = f"M 100644 inline f{i % 9}.env\ndata <<EOF\nN{i}=1\n" + \
            (f"DB_PASSWORD={pw()}\n" if i % 7 == 0 else "") + "EOF\n"
        parent = f"from :{i - 1}\n" if i > 1 else ""
        stream.append(f"commit refs/heads/main\nmark :{i}\ncommitter t <t@t> {1_700_000_000 + i} +0000\n"
                      f"data 1\nc\n{parent}{files}")
    git(repo, "fast-import", "--quiet", input="".join(stream).encode())
    one = run_sealer("lint", "--history", "-j", "1", "--format", "json", cwd=repo)
    two = run_sealer("lint", "--history", "-j", "4", "--format", "json", cwd=repo)  # 2 workers, 8 chunks
    assert json.loads(one.stdout) == json.loads(two.stdout)
    assert len(json.loads(one.stdout)["findings"]) == 12


def test_since_reports_only_lines_added_since_the_merge_base(tmp_path):
    repo = new_repo(tmp_path)
    legacy = "".join(f"S{i}=1\n" for i in range(5)) + f"DB_PASSWORD={pw()}\n"
    commit(repo, {"app.env": legacy, "k8s/old.yaml": f"API_TOKEN: {pw()}\n"})
    git(repo, "checkout", "-qb", "feature")
    commit(repo, {"app.env": "NEW=1\n" + legacy + f"API_TOKEN={pw()}\n"})  # legacy secret moves to line 7
    commit(repo, {"k8s/old.yaml": None, "k8s/moved.yaml": f"API_TOKEN: {pw()}\n"})
    (repo / "app.env").write_text((repo / "app.env").read_text() + f"SECRET_KEY={pw()}\n")  # not committed
    r = run_sealer("lint", "--since", "main", "--format", "json", cwd=repo)
    found = [(f["file"], f["line"]) for f in json.loads(r.stdout)["findings"]]
    assert r.returncode == 1 and found == [("app.env", 8), ("app.env", 9), ("k8s/moved.yaml", 1)]
    r = run_sealer("lint", "--since", "main", "--format", "json", cwd=repo / "k8s")
    assert [(f["file"], f["line"]) for f in json.loads(r.stdout)["findings"]] == [("moved.yaml", 1)]


def test_config_exclude_applies_and_huge_additions_are_skipped_with_a_note(tmp_path):
    repo = new_repo(tmp_path)
    commit(repo, {"fixtures/x.env": f"DB_PASSWORD={pw()}\n", "big.env": "X=1\n" * 100 + f"DB_PASSWORD={pw()}\n"})
    (repo / ".sealer-lint.yaml").write_text("exclude: [/fixtures/]\nmax_file_size: 200\n")
    r = run_sealer("lint", "--history", "--format", "json", cwd=repo)
    doc = json.loads(r.stdout)
    assert (r.returncode, doc["findings"], doc["summary"]["skipped_large"]) == (0, [], 1)
    assert "1 over max_file_size not scanned" in r.stderr
