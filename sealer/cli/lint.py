"""`sealer lint`: parses options, calls the lint library (sealer.lint), writes the report, sets the exit code."""

from __future__ import annotations

import click

from sealer.cli.options import CONTEXT
from sealer.cli.output import emit


@click.command(context_settings=CONTEXT)
@click.argument("paths", nargs=-1, metavar="[PATH]...")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True,
              help="Report format (SARIF 2.1.0 for GitHub code scanning).")
@click.option("-o", "--output", "out", metavar="FILE", help="Write the report to FILE (atomically) instead of stdout.")
@click.option("--baseline", metavar="FILE", help="Ignore findings whose fingerprint is in this earlier JSON or "
              "SARIF report.")
@click.option("--staged", is_flag=True, help="Scan the staged content of staged files (pre-commit).")
@click.option("--since", metavar="REV", help="Scan files changed since the merge base of REV and HEAD (CI on a "
              "pull request).")
@click.option("--cert", "certs", multiple=True, metavar="FILE_OR_URL", help="Cluster certificate(s): SealedSecrets "
              "must be sealed for one of them (sealed-unknown-key). Repeatable.")
@click.option("--config", "config_path", metavar="FILE", help="Settings file (default: .sealer-lint.yaml in the "
              "working directory or at the top of its Git work tree).")
@click.option("-j", "--jobs", type=click.IntRange(min=1), help="Processes to scan with (default: all cores).")
def lint(paths: tuple[str, ...], fmt: str, out: str | None, baseline: str | None, staged: bool, since: str | None,
         certs: tuple[str, ...], config_path: str | None, jobs: int | None) -> None:
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

    Silence one line with a `sealer:allow RULE` comment on it. Reports never contain the values found.

    Exit codes: 0 no findings, 1 findings, 2 usage or I/O error.
    """
    from sealer.errors import InputError
    from sealer.lint import baseline as baseline_mod
    from sealer.lint import config as config_mod
    from sealer.lint import reporters, scan, walk
    from sealer.lint.context import CertInfo, Options

    if staged and since:
        raise InputError("--staged and --since do not combine", field="--staged")
    cfg = config_mod.load(config_mod.find(config_path))
    accepted = baseline_mod.load(baseline) if baseline else frozenset()
    cert_infos = []
    for location in certs:
        from sealer.sealed.keys import load_cert

        cert = load_cert(location)
        cert_infos.append(CertInfo(cert.fingerprint, (cert.public_key.key_size + 7) // 8, location))
    options = Options(disabled=cfg.disable, certs=tuple(cert_infos), custom=cfg.custom, raw_entropy=cfg.entropy,
                      max_bytes=cfg.max_file_size)

    if staged:
        sources = [s for s in walk.staged(list(paths))
                   if cfg.exclude is None or not walk.is_excluded(s.location or s.path, cfg.exclude, cfg.base)]
    else:
        files = walk.changed_since(since, list(paths)) if since else walk.discover(list(paths) or ["."])
        sources = walk.sources_from_files(files, cfg.exclude, cfg.base)
    result = scan.scan_all(sources, options, jobs or scan.default_jobs())
    if result.errors:
        more = f" (and {len(result.errors) - 1} more)" if len(result.errors) > 1 else ""
        raise InputError(result.errors[0] + more)
    findings, baselined = baseline_mod.apply(result.findings, accepted)
    st = result.stats
    summary = reporters.Summary(st.files, st.bytes, st.binary, st.large, baselined)
    if fmt == "json":
        report = reporters.as_json(findings, summary)
    elif fmt == "sarif":
        report = reporters.sarif(findings, summary, cfg.custom)
    else:
        report = reporters.text(findings, summary)
    emit(report, out)
    click.echo(reporters.summary_line(findings, summary), err=True)
    if findings:
        raise click.exceptions.Exit(1)

