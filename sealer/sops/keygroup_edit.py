"""Changing who can open a file without touching its values: `groups add`, `groups delete` (as sops' `groups`
subcommands) and the recipient edits of `rotate --add-age/--rm-age`.

A group change re-wraps the same data key (or new Shamir shares of it) for every group; values, the MAC and
lastmodified stay as they are, as sops leaves them.
"""

from __future__ import annotations

from sealer.errors import InputError, SealerError
from sealer.sops import document, operations, stores
from sealer.sops.keys.groups import KeySpec
from sealer.sops.keys.service import recipients_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from sealer.sops.keys.groups import Opener


def _rewrap(tree: stores.Tree, source: str, opener: Opener, edit, threshold: int | None) -> str:
    """Open the data key, apply ``edit`` to the (groups, threshold) the file has, wrap for the result."""
    metadata = document.metadata_of(tree, source)
    try:
        groups, current = recipients_of(metadata)
        groups = edit(groups)
        threshold = threshold or current
        if threshold is not None and threshold > len(groups):  # sops refuses it too (the file could not open)
            raise InputError(f"the Shamir threshold {threshold} would be more than the {len(groups)} key groups "
                             "left; pass a lower --shamir-secret-sharing-threshold", field="key_groups")
        if threshold is not None and threshold < 2 and len(groups) > 1:
            raise InputError("with several key groups the Shamir threshold must be at least 2",
                             field="--shamir-secret-sharing-threshold")
        return operations.rewrap(tree, metadata, opener, source, groups, threshold)
    except SealerError as e:
        raise e.within(source=source) from None


def add_group(tree: stores.Tree, source: str, opener: Opener, group: list[KeySpec],
              threshold: int | None = None) -> str:
    """The file with one more key group holding ``group``'s recipients."""
    if not group:
        raise InputError("the new group holds no key: give --age or --hc-vault-transit", field="--age")
    return _rewrap(tree, source, opener, lambda groups: [*groups, list(group)], threshold)


def delete_group(tree: stores.Tree, source: str, opener: Opener, index: int, threshold: int | None = None) -> str:
    """The file without key group ``index`` (0-based, in the file's order)."""

    def edit(groups: list[list[KeySpec]]) -> list[list[KeySpec]]:
        if not 0 <= index < len(groups):
            raise InputError(f"no key group {index}: the file has {len(groups)} (numbered from 0)", field="INDEX")
        if len(groups) == 1:
            raise InputError("the file's only key group cannot be deleted", field="INDEX")
        return groups[:index] + groups[index + 1:]

    return _rewrap(tree, source, opener, edit, threshold)


def edit_recipients(groups: list[list[KeySpec]], add: list[KeySpec], remove: list[KeySpec]) -> list[list[KeySpec]]:
    """sops' rotate --add-*/--rm-*: new keys join the first group; removed keys leave every group."""
    gone = {(s.type, s.value.strip()) for s in remove}
    out = [[s for s in g if (s.type, s.value.strip()) not in gone] for g in groups] or [[]]
    have = {(s.type, s.value.strip()) for g in out for s in g}
    out[0] = out[0] + [s for s in add if (s.type, s.value.strip()) not in have]
    if not all(out):
        raise InputError("removing these keys would leave a key group empty; nobody could open the file",
                         field="--rm-age")
    return out
