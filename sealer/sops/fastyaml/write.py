"""The writer: a transcription of the block-style parts of ruamel.yaml's Emitter (ruamel/yaml/emitter.py, MIT
licence): same state variables, same decisions, same scalar analysis and scalar writers. `sealer.sops.emit`
subclasses it with linear-time analysis and writers.
"""

from __future__ import annotations

from sealer.sops.fastyaml import Unsupported
from sealer.sops.nodes import MAP_TAG, SEQ_TAG, STR_TAG, Node, ScalarNode, implicit_tag


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
_MAX_COLUMN = 60000  # a scalar past this column goes to `emit`'s writers (linear time on long lines)


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
            raise Unsupported  # ruamel's nodes (files only ruamel could read), anchors, comments
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
                raise Unsupported
            if not node.value:  # type: ignore[attr-defined]
                self.empty_flow(*("[]" if sequence else "{}"), sequence=sequence)
            elif self.flow_level or node.flow_style:  # type: ignore[attr-defined]
                raise Unsupported  # block style only: anything else goes to ruamel
            elif sequence:
                self.block_sequence(node)
            else:
                self.block_mapping(node)
        else:
            raise Unsupported

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
                raise Unsupported
            analysis = self.analyze(key.value)
            if not self._simple_key(key, analysis):
                raise Unsupported
            self.node(key, mapping=True, simple_key=True, analysis=analysis)
            self.write_indicator(":", False)
            self.node(value, mapping=True)
        self.indent = self.indents.pop()[0]

    @staticmethod
    def _simple_key(key: ScalarNode, analysis: _Analysis) -> bool:
        """check_simple_key for a scalar key; the emitter's chosen style is still unset at that point."""
        tag = key.tag
        if not isinstance(tag, str) or not tag.startswith("tag:yaml.org,2002:"):
            raise Unsupported
        length = len(analysis.scalar) + 2 + len(tag) - len("tag:yaml.org,2002:")  # the prepared tag, "!!str"
        return length < 128 and not analysis.multiline

    def scalar(self, node: ScalarNode, analysis: _Analysis | None) -> None:
        value, tag, style = node.value, node.tag, node.style
        if not isinstance(value, str) or not isinstance(tag, str):
            raise Unsupported
        if analysis is None:
            analysis = self.analyze(value)
        implicit = (tag == implicit_tag(value), tag == STR_TAG, tag.startswith("tag:yaml.org,2002:"))
        chosen = self.choose_scalar_style(value, style, implicit, analysis)
        if not ((chosen == "" and implicit[0]) or (chosen != "" and implicit[1])):
            raise Unsupported  # ruamel would write the tag
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
            raise Unsupported
        if self.column > self.max_column:
            raise Unsupported
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
            raise Unsupported
        if not self.whitespace:
            self.column += 1
            self.out.append(" ")
        self.whitespace = False
        self.indention = False
        self.column += len(text)
        self.out.append(text)

    def write_single_quoted(self, text: str, split: bool) -> None:
        if any(ch in _BREAKS for ch in text):
            raise Unsupported
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
                raise Unsupported
            if text[-1] not in _BREAKS:
                indicator = "-"
            elif len(text) == 1 or text[-2] in _BREAKS:
                indicator = "+"
        hints += indicator
        return hints, indent, indicator

    def write_literal(self, text: str) -> None:
        if self.root_context:
            raise Unsupported
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
                            raise Unsupported
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
    except (Unsupported, AttributeError):
        return None
