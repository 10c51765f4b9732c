"""`sops-plaintext-value` and `sops-recipients`: SOPS documents checked against their own rule and .sops.yaml.

A document is SOPS when it has a top-level `sops:` mapping. Its metadata must parse (`sealer.sops.metadata`)
with an encrypted MAC; every value its encryption rule covers (`sealer.sops.tree.Rule.encrypts`) must be an
`ENC[...]` value, except empty strings and nulls, which sops leaves as they are. Comments are not checked.

Recipients are compared with the first creation rule of the nearest `.sops.yaml` above the file that matches it
(sops looks from the working directory; lint checks a whole tree, so it looks from each file's directory). Only
age and Vault Transit keys are compared: those are the kinds sealer reads from a `.sops.yaml`.
"""

from __future__ import annotations

import os

from sealer.errors import InputError
from sealer.lint import yamlnodes as yn
from sealer.lint.context import FileContext

PLAINTEXT = "sops-plaintext-value"
RECIPIENTS = "sops-recipients"
SCOPE = "sopssecret-scope"
_COMPARED = ("age", "hc_vault")
_config_cache: dict[str, tuple[str | None, list | None, str | None]] = {}


def reset_cache() -> None:
    """Forget the .sops.yaml files read so far (a new run may see edited ones)."""
    _config_cache.clear()


def is_sops(obj: yn.Node) -> bool:
    return isinstance(yn.get(obj, "sops"), yn.MappingNode)


def check(ctx: FileContext, obj: yn.Node) -> None:
    from sealer.sops import metadata
    from sealer.sops.tree import Rule

    sops_node = yn.get(obj, "sops")
    sops_key = next(k for k, v in obj.value if v is sops_node)
    data = yn.to_data(sops_node)
    where = yn.describe(obj) if yn.get(obj, "kind") is not None else "SOPS document"
    md = None
    try:
        md = metadata.parse(data, ctx.path)
    except InputError as e:
        field = e.field or "sops"
        ctx.add(PLAINTEXT, yn.line(sops_key), yn.column(sops_key), f"{where}: broken SOPS metadata: {field}: "
                f"{e.message}", f"metadata\0{field}\0{e.message}")
    mac = data.get("mac")
    if isinstance(mac, str) and mac and not (mac.startswith("ENC[AES256_GCM,") and mac.endswith("]")):
        node = yn.get(sops_node, "mac")
        ctx.add(PLAINTEXT, yn.line(node), yn.column(node), f"{where}: sops.mac is not encrypted (edited by hand?)",
                f"mac\0{mac}")
    try:
        rule = md.rule if md is not None else Rule(**{f: data.get(f) for f in Rule.FIELDS})
    except InputError:
        rule = Rule.default()
    for path, node in _leaves(obj, (), 0):
        value = node.value
        if node.tag == "tag:yaml.org,2002:null" or value == "" or not rule.encrypts(path):
            continue
        if value.startswith("ENC[") and value.endswith("]"):
            continue
        line, col = yn.value_position(node)
        ctx.add(PLAINTEXT, line, col, f"{where}: {'.'.join(path)} is plaintext but the file's SOPS rule encrypts it",
                f"{'.'.join(path)}\0{value}")
    if md is not None and ctx.location is not None and ctx.options.enabled(RECIPIENTS):
        _check_recipients(ctx, md, sops_key, where)
    _check_binding(ctx, obj, sops_key, where)


def _check_binding(ctx: FileContext, obj: yn.Node, sops_key: yn.Node, where: str) -> None:
    """A SopsSecret must carry spec.binding, encrypted (sealer.sops.binding): the controller refuses it otherwise.
    Whether the binding names the file's own namespace/name needs the data key; the controller checks that."""
    from sealer.sops import binding, kubernetes

    if (yn.text(yn.get(obj, "apiVersion")), yn.text(yn.get(obj, "kind"))) != (kubernetes.API_VERSION,
                                                                               kubernetes.SOPSSECRET_KIND):
        return
    node = yn.get(yn.get(obj, "spec"), binding.KEY)
    if node is None:
        ctx.add(SCOPE, yn.line(sops_key), yn.column(sops_key), f"{where}: no spec.binding, so any namespace could "
                "use this ciphertext; the controller refuses it (Unscoped): run sealer rescope -i", "unscoped")
    elif not (isinstance(node, yn.ScalarNode) and node.value.startswith("ENC[")):
        line, col = yn.value_position(node)
        ctx.add(SCOPE, line, col, f"{where}: spec.binding is plaintext, so it binds nothing (edited by hand?); "
                "the controller refuses it (ScopeMismatch)", f"plaintext\0{getattr(node, 'value', '')}")


def _leaves(node: yn.Node, path: tuple[str, ...], depth: int):
    """(AAD path, scalar node) of every value outside the `sops` block; list indices are not part of paths."""
    if depth > 200:
        return
    if isinstance(node, yn.MappingNode):
        for key, _, value in yn.pairs(node):
            if depth == 0 and key == "sops":
                continue
            yield from _leaves(value, (*path, key), depth + 1)
    elif isinstance(node, yn.SequenceNode):
        for item in node.value:
            yield from _leaves(item, path, depth + 1)
    elif isinstance(node, yn.ScalarNode):
        yield path, node


def _rules_for(directory: str) -> tuple[str | None, list | None, str | None]:
    """(config path, creation rules, error) of the nearest .sops.yaml at or above ``directory``; cached."""
    from sealer.sops import config

    cached = _config_cache.get(directory)
    if cached is not None:
        return cached
    path = os.path.join(directory, config.CONFIG_NAME)
    if os.path.isfile(path):
        try:
            result: tuple[str | None, list | None, str | None] = (path, config.load_config(path), None)
        except InputError as e:
            result = (path, None, str(e))
    else:
        parent = os.path.dirname(directory)
        result = (None, None, None) if parent == directory else _rules_for(parent)
    _config_cache[directory] = result
    return result


def _check_recipients(ctx: FileContext, md, sops_key: yn.Node, where: str) -> None:
    from sealer.sops import config

    assert ctx.location is not None
    config_path, rules, error = _rules_for(os.path.dirname(os.path.abspath(ctx.location)))
    if config_path is None:
        return
    line, col = yn.line(sops_key), yn.column(sops_key)
    shown = os.path.relpath(config_path)
    if error is not None:
        ctx.add(RECIPIENTS, line, col, f"{where}: cannot check recipients: {error}", f"config\0{error}")
        return
    rule = config.match_rule(rules or [], config_path, ctx.location)
    if rule is None:
        return
    wanted = sorted(sorted(f"{t}:{r}" for t in _COMPARED for r in group.get(t, []))
                    for group in rule.effective_key_groups())
    have = sorted(sorted(f"{k.type}:{k.name}" for k in group if k.type in _COMPARED) for group in md.key_groups)
    if not any(wanted) or wanted == have:
        return
    want_all = {r for g in wanted for r in g}
    have_all = {r for g in have for r in g}
    parts = []
    if want_all - have_all:
        parts.append("missing " + ", ".join(sorted(r.split(":", 1)[1] for r in want_all - have_all)))
    if have_all - want_all:
        parts.append("not in the rule " + ", ".join(sorted(r.split(":", 1)[1] for r in have_all - want_all)))
    if not parts:
        parts.append(f"key groups differ ({len(have)} in the file, {len(wanted)} in the rule)")
    ctx.add(RECIPIENTS, line, col, f"{where}: recipients differ from {shown} creation_rules[{rule.index}]: "
            + "; ".join(parts), f"{wanted}\0{have}")
