"""The command table of `sealer` (sealer/cli/app.py): `sealer --help` lists commands from it without importing
their modules, so the table must name every command, each exactly once, and each must load."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from sealer.cli import app


@pytest.mark.parametrize("name", sorted(app.COMMANDS))
def test_each_command_loads_under_its_name(name: str) -> None:
    command = app.cli.get_command(None, name)
    assert isinstance(command, click.Command)
    assert command.name == name
    assert command.get_short_help_str() == app.COMMANDS[name][2]


def test_every_command_of_the_modules_is_in_the_table() -> None:
    """A command written in a module but missing from the table would never be reachable."""
    import importlib

    modules = {entry[0] for entry in app.COMMANDS.values()}
    found = set()
    nested = set()
    for module in modules:
        for value in vars(importlib.import_module(f"sealer.cli.{module}")).values():
            if isinstance(value, click.Command):
                found.add(value.name)
                if isinstance(value, click.Group):
                    nested |= set(value.commands)
    assert found - nested == set(app.COMMANDS)


def test_help_lists_every_command_and_imports_none_of_them() -> None:
    code = ("import sys\nfrom sealer.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "loaded = [m for m in sys.modules if m.startswith('sealer.cli.') and m not in "
            "('sealer.cli.app', 'sealer.cli.options')]\nprint('LOADED', loaded)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "LOADED []" in r.stdout
    listed = r.stdout.split("Commands:", 1)[1]
    for name, (_, _, short) in app.COMMANDS.items():
        assert f"  {name}" in listed and short in listed, name
