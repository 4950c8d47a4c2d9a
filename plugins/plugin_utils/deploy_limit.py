# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""One user-facing notion of "how many nodes may be busy in Ironic at once" for the deploy role.

Pure (stdlib only). The role's variables `deploy_limit` (a number) and `deploy_limit_scope`
(`run`: counted by this run's busy gate; `cloud`: counted on Ironic with `wave_slot` leases, shared by
every run on the cloud) are turned into what the two mechanisms take:

* `gate` / `gate_scope` - `node_deploy`'s busy gate (`busy_limit`/`busy_scope`). Always the limit,
  in both scopes: it is where the wave strategy's lowered limit after backpressure is applied
  (run_control.busy_limit), and with a lease held it never waits longer than the lease did.
* `lease` / `lease_scope` - `wave_slot`'s `limit`/`scope`, held for the node's deploy; 0 = no lease.

The variables of the previous release keep working for one release, each with a deprecation
message naming its replacement; when given they win over `deploy_limit` (playbooks set
`deploy_limit` themselves, so an old name passed with -e must still take effect).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

SCOPES = ("run", "cloud")
REMOVED_IN = "0.3.0"

#: old variable -> what to use instead (for the deprecation message)
DEPRECATED = {
    "deploy_busy_limit": "deploy_limit (with deploy_limit_scope: run)",
    "deploy_busy_scope": "deploy_limit_per_conductor_group",
    "deploy_global_limit": "deploy_limit with deploy_limit_scope: cloud",
    "deploy_global_limit_scope": "deploy_limit_per_conductor_group",
    "ironwave_global_limit": "deploy_limit with deploy_limit_scope: cloud",
}


class DeployLimitError(ValueError):
    """Bad deploy limit settings; the message names the variable and the fix."""


@dataclass(frozen=True)
class DeployLimitPlan:
    limit: int
    scope: str
    per_conductor_group: bool
    gate: int
    lease: int
    deprecations: tuple[str, ...] = field(default=())

    @property
    def group_scope(self) -> str:
        """What both node_deploy's busy_scope and wave_slot's scope call the counting domain."""
        return "conductor_group" if self.per_conductor_group else "global"

    def as_dict(self) -> dict[str, Any]:
        return {"limit": self.limit, "scope": self.scope, "per_conductor_group": self.per_conductor_group,
                "gate": self.gate, "gate_scope": self.group_scope,
                "lease": self.lease, "lease_scope": self.group_scope}


def _count(name: str, value: Any) -> int:
    if isinstance(value, str) and value.strip().lstrip("+").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 0:
        raise DeployLimitError(
            f"{name}: {value!r} is not a number of nodes; use a whole number >= 0 (nodes allowed busy in Ironic "
            "at once, 0 = no limit of the role's own)")
    return int(value)


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
        return value.strip().lower() in ("true", "yes", "on", "1")
    raise DeployLimitError(f"{name}: {value!r} is not a boolean; use true or false")


def _group_scope(name: str, value: Any) -> bool:
    if value not in ("global", "conductor_group"):
        raise DeployLimitError(f"{name}: {value!r} is not one of global, conductor_group "
                               "(deprecated: use deploy_limit_per_conductor_group: true/false)")
    return value == "conductor_group"


def _message(name: str, value: Any, mapped: str) -> str:
    return (f"The deploy role variable {name} (set to {value!r}) is deprecated: use {DEPRECATED[name]}. "
            f"It is applied as {mapped} for now.")


def plan(values: Mapping[str, Any]) -> DeployLimitPlan:
    """`values`: the role's variables by name; deprecated ones None (or absent) when not set."""
    limit = _count("deploy_limit", values.get("deploy_limit", 0))
    scope = values.get("deploy_limit_scope") or "run"
    if scope not in SCOPES:
        raise DeployLimitError(
            f"deploy_limit_scope: {scope!r} is not a scope; use run (counted by this run: its busy gate) or "
            "cloud (counted on Ironic with wave_slot leases, shared by every run on the cloud)")
    per_group = _bool("deploy_limit_per_conductor_group", values.get("deploy_limit_per_conductor_group", False))
    gate: int | None = None
    notes: list[str] = []

    for name in ("deploy_busy_scope", "deploy_global_limit_scope"):
        if values.get(name) is not None:
            per_group = _group_scope(name, values[name]) or per_group
            notes.append(_message(name, values[name], f"deploy_limit_per_conductor_group: {str(per_group).lower()}"))
    for name in ("deploy_global_limit", "ironwave_global_limit"):
        if values.get(name) is not None:
            old = _count(name, values[name])
            if old > 0:
                limit, scope = old, "cloud"
            notes.append(_message(name, values[name], f"deploy_limit: {limit}, deploy_limit_scope: {scope}"))
    if values.get("deploy_busy_limit") is not None:
        gate = _count("deploy_busy_limit", values["deploy_busy_limit"])
        if scope == "run":
            limit = gate
        notes.append(_message("deploy_busy_limit", values["deploy_busy_limit"],
                              f"deploy_limit: {limit}, deploy_limit_scope: {scope}"
                              + ("" if gate == limit else f" and a busy gate of {gate}")))

    return DeployLimitPlan(limit=limit, scope=scope, per_conductor_group=per_group,
                           gate=limit if gate is None else gate,
                           lease=limit if scope == "cloud" else 0, deprecations=tuple(notes))
