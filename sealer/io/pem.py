"""PEM blocks as Go's `encoding/pem` reads and writes them: the one codec for certificates, keys and templates."""

from __future__ import annotations

import base64
import binascii
import re

_BLOCK = re.compile(rb"-----BEGIN ([^\r\n-]*)-----\r?\n(.*?)-----END \1-----[ \t]*(?:\r?\n|$)", re.S)


def encode(kind: str, der: bytes) -> str:
    """Go's pem.EncodeToMemory without headers."""
    body = base64.b64encode(der).decode()
    lines = "".join(body[i:i + 64] + "\n" for i in range(0, len(body), 64))
    return f"-----BEGIN {kind}-----\n{lines}-----END {kind}-----\n"


def blocks(data: bytes) -> list[tuple[str, bytes]]:
    """(type, DER) of each block as Go's pem.Decode finds them (a block whose body is not base64 is skipped)."""
    found = []
    for m in _BLOCK.finditer(data):
        body = m.group(2)
        if b":" in body.split(b"\n", 1)[0]:  # RFC 1421 headers (Proc-Type...): skipped, not written back
            body = body.split(b"\n\n", 1)[-1]
        try:
            der = base64.b64decode(re.sub(rb"\s+", b"", body), validate=True)
        except (binascii.Error, ValueError):
            continue
        found.append((m.group(1).decode("latin-1"), der))
    return found
