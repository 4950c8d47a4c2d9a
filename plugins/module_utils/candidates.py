# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Pick candidate nodes for a reservation (pure).

Same prefilter as metalsmith and as Ironic's own allocation check (conductor/allocations.py
_verify_node): not associated, `available`, not in maintenance, matching resource class and
traits; then the caller's narrowing (explicit nodes, conductor group, JMESPath expression).
The order is stable per instance name, so parallel reservations for different instances start
from different nodes (fewer collisions) and a re-run for the same name tries the same order.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

try:  # jmespath is a declared Python requirement of the collection; keep the import failure clear.
    import jmespath
    import jmespath.exceptions
    HAS_JMESPATH = True
except ImportError:  # pragma: no cover - exercised only without jmespath installed
    jmespath = None
    HAS_JMESPATH = False

# Fields candidate selection reads; used by the modules to keep the bulk listing small.
NODE_FIELDS = ("uuid", "name", "instance_uuid", "provision_state",
               "target_provision_state", "maintenance", "reservation", "resource_class",
               "traits", "conductor_group", "properties", "last_error", "power_state")


class FilterError(ValueError):
    """The request itself is wrong (bad expression, bad field); nothing was changed."""


@dataclass(frozen=True)
class CandidateRequest:
    resource_class: str | None = None
    traits: tuple[str, ...] = ()
    conductor_group: str | None = None
    candidate_nodes: tuple[str, ...] = ()      # names or UUIDs
    expression: str | None = None               # JMESPath, evaluated per node, must be truthy

    @classmethod
    def from_params(cls, p: Mapping[str, Any]) -> "CandidateRequest":
        """From module parameters (node_reserve's, node_deploy's `reserve`); `node`, when given,
        is the only candidate."""
        return cls(resource_class=p.get("resource_class"), traits=tuple(p.get("traits") or ()),
                   conductor_group=p.get("conductor_group"),
                   candidate_nodes=tuple([p["node"]] if p.get("node") else (p.get("candidate_nodes") or ())),
                   expression=p.get("expression"))

    def describe(self) -> str:
        parts = []
        if self.resource_class:
            parts.append(f"resource_class={self.resource_class}")
        if self.traits:
            parts.append(f"traits={','.join(self.traits)}")
        if self.conductor_group is not None:
            parts.append(f"conductor_group={self.conductor_group!r}")
        if self.candidate_nodes:
            parts.append(f"candidate_nodes={','.join(self.candidate_nodes)}")
        if self.expression:
            parts.append(f"expression={self.expression}")
        return " ".join(parts) or "(no filter)"


@dataclass
class Selection:
    candidates: list[dict] = field(default_factory=list)   # ordered best-first
    rejected: dict = field(default_factory=dict)            # node label -> why


def compile_expression(expression: str | None):
    """Compile a JMESPath expression up front; a bad one is a FilterError naming the fix."""
    if not expression:
        return None
    if not HAS_JMESPATH:
        raise FilterError("node filter 'expression' needs the Python library jmespath on the "
                          "controller (pip install jmespath)")
    try:
        return jmespath.compile(expression)
    except jmespath.exceptions.JMESPathError as exc:
        raise FilterError(f"invalid JMESPath in 'expression' {expression!r}: {' '.join(str(exc).split())}. "
                          "Example: properties.memory_mb >= `262144`") from None


def _label(node: Mapping[str, Any]) -> str:
    return node.get("name") or node.get("uuid") or "?"


def _traits(node: Mapping[str, Any]) -> set[str]:
    traits = node.get("traits") or []
    # The API returns a list of strings; openstacksdk may hand back dicts with a "trait" key.
    return {t["trait"] if isinstance(t, dict) else t for t in traits}


def why_not(node: Mapping[str, Any], req: CandidateRequest, compiled=None) -> str | None:
    """Why `node` cannot be a candidate for `req`, or None if it can."""
    if node.get("instance_uuid") or node.get("allocation_uuid"):
        return f"associated with instance {node.get('instance_uuid') or node.get('allocation_uuid')}"
    if node.get("maintenance"):
        return "in maintenance"
    if node.get("provision_state") != "available":
        return f"provision_state {node.get('provision_state')!r}"
    if node.get("target_provision_state"):
        return f"busy (target {node.get('target_provision_state')!r})"
    if "power_state" in node and not node.get("power_state"):
        # Ironic's allocation query filters with_power_state=True: such a node is never picked.
        return "no power state yet (Ironic's allocation skips it; set power off once after provide)"
    if req.candidate_nodes and node.get("uuid") not in req.candidate_nodes \
            and node.get("name") not in req.candidate_nodes:
        return "not in candidate_nodes"
    if req.resource_class and node.get("resource_class") != req.resource_class:
        return f"resource_class {node.get('resource_class')!r}"
    missing = set(req.traits) - _traits(node)
    if missing:
        return f"missing traits {','.join(sorted(missing))}"
    if req.conductor_group is not None and (node.get("conductor_group") or "") != req.conductor_group:
        return f"conductor_group {node.get('conductor_group')!r}"
    if compiled is not None:
        try:
            ok = compiled.search(dict(node))
        except Exception as exc:  # noqa: BLE001 - e.g. comparing null with a number
            return f"expression failed: {exc}"
        if not ok:
            return "expression is false"
    return None


def _rank(instance_name: str, node: Mapping[str, Any]) -> str:
    # Rendezvous hashing: stable per (instance, node), spreads instances over nodes.
    return hashlib.sha256(f"{instance_name}/{node.get('uuid')}".encode()).hexdigest()


def select(nodes: Iterable[Mapping[str, Any]], req: CandidateRequest, instance_name: str = "",
           exclude: Iterable[str] = ()) -> Selection:
    """Filter and order candidates. `exclude` holds node UUIDs already tried and lost."""
    compiled = compile_expression(req.expression)
    excluded = set(exclude)
    sel = Selection()
    for node in nodes:
        if node.get("uuid") in excluded:
            sel.rejected[_label(node)] = "taken by another reservation while we tried it"
            continue
        reason = why_not(node, req, compiled)
        if reason:
            sel.rejected[_label(node)] = reason
        else:
            sel.candidates.append(dict(node))
    if req.candidate_nodes:  # explicit preference order wins
        order = {ident: i for i, ident in enumerate(req.candidate_nodes)}
        sel.candidates.sort(key=lambda n: min(order.get(n.get("uuid"), 1 << 30), order.get(n.get("name"), 1 << 30)))
    else:
        sel.candidates.sort(key=lambda n: _rank(instance_name, n))
    return sel


def exhausted_message(req: CandidateRequest, sel: Selection, tried: Iterable[str] = ()) -> str:
    """A clear 'pool exhausted' error naming the filter and what was tried."""
    tried = list(tried)
    reasons: dict[str, int] = {}
    for why in sel.rejected.values():
        # Group by rule, so a big mixed fleet gives a short line ("240 resource_class", not one per class).
        key = next((k for k in ("associated", "resource_class", "conductor_group", "missing traits",
                                "expression failed") if why.startswith(k)), why)
        reasons[key] = reasons.get(key, 0) + 1
    summary = ", ".join(f"{n} {r}" for r, n in sorted(reasons.items(), key=lambda kv: -kv[1])) or "no nodes listed"
    tried_txt = f"; tried {', '.join(tried)}" if tried else ""
    return (f"no free node matches {req.describe()}: {summary}{tried_txt}. Free or enroll more nodes, "
            "or widen the filter")


def first_unclaimed(candidates: Iterable[Mapping[str, Any]], claims: Mapping[str, str],
                    instance_name: str) -> str | None:
    """The first candidate (in the caller's order) that no other instance has claimed on this
    controller; a node already claimed by `instance_name` itself comes first (a retry keeps its
    node). None when every candidate is claimed by others."""
    ordered = list(candidates)
    for node in ordered:
        if claims.get(node.get("uuid")) == instance_name:
            return node["uuid"]
    for node in ordered:
        if node.get("uuid") not in claims:
            return node["uuid"]
    return None


def outside_request(node: Mapping[str, Any], req: CandidateRequest, instance_uuid: str, fix: str) -> str | None:
    """Why an instance already on `node` is not handed back: the caller asked for other nodes
    (candidate_nodes) - None when it did not, or `node` is one of them. `fix` names the option to drop."""
    wanted = req.candidate_nodes
    if not wanted or node.get("uuid") in wanted or (node.get("name") and node.get("name") in wanted):
        return None
    label = f"{node.get('name')} ({node.get('uuid')})" if node.get("name") else node.get("uuid")
    return (f"instance {instance_uuid} is already on node {label}, not on the requested node(s) {', '.join(wanted)}; "
            f"release it there first (ironwave.baremetal.node_release) or drop {fix}")
