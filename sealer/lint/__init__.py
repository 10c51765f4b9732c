"""`sealer lint`: the CI gate that keeps plaintext secrets, leaked credentials and broken ciphertext out of Git.

Layout: `walk` finds the files (respecting .gitignore, or the staged / changed set), `scan` reads each one and runs
the text detectors (`detectors`) and, for YAML/JSON, the structural rules (`rules/`) over the parsed node tree
(`yamlnodes`), in as many processes as there are cores. `baseline`, `config` and `reporters` are the edges.

Findings carry rule, file, line, column and a fingerprint, never the value they found.
"""
