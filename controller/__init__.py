"""In-cluster operator (kopf): unseals SealedSecrets into Secrets and keeps them that way.

Pure decisions live in small modules (`keyring`, `sealed`, `secrets`); `handlers` registers them with kopf and
`kube` does the API calls. The controller imports `sealer`; `sealer` never imports the controller.
"""
