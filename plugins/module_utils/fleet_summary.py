# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Summaries of node listings (pure): filters, counts by state, a plain-text table."""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from ansible_collections.ironwave.baremetal.plugins.module_utils import ironic_states

STATE_ORDER = ironic_states.DISPLAY_ORDER
# One bulk listing with only these fields (API names).
FIELDS = ("uuid", "name", "provision_state", "power_state", "instance_uuid", "maintenance", "last_error",
          "resource_class", "conductor_group")


def node_row(node: dict[str, Any]) -> dict[str, Any]:
    """A listed node as fleet_info returns it."""
    return {key: node.get(key) for key in FIELDS}


def filter_nodes(nodes: Iterable[dict[str, Any]], name_prefix: str | None = None,
                 names: list[str] | None = None, resource_class: str | None = None,
                 conductor_group: str | None = None) -> list[dict[str, Any]]:
    wanted = set(names or [])
    out = []
    for node in nodes:
        if name_prefix and not str(node.get("name") or "").startswith(name_prefix):
            continue
        if wanted and node.get("name") not in wanted and node.get("uuid") not in wanted:
            continue
        if resource_class is not None and node.get("resource_class") != resource_class:
            continue
        if conductor_group is not None and (node.get("conductor_group") or "") != conductor_group:
            continue
        out.append(node)
    return sorted(out, key=lambda n: str(n.get("name") or n.get("uuid")))


def state_counts(nodes: Iterable[dict[str, Any]]) -> dict[str, int]:
    counts = Counter(str(n.get("provision_state")) for n in nodes)
    ordered = {s: counts[s] for s in STATE_ORDER if counts.get(s)}
    ordered.update({s: c for s, c in sorted(counts.items()) if s not in ordered})
    return ordered


def state_table(counts: dict[str, int]) -> str:
    """A two-column plain-text table (no colours, safe for AWX logs)."""
    width = max([len("provision_state")] + [len(s) for s in counts])
    lines = [f"{'provision_state'.ljust(width)}  nodes", f"{'-' * width}  -----"]
    lines += [f"{state.ljust(width)}  {count:5d}" for state, count in counts.items()]
    lines.append(f"{'total'.ljust(width)}  {sum(counts.values()):5d}")
    return "\n".join(lines)
