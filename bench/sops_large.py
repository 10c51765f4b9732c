"""Large SOPS files: `sealer encrypt` / `sealer decrypt` against the sops binary on big Secrets, in the same run.

Two Secrets: one of ~50 MB holding a single value (a base64 blob in `data`: the case that was quadratic-looking
slow, minutes, when YAML was written one character at a time), and one of ~10 MB holding many values (1 KB
base64 values in `data` and multi-line PEM-like text in `stringData`, written as literal blocks). Each tool
encrypts the plaintext to a file (`sealer encrypt --age R F > OUT`, `sops encrypt --age R --encrypted-regex
'^(data|stringData)$' F > OUT`) and decrypts the file sops wrote (`... decrypt F > OUT`). Wall clock (what a
user waits for) and CPU time and peak RSS (wait4) of each process; sealer and sops alternate who goes first;
the ratio is the median of per-repetition ratios sealer / sops. Correctness is checked outside the timing: sops
decrypts sealer's file and sealer sops' file, both to the plaintext's data.

    .venv/bin/python -m bench.sops_large [--quick]      prints a markdown table
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import startup
from bench.common import age_key, fmt_mib, fmt_s, log, markdown_table, median, sealer_cli
from bench.sops_batch import ENCRYPTED_REGEX, find_sops, sops_version

BIG_MB = 50  # the Secret with one value
MANY_MB = 10  # the Secret with many values
TARGET = 2.0  # issue 13: within 2x sops' time


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    rss_kib: float


@dataclass
class Case:
    name: str  # "big" or "many"
    what: str
    size: int = 0  # bytes of the plaintext file
    values: int = 0
    enc_sealer: list[Run] = field(default_factory=list)
    enc_sops: list[Run] = field(default_factory=list)
    dec_sealer: list[Run] = field(default_factory=list)
    dec_sops: list[Run] = field(default_factory=list)
    checked: str = ""  # what the correctness check found ("" = not yet)


@dataclass
class LargeResults:
    missing: str = ""
    sops_version: str = ""
    reps: int = 0
    cases: list[Case] = field(default_factory=list)


def _run(cmd: list[str], out: Path, env: dict[str, str]) -> Run:
    """Run ``cmd`` with stdout to ``out``: wall time, CPU time (wait4) and peak RSS; raise if it fails.

    The peak RSS comes from `/usr/bin/time` (the command runs under it, a small process): wait4's ru_maxrss of a
    child started by this process would count this process's own memory, which the child inherits until exec."""
    rss_file = out.with_suffix(".rss")
    wrapper = [startup.GNU_TIME, "-f", "%M", "-o", str(rss_file)] if startup.ensure_gnu_time() else []
    with open(out, "wb") as f:
        start = time.perf_counter()
        proc = subprocess.Popen([*wrapper, *cmd], stdout=f, stderr=subprocess.PIPE, env=env)
        assert proc.stderr is not None
        err = proc.stderr.read()
        proc.stderr.close()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        last = err.decode(errors="replace").strip().splitlines()[-1:] or ["<no stderr>"]
        raise RuntimeError(f"{' '.join(cmd[:2])} ... exited {code}: {last[0][:200]}")
    rss = float(rss_file.read_text().split()[-1]) if wrapper else 0.0
    return Run(wall, usage.ru_utime + usage.ru_stime, rss)


# --- fixtures ----------------------------------------------------------------------------------------------

_HEAD = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: bench\ntype: Opaque\n"


def big_secret(path: Path, mb: float) -> int:
    """A Secret whose one `data` value makes it ``mb`` MB. Returns the number of values (1)."""
    blob = base64.b64encode(os.urandom(int(mb * 750_000))).decode()
    path.write_text(_HEAD.format(name="big") + f"data:\n  blob: {blob}\n")
    return 1


def many_secret(path: Path, mb: int) -> int:
    """A Secret of ``mb`` MB in many values: 1 KB base64 `data` values and 2 KB multi-line `stringData` ones
    (64-column lines, as PEM). Returns the number of values."""
    data: list[str] = []
    string_data: list[str] = []
    size = i = 0
    while size < mb * 1_000_000:
        if i % 2 == 0:
            line = f"  key-{i:05d}: {base64.b64encode(os.urandom(768)).decode()}"
            data.append(line)
            size += len(line) + 1
        else:
            body = base64.b64encode(os.urandom(1536)).decode()
            lines = [f"  cert-{i:05d}.pem: |", "    -----BEGIN CERTIFICATE-----"]
            lines += [f"    {body[j:j + 64]}" for j in range(0, len(body), 64)]
            lines.append("    -----END CERTIFICATE-----")
            string_data += lines
            size += sum(len(line) + 1 for line in lines)
        i += 1
    path.write_text(_HEAD.format(name="many") + "data:\n" + "\n".join(data) + "\nstringData:\n"
                    + "\n".join(string_data) + "\n")
    return i


# --- the measurement ---------------------------------------------------------------------------------------

def _same_data(decrypted: Path, plain: Path) -> bool:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(decrypted) as a, open(plain) as b:
        got, want = yaml.load(a, Loader=loader), yaml.load(b, Loader=loader)
    return all(got.get(k) == want.get(k) for k in ("metadata", "data", "stringData"))


def measure(work: Path, quick: bool) -> LargeResults:
    res = LargeResults(reps=1 if quick else 3)
    sops, _note = find_sops()
    if sops is None:
        res.missing = "sops not found"
        log(f"large SOPS rows skipped: {res.missing}")
        return res
    work.mkdir(parents=True)
    home = work / "home"
    home.mkdir()
    key_file, recipient = age_key(work)
    env = {k: v for k, v in startup.bytecode_env(work / "pycache").items() if not k.startswith("SOPS_")}
    env |= {"SOPS_AGE_KEY_FILE": str(key_file), "SOPS_DISABLE_VERSION_CHECK": "1", "HOME": str(home)}
    res.sops_version = sops_version(sops, env)
    cli = sealer_cli()
    warm = work / "warm.yaml"  # fills the bytecode cache of both runs' interpreters
    big_secret(warm, 0.001)
    _run([cli, "encrypt", "--age", recipient, str(warm)], work / "warm.out", env)
    _run([sops, "encrypt", "--age", recipient, "--encrypted-regex", ENCRYPTED_REGEX, str(warm)], work / "warm.out",
         env)

    for name, what, make, mb in (("big", f"a {BIG_MB} MB Secret of one value", big_secret, BIG_MB),
                                 ("many", f"a {MANY_MB} MB Secret of many values", many_secret, MANY_MB)):
        case = Case(name, what)
        plain = work / f"{name}.yaml"
        log(f"large sops: writing {what}")
        case.values = make(plain, mb)
        case.size = plain.stat().st_size
        by_sealer, by_sops, out = work / f"{name}.sealer.yaml", work / f"{name}.sops.yaml", work / f"{name}.out"
        enc_sealer = [cli, "encrypt", "--age", recipient, str(plain)]
        enc_sops = [sops, "encrypt", "--age", recipient, "--encrypted-regex", ENCRYPTED_REGEX, str(plain)]
        for rep in range(res.reps):
            log(f"large sops {rep + 1}/{res.reps}: encrypt and decrypt {what}, sealer and sops")
            pairs = [(enc_sealer, by_sealer, case.enc_sealer), (enc_sops, by_sops, case.enc_sops)]
            for cmd, dest, into in pairs if rep % 2 == 0 else pairs[::-1]:
                into.append(_run(cmd, dest, env))
            pairs = [([cli, "decrypt", str(by_sops)], out, case.dec_sealer), ([sops, "decrypt", str(by_sops)], out,
                                                                              case.dec_sops)]
            for cmd, dest, into in pairs if rep % 2 == 0 else pairs[::-1]:
                into.append(_run(cmd, dest, env))
        log(f"large sops: checking {what} (each tool decrypts the other's file)")
        _run([sops, "decrypt", str(by_sealer)], out, env)
        ok_sops = _same_data(out, plain)
        _run([cli, "decrypt", str(by_sops)], out, env)
        ok_sealer = _same_data(out, plain)
        case.checked = "pass" if ok_sops and ok_sealer else \
            ("sops' decryption of sealer's file differs" if not ok_sops else "sealer's decryption differs")
        for f in (plain, by_sealer, by_sops, out):
            f.unlink()
        res.cases.append(case)
    return res


# --- the table ---------------------------------------------------------------------------------------------

def _cell(runs: list[Run]) -> str:
    rss = median([r.rss_kib for r in runs])
    return (f"{fmt_s(median([r.wall for r in runs]))} wall ({fmt_s(median([r.cpu for r in runs]))} CPU)"
            + (f", peak RSS {fmt_mib(rss)}" if rss else ""))


def rows(results: LargeResults) -> list[tuple[str, str, str, str, str, str]]:
    """(figure, sealer, peer, ratio, target, verdict) rows for bench/report.py."""
    if results.missing:
        return [("SOPS large files against sops", "not measured", results.missing, "—", "—", "—")]
    out = []
    for case in results.cases:
        shape = ("1 value" if case.values == 1 else f"{case.values:,} values: 1 KB base64 `data` values and "
                 "multi-line `stringData` ones")
        for verb, mine, theirs, cmd in (
                ("encrypt", case.enc_sealer, case.enc_sops,
                 f"`sops encrypt --age R --encrypted-regex '{ENCRYPTED_REGEX}' F > OUT`"),
                ("decrypt", case.dec_sealer, case.dec_sops, "`sops decrypt F > OUT` (the file sops wrote)")):
            ratio = median([s.wall / p.wall for s, p in zip(mine, theirs, strict=True)])
            out.append((f"SOPS {verb} {case.what} ({case.size / 1e6:.1f} MB, {shape}): `sealer {verb} ... F > OUT`, "
                        f"wall (median of {results.reps})", _cell(mine), f"{_cell(theirs)}: {cmd}",
                        f"{ratio:.2f} wall", f"≤ {TARGET:.0f}",
                        "pass" if ratio <= TARGET and case.checked == "pass" else "**fail**"))
    checks = "; ".join(f"{c.what}: {c.checked}" for c in results.cases)
    out.append(("SOPS large files: sops decrypts sealer's file and sealer sops' file, equal to the plaintext",
                checks, f"sops {results.sops_version}", "—", "pass",
                "pass" if all(c.checked == "pass" for c in results.cases) else "**fail**"))
    return out


def table(results: LargeResults) -> str:
    return markdown_table(rows(results))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one timed run per command instead of three")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sops-large-bench-") as tmp:
        sys.stdout.write(table(measure(Path(tmp) / "w", args.quick)))


if __name__ == "__main__":
    main()
