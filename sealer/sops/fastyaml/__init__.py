"""A fast reader and writer for the plain YAML that SOPS files and Kubernetes Secrets are made of.

ruamel.yaml's round-trip reader is pure Python: it costs ~20 ms to import and most of the time spent on a small
file. Most files sealer sees are block mappings and lists of one-line scalars, as go-yaml (sops), kubectl and
PyYAML write them. For exactly those, `read` builds the same tree ruamel.yaml's composer would (the same values,
styles and implicit tags) and `write` writes a tree back byte for byte as ruamel.yaml's emitter would.

Both sides are deliberately narrow: `read.compose_all` returns None for anything outside the subset it knows
(comments, blank lines, anchors, aliases, tags, directives, flow collections other than `{}` / `[]`, multi-line
plain or quoted scalars, folded scalars, tabs, CR, control or special characters, trailing spaces, ...), and
`write.serialize` returns None for any tree it cannot write exactly like ruamel (comments, anchors, explicit tags,
non-empty flow collections, very long lines). The caller then uses ruamel.yaml, so behaviour is ruamel's in every
case; this package only decides faster when it is sure. tests/test_sops_fastpath.py compares both on a corpus and
on generated documents.
"""


class Unsupported(Exception):
    """Outside the subset: the caller falls back to ruamel.yaml."""
