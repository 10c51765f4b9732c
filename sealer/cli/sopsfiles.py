"""The bodies of `sealer encrypt` and `sealer decrypt`, without click: the click commands (sealer.cli.sops) and
the fast path (sealer.cli.main) both run these, so both run the same code. Their keyword arguments are the
parameters of the option tables in sealer.cli.options."""

from __future__ import annotations

from sealer.cli.output import note, plural, write_results
from sealer.cli.progress import track
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
        raise InputError("-i and --output do not combine", field="-i")
    return files


def output_flags(o: str | None, output_type: str | None, out: str | None) -> tuple[str | None, str | None]:
    """(output format, output file) from -o (the format, as --output-type; the old -o FILE still works) and
    --output/-w."""
    from sealer.cli.options import INPUT_TYPES, format_or_file

    return format_or_file(o, output_type, out, INPUT_TYPES, fmt_flag="--output-type", file_flag="--output")


def formats(file: str, data: bytes, input_type: str | None, output_type: str | None,
            filename_override: str | None) -> tuple[str | None, str | None]:
    """(input format, output format) as sops picks them: each from its flag, else from the file name
    (--filename-override for stdin). With --input-type alone, the output still follows the file name, as in sops;
    stdin without a name keeps the input's format. None: the store's own detection, or no conversion."""
    from sealer.sops import stores

    name = filename_override or (file if file != "-" else None)
    input_format = input_type or (stores.detect_format(name, data) if name else None)
    if output_type is None and input_type and name:
        output_type = stores.detect_format(name, data)
    return input_format, output_type


def parse_threshold(text: str | None) -> int | None:
    """--shamir-secret-sharing-threshold: 0 (sops' default) means the .sops.yaml rule's threshold."""
    if text is None:
        return None
    if not text.isdigit():
        raise InputError("must be a whole number of key groups", field="--shamir-secret-sharing-threshold")
    return int(text) or None


def encrypt(files: tuple[str, ...], age: str | None, vault: str | None, encrypted_regex: str | None,
            unencrypted_regex: str | None, encrypted_suffix: str | None, unencrypted_suffix: str | None,
            mac_only_encrypted: bool, kind: str, scope: str | None, in_place: bool, out: str | None,
            input_type: str | None, filename_override: str | None, output_type: str | None = None,
            shamir_threshold: str | None = None, o: str | None = None) -> None:
    from sealer.io.files import locked, read_input
    from sealer.scope import Scope
    from sealer.sops import operations
    from sealer.sops.keys import service as keyservice

    output_type, out = output_flags(o, output_type, out)
    files = check_targets(files, in_place, out)
    threshold = parse_threshold(shamir_threshold)
    rule_flags = {"encrypted_regex": encrypted_regex, "unencrypted_regex": unencrypted_regex,
                  "encrypted_suffix": encrypted_suffix, "unencrypted_suffix": unencrypted_suffix}
    results = []
    with locked(files if in_place else ()):  # -i: from the reads to the writes, so concurrent writers serialise
        with track(files, "encrypting") as bar:
            for file in bar:
                data, source = read_input(file)
                input_format, output_format = formats(file, data, input_type, output_type, filename_override)
                tree = operations.load(data, source, input_format)
                if output_format and output_format != tree.format:
                    from sealer.sops import convert

                    if output_format == "binary":  # sops' binary store writes any other tree as the JSON store
                        tree = convert.convert(tree, "json")
                        tree.format = "binary"
                    else:
                        tree = convert.convert(tree, output_format)
                secret = operations.is_secret_file(tree)
                if kind == "sopssecret" and not secret:
                    raise InputError("--kind sopssecret needs Kubernetes Secret documents", source=source,
                                     field="kind")
                plan = keyservice.plan(filename_override or (file if file != "-" else "stdin"), age=age, vault=vault,
                                       rule_flags=rule_flags, mac_only_encrypted=mac_only_encrypted, is_secret=secret)
                if threshold is not None and len(plan.groups) > 1:
                    if not 2 <= threshold <= len(plan.groups):  # sops: Shamir needs 2 parts, at most one a group
                        raise InputError(f"must be between 2 and the number of key groups ({len(plan.groups)})",
                                         source=source, field="--shamir-secret-sharing-threshold")
                    plan.threshold = threshold
                results.append((file, operations.encrypt(tree, plan, source, sopssecret=kind == "sopssecret",
                                                         scope=Scope(scope) if scope else None)))
        write_results(results, in_place, out)


def decrypt(files: tuple[str, ...], in_place: bool, out: str | None, extract: str | None, ignore_mac: bool,
            decode: bool, age_key_file: str | None, input_type: str | None, output_type: str | None = None,
            filename_override: str | None = None, o: str | None = None) -> None:
    from sealer.io.files import locked, read_input
    from sealer.sops import operations

    output_type, out = output_flags(o, output_type, out)
    files = check_targets(files, in_place, out)
    if extract and len(files) > 1:
        raise InputError("--extract takes one file", field="--extract")
    keys = opener(age_key_file)
    results = []
    with locked(files if in_place else ()):  # -i: from the reads to the writes
        with track(files, "decrypting") as bar:
            for file in bar:
                data, source = read_input(file)
                input_format, output_format = formats(file, data, input_type, output_type, filename_override)
                tree = operations.load(data, source, input_format)
                if output_format and output_format != tree.format:
                    result = _decrypt_as(tree, source, keys, output_format, ignore_mac, extract, decode)
                else:
                    result = operations.decrypt(tree, source, keys, ignore_mac=ignore_mac, extract=extract,
                                                decode=decode)
                if result.undecryptable_comments:
                    note(f"{source}: warning: {plural(result.undecryptable_comments, 'encrypted comment')} "
                         "could not be decrypted and were left as they are")
                results.append((file, result.text))
        write_results(results, in_place, out)


def _decrypt_as(tree, source: str, keys: Opener, output_format: str, ignore_mac: bool, extract: str | None,
                decode: bool):  # -> operations.DecryptResult
    """decrypt --output-type: the decrypted tree written by another store, as sops converts."""
    from sealer.errors import SealerError
    from sealer.sops import convert, document, operations

    decrypted = document.decrypt_tree(tree, source, opener=keys, ignore_mac=ignore_mac)
    if decode:
        from sealer.sops import kubernetes

        for root in tree.roots:
            kubernetes.decode_data(root)
    try:
        if extract:  # the value, re-typed for the output store, printed as that store prints one value
            from sealer.sops import paths

            parts = paths.parse(extract)
            if output_format in ("dotenv", "ini"):  # these stores print no single value but a string
                found = paths.find(tree.roots[0], parts)
                if found.id != "scalar" or document.resolve(tree, found)[0] != "str":
                    raise InputError(f"only a string value can be extracted as {output_format}",
                                     field="--extract")
            converted = convert.convert(tree, output_format, convert.typed_values(decrypted))
            text = operations._extracted(paths.find(converted.roots[0], parts), output_format)
        else:
            text = convert.dumps_as(tree, output_format, convert.typed_values(decrypted))
    except SealerError as e:
        raise e.within(source=source) from None
    return operations.DecryptResult(text, decrypted.undecryptable_comments)
