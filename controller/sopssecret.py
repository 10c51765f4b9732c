"""SopsSecret in, desired Secret (or a reason it cannot be made) out. Pure apart from Vault Transit calls, which
go only to the Vault the controller was configured with.

Vault: a SopsSecret is written by whoever may create one in any namespace, and its `hc_vault` entries name the
server that would receive the controller's Vault token. So Transit keys are used only when the controller has
VAULT_ADDR (or SEALER_VAULT_ADDRS) set, and only for those addresses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller.sealed import Outcome, owner_reference
from sealer.errors import DecryptionError, InputError, MacMismatch, ScopeMismatch
from sealer.kube import MANAGED_BY, MANAGED_BY_LABEL
from sealer.sops import kubernetes
from sealer.sops.keys.service import Opener


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
    (tried first). ``allow_unscoped``: accept a SopsSecret without spec.binding (written before scopes)."""
    meta = obj.get("metadata") or {}
    source = f"SopsSecret {meta.get('namespace')}/{meta.get('name')}"
    sops_block = obj.get("sops") if isinstance(obj.get("sops"), dict) else {}
    keys = [*own_identities, *identities]
    if sops_block.get("age") and not sops_block.get("hc_vault") and not keys:
        return Outcome(False, "NoIdentities", "the controller has no age identities: create a Secret in its "
                       "namespace with an item ending in .agekey (sealer keys age-generate prints one), or "
                       "name one of this namespace in spec.decryption.secretRef")
    opener = Opener(env, identities=keys, vault_needs_allowlist=True)
    try:
        secret, scope = kubernetes.open_sopssecret(obj, opener, source)
    except MacMismatch as e:
        return Outcome(False, "MACMismatch", f"{e} (keys must stay in the order sealer encrypt --kind "
                       "sopssecret writes them: sorted, as the API server stores them)")
    except ScopeMismatch as e:
        return Outcome(False, "ScopeMismatch", str(e))
    except DecryptionError as e:
        return Outcome(False, "DecryptFailed", str(e))
    except InputError as e:
        return Outcome(False, "InvalidSpec", str(e))
    n = len(secret.get("data") or {})
    message = f"decrypted {n} item{'s' if n != 1 else ''}"
    if scope is None:
        if not allow_unscoped:
            return Outcome(False, "Unscoped", f"{source}: no spec.binding, so any namespace could use this "
                           "ciphertext: bind it with `sealer rescope -i FILE` (or let the controller accept "
                           "unscoped SopsSecrets with --allow-unscoped-sops)")
        message += "; unscoped (no spec.binding): bind it with `sealer rescope -i FILE`"
    # a template's own managed-by (Helm, Flux...) is kept; the ownerReference marks the Secret ours either way
    secret["metadata"].setdefault("labels", {}).setdefault(MANAGED_BY_LABEL, MANAGED_BY)
    secret["metadata"]["ownerReferences"] = [owner_reference(obj)]
    return Outcome(True, "Decrypted", message, secret, warning=scope is None)
