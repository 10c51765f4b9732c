"""Data-key wrapping for SOPS files: one module per recipient kind (`age`, `vault` for Vault Transit), `groups`
(the data key wrapped per key group, Shamir-split across several), and `service` (who can open a file:
recipients and rules -> a plan; the opener; wrap dispatch).

Each recipient module turns a SOPS data key into the text sops stores in the `sops:` block and back, and loads the
private material it needs the way the `sops` binary does, so a file works the same with either tool.
"""
