# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Node-instance association rules: the one function every lifecycle module decides from.

Pure Python. Callers build a NodeView from whatever they fetched (a GET, a bulk listing, the
shared poll cache) and an Expectation from the module's arguments; `classify_association`
answers what the node is *to us* and why.

Ironic's own model (ironic/conductor/allocations.py): an allocation that wins a node sets
node.allocation_uuid = allocation.uuid and node.instance_uuid = allocation.uuid in one DB
transaction. Nova (or an operator) may instead PATCH instance_uuid directly with no allocation.
So "ours" means: the allocation named after our instance points back at this node, or the
node's instance_uuid equals the instance UUID we expect.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils import ironic_states

# Verdicts.
OURS = "ours"
FREE = "free"
ASSOCIATED_ELSEWHERE = "associated_elsewhere"
ALLOCATION_MISMATCH = "allocation_mismatch"
ORPHANED = "orphaned"
BUSY = "busy"
UNUSABLE = "unusable"
VERDICTS = (OURS, FREE, ASSOCIATED_ELSEWHERE, ALLOCATION_MISMATCH, ORPHANED, BUSY, UNUSABLE)

# Owners (who the node belongs to, independent of its state).
OWNER_NONE = "none"
OWNER_OURS = "ours"
OWNER_OTHER = "other"
OWNER_ORPHANED = "orphaned"
OWNER_MISMATCH = "mismatch"

TRANSIENT_STATES = ironic_states.TRANSIENT
FAILED_STATES = ironic_states.FAILED
HOLD_STATES = ironic_states.HOLD

ALLOCATION_ACTIVE = "active"
ALLOCATION_ALLOCATING = "allocating"
ALLOCATION_ERROR = "error"


@dataclass(frozen=True)
class AllocationView:
    """The fields of an Ironic allocation that matter for ownership."""

    uuid: str
    name: str | None = None
    node_uuid: str | None = None
    state: str | None = None
    last_error: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> "AllocationView | None":
        if not data:
            return None
        return cls(uuid=data.get("uuid") or data.get("id") or "", name=data.get("name"),
                   node_uuid=data.get("node_uuid") or data.get("node_id"), state=data.get("state"),
                   last_error=data.get("last_error"))


@dataclass(frozen=True)
class NodeView:
    """The fields of an Ironic node the association rules read.

    `allocation` is the allocation record behind `allocation_uuid` when the caller fetched it;
    `allocation_found=False` means the caller looked and Ironic has no such allocation.
    `instance_exists=False` means the caller looked the instance up (e.g. in Nova) and it is gone.
    """

    uuid: str
    name: str | None = None
    instance_uuid: str | None = None
    allocation_uuid: str | None = None
    provision_state: str | None = None
    target_provision_state: str | None = None
    maintenance: bool = False
    maintenance_reason: str | None = None
    reservation: str | None = None
    last_error: str | None = None
    power_state: str | None = None
    display_name: str | None = None     # instance_info.display_name (set by Nova and by mode=instance_uuid)
    allocation: AllocationView | None = None
    allocation_found: bool | None = None
    instance_exists: bool | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], allocation: Mapping[str, Any] | None = None,
                     allocation_found: bool | None = None,
                     instance_exists: bool | None = None) -> "NodeView":
        """Build from an Ironic node dict (API field names; openstacksdk's `id`/`is_maintenance` too)."""
        maint = data.get("maintenance", data.get("is_maintenance", False))
        return cls(
            uuid=data.get("uuid") or data.get("id") or "",
            name=data.get("name"),
            instance_uuid=data.get("instance_uuid") or data.get("instance_id"),
            allocation_uuid=data.get("allocation_uuid") or data.get("allocation_id"),
            provision_state=data.get("provision_state"),
            target_provision_state=data.get("target_provision_state"),
            maintenance=bool(maint),
            maintenance_reason=data.get("maintenance_reason"),
            reservation=data.get("reservation"),
            last_error=data.get("last_error"),
            power_state=data.get("power_state"),
            display_name=(data.get("instance_info") or {}).get("display_name"),
            allocation=AllocationView.from_mapping(allocation),
            allocation_found=allocation_found,
            instance_exists=instance_exists,
        )

    @property
    def label(self) -> str:
        return f"{self.name} ({self.uuid})" if self.name and self.name != self.uuid else self.uuid


@dataclass(frozen=True)
class Expectation:
    """What the caller expects to own the node. Either or both may be given."""

    instance_name: str | None = None
    instance_uuid: str | None = None

    @property
    def given(self) -> bool:
        return bool(self.instance_name or self.instance_uuid)

    @property
    def label(self) -> str:
        parts = [p for p in (self.instance_name, self.instance_uuid) if p]
        return " / ".join(parts) if parts else "(none)"


@dataclass(frozen=True)
class AssociationResult:
    verdict: str
    owner: str
    reasons: tuple[str, ...]
    facts: dict = field(default_factory=dict)

    @property
    def message(self) -> str:
        return "; ".join(self.reasons)

    def as_dict(self) -> dict:
        return {"verdict": self.verdict, "owner": self.owner, "reasons": list(self.reasons),
                "facts": dict(self.facts)}


def _owner(node: NodeView, expected: Expectation) -> tuple[str, list[str]]:
    """Who owns the node, ignoring its provision state."""
    inst, alloc_id, alloc = node.instance_uuid, node.allocation_uuid, node.allocation
    if not inst and not alloc_id:
        return OWNER_NONE, [f"node {node.label} has no instance and no allocation"]
    if alloc_id and not inst:
        return OWNER_MISMATCH, [f"node {node.label} has allocation {alloc_id} but no instance_uuid "
                                "(inconsistent; an allocation may be half-applied)"]
    if alloc_id:
        if alloc is None:
            if node.allocation_found is False:
                return OWNER_ORPHANED, [f"node {node.label} points at allocation {alloc_id}, "
                                        "which does not exist"]
            # Allocation not fetched: judge by instance_uuid alone (Ironic keeps them equal).
        else:
            if alloc.uuid != alloc_id or (alloc.node_uuid and alloc.node_uuid != node.uuid):
                return OWNER_MISMATCH, [f"node {node.label} points at allocation {alloc_id} but "
                                        f"allocation {alloc.uuid} ({alloc.name}) points at node "
                                        f"{alloc.node_uuid}"]
            if inst != alloc.uuid:
                return OWNER_MISMATCH, [f"node {node.label} has instance_uuid {inst} but its "
                                        f"allocation is {alloc.uuid} ({alloc.name})"]
    if not expected.given:
        return OWNER_OTHER, [f"node {node.label} is associated with instance {inst}; "
                             "no expected instance was given"]
    mismatches = []
    if expected.instance_uuid and inst != expected.instance_uuid:
        mismatches.append(f"instance_uuid {inst} is not the expected {expected.instance_uuid}")
    if expected.instance_name:
        if alloc is not None:
            if alloc.name != expected.instance_name:
                mismatches.append(f"allocation name {alloc.name!r} is not the expected "
                                  f"{expected.instance_name!r}")
        elif node.display_name:
            if node.display_name != expected.instance_name:
                mismatches.append(f"instance_info.display_name {node.display_name!r} is not the "
                                  f"expected {expected.instance_name!r}")
        elif not expected.instance_uuid:
            # Name expected, but nothing on the node carries a name to compare with.
            mismatches.append(f"instance_uuid {inst} is set with no allocation naming "
                              f"{expected.instance_name!r}")
    if not mismatches:
        return OWNER_OURS, [f"node {node.label} is associated with the expected instance "
                            f"{expected.label}"]
    if node.instance_exists is False:
        return OWNER_ORPHANED, [f"node {node.label} is associated with instance {inst}, "
                                "which no longer exists"]
    return OWNER_OTHER, [f"node {node.label} is associated with instance {inst}"
                         + (f" (allocation {alloc.name!r})" if alloc is not None and alloc.name else "")
                         + f", not with the expected instance {expected.label}: " + "; ".join(mismatches)]


def _facts(node: NodeView, expected: Expectation) -> dict:
    facts = {k: v for k, v in asdict(node).items() if k != "allocation"}
    facts["allocation"] = asdict(node.allocation) if node.allocation is not None else None
    facts["expected_instance_name"] = expected.instance_name
    facts["expected_instance_uuid"] = expected.instance_uuid
    return facts


def classify_association(node: NodeView, expected: Expectation) -> AssociationResult:
    """Classify `node` relative to `expected`.

    Order matters: ownership by someone else wins over every state check (we must never touch
    it, and the message must name both instances); then maintenance and failed states
    (unusable); then transient states, a pending target or a conductor lock (busy); then
    ours/free.
    """
    owner, reasons = _owner(node, expected)
    facts = _facts(node, expected)
    facts["owner"] = owner

    if owner == OWNER_OTHER:
        return AssociationResult(ASSOCIATED_ELSEWHERE, owner, tuple(reasons), facts)
    if owner == OWNER_ORPHANED:
        return AssociationResult(ORPHANED, owner, tuple(reasons), facts)
    if owner == OWNER_MISMATCH:
        return AssociationResult(ALLOCATION_MISMATCH, owner, tuple(reasons), facts)

    state = node.provision_state
    if node.maintenance:
        why = f": {node.maintenance_reason}" if node.maintenance_reason else ""
        reasons.append(f"node is in maintenance{why}")
        return AssociationResult(UNUSABLE, owner, tuple(reasons), facts)
    if state in FAILED_STATES:
        err = f" (last_error: {node.last_error})" if node.last_error else ""
        reasons.append(f"node is in failed state {state!r}{err}")
        return AssociationResult(UNUSABLE, owner, tuple(reasons), facts)
    if state in TRANSIENT_STATES or state in HOLD_STATES or node.target_provision_state:
        target = f" -> {node.target_provision_state}" if node.target_provision_state else ""
        reasons.append(f"node is busy in provision state {state!r}{target}")
        return AssociationResult(BUSY, owner, tuple(reasons), facts)
    if node.reservation:
        reasons.append(f"node is locked by conductor {node.reservation}")
        return AssociationResult(BUSY, owner, tuple(reasons), facts)
    if node.allocation is not None and node.allocation.state == ALLOCATION_ALLOCATING:
        reasons.append(f"allocation {node.allocation.uuid} is still allocating")
        return AssociationResult(BUSY, owner, tuple(reasons), facts)

    if owner == OWNER_OURS:
        return AssociationResult(OURS, owner, tuple(reasons), facts)
    # Unassociated: free only when Ironic would allocate it.
    if state == "available":
        reasons.append("node is available")
        return AssociationResult(FREE, owner, tuple(reasons), facts)
    reasons.append(f"node is in provision state {state!r}, not 'available' (provide it first)"
                   if state != "active" else "node is active without an instance (adopted or "
                   "deployed outside any allocation)")
    return AssociationResult(UNUSABLE, owner, tuple(reasons), facts)


# What each lifecycle action accepts, so modules share one rule table.
def may_deploy(result: AssociationResult) -> bool:
    return result.verdict == OURS and result.facts.get("provision_state") in ("available",)


def is_deployed(result: AssociationResult) -> bool:
    return result.verdict == OURS and result.facts.get("provision_state") == "active"


def may_undeploy(result: AssociationResult, force: bool = False) -> bool:
    """Ours (also failed/maintenance-free failed states), or anything but busy when forced."""
    if result.verdict == BUSY:
        return False
    if force:
        return True
    if result.owner != OWNER_OURS:
        return False
    return not result.facts.get("maintenance")
