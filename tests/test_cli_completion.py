"""`sealer completion bash|zsh|fish`: the script click generates for sealer, run in the real shell where the shell
is installed (bash always; zsh and fish are skipped with a reason when absent)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_process import run_sealer

BIN = Path(sys.executable).parent  # the venv's bin: the `sealer` the script calls back on each TAB


def shell_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEALER_", "_SEALER_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def script(shell: str) -> str:
    r = run_sealer("completion", shell)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_script_is_clicks_for_that_shell(shell: str) -> None:
    """The same bytes click prints for _SEALER_COMPLETE=<shell>_source, which calls sealer back per shell."""
    out = script(shell)
    direct = subprocess.run([sys.executable, "-m", "sealer"], capture_output=True, text=True, timeout=60,
                            env={**shell_env(), "_SEALER_COMPLETE": f"{shell}_source"})
    assert direct.returncode == 0 and out == direct.stdout
    assert f"_SEALER_COMPLETE={shell}_complete" in out
    marker = {"bash": "complete -o nosort -F _sealer_completion sealer", "zsh": "#compdef sealer",
              "fish": "complete --no-files --command sealer"}[shell]
    assert marker in out


def bash_complete(words: list[str]) -> list[str]:
    """COMPREPLY after sourcing `sealer completion bash` and calling its function for ``words`` (last one
    being completed), in a real bash."""
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = (f'eval "$(sealer completion bash)"\nCOMP_WORDS=({quoted})\nCOMP_CWORD={len(words) - 1}\n'
               '_sealer_completion sealer\nprintf "%s\\n" "${COMPREPLY[@]}"\n')
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", program], capture_output=True, text=True,
                       env=shell_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    return [line for line in r.stdout.splitlines() if line]


def test_bash_completes_commands_and_options() -> None:
    assert bash_complete(["sealer", "enc"]) == ["encrypt"]
    assert {"completion", "decrypt", "lint", "seal"} <= set(bash_complete(["sealer", ""]))
    assert "--format" in bash_complete(["sealer", "lint", "--fo"])
    assert bash_complete(["sealer", "completion", "z"]) == ["zsh"]


def test_zsh_registers_the_completion_function() -> None:
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed here: the script's text is checked by test_script_is_clicks_for_that_shell")
    program = ('autoload -Uz compinit && compinit -u -D\neval "$(sealer completion zsh)"\n'
               'print -r -- "$_comps[sealer]"\n')
    r = subprocess.run(["zsh", "-f", "-c", program], capture_output=True, text=True, env=shell_env(), timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "_sealer_completion", r.stderr  # registered for `sealer`


def test_fish_completes_commands() -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed here: the script's text is checked by test_script_is_clicks_for_that_shell")
    program = "sealer completion fish | source; complete --do-complete 'sealer enc'"
    r = subprocess.run(["fish", "--no-config", "-c", program], capture_output=True, text=True, env=shell_env(),
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert any(line.split("\t")[0] == "encrypt" for line in r.stdout.splitlines())


def test_unknown_shell_is_a_usage_error() -> None:
    r = run_sealer("completion", "tcsh")
    assert r.returncode == 2 and r.stdout == ""
    assert "'tcsh' is not one of 'bash', 'zsh', 'fish'" in r.stderr


def test_completion_loads_no_cluster_or_vault_client() -> None:
    """Printing the script and answering a TAB on an empty word (every command listed) stay off kopf,
    kubernetes and hvac, like `sealer --help`."""
    code = ("import sys\nfrom sealer.cli import main\ntry:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
            "print('HEAVY', sorted({{m.split('.')[0] for m in sys.modules}} & {{'kopf', 'kubernetes', 'hvac'}}), "
            "file=sys.stderr)\n")
    cases = [(["completion", "bash"], {}),
             ([], {"_SEALER_COMPLETE": "bash_complete", "COMP_WORDS": "sealer ", "COMP_CWORD": "1"})]
    for args, extra in cases:
        r = subprocess.run([sys.executable, "-c", code.format(args=args)], capture_output=True, text=True,
                           env={**shell_env(), **extra}, timeout=60)
        assert "HEAVY []" in r.stderr, (args, r.stderr)
        assert r.stdout
