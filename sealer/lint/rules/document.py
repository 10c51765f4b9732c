"""One parsed YAML/JSON document through the structural rules (`kind: List` items each on their own)."""

from __future__ import annotations

from sealer.kube import API_VERSION, BITNAMI_API_VERSION
from sealer.lint import yamlnodes as yn
from sealer.lint.context import FileContext
from sealer.lint.rules import credentials, plaintext_secret, sealed_rules, sops_rules

_SEALED_APIS = (API_VERSION, BITNAMI_API_VERSION)


def check(ctx: FileContext, root: yn.Node, depth: int = 0) -> None:
    if isinstance(root, yn.SequenceNode) and depth == 0:  # a JSON array of objects
        for item in root.value:
            check(ctx, item, depth + 1)
        return
    if not isinstance(root, yn.MappingNode):
        return
    kind = yn.text(yn.get(root, "kind"))
    skip: set[int] = set()
    if sops_rules.is_sops(root):
        skip.add(id(yn.get(root, "sops")))
        sops_rules.check(ctx, root)
    elif kind == "Secret":
        plaintext_secret.check(ctx, root)
        skip.update(id(n) for n in (yn.get(root, "data"), yn.get(root, "stringData")) if n is not None)
    if kind == "SealedSecret" and yn.text(yn.get(root, "apiVersion")) in _SEALED_APIS:
        skip |= sealed_rules.check(ctx, root)
    items = yn.get(root, "items")
    if kind and kind.endswith("List") and isinstance(items, yn.SequenceNode) and depth < 5:
        skip.add(id(items))
        for item in items.value:
            check(ctx, item, depth + 1)
    credentials.check_document(ctx, root, kind, skip)
