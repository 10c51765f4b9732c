"""`sealer lint --history` against `gitleaks git` on the same generated repository, in the same run.

The repository (built with `git fast-import`, deterministic): COMMITS commits over FILES files (YAML manifests,
Python, .env, Markdown), each commit editing a few files; every 25th commit plants a credential (AWS key id,
GitHub token, `DB_PASSWORD=` assignment, Slack webhook) and most are removed again a few commits later, so they
live only in history. Every 200th commit is a merge of a short side branch. Both tools read all of it:
`sealer lint --history all --format json -o OUT` (one process per core) and
`gitleaks git --no-banner -f json -r OUT REPO` (its goroutines; `git log -p -U0 --full-history --all`). Runs
interleave, alternating order; figures are medians of wall and CPU time (wait4).

    .venv/bin/python -m bench.lint_history_bench [--quick] [--commits N]     prints a markdown table
"""

from __future__ import annotations

import argparse
import json
import random
import string
import subprocess
import tempfile
from pathlib import Path

from bench.common import Timing, fmt_s, log, markdown_table, median, sealer_cli
from bench.lint_bench import _run, find_gitleaks

COMMITS = 2000
FILES = 300


def _token(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _secret(rng: random.Random, i: int) -> str:
    up, alnum = string.ascii_uppercase + string.digits, string.ascii_letters + string.digits
    kind = i % 4
    if kind == 0:
        return f"aws_access_key_id = AKIA{_token(rng, up, 16)}"
    if kind == 1:
        return f"GITHUB_TOKEN=ghp_{_token(rng, alnum, 36)}"
    if kind == 2:
        return f"DB_PASSWORD={_token(rng, alnum, 14)}&!9Zq"
    return f"SLACK_WEBHOOK=https://hooks.slack.com/services/T{_token(rng, up, 8)}/B{_token(rng, up, 8)}/" \
           f"{_token(rng, alnum, 24)}"


def _body(rng: random.Random, name: str, lines: int) -> list[str]:
    if name.endswith(".yaml"):
        head = ["apiVersion: apps/v1", "kind: Deployment", f"metadata: {{name: {Path(name).stem}}}", "spec:"]
        return head + [f"  key{j}: value-{rng.randrange(10**6)}" for j in range(lines)]
    if name.endswith(".py"):
        return [f"def f{j}(x):\n    return x * {rng.randrange(1000)}  # step {j}" for j in range(lines)]
    if name.endswith(".env"):
        return [f"SETTING_{j}={rng.randrange(10**6)}" for j in range(lines)]
    return [f"Paragraph {j}: " + " ".join(rng.choice(("the", "repo", "deploys", "a", "service", "config"))
                                          for _ in range(12)) for j in range(lines)]


def build_repo(dest: Path, commits: int = COMMITS, files: int = FILES, seed: int = 18) -> tuple[Path, int]:
    """The repository and how many credentials were planted."""
    rng = random.Random(seed)
    suffixes = (".yaml", ".py", ".env", ".md")
    names = [f"dir{i % 12}/file{i}{suffixes[i % 4]}" for i in range(files)]
    content = {n: _body(rng, n, rng.randrange(5, 60)) for n in names}
    stream: list[bytes] = []
    mark = 0
    planted = 0
    pending: list[tuple[int, str, str]] = []  # (commit at which to remove, file, line)

    def data(text: str) -> None:
        raw = text.encode()
        stream.append(b"data %d\n" % len(raw) + raw + b"\n")

    def commit(branch: str, touched: dict[str, list[str]], parents: list[int], when: int) -> int:
        nonlocal mark
        mark += 1
        stream.append(f"commit refs/heads/{branch}\nmark :{mark}\n"
                      f"author Bench <b@b> {when} +0000\ncommitter Bench <b@b> {when} +0000\n".encode())
        data(f"change {mark}")
        for i, p in enumerate(parents):
            stream.append(f"{'from' if i == 0 else 'merge'} :{p}\n".encode())
        for n, lines in touched.items():
            stream.append(f"M 100644 inline {n}\n".encode())
            data("\n".join(lines) + "\n")
        return mark

    when = 1_600_000_000
    head = commit("main", dict(content), [], when)
    for c in range(1, commits):
        when += 600
        touched: dict[str, list[str]] = {}
        for n in rng.sample(names, rng.randrange(1, 5)):
            lines = content[n]
            for _ in range(rng.randrange(1, 6)):
                pos = rng.randrange(len(lines) + 1)
                lines[pos:pos] = _body(rng, n, 1)
            touched[n] = lines
        if c % 25 == 0:
            n = rng.choice(names)
            line = _secret(rng, planted)
            planted += 1
            content[n].insert(rng.randrange(len(content[n]) + 1), line)
            touched[n] = content[n]
            if planted % 3:
                pending.append((c + rng.randrange(1, 10), n, line))
        for item in [p for p in pending if p[0] == c]:
            pending.remove(item)
            if item[2] in content[item[1]]:
                content[item[1]].remove(item[2])
                touched[item[1]] = content[item[1]]
        if c % 200 == 0:  # a side branch of two commits, merged back
            side = commit(f"side{c}", {f"side/{c}.md": _body(rng, "x.md", 20)}, [head], when)
            side = commit(f"side{c}", {f"side/{c}.md": _body(rng, "x.md", 25)}, [side], when + 60)
            head = commit("main", touched, [head, side], when + 120)
        else:
            head = commit("main", touched, [head], when)
    dest.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(dest)], check=True)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=dest, input=b"".join(stream), check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=dest, check=True)
    return dest, planted


def measure(work: Path, commits: int, reps: int) -> dict[str, object]:
    gitleaks = find_gitleaks()
    repo, planted = build_repo(work / "repo", commits)
    sealer_out, gitleaks_out = work / "sealer.json", work / "gitleaks.json"
    sealer_cmd = [sealer_cli(), "lint", "--history", "all", "--format", "json", "-w", str(sealer_out)]
    times: dict[str, list[Timing]] = {"sealer": [], "gitleaks": []}
    for rep in range(reps):
        order = ["sealer", "gitleaks"] if rep % 2 == 0 else ["gitleaks", "sealer"]
        for tool in order:
            if tool == "sealer":
                times["sealer"].append(_run(sealer_cmd, cwd=repo))
            elif gitleaks:
                times["gitleaks"].append(_run([gitleaks, "git", "--no-banner", "-f", "json", "-r", str(gitleaks_out),
                                               "--exit-code", "0", "--log-level", "error", str(repo)]))
        log(f"rep {rep + 1}/{reps} done")
    sealer_found = json.loads(sealer_out.read_text())["findings"]
    gitleaks_found = json.loads(gitleaks_out.read_text() or "[]") if gitleaks else []
    return {"commits": commits, "files": FILES, "planted": planted, "times": times,
            "sealer_findings": len(sealer_found), "gitleaks_findings": len(gitleaks_found),
            "sealer_planted_found": len({(f["commit"], f["file"]) for f in sealer_found}),
            "gitleaks": bool(gitleaks)}


def table(r: dict[str, object]) -> str:
    """The house table: figure, sealer, peer (gitleaks), ratio, target, verdict."""
    times = r["times"]
    assert isinstance(times, dict)
    s_wall, s_cpu = median([t.wall for t in times["sealer"]]), median([t.cpu for t in times["sealer"]])
    what = f"lint --history: {r['commits']} commits, {r['files']} files ({r['planted']} credentials planted)"
    if not times["gitleaks"]:
        return markdown_table([(what + ", wall", fmt_s(s_wall), "gitleaks missing", "", ">= peer speed", "n/a")])
    g_wall, g_cpu = median([t.wall for t in times["gitleaks"]]), median([t.cpu for t in times["gitleaks"]])
    ratio = g_wall / s_wall  # > 1: sealer faster
    return markdown_table([
        (what + ", wall", fmt_s(s_wall), fmt_s(g_wall), f"{ratio:.2f}x", ">= 1.0x", "met" if ratio >= 1 else "not met"),
        (what + ", CPU", fmt_s(s_cpu), fmt_s(g_cpu), f"{g_cpu / s_cpu:.2f}x", "", ""),
        ("lint --history: findings (deduplicated / per commit)", str(r["sealer_findings"]),
         str(r["gitleaks_findings"]), "", "", ""),
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 commits, 1 run each")
    parser.add_argument("--commits", type=int, default=None)
    parser.add_argument("--reps", type=int, default=None)
    args = parser.parse_args()
    commits = args.commits or (500 if args.quick else COMMITS)
    reps = args.reps or (1 if args.quick else 3)
    with tempfile.TemporaryDirectory(prefix="sealer-history-bench-") as tmp:
        print(table(measure(Path(tmp), commits, reps)))


if __name__ == "__main__":
    main()
