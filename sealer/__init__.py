"""sealer: Secrets in Git for GitOps.

Importing this package must stay cheap: the CLI's start-up time depends on it.
"""

__version__ = "0.1.0"
