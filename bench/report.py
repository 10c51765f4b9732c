"""`bench/run`: measure every figure, then print one markdown table (the only place the table is built).

Each figure is the median of several runs; each sealer figure is paired with its peer measured in the same
repetition, and the ratio column is the median of those per-repetition ratios (sealer / peer).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from bench import controller_bench, lint_bench, rsa_peer, seal_unseal, sops_batch, sops_large, startup, vault_bench
from bench.common import (
    VALUES_PER_SECRET,
    CpuClock,
    Timing,
    fmt_mib,
    fmt_ms,
    fmt_num,
    fmt_s,
    log,
    machine_line,
    make_keys,
    make_secrets,
    median,
    sealer_cli,
    write_multidoc,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Config:
    quick: bool
    seal_secrets: int = 1000
    unseal_secrets: int = 1000
    seal_reps: int = 5
    unseal_reps: int = 3
    openssl_seconds: int = 3
    private_peer_per_secret: int = 1  # bare RSA decrypts run per unsealed Secret (a sample of the peer rate)
    startup_runs: int = 10
    rss_runs: int = 3
    importtime_runs: int = 5
    sops_files: int = 1000  # YAML Secret files encrypted and decrypted in bulk
    sops_other_files: int = 300  # files of each other store (JSON, dotenv, INI, binary) in bulk
    sops_reps: int = 3
    sops_single_runs: int = 15  # one-file sealer/sops commands, interleaved
    main_figures: bool = True  # figures 1-3 (False with --controller-only)
    sops: bool = True  # figure 4: SOPS files of every store against sops
    controller: bool = True  # figure 5 (False with --skip-controller)
    controller_secrets: int = 1000  # SealedSecrets created at once
    controller_reps: int = 2  # bursts, each with a fresh emulator and controller
    controller_idle: int = 20  # SealedSecrets created one at a time for the idle latency
    lint: bool = True  # figure 6: sealer lint against gitleaks
    vault: bool = True  # figure 7: VaultSecrets against OpenBao
    large: bool = True  # figure 8: large SOPS files against sops

    @classmethod
    def make(cls, quick: bool, unseal_secrets: int | None, reps: int | None,
             sops_files: int | None = None, *, controller_secrets: int | None = None,
             controller_reps: int | None = None, controller_only: bool = False,
             skip_controller: bool = False, only: frozenset[str] | None = None) -> Config:
        cfg = cls(quick=False)
        if quick:
            cfg = cls(quick=True, unseal_secrets=100, seal_reps=3, unseal_reps=3, openssl_seconds=1,
                      private_peer_per_secret=2, startup_runs=5, rss_runs=2, importtime_runs=3,
                      sops_files=100, sops_other_files=100, sops_reps=3, sops_single_runs=11,
                      controller_secrets=100,
                      controller_reps=1, controller_idle=10)
        if unseal_secrets:
            cfg = replace(cfg, unseal_secrets=min(unseal_secrets, cfg.seal_secrets))
        if reps:
            cfg = replace(cfg, seal_reps=reps, unseal_reps=reps, sops_reps=reps)
        if sops_files:
            cfg = replace(cfg, sops_files=sops_files, sops_other_files=sops_files)
        if controller_secrets:
            cfg = replace(cfg, controller_secrets=controller_secrets)
        if controller_reps:
            cfg = replace(cfg, controller_reps=controller_reps)
        if controller_only:
            only = frozenset({"controller"})
        if only:
            return replace(cfg, main_figures="main" in only, sops=bool(only & {"main", "sops"}),
                           controller="controller" in only, lint="lint" in only, vault="vault" in only,
                           large="large" in only)
        return replace(cfg, controller=not skip_controller)


@dataclass
class Results:
    # figure 1: seal
    seal_lib: list[seal_unseal.Paired] = field(default_factory=list)
    seal_cli: list[Timing] = field(default_factory=list)
    # figure 2: unseal
    unseal_lib: list[seal_unseal.Paired] = field(default_factory=list)
    openssl_sign: list[float] = field(default_factory=list)
    unseal_cli: list[Timing] = field(default_factory=list)
    key_load: list[Timing] = field(default_factory=list)
    # figure 3: start-up
    wall: dict[str, list[float]] = field(default_factory=dict)
    rss_kib: dict[str, float] = field(default_factory=dict)
    rss_method: str = ""
    modules: dict[str, set[str]] = field(default_factory=dict)
    import_costs: list[startup.ImportCost] = field(default_factory=list)
    checkout_has_pyc: bool = False
    # figure 4: SOPS files, sealer against the sops binary
    sops: sops_batch.SopsResults = field(default_factory=sops_batch.SopsResults)
    # figure 5: the controller under a burst of SealedSecrets
    controller: controller_bench.ControllerResults | None = None
    # figure 6: sealer lint against gitleaks
    lint: lint_bench.LintResults | None = None
    # figure 7: VaultSecrets against OpenBao
    vault: vault_bench.VaultResults | None = None
    # figure 8: large SOPS files against sops
    large: sops_large.LargeResults | None = None


# --- measuring ----------------------------------------------------------------------------------------

def measure_seal_unseal(cfg: Config, work: Path, cert_path: Path, key_path: Path, res: Results) -> None:
    from sealer.sealed.keys import load_cert, load_private_keys

    cert = load_cert(str(cert_path))
    keys = load_private_keys(str(key_path))
    secrets = make_secrets(cfg.seal_secrets)
    big = write_multidoc(work / "big.yaml", secrets)
    sealed_big = work / "big.sealed.yaml"
    public = rsa_peer.public_op(cert.public_key)
    private = rsa_peer.private_op(keys[0].key)
    env = startup.bytecode_env(work / "pycache")

    seal_unseal.seal_cli(big, cert_path, sealed_big, cfg.seal_secrets, env)  # warm-up: fills the bytecode cache
    sealed: list = []
    for rep in range(cfg.seal_reps):
        log(f"seal {rep + 1}/{cfg.seal_reps}: library seal interleaved with RSA public ops, then CLI seal "
            f"({cfg.seal_secrets} Secrets)")
        paired, sealed = seal_unseal.seal_library(secrets, cert, public, peer_per_secret=VALUES_PER_SECRET)
        res.seal_lib.append(paired)
        res.seal_cli.append(seal_unseal.seal_cli(big, cert_path, sealed_big, cfg.seal_secrets, env))

    n = cfg.unseal_secrets
    if n == cfg.seal_secrets:
        unseal_in = sealed_big
    else:
        small = write_multidoc(work / "unseal.yaml", secrets[:n])
        unseal_in = work / "unseal.sealed.yaml"
        seal_unseal.seal_cli(small, cert_path, unseal_in, n, env)
    for rep in range(cfg.unseal_reps):
        log(f"unseal {rep + 1}/{cfg.unseal_reps}: openssl speed, library unseal interleaved with RSA private ops, "
            f"CLI unseal ({n} Secrets = {n * VALUES_PER_SECRET} RSA private ops)")
        speed = rsa_peer.openssl_speed(cfg.openssl_seconds)
        if speed is not None:
            res.openssl_sign.append(speed.sign_per_s)
        res.unseal_lib.append(seal_unseal.unseal_library(sealed[:n], keys, secrets[:n], private,
                                                         peer_per_secret=cfg.private_peer_per_secret))
        res.unseal_cli.append(seal_unseal.unseal_cli(unseal_in, key_path, work / "unsealed.yaml", n, env))
        with CpuClock() as clock:
            load_private_keys(str(key_path))
        res.key_load.append(clock.timing)


def measure_startup(cfg: Config, work: Path, cert_path: Path, res: Results) -> None:
    one = write_multidoc(work / "one.yaml", make_secrets(1))
    cli = sealer_cli()
    seal_args = ["seal", str(one), "--cert", str(cert_path)]
    cached = startup.bytecode_env(work / "pycache")
    cmds = {"floor": [sys.executable, "-c", "pass"], "help": [cli, "--help"], "seal1": [cli, *seal_args],
            "help_nopyc": [cli, "--help"]}
    envs = {name: cached for name in cmds} | {"help_nopyc": startup.bytecode_env(work, cached=False)}
    log(f"start-up: wall time x{cfg.startup_runs}, peak RSS x{cfg.rss_runs}, modules, -X importtime "
        f"x{cfg.importtime_runs}")
    res.wall = startup.wall_times(cmds, cfg.startup_runs, envs)
    del cmds["help_nopyc"]
    res.rss_kib, res.rss_method = startup.peak_rss_kib(cmds, cfg.rss_runs, cached)
    res.modules = {"help": startup.loaded_modules(["--help"], cached, cwd=work),
                   "seal1": startup.loaded_modules(seal_args, cached, cwd=work)}
    res.import_costs = startup.import_costs(cli, ["--help"], cfg.importtime_runs, cached)
    res.checkout_has_pyc = startup.has_bytecode("sealer.cli")


def measure_sops(cfg: Config, work: Path, res: Results) -> None:
    res.sops = sops_batch.measure(work / "sops", cfg.sops_files, cfg.sops_reps, cfg.sops_single_runs,
                                  cfg.rss_runs, cfg.importtime_runs, other_files=cfg.sops_other_files)


def _guarded(name: str, measure: Callable[[], T], failed: Callable[[str], T]) -> T:
    """A figure that may fail on its own (a peer missing, a server that would not start): keep the rows measured
    so far; the failure becomes the figure's row."""
    try:
        return measure()
    except Exception as e:
        log(f"{name}: failed: {type(e).__name__}: {e}")
        return failed(f"failed: {type(e).__name__}: {e}"[:300])


def measure_controller(cfg: Config, work: Path, res: Results) -> None:
    res.controller = _guarded(
        "controller", lambda: controller_bench.measure(work / "controller", cfg.controller_secrets,
                                                       reps=cfg.controller_reps, idle=cfg.controller_idle),
        lambda why: controller_bench.ControllerResults(missing=why))


def measure_lint(cfg: Config, work: Path, res: Results) -> None:
    res.lint = _guarded("lint", lambda: lint_bench.measure(work / "lint", cfg.quick),
                        lambda why: lint_bench.LintResults(missing=why))


def measure_vault(cfg: Config, work: Path, res: Results) -> None:
    res.vault = _guarded("vault", lambda: vault_bench.measure(work / "vault", cfg.quick),
                         lambda why: vault_bench.VaultResults(missing=why))


def measure_large(cfg: Config, work: Path, res: Results) -> None:
    res.large = _guarded("large", lambda: sops_large.measure(work / "large", cfg.quick),
                         lambda why: sops_large.LargeResults(missing=why))


# --- the table ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Row:
    figure: str
    sealer: str
    peer: str
    ratio: str
    target: str
    verdict: str


def _ratio(sealer: Sequence[float], peer: Sequence[float]) -> float:
    """Median of the per-repetition ratios sealer / peer."""
    return median([s / p for s, p in zip(sealer, peer, strict=True)])


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("pass" if ok else "**fail**")


def _range(values: Sequence[float]) -> str:
    return f"; runs {fmt_num(min(values))}–{fmt_num(max(values))}" if len(values) > 1 else ""


def build_rows(cfg: Config, res: Results) -> list[Row]:
    """Every row of the table, in order. Rates are per CPU-second of the process doing the work (the peers'
    too: `openssl speed` counts CPU time), so other load on a shared machine does not skew them; wall-clock
    figures are shown beside them."""
    rows: list[Row] = []
    if cfg.main_figures:
        rows += _main_rows(cfg, res)
    if cfg.sops:
        rows += _sops_rows(cfg, res.sops)
    if res.controller is not None:
        rows += _controller_rows(res.controller)
    if res.lint is not None:
        rows += [Row(*r) for r in lint_bench.rows(res.lint)]
    if res.vault is not None:
        rows += [Row(*r) for r in vault_bench.rows(res.vault)]
    if res.large is not None:
        rows += [Row(*r) for r in sops_large.rows(res.large)]
    return rows


def _main_rows(cfg: Config, res: Results) -> list[Row]:
    """Figures 1-4."""
    rows: list[Row] = []
    v = VALUES_PER_SECRET
    ns, nu = cfg.seal_secrets, cfg.unseal_secrets

    # 1. seal: 5 RSA public ops per Secret, so the ceiling is public ops/s ÷ 5
    public = [p.peer_ops / p.peer.cpu for p in res.seal_lib]
    limit = [p / v for p in public]
    lib = [ns / p.sealer.cpu for p in res.seal_lib]
    lib_wall = [ns / p.sealer.wall for p in res.seal_lib]
    peer = (f"{fmt_num(median(limit))} secrets/s ceiling = RSA-4096 public ops {fmt_num(median(public))}/s ÷ {v} "
            "(cryptography OAEP encrypt loop, interleaved)")
    rows.append(Row(f"seal, library, 1 process: {ns:,} Secrets × {v} values (median of {cfg.seal_reps})",
                    f"{fmt_num(median(lib))} secrets/s (wall-clock {fmt_num(median(lib_wall))}{_range(lib)})",
                    peer, f"{_ratio(lib, limit):.2f}", "—", "—"))
    cli = [ns / t.cpu for t in res.seal_cli]
    rows.append(Row(f"seal, CLI end to end: `sealer seal big.yaml --cert CERT` ({ns:,} docs; median of "
                    f"{cfg.seal_reps})",
                    f"{fmt_s(median([t.wall for t in res.seal_cli]))} wall, "
                    f"{fmt_s(median([t.cpu for t in res.seal_cli]))} CPU = {fmt_num(median(cli))} secrets/s",
                    peer, f"{_ratio(cli, limit):.2f}", "—", "—"))

    # 2. unseal: 5 RSA private ops per Secret
    private = [p.peer_ops / p.peer.cpu for p in res.unseal_lib]
    values = [nu * v / p.sealer.cpu for p in res.unseal_lib]
    values_wall = [nu * v / p.sealer.wall for p in res.unseal_lib]
    lib_cell = (f"{fmt_num(median(values))} values/s = {fmt_num(median(values) / v)} secrets/s "
                f"(wall-clock {fmt_num(median(values_wall))} values/s{_range(values)})")
    what = f"unseal, library, 1 process: {nu:,} Secrets × {v} values (median of {cfg.unseal_reps})"
    if res.openssl_sign:
        r = _ratio(values, res.openssl_sign)
        rows.append(Row(what, lib_cell, f"{fmt_num(median(res.openssl_sign))} private ops/s "
                        f"(`openssl speed -seconds {cfg.openssl_seconds} rsa4096`, sign/s, 1 process)",
                        f"{r:.2f}", "≥ 0.80", _verdict(r >= 0.80)))
    else:
        rows.append(Row(what, lib_cell, "`openssl` not installed", "—", "≥ 0.80", "—"))
    r = _ratio(values, private)
    rows.append(Row(what, lib_cell, f"{fmt_num(median(private))} private ops/s (cryptography RSA-OAEP-SHA256 "
                    "decrypt loop, interleaved)", f"{r:.2f}", "≥ 0.80", _verdict(r >= 0.80)))
    cli = [nu / t.cpu for t in res.unseal_cli]
    plimit = [p / v for p in private]
    rows.append(Row(f"unseal, CLI end to end: `sealer unseal big.sealed.yaml --key KEY` ({nu:,} docs; median of "
                    f"{cfg.unseal_reps})",
                    f"{fmt_s(median([t.wall for t in res.unseal_cli]))} wall, "
                    f"{fmt_s(median([t.cpu for t in res.unseal_cli]))} CPU = {fmt_num(median(cli))} secrets/s",
                    f"{fmt_num(median(plimit))} secrets/s ceiling = decrypt loop ÷ {v}",
                    f"{_ratio(cli, plimit):.2f}", "—", "—"))
    load = [t.cpu for t in res.key_load]
    op = [1 / p for p in private]
    rows.append(Row(f"load one RSA-4096 private key: `sealer.sealed.keys.load_private_keys` (CPU; median of "
                    f"{cfg.unseal_reps})", fmt_ms(median(load)),
                    f"{fmt_ms(median(op))} = one RSA-4096 private op (decrypt loop)", f"{_ratio(load, op):.1f}",
                    "—", "—"))

    # 3. start-up (wall clock: what a user waits for)
    floor = res.wall["floor"]
    floor_cell = f"{fmt_ms(median(floor))} (`python -c pass`)"
    n = cfg.startup_runs
    help_s = median(res.wall["help"])
    rows.append(Row(f"`sealer --help`, wall (median of {n})", fmt_ms(help_s), floor_cell,
                    f"{_ratio(res.wall['help'], floor):.2f}", "< 150 ms", _verdict(help_s < 0.150)))
    nopyc = median(res.wall["help_nopyc"])
    state = ("sealer has a __pycache__ here, so this matches the row above" if res.checkout_has_pyc
             else "no bytecode cached for sealer's modules")
    rows.append(Row(f"`sealer --help`, wall, with PYTHONDONTWRITEBYTECODE=1 as this environment sets it ({state}; "
                    f"median of {n})", fmt_ms(nopyc), floor_cell,
                    f"{_ratio(res.wall['help_nopyc'], floor):.2f}", "< 150 ms", _verdict(nopyc < 0.150)))
    rows.append(Row(f"`sealer seal` one Secret (RSA-4096 cert), wall (median of {n})",
                    fmt_ms(median(res.wall["seal1"])), floor_cell, f"{_ratio(res.wall['seal1'], floor):.2f}",
                    "—", "—"))
    rss_floor = res.rss_kib["floor"]
    for key, label in (("help", "`sealer --help`"), ("seal1", "`sealer seal` one Secret")):
        rows.append(Row(f"{label}, peak RSS of the process", fmt_mib(res.rss_kib[key]),
                        f"{fmt_mib(rss_floor)} (`python -c pass`)", f"{res.rss_kib[key] / rss_floor:.2f}",
                        "—", "—"))
    for key, label in (("help", "`sealer --help`"), ("seal1", "`sealer seal`")):
        hits = startup.top_level_hits(res.modules[key], startup.FORBIDDEN)
        rows.append(Row(f"{label} imports none of {', '.join(startup.FORBIDDEN)}",
                        ", ".join(hits) if hits else "none imported", "—", "—", "none", _verdict(not hits)))

    return rows


def _times(ts: Sequence[Timing]) -> str:
    return f"{fmt_s(median([t.wall for t in ts]))} wall ({fmt_s(median([t.cpu for t in ts]))} CPU)"


def _sops_rows(cfg: Config, s: sops_batch.SopsResults) -> list[Row]:
    """4. SOPS files of every store: one file against one sops call (wall clock, interleaved), bulk against a
    per-file sops loop (wall clock, what a user waits for; CPU beside it), peak RSS, interop."""
    if s.missing:
        return [Row("SOPS encrypt/decrypt against the sops binary", "not measured", s.missing, "—", "—", "—")]
    rows: list[Row] = []
    k, w, r = cfg.sops_single_runs, s.wall, cfg.sops_reps
    floor = f"; Python floor `python -c pass` {fmt_ms(median(w['floor']))}"
    regex = f"--encrypted-regex '{sops_batch.ENCRYPTED_REGEX}'"
    for store in sops_batch.STORES:
        f = f"one{sops_batch.SUFFIX[store]}"
        flags = f" {regex}" if store == "yaml" else ""
        for verb, mine, theirs in (("decrypt", f"`sealer decrypt {f}`", f"`sops decrypt {f}`"),
                                   ("encrypt", f"`sealer encrypt --age R {f}` (to stdout)",
                                    f"`sops encrypt --age R{flags} {f}`")):
            v = verb[:3]
            ratio = _ratio(w[f"sealer_{v}_{store}"], w[f"sops_{v}_{store}"])
            rows.append(Row(f"SOPS {verb} one {sops_batch.WHAT[store]} file ({s.one_file[store]}): {mine}, wall "
                            f"(median of {k}, interleaved)",
                            f"{fmt_ms(median(w[f'sealer_{v}_{store}']))}{floor if store == 'yaml' else ''}",
                            f"{fmt_ms(median(w[f'sops_{v}_{store}']))} ({theirs})", f"{ratio:.2f}", "≤ 1.0",
                            _verdict(ratio <= 1.0)))
    for store, b in s.bulk.items():
        flags = f" {regex}" if store == "yaml" else ""
        for verb, mine, peer, loop in (
                ("encrypt", b.enc_sealer, b.enc_sops, f"`for f; do sops encrypt -i --age R{flags} \"$f\"; done`"),
                ("decrypt", b.dec_sealer, b.dec_sops, "`for f; do sops decrypt \"$f\" > /dev/null; done`")):
            ratio = _ratio([t.wall for t in mine], [t.wall for t in peer])
            cpu_ratio = _ratio([t.cpu for t in mine], [t.cpu for t in peer])
            how = ("`sealer encrypt -i --age R FILE...`" if verb == "encrypt"
                   else "`sealer decrypt FILE... > /dev/null`")
            rows.append(Row(f"SOPS {verb}, {b.files:,} {sops_batch.WHAT[store]} files ({b.values:,} values): {how} "
                            f"in 1 process vs a shell loop, 1 sops process per file (median of {r})",
                            f"{_times(mine)} = {fmt_num(b.files / median([t.wall for t in mine]))} files/s",
                            f"{_times(peer)}: {loop}",
                            f"{ratio:.3f} wall ({1 / ratio:.1f}× faster); CPU {cpu_ratio:.3f}", "≤ 0.10 (10× faster)",
                            _verdict(ratio <= 0.10)))
    rows.append(Row("SOPS decrypt one Secret file, peak RSS of the process", fmt_mib(s.rss_kib["sealer"]),
                    f"{fmt_mib(s.rss_kib['sops'])} (`sops decrypt one.yaml`)",
                    f"{s.rss_kib['sealer'] / s.rss_kib['sops']:.2f}", "—", "—"))
    rows.append(Row("SOPS interop check, every store: files written by each tool decrypt with the other",
                    s.interop_detail, f"sops {s.sops_version}", "—", "pass", _verdict(s.interop_ok)))
    return rows


BURST_GOAL = 0.65  # issue 19: a burst on every core <= 0.65x one core's RSA time
IDLE_GOAL = 1.3  # issue 19: create -> Secret when idle, p50 <= 1.3x the RSA time of its values
HEALTHZ_GOAL_S = 0.100  # issue 19: /healthz answers within 100 ms during a burst


def _healthz_peer(runs: Sequence[controller_bench.Burst], idle_ms: Sequence[float]) -> str:
    """The /healthz row's peers: a trivial server in its own process probed right after each probe (what the loaded
    machine alone does), and the idle controller just before the burst."""
    parts = []
    control = [x for r in runs for x in r.healthz_control]
    if control:
        p99s = [1000 * controller_bench.percentile(r.healthz_control, 99) for r in runs if r.healthz_control]
        slowest = max(runs, key=lambda r: max(r.healthz or [0.0]))
        after = (f", {1000 * slowest.control_at_slowest:.0f} ms right after the slowest /healthz"
                 if slowest.control_at_slowest >= 0 else "")
        parts.append(f"p99 {median(p99s):.0f} ms, slowest {1000 * max(control):.0f} ms{after}: a trivial HTTP server "
                     "in its own process, probed right after each")
    if idle_ms:
        parts.append(f"p99 {median(idle_ms):.0f} ms: the idle controller, just before")
    return "; ".join(parts) or "—"


def _controller_rows(c: controller_bench.ControllerResults) -> list[Row]:
    """5. The controller under a burst: all N Secrets against the single-core RSA limit, latencies, peak RSS."""
    if c.missing or not c.runs:
        return [Row("controller under a burst of SealedSecrets", "not measured", c.missing or "no run", "—", "—",
                    "—")]
    runs, n, v = c.runs, c.secrets, VALUES_PER_SECRET
    of = f"median of {len(runs)}, a fresh emulator and controller each" if len(runs) > 1 else "1 run"
    complete = all(r.complete for r in runs)
    walls, limits = [r.all_wall for r in runs], [r.rsa_limit_s for r in runs]
    ratio = _ratio(walls, limits)
    rate = n * v / median(walls)
    spread = f" (runs {fmt_s(min(walls))}–{fmt_s(max(walls))})" if len(walls) > 1 else ""
    sealer = (f"{fmt_s(median(walls))} = {fmt_num(rate)} values/s = {fmt_num(rate / v)} secrets/s{spread}"
              if complete else "only " + ", ".join(f"{r.seen:,}" for r in runs) + f" of {n:,} Secrets within "
              f"{fmt_s(max(walls))}")
    rows = [Row(f"controller: {n:,} SealedSecrets × {v} values created at once against the API emulator, time "
                f"until all {n:,} Secrets exist (first create sent → last Secret seen; {of})", sealer,
                f"{fmt_s(median(limits))} = {n * v:,} RSA-4096 private ops at "
                f"{fmt_num(median([r.private_per_s for r in runs]))}/s (cryptography OAEP decrypt loop, 1 core, "
                "CPU time, same run)", f"{ratio:.2f}", f"≤ {BURST_GOAL}", _verdict(complete and ratio <= BURST_GOAL))]
    floors = [r.floor_s for r in runs]
    if complete and all(floors):
        rows.append(Row(f"controller: the same burst against the floor ({of})", fmt_s(median(walls)),
                        f"{fmt_s(median(floors))} = the same {n * v:,} RSA-4096 private ops on one thread per core, "
                        f"nothing else ({_ratio(floors, limits):.2f}x of one core's time)",
                        f"{_ratio(walls, floors):.2f}", "—", "—"))
    if not all(r.latencies and r.idle_latencies for r in runs):
        return rows
    p50s = [median(r.latencies) for r in runs]
    p99s = [controller_bench.percentile(r.latencies, 99) for r in runs]
    rows.append(Row(f"controller: latency create → Secret during that burst, p50 / p99 ({of})",
                    f"{fmt_s(median(p50s))} / {fmt_s(median(p99s))}",
                    f"{fmt_s(median(limits) / 2)} / {fmt_s(median(limits) * 0.99)} (a FIFO queue working at the "
                    "RSA limit)", f"{_ratio(p50s, [x / 2 for x in limits]):.2f}", "—", "—"))
    idle = [median(r.idle_latencies) for r in runs]
    one = [v / r.private_per_s for r in runs]
    worst = max(max(r.idle_latencies) for r in runs)
    rows.append(Row(f"controller: latency create → Secret when idle, p50 ({c.idle} SealedSecrets one at a time; "
                    f"{of})", f"{fmt_ms(median(idle))} (slowest {fmt_ms(worst)})",
                    f"{fmt_ms(median(one))} = {v} RSA-4096 private ops (decrypt loop)",
                    f"{_ratio(idle, one):.2f}", f"≤ {IDLE_GOAL}", _verdict(_ratio(idle, one) <= IDLE_GOAL)))
    probes = [x for r in runs for x in r.healthz]
    if probes:
        p99s_ms = [1000 * controller_bench.percentile(r.healthz, 99) for r in runs if r.healthz]
        failed = sum(r.healthz_failed for r in runs)
        slow = sum(1 for x in probes if x >= HEALTHZ_GOAL_S)
        idle_ms = [1000 * controller_bench.percentile(r.healthz_idle, 99) for r in runs if r.healthz_idle]
        rows.append(Row(f"controller: `/healthz` during the burst, a probe every "
                        f"{controller_bench.PROBE_INTERVAL * 1000:.0f} ms on a new connection ({len(probes):,} probes "
                        f"over {len(runs)} bursts; p99 the median of the runs')",
                        f"p99 {median(p99s_ms):.0f} ms, slowest {1000 * max(probes):.0f} ms; {slow} of "
                        f"{len(probes) + failed:,} at or over {HEALTHZ_GOAL_S * 1000:.0f} ms, {failed} failed",
                        _healthz_peer(runs, idle_ms),
                        "—", f"all < {HEALTHZ_GOAL_S * 1000:.0f} ms", _verdict(slow == 0 and failed == 0)))
    if all(r.decrypts >= 0 for r in runs):
        values = (c.secrets + c.idle) * v
        rows.append(Row("controller: private-key decryptions in a run (`sealer_decrypt_operations_total` after it)",
                        ", ".join(dict.fromkeys(f"{r.decrypts:,}" for r in runs)), f"{values:,} values sealed",
                        "—", "equal", _verdict(all(r.decrypts == values for r in runs))))
    hwm = [r.rss_hwm_kib for r in runs]
    ready = [r.rss_ready_kib for r in runs]
    rows.append(Row(f"controller: peak RSS of the process (VmHWM) after the burst (largest of {len(runs)})",
                    fmt_mib(max(hwm)) + (f" (runs {fmt_mib(min(hwm))}–{fmt_mib(max(hwm))})" if len(hwm) > 1 else ""),
                    f"{fmt_mib(median(ready))} when ready, before any SealedSecret",
                    f"{_ratio(hwm, ready):.2f}" if all(ready) else "—", "< 200 MB",
                    _verdict(max(hwm) * 1024 < 200e6)))
    ok = all(r.correct for r in runs)
    rows.append(Row("controller: every Secret of the burst checked against its plaintext and owner",
                    "; ".join(dict.fromkeys(r.checked for r in runs)), "—", "—", "all", _verdict(ok)))
    return rows


def _controller_notes(cfg: Config, c: controller_bench.ControllerResults) -> list[str]:
    if c.missing or not c.runs:
        return []
    cores = os.cpu_count() or 1
    out = [f"Controller rows: three processes share the {cores} cores: the API emulator "
           "(`python -m sealer_testkit.apiserver`, kmock, its own interpreter), the controller "
           "(`python -m controller --standalone --key-bits 4096`, "
           "default resync and renewal periods; its RSA-4096 key Secret is created before it starts, so key "
           "generation is not measured) and the bench client (one asyncio loop: the creates over "
           f"{c.concurrency} keep-alive connections, each request's bytes made beforehand; one watch on Secrets), "
           "with a `/healthz` probe process beside them. Latency = the create request returned → the "
           "Secret's ADDED event reached the bench's watch. The peer (5 × N decrypts, CPU-timed) runs in the bench "
           "process while the controller is idle, between the idle and the burst phase of the same repetition. "
           "Nothing is profiled in these runs."]
    per_run = []
    for i, r in enumerate(c.runs, 1):
        rsa = r.secrets * VALUES_PER_SECRET / r.private_per_s
        per_run.append(
            f"run {i}: {fmt_s(r.all_wall)} wall, creates done after {fmt_s(r.creates_wall)} (create p50 "
            f"{fmt_ms(median(r.create_times))}); controller CPU {fmt_s(r.ctl_cpu)} = {r.ctl_cpu / r.all_wall:.2f} "
            f"cores (main thread, kopf's event loop: {fmt_s(r.ctl_main_cpu)}; RSA at the peer's rate ≈ "
            f"{fmt_s(rsa)}, so {1000 * (r.ctl_cpu - rsa) / r.secrets:.0f} ms of other CPU per SealedSecret); "
            f"emulator {fmt_s(r.emu_cpu)}; bench {fmt_s(r.bench_cpu)}; other processes on the machine "
            f"{fmt_s(r.other_cpu)}, steal {fmt_s(r.steal)} (of {cores} × {fmt_s(r.all_wall)} = "
            f"{fmt_s(cores * r.all_wall)} available); the floor {fmt_s(r.floor_s)}")
    out.append("CPU time over the burst (utime + stime from /proc; the machine is shared, so other processes' "
               "share is shown): " + "; ".join(per_run) + ".")
    r0 = c.runs[0]
    events = ", ".join(f"{n:,}× {what}" for what, n in r0.events.most_common(3)) or "none"
    problems = "; ".join(r0.log_problems) or "no WARNING, ERROR or Traceback lines"
    out.append(f"Controller behaviour in run 1: Events in the burst namespace {events}; log {r0.log_lines:,} lines, "
               f"{problems}. RSS when ready {fmt_mib(r0.rss_ready_kib)}, peak {fmt_mib(r0.rss_hwm_kib)}; the "
               f"emulator's own peak RSS {fmt_mib(r0.emu_rss_hwm_kib)} (not the controller's).")
    if cfg.quick:
        out.append(f"`--quick`: the controller rows use {c.secrets} SealedSecrets and {len(c.runs)} run; use the "
                   "full run for the record.")
    return out


def notes(cfg: Config, res: Results) -> list[str]:
    out = _main_notes(cfg, res) if cfg.main_figures else []
    if cfg.sops:
        out += _sops_notes(cfg, res.sops)
        if cfg.quick:
            out.append(f"`--quick` run: the SOPS rows use {cfg.sops_files} YAML files and {cfg.sops_other_files} of "
                       "each other store; use the full run for the record.")
    if res.controller is not None:
        out += _controller_notes(cfg, res.controller)
    return out


def _main_notes(cfg: Config, res: Results) -> list[str]:
    out = []
    listed = "; ".join(f"`{c.module}` {c.cumulative_us / 1000:.1f} ms (self {c.self_us / 1000:.1f} ms)"
                       for c in res.import_costs[:5])
    out.append(f"Slowest imports on the `sealer --help` path (`python -X importtime`, cumulative, median of "
               f"{cfg.importtime_runs}): {listed}.")
    by_self = sorted(res.import_costs, key=lambda c: c.self_us, reverse=True)[:5]
    out.append("Largest self times on that path: " + "; ".join(f"`{c.module}` {c.self_us / 1000:.1f} ms"
                                                               for c in by_self) + ".")
    total = sum(c.self_us for c in res.import_costs)
    out.append(f"All imports on that path: {total / 1000:.1f} ms of self time in {len(res.import_costs)} modules.")
    heavy = startup.top_level_hits(res.modules["help"], startup.HEAVY)
    out.append(f"`--help` loads {', '.join(heavy) if heavy else 'none'} of {', '.join(startup.HEAVY)} "
               f"({len(res.modules['help'])} modules in all; `seal`: {len(res.modules['seal1'])}).")
    out.append("CLI processes run with their bytecode cached (PYTHONPYCACHEPREFIX in the bench's temp dir), as "
               "in a regular install; `python -c pass` runs the same way. In this venv `site` also imports "
               "the editable-install finder (`__editable___sealer_*_finder`), which the floor pays too.")
    out.append(f"Peak RSS measured with {res.rss_method}, median of {cfg.rss_runs}.")
    out.append("Rates are per CPU-second of the process doing the work (user + system; `openssl speed` counts "
               "CPU time too), so other load on a shared machine does not skew them; wall-clock figures are "
               "shown beside them. Ratio = sealer / peer: the median of per-repetition ratios, each sealer run "
               "paired with the peer measured in the same repetition (in-process runs are interleaved with "
               "the peer chunk by chunk). For rates higher is better; for times and sizes lower is.")
    if cfg.quick:
        out.append(f"`--quick` run: unseal uses {cfg.unseal_secrets} Secrets and `openssl speed -seconds "
                   f"{cfg.openssl_seconds}`; use the full run for the record.")
    return out


def _ms(us: float) -> str:
    return f"{us / 1000:.1f} ms"


def _sops_notes(cfg: Config, s: sops_batch.SopsResults) -> list[str]:
    if s.missing:
        return []
    out = [f"SOPS rows: peer is sops {s.sops_version}, {s.sops_note}. Both tools get the same age recipient "
           "(a fresh key: `age-keygen` when installed, else pyrage), SOPS_AGE_KEY_FILE for decryption and an "
           "empty HOME; both decrypt the same files (those sops wrote). Stores and files: YAML = small Kubernetes "
           "Secrets (name, namespace, labels, 3–5 values in data/stringData) under the encrypted_regex "
           f"`{sops_batch.ENCRYPTED_REGEX}` (sealer's default for a Secret, given to sops explicitly); JSON = an "
           "app config (credentials, numbers, a list); dotenv = 4–6 `KEY=value` lines; INI = two sections; "
           "binary (`.bin`) = 200–1,170 random bytes; for all but YAML both tools encrypt every value (their "
           "default). One-file rows: wall clock, every command of every store interleaved (sealer, sops, sealer, "
           "...), ratio = median of the paired ratios. Bulk rows: wall clock (what a user waits for), CPU time "
           "of the whole process tree beside it; who runs first alternates between repetitions."]
    if s.phases:
        p = s.phases
        out.append(f"Where one `sealer decrypt one.yaml` spends its time (CPU time of a script running the CLI's "
                   f"fast path in-process, as the `sealer` command does; no profiler, median of "
                   f"{cfg.importtime_runs}): interpreter start-up "
                   f"{fmt_ms(p.startup)} (`python -c pass` takes {fmt_ms(median(s.wall['floor']))} wall in all); "
                   "`import sealer.cli` "
                   f"{fmt_ms(p.import_cli)}; the first `decrypt` call {fmt_ms(p.first)}, of which "
                   f"{fmt_ms(p.second)} is the work itself (a second call in the same process), so "
                   f"~{fmt_ms(max(p.first - p.second, 0))} is lazy imports and first-use setup; interpreter "
                   f"shutdown (module teardown, final garbage collection) {fmt_ms(p.shutdown)}.")
    for verb, costs, owners_of in (("decrypt one.yaml", s.import_costs, s.import_owners),
                                   ("encrypt --age R one.yaml", s.enc_import_costs, s.enc_import_owners)):
        if not costs:
            continue
        top = "; ".join(f"`{c.module}` {_ms(c.cumulative_us)} (self {_ms(c.self_us)})" for c in costs[:8])
        total = sum(c.self_us for c in costs)
        owners = ", ".join(f"{name} {_ms(us)}" for name, us in owners_of[:10])
        out.append(f"Imports of `python -X importtime $(which sealer) {verb}` (median of {cfg.importtime_runs}; "
                   f"all: {_ms(total)} of self time in {len(costs)} modules, with `-X importtime`'s own overhead). "
                   f"Slowest, cumulative (nested ones included in their parents): {top}. By owner (self time of "
                   "each module charged to the innermost sealer module or package among "
                   f"{', '.join(sops_batch.PACKAGES[1:])} on its import chain, so a standard-library module counts "
                   f"against whoever imports it first): {owners}.")
    if s.warm and s.warm.total:
        w = s.warm

        def pct(x: float) -> str:
            return f"{100 * x / w.total:.0f}%"

        pkgs = ", ".join(f"{name} {pct(t)}" for name, t in w.by_package[:5])
        files = ", ".join(f"`{name}` {pct(t)}" for name, t in w.by_file[:4])
        steps = ", ".join(f"`{name}` {pct(t)}" for name, t in sops_batch.distinct_sealer_steps(w))
        out.append(f"cProfile of the work itself (a warm fast-path `decrypt` call in-process; shares of profiled time, "
                   f"the profiler inflates pure-Python code): self time by package {pkgs}; by file {files}; "
                   f"sealer steps (cumulative) {steps}.")
    return out


def render(header: str, rows: Sequence[Row], note_lines: Sequence[str]) -> str:
    lines = [header, "", "| figure | sealer | peer | ratio | target | pass/fail |", "|---|---|---|---|---|---|"]
    lines += [f"| {r.figure} | {r.sealer} | {r.peer} | {r.ratio} | {r.target} | {r.verdict} |" for r in rows]
    lines.append("")
    lines += [f"- {n}" for n in note_lines]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller run (under 3 min): 100 Secrets to unseal, 100 SOPS files, 100 SealedSecrets for "
                             "the controller, shorter peer loops, fewer repetitions")
    parser.add_argument("--unseal-secrets", type=int, metavar="N", help="Secrets to unseal (default 1000, quick 100)")
    parser.add_argument("--reps", type=int, metavar="N",
                        help="repetitions of the seal, unseal and SOPS bulk figures")
    parser.add_argument("--sops-files", type=int, metavar="N",
                        help="files per store for the SOPS bulk rows (default 1000 YAML Secrets and 300 of each "
                             "other store; quick 100 each)")
    parser.add_argument("--controller-secrets", type=int, metavar="N",
                        help="SealedSecrets created at once for the controller rows (default 1000, quick 100)")
    parser.add_argument("--controller-reps", type=int, metavar="N",
                        help="controller bursts, each with a fresh emulator and controller (default 2, quick 1)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--controller-only", action="store_true", help="only the controller rows")
    which.add_argument("--skip-controller", action="store_true", help="everything but the controller rows")
    which.add_argument("--only", metavar="FIGURES", help="comma-separated: main (seal, unseal, start-up, SOPS), "
                       "sops (only the SOPS rows: every store, one file and bulk), controller, lint, vault, large "
                       "(big SOPS files)")
    args = parser.parse_args(argv)
    only = frozenset(f.strip() for f in args.only.split(",")) if args.only else None
    figures = {"main", "sops", "controller", "lint", "vault", "large"}
    if only and not only <= figures:
        parser.error(f"--only: unknown figure(s) {', '.join(sorted(only - figures))}")
    cfg = Config.make(args.quick, args.unseal_secrets, args.reps, args.sops_files,
                      controller_secrets=args.controller_secrets, controller_reps=args.controller_reps,
                      controller_only=args.controller_only, skip_controller=args.skip_controller, only=only)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the temp directory is removed when killed
    flags = " ".join(f for f, on in (("--quick", cfg.quick), (f"--only {args.only}", bool(args.only)),
                                      ("--controller-only", args.controller_only),
                                      ("--skip-controller", args.skip_controller)) if on)
    header = f"**sealer bench{f' ({flags})' if flags else ''}** — {machine_line()}"
    res = Results()
    with tempfile.TemporaryDirectory(prefix="sealer-bench-") as tmp:
        work = Path(tmp)
        if cfg.main_figures:
            log("generating an RSA-4096 sealing key with `sealer keys generate`")
            cert_path, key_path = make_keys(work)
            measure_seal_unseal(cfg, work, cert_path, key_path, res)
            measure_startup(cfg, work, cert_path, res)
        if cfg.sops:
            measure_sops(cfg, work, res)
        if cfg.controller:
            measure_controller(cfg, work, res)
        if cfg.lint:
            measure_lint(cfg, work, res)
        if cfg.vault:
            measure_vault(cfg, work, res)
        if cfg.large:
            measure_large(cfg, work, res)
    print(render(header, build_rows(cfg, res), notes(cfg, res)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
