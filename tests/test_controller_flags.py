"""`python -m controller` flags as Bitnami Sealed Secrets' users write them: Go durations, Bitnami's flag names,
--key-cutoff-time, --log-level and --log-format json (still redacted), --rate-limit; Bitnami flags sealer does not
take are refused with a reason, never dropped."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import logging
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml
from sealer_testkit.apiserver import KubeServer, child_env, free_port

from controller import keyring as kr
from controller import logsafety
from controller.__main__ import UNSUPPORTED, parse_args
from controller.http import RateLimit
from sealer.kube import CERTS_CONFIGMAP
from sealer.sealed import sealedsecret
from sealer.sealed.hybrid import Scope
from sealer.sealed.keys import parse_cert
from tests.controller_process import NS, published_cert, secret_items

PLANT = "PLANTED-json-log-value-93d1"


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as e:
        parse_args(list(argv))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("python -m controller: error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(("flag", "text", "seconds"), [
    ("--key-renew-period", "720h30m", 720 * 3600 + 1800), ("--key-renew-period", "30d", 30 * 86400),
    ("--rotate-period", "1h0m0s", 3600), ("--resync-period", "1m30s", 90), ("--resync-period", "1.5h", 5400),
    ("--vault-retry-min", "1s500ms", 1.5), ("--vault-retry-max", "2h45m", 9900),
    ("--vault-store-check-period", "0.5m", 30)])
def test_every_duration_flag_takes_go_durations(flag: str, text: str, seconds: float) -> None:
    config, _ = parse_args([flag, text])
    found = {"--key-renew-period": config.key_renew_period.total_seconds(),
             "--rotate-period": config.key_renew_period.total_seconds(),
             "--resync-period": config.resync_period.total_seconds(), "--vault-retry-min": config.vault_retry_min,
             "--vault-retry-max": config.vault_retry_max, "--vault-store-check-period": config.vault_store_check}
    assert found[flag] == seconds


def test_bitnami_flag_names_map_onto_sealer_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POD_NAMESPACE", "kube-system")
    monkeypatch.delenv("SEALER_NAMESPACES", raising=False)
    config, _ = parse_args([
        "--key-size", "3072", "--key-prefix", "sealed-secrets-key", "--my-cn", "prod", "--key-ttl", "8760h",
        "--key-order-priority", "SecretCreationTimestamp", "--key-cutoff-time", "Mon, 02 Jan 2006 15:04:05 -0700",
        "--privatekey-labels", "team=platform, tier=keys", "--privatekey-annotations", "backup=daily",
        "--all-namespaces=false", "--additional-namespaces", "apps,tools", "--update-status", "--log-level", "WARN",
        "--log-format", "json", "--log-info-stdout=true", "--rate-limit", "2", "--rate-limit-burst", "2"])
    policy = config.key_policy
    assert config.key_bits == 3072 and policy.prefix == "sealed-secrets-key" and policy.cn == "prod"
    assert policy.days == 365 and policy.order == kr.BY_CREATION_TIME
    assert policy.cutoff == dt.datetime(2006, 1, 2, 22, 4, 5, tzinfo=dt.UTC)
    assert dict(policy.labels) == {"team": "platform", "tier": "keys"} and dict(policy.annotations) == {
        "backup": "daily"}
    assert config.namespaces == ("kube-system", "apps", "tools")
    assert (config.log_level, config.log_format, config.log_info_stdout) == (logging.WARNING, "json", True)
    assert (config.verify_rate, config.verify_burst) == (2, 2)
    default, _ = parse_args([])
    assert default.key_policy == kr.KeyPolicy() and default.namespaces == () and default.log_format == "text"
    assert parse_args(["--all-namespaces=false"])[0].namespaces == ("kube-system",)
    assert parse_args(["--verbose"])[0].log_level == logging.DEBUG


@pytest.mark.parametrize(("argv", "says"), [
    (["--key-cutoff-time", "2026-01-02T15:04:05Z"], "RFC 1123 with a numeric zone"),
    (["--key-cutoff-time", "Mon, 02 Jan 2006 15:04:05 MST"], "RFC 1123 with a numeric zone"),
    (["--key-renew-period", "30 days"], "720h30m"),
    (["--key-ttl", "36h"], "whole days"),
    (["--key-prefix", "Bad_Prefix"], "--key-prefix"),
    (["--log-level", "loud"], "debug, info, warn, error"),
    (["--log-format", "xml"], "invalid choice"),
    (["--key-order-priority", "Name"], "invalid choice"),
    (["--update-status=false"], "always writes status"),
    (["--all-namespaces=maybe"], "not true or false"),
    (["--namespaces", "a", "--additional-namespaces", "b"], "give one of them"),
    (["--privatekey-labels", "novalue"], "not key=value"),
    (["--rate-limit", "-1"], "0 or more"),
])
def test_bad_values_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str], argv: list[str], says: str) -> None:
    assert says in refused(capsys, *argv)


@pytest.mark.parametrize("flag", sorted(UNSUPPORTED))
def test_unsupported_bitnami_flags_are_refused_with_a_reason(capsys: pytest.CaptureFixture[str], flag: str) -> None:
    err = refused(capsys, f"{flag}=1")
    assert f"{flag} (Bitnami's controller) is not supported: {UNSUPPORTED[flag]}" in err


def test_json_formatter_and_levels_per_stream() -> None:
    """--log-info-stdout splits by level; the level filters what is written, while INFO is still logged (kopf
    posts INFO records about objects as Events)."""
    out, err = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        logsafety.install()
        logsafety.configure(logging.INFO, "json", info_to_stdout=True, stdout=out, stderr=err)
        log = logging.getLogger("sealer.test")
        log.info("loaded %s", {"data": {"password": PLANT}})
        log.warning("renewal failed", extra={"k8s_ref": {"kind": "SealedSecret", "name": "db", "namespace": "a"}})
        logsafety.configure(logging.ERROR, "text", stdout=out, stderr=err)
        log.warning("not written")
        assert root.isEnabledFor(logging.INFO)
        log.error("written")
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    info = json.loads(out.getvalue())
    assert set(info) == {"time", "level", "logger", "msg"} and info["level"] == "INFO"
    assert info["logger"] == "sealer.test" and PLANT not in out.getvalue() and "<redacted>" in info["msg"]
    assert dt.datetime.fromisoformat(info["time"]).tzinfo is not None
    lines = err.getvalue().splitlines()
    warn = json.loads(lines[0])
    assert warn["level"] == "WARN" and warn["object"] == {"kind": "SealedSecret", "name": "db", "namespace": "a"}
    assert len(lines) == 2 and lines[1].endswith("[ERROR   ] written")


def test_rate_limit_is_a_token_bucket_per_path_and_client() -> None:
    limit = RateLimit(rate=2, burst=1)
    assert [limit.allow("/v1/verify", "a", now=0.0) for _ in range(3)] == [True, True, False]
    assert limit.allow("/v1/rotate", "a", now=0.0) and limit.allow("/v1/verify", "b", now=0.0)
    assert limit.allow("/v1/verify", "a", now=0.5) and not limit.allow("/v1/verify", "a", now=0.5)
    assert all(RateLimit(rate=0, burst=0).allow("/v1/verify", "a", now=0.0) for _ in range(100))


# --- the controller process -------------------------------------------------------------------------------------


def spawn_controller(kube: KubeServer, tmp_path: Path, *args: str) -> tuple[object, int]:
    port = free_port()
    argv = [sys.executable, "-m", "controller", "--standalone", "--key-bits", "2048", "--http-host", "127.0.0.1",
            "--http-port", str(port), "--resync-period", "2s", "--key-renew-period", "0", *args]
    return kube.spawn(argv, log=tmp_path / "controller.log", env={"POD_NAMESPACE": NS}), port


def test_json_logs_are_json_lines_and_stay_redacted(kube: KubeServer, tmp_path: Path) -> None:
    """--log-format json --log-level debug: every line is one JSON object; kopf's debug dumps of a SealedSecret
    holding a value pasted in clear, and of the Secret it produced, never show the values."""
    proc, port = spawn_controller(kube, tmp_path, "--log-format", "json", "--log-level", "debug",
                                  "--rate-limit", "1", "--rate-limit-burst", "0")
    proc.wait_for_log('"msg": "sealer controller ready', timeout=60)
    cert_path, _ = published_cert(kube, tmp_path)
    cert = parse_cert(cert_path.read_bytes(), "cert")
    plain = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "good", "namespace": "app"},
             "stringData": {"password": PLANT + "-sealed"}}
    kube.client.create(sealedsecret.seal_secret(plain, cert, scope=Scope.STRICT))
    kube.client.create({"apiVersion": "sealer.dev/v1alpha1", "kind": "SealedSecret",
                        "metadata": {"name": "pasted", "namespace": "app"},
                        "spec": {"encryptedData": {"password": PLANT}}})
    kube.client.wait_for(lambda: secret_items(kube, "good", "app"), timeout=30)
    proc.wait_for_log("SealedSecret app/pasted: ADDED, generation 1 to reconcile: {", timeout=30)

    # --rate-limit 1, no burst: the second /v1/verify at once is turned away
    body = yaml.safe_dump(sealedsecret.seal_secret(plain, cert, scope=Scope.STRICT)).encode()
    codes = []
    for _ in range(2):
        try:
            codes.append(urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/v1/verify", body),
                                                timeout=10).status)
        except urllib.error.HTTPError as e:
            codes.append(e.code)
    assert codes == [200, 429]
    proc.stop()

    text = proc.log_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "msg"} <= set(line) for line in lines)
    assert {line["level"] for line in lines} >= {"DEBUG", "INFO"}
    assert any(line.get("object", {}).get("name") == "pasted" for line in lines)
    assert any("'encryptedData': {'password': '<redacted>'}" in line["msg"] for line in lines)
    for planted in (PLANT, base64.b64encode(PLANT.encode()).decode(), PLANT + "-sealed",
                    base64.b64encode((PLANT + "-sealed").encode()).decode()):
        assert planted not in text


def test_log_level_error_writes_errors_only_but_events_still_post(kube: KubeServer, tmp_path: Path) -> None:
    proc, _ = spawn_controller(kube, tmp_path, "--log-level", "error")
    cert_path, _ = published_cert(kube, tmp_path)
    cert = parse_cert(cert_path.read_bytes(), "cert")
    plain = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "quiet", "namespace": "app"},
             "stringData": {"password": "x"}}
    kube.client.create(sealedsecret.seal_secret(plain, cert, scope=Scope.STRICT))
    kube.client.wait_for(lambda: secret_items(kube, "quiet", "app"), timeout=60)
    kube.client.wait_for(lambda: kube.client.events("app", name="quiet"), timeout=30, message="an Event")
    assert kube.client.get("v1", "ConfigMap", CERTS_CONFIGMAP, NS)
    proc.stop()
    text = proc.log_text()
    assert "INFO" not in text and "WARNING" not in text and "sealer controller ready" not in text


def test_key_flags_shape_the_generated_key(kube: KubeServer, tmp_path: Path) -> None:
    proc, _ = spawn_controller(kube, tmp_path, "--key-prefix", "sealed-secrets-key", "--my-cn", "prod-cluster",
                               "--key-ttl", "720h", "--privatekey-labels", "team=platform")
    proc.wait_for_log("sealer controller ready", timeout=60)
    cert_path, _ = published_cert(kube, tmp_path)
    cert = parse_cert(cert_path.read_bytes(), "cert").cert
    assert cert.subject.rfc4514_string() == "O=sealer,CN=prod-cluster"
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == dt.timedelta(days=30, minutes=5)
    key = kube.client.get("v1", "Secret", "sealed-secrets-key00001", NS)
    assert key["metadata"]["labels"] == {"team": "platform", kr.LABEL: kr.ACTIVE}


def test_an_unsupported_flag_stops_the_process_at_once(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "controller", "--skip-recreate"], capture_output=True, text=True,
                       env=child_env(None, {"HOME": str(tmp_path)}), timeout=60)
    assert r.returncode == 2 and "--skip-recreate (Bitnami's controller) is not supported" in r.stderr
