"""`.sealer-lint.yaml`: disable rules, exclude paths, tune the generic entropy, add custom regex rules.

```yaml
disable: [sealed-scope]            # rule ids
exclude:                           # gitignore-style patterns, relative to this file's directory
  - tests/fixtures/
entropy: 3.0                       # bits/char a generic `password = value` in raw text needs (default 3.0)
max_file_size: 10485760            # bytes; a larger file is not read: a scan-limit finding (default 10 MiB)
rules:                             # custom rules, reported under their own id
  - id: acme-api-key
    description: ACME API key
    regex: 'acme_(?:live|test)_([A-Za-z0-9]{32})'
    secret_group: 1                # the group holding the secret (default: 1 if the regex has groups, else 0)
    keywords: [acme_]              # run only on files containing one of these (case-insensitive)
    entropy: 3.5                   # minimum entropy of the secret (default 0: none)
    severity: error                # or warning
```

Found with `--config FILE`, else `.sealer-lint.yaml` in the working directory, else at the top of its Git work
tree. Every error names the file and the field and exits 2.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from sealer.errors import InputError
from sealer.lint.detectors import RAW_ENTROPY, CustomRule
from sealer.lint.findings import ERROR, RULES, WARNING
from sealer.lint.walk import IgnoreRules

CONFIG_NAME = ".sealer-lint.yaml"
_KEYS = {"version", "disable", "exclude", "entropy", "max_file_size", "rules"}
_RULE_KEYS = {"id", "description", "regex", "secret_group", "keywords", "entropy", "severity"}
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


@dataclass
class LintConfig:
    path: str | None = None
    base: str = "."  # directory exclude patterns are relative to
    disable: frozenset[str] = frozenset()
    exclude: IgnoreRules | None = None
    entropy: float = RAW_ENTROPY
    max_file_size: int = 10 * 1024 * 1024
    custom: tuple[CustomRule, ...] = field(default_factory=tuple)


def find(explicit: str | None) -> str | None:
    if explicit:
        return explicit
    if os.path.isfile(CONFIG_NAME):
        return CONFIG_NAME
    from sealer.lint.walk import git_toplevel

    top = git_toplevel(".")
    if top:
        candidate = os.path.join(top, CONFIG_NAME)
        if os.path.isfile(candidate):
            return candidate
    return None


def load(path: str | None) -> LintConfig:
    if path is None:
        return LintConfig()
    import yaml

    from sealer.errors import TOO_DEEP, flow_depth_exceeds, yaml_error_message
    from sealer.io.files import read_input
    from sealer.io.manifests import SafeLoader  # refuses alias bombs and duplicate keys, naming the key

    raw, _ = read_input(path)  # bounded by SEALER_MAX_INPUT like every other input
    if flow_depth_exceeds(raw.decode("utf-8", "replace")):
        raise InputError(TOO_DEEP, source=path)
    try:
        data = yaml.load(raw, Loader=SafeLoader)  # noqa: S506 - a SafeLoader subclass
    except InputError as e:
        raise e.within(source=path) from None
    except yaml.YAMLError as e:
        raise InputError(yaml_error_message(e), source=path) from None
    except RecursionError:
        raise InputError(TOO_DEEP, source=path) from None
    except (ValueError, LookupError, TypeError, AttributeError):  # a value that does not fit its tag (`2024-02-30`)
        raise InputError("not valid YAML: a value does not fit its type (quote it)", source=path) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError("must be a mapping", source=path)

    def fail(message: str, where: str) -> InputError:
        return InputError(message, source=path, field=where)

    unknown = sorted(str(k) for k in data if k not in _KEYS)
    if unknown:
        raise fail(f"unknown setting (one of {', '.join(sorted(_KEYS))})", unknown[0])
    custom = tuple(_rule(r, i, fail) for i, r in enumerate(_list(data.get("rules"), "rules", fail)))
    ids = [c.id for c in custom]
    if len(set(ids)) != len(ids):
        raise fail("duplicate custom rule id", "rules")
    disable = [_string(d, f"disable[{i}]", fail) for i, d in enumerate(_list(data.get("disable"), "disable", fail))]
    for i, rule_id in enumerate(disable):
        if rule_id not in RULES and rule_id not in ids:
            raise fail(f"unknown rule {rule_id!r} (one of {', '.join([*RULES, *ids])})", f"disable[{i}]")
    patterns = [_string(p, f"exclude[{i}]", fail) for i, p in enumerate(_list(data.get("exclude"), "exclude", fail))]
    entropy = _number(data.get("entropy", RAW_ENTROPY), "entropy", fail, 0, 8)
    max_size = data.get("max_file_size", 10 * 1024 * 1024)
    if not isinstance(max_size, int) or isinstance(max_size, bool) or max_size < 1:
        raise fail("must be a positive number of bytes", "max_file_size")
    base = os.path.dirname(os.path.abspath(path))
    return LintConfig(path, base, frozenset(disable), IgnoreRules().extended(patterns, "") if patterns else None,
                      entropy, max_size, custom)


def _list(value: object, where: str, fail) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise fail("must be a list", where)
    return value


def _string(value: object, where: str, fail) -> str:
    if not isinstance(value, str) or not value:
        raise fail("must be a non-empty string", where)
    return value


def _number(value: object, where: str, fail, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise fail(f"must be a number from {low:g} to {high:g}", where)
    return float(value)


def _rule(raw: object, index: int, fail) -> CustomRule:
    where = f"rules[{index}]"
    if not isinstance(raw, dict):
        raise fail("must be a mapping", where)
    unknown = sorted(str(k) for k in raw if k not in _RULE_KEYS)
    if unknown:
        raise fail(f"unknown setting (one of {', '.join(sorted(_RULE_KEYS))})", f"{where}.{unknown[0]}")
    rule_id = _string(raw.get("id"), f"{where}.id", fail)
    if not _ID.match(rule_id):
        raise fail("must be lowercase letters, digits, '-' or '_'", f"{where}.id")
    if rule_id in RULES:
        raise fail(f"{rule_id!r} is a built-in rule id", f"{where}.id")
    try:
        regex = re.compile(_string(raw.get("regex"), f"{where}.regex", fail))
    except re.error as e:
        raise fail(f"invalid regular expression: {e}", f"{where}.regex") from None
    group = raw.get("secret_group", 1 if regex.groups else 0)
    if isinstance(group, bool) or not isinstance(group, int) or not 0 <= group <= regex.groups:
        raise fail(f"must be a group number from 0 to {regex.groups}", f"{where}.secret_group")
    keywords = tuple(_string(k, f"{where}.keywords[{i}]", fail).lower()
                     for i, k in enumerate(_list(raw.get("keywords"), f"{where}.keywords", fail)))
    entropy = _number(raw.get("entropy", 0), f"{where}.entropy", fail, 0, 8)
    severity = raw.get("severity", ERROR)
    if severity not in (ERROR, WARNING):
        raise fail(f"must be {ERROR} or {WARNING}", f"{where}.severity")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise fail("must be a string", f"{where}.description")
    return CustomRule(rule_id, regex, keywords, entropy, group, severity, description)
