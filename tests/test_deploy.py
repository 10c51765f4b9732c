"""deploy/, the Dockerfile and .dockerignore, checked offline (no cluster, no network, no docker daemon).

What is checked here:
- Every built-in object (CRDs included) against the Kubernetes OpenAPI schemas bundled in `kubernetes-validate`
  (strict: unknown fields fail), for the oldest Kubernetes we support and the newest the package ships.
- Every CRD schema is structural (the API server's rules for `apiextensions.k8s.io/v1`), patterns are RE2,
  defaults validate, printer columns point at fields, `status` keeps kopf's `status.kopf`.
- Every example in deploy/examples/ against its CRD schema (jsonschema, after the API server's defaulting) and
  its CEL rules (cel-python), and objects that must be refused are refused by the schema or by CEL.
- kustomization.yaml lists every file and builds with `kubectl kustomize` when kubectl is there.
- RBAC least privilege, the Deployment's security context and probes, the Service.
- The namespaced variant (deploy/namespaced/, a Component) composed in Python and validated; no ClusterRole grants
  Secrets there (and `kubectl kustomize` builds the same objects, when kubectl is there).
- The Dockerfile's structure (docker cannot build here: there is no docker daemon).

What cannot be checked offline: that a real API server accepts the CRDs (CEL cost estimates, CEL type checking
against the schema), admission (Pod Security `restricted` is checked field by field instead), that the image
builds and runs, and RBAC evaluated by a real authorizer.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import celpy
import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate import utils as kv_utils

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
EXAMPLES = DEPLOY / "examples"
NAMESPACED = DEPLOY / "namespaced"  # the namespaced variant (a Component): checked on its own, see _compose()
# kustomize Components: not part of `kubectl apply -k deploy/`
SHARDED = DEPLOY / "sharded"  # replicas as a StatefulSet splitting the namespaces by Leases (README: Shards)
COMPONENTS = (DEPLOY / "bitnami-compat", DEPLOY / "eso-compat", NAMESPACED, SHARDED)
ARGOCD = DEPLOY / "argocd"  # health checks for Argo CD's own ConfigMap: not part of `kubectl apply -k deploy/`

NS = "sealer-system"
GROUP = "sealer.dev"
VERSION = "v1alpha1"
KINDS = ("SealedSecret", "SopsSecret", "VaultSecret", "VaultPKISecret", "VaultPushSecret", "VaultStore",
         "ClusterVaultStore", "ClusterVaultSecret")
PLURALS = {k: k.lower() + "s" for k in KINDS}
SA = "sealer-controller"
PEERING = "sealer"  # kopf peering name: Deployment args, RBAC resourceNames
# The oldest Kubernetes the manifests target (CEL validation rules are GA in 1.29) and the newest schemas shipped.
K8S_VERSIONS = ("1.29", kv_utils.latest_version())
# Short names other popular CRDs already use: Bitnami SealedSecret (plural), ESO (es, ss, css, ps),
# Istio VirtualService (vs), sops-secrets-operator (sops).
TAKEN_SHORT_NAMES = {"ss", "es", "css", "ps", "vs", "sops", "sealedsecret", "sealedsecrets"}


# --------------------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------------------

def _yaml_files(under: Path) -> list[Path]:
    return sorted(p for p in under.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml"))


@cache
def _load(path: Path) -> tuple[dict, ...]:
    return tuple(d for d in yaml.safe_load_all(path.read_text()) if d is not None)


def _objects(paths: list[Path]) -> list[tuple[Path, dict]]:
    return [(p, d) for p in paths for d in _load(p) if d.get("kind") not in ("Kustomization", "Component")]


def installed() -> list[tuple[Path, dict]]:
    """Every Kubernetes object under deploy/ except the examples (bitnami-compat's files included; the namespaced
    variant replaces RBAC instead of adding to it, so it is checked on its own)."""
    return _objects([p for p in _yaml_files(DEPLOY)
                     if EXAMPLES not in p.parents and NAMESPACED not in p.parents and ARGOCD not in p.parents])


def examples() -> list[tuple[Path, dict]]:
    return _objects(_yaml_files(EXAMPLES))


def crds() -> dict[str, dict]:
    """kind -> CRD, for the sealer.dev kinds."""
    return {d["spec"]["names"]["kind"]: d for _, d in installed()
            if d["kind"] == "CustomResourceDefinition" and d["spec"]["group"] == GROUP}


def one(kind: str, name: str) -> dict:
    found = [d for _, d in installed() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def schema_of(kind: str) -> dict:
    (version,) = crds()[kind]["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]


# --------------------------------------------------------------------------------------------------------------------
# Built-in objects against the Kubernetes OpenAPI schemas
# --------------------------------------------------------------------------------------------------------------------

def test_yaml_parses_and_every_object_is_named() -> None:
    objs = installed() + examples()
    assert len(objs) > 20
    for path, d in objs:
        assert {"apiVersion", "kind", "metadata"} <= set(d), path
        assert d["metadata"].get("name"), path


def test_kubernetes_validate_works_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    # The schemas ship inside the package: validation must not open a single connection.
    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("kubernetes-validate tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    for version in K8S_VERSIONS:
        assert kubernetes_validate.validate(one("Service", "sealer-controller"), version, strict=True)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_builtin_objects_validate_against_kubernetes_openapi(version: str) -> None:
    builtin = [(p, d) for p, d in installed() if d["apiVersion"].split("/")[0] not in (GROUP, "kopf.dev")]
    kinds = {d["kind"] for _, d in builtin}
    assert {"CustomResourceDefinition", "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role",
            "RoleBinding", "Deployment", "Service", "PodDisruptionBudget"} <= kinds
    for path, d in builtin:
        try:
            kubernetes_validate.validate(d, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            pytest.fail(f"{path.relative_to(ROOT)} {d['kind']}/{d['metadata']['name']} (k8s {version}): "
                        f"{'.'.join(map(str, e.path))}: {e.message}")


def test_the_kubernetes_validator_is_not_vacuous() -> None:
    dep = copy.deepcopy(one("Deployment", "sealer-controller"))
    dep["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsNonroot"] = True  # typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(dep, K8S_VERSIONS[0], strict=True)
    crd = copy.deepcopy(crds()["VaultStore"])
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"][
        "x-kubernetes-preserve-unknown-field"] = True  # typo
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(crd, K8S_VERSIONS[0], strict=True)


# --------------------------------------------------------------------------------------------------------------------
# CRDs: conventions and structural schemas
# --------------------------------------------------------------------------------------------------------------------

def test_one_crd_file_per_kind_with_conventions() -> None:
    found = crds()
    assert set(found) == set(KINDS)
    files = {p.name for p, d in installed() if d["kind"] == "CustomResourceDefinition"}
    assert {f"{GROUP}_{PLURALS[k]}.yaml" for k in KINDS} <= files
    short: list[str] = []
    for kind, crd in found.items():
        names = crd["spec"]["names"]
        assert crd["metadata"]["name"] == f"{names['plural']}.{GROUP}"
        assert names["plural"] == PLURALS[kind] and names["singular"] == kind.lower()
        assert names["listKind"] == kind + "List"
        assert "sealer" in names["categories"]
        assert names["shortNames"] and not set(names["shortNames"]) & TAKEN_SHORT_NAMES, kind
        short += names["shortNames"]
        assert crd["spec"]["scope"] == ("Cluster" if kind.startswith("Cluster") else "Namespaced")
        (version,) = crd["spec"]["versions"]
        assert (version["name"], version["served"], version["storage"]) == (VERSION, True, True)
        assert version["subresources"] == {"status": {}}
    assert len(short) == len(set(short))


def _nodes(schema: dict, path: str = "") -> Iterator[tuple[str, dict]]:
    """Every schema node with its path (properties, additionalProperties, items; not the junctors)."""
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _nodes(sub, f"{path}.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from _nodes(schema["additionalProperties"], f"{path}.*")
    if "items" in schema:
        yield from _nodes(schema["items"], f"{path}[]")


@cache
def schema_keywords() -> frozenset[str]:
    """The fields of apiextensions/v1 JSONSchemaProps, from the bundled OpenAPI (kubernetes-validate checks only
    the top of a CRD schema strictly: below `items` and `additionalProperties` anything goes there)."""
    bundled = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    (latest,) = [d for d in bundled.iterdir() if d.name == f"v{kv_utils.latest_version()}-local-strict"]
    defs = json.loads((latest / "_definitions.json").read_text())["$defs"]
    return frozenset(defs["io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"]["properties"])


JUNCTORS = ("allOf", "anyOf", "oneOf", "not")
FORBIDDEN_IN_JUNCTORS = {"type", "description", "default", "additionalProperties", "nullable", "title"}


def _junctor_bodies(node: dict) -> Iterator[dict]:
    for j in JUNCTORS:
        if j in node:
            yield from (node[j] if isinstance(node[j], list) else [node[j]])


def _check_junctor(body: dict, spine: dict, where: str) -> None:
    bad = FORBIDDEN_IN_JUNCTORS & set(body) | {k for k in body if k.startswith("x-kubernetes-")}
    assert not bad, f"{where}: {bad} inside a junctor"
    for name in body.get("required", []):
        assert name in spine.get("properties", {}), f"{where}: junctor requires {name}, not in properties"
    for name, sub in body.get("properties", {}).items():
        assert name in spine.get("properties", {}), f"{where}: junctor names {name}, not in properties"
        _check_junctor(sub, spine["properties"][name], f"{where}.{name}")
    for inner in _junctor_bodies(body):
        _check_junctor(inner, spine, where)


@pytest.mark.parametrize("kind", KINDS)
def test_crd_schema_is_structural(kind: str) -> None:
    root = schema_of(kind)
    assert root["type"] == "object"
    assert set(root["properties"]) <= {"apiVersion", "kind", "metadata", "spec", "status", "sops"}
    assert root["properties"]["metadata"] == {"type": "object"}, "metadata: only type object is allowed"
    for where, node in _nodes(root):
        for body in [node, *_junctor_bodies(node)]:
            assert set(body) <= schema_keywords(), f"{where}: unknown keywords {set(body) - schema_keywords()}"
        if not (node.get("x-kubernetes-int-or-string") or node.get("x-kubernetes-preserve-unknown-fields")):
            assert node.get("type") in ("object", "array", "string", "integer", "number", "boolean"), where
        assert not ("properties" in node and "additionalProperties" in node), where
        if node.get("type") == "array":
            assert "items" in node, where
        if node.get("type") == "object" and "properties" not in node and "additionalProperties" not in node:
            assert node.get("x-kubernetes-preserve-unknown-fields") or where == ".metadata", where
        if node.get("x-kubernetes-list-type") == "map":
            for key in node["x-kubernetes-list-map-keys"]:
                item = node["items"]
                assert key in item.get("required", []) or "default" in item["properties"][key], where
        for body in _junctor_bodies(node):
            _check_junctor(body, node, where)
        if "default" in node:
            jsonschema.validate(node["default"], to_jsonschema(node, root=False))
            assert kind != "SopsSecret", "a defaulted value was not in the document the SOPS MAC covers"


@pytest.mark.parametrize("kind", KINDS)
def test_crd_patterns_are_re2(kind: str) -> None:
    re2 = pytest.importorskip("re2")  # the API server's regexps are Go's (RE2 syntax); google-re2 comes with celpy
    for where, node in _nodes(schema_of(kind)):
        if "pattern" in node:
            re2.compile(node["pattern"])
            re.compile(node["pattern"])
            assert node["pattern"].startswith("^"), where


def _column_path(json_path: str) -> list[str]:
    path = re.sub(r"\[\?\(.*?\)\]|\[\*\]", "[]", json_path).lstrip(".")
    return [p for part in path.split(".") for p in (part.replace("[]", ""), "[]" if "[]" in part else "") if p]


def _lookup(schema: dict, path: list[str]) -> dict | None:
    node = schema
    for step in path:
        node = node.get("items") if step == "[]" else node.get("properties", {}).get(step)
        if node is None:
            return None
    return node


@pytest.mark.parametrize("kind", KINDS)
def test_printer_columns_and_status(kind: str) -> None:
    (version,) = crds()[kind]["spec"]["versions"]
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    want = {"Ready", "Reason", "Age"} | ({"Store", "Refreshed"} if kind == "VaultSecret" else set())
    assert want <= set(columns)
    assert columns["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Age"] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    root = schema_of(kind)
    for c in columns.values():
        path = _column_path(c["jsonPath"])
        if path[0] != "metadata":
            assert _lookup(root, path) is not None, f"{kind} column {c['name']}: {c['jsonPath']} is not in the schema"
    status = root["properties"]["status"]
    # kopf keeps its progress in status.kopf: without this, a real API server prunes it and kopf loops.
    assert status["x-kubernetes-preserve-unknown-fields"] is True
    assert status["properties"]["observedGeneration"]["type"] == "integer"
    cond = status["properties"]["conditions"]
    assert cond["x-kubernetes-list-map-keys"] == ["type"]
    assert set(cond["items"]["required"]) == {"type", "status", "lastTransitionTime", "reason", "message"}
    assert cond["items"]["properties"]["status"]["enum"] == ["True", "False", "Unknown"]
    if kind == "VaultSecret":
        assert {"refreshTime", "syncedAt", "dataHash"} <= set(status["properties"])


def test_defaults_and_enums() -> None:
    vs = schema_of("VaultSecret")["properties"]["spec"]["properties"]
    assert vs["refreshInterval"]["default"] == "1h"
    assert vs["storeRef"]["properties"]["kind"]["enum"] == ["VaultStore", "ClusterVaultStore"]
    target = vs["target"]["properties"]
    assert (target["creationPolicy"]["enum"], target["creationPolicy"]["default"]) == (["Owner", "Merge", "Orphan"],
                                                                                        "Owner")
    assert (target["deletionPolicy"]["enum"], target["deletionPolicy"]["default"]) == (["Retain", "Delete"], "Retain")
    assert vs["rolloutRestartTargets"]["items"]["properties"]["kind"]["enum"] == ["Deployment", "StatefulSet",
                                                                                  "DaemonSet"]
    for kind in ("VaultStore", "ClusterVaultStore"):
        spec = schema_of(kind)["properties"]["spec"]["properties"]
        assert (spec["kvVersion"]["enum"], spec["kvVersion"]["default"]) == ([1, 2], 2)
        assert set(spec["auth"]["properties"]) == {"token", "appRole", "kubernetes", "userPass", "jwt", "cert",
                                                   "namespace"}
    cluster = schema_of("ClusterVaultStore")["properties"]["spec"]["properties"]
    assert {"namespaces", "namespaceSelector"} <= set(cluster)
    assert "namespaces" not in schema_of("VaultStore")["properties"]["spec"]["properties"]


# --------------------------------------------------------------------------------------------------------------------
# Examples (and counter-examples) against the CRD schemas: the API server's prune / default / validate, offline
# --------------------------------------------------------------------------------------------------------------------

def to_jsonschema(node: dict, root: bool = True) -> dict:
    """A CRD schema node as plain JSON Schema. Unknown fields fail (kubectl asks for strict field validation);
    `nullable` becomes a null type; x-kubernetes-* and CEL rules are dropped (CEL is evaluated separately)."""
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith("x-kubernetes-"):
            continue
        if key == "properties":
            out[key] = {k: to_jsonschema(v, root=False) for k, v in value.items()}
        elif key in ("additionalProperties", "items", "not") and isinstance(value, dict):
            out[key] = to_jsonschema(value, root=False)
        elif key in ("allOf", "anyOf", "oneOf"):
            out[key] = [to_jsonschema(v, root=False) for v in value]
        else:
            out[key] = value
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
        out.pop("nullable")
    if node.get("type") == "object" and "additionalProperties" not in node \
            and not node.get("x-kubernetes-preserve-unknown-fields") and ("properties" in node or not root):
        out["additionalProperties"] = False
    if root:  # metadata is validated by the API server itself, not by the CRD schema
        out["properties"]["metadata"] = {"type": "object"}
    return out


def apply_defaults(obj: Any, schema: dict) -> Any:
    """The API server's defaulting: a default fills an absent field, and defaults inside it apply in turn."""
    if isinstance(obj, dict):
        for name, sub in schema.get("properties", {}).items():
            if name not in obj and "default" in sub:
                obj[name] = copy.deepcopy(sub["default"])
            if name in obj:
                apply_defaults(obj[name], sub)
        if isinstance(schema.get("additionalProperties"), dict):
            for value in obj.values():
                apply_defaults(value, schema["additionalProperties"])
    elif isinstance(obj, list) and "items" in schema:
        for item in obj:
            apply_defaults(item, schema["items"])
    return obj


def prune(obj: Any, schema: dict) -> Any:
    """The API server's pruning of unknown fields (kept under x-kubernetes-preserve-unknown-fields)."""
    if isinstance(obj, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        out = {}
        for k, v in obj.items():
            if k in props:
                out[k] = prune(v, props[k])
            elif isinstance(extra, dict):
                out[k] = prune(v, extra)
            elif schema.get("x-kubernetes-preserve-unknown-fields"):
                out[k] = v  # unknown and preserved: kept whole
        return out
    if isinstance(obj, list):
        return [prune(v, schema.get("items", {})) for v in obj]
    return obj


@cache
def _cel_program(rule: str) -> celpy.Runner:
    env = celpy.Environment()
    return env.program(env.compile(rule))


def cel_rules(node: dict, where: str = "") -> Iterator[tuple[str, dict, dict]]:
    for path, sub in _nodes(node, where):
        for rule in sub.get("x-kubernetes-validations", []):
            yield path, sub, rule


def cel_failures(obj: Any, schema: dict) -> list[str]:
    """Evaluate every CEL rule at every place the object has a value for (as the API server does)."""
    failures = []

    def walk(value: Any, node: dict) -> None:
        for rule in node.get("x-kubernetes-validations", []):
            if not bool(_cel_program(rule["rule"]).evaluate({"self": celpy.json_to_cel(value)})):
                failures.append(rule["message"])
        if isinstance(value, dict):
            for name, sub in node.get("properties", {}).items():
                if name in value:
                    walk(value[name], sub)
            if isinstance(node.get("additionalProperties"), dict):
                for v in value.values():
                    walk(v, node["additionalProperties"])
        elif isinstance(value, list) and "items" in node:
            for v in value:
                walk(v, node["items"])

    walk(obj, schema)
    return failures


def admit(obj: dict) -> list[str]:
    """What a real API server would say to `kubectl apply` of a custom object: [] when accepted."""
    schema = schema_of(obj["kind"])
    obj = apply_defaults(copy.deepcopy(obj), schema)
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}"
              for e in jsonschema.Draft202012Validator(to_jsonschema(schema)).iter_errors(obj)]
    return errors or cel_failures(obj, schema)


@pytest.mark.parametrize("kind", KINDS)
def test_crd_cel_rules_compile_and_name_real_fields(kind: str) -> None:
    rules = list(cel_rules(schema_of(kind)))
    if kind in ("VaultStore", "ClusterVaultStore", "VaultSecret"):
        assert rules
    for where, node, rule in rules:
        _cel_program(rule["rule"])
        assert rule.get("message"), where
        for field in re.findall(r"self\.(\w+)", rule["rule"]):
            assert field in node.get("properties", {}), f"{where}: rule names {field}, not in the schema"


def test_every_kind_has_an_example_and_every_example_is_admitted() -> None:
    by_kind: dict[str, list[dict]] = {}
    for path, obj in examples():
        assert obj["apiVersion"] == f"{GROUP}/{VERSION}", path
        assert admit(obj) == [], f"{path.name}: {admit(obj)}"
        assert ("namespace" in obj["metadata"]) == (not obj["kind"].startswith("Cluster")), path
        by_kind.setdefault(obj["kind"], []).append(obj)
    assert set(by_kind) == set(KINDS)
    vs = by_kind["VaultSecret"][0]["spec"]
    assert vs["data"] and vs["dataFrom"] and vs["rolloutRestartTargets"]
    assert "token" in by_kind["VaultStore"][0]["spec"]["auth"]
    assert "appRole" in by_kind["ClusterVaultStore"][0]["spec"]["auth"]


def test_sealedsecret_example_is_genuine_ciphertext_marked_as_an_example() -> None:
    """Real sealed values (for a discarded RSA-4096 key) so `sealer lint` sees what users will commit."""
    from sealer.lint.detectors import sealed_shape

    (obj,) = [o for _, o in examples() if o["kind"] == "SealedSecret"]
    for value in obj["spec"]["encryptedData"].values():
        assert sealed_shape(value) is not None and sealed_shape(value)[0] == 512
    assert len(obj["metadata"]["annotations"]["sealer.dev/key-fingerprint"]) == 64
    assert "EXAMPLE ONLY" in (EXAMPLES / "sealedsecret.yaml").read_text().splitlines()[0]


def test_defaults_fill_in_like_the_api_server() -> None:
    vsec = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "VaultSecret", "metadata": {"name": "a", "namespace": "n"},
            "spec": {"storeRef": {"name": "vault"}, "dataFrom": [{"path": "app"}]}}
    assert admit(vsec) == []
    spec = apply_defaults(copy.deepcopy(vsec), schema_of("VaultSecret"))["spec"]
    assert spec["refreshInterval"] == "1h" and spec["storeRef"]["kind"] == "VaultStore"
    assert spec["target"] == {"creationPolicy": "Owner", "deletionPolicy": "Retain"}
    store = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "VaultStore", "metadata": {"name": "v", "namespace": "n"},
             "spec": {"server": "http://127.0.0.1:8200", "auth": {"kubernetes": {"role": "r",
                                                                                  "serviceAccount": {"name": "sa"}}}}}
    assert admit(store) == []
    spec = apply_defaults(copy.deepcopy(store), schema_of("VaultStore"))["spec"]
    assert (spec["kvVersion"], spec["mount"]) == (2, "secret")
    assert spec["auth"]["kubernetes"]["mount"] == "kubernetes" and spec["auth"]["kubernetes"]["audiences"] == ["vault"]


def test_kopf_status_and_annotations_survive_pruning() -> None:
    status = {"observedGeneration": 3,
              "conditions": [{"type": "Ready", "status": "True", "reason": "Unsealed", "message": "",
                              "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 3}],
              "kopf": {"progress": {"sealer/reconcile": {"retries": 1, "started": "2026-01-01T00:00:00Z"}}},
              "reconcile": {"message": "handler result kopf stores"}}
    for kind in KINDS:
        (obj,) = [copy.deepcopy(o) for _, o in examples() if o["kind"] == kind]
        obj["status"] = copy.deepcopy(status)
        obj["metadata"]["annotations"] = {"kopf.zalando.org/last-handled-configuration": "{}"}
        assert admit(obj) == [], kind
        kept = prune(obj, schema_of(kind))
        assert kept["status"] == status, kind
        # ...while unknown spec fields would be pruned (strict field validation refuses them instead).
        obj["spec"]["bogus"] = 1
        assert "bogus" not in prune(obj, schema_of(kind))["spec"]
        assert any("bogus" in e for e in admit(obj)), kind


def _example(kind: str) -> dict:
    (obj,) = [copy.deepcopy(o) for _, o in examples() if o["kind"] == kind]
    return obj


_DELETE = object()


def _with(kind: str, *changes: tuple[str, Any]) -> dict:
    """The example of `kind` with `path: value` changes (a dotted path; list indices are numbers)."""
    obj = _example(kind)
    for path, value in changes:
        *parents, last = path.split(".")
        node = obj
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return obj


TOKEN = {"secretRef": {"name": "t", "key": "token"}}
APPROLE = {"roleId": "r", "secretIdRef": {"name": "s", "key": "id"}}
KUBERNETES = {"role": "r", "serviceAccount": {"name": "sa"}}
READY_TRUE = {"type": "Ready", "status": "True", "reason": "Unsealed", "message": "",
              "lastTransitionTime": "2026-01-01T00:00:00Z"}

# name -> (kind, changes to its example, refused by: "schema" (plain JSON Schema), "cel", or both)
REFUSED: dict[str, tuple[str, tuple[tuple[str, Any], ...], set[str]]] = {
    # Both a plain schema (oneOf / anyOf: jsonschema checks it) and CEL (for a readable message).
    "two auth methods": ("VaultStore", (("spec.auth.appRole", APPROLE),), {"schema", "cel"}),
    "no auth method": ("VaultStore", (("spec.auth", {}),), {"schema", "cel"}),
    "neither data nor dataFrom": ("VaultSecret", (("spec.data", _DELETE), ("spec.dataFrom", _DELETE)),
                                  {"schema", "cel"}),
    # CEL only, evaluated here with cel-python.
    "Merge target deleted": ("VaultSecret", (("spec.target.creationPolicy", "Merge"),
                                             ("spec.target.deletionPolicy", "Delete")), {"cel"}),
    # Plain schema.
    "kvVersion 3": ("VaultStore", (("spec.kvVersion", 3),), {"schema"}),
    "server without http(s)": ("VaultStore", (("spec.server", "vault:8200"),), {"schema"}),
    "cluster store secretRef without namespace": (
        "ClusterVaultStore", (("spec.auth.appRole.secretIdRef.namespace", _DELETE),), {"schema"}),
    "namespaced store reaching into another namespace": (
        "VaultStore", (("spec.auth.token.secretRef.namespace", "kube-system"),), {"schema"}),
    "refreshInterval not a duration": ("VaultSecret", (("spec.refreshInterval", "1 hour"),), {"schema"}),
    "restart a Pod": ("VaultSecret", (("spec.rolloutRestartTargets.0.kind", "Pod"),), {"schema"}),
    "creationPolicy typo": ("VaultSecret", (("spec.target.creationPolicy", "owner"),), {"schema"}),
    "storeRef without name": ("VaultSecret", (("spec.storeRef.name", _DELETE),), {"schema"}),
    "bad Secret item key": ("VaultSecret", (("spec.data.0.secretKey", "a/b"),), {"schema"}),
    "plaintext in a SopsSecret": ("SopsSecret", (("spec.stringData.password", "hunter2"),), {"schema"}),
    "SopsSecret without sops block": ("SopsSecret", (("sops", _DELETE),), {"schema"}),
    "sealed value not base64": ("SealedSecret", (("spec.encryptedData.password", "not base64!"),), {"schema"}),
    "unknown spec field": ("SealedSecret", (("spec.encrypteddata", {}),), {"schema"}),
    "condition status lowercase": ("SealedSecret", (("status", {"conditions": [READY_TRUE | {"status": "true"}]}),),
                                   {"schema"}),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_invalid_objects_are_refused(case: str) -> None:
    kind, changes, refused_by = REFUSED[case]
    obj = _with(kind, *changes)
    schema = schema_of(kind)
    defaulted = apply_defaults(copy.deepcopy(obj), schema)
    schema_errors = [e.message for e in jsonschema.Draft202012Validator(to_jsonschema(schema)).iter_errors(defaulted)]
    cel_errors = cel_failures(defaulted, schema)
    assert bool(schema_errors) == ("schema" in refused_by), schema_errors
    assert bool(cel_errors) == ("cel" in refused_by), cel_errors
    assert admit(obj)


def test_cel_and_schema_agree_on_exactly_one_auth_method() -> None:
    methods = {"token": TOKEN, "appRole": APPROLE, "kubernetes": KUBERNETES}
    for mask in range(8):
        auth = {name: m for i, (name, m) in enumerate(methods.items()) if mask >> i & 1}
        obj = _with("VaultStore", ("spec.auth", auth))
        schema = schema_of("VaultStore")
        ok_schema = jsonschema.Draft202012Validator(to_jsonschema(schema)).is_valid(apply_defaults(obj, schema))
        ok_cel = not cel_failures(obj, schema)
        assert ok_schema == ok_cel == (len(auth) == 1), auth


# --------------------------------------------------------------------------------------------------------------------
# kustomization.yaml
# --------------------------------------------------------------------------------------------------------------------

def _kustomization(directory: Path) -> dict:
    (k,) = _load(directory / "kustomization.yaml")
    return k


def test_kustomization_lists_every_file_and_only_existing_ones() -> None:
    k = _kustomization(DEPLOY)
    assert k["kind"] == "Kustomization"
    assert "namespace" not in k, "a global namespace would rewrite RoleBinding subjects"
    listed = set(k["resources"])
    on_disk = {str(p.relative_to(DEPLOY)) for p in DEPLOY.rglob("*")
               if p.is_file() and not any(c in p.parents for c in (EXAMPLES, ARGOCD, *COMPONENTS))}
    on_disk.discard("kustomization.yaml")
    assert listed == on_disk
    for component in COMPONENTS:
        c = _kustomization(component)
        assert c["kind"] == "Component"
        files = {p.name for p in component.rglob("*") if p.is_file()} - {"kustomization.yaml"}
        assert set(c["resources"]) == files
    assert {i["name"] for i in k["images"]} == {"ghcr.io/example/sealer"}


def test_every_namespaced_object_names_sealer_system() -> None:
    cluster_kinds = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
    for path, d in installed():
        if d["kind"] in cluster_kinds:
            assert "namespace" not in d["metadata"], path
        else:
            assert d["metadata"]["namespace"] == NS, (path, d["kind"])


def _kubectl() -> str:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (with its built-in kustomize) is not installed")
    return kubectl


def _build(directory: Path) -> list[dict]:
    run = subprocess.run([_kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return [d for d in yaml.safe_load_all(run.stdout) if d]


def _ids(objs: list[dict]) -> set[tuple[str, str, str | None]]:
    return {(d["kind"], d["metadata"]["name"], d["metadata"].get("namespace")) for d in objs}


def test_kubectl_kustomize_builds_everything() -> None:
    built = _build(DEPLOY)
    base = [d for p, d in installed() if not any(c in p.parents for c in COMPONENTS)]
    assert _ids(built) == _ids(base)
    for d in built:  # nothing rewritten on the way, except the image tag
        (src,) = [s for s in base if _ids([s]) == _ids([d])]
        assert d == src, d["metadata"]["name"]
    # CRDs and the namespace come first, so one `kubectl apply -k` works on an empty cluster.
    kinds = [d["kind"] for d in built]
    assert kinds[0] == "Namespace" and set(kinds[1:7]) == {"CustomResourceDefinition"}
    assert not {d["apiVersion"].split("/")[0] for d in built} & {GROUP, "kopf.dev"}, "no custom objects in the base"


def test_bitnami_component_builds(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    deploy = os.path.relpath(DEPLOY, site)  # kustomize refuses absolute paths
    (site / "kustomization.yaml").write_text(json.dumps({
        "resources": [deploy], "components": [f"{deploy}/bitnami-compat"]}))
    built = _build(site)
    (dep,) = [d for d in built if d["kind"] == "Deployment"]
    assert dep["spec"]["template"]["spec"]["containers"][0]["args"] == [f"--peering={PEERING}", "--bitnami-compat",
                                                                        "--import-bitnami-keys"]
    assert ("ClusterRole", "sealer-controller-bitnami", None) in _ids(built)
    for d in built:
        if d["apiVersion"].split("/")[0] not in (GROUP, "kopf.dev"):
            kubernetes_validate.validate(d, K8S_VERSIONS[0], strict=True)


def test_sharded_component_builds_a_statefulset_the_controller_accepts(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    site.mkdir()
    deploy = os.path.relpath(DEPLOY, site)
    (site / "kustomization.yaml").write_text(json.dumps({"resources": [deploy], "components": [f"{deploy}/sharded"]}))
    built = _build(site)
    assert not [d for d in built if d["kind"] == "Deployment"]
    (sts,) = [d for d in built if d["kind"] == "StatefulSet"]
    for d in built:
        if d["apiVersion"].split("/")[0] not in (GROUP, "kopf.dev"):
            kubernetes_validate.validate(d, K8S_VERSIONS[0], strict=True)
    (c,) = sts["spec"]["template"]["spec"]["containers"]
    from controller.__main__ import parse_args

    for ordinal in range(sts["spec"]["replicas"]):  # each pod's home shard is its ordinal, one shard per replica
        monkeypatch.setenv("POD_NAME", f"{sts['metadata']['name']}-{ordinal}")
        config, _ = parse_args(c["args"])
        assert (config.shards, config.shard_index) == (sts["spec"]["replicas"], ordinal)
    (role,) = [d for d in built if d["kind"] == "Role" and d["metadata"]["name"] == "sealer-controller-shards"]
    assert role["rules"] == [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
                              "verbs": ["get", "create", "update"]}]
    (binding,) = [d for d in built if d["kind"] == "RoleBinding" and d["roleRef"]["name"] == role["metadata"]["name"]]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": SA, "namespace": NS}]


# --------------------------------------------------------------------------------------------------------------------
# RBAC
# --------------------------------------------------------------------------------------------------------------------

def _roles() -> dict[tuple[str, str], dict]:
    return {(d["kind"], d["metadata"]["name"]): d for _, d in installed() if d["kind"] in ("Role", "ClusterRole")}


def _bindings() -> list[dict]:
    return [d for _, d in installed() if d["kind"] in ("RoleBinding", "ClusterRoleBinding")]


def test_rbac_has_no_wildcards() -> None:
    for (kind, name), role in _roles().items():
        for rule in role["rules"]:
            for field in ("verbs", "resources", "apiGroups", "resourceNames"):
                assert not any("*" in x for x in rule.get(field, [])), (kind, name, rule)
            assert "nonResourceURLs" not in rule


def test_only_the_controller_writes_secrets() -> None:
    writers = set()
    for key, role in _roles().items():
        for rule in role["rules"]:
            if "" in rule["apiGroups"] and "secrets" in rule["resources"]:
                assert key == ("ClusterRole", "sealer-controller"), key
                writers.add(key)
                assert set(rule["verbs"]) == {"get", "list", "watch", "create", "update", "patch", "delete"}
    assert writers == {("ClusterRole", "sealer-controller")}


def test_controller_role_covers_every_kind_and_its_status() -> None:
    role = _roles()[("ClusterRole", "sealer-controller")]
    grants: dict[str, set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for res in rule["resources"]:
                key = f"{group}/{res}" + (f"@{','.join(rule['resourceNames'])}" if "resourceNames" in rule else "")
                grants.setdefault(key, set()).update(rule["verbs"])
    for kind in KINDS:
        assert {"get", "list", "watch", "patch", "update"} <= grants[f"{GROUP}/{PLURALS[kind]}"]
        assert {"patch", "update"} <= grants[f"{GROUP}/{PLURALS[kind]}/status"]
    assert {"create", "patch"} <= grants["/events"] and {"create", "patch"} <= grants["events.k8s.io/events"]
    assert {"get", "list", "watch"} <= grants["/namespaces"]
    assert {"list", "watch"} <= grants["apiextensions.k8s.io/customresourcedefinitions"]
    assert {"list", "watch"} <= grants["kopf.dev/clusterkopfpeerings"]
    assert {"get", "patch"} <= grants[f"kopf.dev/clusterkopfpeerings@{PEERING}"]
    assert grants["/serviceaccounts/token"] == {"create"}
    assert grants["/configmaps"] == {"get"}  # templateFrom / caProvider: read only
    for workload in ("deployments", "statefulsets", "daemonsets"):
        assert grants[f"apps/{workload}"] == {"get", "patch"}
    assert not any(g.startswith("bitnami.com/") for g in grants), "bitnami.com is the optional Component's"
    ns_role = _roles()[("Role", "sealer-controller")]
    assert ns_role["metadata"]["namespace"] == NS
    for rule in ns_role["rules"]:
        assert rule["resources"] == ["configmaps"]
        assert rule.get("resourceNames") == ["sealer-certs"] or rule["verbs"] == ["create"]


def test_bindings_point_at_existing_roles_and_the_controller_account() -> None:
    roles = _roles()
    accounts = {(d["metadata"]["namespace"], d["metadata"]["name"]) for _, d in installed()
                if d["kind"] == "ServiceAccount"}
    assert accounts == {(NS, SA)}
    for b in _bindings():
        assert (b["roleRef"]["kind"], b["roleRef"]["name"]) in roles, b["metadata"]["name"]
        for s in b["subjects"]:
            if s["kind"] == "ServiceAccount":
                assert (s["namespace"], s["name"]) in accounts
    bound = {(b["roleRef"]["kind"], b["roleRef"]["name"]) for b in _bindings()}
    assert ("ClusterRole", "sealer-controller") in bound and ("Role", "sealer-controller") in bound


def test_everyone_can_read_the_certs_and_nothing_else() -> None:
    public = [b for b in _bindings() if any(s["kind"] == "Group" for s in b["subjects"])]
    assert len(public) == 1
    (b,) = public
    assert b["kind"] == "RoleBinding" and b["metadata"]["namespace"] == NS
    assert b["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                              "name": "system:authenticated"}]
    role = _roles()[(b["roleRef"]["kind"], b["roleRef"]["name"])]
    assert role["metadata"]["namespace"] == NS
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["sealer-certs"],
                              "verbs": ["get"]}]
    # The service proxy role exists for admins to bind, but is bound to nobody by default.
    assert ("Role", "sealer-controller-proxy") in _roles()
    assert "sealer-controller-proxy" not in {b["roleRef"]["name"] for b in _bindings()}


def test_aggregated_user_roles() -> None:
    roles = _roles()
    view, edit = roles[("ClusterRole", "sealer-view")], roles[("ClusterRole", "sealer-edit")]
    agg = "rbac.authorization.k8s.io/aggregate-to-"
    assert view["metadata"]["labels"][agg + "view"] == "true"
    assert edit["metadata"]["labels"][agg + "edit"] == "true" and edit["metadata"]["labels"][agg + "admin"] == "true"
    assert agg + "view" not in edit["metadata"]["labels"]
    (rule,) = view["rules"]
    assert set(rule["verbs"]) == {"get", "list", "watch"} and set(rule["resources"]) == set(PLURALS.values())
    (rule,) = edit["rules"]
    assert rule["apiGroups"] == [GROUP] and "clustervaultstores" not in rule["resources"]
    assert set(rule["resources"]) == set(PLURALS.values()) - {"clustervaultstores", "clustervaultsecrets"}
    for r in (view, edit):
        assert not any(res.endswith("/status") for rule in r["rules"] for res in rule["resources"])


# --------------------------------------------------------------------------------------------------------------------
# The namespaced variant (deploy/namespaced/, a Component): composed here, as `kubectl kustomize` would
# --------------------------------------------------------------------------------------------------------------------

def _matches(obj: dict, target: dict) -> bool:
    group = obj["apiVersion"].rpartition("/")[0]
    return (obj["kind"] == target["kind"] and obj["metadata"]["name"] == target.get("name", obj["metadata"]["name"])
            and group == target.get("group", group)
            and obj["metadata"].get("namespace") == target.get("namespace", obj["metadata"].get("namespace")))


def _compose(*components: Path) -> list[dict]:
    """deploy/ with these Components, built in Python (there is no kustomize binary here): the base's resources in
    order, then each Component's resources and its patches (JSON 6902, as the Components here use, each of which
    must hit an object)."""
    import jsonpatch

    objs = [copy.deepcopy(d) for name in _kustomization(DEPLOY)["resources"] for d in _load(DEPLOY / name)]
    for component in components:
        k = _kustomization(component)
        objs += [copy.deepcopy(d) for name in k.get("resources", []) for d in _load(component / name)]
        for patch in k.get("patches", []):
            ops = yaml.safe_load(patch["patch"])
            assert isinstance(ops, list), f"{component.name}: only JSON 6902 patches are composed here"
            hits = [i for i, d in enumerate(objs) if _matches(d, patch["target"])]
            assert hits, f"{component.name}: patch target {patch['target']} matches nothing"
            for i in hits:
                objs[i] = jsonpatch.apply_patch(objs[i], ops)
    return objs


def _grants(role: dict) -> dict[str, set[str]]:
    """group/resource[@names] -> verbs."""
    out: dict[str, set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for res in rule["resources"]:
                key = f"{group}/{res}" + (f"@{','.join(rule['resourceNames'])}" if "resourceNames" in rule else "")
                out.setdefault(key, set()).update(rule["verbs"])
    return out


def _served_namespaces(objs: list[dict]) -> tuple[str, ...]:
    from controller.__main__ import parse_args

    (dep,) = [d for d in objs if d["kind"] == "Deployment"]
    return parse_args(dep["spec"]["template"]["spec"]["containers"][0]["args"])[0].namespaces


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_namespaced_variant_validates_against_kubernetes_openapi(version: str) -> None:
    for components in ((NAMESPACED,), (NAMESPACED, DEPLOY / "bitnami-compat")):
        objs = _compose(*components)
        assert len(_ids(objs)) == len(objs), "no object twice"
        for d in objs:
            if d["apiVersion"].split("/")[0] not in (GROUP, "kopf.dev"):
                try:
                    kubernetes_validate.validate(d, version, strict=True)
                except kubernetes_validate.ValidationError as e:
                    pytest.fail(f"{d['kind']}/{d['metadata']['name']} (k8s {version}): "
                                f"{'.'.join(map(str, e.path))}: {e.message}")


def test_namespaced_variant_grants_no_cluster_wide_access_to_secrets() -> None:
    objs = _compose(NAMESPACED)
    served = _served_namespaces(objs)
    assert served == ("team-a", "team-b")
    cluster_roles = [d for d in objs if d["kind"] == "ClusterRole"]
    assert cluster_roles
    for role in cluster_roles:  # the user roles (sealer-view, sealer-edit) included
        for key in _grants(role):
            assert not key.startswith("/secrets"), (role["metadata"]["name"], key)
    controller = _grants(one_of(objs, "ClusterRole", "sealer-controller"))
    assert set(controller) == {"/namespaces", "apiextensions.k8s.io/customresourcedefinitions",
                               f"{GROUP}/clustervaultstores", f"{GROUP}/clustervaultstores/status",
                               f"{GROUP}/clustervaultsecrets", f"{GROUP}/clustervaultsecrets/status",
                               f"{GROUP}/clustervaultsecrets/finalizers"}
    assert controller["/namespaces"] == {"get", "list", "watch"}  # read-only, like everything cluster-wide here
    assert not {"create", "delete"} & set().union(*controller.values())

    # Secrets are granted only in the served namespaces and the controller's own, by Roles bound to its account
    bound = {(b["metadata"].get("namespace"), b["roleRef"]["name"]) for b in objs if b["kind"] == "RoleBinding"
             and {"kind": "ServiceAccount", "name": SA, "namespace": NS} in b["subjects"]}
    secret_roles = {d["metadata"]["namespace"]: _grants(d) for d in objs if d["kind"] == "Role"
                    and any(k.startswith("/secrets") for k in _grants(d))}
    assert set(secret_roles) == {*served, NS}
    assert {(ns, "sealer-controller") for ns in secret_roles} <= bound
    for ns in served:
        grants = secret_roles[ns]
        assert grants["/secrets"] == {"get", "list", "watch", "create", "update", "patch", "delete"}
        for kind in ("SealedSecret", "SopsSecret", "VaultSecret", "VaultStore"):
            assert {"get", "list", "watch", "patch", "update"} <= grants[f"{GROUP}/{PLURALS[kind]}"]
            assert {"patch", "update"} <= grants[f"{GROUP}/{PLURALS[kind]}/status"]
        assert {"create", "patch"} <= grants["/events"] and {"create", "patch"} <= grants["events.k8s.io/events"]
        assert {"list", "watch"} <= grants["kopf.dev/kopfpeerings"]
        assert {"get", "patch"} <= grants[f"kopf.dev/kopfpeerings@{PEERING}"]
    own = secret_roles[NS]
    assert own["/secrets"] == {"get", "list", "watch", "create", "update", "patch"}  # keys: never deleted
    assert own["/configmaps@sealer-certs"] == {"get", "update", "patch"}
    for kind in ("SealedSecret", "SopsSecret", "VaultSecret", "VaultStore"):  # watched here, never written
        assert own[f"{GROUP}/{PLURALS[kind]}"] == {"list", "watch"}
    assert {"get", "patch"} <= own[f"kopf.dev/kopfpeerings@{PEERING}"]
    assert not any("clusterkopfpeerings" in k for role in objs if role["kind"] in ("Role", "ClusterRole")
                   for k in _grants(role)), "namespaced peering only"


def one_of(objs: list[dict], kind: str, name: str, namespace: str | None = None) -> dict:
    (found,) = [d for d in objs if d["kind"] == kind and d["metadata"]["name"] == name
                and d["metadata"].get("namespace") == namespace]
    return found


def test_namespaced_component_files() -> None:
    k = _kustomization(NAMESPACED)
    assert k["kind"] == "Component" and "namespace" not in k
    crd = one_of(_compose(NAMESPACED), "CustomResourceDefinition", "kopfpeerings.kopf.dev")
    # as kopf publishes it (peering.yaml in kopf's repository), next to deploy/'s cluster-wide one
    cluster = one("CustomResourceDefinition", "clusterkopfpeerings.kopf.dev")
    assert crd["spec"]["scope"] == "Namespaced" and cluster["spec"]["scope"] == "Cluster"
    assert crd["spec"]["names"] == {"kind": "KopfPeering", "plural": "kopfpeerings", "singular": "kopfpeering"}
    assert crd["spec"]["versions"] == cluster["spec"]["versions"]
    served = _served_namespaces(_compose(NAMESPACED))
    for _, d in _objects(_yaml_files(NAMESPACED)):
        if d["kind"] in ("Role", "RoleBinding"):  # every object names its namespace, as in deploy/
            assert d["metadata"]["namespace"] in served, d["metadata"]
        for role_rule in d.get("rules", []):
            for field in ("verbs", "resources", "apiGroups", "resourceNames"):
                assert not any("*" in x for x in role_rule.get(field, [])), role_rule


def test_the_controller_accepts_the_namespaced_arguments() -> None:
    objs = _compose(NAMESPACED)
    (dep,) = [d for d in objs if d["kind"] == "Deployment"]
    from controller.__main__ import parse_args

    config, ns = parse_args(dep["spec"]["template"]["spec"]["containers"][0]["args"])
    assert config.namespaces == ("team-a", "team-b") and ns.peering == PEERING and not ns.standalone
    served_roles = {d["metadata"]["namespace"] for d in objs if d["kind"] == "Role"} - {NS}
    assert served_roles == set(config.namespaces), "a Role for every served namespace, and none for others"


def test_namespaced_component_builds(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    deploy = os.path.relpath(DEPLOY, site)  # kustomize refuses absolute paths
    (site / "kustomization.yaml").write_text(json.dumps({"resources": [deploy],
                                                         "components": [f"{deploy}/namespaced"]}))
    built = _build(site)
    composed = _compose(NAMESPACED)
    assert _ids(built) == _ids(composed)
    for d in built:
        (src,) = [s for s in composed if _ids([s]) == _ids([d])]
        assert d == src, d["metadata"]["name"]


# --------------------------------------------------------------------------------------------------------------------
# Deployment, Service, PodDisruptionBudget, Namespace
# --------------------------------------------------------------------------------------------------------------------

def _pod() -> dict:
    return one("Deployment", "sealer-controller")["spec"]["template"]["spec"]


def test_deployment_security_context() -> None:
    pod = _pod()
    (c,) = pod["containers"]
    psc, csc = pod["securityContext"], c["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] == 65532
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert csc["allowPrivilegeEscalation"] is False and csc["readOnlyRootFilesystem"] is True
    assert csc["capabilities"] == {"drop": ["ALL"]}
    assert csc.get("runAsUser", 65532) == 65532 and csc.get("runAsNonRoot", True) is True
    assert "privileged" not in csc and not pod.get("hostNetwork") and not pod.get("hostPID")
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    (tmp,) = [v for v in pod["volumes"] if v["name"] == "tmp"]
    assert mounts["tmp"] == "/tmp" and "emptyDir" in tmp
    assert pod["automountServiceAccountToken"] is True and pod["serviceAccountName"] == SA
    labels = one("Namespace", NS)["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


def test_deployment_shape() -> None:
    dep = one("Deployment", "sealer-controller")
    assert dep["spec"]["replicas"] == 2
    pod = _pod()
    (c,) = pod["containers"]
    assert c["image"] == "ghcr.io/example/sealer:0.1.0"
    assert c["command"] == ["python", "-m", "controller"]
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert env["POD_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert c["args"] == [f"--peering={PEERING}"]  # the name RBAC allows (resourceNames) and controller/ defaults to
    (port,) = c["ports"]
    assert port == {"name": "http", "containerPort": 8080, "protocol": "TCP"}
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        get = c[probe]["httpGet"]
        assert get["path"] == "/healthz" and get["port"] in (port["name"], port["containerPort"]), probe
    res = c["resources"]
    assert res["requests"]["cpu"] and res["requests"]["memory"] and res["limits"]["memory"]
    assert "cpu" not in res["limits"], "CPU limits throttle RSA work; requests are enough"
    spread = pod.get("topologySpreadConstraints") or pod["affinity"]["podAntiAffinity"]
    assert spread
    selector = dep["spec"]["selector"]["matchLabels"]
    assert selector.items() <= dep["spec"]["template"]["metadata"]["labels"].items()
    assert pod["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"] == selector


def test_the_controller_accepts_the_deployment_arguments() -> None:
    """The flags in deployment.yaml and the bitnami-compat Component are the controller's own, and its defaults
    match the manifests (HTTP port, peering name)."""
    from controller.__main__ import parse_args

    (c,) = _pod()["containers"]
    (patch,) = _kustomization(DEPLOY / "bitnami-compat")["patches"]
    extra = [op["value"] for op in yaml.safe_load(patch["patch"])]
    for args in (c["args"], c["args"] + extra):
        config, ns = parse_args(args)
        assert ns.peering == PEERING and not ns.standalone
        assert config.http_port == c["ports"][0]["containerPort"]
    assert parse_args(c["args"] + extra)[0].bitnami_compat
    (patch,) = _kustomization(DEPLOY / "eso-compat")["patches"]
    eso = [op["value"] for op in yaml.safe_load(patch["patch"])]
    assert parse_args(c["args"] + eso)[0].eso_compat


def test_eso_compat_component_grants_only_esos_kinds() -> None:
    docs = [d for d in yaml.safe_load_all((DEPLOY / "eso-compat" / "rbac-eso.yaml").read_text()) if d]
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    assert {g for r in role["rules"] for g in r["apiGroups"]} == {"external-secrets.io"}
    assert not any("*" in v for r in role["rules"] for v in r["verbs"] + r["resources"])
    binding = next(d for d in docs if d["kind"] == "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": SA, "namespace": NS}]


def test_service_and_pdb_select_the_controller() -> None:
    svc = one("Service", "sealer-controller")
    pod_labels = one("Deployment", "sealer-controller")["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    (port,) = svc["spec"]["ports"]
    (cport,) = _pod()["containers"][0]["ports"]
    # The kubeseal-style proxy path names the port: services/http:sealer-controller:http/proxy/v1/cert.pem
    assert port["name"] == "http" and port["port"] == 8080 and port["targetPort"] in (cport["name"], 8080)
    pdb = one("PodDisruptionBudget", "sealer-controller")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert pdb["spec"]["minAvailable"] == 1


# --------------------------------------------------------------------------------------------------------------------
# Dockerfile and .dockerignore (structure only: there is no docker daemon here to build the image)
# --------------------------------------------------------------------------------------------------------------------

def _dockerfile() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _dockerignore_excludes(path: str) -> bool:
    """Docker's rule: the last pattern that matches decides; `!` re-includes; a directory match covers its files."""
    excluded = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = raw.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").strip("/")
        rx = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*").replace(r"\*", "[^/]*")
        parts = path.split("/")
        if any(re.fullmatch(rx, "/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            excluded = not negate
    return excluded


def test_dockerfile_structure() -> None:
    ins = _dockerfile()
    froms = [rest for word, rest in ins if word == "FROM"]
    assert len(froms) >= 2, "multi-stage"
    assert all(f.split()[0] == "python:3.11-slim" for f in froms)
    final = ins[max(i for i, (w, _) in enumerate(ins) if w == "FROM"):]
    users = [rest for word, rest in final if word == "USER"]
    assert users and users[-1].split(":")[0] == "65532", "the runtime stage runs as the non-root uid 65532"
    assert str(_pod()["securityContext"]["runAsUser"]) == users[-1].split(":")[0]
    (entry,) = [rest for word, rest in final if word == "ENTRYPOINT"]
    assert json.loads(entry) == ["python", "-m", "controller"] == _pod()["containers"][0]["command"]
    assert any(w == "RUN" and "venv" in r for w, r in final), "installs into a virtualenv"
    assert any(w == "RUN" and "pip wheel" in r for w, r in ins[:len(ins) - len(final)]), "builds wheels"
    installs = [r for w, r in ins if w == "RUN" and "pip install" in r]
    assert installs and all("--require-hashes" in r for r in installs), "every install is from the lock"
    assert any("--no-index" in r for r in installs), "the runtime stage asks no index"
    assert any(w == "EXPOSE" and r == "8080" for w, r in final)
    for word, rest in ins:
        if word == "COPY" and "--from" not in rest:
            for src in rest.split()[:-1]:
                assert (ROOT / src).exists(), src
                assert not _dockerignore_excludes(src), f"{src} is copied but .dockerignore excludes it"


def test_dockerignore() -> None:
    for path in (".venv", ".git", "tests", "bench", "deploy", "keys", ".venv/bin/python", "tests/test_deploy.py",
                 "sealer/__pycache__/cli.cpython-311.pyc", "sealer.egg-info/PKG-INFO", "secret.key"):
        assert _dockerignore_excludes(path), path
    for path in ("pyproject.toml", "README.md", "sealer", "sealer/cli/app.py", "controller", "controller/__init__.py",
                 "requirements/base.txt", "requirements/build.txt"):
        assert not _dockerignore_excludes(path), path
