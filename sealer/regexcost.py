"""Which regular expressions may run on input from someone else. sops and Go templates use RE2, which runs in
linear time; Python's re backtracks, and a repeated group that itself repeats or alternates (`(a+)+$`,
`(a|aa)*b`) takes exponential time on a short crafted string: one such pattern in a tenant's SopsSecret or
template would stall the controller. Such patterns are refused wherever sealer runs a pattern it was given."""

from __future__ import annotations

import re

_ESCAPES_AND_CLASSES = re.compile(r"\\.|\[(?:\\.|[^\]])*\]")  # neither can nest a quantifier
_REPEATED_GROUP = re.compile(r"\((?:[^()]*[*+{|][^()]*)\)[*+{?]")
MAX_GROUPS = 10


def plain(pattern: str) -> str:
    """The pattern with escapes and character classes replaced by one letter: what is left is its structure."""
    return _ESCAPES_AND_CLASSES.sub("x", pattern)


_INNER_GROUP = re.compile(r"\(([^()]*)\)([*+?]|\{[^}]*\})?")


def exponential(pattern: str) -> bool:
    """Whether backtracking could take exponential time: a repeated group that repeats or alternates inside, or
    more groups than a rule or template needs. Nested groups are folded from the inside out (`((a+)b)+` is
    `(x+b)+`), so the repetition is found at any depth."""
    structure = plain(pattern)
    if structure.count("(") > MAX_GROUPS:
        return True
    while not _REPEATED_GROUP.search(structure):
        m = _INNER_GROUP.search(structure)
        if m is None:
            return False
        varies = re.search(r"[*+{|]", m.group(1)) is not None
        structure = structure[:m.start()] + ("x+" if varies else "x") + (m.group(2) or "") + structure[m.end():]
    return True
