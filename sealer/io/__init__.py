"""Reading and writing files: Kubernetes manifests, comment-preserving edits, atomic writes, $EDITOR."""
