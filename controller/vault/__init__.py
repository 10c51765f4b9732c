"""VaultSecret: store and secret specs (pure), the Vault client per store, the refresh loop."""
