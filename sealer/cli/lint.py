"""`sealer lint`: parses options, calls the lint library (sealer.lint), writes the report, sets the exit code."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from sealer.cli.options import CONTEXT, format_or_file
from sealer.cli.output import emit

REPORT_FORMATS = ("text", "json", "sarif")

if TYPE_CHECKING:
    from sealer.lint.config import LintConfig as Config
    from sealer.lint.context import Options
    from sealer.lint.findings import Finding
    from sealer.lint.reporters import Summary


@click.command(context_settings=CONTEXT)
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("-f", "--format", "--report-format", "fmt", type=click.Choice(REPORT_FORMATS),
              help="Report format: text (default), json, sarif (SARIF 2.1.0 for GitHub code scanning).")
@click.option("-o", "--output", "o", metavar="FORMAT", help="The same as --format (kubectl's -o). The old `-o FILE` "
              "still writes FILE, with a warning.")
@click.option("-w", "--output-file", "-r", "--report-path", "out", metavar="FILE",
              help="Write the report to FILE (atomically) instead of stdout.")
@click.option("--baseline", metavar="FILE", help="Ignore findings whose fingerprint is in this earlier JSON or "
              "SARIF report.")
@click.option("--staged", is_flag=True, help="Scan the staged content of staged files (pre-commit).")
@click.option("--since", metavar="REV", help="Report only lines added since the merge base of REV and HEAD, "
              "committed or not (CI on a pull request).")
@click.option("--history", is_flag=False, flag_value="HEAD", default=None, metavar="[RANGE]",
              help="Scan the lines every commit added: HEAD's history, a RANGE (main..feature, abc^..HEAD) or "
              "`all` (every branch, tag and remote ref).")
@click.option("--cert", "certs", multiple=True, metavar="FILE_OR_URL", help="Cluster certificate(s): SealedSecrets "
              "must be sealed for one of them (sealed-unknown-key). Repeatable.")
@click.option("--config", "config_path", metavar="FILE", help="Settings file (default: .sealer-lint.yaml in the "
              "working directory or at the top of its Git work tree).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Processes to scan with (default: all cores).")
def lint(paths: tuple[str, ...], fmt: str | None, o: str | None, out: str | None, baseline: str | None, staged: bool,
         since: str | None, history: str | None, certs: tuple[str, ...], config_path: str | None,
         jobs: int | None) -> None:
    """Fail the build on plaintext secrets, leaked credentials and broken ciphertext.

    \b
    Walks PATHs (default: .), honouring .gitignore. Rules:
      plaintext-secret      Secret with plaintext data/stringData (not SOPS-encrypted)
      credential            tokens, private keys, passwords in URLs, sensitive name = value
      sops-plaintext-value  SOPS file with a value its rule says must be encrypted, or no MAC/metadata
      sops-recipients       SOPS file recipients differ from its .sops.yaml creation rule
      sopssecret-scope      SopsSecret without an encrypted spec.binding (the controller refuses it)
      scan-limit            a file not fully scanned: over max_file_size, or a YAML alias bomb
      sealed-unknown-key    SealedSecret not sealed for any --cert (or not a sealed value at all)
      sealed-scope          SealedSecret scope annotations inconsistent with its name/namespace

    --history reads the lines each commit added instead, with the credential and custom rules (the YAML-structure
    rules need whole files); each finding names its commit and author date.

    Silence one line with a `sealer:allow RULE` comment on it. Reports never contain the values found.

    Exit codes: 0 no findings, 1 findings, 2 usage or I/O error.
    """
    from sealer.errors import InputError
    from sealer.lint import baseline as baseline_mod
    from sealer.lint import config as config_mod
    from sealer.lint import reporters, scan, walk
    from sealer.lint.context import CertInfo, Options

    fmt, out = format_or_file(o, fmt, out, REPORT_FORMATS, fmt_flag="--format", file_flag="-w/--output-file",
                              o_flag="-o/--output")
    fmt = fmt or "text"
    if staged and since:
        raise InputError("--staged and --since do not combine", field="--staged")
    if history is not None and (staged or since or paths):
        raise InputError("--history scans the whole repository: no PATH, --staged or --since with it",
                         field="--history")
    cfg = config_mod.load(config_mod.find(config_path))
    accepted = baseline_mod.load(baseline) if baseline else frozenset()
    cert_infos = []
    for location in certs:
        from sealer.sealed.keys import load_cert

        cert = load_cert(location)
        cert_infos.append(CertInfo(cert.fingerprint, (cert.public_key.key_size + 7) // 8, location))
    options = Options(disabled=cfg.disable, certs=tuple(cert_infos), custom=cfg.custom, raw_entropy=cfg.entropy,
                      max_bytes=cfg.max_file_size)

    if history is not None:
        findings, summary = _history(history, options, cfg, jobs or scan.default_jobs())
        findings, summary.baselined = baseline_mod.apply(findings, accepted)
        _report(findings, summary, fmt, out, cfg)
        return
    added: dict[str, set[int]] | None = None
    if staged:
        sources = [s for s in walk.staged(list(paths))
                   if cfg.exclude is None or not walk.is_excluded(s.location or s.path, cfg.exclude, cfg.base)]
    else:
        if since:
            added = walk.changed_since(since, list(paths))
            files = list(added)
        else:
            files = walk.discover(list(paths) or ["."])
        sources = walk.sources_from_files(files, cfg.exclude, cfg.base)
    from sealer.cli.progress import Progress

    with Progress(len(sources), "scanning") as bar:  # on a terminal, for a large tree (sealer.cli.progress)
        result = scan.scan_all(sources, options, jobs or scan.default_jobs(), bar.advance)
    if result.errors:
        more = f" (and {len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
        raise InputError(result.errors[0] + more)
    found = result.findings
    if added is not None:  # --since: the whole file is scanned (context), findings on added lines count
        lines = {s.path: added[s.location] for s in sources if s.location in added}
        found = [f for f in found if f.rule == scan.SCAN_LIMIT or f.line in lines.get(f.path, ())]
    findings, baselined = baseline_mod.apply(found, accepted)
    st = result.stats
    summary = reporters.Summary(st.files, st.bytes, st.binary, st.large, baselined)
    _report(findings, summary, fmt, out, cfg)


def _history(spec: str, options: Options, cfg: Config, jobs: int) -> tuple[list[Finding], Summary]:
    """--history: paths are relative to the top of the work tree, each finding names its commit."""
    from sealer.lint import history as history_mod
    from sealer.lint import reporters, walk

    findings, st = history_mod.scan_history(None if spec == "HEAD" else spec, options, jobs)
    if cfg.exclude is not None:
        top = walk.git_toplevel(os.getcwd()) or "."
        findings = [f for f in findings if not walk.is_excluded(os.path.join(top, f.path), cfg.exclude, cfg.base)]
    summary = reporters.Summary(st.files, st.bytes, st.binary, st.large, 0, st.commits,
                                history_mod.provenance(os.getcwd()))
    return findings, summary


def _report(findings: list[Finding], summary: Summary, fmt: str, out: str | None, cfg: Config) -> None:
    import sys

    from sealer.cli import style
    from sealer.lint import reporters

    if fmt == "json":
        report = reporters.as_json(findings, summary)
    elif fmt == "sarif":
        report = reporters.sarif(findings, summary, cfg.custom)
    else:
        colour = (out is None or out == "-") and style.enabled(sys.stdout)  # a terminal; never into a file
        report = reporters.text(findings, summary, style.paint if colour else None)
    emit(report, out)
    red = style.err_enabled()
    click.echo(style.paint(reporters.summary_line(findings, summary), "error" if findings else "ok", red), err=True,
               color=red)
    if findings:
        raise click.exceptions.Exit(1)

