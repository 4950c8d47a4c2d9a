# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""One recovery step as a request, and when it is done (pure, stdlib only).

recovery_policy decides *what* to do (Steps of a Plan); this module says *how*: the REST request
a Step becomes for the node/server as just re-read (`request_for`), whether the object reached
what the step waits for (`reached`), and the plan as text for check mode and diff (`describe`).
The executor (fleet_recover_run) does the I/O. Every verb recovery_policy produces must be in
NODE_TARGETS, SERVER_BODIES or WAIT_ONLY; the unit tests walk the policy tables to hold that."""
from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping
from urllib.parse import quote

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_states

# Node verb -> Ironic provision target (PUT /nodes/X/states/provision).
NODE_TARGETS: Mapping[str, str] = MappingProxyType({
    "abort": "abort", "deploy": "active", "rebuild": "rebuild", "undeploy": "deleted",
    "manage": "manage", "provide": "provide",
})
# Verbs that send nothing: wait for a live conductor to take over a dead one's node.
WAIT_ONLY = frozenset({"wait_takeover"})
# Server verb -> the body of POST /servers/X/action (delete_server is a DELETE instead).
SERVER_BODIES: Mapping[str, Any] = MappingProxyType({
    "set_server_state": lambda args: {"os-resetState": {"state": args["state"]}},
    "clear_task_state": lambda args: {"os-resetState": {"state": "active"}},
    "reboot_server": lambda args: {"reboot": {"type": args.get("type") or "HARD"}},
    "power_on": lambda args: {"os-start": None},
    "power_off": lambda args: {"os-stop": None},
})
SERVER_DELETE = "delete_server"
VERBS = frozenset({*NODE_TARGETS, *WAIT_ONLY, *SERVER_BODIES, SERVER_DELETE})
# Servicing (abort from service wait/hold/failed) exists from API 1.87 on; older Ironics have no such nodes.
SERVICE_MICROVERSION = "1.87"
# A node a dead conductor left in these keeps them until a live conductor fails it.
TAKEOVER_FROM = frozenset({"deploying", "cleaning", "wait call-back", "clean wait"})
_SERVER_GONE_OK = ("DELETED", "SOFT_DELETED")


@dataclass(frozen=True)
class Request:
    service: str                    # "ironic" | "nova"
    method: str
    path: str
    body: Mapping | None = None
    ident: str = ""                 # node uuid / server id the request is about
    microversion: str | None = None

    def as_tuple(self) -> tuple:
        return (self.service, self.method, self.path, self.body)


def _q(value: Any) -> str:
    return quote(str(value), safe="")


def request_for(step: Any, fresh_node: Mapping | None, fresh_server: Mapping | None) -> Request | None:
    """The request a recovery_policy.Step becomes; None for a step that only waits."""
    verb = step.verb
    if verb in WAIT_ONLY:
        return None
    if verb in NODE_TARGETS:
        if not fresh_node or not fresh_node.get("uuid"):
            raise errors.NotFound(f"recovery step {verb}: the node is gone")
        state = fresh_node.get("provision_state") or ""
        version = SERVICE_MICROVERSION if state.startswith("service") else None
        return Request("ironic", "PUT", f"/nodes/{_q(fresh_node['uuid'])}/states/provision",
                       {"target": NODE_TARGETS[verb]}, fresh_node["uuid"], version)
    if verb in SERVER_BODIES or verb == SERVER_DELETE:
        if not fresh_server or not fresh_server.get("id"):
            raise errors.NotFound(f"recovery step {verb}: the server is gone")
        sid = fresh_server["id"]
        if verb == SERVER_DELETE:
            return Request("nova", "DELETE", f"/servers/{_q(sid)}", None, sid)
        return Request("nova", "POST", f"/servers/{_q(sid)}/action", SERVER_BODIES[verb](step.args or {}), sid)
    raise errors.IronwaveError(f"recovery step {verb!r} ({step.target}) has no request; recover_steps does not "
                               "know it yet", kind="unsupported")


def _unmoved(fresh: Mapping, before: Mapping | None, keys: tuple) -> bool:
    """Nothing changed since the request: a failed state seen now is the old one, not an outcome."""
    return before is not None and all(fresh.get(k) == before.get(k) for k in keys)


def _node_reached(step: Any, node: Mapping | None, before: Mapping | None) -> bool | None:
    if node is None:
        return None
    state, want = node.get("provision_state"), step.waits_for
    if step.verb in WAIT_ONLY:
        if want == "unlocked":
            return not node.get("reservation")
        if state == want:
            return not node.get("reservation")   # the next step would only meet NodeLocked
        return False if state in TAKEOVER_FROM else None
    if state == want:
        return True
    if state in ironic_states.FAILED and not _unmoved(node, before, ("provision_state", "provision_updated_at")):
        return None
    return False


def _server_reached(step: Any, server: Mapping | None, before: Mapping | None) -> bool | None:
    want = step.waits_for
    if server is None:
        return True if want == "deleted" else None
    status, task = str(server.get("status") or "").upper(), server.get("OS-EXT-STS:task_state")
    if want == "deleted":
        if status in _SERVER_GONE_OK and not task:
            return True
    elif status == str(want).upper() and not task:
        return True
    if status == "ERROR" and not task and not _unmoved(server, before, ("status", "OS-EXT-STS:task_state", "updated")):
        return None
    return False


def reached(step: Any, fresh_node: Mapping | None, fresh_server: Mapping | None,
            before: Mapping | None = None) -> bool | None:
    """True: the step is done; False: keep waiting; None: a failed state (or the object went away).
    `before` is the step's object as read right before its request: a failed state that has not
    moved since then is the one the step started from, not its outcome."""
    if step.target == "node":
        return _node_reached(step, fresh_node, before)
    return _server_reached(step, fresh_server, before)


def _what(step: Any) -> str:
    if step.verb in NODE_TARGETS:
        return f"{step.verb} (provision target {NODE_TARGETS[step.verb]!r})"
    if step.verb in WAIT_ONLY:
        return f"wait for a live conductor to take over from {(step.args or {}).get('conductor') or '?'}"
    if step.verb == SERVER_DELETE:
        return "delete_server again (DELETE /servers/<id>)"
    if step.verb in SERVER_BODIES:
        body = SERVER_BODIES[step.verb](step.args or {})
        action = next(iter(body))
        return f"{step.verb} ({action}{' ' + str(body[action]) if body[action] else ''})"
    return f"{step.verb} (unknown verb)"


def describe(plan: Any) -> list[str]:
    """One line per step, e.g. `node: deploy (provision target 'active'), then wait for active (up to 3600 s)`."""
    lines = []
    for step in plan.steps:
        until = "its lock to clear" if step.waits_for == "unlocked" else step.waits_for
        lines.append(f"{step.target}: {_what(step)}, then wait for {until} (up to {step.timeout_s:.0f} s)")
    return lines
