"""`sealer demo`: the whole product on this machine. The flow lives in sealer's test kit (`sealer_testkit.demo`,
a distribution of its own, with the Kubernetes API emulator), imported only when the command runs."""

from __future__ import annotations

import click

from sealer.cli.options import CONTEXT
from sealer.errors import InputError

NOT_INSTALLED = ("sealer demo needs sealer's test kit (the Kubernetes API emulator), which is not installed: "
                 "run ./dev demo in a checkout, or pip install ./testkit")


@click.command(context_settings=CONTEXT)
@click.option("--keep", is_flag=True, help="Keep the working directory (logs, files) for a look afterwards.")
def demo(keep: bool) -> None:
    """Run the whole product on this machine: emulated cluster, real controller, seal, SOPS, Vault, lint."""
    try:
        from sealer_testkit import demo as flow
    except ModuleNotFoundError as e:
        if e.name not in ("sealer_testkit", "sealer_testkit.demo"):
            raise  # the test kit is there but broken: not what this message says
        raise InputError(NOT_INSTALLED) from None
    raise SystemExit(flow.run(keep=keep))
