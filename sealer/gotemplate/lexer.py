"""Go text/template's lexer: text, actions between {{ and }}, trim markers ({{- and -}}) and comments."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sealer.gotemplate.values import GoError

KEYWORDS = frozenset({"block", "break", "continue", "define", "else", "end", "if", "range", "nil", "template",
                      "with"})
SPACE = " \t\r\n"


class TemplateSyntaxError(GoError):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.pos = pos


@dataclass(frozen=True)
class Token:
    kind: str  # text, left, right, space, field, var, ident, keyword, bool, number, string, char, dot, pipe,
    #            lparen, rparen, declare, assign, comma, eof
    value: str
    pos: int


_ACTION_TOKENS = re.compile(r"""
    (?P<space>[ \t\r\n]+)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\\n]|\\.)*')
  | (?P<number>[+-]?(?:\d|\.\d)[\w.]*(?:(?<=[eEpP])[+-][\w.]*)*)
  | (?P<field>\.\w+)
  | (?P<var>\$\w*)
  | (?P<ident>[^\W\d]\w*)
  | (?P<dot>\.)
  | (?P<declare>:=)
  | (?P<assign>=)
  | (?P<pipe>\|)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
""", re.VERBOSE)


def lex(text: str) -> list[Token]:
    """All tokens of a template; text between actions already trimmed where a marker asks for it."""
    out: list[Token] = []
    pos, n = 0, len(text)
    trim_next = False
    while pos < n:
        start = text.find("{{", pos)
        end = n if start < 0 else start
        chunk = text[pos:end]
        trim_left = start >= 0 and text.startswith("{{-", start) and start + 3 < n and text[start + 3] in SPACE
        if trim_next:
            chunk = chunk.lstrip(SPACE)
        if trim_left:
            chunk = chunk.rstrip(SPACE)
        if chunk:
            out.append(Token("text", chunk, pos))
        if start < 0:
            break
        pos, trim_next = _action(text, start, trim_left, out)
    out.append(Token("eof", "", n))
    return out


def _action(text: str, start: int, trim_left: bool, out: list[Token]) -> tuple[int, bool]:
    """Tokens of one action from its {{; returns where the text after it starts and whether to trim it."""
    pos = start + (4 if trim_left else 2)
    if text.startswith("/*", pos):
        close = text.find("*/", pos + 2)
        if close < 0:
            raise TemplateSyntaxError("unclosed comment", start)
        after = close + 2
        if text.startswith(" -}}", after) or text.startswith("\t-}}", after) or text.startswith("\n-}}", after) \
                or text.startswith("\r-}}", after):
            return after + 4, True
        if text.startswith("}}", after):
            return after + 2, False
        raise TemplateSyntaxError("comment ends before closing delimiter", start)
    out.append(Token("left", "{{", start))
    depth = 0
    n = len(text)
    while True:
        if pos >= n:
            raise TemplateSyntaxError("unclosed action", start)
        space = pos
        while space < n and text[space] in SPACE:
            space += 1
        if space > pos and text.startswith("-}}", space):
            out.append(Token("right", "}}", space))
            return space + 3, True
        if text.startswith("}}", pos):
            if depth:
                raise TemplateSyntaxError("unclosed left paren", pos)
            out.append(Token("right", "}}", pos))
            return pos + 2, False
        m = _ACTION_TOKENS.match(text, pos)
        if not m:
            ch = text[pos]
            raise TemplateSyntaxError(f"unexpected character {ch!r} in action" if ch.isprintable() or ch == " "
                                      else "unexpected character in action", pos)
        kind = m.lastgroup or ""
        value = m.group()
        if kind == "raw":
            kind = "string"
        elif kind == "ident":
            kind = "bool" if value in ("true", "false") else "keyword" if value in KEYWORDS else "ident"
        elif kind == "number" and pos + len(value) < n and (text[pos + len(value)].isalnum()):
            raise TemplateSyntaxError("bad number syntax", pos)
        if kind == "lparen":
            depth += 1
        elif kind == "rparen":
            depth -= 1
            if depth < 0:
                raise TemplateSyntaxError("unexpected right paren", pos)
        if kind == "field" and pos + len(value) < n and text[pos + len(value)] in "$'\"`":
            raise TemplateSyntaxError("bad character after field", pos)
        out.append(Token(kind, value, pos))
        pos += len(value)
