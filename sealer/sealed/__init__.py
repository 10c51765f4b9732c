"""Sealed Secrets: the hybrid cipher, keys and certs, SealedSecret objects, the controller's API."""
