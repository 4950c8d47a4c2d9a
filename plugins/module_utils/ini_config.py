# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Round-trip editor for oslo.config INI files (pure, stdlib only).

configparser would drop comments and reorder things, so this works on lines: only the lines of the
options being set change; comments, blank lines, order, duplicate sections and anything unknown
stay byte for byte. oslo.config's parser rules apply: ``key = value`` or ``key: value``, ``#``/``;``
comment lines, indented lines continue the previous value, repeated sections merge and the last
occurrence of a key wins (so that is the one we edit).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional

_SECTION_RE = re.compile(r"^\[(?P<name>[^\]]+)\]\s*$")
_OPTION_RE = re.compile(r"^(?P<key>[^\s=:#;\[][^=:]*?)\s*(?P<sep>[=:])\s*(?P<value>.*?)\s*$")
_COMMENTED_RE = re.compile(r"^[#;]\s*(?P<key>[A-Za-z_][\w.-]*)\s*[=:]")


@dataclass(frozen=True)
class Change:
    section: str
    key: str
    before: Optional[str]
    after: str


@dataclass
class _Line:
    text: str  # without line ending
    kind: str  # section | option | continuation | comment | blank
    section: Optional[str]
    key: Optional[str] = None


class IniDocument:
    """An INI file as lines, with just enough structure to edit single options."""

    def __init__(self, text: str) -> None:
        self.newline = "\r\n" if "\r\n" in text else "\n"
        self.trailing_newline = text.endswith(("\n", "\r"))
        raw = text.splitlines() if text else []
        self.lines: list[_Line] = []
        section: Optional[str] = None
        last_kind = "blank"
        for line in raw:
            stripped = line.strip()
            match = _SECTION_RE.match(stripped) if not line[:1].isspace() else None
            if match:
                section = match.group("name").strip()
                self.lines.append(_Line(line, "section", section))
            elif not stripped:
                self.lines.append(_Line(line, "blank", section))
            elif line[:1].isspace() and last_kind in ("option", "continuation"):
                self.lines.append(_Line(line, "continuation", section))
            elif stripped[0] in "#;":
                self.lines.append(_Line(line, "comment", section))
            else:
                opt = _OPTION_RE.match(stripped)
                if opt and section is not None:
                    self.lines.append(_Line(line, "option", section, opt.group("key")))
                else:  # junk or an option before any section: keep it untouched
                    self.lines.append(_Line(line, "comment", section))
            last_kind = self.lines[-1].kind

    # -- reading ---------------------------------------------------------------------------------
    def _last_index(self, section: str, keys: Iterable[str]) -> Optional[int]:
        wanted = set(keys)
        found = None
        for i, line in enumerate(self.lines):
            if line.kind == "option" and line.section == section and line.key in wanted:
                found = i
        return found

    def find(self, section: str, keys: Iterable[str]) -> Optional[tuple[str, str]]:
        """(key actually used, value) of the effective (last) occurrence among `keys`."""
        idx = self._last_index(section, keys)
        if idx is None:
            return None
        return self.lines[idx].key or "", self._value_at(idx)

    def get(self, section: str, key: str) -> Optional[str]:
        found = self.find(section, [key])
        return None if found is None else found[1]

    def _value_at(self, idx: int) -> str:
        match = _OPTION_RE.match(self.lines[idx].text.strip())
        parts = [match.group("value") if match else ""]
        j = idx + 1
        while j < len(self.lines) and self.lines[j].kind == "continuation":
            parts.append(self.lines[j].text.strip())
            j += 1
        return "\n".join(p for p in parts if p != "" or len(parts) == 1)

    def sections(self) -> list[str]:
        seen: list[str] = []
        for line in self.lines:
            if line.kind == "section" and line.section not in seen:
                seen.append(line.section or "")
        return seen

    # -- writing ---------------------------------------------------------------------------------
    def set(self, section: str, key: str, value: str, aliases: Iterable[str] = ()) -> None:
        """Set `key` (or the alias already present) in `section`, preserving everything else."""
        if "\n" in value or "\r" in value:
            raise ValueError(f"[{section}] {key}: a value cannot contain a line break")
        idx = self._last_index(section, [key, *aliases])
        if idx is not None:
            old = self.lines[idx]
            # Keep the operator's spacing and separator: only the value part is replaced.
            match = re.match(r"^(\s*[^=:]*?\s*[=:][ \t]*)", old.text)
            prefix = match.group(1) if match else f"{old.key} = "
            self.lines[idx] = _Line(prefix + value, "option", section, old.key)
            j = idx + 1
            while j < len(self.lines) and self.lines[j].kind == "continuation":
                del self.lines[j]
            return
        new = _Line(f"{key} = {value}", "option", section, key)
        where = self._insert_at(section, key)
        if where is None:
            if self.lines and self.lines[-1].kind != "blank":
                self.lines.append(_Line("", "blank", self.lines[-1].section))
            self.lines.append(_Line(f"[{section}]", "section", section))
            self.lines.append(new)
        else:
            self.lines.insert(where, new)

    def _insert_at(self, section: str, key: str) -> Optional[int]:
        """Index for a new option: after its commented sample line, else after the section's
        last option, else after the section's last non-blank line (last occurrence of section)."""
        headers = [i for i, line in enumerate(self.lines) if line.kind == "section" and line.section == section]
        if not headers:
            return None
        start = headers[-1]
        end = start + 1
        while end < len(self.lines) and self.lines[end].kind != "section":
            end += 1
        body = range(start + 1, end)
        for i in body:
            match = _COMMENTED_RE.match(self.lines[i].text.strip()) if self.lines[i].kind == "comment" else None
            if match and match.group("key") == key:
                return i + 1
        last_option = last_text = start
        for i in body:
            if self.lines[i].kind in ("option", "continuation"):
                last_option = i
            if self.lines[i].kind != "blank":
                last_text = i
        return (last_option if last_option != start else last_text) + 1

    def render(self) -> str:
        if not self.lines:
            return ""
        # An edited file always ends with a newline (POSIX text file); unchanged files are never
        # re-rendered, so this does not alter files we leave alone.
        return self.newline.join(line.text for line in self.lines) + self.newline


def apply_options(text: str, options: dict[str, dict[str, str]],
                  aliases: Optional[dict[tuple[str, str], list[str]]] = None,
                  equal=None) -> tuple[str, list[Change]]:
    """Set every (section, key) = value string; return the new text and what really changed.

    `aliases` maps (section, key) → other names the same option may already carry in the file
    (deprecated names); `equal(section, key, old, new)` decides whether two spellings are the
    same value (e.g. 'True' vs 'true' for a boolean); default is string equality.
    """
    doc = IniDocument(text)
    changes: list[Change] = []
    for section, opts in options.items():
        for key, value in opts.items():
            names = (aliases or {}).get((section, key), [])
            found = doc.find(section, [key, *names])
            before = None if found is None else found[1]
            same = before is not None and (equal(section, key, before, value) if equal else before == value)
            if same:
                continue
            doc.set(section, key, value, names)
            changes.append(Change(section, found[0] if found else key, before, value))
    if not changes:
        return text, []
    return doc.render(), changes
