"""Scanning files: read, skip what is not text, run the structural rules and the text detectors; in parallel.

Files with a NUL byte in their first 8 KiB (binary) are skipped and counted. A file above `Options.max_bytes`
(default 10 MiB, `max_file_size`) is not read, but it is never passed either: it is a `scan-limit` finding (an
error), so padding a file cannot carry a secret through the gate. YAML/JSON (by suffix, and Helm-style `.tpl`
files that contain `kind:`) is parsed whatever its size; a file that does not parse is still scanned as text,
and one whose aliases expand too much (an alias bomb) is scanned as text and is a `scan-limit` finding. Work is
spread over processes in chunks of roughly equal size, largest files first, so one big file does not leave the
other cores idle.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from sealer.lint.context import FileContext, Options
from sealer.lint.findings import Finding, fingerprint
from sealer.lint.walk import Source

SCAN_LIMIT = "scan-limit"
BINARY_SNIFF = 8192
_YAML_SUFFIXES = frozenset({"yaml", "yml", "json"})
_TEMPLATE_SUFFIXES = frozenset({"tpl", "gotmpl", "template", "tmpl", "j2"})
_PARALLEL_MIN_FILES = 64
_PARALLEL_MIN_BYTES = 4 * 1024 * 1024


@dataclass
class Stats:
    files: int = 0  # read and scanned
    bytes: int = 0
    binary: int = 0  # skipped
    large: int = 0  # skipped
    parsed: int = 0  # parsed as YAML/JSON
    unparsed: int = 0  # YAML/JSON by name that did not parse: scanned as text only

    def add(self, other: Stats) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Result:
    findings: list[Finding] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    errors: list[str] = field(default_factory=list)  # files that could not be read


def _suffix(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    return base.rsplit(".", 1)[-1].lower() if "." in base else ""


def scan_one(source: Source, options: Options, result: Result) -> None:
    stats = result.stats
    data = source.data
    if data is None:
        try:
            with open(source.location or source.path, "rb") as f:
                data = f.read(options.max_bytes + 1)
        except OSError as e:
            result.errors.append(f"{source.path}: cannot read: {e.strerror}")
            return
    if len(data) > options.max_bytes:  # grew since it was listed, or a staged blob
        too_large(source, options, result, len(data))
        return
    if b"\0" in data[:BINARY_SNIFF]:
        stats.binary += 1
        return
    stats.files += 1
    stats.bytes += len(data)
    text = data.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = " " + text[1:]  # keep columns: the BOM takes the place of one character
    result.findings.extend(scan_text(source.path, source.location, text, options, stats))


def too_large(source: Source, options: Options, result: Result, read: int = 0) -> None:
    """A file above max_file_size: counted, and a `scan-limit` finding unless that rule is disabled. Its
    fingerprint hashes the content (read in blocks, never held whole), so a baseline stops matching once the
    file changes."""
    import hashlib

    result.stats.large += 1
    if not options.enabled(SCAN_LIMIT):
        return
    digest = hashlib.sha256()
    if source.data is not None:
        digest.update(source.data)
    else:
        try:
            with open(source.location or source.path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
        except OSError as e:
            result.errors.append(f"{source.path}: cannot read: {e.strerror}")
            return
    size = len(source.data) if source.data is not None else max(source.size, read)  # read: a file that grew
    message = (f"not scanned: {size} bytes, more than max_file_size ({options.max_bytes}); raise it in "
               f".sealer-lint.yaml or exclude the file")
    result.findings.append(Finding(SCAN_LIMIT, options.severity(SCAN_LIMIT), source.path, 1, 1, message,
                                   fingerprint(SCAN_LIMIT, source.path, digest.hexdigest())))


def scan_text(path: str, location: str | None, text: str, options: Options, stats: Stats | None = None,
              ) -> list[Finding]:
    """Findings of one file's text (deduplicated, sorted)."""
    from sealer.lint.detectors import CODE_SUFFIXES
    from sealer.lint.rules import credentials

    ctx = FileContext(path, location, text, options)
    low = text.lower()
    suffix = _suffix(path)
    if suffix in _YAML_SUFFIXES or (suffix in _TEMPLATE_SUFFIXES and "kind:" in low):
        from sealer.lint import yamlnodes
        from sealer.lint.rules import document

        try:
            roots = yamlnodes.compose(text)
        except yamlnodes.TooComplex as e:  # the text detectors below still read every line
            roots = None
            ctx.add(SCAN_LIMIT, 1, 1, f"{e}: checked as text only, not as YAML", text)
        if stats is not None:
            if roots is None:
                stats.unparsed += 1
            else:
                stats.parsed += 1
        for root in roots or ():
            document.check(ctx, root)
    credentials.scan_text(ctx, low, code=suffix in CODE_SUFFIXES)
    return finalize(ctx.findings)


def _rank(f: Finding) -> int:
    from sealer.lint.rules.credentials import GENERIC

    return 2 if f.detector == GENERIC[0] else 1 if f.detector in GENERIC else 0  # specific, structural, text


def finalize(findings: list[Finding]) -> list[Finding]:
    """One finding per (rule, line, value): the most specific detector's. A generic credential on a line that
    already has a plaintext-secret finding says nothing more and is dropped."""
    from sealer.lint.rules.credentials import GENERIC

    plaintext_lines = {f.line for f in findings if f.rule == "plaintext-secret"}
    best: dict[tuple[str, int, str], Finding] = {}
    for f in findings:
        if f.rule == "credential" and f.detector in GENERIC and f.line in plaintext_lines:
            continue
        key = (f.rule, f.line, f.fingerprint)
        current = best.get(key)
        if current is None or _rank(f) < _rank(current):
            best[key] = f
    return sorted(best.values(), key=Finding.sort_key)


# --- many files ---------------------------------------------------------------------------------------------

_worker_options: Options | None = None


def _init(options: Options) -> None:
    global _worker_options
    _worker_options = options


def _scan_chunk(chunk: list[Source]) -> Result:
    assert _worker_options is not None
    result = Result()
    for source in chunk:
        scan_one(source, _worker_options, result)
    return result


def _chunks(sources: list[Source], jobs: int) -> list[list[Source]]:
    """About 8 chunks per process, of similar total size, largest files first (each chunk at most 256 files)."""
    ordered = sorted(sources, key=lambda s: s.size, reverse=True)
    total = sum(s.size for s in ordered) or 1
    target = max(total // (jobs * 8), 64 * 1024)
    chunks: list[list[Source]] = []
    current: list[Source] = []
    size = 0
    for s in ordered:
        current.append(s)
        size += s.size
        if size >= target or len(current) >= 256:
            chunks.append(current)
            current, size = [], 0
    if current:
        chunks.append(current)
    return chunks


def scan_all(sources: list[Source], options: Options, jobs: int,
             progress: Callable[[int], object] | None = None) -> Result:
    """Every source, skipping those above the size cap without reading them. ``progress(n)`` is told each time
    n more sources are done (the CLI's progress bar)."""
    from sealer.lint.rules import sops_rules

    sops_rules.reset_cache()
    result = Result()
    todo = []
    for s in sources:
        if s.size > options.max_bytes:
            too_large(s, options, result)
        else:
            todo.append(s)
    done = progress or _nothing
    done(len(sources) - len(todo))
    total = sum(s.size for s in todo)
    if jobs <= 1 or len(todo) < _PARALLEL_MIN_FILES or total < _PARALLEL_MIN_BYTES:
        for s in todo:
            scan_one(s, options, result)
            done(1)
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from sealer.lint.detectors import keyword_gate

        keyword_gate()  # compiled once here, inherited by the forked workers
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context(method),
                                 initializer=_init, initargs=(options,)) as pool:
            chunks = _chunks(todo, jobs)
            for chunk, part in zip(chunks, pool.map(_scan_chunk, chunks), strict=True):
                result.findings.extend(part.findings)
                result.stats.add(part.stats)
                result.errors.extend(part.errors)
                done(len(chunk))
    result.findings.sort(key=Finding.sort_key)
    return result


def _nothing(n: int) -> None:
    return None


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
