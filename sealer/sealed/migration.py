"""Bitnami SealedSecrets (`bitnami.com/v1alpha1`) rewritten as sealer's (`sealer.dev/v1alpha1`): the same
ciphertexts, scope annotations and template, so sealer's controller opens them with Bitnami's imported keys.

Only the `apiVersion` of each Bitnami SealedSecret changes (top-level documents and the items of a `List`). In
YAML files that one value is replaced in the text itself, so comments, quoting, indentation and every other
document stay byte-identical; JSON files are written back by the round-trip writer. A file with nothing to
migrate comes back unchanged (None), so a second run changes nothing.

SealedSecrets in Bitnami's deprecated single-blob format (spec.data) are left as they are and named: sealer's CRD
has no spec.data (an API server would prune it), so they are re-sealed first (`sealer reencrypt` turns them into
encryptedData), then migrated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sealer.errors import InputError
from sealer.io import roundtrip
from sealer.kube import API_VERSION, BITNAMI_API_VERSION
from sealer.sealed.sealedsecret import KIND, is_v1_data


def _bitnami(docs: list[Any]) -> list[Any]:
    """The Bitnami SealedSecrets among ``docs``, and among the items of `List` documents."""
    found = []
    for doc in docs:
        objects = doc.get("items") if doc.get("kind") == "List" and isinstance(doc.get("items"), list) else [doc]
        found += [o for o in objects if isinstance(o, Mapping) and o.get("kind") == KIND
                  and o.get("apiVersion") == BITNAMI_API_VERSION]
    return found


def _named(obj: Any) -> tuple[str, str]:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def migrate(data: bytes, source: str) -> tuple[str | None, list[tuple[str, str]], list[tuple[str, str]]]:
    """(the file's new text, or None when nothing changes; (namespace, name) of each SealedSecret migrated; those
    left as they are because they use the deprecated spec.data)."""
    doc = roundtrip.load(data, source)
    found = _bitnami(doc.docs)
    targets = [o for o in found if not is_v1_data(o)]
    skipped = [_named(o) for o in found if is_v1_data(o)]
    if not targets:
        return None, [], skipped
    named = [_named(o) for o in targets]
    text = None if doc.is_json else _edit_text(data, targets)
    for obj in targets:
        obj["apiVersion"] = API_VERSION
    if text is None or _plain(roundtrip.load(text.encode(), source).docs) != _plain(doc.docs):
        text = doc.dumps()  # the value was not where the parser said (or JSON): the round-trip writer instead
    return text, named, skipped


def _edit_text(data: bytes, targets: list[Any]) -> str | None:
    """The YAML text with each target's apiVersion value replaced where it stands (same quoting); None when a
    value is not written as expected (an alias, a multi-line scalar, ...)."""
    text = data.decode("utf-8-sig")
    lines = text.splitlines(keepends=True)
    for obj in targets:
        try:
            line, col = obj.lc.value("apiVersion")
        except (AttributeError, KeyError, TypeError):
            return None
        if line >= len(lines):
            return None
        row = lines[line]
        for quote in ("", '"', "'"):
            old = f"{quote}{BITNAMI_API_VERSION}{quote}"
            if row.startswith(old, col):
                lines[line] = row[:col] + f"{quote}{API_VERSION}{quote}" + row[col + len(old):]
                break
        else:
            return None
    bom = "\ufeff" if data.startswith(b"\xef\xbb\xbf") else ""
    return bom + "".join(lines)


def _plain(docs: list[Any]) -> str:
    import json

    try:
        return json.dumps(docs, default=str, sort_keys=True)
    except (TypeError, ValueError):
        raise InputError("cannot compare the migrated documents") from None


def cluster_steps(migrated: list[tuple[str, str]]) -> str:
    """What to do in the cluster once the files are migrated, for the SealedSecrets named in ``migrated``."""
    names = sorted(set(migrated))
    lines = [
        "Next, in the cluster (README: Coming from Bitnami Sealed Secrets):",
        "  1. Run sealer's controller with --import-bitnami-keys (Bitnami's sealing keys open these ciphertexts);",
        "     keep Bitnami's key Secrets until every SealedSecret is re-sealed (sealer reencrypt --controller).",
        "  2. Let sealer adopt the Secrets Bitnami's controller made (they belong to the bitnami.com objects):",
    ]
    for namespace, name in names:
        ns = f" -n {namespace}" if namespace else ""
        lines.append(f"       kubectl annotate secret{ns} {name} sealedsecrets.bitnami.com/managed=true --overwrite")
    lines += [
        "  3. Apply the migrated files (kubectl apply / your GitOps sync); check: kubectl get sealedsecrets.sealer.dev",
        "  4. Remove the old objects without deleting their Secrets (garbage collection would follow the owner):",
    ]
    for namespace, name in names:
        ns = f" -n {namespace}" if namespace else ""
        lines.append(f"       kubectl delete sealedsecrets.bitnami.com{ns} {name} --cascade=orphan")
    lines.append("  5. Uninstall Bitnami's controller (its CRD last, once no bitnami.com SealedSecret is left).")
    return "\n".join(lines)
