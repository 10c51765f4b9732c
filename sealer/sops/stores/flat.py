"""What the flat stores (dotenv, INI) share: sops' metadata as flat `key__map_sub__list_0` strings (line breaks
written as `\\n`, `mac_only_encrypted` and `shamir_threshold` as text, as sops' stores/flatten.go), and their
comments as tokens the shared tree walker encrypts."""

from __future__ import annotations

import functools
import itertools
import re

from sealer.errors import InputError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from sealer.sops.nodes import Node

MAP = "__map_"
LIST = "__list_"
_TOKEN = re.compile(r"(__map_|__list_)")


def flatten(metadata: dict[str, Any]) -> dict[str, str]:
    """Every leaf of the metadata under its flat key, in sops' byte order; empty and null leaves are dropped."""
    out: dict[str, str] = {}
    for key, value in metadata.items():
        _flatten_into(out, key, value)
    return {k: out[k] for k in sorted(out, key=lambda k: k.encode())}


def _flatten_into(out: dict[str, str], prefix: str, value: Any) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten_into(out, f"{prefix}{MAP}{k}", v)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _flatten_into(out, f"{prefix}{LIST}{i}", v)
    elif value is not None:
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        out[prefix] = text.replace("\n", "\\n")


def unflatten(flat: dict[str, str], source: str) -> dict[str, Any]:
    """The nested metadata back from flat keys (the inverse of `flatten`)."""
    root: dict[str, Any] = {}
    for key, text in flat.items():
        value: Any = text.replace("\\n", "\n")
        if key == "mac_only_encrypted":
            value = value == "true"
        elif key == "shamir_threshold":
            try:
                value = int(value)
            except ValueError:
                raise InputError(f"shamir_threshold is not an integer: {value!r}", source=source) from None
        parts = _TOKEN.split(key)
        tokens: list[str | int] = [parts[0]]
        for sep, name in zip(parts[1::2], parts[2::2], strict=True):
            if sep == LIST:
                if not name.isdigit():
                    raise InputError(f"bad flattened metadata key {key!r}", source=source)
                tokens.append(int(name))
            else:
                tokens.append(name)
        node: Any = root
        for here, nxt in itertools.pairwise(tokens):
            child = _get(node, here)
            if child is None:
                child = [] if isinstance(nxt, int) else {}
                _put(node, here, child)
            if isinstance(nxt, int) != isinstance(child, list):
                raise InputError(f"bad flattened metadata key {key!r}", source=source)
            node = child
        _put(node, tokens[-1], value)
    return root


def _get(node: Any, token: str | int) -> Any:
    if isinstance(node, list):
        return node[token] if isinstance(token, int) and token < len(node) else None
    return node.get(token)


def _put(node: Any, token: str | int, value: Any) -> None:
    if isinstance(node, list):
        assert isinstance(token, int)
        node.extend([None] * (token + 1 - len(node)))
        node[token] = value
    else:
        node[token] = value


@functools.cache
def _whole_comment() -> type:
    from ruamel.yaml.tokens import CommentToken

    class WholeComment(CommentToken):
        __slots__ = ()
        whole = True  # sealer.sops.tree reads it: one comment, line breaks included

    return WholeComment


def comment_token(text: str) -> object:
    """A comment the shared walker encrypts and decrypts as one value, line breaks included: an INI comment block
    is one comment to sops."""
    from ruamel.yaml.error import CommentMark

    return _whole_comment()(text, CommentMark(0), None)


def comment_lines(node: Node) -> list[str]:
    return [f"{tok.value}\n" for tok in node.comment or ()]  # type: ignore[attr-defined]


def comment_values(node: Node) -> list[str]:
    """sops' comment values (after the `#`) attached to a node."""
    return [tok.value[1:] for tok in node.comment or ()]  # type: ignore[attr-defined]
