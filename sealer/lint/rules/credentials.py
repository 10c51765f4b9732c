"""`credential`: known token formats, passwords in URLs and sensitive `name = value` settings.

Applied to the raw text of every file (`scan_text`) and, for parsed YAML/JSON (`check_document`), to what the
text alone cannot show: values under sensitive keys with their exact extent (quotes, `&`, spaces), container
`env` entries (`name: DB_PASSWORD` / `value: ...` on two lines), `NAME=value` list items, and the base64-decoded
values of Secret `data` and ConfigMap `binaryData`.
"""

from __future__ import annotations

import base64
import binascii
import re

from sealer.lint import detectors
from sealer.lint import yamlnodes as yn
from sealer.lint.context import FileContext

RULE = "credential"
GENERIC = ("generic-assignment", "sensitive-key", "container-env", "kubeconfig-credential")

DESCRIPTIONS = {
    "private-key": "private key block",
    "base64-private-key": "base64-encoded private key",
    "kubeconfig-client-key": "kubeconfig client key (client-key-data)",
    "kubeconfig-credential": "kubeconfig user credential",
    "age-secret-key": "age secret key",
    "aws-access-key-id": "AWS access key id",
    "aws-secret-access-key": "AWS secret access key",
    "gcp-api-key": "Google Cloud API key",
    "azure-storage-key": "Azure storage account key",
    "github-token": "GitHub token",
    "gitlab-token": "GitLab token",
    "slack-token": "Slack token",
    "slack-webhook": "Slack webhook URL",
    "vault-token": "Vault/OpenBao token",
    "jwt": "JSON Web Token",
    "teams-webhook": "Microsoft Teams webhook URL",
    "discord-webhook": "Discord webhook URL",
    "nuget-config-password": "password in a nuget.config packageSourceCredentials entry",
    "curl-basic-auth": "user:password given to curl -u",
    "authorization-header": "credential in an Authorization header",
    "stripe-key": "Stripe secret or restricted key",
    "openai-key": "OpenAI API key",
    "anthropic-key": "Anthropic API key",
    "huggingface-token": "Hugging Face token",
    "url-password": "password in a URL",
    "generic-assignment": "credential assigned to a sensitive name",
    "sensitive-key": "literal value under a sensitive key",
    "container-env": "literal value in the container env variable",
}
_ASSIGNMENT_ITEM = re.compile(r"^-{0,2}([A-Za-z_][\w.-]*)=(\S.*)$")


def describe(detector: str) -> str:
    """`stripe-key` -> `stripe key` for the families without a hand-written description."""
    return DESCRIPTIONS.get(detector) or detector.replace("-", " ")


def scan_text(ctx: FileContext, low: str, *, code: bool) -> None:
    """Detectors and custom rules over the raw text; hits on lines holding ciphertext are dropped."""
    if ctx.options.enabled(RULE):
        for hit in detectors.scan(ctx.text, low, code=code, threshold=ctx.options.raw_entropy):
            line, col = ctx.position(hit.start)
            if line in ctx.cipher_lines or (hit.detector == GENERIC[0] and line in ctx.reference_lines):
                continue
            ctx.add(RULE, line, col, describe(hit.detector), hit.secret, hit.detector)
    for rule in ctx.options.custom:
        if not ctx.options.enabled(rule.id):
            continue
        for hit in rule.scan(ctx.text, low):
            line, col = ctx.position(hit.start)
            if line not in ctx.cipher_lines:
                ctx.add(rule.id, line, col, rule.description or f"matches custom rule {rule.id}", hit.secret, rule.id)


def check_document(ctx: FileContext, obj: yn.Node, kind: str | None, skip: set[int]) -> None:
    """Structural checks of one object; nodes in ``skip`` (ciphertext, Secret items, the sops block) are left out."""
    if not ctx.options.enabled(RULE):
        return
    label = "kubeconfig-credential" if kind == "Config" else "sensitive-key"
    if kind in REFERENCE_KINDS:
        skip = skip | _reference_items(ctx, obj)
    _walk(ctx, obj, skip, label, 0)
    if kind == "Secret" and yn.text(yn.get(obj, "apiVersion")) in (None, "v1"):
        _decoded(ctx, yn.get(obj, "data"))
    elif kind == "ConfigMap":
        _decoded(ctx, yn.get(obj, "binaryData"))


# Kinds whose `spec.data[]` items name a key in a store (ESO, sealer's own): `secretKey`, `key`, `property`
# there are key names, never credentials.
REFERENCE_KINDS = frozenset({"ExternalSecret", "ClusterExternalSecret", "PushSecret", "VaultSecret"})
_ITEM_KEY_NAMES = frozenset({"secretKey", "key", "property", "version", "conversionStrategy"})


def _reference_items(ctx: FileContext, obj: yn.Node) -> set[int]:
    """The scalar nodes of `spec.data[]` items of a reference kind, marked so the text scan skips their lines."""
    spec = yn.get(obj, "spec")
    out: set[int] = set()
    for holder in (spec, yn.get(spec, "externalSecretSpec")):  # ClusterExternalSecret wraps the spec
        data = yn.get(holder, "data")
        if not isinstance(data, yn.SequenceNode):
            continue
        for item in data.value:
            for entry in (item, yn.get(item, "match")):  # PushSecret: data[].match.secretKey
                for key, _, value in yn.pairs(entry):
                    if key in _ITEM_KEY_NAMES and isinstance(value, yn.ScalarNode):
                        out.add(id(value))
                        ctx.reference_lines.add(yn.value_position(value)[0])
    return out


def _is_reference_field(key: str) -> bool:
    """`remoteRef`, `storeRef`, `secretStoreRef`, `sourceRef`, `secretKeyRef`, `passwordSecretRef`: a mapping
    that names where a credential lives (store, key, property), not the credential."""
    return key.endswith(("Ref", "_ref", "Refs"))


def _mark_reference(ctx: FileContext, node: yn.Node, depth: int = 0) -> None:
    if depth > 20:
        return
    if isinstance(node, yn.ScalarNode):
        ctx.reference_lines.add(yn.value_position(node)[0])
    elif isinstance(node, yn.MappingNode):
        for _, _, value in yn.pairs(node):
            _mark_reference(ctx, value, depth + 1)
    elif isinstance(node, yn.SequenceNode):
        for item in node.value:
            _mark_reference(ctx, item, depth + 1)


def _walk(ctx: FileContext, node: yn.Node, skip: set[int], label: str, depth: int) -> None:
    if depth > 100 or id(node) in skip:
        return
    if isinstance(node, yn.MappingNode):
        for key, _, value in yn.pairs(node):
            if id(value) in skip:
                continue
            if _is_reference_field(key) and not isinstance(value, yn.ScalarNode):
                _mark_reference(ctx, value)
                continue
            if isinstance(value, yn.ScalarNode):
                if detectors.sensitive_name(key):
                    _check_value(ctx, key, value, label)
                else:
                    _check_item(ctx, value)
            elif key == "env" and isinstance(value, yn.SequenceNode):
                for entry in value.value:
                    name = yn.text(yn.get(entry, "name"))
                    env_value = yn.get(entry, "value")
                    if name and isinstance(env_value, yn.ScalarNode) and detectors.sensitive_name(name):
                        _check_value(ctx, name, env_value, "container-env")
                    else:
                        _walk(ctx, entry, skip, label, depth + 1)
            else:
                _walk(ctx, value, skip, label, depth + 1)
    elif isinstance(node, yn.SequenceNode):
        for item in node.value:
            if isinstance(item, yn.ScalarNode):
                _check_item(ctx, item)
            else:
                _walk(ctx, item, skip, label, depth + 1)


def _check_value(ctx: FileContext, name: str, node: yn.ScalarNode, detector: str, offset: int = 0) -> None:
    value = yn.literal(node)
    if value is None or "\n" in value.strip():
        return  # multi-line values are on their own lines in the text: the text scan sees them in place
    threshold = detectors.name_threshold(name, ctx.options.structured_entropy)
    if detectors.plausible_secret(value, threshold, structured=True):
        line, col = yn.value_position(node)
        ctx.add(RULE, line, col + offset, f"{describe(detector)} {name!r}", value.strip(), detector)


def _check_item(ctx: FileContext, node: yn.ScalarNode) -> None:
    """`DB_PASSWORD=...` / `--password=...` as a list item or value (compose environment, container args)."""
    value = node.value
    if "=" not in value or node.tag != "tag:yaml.org,2002:str":
        return
    m = _ASSIGNMENT_ITEM.match(value)
    if m is None or not detectors.sensitive_name(m.group(1)) or "\n" in value:
        return
    inner = yn.ScalarNode(node.tag, m.group(2), node.start_mark, node.end_mark, node.style)
    _check_value(ctx, m.group(1), inner, "sensitive-key", offset=m.start(2))


def _decoded(ctx: FileContext, data: yn.Node | None) -> None:
    """Detectors over base64-decoded values: a token or key hidden in Secret data / ConfigMap binaryData."""
    for _, _, value_node in yn.pairs(data):
        value = yn.text(value_node)
        if not value or len(value) < 8:
            continue
        try:
            raw = base64.b64decode("".join(value.split()), validate=True)
        except (binascii.Error, ValueError):
            continue
        plain = raw.decode("utf-8", "replace")
        hits = detectors.scan_value(plain, threshold=ctx.options.raw_entropy)
        if hits:
            line, col = yn.value_position(value_node)
            for hit in hits:
                ctx.add(RULE, line, col, f"{describe(hit.detector)} (base64-encoded)", hit.secret, hit.detector)
