"""Which keywords a lowercased text contains, in a dozen regex passes instead of ~150 substring tests.

`sealer lint` runs a detector only on text holding one of its keywords (as gitleaks does); token families' keywords
count only inside a run of 16+ token characters. `KeywordGate.find` returns exactly the sets `{k for k in plain if
k in low}` and `{k for k in token if k in token_runs(low)}`, without building the runs: each pass searches for one
rare anchor character (a greedy cover of all keywords by cost), then a trie of what follows and precedes it says
which keyword is there. Pure; built once per process (see `detectors.keyword_gate`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RUN_CHARS = "a-z0-9_.~+/=:@%-"  # what _TOKEN_RUN matches, as a regex class body
_RUN_MIN = 16
# Per mille of each character in lowercased source and text (Python's standard library); rarer ones unlisted.
_FREQ = {"a": 38, "b": 8, "c": 20, "d": 22, "e": 69, "f": 20, "g": 8, "h": 10, "i": 32, "j": 1, "k": 4, "l": 28,
         "m": 14, "n": 32, "o": 30, "p": 15, "q": 3, "r": 35, "s": 44, "t": 47, "u": 15, "v": 4, "w": 5, "x": 8,
         "y": 6, "z": 1, "0": 16, "1": 10, "2": 6, "3": 5, "4": 5, "5": 4, "6": 4, "7": 4, "8": 4, "9": 6,
         "_": 14, ".": 16, "=": 6, ":": 6, "-": 9, "(": 13, ")": 13, ",": 11, "'": 12, '"': 7, " ": 265}


def _pass_cost(c: str) -> float:
    """A pass costs a scan of the text for one character plus a match attempt at each occurrence of it."""
    return 1 + _FREQ.get(c, 0.5) / 10


@dataclass(frozen=True, slots=True, eq=False)  # compared and hashed by identity: each key is made once
class _Key:
    keyword: str  # as searched: reversed when its pass reads the reversed text
    word: str  # the keyword
    in_run: bool  # a token keyword: counts only inside a run of 16+ token characters (see ``token_runs``)
    at: int  # index in ``keyword`` of the anchor character its pass searches for
    reverse: bool


def _compatible(a: _Key, b: _Key) -> bool:
    """Whether ``a`` and ``b`` can both occur with their anchors at the same position."""
    off = a.at - b.at
    return all(a.keyword[off + i] == c for i, c in enumerate(b.keyword) if 0 <= off + i < len(a.keyword))


def _implies(a: _Key, b: _Key) -> bool:
    """Whether ``a`` found at an anchor position means ``b`` is there too: ``b`` lies inside ``a``."""
    off = a.at - b.at
    return (off >= 0 and off + len(b.keyword) <= len(a.keyword) and _compatible(a, b)
            and (a.in_run or not b.in_run))


class _Pass:
    """One literal-prefixed regex, `c(?=...)`: sre's fast literal search finds each `c`, then a trie of what
    follows it and, per keyword length, one lookbehind holding a trie of what precedes it tell which keyword, if
    any, has its anchor there (a pass whose keywords mostly end at `c` reads the reversed text, so that what
    precedes becomes a literal checked first). The match is one character wide, so no occurrence is skipped; at
    each position only the first keyword that fits is reported (its group's index), so the others that may be
    there (``shadowed``) are rechecked at that position alone."""

    def __init__(self, anchor: str, keys: list[_Key]) -> None:
        trie: dict = {}
        for k in keys:
            node = trie
            for c in k.keyword[k.at + 1:]:
                node = node.setdefault(c, {})
            node.setdefault("", []).append(k)
        order: list[_Key] = []
        self.reverse = keys[0].reverse
        self.regex = re.compile(re.escape(anchor) + "(?=" + _render(anchor, "", trie, order) + ")")
        self.implied = [()] + [tuple(b for b in order if _implies(a, b)) for a in order]
        self.shadowed = [()] + [tuple(b for b in order[i + 1:] if _compatible(a, b) and not _implies(a, b))
                                for i, a in enumerate(order)]


def _render(anchor: str, after: str, node: dict, order: list[_Key]) -> str:
    """The alternatives at a node of the trie of what follows the anchor: longer keywords first, so that one
    containing another is tried before it; keywords ending here grouped by length and kind."""
    alternatives = [re.escape(c) + _render(anchor, after + c, child, order) for c, child in sorted(node.items()) if c]
    ends: dict[tuple[int, bool], list[_Key]] = {}
    for k in node.get("", ()):
        ends.setdefault((len(k.keyword), k.in_run), []).append(k)
    for (n, in_run), keys in sorted(ends.items(), key=lambda e: (-e[0][0], not e[0][1])):
        if keys[0].at == 0:  # the anchor starts the keyword: nothing before it to check
            order.append(keys[0])
            alternatives.append("()" + _in_run(n) * in_run)
            continue
        before: dict = {}
        for k in keys:
            node_ = before
            for c in k.keyword[:k.at]:
                node_ = node_.setdefault(c, {})
            node_[""] = k
        alternatives.append("(?<=" + _render_before(before, order) + re.escape(anchor + after) + ")"
                            + _in_run(n) * in_run)
    return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"


def _render_before(node: dict, order: list[_Key]) -> str:
    """A trie of the (equally long) parts before the anchor, each ending in its keyword's empty group."""
    if "" in node:
        order.append(node[""])
        return "()"
    alternatives = [re.escape(c) + _render_before(child, order) for c, child in sorted(node.items())]
    return alternatives[0] if len(alternatives) == 1 else "(?:" + "|".join(alternatives) + ")"


def _in_run(n: int) -> str:
    """At the end of an ``n``-character keyword: it lies in a run of 16+ token characters, i.e. some 16 of them
    in a row cover it (their end is at most 16 - n characters on, the lookbehind tries each)."""
    return f"(?=[{_RUN_CHARS}]{{0,{max(_RUN_MIN - n, 0)}}}(?<=[{_RUN_CHARS}]{{{max(_RUN_MIN, n)}}}))"


class KeywordGate:
    """Which keywords a lowercased text contains: ``plain`` ones anywhere, ``token`` ones inside a run of 16+
    token characters (exactly ``k in low`` and ``k in token_runs(low)``, without building the runs). ~150
    `in` tests plus ``token_runs`` took ~4 s over a copy of Python's standard library (37 MB of text); ~12
    passes of a literal-prefixed regex, one per anchor character (a few rare ones chosen to cover every
    keyword), take ~1 s."""

    def __init__(self, plain: frozenset[str], token: frozenset[str]) -> None:
        words = set(plain) | set(token)
        anchors: list[str] = []
        while words:  # greedy set cover: most keywords per unit of cost
            best = max({c for w in words for c in w}, key=lambda c: (sum(c in w for w in words) / _pass_cost(c), c))
            anchors.append(best)
            words = {w for w in words if best not in w}
        groups: dict[str, list[tuple[str, bool]]] = {}
        for word, in_run in [(w, False) for w in sorted(plain)] + [(w, True) for w in sorted(token)]:
            groups.setdefault(min((c for c in anchors if c in word), key=_pass_cost), []).append((word, in_run))
        self._passes: list[_Pass] = []
        for a, items in groups.items():
            forward = [_Key(w, w, in_run, w.index(a), False) for w, in_run in items]
            backward = [_Key(w[::-1], w, in_run, w[::-1].index(a), True) for w, in_run in items]
            # Keywords that end at the anchor need a lookbehind at every occurrence of it (`sk_`, `glpat-`,
            # `pat.` at `_`, `-`, `.`): the reversed text turns those into a literal checked first.
            ends = [sum(k.at == len(k.keyword) - 1 for k in keys) for keys in (forward, backward)]
            self._passes.append(_Pass(a, backward if ends[1] < ends[0] else forward))
        self._alone: dict[_Key, re.Pattern[str]] = {}

    def find(self, low: str) -> tuple[set[str], set[str]]:
        """(plain keywords in ``low``, token keywords in its long runs)."""
        found: set[_Key] = set()
        hidden: dict[_Key, list[int]] = {}
        texts = (low, low[::-1])
        for p in self._passes:
            for m in p.regex.finditer(texts[p.reverse]):
                i = m.lastindex
                found.update(p.implied[i])
                for k in p.shadowed[i]:  # usually none
                    hidden.setdefault(k, []).append(m.start())
        for k, positions in hidden.items():
            if k not in found and k.word in low:
                regex = self._recheck(k)
                if any(regex.match(texts[k.reverse], at) for at in positions):
                    found.add(k)
        plain = {k.word for k in found if not k.in_run}
        return plain, {k.word for k in found if k.in_run}

    def _recheck(self, k: _Key) -> re.Pattern[str]:
        regex = self._alone.get(k)
        if regex is None:
            regex = self._alone[k] = _Pass(k.keyword[k.at], [k]).regex
        return regex
