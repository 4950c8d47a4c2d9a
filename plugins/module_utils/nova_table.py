# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The server -> node -> allocation table as aligned text lines (pure; rows from nova_crosscheck.fleet)."""
from __future__ import annotations

from typing import Iterable, Mapping

COLUMNS = (("server", "name"), ("status", "status"), ("node", "node_name"), ("node uuid", "node_uuid"),
           ("node state", "node_state"), ("node instance = server", "match"), ("allocation on", "allocation"),
           ("ok", "ok"))


def _cells(row: Mapping) -> list[str]:
    providers = row.get("allocation_providers") or []
    values = {**row,
              "match": "yes" if row.get("node_instance_uuid") and row.get("node_instance_uuid") == row.get("server_id")
              else "NO",
              "allocation": ("node" if providers == [row.get("node_uuid")] else ",".join(providers) or "none"),
              "ok": "ok" if row.get("ok") else "VIOLATION"}
    return [str(values.get(key) if values.get(key) is not None else "-") for unused_title, key in COLUMNS]


def render(rows: Iterable[Mapping]) -> list[str]:
    body = [_cells(r) for r in rows]
    head = [title for title, unused_key in COLUMNS]
    widths = [max(len(c) for c in col) for col in zip(head, *body)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    return [line(head), line(["-" * w for w in widths])] + [line(c) for c in body]
