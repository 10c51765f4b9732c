"""A fast reader and writer for the plain YAML that SOPS files and Kubernetes Secrets are made of.

ruamel.yaml's round-trip reader is pure Python: it costs ~20 ms to import and most of the time spent on a small
file. Most files sealer sees are block mappings and lists of one-line scalars, as go-yaml (sops), kubectl and
PyYAML write them. For exactly those, this module builds the same tree ruamel.yaml's composer would (the same
values, styles and implicit tags) and writes a tree back byte for byte as ruamel.yaml's emitter would.

Both sides are deliberately narrow: `compose_all` returns None for anything outside the subset it knows (comments,
blank lines, anchors, aliases, tags, directives, flow collections other than `{}` / `[]`, multi-line plain or
quoted scalars, folded scalars, tabs, CR, control or special characters, trailing spaces, ...), and `serialize`
returns None for any tree it cannot write exactly like ruamel (comments, anchors, explicit tags, non-empty flow
collections, very long lines). The caller then uses ruamel.yaml, so behaviour is ruamel's in every case; this
module only decides faster when it is sure. tests/test_sops_fastpath.py compares both on a corpus and on
generated documents.

The writer is a transcription of the block-style parts of ruamel.yaml's Emitter (ruamel/yaml/emitter.py, MIT
licence): same state variables, same decisions, same scalar analysis and scalar writers.
"""

from __future__ import annotations

import re

from sealer.sops.nodes import (
    MAP_TAG,
    NULL_TAG,
    SEQ_TAG,
    STR_TAG,
    MappingNode,
    Mark,
    Node,
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


class _Unsupported(Exception):
    """Outside the subset: the caller falls back to ruamel.yaml."""


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
            raise _Unsupported
        while j < n:
            ch = s[j]
            if ch == '"':
                return "".join(out), j + 1
            if ch == "\\":
                if j + 1 >= n:
                    raise _Unsupported  # an escaped line break: a multi-line scalar
                code = s[j + 1]
                if code in _DQ_ESCAPES:
                    out.append(_DQ_ESCAPES[code])
                    j += 2
                    continue
                length = _DQ_CODES.get(code)
                digits = s[j + 2: j + 2 + length] if length else ""
                if not length or len(digits) != length or not all(c in _HEX for c in digits):
                    raise _Unsupported
                value = int(digits, 16)
                if 0xD800 <= value <= 0xDFFF or value > 0x10FFFF:
                    raise _Unsupported
                out.append(chr(value))
                j += 2 + length
                continue
            out.append(ch)
            j += 1
        raise _Unsupported

    def literal(self, indicator: str, parent: int, mark: Mark) -> ScalarNode:
        """A `|` block scalar whose content follows on lines indented deeper than ``parent``."""
        if indicator not in ("", "-", "+"):
            raise _Unsupported  # explicit indentation indicators, comments after the indicator
        lines, j = self.lines, self.i
        if j >= self.n or lines[j] == "":
            raise _Unsupported
        content_indent = _indent_of(lines[j])
        if content_indent <= parent:
            raise _Unsupported  # an empty block scalar
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
            raise _Unsupported  # trailing blank lines: ruamel keeps them as a comment
        self.i = j
        value = "\n".join(content) + ("" if indicator == "-" else "\n")
        return ScalarNode(STR_TAG, value, mark, None, "|")

    def check_no_continuation(self, parent: int) -> None:
        """A one-line value must not continue on the next line (a multi-line scalar, or an error)."""
        if self.i < self.n:
            line = self.lines[self.i]
            if line and _indent_of(line) > parent:
                raise _Unsupported

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
                raise _Unsupported
            return ScalarNode(STR_TAG, value, mark, None, s[0]), s[end + 1:]
        if s[0] in _PLAIN_FIRST_REJECT or s[0] in "?:" or (s[0] == "-" and (len(s) == 1 or s[1] == " ")):
            raise _Unsupported
        pos = s.find(": ")
        if pos < 0:
            if not s.endswith(":"):
                raise _Unsupported  # not a key line
            pos = len(s) - 1
        key = s[:pos]
        if not key or key.endswith((" ", ":")) or key == "<<" or (col == 0 and key.startswith(("---", "..."))) \
                or pos > _MAX_KEY:
            raise _Unsupported
        return ScalarNode(implicit_tag(key), key, mark, None, None), s[pos + 1:]

    def _line_at(self, col: int) -> str | None:
        """The current line if it belongs to a block at ``col``; None where the block ends. Blank lines and deeper
        indentation are not plain block YAML as this reader knows it."""
        if self.i >= self.n:
            return None
        line = self.lines[self.i]
        if line == "":
            raise _Unsupported
        ind = _indent_of(line)
        if ind > col:
            raise _Unsupported
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
            raise _Unsupported
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
                    raise _Unsupported
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
                    raise _Unsupported
                return self.compact_mapping(line_no, col)
            self.check_no_continuation(parent)
            return ScalarNode(STR_TAG, value, mark, None, first)
        if not in_mapping:
            if first == "-" and (len(stripped) == 1 or stripped[1] == " "):
                raise _Unsupported  # `- - x`: a list in a list on one line
            if ": " in stripped or stripped.endswith(":"):
                return self.compact_mapping(line_no, col)
        if not _plain_ok(stripped):
            raise _Unsupported
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
    except (_Unsupported, IndexError):
        return None


# --- the writer: ruamel.yaml's Emitter, block style ----------------------------------------------------------

class _Analysis:
    __slots__ = ("allow_block", "allow_block_plain", "allow_double_quoted", "allow_flow_plain",
                 "allow_single_quoted", "empty", "multiline", "scalar")

    def __init__(self, scalar: str, empty: bool, multiline: bool, allow_flow_plain: bool, allow_block_plain: bool,
                 allow_single_quoted: bool, allow_double_quoted: bool, allow_block: bool) -> None:
        self.scalar = scalar
        self.empty = empty
        self.multiline = multiline
        self.allow_flow_plain = allow_flow_plain
        self.allow_block_plain = allow_block_plain
        self.allow_single_quoted = allow_single_quoted
        self.allow_double_quoted = allow_double_quoted
        self.allow_block = allow_block


_BREAKS = "\n\x85\u2028\u2029"
_SPACE_OR_BREAK = "\0 \t\r\n\x85\u2028\u2029"
_ESCAPE_REPLACEMENTS = {
    "\0": "0", "\x07": "a", "\x08": "b", "\x09": "t", "\x0a": "n", "\x0b": "v", "\x0c": "f", "\x0d": "r",
    "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_", "\u2028": "L", "\u2029": "P",
}
_MAX_COLUMN = 60000  # ruamel folds lines at width 65536 (stores sets it); beyond this we let ruamel write


def analyze_scalar(scalar: str) -> _Analysis:
    """ruamel.yaml Emitter.analyze_scalar, for YAML 1.2 with allow_unicode."""
    if not scalar:
        return _Analysis(scalar, True, False, False, True, True, True, False)
    block_indicators = flow_indicators = line_breaks = special_characters = False
    leading_space = leading_break = trailing_space = trailing_break = break_space = space_break = False
    if scalar.startswith(("---", "...")):
        block_indicators = flow_indicators = True
    preceded_by_whitespace = True
    followed_by_whitespace = len(scalar) == 1 or scalar[1] in _SPACE_OR_BREAK
    previous_space = previous_break = False
    index = 0
    last = len(scalar) - 1
    while index < len(scalar):
        ch = scalar[index]
        if index == 0:
            if ch in "#,[]{}&*!|>'\"%@`":
                flow_indicators = block_indicators = True
            if ch in "?:":
                if len(scalar) == 1:
                    flow_indicators = True
                if followed_by_whitespace:
                    block_indicators = True
            if ch == "-" and followed_by_whitespace:
                flow_indicators = block_indicators = True
        else:
            if ch in ",[]{}":
                flow_indicators = True
            if ch == ":" and followed_by_whitespace:
                flow_indicators = block_indicators = True
            if ch == "#" and preceded_by_whitespace:
                flow_indicators = block_indicators = True
        if ch in _BREAKS:
            line_breaks = True
        if not (ch == "\n" or "\x20" <= ch <= "\x7e") and not (
                (ch == "\x85" or "\xa0" <= ch <= "\ud7ff" or "\ue000" <= ch <= "\ufffd"
                 or "\U00010000" <= ch <= "\U0010ffff") and ch != "\ufeff"):
            special_characters = True
        if ch == " ":
            if index == 0:
                leading_space = True
            if index == last:
                trailing_space = True
            if previous_break:
                break_space = True
            previous_space, previous_break = True, False
        elif ch in _BREAKS:
            if index == 0:
                leading_break = True
            if index == last:
                trailing_break = True
            if previous_space:
                space_break = True
            previous_space, previous_break = False, True
        else:
            previous_space = previous_break = False
        index += 1
        preceded_by_whitespace = ch in _SPACE_OR_BREAK
        followed_by_whitespace = index + 1 >= len(scalar) or scalar[index + 1] in _SPACE_OR_BREAK
    allow_flow_plain = allow_block_plain = allow_single_quoted = allow_double_quoted = allow_block = True
    if leading_space or leading_break or trailing_space or trailing_break:
        allow_flow_plain = allow_block_plain = False
    if trailing_space:
        allow_block = False
    if break_space:
        allow_flow_plain = allow_block_plain = allow_single_quoted = False
    if special_characters:
        allow_flow_plain = allow_block_plain = allow_single_quoted = allow_block = False
    elif space_break:
        allow_flow_plain = allow_block_plain = allow_single_quoted = False
        allow_block = False  # allow_space_break is None
    if line_breaks:
        allow_flow_plain = allow_block_plain = False
    if flow_indicators:
        allow_flow_plain = False
    if block_indicators:
        allow_block_plain = False
    return _Analysis(scalar, False, line_breaks, allow_flow_plain, allow_block_plain, allow_single_quoted,
                     allow_double_quoted, allow_block)


class _Emitter:
    """The block-style subset of ruamel.yaml's Emitter, driven directly by the node tree."""

    # What a subclass may change (sealer.sops.emit: whole-string analysis, folding writers, no column limit).
    analyze = staticmethod(analyze_scalar)
    max_column = _MAX_COLUMN

    def __init__(self, mapping: int, sequence: int, offset: int) -> None:
        self.out: list[str] = []
        self.indents: list[tuple[int | None, bool | None]] = []
        self.indent: int | None = None
        self.flow_level = 0
        self.root_context = self.sequence_context = self.mapping_context = self.simple_key_context = False
        self.column = 0
        self.whitespace = True
        self.indention = True
        self.no_newline: bool | None = None
        self.open_ended = False
        self.best_sequence_indent = sequence
        self.best_map_indent = mapping
        self.sequence_dash_offset = offset

    # --- indents (ruamel's Indents) ----------------------------------------------------------------------

    def _last_seq(self) -> bool:
        return bool(self.indents[-2][1]) if len(self.indents) >= 2 else False

    def _seq_seq(self) -> bool:
        return len(self.indents) >= 2 and bool(self.indents[-2][1]) and bool(self.indents[-1][1])

    def _seq_flow_align(self) -> int:
        """Indents.seq_flow_align without a pre-comment: extra spaces before a flow collection after a dash."""
        values = self.indents
        if len(values) < 2 or not values[-1][1]:
            return 0
        base = values[-1][0] if values[-1][0] is not None else 0
        return base + self.best_sequence_indent - self.column - 1

    def increase_indent(self, flow: bool = False, sequence: bool | None = None, indentless: bool = False) -> None:
        self.indents.append((self.indent, sequence))
        if self.indent is None:
            self.indent = None if flow else 0  # requested_indent is None
        elif not indentless:
            self.indent += self.best_sequence_indent if self._last_seq() else self.best_map_indent

    # --- low-level writers -------------------------------------------------------------------------------

    def write(self, data: str) -> None:
        self.out.append(data)

    def write_indicator(self, indicator: str, need_whitespace: bool, whitespace: bool = False,
                        indention: bool = False) -> None:
        data = indicator if (self.whitespace or not need_whitespace) else " " + indicator
        self.whitespace = whitespace
        self.indention = self.indention and indention
        self.column += len(data)
        self.open_ended = False
        self.out.append(data)

    def write_indent(self) -> None:
        indent = self.indent or 0
        if not self.indention or self.column > indent or (self.column == indent and not self.whitespace):
            if self.no_newline:
                self.no_newline = False
            else:
                self.write_line_break()
        if self.column < indent:
            self.whitespace = True
            self.out.append(" " * (indent - self.column))
            self.column = indent

    def write_line_break(self) -> None:
        self.whitespace = True
        self.indention = True
        self.column = 0
        self.out.append("\n")

    # --- nodes ---------------------------------------------------------------------------------------------

    def document(self, root: object, explicit: bool) -> str:
        if explicit:
            self.write_indent()
            self.write_indicator("---", True)
        self.node(root, root=True)
        self.write_indent()  # document end
        if self.open_ended:  # stream end
            self.write_indicator("...", True)
            self.write_indent()
        return "".join(self.out)

    def node(self, node: object, root: bool = False, sequence: bool = False, mapping: bool = False,
             simple_key: bool = False, analysis: _Analysis | None = None) -> None:
        if not isinstance(node, Node) or node.anchor is not None or node.comment:
            raise _Unsupported  # ruamel's nodes (files only ruamel could read), anchors, comments
        self.root_context = root
        self.sequence_context = sequence
        self.mapping_context = mapping
        self.simple_key_context = simple_key
        kind = node.id  # type: ignore[attr-defined]
        if kind == "scalar":
            self.scalar(node, analysis)  # type: ignore[arg-type]
        elif kind in ("sequence", "mapping"):
            sequence = kind == "sequence"
            if node.tag != (SEQ_TAG if sequence else MAP_TAG):  # type: ignore[attr-defined]
                raise _Unsupported
            if not node.value:  # type: ignore[attr-defined]
                self.empty_flow(*("[]" if sequence else "{}"), sequence=sequence)
            elif self.flow_level or node.flow_style:  # type: ignore[attr-defined]
                raise _Unsupported  # block style only: anything else goes to ruamel
            elif sequence:
                self.block_sequence(node)
            else:
                self.block_mapping(node)
        else:
            raise _Unsupported

    def empty_flow(self, start: str, end: str, sequence: bool) -> None:
        ind = self._seq_flow_align()
        self.write_indicator(" " * ind + start, True, whitespace=True)
        self.increase_indent(flow=True, sequence=sequence)
        if sequence and self._seq_seq():  # expect_node, after expect_flow_sequence
            self.indention = True
            self.no_newline = False
        self.indent = self.indents.pop()[0]
        self.write_indicator(end, False)
        if self.flow_level == 0:
            self.write_line_break()

    def block_sequence(self, node: object) -> None:
        indentless = not self.indention if self.mapping_context else False
        self.increase_indent(flow=False, sequence=True, indentless=indentless)
        if self._seq_seq():  # expect_node, after expect_block_sequence
            self.indention = True
            self.no_newline = False
        for item in node.value:  # type: ignore[attr-defined]
            nonl = self.no_newline if self.column == 0 else False
            self.write_indent()
            self.write_indicator(" " * self.sequence_dash_offset + "-", True, indention=True)
            if nonl or self.sequence_dash_offset + 2 > self.best_sequence_indent:
                self.no_newline = True
            self.node(item, sequence=True)
        self.indent = self.indents.pop()[0]
        self.no_newline = False

    def block_mapping(self, node: object) -> None:
        self.increase_indent(flow=False, sequence=False)
        for key, value in node.value:  # type: ignore[attr-defined]
            self.write_indent()
            if key.id != "scalar":
                raise _Unsupported
            analysis = self.analyze(key.value)
            if not self._simple_key(key, analysis):
                raise _Unsupported
            self.node(key, mapping=True, simple_key=True, analysis=analysis)
            self.write_indicator(":", False)
            self.node(value, mapping=True)
        self.indent = self.indents.pop()[0]

    @staticmethod
    def _simple_key(key: ScalarNode, analysis: _Analysis) -> bool:
        """check_simple_key for a scalar key; the emitter's chosen style is still unset at that point."""
        tag = key.tag
        if not isinstance(tag, str) or not tag.startswith("tag:yaml.org,2002:"):
            raise _Unsupported
        length = len(analysis.scalar) + 2 + len(tag) - len("tag:yaml.org,2002:")  # the prepared tag, "!!str"
        return length < 128 and not analysis.multiline

    def scalar(self, node: ScalarNode, analysis: _Analysis | None) -> None:
        value, tag, style = node.value, node.tag, node.style
        if not isinstance(value, str) or not isinstance(tag, str):
            raise _Unsupported
        if analysis is None:
            analysis = self.analyze(value)
        implicit = (tag == implicit_tag(value), tag == STR_TAG, tag.startswith("tag:yaml.org,2002:"))
        chosen = self.choose_scalar_style(value, style, implicit, analysis)
        if not ((chosen == "" and implicit[0]) or (chosen != "" and implicit[1])):
            raise _Unsupported  # ruamel would write the tag
        self.increase_indent(flow=True)  # expect_scalar
        split = not self.simple_key_context
        if self.sequence_context and not self.flow_level:
            self.write_indent()
        if chosen == '"':
            self.write_double_quoted(value, split)
        elif chosen == "'":
            self.write_single_quoted(value, split)
        elif chosen == "|":
            self.write_literal(value)
        elif chosen == "":
            self.write_plain(value, split)
        else:
            raise _Unsupported
        if self.column > self.max_column:
            raise _Unsupported
        self.indent = self.indents.pop()[0]

    def choose_scalar_style(self, value: str, style: str | None, implicit: tuple[bool, bool, bool],
                            analysis: _Analysis) -> str:
        """Emitter.choose_scalar_style in block context (flow_level 0: only empty flow collections are written)."""
        if style == '"':
            return '"'
        if (not style or style == "?" or style == "-") and (implicit[0] or not implicit[2]):
            if not (self.simple_key_context and (analysis.empty or analysis.multiline)) \
                    and analysis.allow_block_plain:
                return ""
            if style == "-":
                return ""
        analysis.allow_block = True
        if style and style in "|>" and not self.simple_key_context and analysis.allow_block:
            return style
        if not style and analysis.allow_double_quoted and ("'" in value or "\n" in value):
            return '"'
        if (not style or style == "'") and analysis.allow_single_quoted and not (
                self.simple_key_context and analysis.multiline):
            return "'"
        return '"'

    def write_plain(self, text: str, split: bool = True) -> None:  # split: emit's writer folds; this one never does
        if self.root_context:
            self.open_ended = True
        if not text:
            return
        if any(ch in _BREAKS for ch in text):
            raise _Unsupported
        if not self.whitespace:
            self.column += 1
            self.out.append(" ")
        self.whitespace = False
        self.indention = False
        self.column += len(text)
        self.out.append(text)

    def write_single_quoted(self, text: str, split: bool) -> None:
        if any(ch in _BREAKS for ch in text):
            raise _Unsupported
        self.write_indicator("'", True)
        data = text.replace("'", "''")
        self.column += len(data)
        self.out.append(data)
        self.write_indicator("'", False)

    def write_double_quoted(self, text: str, split: bool) -> None:
        self.write_indicator('"', True)
        out: list[str] = []
        for ch in text:
            if ch in '"\\\x85\u2028\u2029\ufeff' or not (
                    "\x20" <= ch <= "\x7e" or "\xa0" <= ch <= "\ud7ff" or "\ue000" <= ch <= "\ufffd"
                    or "\U00010000" <= ch <= "\U0010ffff"):
                if ch in _ESCAPE_REPLACEMENTS:
                    out.append("\\" + _ESCAPE_REPLACEMENTS[ch])
                elif ch <= "\xff":
                    out.append(f"\\x{ord(ch):02X}")
                elif ch <= "\uffff":
                    out.append(f"\\u{ord(ch):04X}")
                else:
                    out.append(f"\\U{ord(ch):08X}")
            else:
                out.append(ch)
        data = "".join(out)
        self.column += len(data)
        self.out.append(data)
        self.write_indicator('"', False)

    def determine_block_hints(self, text: str) -> tuple[str, int, str]:
        indent = 0
        indicator = ""
        hints = ""
        if text:
            if text[0] in " \n\x85\u2028\u2029":
                indent = 2
                hints += str(indent)
            elif self.root_context:
                raise _Unsupported
            if text[-1] not in _BREAKS:
                indicator = "-"
            elif len(text) == 1 or text[-2] in _BREAKS:
                indicator = "+"
        hints += indicator
        return hints, indent, indicator

    def write_literal(self, text: str) -> None:
        if self.root_context:
            raise _Unsupported
        hints, _indent, indicator = self.determine_block_hints(text)
        self.write_indicator("|" + hints, True)
        if indicator == "+":
            self.open_ended = True
        self.write_line_break()
        breaks = True
        start = end = 0
        while end <= len(text):
            ch = text[end] if end < len(text) else None
            if breaks:
                if ch is None or ch not in _BREAKS:
                    for br in text[start:end]:
                        if br != "\n":
                            raise _Unsupported
                        self.write_line_break()
                    if ch is not None:
                        self.write_indent()
                    start = end
            elif ch is None or ch in _BREAKS:
                self.out.append(text[start:end])
                if ch is None:
                    self.write_line_break()
                start = end
            if ch is not None:
                breaks = ch in _BREAKS
            end += 1


def serialize(root: object, mapping: int, sequence: int, offset: int, explicit_start: bool) -> str | None:
    """One document as ruamel.yaml (width 65536, this indentation) writes it, or None when only ruamel can."""
    try:
        return _Emitter(mapping, sequence, offset).document(root, explicit_start)
    except (_Unsupported, AttributeError):
        return None
