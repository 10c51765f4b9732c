"""SOPS documents, byte-compatible with the `sops` binary (3.11).

One module per concern, as in sops itself: `scalars` (how Go's YAML reads a value and how sops turns it into
bytes), `codec` (the ENC[...] value cipher), `tree` (which values are encrypted, their AAD paths, the MAC walk),
`metadata` (the `sops:` block), `shamir` (key groups), `config` (.sops.yaml), `stores/` (one store per file
format behind `load` / `dumps`), `keys/` (age, Vault Transit, key groups; `service`: who can open a file),
`document` (encrypt / decrypt / set / rotate ...). `nodes` and `fastyaml/` are the YAML tree without ruamel.yaml:
node classes, and a fast reader and writer for plain files that give the same tree and bytes as ruamel.yaml;
`emit` is that writer in linear time.
"""
