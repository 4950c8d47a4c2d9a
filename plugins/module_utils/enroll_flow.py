# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Enrollment: create → manage → provide for a validated fleet, through the one Ironic client.

The decisions (what to create or patch, the next provision action, when a node failed) are the
pure functions of fleet.py; this class carries them out with `client` (ironic_client.IronicClient
or anything with the same methods) and the injected `clock`/`sleep`. Per-node failures are
reported and the other nodes proceed; a fleet that cannot work raises errors.BadInput before
anything is sent.
"""
from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import fleet as fleet_core


@dataclass(frozen=True)
class EnrollOptions:
    target: str = "available"
    wait: bool = True
    timeout: float = 900.0
    poll_interval: float = 1.0
    set_power_off: bool = True
    fail_on_error: bool = True
    check_mode: bool = False


class EnrollFailed(errors.IronwaveError):
    """Some nodes did not reach the target state (the others did; the result lists both)."""

    kind = "enroll_failed"


def entries_from(nodes: Any, generate: dict | None) -> list:
    """The raw fleet: the given nodes plus the generated ones (BadInput for a bad generator)."""
    entries = list(nodes or [])
    if generate:
        try:
            entries += fleet_core.generate_fleet(**{k: v for k, v in generate.items() if v is not None})
        except fleet_core.FleetError as exc:
            raise errors.BadInput(str(exc), problems=exc.problems) from exc
    return entries


def validate(entries: list) -> list[fleet_core.NodeSpec]:
    try:
        return fleet_core.validate_fleet(entries)
    except fleet_core.FleetError as exc:
        raise errors.BadInput(str(exc), problems=exc.problems) from exc


def _error_line(exc: errors.IronwaveError, what: str) -> str:
    err = getattr(exc, "error", None)  # ironic_client.ApiError carries the classified error
    return err.one_line(what) if err is not None else f"{what} failed: {exc.msg}"


@dataclass
class Enrollment:
    client: Any
    options: EnrollOptions
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    errors: dict[str, str] = field(default_factory=dict)   # node name -> one line

    def run(self, specs: list[fleet_core.NodeSpec]) -> dict[str, Any]:
        """Enroll `specs`; return the module result or raise BadInput / EnrollFailed."""
        used = fleet_core.used_fields(specs)
        self.client.microversion = fleet_core.microversion_for(used)
        opts = self.options
        current = {n["name"]: n for n in self.client.list_nodes(fleet_core.list_fields(used)) if n.get("name")}
        uuid_to_name = {n["uuid"]: name for name, n in current.items()}
        port_owner = {fleet_core.normalize_mac(p["address"]): uuid_to_name.get(p["node_uuid"], p["node_uuid"])
                      for p in self.client.list_ports(("address", "node_uuid"))}
        plan = fleet_core.plan_enroll(specs, current, port_owner)
        if plan.conflicts:
            raise errors.BadInput("invalid fleet description (nothing was changed): " + "; ".join(plan.conflicts)
                                  + " (fix the MACs, or remove the port from the other node first)",
                                  problems=plan.conflicts)
        moves = {s.name: fleet_core.next_action((current.get(s.name) or {}).get("provision_state", "enroll"),
                                                opts.target) for s in specs}
        result: dict[str, Any] = dict(
            changed=bool(plan.create or plan.update or plan.traits or plan.ports or any(moves.values())),
            created=list(plan.create),
            updated=sorted(set(plan.update) | (set(plan.traits) | set(plan.ports)) - set(plan.create)),
            moved=sorted(n for n, a in moves.items() if a), failed_nodes=[],
            diff=fleet_core.enroll_diff(specs, plan, current))
        if opts.check_mode:
            states = {s.name: (current.get(s.name) or {}).get("provision_state") for s in specs}
            result["states"] = dict(Counter(st or "absent" for st in states.values()))
            result["nodes"] = [dict(name=n, provision_state=st) for n, st in states.items()]
            return result

        self._write(specs, plan, current)
        final = self._drive_states(specs, current, result)
        return self._finish(specs, final, result)

    # -- writes: create / patch / traits / ports, node by node --------------------------------
    def _try(self, name: str, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except errors.CloudUnreachable:
            raise
        except errors.IronwaveError as exc:
            self.errors[name] = _error_line(exc, what)
            return None

    def _write(self, specs, plan: fleet_core.EnrollPlan, current: dict[str, dict]) -> None:
        by_name = {s.name: s for s in specs}
        for name in plan.create:
            node = self._try(name, f"creating node {name}",
                             lambda: self.client.create_node(dict(name=name, **by_name[name].fields)))
            if node is not None:
                current[name] = node
        for name, ops in plan.update.items():
            self._try(name, f"updating node {name}", lambda: self.client.patch_node(current[name]["uuid"], ops))
        for name, traits in plan.traits.items():
            if name not in self.errors:
                self._try(name, f"setting traits on node {name}",
                          lambda: self.client.set_traits(current[name]["uuid"], traits))
        for name, ports in plan.ports.items():
            for port in ports:
                if name not in self.errors:
                    self._try(name, f"creating port {port['address']} on node {name}",
                              lambda: self.client.create_port(dict(port, node_uuid=current[name]["uuid"])))

    # -- provision states: act as each node becomes ready, poll in bulk ------------------------
    def _poll(self, names: set[str]) -> dict[str, dict]:
        return {n["name"]: n for n in self.client.list_nodes(fleet_core.POLL_FIELDS) if n.get("name") in names}

    def _provision(self, node: dict, action: str) -> None:
        before = (node.get("provision_state"), node.get("target_provision_state"))

        def took_effect():  # after an ambiguous failure: did the node move?
            now = self.client.get_node(node["uuid"], fleet_core.POLL_FIELDS) or {}
            return now if (now.get("provision_state"), now.get("target_provision_state")) != before else None
        self.client.set_provision_state(node["uuid"], action, reconcile=took_effect)

    def _drive_states(self, specs, current: dict[str, dict], result: dict) -> dict[str, dict]:
        opts = self.options
        names = {s.name for s in specs} - set(self.errors)
        acted: set[str] = set()
        powered: set[str] = set()
        moved = set(result["moved"])
        deadline = self.clock() + opts.timeout
        state = {n: current[n] for n in names if n in current}
        while True:
            pending = False
            for name in sorted(names - set(self.errors)):
                node = state.get(name)
                if not node:
                    continue
                ps = node.get("provision_state")
                action = fleet_core.next_action(ps, opts.target)
                if action and not node.get("target_provision_state"):
                    if name in acted and ps == "enroll" and node.get("last_error"):
                        continue  # verification failed: report, don't loop
                    if self._try(name, f"{action} on node {name}", lambda: self._provision(node, action)) is None \
                            and name not in self.errors:
                        acted.add(name)
                        moved.add(name)
                        pending = True
                elif ps == opts.target == "available" and node.get("power_state") is None and opts.set_power_off:
                    pending = True  # the power request is asynchronous: poll until the state shows
                    if name not in powered:
                        self._try(name, f"powering off node {name}",
                                  lambda: self.client.set_power_state(node["uuid"], "power off"))
                        powered.add(name)
                        moved.add(name)
                elif ps in fleet_core.TRANSIENT or node.get("target_provision_state"):
                    pending = True
                elif ps == "enroll" and name not in acted:
                    pending = True
            result["moved"] = sorted(moved)
            if not opts.wait or not pending or self.clock() > deadline:
                return self._poll(names) | {n: state[n] for n in state if n in self.errors}
            self.sleep(opts.poll_interval)
            state = self._poll(names)

    def _not_reached(self, node: dict[str, Any]) -> bool:
        ps = node.get("provision_state")
        if ps == self.options.target:
            return False
        outcome = fleet_core.enroll_outcome(ps, self.options.target, node.get("last_error"), True)
        return outcome == "failed" or (self.options.wait and outcome == "wait")

    def _finish(self, specs, final: dict[str, dict], result: dict) -> dict[str, Any]:
        target = self.options.target
        result["failed_nodes"] = [
            dict(name=s.name, provision_state=final.get(s.name, {}).get("provision_state"),
                 last_error=self.errors.get(s.name) or final.get(s.name, {}).get("last_error"))
            for s in specs if s.name in self.errors or self._not_reached(final.get(s.name, {}))]
        result["states"] = dict(Counter(final.get(s.name, {}).get("provision_state", "absent") for s in specs))
        result["nodes"] = [dict(name=s.name, uuid=final.get(s.name, {}).get("uuid"),
                                provision_state=final.get(s.name, {}).get("provision_state")) for s in specs]
        result["changed"] = bool(result["created"] or result["updated"] or result["moved"])
        failed = result["failed_nodes"]
        if failed and self.options.fail_on_error:
            names = ", ".join(f"{f['name']} ({f['provision_state']}: {f['last_error']})" for f in failed)
            raise EnrollFailed(f"{len(failed)} of {len(specs)} node(s) did not reach {target}: {names}", **result)
        return result
