"""What the controller writes to its log, Events and status, as its own process against the API emulator.

With `--verbose`, kopf logs whole objects and patches at DEBUG. A value pasted in clear into a SealedSecret's
encryptedData, a Secret's data, a SopsSecret's stringData, or the kubectl last-applied-configuration copy of any
of them must still never reach the log (controller.logsafety), and names from objects must not forge log lines,
terminal sequences or CI workflow commands. Configuration errors are one line and exit code 2, at once.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sealer_testkit.apiserver import KubeServer, child_env, free_port

from sealer.sops.keys import age as age_mod
from tests.controller_process import NS, published_cert, seal, start_controller

PLANTS = {"encryptedData": "PLANTED-encrypted-data-4b1f", "template": "PLANTED-template-data-77c2",
          "stringData": "PLANTED-string-data-0e9a", "data": "PLANTED-secret-data-c3d8",
          "applied": "PLANTED-last-applied-5a61", "sealed": "PLANTED-sealed-value-e1f0"}
# An object name no real API server accepts, but a hostile or broken one could send, and a SopsSecret's
# InvalidSpec message quotes: ESC sequences, CR LF + a GitHub Actions command, the legacy `##[` command.
HOSTILE = "evil\x1b[31mRED\x1b]0;t\x07\r\n::error file=x.py::pwned ##[error]x \u202eok\u2028"
SHORT_HOSTILE = "\x1b[2J\r\n::error::pwn"  # master key names are cut after 24 characters
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def assert_safe(text: str, where: str) -> None:
    assert not UNSAFE.search(text), f"raw control character in {where}: {UNSAFE.search(text)!r}"
    for line in text.split("\n"):
        assert not line.lstrip().startswith("::"), f"workflow command in {where}: {line!r}"
    assert not re.search(r"##(vso)?\[", text, re.IGNORECASE), f"legacy workflow command in {where}"


def planted_forms() -> list[str]:
    """Each planted value as it could appear: raw, or base64 in a Secret's data."""
    return [f for v in PLANTS.values() for f in (v, base64.b64encode(v.encode()).decode())]


def test_verbose_log_redacts_secret_fields_and_escapes_names(kube: KubeServer, tmp_path: Path) -> None:
    """Before: `--verbose` logged kopf's "Creation is in progress: {...'encryptedData': {'password': '<plaintext>'}...}"
    and the other fields, and the warning for a hostile name split into forged lines with raw ESC."""
    identity, _ = age_mod.generate()  # the controller needs an age identity to try the SopsSecret's keys
    kube.client.ensure_namespace(NS)
    kube.client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "age", "namespace": NS},
                        "data": {"controller.agekey": base64.b64encode(f"{identity}\n".encode()).decode()}})
    proc, _ = start_controller(kube, tmp_path, "--verbose")
    cert, _ = published_cert(kube, tmp_path)
    kube.client.create(seal(tmp_path, cert, "good", "app", PLANTS["sealed"]))  # decrypted: must not be logged
    applied = json.dumps({"apiVersion": "sealer.dev/v1alpha1", "kind": "SealedSecret",
                          "spec": {"encryptedData": {"password": PLANTS["applied"]}}})
    kube.client.create({  # a value pasted in clear into encryptedData, as the issue reports it
        "apiVersion": "sealer.dev/v1alpha1", "kind": "SealedSecret",
        "metadata": {"name": "pasted", "namespace": "app",
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied}},
        "spec": {"encryptedData": {"password": PLANTS["encryptedData"]},
                 "template": {"data": {"config": PLANTS["template"]}}}})
    kube.client.create({  # a SopsSecret with unencrypted values and a broken sops block: InvalidSpec names it
        "apiVersion": "sealer.dev/v1alpha1", "kind": "SopsSecret", "metadata": {"name": HOSTILE, "namespace": "app"},
        "spec": {"stringData": {"password": PLANTS["stringData"]},
                 "data": {"token": base64.b64encode(PLANTS["data"].encode()).decode()}},
        "sops": {"mac": "x"}})
    enc = "ENC[AES256_GCM,data:AAAA,iv:" + "A" * 43 + "=,tag:" + "A" * 22 + "==,type:str]"
    kube.client.create({  # a recipient from the sops block reaches the DecryptFailed message (status, Event)
        "apiVersion": "sealer.dev/v1alpha1", "kind": "SopsSecret",
        "metadata": {"name": "recipient", "namespace": "app"},
        "spec": {"binding": enc}, "sops": {"mac": enc, "lastmodified": "2024-01-01T00:00:00Z", "version": "3.11.0",
                                           "encrypted_regex": "^(data|stringData|binding)$",
                                           "age": [{"recipient": SHORT_HOSTILE, "enc": "x"}]}})
    kube.client.create({"apiVersion": "v1", "kind": "Secret", "metadata": {
        "name": "by-hand", "namespace": "app", "labels": {"app.kubernetes.io/managed-by": "sealer"}},
        "data": {"token": base64.b64encode(PLANTS["data"].encode()).decode()}})

    def sops_status() -> dict | None:
        obj = kube.client.find("sealer.dev/v1alpha1", "SopsSecret", "recipient", "app") or {}
        return next(iter((obj.get("status") or {}).get("conditions") or []), None)

    condition = kube.client.wait_for(sops_status, timeout=30, message="Ready condition of SopsSecret recipient")
    kube.client.wait_for(lambda: kube.client.find("v1", "Secret", "good", "app"), timeout=30, message="Secret")
    proc.wait_for_log("SopsSecret resync: ", timeout=30)  # a resync: the warning logged twice
    proc.stop()
    log = proc.log_text()

    for planted in planted_forms():
        assert planted not in log, f"planted value in the controller log: {planted}"
    for key_material in ("AGE-SECRET-KEY", "PRIVATE KEY", "LS0tLS1CRUdJTi"):  # the age identity, sealing keys
        assert key_material not in log
    assert_safe(log, "the controller log")
    # verbose logging stays useful: handlers, object dumps with item names, the warning naming the object
    assert "SealedSecret app/pasted: ADDED, generation 1 to reconcile: {" in log
    assert "'encryptedData': {'password': '<redacted>'}" in log
    assert "SopsSecret app/evil\\x1b[31mRED" in log
    # the status and Events quote the recipient: escaped there as well (an API server refuses hostile names, and
    # the emulator cannot route them, so the name case is seen in the log only)
    assert condition["status"] == "False" and "\\x1b[2J\\r\\n" in condition["message"], condition
    assert_safe(condition["message"], "the Ready condition")
    events = kube.client.events("app")
    assert any("\\x1b[2J\\r\\n" in e.get("message", "") for e in events), events
    for event in events:
        assert_safe(event.get("message", ""), "an Event")
        assert not any(p in event.get("message", "") for p in planted_forms())


def run_controller(tmp_path: Path, *args: str, kubeconfig: Path | None, env: dict[str, str] | None = None
                   ) -> subprocess.CompletedProcess[str]:
    extra = {"HOME": str(tmp_path / "home"), "POD_NAMESPACE": NS, **(env or {})}
    full = child_env(kubeconfig, extra)
    return subprocess.run([sys.executable, "-m", "controller", "--standalone", "--http-host", "127.0.0.1",
                           "--http-port", str(free_port()), *args], capture_output=True, text=True, env=full,
                          timeout=60)


@pytest.mark.parametrize("case", ["garbage", "missing", "none", "not-a-mapping", "no-context", "bad-client-cert"])
def test_a_bad_kubeconfig_is_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    """Before: a traceback, and kopf retried the startup forever (the run hit the timeout)."""
    kubeconfig = tmp_path / "kubeconfig"
    if case == "bad-client-cert":  # the files exist (the loader accepts them) but hold no certificate and key
        for name in ("client.crt", "client.key"):
            (tmp_path / name).write_text(f"{PLANTS['data']}\n")
        kubeconfig.write_text(json.dumps({
            "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:6443"}}],
            "users": [{"name": "u", "user": {"client-certificate": str(tmp_path / "client.crt"),
                                              "client-key": str(tmp_path / "client.key")}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}], "current-context": "x"}))
    if case == "garbage":
        kubeconfig.write_text(f"users: [{{name: u, user: {{token: {PLANTS['data']}}}}}]\ncontexts: [\n")
    elif case == "not-a-mapping":
        kubeconfig.write_text(f"{PLANTS['data']}\n")
    elif case == "no-context":
        kubeconfig.write_text(f"users: [{{name: u, user: {{token: {PLANTS['data']}}}}}]\n")
    r = run_controller(tmp_path, kubeconfig=None if case == "none" else kubeconfig)
    out = r.stdout + r.stderr
    assert r.returncode == 2, out
    assert out.startswith("python -m controller: error: ") and out.count("\n") == 1, out
    assert "Traceback" not in out and PLANTS["data"] not in out
    assert (str(kubeconfig) if case != "none" else "~/.kube/config") in out
    assert_safe(out, "the error")


@pytest.mark.parametrize("args", [["--no-such-flag"], ["--key-bits", "many"], ["--resync-period", "soon"],
                                  ["--namespaces", "Not A Namespace"], ["--key-bits", "65536"]])
def test_a_bad_flag_is_one_line_and_exit_2(tmp_path: Path, args: list[str]) -> None:
    """Before: argparse printed the whole usage (14 lines) before its own errors (the first two cases); the
    controller's own checks (the last two) were one line already and must stay so."""
    r = run_controller(tmp_path, *args, kubeconfig=None)
    out = r.stdout + r.stderr
    assert r.returncode == 2 and out.count("\n") == 1 and out.startswith("python -m controller: error: "), out
    assert args[0] in out or "invalid" in out


@pytest.mark.parametrize("message", [
    "Update diff: (('change', ('spec', 'encryptedData', 'pw'), 'OLD-{p}', 'NEW-{p}'),)",
    "Update diff: (('add', ('spec',), None, {{'encryptedData': {{'pw': '{p}'}}}}),)",
    "JSON-patching the resource with: [{{'op': 'add', 'path': '/data/x', 'value': '{p}'}}]",
    "Will try on the next cycle soon. Remaining: Patch({{'spec': {{'stringData': {{'a': '{p}'}}}}}}, fns=[<fn>])",
    "Ignoring an unsupported event type: {{'type': 'X', 'object': {{'kind': 'Secret', 'data': {{'k': '{p}'}}}}}}",
    "Merge-patching the resource with: {{'metadata': {{'annotations': "
    "{{'kubectl.kubernetes.io/last-applied-configuration': '{{\"stringData\":{{\"a\":\"{p}\"}}}}'}}}}}}",
    "not a dump at all, 'data': {p}",
])
def test_kopf_message_shapes_are_redacted(message: str) -> None:
    """The other shapes kopf logs objects in (diffs, JSON patches, a Patch repr that does not parse, raw watch
    events, annotation copies), as the record factory sees them."""
    from controller.logsafety import safe_message

    text = safe_message(message.format(p=PLANTS["data"]))
    assert PLANTS["data"] not in text and "<redacted>" in text, text
