"""The strict reader: plain block YAML into the tree ruamel.yaml's composer builds, or None (see the package)."""

from __future__ import annotations

import re

from sealer.sops.fastyaml import Unsupported
from sealer.sops.nodes import (
    MAP_TAG,
    NULL_TAG,
    SEQ_TAG,
    STR_TAG,
    MappingNode,
    Mark,
    ScalarNode,
    SequenceNode,
    implicit_tag,
)

# Characters that end the fast path anywhere in the text: ASCII controls (tabs and CR included), DEL, '#'
# (comments), and, checked separately for non-ASCII text, anything ruamel treats specially.
_ASCII_REJECT = re.compile(r"[\x00-\x09\x0b-\x1f\x7f#]")
_PLAIN_FIRST_REJECT = frozenset(",[]{}#&*!|>'\"%@`")
_DQ_ESCAPES = {
    "0": "\0", "a": "\x07", "b": "\x08", "t": "\x09", "\t": "\x09", "n": "\x0a", "v": "\x0b", "f": "\x0c",
    "r": "\x0d", "e": "\x1b", " ": "\x20", '"': '"', "/": "/", "\\": "\\", "N": "\x85", "_": "\xa0",
    "L": "\u2028", "P": "\u2029",
}
_DQ_CODES = {"x": 2, "u": 4, "U": 8}
_HEX = frozenset("0123456789abcdefABCDEF")
_MAX_KEY = 1000  # YAML's scanner refuses an implicit key longer than 1024 characters; leave long ones to ruamel


def _is_dash(line: str, col: int) -> bool:
    """A block sequence entry (`-` then a space or the line end) at ``col``."""
    return line[col] == "-" and (len(line) == col + 1 or line[col + 1] == " ")


def _ok_char(ch: str) -> bool:
    """Non-ASCII characters the fast path takes: printable, not a YAML line break, not a BOM."""
    return ("\xa0" <= ch <= "\ud7ff" or "\ue000" <= ch <= "\ufffd" or "\U00010000" <= ch <= "\U0010ffff") \
        and ch not in "\u2028\u2029\ufeff"


def _text_ok(text: str) -> bool:
    if not text.endswith("\n") or _ASCII_REJECT.search(text):
        return False
    if not text.isascii():
        return all(ch <= "\x7e" or _ok_char(ch) for ch in text)
    return True


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _plain_ok(s: str) -> bool:
    """A one-line plain scalar in block context that ruamel reads as exactly ``s``."""
    if not s or s[0] in _PLAIN_FIRST_REJECT:
        return False
    if s[0] in "-?:" and (len(s) == 1 or s[1] == " "):
        return False
    return ": " not in s and not s.endswith(":") and not s.endswith(" ")


class _Reader:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.n = len(lines)
        self.i = 0

    # --- scalars ---------------------------------------------------------------------------------------

    def quoted(self, s: str, start: int) -> tuple[str, int]:
        """A one-line quoted scalar starting at s[start]; (value, index after the closing quote)."""
        quote = s[start]
        out: list[str] = []
        j = start + 1
        n = len(s)
        if quote == "'":
            while j < n:
                ch = s[j]
                if ch == "'":
                    if j + 1 < n and s[j + 1] == "'":
                        out.append("'")
                        j += 2
                        continue
                    return "".join(out), j + 1
                out.append(ch)
                j += 1
            raise Unsupported
        while j < n:
            ch = s[j]
            if ch == '"':
                return "".join(out), j + 1
            if ch == "\\":
                if j + 1 >= n:
                    raise Unsupported  # an escaped line break: a multi-line scalar
                code = s[j + 1]
                if code in _DQ_ESCAPES:
                    out.append(_DQ_ESCAPES[code])
                    j += 2
                    continue
                length = _DQ_CODES.get(code)
                digits = s[j + 2: j + 2 + length] if length else ""
                if not length or len(digits) != length or not all(c in _HEX for c in digits):
                    raise Unsupported
                value = int(digits, 16)
                if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF:
                    raise Unsupported
                out.append(chr(value))
                j += 2 + length
                continue
            out.append(ch)
            j += 1
        raise Unsupported

    def literal(self, indicator: str, parent: int, mark: Mark) -> ScalarNode:
        """A `|` block scalar whose content follows on lines indented deeper than ``parent``."""
        if indicator not in ("", "-", "+"):
            raise Unsupported  # explicit indentation indicators, comments after the indicator
        lines, j = self.lines, self.i
        if j >= self.n or lines[j] == "":
            raise Unsupported
        content_indent = _indent_of(lines[j])
        if content_indent <= parent:
            raise Unsupported  # an empty block scalar
        content: list[str] = []
        while j < self.n:
            line = lines[j]
            if line == "":
                content.append("")
            elif _indent_of(line) < content_indent:
                break
            else:
                content.append(line[content_indent:])
            j += 1
        if content[-1] == "":
            raise Unsupported  # trailing blank lines: ruamel keeps them as a comment
        self.i = j
        value = "\n".join(content) + ("" if indicator == "-" else "\n")
        return ScalarNode(STR_TAG, value, mark, None, "|")

    def check_no_continuation(self, parent: int) -> None:
        """A one-line value must not continue on the next line (a multi-line scalar, or an error)."""
        if self.i < self.n:
            line = self.lines[self.i]
            if line and _indent_of(line) > parent:
                raise Unsupported

    # --- collections -----------------------------------------------------------------------------------

    def block(self, col: int):  # -> MappingNode | SequenceNode
        line = self.lines[self.i]
        if line[col] == "-" and (len(line) == col + 1 or line[col + 1] == " "):
            return self.sequence(col)
        return self.mapping(col)

    def key(self, line: str, col: int) -> tuple[ScalarNode, str]:
        mark = Mark(self.i, col)
        s = line[col:]
        if s[0] in "\"'":
            value, end = self.quoted(s, 0)
            if s[end: end + 1] != ":" or (len(s) > end + 1 and s[end + 1] != " ") or end > _MAX_KEY:
                raise Unsupported
            return ScalarNode(STR_TAG, value, mark, None, s[0]), s[end + 1:]
        if s[0] in _PLAIN_FIRST_REJECT or s[0] in "?:" or (s[0] == "-" and (len(s) == 1 or s[1] == " ")):
            raise Unsupported
        pos = s.find(": ")
        if pos < 0:
            if not s.endswith(":"):
                raise Unsupported  # not a key line
            pos = len(s) - 1
        key = s[:pos]
        if not key or key.endswith((" ", ":")) or key == "<<" or (col == 0 and key.startswith(("---", "..."))) \
                or pos > _MAX_KEY:
            raise Unsupported
        return ScalarNode(implicit_tag(key), key, mark, None, None), s[pos + 1:]

    def _line_at(self, col: int) -> str | None:
        """The current line if it belongs to a block at ``col``; None where the block ends. Blank lines and deeper
        indentation are not plain block YAML as this reader knows it."""
        if self.i >= self.n:
            return None
        line = self.lines[self.i]
        if line == "":
            raise Unsupported
        ind = _indent_of(line)
        if ind > col:
            raise Unsupported
        return line if ind == col else None

    def mapping(self, col: int) -> MappingNode:
        pairs: list[tuple[ScalarNode, object]] = []
        mark = Mark(self.i, col)
        while (line := self._line_at(col)) is not None:
            if _is_dash(line, col):
                break  # an indentless sequence ends here, or an error the parent reports
            if col == 0 and line.startswith(("---", "...")):
                break
            key, rest = self.key(line, col)
            self.i += 1
            pairs.append((key, self.value(rest, col, True)))
        if not pairs:
            raise Unsupported
        return MappingNode(MAP_TAG, pairs, mark, None, False)

    def sequence(self, col: int) -> SequenceNode:
        items: list[object] = []
        mark = Mark(self.i, col)
        while (line := self._line_at(col)) is not None:
            if not _is_dash(line, col):
                break
            items.append(self.value(line[col + 1:], col, False))
        return SequenceNode(SEQ_TAG, items, mark, None, False)

    def value(self, rest: str, parent: int, in_mapping: bool):
        """The value after `key:` (in_mapping) or after a `-` (else); ``rest`` is the line's remainder.

        For a sequence item the current line (self.i) is still the item's line; for a mapping it was consumed.
        """
        if not in_mapping:
            line_no = self.i
            self.i += 1
        else:
            line_no = self.i - 1
        stripped = rest.lstrip(" ")
        col = len(self.lines[line_no]) - len(stripped)
        mark = Mark(line_no, col)
        if not stripped:
            if self.i < self.n:
                nxt = self.lines[self.i]
                if nxt == "":
                    raise Unsupported
                ind = _indent_of(nxt)
                if ind > parent:
                    return self.block(ind)
                if in_mapping and ind == parent and nxt[ind] == "-" and (len(nxt) == ind + 1 or nxt[ind + 1] == " "):
                    return self.sequence(ind)
            return ScalarNode(NULL_TAG, "", Mark(self.i, 0), None, None)
        first = stripped[0]
        if first == "|":
            return self.literal(stripped[1:], parent, mark)
        if stripped == "{}" or stripped == "[]":
            self.check_no_continuation(parent)
            node_type = MappingNode if first == "{" else SequenceNode
            return node_type(MAP_TAG if first == "{" else SEQ_TAG, [], mark, None, True)
        if first in "\"'":
            value, end = self.quoted(stripped, 0)
            if end != len(stripped):
                if in_mapping or stripped[end: end + 1] != ":":
                    raise Unsupported
                return self.compact_mapping(line_no, col)
            self.check_no_continuation(parent)
            return ScalarNode(STR_TAG, value, mark, None, first)
        if not in_mapping:
            if first == "-" and (len(stripped) == 1 or stripped[1] == " "):
                raise Unsupported  # `- - x`: a list in a list on one line
            if ": " in stripped or stripped.endswith(":"):
                return self.compact_mapping(line_no, col)
        if not _plain_ok(stripped):
            raise Unsupported
        self.check_no_continuation(parent)
        return ScalarNode(implicit_tag(stripped), stripped, mark, None, None)

    def compact_mapping(self, line_no: int, col: int) -> MappingNode:
        """`- key: value` (and the keys below it at the same column): a mapping starting after the dash."""
        line = self.lines[line_no]
        self.lines[line_no] = " " * col + line[col:]
        self.i = line_no
        return self.mapping(col)


def compose_all(text: str) -> list[MappingNode] | None:
    """The documents of ``text`` as ruamel.yaml's composer gives them, or None when the text is outside the
    subset (the caller then reads it with ruamel.yaml). Every document must be a non-empty block mapping."""
    if not _text_ok(text):
        return None
    lines = text.split("\n")
    lines.pop()  # the text ends with a newline
    reader = _Reader(lines)
    if lines and lines[0] == "---":
        reader.i = 1
    docs: list[MappingNode] = []
    try:
        while True:
            if reader.i >= reader.n or lines[reader.i][:1] in ("", " ", "-"):
                return None  # an empty document, a root indented or a root list: leave it to ruamel
            docs.append(reader.mapping(0))
            if reader.i >= reader.n:
                return docs
            if lines[reader.i] != "---":
                return None
            reader.i += 1
    except (Unsupported, IndexError):
        return None
