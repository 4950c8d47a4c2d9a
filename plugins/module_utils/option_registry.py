# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Validate option settings against a service's oslo.config registry (pure, stdlib only).

The real registry lives in the service's own Python environment (ironic's or nova's venv), not in
Ansible's. So a module runs DUMP_SCRIPT with that environment's python; the script prints every
registered option (name, section, type, min, max, choices, mutable, deprecated names) as JSON via
the ``oslo.config.opts`` entry points — the same source oslo-config-generator/-validator use.
Validation then happens here, in pure Python, against that JSON, or against the collection's own
release table (release_options) when no registry is available.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Optional

from ansible_collections.ironwave.baremetal.plugins.module_utils import release_options as ro

# Runs under the SERVICE's python (any 3.x with oslo.config installed): keep it self-contained.
# argv[1:] = namespaces to load (none = all installed ones).
DUMP_SCRIPT = r'''
import json, sys
try:
    from importlib.metadata import entry_points
except ImportError:  # python < 3.8
    entry_points = None
wanted = set(sys.argv[1:])
if entry_points is not None:
    eps = entry_points()
    eps = eps.select(group="oslo.config.opts") if hasattr(eps, "select") else eps.get("oslo.config.opts", [])
else:
    import pkg_resources
    eps = list(pkg_resources.iter_entry_points("oslo.config.opts"))
out = {"namespaces": [], "errors": {}, "options": []}
for ep in eps:
    if wanted and ep.name not in wanted:
        continue
    try:
        groups = ep.load()()
    except Exception as exc:
        out["errors"][ep.name] = "%s: %s" % (type(exc).__name__, exc)
        continue
    out["namespaces"].append(ep.name)
    for group, opts in groups:
        gname = getattr(group, "name", group) or "DEFAULT"
        for opt in opts:
            t = getattr(opt, "type", None)
            choices = getattr(t, "choices", None)
            deprecated = []
            for d in getattr(opt, "deprecated_opts", []) or []:
                deprecated.append([d.group or gname, d.name or opt.name])
            default = getattr(opt, "default", None)
            try:
                json.dumps(default)
            except (TypeError, ValueError):
                default = str(default)
            out["options"].append({
                "namespace": ep.name, "section": gname, "name": opt.name,
                "type": type(t).__name__ if t is not None else type(opt).__name__,
                "min": getattr(t, "min", None), "max": getattr(t, "max", None),
                "choices": [c for c in choices] if choices else None,
                "mutable": bool(getattr(opt, "mutable", False)),
                "deprecated": deprecated, "default": default,
            })
missing = sorted(wanted - set(out["namespaces"]) - set(out["errors"]))
for name in missing:
    out["errors"][name] = "namespace not installed"
print(json.dumps(out))
'''

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_INT_TYPES = {"integer", "port"}


@dataclass(frozen=True)
class OptionInfo:
    section: str
    name: str
    type: str  # lower-case oslo type name: integer, boolean, string, float, list, port, ...
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    choices: Optional[tuple[str, ...]] = None
    mutable: bool = False
    deprecated: tuple[tuple[str, str], ...] = ()
    default: Optional[str] = None  # as oslo.config text; None when unknown

    def is_default(self, text: str) -> bool:
        return self.default is not None and same_value(self, self.default, text)


@dataclass
class Registry:
    source: str  # "registry" (the service's own) or "table" (the collection's)
    options: dict[tuple[str, str], OptionInfo] = field(default_factory=dict)
    aliases: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    note: str = ""

    def add(self, info: OptionInfo) -> None:
        self.options[(info.section, info.name)] = info
        for old in info.deprecated:
            self.aliases.setdefault(tuple(old), (info.section, info.name))  # type: ignore[arg-type]

    def resolve(self, section: str, name: str) -> tuple[Optional[OptionInfo], bool]:
        """(option, given-name-is-deprecated) for a (section, name), or (None, False)."""
        if (section, name) in self.options:
            return self.options[(section, name)], False
        target = self.aliases.get((section, name))
        if target:
            return self.options[target], True
        return None, False

    def names_for(self, info: OptionInfo) -> list[str]:
        """Other names the option may carry inside its own section."""
        return [name for sec, name in info.deprecated if sec == info.section and name != info.name]


def registry_from_dump(data: dict[str, Any] | str) -> Registry:
    if isinstance(data, str):
        data = json.loads(data)
    reg = Registry(source="registry",
                   note=f"service registry, {len(data.get('namespaces', []))} oslo.config namespaces")
    for opt in data.get("options", []):
        choices = opt.get("choices")
        reg.add(OptionInfo(
            section=opt["section"], name=opt["name"], type=str(opt.get("type", "")).lower(),
            minimum=opt.get("min"), maximum=opt.get("max"),
            choices=tuple(str(c) for c in choices) if choices else None,
            mutable=bool(opt.get("mutable")),
            deprecated=tuple((d[0], d[1]) for d in opt.get("deprecated") or []),
            default=None if opt.get("default") is None else format_value(opt.get("default")),
        ))
    return reg


def registry_from_table(service: str, release: str) -> Registry:
    """The collection's own table for `service` in `release` (ReleaseError if unknown)."""
    rel = ro.normalize_release(release)
    reg = Registry(source="table", note=f"collection release table, {service} {rel}")
    for spec in ro.options_for(service, rel):
        reg.add(OptionInfo(section=spec.section, name=spec.name, type=spec.type,
                           minimum=spec.minimum, maximum=spec.maximum, mutable=spec.mutable,
                           deprecated=spec.deprecated_names,
                           default=format_value(spec.default_in(rel))))
    return reg


def format_value(value: Any) -> str:
    """A YAML/JSON value as oslo.config text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(v) for v in value)
    if value is None:
        return ""
    return str(value).strip()


def _typed(info: Optional[OptionInfo], text: str) -> Any:
    if info is None:
        return text.strip()
    if info.type in _INT_TYPES:
        return int(text.strip())
    if info.type == "float":
        return float(text.strip())
    if info.type == "boolean":
        low = text.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(text)
    if info.type == "list":
        return [p.strip() for p in text.split(",") if p.strip()]
    return text.strip()


def same_value(info: Optional[OptionInfo], old: str, new: str) -> bool:
    """True when two spellings mean the same value ('True' == 'true', '02' == '2')."""
    try:
        return _typed(info, old) == _typed(info, new)
    except ValueError:
        return old.strip() == new.strip()


@dataclass
class Checked:
    section: str  # where it is written
    name: str  # canonical name
    given: str  # name as given by the caller
    value: str
    info: Optional[OptionInfo]
    aliases: list[str]

    @property
    def mutable(self) -> Optional[bool]:
        return None if self.info is None else self.info.mutable


def check_value(info: OptionInfo, text: str) -> Optional[str]:
    """Why `text` is not a valid value for `info`, or None."""
    where = f"[{info.section}] {info.name}"
    try:
        value = _typed(info, text)
    except ValueError:
        return f"{where} = {text!r} is not a valid {info.type}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if info.minimum is not None and value < info.minimum:
            return f"{where} = {value} is below its minimum {info.minimum:g}; use a value >= {info.minimum:g}"
        if info.maximum is not None and value > info.maximum:
            return f"{where} = {value} is above its maximum {info.maximum:g}; use a value <= {info.maximum:g}"
    if info.choices and str(text).strip() not in info.choices and info.type not in ("boolean", "list"):
        return f"{where} = {text!r} is not one of {', '.join(info.choices)}"
    return None


def validate(options: dict[str, dict[str, Any]], registry: Optional[Registry],
             allow_unknown: bool = False) -> tuple[list[Checked], list[str], list[str]]:
    """Check every option; return (checked, errors, warnings). Errors mean: write nothing."""
    checked: list[Checked] = []
    errors: list[str] = []
    warnings: list[str] = []
    if not isinstance(options, dict):
        return [], ["options must be a mapping of section -> {option: value}"], []
    for section, opts in options.items():
        if not isinstance(opts, dict):
            errors.append(f"options[{section!r}] must be a mapping of option -> value")
            continue
        for name, raw in opts.items():
            text = format_value(raw)
            if isinstance(raw, dict):
                errors.append(f"[{section}] {name}: a mapping is not an oslo.config value")
                continue
            info, deprecated = registry.resolve(str(section), str(name)) if registry else (None, False)
            if info is None:
                if registry is not None and not allow_unknown:
                    known = sorted({s for s, _ignored in registry.options})
                    hint = ("" if str(section) in known
                            else f" (section [{section}] is unknown too; known sections include "
                                 f"{', '.join(known[:8])}{'...' if len(known) > 8 else ''})")
                    errors.append(
                        f"[{section}] {name} is not a known option of this service ({registry.note}){hint}; "
                        "fix the name, or set allow_unknown: true if it is registered dynamically")
                    continue
                if registry is not None:
                    warnings.append(f"[{section}] {name} is not in the registry; written unchecked (allow_unknown)")
                checked.append(Checked(str(section), str(name), str(name), text, None, []))
                continue
            if deprecated:
                warnings.append(f"[{section}] {name} is a deprecated name of [{info.section}] {info.name}; "
                                f"prefer the new name")
            problem = check_value(info, text)
            if problem:
                errors.append(problem)
                continue
            if (info.type in _INT_TYPES and info.section == "DEFAULT" and info.name == "max_concurrent_builds"
                    and _typed(info, text) == 0):
                warnings.append("[DEFAULT] max_concurrent_builds = 0 ('unlimited') is deprecated since "
                                "nova 2026.1 and means 10 in native-threading mode; give a number")
            # Where the option is written: its own section; if the file spells it by an old name
            # in that section, that line is updated instead of adding a duplicate.
            aliases = registry.names_for(info) if registry else []
            if deprecated and info.section == section:
                aliases = [n for n in [info.name, *aliases] if n != name]
                checked.append(Checked(info.section, str(name), str(name), text, info, aliases))
            else:
                checked.append(Checked(info.section, info.name, str(name), text, info, aliases))
    return checked, errors, warnings
