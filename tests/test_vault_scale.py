"""VaultSecrets at scale: a restart that reads nothing not due, refreshes spread by a per-object jitter, a
per-store request rate, and HTTP 429 from a Vault rate-limit quota.

Pure parts (the limiter on a fake clock, the due/jitter decision) are unit tests; the rest runs the controller
process against the API emulator and a real OpenBao whose file audit device counts what it was asked.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sealer_testkit.apiserver import KubeServer

from controller.vault import ratelimit, schedule
from controller.vault.ratelimit import Limiter, retry_after
from tests.controller_process import NS, assert_no_leak, secret_items
from tests.openbao import Bao, kv2_put, start_openbao
from tests.vault_resources import (
    CSTORE,
    VS,
    scrape,
    start_vault_controller,
    store,
    token_auth,
    token_secret,
    vault_secret,
    wait_cond,
)

READ_ALL = 'path "secret/*" { capabilities = ["read"] }'


# --- the limiter, on a fake clock -------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def sends(limiter: Limiter, clock: FakeClock, n: int) -> list[float]:
    """Send n requests one after the other through wait(): the times they went."""
    out = []
    for _ in range(n):
        limiter.wait()
        out.append(round(clock.now - 1000.0, 6))
    return out


def test_limiter_rate_burst_and_no_limit() -> None:
    clock = FakeClock()
    assert sends(Limiter(4, 1, clock=clock, sleep=clock.sleep), clock, 5) == [0, 0.25, 0.5, 0.75, 1.0]
    clock = FakeClock()
    assert sends(Limiter(2, 3, clock=clock, sleep=clock.sleep), clock, 5) == [0, 0, 0, 0.5, 1.0]
    clock = FakeClock()
    assert sends(Limiter(0, 0, clock=clock, sleep=clock.sleep), clock, 100) == [0] * 100
    # burst 0 = 1: requests evenly spaced, so rate + 1 per second (a Vault quota) is never exceeded in any second
    clock = FakeClock()
    times = sends(Limiter(4, clock=clock, sleep=clock.sleep), clock, 40)
    assert max(sum(1 for t in times if start <= t < start + 1) for start in times) == 4
    # an idle bucket fills up to burst, no more
    clock = FakeClock()
    limiter = Limiter(1, 2, clock=clock, sleep=clock.sleep)
    clock.now += 3600
    assert sends(limiter, clock, 4) == [3600, 3600, 3601, 3602]


def test_limiter_reserve_refund_pause_and_thread_wait_bound() -> None:
    clock = FakeClock()
    limiter = Limiter(2, 1, clock=clock, sleep=clock.sleep)
    assert limiter.reserve(3) == 1.0  # three reads at once: the last one's turn, 0.5 s apart
    assert limiter.reserve(1) == 1.5
    limiter.refund(1)  # a sync needed fewer reads: its place goes back
    assert limiter.reserve(1) == 1.5
    # 429: nothing before the pause ends, then evenly spaced again (no burst of everything that waited)
    clock = FakeClock()
    limiter = Limiter(4, 4, clock=clock, sleep=clock.sleep)
    limiter.pause(2.0)
    assert [limiter.reserve(1) for _ in range(3)] == [2.0, 2.25, 2.5]
    assert Limiter(0, clock=clock).reserve(1) == 0.0  # no limit
    unlimited = Limiter(0, clock=clock, sleep=clock.sleep)
    unlimited.pause(1.5)
    assert unlimited.reserve(1) == 1.5  # a pause holds a store without a limit too
    # a worker thread never waits longer than MAX_BLOCK, however low the rate
    clock = FakeClock()
    slow = Limiter(0.001, 1, clock=clock, sleep=clock.sleep)
    slow.wait()
    slow.wait()
    assert clock.slept == [ratelimit.MAX_BLOCK]


def test_limiter_acquire_waits_in_asyncio_and_credits_the_thread() -> None:
    slept: list[float] = []
    limiter = Limiter(2, 1, sleep=lambda s: (slept.append(s), time.sleep(s)))

    async def main() -> float:
        limiter.reserve(1)  # someone went just now: the next place is in 0.5 s
        started = time.monotonic()
        assert await limiter.acquire(2)  # two reads: waits in asyncio for the first place only
        waited = time.monotonic() - started
        # in the worker thread (the context is carried by to_thread): the first read goes at once, the second
        # waits for its own place, a third (not credited, a re-login say) takes a new one
        await asyncio.to_thread(lambda: (limiter.wait(), limiter.wait(), limiter.wait()))
        limiter.settle()
        return waited

    waited = asyncio.run(main())
    assert 0.4 <= waited < 1.0
    assert len(slept) == 2 and all(0.3 < s <= 0.5 for s in slept), slept
    # nothing credited is left behind: a thread outside that task takes its own place
    assert ratelimit._CREDIT.get() is None


def test_retry_after_header_default_and_cap() -> None:
    class E(Exception):
        def __init__(self, headers: dict[str, str] | None) -> None:
            super().__init__("429")
            self.headers = headers

    assert retry_after(E(None)) == ratelimit.DEFAULT_PAUSE  # hvac's exceptions carry no headers
    assert retry_after(E({"Retry-After": "7"})) == 7.0
    assert retry_after(E({"retry-after": "100000"})) == ratelimit.MAX_PAUSE
    assert retry_after(E({"Retry-After": "Thu, 01 Jan 1970 00:00:30 GMT"}), now=lambda: 10.0) == 20.0
    assert retry_after(E({"Retry-After": "soon"})) == ratelimit.DEFAULT_PAUSE
    assert retry_after(E({"Retry-After": "-5"})) == 0.0


# --- due and jitter ---------------------------------------------------------------------------------------


def body(refresh: str | None = "2026-01-01T00:00:00Z", *, ready: str = "True", generation: int = 3,
         observed: int = 3, data_hash: str | None = "hmac-sha256:x:y", uid: str = "u-1") -> dict[str, Any]:
    status: dict[str, Any] = {"observedGeneration": observed, "conditions": [{"type": "Ready", "status": ready}]}
    if refresh:
        status["refreshTime"] = refresh
    if data_hash:
        status["dataHash"] = data_hash
    return {"metadata": {"uid": uid, "generation": generation}, "status": status}


def test_jitter_is_fixed_per_object_bounded_and_spread() -> None:
    assert schedule.jitter("a", 3600) == schedule.jitter("a", 3600)
    values = [schedule.jitter(f"uid-{i}", 3600) for i in range(200)]
    assert all(0 <= v < 300 for v in values)  # 10% of 1 h is 360 s: capped at 5 minutes
    assert max(values) - min(values) > 250  # spread over the range, not bunched
    busiest = max(sum(1 for v in values if s <= v < s + 1) for s in range(300))
    assert busiest <= 5  # 200 objects, 1 h interval: a handful per second at most
    assert all(0 <= schedule.jitter(f"u{i}", 60) < 6 for i in range(50))  # 10% of a short interval
    assert schedule.jitter("a", 0) == 0 and schedule.refresh_delay("a", 0) == schedule.NEVER
    assert schedule.refresh_delay("a", 60) == 60 + schedule.jitter("a", 60)


def test_resume_delay_decision() -> None:
    t0 = schedule.parse_time("2026-01-01T00:00:00Z")
    assert t0 is not None
    j = schedule.jitter("u-1", 3600)
    # not due: wait until refreshTime + interval + the object's jitter
    assert schedule.resume_delay(body(), 3600, t0 + 600) == pytest.approx(3000 + j)
    # overdue (the controller was down for longer than the interval): only the jitter, so they do not all read now
    assert schedule.resume_delay(body(), 3600, t0 + 7200) == pytest.approx(j)
    # read now: no successful sync yet, failed last time, spec changed since, nothing recorded
    assert schedule.resume_delay(body(ready="False"), 3600, t0 + 600) is None
    assert schedule.resume_delay(body(generation=4), 3600, t0 + 600) is None
    assert schedule.resume_delay(body(refresh=None), 3600, t0 + 600) is None
    assert schedule.resume_delay(body(data_hash=None), 3600, t0 + 600) is None
    assert schedule.resume_delay({"metadata": {"uid": "u", "generation": 1}}, 3600, t0) is None
    assert schedule.resume_delay(body(refresh="not a time"), 3600, t0) is None
    assert schedule.resume_delay(body(), 3600, t0 - 86400) is None  # refreshTime a day ahead: a clock step
    # refreshInterval 0: read once; a restart does not read again
    assert schedule.resume_delay(body(), 0, t0 + 10 ** 6) == schedule.NEVER


def test_requests_a_sync_takes_from_its_store_limiter() -> None:
    from controller.vault import spec as vs
    from controller.vault.refresh import _requests

    obj = {"metadata": {"name": "a", "namespace": "n"}, "spec": {"storeRef": {"name": "s"}, "data": [
        {"secretKey": "user", "remoteRef": {"path": "db", "property": "user"}},
        {"secretKey": "password", "remoteRef": {"path": "db", "property": "password"}}],
        "dataFrom": [{"path": "api"}]}}
    assert _requests(vs.parse_vault_secret(obj)) == 2  # two items of one secret are one read


# --- end to end: the controller process, the emulator, a real OpenBao with an audit log ---------------------


@pytest.fixture
def audited(tmp_path: Path) -> Iterator[tuple[Bao, Path]]:
    """A fresh OpenBao with a file audit device (OpenBao enables audit devices only from its configuration)."""
    audit = tmp_path / "audit.log"
    hcl = f'audit "file" "test" {{\n  options {{\n    file_path = "{audit}"\n  }}\n}}\n'
    with start_openbao(tmp_path / "openbao", config_hcl=hcl) as bao:
        yield bao, audit


def kv_reads(audit: Path, offset: int = 0) -> tuple[int, int]:
    """KV reads OpenBao logged (request entries, operation read on secret/data/...) from byte `offset` on; and
    the new offset."""
    data = audit.read_bytes()[offset:]
    n = 0
    for line in data.splitlines():
        entry = json.loads(line)
        req = entry.get("request") or {}
        if entry.get("type") == "request" and req.get("operation") == "read" and re.match(
                r"^secret/data/", req.get("path", "")):
            n += 1
    return n, offset + len(data)


def requests_by_status(port: int, operation: str) -> dict[str, float]:
    out = {}
    for k, v in scrape(port).items():
        m = re.fullmatch(rf'sealer_vault_requests_total\{{operation="{operation}",status="(\w+)"\}}', k)
        if m:
            out[m.group(1)] = v
    return out


def all_ready(kube: KubeServer, namespace: str, names: list[str]) -> bool:
    ready = {o["metadata"]["name"] for o in kube.client.list(*VS, namespace)
             if any(c.get("type") == "Ready" and c.get("status") == "True"
                    for c in (o.get("status") or {}).get("conditions") or [])}
    return set(names) <= ready


def test_restart_reads_nothing_not_due_and_restores_what_changed(kube: KubeServer, audited: tuple[Bao, Path],
                                                                 tmp_path: Path) -> None:
    bao, audit = audited
    n = 30
    plant = "PLANTED-scale-" + secrets.token_hex(6)
    for i in range(n):
        kv2_put(bao, f"app/s{i}", {"user": f"u{i}", "password": f"{plant}-{i}"})
    bao.write_policy("read", READ_ALL)
    token = bao.create_token("read")
    token_secret(kube, "app", token)
    kube.client.create(store(bao, "vault", "app", token_auth()))
    names = [f"s{i}" for i in range(n)]
    proc, port = start_vault_controller(kube, tmp_path)
    for i, name in enumerate(names):
        kube.client.create(vault_secret(name, "app", "vault", refreshInterval="1h",
                                        dataFrom=[{"path": f"app/s{i}"}]))
    kube.client.wait_for(lambda: all_ready(kube, "app", names), timeout=60, message="all VaultSecrets Ready")
    assert requests_by_status(port, "read") == {"200": n}
    before = {o["metadata"]["name"]: o["status"] for o in kube.client.list(*VS, "app")}
    proc.stop()

    # while the controller is down: one Secret deleted, one edited, one VaultSecret's spec changed
    kube.client.delete("v1", "Secret", "s0", "app")
    kube.client.patch("v1", "Secret", "s1", {"data": {"password": base64.b64encode(b"tampered").decode()}}, "app")
    kube.client.patch(*VS, "s2", {"spec": {"refreshInterval": "2h"}}, "app")
    _, offset = kv_reads(audit)

    proc, port = start_vault_controller(kube, tmp_path, log_name="controller-2.log")
    kube.client.wait_for(lambda: secret_items(kube, "s0", "app") == {"user": b"u0", "password": f"{plant}-0".encode()},
                         timeout=30, message="deleted Secret restored")
    kube.client.wait_for(lambda: (secret_items(kube, "s1", "app") or {}).get("password") == f"{plant}-1".encode(),
                         timeout=30, message="edited Secret restored")
    wait_cond(kube, "s2", "app", "True")
    kube.client.wait_for(lambda: (kube.client.get(*VS, "s2", "app")["status"].get("observedGeneration") ==
                                  kube.client.get(*VS, "s2", "app")["metadata"]["generation"]), timeout=30)
    time.sleep(4.0)  # every loop has started by now (30 objects): the not-due ones must stay quiet
    reads, _ = kv_reads(audit, offset)
    assert reads == 3, f"{reads} KV reads after the restart; only the 3 changed objects should be read"
    assert requests_by_status(port, "read") == {"200": 3}
    after = {o["metadata"]["name"]: o["status"] for o in kube.client.list(*VS, "app")}
    unchanged = [name for name in names[3:] if after[name]["refreshTime"] == before[name]["refreshTime"]]
    assert len(unchanged) == n - 3
    for name in names[3:]:  # the Secrets left alone are what Vault holds
        i = int(name[1:])
        assert secret_items(kube, name, "app") == {"user": f"u{i}".encode(), "password": f"{plant}-{i}".encode()}

    # drift while running still restores at once (the restart check remembered what the Secret held)
    kube.client.delete("v1", "Secret", "s5", "app")
    kube.client.wait_for(lambda: secret_items(kube, "s5", "app") is not None, timeout=30, message="s5 restored")
    assert requests_by_status(port, "read") == {"200": 4}
    proc.stop()
    assert_no_leak(proc.log_text() + repr(kube.client.events()) + repr(kube.client.list(*VS)), token, plant)
    assert not kube.server_errors()


def test_store_rate_limit_keeps_under_a_vault_quota_and_429_is_retried(kube: KubeServer, audited: tuple[Bao, Path],
                                                                      openbao: Bao, tmp_path: Path) -> None:
    bao, audit = audited
    other = f"other-{secrets.token_hex(4)}"  # a store on another OpenBao (no quota): must not wait behind "limited"
    kv2_put(openbao, f"{other}/s", {"value": "other"})
    openbao.write_policy(f"{other}-read", READ_ALL)
    token_secret(kube, "app", openbao.create_token(f"{other}-read"), name="other-token")
    kube.client.create(store(openbao, "other", "app", token_auth("other-token")))
    n, m = 20, 12
    for i in range(n + m):
        kv2_put(bao, f"q/s{i}", {"value": f"v{i}"})
    bao.write_policy("read", READ_ALL)
    token = bao.create_token("read", ttl="2h")
    token_secret(kube, "app", token)
    kube.client.create(store(bao, "limited", "app", token_auth(), requestsPerSecond=4))
    bao.api("POST", "sys/quotas/rate-limit/q", {"rate": 5})  # from here on, the test makes no request of its own
    proc, port = start_vault_controller(kube, tmp_path)
    _, offset = kv_reads(audit)

    names = [f"s{i}" for i in range(n)]
    started = time.monotonic()
    for i, name in enumerate(names):
        kube.client.create(vault_secret(name, "app", "limited", dataFrom=[{"path": f"q/s{i}"}]))
    kube.client.create(vault_secret("other", "app", "other", dataFrom=[{"path": f"{other}/s"}]))
    kube.client.wait_for(lambda: secret_items(kube, "other", "app"), timeout=30, message="the other store's Secret")
    limited_done = sum(1 for name in names if secret_items(kube, name, "app") is not None)
    # the limited store waits in asyncio, not in worker threads: the other store's sync did not queue behind it
    # (with the waits in threads, all queued syncs of the limited store went first: measured 12 of 16 done)
    assert limited_done < n // 2, f"the other store's sync waited for {limited_done} of the limited store's"
    kube.client.wait_for(lambda: all_ready(kube, "app", names), timeout=90, message="all limited VaultSecrets Ready")
    took = time.monotonic() - started
    by_status = {**requests_by_status(port, "read"), **{f"lookup {k}": v
                                                           for k, v in requests_by_status(port, "lookup").items()}}
    assert "429" not in by_status and "lookup 429" not in by_status, by_status
    assert by_status["200"] == n + 1  # and the other store's one
    assert kv_reads(audit, offset)[0] == n  # OpenBao saw each read once: none refused, none repeated
    assert took >= (n - 1) / 4 - 1.0  # 4 per second, evenly spaced

    # a store without a limit runs into the quota: 429 pauses it, the VaultSecrets retry and all get there
    kube.client.create(store(bao, "unlimited", "app", token_auth()))
    more = [f"u{i}" for i in range(m)]
    for i, name in enumerate(more):
        kube.client.create(vault_secret(name, "app", "unlimited", dataFrom=[{"path": f"q/s{n + i}"}]))
    kube.client.wait_for(lambda: all_ready(kube, "app", more), timeout=90, message="all unlimited VaultSecrets Ready")
    assert requests_by_status(port, "read").get("429", 0) + requests_by_status(port, "lookup").get("429", 0) > 0
    log = proc.log_text()
    assert "HTTP 429" in log and "paused for 1 s" in log
    for i, name in enumerate(more):
        assert secret_items(kube, name, "app") == {"value": f"v{n + i}".encode()}
    proc.stop()
    assert_no_leak(proc.log_text(), token)
    assert not kube.server_errors()


def test_a_tenants_slow_store_does_not_hold_back_another_tenants_sync(kube: KubeServer, openbao: Bao,
                                                                        tmp_path: Path) -> None:
    """Tenants are hostile: team-slow makes a VaultStore limited to 1 request per second and more VaultSecrets on
    it than the scheduler has places (CONCURRENT = 64). team-fast's VaultSecret, created after them on its own
    store, is synced at once: only PER_STORE of one store's objects hold a place, the others wait their turn off
    the heap. (With every place taken by team-slow's objects waiting on their limiter, team-fast waited for
    about 40 of them, one a second.)"""
    from controller.vault.scheduler import CONCURRENT

    prefix = f"fair-{secrets.token_hex(4)}"
    slow_n = CONCURRENT + 40
    for i in range(slow_n):
        kv2_put(openbao, f"{prefix}/s{i}", {"value": f"v{i}"})
    kv2_put(openbao, f"{prefix}/fast", {"value": "fast"})
    openbao.write_policy(f"{prefix}-read", READ_ALL)
    for team in ("team-slow", "team-fast"):
        token_secret(kube, team, openbao.create_token(f"{prefix}-read"))
    kube.client.create(store(openbao, "slow", "team-slow", token_auth(), requestsPerSecond=1))
    kube.client.create(store(openbao, "vault", "team-fast", token_auth()))
    proc, _ = start_vault_controller(kube, tmp_path)
    slow = [f"s{i}" for i in range(slow_n)]
    for i, name in enumerate(slow):
        kube.client.create(vault_secret(name, "team-slow", "slow", dataFrom=[{"path": f"{prefix}/s{i}"}]))
    kube.client.wait_for(lambda: any(secret_items(kube, name, "team-slow") for name in slow[:8]), timeout=30,
                         message="team-slow's first Secret")
    kube.client.create(vault_secret("app", "team-fast", "vault", dataFrom=[{"path": f"{prefix}/fast"}]))
    started = time.monotonic()
    kube.client.wait_for(lambda: secret_items(kube, "app", "team-fast"), timeout=60, message="team-fast's Secret")
    waited = time.monotonic() - started
    slow_done = sum(1 for name in slow if secret_items(kube, name, "team-slow") is not None)
    assert secret_items(kube, "app", "team-fast") == {"value": b"fast"}
    assert waited < 10, f"team-fast waited {waited:.0f} s behind team-slow's store ({slow_done} of its done)"
    assert slow_done < slow_n // 2  # team-slow's store still keeps to its own rate
    proc.stop()
    assert not kube.server_errors()


def test_tenants_sharing_a_cluster_store_take_turns_in_its_places(kube: KubeServer, openbao: Bao,
                                                                 tmp_path: Path) -> None:
    """The platform team's ClusterVaultStore, limited to 1 request per second, serves two tenants. team-a has 30
    VaultSecrets due on it; team-b's one, created after them, syncs after a few of team-a's, not after all of them:
    the namespaces waiting for the store's places take turns. (In the order they came due, team-b waited for all
    of team-a's.)"""
    prefix = f"turns-{secrets.token_hex(4)}"
    a_n = 30
    for i in range(a_n):
        kv2_put(openbao, f"{prefix}/a{i}", {"value": f"v{i}"})
    kv2_put(openbao, f"{prefix}/b", {"value": "b"})
    openbao.write_policy(f"{prefix}-read", READ_ALL)
    token_secret(kube, NS, openbao.create_token(f"{prefix}-read"))
    kube.client.create({"apiVersion": CSTORE[0], "kind": CSTORE[1], "metadata": {"name": "shared"}, "spec": {
        "server": openbao.addr, "namespaces": ["team-a", "team-b"], "requestsPerSecond": 1,
        "auth": {"token": {"secretRef": {"name": "vault-token", "namespace": NS, "key": "token"}}}}})
    proc, _ = start_vault_controller(kube, tmp_path)

    def on_shared(name: str, namespace: str, path: str) -> dict[str, Any]:
        body = vault_secret(name, namespace, "shared", dataFrom=[{"path": path}])
        body["spec"]["storeRef"]["kind"] = "ClusterVaultStore"
        return body

    team_a = [f"a{i}" for i in range(a_n)]
    for name in team_a:
        kube.client.create(on_shared(name, "team-a", f"{prefix}/{name}"))
    kube.client.wait_for(lambda: any(secret_items(kube, name, "team-a") for name in team_a[:4]), timeout=30,
                         message="team-a's first Secret")
    kube.client.create(on_shared("app", "team-b", f"{prefix}/b"))
    started = time.monotonic()
    kube.client.wait_for(lambda: secret_items(kube, "app", "team-b"), timeout=120, message="team-b's Secret")
    waited = time.monotonic() - started
    a_done = sum(1 for name in team_a if secret_items(kube, name, "team-a") is not None)
    assert secret_items(kube, "app", "team-b") == {"value": b"b"}
    # the store's 4 places, a turn for team-a first, and the ones in flight ahead of team-b at the store's rate:
    # 6 here (in the order they came due: all 30)
    assert a_done <= 15, f"team-b waited {waited:.0f} s, for {a_done} of team-a's {a_n} on the shared store"
    proc.stop()
    assert not kube.server_errors()
