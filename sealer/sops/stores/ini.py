"""The INI store, as sops' stores/ini reads and writes through go-ini: sections in file order (a repeated header
is a new section; keys before the first header are in an unnamed `DEFAULT` section), a repeated key keeps its
place and takes the last value, `;`/`#` comments belong to the next section or key (an inline one to its key),
values may be quoted with `"`, `` ` `` or `\"\"\"` (over several lines). Written back as go-ini pretty-prints:
`=` aligned per section, a blank line between sections, metadata flattened into a last `[sops]` section.

One rule differs from sops on purpose: a key repeated within one section is refused (go-ini, and so sops, keeps
only the last value and drops the others without a word). Errors name the line, never its text (it may be a
secret)."""

from __future__ import annotations

from sealer.errors import InputError
from sealer.sops.nodes import MAP_TAG, MappingNode
from sealer.sops.stores import Tree, flat, values

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sealer.sops.nodes import Node

DEFAULT = "DEFAULT"
METADATA_SECTION = "sops"


class _Section:
    __slots__ = ("comment", "keys", "line", "name")

    def __init__(self, name: str, comment: str, line: int = 0) -> None:
        self.name = name
        self.comment = comment
        self.line = line
        self.keys: dict[str, list[str]] = {}  # name -> [value, comment]


class _Malformed(ValueError):
    """What is wrong and where (line numbers and key names only), and the key it concerns, if any."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def load(text: str, source: str) -> Tree:
    if "\x00" in text:
        raise InputError("an INI file cannot hold a NUL byte", source=source)
    try:
        sections = _parse(text)
    except _Malformed as e:
        raise InputError(f"not valid INI: {e}", source=source, field=e.field) from None
    metadata = None
    entries: list[tuple[Node, Node]] = []
    for section in sections:
        if section.name == METADATA_SECTION:
            if metadata is None:
                metadata = flat.unflatten({k: v for k, (v, _) in section.keys.items()}, source)
            continue
        items: list[tuple[Node, Node]] = []
        for key, (value, comment) in section.keys.items():
            key_node = values.scalar(key)
            if comment:
                key_node.comment = [flat.comment_token("#" + _strip_comment_char(comment))]
            items.append((key_node, values.json_str(value)))
        node = MappingNode(MAP_TAG, items, flow_style=False)
        if section.comment:
            node.comment = [flat.comment_token("#" + _strip_comment_char(section.comment))]
        entries.append((values.scalar(section.name), node))
    return Tree([MappingNode(MAP_TAG, entries, flow_style=False)], metadata, "ini")


def _strip_comment_char(comment: str) -> str:
    """sops' stripCommentChar: the leading `;`/`#` and spaces go, later lines keep theirs."""
    if comment[:1] in (";", "#"):
        return comment.lstrip(comment[0] + " ")
    return comment


def _parse(text: str) -> list[_Section]:
    """go-ini's parser with its default options (and sops' non-unique sections)."""
    lines = text.split("\n")
    sections = [_Section(DEFAULT, "")]
    comment: list[str] = []
    i = 0
    while i < len(lines):
        raw = lines[i] + ("\n" if i < len(lines) - 1 else "")
        i += 1
        number = i
        line = raw.lstrip()
        if not line:
            continue
        if line[0] in "#;":
            comment.append(line.rstrip())
            continue
        if line[0] == "[":
            close = line.rfind("]")
            if close == -1:
                raise _Malformed(f"unclosed section header ('[' without ']') on line {number}")
            name = line[1:close]
            if not name:
                raise _Malformed(f"empty section name on line {number}")
            inline = _inline_comment(line[close + 1:])
            if inline:
                comment.append(inline)
            sections.append(_Section(name, "\n".join(comment).strip(), number))
            comment = []
            continue
        key, offset = _key_name(line.rstrip("\n"), number)
        value, i, inline = _value(line[offset:], lines, i, f"{sections[-1].name}.{key}", number)
        if inline:
            comment.append(inline)
        section = sections[-1]
        if key in section.keys:
            raise _Malformed(f"key {key!r} appears twice in section [{section.name}] (again on line {number}); "
                             "sops would keep only the last value, so one of them would be lost: remove one",
                             field=f"{section.name}.{key}")
        section.keys[key] = [value, "\n".join(comment).strip()]
        comment = []
    return sections


def _inline_comment(rest: str) -> str:
    pos = min((p for p in (rest.find("#"), rest.find(";")) if p != -1), default=-1)
    return rest[pos:].strip() if pos != -1 else ""


def _key_name(line: str, number: int) -> tuple[str, int]:
    quote = ""
    if line[0] == '"':
        quote = '"""' if len(line) > 6 and line[:3] == '"""' else '"'
    elif line[0] == "`":
        quote = "`"
    if quote:
        start = len(quote)
        pos = line.find(quote, start)
        if pos == -1:
            raise _Malformed(f"missing closing key quote on line {number}")
        rest = line[pos + start:]
        delim = min((p for p in (rest.find("="), rest.find(":")) if p != -1), default=-1)
        if delim < 0:
            raise _Malformed(f"key-value delimiter ('=' or ':') not found on line {number}")
        return line[start:pos].strip(), pos + delim + start + 1
    end = min((p for p in (line.find("="), line.find(":")) if p != -1), default=-1)
    if end < 0:
        raise _Malformed(f"key-value delimiter ('=' or ':') not found on line {number}")
    if end == 0:
        raise _Malformed(f"empty key name on line {number}")
    return line[:end].strip(), end + 1


def _value(raw: str, lines: list[str], i: int, field: str, number: int) -> tuple[str, int, str]:
    """(value, index of the next line, inline comment) as go-ini's readValue reads them."""
    line = raw.lstrip()
    if not line:
        return "", i, ""
    quote = '"""' if len(line) > 3 and line[:3] == '"""' else ("`" if line[0] == "`" else "")
    if quote:
        start = len(quote)
        pos = line.rfind(quote, start)
        if pos != -1:
            return line[start:pos], i, ""
        value = line[start:]
        while True:
            if i >= len(lines):
                raise _Malformed(f"missing closing {quote} of the value that starts on line {number}", field=field)
            nxt = lines[i] + ("\n" if i < len(lines) - 1 else "")
            i += 1
            pos = nxt.rfind(quote)
            if pos != -1:
                return value + nxt[:pos], i, _inline_comment(nxt[pos:])
            value += nxt
    line = line.strip()
    if line.endswith("\\"):
        value = line[:-1]
        while i < len(lines):
            nxt = lines[i].strip()
            i += 1
            if nxt.endswith("\\"):
                value += nxt[:-1]
                continue
            value += nxt
            break
        return value, i, ""
    inline = ""
    pos = min((p for p in (line.find("#"), line.find(";")) if p != -1), default=-1)
    if pos != -1:
        inline, line = line[pos:].strip(), line[:pos].strip()
    for q in ("'", '"'):
        if len(line) >= 2 and line[0] == q and line[-1] == q and line.count(q) == 2:
            line = line[1:-1]
            break
    return line, i, inline


def dump(tree: Tree) -> str:
    root = tree.roots[0]
    if root.id != "mapping":
        raise InputError("an INI file holds sections of keys and values")
    sections: list[tuple[str, list[str], list[tuple[str, str, list[str]]]]] = []
    for name_node, section in root.value:
        if section.id != "mapping":
            raise InputError(f"INI section values must be mappings of keys to values: {name_node.value}")
        keys = []
        for key_node, value_node in section.value:
            if value_node.id != "scalar":
                raise InputError(f"cannot use complex value in INI section {name_node.value}: {key_node.value}")
            keys.append((str(key_node.value), str(value_node.value), flat.comment_values(key_node)))
        sections.append((str(name_node.value), flat.comment_values(section), keys))
    if tree.metadata is not None:
        sections.append((METADATA_SECTION, [], [(k, v, []) for k, v in flat.flatten(tree.metadata).items()]))
    out: list[str] = []
    last = len(sections) - 1
    for i, (name, comments, keys) in enumerate(sections):
        for c in comments:
            out.extend(_comment_line(line, trim=False) for line in c.split("\n") if c)
        if i > 0 or name != DEFAULT:
            out.append(f"[{name}]\n")
        elif not keys:
            continue
        width = max((_key_width(k) for k, _, _ in keys), default=0)
        for key, value, key_comments in keys:
            for c in key_comments:
                out.extend(_comment_line(line, trim=True) for line in c.split("\n") if c)
            shown = _quote_key(key)
            out.append(f"{shown}{' ' * max(width - len(shown), 0)} = {_quote_value(value)}\n")
        if i != last:
            out.append("\n")
    return "".join(out)


def _comment_line(line: str, trim: bool) -> str:
    if line[:1] not in ("#", ";"):
        return "; " + (line.strip() if trim else line) + "\n"
    return line[0] + " " + line[1:].strip() + "\n"


def _key_width(key: str) -> int:
    if '"' in key or "=" in key:
        return len(key) + 2
    if "`" in key:
        return len(key) + 6
    return len(key)


def _quote_key(key: str) -> str:
    if '"' in key or "=" in key or ":" in key:
        return f"`{key}`"
    if "`" in key:
        return f'"""{key}"""'
    return key


def _quote_value(value: str) -> str:
    if "\n" in value or "`" in value:
        return f'"""{value}"""'
    if "#" in value or ";" in value:
        return f"`{value}`"
    if value.strip() != value:
        return f'"{value}"'
    return value
