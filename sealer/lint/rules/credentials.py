"""`credential`: known token formats, passwords in URLs and sensitive `name = value` settings.

Applied to the raw text of every file (`scan_text`) and, for parsed YAML/JSON (`check_document`), to what the
text alone cannot show: values under sensitive keys with their exact extent (quotes, `&`, spaces), container
`env` entries (`name: DB_PASSWORD` / `value: ...` on two lines), `NAME=value` list items, and what is encoded in
Secret `data` / `stringData` and ConfigMap `data` / `binaryData` (base64, JSON, YAML, Docker configs: see
`sealer/lint/encoded.py`).
"""

from __future__ import annotations

import re

from sealer.lint import detectors, encoded
from sealer.lint import yamlnodes as yn
from sealer.lint.context import FileContext

RULE = "credential"
GENERIC = detectors.GENERIC

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
        _decoded(ctx, yn.get(obj, "stringData"), is_base64=False)
    elif kind == "ConfigMap":
        _decoded(ctx, yn.get(obj, "binaryData"))
        _decoded(ctx, yn.get(obj, "data"), is_base64=False, walked=True)


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


# --- values encoded inside Kubernetes data (sealer/lint/encoded.py) -------------------------------------------

DESCRIPTIONS.update(encoded.DESCRIPTIONS)


def _decoded(ctx: FileContext, data: yn.Node | None, *, is_base64: bool = True, walked: bool = False) -> None:
    """Credentials hidden by an encoding in Secret / ConfigMap items, reported on the item's value.

    ``is_base64``: the items are base64 by definition (Secret `data`, ConfigMap `binaryData`); otherwise they are
    strings (`stringData`, ConfigMap `data`) that may hold JSON, YAML or a base64 blob. ``walked``: `_walk` has
    seen the items, so a single-line value under a sensitive key is already reported there. The decoded or
    parsed text is looked into by `encoded.Explorer`; the message says how the value was encoded, never what it is."""
    for key, _, node in yn.pairs(data):
        value = yn.text(node)
        if not value or not value.strip():
            continue
        explorer = encoded.Explorer(ctx.options.structured_entropy, ctx.options.raw_entropy)
        if is_base64:
            explorer.base64_item(value)
        else:
            if walked and detectors.sensitive_name(key) and "\n" not in value.strip() and detectors.plausible_secret(
                    value, detectors.name_threshold(key, ctx.options.structured_entropy), structured=True):
                continue
            explorer.explore(value, 0, (), scan=False)
        if explorer.found:
            _report(ctx, node, explorer.found, in_file=not is_base64)



def _report(ctx: FileContext, node: yn.Node, found: dict[str, tuple[str, tuple]], *, in_file: bool) -> None:
    line, col = yn.value_position(node)
    raw_lines: dict[str, set[int]] | None = None
    for secret, (detector, trail) in found.items():
        if in_file and not any(step == "base64" for step in trail):
            # the text stands in the file as it is: where the text scan finds the same secret on another line
            # (a block scalar), that precise finding is the one to keep
            if raw_lines is None:
                raw_lines = _text_hits(ctx, node)
            if raw_lines.get(secret, {line}) - {line}:
                continue
        ctx.add(RULE, line, col, f"{describe(detector)} ({encoded.render(trail)})", secret, detector)



def _text_hits(ctx: FileContext, node: yn.Node) -> dict[str, set[int]]:
    """Secret -> lines, as the text scan finds them in the lines a scalar spans."""
    first, last = node.start_mark.line + 1, node.end_mark.line + 1
    src = "\n".join(ctx.line_text(n) for n in range(first, last + 1))
    out: dict[str, set[int]] = {}
    for hit in detectors.scan(src, src.lower(), threshold=ctx.options.raw_entropy):
        out.setdefault(hit.secret, set()).add(first + src.count("\n", 0, hit.start))
    return out
