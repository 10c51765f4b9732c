"""In-cluster operator (kopf): turns SealedSecrets, SopsSecrets and VaultSecrets into Secrets and keeps them so.

Pure decisions live in small modules (`keyring`, `sealed`, `sopssecret`, `secrets`, `vault.spec`); `app` builds
the operator from a `config.Config` and registers `handlers` (one module per kind) in an explicit kopf registry;
`status` reports, `kube` does the API calls. The controller imports `sealer`; `sealer` never imports it.
"""
