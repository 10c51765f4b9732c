"""Writing YAML in time linear in its size: ruamel.yaml's scalar analysis and scalar writers, over whole strings.

ruamel.yaml's Emitter (and `fastyaml`'s transcription of it) looks at a scalar one character at a time in Python:
the analysis that picks a style, then the writer that quotes, escapes and folds it: `sealer encrypt` of a 50 MB
Secret took 43-102 s (issue 13). Here the same decisions are made with regular expressions and `str` methods
over the whole string, and the writers copy long stretches at once, stepping character by character only where
ruamel would fold a line (past its width: never in sealer, whose width is unlimited as sops'; tests use small
ones) or around what it escapes. The output is ruamel's, byte for byte, in every case; nothing here chooses differently.
tests/test_sops_emit.py compares both on generated scalars at small widths, where every folding rule is exercised.

Two users:

- `serialize`: `fastyaml`'s block-style emitter (the trees sealer builds and plain files) with these analysis and
  writers; without `fastyaml`'s limit on long lines, since the writers fold as ruamel does.
- `ruamel_emitter()`: ruamel.yaml's round-trip Emitter with the same analysis and writers, for the files only
  ruamel.yaml can write (comments, anchors, flow collections, ...). Cases these writers do not cover (a root
  scalar, a comment after a block indicator, a plain or single-quoted scalar holding a line break, folded
  scalars, `allow_unicode` off, YAML 1.1) go to ruamel's own methods.

One exception, on purpose: a file in sops' layout (`GO_LAYOUT`, indent 4) is written with go-yaml v3's layout
and escapes (`_GoEmitter`, `ruamel_emitter(go=True)`), the bytes `sops decrypt` prints; `go_string_style` is
go-yaml's choice of style for a string value (tests/test_sops_fidelity.py checks both against the real sops).
"""

from __future__ import annotations

import re

from sealer.sops.fastyaml import Unsupported, write

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

WIDTH = 1 << 40  # the line width sealer gives ruamel.yaml (stores.yaml._ruamel): none, as go-yaml in sops folds
# no line (a value longer than a width would move to a line of its own, which sops never writes)

_SOB = "\0 \t\r\n\x85\u2028\u2029"  # ruamel's "space or break" (and NUL, which ends a stream)
_BREAKS = "\n\x85\u2028\u2029"
# not printable for an emitter with allow_unicode (BOM included), a line feed excepted
class _Lazy:
    """A regex compiled on first use: the three with wide Unicode classes cost ~5 ms to compile, a third of a
    one-file decrypt, and most files (ASCII, nothing double-quoted) never need them."""

    __slots__ = ("_compiled", "_pattern")

    def __init__(self, pattern: str) -> None:
        self._pattern = pattern
        self._compiled: re.Pattern[str] | None = None

    def __getattr__(self, name: str) -> Any:
        if self._compiled is None:
            self._compiled = re.compile(self._pattern)
        return getattr(self._compiled, name)


_SPECIAL = _Lazy("[^\n\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|\ufeff")
_SPECIAL_ASCII = re.compile("[^\n\x20-\x7e]")
_COLON_BEFORE_SPACE = re.compile(f":(?:[{_SOB}]|\\Z)")
_HASH_AFTER_SPACE = re.compile(f"[{_SOB}]#")
_BREAK_SPACE = re.compile("[\n\x85\u2028\u2029] ")
_SPACE_BREAK = re.compile(" [\n\x85\u2028\u2029]")
_SPACES = re.compile(" +")
# what the double-quoted writer escapes (allow_unicode), and that or a space: where it may have something to do
_DQ_ESCAPE = _Lazy('["\\\\\x85\u2028\u2029\ufeff]|[^\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]')
_DQ_EVENT = _Lazy('[ "\\\\\x85\u2028\u2029\ufeff]|[^\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]')
_ESCAPE_REPLACEMENTS = {
    "\0": "0", "\x07": "a", "\x08": "b", "\x09": "t", "\x0a": "n", "\x0b": "v", "\x0c": "f", "\x0d": "r",
    "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_", "\u2028": "L", "\u2029": "P",
}


def _escape(ch: str) -> str:
    code = _ESCAPE_REPLACEMENTS.get(ch)
    if code is not None:
        return "\\" + code
    if ch <= "\xff":
        return f"\\x{ord(ch):02X}"
    if ch <= "\uffff":
        return f"\\u{ord(ch):04X}"
    return f"\\U{ord(ch):08X}"


def _escape_match(m: re.Match[str]) -> str:
    return _escape(m.group())


# what the double-quoted writer escapes, replaced one character at a time (backslash first: the others' escapes
# bring backslashes in): quotes, the ASCII and C1 controls, the Unicode line breaks and the BOM; the rest (surrogates,
# U+FFFE, U+FFFF) by the regular expression
_SHORT_ESCAPES = [("\\", "\\\\"), ('"', '\\"')] + [
    (ch, _escape(ch)) for ch in map(chr, [*range(0x20), *range(0x7f, 0xa0), 0x2028, 0x2029, 0xfeff])]


def _dq_escape(text: str) -> str:
    """``text`` as the double-quoted writer writes its characters (before any line folding)."""
    if _no_escape(text):
        return text
    out = text
    for ch, escaped in _SHORT_ESCAPES:
        if ch in out:
            out = out.replace(ch, escaped)
    if out.isprintable():  # nothing left that needs a numeric escape
        return out
    return _DQ_ESCAPE.sub(_escape_match, text)


def _last_escape_end(text: str) -> int:
    """The index after the last character of ``text`` that the double-quoted writer escapes (0: none)."""
    end = max(text.rfind(ch) for ch, _ in _SHORT_ESCAPES) + 1
    tail = text[end:]
    if _no_escape(tail):
        return end
    return end + max((m.end() for m in _DQ_ESCAPE.finditer(tail)), default=0)


# --- analysis ----------------------------------------------------------------------------------------------------

def _has_break(text: str) -> bool:
    return "\n" in text or (not text.isascii() and ("\x85" in text or "\u2028" in text or "\u2029" in text))


def _has_non_nl_break(text: str) -> bool:
    return not text.isascii() and ("\x85" in text or "\u2028" in text or "\u2029" in text)


def _has_special(text: str, line_breaks: bool) -> bool:
    """A character ruamel.yaml only writes escaped. Printable characters (str.isprintable, a line feed aside)
    never are; otherwise the exact test."""
    if (text.replace("\n", " ") if line_breaks else text).isprintable():
        return False
    return (_SPECIAL_ASCII if text.isascii() else _SPECIAL).search(text) is not None


def _no_escape(text: str) -> bool:
    """Nothing in ``text`` that the double-quoted writer escapes (a quick sufficient test)."""
    return text.isprintable() and '"' not in text and "\\" not in text


def scalar_flags(scalar: str) -> tuple[bool, bool, bool, bool, bool, bool, bool]:
    """ruamel.yaml Emitter.analyze_scalar (YAML 1.2, allow_unicode) as (empty, multiline, allow_flow_plain,
    allow_block_plain, allow_single_quoted, allow_double_quoted, allow_block), without a per-character loop."""
    if not scalar:
        return True, False, False, True, True, True, False
    first = scalar[0]
    followed = len(scalar) == 1 or scalar[1] in _SOB  # the first character is followed by a space or the end
    block_indicators = flow_indicators = scalar.startswith(("---", "..."))
    if first in "#,[]{}&*!|>'\"%@`" or (first == "-" and followed):
        flow_indicators = block_indicators = True
    elif first in "?:":
        if len(scalar) == 1:
            flow_indicators = True
        if followed:
            block_indicators = True
    if (":" in scalar and _COLON_BEFORE_SPACE.search(scalar, 1)) or \
            ("#" in scalar and _HASH_AFTER_SPACE.search(scalar)):
        flow_indicators = block_indicators = True
    elif not flow_indicators and any(scalar.find(ch, 1) > 0 for ch in ",[]{}"):
        flow_indicators = True
    line_breaks = _has_break(scalar)
    special = _has_special(scalar, line_breaks)
    last = scalar[-1]
    leading = first == " " or first in _BREAKS
    trailing_space = last == " "
    trailing = trailing_space or last in _BREAKS
    break_space = space_break = False
    if line_breaks:
        if scalar.isascii():
            break_space, space_break = "\n " in scalar, " \n" in scalar
        else:
            break_space = _BREAK_SPACE.search(scalar) is not None
            space_break = _SPACE_BREAK.search(scalar) is not None

    flow_plain = block_plain = single = block = True
    if leading or trailing:
        flow_plain = block_plain = False
    if trailing_space:
        block = False
    if break_space:
        flow_plain = block_plain = single = False
    if special:
        flow_plain = block_plain = single = block = False
    elif space_break:
        flow_plain = block_plain = single = block = False  # allow_space_break is off
    if line_breaks:
        flow_plain = block_plain = False
    if flow_indicators:
        flow_plain = False
    if block_indicators:
        block_plain = False
    return False, line_breaks, flow_plain, block_plain, single, True, block


def analyze_scalar(scalar: str) -> write._Analysis:
    """The analysis `fastyaml.write.analyze_scalar` gives (ruamel's), in linear time."""
    return write._Analysis(scalar, *scalar_flags(scalar))


# --- go-yaml v3 (sops) ---------------------------------------------------------------------------------------------
# sops prints every value through go-yaml v3 (`yaml.Node.Encode`, then the emitter): the style of a string is
# go-yaml's choice, not ruamel's. go-yaml's `is_printable` leaves out what ruamel allows: characters beyond the
# BMP, NEL, U+FFFE/U+FFFF; go-yaml also keeps tabs out of plain and single-quoted scalars.

_GO_SPECIAL = _Lazy("[^\n\t\x20-\x7e\xa0-\ud7ff\ue000-\ufffd]|\ufeff")
_GO_BREAKS = "\r\n\x85\u2028\u2029"
_GO_BREAK = _Lazy("[\r\n\x85\u2028\u2029]")
_GO_BREAK_SPACE = _Lazy("[\r\n\x85\u2028\u2029] ")
_GO_SPACE_BREAK = _Lazy(" [\r\n\x85\u2028\u2029]")
_GO_BLANK = " \t\0\r\n\x85\u2028\u2029"
_BASE60 = _Lazy(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_OLD_BOOL = frozenset(["y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off",
                       "OFF"])


def go_flags(text: str) -> tuple[bool, bool, bool, bool]:
    """go-yaml v3's yaml_emitter_analyze_scalar in block context: (multiline, block_plain_allowed,
    single_quoted_allowed, block_allowed)."""
    if not text:
        return False, True, True, False
    block_ind = text.startswith(("---", "..."))
    first = text[0]
    followed = len(text) == 1 or text[1] in _GO_BLANK
    if first in "#,[]{}&*!|>'\"%@`" or (first in "?:-" and followed):
        block_ind = True
    if (":" in text and re.search(f":(?:[{_GO_BLANK}]|\\Z)", text[1:])) or \
            ("#" in text and re.search(f"[{_GO_BLANK}]#", text)):
        block_ind = True
    line_breaks = _GO_BREAK.search(text) is not None
    tabs = "\t" in text
    special = _GO_SPECIAL.search(text) is not None if not text.isascii() or not text.isprintable() else False
    leading = first == " " or first in _GO_BREAKS
    trailing_space = text[-1] == " "
    trailing = trailing_space or text[-1] in _GO_BREAKS
    break_space = line_breaks and _GO_BREAK_SPACE.search(text) is not None
    space_break = line_breaks and _GO_SPACE_BREAK.search(text) is not None
    plain = single = block = True
    if leading or trailing:
        plain = False
    if trailing_space:
        block = False
    if break_space:
        plain = single = False
    if space_break or tabs or special:
        plain = single = False
    if space_break or special:
        block = False
    if line_breaks or block_ind:
        plain = False
    return line_breaks, plain, single, block


def go_string_style(text: str, plain_ok: bool) -> str | None:
    """The style go-yaml v3 writes a string value in, as sops prints it: None (plain), "'", '"' or "|".

    ``plain_ok``: the text read back plain is still this string (go-yaml's `resolve`, no YAML 1.1 boolean or
    base-60 number): the caller decides it, with the resolver it trusts."""
    _multiline, plain, single, block = go_flags(text)
    if "\n" in text:
        return "|" if block else '"'
    if not plain_ok or _BASE60.match(text) or text in _OLD_BOOL:
        return '"'
    if plain:
        return None
    return "'" if single else '"'


_GO_DQ_ESCAPE = _Lazy('["\\\\\r\n\x85\u2028\u2029\ufeff]|[^\x20-\x7e\xa0-\ud7ff\ue000-\ufffd]')


def go_double_quoted(text: str) -> str | None:
    """The body of a double-quoted scalar as go-yaml writes it, when that differs from ruamel's (which keeps
    characters beyond the BMP); None otherwise. go-yaml checks for a byte order mark at the start of the whole
    value, not at each character, so a value that starts with one is escaped through and through, as sops
    prints it."""
    if text.startswith("\ufeff"):
        return "".join(_escape(ch) if ch != " " else "\\x20" for ch in text)
    if text.isascii() or not any(ch > "\uffff" for ch in text):
        return None
    return _GO_DQ_ESCAPE.sub(lambda m: _escape(m.group()), text)


# --- writers -----------------------------------------------------------------------------------------------------

class _ScalarWriters:
    """The bodies of ruamel.yaml's plain, single-quoted, double-quoted and literal writers. The host provides the
    emitter state ruamel's writers use (column, whitespace, indention, indent, best_width, write_indent,
    write_indicator) and `_put` to append text."""

    column: int
    whitespace: bool
    indention: bool
    indent: int | None
    best_width: int

    if TYPE_CHECKING:
        def _put(self, data: str) -> None: ...

        def write_indent(self) -> None: ...

    def _plain_body(self, text: str, split: bool) -> None:
        """Emitter.write_plain after its root-context preamble, for a non-empty text without line breaks.

        ruamel writes words (runs of non-spaces) and runs of spaces: a word whose end would pass the width moves
        to a new line (unless the line holds nothing but indentation), a single space at or past the width becomes
        the line break. A run that ends within the width is therefore written unchanged, so everything up to the
        last run boundary within the width is copied at once."""
        if not self.whitespace:
            self.column += 1
            self._put(" ")
        self.whitespace = False
        self.indention = False
        width = self.best_width
        n = len(text)
        if text[0] == " " and self.column > width and self.indent is not None and self.column > self.indent:
            self.write_indent()  # the empty word before leading spaces
        pos = 0
        while pos < n:
            limit = pos + width - self.column  # where the column would reach the width
            if limit >= n:
                cut = n
            elif limit <= pos:
                cut = pos
            elif (text[limit - 1] == " ") != (text[limit] == " "):
                cut = limit
            elif text[limit] == " ":
                cut = pos + len(text[pos:limit].rstrip(" "))
            else:
                cut = text.rfind(" ", pos, limit) + 1 or pos
            if cut > pos:
                self._put(text[pos:cut])
                self.column += cut - pos
                pos = cut
                if pos >= n:
                    break
            # the run at pos ends past the width
            if text[pos] == " ":
                end = _SPACES.match(text, pos).end()  # type: ignore[union-attr]
                if end == pos + 1 and self.column >= width and split:
                    self.write_indent()
                    self.whitespace = False
                    self.indention = False
                else:
                    self._put(text[pos:end])
                    self.column += end - pos
            else:
                end = text.find(" ", pos)
                if end < 0:
                    end = n
                if end - pos + self.column > width and self.indent is not None and self.column > self.indent:
                    self.write_indent()
                self._put(text[pos:end])
                self.column += end - pos
            pos = end

    def _single_quoted_body(self, text: str, split: bool) -> None:
        """Emitter.write_single_quoted between the quotes, for a text without line breaks: `'` doubled, and a
        single space (not the first or last character) after the width passed becomes the line break."""
        width = self.best_width
        n = len(text)
        pos = 0
        while pos < n:
            room = width - self.column
            copied = False
            while room > 0:  # the longest stretch that stays within the width, copied at once
                end = min(n, pos + room)
                if end < n:
                    end = pos + len(text[pos:end].rstrip(" "))  # a run of spaces is judged whole, below
                if end == pos:
                    break
                data = text[pos:end].replace("'", "''")
                if self.column + len(data) <= width:  # no space in it can be past the width
                    self._put(data)
                    self.column += len(data)
                    pos = end
                    copied = True
                    break
                room //= 2
            if copied:
                continue
            # the run at pos: words are never broken; a single space past the width becomes the line break
            if text[pos] == " ":
                end = _SPACES.match(text, pos).end()  # type: ignore[union-attr]
                if end == pos + 1 and self.column > width and split and pos != 0 and end != n:
                    self.write_indent()
                else:
                    self._put(text[pos:end])
                    self.column += end - pos
            else:
                end = text.find(" ", pos)
                if end < 0:
                    end = n
                data = text[pos:end].replace("'", "''")
                self._put(data)
                self.column += len(data)
            pos = end

    def _double_quoted_body(self, text: str, split: bool) -> None:
        """Emitter.write_double_quoted between the quotes.

        ruamel's loop keeps `start` (the first character not yet written) and its column; it writes at an escape
        and may break the line (with or without a trailing backslash) at a space or just after an escape once
        column + pending passes the width. `vc` below is that sum before the character at `pos`, and the check at
        a character is made with the sum after it, less one. While the whole of a stretch, escaped, keeps the sum
        within width + 1 nothing can break, so the stretch is escaped at once; elsewhere the loop is followed
        event by event (spaces, escapes, the character after one), skipping the characters in between."""
        width = self.best_width
        n = len(text)
        column = self.column
        start = pos = written = 0
        cache = {" ": -1, "\n": -1, '"': -1, "'": -1}  # next occurrence at or after a position (n: none)

        def nxt(ch: str, at: int) -> int:
            got = cache[ch]
            if got < at:
                got = text.find(ch, at)
                got = n if got < 0 else got
                cache[ch] = got
            return got

        def emit_to(k: int) -> None:
            nonlocal written
            if k > written:
                self._put(_dq_escape(text[written:k]))
                written = k

        while pos < n:
            vc = column + pos - start
            budget = room = width + 1 - vc
            while room > 0:
                end = min(n, pos + room)
                chunk = text[pos:end]
                escaped = _dq_escape(chunk)
                if len(escaped) <= budget:
                    if len(escaped) != len(chunk):  # ruamel wrote up to and with the last escape
                        last = _last_escape_end(chunk)
                        column = vc + len(escaped) - (end - pos - last)
                        start = pos + last
                    emit_to(pos)  # the characters before it that are still pending
                    self._put(escaped[written - pos:])  # (less a space dropped at a line break)
                    written = pos = end
                    break
                room = room * budget // len(escaped)  # escapes make it longer: try a proportionally shorter one
            if pos >= n:
                break
            if start < pos and text[pos] != " " and not _DQ_ESCAPE.match(text, pos):
                m = _DQ_EVENT.search(text, pos)  # nothing happens before it: those characters are pending
                if m is None:
                    break
                pos = m.start()
                continue
            # one step of ruamel's loop at pos
            ch = text[pos]
            if _DQ_ESCAPE.match(ch):
                if start < pos:
                    column += pos - start
                emit_to(pos)
                data = _escape(ch)
                self._put(data)
                written = pos + 1
                column += len(data)
                start = pos + 1
            if 0 < pos < n - 1 and (ch == " " or start >= pos) and column + (pos - start) > width and split:
                need_backslash = True
                try:
                    space_pos = nxt(" ", pos)
                    if space_pos >= n:
                        raise ValueError
                    newline = nxt("\n", pos)
                    if newline < space_pos:
                        space_pos = newline
                    if text[space_pos] == "\n" and text[space_pos + 1] != " ":
                        pass
                    elif (nxt('"', pos) >= space_pos and nxt("'", pos) >= space_pos
                          and text[space_pos + 1] not in " \n" and text[pos - 1: pos + 1] != "  " and start != pos):
                        need_backslash = False
                except (ValueError, IndexError):
                    pass
                if start < pos:
                    column += pos - start
                emit_to(pos)
                if need_backslash:
                    self._put("\\")
                    column += 1
                if start < pos:
                    start = pos
                self.column = column
                self.write_indent()
                self.whitespace = False
                self.indention = False
                column = self.column
                if text[start] == " ":
                    if not need_backslash:
                        start += 1
                        written = max(written, start)
                    else:
                        self._put("\\")
                        column += 1
            pos += 1
        if start < n:
            column += n - start
        emit_to(n)
        self.column = column

    def _literal_body(self, text: str) -> None:
        """Emitter.write_literal after the indicator and its line break, for text whose only breaks are `\\n`
        and not at the root: each non-empty line at the indent, every line ended."""
        indent = " " * (self.indent or 0)
        lines = text.split("\n")
        data = "\n".join([indent + line if line else "" for line in lines])
        if lines[-1]:
            data += "\n"
        if data:
            self._put(data)
        self._line_breaks(data.count("\n"))
        self.column = 0
        self.whitespace = True
        self.indention = True

    def _line_breaks(self, count: int) -> None:
        """Line breaks written without write_line_break (ruamel counts them)."""


# --- sealer's block emitter (fastyaml's, with these writers) -------------------------------------------------------

class _Emitter(_ScalarWriters, write._Emitter):
    def __init__(self, mapping: int, sequence: int, offset: int, width: int) -> None:
        super().__init__(mapping, sequence, offset)
        self.best_width = width

    analyze = staticmethod(analyze_scalar)  # fastyaml's block_mapping and scalar, with the linear analysis
    max_column = 1 << 62  # the writers fold long lines as ruamel does: no need to hand them to ruamel

    def _put(self, data: str) -> None:
        self.out.append(data)

    def write_plain(self, text: str, split: bool = True) -> None:  # type: ignore[override]
        if self.root_context:
            self.open_ended = True
        if not text:
            return
        if _has_break(text):
            raise Unsupported
        self._plain_body(text, split)

    def write_single_quoted(self, text: str, split: bool) -> None:
        if _has_break(text):
            raise Unsupported
        self.write_indicator("'", True)
        self._single_quoted_body(text, split)
        self.write_indicator("'", False)

    go_escapes = False  # go-yaml's escapes in double-quoted scalars (`_GoEmitter`)

    def write_double_quoted(self, text: str, split: bool) -> None:
        self.write_indicator('"', True)
        go = go_double_quoted(text) if self.go_escapes else None
        if go is None:
            self._double_quoted_body(text, split)
        else:
            self._put(go)
            self.column += len(go)
        self.write_indicator('"', False)

    def write_literal(self, text: str) -> None:
        if self.root_context or _has_non_nl_break(text):
            raise Unsupported
        hints, _indent, indicator = self.determine_block_hints(text)
        self.write_indicator("|" + hints, True)
        if indicator == "+":
            self.open_ended = True
        self.write_line_break()
        self._literal_body(text)


class _GoEmitter(_Emitter):
    """go-yaml v3's block layout at sops' indent (`Encoder.SetIndent(4)`), which ruamel's three settings cannot
    express: a collection is indented to the next multiple of the indent, except directly inside a list item,
    where it starts just after the `- `; lists are never indentless; `[]` / `{}` stay on the key's line; a block
    scalar's indentation hint is the indent itself; double-quoted scalars escape what go-yaml escapes."""

    go_escapes = True

    def increase_indent(self, flow: bool = False, sequence: bool | None = None, indentless: bool = False) -> None:
        self.indents.append((self.indent, sequence))
        step = self.best_map_indent
        if self.indent is None:
            self.indent = step if flow else 0
        elif self.sequence_context:
            self.indent += 2  # the first indent inside a list item only skips the "- "
        else:
            self.indent = step * ((self.indent + step) // step)

    def empty_flow(self, start: str, end: str, sequence: bool) -> None:
        self.write_indicator(start, True, whitespace=True)
        self.write_indicator(end, False)

    def block_sequence(self, node: object) -> None:
        self.increase_indent(flow=False, sequence=True)
        for item in node.value:  # type: ignore[attr-defined]
            self.write_indent()
            self.write_indicator("-", True, indention=True)
            self.node(item, sequence=True)
        self.indent = self.indents.pop()[0]

    def determine_block_hints(self, text: str) -> tuple[str, int, str]:
        hints, indent, indicator = super().determine_block_hints(text)
        if indent:
            hints = str(self.best_map_indent) + hints[1:]
        return hints, indent, indicator


GO_LAYOUT = (4, 6, 4)  # (mapping, sequence, offset) as `stores.yaml` detects the layout of a file sops wrote


def serialize(root: object, mapping: int, sequence: int, offset: int, explicit_start: bool,
              width: int = WIDTH, go: bool | None = None) -> str | None:
    """One document as ruamel.yaml (this width and indentation) writes it, or None when only ruamel can
    (comments, anchors, explicit tags, non-empty flow collections, ruamel's own nodes: see `fastyaml`).
    In sops' own layout (`GO_LAYOUT`), or with ``go``, as go-yaml writes it instead: the bytes sops prints."""
    if go is None:
        go = (mapping, sequence, offset) == GO_LAYOUT
    cls = _GoEmitter if go else _Emitter
    try:
        return cls(mapping, sequence, offset, width).document(root, explicit_start)
    except (Unsupported, AttributeError):
        return None


# --- ruamel.yaml's emitter with these writers ----------------------------------------------------------------------

_ruamel_classes: dict[bool, Any] = {}


def ruamel_emitter(go: bool = False) -> Any:
    """A ruamel.yaml round-trip Emitter class (for `YAML.Emitter`) using this analysis and these writers; with
    ``go``, double-quoted scalars escape what go-yaml escapes (files in sops' layout)."""
    if go not in _ruamel_classes:
        from ruamel.yaml.emitter import RoundTripEmitter, ScalarAnalysis
        from ruamel.yaml.events import SequenceEndEvent

        class Emitter(_ScalarWriters, RoundTripEmitter):
            def _fast(self) -> bool:
                return (self.allow_unicode and self.unicode_supplementary and not self.encoding
                        and not self.root_context and self.best_line_break == "\n")

            def _put(self, data: str) -> None:
                self.stream.write(data)

            def _line_breaks(self, count: int) -> None:
                self.line += count

            def analyze_scalar(self, scalar: Any) -> Any:
                if not (self.allow_unicode and self.unicode_supplementary) or self.allow_space_break or \
                        self.serializer.use_version == (1, 1):
                    return super().analyze_scalar(scalar)
                empty, multiline, flow_plain, block_plain, single, double, block = scalar_flags(scalar)
                return ScalarAnalysis(scalar=scalar, empty=empty, multiline=multiline, allow_flow_plain=flow_plain,
                                      allow_block_plain=block_plain, allow_single_quoted=single,
                                      allow_double_quoted=double, allow_block=block)

            def write_plain(self, text: Any, split: Any = True) -> None:
                if not text or not self._fast() or _has_break(text):
                    return super().write_plain(text, split)
                self._plain_body(text, split)

            def write_single_quoted(self, text: Any, split: Any = True) -> None:
                if not self._fast() or _has_break(text):
                    return super().write_single_quoted(text, split)
                self.write_indicator("'", True)
                self._single_quoted_body(text, split)
                self.write_indicator("'", False)

            def write_double_quoted(self, text: Any, split: Any = True) -> None:
                if not self._fast():
                    return super().write_double_quoted(text, split)
                self.write_indicator('"', True)
                escaped = go_double_quoted(text) if go else None
                if escaped is None:
                    self._double_quoted_body(text, split)
                else:
                    self._put(escaped)
                    self.column += len(escaped)
                self.write_indicator('"', False)

            def choose_scalar_style(self) -> Any:
                ctag = getattr(self.event, "ctag", None)
                if self.event.value == "" and getattr(ctag, "handle", None) == "!!" \
                        and str(self.event.tag) == "tag:yaml.org,2002:str":
                    return '"'  # `!!str ""`: ruamel writes nothing (its issue 449), which reads as null; go-yaml `""`
                return super().choose_scalar_style()

            def write_literal(self, text: Any, comment: Any = None) -> None:
                if (isinstance(comment, str) and comment) or not self._fast() or _has_non_nl_break(text):
                    return super().write_literal(text, comment)
                hints, _indent, indicator = self.determine_block_hints(text)
                self.write_indicator("|" + hints, True)
                if indicator == "+":
                    self.open_ended = True
                self.write_line_break()
                self._literal_body(text)

        if go:
            class GoEmitter(Emitter):
                """go-yaml's block layout at sops' indent (see `_GoEmitter`), for trees only ruamel can write."""

                def __init__(self, *args: Any, **kwargs: Any) -> None:
                    super().__init__(*args, **kwargs)
                    align = self.indents.seq_flow_align
                    self.indents.seq_flow_align = (  # `[]` / `{}` right after a dash: no alignment spaces
                        lambda seq_indent, column, pre_comment=False:
                        align(seq_indent, column, pre_comment) if pre_comment else 0)

                def increase_indent(self, flow: bool = False, sequence: Any = None, indentless: bool = False) -> None:
                    self.indents.append(self.indent, sequence)
                    step = self.best_map_indent
                    if self.indent is None:
                        self.indent = self.requested_indent if flow else 0
                    elif self.sequence_context:
                        self.indent += 2
                    else:
                        self.indent = step * ((self.indent + step) // step)

                def determine_block_hints(self, text: Any) -> Any:
                    hints, indent, indicator = super().determine_block_hints(text)
                    if indent and hints[:1].isdigit():
                        hints = str(self.best_map_indent) + hints[1:]
                    return hints, indent, indicator

                def expect_block_sequence(self) -> None:
                    self.increase_indent(flow=False, sequence=True)
                    self.state = self.expect_first_block_sequence_item

                def expect_block_sequence_item(self, first: bool = False) -> None:
                    if first or not isinstance(self.event, SequenceEndEvent):
                        if self.event.comment and self.event.comment[1]:
                            self.write_pre_comment(self.event)
                        nonl = self.no_newline if self.column == 0 else False
                        self.write_indent()
                        self.write_indicator("-", True, indention=True)  # ruamel's, with no dash offset
                        if nonl or self.best_sequence_indent < 2:
                            self.no_newline = True
                        self.states.append(self.expect_block_sequence_item)
                        self.expect_node(sequence=True)
                        return
                    super().expect_block_sequence_item(first)

            Emitter = GoEmitter
        _ruamel_classes[go] = Emitter
    return _ruamel_classes[go]
