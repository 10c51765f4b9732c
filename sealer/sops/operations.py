"""Whole-file SOPS operations: bytes in, text out. The CLI only reads, calls these and writes.

Every operation finishes all its work (including the MAC check) before returning text, so a caller that
writes only on success never leaves a half-done file.
"""

from __future__ import annotations

from sealer.errors import InputError, SealerError
from sealer.sops import document, stores
from sealer.sops.keys import groups as keygroups
from sealer.sops.keys.service import recipients_of, wrap_key
from sealer.sops.metadata import Metadata
from sealer.sops.stores import values
from sealer.sops.tree import Rule

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sealer.scope import Scope
    from sealer.sops.keys.groups import KeySpec, Opener
    from sealer.sops.keys.service import Plan
    from sealer.sops.nodes import Node


def load(data: bytes, source: str, fmt: str | None = None) -> stores.Tree:
    if stores.detect_format(source, data, fmt) == "binary":  # its bytes are the value: no BOM stripped
        from sealer.sops.stores import binary

        return binary.load_bytes(data, source)
    return stores.load(data, source, fmt)


def is_secret_file(tree: stores.Tree) -> bool:
    from sealer.sops import kubernetes  # encrypt, --decode and rescope only: not on the plain decrypt path

    return bool(tree.roots) and all(kubernetes.is_secret(r) for r in tree.roots)


def encrypt(tree: stores.Tree, plan: Plan, source: str, sopssecret: bool = False, scope: Scope | None = None) -> str:
    """``sopssecret``: wrap each Secret as a SopsSecret bound to ``scope`` (default: strict, or the Secret's
    sealedsecrets.bitnami.com annotations), under a rule that encrypts the binding."""
    if tree.metadata is not None:
        raise InputError("already encrypted (it has a `sops` metadata block); use rotate, updatekeys or edit",
                         source=source)
    if not tree.roots:  # sops: "File cannot be completely empty" (exit 92); nothing is written
        raise InputError("no document to encrypt: the file is empty or holds only comments", source=source)
    rule = plan.rule
    if scope is not None and not sopssecret:
        raise InputError("--scope applies to --kind sopssecret (a Secret for Flux has no binding)", field="--scope")
    if sopssecret:
        from sealer.sops import binding, kubernetes  # only here and in rescope: not on the decrypt path

        try:
            tree.roots = [kubernetes.to_sopssecret(r, scope) for r in tree.roots]
            rule = binding.covering_rule(Rule(**{f: getattr(rule, f) for f in Rule.FIELDS}, mac_only_encrypted=True))
        except SealerError as e:
            raise e.within(source=source) from None
    return _encrypt_with_new_key(tree, source, plan.groups, plan.threshold, Metadata([], rule))


def _encrypt_with_new_key(tree: stores.Tree, source: str, groups: list[list[KeySpec]], threshold: int | None,
                          metadata: Metadata, previous: document.Previous | None = None) -> str:
    data_key = document.new_data_key()
    metadata.key_groups = keygroups.wrap(data_key, groups, threshold, wrap_key)
    metadata.shamir_threshold = threshold if len(groups) > 1 else None
    try:
        document.encrypt_tree(tree, data_key, metadata, previous)
    except SealerError as e:
        raise e.within(source=source) from None
    return stores.dumps(tree)


class DecryptResult:
    __slots__ = ("text", "undecryptable_comments")

    def __init__(self, text: str, undecryptable_comments: int = 0) -> None:
        self.text = text
        self.undecryptable_comments = undecryptable_comments

    def __eq__(self, other: object) -> bool:
        if type(other) is not DecryptResult:
            return NotImplemented
        return (self.text, self.undecryptable_comments) == (other.text, other.undecryptable_comments)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"DecryptResult(text={self.text!r}, undecryptable_comments={self.undecryptable_comments!r})"


def decrypt(tree: stores.Tree, source: str, opener: Opener, *, ignore_mac: bool = False,
            extract: str | None = None, decode: bool = False) -> DecryptResult:
    result = document.decrypt_tree(tree, source, opener=opener, ignore_mac=ignore_mac)
    if decode:
        from sealer.sops import kubernetes

        for root in tree.roots:
            kubernetes.decode_data(root)
    if extract:
        from sealer.sops import paths  # --extract, set and unset only: not on the plain decrypt path

        try:
            node = paths.find(tree.roots[0], paths.parse(extract))
        except SealerError as e:
            raise e.within(source=source) from None
        return DecryptResult(_extracted(node, tree.format), result.undecryptable_comments)
    return DecryptResult(stores.dumps(tree), result.undecryptable_comments)


def _extracted(node: Node, fmt: str) -> str:
    """A string prints bare and a mapping as a whole file, as sops prints them; any other value as sops' store
    prints one value (YAML: with a newline; JSON: without)."""
    json_like = fmt in ("json", "binary")
    if node.id == "scalar":
        kind, value = document.resolve(stores.Tree([node], None, fmt), node)
        if kind in ("str", "bytes"):
            return str(value)  # strings print bare, with no newline, as sops prints them
        if json_like:
            from sealer.sops.stores import json

            return json.value_text(node)
        if kind == "null":
            return "null\n"
        return values.format_value(kind, value, "yaml").value + "\n"
    if fmt == "binary":
        raise InputError("a binary-store file has one value, `data`: extract [\"data\"] or decrypt it whole",
                         field="--extract")
    if fmt == "json":
        from sealer.sops.stores import json

        return json.value_text(node) + ("\n" if node.id == "mapping" else "")
    sub = stores.Tree([node], None, fmt)
    sub.layout = stores.Layout(mapping=4, sequence=6, offset=4)
    return stores.dumps(sub)


def reencrypt_edited(original: document.Decrypted, edited: stores.Tree, source: str) -> str:
    """Encrypt an edited plaintext tree with the file's data key, keys and rule; values whose plaintext did
    not change keep their exact ciphertext."""
    metadata = original.metadata
    try:
        document.encrypt_tree(edited, original.data_key, metadata, previous=original.previous)
    except SealerError as e:
        raise e.within(source=source) from None
    return stores.dumps(edited)


def value_node(value_json: str, fmt: str) -> Node:
    """A node for `set`: the value is JSON, as `sops set` takes it ('"text"', 5, true, {"a": 1}).

    Decoded as Go's encoding/json decodes into interface{}, as sops does: every number is a float64 (`7` is
    stored with type float, `12345678901234567890` becomes 1.2345678901234567e+19), and what Go refuses
    (NaN, Infinity, a number beyond float64 such as 1e400) is refused."""
    import json
    import math

    def number(text: str) -> float:
        value = float(text)
        if math.isinf(value):
            raise ValueError(text)
        return value

    def refuse(text: str) -> object:
        raise ValueError(text)

    def unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
        out = dict(pairs)
        if len(out) != len(pairs):
            raise ValueError("duplicate key")  # sops writes both keys: a file no YAML or JSON reader accepts
        return out

    try:
        value = json.loads(value_json, parse_int=number, parse_float=number, parse_constant=refuse,
                           object_pairs_hook=unique)
    except (ValueError, RecursionError):
        raise InputError("VALUE must be JSON, as with sops set: quote strings like '\"text\"' "
                         "(or use --value-stdin / --value-file for a raw string)", field="VALUE") from None
    if isinstance(value, list):
        raise InputError("a JSON list cannot be set as one value (sops set refuses it too): set a mapping, or "
                         "set the list's items one by one", field="VALUE")
    return _node_from_json(value, fmt)


def string_node(text: str, fmt: str) -> Node:
    return values.format_value("str", text, fmt)


def _node_from_json(value: object, fmt: str) -> Node:
    """Nodes for decoded JSON, numbers typed float in every store (a YAML `1000` node keeps the float type
    through `values.JsonScalar`, so it is encrypted as sops encrypts it: `type:float`)."""
    from sealer.sops import scalars
    from sealer.sops.nodes import MAP_TAG, SEQ_TAG, MappingNode, SequenceNode

    if isinstance(value, dict):
        pairs = [(values.format_value("str", k, fmt), _node_from_json(v, fmt)) for k, v in value.items()]
        return MappingNode(MAP_TAG, pairs, flow_style=False)
    if isinstance(value, list):
        return SequenceNode(SEQ_TAG, [_node_from_json(v, fmt) for v in value], flow_style=False)
    if value is None:
        return values.typed("null", scalars.NULL, fmt == "json")
    if isinstance(value, bool):
        return values.format_value("bool", value, fmt)
    if isinstance(value, float):
        text = scalars.go_format_float_json(value) if fmt == "json" else scalars.go_format_float_g(value)
        return values.JsonScalar(text, scalars.FLOAT)
    return values.format_value("str", str(value), fmt)


def _value_path(path: str, source: str) -> list[str | int]:
    """The parsed PATH of set/unset, which never leads into the `sops` metadata block: sealer writes that block
    itself, and a value set there (as `sops set` allows) leaves a file that no longer opens."""
    from sealer.sops import paths

    try:
        parts = paths.parse(path)
        if parts[0] == "sops":
            raise InputError("is the SOPS metadata block, not a value: set and unset change values only (keys: "
                             "updatekeys, rotate)", field=paths.show(parts[:1]))
    except SealerError as e:
        raise e.within(source=source) from None
    return parts


def set_value(tree: stores.Tree, source: str, opener: Opener, path: str, node: Node) -> str:
    parts = _value_path(path, source)
    original = document.decrypt_tree(tree, source, opener=opener)
    from sealer.sops import paths

    try:
        paths.set_node(tree.roots[0], parts, node)
    except SealerError as e:
        raise e.within(source=source) from None
    return reencrypt_edited(original, tree, source)


def unset_value(tree: stores.Tree, source: str, opener: Opener, path: str) -> str:
    parts = _value_path(path, source)
    original = document.decrypt_tree(tree, source, opener=opener)
    from sealer.sops import paths

    try:
        paths.unset(tree.roots[0], parts)
    except SealerError as e:
        raise e.within(source=source) from None
    return reencrypt_edited(original, tree, source)


def rescope(tree: stores.Tree, source: str, opener: Opener, scope: Scope | None) -> tuple[str | None, list[str]]:
    """Bind every SopsSecret of a file to its namespace and name (or ``scope``): the migration for files written
    before scopes, and the way to change one. The rule is extended to encrypt the binding if it does not;
    every other value keeps its exact ciphertext. (None, ...) when nothing changes."""
    from sealer.sops import binding, kubernetes

    original = document.decrypt_tree(tree, source, opener=opener)
    changes = []
    try:
        for i, root in enumerate(tree.roots, 1):
            before, after = kubernetes.bind(root, scope, tree.format)
            if before != after:
                changes.append(f"document {i}: {before or 'unscoped'} -> {after}" if len(tree.roots) > 1
                               else f"{before or 'unscoped'} -> {after}")
        rule = binding.covering_rule(original.metadata.rule)
    except SealerError as e:
        raise e.within(source=source) from None
    if not changes and rule == original.metadata.rule:
        return None, []
    original.metadata.rule = rule
    return reencrypt_edited(original, tree, source), changes


def rotate(tree: stores.Tree, source: str, opener: Opener, add: list[KeySpec] | None = None,
           remove: list[KeySpec] | None = None) -> str:
    """A new data key; every value re-encrypted; the same recipients (plus ``add``, minus ``remove``: sops'
    rotate --add-age/--rm-age, sealer.sops.keygroup_edit)."""
    original = document.decrypt_tree(tree, source, opener=opener)
    groups, threshold = recipients_of(original.metadata)
    if add or remove:
        from sealer.sops import keygroup_edit

        try:
            groups = keygroup_edit.edit_recipients(groups, add or [], remove or [])
        except SealerError as e:
            raise e.within(source=source) from None
    exact = document.Previous(original.previous.values, exact=True)  # types kept: 1.0 stays a float
    return _encrypt_with_new_key(tree, source, groups, threshold, original.metadata, exact)


class KeyChange:
    __slots__ = ("added", "removed")

    def __init__(self, added: list[str], removed: list[str]) -> None:
        self.added = added
        self.removed = removed

    def __eq__(self, other: object) -> bool:
        if type(other) is not KeyChange:
            return NotImplemented
        return (self.added, self.removed) == (other.added, other.removed)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"KeyChange(added={self.added!r}, removed={self.removed!r})"

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)


def updatekeys(tree: stores.Tree, source: str, opener: Opener, plan: Plan) -> tuple[str | None, KeyChange]:
    """Re-wrap the same data key for the recipients the matching rule now names. Values, lastmodified and the
    MAC are untouched; entries for recipients that stay are kept byte-identical."""
    metadata = document.metadata_of(tree, source)
    current, current_threshold = recipients_of(metadata)
    before = {(s.type, s.value.strip()) for g in current for s in g}
    after = {(s.type, s.value.strip()) for g in plan.groups for s in g}
    change = KeyChange(sorted(v for _, v in after - before), sorted(v for _, v in before - after))
    same_shape = [len(g) for g in current] == [len(g) for g in plan.groups] and \
        (plan.threshold or None) == (current_threshold or None)
    if not change and same_shape:
        return None, change
    keep = [k for g in metadata.key_groups for k in g] if len(plan.groups) == 1 == len(metadata.key_groups) else []
    return rewrap(tree, metadata, opener, source, plan.groups, plan.threshold, keep), change


def rewrap(tree: stores.Tree, metadata: Metadata, opener: Opener, source: str, groups: list[list[KeySpec]],
           threshold: int | None, keep: list | None = None) -> str:
    """The file with its own data key (checked against the MAC) wrapped for ``groups``; values, lastmodified and
    the MAC untouched (updatekeys, groups add/delete). ``keep``: wrapped entries to reuse byte for byte."""
    data_key = document.open_data_key(metadata, opener)
    from sealer.sops.codec import AESGCM

    document.check_mac_key(AESGCM(data_key), metadata, source)  # the key we re-wrap must be the file's key
    metadata.key_groups = keygroups.wrap(data_key, groups, threshold, wrap_key, keep=keep or [])
    metadata.shamir_threshold = threshold if len(groups) > 1 else None
    tree.metadata = metadata.to_data(tree.format)
    return stores.dumps(tree)
