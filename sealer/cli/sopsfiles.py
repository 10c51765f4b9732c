"""The bodies of `sealer encrypt` and `sealer decrypt`, without click: the click commands (sealer.cli.sops) and
the fast path (sealer.cli.main) both run these, so both run the same code. Their keyword arguments are the
parameters of the option tables in sealer.cli.options."""

from __future__ import annotations

from sealer.cli.output import note, plural, progress, write_results
from sealer.errors import InputError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sealer.sops.keys.service import Opener


def opener(age_key_file: str | None) -> Opener:
    """The identities a command decrypts with: the SOPS_AGE_* sources, plus --age-key-file."""
    from sealer.sops.keys.service import Opener

    return Opener(age_key_file=age_key_file)


def check_targets(files: tuple[str, ...], in_place: bool, out: str | None) -> tuple[str, ...]:
    files = files or ("-",)
    if in_place and "-" in files:
        raise InputError("-i cannot rewrite stdin", field="-i")
    if in_place and out:
        raise InputError("-i and -o do not combine", field="-i")
    return files


def encrypt(files: tuple[str, ...], age: str | None, vault: str | None, encrypted_regex: str | None,
            unencrypted_regex: str | None, encrypted_suffix: str | None, unencrypted_suffix: str | None,
            mac_only_encrypted: bool, kind: str, scope: str | None, in_place: bool, out: str | None,
            input_type: str | None, filename_override: str | None) -> None:
    from sealer.io.files import locked, read_input
    from sealer.scope import Scope
    from sealer.sops import operations
    from sealer.sops.keys import service as keyservice

    files = check_targets(files, in_place, out)
    rule_flags = {"encrypted_regex": encrypted_regex, "unencrypted_regex": unencrypted_regex,
                  "encrypted_suffix": encrypted_suffix, "unencrypted_suffix": unencrypted_suffix}
    results = []
    with locked(files if in_place else ()):  # -i: from the reads to the writes, so concurrent writers serialise
        with progress(files, "encrypting") as bar:
            for file in bar:
                data, source = read_input(file)
                tree = operations.load(data, source, input_type)
                secret = operations.is_secret_file(tree)
                if kind == "sopssecret" and not secret:
                    raise InputError("--kind sopssecret needs Kubernetes Secret documents", source=source,
                                     field="kind")
                plan = keyservice.plan(filename_override or (file if file != "-" else "stdin"), age=age, vault=vault,
                                       rule_flags=rule_flags, mac_only_encrypted=mac_only_encrypted, is_secret=secret)
                results.append((file, operations.encrypt(tree, plan, source, sopssecret=kind == "sopssecret",
                                                         scope=Scope(scope) if scope else None)))
        write_results(results, in_place, out)


def decrypt(files: tuple[str, ...], in_place: bool, out: str | None, extract: str | None, ignore_mac: bool,
            decode: bool, age_key_file: str | None, input_type: str | None) -> None:
    from sealer.io.files import locked, read_input
    from sealer.sops import operations

    files = check_targets(files, in_place, out)
    if extract and len(files) > 1:
        raise InputError("--extract takes one file", field="--extract")
    keys = opener(age_key_file)
    results = []
    with locked(files if in_place else ()):  # -i: from the reads to the writes
        with progress(files, "decrypting") as bar:
            for file in bar:
                data, source = read_input(file)
                result = operations.decrypt(operations.load(data, source, input_type), source, keys,
                                            ignore_mac=ignore_mac, extract=extract, decode=decode)
                if result.undecryptable_comments:
                    note(f"{source}: warning: {plural(result.undecryptable_comments, 'encrypted comment')} "
                         "could not be decrypted and were left as they are")
                results.append((file, result.text))
        write_results(results, in_place, out)
