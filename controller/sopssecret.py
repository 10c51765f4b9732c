"""SopsSecret in, desired Secret (or a reason it cannot be made) out. Pure apart from Vault Transit calls, which
go only to the Vault the controller was configured with.

Vault: a SopsSecret is written by whoever may create one in any namespace, and its `hc_vault` entries name the
server that would receive the controller's Vault token. So Transit keys are used only when the controller has
VAULT_ADDR (or SEALER_VAULT_ADDRS) set, and only for those addresses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller import digest
from controller.sealed import Outcome, owner_reference
from sealer.errors import DecryptionError, InputError, MacMismatch, ScopeMismatch, SealerError
from sealer.kube import MANAGED_BY, MANAGED_BY_LABEL
from sealer.sops import binding, kubernetes
from sealer.sops.keys.service import VAULT_ALLOW_ENV, Opener
from sealer.sops.metadata import MasterKey


def decryption_secret(obj: Mapping[str, Any]) -> str | None:
    """The name in spec.decryption.secretRef (a Secret of the SopsSecret's own namespace), or None. InputError
    when it is malformed or names another namespace: a tenant may use only its own namespace's keys."""
    decryption = (obj.get("spec") or {}).get("decryption")
    if decryption is None:
        return None
    ref = decryption.get("secretRef") if isinstance(decryption, Mapping) else None
    if not isinstance(ref, Mapping) or not isinstance(ref.get("name"), str) or not ref["name"]:
        raise InputError("must be {secretRef: {name: SECRET}}", field="spec.decryption")
    own = (obj.get("metadata") or {}).get("namespace")
    if ref.get("namespace") not in (None, own):
        raise InputError("names another namespace; a SopsSecret may use only keys of its own namespace",
                         field="spec.decryption.secretRef.namespace")
    return ref["name"]


def desired(obj: Mapping[str, Any], identities: Sequence[Any], env: Mapping[str, str], *,
            allow_unscoped: bool = False, own_identities: Sequence[Any] = ()) -> Outcome:
    """``identities``: the controller's; ``own_identities``: those of the Secret in spec.decryption.secretRef
    (tried first). ``allow_unscoped``: accept a SopsSecret without spec.binding (written before scopes). The
    outcome names the keys that opened it (`opened_by`) and counts one decryption when a key was tried."""
    meta = obj.get("metadata") or {}
    source = f"SopsSecret {meta.get('namespace')}/{meta.get('name')}"
    sops_block = obj.get("sops") if isinstance(obj.get("sops"), dict) else {}
    keys = [*own_identities, *identities]
    if sops_block.get("age") and not sops_block.get("hc_vault") and not keys:
        return Outcome(False, "NoIdentities", "the controller has no age identities: create a Secret in its "
                       "namespace with an item ending in .agekey (sealer keys age-generate prints one), or "
                       "name one of this namespace in spec.decryption.secretRef")
    opener = TrackingOpener(env, identities=keys, vault_needs_allowlist=True)
    try:
        secret, scope = kubernetes.open_sopssecret(obj, opener, source)
    except MacMismatch as e:
        return Outcome(False, "MACMismatch", f"{e} (keys must stay in the order sealer encrypt --kind "
                       "sopssecret writes them: sorted, as the API server stores them)", decrypted=opener.tried)
    except ScopeMismatch as e:
        return Outcome(False, "ScopeMismatch", str(e), decrypted=opener.tried)
    except DecryptionError as e:
        return Outcome(False, "DecryptFailed", str(e), decrypted=opener.tried)
    except InputError as e:
        return Outcome(False, "InvalidSpec", str(e), decrypted=opener.tried)
    if scope is None and not allow_unscoped:
        return Outcome(False, "Unscoped", f"{source}: no spec.binding, so any namespace could use this "
                       "ciphertext: bind it with `sealer rescope -i FILE` (or let the controller accept "
                       "unscoped SopsSecrets with --allow-unscoped-sops)", decrypted=opener.tried)
    # a template's own managed-by (Helm, Flux...) is kept; the ownerReference marks the Secret ours either way
    secret["metadata"].setdefault("labels", {}).setdefault(MANAGED_BY_LABEL, MANAGED_BY)
    secret["metadata"]["ownerReferences"] = [owner_reference(obj)]
    return Outcome(True, "Decrypted", ready_message(len(secret.get("data") or {}), scope is not None), secret,
                   warning=scope is None, opened_by=tuple(opener.opened), decrypted=opener.tried)


def ready_message(items: int, bound: bool) -> str:
    """The Ready message, the same whether the object was decrypted now or found unchanged."""
    message = f"decrypted {items} item{'s' if items != 1 else ''}"
    return message if bound else message + "; unscoped (no spec.binding): bind it with `sealer rescope -i FILE`"


def is_bound(obj: Mapping[str, Any]) -> bool:
    """The object has a spec.binding (whether it admits this place is checked when it is opened)."""
    spec = obj.get("spec")
    return isinstance(spec, Mapping) and binding.KEY in spec


# --- restarts and resyncs without decrypting (see controller.digest) ------------------------------------------

class TrackingOpener(Opener):
    """An Opener that records which key opened the data key (fingerprints, for `sealer.dev/opened-by`) and
    whether any was tried (one decryption operation per opened object). Identities are tried one at a time, the
    one whose recipient the entry names first: the entry's `recipient` is the writer's word, the key that
    actually opens it is what counts."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.opened: list[str] = []
        self.tried = 0

    def __call__(self, key: MasterKey) -> bytes | None:
        self.tried = 1
        identities = self.identities() if key.type == "age" else []
        if not identities:
            found = super().__call__(key)
            if found is not None and key.type == "hc_vault":
                self.opened.append(vault_fingerprint(key.fields))
            return found
        from sealer.sops.keys import age

        named = key.name.strip()
        for identity in sorted(identities, key=lambda i: i.recipient != named):
            try:
                found = age.unwrap(key.enc, [identity])
            except DecryptionError:
                continue
            self.opened.append(digest.age_fingerprint(identity.recipient or ""))
            return found
        return None


def vault_fingerprint(fields: Mapping[str, Any]) -> str:
    return digest.vault_fingerprint(str(fields.get("vault_address") or ""), str(fields.get("engine_path") or ""),
                                    str(fields.get("key_name") or ""))


def fingerprints(obj: Mapping[str, Any], identities: Sequence[Any], env: Mapping[str, str]) -> list[str]:
    """The keys the controller could open this object with now, as `opened-by` names them: every age identity
    it holds for the object, and the object's Vault Transit keys on an address it may send its token to."""
    out = [digest.age_fingerprint(i.recipient) for i in identities if getattr(i, "recipient", None)]
    sops_block = obj.get("sops") if isinstance(obj.get("sops"), Mapping) else {}
    entries = sops_block.get("hc_vault") or []
    if entries and isinstance(entries, list):
        check = Opener(env, identities=[], vault_needs_allowlist=True)
        for entry in entries:
            if not isinstance(entry, Mapping):
                continue
            try:
                check.check_vault_address(str(entry.get("vault_address") or ""))
            except SealerError:
                continue
            out.append(vault_fingerprint(entry))
    return out


def settings(allow_unscoped: bool, env: Mapping[str, str]) -> str:
    """The controller settings that change what a SopsSecret gives, for the source digest (never a token)."""
    vault = ",".join(sorted(a.strip().rstrip("/") for a in (env.get("VAULT_ADDR", ""),
                                                            *env.get(VAULT_ALLOW_ENV, "").split(",")) if a.strip()))
    return f"allow_unscoped_sops={allow_unscoped};vault_addrs={vault}"


def given_names(obj: Mapping[str, Any]) -> tuple[list[str], list[str]] | None:
    """The label and annotation names the Secret is given: the template's (SOPS never encrypts a mapping key, so
    they are readable without decrypting) and our managed-by label. None when the template is not readable so
    (then the object is decrypted every time, as before)."""
    spec = obj.get("spec")
    template = (spec.get("template") if isinstance(spec, Mapping) else None) or {}
    meta = (template.get("metadata") if isinstance(template, Mapping) else None) or {}
    if not isinstance(template, Mapping) or not isinstance(meta, Mapping):
        return None
    names: list[list[str]] = []
    for field in ("labels", "annotations"):
        given = meta.get(field) or {}
        if not isinstance(given, Mapping):
            return None
        names.append(sorted(str(k) for k in given))
    labels, annotations = names
    return sorted({*labels, MANAGED_BY_LABEL}), [a for a in annotations if a not in digest.STAMPS]
