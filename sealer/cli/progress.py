"""Progress bars on stderr for bulk work (rotate, updatekeys, encrypt/decrypt of many files, reencrypt, lint).

A bar is drawn only when someone watches: stderr is a terminal (TERM not "dumb"), so pipes, redirected output
and CI logs never get one; and only for work worth watching: more than MIN_UNITS units, or work still running
after DELAY seconds. SEALER_PROGRESS=1 draws it whatever stderr is (tests, `script` recordings), =0 never.
NO_COLOR does not hide the bar, it only keeps it plain (sealer.cli.style decides colour). The bar goes to stderr
only: stdout is byte for byte what it is without it. It is click's progressbar; click is imported only when a
bar is drawn, so the encrypt/decrypt fast path (sealer.cli.main) stays without click.
"""

from __future__ import annotations

import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Any

MIN_UNITS = 20  # more units than this: a bar from the start
DELAY = 1.0  # fewer: a bar once the work has taken this long (seconds) and is not done


def wanted() -> bool:
    """Whether bars may be drawn at all: SEALER_PROGRESS=1/0 decides, else whether stderr is a terminal."""
    forced = os.environ.get("SEALER_PROGRESS", "")
    if forced in ("0", "1"):
        return forced == "1"
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """A count of ``total`` units done, drawn as a bar on stderr once it is worth watching (see the module)."""

    def __init__(self, total: int, label: str) -> None:
        self.total, self.label, self.done = total, label, 0
        self._wanted = total > 1 and wanted()
        self._start = time.monotonic()
        self._bar: Any = None
        if self._wanted and total > MIN_UNITS:
            self._show()

    def advance(self, n: int = 1) -> None:
        """``n`` more units are done."""
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif self._wanted and self.done < self.total and time.monotonic() - self._start >= DELAY:
            self._show()

    def _show(self) -> None:
        import click

        from sealer.cli import style

        colour = style.err_enabled()  # NO_COLOR: the same bar, plain
        self._terminal = _Terminal(sys.stderr)
        self._bar = click.progressbar(length=self.total, label=self.label, file=self._terminal,
                                      color=colour, empty_char="-", show_pos=True, show_percent=True,
                                      bar_template=f"%(label)s  [{style.paint('%(bar)s', 'ok', colour)}]  %(info)s")
        sys.stderr = _Between(self._terminal)  # notes while the bar is up: on their own lines, bar redrawn below
        self._bar.__enter__()
        if self.done:
            self._bar.update(self.done)

    def close(self) -> None:
        """End the bar's line (also after an error, so the error starts on a line of its own)."""
        if self._bar is not None:
            bar, self._bar = self._bar, None
            if isinstance(sys.stderr, _Between):
                sys.stderr = self._terminal.stream
            bar.render_finish()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def track(items: Iterable[Any], label: str) -> _Tracked:
    """``with track(files, "rotating") as each: for file in each: ...``: a unit per item, when it is done."""
    return _Tracked(list(items), label)


class _Tracked:
    def __init__(self, items: list, label: str) -> None:
        self.items = items
        self.progress = Progress(len(items), label)

    def __enter__(self) -> Iterator:
        return self._each()

    def _each(self) -> Iterator:
        for item in self.items:
            yield item
            self.progress.advance()

    def __exit__(self, *exc: object) -> None:
        self.progress.close()


class _Terminal:
    """stderr as click's progressbar sees it: a terminal (the decision to draw is `wanted`'s, not click's).
    Keeps the bar's last line, to draw it again below a note."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.line = ""

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if text.startswith("\r"):  # click draws each state of the bar as "\r" + the line
            self.line = text
        return self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class _Between:
    """sys.stderr while a bar is drawn: other text (a command's notes) erases the bar's line first, and once it
    ends a line the bar is drawn again under it, so notes and the bar never share a line."""

    def __init__(self, terminal: _Terminal) -> None:
        self._terminal = terminal

    def write(self, text: Any) -> int:
        stream = self._terminal.stream
        if not isinstance(text, str) or not text:  # click probes with b"" whether a stream takes bytes
            return stream.write(text)
        if self._terminal.line:
            stream.write("\r\033[K")  # to the start of the line, erase it
        written = stream.write(text)
        if text.endswith("\n") and self._terminal.line:
            stream.write(self._terminal.line)
        else:
            self._terminal.line = ""  # a partial line (a prompt): the bar waits for its next step
        stream.flush()
        return written

    def __getattr__(self, name: str) -> Any:
        return getattr(self._terminal.stream, name)
