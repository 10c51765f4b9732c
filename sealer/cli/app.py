"""The click application behind `sealer`: the group (its help, --version) and the table of its commands.
`sealer.cli.main` runs it. A command's module is imported only when that command runs (or its help is shown);
`sealer --help` and shell completion list the commands from the table alone. Heavy modules (cryptography, YAML
libraries, kubernetes, hvac) are imported inside the commands."""

from __future__ import annotations

import importlib

import click

from sealer import __version__
from sealer.cli.options import CONTEXT

# name -> (module in sealer.cli, attribute, the one line `sealer --help` shows for it)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "cert": ("cert", "cert", "Show a sealing certificate: fingerprint, subject, validity."),
    "completion": ("completion", "completion", "Print the shell completion script for bash, zsh or fish."),
    "decrypt": ("sops", "decrypt", "Decrypt SOPS files (written by sops or sealer), MAC verified."),
    "demo": ("demo", "demo", "Run the whole product here, against an emulated cluster."),
    "edit": ("sops", "edit", "Edit a SOPS file's plaintext in $EDITOR; re-encrypted on save."),
    "encrypt": ("sops", "encrypt", "Encrypt files as SOPS documents that the sops binary reads too."),
    "exec-env": ("exec", "exec_env", "Run a command with a SOPS file's values in its environment."),
    "exec-file": ("exec", "exec_file", "Run a command with a SOPS file's plaintext in a temp FIFO/file."),
    "filestatus": ("sops", "filestatus", 'Print {"encrypted":true} or false for a file, as sops does.'),
    "groups": ("groups", "groups", "Add or delete key groups of a SOPS file (Shamir), as sops does."),
    "keys": ("keys", "keys", "Sealing key pairs and age identities (see keys/README.md)."),
    "kubeseal": ("kubeseal", "kubeseal", "kubeseal's flags on sealer: alias kubeseal='sealer kubeseal'."),
    "lint": ("lint", "lint", "Fail the build on plaintext secrets and leaked credentials."),
    "reencrypt": ("seal", "reencrypt", "Re-seal SealedSecrets to a new cert or the cluster's newest key."),
    "migrate": ("migrate", "migrate", "Rewrite Bitnami SealedSecrets as sealer.dev ones, in place."),
    "rescope": ("sops", "rescope", "Bind SopsSecret files to their namespace and name."),
    "rotate": ("sops", "rotate", "Give SOPS files a new data key and re-encrypt every value."),
    "seal": ("seal", "seal", "Encrypt Secret manifests into SealedSecrets."),
    "set": ("sops", "set_", "Set one value of a SOPS file."),
    "unseal": ("seal", "unseal", "Decrypt SealedSecrets offline with the private key (recovery)."),
    "unset": ("sops", "unset", "Remove one value from a SOPS file."),
    "updatekeys": ("sops", "updatekeys", "Re-wrap SOPS data keys for the recipients .sops.yaml names now."),
    "validate": ("seal", "validate", "Ask the cluster's controller whether SealedSecrets open."),
}


class _Commands(click.Group):
    """A group whose commands are loaded from `COMMANDS` by name, when needed."""

    def list_commands(self, ctx: click.Context | None) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context | None, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module, attribute, short_help = COMMANDS[name]
        command = getattr(importlib.import_module(f"sealer.cli.{module}"), attribute)
        command.short_help = short_help
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][2]) for name in self.list_commands(ctx)])


@click.group(cls=_Commands, context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="sealer")
def cli() -> None:
    """Secrets in Git for GitOps: Git holds ciphertext only; the cluster turns it back into Secrets.

    \b
    Sealing (cluster key, wire-compatible with Bitnami Sealed Secrets):
      sealer keys generate --out-dir DIR     make a sealing key pair (offline clusters, tests)
      sealer seal secret.yaml --cert CERT    Secret -> SealedSecret
      sealer unseal sealed.yaml --key KEY    SealedSecret -> Secret (offline recovery)
      sealer reencrypt FILE... --key OLD --cert NEW -i
      sealer cert --cert CERT                fingerprint, subject, validity

    \b
    With the cluster's controller (kubeconfig + service proxy, or --controller-url):
      sealer validate FILE...                does each SealedSecret open with the cluster's keys?
      sealer reencrypt --controller FILE... -i   re-seal to the cluster's newest key

    \b
    SOPS (interoperable with the sops binary; age and Vault Transit):
      sealer encrypt secret.yaml --age age1... -i    Secret -> SOPS file (data/stringData encrypted)
      sealer decrypt secret.yaml                     SOPS file -> plaintext (MAC verified)
      sealer edit / set / unset / updatekeys / rotate
      sealer keys age-generate | kubectl apply --server-side -f -    age identity for the controller

    Exit codes: 0 success, 1 operation failed (no key opens a value, MAC mismatch), 2 bad input or usage.
    """
