"""In-cluster operator (kopf). Built in a later issue; imports `sealer`, never the reverse."""
