"""A Kubernetes API for `sealer demo` and the controller tests: kmock's emulator in a background thread, a
kubeconfig, a sync client. It is the one stand-in of the demo, and what the tests run the controller against.

    def test_it(kube, tmp_path):             # `kube`: tests/conftest.py's fixture, a fresh, empty API server per test
        kube.client.create({"apiVersion": "sealer.dev/v1alpha1", "kind": "SealedSecret",
                            "metadata": {"name": "s", "namespace": "ns"}, "spec": {...}})
        op = kube.spawn([sys.executable, "-m", "controller"], log=tmp_path / "controller.log")
        secret = kube.client.wait_for(lambda: kube.client.get("v1", "Secret", "s", "ns"))
        op.stop()
        assert "hunter2" not in op.log_text()

Why a thread and not a subprocess: the emulator then starts in milliseconds (no second interpreter importing aiohttp),
it dies with the test process (a daemon thread can never be orphaned, unlike an emulator process left behind by a
killed pytest), and tests can look inside it (`kube.requests()`, `kube.server_errors()`, `kube.call(fn)`) to assert on
what the controller sent. The test thread talks to it over HTTP like any client, so nothing in the test shares
kmock's objects across threads; `KubeServer.call` hops onto the emulator's loop for the rare look inside. The code
under test (the controller, kopf) always runs as its own process (`KubeServer.spawn`), stopped by its pid.

`Emulator` is `kmock.KubernetesEmulator` (kmock 0.8) taught the API-server behaviours that kopf and the controller
depend on and that plain kmock lacks (each of these broke or silently skewed a kopf operator in the spike):

* metadata.uid / resourceVersion / creationTimestamp / generation are set by the server; resourceVersion is one
  cluster-wide counter, bumped on every change and only on a change (a no-op patch emits no watch event).
  Plain kmock sets none of them, so kopf's finalizer JSON-patch (`test /metadata/resourceVersion`) fails with HTTP 500
  forever, ownerReferences get `uid: None` and observedGeneration stays empty.
* `generateName` (kopf posts every Event with it; plain kmock files them all under the name None -> 409 from the 2nd).
* Patch types by Content-Type: json-patch (a failed `test` op is 422, as kopf expects), merge-patch (RFC 7386), and
  strategic-merge on built-in kinds (treated as merge-patch: lists such as ownerReferences/finalizers are REPLACED,
  not merged by key); strategic-merge on custom resources is refused with 415, as a real API server does.
  `metadata.resourceVersion` in a merge patch or PUT is a precondition (409 on mismatch). PUT replaces.
* status subresource: PATCH/PUT of the main resource ignores `.status`; `/status` changes only `.status`;
  create drops `.status`.
* watch: `resourceVersion` is honoured (events after it, no replay), otherwise the current objects come as ADDED
  first, with no gap between that snapshot and the live events; label/field selectors (objects entering or leaving
  a selector come as ADDED/DELETED); `timeoutSeconds`; BOOKMARKs when `allowWatchBookmarks=true` (periodic, so kopf's
  70 s inactivity timeout never fires); `sendInitialEvents` ends the initial list with the initial-events-end bookmark;
  410 Gone when the requested version is older than the kept history.
* list: label/field selectors, a list resourceVersion, `kind: XList`, items in etcd's order (namespace, name),
  `limit`/`continue` chunking (a continued list reads the current objects, not the first page's snapshot).
* v1 Secrets: `stringData` is folded into `data` (base64), `data` must be base64 (422), an `immutable` Secret
  refuses changes to its data (422).
* metadata.annotations may hold at most 256 KiB in all (422), which is what breaks operators that copy a large
  spec into an annotation.
* ServiceAccount tokens: TokenRequest (`POST .../serviceaccounts/NAME/token`: an RS256 JWT with projected-token
  claims, 404 for a missing ServiceAccount) and TokenReview (authenticated only for tokens it issued, unexpired,
  whose ServiceAccount still exists), so Vault's Kubernetes auth can run against it end to end.
* garbage collection (on by default): deleting an object deletes, in the same request, every object whose
  ownerReferences name no live uid, and deleting a Namespace deletes what is in it. Only the uid of an
  ownerReference counts, as in Kubernetes: a Secret owned through a wrong uid vanishes at the next deletion.
* kmock fixes: /api/v1/namespaces[/NAME] is routed to the Namespace resource (kmock 0.8 answers 500 / 404), and
  object requests skip kmock's DSL matching, which compares each request with every earlier one (a long-running
  plain emulator slows down quadratically: 300 GETs took 7 s, the next 300 took 19 s).

Still not emulated (test that logic as pure functions and say so in the test): admission, validation against the
CRD schema, defaulting, RBAC, server-side apply, deletecollection, graceful deletion periods, namespace existence
(objects may live in namespaces that were never created, unless `Emulator(strict_namespaces=True)`), and a
namespace's Terminating phase.
"""

from __future__ import annotations

import asyncio
import base64
import bisect
import contextlib
import datetime
import functools
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import aiohttp.web
import attrs
import jsonpatch
import jsonpointer
import kmock
from kmock._internal import parsing as _kmock_parsing  # kmock 0.8 internals: see _parse_path below

from sealer.kube import API_VERSION, BITNAMI_API_VERSION

T = TypeVar("T")

# --------------------------------------------------------------------------------------------------------------------
# Resources
# --------------------------------------------------------------------------------------------------------------------

VERBS = frozenset({"list", "watch", "get", "create", "patch", "update", "delete"})


@dataclass(frozen=True)
class Resource:
    """One served resource: `apiVersion` ("v1", "apps/v1", "sealer.dev/v1alpha1"), plural, kind, scope."""

    api_version: str
    plural: str
    kind: str
    namespaced: bool
    status: bool = False  # has a status subresource

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]

    @property
    def version(self) -> str:
        return self.api_version.rpartition("/")[2]

    @property
    def key(self) -> str:
        """kmock's spelling: 'v1/secrets', 'sealer.dev/v1alpha1/sealedsecrets'."""
        return f"{self.api_version}/{self.plural}"

    @property
    def custom(self) -> bool:
        """A custom resource (served from a CRD): refuses strategic-merge patches."""
        return self.group not in BUILTIN_GROUPS

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        parts = [base]
        if self.namespaced and namespace:
            parts += ["namespaces", urllib.parse.quote(namespace, safe="")]
        parts.append(self.plural)
        if name is not None:
            parts.append(urllib.parse.quote(name, safe=""))
        if subresource:
            parts.append(subresource)
        return "/".join(parts)


BUILTIN_GROUPS = frozenset({"", "apps", "apiextensions.k8s.io", "coordination.k8s.io", "events.k8s.io", "batch",
                            "rbac.authorization.k8s.io", "admissionregistration.k8s.io", "policy"})

# Everything the sealer controller (and kopf under it) may touch. kopf needs v1/namespaces, v1/events and the CRDs
# resource to be discoverable ("backbone" resources), and kopf.dev peerings unless run with --standalone.
SEALER_RESOURCES: tuple[Resource, ...] = (
    Resource("v1", "namespaces", "Namespace", namespaced=False),
    Resource("v1", "events", "Event", namespaced=True),
    Resource("v1", "secrets", "Secret", namespaced=True),
    Resource("v1", "configmaps", "ConfigMap", namespaced=True),
    Resource("v1", "serviceaccounts", "ServiceAccount", namespaced=True),
    Resource("apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", namespaced=False),
    Resource("coordination.k8s.io/v1", "leases", "Lease", namespaced=True),
    Resource("kopf.dev/v1", "clusterkopfpeerings", "ClusterKopfPeering", namespaced=False),
    Resource("kopf.dev/v1", "kopfpeerings", "KopfPeering", namespaced=True),
    Resource(API_VERSION, "sealedsecrets", "SealedSecret", namespaced=True, status=True),
    Resource(API_VERSION, "sopssecrets", "SopsSecret", namespaced=True, status=True),
    Resource(API_VERSION, "vaultsecrets", "VaultSecret", namespaced=True, status=True),
    Resource(API_VERSION, "vaultpkisecrets", "VaultPKISecret", namespaced=True, status=True),
    Resource(API_VERSION, "vaultpushsecrets", "VaultPushSecret", namespaced=True, status=True),
    Resource(API_VERSION, "clustervaultsecrets", "ClusterVaultSecret", namespaced=False, status=True),
    Resource(API_VERSION, "vaultstores", "VaultStore", namespaced=True, status=True),
    Resource(API_VERSION, "clustervaultstores", "ClusterVaultStore", namespaced=False, status=True),
    Resource(BITNAMI_API_VERSION, "sealedsecrets", "SealedSecret", namespaced=True, status=True),
    Resource("external-secrets.io/v1", "externalsecrets", "ExternalSecret", namespaced=True, status=True),
    Resource("external-secrets.io/v1", "secretstores", "SecretStore", namespaced=True, status=True),
    Resource("external-secrets.io/v1", "clustersecretstores", "ClusterSecretStore", namespaced=False, status=True),
    Resource("apps/v1", "deployments", "Deployment", namespaced=True, status=True),
    Resource("apps/v1", "statefulsets", "StatefulSet", namespaced=True, status=True),
    Resource("apps/v1", "daemonsets", "DaemonSet", namespaced=True, status=True),
)


# --------------------------------------------------------------------------------------------------------------------
# Selectors and patches (pure functions)
# --------------------------------------------------------------------------------------------------------------------

_SEL_SET = re.compile(r"^\s*([^\s!=,()]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_SEL_EQ = re.compile(r"^\s*([^\s!=,()]+)\s*(==|=|!=)\s*([^\s,()]*)\s*$")
_SEL_EXISTS = re.compile(r"^\s*(!?)\s*([^\s!=,()]+)\s*$")

Selector = list[Callable[[Mapping[str, str]], bool]]


def _copied(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars): what every object here is, read from a request
    body. Four times faster than `copy.deepcopy`, which keeps a memo for shapes JSON cannot have; copies were 7% of
    the emulator's time in the controller bench."""
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copied(v) for v in value]
    return value


def _split_selector(text: str) -> list[str]:
    """Split on the commas that are not inside `in (a,b)` parentheses."""
    parts, depth, cur = [], 0, []
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p for p in parts if p.strip()]


def parse_label_selector(text: str | None) -> Selector:
    """`a=b,c!=d,e in (x,y),f notin (z),g,!h` -> predicates over a labels dict. ValueError on bad syntax."""
    preds: Selector = []
    for term in _split_selector(text or ""):
        if m := _SEL_SET.match(term):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",") if v.strip()}
            if op == "in":
                preds.append(lambda labels, k=key, vs=values: labels.get(k) in vs)
            else:
                preds.append(lambda labels, k=key, vs=values: labels.get(k) not in vs)
        elif m := _SEL_EQ.match(term):
            key, op, value = m.groups()
            if op == "!=":
                preds.append(lambda labels, k=key, v=value: labels.get(k) != v)
            else:
                preds.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif m := _SEL_EXISTS.match(term):
            neg, key = m.groups()
            preds.append((lambda labels, k=key: k not in labels) if neg else (lambda labels, k=key: k in labels))
        else:
            raise ValueError(f"unable to parse requirement: {term!r}")
    return preds


_FIELDS = {"metadata.name": ("metadata", "name"), "metadata.namespace": ("metadata", "namespace")}


def parse_field_selector(text: str | None) -> list[Callable[[Mapping[str, Any]], bool]]:
    """Only what the API server supports for every kind: metadata.name / metadata.namespace with =, ==, !=."""
    preds: list[Callable[[Mapping[str, Any]], bool]] = []
    for term in _split_selector(text or ""):
        m = _SEL_EQ.match(term)
        if not m or m.group(1) not in _FIELDS:
            raise ValueError(f"field label not supported: {term!r}")
        path, op, value = _FIELDS[m.group(1)], m.group(2), m.group(3)

        def pred(obj: Mapping[str, Any], path: tuple[str, str] = path, op: str = op, value: str = value) -> bool:
            actual = (obj.get(path[0]) or {}).get(path[1]) or ""
            return (actual != value) if op == "!=" else (actual == value)

        preds.append(pred)
    return preds


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: dicts merge recursively, None deletes, anything else (lists too) replaces."""
    if not isinstance(patch, Mapping):
        return _copied(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# --------------------------------------------------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------------------------------------------------

_kmock_parse_path = getattr(_kmock_parsing.parse_path, "__wrapped__", _kmock_parsing.parse_path)


def _parse_path(path: str) -> Any:
    """kmock 0.8 reads /api/v1/namespaces[/NAME] as "namespace NAME, no resource" (and the bare list as a crash):
    so Namespace objects could not be listed, watched, fetched, patched or deleted. Parse them as the resource."""
    parts = path.strip("/").split("/")
    if parts[:3] == ["api", "v1", "namespaces"] and (len(parts) <= 4 or (
            len(parts) == 5 and parts[4] in ("status", "finalize"))):
        return _kmock_parsing.ParsedPath(group="", version="v1", plural="namespaces", namespace=None,
                                         name=parts[3] if len(parts) > 3 else None,
                                         subresource=parts[4] if len(parts) > 4 else None)
    return _kmock_parse_path(path)


_parse_path.__wrapped__ = _kmock_parse_path  # type: ignore[attr-defined]
_kmock_parsing.parse_path = _parse_path


class ApiError(kmock.KubernetesError):
    """An API error with the reason string a real API server uses ('NotFound', 'Conflict', 'Invalid', ...)."""


def _error(status: int, reason: str, message: str) -> ApiError:
    return ApiError(status=status, reason=reason, message=message, details={"causes": []})


def _normalise_secret(obj: dict[str, Any], current: dict[str, Any] | None) -> None:
    """What the API server does to a v1 Secret: stringData merged into data (base64), data must be base64,
    an immutable Secret keeps its data."""
    string_data = obj.pop("stringData", None) or {}
    if string_data:
        obj["data"] = dict(obj.get("data") or {})
        for k, v in string_data.items():
            obj["data"][k] = base64.b64encode(str(v).encode()).decode()
    for k, v in (obj.get("data") or {}).items():
        try:
            base64.b64decode(v, validate=True)
        except (ValueError, TypeError):
            raise _error(422, "Invalid", f"data[{k}]: Invalid value: illegal base64 data") from None
    if current is not None and current.get("immutable") and (
            obj.get("data") != current.get("data") or obj.get("immutable") is not True):
        raise _error(422, "Invalid", "data: Forbidden: field is immutable when `immutable` is set")


ANNOTATIONS_LIMIT = 256 * 1024  # total bytes of keys and values, as apimachinery's ValidateAnnotationsSize


def _check_annotations(obj: dict[str, Any]) -> None:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    size = sum(len(str(k)) + len(str(v)) for k, v in annotations.items())
    if size > ANNOTATIONS_LIMIT:
        raise _error(422, "Invalid", f"metadata.annotations: Too long: may not be more than {ANNOTATIONS_LIMIT} bytes")


_STAMP: list[Any] = [0, ""]  # the second of the last timestamp made, and its text


def _now() -> str:
    """The current second as the API server writes it, formatted once per second (a burst creates hundreds)."""
    second = int(time.time())
    if second != _STAMP[0]:
        _STAMP[:] = second, datetime.datetime.fromtimestamp(second, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return _STAMP[1]


@dataclass
class _Change:
    rv: int
    resource: kmock.resource
    type: str  # ADDED, MODIFIED, DELETED
    obj: dict[str, Any]  # never changed once recorded
    old: dict[str, Any] | None
    _lines: dict[str, bytes] = field(default_factory=dict)

    def line(self, type_: str) -> bytes:
        """The watch event of this change as ``type_``, serialised once for every watch that sends it."""
        found = self._lines.get(type_)
        if found is None:
            found = self._lines[type_] = _event_line({"type": type_, "object": self.obj})
        return found


def _event_line(event: Mapping[str, Any]) -> bytes:
    return json.dumps(event).encode() + b"\n"


@functools.cache
def _resource(key: str) -> kmock.resource:
    """kmock's resource reference for ``group/version/plural``, made once: its constructor runs typing's protocol
    checks, a third of what recording a change cost."""
    return kmock.resource(key)


@functools.cache
def _path_resource(group: str, version: str | None, plural: str) -> kmock.resource:
    """The resource of a request path, as kmock's request parser makes it, made once per resource."""
    return kmock.resource(group=group, version=version, plural=plural)


@functools.cache
def _method(name: str) -> kmock.method:
    return kmock.method(name)


def _list_key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


@attrs.define(kw_only=True)
class Emulator(kmock.KubernetesEmulator):
    """kmock.KubernetesEmulator with server-side metadata, patch types, status subresource, selectors, watch resume,
    bookmarks and garbage collection (see the module docstring). Register resources with `register()`."""

    gc: bool = True
    strict_namespaces: bool = False
    bookmark_interval: float = 10.0  # seconds between BOOKMARKs on an idle watch that asked for them
    history_limit: int = 100_000  # watch events kept for resuming from a resourceVersion; older -> 410 Gone

    _infos: dict[Any, Resource] = attrs.field(factory=dict, init=False)
    _rv: int = attrs.field(default=0, init=False)
    _log: list[_Change] = attrs.field(factory=list, init=False)
    _log_rvs: list[int] = attrs.field(factory=list, init=False)
    _oldest_rv: int = attrs.field(default=0, init=False)  # a watch may resume from any rv >= this one
    _watchers: dict[Any, asyncio.Condition] = attrs.field(factory=dict, init=False)  # by resource: see _woken
    _dropped: dict[Any, int] = attrs.field(factory=dict, init=False)  # by resource: the newest change let go
    _closing: bool = attrs.field(default=False, init=False)
    _results: dict[int, Any] = attrs.field(factory=dict, init=False)
    _builtin_payloads: int = attrs.field(default=0, init=False)
    _proxies: dict[tuple[str, str], str] = attrs.field(factory=dict, init=False)  # see proxy_to
    _token_key: Any = attrs.field(default=None, init=False)  # signs ServiceAccount tokens (TokenRequest)
    _tokens: dict[str, tuple[str, str, str, tuple[str, ...], int]] = attrs.field(factory=dict, init=False)
    token_reviews: int = attrs.field(default=0, init=False)  # TokenReviews answered (tests read it)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.fallback[kmock.method.PUT] << self._serve_replace
        self._builtin_payloads = len(self._payloads)

    # --- service proxy (test addition) ---------------------------------------------------------------------------

    _SERVICE_PROXY = re.compile(r"^/api/v1/namespaces/([^/]+)/services/([^/]+)/proxy(/.*)?$")

    def proxy_to(self, namespace: str, name: str, target: str) -> None:
        """Serve the API server's service proxy for Service `namespace/name` (any scheme and port) by forwarding to
        `target` ("http://127.0.0.1:PORT"). kmock has no proxy; the path format is the API server's:
        /api/v1/namespaces/NS/services/[SCHEME:]NAME[:PORT]/proxy/PATH."""
        self._proxies[(namespace, name)] = target.rstrip("/")

    # --- ServiceAccount tokens: TokenRequest and TokenReview (for Vault's Kubernetes auth) ---------------------

    _TOKEN_REQUEST = re.compile(r"^/api/v1/namespaces/([^/]+)/serviceaccounts/([^/]+)/token$")
    _REVIEW_PATH = "/apis/authentication.k8s.io/v1/tokenreviews"

    def _signer(self) -> Any:
        if self._token_key is None:
            from cryptography.hazmat.primitives.asymmetric import rsa

            self._token_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return self._token_key

    def _issue_token(self, namespace: str, name: str, body: dict[str, Any]) -> aiohttp.web.StreamResponse:
        """TokenRequest: an RS256 JWT with the claims of a projected ServiceAccount token; 404 for a
        ServiceAccount that does not exist, as the API server answers."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        sa_res = self._infos.get(kmock.resource("v1/serviceaccounts"))
        account = self._live(self._key(sa_res, namespace, name)) if sa_res is not None else None
        if account is None:
            return aiohttp.web.json_response(
                {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                 "message": f'serviceaccounts "{name}" not found'}, status=404)
        spec = body.get("spec") or {}
        audiences = list(spec.get("audiences") or ["https://kubernetes.default.svc.cluster.local"])
        now = int(time.time())
        exp = now + int(spec.get("expirationSeconds") or 3600)
        uid = account["metadata"]["uid"]
        claims = {"iss": "https://kubernetes.default.svc.cluster.local", "aud": audiences, "iat": now, "nbf": now,
                  "exp": exp, "sub": f"system:serviceaccount:{namespace}:{name}",
                  "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": name, "uid": uid}}}

        def b64(raw: bytes) -> str:
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        signing = b64(json.dumps({"alg": "RS256", "kid": "emulator"}).encode()) + "." + b64(json.dumps(claims).encode())
        token = signing + "." + b64(self._signer().sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256()))
        self._tokens[token] = (namespace, name, uid, tuple(audiences), exp)
        expires = datetime.datetime.fromtimestamp(exp, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return aiohttp.web.json_response({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                          "metadata": {"name": name, "namespace": namespace},
                                          "spec": {**spec, "audiences": audiences},
                                          "status": {"token": token, "expirationTimestamp": expires}}, status=201)

    def _review_token(self, body: dict[str, Any]) -> aiohttp.web.StreamResponse:
        """TokenReview: authenticated only for a token this server issued, unexpired, whose ServiceAccount
        still exists, for an audience the review asks about (any, when it names none)."""
        self.token_reviews += 1
        spec = body.get("spec") or {}
        issued = self._tokens.get(str(spec.get("token") or ""))
        status: dict[str, Any] = {"authenticated": False, "error": "invalid bearer token"}
        if issued is not None:
            namespace, name, uid, audiences, exp = issued
            sa_res = self._infos.get(kmock.resource("v1/serviceaccounts"))
            live = self._live(self._key(sa_res, namespace, name)) if sa_res is not None else None
            wanted = list(spec.get("audiences") or [])
            matched = [a for a in audiences if not wanted or a in wanted]
            if exp > time.time() and live is not None and live["metadata"]["uid"] == uid and matched:
                status = {"authenticated": True, "audiences": matched, "user": {
                    "username": f"system:serviceaccount:{namespace}:{name}", "uid": uid,
                    "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}",
                               "system:authenticated"]}}
        return aiohttp.web.json_response({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                          "spec": spec, "status": status}, status=201)

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        if raw_request.method == "POST":
            token_request = self._TOKEN_REQUEST.match(raw_request.path)
            if token_request is not None or raw_request.path == self._REVIEW_PATH:
                try:
                    body = json.loads(await raw_request.read() or b"{}")
                except ValueError:
                    body = {}
                if token_request is not None:
                    return self._issue_token(urllib.parse.unquote(token_request.group(1)),
                                             urllib.parse.unquote(token_request.group(2)), body)
                return self._review_token(body)
        match = self._SERVICE_PROXY.match(raw_request.path)
        if match is None:
            request = await self._parsed(raw_request)
            if request is None:  # discovery, a test's own reactions, a body that is not JSON: kmock's own way
                return await super().__call__(raw_request)
            try:
                return await self._handle(request)
            except Exception as e:  # what kmock's handler does with an error: record it, answer with it
                if not self._errors:
                    raise
                self._errors[-1].append(e)
                return await self._render_error(e)
        namespace, service, rest = match.group(1), match.group(2), match.group(3) or "/"
        parts = service.split(":")
        name = parts[1] if len(parts) == 3 else parts[0]
        target = self._proxies.get((urllib.parse.unquote(namespace), urllib.parse.unquote(name)))
        if target is None:
            return aiohttp.web.json_response(
                {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                 "message": f'services "{name}" not found'}, status=404)
        body = await raw_request.read()
        url = target + rest + (f"?{raw_request.query_string}" if raw_request.query_string else "")
        headers = {k: v for k, v in raw_request.headers.items() if k.lower() in ("content-type", "accept")}
        try:
            async with aiohttp.ClientSession() as session, session.request(
                    raw_request.method, url, data=body, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=60)) as upstream:
                payload = await upstream.read()
                ctype = upstream.headers.get("Content-Type")
                return aiohttp.web.Response(status=upstream.status, body=payload,
                                            headers={"Content-Type": ctype} if ctype else None)
        except (aiohttp.ClientError, OSError) as e:  # what a real API server says when the pod does not answer
            return aiohttp.web.json_response(
                {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "ServiceUnavailable",
                 "code": 503, "message": f"error trying to reach service: {type(e).__name__}"}, status=503)

    async def _parsed(self, raw_request: aiohttp.web.BaseRequest) -> kmock.Request | None:
        """An object API request as kmock's `Request._parse` makes it (tests/test_kube_fixture.py compares them),
        without its repeated work: it decodes the body twice and builds the method and resource anew for each
        request, a sixth of the emulator's time in the controller bench. None when kmock's own path must serve it."""
        if len(self._payloads) != self._builtin_payloads:
            return None
        k8s = _parse_path(raw_request.path)
        if k8s is None or k8s.group is None or k8s.plural is None:
            return None
        body = await raw_request.read()
        text = body.decode(raw_request.charset or "utf-8") if body else ""
        data = None
        if text:
            try:
                data = json.loads(text)
            except ValueError:
                return None
        method = _method(raw_request.method)
        params = dict(raw_request.query) if raw_request.query_string else {}  # parsing even an empty one costs
        headers = dict(raw_request.headers)
        cookies = dict(raw_request.cookies) if "Cookie" in raw_request.headers else {}  # API clients send none
        request = kmock.Request(
            id=len(self._requests), raw_request=raw_request, url=raw_request.url, method=method, params=params,
            headers=headers, cookies=cookies, data=data, body=body, text=text,
            action=_kmock_parsing.guess_k8s(k8s, method, params),
            resource=_path_resource(k8s.group, k8s.version, k8s.plural), namespace=k8s.namespace, name=k8s.name,
            subresource=k8s.subresource)
        self._requests.append(request)
        return request

    # --- setup ------------------------------------------------------------------------------------------------

    def register(self, *resources: Resource) -> None:
        for res in resources:
            self._infos[kmock.resource(res.key)] = res
            self.resources[res.key] = kmock.ResourceInfo(
                kind=res.kind, singular=res.kind.lower(), namespaced=res.namespaced, verbs=set(VERBS),
                subresources={"status"} if res.status else set())

    def info(self, resource: kmock.resource) -> Resource:
        try:
            return self._infos[resource if isinstance(resource, kmock.resource) else _resource(resource)]
        except KeyError:
            raise _error(404, "NotFound", f"the server could not find the requested resource ({resource})") from None

    async def close(self) -> None:
        """End every open watch stream (so the HTTP server can shut down without waiting for them)."""
        self._closing = True
        await self._notify(list(self._watchers))

    # --- request dispatch -------------------------------------------------------------------------------------

    def _woken(self, resource: Any) -> asyncio.Condition:
        """What the watches of one resource wait on: a change wakes the watches of what it changed, not every
        watch (a controller holds a dozen; each wake-up of each was a task, every write)."""
        cond = self._watchers.get(resource)
        if cond is None:
            cond = self._watchers[resource] = asyncio.Condition()
        return cond

    async def _notify(self, resources: Iterable[Any]) -> None:
        for resource in resources:
            cond = self._watchers.get(resource)
            if cond is not None:
                async with cond:
                    cond.notify_all()

    async def _handle(self, request: kmock.Request) -> Any:
        object_api = request.resource is not None and request.resource.plural is not None
        mutation = object_api and (
            request.action in (kmock.action.CREATE, kmock.action.UPDATE, kmock.action.DELETE)
            or (request.method == kmock.method.PUT and request.name is not None))
        result: Any = None
        if mutation:
            async with self._lock:
                before = self._rv
                result = self._mutate(request)
                touched = {change.resource for change in self._log[bisect.bisect_right(self._log_rvs, before):]}
            await self._notify(touched)
        elif object_api:
            self.info(request.resource)  # 404 for unknown resources, like the real server
        if object_api and len(self._payloads) == self._builtin_payloads:
            # The fast path. kmock's DSL matches every request against every request served so far
            # (`request in payload._source`), which makes a long-running emulator quadratically slow.
            return await self._respond(request, result, mutation)
        # Discovery, or a test added its own reactions (e.g. `kube.emulator['patch v1/secrets'] << 500`).
        self._results[id(request)] = result
        try:
            return await super(kmock.KubernetesEmulator, self)._handle(request)
        finally:
            self._results.pop(id(request), None)

    async def _respond(self, request: kmock.Request, result: Any, mutation: bool) -> aiohttp.web.StreamResponse:
        if mutation:
            return aiohttp.web.json_response(result, status=201 if request.action == kmock.action.CREATE else 200)
        if request.action == kmock.action.FETCH:
            return aiohttp.web.json_response(await self._serve_fetch(request))
        if request.action == kmock.action.LIST:
            return aiohttp.web.json_response(await self._serve_list(request))
        if request.action != kmock.action.WATCH:
            raise _error(405, "MethodNotAllowed", f"{request.method} is not supported on {request.url.path}")
        stream = aiter(self._serve_watch(request))
        try:
            await anext(stream)  # API errors (bad selector, unknown resource) surface here, before the headers
            response = aiohttp.web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
            await response.prepare(request._raw_request)
            try:
                async for lines in stream:  # what one step of the watch has to say, in one write
                    await response.write(b"".join(lines))
                await response.write_eof()
            except (ConnectionError, RuntimeError):  # the client went away
                pass
            return response
        finally:
            await stream.aclose()

    async def _serve_create(self, request: kmock.Request) -> Any:
        return self._results[id(request)]

    _serve_update = _serve_create
    _serve_delete = _serve_create

    async def _serve_replace(self, request: kmock.Request) -> Any:
        if id(request) not in self._results:
            raise _error(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        return self._results[id(request)]

    # --- state changes (all under self._lock, synchronous) ------------------------------------------------------

    def _key(self, res: Resource, namespace: str | None, name: str) -> tuple[kmock.resource, str | None, str]:
        return (_resource(res.key), namespace if res.namespaced else None, name)

    def _live(self, key: tuple[kmock.resource, str | None, str]) -> dict[str, Any] | None:
        if key in self._objects and not self._objects[key].deleted:
            return _copied(self._objects[key].last.raw)
        return None

    def _record(self, res: Resource, type_: str, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        change = _Change(self._rv, _resource(res.key), type_, obj, old)  # obj: stored, answered, never changed
        self._log.append(change)
        self._log_rvs.append(change.rv)
        if len(self._log) > self.history_limit:
            drop = len(self._log) - self.history_limit
            for gone in self._log[:drop]:
                self._dropped[gone.resource] = gone.rv
            self._oldest_rv = self._log_rvs[drop - 1]
            del self._log[:drop], self._log_rvs[:drop]

    def _bump(self, obj: dict[str, Any]) -> None:
        self._rv += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self._rv)

    def _mutate(self, request: kmock.Request) -> dict[str, Any]:
        res = self.info(request.resource)
        if request.subresource not in (None, "status") or (request.subresource == "status" and not res.status):
            raise _error(404, "NotFound", f"the server could not find the requested resource ({request.url.path})")
        if res.namespaced and not request.namespace:
            raise _error(404, "NotFound", f"{res.plural} is namespaced: use /namespaces/NS/{res.plural}")
        if request.action == kmock.action.CREATE:
            return self._create(res, request.namespace, request.data)
        key = self._key(res, request.namespace, request.name)
        if request.action == kmock.action.DELETE:
            return self._delete(res, key)
        current = self._live(key)
        if current is None:
            raise _error(404, "NotFound", f'{res.plural} "{request.name}" not found')
        if request.method == kmock.method.PUT:
            if not isinstance(request.data, dict):
                raise _error(400, "BadRequest", "the body of a PUT must be a JSON object")
            new, precondition = _copied(request.data), (request.data.get("metadata") or {}).get(
                "resourceVersion")
            if (new.get("metadata") or {}).get("name", request.name) != request.name:
                raise _error(400, "BadRequest", "the name of the object does not match the name on the URL")
        else:
            new, precondition = self._apply_patch(res, current, request)
        return self._update(res, key, current, new, precondition, status_only=request.subresource == "status")

    def _apply_patch(self, res: Resource, current: dict[str, Any], request: kmock.Request) -> tuple[Any, Any]:
        ctype = next((v for k, v in request.headers.items() if k.lower() == "content-type"), "")
        ctype = ctype.split(";")[0].strip().lower()
        data = request.data
        if ctype == "application/json-patch+json":
            if not isinstance(data, list):
                raise _error(400, "BadRequest", "a json patch must be a list of operations")
            try:
                return jsonpatch.apply_patch(current, data, in_place=False), None
            except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as e:
                raise _error(422, "Invalid", f"the json patch could not be applied: {e}") from None
        if ctype == "application/strategic-merge-patch+json" and res.custom:
            raise _error(415, "UnsupportedMediaType",
                         "strategic merge patch is not supported for custom resources: use "
                         "application/merge-patch+json or application/json-patch+json")
        if ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            if not isinstance(data, dict):
                raise _error(400, "BadRequest", "a merge patch must be a JSON object")
            return merge_patch(current, data), (data.get("metadata") or {}).get("resourceVersion")
        raise _error(415, "UnsupportedMediaType", f"unsupported patch type {ctype!r} (server-side apply is not "
                                                  "emulated): use json-patch, merge-patch or strategic-merge-patch")

    def _create(self, res: Resource, namespace: str | None, data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise _error(400, "BadRequest", "the body of a create must be a JSON object")
        obj = _copied(data)
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise _error(400, "BadRequest", "the namespace of the provided object does not match the namespace "
                                                "sent on the request")
            meta["namespace"] = namespace
            if self.strict_namespaces and self._live(self._key(self._infos[kmock.resource("v1/namespaces")],
                                                               None, namespace)) is None:
                raise _error(404, "NotFound", f'namespaces "{namespace}" not found')
        else:
            meta.pop("namespace", None)
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise _error(422, "Invalid", "metadata.name: Required value: name or generateName is required")
            while True:
                meta["name"] = meta["generateName"] + "".join(secrets.choice("bcdfghjklmnpqrstvwxz2456789")
                                                              for _ in range(5))
                if self._live(self._key(res, namespace, meta["name"])) is None:
                    break
        key = self._key(res, namespace, meta["name"])
        if self._live(key) is not None:
            raise _error(409, "AlreadyExists", f'{res.plural} "{meta["name"]}" already exists')
        obj.setdefault("apiVersion", res.api_version)
        obj.setdefault("kind", res.kind)
        for server_field in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "generation",
                             "deletionGracePeriodSeconds", "managedFields", "selfLink"):
            meta.pop(server_field, None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = _now()
        if res.group:  # built-in core/v1 kinds such as Secret have no generation
            meta["generation"] = 1
        if res.status:
            obj.pop("status", None)
        _check_annotations(obj)
        if res.key == "v1/secrets":
            _normalise_secret(obj, None)
        self._bump(obj)
        if key in self._objects:
            self._objects[key].create(obj)
        else:
            self._objects[key] = obj
        self._record(res, "ADDED", obj, None)
        return obj

    def _update(self, res: Resource, key: Any, current: dict[str, Any], new: Any, precondition: Any,
                *, status_only: bool) -> dict[str, Any]:
        if not isinstance(new, dict):
            raise _error(422, "Invalid", "the patched object is not a JSON object")
        cur_meta = current["metadata"]
        if precondition not in (None, "") and str(precondition) != cur_meta.get("resourceVersion"):
            raise _error(409, "Conflict", f'Operation cannot be fulfilled on {res.plural} "{cur_meta["name"]}": the '
                                          "object has been modified; please apply your changes to the latest version "
                                          "and try again")
        if status_only:  # /status: only .status changes
            merged = _copied(current)
            if "status" in new:
                merged["status"] = new["status"]
            else:
                merged.pop("status", None)
            new = merged
        elif res.status:  # main resource with a status subresource: .status is ignored
            if "status" in current:
                new["status"] = current["status"]
            else:
                new.pop("status", None)
        meta = new.setdefault("metadata", {})
        for server_field in ("uid", "name", "namespace", "creationTimestamp", "resourceVersion", "generation",
                             "deletionTimestamp"):
            if server_field in cur_meta:
                meta[server_field] = cur_meta[server_field]
            else:
                meta.pop(server_field, None)
        new.setdefault("apiVersion", res.api_version)
        new.setdefault("kind", res.kind)
        _check_annotations(new)
        if res.key == "v1/secrets":
            _normalise_secret(new, current)
        if new == current:
            return current  # a no-op: no new resourceVersion, no watch event (as in Kubernetes)
        if "generation" in cur_meta:
            strip = lambda o: {k: v for k, v in o.items() if k not in ("metadata", "status")}  # noqa: E731
            if strip(new) != strip(current):
                meta["generation"] = cur_meta["generation"] + 1
        self._bump(new)
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            self._objects[key].create(new)
            self._remove(res, key, new)
            return new
        self._objects[key].create(new)
        self._record(res, "MODIFIED", new, current)
        return new

    def _delete(self, res: Resource, key: Any) -> dict[str, Any]:
        current = self._live(key)
        if current is None:
            raise _error(404, "NotFound", f'{res.plural} "{key[2]}" not found')
        meta = current["metadata"]
        if meta.get("finalizers"):
            if meta.get("deletionTimestamp"):
                return current
            new = _copied(current)
            new["metadata"]["deletionTimestamp"] = _now()
            new["metadata"]["deletionGracePeriodSeconds"] = 0
            if "generation" in meta:
                new["metadata"]["generation"] = meta["generation"] + 1
            self._bump(new)
            self._objects[key].create(new)
            self._record(res, "MODIFIED", new, current)
            return new
        self._bump(current)
        self._remove(res, key, current)
        return current

    def _remove(self, res: Resource, key: Any, last: dict[str, Any]) -> None:
        """Really delete (the object is gone for readers), record DELETED, then collect its garbage."""
        self._objects[key].delete()
        self._record(res, "DELETED", last, None)
        if not self.gc:
            return
        if res.key == "v1/namespaces":
            for (r, ns, name), obj in list(self._objects.items()):
                if ns == last["metadata"]["name"] and not obj.deleted and r in self._infos:
                    self._delete(self._infos[r], (r, ns, name))
        self._collect_dependents()

    def _collect_dependents(self) -> None:
        live_uids = {o.last.raw["metadata"].get("uid") for o in self._objects.values() if not o.deleted}
        for (r, ns, name), obj in list(self._objects.items()):
            if obj.deleted:
                continue
            refs = obj.last.raw.get("metadata", {}).get("ownerReferences") or []
            orphan = refs and not any(ref.get("uid") in live_uids for ref in refs)
            if orphan and not obj.last.raw["metadata"].get("deletionTimestamp") and r in self._infos:
                self._delete(self._infos[r], (r, ns, name))

    # --- reads ------------------------------------------------------------------------------------------------

    def _filters(self, request: kmock.Request) -> Callable[[dict[str, Any]], bool]:
        try:
            labels = parse_label_selector(request.params.get("labelSelector"))
            fields = parse_field_selector(request.params.get("fieldSelector"))
        except ValueError as e:
            raise _error(400, "BadRequest", str(e)) from None
        namespace, name = request.namespace, request.name

        def match(obj: dict[str, Any]) -> bool:
            meta = obj.get("metadata") or {}
            if namespace is not None and meta.get("namespace") != namespace:
                return False
            if name is not None and meta.get("name") != name:
                return False
            lbl = meta.get("labels") or {}
            return all(p(lbl) for p in labels) and all(p(obj) for p in fields)

        return match

    def _current(self, resource: kmock.resource, match: Callable[[dict[str, Any]], bool],
                 copies: bool = True) -> list[dict[str, Any]]:
        """The live objects that match (copies; with ``copies=False`` the stored ones, to be copied by the caller)."""
        found = [o.last.raw for (r, _, _), o in self._objects.items()
                 if r == resource and not o.deleted and match(o.last.raw)]
        return [_copied(o) for o in found] if copies else found

    async def _serve_fetch(self, request: kmock.Request) -> Any:
        res = self.info(request.resource)
        async with self._lock:
            obj = self._live(self._key(res, request.namespace, request.name))
        if obj is None:
            raise _error(404, "NotFound", f'{res.plural} "{request.name}" not found')
        if request.subresource not in (None, "status"):
            raise _error(404, "NotFound", "the server could not find the requested resource")
        return obj

    async def _serve_list(self, request: kmock.Request) -> Any:
        res = self.info(request.resource)
        match = self._filters(request)
        limit, token = request.params.get("limit"), request.params.get("continue")
        after: tuple[Any, ...] = ()
        if token:
            try:
                after = tuple(json.loads(base64.urlsafe_b64decode(token.encode())))
            except ValueError:
                raise _error(400, "BadRequest", "invalid continue token") from None
        meta: dict[str, Any] = {}
        async with self._lock:
            items = sorted((o for o in self._current(request.resource, match, copies=False)
                            if not after or _list_key(o) > after), key=_list_key)  # etcd's order: namespace, name
            if limit and limit.isdigit() and 0 < int(limit) < len(items):
                items = items[:int(limit)]
                meta["continue"] = base64.urlsafe_b64encode(json.dumps(list(_list_key(items[-1]))).encode()).decode()
            items = [_copied(o) for o in items]  # only the page is copied
            meta["resourceVersion"] = str(self._rv)
        return {"apiVersion": res.api_version, "kind": f"{res.kind}List", "metadata": dict(sorted(meta.items())),
                "items": items}

    async def _serve_watch(self, request: kmock.Request) -> AsyncIterator[Any]:
        """b"" once the request is accepted (the headers go then), then lists of serialised events: each what one
        step of the watch has to say (the initial objects, one wake-up's changes, a bookmark, an error), written at
        once."""
        res = self.info(request.resource)
        match = self._filters(request)
        params = request.params
        bookmarks = params.get("allowWatchBookmarks") == "true"
        send_initial = params.get("sendInitialEvents") == "true"
        since = params.get("resourceVersion") or ""
        try:
            timeout = float(params["timeoutSeconds"]) if params.get("timeoutSeconds") else None
        except ValueError:
            raise _error(400, "BadRequest", "timeoutSeconds must be a number") from None
        initial: list[dict[str, Any]] = []
        async with self._lock:
            if since in ("", "0") or send_initial:
                initial = self._current(request.resource, match)
                pos = self._rv
            else:
                try:
                    pos = int(since)
                except ValueError:
                    raise _error(400, "BadRequest", f"invalid resourceVersion {since!r}") from None
        yield b""  # send the headers now, even if nothing happens for a while
        if pos < self._oldest_rv or pos > self._rv:
            yield [_event_line({"type": "ERROR", "object": {
                "apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure", "reason": "Expired",
                "code": 410, "message": f"too old resource version: {pos} ({self._oldest_rv})"}})]
            return
        if initial:
            yield [_event_line({"type": "ADDED", "object": obj}) for obj in initial]
        kind = {"apiVersion": res.api_version, "kind": res.kind}
        if send_initial and bookmarks:
            yield [_event_line({"type": "BOOKMARK", "object": {**kind, "metadata": {
                "resourceVersion": str(pos), "annotations": {"k8s.io/initial-events-end": "true"}}}})]
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        resource = _resource(res.key)
        woken = self._woken(resource)
        while not self._closing:
            wait = self.bookmark_interval if bookmarks else 3600.0
            if deadline is not None:
                wait = min(wait, deadline - loop.time())
                if wait <= 0:
                    return
            async with woken:
                timed_out = False
                if self._rv <= pos and not self._closing:
                    try:
                        await asyncio.wait_for(woken.wait(), timeout=wait)
                    except TimeoutError:
                        timed_out = True
                # a change of this resource it had not sent was let go (a watch of a quiet resource lags behind
                # the others' changes, and that is no gap)
                expired = pos < self._dropped.get(resource, 0)
                changes = self._log[bisect.bisect_right(self._log_rvs, pos):]
                pos = self._rv
            if expired:
                yield [_event_line({"type": "ERROR", "object": {
                    "apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure", "reason": "Expired",
                    "code": 410, "message": "the watcher fell behind the kept history"}})]
                return
            batch = []
            for change in changes:
                if change.resource != request.resource:
                    continue
                now_in = match(change.obj)
                was_in = change.old is not None and match(change.old)
                if change.type == "MODIFIED":
                    type_ = "MODIFIED" if now_in and was_in else "ADDED" if now_in else "DELETED" if was_in else None
                else:
                    type_ = change.type if now_in else None
                if type_:
                    batch.append(change.line(type_))
            if batch:  # the changes of one wake-up in one write (a busy server's watch costs a send per wake-up)
                yield batch
            elif timed_out and bookmarks and not self._closing:  # quiet for this resource: where it stands
                yield [_event_line({"type": "BOOKMARK", "object": {**kind, "metadata": {"resourceVersion": str(pos)}}})]


# --------------------------------------------------------------------------------------------------------------------
# The server in a thread, a kubeconfig, a sync client
# --------------------------------------------------------------------------------------------------------------------


class KubeError(RuntimeError):
    """An HTTP error from the API: `status` (404, 409, ...), `reason` ('NotFound', ...), `body` (the Status)."""

    def __init__(self, status: int, reason: str, message: str, body: Any = None) -> None:
        super().__init__(f"HTTP {status} {reason}: {message}")
        self.status, self.reason, self.message, self.body = status, reason, message, body


class WaitTimeout(AssertionError):
    """wait_for() gave up; the message says what was awaited and what was last seen."""


def wait_for(predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05, message: str = "") -> T:
    """Poll `predicate` until it returns something truthy (returned) or `timeout` passes (WaitTimeout).

    A KubeError with status 404 inside the predicate counts as "not yet" (so `lambda: client.get(...)` works).
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = predicate()
        except KubeError as e:
            if e.status != 404:
                raise
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:g}s waiting for {message or predicate!r}; last: {last!r}")
        time.sleep(interval)


class KubeClient:
    """A small synchronous client (stdlib HTTP, JSON) for tests. Kinds are looked up in the server's resources."""

    def __init__(self, url: str, resources: Iterable[Resource] = SEALER_RESOURCES, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._resources = list(resources)
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never an env proxy

    def resource(self, api_version: str, kind: str) -> Resource:
        """`kind` may be the Kind ("Secret") or the plural ("secrets")."""
        for res in self._resources:
            if res.api_version == api_version and kind in (res.kind, res.plural):
                return res
        raise KeyError(f"no resource {api_version} {kind} is registered")

    def request(self, method: str, path: str, body: Any = None, *, content_type: str = "application/json",
                params: Mapping[str, str] | None = None) -> Any:
        url = self.url + path + (("?" + urllib.parse.urlencode(params)) if params else "")
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, method=method, data=data)
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                text = resp.read()
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                status_body = json.loads(raw)
            except ValueError:
                status_body = {"message": raw.decode(errors="replace")}
            raise KubeError(e.code, status_body.get("reason", ""), status_body.get("message", ""),
                            status_body) from None
        return json.loads(text) if text else None

    # --- CRUD -------------------------------------------------------------------------------------------------

    def create(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        res = self.resource(obj["apiVersion"], obj["kind"])
        ns = (obj.get("metadata") or {}).get("namespace") or ("default" if res.namespaced else None)
        return self.request("POST", res.path(ns), dict(obj))

    def get(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        """The object, or KubeError(404)."""
        return self.request("GET", self.resource(api_version, kind).path(namespace, name))

    def find(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The object, or None if it does not exist."""
        try:
            return self.get(api_version, kind, name, namespace)
        except KubeError as e:
            if e.status == 404:
                return None
            raise

    def list(self, api_version: str, kind: str, namespace: str | None = None, *,
             label_selector: str | None = None, field_selector: str | None = None) -> list[dict[str, Any]]:
        params = {k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v}
        return self.request("GET", self.resource(api_version, kind).path(namespace), params=params)["items"]

    def patch(self, api_version: str, kind: str, name: str, patch: Any, namespace: str | None = None, *,
              subresource: str | None = None, patch_type: str = "merge") -> dict[str, Any]:
        """patch_type: 'merge' (RFC 7386), 'json' (RFC 6902 list of ops) or 'strategic'."""
        ctype = {"merge": "application/merge-patch+json", "json": "application/json-patch+json",
                 "strategic": "application/strategic-merge-patch+json"}[patch_type]
        return self.request("PATCH", self.resource(api_version, kind).path(namespace, name, subresource), patch,
                            content_type=ctype)

    def replace(self, obj: Mapping[str, Any], *, subresource: str | None = None) -> dict[str, Any]:
        meta = obj["metadata"]
        res = self.resource(obj["apiVersion"], obj["kind"])
        return self.request("PUT", res.path(meta.get("namespace"), meta["name"], subresource), dict(obj))

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None, *,
               missing_ok: bool = False) -> dict[str, Any] | None:
        try:
            return self.request("DELETE", self.resource(api_version, kind).path(namespace, name))
        except KubeError as e:
            if missing_ok and e.status == 404:
                return None
            raise

    def apply(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Create, or merge-patch if it exists (not server-side apply: lists are replaced)."""
        try:
            return self.create(obj)
        except KubeError as e:
            if e.status != 409:
                raise
        meta = obj["metadata"]
        res = self.resource(obj["apiVersion"], obj["kind"])
        body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        return self.patch(obj["apiVersion"], obj["kind"], meta["name"], body,
                          meta.get("namespace") or ("default" if res.namespaced else None))

    def watch(self, api_version: str, kind: str, namespace: str | None = None, *, timeout: float = 1.0,
              resource_version: str | None = None, label_selector: str | None = None, bookmarks: bool = False,
              name: str | None = None) -> list[dict[str, Any]]:
        """One watch request that the server ends after `timeout` s (timeoutSeconds); returns every event in it."""
        params = {"watch": "true", "timeoutSeconds": str(timeout)}
        for key, value in (("resourceVersion", resource_version), ("labelSelector", label_selector),
                           ("fieldSelector", name and f"metadata.name={name}")):
            if value:
                params[key] = value
        if bookmarks:
            params["allowWatchBookmarks"] = "true"
        url = self.url + self.resource(api_version, kind).path(namespace) + "?" + urllib.parse.urlencode(params)
        try:
            with self._opener.open(urllib.request.Request(url), timeout=timeout + self.timeout) as resp:
                return [json.loads(line) for line in resp if line.strip()]
        except urllib.error.HTTPError as e:
            body = json.loads(e.read() or b"{}")
            raise KubeError(e.code, body.get("reason", ""), body.get("message", ""), body) from None

    # --- conveniences -----------------------------------------------------------------------------------------

    def ensure_namespace(self, name: str) -> dict[str, Any]:
        return self.find("v1", "Namespace", name) or self.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})

    def events(self, namespace: str | None = None, *, name: str | None = None,
               kind: str | None = None) -> list[dict[str, Any]]:
        """Core v1 Events, optionally only those about the object `name` (and `kind`)."""
        return [e for e in self.list("v1", "Event", namespace)
                if (name is None or e.get("involvedObject", {}).get("name") == name)
                and (kind is None or e.get("involvedObject", {}).get("kind") == kind)]

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0, interval: float = 0.05,
                 message: str = "") -> T:
        return wait_for(predicate, timeout=timeout, interval=interval, message=message)


def write_kubeconfig(path: Path, url: str, namespace: str = "default") -> Path:
    """A kubeconfig for `url` with a dummy bearer token (the emulator accepts anything); JSON is valid YAML."""
    config = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "kmock", "cluster": {"server": url}}],
        "users": [{"name": "kmock", "user": {"token": "kmock-test-token"}}],
        "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "kmock", "namespace": namespace}}],
        "current-context": "kmock",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2))
    path.chmod(0o600)
    return path


class KubeServer:
    """`Emulator` + `kmock.Server` on 127.0.0.1 (a free port chosen by the OS) in a daemon thread with its own loop.

    Use as a context manager or start()/stop(). Attributes once started: url, kubeconfig (Path), client (KubeClient),
    emulator (the kmock object: touch it only through `call`).
    """

    def __init__(self, directory: Path, resources: Iterable[Resource] = SEALER_RESOURCES, *,
                 gc: bool = True, strict_namespaces: bool = False, bookmark_interval: float = 10.0,
                 loop_factory: Callable[[], asyncio.AbstractEventLoop] = asyncio.new_event_loop) -> None:
        self.directory = Path(directory)
        self._loop_factory = loop_factory
        self.resources = tuple(resources)
        self._emulator_kwargs = dict(gc=gc, strict_namespaces=strict_namespaces, bookmark_interval=bookmark_interval)
        self.url = ""
        self.kubeconfig = self.directory / "kubeconfig"
        self.emulator: Emulator | None = None
        self.client: KubeClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._procs: list[Proc] = []

    def __enter__(self) -> KubeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 20.0) -> KubeServer:
        self._thread = threading.Thread(target=self._thread_main, name="kube-emulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("the Kubernetes emulator did not start in time")
        if self._failure is not None:
            raise RuntimeError("the Kubernetes emulator failed to start") from self._failure
        write_kubeconfig(self.kubeconfig, self.url)
        self.client = KubeClient(self.url, self.resources)
        return self

    def _thread_main(self) -> None:
        loop = self._loop_factory()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as e:  # reported to start() if it happens before ready
            self._failure = e
        finally:
            self._ready.set()
            loop.close()

    async def _serve(self) -> None:
        self._stop_event = asyncio.Event()
        emulator = Emulator(**self._emulator_kwargs)
        emulator.register(*self.resources)
        async with emulator, kmock.Server(emulator, host="127.0.0.1") as server:
            self.emulator = emulator
            self.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop_event.wait()
            await emulator.close()

    def call(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run `fn()` on the emulator's loop (safe access to `self.emulator`) and return its result."""
        assert self._loop is not None

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def requests(self) -> list[tuple[str, str]]:
        """Every HTTP request served so far, oldest first, as (METHOD, path?query)."""
        assert self.emulator is not None
        emulator = self.emulator
        return self.call(lambda: [(r.method.value, r.url.path_qs) for r in emulator._requests])

    def server_errors(self) -> list[Exception]:
        """Exceptions the emulator raised that were not deliberate API errors (404, 409...): emulator bugs."""
        assert self.emulator is not None
        emulator = self.emulator
        return self.call(lambda: [e for e in emulator.errors if not isinstance(e, kmock.KubernetesError)])

    def proxy_to(self, namespace: str, name: str, target: str) -> None:
        """Route the API server's service proxy for Service `namespace/name` to `target` (see Emulator.proxy_to)."""
        assert self.emulator is not None
        emulator = self.emulator
        self.call(lambda: emulator.proxy_to(namespace, name, target))

    def spawn(self, argv: list[str], *, log: Path, env: Mapping[str, str] | None = None,
              cwd: Path | None = None) -> Proc:
        """Start `argv` with KUBECONFIG pointing here; it is stopped (and checked gone) by stop() at the latest."""
        proc = spawn(argv, kubeconfig=self.kubeconfig, log=log, env=env, cwd=cwd)
        self._procs.append(proc)
        return proc

    def stop(self, timeout: float = 10.0) -> None:
        for proc in reversed(self._procs):
            proc.stop()
        self._procs.clear()
        if self._loop is not None and self._stop_event is not None and self._thread is not None:
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                self._loop.call_soon_threadsafe(self._stop_event.set)
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError("the Kubernetes emulator thread did not stop")


# --------------------------------------------------------------------------------------------------------------------
# Processes under test
# --------------------------------------------------------------------------------------------------------------------


def child_env(kubeconfig: Path | None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment minus anything that could point a client at another cluster or through a proxy."""
    drop = ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT", "KUBECONFIG", "HTTP_PROXY", "HTTPS_PROXY",
            "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    if kubeconfig is not None:
        env["KUBECONFIG"] = str(kubeconfig)
    env.update(extra or {})
    return env


@dataclass
class Proc:
    """A process started by `spawn`: stdout and stderr go (together) to `log`."""

    argv: list[str]
    log: Path
    popen: subprocess.Popen[bytes] = field(repr=False)
    returncode: int | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def wait_for_log(self, pattern: str | re.Pattern[str], timeout: float = 10.0, *, count: int = 1) -> str:
        """Wait until `pattern` (a substring or a regex) occurs `count` times in the log; return the log.

        Fails at once if the process exits first.
        """
        def seen() -> str | None:
            text = self.log_text()
            n = len(pattern.findall(text)) if isinstance(pattern, re.Pattern) else text.count(pattern)
            if n >= count:
                return text
            if not self.alive():
                raise AssertionError(f"process {self.pid} exited ({self.popen.returncode}) before {pattern!r} was "
                                     f"logged; log tail:\n{text[-3000:]}")
            return None

        return wait_for(seen, timeout=timeout, message=f"{pattern!r} x{count} in {self.log}")

    def stop(self, term_timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL after `term_timeout`; reap; return the exit code (negative = killed by signal)."""
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(term_timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)
        self.returncode = self.popen.returncode
        return self.returncode


def spawn(argv: list[str], *, kubeconfig: Path | None, log: Path, env: Mapping[str, str] | None = None,
          cwd: Path | None = None) -> Proc:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:  # the child keeps its own copy of the descriptor
        popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 env=child_env(kubeconfig, env), cwd=cwd)
    return Proc(list(argv), log, popen)


def free_port() -> int:
    """A port nothing listens on right now on 127.0.0.1 (a server may still lose a race for it)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pid_gone(pid: int) -> bool:
    """True if no process (not even a zombie) has this pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


# --------------------------------------------------------------------------------------------------------------------
# pytest fixture and a command line
# --------------------------------------------------------------------------------------------------------------------


def _process_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop for the emulator in its own process (SEALER_EMULATOR_LOOP=asyncio: the standard loop)."""
    if os.environ.get("SEALER_EMULATOR_LOOP", "uvloop") == "uvloop":
        try:
            import uvloop
        except ImportError:
            pass
        else:
            return uvloop.new_event_loop
    return asyncio.new_event_loop


def main(argv: list[str] | None = None) -> None:
    """`python -m sealer_testkit.apiserver [DIR]`: serve until Ctrl-C / SIGTERM; prints the URL and kubeconfig path."""
    directory = Path((argv if argv is not None else sys.argv[1:] or ["."])[0])
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with KubeServer(directory, loop_factory=_process_loop_factory()) as server:
        print(f"url: {server.url}\nkubeconfig: {server.kubeconfig}\nexport KUBECONFIG={server.kubeconfig}",
              flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while not stop.wait(0.5):
                pass


if __name__ == "__main__":
    main()
