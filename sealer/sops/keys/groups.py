"""The data key and who can open it: one group wraps the key itself; several groups each wrap one Shamir
share, and any `shamir_threshold` groups together recover the key."""

from __future__ import annotations

from sealer.errors import DecryptionError, InputError, SealerError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sealer.sops.metadata import MasterKey, Metadata

    Wrapper = Callable[[bytes, "KeySpec"], MasterKey]
    Opener = Callable[[MasterKey], bytes | None]  # None: this opener cannot try that key (no identity, no token)


class KeySpec:
    """A recipient to wrap for: ("age", "age1..."/"ssh-ed25519 ...") or ("hc_vault", "https://vault/v1/transit/keys/k").

    Immutable, compared and hashed by value."""

    __slots__ = ("type", "value")

    def __init__(self, type: str, value: str) -> None:
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "value", value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not KeySpec:
            return NotImplemented
        return (self.type, self.value) == (other.type, other.value)

    def __hash__(self) -> int:
        return hash((self.type, self.value))

    def __repr__(self) -> str:
        return f"KeySpec(type={self.type!r}, value={self.value!r})"


def wrap(data_key: bytes, groups: Sequence[Sequence[KeySpec]], threshold: int | None,
         wrapper: Wrapper, keep: Sequence[MasterKey] = ()) -> list[list[MasterKey]]:
    """Wrap the data key (or a Shamir share per group) for every recipient.

    ``keep`` holds existing wrapped keys that may be reused as they are (updatekeys: same key, same recipient,
    no Shamir change), so an unchanged recipient's entry stays byte-identical in Git.
    """
    if not groups or not any(groups):
        raise InputError("no recipients: pass --age, set SOPS_AGE_RECIPIENTS, or add a .sops.yaml creation rule")
    if len(groups) == 1:
        secrets = [data_key]
    else:
        from sealer.sops import shamir

        t = threshold or len(groups)
        if not 1 <= t <= len(groups):
            raise InputError(f"shamir_threshold {t} must be between 1 and the number of key groups ({len(groups)})")
        secrets = shamir.split(data_key, len(groups), t) if t > 1 else [data_key] * len(groups)
    reusable = {(k.type, k.name): k for k in keep} if len(groups) == 1 else {}
    out: list[list[MasterKey]] = []
    for secret, group in zip(secrets, groups, strict=True):
        wrapped = []
        for spec in group:
            existing = reusable.get((spec.type, _spec_name(spec)))
            wrapped.append(existing if existing is not None else wrapper(secret, spec))
        out.append(wrapped)
    return out


def _spec_name(spec: KeySpec) -> str:
    return spec.value.strip()


def unwrap(metadata: Metadata, opener: Opener) -> bytes:
    """The data key, from the first master key in each group that opens; Shamir-combined across groups."""
    secrets: list[bytes] = []
    tried: list[str] = []
    problems: set[str] = set()
    for group in metadata.key_groups:
        for key in group:
            try:
                secret = opener(key)
            except SealerError as e:
                problems.add(str(e))  # with the file and field it names (an identity file, SOPS_AGE_KEY_FILE)
                secret = None
            if secret is not None:
                secrets.append(secret)
                break
            tried.append(key.name)
    groups = len(metadata.key_groups)
    if groups <= 1 or (metadata.shamir_threshold or groups) <= 1:
        if secrets:
            return secrets[0]
    else:
        from sealer.sops import shamir

        need = metadata.shamir_threshold or groups
        if len(secrets) >= need:
            return shamir.combine(secrets[:need])
        raise DecryptionError(f"opened {len(secrets)} of the {need} key groups needed (shamir_threshold)"
                              + (f"; {'; '.join(sorted(problems))}" if problems else ""))
    hint = f"; {'; '.join(sorted(problems))}" if problems else ""
    keys = "1 master key" if len(tried) == 1 else f"{len(tried)} master keys"
    raise DecryptionError(f"no identity opens the data key (tried {keys}: "
                          f"{', '.join(_short(t) for t in tried[:4])}{', ...' if len(tried) > 4 else ''}){hint}")


def _short(name: str) -> str:
    return name if len(name) <= 24 else name[:20] + "..."
