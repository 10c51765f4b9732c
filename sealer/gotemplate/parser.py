"""Go text/template's parser: the node tree, with Go's parse-time checks (functions known, variables declared,
{{break}} inside {{range}}, one definition per template name)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field

from sealer.gotemplate.lexer import TemplateSyntaxError, Token, lex

# --- nodes ----------------------------------------------------------------------------------------------

@dataclass
class Node:
    pos: int


@dataclass
class Text(Node):
    text: str


@dataclass
class Field(Node):
    names: list[str]


@dataclass
class Variable(Node):
    name: str
    names: list[str]  # fields after the variable: $x.a.b


@dataclass
class Chain(Node):
    node: Node
    names: list[str]


@dataclass
class Ident(Node):
    name: str


@dataclass
class Dot(Node):
    pass


@dataclass
class Nil(Node):
    pass


@dataclass
class Bool(Node):
    value: bool


@dataclass
class String(Node):
    value: str


@dataclass
class Number(Node):
    text: str
    int_value: int | None  # set when the constant is an integer (1, 1.0, 1e3, 'a', 0x10)
    float_value: float | None
    is_float_text: bool  # prints and passes as float64 when untyped (has . e p and is not hex/char)
    overflow: bool = False  # an integer constant beyond int64


@dataclass
class Command(Node):
    args: list[Node]


@dataclass
class Pipe(Node):
    decls: list[str]
    is_assign: bool
    cmds: list[Command]


@dataclass
class Action(Node):
    pipe: Pipe


@dataclass
class Control(Node):
    kind: str  # if, range, with
    pipe: Pipe
    body: list[Node]
    orelse: list[Node] | None


@dataclass
class Template(Node):
    name: str
    pipe: Pipe | None


@dataclass
class Break(Node):
    pass


@dataclass
class Continue(Node):
    pass


CONSTANTS = (Bool, String, Number, Nil)


@dataclass
class Tree:
    root: list[Node]
    defines: dict[str, list[Node]] = field(default_factory=dict)


# --- numbers --------------------------------------------------------------------------------------------

def parse_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64)."""
    s = text
    sign = 1
    if s[:1] in "+-":
        sign, s = (-1 if s[0] == "-" else 1), s[1:]
    base = 10
    low = s.lower()
    if low.startswith(("0x", "0o", "0b")):
        base, s = {"x": 16, "o": 8, "b": 2}[low[1]], s[2:]
        if s.startswith("_"):
            s = s[1:]
    elif len(s) > 1 and s[0] == "0":
        base, s = 8, s[1:].lstrip("_") if s[1] == "_" else s[1:]
    if not s or s.startswith("_") or s.endswith("_") or "__" in s:
        return None
    try:
        v = sign * int(s.replace("_", ""), base)
    except ValueError:
        return None
    return v if -(1 << 63) <= v < (1 << 63) else None


def parse_float(text: str) -> float | None:
    """strconv.ParseFloat(text, 64) for the forms a template constant can take."""
    s = text.replace("_", "")
    try:
        v = float.fromhex(s) if s.lower().lstrip("+-").startswith("0x") else float(s)
    except ValueError:
        return None
    if v in (float("inf"), float("-inf")) or v != v:
        return None
    return v


def number(text: str, pos: int) -> Number:
    if text.endswith("i"):
        raise TemplateSyntaxError("complex constants are not supported", pos)
    if text.startswith("'"):
        try:
            ch = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise TemplateSyntaxError("malformed character constant", pos) from None
        if len(ch) != 1:
            raise TemplateSyntaxError("malformed character constant", pos)
        return Number(pos, text, ord(ch), float(ord(ch)), False)
    iv = parse_int(text)
    fv = parse_float(text) if iv is None else float(iv)
    if iv is None and fv is None:
        raise TemplateSyntaxError("illegal number syntax", pos)
    if iv is None and fv is not None and fv == int(fv) and abs(fv) < 2 ** 63:
        iv = int(fv)
    low = text.lower()
    is_hex = low.lstrip("+-").startswith("0x")
    is_float_text = any(c in low for c in ".ep") and not (is_hex and "p" not in low)
    return Number(pos, text, iv, fv, is_float_text, iv is None and not is_float_text)


_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, '"': 34}


def unquote(tok: Token) -> str:
    """strconv.Unquote for a "quoted" or `raw` string constant; \\x and octal escapes are bytes, as in Go."""
    v = tok.value
    if v.startswith("`"):
        return v[1:-1].replace("\r", "")
    body, out, i = v[1:-1], bytearray(), 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8", "surrogateescape")
            i += 1
            continue
        e = body[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i + 2:i + 2 + size]
            if len(digits) != size or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise TemplateSyntaxError("invalid escape in string constant", tok.pos)
            n = int(digits, 16)
            if e == "x":
                out.append(n)
            elif n > 0x10FFFF or 0xD800 <= n <= 0xDFFF:
                raise TemplateSyntaxError("invalid escape in string constant", tok.pos)
            else:
                out += chr(n).encode()
            i += 2 + size
        elif e in "01234567":
            digits = body[i + 1:i + 4]
            if len(digits) != 3 or not all(d in "01234567" for d in digits) or int(digits, 8) > 255:
                raise TemplateSyntaxError("invalid escape in string constant", tok.pos)
            out.append(int(digits, 8))
            i += 4
        else:
            raise TemplateSyntaxError("invalid escape in string constant", tok.pos)
    return out.decode("utf-8", "surrogateescape")


# --- parser ---------------------------------------------------------------------------------------------

class Parser:
    def __init__(self, text: str, name: str, has_function: Callable[[str], bool]) -> None:
        self.tokens = lex(text)
        self.i = 0
        self.name = name
        self.has_function = has_function
        self.vars: list[str] = ["$"]
        self.range_depth = 0
        self.tree = Tree([])

    # token helpers
    def next(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def peek(self) -> Token:
        return self.tokens[self.i]

    def next_nonspace(self) -> Token:
        t = self.next()
        while t.kind == "space":
            t = self.next()
        return t

    def peek_nonspace(self) -> Token:
        j = self.i
        while self.tokens[j].kind == "space":
            j += 1
        return self.tokens[j]

    def expect(self, kind: str, context: str) -> Token:
        t = self.next_nonspace()
        if t.kind != kind:
            self.unexpected(t, context)
        return t

    def unexpected(self, t: Token, context: str) -> None:
        what = "EOF" if t.kind == "eof" else "}}" if t.kind == "right" else repr(t.value)
        raise TemplateSyntaxError(f"unexpected {what} in {context}", t.pos)

    # structure
    def parse(self) -> Tree:
        root: list[Node] = []
        while self.peek().kind != "eof":
            if self.peek().kind == "left" and self._peek_keyword("define"):
                self.next()
                self.next_nonspace()
                self.definition()
                continue
            node = self.text_or_action()
            if isinstance(node, EndOrElse):
                raise TemplateSyntaxError(f"unexpected {{{{{node.word}}}}}", node.pos)
            root.append(node)
        self._add(self.name, root, 0)
        self.tree.root = self.tree.defines[self.name]
        return self.tree

    def _peek_keyword(self, word: str) -> bool:
        j = self.i + 1
        while self.tokens[j].kind == "space":
            j += 1
        return self.tokens[j].kind == "keyword" and self.tokens[j].value == word

    def _add(self, name: str, body: list[Node], pos: int) -> None:
        """Go's rule: a definition replaces an empty one (whitespace only); two non-empty ones are an error."""
        old = self.tree.defines.get(name)
        if old is None or _empty(old):
            self.tree.defines[name] = body
        elif not _empty(body):
            raise TemplateSyntaxError(f"multiple definition of template {name!r}", pos)

    def definition(self) -> None:
        t = self.next_nonspace()
        if t.kind != "string":
            self.unexpected(t, "define clause")
        name = unquote(t)
        self.expect("right", "define clause")
        saved, self.vars = self.vars, ["$"]
        body, end = self.item_list()
        self.vars = saved
        if end.word != "end":
            raise TemplateSyntaxError("unexpected {{else}} in define", end.pos)
        self._add(name, body, t.pos)

    def item_list(self) -> tuple[list[Node], EndOrElse]:
        body: list[Node] = []
        while True:
            if self.peek_nonspace().kind == "eof":
                raise TemplateSyntaxError("unexpected EOF", self.peek_nonspace().pos)
            node = self.text_or_action()
            if isinstance(node, EndOrElse):
                return body, node
            body.append(node)

    def text_or_action(self) -> Node:
        t = self.next_nonspace()
        if t.kind == "text":
            return Text(t.pos, t.value)
        if t.kind == "left":
            return self.action()
        self.unexpected(t, "input")
        raise AssertionError

    def action(self) -> Node:
        t = self.next_nonspace()
        if t.kind == "keyword":
            word = t.value
            if word == "block":
                return self.block(t)
            if word in ("break", "continue"):
                if not self.range_depth:
                    raise TemplateSyntaxError(f"{{{{{word}}}}} outside {{{{range}}}}", t.pos)
                self.expect("right", word)
                return Break(t.pos) if word == "break" else Continue(t.pos)
            if word == "else":
                if self.peek_nonspace().kind == "keyword" and self.peek_nonspace().value == "if":
                    return EndOrElse(t.pos, "else", else_if=True)
                self.expect("right", "else")
                return EndOrElse(t.pos, "else")
            if word == "end":
                self.expect("right", "end")
                return EndOrElse(t.pos, "end")
            if word in ("if", "range", "with"):
                return self.control(word, t.pos)
            if word == "template":
                return self.template(t)
        self.i -= 1
        while self.tokens[self.i - 1].kind == "space":
            self.i -= 1
        return Action(t.pos, self.pipeline("command", "right"))

    def control(self, word: str, pos: int) -> Control:
        mark = len(self.vars)
        pipe = self.pipeline(word, "right")
        if word == "range":
            self.range_depth += 1
        body, end = self.item_list()
        if word == "range":
            self.range_depth -= 1
        orelse = None
        if end.word == "else":
            if end.else_if and word == "if":
                self.next_nonspace()  # the "if" of "else if": {{else if x}} is {{else}}{{if x}}...{{end}}{{end}}
                orelse = [self.control("if", end.pos)]
            else:
                if end.else_if:
                    raise TemplateSyntaxError(f"unexpected 'if' in {word}", end.pos)
                orelse, end = self.item_list()
                if end.word != "end":
                    raise TemplateSyntaxError("expected end; found {{else}}", end.pos)
        del self.vars[mark:]
        return Control(pos, word, pipe, body, orelse)

    def template(self, t: Token) -> Template:
        name_tok = self.next_nonspace()
        if name_tok.kind != "string":
            self.unexpected(name_tok, "template clause")
        pipe = None
        if self.peek_nonspace().kind != "right":
            pipe = self.pipeline("template clause", "right")
        else:
            self.next_nonspace()
        return Template(t.pos, unquote(name_tok), pipe)

    def block(self, t: Token) -> Template:
        name_tok = self.next_nonspace()
        if name_tok.kind != "string":
            self.unexpected(name_tok, "block clause")
        name = unquote(name_tok)
        pipe = self.pipeline("block clause", "right")
        saved, self.vars = self.vars, ["$"]
        saved_range, self.range_depth = self.range_depth, 0
        body, end = self.item_list()
        self.vars, self.range_depth = saved, saved_range
        if end.word != "end":
            raise TemplateSyntaxError("unexpected {{else}} in block clause", end.pos)
        self._add(name, body, t.pos)
        return Template(t.pos, name, pipe)

    def pipeline(self, context: str, end: str) -> Pipe:
        start = self.peek_nonspace()
        decls: list[str] = []
        is_assign = False
        t = self.peek_nonspace()
        if t.kind == "var":
            save = self.i
            self.next_nonspace()
            nxt = self.peek_nonspace()
            if nxt.kind in ("declare", "assign") or (nxt.kind == "comma" and context == "range"):
                self.next_nonspace()
                decls.append(t.value)
                if nxt.kind == "comma":
                    v2 = self.next_nonspace()
                    if v2.kind != "var":
                        raise TemplateSyntaxError("range can only initialize variables", v2.pos)
                    op = self.next_nonspace()
                    if op.kind not in ("declare", "assign"):
                        raise TemplateSyntaxError("missing := in range", op.pos)
                    decls.append(v2.value)
                    nxt = op
                is_assign = nxt.kind == "assign"
                for d in decls:
                    if is_assign:
                        if d not in self.vars:
                            raise TemplateSyntaxError(f"undefined variable {d!r}", t.pos)
                    else:
                        self.vars.append(d)
            else:
                self.i = save
        cmds: list[Command] = []
        while True:
            t = self.peek_nonspace()
            if t.kind == end:
                self.next_nonspace()
                if not cmds:
                    raise TemplateSyntaxError(f"missing value for {context}", t.pos)
                break
            cmds.append(self.command())
        for k, cmd in enumerate(cmds[1:], 2):
            if isinstance(cmd.args[0], (*CONSTANTS, Dot)):
                raise TemplateSyntaxError(f"non executable command in pipeline stage {k}", cmd.pos)
        return Pipe(start.pos, decls, is_assign, cmds)

    def command(self) -> Command:
        args: list[Node] = []
        pos = self.peek_nonspace().pos
        while True:
            self._skip_space()
            t = self.peek()
            if t.kind in ("right", "rparen"):
                break
            if t.kind == "pipe":
                self.next()
                if not args:
                    raise TemplateSyntaxError("missing value for command", t.pos)
                return Command(pos, args)
            args.append(self.operand())
            nxt = self.peek()
            if nxt.kind not in ("space", "right", "rparen", "pipe"):
                raise TemplateSyntaxError(f"unexpected {nxt.value!r} in operand", nxt.pos)
        if not args:
            raise TemplateSyntaxError("missing value for command", pos)
        return Command(pos, args)

    def _skip_space(self) -> None:
        while self.peek().kind == "space":
            self.next()

    def operand(self) -> Node:
        node = self.term()
        if self.peek().kind == "field":
            names = []
            while self.peek().kind == "field":
                names.append(self.next().value[1:])
            if isinstance(node, Field):
                node = Field(node.pos, node.names + names)
            elif isinstance(node, Variable):
                node = Variable(node.pos, node.name, node.names + names)
            elif isinstance(node, (Bool, String, Number, Nil, Dot)):
                raise TemplateSyntaxError("unexpected . after term", node.pos)
            else:
                node = Chain(node.pos, node, names)
        return node

    def term(self) -> Node:
        t = self.next()
        k = t.kind
        if k == "ident":
            if not self.has_function(t.value):
                raise TemplateSyntaxError(f"function {t.value!r} not defined", t.pos)
            return Ident(t.pos, t.value)
        if k == "dot":
            return Dot(t.pos)
        if k == "keyword" and t.value == "nil":
            return Nil(t.pos)
        if k == "var":
            if t.value not in self.vars:
                raise TemplateSyntaxError(f"undefined variable {t.value!r}", t.pos)
            return Variable(t.pos, t.value, [])
        if k == "field":
            return Field(t.pos, [t.value[1:]])
        if k == "bool":
            return Bool(t.pos, t.value == "true")
        if k in ("number", "char"):
            return number(t.value, t.pos)
        if k == "string":
            return String(t.pos, unquote(t))
        if k == "lparen":
            pipe = self.pipeline("parenthesized pipeline", "rparen")
            return pipe
        self.unexpected(t, "operand")
        raise AssertionError


@dataclass
class EndOrElse(Node):
    word: str
    else_if: bool = False


def _empty(body: list[Node]) -> bool:
    return all(isinstance(n, Text) and not n.text.strip(" \t\r\n") for n in body)


def parse(text: str, name: str, has_function: Callable[[str], bool]) -> Tree:
    return Parser(text, name, has_function).parse()
