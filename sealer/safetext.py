"""Text from input made safe to print: no terminal sequence, no forged line, no CI workflow command.

Names, keys and paths read from files (and a few from the command line) reach error messages, lint reports and
the controller's logs, Events and status. Printed raw, an ESC starts a terminal control sequence (colours,
window titles, cursor moves, OSC 8 links), a CR or LF starts what looks like a new log line, and a line that
starts with `::error ...` (GitHub Actions), or holds `##[error]` / `##vso[...]` anywhere (the Actions runner's
legacy syntax, Azure Pipelines), is executed by the CI runner as a workflow command. `printable` escapes:

- C0 controls (TAB, LF and CR too), DEL and C1 controls: `\\t`, `\\n`, `\\r`, `\\xNN`;
- Unicode line and paragraph separators and the bidirectional controls (Trojan Source: text that displays
  in another order than it reads): `\\uNNNN`;
- lone surrogates (undecodable bytes of a file name): `\\udcNN`, so printing them cannot fail;
- `::` at the start (after blanks), as `\\x3a:`, and `##` before `[` or `vso[`, as `#\\x23`.

Backslashes are left alone (Windows paths, regexes stay readable), so an escape in the output may also have
been typed literally: output can be misread by a person, never executed. The result is one line of the same
meaning; it is idempotent, so text escaped twice reads the same.
"""

from __future__ import annotations

import re

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
# C0, DEL, C1; ALM; LRM, RLM; LS, PS, LRE..RLO (U+2028-U+202E); LRI..PDI; surrogates
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_LEGACY_COMMAND = re.compile(r"(?<=#)#(?=\[|vso\[)", re.IGNORECASE)
_LEADING_COMMAND = re.compile(r"^(\s*):(?=:)")


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` as one line that no terminal, log reader or CI runner acts on (see the module docstring)."""
    text = _UNSAFE.sub(_escape, text)
    if "##" in text:
        text = _LEGACY_COMMAND.sub(r"\\x23", text)
    if "::" in text:
        text = _LEADING_COMMAND.sub(r"\1\\x3a", text)
    return text


def printable_lines(text: str) -> str:
    """Each line of ``text`` made printable, the line breaks kept: for text meant to span lines (a traceback,
    a note of several lines) whose lines may hold input."""
    return "\n".join(printable(line) for line in text.split("\n"))


# what `json.dumps(ensure_ascii=False)` leaves raw that `printable` escapes (it escapes C0 itself): DEL, C1, ALM,
# LRM, RLM, LS..RLO, LRI..PDI, surrogates
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def json_printable(text: str) -> str:
    """JSON text (from ``json.dumps(..., ensure_ascii=False)``) with the characters `printable` escapes written as
    JSON ``\\uNNNN`` escapes: the same document to a JSON reader, nothing a terminal or CI log acts on. They can only
    be inside strings (JSON's own syntax is ASCII), so escaping them never changes the structure."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
