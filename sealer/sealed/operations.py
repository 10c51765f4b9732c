"""What `sealer validate` and `sealer reencrypt` do to SealedSecrets: check each can be sent, have the cluster's
controller verify or re-seal it (sealer.sealed.controllerapi), or re-seal it offline with the old keys; and point
every error at the file and the object it is about. The CLI reads and writes the files and prints."""

from __future__ import annotations

from sealer.errors import InputError, SealerError
from sealer.io import manifests
from sealer.kube import API_VERSION, BITNAMI_API_VERSION
from sealer.sealed import sealedsecret as sealed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from sealer.sealed.controllerapi import Controller
    from sealer.sealed.keys import PrivateKey, SealingCert


def checked(objects: list[Any], source: str) -> list[Any]:
    """``objects`` (from ``source``) when every one is a complete SealedSecret the controller can be asked about;
    InputError naming the first that is not."""
    if not objects:
        raise InputError("no SealedSecret in input", source=source)
    for obj in objects:
        if not sealed.is_sealed_secret(obj):
            raise InputError(f"{manifests.describe(obj)} is not a SealedSecret (apiVersion {API_VERSION} or "
                             f"{BITNAMI_API_VERSION})", source=source)
        try:
            sealed.check_ciphertexts(obj)
        except SealerError as e:
            raise sealed.located(e, obj, source) from None
    return objects


def verify_all(controller: Controller, todo: list[tuple[str, Any]]) -> list[str | None]:
    """For each (source, SealedSecret), in order: None if the cluster's keys open it, else why not. Stops at the
    first error: one about a SealedSecret points at it; one with a source (the URL) is about reaching the cluster."""
    problems = []
    for source, obj in todo:
        try:
            problems.append(controller.verify(obj))
        except SealerError as e:
            raise (e if e.source else sealed.located(e, obj, source)) from None
    return problems


def reencrypt_all(found: list[Any], source: str, *, controller: Controller | None = None,
                  private_keys: list[PrivateKey] | None = None, cert: SealingCert | None = None,
                  ) -> tuple[int, int, str | None]:
    """Re-seal the SealedSecrets ``found`` in ``source`` in place (round-trip documents): by ``controller`` to its
    newest key, else offline from ``private_keys`` to ``cert``. Items already sealed to the target stay as they are.
    Returns (items re-sealed, key hints updated, the controller's key fingerprint: None offline or with nothing
    found)."""
    from sealer.sealed.controllerapi import apply_rotated

    changed = edited = 0
    fingerprint = None
    for obj in found:
        try:
            if controller is not None:
                sealed.check_ciphertexts(obj)
                items, touched, fingerprint = apply_rotated(obj, controller.rotate(obj))
                changed, edited = changed + items, edited + touched
            else:
                changed += sealed.reencrypt(obj, private_keys, cert)
        except SealerError as e:  # with a source already, the error is about reaching the controller
            raise (e if e.source else sealed.located(e, obj, source)) from None
    return changed, edited, fingerprint
