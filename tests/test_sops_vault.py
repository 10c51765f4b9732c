"""SOPS files wrapped for Vault Transit, end to end through the CLI, against a real OpenBao and the real sops."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import yaml

from tests.cli_process import run_sealer
from tests.openbao import Bao

SOPS = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "sops"
SECRET = "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: prod}\nstringData: {password: VAULTPLANT42}\n"


def _env(bao: Bao, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in bao.env().items() if not k.startswith("SOPS_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), SOPS_DISABLE_VERSION_CHECK="1", **extra)
    return env


def _sops(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SOPS), *args], capture_output=True, text=True, env=env, timeout=60)


def _uri(bao: Bao, key: str) -> str:
    bao.enable_transit()
    bao.create_transit_key(key)
    return f"{bao.addr}/v1/transit/keys/{key}"


def test_sealer_and_sops_share_vault_transit_files(openbao: Bao, tmp_path: Path):
    env = _env(openbao, tmp_path)
    uri = _uri(openbao, "sealer-test")
    src = tmp_path / "secret.yaml"
    src.write_text(SECRET)
    # sealer writes, sops reads
    r = run_sealer("encrypt", src, "--hc-vault-transit", uri, "-o", tmp_path / "ours.yaml", env=env)
    assert r.returncode == 0, r.stderr
    entry = yaml.safe_load((tmp_path / "ours.yaml").read_text())["sops"]["hc_vault"][0]
    assert entry["enc"].startswith("vault:v1:") and entry["key_name"] == "sealer-test"
    s = _sops(["decrypt", str(tmp_path / "ours.yaml")], env)
    assert s.returncode == 0, s.stderr
    assert yaml.safe_load(s.stdout)["stringData"]["password"] == "VAULTPLANT42"
    # sops writes, sealer reads
    s = _sops(["encrypt", "--hc-vault-transit", uri, "--encrypted-regex", "^(data|stringData)$", str(src)], env)
    assert s.returncode == 0, s.stderr
    (tmp_path / "theirs.yaml").write_text(s.stdout)
    r = run_sealer("decrypt", tmp_path / "theirs.yaml", "--extract", '["stringData"]["password"]', env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "VAULTPLANT42"


def test_token_is_not_sent_to_an_address_other_than_vault_addr(openbao: Bao, tmp_path: Path):
    uri = _uri(openbao, "guarded")
    src = tmp_path / "secret.yaml"
    src.write_text(SECRET)
    env = _env(openbao, tmp_path)
    assert run_sealer("encrypt", src, "--hc-vault-transit", uri, "-i", env=env).returncode == 0
    # the file names openbao's address; the user's VAULT_ADDR is elsewhere: refuse before any request
    planted = "s.PLANTEDtokenNOTsent0123456"
    elsewhere = _env(openbao, tmp_path, VAULT_ADDR="https://vault.example.invalid:8200", VAULT_TOKEN=planted)
    r = run_sealer("decrypt", src, env=elsewhere)
    assert r.returncode == 1 and "not sending the token" in r.stderr
    assert planted not in r.stderr and "VAULTPLANT42" not in r.stderr and not r.stdout
    allowed = dict(elsewhere, SEALER_VAULT_ADDRS=openbao.addr, VAULT_TOKEN=openbao.token)
    r = run_sealer("decrypt", src, env=allowed)
    assert r.returncode == 0 and "VAULTPLANT42" in r.stdout


def test_vault_denial_is_exit_1_without_secrets(openbao: Bao, tmp_path: Path):
    uri = _uri(openbao, "denied")
    src = tmp_path / "secret.yaml"
    src.write_text(SECRET)
    assert run_sealer("encrypt", src, "--hc-vault-transit", uri, "-i", env=_env(openbao, tmp_path)).returncode == 0
    weak = openbao.create_token("default")
    r = run_sealer("decrypt", src, env=_env(openbao, tmp_path, VAULT_TOKEN=weak))
    assert r.returncode == 1 and "permission denied" in r.stderr.lower()
    assert weak not in r.stderr and "VAULTPLANT42" not in r.stderr and not r.stdout
    assert os.environ.get("VAULT_TOKEN") != weak
