"""SopsSecret in, desired Secret (or a reason it cannot be made) out. Pure apart from Vault Transit calls, which
go only to the Vault the controller was configured with.

Vault: a SopsSecret is written by whoever may create one in any namespace, and its `hc_vault` entries name the
server that would receive the controller's Vault token. So Transit keys are used only when the controller has
VAULT_ADDR (or SEALER_VAULT_ADDRS) set, and only for those addresses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from controller.sealed import MANAGED_BY, MANAGED_BY_LABEL, Outcome, owner_reference
from sealer.errors import DecryptionError, InputError, MacMismatch
from sealer.sops import kubernetes
from sealer.sops.keyservice import Opener


def desired(obj: Mapping[str, Any], identities: Sequence[Any], env: Mapping[str, str]) -> Outcome:
    meta = obj.get("metadata") or {}
    source = f"SopsSecret {meta.get('namespace')}/{meta.get('name')}"
    sops_block = obj.get("sops") if isinstance(obj.get("sops"), dict) else {}
    if sops_block.get("age") and not sops_block.get("hc_vault") and not identities:
        return Outcome(False, "NoIdentities", "the controller has no age identities: create a Secret in its "
                       "namespace with an item ending in .agekey (sealer keys age-generate prints one)")
    opener = Opener(env, identities=list(identities), vault_needs_allowlist=True)
    try:
        secret = kubernetes.open_sopssecret(obj, opener, source)
    except MacMismatch as e:
        return Outcome(False, "MACMismatch", f"{e} (keys must stay in the order sealer encrypt --kind "
                       "sopssecret writes them: sorted, as the API server stores them)")
    except DecryptionError as e:
        return Outcome(False, "DecryptFailed", str(e))
    except InputError as e:
        return Outcome(False, "InvalidSpec", str(e))
    secret["metadata"].setdefault("labels", {})[MANAGED_BY_LABEL] = MANAGED_BY
    secret["metadata"]["ownerReferences"] = [owner_reference(obj)]
    n = len(secret.get("data") or {})
    return Outcome(True, "Decrypted", f"decrypted {n} item{'s' if n != 1 else ''}", secret)
