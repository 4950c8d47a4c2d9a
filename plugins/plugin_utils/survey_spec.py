# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""An AWX job template survey from a role's argument spec (meta/argument_specs.yml), so the
questions an operator answers are exactly the variables the role validates - same names, types,
choices, defaults and descriptions, and they cannot drift apart.

Pure: a dict in, a dict out. What a survey cannot carry is left out and listed under `skipped`
with the reason (structured values - lists without choices, dicts, raw - belong in the job
template's extra vars); so are deprecated options."""
from __future__ import annotations

from typing import Any, Iterable, Mapping

# argument spec type -> AWX survey question type (scalars only)
_SCALAR = {"int": "integer", "float": "float", "str": "text", "path": "text"}


class SurveyError(ValueError):
    """The argument spec cannot be read (names the field and the fix)."""


def _text(description: Any) -> str:
    if isinstance(description, str):
        return description.strip()
    if isinstance(description, (list, tuple)):
        return " ".join(str(line).strip() for line in description)
    return ""


def _question(name: str, option: Mapping[str, Any]) -> tuple[dict | None, str]:
    """(question, "") or (None, why it is skipped)."""
    kind = option.get("type", "str")
    choices = option.get("choices")
    question: dict[str, Any] = {
        "variable": name, "question_name": name, "question_description": _text(option.get("description")),
        "required": bool(option.get("required", False)),
    }
    if option.get("no_log"):
        if kind not in ("str", "path", "raw"):
            return None, f"secret of type {kind}: pass it through a credential"
        question["type"] = "password"
    elif kind == "bool":
        question["type"], question["choices"] = "multiplechoice", ["true", "false"]
    elif kind == "list" and choices:
        question["type"], question["choices"] = "multiselect", [str(c) for c in choices]
    elif kind in _SCALAR and choices:
        question["type"], question["choices"] = "multiplechoice", [str(c) for c in choices]
    elif kind in _SCALAR:
        question["type"] = _SCALAR[kind]
    else:
        return None, f"type {kind}{' of ' + option['elements'] if option.get('elements') else ''} " \
                     "is not a survey answer: set it in the job template's extra vars"
    if "default" in option and option["default"] is not None and not question["required"]:
        default = option["default"]
        if question["type"] == "multiselect":
            question["default"] = "\n".join(str(d) for d in default)   # AWX keeps multiselect defaults one per line
        elif question["type"] == "multiplechoice" and kind == "bool":
            question["default"] = "true" if default else "false"
        elif question["type"] != "password":
            question["default"] = default if question["type"] in ("integer", "float") else str(default)
    return question, ""


def survey_from_argument_spec(spec: Mapping[str, Any], role: str, entry_point: str = "main",
                              only: Iterable[str] | None = None, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """{"survey_spec": AWX's {name, description, spec: [questions]}, "skipped": {option: reason}}
    for `role`'s entry point. `only`: these options, in this order (each must exist); `exclude`:
    never these."""
    entries = spec.get("argument_specs") if isinstance(spec, Mapping) else None
    if not isinstance(entries, Mapping):
        raise SurveyError(f"{role}: argument spec has no 'argument_specs' mapping; pass the content of "
                          "roles/<role>/meta/argument_specs.yml")
    entry = entries.get(entry_point)
    if not isinstance(entry, Mapping):
        raise SurveyError(f"{role}: no entry point {entry_point!r} in argument_specs (has: {sorted(entries)})")
    options = entry.get("options") or {}
    names = list(options) if only is None else list(only)
    unknown = [n for n in names if n not in options]
    if unknown:
        raise SurveyError(f"only: {unknown} are not options of {role}.{entry_point}; choose from {sorted(options)}")
    excluded = set(exclude)
    questions: list[dict] = []
    skipped: dict[str, str] = {}
    for name in names:
        option = options[name] or {}
        if name in excluded:
            continue
        if _text(option.get("description")).lower().startswith("deprecated"):
            skipped[name] = "deprecated"
            continue
        question, why = _question(name, option)
        if question is None:
            skipped[name] = why
        else:
            questions.append(question)
    survey = {"name": f"{role} ({entry_point})", "description": _text(entry.get("short_description")),
              "spec": questions}
    return {"survey_spec": survey, "skipped": skipped}
