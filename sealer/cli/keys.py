"""`sealer keys`: sealing key pairs (generate, list) and age identities for the controller (age-generate), and
`load_keys`, how every command that takes --key reads private keys."""

from __future__ import annotations

import os

import click

from sealer.cli.options import CONTEXT, OUTPUT_FORMATS
from sealer.cli.output import emit, note
from sealer.errors import InputError
from sealer.kube import CONTROLLER_NAMESPACE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sealer.sealed.keys import PrivateKey

AGE_ITEM = "age.agekey"  # Flux's name; the controller reads every key ending in .agekey
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"


def load_keys(paths: tuple[str, ...]) -> list[PrivateKey]:
    """The private keys in the --key files (PEM, or backups of key Secrets); InputError when none is given."""
    from sealer.sealed import keys as k

    if not paths:
        raise InputError("no private keys: pass --key PATH (PEM or a backup of key Secrets)", field="--key")
    return [key for p in paths for key in k.load_private_keys(p)]


def age_identity_file(identity: str, recipient: str, created: str) -> str:
    """The identity as age-keygen writes it (what SOPS_AGE_KEY_FILE, `age -i` and Flux read). ``created``: the
    timestamp (RFC 3339, UTC)."""
    return f"# created: {created}\n# public key: {recipient}\n{identity}\n"


def age_identity_secret(namespace: str, name: str, identity: str, recipient: str, created: str) -> dict:
    """The Secret the controller reads an age identity from: the key file as age-keygen writes it, under
    AGE_ITEM, labelled as sealer's. ``created``: the key file's timestamp (RFC 3339, UTC)."""
    from sealer.io.manifests import b64

    keyfile = age_identity_file(identity, recipient, created)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "sealer"}},
        "type": "Opaque",
        "data": {AGE_ITEM: b64(keyfile.encode())},
    }


@click.group(context_settings=CONTEXT)
def keys() -> None:
    """Sealing key pairs and age identities (see keys/README.md for storage, renewal, backup and recovery)."""


@keys.command("generate", context_settings=CONTEXT)
@click.option("--out-dir", required=True, type=click.Path(file_okay=False),
              help="Directory for sealer.key and sealer.crt.")
@click.option("--bits", default=4096, show_default=True,
              help="RSA modulus size: a multiple of 256 from 2048 to 8192.")
@click.option("--cn", default="sealer", show_default=True, help="Certificate common name.")
@click.option("--days", default=3650, show_default=True, help="Certificate validity, 1 to 36500 days.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
def keys_generate(out_dir: str, bits: int, cn: str, days: int, force: bool) -> None:
    """Write DIR/sealer.key (PKCS#1 PEM, mode 0600) and DIR/sealer.crt (self-signed).

    Both or neither: on a full disk (or any error) no half pair is left, so a rerun works. A directory this
    creates is 0700.
    """
    from sealer.io.files import write_all
    from sealer.sealed import keys as k

    key_path, crt_path = os.path.join(out_dir, "sealer.key"), os.path.join(out_dir, "sealer.crt")
    k.check_generate_args(bits=bits, cn=cn, days=days)  # before anything else: no slow key for a bad flag
    existing = [p for p in (key_path, crt_path) if os.path.lexists(p)]
    if existing and not force:
        raise InputError("already exists; pass --force to overwrite", source=existing[0])
    key, cert = k.generate(bits=bits, cn=cn, days=days)
    if existing:
        note(f"warning: replacing {', '.join(existing)}: SealedSecrets sealed to the old key need its backup")
    created = not os.path.isdir(out_dir)
    try:
        os.makedirs(out_dir, mode=0o700, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create directory: {e.strerror}", source=out_dir) from None
    try:
        write_all([(key_path, k.private_key_pem(key), 0o600), (crt_path, k.cert_pem(cert), 0o644)])
    except BaseException:
        if created:  # leave no trace of a failed run
            import contextlib

            with contextlib.suppress(OSError):
                os.rmdir(out_dir)
        raise
    click.echo(f"wrote {key_path} (private, 0600) and {crt_path}")
    click.echo(f"fingerprint {k.fingerprint(key.public_key())}")


@keys.command("list", context_settings=CONTEXT)
@click.option("--key", "key_paths", multiple=True, required=True, metavar="PATH",
              help="PEM key file or key-Secret backup. Repeatable.")
@click.option("-o", "--output", "fmt", type=click.Choice(("text", *OUTPUT_FORMATS)), default="text",
              show_default=True)
def keys_list(key_paths: tuple[str, ...], fmt: str) -> None:
    """List the private keys in key files or backups: fingerprint, size, origin. Never prints key material."""
    from sealer.safetext import printable

    rows = [{"fingerprint": key.fingerprint, "keyAlgorithm": f"RSA-{key.key.key_size}", "origin": key.origin}
            for key in load_keys(key_paths)]
    if fmt == "text":
        emit("".join(printable(f"{r['fingerprint']}  {r['keyAlgorithm']}  {r['origin']}") + "\n" for r in rows))
    else:
        from sealer.io import manifests

        emit(manifests.dump_data(rows, fmt))


def _private_stdout() -> None:
    """When stdout is a regular file (`> age.yaml`), it is about to hold a private key: make it 0600 when it is
    readable by others, or say so on stderr when that is not ours to change."""
    import stat

    try:
        st = os.fstat(1)
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode) or not st.st_mode & 0o077:
        return
    try:
        path = os.readlink("/proc/self/fd/1")
    except OSError:
        path = "stdout"
    try:
        os.fchmod(1, st.st_mode & 0o7700)
    except OSError:
        note(f"warning: {path} is readable by others (mode {st.st_mode & 0o777:04o}) and is about to hold a "
             f"private key: chmod 600 it")
        return
    note(f"{path}: made private (mode {st.st_mode & 0o700:04o}): it holds a private key")


def _stdout_in_git_tree() -> tuple[str, str] | None:
    """(file, work tree) when stdout is a regular file inside a Git work tree, as `> key.yaml` in a repo makes it.
    Where /proc is missing the file's directory is unknown, and the working directory is judged instead."""
    import stat

    try:
        if not stat.S_ISREG(os.fstat(1).st_mode):
            return None
    except OSError:
        return None
    try:
        path = os.readlink("/proc/self/fd/1")
    except OSError:
        path = ""
    tree = _git_tree_of(path if path.startswith("/") else os.path.join(os.getcwd(), "stdout"))
    return (path or "stdout", tree) if tree is not None else None


def _git_tree_of(path: str) -> str | None:
    """The Git work tree ``path`` would lie in (its nearest ancestor holding `.git`), or None."""
    directory = os.path.dirname(path)
    while True:
        if os.path.exists(os.path.join(directory, ".git")):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


def _git_ignores(tree: str, path: str) -> bool:
    """Whether Git ignores ``path`` in ``tree`` (`git check-ignore`); False when Git is missing or fails, so an
    answer we cannot get refuses rather than risks a commit."""
    from sealer import gitcmd

    proc = gitcmd.run(["check-ignore", "-q", "--", os.path.relpath(path, tree)], tree, timeout=30)
    return proc is not None and proc.returncode == 0


def _check_identity_file(path: str) -> str:
    """The real path to write the identity file to, after the refusals: an existing file (it may hold the only copy
    of a key: never replaced), and a path inside a Git work tree that Git does not ignore (one `git add .` from
    being committed). A git-ignored path is the user's deliberate choice, e.g. a dotfiles repository."""
    if os.path.lexists(path):
        raise InputError("already exists: an identity file is never overwritten (it may hold the only copy of a "
                         "key); choose a new path", source=path)
    real = os.path.realpath(path)
    tree = _git_tree_of(real)
    if tree is not None and not _git_ignores(tree, real):
        raise InputError(f"inside the Git work tree {tree} and not git-ignored: a private key must not be committed;"
                         " write it outside (sops and sealer read ~/.config/sops/age/keys.txt by default) or "
                         "add it to .gitignore", source=path)
    return real


@keys.command("age-generate", context_settings=CONTEXT)
@click.option("-n", "--namespace", default=CONTROLLER_NAMESPACE, show_default=True,
              help="Namespace of the Secret (the controller's).")
@click.option("--name", default="sealer-age", show_default=True, help="Name of the Secret.")
@click.option("--identity-file", metavar="PATH",
              help="Also write the identity, as age-keygen does, to this new file (mode 0600) for SOPS_AGE_KEY_FILE. "
                   "Never overwrites; refused inside a Git work tree unless the path is git-ignored.")
@click.option("-o", "--output", "fmt", type=click.Choice(OUTPUT_FORMATS), default="yaml", show_default=True,
              help="Format of the Secret on stdout.")
def keys_age_generate(namespace: str, name: str, identity_file: str | None, fmt: str) -> None:
    """Print a new age identity as a Secret for the controller, ready for kubectl.

    `sealer keys age-generate | kubectl apply --server-side -f -` (server-side apply keeps the key out of the
    last-applied-configuration annotation). The Secret holds the identity under the key age.agekey (Flux's
    naming), labelled app.kubernetes.io/part-of=sealer. The recipient (age1...) and a .sops.yaml rule for it
    go to stderr. Stdout redirected into a file inside a Git work tree is refused: a private key must not be
    committed. Stdout redirected into a file elsewhere is made 0600 (or, when that file is not ours to change, a
    warning says so).

    `--identity-file keys.txt` also writes the same identity as age-keygen's file, for people who decrypt on their
    own machine: `SOPS_AGE_KEY_FILE=keys.txt sealer decrypt FILE` (and sops) open what is encrypted to the
    recipient. Without it the identity is only in the Secret on stdout: apply it and keep a backup.
    """
    import datetime
    import re
    import shlex

    from sealer.io import manifests

    if not re.fullmatch(_DNS_LABEL, namespace):
        raise InputError(f"{namespace!r} is not a valid namespace (lowercase letters, digits, '-')",
                         field="--namespace")
    if len(name) > 253 or not re.fullmatch(rf"{_DNS_LABEL}(\.{_DNS_LABEL})*", name):
        raise InputError(f"{name!r} is not a valid Secret name (lowercase letters, digits, '-', '.')",
                         field="--name")
    inside = _stdout_in_git_tree()
    if inside:
        raise InputError(f"stdout is a file inside the Git work tree {inside[1]}: a private key must not be "
                         "committed; pipe it to `kubectl apply --server-side -f -` instead", source=inside[0])
    if identity_file == "-":
        raise InputError("'-' is not a file here: stdout holds the Secret; name a new file", field="--identity-file")
    target = _check_identity_file(identity_file) if identity_file else None
    _private_stdout()
    from sealer.sops.keys import age

    identity, recipient = age.generate()
    created = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    secret = age_identity_secret(namespace, name, identity, recipient, created)
    text = manifests.dump_objects([secret], fmt)  # before the file: a failure here leaves nothing behind
    if target is not None:
        from sealer.io.files import write_new

        write_new(target, age_identity_file(identity, recipient, created).encode())
    emit(text)
    where = (f"in {identity_file} (mode 0600; SOPS_AGE_KEY_FILE={shlex.quote(identity_file)} sealer decrypt FILE) "
             f"and in the Secret on stdout ({namespace}/{name}): apply it" if identity_file
             else f"only in the Secret on stdout ({namespace}/{name}): apply it and keep a backup")
    note(f"age recipient: {recipient}\n"
         "# .sops.yaml: Secrets in this repository encrypted to it (data and stringData; metadata stays readable)\n"
         "creation_rules:\n"
         "  - path_regex: .*\\.ya?ml$\n"
         "    encrypted_regex: ^(data|stringData)$\n"
         f"    age: {recipient}\n"
         f"The identity is {where}.")
