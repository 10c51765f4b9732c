"""Options more than one command takes, and the one definition of `encrypt`'s and `decrypt`'s options.

Those two tables (`ENCRYPT`, `DECRYPT`) serve twice: each `Option` is a click decorator for the commands
(`sealer.cli.sops`), and the fast parser (`sealer.cli.parse_simple`) reads the same tables, so the fast path
cannot drift from click. Importing this module imports no click (the fast path must not pay its ~40 ms);
click is imported when a decorator is applied, by which time the click application has imported it anyway.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from sealer.sealed.controllerapi import Controller

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 110}
SCOPES = ("strict", "namespace-wide", "cluster-wide")
OUTPUT_FORMATS = ("yaml", "json")
INPUT_TYPES = ("yaml", "json", "dotenv", "ini", "binary")


class Option:
    """One option: its flags, the parameter it fills, and either a flag, a free value (``metavar``) or a choice.
    Applied to a function, it is that option's click decorator."""

    __slots__ = ("choices", "default", "flags", "help", "is_flag", "metavar", "name")

    def __init__(self, flags: tuple[str, ...], name: str, help: str, *, metavar: str | None = None,
                 choices: tuple[str, ...] | None = None, default: str | None = None, is_flag: bool = False) -> None:
        self.flags, self.name, self.help = flags, name, help
        self.metavar, self.choices, self.default, self.is_flag = metavar, choices, default, is_flag

    def __call__(self, f: Callable) -> Callable:
        import click

        extra: dict[str, object] = {}
        if self.is_flag:
            extra["is_flag"] = True
        if self.choices is not None:
            extra["type"] = click.Choice(self.choices)
        if self.default is not None:
            extra.update(default=self.default, show_default=True)
        if self.metavar is not None:
            extra["metavar"] = self.metavar
        return click.option(*self.flags, self.name, help=self.help, **extra)(f)


def apply(table: tuple[Option, ...]) -> Callable[[Callable], Callable]:
    """A decorator adding every option of ``table``, in the table's order (click's help shows them so)."""

    def decorate(f: Callable) -> Callable:
        for option in reversed(table):
            f = option(f)
        return f

    return decorate


def defaults(table: tuple[Option, ...]) -> dict[str, object]:
    """What click passes for options not given: False for a flag, else the default (None unless set)."""
    return {o.name: False if o.is_flag else o.default for o in table}


# --- -o: the output format everywhere ---------------------------------------------------------------------------
# kubectl's rule: `-o` names the output format. The file is `-w/--output-file` (and sops' `--output`, gitleaks'
# `-r/--report-path`). encrypt, decrypt and lint once took `-o FILE`: a value that is no format name is still
# read as that file, with one warning line, so scripts keep working while they move to the new flag.

FORMAT_NAMES = frozenset(("text", "yaml", "yml", "json", "sarif", "dotenv", "ini", "binary"))


def format_or_file(o: str | None, fmt: str | None, out: str | None, formats: tuple[str, ...], *,
                   fmt_flag: str, file_flag: str, o_flag: str = "-o") -> tuple[str | None, str | None]:
    """(format, output file) once `-o`'s value is placed: a name in ``formats`` is the format (it must agree with
    ``fmt_flag``), anything else the old `-o FILE` (it must not clash with ``file_flag``)."""
    from sealer.errors import InputError

    if o is None:
        return fmt, out
    if o in formats:
        if fmt is not None and fmt != o:
            raise InputError(f"{o} and {fmt_flag} {fmt} name different formats", field="-o")
        return o, out
    if o in FORMAT_NAMES:  # a format, just not this command's: never a file named `yaml` by accident
        raise InputError(f"{o} is not a format of this command (one of {', '.join(formats)})", field="-o")
    if out is not None and out != o:
        raise InputError(f"is not a format ({', '.join(formats)}) and {file_flag} names the output file already",
                         field="-o")
    import sys

    sys.stderr.write(f"sealer: warning: {o_flag} FILE is deprecated: -o is the output format "
                     f"({', '.join(formats)}); write to a file with {file_flag} FILE\n")
    return fmt, o


# --- SOPS ------------------------------------------------------------------------------------------------------

AGE_KEY_FILE = Option(("--age-key-file",), "age_key_file", "age identities, in addition to the SOPS_AGE_* sources.",
                      metavar="PATH")
OUTPUT = Option(("--output", "-w", "--output-file"), "out", "Write the result to FILE (atomically) instead of "
                "stdout (sops' --output).", metavar="FILE")
FORMAT = Option(("-o",), "o", "Output format, as --output-type (kubectl's -o): yaml, json, dotenv, ini, binary. "
                "The old `-o FILE` still writes FILE, with a warning.", metavar="FORMAT")
INPUT_TYPE = Option(("--input-type",), "input_type", "Format of the input (default: from the file name).",
                    choices=INPUT_TYPES)
OUTPUT_TYPE = Option(("--output-type",), "output_type", "Format of the output (default: from the file name, as "
                     "with sops; the input's format for stdin).", choices=INPUT_TYPES)
FILENAME_OVERRIDE = Option(("--filename-override",), "filename_override", "Use this path instead of FILE to pick "
                           "the .sops.yaml rule and the formats (for stdin).", metavar="PATH")

ENCRYPT = (
    Option(("--age",), "age", "age recipients (age1..., ssh-ed25519, ssh-rsa).", metavar="RECIPIENT,..."),
    Option(("--hc-vault-transit",), "vault", "Vault Transit keys, e.g. https://vault:8200/v1/transit/keys/name.",
           metavar="URI,..."),
    Option(("--encrypted-regex",), "encrypted_regex", "Encrypt only values under keys matching this regex.",
           metavar="RE"),
    Option(("--unencrypted-regex",), "unencrypted_regex", "Leave values under keys matching this regex in plaintext.",
           metavar="RE"),
    Option(("--encrypted-suffix",), "encrypted_suffix", "Encrypt only values under keys ending with this suffix.",
           metavar="S"),
    Option(("--unencrypted-suffix",), "unencrypted_suffix", "Leave values under keys ending with this suffix in "
           "plaintext (default _unencrypted).", metavar="S"),
    Option(("--mac-only-encrypted",), "mac_only_encrypted", "The MAC covers encrypted values only.", is_flag=True),
    Option(("--kind",), "kind", "For Secrets: keep kind Secret (Flux), or wrap as a sealer.dev SopsSecret.",
           choices=("secret", "sopssecret"), default="secret"),
    Option(("--scope",), "scope", "--kind sopssecret: where the controller may decrypt it (default: strict, or the "
           "Secret's sealedsecrets.bitnami.com annotations).", choices=SCOPES),
    Option(("-i", "--in-place"), "in_place", "Replace each FILE with its encrypted form.", is_flag=True),
    OUTPUT,
    FORMAT,
    INPUT_TYPE,
    OUTPUT_TYPE,
    FILENAME_OVERRIDE,
    Option(("--shamir-secret-sharing-threshold",), "shamir_threshold", "With several key groups: how many groups "
           "are needed to open the file (overrides .sops.yaml).", metavar="N"),
)

DECRYPT = (
    Option(("-i", "--in-place"), "in_place", "Replace each FILE with its plaintext (think twice).", is_flag=True),
    OUTPUT,
    Option(("--extract",), "extract", 'Print one value or subtree, e.g. \'["data"]["password"]\'.', metavar="PATH"),
    Option(("--ignore-mac",), "ignore_mac", "Do not verify the MAC (recovering a damaged file).", is_flag=True),
    Option(("--decode",), "decode", "Secrets: show data values base64-decoded (as stringData).", is_flag=True),
    AGE_KEY_FILE,
    FORMAT,
    INPUT_TYPE,
    OUTPUT_TYPE,
    FILENAME_OVERRIDE,
)

ENCRYPT_DEFAULTS = defaults(ENCRYPT)
DECRYPT_DEFAULTS = defaults(DECRYPT)


# --- the cluster and the controller ----------------------------------------------------------------------------

def cluster_options(f: Callable, purpose: str = "fetching the cert when --cert is not given") -> Callable:
    """Where the cluster is (the user's kubeconfig): for the published cert, or the controller's service proxy."""
    import click

    from sealer.kube import CONTROLLER_NAMESPACE

    f = click.option("--controller-namespace", default=CONTROLLER_NAMESPACE, show_default=True,
                     help="Namespace of the sealer controller.")(f)
    f = kubectl_options(f)
    f = click.option("--context", "kube_context", metavar="NAME", help="kubeconfig context.")(f)
    return click.option("--kubeconfig", metavar="PATH", envvar="KUBECONFIG",
                        help=f"kubeconfig for {purpose}.")(f)


# kubectl's flags that override the kubeconfig, as kubeseal takes them: (flags, parameter, help, is_flag, multiple)
KUBECTL_FLAGS = (
    (("-s", "--server"), "kube_server", "API server address (overrides the kubeconfig).", False, False),
    (("--token",), "kube_token", "Bearer token for the API server.", False, False),
    (("--user",), "kube_user", "kubeconfig user entry to use.", False, False),
    (("--cluster",), "kube_cluster", "kubeconfig cluster entry to use.", False, False),
    (("--as",), "kube_as", "User to impersonate.", False, False),
    (("--as-group",), "kube_as_group", "Group to impersonate (with --as).", False, True),
    (("--certificate-authority",), "kube_ca", "CA file for the API server's certificate.", False, False),
    (("--client-certificate",), "kube_client_cert", "Client certificate file for TLS.", False, False),
    (("--client-key",), "kube_client_key", "Client key file for TLS.", False, False),
    (("--insecure-skip-tls-verify",), "kube_insecure", "Do not check the API server's certificate.", True, False),
)


def kubectl_options(f: Callable) -> Callable:
    """kubectl's connection flags (`--server`, `--token`, `--as`, ...): read by `kube_overrides`."""
    import click

    for flags, name, text, is_flag, multiple in reversed(KUBECTL_FLAGS):
        f = click.option(*flags, name, help=text, is_flag=is_flag, multiple=multiple,
                         metavar=None if is_flag else "VALUE")(f)
    return f


def kube_overrides(options: dict):  # -> sealer.kube.ClientOverrides
    """kubectl's flags from a command's parameters, for the kubeconfig loading in sealer.kube."""
    from sealer.kube import ClientOverrides

    return ClientOverrides(server=options.get("kube_server"), token=options.get("kube_token"),
                           user=options.get("kube_user"), cluster=options.get("kube_cluster"),
                           as_user=options.get("kube_as"), as_groups=tuple(options.get("kube_as_group") or ()),
                           certificate_authority=options.get("kube_ca"),
                           client_certificate=options.get("kube_client_cert"),
                           client_key=options.get("kube_client_key"), insecure=bool(options.get("kube_insecure")))


def cluster_of(options: dict) -> dict:
    """The cluster options of a command's parameters, as `load_cert` takes them."""
    names = ("kubeconfig", "kube_context", "controller_namespace", "controller_name", "controller_url", "timeout")
    return {**{k: options.get(k) for k in names}, "overrides": kube_overrides(options)}


def controller_options(f: Callable) -> Callable:
    """How to reach the controller's HTTP API: --controller-url, else the API server's service proxy."""
    import click

    from sealer.kube import CONTROLLER_NAME

    f = click.option("--timeout", default=30.0, show_default=True, metavar="SECONDS",
                     type=click.FloatRange(min=0, min_open=True), help="Per request.")(f)
    f = click.option("--controller-url", envvar="SEALER_CONTROLLER_URL", metavar="URL",
                     help="Talk to the controller directly (e.g. a port-forward) instead of through the API "
                          "server's service proxy; env SEALER_CONTROLLER_URL.")(f)
    f = click.option("--controller-name", default=CONTROLLER_NAME, show_default=True,
                     help="The controller's Service (port named http).")(f)
    return cluster_options(f, "the API server's service proxy to the controller")


def controller_client(options: dict) -> Controller:
    """The controller client that `controller_options` describe."""
    from sealer.sealed import controllerapi

    return controllerapi.Controller(options["controller_url"], namespace=options["controller_namespace"],
                                    name=options["controller_name"], kubeconfig=options["kubeconfig"],
                                    context=options["kube_context"], timeout=options.get("timeout") or 30.0,
                                    overrides=options.get("overrides") or kube_overrides(options))
