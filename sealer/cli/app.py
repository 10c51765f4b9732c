"""The click application behind `sealer`: the group (its help, --version) and the commands of each module.
`sealer.cli.main` runs it. Heavy modules (cryptography, YAML libraries, kubernetes, hvac) are imported inside
the commands, so that `sealer --help` and shell completion stay fast."""

from __future__ import annotations

import click

from sealer import __version__
from sealer.cli import cert, demo, keys, lint, seal, sops
from sealer.cli.options import CONTEXT


@click.group(context_settings=CONTEXT)
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


for command in (keys.keys, seal.seal, seal.unseal, seal.reencrypt, seal.validate, cert.cert, sops.encrypt,
                sops.decrypt, sops.edit, sops.set_, sops.unset, sops.updatekeys, sops.rescope, sops.rotate, demo.demo,
                lint.lint):
    cli.add_command(command)
