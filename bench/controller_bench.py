"""The controller under a burst: N SealedSecrets (5 values each) created at once against the API emulator.

Three processes share the machine: the Kubernetes API emulator (`python -m sealer_testkit.apiserver`, kmock in its own
interpreter, so its CPU time is its own), the controller (`python -m controller --standalone --key-bits 4096`,
with its RSA-4096 key Secret created beforehand so key generation is not measured) and this bench (one asyncio
client for the creates and one watch on Secrets, which timestamps each Secret when its ADDED event arrives; the
burst's creates go over `concurrency` keep-alive connections with each request's bytes made beforehand, so the
client takes as little of the shared cores as it can).

Each repetition starts a fresh emulator and controller, waits for "sealer controller ready", then:

1. **idle latency**: `idle` SealedSecrets created one at a time, each awaited, with a pause between them;
   latency = create returned -> Secret seen on the watch.
2. **peer**: `5 x N` RSA-4096 OAEP-SHA256 decrypts in this process on one core (`rsa_peer.private_op`),
   CPU-timed while the controller sits idle. `5 x N / (private ops per CPU-second)` is the RSA limit's time:
   what one core needs for the burst's private-key operations alone. Then the same `5 x N` on one thread per core
   (`rsa_peer.run_ops_threads`), wall-timed: the floor, what every core needs for the RSA work with no sealer
   code, no API server and no client around it (on a VM whose vCPUs share a host, well above one core's time
   / cores).
3. **burst**: all N created as fast as one client can (`concurrency` requests in flight). Per object: when its
   create returned and when its Secret was seen. "All Secrets" = first create sent -> last Secret seen. CPU
   time (utime + stime from /proc) of the controller (and of its main thread, kopf's event loop), the emulator,
   this bench and the whole machine over the burst; controller RSS sampled every 0.25 s, peak = VmHWM at the
   end. Then every Secret is checked against its plaintext and its owner.

4. **healthz**: over the burst, a separate probe process (`probe_healthz`, its own interpreter, so the bench's
   client does not delay it) GETs the controller's `/healthz` every 200 ms on a new connection, as a kubelet probe
   does; latency = request sent -> answer read, and every probe that fails or takes > 10 s is counted. Ten times
   the rate of the shipped readiness probe (`periodSeconds: 2`), about 90 probes over a burst; at 50 ms (until
   2026-12-04) the probe process and the controller's answers took about half a second of the shared cores per
   burst, the instrument weighing on what it measured. Right after each probe the same process GETs a trivial HTTP
   server in its own process (`serve_ok`): what the loaded machine alone does to a probe, the peer of the figure.
5. **decrypts**: `sealer_decrypt_operations_total` from `/metrics` after the burst: 5 x (idle + N) when nothing is
   decrypted twice.

`python -m bench.controller_bench --profile` adds py-spy (`--gil`: only the thread holding the GIL is sampled,
so the shares are shares of the one core the controller's Python and RSA work can use) in an extra burst
outside the recorded figures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import ROOT, VALUES_PER_SECRET, Timing, log, make_secret, median
from controller.decryptpool import cores

SYSTEM_NS = "sealer-system"
BURST_NS = "bench"
IDLE_NS = "bench-idle"
SS_PATH = "/apis/sealer.dev/v1alpha1/namespaces/{ns}/sealedsecrets"
CLK_TCK = os.sysconf("SC_CLK_TCK")
Peer = Callable[[], tuple[Timing, Timing]]  # the RSA work alone: (one core, one thread per core)


@dataclass
class ProcSample:
    t: float  # seconds since the burst started
    cpu: float  # utime + stime of the controller so far (all threads), seconds
    main_cpu: float  # of which its main thread (kopf's asyncio loop)
    emu_cpu: float  # utime + stime of the emulator so far
    rss_kib: int  # controller VmRSS


@dataclass
class Burst:
    """One repetition: a fresh emulator and controller, idle latencies, the peer, the burst."""

    secrets: int
    idle_latencies: list[float] = field(default_factory=list)
    peer_ops: int = 0
    peer: Timing | None = None  # RSA-4096 private ops in this process, one core
    peer_all: Timing | None = None  # the same ops on one thread per core (wall time: the floor)
    creates_wall: float = 0.0  # first create sent -> last create returned
    all_wall: float = 0.0  # first create sent -> last Secret seen (or the time limit)
    seen: int = 0  # Secrets seen within the time limit
    latencies: list[float] = field(default_factory=list)  # create returned -> Secret seen
    create_times: list[float] = field(default_factory=list)  # request sent -> response, per create
    ctl_cpu: float = 0.0  # controller CPU seconds over the burst
    ctl_main_cpu: float = 0.0  # of which its main thread (kopf's event loop; handlers run in worker threads)
    emu_cpu: float = 0.0
    bench_cpu: float = 0.0
    machine_cpu: float = 0.0  # every process on the machine (from /proc/stat)
    steal: float = 0.0  # vCPU time the hypervisor gave to others over the burst (from /proc/stat)
    samples: list[ProcSample] = field(default_factory=list)
    rss_ready_kib: int = 0  # controller VmRSS when ready, before any SealedSecret
    rss_hwm_kib: int = 0  # controller VmHWM after the burst
    emu_rss_hwm_kib: int = 0
    events: collections.Counter[str] = field(default_factory=collections.Counter)  # posted in the burst namespace
    correct: bool = False
    checked: str = ""
    log_lines: int = 0
    log_problems: list[str] = field(default_factory=list)  # WARNING/ERROR/Traceback lines, normalised, counted
    watch_error: str = ""
    healthz: list[float] = field(default_factory=list)  # /healthz latencies during the burst, seconds
    healthz_failed: int = 0  # probes that failed or timed out
    healthz_idle: list[float] = field(default_factory=list)  # the same probe for 3 s just before, controller idle
    healthz_control: list[float] = field(default_factory=list)  # the control server, probed right after each
    control_at_slowest: float = -1.0  # the control probe right after the slowest /healthz probe (-1: none)
    decrypts: int = -1  # sealer_decrypt_operations_total after the burst (-1: not read)

    @property
    def complete(self) -> bool:
        return self.seen == self.secrets

    @property
    def private_per_s(self) -> float:
        return self.peer_ops / self.peer.cpu if self.peer and self.peer.cpu else 0.0

    @property
    def rsa_limit_s(self) -> float:
        """Seconds one core needs for the burst's private-key operations alone."""
        return self.secrets * VALUES_PER_SECRET / self.private_per_s if self.private_per_s else 0.0

    @property
    def idle_vs_rsa(self) -> float:
        """Idle create -> Secret p50 over the RSA time of one object's values on one core (goal <= 1.3)."""
        one = VALUES_PER_SECRET / self.private_per_s if self.private_per_s else 0.0
        return median(self.idle_latencies) / one if one and self.idle_latencies else float("inf")

    @property
    def other_cpu(self) -> float:
        """CPU seconds used on the machine during the burst by processes other than these three."""
        return max(0.0, self.machine_cpu - self.ctl_cpu - self.emu_cpu - self.bench_cpu)

    @property
    def ratio(self) -> float:
        return self.all_wall / self.rsa_limit_s if self.rsa_limit_s else float("inf")

    @property
    def floor_s(self) -> float:
        """Seconds every core needs for the burst's private-key operations alone (0: not measured)."""
        return self.peer_all.wall if self.peer_all else 0.0


@dataclass
class ControllerResults:
    secrets: int = 0
    reps: int = 0
    idle: int = 0
    concurrency: int = 0
    missing: str = ""  # why nothing was measured
    runs: list[Burst] = field(default_factory=list)
    profile: list[str] = field(default_factory=list)  # py-spy notes, when asked


# --- /proc ------------------------------------------------------------------------------------------------

def _stat_cpu(path: str) -> float:
    with open(path, encoding="ascii") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_cpu(pid: int) -> float:
    """utime + stime of a process (all its threads), seconds."""
    return _stat_cpu(f"/proc/{pid}/stat")


def thread_cpu(pid: int, tid: int) -> float:
    """utime + stime of one thread, seconds (0 if it is gone)."""
    try:
        return _stat_cpu(f"/proc/{pid}/task/{tid}/stat")
    except OSError:
        return 0.0


def machine_times() -> tuple[float, float]:
    """(CPU seconds every process on the machine has used since boot, the busy time of all cores; seconds the
    hypervisor ran something else while a vCPU had work: steal, counted apart, as no process here used it)."""
    with open("/proc/stat", encoding="ascii") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    steal = values[7] if len(values) > 7 else 0
    busy = sum(values[:8]) - idle - steal  # user nice system idle iowait irq softirq steal (guest is inside user)
    return busy / CLK_TCK, steal / CLK_TCK


def proc_status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def sample(pid: int, emu_pid: int, t0: float) -> ProcSample:
    return ProcSample(time.perf_counter() - t0, proc_cpu(pid), thread_cpu(pid, pid), proc_cpu(emu_pid),
                      proc_status_kib(pid, "VmRSS"))


# --- processes --------------------------------------------------------------------------------------------

def start_emulator(work: Path) -> tuple[Any, str]:
    """`python -m sealer_testkit.apiserver DIR` in its own process; (Proc, url)."""
    from sealer_testkit.apiserver import spawn

    proc = spawn([sys.executable, "-m", "sealer_testkit.apiserver", str(work / "kube")], kubeconfig=None,
                 log=work / "emulator.log", cwd=ROOT)
    text = proc.wait_for_log("kubeconfig:", timeout=60)
    url = re.search(r"^url: (\S+)$", text, re.M)
    if not url:
        proc.stop()
        raise RuntimeError(f"the emulator printed no url: {text[-500:]}")
    return proc, url.group(1)


def start_controller(work: Path, kubeconfig: Path, port: int | None = None) -> Any:
    from sealer_testkit.apiserver import free_port, spawn

    argv = [sys.executable, "-m", "controller", "--standalone", "--key-bits", "4096", "--http-host", "127.0.0.1",
            "--http-port", str(port or free_port())]
    proc = spawn(argv, kubeconfig=kubeconfig, log=work / "controller.log", cwd=ROOT,
                 env={"POD_NAMESPACE": SYSTEM_NS})
    proc.wait_for_log("sealer controller ready", timeout=120)
    return proc


def summarise_log(text: str) -> tuple[int, list[str]]:
    """(lines, counts of WARNING/ERROR/CRITICAL/Traceback lines by normalised message, most frequent first)."""
    counts: collections.Counter[str] = collections.Counter()
    lines = text.splitlines()
    for line in lines:
        m = re.search(r"\b(WARNING|ERROR|CRITICAL)\b\s*\]?\s*(.*)$", line)
        if not m:
            if line.startswith("Traceback"):
                counts["Traceback"] += 1
            continue
        msg = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", m.group(2))
        msg = re.sub(r"\d+(\.\d+)?", "N", msg)[:140]
        counts[f"{m.group(1)} {msg}"] += 1
    return len(lines), [f"{n}× {msg}" for msg, n in counts.most_common(6)]


# --- /healthz and /metrics --------------------------------------------------------------------------------------

PROBE_INTERVAL = 0.2  # seconds between probes (see the module docstring)


def _get(url: str) -> float:
    """Seconds for one GET on a new connection, -1 when it failed or did not answer 200 within 10 s."""
    import urllib.request

    sent = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            resp.read()
            return time.perf_counter() - sent if resp.status == 200 else -1.0
    except OSError:
        return -1.0


def probe_healthz(url: str, out: str, interval: float = PROBE_INTERVAL, control: str = "") -> None:
    """Until SIGINT: GET ``url`` every ``interval`` s on a new connection, and right after it ``control`` (a
    trivial server in its own process: what the loaded machine alone does to a probe); then write
    {"healthz": [latency or -1, ...], "control": [...]} as JSON to ``out`` (-1: failed, or no answer within 10 s).
    Runs in its own process (see `start_probe`)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job's shell may have ignored it
    found: list[float] = []
    beside: list[float] = []
    try:
        while True:
            sent = time.perf_counter()
            found.append(_get(url))
            if control:
                beside.append(_get(control))
            time.sleep(max(0.0, interval - (time.perf_counter() - sent)))
    except KeyboardInterrupt:
        pass
    Path(out).write_text(json.dumps({"healthz": found, "control": beside}))


def serve_ok(port: int) -> None:
    """The control server: 200 and a small JSON body to every GET, one request at a time, no logging."""
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Ok(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"status":"ok"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    signal.signal(signal.SIGINT, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt), HTTPServer(("127.0.0.1", port), Ok) as server:
        server.serve_forever()


def start_control(port: int) -> subprocess.Popen[bytes]:
    code = "import sys; from bench.controller_bench import serve_ok; serve_ok(int(sys.argv[1]))"
    return subprocess.Popen([sys.executable, "-c", code, str(port)], cwd=ROOT)


def start_probe(port: int, out: Path, control_port: int = 0) -> subprocess.Popen[bytes]:
    code = ("import sys; from bench.controller_bench import probe_healthz; "
            "probe_healthz(sys.argv[1], sys.argv[2], control=sys.argv[3])")
    control = f"http://127.0.0.1:{control_port}/healthz" if control_port else ""
    return subprocess.Popen([sys.executable, "-c", code, f"http://127.0.0.1:{port}/healthz", str(out), control],
                            cwd=ROOT)


def stop_probe(popen: subprocess.Popen[bytes], out: Path) -> tuple[list[float], list[float]]:
    """The probe's latencies of /healthz and of the control server, in probe order (-1: failed)."""
    interrupt(popen, 30)
    if not out.exists():
        return [], []
    found = json.loads(out.read_text())
    return found["healthz"], found["control"]


def metric(port: int, name: str, kind: str = "SealedSecret", missing: int = 0) -> int:
    """A counter of the controller's /metrics for one kind (``missing`` when it has no sample)."""
    import urllib.request

    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    m = re.search(rf'^{name}{{kind="{kind}"}} (\d+)$', text, re.M)
    return int(m.group(1)) if m else missing


def decrypt_operations(port: int) -> int:
    """`sealer_decrypt_operations_total{kind="SealedSecret"}` from the controller's /metrics (-1: not found)."""
    return metric(port, "sealer_decrypt_operations_total", missing=-1)


# --- the async client ---------------------------------------------------------------------------------------

class SecretWatch:
    """One watch on all Secrets from a resourceVersion on; the arrival time of each Secret's first ADDED."""

    def __init__(self) -> None:
        self.seen: dict[tuple[str, str], float] = {}
        self.waiting: set[tuple[str, str]] = set()  # what `wait` waits for and has not seen yet
        self.changed = asyncio.Event()
        self.error = ""

    async def run(self, session: Any, url: str, rv: str) -> None:
        import aiohttp

        params = {"watch": "true", "resourceVersion": rv, "allowWatchBookmarks": "true"}
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with session.get(f"{url}/api/v1/secrets", params=params, timeout=timeout) as resp:
            resp.raise_for_status()
            async for line in resp.content:
                now = time.perf_counter()
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    self.error = str(event.get("object", {}).get("message"))
                    self.changed.set()
                    return
                if event.get("type") != "ADDED":
                    continue
                meta = event["object"]["metadata"]
                key = (meta.get("namespace"), meta["name"])
                self.seen.setdefault(key, now)
                if key in self.waiting:
                    self.waiting.discard(key)
                    if not self.waiting:
                        self.changed.set()

    async def wait(self, keys: Sequence[tuple[str, str]], timeout: float) -> bool:
        """Until every key has been seen (True) or the timeout or a watch error (False). Woken once, by the
        last key: checking every key at every event cost the bench a fifth of its CPU in a burst of 2,000."""
        self.waiting = {k for k in keys if k not in self.seen}
        self.changed.clear()
        if self.waiting and not self.error:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout)
        return not self.waiting and not self.error


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    return obj["metadata"]["namespace"], obj["metadata"]["name"]


async def _create(session: Any, url: str, obj: Mapping[str, Any]) -> tuple[float, float]:
    """POST one SealedSecret; (sent, returned) perf_counter times."""
    sent = time.perf_counter()
    async with session.post(url + SS_PATH.format(ns=obj["metadata"]["namespace"]), json=obj) as resp:
        body = await resp.read()
        if resp.status != 201:
            raise RuntimeError(f"create {obj['metadata']['name']}: HTTP {resp.status} {body[:200]!r}")
    return sent, time.perf_counter()


class Creates:
    """The burst's creates on ``n`` keep-alive connections, each request's bytes made before the burst starts:
    the bench shares the machine's cores with the controller, and aiohttp's client (about 0.4 ms of CPU per
    request, plus the JSON) was a twentieth of what the burst spent outside RSA."""

    def __init__(self, url: str, objs: Sequence[Mapping[str, Any]]) -> None:
        from urllib.parse import urlsplit

        u = urlsplit(url)
        self.host, self.port = u.hostname or "127.0.0.1", u.port or 80
        self.requests = {_key(o): _post_bytes(u.netloc, SS_PATH.format(ns=o["metadata"]["namespace"]), o)
                         for o in objs}
        self.free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
        self.opened: list[asyncio.StreamWriter] = []

    async def open(self, n: int) -> None:
        for _ in range(n):
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.opened.append(writer)
            self.free.put_nowait((reader, writer))

    async def create(self, obj: Mapping[str, Any]) -> tuple[float, float]:
        """POST one SealedSecret; (sent, returned) perf_counter times."""
        reader, writer = await self.free.get()
        try:
            sent = time.perf_counter()
            writer.write(self.requests[_key(obj)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?im)^content-length:\s*(\d+)", head).group(1))  # type: ignore[union-attr]
            body = await reader.readexactly(length)
            returned = time.perf_counter()
        finally:
            self.free.put_nowait((reader, writer))
        status = int(head.split(b" ", 2)[1])
        if status != 201:
            raise RuntimeError(f"create {obj['metadata']['name']}: HTTP {status} {body[:200]!r}")
        return sent, returned

    async def close(self) -> None:
        for writer in self.opened:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


def _post_bytes(host: str, path: str, obj: Mapping[str, Any]) -> bytes:
    body = json.dumps(obj, separators=(",", ":")).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Accept: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


async def _run_client(url: str, idle: Sequence[Mapping[str, Any]], burst: Sequence[Mapping[str, Any]], run: Burst,
                      ctl_pid: int, emu_pid: int, concurrency: int, pause: float, timeout: float,
                      peer: Peer | None,
                      probe: Callable[[], Callable[[], tuple[list[float], list[float]]]] | None = None) -> None:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency + 2)) as session:
        async with session.get(f"{url}/api/v1/secrets") as resp:
            rv = (await resp.json())["metadata"]["resourceVersion"]
        watch = SecretWatch()
        watching = asyncio.create_task(watch.run(session, url, rv))
        try:
            # 1. idle: one at a time
            for obj in idle:
                _, returned = await _create(session, url, obj)
                if not await watch.wait([_key(obj)], 60):
                    raise RuntimeError(f"no Secret for the idle SealedSecret {_key(obj)} within 60 s "
                                       f"{watch.error}")
                run.idle_latencies.append(watch.seen[_key(obj)] - returned)
                await asyncio.sleep(pause)
            # 2. the peer while the controller is idle (it blocks this loop on purpose: nothing else is going on)
            if peer is not None:
                run.peer, run.peer_all = peer()
            await asyncio.sleep(1.0)  # the last idle object's status patch and Event are long done by now
            if probe is not None:  # /healthz of the idle controller, the peer of the figure during the burst
                stop_idle = probe()
                await asyncio.sleep(3.0)
                run.healthz_idle = [x for x in stop_idle()[0] if x >= 0]
            # 3. the burst
            creates = Creates(url, burst)
            await creates.open(concurrency)

            async def sampler(t0: float) -> None:
                while True:
                    run.samples.append(sample(ctl_pid, emu_pid, t0))
                    await asyncio.sleep(0.25)

            ctl0, main0, emu0 = proc_cpu(ctl_pid), thread_cpu(ctl_pid, ctl_pid), proc_cpu(emu_pid)
            me0, (all0, steal0) = time.process_time(), machine_times()
            stop_probing = probe() if probe is not None else None
            t0 = time.perf_counter()
            sampling = asyncio.create_task(sampler(t0))
            times = await asyncio.gather(*(creates.create(o) for o in burst))
            run.creates_wall = max(r for _, r in times) - t0
            keys = [_key(o) for o in burst]
            done = await watch.wait(keys, timeout)
            t_end = time.perf_counter()
            if stop_probing is not None:
                found, beside = stop_probing()
                run.healthz = [x for x in found if x >= 0]
                run.healthz_failed = len(found) - len(run.healthz)
                run.healthz_control = [x for x in beside if x >= 0]
                slowest = found.index(max(run.healthz)) if run.healthz else len(beside)
                if slowest < len(beside):  # the probe may stop between the two GETs of its last round
                    run.control_at_slowest = beside[slowest]
            run.ctl_cpu, run.ctl_main_cpu = proc_cpu(ctl_pid) - ctl0, thread_cpu(ctl_pid, ctl_pid) - main0
            run.emu_cpu, run.bench_cpu = proc_cpu(emu_pid) - emu0, time.process_time() - me0
            all1, steal1 = machine_times()
            run.machine_cpu, run.steal = all1 - all0, steal1 - steal0
            sampling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sampling
            got = [watch.seen[k] for k in keys if k in watch.seen]
            run.seen = len(got)
            run.all_wall = (max(got) if done else t_end) - t0
            run.latencies = [watch.seen[k] - r for k, (_, r) in zip(keys, times, strict=True) if k in watch.seen]
            run.create_times = [r - s for s, r in times]
            run.watch_error = watch.error
            await creates.close()
        finally:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watching


# --- checks -------------------------------------------------------------------------------------------------

def burst_events(client: Any, n: int, settle: float = 5.0) -> collections.Counter[str]:
    """Events in the burst namespace by reason and message. kopf posts them from a queue after the handler, so
    wait until there are `n` or the count has not moved for `settle` seconds."""
    last, since = -1, time.monotonic()
    while True:
        events = client.list("v1", "Event", BURST_NS)
        if len(events) != last:
            last, since = len(events), time.monotonic()
        if len(events) >= n or time.monotonic() - since > settle:
            return collections.Counter(f"{e.get('reason')}: {e.get('message')}" for e in events)
        time.sleep(0.2)


def check_secrets(client: Any, originals: Sequence[Mapping[str, Any]]) -> tuple[bool, str]:
    """Every Secret in the burst namespace equal to its plaintext and owned (controller: true) by its SealedSecret."""
    owners = {s["metadata"]["name"]: s["metadata"]["uid"]
              for s in client.list("sealer.dev/v1alpha1", "SealedSecret", BURST_NS)}
    got = {s["metadata"]["name"]: s for s in client.list("v1", "Secret", BURST_NS)}
    bad = 0
    for orig in originals:
        name = orig["metadata"]["name"]
        s = got.get(name)
        refs = (s or {}).get("metadata", {}).get("ownerReferences") or []
        if s is None or {k: base64.b64decode(v) for k, v in (s.get("data") or {}).items()} != {
                k: base64.b64decode(v) for k, v in orig["data"].items()} or not any(
                r.get("controller") and r.get("uid") == owners.get(name) for r in refs):
            bad += 1
    if bad:
        return False, f"{bad} of {len(originals):,} Secrets missing, wrong or not owned by their SealedSecret"
    return True, f"all {len(originals):,} Secrets equal to their plaintext and owned by their SealedSecret"


# --- py-spy -------------------------------------------------------------------------------------------------

def py_spy() -> str | None:
    return shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")


def start_profiler(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    exe = py_spy()
    if not exe:
        return None
    return subprocess.Popen([exe, "record", "--pid", str(pid), "--format", "raw", "--output", str(out),
                             "--rate", "100", "--threads", "--gil", "--nonblocking"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_profiler(popen: subprocess.Popen[bytes]) -> None:
    if popen.poll() is None:
        interrupt(popen, 60)


def interrupt(popen: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGINT (the probe and py-spy write their output on it), then kill after ``timeout`` seconds."""
    popen.send_signal(signal.SIGINT)
    try:
        popen.wait(timeout)
    except subprocess.TimeoutExpired:
        popen.kill()
        popen.wait()


_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")

# What a GIL-holding sample is doing, by the first rule that matches (stack text, leaf frame).
_CATEGORIES: tuple[tuple[str, Callable[[str, str], bool]], ...] = (
    ("RSA-OAEP decrypt (`sealer.sealed.hybrid.decrypt_indexed`; cryptography releases the GIL inside)",
     lambda s, leaf: leaf.startswith("decrypt_indexed ")),
    ("watch streams: reading and decoding events (`controller.listwatch`)",
     lambda s, leaf: "(controller/listwatch.py" in s),
    ("API calls (`controller.kube`: urllib3, http.client, JSON)",
     lambda s, leaf: "(controller/kube.py" in s or "(urllib3/" in s or "(kubernetes/" in s),
    ("rest of `sealer.sealed.sealedsecret.unseal`", lambda s, leaf: "(sealer/" in s),
    ("thread hand-offs (work queue, decrypt pool: `threading`, `concurrent.futures`)",
     lambda s, leaf: "(threading.py" in leaf or "(concurrent/futures/" in leaf),
    ("logging", lambda s, leaf: "(logging/" in s),
    ("controller code (reconcile, digest, plan, status)",
     lambda s, leaf: re.search(r"\(controller/(?!__main__)", s) is not None),
    ("kopf and asyncio (the operator's loop)", lambda s, leaf: "(kopf/" in s or "(asyncio/" in s),
)


def summarise_profile(path: Path) -> list[str]:
    """py-spy --gil raw stacks -> shares by thread, by category (first matching rule), by leaf function."""
    if not path.exists():
        return ["py-spy wrote no profile"]
    total = 0
    by_thread: collections.Counter[str] = collections.Counter()
    by_cat: collections.Counter[str] = collections.Counter()
    by_leaf: collections.Counter[str] = collections.Counter()
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        thread = re.sub(r"^thread \(\w+\): ", "", frames[0]) if frames[0].startswith("thread") else "?"
        thread = re.sub(r"_\d+$", "", thread)  # ThreadPoolExecutor-0_3 -> ThreadPoolExecutor-0
        leaf = frames[-1]
        total += n
        by_thread[thread] += n
        by_cat[next((name for name, rule in _CATEGORIES if rule(stack, leaf)), "other")] += n
        m = _FRAME.match(leaf)
        by_leaf[f"{m.group('func')} ({m.group('file')})" if m else leaf] += n
    if not total:
        return ["py-spy recorded no samples"]

    def pct(x: int) -> str:
        return f"{100 * x / total:.0f}%"

    return [
        f"py-spy --gil: {total:,} samples of the GIL holder at 100 Hz",
        "by thread: " + ", ".join(f"{t} {pct(c)}" for t, c in by_thread.most_common(4)),
        "by activity: " + ", ".join(f"{k} {pct(c)}" for k, c in by_cat.most_common()),
        "by function (leaf): " + ", ".join(f"`{k}` {pct(c)}" for k, c in by_leaf.most_common(8)),
    ]


# --- the measurement ------------------------------------------------------------------------------------------

def one_burst(work: Path, key_secret: Mapping[str, Any], idle: Sequence[Mapping[str, Any]],
              burst: Sequence[Mapping[str, Any]], originals: Sequence[Mapping[str, Any]], *, concurrency: int,
              pause: float, peer: Peer | None, peer_ops: int, profile: Path | None = None) -> Burst:
    from sealer_testkit.apiserver import KubeClient, free_port, write_kubeconfig

    run = Burst(secrets=len(burst), peer_ops=peer_ops)
    work.mkdir(parents=True, exist_ok=True)
    emu, url = start_emulator(work)
    ctl = prof = probing = None
    port = free_port()
    probe_out = work / "healthz.json"
    control_port = free_port()
    control = start_control(control_port) if profile is None else None

    def probe() -> Callable[[], tuple[list[float], list[float]]]:
        nonlocal probing
        probe_out.unlink(missing_ok=True)
        probing = popen = start_probe(port, probe_out, control_port)
        time.sleep(0.3)  # the probe's interpreter starts before the first create
        return lambda: stop_probe(popen, probe_out)

    try:
        client = KubeClient(url)
        client.create(dict(key_secret))
        ctl = start_controller(work, write_kubeconfig(work / "kubeconfig", url), port)
        run.rss_ready_kib = proc_status_kib(ctl.pid, "VmRSS")
        if profile is not None:
            prof = start_profiler(ctl.pid, profile)
        timeout = max(60.0, 10 * len(burst) * VALUES_PER_SECRET / 150)  # 10x the RSA work at 150 ops/s
        asyncio.run(_run_client(url, idle, burst, run, ctl.pid, emu.pid, concurrency, pause, timeout, peer,
                                probe if profile is None else None))
        run.decrypts = decrypt_operations(port)
        run.rss_hwm_kib = proc_status_kib(ctl.pid, "VmHWM")
        run.emu_rss_hwm_kib = proc_status_kib(emu.pid, "VmHWM")
        if prof is not None:
            stop_profiler(prof)
        run.events = burst_events(client, len(burst))
        run.correct, run.checked = check_secrets(client, originals)
    finally:
        for popen in (prof, probing, control):
            if popen is not None and popen.poll() is None:
                popen.kill()
                popen.wait()
        if ctl is not None:
            ctl.stop()
            run.log_lines, run.log_problems = summarise_log(ctl.log_text())
        emu.stop()
    return run


def measure(work: Path, n: int, *, reps: int = 1, idle: int = 20, pause: float = 0.3, concurrency: int = 16,
            profile: bool = False, key_bits: int = 4096) -> ControllerResults:
    """`reps` bursts of `n`, each with a fresh emulator and controller (see the module docstring); with
    `profile`, one more burst under py-spy whose notes land in `.profile` (its figures are not recorded)."""
    res = ControllerResults(secrets=n, reps=reps, idle=idle, concurrency=concurrency)
    try:
        import aiohttp  # noqa: F401
        import kmock  # noqa: F401
        import kopf  # noqa: F401
    except ImportError as e:
        res.missing = f"{e.name} is not installed"
        return res
    from bench import rsa_peer
    from controller import keyring as kr
    from sealer.sealed.keys import load_private_keys, parse_cert
    from sealer.sealed.sealedsecret import seal_secret

    work.mkdir(parents=True, exist_ok=True)
    log(f"controller: an RSA-{key_bits} key Secret; sealing {n:,} + {idle} SealedSecrets")
    key_secret = kr.new_key_secret(SYSTEM_NS, bits=key_bits)
    cert = parse_cert(base64.b64decode(key_secret["data"]["tls.crt"]), "key Secret")
    (work / "key.pem").write_bytes(base64.b64decode(key_secret["data"]["tls.key"]))
    private = rsa_peer.private_op(load_private_keys(str(work / "key.pem"))[0].key)
    originals = [make_secret(i) for i in range(n)]
    burst = [seal_secret(s, cert) for s in originals]
    idle_objs = []
    for i in range(idle):
        s = make_secret(i)
        s["metadata"] = {**s["metadata"], "name": f"idle-{i:02d}", "namespace": IDLE_NS}
        idle_objs.append(seal_secret(s, cert))
    ops = n * VALUES_PER_SECRET

    def peer() -> tuple[Timing, Timing]:  # a Peer
        log(f"controller: peer, {ops:,} RSA-{key_bits} OAEP decrypts in this process on one core, then on {cores()}")
        return rsa_peer.run_ops(private, ops), rsa_peer.run_ops_threads(private, ops, cores())

    for rep in range(reps):
        log(f"controller {rep + 1}/{reps}: fresh emulator and controller; {idle} SealedSecrets one at a time, the "
            f"peer, then {n:,} at once ({concurrency} creates in flight)")
        res.runs.append(one_burst(work / f"rep{rep}", key_secret, idle_objs, burst, originals,
                                  concurrency=concurrency, pause=pause, peer=peer, peer_ops=ops))
    if profile:
        log("controller: one more burst with py-spy --gil on the controller (not recorded)")
        out = work / "profile.txt"
        if py_spy() is None:
            res.profile = ["py-spy is not installed (`pip install py-spy`)"]
        else:
            profiled = one_burst(work / "profiled", key_secret, idle_objs[:2], burst, originals,
                                 concurrency=concurrency, pause=pause, peer=None, peer_ops=ops, profile=out)
            res.profile = [f"profiled burst: {profiled.all_wall:.1f} s for {profiled.seen:,} Secrets, controller "
                           f"CPU {profiled.ctl_cpu:.1f} s (py-spy slows it)", *summarise_profile(out)]
    return res


# --- a stand-alone run ------------------------------------------------------------------------------------------

def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, q in 0..100."""
    s = sorted(values)
    rank = -(-q * len(s) // 100)  # ceil
    return s[min(len(s) - 1, max(0, int(rank) - 1))]


def goals(b: Burst, idle: int) -> list[str]:
    """Issue 19's "All cores" rows for one run: figure, its peer in the same run, the goal."""
    one = VALUES_PER_SECRET / b.private_per_s if b.private_per_s else 0.0
    p99 = percentile(b.healthz, 99) if b.healthz else float("inf")
    ops = (b.secrets + idle) * VALUES_PER_SECRET
    return [
        f"burst of {b.secrets:,} x {VALUES_PER_SECRET} values on {cores()} cores: {b.all_wall:.1f} s vs one "
        f"core's RSA time {b.rsa_limit_s:.1f} s = {b.ratio:.2f}x (goal <= 0.65x); the floor, the same RSA work on "
        f"{cores()} threads alone: {b.floor_s:.1f} s = {b.floor_s / b.rsa_limit_s if b.rsa_limit_s else 0:.2f}x, the "
        f"burst {b.all_wall / b.floor_s if b.floor_s else 0:.2f}x of it; steal {b.steal:.2f} s",
        f"create -> Secret when idle, p50: {1000 * median(b.idle_latencies):.0f} ms vs the RSA time of its "
        f"{VALUES_PER_SECRET} values {1000 * one:.1f} ms = {b.idle_vs_rsa:.2f}x (goal <= 1.3x)",
        f"/healthz during the burst: p99 {1000 * p99:.0f} ms, max {1000 * max(b.healthz or [p99]):.0f} ms, "
        f"{b.healthz_failed} of {len(b.healthz) + b.healthz_failed} probes failed; idle controller just before: p99 "
        f"{1000 * percentile(b.healthz_idle or [0.0], 99):.0f} ms (goal: within 100 ms)"
        + (f"; a trivial server in its own process, probed right after each: p99 "
           f"{1000 * percentile(b.healthz_control, 99):.0f} ms, max {1000 * max(b.healthz_control):.0f} ms, and "
           f"{1000 * b.control_at_slowest:.0f} ms right after the slowest /healthz" if b.healthz_control else ""),
        f"decryptions: {b.decrypts:,} for {ops:,} values (goal: equal, nothing decrypted twice)",
    ]


def key_bits(text: str) -> int:
    """--key-bits: a size sealer makes keys of, refused by argparse with its usage line otherwise."""
    from sealer.sealed.keys import MAX_BITS, MIN_BITS

    if not text.isdigit() or not MIN_BITS <= int(text) <= MAX_BITS or int(text) % 256:
        raise argparse.ArgumentTypeError(f"must be a multiple of 256 from {MIN_BITS} to {MAX_BITS}, got {text!r}")
    return int(text)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.controller_bench", description=__doc__.splitlines()[0])
    p.add_argument("--secrets", type=int, default=1000)
    p.add_argument("--reps", type=int, default=1)
    p.add_argument("--idle", type=int, default=20)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--profile", action="store_true", help="one more burst with py-spy --gil on the controller")
    p.add_argument("--keep", metavar="DIR", help="work in DIR and keep the logs")
    p.add_argument("--key-bits", type=key_bits, default=4096,
                   help="the sealing key's size; 2048 (the smallest) leaves more of the controller's own cost to "
                   "profile")
    args = p.parse_args(argv)
    with contextlib.ExitStack() as stack:
        work = Path(args.keep) if args.keep else Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="sealer-controller-bench-")))
        r = measure(work, args.secrets, reps=args.reps, idle=args.idle, concurrency=args.concurrency,
                    profile=args.profile, key_bits=args.key_bits)
    if r.missing:
        print(r.missing)
        return 1
    for b in r.runs:
        print(json.dumps({
            "seen": b.seen, "all_wall": round(b.all_wall, 2), "creates_wall": round(b.creates_wall, 2),
            "rsa_limit_s": round(b.rsa_limit_s, 2), "ratio": round(b.ratio, 2), "floor_s": round(b.floor_s, 2),
            "private_per_s": round(b.private_per_s, 1), "p50": round(median(b.latencies), 3),
            "p99": round(percentile(b.latencies, 99), 3), "idle_p50": round(median(b.idle_latencies), 3),
            "idle_max": round(max(b.idle_latencies), 3), "create_p50": round(median(b.create_times), 4),
            "ctl_cpu": round(b.ctl_cpu, 2), "ctl_main_cpu": round(b.ctl_main_cpu, 2), "emu_cpu": round(b.emu_cpu, 2),
            "bench_cpu": round(b.bench_cpu, 2), "machine_cpu": round(b.machine_cpu, 2),
            "steal": round(b.steal, 2), "other_cpu": round(b.other_cpu, 2),
            "rss_ready_mib": round(b.rss_ready_kib / 1024, 1), "rss_hwm_mib": round(b.rss_hwm_kib / 1024, 1),
            "emu_rss_hwm_mib": round(b.emu_rss_hwm_kib / 1024, 1), "events": b.events.most_common(3),
            "healthz_n": len(b.healthz), "healthz_failed": b.healthz_failed,
            "healthz_p50_ms": round(1000 * median(b.healthz), 1) if b.healthz else None,
            "healthz_p99_ms": round(1000 * percentile(b.healthz, 99), 1) if b.healthz else None,
            "healthz_max_ms": round(1000 * max(b.healthz), 1) if b.healthz else None,
            "healthz_idle_p99_ms": round(1000 * percentile(b.healthz_idle, 99), 1) if b.healthz_idle else None,
            "control_p99_ms": round(1000 * percentile(b.healthz_control, 99), 1) if b.healthz_control else None,
            "control_max_ms": round(1000 * max(b.healthz_control), 1) if b.healthz_control else None,
            "control_at_slowest_ms": round(1000 * b.control_at_slowest, 1),
            "decrypts": b.decrypts, "log_lines": b.log_lines, "log_problems": b.log_problems, "checked": b.checked},
            indent=1))
        for line in goals(b, args.idle):
            print(" ", line)
        prev = None
        for s in b.samples[::max(1, len(b.samples) // 30)]:
            if prev:
                dt = s.t - prev.t
                print(f"  t={s.t:5.1f}s controller {(s.cpu - prev.cpu) / dt:4.2f} cores (main thread "
                      f"{(s.main_cpu - prev.main_cpu) / dt:4.2f}), emulator {(s.emu_cpu - prev.emu_cpu) / dt:4.2f}, "
                      f"RSS {s.rss_kib / 1024:5.1f} MiB")
            prev = s
    for line in r.profile:
        print("-", line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
