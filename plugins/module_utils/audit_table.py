# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Audit findings as aligned text lines, grouped by kind (pure; rows from audit_rules.as_rows)."""
from __future__ import annotations

from typing import Iterable, Mapping

COLUMNS = (("kind", "kind"), ("node", "node"), ("server", "server"), ("age", "age"), ("action", "action"),
           ("detail", "detail"))
MAX_DETAIL = 100


def _age(seconds) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"


def _cells(row: Mapping) -> list[str]:
    detail = str(row.get("detail") or "")
    values = {**row, "age": _age(row.get("age_s")),
              "detail": detail if len(detail) <= MAX_DETAIL else detail[:MAX_DETAIL - 3] + "..."}
    return [str(values.get(key) if values.get(key) not in (None, "") else "-") for unused_title, key in COLUMNS]


def render(rows: Iterable[Mapping]) -> list[str]:
    """One line per finding (sorted by kind already), a header, and 'no findings' when clean."""
    body = [_cells(r) for r in rows]
    if not body:
        return ["no findings"]
    head = [title for title, unused_key in COLUMNS]
    widths = [max(len(c) for c in col) for col in zip(head, *body)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    return [line(head), line(["-" * w for w in widths])] + [line(c) for c in body]


def summary(counts: Mapping[str, int]) -> str:
    """'3 findings: node_failed 2, orphan_node 1' (counts from audit_rules.by_kind)."""
    total = sum(counts.values())
    if not total:
        return "0 findings"
    return f"{total} finding{'s' if total != 1 else ''}: " + ", ".join(f"{k} {n}" for k, n in counts.items())
