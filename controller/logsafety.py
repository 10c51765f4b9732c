"""Every log record the controller writes passes here: secret fields redacted, control characters escaped.

kopf at DEBUG (`--verbose`) logs whole objects and patches as Python reprs: "Creation is in progress: {body!r}",
"... diff: ...", "Merge-patching the resource with: ...", "JSON-patching ...", and a WARNING with the raw watch
event for an unknown event type. A SealedSecret whose encryptedData holds a value pasted in clear by mistake, a
Secret's data, a SopsSecret's unencrypted stringData, or the `last-applied-configuration` copy of any of them would
reach the log. The kubernetes and hvac clients log no bodies; our own loggers never log values.

`install()` wraps the log record factory, so the rule holds for every logger and every handler (kopf's stream
handler, its JSON formatter, the handler that posts INFO records of `kopf.objects` as Kubernetes Events):

- a message that names one of the fields in SECRET_FIELDS (or a copy of an object, ANNOTATION_COPIES) as a
  mapping key or a JSON-patch path is parsed back from its repr, those values are replaced by REDACTED (item
  names stay: they say which item changed), and the message is rendered again; text that does not parse loses
  everything from the dump on. The rest of a verbose log (handlers invoked, patches of status, finalizers,
  watch streams, requests) stays as it was.
- then the message is made one printable line (sealer.safetext): names from objects cannot forge a log line,
  drive a terminal or issue a CI workflow command. Tracebacks keep their lines, each escaped and redacted.

`configure()` then sets where and how records are written (--log-level, --log-format text|json, --log-info-stdout);
the JSON lines are built from the already safe record, so they carry nothing the text lines would not.
"""

from __future__ import annotations

import ast
import datetime as dt
import json
import logging
import re
import sys
from typing import Any, TextIO

from sealer.safetext import printable

SECRET_FIELDS = frozenset({"encryptedData", "data", "stringData"})
ANNOTATION_COPIES = frozenset({"kubectl.kubernetes.io/last-applied-configuration",
                               "kopf.zalando.org/last-handled-configuration"})
REDACTED = "<redacted>"
_DIFF_OPS = frozenset({"add", "change", "remove"})
_NAMES = "|".join(re.escape(n) for n in sorted(SECRET_FIELDS | ANNOTATION_COPIES))
# a quoted mapping key (repr or JSON, also inside a JSON string: \"data\"), or a JSON-patch path segment
_MARKER = re.compile(rf"""(\\?['"])(?:{_NAMES})\1\s*[:,)]|/(?:{_NAMES})(?:/|['"])""")


def redact_text(text: str) -> str:
    """``text`` with the values of secret fields in any object dump it carries replaced by REDACTED."""
    marker = _MARKER.search(text)
    if marker is None:
        return text
    # kopf's dumps follow ": " and run to the end of the message; a few candidates at most are parsed
    starts = [m.start() + 2 for m in re.finditer(r": [{\[(]", text)]
    for start in starts[:3]:
        try:
            value = ast.literal_eval(text[start:])
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        return text[:start] + repr(redact(value))
    start = min([marker.start(), *starts[:1]])
    return text[:start] + REDACTED


def redact(value: Any) -> Any:
    """A copy of a parsed object, patch or diff with the values of secret fields replaced by REDACTED."""
    if isinstance(value, dict):
        path = value.get("path")
        if isinstance(path, str) and "value" in value and _secret_path(path.split("/")):  # a JSON-patch op
            return {k: REDACTED if k == "value" else v for k, v in value.items()}
        return {k: _redacted_field(v) if k in SECRET_FIELDS else REDACTED if k in ANNOTATION_COPIES else redact(v)
                for k, v in value.items()}
    if isinstance(value, tuple | list):
        if (len(value) == 4 and value[0] in _DIFF_OPS and isinstance(value[1], tuple | list)
                and _secret_path(value[1])):  # a kopf diff item: (op, field path, old, new)
            return type(value)((value[0], value[1], REDACTED, REDACTED))
        return type(value)(redact(v) for v in value)
    if isinstance(value, str) and _MARKER.search(value):
        return REDACTED  # a JSON copy of an object (an annotation)
    return value


def _secret_path(parts: Any) -> bool:
    return any(isinstance(p, str) and p in SECRET_FIELDS | ANNOTATION_COPIES for p in parts)


def _redacted_field(value: Any) -> Any:
    """Item names stay (they say which item), values go."""
    if isinstance(value, dict):
        return {k: REDACTED for k in value}
    return REDACTED


def safe_message(text: str) -> str:
    return printable(redact_text(text))


def safe_lines(text: str) -> str:
    return "\n".join(safe_message(line) for line in text.split("\n"))


def install() -> None:
    """Make every log record created from now on safe (idempotent)."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "sealer_safe", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log what it was, not a crash
            message = f"{record.msg!r} (unformattable arguments)"
        try:
            record.msg, record.args = safe_message(message), ()
            if record.exc_info and record.exc_info[0] is not None:
                record.exc_text = safe_lines(logging.Formatter().formatException(record.exc_info).rstrip("\n"))
                record.exc_info = None  # formatters (text and JSON) print exc_text instead
            if record.stack_info:
                record.stack_info = safe_lines(record.stack_info)
        except Exception:  # never let a record through unchecked, never break the caller
            record.msg, record.args, record.exc_info, record.exc_text, record.stack_info = (
                f"<a {record.levelname} message withheld: it could not be made safe to log>", (), None, None, None)
        return record

    factory.sealer_safe = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


TEXT_FORMAT = "[%(asctime)s] %(name)-20.20s [%(levelname)-8.8s] %(message)s"  # kopf's own layout
_LEVEL_NAMES = {"WARNING": "WARN", "CRITICAL": "ERROR"}  # slog's names, as Bitnami's JSON logs spell them


def about(body: Any) -> dict[str, Any]:
    """``extra=`` for a record about an object: its JSON line carries `object`, as kopf's per-object records do."""
    meta = body.get("metadata") or {}
    return {"k8s_ref": {"apiVersion": body.get("apiVersion"), "kind": body.get("kind"),
                        "namespace": meta.get("namespace"), "name": meta.get("name"), "uid": meta.get("uid")}}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (RFC 3339, UTC), level, logger, msg; `object` (apiVersion, kind, namespace,
    name, uid) when kopf or the controller logs about an object (`about`), `error` with a traceback. Bitnami's
    controller (slog) writes time, level and msg; log pipelines that parse those keep working."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": _LEVEL_NAMES.get(record.levelname, record.levelname),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        ref = getattr(record, "k8s_ref", None)
        if isinstance(ref, dict):
            line["object"] = {k: v for k, v in ref.items() if isinstance(v, str)}
        if record.exc_text:
            line["error"] = record.exc_text
        elif record.exc_info and record.exc_info[0] is not None:
            line["error"] = safe_lines(self.formatException(record.exc_info))
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=True, default=str)


class _BelowWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.WARNING


class _SealerHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Ours, so that `configure` run again replaces rather than adds."""


def configure(level: int = logging.INFO, fmt: str = "text", info_to_stdout: bool = False,
              stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
    """Root handlers for the controller: `level` filters what is written, not what is logged, so INFO records of
    kopf.objects still become Kubernetes Events at --log-level error. Replaces kopf.configure()."""
    formatter: logging.Formatter = JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)
    out, err = stdout or sys.stdout, stderr or sys.stderr
    handlers: list[logging.Handler] = []
    if info_to_stdout:
        low, high = _SealerHandler(out), _SealerHandler(err)
        low.addFilter(_BelowWarning())
        high.setLevel(max(level, logging.WARNING))
        handlers += [low, high]
    else:
        handlers.append(_SealerHandler(err))
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.setLevel(max(handler.level, level))
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _SealerHandler)] + handlers
    root.setLevel(min(level, logging.INFO))  # INFO is still logged (and posted as Events) below the handlers
    debug = level <= logging.DEBUG
    asyncio_log = logging.getLogger("asyncio")  # as kopf.configure: asyncio's chatter only in debug
    asyncio_log.propagate = debug
    asyncio_log.handlers[:] = [] if debug else [logging.NullHandler()]
