"""Which files lint reads: a directory walk that honours .gitignore, the staged blobs, or the files changed since
a revision.

Inside a Git work tree the walk asks git (`git ls-files --cached --others --exclude-standard`), which applies
every .gitignore, `.git/info/exclude` and the global excludes file exactly as git does. Outside one, .gitignore
files are read and matched here (`IgnoreRules`, git's pattern rules). Symbolic links and `.git` are never
followed; files named on the command line are always read. Config `exclude` patterns use the same matcher.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass

from sealer import gitcmd
from sealer.errors import InputError


@dataclass(frozen=True, slots=True)
class Source:
    path: str  # displayed (relative to the working directory, '/' separators)
    location: str | None  # file on disk (also where .sops.yaml is looked for); None for nothing on disk
    size: int
    data: bytes | None = None  # content given directly (staged blobs)


# --- gitignore patterns -----------------------------------------------------------------------------------

def _translate(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if pattern.startswith("**/", i) and (i == 0 or pattern[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i) and i + 2 == n and (i == 0 or pattern[i - 1] == "/"):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            j = pattern.find("]", i + 2)
            if j == -1:
                out.append(re.escape(c))
                i += 1
                continue
            body = pattern[i + 1:j]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = j + 1
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return "".join(out)


@dataclass(frozen=True, slots=True)
class _Pattern:
    base: str  # directory of the file the pattern came from, relative to the walk root ("" = root)
    regex: re.Pattern[str]
    negate: bool
    dir_only: bool


def compile_pattern(line: str, base: str = "") -> _Pattern | None:
    """One gitignore line (None for blanks and comments)."""
    line = line.rstrip("\r\n")
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(line):
        stripped += " "
    line = stripped
    if not line or line.startswith("#"):
        return None
    negate = line.startswith("!")
    if negate or line.startswith("\\!") or line.startswith("\\#"):
        line = line[1:]
    dir_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        return None
    anchored = "/" in line
    line = line.lstrip("/")
    regex = _translate(line)
    if not anchored:
        regex = "(?:.*/)?" + regex
    return _Pattern(base, re.compile(f"^{regex}$", re.S), negate, dir_only)


class IgnoreRules:
    """Ordered gitignore patterns; the last one matching a path decides, as in git."""

    def __init__(self, patterns: tuple[_Pattern, ...] = ()) -> None:
        self.patterns = patterns

    def extended(self, lines: list[str], base: str) -> IgnoreRules:
        new = [p for p in (compile_pattern(line, base) for line in lines) if p is not None]
        return IgnoreRules(self.patterns + tuple(new)) if new else self

    def match(self, rel: str, is_dir: bool) -> bool:
        """Whether ``rel`` (relative to the walk root, '/' separators) itself is ignored."""
        result = False
        for p in self.patterns:
            if p.dir_only and not is_dir:
                continue
            if p.base:
                if not rel.startswith(p.base + "/"):
                    continue
                sub = rel[len(p.base) + 1:]
            else:
                sub = rel
            if p.regex.match(sub):
                result = not p.negate
        return result

    def excluded(self, rel: str) -> bool:
        """Whether a file or any directory above it is ignored (for lists of files not found by walking)."""
        parts = rel.split("/")
        for i in range(1, len(parts)):
            if self.match("/".join(parts[:i]), True):
                return True
        return self.match(rel, False)


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


# --- discovery ---------------------------------------------------------------------------------------------

def display(path: str) -> str:
    rel = os.path.relpath(path)
    return (path if rel.startswith("..") and os.path.isabs(path) else rel).replace(os.sep, "/")


def _git(args: list[str], cwd: str, *, input: bytes | None = None, check: bool = True) -> bytes | None:
    proc = gitcmd.run(args, cwd, input=input)
    if proc is None:
        if check:
            raise InputError("git is needed for --staged / --since and was not found")
        return None
    if proc.returncode != 0:
        if check:
            reason = proc.stderr.decode(errors="replace").strip().splitlines()
            raise InputError(f"git {args[0]} failed: {reason[-1] if reason else 'exit ' + str(proc.returncode)}")
        return None
    return proc.stdout


def git_toplevel(directory: str) -> str | None:
    out = _git(["rev-parse", "--show-toplevel"], directory, check=False)
    return os.fsdecode(out.strip()) if out else None


def _work_tree(directory: str, flag: str) -> str:
    """The top of the Git work tree around ``directory``; InputError naming ``flag`` when there is none, or when
    git itself is missing (a different fix for the user: install git, not cd into a clone)."""
    top = git_toplevel(directory)
    if top is not None:
        return top
    if gitcmd.run(["--version"], directory) is None:
        raise InputError("git is needed and was not found", field=flag)
    raise InputError("not a Git repository (run it inside a clone)", field=flag)


def _regular(path: str) -> int | None:
    """Size of a regular file (not a link, not a directory), else None."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None


def _walk_git(directory: str) -> list[str] | None:
    out = _git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], directory, check=False)
    if out is None:
        return None
    names = sorted({os.fsdecode(n) for n in out.split(b"\0") if n})
    return [os.path.join(directory, n) for n in names]


def _walk_plain(directory: str) -> list[str]:
    found: list[str] = []

    def visit(path: str, rel: str, rules: IgnoreRules) -> None:
        gitignore = os.path.join(path, ".gitignore")
        if os.path.isfile(gitignore):
            rules = rules.extended(_read_lines(gitignore), rel)
        try:
            entries = sorted(os.scandir(path), key=lambda e: e.name)
        except OSError as e:
            raise InputError(f"cannot read directory: {e.strerror}", source=display(path)) from None
        for entry in entries:
            child_rel = f"{rel}/{entry.name}" if rel else entry.name
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if entry.name != ".git" and not rules.match(child_rel, True):
                    visit(entry.path, child_rel, rules)
            elif entry.is_file() and not rules.match(child_rel, False):
                found.append(entry.path)

    visit(directory, "", IgnoreRules())
    return found


def discover(paths: list[str]) -> list[str]:
    """Files under PATHs (a named file is always included), in a stable order, without duplicates."""
    files: list[str] = []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError as e:
            raise InputError(f"cannot read: {e.strerror}", source=path) from None
        if stat.S_ISDIR(st.st_mode):
            in_git = git_toplevel(path) is not None
            listed = _walk_git(path) if in_git else None
            files.extend(listed if listed is not None else _walk_plain(path))
        else:
            files.append(path)
    seen: set[str] = set()
    unique = []
    for f in files:
        key = os.path.normpath(os.path.abspath(f))
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def sources_from_files(files: list[str], exclude: IgnoreRules | None, exclude_base: str) -> list[Source]:
    out = []
    for f in files:
        if exclude is not None and is_excluded(f, exclude, exclude_base):
            continue
        size = _regular(f)
        if size is not None:
            out.append(Source(display(f), f, size))
    return out


def is_excluded(path: str, exclude: IgnoreRules, base: str) -> bool:
    rel = os.path.relpath(os.path.abspath(path), base).replace(os.sep, "/")
    return not rel.startswith("../") and exclude.excluded(rel)


def changed_since(rev: str, paths: list[str]) -> dict[str, set[int]]:
    """Files added, copied, modified or renamed between the merge base of REV and HEAD, plus uncommitted
    changes to tracked files (what a pull request adds to REV), as paths from the working directory, each with
    the numbers of its lines added since (in the current file)."""
    from sealer.lint.history import added_lines

    cwd = os.getcwd()
    top = _work_tree(cwd, "--since")
    if _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], cwd, check=False) is None:
        raise InputError(f"unknown revision {rev!r}", field="--since")
    base = (_git(["merge-base", rev, "HEAD"], cwd) or b"").strip().decode()
    added = added_lines(["--diff-filter=ACMR", base, "--", *(paths or ["."])], cwd)  # default: like PATH "."
    return {os.path.join(top, name): lines for name, lines in added.items()}


def staged(paths: list[str]) -> list[Source]:
    """The staged content (the index) of files added, copied, modified or renamed in it."""
    cwd = os.getcwd()
    top = _work_tree(cwd, "--staged")
    out = _git(["diff", "--cached", "--name-only", "-z", "--no-renames", "--diff-filter=ACMR", "--", *paths],
               cwd) or b""
    names = [os.fsdecode(n) for n in out.split(b"\0") if n]
    if not names:
        return []
    listing = _git(["ls-files", "-s", "-z", "--", *names], top) or b""
    blobs: dict[str, str] = {}
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        info, _, name = entry.partition(b"\t")
        mode, oid, stage_no = info.split()
        if stage_no == b"0" and mode in (b"100644", b"100755"):
            blobs[os.fsdecode(name)] = oid.decode()
    if not blobs:
        return []
    order = list(blobs)
    batch = _git(["cat-file", "--batch"], top, input="".join(blobs[n] + "\n" for n in order).encode()) or b""
    sources: list[Source] = []
    pos = 0
    for name in order:
        header_end = batch.index(b"\n", pos)
        header = batch[pos:header_end].split()
        size = int(header[2])
        content = batch[header_end + 1:header_end + 1 + size]
        pos = header_end + 1 + size + 1
        location = os.path.join(top, name)
        sources.append(Source(display(location), location, size, content))
    return sources
