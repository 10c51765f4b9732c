"""The product's names in the Kubernetes API, written once: API group and version, the controller's namespace,
Service and ConfigMap, labels and annotations every component agrees on, and the HTTP body limit the controller
and its clients share. Pure constants: importing this costs nothing (no Kubernetes client)."""

from __future__ import annotations

GROUP = "sealer.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"  # SealedSecret, SopsSecret, VaultSecret, VaultStore, ClusterVaultStore
BITNAMI_GROUP = "bitnami.com"
BITNAMI_API_VERSION = f"{BITNAMI_GROUP}/{VERSION}"  # Bitnami's SealedSecret (served with --bitnami-compat)

CONTROLLER_NAMESPACE = "sealer-system"  # deploy/: where the controller runs and keeps its keys
CONTROLLER_NAME = "sealer-controller"  # its Service, for the API server's service proxy
CERTS_CONFIGMAP = "sealer-certs"  # the published sealing certs, readable by every authenticated user

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "sealer"  # the value of MANAGED_BY_LABEL on every Secret the controller produces

MAX_BODY = 4 << 20  # bytes: the controller's /v1/verify and /v1/rotate refuse larger request bodies
