"""The Ready condition, Events and metrics of every kind the controller serves: what a reconcile tells the owner.

SealedSecrets (both groups) also get Bitnami's condition type `Synced`, the same status, reason and message as
`Ready`: Argo CD's built-in health check for bitnami.com SealedSecrets and Bitnami's `condition_info` metric read it.

Messages never carry plaintext. A failure is logged and posted as a Warning, but one that repeats unchanged (a
resync, a retry with backoff) posts no new Event, and the condition keeps its lastTransitionTime, as Kubernetes
conventions ask.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import kopf

from controller import metrics
from controller.digest import VERSION_STATUS
from controller.logsafety import about
from controller.runtime import Result
from sealer.safetext import printable

log = logging.getLogger("sealer.controller")


SYNCED_KINDS = frozenset({"SealedSecret"})  # Bitnami's kind; the others have no Bitnami counterpart to mimic
Poster = Callable[[Mapping[str, Any], str, str, str], None]  # (object, type, reason, message): posts an Event
MAX_MESSAGE = 1024  # kopf's limit for an Event message (the middle is cut)


def kopf_event(obj: Mapping[str, Any], type: str, reason: str, message: str) -> None:
    """Through kopf's poster: only inside a handler (kopf's per-object context)."""
    kopf.event(obj, type=type, reason=reason, message=message)


def event_body(obj: Mapping[str, Any], type: str, reason: str, message: str) -> dict[str, Any]:
    """A core/v1 Event as kopf posts it (same source and name prefix), for Events posted outside a handler."""
    meta = obj.get("metadata") or {}
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE // 2 - 1] + "..." + message[-(MAX_MESSAGE // 2 - 2):]
    now = dt.datetime.now(dt.UTC).isoformat()
    ref = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": meta.get("name"),
           "uid": meta.get("uid"), "namespace": meta.get("namespace")}
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"namespace": meta.get("namespace") or "default", "generateName": "kopf-event-"},
            "action": "Action?", "type": type, "reason": reason, "message": message,
            "reportingComponent": "kopf", "reportingInstance": "dev", "source": {"component": "kopf"},
            "involvedObject": ref, "firstTimestamp": now, "lastTimestamp": now, "eventTime": now}


def condition(ready: bool, reason: str, message: str, generation: int | None, type: str = "Ready",
              since: str | None = None) -> dict[str, Any]:
    """``since``: the lastTransitionTime to keep (the status did not change); now when None."""
    return {"type": type, "status": "True" if ready else "False", "reason": reason, "message": message,
            "lastTransitionTime": since or dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "observedGeneration": generation}


def ready_condition(body: Mapping[str, Any]) -> dict[str, Any]:
    """The object's Ready condition as it stands ({} when it has none)."""
    return next((c for c in ((body.get("status") or {}).get("conditions") or []) if c.get("type") == "Ready"), {})


def is_ready(body: Mapping[str, Any]) -> bool:
    return ready_condition(body).get("status") == "True"


def set_ready(kind: str, result: Result, body: Any, meta: Any, patch: Any, *, announce: bool,
              post: Poster = kopf_event) -> None:
    """The Ready condition (into ``patch``) and its Events. ``announce``: post an informational Event for a
    success. ``post``: how Events go out (kopf's poster in a handler)."""
    previous = ready_condition(body)
    message = printable(result.message)  # names from objects: no control characters in status, Events or logs
    same = previous.get("status") == ("True" if result.ready else "False")
    new = condition(result.ready, result.reason, message, meta.get("generation"),
                    since=previous.get("lastTransitionTime") if same else None)
    repeated = all(previous.get(k) == new[k] for k in ("status", "reason", "message"))
    conditions = [new, {**new, "type": "Synced"}] if kind in SYNCED_KINDS else [new]
    current = body.get("status") or {}
    if current.get("observedGeneration") != meta.get("generation") or current.get("conditions") != conditions:
        patch.status["observedGeneration"] = meta.get("generation")  # unchanged: no PATCH (a restart or resync)
        patch.status["conditions"] = conditions
    if kind in SYNCED_KINDS:
        metrics.observe_conditions(str(meta.get("namespace") or ""), str(meta.get("name") or ""), conditions)
    if not result.ready:
        log.warning("%s %s/%s: %s: %s", kind, meta.get("namespace"), meta.get("name"), result.reason, message,
                    extra=about(body))
        if not repeated:
            post(body, "Warning", result.reason, message)
    elif result.warning and not repeated:  # ready, with something the owner must fix (an unscoped SopsSecret)
        log.warning("%s %s/%s: %s", kind, meta.get("namespace"), meta.get("name"), message, extra=about(body))
        post(body, "Warning", result.reason, message)
    elif announce:
        post(body, "Normal", result.reason, printable(result.news) if result.news else message)


def report(kind: str, result: Result, started: float, body: Any, meta: Any, patch: Any,
           post: Poster = kopf_event) -> None:
    """One reconcile of a source (SealedSecret, SopsSecret, VaultSecret): metrics, then the condition and Events
    (a success is announced when it changed the Secret). ``started``: its time.monotonic() at the start."""
    metrics.observe(kind, result.ready, result.reason, time.monotonic() - started, str(meta.get("namespace") or ""))
    set_ready(kind, result, body, meta, patch, announce=result.changed, post=post)
    record_version(result, body, patch)


def record_version(result: Result, body: Any, patch: Any) -> None:
    """The Secret's resourceVersion as written or checked, into the source's status when it differs: while the
    Secret keeps it, the next unchanged check skips the HMACs (`digest.untouched`)."""
    if result.secret_version and (body.get("status") or {}).get(VERSION_STATUS) != result.secret_version:
        patch.status[VERSION_STATUS] = result.secret_version


def report_store(result: Result, body: Any, meta: Any, patch: Any, post: Poster = kopf_event) -> None:
    """A VaultStore's or ClusterVaultStore's check: its condition, announced when it becomes ready."""
    set_ready(body.get("kind", "VaultStore"), result, body, meta, patch, announce=not is_ready(body), post=post)


def api_poster(kube: Callable[[], Any]) -> Poster:
    """Events posted through the API client, for work done outside kopf's handlers (passes, Secret watches)."""
    def post(obj: Mapping[str, Any], event_type: str, reason: str, message: str) -> None:
        body = event_body(obj, event_type, reason, message)
        try:
            kube().create_event(body["metadata"]["namespace"], body)
        except Exception as e:  # an Event is best effort, as kopf's are
            log.warning("%s %s/%s: Event %s not posted (%s)", obj.get("kind"), body["involvedObject"]["namespace"],
                        body["involvedObject"]["name"], reason, getattr(e, "status", None) or type(e).__name__)

    return post
