"""Go's text/template with sprig's functions, in pure Python: what Bitnami Sealed Secrets (and External Secrets)
render `spec.template.data` with, byte for byte (checked against Go itself in tests/test_gotemplate*.py).

    render(text, data, name="item")  ->  bytes

`data` holds Go values (see values.py); a SealedSecret template sees its decrypted items as a map of strings.
Errors are `sealer.errors.InputError` naming the template and line:col, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from sealer.errors import InputError
from sealer.gotemplate import parser
from sealer.gotemplate.builtins import BUILTINS
from sealer.gotemplate.execute import MAX_OUTPUT, MAX_STEPS, ExecError, Func, execute
from sealer.gotemplate.lexer import TemplateSyntaxError
from sealer.gotemplate.sprig import SPRIG
from sealer.gotemplate.values import GoError, StrMap, from_bytes, to_bytes

FUNCS: dict[str, Func] = {**BUILTINS, **SPRIG}  # sprig's slice replaces the builtin, as in Go's FuncMap lookup
# Dialects: Bitnami's controller (sprig) and External Secrets' v2 engine (sprig + its own functions, and
# Option("missingkey=error")).
BITNAMI, ESO = "bitnami", "eso"

__all__ = ["BITNAMI", "ESO", "FUNCS", "render", "render_items"]


@lru_cache(maxsize=2)
def functions(dialect: str) -> dict[str, Func]:
    if dialect == ESO:
        from sealer.gotemplate import eso

        return {**FUNCS, **eso.FUNCS}
    return FUNCS


@lru_cache(maxsize=256)
def _parse(text: str, name: str, dialect: str) -> parser.Tree:
    return parser.parse(text, name, functions(dialect).__contains__)


def _syntax_message(e: TemplateSyntaxError, dialect: str) -> str:
    if dialect == ESO:
        from sealer.gotemplate import eso

        name = next((n for n in eso.UNSUPPORTED if str(e) == f"function {n!r} not defined"), None)
        if name:
            return f"function {name!r} of External Secrets' templates is not supported by sealer"
    return str(e)


def _where(text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"{line}:{col}"


def render(text: str, data: Any, *, name: str = "item", field: str | None = None, max_steps: int = MAX_STEPS,
           max_output: int = MAX_OUTPUT, dialect: str = BITNAMI) -> bytes:
    """Parse (cached per text) and execute one template."""
    try:
        tree = _parse(text, name, dialect)
    except TemplateSyntaxError as e:
        raise InputError(f"template syntax error at {_where(text, e.pos)}: {_syntax_message(e, dialect)}",
                         field=field) from None
    except RecursionError:
        raise InputError("template nested too deeply", field=field) from None
    try:
        return to_bytes(execute(tree, functions(dialect), data, max_steps=max_steps, max_output=max_output,
                                missing_key_error=dialect == ESO))
    except ExecError as e:
        raise InputError(f"template failed at {_where(text, e.pos)}: {e}", field=field) from None
    except RecursionError:
        raise InputError("template nested too deeply", field=field) from None
    except GoError as e:
        raise InputError(f"template failed: {e}", field=field) from None


def render_items(text: str, items: Mapping[str, bytes], *, name: str, field: str | None = None) -> bytes:
    """A SealedSecret template: `.item` and `index . "item"` are the decrypted items, as strings."""
    return render(text, StrMap((k, from_bytes(v)) for k, v in items.items()), name=name, field=field)
