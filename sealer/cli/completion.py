"""`sealer completion SHELL`: print click's completion script for sealer, so a user need not know click's
`_SEALER_COMPLETE=bash_source sealer` convention. The script calls `sealer` back with _SEALER_COMPLETE set on
each TAB; the command table (sealer.cli.app) answers from command names and loads only the matching commands."""

from __future__ import annotations

import click

from sealer.cli.options import CONTEXT

SHELLS = ("bash", "zsh", "fish")


@click.command(context_settings=CONTEXT)
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL.

    \b
      bash   eval "$(sealer completion bash)"      in ~/.bashrc (bash 4.4 or newer)
      zsh    eval "$(sealer completion zsh)"       in ~/.zshrc, after compinit
      fish   sealer completion fish | source       or > ~/.config/fish/completions/sealer.fish
    """
    from click.shell_completion import get_completion_class

    from sealer.cli import _COMPLETE_VAR
    from sealer.cli.app import cli

    complete = get_completion_class(shell)
    assert complete is not None  # every one of SHELLS is built into click
    # bytes, as click writes it for _SEALER_COMPLETE=bash_source: no CRLF from a Windows text stdout
    click.echo(complete(cli, {}, "sealer", _COMPLETE_VAR).source().encode(), nl=False)
