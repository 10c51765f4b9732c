"""hvac's exceptions as the HTTP status Vault answered: one map for the SOPS Vault Transit keys and the
controller's Vault stores, which each word the outcome for their own users. hvac is imported only when called."""

from __future__ import annotations


def http_status(error: BaseException) -> int | None:
    """The HTTP status an hvac exception stands for; None for one that carries no status (hvac's own errors)."""
    import hvac.exceptions as hx

    table = {hx.InvalidRequest: 400, hx.Unauthorized: 401, hx.Forbidden: 403, hx.InvalidPath: 404,
             hx.RateLimitExceeded: 429, hx.InternalServerError: 500, hx.VaultNotInitialized: 501,
             hx.BadGateway: 502, hx.VaultDown: 503}
    for cls, code in table.items():
        if isinstance(error, cls):
            return code
    return None
