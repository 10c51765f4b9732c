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


def exponential(pattern: str) -> bool:
    """Whether backtracking could take exponential time: a repeated group that repeats or alternates inside, or
    more groups than a rule or template needs."""
    structure = plain(pattern)
    return bool(_REPEATED_GROUP.search(structure)) or structure.count("(") > MAX_GROUPS
