"""`plaintext-secret`: a `kind: Secret` whose `data` or `stringData` holds a value, and that is not SOPS-encrypted.

One finding per item, on the item's line, so each leaked value has its own fingerprint. Empty values, nulls,
Helm templates (`{{ .Values.x }}`) and deploy-time substitutions (`${VAR}`, Flux postBuild) are not values.
"""

from __future__ import annotations

from sealer.lint import yamlnodes as yn
from sealer.lint.context import FileContext
from sealer.lint.detectors import is_reference

RULE = "plaintext-secret"


def check(ctx: FileContext, obj: yn.Node) -> None:
    if yn.text(yn.get(obj, "apiVersion")) not in (None, "v1"):
        return  # some other API's kind named Secret
    what = None
    for field in ("data", "stringData"):
        for key, key_node, value_node in yn.pairs(yn.get(obj, field)):
            value = yn.literal(value_node)
            if value is None or not value.strip() or is_reference(value):
                continue
            what = what or yn.describe(obj)
            ctx.add(RULE, yn.line(key_node), yn.column(key_node),
                    f"{what}: {field}.{key} is a plaintext value (seal it or encrypt it with SOPS)",
                    f"{field}.{key}\0{value}")
