"""sprig's regular expressions: RE2 syntax run on Python's re, with Go's match rules."""

from __future__ import annotations

import re
import warnings
from typing import Any

from sealer import regexcost
from sealer.gotemplate.execute import Func
from sealer.gotemplate.sprig.cast import fn, sized
from sealer.gotemplate.values import GoError, StrList

# --- regular expressions (RE2 syntax; what Python's re reads the same way) -------------------------------

def _regex(pattern: str, subject: str) -> re.Pattern[str]:
    """Python's re for an RE2 pattern. RE2 runs in linear time, Python's re backtracks: patterns that could take
    exponential time (a repeated group that itself repeats or alternates) are refused, and the more quantifiers a
    pattern has the shorter the input it may scan (a template must not stall the controller)."""
    if re.search(r"\(\?P?<[^>]*>|\\[zZAG]|\(\?[=!<#]|\\[pP]|\[\[:", pattern):
        raise GoError("regular expression feature not supported")
    if regexcost.exponential(pattern):
        raise GoError("regular expression too costly (a repeated group that repeats or alternates)")
    quantifiers = len(re.findall(r"[*+]|\{\d*,?\d*\}", regexcost.plain(pattern)))
    if quantifiers > 2 or len(subject) > (65536, 4096, 512)[quantifiers]:
        raise GoError("regular expression too costly for an input of this size")
    try:
        with warnings.catch_warnings():  # ("possible nested set": RE2 reads [[ as a literal bracket, so does re)
            warnings.simplefilter("ignore")
            return re.compile(_translate(pattern), re.ASCII)
    except (re.error, RecursionError, OverflowError):
        raise GoError("error parsing regexp") from None


def _translate(pattern: str) -> str:
    """RE2's `$` (without the m flag) is the end of the text; Python's also matches before a final newline."""
    if re.match(r"\(\?[a-zA-Z]*m", pattern):
        return pattern
    out, i, in_class = [], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
            out.append(c)
            if pattern[i + 1:i + 2] == "^":
                out.append("^")
                i += 1
            if pattern[i + 1:i + 2] == "]":
                out.append("]")
                i += 1
        elif c == "]" and in_class:
            in_class = False
            out.append(c)
        elif c == "$" and not in_class:
            out.append(r"\Z")
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _matches(r: re.Pattern[str], s: str, n: int = -1) -> list[re.Match[str]]:
    """Go's FindAll: an empty match right after the previous match is skipped; at most n (n < 0: all)."""
    out: list[re.Match[str]] = []
    prev_end = -1
    for m in r.finditer(s):
        if n >= 0 and len(out) >= n:
            break
        if m.start() == m.end() and m.start() == prev_end:
            continue
        out.append(m)
        prev_end = m.end()
    return out


def _expand(m: re.Match[str], repl: str) -> str:
    """Go's Regexp.Expand: $1, ${1}, $name (the longest name); $$ is a dollar; unknown groups are empty."""
    out, i = [], 0
    while i < len(repl):
        c = repl[i]
        if c != "$" or i + 1 >= len(repl):
            out.append(c)
            i += 1
            continue
        if repl[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        mm = re.match(r"\{(\w+)\}|(\w+)", repl[i + 1:], re.ASCII)
        if not mm:
            out.append("$")
            i += 1
            continue
        name = mm.group(1) or mm.group(2)
        i += 1 + len(mm.group(0))
        if name.isdigit():
            g = int(name)
            out.append((m.group(g) or "") if g <= (m.re.groups or 0) else "")
    return "".join(out)


def _replace_all(r: re.Pattern[str], s: str, fn: Any) -> str:
    out, pos = [], 0
    for m in _matches(r, s):
        out.append(s[pos:m.start()])
        out.append(fn(m))
        pos = m.end()
    out.append(s[pos:])
    return sized("".join(out))


def _regex_find_all(pattern: str, s: str, n: int) -> StrList:
    return StrList(m.group(0) for m in _matches(_regex(pattern, s), s, n))


def _regex_split(pattern: str, s: str, n: int) -> StrList:
    """Go's Regexp.Split."""
    if n == 0:
        return StrList()
    r = _regex(pattern, s)
    if pattern and not s:
        return StrList([""])
    out, beg, end = StrList(), 0, 0
    for m in _matches(r, s, n):
        if n > 0 and len(out) == n - 1:
            break
        end = m.start()
        if m.end() != 0:
            out.append(s[beg:end])
        beg = m.end()
    if end != len(s):
        out.append(s[beg:])
    return out


def _regex_replace(pattern: str, s: str, repl: str) -> str:
    return _replace_all(_regex(pattern, s), s, lambda m: _expand(m, repl))


def _regex_replace_literal(pattern: str, s: str, repl: str) -> str:
    return _replace_all(_regex(pattern, s), s, lambda m: repl)


FUNCS: dict[str, Func] = {
    "regexMatch": fn("string string", None, lambda r, s: _regex(r, s).search(s) is not None),
    "regexFind": fn("string string", None, lambda r, s: (lambda m: m.group(0) if m else "")(_regex(r, s).search(s))),
    "regexFindAll": fn("string string int", None, _regex_find_all),
    "regexReplaceAll": fn("string string string", None, _regex_replace),
    "regexReplaceAllLiteral": fn("string string string", None, _regex_replace_literal),
    "regexSplit": fn("string string int", None, _regex_split),
    "regexQuoteMeta": fn("string", None, lambda s: re.sub(r"([\\.+*?()|\[\]{}^$])", r"\\\1", s)),
}
