"""Git history for `sealer lint --history` and `--since`: the lines each commit added, read from `git log -p -U0`.

One `git log` stream already keeps two cores busy (git writing the patch, Python scanning it); with 4 or more
jobs the commit list is split in contiguous chunks, oldest first, over jobs/2 such pairs. Each stream is parsed
line by line: a commit header we format ourselves (starting with NUL, which no diff line does), each
file's `+++` path (C-unquoted, so spaces, newlines and non-ASCII names survive), each hunk's new-file line
number, and the `+` lines under it. Only added lines are scanned, with the text detectors and custom rules (the
`credential` rule and custom ids); the YAML-structure rules (plaintext-secret, sops-*, sealed-*) need a whole
document and do not run on fragments. Binary diffs and files whose added text exceeds `max_file_size` are
skipped and counted.

Merges are diffed against their first parent (`--diff-merges=first-parent`): a line that only a merge brings in
(a conflict resolution) is scanned; lines merged from a branch were already scanned in the branch's commits, and
deduplication keeps the oldest commit (topological order). gitleaks' `git log -p` shows merges without a diff.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace

from sealer.errors import InputError
from sealer.lint.context import FileContext, Options
from sealer.lint.findings import Finding

_HUNK = re.compile(rb"^@@@* -[0-9,]+ \+(\d+)(?:,(\d+))? @@")
_MARK = b"\0"
_FORMAT = "--format=%x00%H %aI"
_PARALLEL_MIN_COMMITS = 64
# Options that make the patch independent of the user's git configuration.
_DIFF_OPTIONS = ["-p", "-U0", "-M", "--no-color", "--no-ext-diff", "--no-textconv", "--src-prefix=a/",
                 "--dst-prefix=b/", "--no-relative"]
_LOG_OPTIONS = ["--diff-merges=first-parent", "--no-show-signature", "--no-notes", _FORMAT]
_QUOTED = {ord("a"): 7, ord("b"): 8, ord("t"): 9, ord("n"): 10, ord("v"): 11, ord("f"): 12, ord("r"): 13,
           ord('"'): 34, ord("\\"): 92}


@dataclass(frozen=True, slots=True)
class Commit:
    sha: str
    date: str  # author date, ISO 8601


@dataclass
class Fragment:
    """One file's added lines in one commit (or in the work tree's diff)."""

    path: str  # as git names it: relative to the top of the work tree
    numbers: list[int] = field(default_factory=list)  # line number in the new file of each added line
    lines: list[bytes] = field(default_factory=list)
    size: int = 0
    large: bool = False


@dataclass
class HistoryStats:
    commits: int = 0
    files: int = 0  # file versions scanned
    bytes: int = 0
    binary: int = 0
    large: int = 0

    def add(self, other: HistoryStats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def unquote(raw: bytes) -> bytes:
    """A path as git prints it in a patch header: C-quoted ("a\\tb", octal escapes) when it has to be."""
    if not (len(raw) >= 2 and raw.startswith(b'"') and raw.endswith(b'"')):
        return raw
    body, out, i = raw[1:-1], bytearray(), 0
    while i < len(body):
        c = body[i]
        if c == 92 and i + 1 < len(body):
            n = body[i + 1]
            if 48 <= n <= 55 and body[i + 1:i + 4].isdigit():
                out.append(int(body[i + 1:i + 4], 8) & 0xFF)
                i += 4
                continue
            out.append(_QUOTED.get(n, n))
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


def parse(stream: Iterable[bytes], max_bytes: int) -> Iterator[tuple[Commit | None, Fragment | None]]:
    """(commit, None) at each commit header; (commit, fragment) for each file with added lines (marked `large`
    past max_bytes, its lines no longer kept); (commit, Fragment with size -1) for each binary diff."""
    commit: Commit | None = None
    frag: Fragment | None = None
    in_hunk = False
    number = 0
    for raw in stream:
        first = raw[0] if raw else 0
        if in_hunk:  # the hot path: -U0 hunks hold only '-', '+' and "\ No newline" lines
            if first == 43:  # '+'
                if frag is not None and not frag.large:
                    frag.size += len(raw) - 1
                    if frag.size > max_bytes:
                        frag.large = True
                    else:
                        frag.numbers.append(number)
                        frag.lines.append(raw[1:-1] if raw[-1] == 10 else raw[1:])
                number += 1
                continue
            if first == 45 or first == 92:  # '-', '\\'
                continue
        line = raw[:-1] if raw.endswith(b"\n") else raw
        if line.startswith(b"@@"):
            m = _HUNK.match(line)
            if m:
                in_hunk, number = True, int(m.group(1))
            continue
        in_hunk = False
        if line.startswith(_MARK):
            if frag is not None and (frag.lines or frag.large):
                yield commit, frag
            frag = None
            sha, _, date = line[1:].decode("ascii", "replace").partition(" ")
            commit = Commit(sha, date)
            yield commit, None
        elif line.startswith(b"diff --git ") or line.startswith(b"diff --cc ") or line.startswith(b"diff --combined "):
            if frag is not None and (frag.lines or frag.large):
                yield commit, frag
            frag = None
        elif line.startswith(b"+++ "):
            name = unquote(line[4:].rstrip(b"\t"))
            frag = Fragment(os.fsdecode(name[2:])) if name.startswith(b"b/") else None
        elif line.startswith(b"Binary files ") or line == b"GIT binary patch":
            yield commit, Fragment("", large=False, size=-1)  # a binary diff: counted, never scanned
    if frag is not None and (frag.lines or frag.large):
        yield commit, frag


def scan_fragment(frag: Fragment, options: Options) -> list[Finding]:
    """Findings of one fragment's added lines (text detectors and custom rules), at their new-file lines."""
    return scan_fragments([frag], options)[0]


_BATCH_BYTES = 256 * 1024


def scan_fragments(frags: list[Fragment], options: Options) -> list[list[Finding]]:
    """Each fragment's findings, as `credentials.scan_text` gives them for a file, with the detectors run once
    over many fragments joined (blank lines between them): one pass of each regex instead of one per file."""
    import bisect

    from sealer.lint import detectors
    from sealer.lint.rules import credentials
    from sealer.lint.scan import _suffix, finalize

    texts = [b"\n".join(f.lines).decode("utf-8", "replace") for f in frags]
    contexts = [FileContext(f.path, None, t, options) for f, t in zip(frags, texts, strict=True)]
    for code in (False, True):
        members = [i for i, f in enumerate(frags) if (_suffix(f.path) in detectors.CODE_SUFFIXES) == code]
        if not members:
            continue
        starts, pos = [], 0
        for i in members:
            starts.append(pos)
            pos += len(texts[i]) + 2
        joined = "\n\n".join(texts[i] for i in members)
        low = joined.lower()
        if len(low) != len(joined):  # lower() changed a length (rare letters): offsets would drift
            for i in members:
                credentials.scan_text(contexts[i], texts[i].lower(), code=code)
            continue
        scans: list[tuple[str, str, detectors.Hit]] = []
        if options.enabled(credentials.RULE):
            scans += [(credentials.RULE, "", h) for h in detectors.scan(joined, low, code=code,
                                                                         threshold=options.raw_entropy)]
        for rule in options.custom:
            if options.enabled(rule.id):
                scans += [(rule.id, rule.description or f"matches custom rule {rule.id}", h)
                          for h in rule.scan(joined, low)]
        for rule_id, message, hit in scans:
            k = bisect.bisect_right(starts, hit.start) - 1
            ctx = contexts[members[k]]
            if hit.start - starts[k] >= len(ctx.text):
                continue  # in the blank lines between two fragments
            line, col = ctx.position(hit.start - starts[k])
            if rule_id == credentials.RULE:
                ctx.add(rule_id, line, col, credentials.describe(hit.detector), hit.secret, hit.detector)
            else:
                ctx.add(rule_id, line, col, message, hit.secret, rule_id)
    out = []
    for frag, ctx in zip(frags, contexts, strict=True):
        numbers = frag.numbers
        out.append([replace(f, line=numbers[f.line - 1] if f.line <= len(numbers) else f.line)
                    for f in finalize(ctx.findings)])
    return out


def _scan_stream(stream: Iterable[bytes], options: Options) -> tuple[list[Finding], HistoryStats]:
    stats = HistoryStats()
    found: list[Finding] = []
    batch: list[tuple[Commit | None, Fragment]] = []
    size = 0

    def flush() -> None:
        for (commit, _), findings in zip(batch, scan_fragments([f for _, f in batch], options), strict=True):
            found.extend(replace(f, commit=commit.sha, date=commit.date) if commit else f for f in findings)
        batch.clear()

    for commit, frag in parse(stream, options.max_bytes):
        if frag is None:
            stats.commits += 1
        elif frag.size < 0:
            stats.binary += 1
        elif frag.large:
            stats.large += 1
        else:
            stats.files += 1
            stats.bytes += frag.size
            batch.append((commit, frag))
            size += frag.size
            if size >= _BATCH_BYTES:
                flush()
                size = 0
    flush()
    return found, stats


def _git_log(top: str, revs: list[str], stdin: bytes | None, options: Options) -> tuple[list[Finding],
                                                                                       HistoryStats]:
    cmd = ["git", "-c", "core.quotePath=false", "log", *_DIFF_OPTIONS, *_LOG_OPTIONS, *revs, "--"]
    try:
        proc = subprocess.Popen(cmd, cwd=top, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError:
        raise InputError("git is needed and was not found", field="--history") from None
    assert proc.stdout is not None and proc.stderr is not None
    if stdin is not None:
        assert proc.stdin is not None
        proc.stdin.write(stdin)  # the commit list is small next to the pipe's reader: git reads it all first
        proc.stdin.close()
    result = _scan_stream(proc.stdout, options)
    err = proc.stderr.read()
    if proc.wait() != 0:
        reason = err.decode(errors="replace").strip().splitlines()
        raise InputError(f"git log failed: {reason[-1] if reason else 'exit ' + str(proc.returncode)}",
                         field="--history")
    return result


_worker: tuple[str, Options] | None = None


def _init(top: str, options: Options) -> None:
    global _worker
    _worker = (top, options)


def _scan_chunk(shas: list[str]) -> tuple[list[Finding], HistoryStats]:
    assert _worker is not None
    top, options = _worker
    return _git_log(top, ["--no-walk=unsorted", "--stdin"], "".join(s + "\n" for s in shas).encode(), options)


def _run(args: list[str], cwd: str, flag: str = "--history") -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except OSError:
        raise InputError("git is needed and was not found", field=flag) from None


def revisions(spec: str | None, cwd: str) -> tuple[str, list[str]]:
    """(top of the work tree, the git log arguments for SPEC): None is HEAD, `all` every ref (branches, tags,
    remote-tracking branches, the stash), else one revision or range (`main..feature`, `abc^..HEAD`)."""
    proc = _run(["rev-parse", "--show-toplevel"], cwd)
    if proc.returncode != 0:  # a bare repository (a mirror) has history but no work tree
        proc = _run(["rev-parse", "--absolute-git-dir"], cwd)
        bare = _run(["rev-parse", "--is-bare-repository"], cwd).stdout.strip() == b"true"
        if proc.returncode != 0 or not bare:
            raise InputError("not a Git repository (run it inside a clone)", field="--history")
    top = os.fsdecode(proc.stdout.strip())
    if spec is None:
        return top, ["HEAD"]
    if spec == "all":
        return top, ["--all"]
    if not spec or spec.startswith("-") or any(c.isspace() for c in spec):
        raise InputError(f"not a revision or range: {spec!r}", field="--history")
    check = _run(["rev-list", "--max-count=1", spec, "--"], cwd)
    if check.returncode != 0:
        raise InputError(f"unknown revision or range {spec!r}", field="--history")
    return top, [spec]


def scan_history(spec: str | None, options: Options, jobs: int, cwd: str | None = None,
                 ) -> tuple[list[Finding], HistoryStats]:
    """Every commit of SPEC, its added lines scanned; one finding per secret (fingerprint), at the oldest commit
    that added it."""
    top, revs = revisions(spec, cwd or os.getcwd())
    if revs == ["HEAD"] and _run(["rev-parse", "--verify", "--quiet", "HEAD"], top).returncode != 0:
        return [], HistoryStats()  # a repository without commits yet
    listing = _run(["rev-list", "--reverse", "--topo-order", *revs, "--"], top)
    shas = listing.stdout.decode("ascii").split()
    workers = jobs // 2  # each worker keeps two cores busy: its git log writing the patch, itself scanning it
    if workers <= 1 or len(shas) < _PARALLEL_MIN_COMMITS:
        parts = [_git_log(top, ["--reverse", "--topo-order", *revs], None, options)]
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        n = min(len(shas), workers * 4)
        chunks = [shas[i * len(shas) // n:(i + 1) * len(shas) // n] for i in range(n)]
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                                 initializer=_init, initargs=(top, options)) as pool:
            parts = list(pool.map(_scan_chunk, chunks))
    stats = HistoryStats()
    first: dict[str, str] = {}  # fingerprint -> the commit that added it first
    findings: list[Finding] = []
    for found, part_stats in parts:
        stats.add(part_stats)
        for f in found:
            if first.setdefault(f.fingerprint, f.commit) == f.commit:
                findings.append(f)
    findings.sort(key=lambda f: (f.date, f.commit, *f.sort_key()))
    return findings, stats


def added_lines(diff_args: list[str], cwd: str, max_bytes: int = 1 << 62) -> dict[str, set[int]]:
    """Added line numbers per path (relative to the top of the work tree) of `git diff DIFF_ARGS`."""
    cmd = ["-c", "core.quotePath=false", "diff", *_DIFF_OPTIONS, *diff_args]
    proc = _run(cmd, cwd, "--since")
    if proc.returncode != 0:
        reason = proc.stderr.decode(errors="replace").strip().splitlines()
        raise InputError(f"git diff failed: {reason[-1] if reason else 'exit ' + str(proc.returncode)}",
                         field="--since")
    lines: dict[str, set[int]] = {}
    for _, frag in parse(proc.stdout.splitlines(keepends=True), max_bytes):
        if frag is not None and frag.size >= 0:
            lines.setdefault(frag.path, set()).update(frag.numbers)
    return lines


def provenance(cwd: str) -> tuple[str, str] | None:
    """(repository URI, HEAD) for SARIF's versionControlProvenance: the `origin` remote without any user or
    password in it, else the work tree as a file URI; None without a HEAD commit."""
    from urllib.parse import quote, urlsplit, urlunsplit

    head = _run(["rev-parse", "--verify", "--quiet", "HEAD"], cwd)
    if head.returncode != 0:
        return None
    remote = _run(["config", "--get", "remote.origin.url"], cwd).stdout.decode(errors="replace").strip()
    uri = ""
    if "://" in remote:
        parts = urlsplit(remote)
        uri = urlunsplit((parts.scheme, parts.hostname or "", parts.path, "", "")) if parts.hostname else ""
        if parts.port:
            uri = urlunsplit((parts.scheme, f"{parts.hostname}:{parts.port}", parts.path, "", ""))
    if not uri:  # scp-like (git@host:path, a user but never a password), a local path, or none
        top = os.fsdecode((_run(["rev-parse", "--show-toplevel"], cwd).stdout
                           or _run(["rev-parse", "--absolute-git-dir"], cwd).stdout).strip())
        uri = "file://" + quote(top, errors="surrogateescape")
    return uri, head.stdout.decode().strip()
