"""Encrypting and decrypting SOPS trees: the operations behind encrypt / decrypt / edit / set / rotate.

Decryption remembers each value's IV, so re-encrypting a value whose plaintext did not change reproduces its
exact ciphertext (GCM is deterministic for a given key, IV, AAD and plaintext). That is what keeps a one-value
edit a one-value Git diff, as with sops.
"""

from __future__ import annotations

import os

from sealer.errors import DecryptionError, InputError, MacMismatch, SealerError
from sealer.sops import codec, scalars, stores
from sealer.sops.codec import AESGCM
from sealer.sops.metadata import Metadata, now_lastmodified
from sealer.sops.metadata import parse as parse_metadata
from sealer.sops.nodes import implicit_tag
from sealer.sops.stores import values
from sealer.sops.tree import Leaf, Mac, Rule, aad, is_list_comment, resolve_yaml, walk

TYPE_CHECKING = False
if TYPE_CHECKING:
    import datetime as dt

    from sealer.sops.keys.groups import Opener
    from sealer.sops.nodes import Node, ScalarNode, SequenceNode

DATA_KEY_BYTES = 32
_NUMBERS = {scalars.INT, scalars.FLOAT}


class Previous:
    """Ciphertext facts from before a decryption, for reproducing unchanged values byte for byte:
    ``values`` maps a leaf's loc to (kind, plaintext, iv), ``comments`` maps (aad, plaintext) to an iv.
    ``exact`` (rotate): every value is re-encrypted from its own type and plaintext, with a new IV, not from the
    decrypted text (which prints the float 1.0 as `1` and -0.0 as `-0`, both ints when read again)."""

    __slots__ = ("comments", "exact", "values")

    def __init__(self, values: dict[tuple[object, ...], tuple[str, bytes, bytes]] | None = None,
                 comments: dict[tuple[str, bytes], bytes] | None = None, exact: bool = False) -> None:
        self.values = {} if values is None else values
        self.comments = {} if comments is None else comments
        self.exact = exact


class Decrypted:
    __slots__ = ("data_key", "metadata", "previous", "tree", "undecryptable_comments")

    def __init__(self, tree: stores.Tree, metadata: Metadata, data_key: bytes, previous: Previous,
                 undecryptable_comments: int = 0) -> None:
        self.tree = tree
        self.metadata = metadata
        self.data_key = data_key
        self.previous = previous
        self.undecryptable_comments = undecryptable_comments


def value_format(tree: stores.Tree) -> str:
    """The format a tree's values are written in: the binary store keeps its one value as JSON does."""
    return "json" if tree.format == "binary" else tree.format


def resolve(tree: stores.Tree, node: ScalarNode) -> tuple[str, object]:
    """A value's (type, value). A JSON-typed node keeps its JSON type in any store: `set` puts float64 numbers
    into YAML trees as sops does (a YAML `1000` would read back as an int)."""
    if tree.format in ("json", "binary") or isinstance(node, values.JsonScalar):
        return values.resolve_json(node)
    return resolve_yaml(node, implicit_tag)


def _set(leaf: Leaf, node: ScalarNode) -> None:
    """Replace a leaf's scalar in place. Its comments stay attached; an end-of-line comment moves to just after
    the new value instead of keeping the column it had after the old one."""
    leaf.node.value, leaf.node.style, leaf.node.tag = node.value, node.style, node.tag
    eol = leaf.node.comment[0] if isinstance(leaf.node.comment, list) and leaf.node.comment else None
    if eol is not None:
        from ruamel.yaml.error import CommentMark
        from ruamel.yaml.tokens import CommentToken

        if isinstance(eol, CommentToken) and not eol.value.startswith("\n"):
            eol.start_mark = CommentMark(0)
    if isinstance(leaf.node, values.JsonScalar) and isinstance(node, values.JsonScalar):
        leaf.node.json_kind = node.json_kind


def metadata_of(tree: stores.Tree, source: str, ignore_mac: bool = False) -> Metadata:
    """With ``ignore_mac`` a block without a MAC is read too, as sops reads it under --ignore-mac."""
    if tree.metadata is None:
        raise InputError("not a SOPS file: no `sops` metadata block", source=source)
    data = tree.metadata
    if ignore_mac and isinstance(data, dict) and not data.get("mac"):
        metadata = parse_metadata({**data, "mac": "absent"}, source)
        metadata.mac = ""
        return metadata
    return parse_metadata(data, source)


def encrypt_tree(tree: stores.Tree, data_key: bytes, metadata: Metadata, previous: Previous | None = None,
                 now: dt.datetime | None = None) -> None:
    """Encrypt every value and comment the rule selects, then record lastmodified and the MAC.

    ``metadata`` must already hold the wrapped keys and the rule; its lastmodified and mac are replaced.
    """
    if tree.metadata is not None:
        raise InputError("already encrypted (it has a `sops` metadata block); use `sealer rotate` or `edit`")
    key = AESGCM(data_key)
    rule = metadata.rule
    if tree.format == "binary":  # one value, always encrypted: sops ignores an encryption rule here
        rule = Rule(mac_only_encrypted=rule.mac_only_encrypted)
    previous = previous or Previous()
    mac = Mac(rule.mac_only_encrypted)
    fmt = value_format(tree)
    w = walk(tree.roots)
    w.decide(rule)
    for leaf in w.leaves:
        try:
            kind, value = resolve(tree, leaf.node)
        except scalars.UnsupportedValue as e:
            raise InputError(str(e), field=leaf.where) from None
        if kind == scalars.NULL:
            continue
        if isinstance(leaf.node.value, str) and codec.is_encrypted(leaf.node.value) and kind == scalars.STR:
            raise InputError("value is already an ENC[...] ciphertext", field=leaf.where)
        if tree.format == "binary" and kind == scalars.STR:
            from sealer.sops.stores import binary

            plaintext = binary.plaintext(value)  # type: ignore[arg-type]
        else:
            plaintext = scalars.to_bytes(kind, value)
        old = previous.values.get(leaf.loc)
        if previous.exact and old is not None:
            kind, plaintext, old = old[0], old[1], None  # rotate: the value as it was, a new IV
        encrypted = leaf.encrypted
        mac.add(plaintext, encrypted)
        if not encrypted or (kind == scalars.STR and plaintext == b""):
            continue
        if kind == scalars.BYTES:
            kind = scalars.STR  # go-yaml decodes !!binary to a Go string; sops types it str
        iv = None
        if old is not None and old[1] == plaintext and (old[0] == kind or {old[0], kind} == _NUMBERS):
            # Unchanged: reproduce the ciphertext. A float printed as `3` reads back as an int with the same
            # bytes (and MAC); keep its original type rather than churn the file.
            kind, iv = old[0], old[2]
        _set(leaf, values.encrypted_node(codec.encrypt(key, plaintext, aad(leaf.path), kind, iv), fmt))
    for comment in w.comments:
        owner = comment.candidates[0]
        text = comment.text
        if not comment.encrypted or not text or codec.is_encrypted(text):  # sops leaves an empty comment as is
            continue
        plaintext = text.encode()
        iv = previous.comments.get((aad(owner), plaintext))
        comment.replace(codec.encrypt(key, plaintext, aad(owner), scalars.COMMENT, iv))
    metadata.lastmodified = now_lastmodified(now)
    metadata.mac = codec.encrypt(key, mac.hexdigest().encode(), metadata.lastmodified, scalars.STR)
    tree.metadata = metadata.to_data(tree.format)


def open_data_key(metadata: Metadata, opener: Opener) -> bytes:
    from sealer.sops.keys import groups as keygroups

    data_key = keygroups.unwrap(metadata, opener)
    if len(data_key) != DATA_KEY_BYTES:
        raise DecryptionError(f"the data key has {len(data_key)} bytes, expected {DATA_KEY_BYTES}")
    return data_key


def decrypt_tree(tree: stores.Tree, source: str, opener: Opener | None = None, data_key: bytes | None = None,
                 ignore_mac: bool = False) -> Decrypted:
    """Decrypt in place and verify the MAC. Nothing is written by callers unless this returns."""
    metadata = metadata_of(tree, source, ignore_mac)
    if data_key is None:
        if opener is None:
            raise InputError("no way to open the data key")
        try:
            data_key = open_data_key(metadata, opener)
        except SealerError as e:
            raise e.within(source=source) from None
    key = AESGCM(data_key)
    rule = metadata.rule
    mac = Mac(rule.mac_only_encrypted)
    previous = Previous()
    w = walk(tree.roots)
    w.decide(rule)  # by the texts on disk, as sops decides
    pending: list[tuple[Leaf, ScalarNode]] = []
    list_comments: list[tuple[Leaf, str]] = []
    for leaf in w.leaves:
        node = leaf.node
        encrypted_by_rule = leaf.encrypted
        if leaf.parent is not None and is_list_comment(node):
            # sops writes a comment inside a list as a list item; it is a comment, not a value (no MAC)
            try:
                _, plaintext, _ = codec.decrypt(key, node.value, aad(leaf.path))
            except SealerError as e:
                raise e.within(source=source, context=leaf.where) from None
            list_comments.append((leaf, plaintext.decode("utf-8", errors="replace")))
            continue
        if node.style in (None, '"', "'") and codec.is_encrypted(node.value):
            try:
                kind, plaintext, iv = codec.decrypt(key, node.value, aad(leaf.path))
                value = scalars.from_bytes(kind, plaintext)
            except SealerError as e:
                raise e.within(source=source, context=leaf.where) from None
            except ValueError:
                raise DecryptionError("decrypted value does not match its declared type", source=source,
                                      field=leaf.where) from None
            previous.values[leaf.loc] = (kind, plaintext, iv)
            pending.append((leaf, values.format_value(kind, value, value_format(tree))))
            mac.add(plaintext, encrypted_by_rule)
            continue
        try:
            kind, value = resolve(tree, node)
        except scalars.UnsupportedValue as e:
            raise InputError(str(e), source=source, field=leaf.where) from None
        if kind == scalars.NULL:
            continue
        plaintext = scalars.to_bytes(kind, value)
        if encrypted_by_rule and not (kind == scalars.STR and plaintext == b""):
            raise DecryptionError("value is not encrypted although the file's rule says it must be "
                                  "(tampered, or edited without sops/sealer)", source=source, field=leaf.where)
        mac.add(plaintext, encrypted_by_rule)
    undecryptable = 0
    comment_updates = []
    for comment in w.comments:
        text = comment.text
        if not codec.is_encrypted(text) or (rule.by_comments and not comment.encrypted):
            continue  # sops leaves a comment its comment rule does not encrypt as it is
        for path in comment.candidates:
            try:
                _, plaintext, iv = codec.decrypt(key, text, aad(path))
            except (DecryptionError, InputError):
                continue
            previous.comments[(aad(path), plaintext)] = iv
            comment_updates.append((comment, plaintext.decode("utf-8", errors="replace")))
            break
        else:
            undecryptable += 1
    if not ignore_mac:
        check_mac(key, metadata, mac.hexdigest(), source)
    for leaf, node in pending:
        _set(leaf, node)
    for comment, text in comment_updates:
        comment.replace(text)
    _restore_list_comments(list_comments)
    tree.metadata = None
    return Decrypted(tree, metadata, data_key, previous, undecryptable)


def _restore_list_comments(items: list[tuple[Leaf, str]]) -> None:
    """Turn sops' comment list items back into comment lines: before the first item they go on the list,
    after an item they follow it, as ruamel attaches them."""
    if not items:
        return
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    by_list: dict[int, tuple[SequenceNode, list[tuple[int, str]]]] = {}
    for leaf, text in items:
        seq = leaf.parent
        assert seq is not None and seq.id == "sequence"
        by_list.setdefault(id(seq), (seq, []))[1].append((int(leaf.loc[-1]), text))  # type: ignore[call-overload]
    for seq, comments in by_list.values():
        drop = {i for i, _ in comments}
        indent = seq.start_mark.column if seq.start_mark is not None else 0
        texts = dict(comments)
        kept: list[Node] = []
        before: list[str] = []
        for i, item in enumerate(seq.value):
            if i in drop:
                # the item's own comment lines (a comment after the list, at an outer column) follow it
                lines = [f"{' ' * indent}#{texts[i]}\n", *_attached_lines(item, indent)]
                if kept:
                    _append_after(kept[-1], "".join(lines))
                else:
                    before.extend(lines)
                continue
            kept.append(item)
        seq.value = kept
        if before:
            tokens = [CommentToken(line.lstrip(" "), CommentMark(len(line) - len(line.lstrip(" "))), None)
                      for line in before]
            existing = seq.comment if isinstance(seq.comment, list) else [None, None]
            seq.comment = [existing[0], [*tokens, *(existing[1] or [])]]


def _attached_lines(node: Node, indent: int) -> list[str]:
    """The comment lines ruamel attached to a list item sealer removes, each ending in a line break."""
    from ruamel.yaml.tokens import CommentToken

    comment = node.comment if isinstance(node.comment, list) else []
    out: list[str] = []
    for token in comment:
        if not isinstance(token, CommentToken):
            continue
        value = token.value
        if not value.startswith("\n"):  # an end-of-line comment: on a line of its own now
            value = "\n" + " " * indent + value
        out.extend(line + "\n" for line in value[1:].split("\n") if line.strip())
    return out


def _append_after(node: Node, line: str) -> None:
    """Add a full-line comment after a list item (after its last scalar when the item is a collection)."""
    from ruamel.yaml.error import CommentMark
    from ruamel.yaml.tokens import CommentToken

    while node.id != "scalar" and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(last, tuple) else last
    if node.id != "scalar":
        return
    comment = node.comment if isinstance(node.comment, list) else [None, None]
    eol = comment[0]
    if isinstance(eol, CommentToken):
        eol.value = eol.value + line
    else:
        comment[0] = CommentToken("\n" + line, CommentMark(0), None)
    node.comment = comment


def check_mac(key: AESGCM, metadata: Metadata, computed: str, source: str) -> None:
    from _operator import _compare_digest as compare_digest  # hmac's fallback; `import hmac` loads OpenSSL

    try:
        _, stored, _ = codec.decrypt(key, metadata.mac, metadata.lastmodified)
    except (DecryptionError, InputError):
        raise MacMismatch("MAC does not verify: the file or its lastmodified was changed outside sops/sealer",
                          source=source, field="sops.mac") from None
    if not compare_digest(stored.decode("ascii", errors="replace").upper(), computed):
        raise MacMismatch("MAC mismatch: values were added, removed, reordered or changed outside sops/sealer",
                          source=source, field="sops.mac")


def new_data_key() -> bytes:
    return os.urandom(DATA_KEY_BYTES)


def check_mac_key(key: AESGCM, metadata: Metadata, source: str) -> None:
    """Prove a data key is this file's key (the MAC only opens under it) without decrypting the values."""
    try:
        codec.decrypt(key, metadata.mac, metadata.lastmodified)
    except (DecryptionError, InputError):
        raise MacMismatch("the data key does not open this file's MAC (tampered metadata?)", source=source,
                          field="sops.mac") from None
