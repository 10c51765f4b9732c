"""Data-key wrapping for SOPS files: one module per recipient kind (`age` today, Vault Transit next).

Each module turns a SOPS data key into the text sops stores in the `sops:` block and back, and loads the
private material it needs the way the `sops` binary does, so a file works the same with either tool.
"""
