# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""What to do about an audit finding: the per-state recovery policy (pure, stdlib only).

A finding (audit_rules.Finding; read by attribute only, so this module does not import the audit)
plus the node/server it is about becomes a Plan: ordered Steps, each naming what to wait for.
The rows follow what the services do themselves (see the notes "Stuck states"): Nova's start-up
(`_init_instance`) errors interrupted builds, redoes deletes, reissues reboots and power actions
by power state and clears image tasks; Ironic's moves are abort -> failed, then deploy/undeploy or
manage/provide. Two rules are ours: a build whose node went active for this very server is marked
ACTIVE (deleting it would tear down a good node), and tearing a node down (undeploy) is destructive,
so its plan needs the `allow_destructive` opt-in. Anything without a safe automatic move is
`report_only` with the manual procedure in `why`. Operators override the action per kind or per state.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_states

ACTIONS: Mapping[str, str] = MappingProxyType({
    "report_only": "nothing automatic; `why` names the manual procedure",
    "redeploy": "abort the wait/hold if any, then deploy the node again (rebuild from error)",
    "undeploy": "tear the node down to available (destructive: needs allow_destructive)",
    "reclean": "abort the clean wait/hold if any, manage, provide (cleans again)",
    "abort_inspection": "abort the inspection, then manage",
    "abort_service": "abort servicing (wait/hold -> service failed), abort again -> active",
    "manage": "move the failed node back to manageable",
    "wait_takeover": "wait (bounded) for a live conductor to take the node over, then recover its failed state",
    "mark_server_active": "reset the server to ACTIVE (clears task_state)",
    "mark_server_error": "reset the server to ERROR",
    "delete_server": "delete the server again",
    "reissue_power": "clear task_state, then reboot/start/stop again as the node's power state needs",
    "clear_task_state": "reset the server's task_state (os-resetState active)",
})
NODE_ACTIONS = ("redeploy", "undeploy", "reclean", "abort_inspection", "abort_service", "manage")
SERVER_ACTIONS = ("mark_server_active", "mark_server_error", "delete_server", "reissue_power", "clear_task_state")
DESTRUCTIVE = frozenset({"undeploy"})
OPT_IN = "allow_destructive"
_AUTO_DEPLOY = "redeploy if ours else undeploy"
_AUTO_BUILD = "by the node"

# Node state -> actions that can start from it; the first is the default.
NODE_STATES: Mapping[str, tuple] = MappingProxyType({
    "wait call-back": (_AUTO_DEPLOY, "redeploy", "undeploy"), "deploy hold": (_AUTO_DEPLOY, "redeploy", "undeploy"),
    "deploy failed": (_AUTO_DEPLOY, "redeploy", "undeploy"), "error": ("undeploy", "redeploy"),
    "clean wait": ("reclean",), "clean hold": ("reclean",), "clean failed": ("reclean", "manage"),
    "inspect wait": ("abort_inspection",), "inspect failed": ("manage",), "adopt failed": ("manage",),
    "service wait": ("abort_service",), "service hold": ("abort_service",), "service failed": ("abort_service",),
    "rescue wait": ("report_only", "undeploy"), "rescue failed": ("report_only", "undeploy"),
    "unrescue failed": ("report_only", "undeploy"),
})
_BUILD = ("scheduling", "block_device_mapping", "networking", "spawning")
_POWER = ("rebooting", "reboot_pending", "reboot_started", "rebooting_hard", "reboot_pending_hard",
          "reboot_started_hard", "powering-on", "powering-off")
SERVER_TASKS: Mapping[str, tuple] = MappingProxyType({
    **{t: (_AUTO_BUILD, "mark_server_error", "mark_server_active") for t in _BUILD},
    **{t: ("reissue_power", "clear_task_state", "mark_server_error") for t in _POWER},
    **{t: ("clear_task_state",)
       for t in ("image_snapshot", "image_snapshot_pending", "image_pending_upload", "image_uploading",
                 "image_backup", "resize_prep")},
    **{t: ("mark_server_error",) for t in ("rebuilding", "rebuild_block_device_mapping", "rebuild_spawning")},
    "deleting": ("delete_server", "mark_server_error"), "soft-deleting": ("delete_server",),
})
_BY_STATE = ("node_wait_expiring", "node_held", "node_failed")
KIND_ACTIONS: Mapping[str, tuple] = MappingProxyType({
    "node_stuck": ("report_only", "wait_takeover"), "node_wait_expiring": NODE_ACTIONS, "node_held": NODE_ACTIONS,
    "node_locked_dead_conductor": ("wait_takeover",), "node_failed": NODE_ACTIONS, "allocation_stale": (),
    "server_task_stuck": SERVER_ACTIONS, "server_on_down_compute": (),
    "server_error_node_active": ("mark_server_active",),
    "orphan_node": ("undeploy",), "server_node_mismatch": (), "node_two_servers": (), "allocation_wrong_provider": (),
    "provider_two_consumers": (), "server_without_allocation": (), "node_unmanaged": (), "node_managed_twice": (),
    "shard_without_compute": (), "conductor_group_without_compute": (),
})
# Manual procedures for findings without a safe automatic action.
MANUAL: Mapping[str, str] = MappingProxyType({
    "node_stuck": "a live conductor holds it: restart that conductor (its start-up moves the node to the "
                  "failed state, _correct_stuck_states), then re-run the audit",
    "allocation_stale": "check nobody waits on it, then `openstack baremetal allocation delete <uuid>`",
    "server_on_down_compute": "start nova-compute on that host, or move its nodes with `nova-manage db "
                              "ironic_compute_node_move --ironic-node-uuid U --destination-host H` (source "
                              "forced down)",
    "server_node_mismatch": "compare `openstack server show` with `openstack baremetal node show`; reset or "
                            "rebuild the server once the node's instance_uuid and state are understood",
    "node_two_servers": "keep the server named by the node's instance_uuid; delete the other after checking it "
                        "has no data (`openstack server delete`)",
    "allocation_wrong_provider": "`openstack resource provider allocation delete <server>` then `nova-manage "
                                 "placement heal_allocations --instance <server>`",
    "provider_two_consumers": "`openstack resource provider show --allocations <node>`; delete the allocation "
                              "of the consumer that is not the node's instance, then `nova-manage placement "
                              "heal_allocations`",
    "server_without_allocation": "`nova-manage placement heal_allocations --instance <server>`",
    "node_unmanaged": "start the nova-compute serving its shard/conductor group, or `nova-manage db "
                      "ironic_compute_node_move --ironic-node-uuid U --destination-host H`",
    "node_managed_twice": "`nova-manage db ironic_compute_node_move --ironic-node-uuid U --destination-host H` "
                          "to the right host, then delete the stale compute service",
    "shard_without_compute": "run a nova-compute with `[ironic] shard` set to it (a node's shard must not change "
                             "once nova-compute has seen the node)",
    "conductor_group_without_compute": "run a nova-compute with `[ironic] conductor_group` set to it",
})
# A dead conductor's deploying/cleaning nodes are failed by the next _check_orphan_nodes.
TAKEOVER_FAILS_TO = MappingProxyType({"deploying": "deploy failed", "cleaning": "clean failed"})
# Step timeouts (s): abort/manage are conductor-side moves; deploy and provide include a callback timeout.
T_SHORT, T_LONG, T_TAKEOVER = 300, 3600, 300


@dataclass(frozen=True)
class Step:
    target: str                    # "node" | "server"
    verb: str                      # abort, deploy, rebuild, undeploy, manage, provide, set_server_state, ...
    args: Mapping[str, Any] = field(default_factory=dict)
    waits_for: str | None = None   # provision state / server status / "unlocked" to wait for after it
    timeout_s: float = T_SHORT


@dataclass(frozen=True)
class Plan:
    kind: str
    action: str
    steps: tuple = ()
    destructive: bool = False
    needs_opt_in: str | None = None
    why: str = ""


@dataclass(frozen=True)
class Context:
    """What the plan is about: the node and server as read, and whether the collection deployed the node."""

    node: Mapping | None = None
    server: Mapping | None = None
    ours: bool = False


@dataclass(frozen=True)
class Policy:
    by_kind: Mapping[str, str] = field(default_factory=dict)
    by_state: Mapping[str, str] = field(default_factory=dict)


def _allowed(key: str) -> tuple:
    if key in KIND_ACTIONS:
        return ("report_only",) + KIND_ACTIONS[key]
    table = NODE_STATES if key in NODE_STATES else SERVER_TASKS
    return ("report_only",) + tuple(a for a in table[key] if a in ACTIONS)


def resolve_policy(overrides: Mapping | None) -> Policy:
    """{kind or state: action}; BadInput naming the key and its allowed actions."""
    if not overrides:
        return Policy()
    if not isinstance(overrides, Mapping):
        raise errors.BadInput("recovery policy: must be a mapping of kind or state -> action")
    kinds, states = {}, {}
    for key, action in overrides.items():
        if key not in KIND_ACTIONS and key not in NODE_STATES and key not in SERVER_TASKS:
            raise errors.BadInput(f"recovery policy {key!r}: not a finding kind or recoverable state; use one of "
                                  f"{', '.join(sorted({*KIND_ACTIONS, *NODE_STATES, *SERVER_TASKS}))}")
        allowed = _allowed(key)
        if action not in allowed:
            raise errors.BadInput(f"recovery policy {key!r}: {action!r} is not allowed here; use one of "
                                  f"{', '.join(dict.fromkeys(allowed))}")
        (kinds if key in KIND_ACTIONS else states)[key] = action
    return Policy(MappingProxyType(kinds), MappingProxyType(states))


def _node_steps(action: str, state: str) -> tuple | None:
    """Steps of a node action from `state`; None when Ironic does not allow it from there."""
    def node(verb, waits_for, timeout=T_SHORT):
        return Step("node", verb, {}, waits_for, timeout)
    if action == "redeploy" and state in ("wait call-back", "deploy hold", "deploy failed"):
        aborted = (node("abort", "deploy failed"),) if state != "deploy failed" else ()
        return aborted + (node("deploy", "active", T_LONG),)
    if action == "redeploy" and state == "error":
        return (node("rebuild", "active", T_LONG),)
    if action == "undeploy" and state in ironic_states.UNDEPLOY_FROM:
        return (node("undeploy", "available", T_LONG),)
    if action == "reclean" and state in ("clean wait", "clean hold", "clean failed"):
        aborted = (node("abort", "clean failed"),) if state != "clean failed" else ()
        return aborted + (node("manage", "manageable"), node("provide", "available", T_LONG))
    if action == "abort_inspection" and state == "inspect wait":
        return (node("abort", "inspect failed"), node("manage", "manageable"))
    if action == "manage" and state in ("inspect failed", "adopt failed", "clean failed"):
        return (node("manage", "manageable"),)
    if action == "abort_service" and state in ("service wait", "service hold", "service failed"):
        aborted = (node("abort", "service failed"),) if state != "service failed" else ()
        return aborted + (node("abort", "active"),)
    return None


def _state_action(state: str, table: Mapping, policy: Policy, kind: str) -> str:
    if state in policy.by_state:
        return policy.by_state[state]
    if kind in policy.by_kind:
        return policy.by_kind[kind]
    return table.get(state, ("report_only",))[0]


def _power_steps(task: str, power: str | None) -> tuple | None:
    """Nova's start-up: REBOOT* with power running -> clear/ACTIVE, else reboot again (hard);
    POWERING_OFF/ON -> stop/start again (nothing to start when the node is already on)."""
    clear = _SERVER_STEPS["clear_task_state"]
    if power not in ("power on", "power off"):
        return None
    if power == "power on" and task != "powering-off":
        return (clear,)
    if task == "powering-off":
        return (clear, _server_step("power_off", "SHUTOFF", 600))
    if task == "powering-on":
        return (clear, _server_step("power_on", "ACTIVE", 600))
    return (clear, _server_step("reboot_server", "ACTIVE", 600, type="HARD"))


def _server_step(verb: str, waits_for: str, timeout: float = 60, **args: Any) -> Step:
    return Step("server", verb, MappingProxyType(args), waits_for, timeout)


_SERVER_STEPS = MappingProxyType({
    "mark_server_active": _server_step("set_server_state", "ACTIVE", state="active"),
    "mark_server_error": _server_step("set_server_state", "ERROR", state="error"),
    "delete_server": _server_step("delete_server", "deleted", 1800),
    "clear_task_state": _server_step("clear_task_state", "ACTIVE", state="active"),
})


def _build_action(ctx: Context) -> tuple[str, str]:
    """An interrupted build, decided by where its node got to."""
    node, server = ctx.node or {}, ctx.server or {}
    state, sid = node.get("provision_state"), server.get("id")
    if not server.get("OS-EXT-SRV-ATTR:host"):
        return "mark_server_error", "no compute host: the build never left the scheduler"
    if state == "active" and sid and node.get("instance_uuid") == sid:
        return "mark_server_active", "its node is active for this server; deleting would tear down a good node"
    if state in ironic_states.FAILED:
        return "mark_server_error", f"its node is {state}"
    return "report_only", f"node {node.get('uuid') or '?'} is {state}; see its node finding"


def _server_plan(action: str, task: str, ctx: Context) -> tuple[str, tuple | None, str]:
    why = ""
    if action == _AUTO_BUILD:
        action, why = _build_action(ctx)
    if action in _SERVER_STEPS:
        return action, (_SERVER_STEPS[action],), why or ACTIONS[action]
    if action == "reissue_power":
        power = (ctx.node or {}).get("power_state")
        return action, _power_steps(task, power), f"node power state {power}"
    return action, None, why


def _takeover(finding: Any, ctx: Context, policy: Policy) -> Plan:
    state = (ctx.node or {}).get("provision_state") or finding.evidence.get("provision_state")
    host = finding.evidence.get("reservation") or finding.evidence.get("conductor")
    fails_to = TAKEOVER_FAILS_TO.get(state)
    wait = Step("node", "wait_takeover", {"conductor": host}, fails_to or "unlocked", T_TAKEOVER)
    if fails_to is None:
        return Plan(finding.kind, "wait_takeover", (wait,), why=f"conductor {host} is gone; Ironic frees its lock")
    then = _node_plan(finding.kind, fails_to, ctx, policy, use_kind=False)
    return Plan(finding.kind, "wait_takeover", (wait,) + then.steps, then.destructive, then.needs_opt_in,
                f"conductor {host} is gone; Ironic fails {state} to {fails_to}; then {then.action}: {then.why}")


def _node_plan(kind: str, state: str, ctx: Context, policy: Policy, use_kind: bool = True) -> Plan:
    action = _state_action(state, NODE_STATES, policy if use_kind else Policy({}, policy.by_state), kind)
    why = ACTIONS.get(action, "")
    if action == _AUTO_DEPLOY:
        action, why = ("redeploy", "the collection deployed it") if ctx.ours else (
            "undeploy", "not deployed by this collection: only tearing it down is safe")
    if action == "report_only":
        return Plan(kind, action, why=MANUAL.get(kind, f"no automatic recovery from {state}"))
    steps = _node_steps(action, state)
    if steps is None:
        return Plan(kind, "report_only", why=f"{action} cannot start from {state}")
    return Plan(kind, action, steps, action in DESTRUCTIVE, OPT_IN if action in DESTRUCTIVE else None, why)


def _with_evidence(ctx: Context, finding: Any) -> Context:
    """The context, with the node/server rebuilt from the finding's evidence where not given."""
    ev, node, server = finding.evidence or {}, ctx.node, ctx.server
    if node is None and finding.node_uuid:
        seen = ("provision_state", "instance_uuid", "power_state", "maintenance")
        node = {"uuid": finding.node_uuid, **{k: ev.get(k) for k in seen}}
    if server is None and finding.server_id:
        server = {"id": finding.server_id, "OS-EXT-SRV-ATTR:host": ev.get("host"),
                  "OS-EXT-STS:task_state": ev.get("task_state")}
    return Context(node, server, ctx.ours)


def plan_for(finding: Any, context: Context | None = None, policy: Policy | None = None) -> Plan:
    """The plan for one finding (an audit_rules.Finding or anything with kind and evidence).
    Precedence: an override for the finding's state, then one for its kind, then the default; an
    action that cannot start from the node's state becomes report_only saying so."""
    ctx, policy = _with_evidence(context or Context(), finding), policy or Policy()
    kind, ev = finding.kind, finding.evidence or {}
    node = ctx.node or {}
    if not KIND_ACTIONS.get(kind) or (kind not in _BY_STATE and kind != "server_task_stuck"
                                      and policy.by_kind.get(kind) == "report_only"):
        return Plan(kind, "report_only", why=MANUAL.get(kind, "no automatic recovery"))
    if node.get("maintenance") and kind not in ("server_task_stuck", "server_error_node_active"):
        return Plan(kind, "report_only", why="the node is in maintenance (Ironic refuses provision actions): "
                                             "check its maintenance_reason, unset maintenance, re-run the audit")
    if kind == "node_stuck":
        action = policy.by_kind.get(kind) or ("wait_takeover" if ev.get("conductor_alive") is False else "report_only")
        return _takeover(finding, ctx, policy) if action == "wait_takeover" else Plan(kind, action, why=MANUAL[kind])
    if kind == "node_locked_dead_conductor":
        return _takeover(finding, ctx, policy)
    if kind in _BY_STATE:
        return _node_plan(kind, node.get("provision_state") or ev.get("provision_state") or "", ctx, policy)
    if kind == "orphan_node":
        state = node.get("provision_state") or ev.get("provision_state")
        steps = _node_steps("undeploy", state)
        if steps is None:
            return Plan(kind, "report_only", why=f"undeploy cannot start from {state}")
        return Plan(kind, "undeploy", steps, True, OPT_IN, "no server holds this node; tearing it down is destructive")
    task = (ctx.server or {}).get("OS-EXT-STS:task_state") or ev.get("task_state") or ""
    if kind == "server_error_node_active":
        action = "mark_server_active"
    else:
        action = _state_action(task, SERVER_TASKS, policy, kind)
    action, steps, why = _server_plan(action, task, ctx)
    if action == "report_only" or steps is None:
        return Plan(kind, "report_only", why=why or f"{action} does not apply to task_state {task or 'none'}")
    return Plan(kind, action, steps, why=why or ACTIONS[action])


_NODE_KEYS = ("provision_state", "provision_updated_at", "instance_uuid", "reservation", "maintenance")
_SERVER_KEYS = {"status": "status", "task_state": "OS-EXT-STS:task_state", "updated": "updated"}


def still_applies(finding: Any, fresh_node: Mapping | None, fresh_server: Mapping | None) -> bool:
    """Re-read check before acting: False when anything the finding was made of changed. For
    orphan_node, fresh_server is the lookup of the node's instance_uuid (None: still no server)."""
    ev = finding.evidence or {}
    if finding.kind == "orphan_node":
        if fresh_server is not None:
            return False
    elif finding.server_id and fresh_server is None:
        return False
    if finding.node_uuid and fresh_node is None:
        return False
    # Power sync flips power_state at will; it only matters to the power plans of server tasks.
    keys = _NODE_KEYS + (("power_state",) if finding.kind == "server_task_stuck" else ())
    if fresh_node is not None and any(k in ev and fresh_node.get(k) != ev[k] for k in keys):
        return False
    if fresh_server is not None and finding.server_id:
        return not any(k in ev and fresh_server.get(f) != ev[k] for k, f in _SERVER_KEYS.items())
    return True
