"""VaultStore, ClusterVaultStore, VaultSecret: specs (pure), one Vault client per store, the sync, the refresh loop."""
