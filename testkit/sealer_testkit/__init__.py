"""sealer's test kit: a Kubernetes API emulator (kmock plus the API-server behaviour kopf needs) and the
`sealer demo` flow that runs the real controller against it. Not part of the product: the controller image and
the `sealer` wheel carry none of it."""
