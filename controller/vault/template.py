"""`spec.target.template` of a VaultSecret, as External Secrets Operator's v2 templates: `data` (item -> Go
template), `templateFrom` (templates kept in a ConfigMap or Secret of the VaultSecret's namespace, or a literal),
`metadata.labels/annotations` (templates too), `type` and `mergePolicy`. Pure: the ConfigMaps and Secrets are read
by `sync` and handed in.

ESO's order, kept here: the items read from Vault are the template data (`.key`, as strings; a missing key is an
error, ESO's `missingkey=error`); with `mergePolicy: Merge` (or no data/templateFrom at all) they are also
items of the Secret; then each templateFrom in order, then `data` (which wins), then labels and annotations.
Errors name the item and the template's line:col, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.vault.fields import ITEM_KEY, SpecError, object_name

REPLACE, MERGE = "Replace", "Merge"
VALUES, KEYS_AND_VALUES = "Values", "KeysAndValues"
TARGETS = {"data": "Data", "labels": "Labels", "annotations": "Annotations"}
MAX_TEMPLATES = 256  # items across data, templateFrom and metadata: a bound on a tenant's work per sync


@dataclass(frozen=True)
class Source:
    """One templateFrom entry: templates in a ConfigMap or Secret (kind, name, items (key, templateAs)), or
    a literal (KeysAndValues), applied to `target`."""

    kind: str  # ConfigMap | Secret | Literal
    name: str
    items: tuple[tuple[str, str], ...]
    literal: str | None
    target: str  # Data | Labels | Annotations


@dataclass(frozen=True)
class Template:
    data: tuple[tuple[str, str], ...] = ()
    template_from: tuple[Source, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    annotations: tuple[tuple[str, str], ...] = ()
    merge_policy: str = REPLACE

    @property
    def renders_data(self) -> bool:
        return bool(self.data or self.template_from)

    @property
    def active(self) -> bool:
        """Anything to render (a template with only a type and plain metadata needs no engine)."""
        return self.renders_data or any("{{" in v for _, v in self.labels + self.annotations)

    def reads(self) -> list[tuple[str, str]]:
        """The (kind, name) of each ConfigMap/Secret holding templates, once each."""
        return list(dict.fromkeys((s.kind, s.name) for s in self.template_from if s.kind != "Literal"))


@dataclass(frozen=True)
class Rendered:
    data: dict[str, bytes]
    labels: dict[str, str]
    annotations: dict[str, str]


def _string_map(raw: Any, where: str) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
        raise SpecError("must be a map of strings", field=where)
    return tuple(raw.items())


def _source(raw: Any, where: str) -> Source:
    if not isinstance(raw, Mapping):
        raise SpecError("must be an object", field=where)
    target = TARGETS.get(str(raw.get("target") or "Data").lower())
    if target is None:
        raise SpecError("must be Data, Labels or Annotations (a Secret has no other target)", field=f"{where}.target")
    kinds = [k for k in ("configMap", "secret", "literal") if raw.get(k) is not None]
    if len(kinds) != 1:
        raise SpecError("needs exactly one of configMap, secret, literal", field=where)
    kind = kinds[0]
    if kind == "literal":
        if not isinstance(raw["literal"], str):
            raise SpecError("must be a string", field=f"{where}.literal")
        return Source("Literal", "", (), raw["literal"], target)
    body = raw[kind]
    if not isinstance(body, Mapping):
        raise SpecError("must be an object", field=f"{where}.{kind}")
    name = body.get("name")
    if not isinstance(name, str):
        raise SpecError("is required", field=f"{where}.{kind}.name")
    object_name(name, f"{where}.{kind}.name", "ConfigMap" if kind == "configMap" else "Secret")
    if body.get("namespace") not in (None, ""):  # not ESO's field either: refused, not silently ignored
        raise SpecError("is not supported: templates are read from the VaultSecret's own namespace",
                        field=f"{where}.{kind}.namespace")
    items = []
    raw_items = body.get("items")
    if not isinstance(raw_items, list) or not raw_items:
        raise SpecError("must list the keys holding templates", field=f"{where}.{kind}.items")
    for j, item in enumerate(raw_items):
        key = item.get("key") if isinstance(item, Mapping) else None
        if not isinstance(key, str) or not ITEM_KEY.match(key):
            raise SpecError("must be a valid key", field=f"{where}.{kind}.items[{j}].key")
        scope = item.get("templateAs") or VALUES
        if scope not in (VALUES, KEYS_AND_VALUES):
            raise SpecError("must be Values or KeysAndValues", field=f"{where}.{kind}.items[{j}].templateAs")
        items.append((key, scope))
    return Source("ConfigMap" if kind == "configMap" else "Secret", name, tuple(items), None, target)


def parse_template(raw: Any, where: str = "spec.target.template") -> Template:
    """`spec.target.template` minus `type` (read with the target), or SpecError naming the field."""
    if raw is None:
        return Template()
    if not isinstance(raw, Mapping):
        raise SpecError("must be an object", field=where)
    engine = raw.get("engineVersion") or "v2"
    if engine != "v2":
        raise SpecError("must be v2 (External Secrets' v1 engine is deprecated and not supported)",
                        field=f"{where}.engineVersion")
    merge = raw.get("mergePolicy") or REPLACE
    if merge not in (REPLACE, MERGE):
        raise SpecError("must be Replace or Merge", field=f"{where}.mergePolicy")
    data = _string_map(raw.get("data"), f"{where}.data")
    for key, _ in data:
        if not ITEM_KEY.match(key) or key in (".", ".."):
            raise SpecError("must be a valid Secret item key ([-._a-zA-Z0-9]+)", field=f"{where}.data.{key[:64]}")
    meta = raw.get("metadata") or {}
    if not isinstance(meta, Mapping):
        raise SpecError("must be an object", field=f"{where}.metadata")
    sources = raw.get("templateFrom") or []
    if not isinstance(sources, list):
        raise SpecError("must be a list", field=f"{where}.templateFrom")
    template = Template(data, tuple(_source(s, f"{where}.templateFrom[{i}]") for i, s in enumerate(sources)),
                        _string_map(meta.get("labels"), f"{where}.metadata.labels"),
                        _string_map(meta.get("annotations"), f"{where}.metadata.annotations"), merge)
    count = len(template.data) + len(template.labels) + len(template.annotations) + sum(
        max(1, len(s.items)) for s in template.template_from)
    if count > MAX_TEMPLATES:
        raise SpecError(f"more than {MAX_TEMPLATES} templates", field=where)
    return template


class TemplateError(SpecError):
    """A template that does not render (syntax, a missing key, a missing ConfigMap key); names the item."""


def render(template: Template, items: Mapping[str, bytes], sources: Mapping[tuple[str, str], Mapping[str, bytes]],
           ) -> Rendered:
    """The Secret's items, labels and annotations. `sources`: the data of each ConfigMap/Secret in
    `template.reads()` (ConfigMap values as UTF-8 bytes)."""
    from sealer import gotemplate
    from sealer.errors import InputError
    from sealer.gotemplate.values import StrMap, from_bytes

    context = StrMap((k, from_bytes(v)) for k, v in sorted(items.items()))
    out: dict[str, bytes] = dict(items) if template.merge_policy == MERGE or not template.renders_data else {}
    meta: dict[str, dict[str, str]] = {"Labels": {}, "Annotations": {}}

    def run(text: str, name: str, where: str) -> bytes:
        try:
            return gotemplate.render(text, context, name=name, field=where, dialect=gotemplate.ESO)
        except InputError as e:
            raise TemplateError(e.message, field=e.field) from None

    def put(target: str, key: str, value: bytes, where: str) -> None:
        if target == "Data":
            if not ITEM_KEY.match(key) or key in (".", ".."):
                # the key itself is not shown: a KeysAndValues template may render a value into it
                raise TemplateError("rendered an item key that is not a valid Secret item key ([-._a-zA-Z0-9]+)",
                                    field=where)
            out[key] = value
        else:
            try:
                meta[target][key] = value.decode()
            except UnicodeDecodeError:
                raise TemplateError(f"a {target.lower()[:-1]} did not render to UTF-8 text", field=where) from None

    def keys_and_values(text: str, target: str, where: str) -> None:
        for key, value in _yaml_string_map(run(text, "template", where), where).items():
            put(target, key, value.encode(), where)

    for i, source in enumerate(template.template_from):
        where = f"spec.target.template.templateFrom[{i}]"
        if source.kind == "Literal":
            keys_and_values(source.literal or "", source.target, f"{where}.literal")
            continue
        held = sources[(source.kind, source.name)]
        for key, scope in source.items:
            item_where = f"{where}.{'configMap' if source.kind == 'ConfigMap' else 'secret'}[{key}]"
            if key not in held:
                raise TemplateError(f"{source.kind} {source.name} has no key {key!r}", field=item_where)
            text = from_bytes(held[key])
            if scope == VALUES:
                put(source.target, key, run(text, key, item_where), item_where)
            else:
                keys_and_values(text, source.target, item_where)
    for key, text in template.data:
        put("Data", key, run(text, key, f"spec.target.template.data.{key}"), f"spec.target.template.data.{key}")
    for target, pairs in (("Labels", template.labels), ("Annotations", template.annotations)):
        for key, text in pairs:
            where = f"spec.target.template.metadata.{target.lower()}.{key}"
            put(target, key, run(text, key, where) if "{{" in text else text.encode(), where)
    return Rendered(out, meta["Labels"], meta["Annotations"])


def _yaml_string_map(text: bytes, where: str) -> dict[str, str]:
    """A KeysAndValues template's output: a YAML map of strings (ESO unmarshals it into map[string]string)."""
    import yaml

    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        raise TemplateError("did not render to YAML (KeysAndValues needs a map of strings)", field=where) from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()):
        raise TemplateError("did not render to a YAML map of strings (quote numbers and booleans)", field=where)
    return loaded
