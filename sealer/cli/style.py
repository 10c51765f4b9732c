"""Colour on a terminal: the one place that decides whether a stream gets ANSI colour, and the codes.

Colour goes only to a terminal a person reads, never into pipes, files or CI logs, and never into JSON, SARIF
or YAML output (callers ask only for text meant for people). The environment decides first, as
https://no-color.org and https://force-color.org describe: NO_COLOR (any non-empty value) turns colour off,
and wins; FORCE_COLOR (non-empty, not "0") or CLICOLOR_FORCE (not "0") turns it on whatever the stream is;
otherwise a stream is coloured when it is a terminal and TERM is not "dumb".

Standard library only: the encrypt/decrypt fast path (sealer.cli.main) runs without click.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

RESET = "\033[0m"
CODES = {
    "error": "\033[1;31m",  # bold red: `sealer: error:`, error findings
    "warning": "\033[33m",  # yellow: warning findings
    "ok": "\033[32m",  # green: a success summary
    "rule": "\033[36m",  # cyan: a lint rule id
    "dim": "\033[2m",  # faint: fingerprints and other detail
}


def enabled(stream: TextIO | None = None) -> bool:
    """Whether text written to ``stream`` (default stdout) is coloured."""
    env = os.environ
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR", "0") not in ("", "0") or env.get("CLICOLOR_FORCE", "0") not in ("", "0"):
        return True
    if env.get("TERM") == "dumb":
        return False
    stream = sys.stdout if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def paint(text: str, role: str, on: bool = True) -> str:
    """``text`` in the colour of ``role`` (a key of CODES) when ``on``; unchanged otherwise or when empty."""
    if not on or not text:
        return text
    return f"{CODES[role]}{text}{RESET}"


def err_enabled() -> bool:
    """Whether stderr is coloured (error lines, summaries, the progress bar)."""
    return enabled(sys.stderr)
