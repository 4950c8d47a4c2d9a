# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Builders of the nodes, servers and audit findings the recovery unit tests plan from (one node
n1 and one server s1 that sit on each other unless told otherwise)."""
from __future__ import annotations

from ansible_collections.ironwave.baremetal.plugins.module_utils.audit_rules import Finding

T0 = "2026-12-01T11:00:00+00:00"


def node(state="active", instance="s1", power="power on", **kw):
    return {"uuid": "n1", "name": "node-n1", "provision_state": state, "target_provision_state": None,
            "instance_uuid": instance, "power_state": power, "provision_updated_at": T0, "reservation": None,
            "maintenance": False, **kw}


def server(task=None, status="ACTIVE", host="cmp1", updated="2026-12-01T11:00:00Z"):
    return {"id": "s1", "name": "srv-s1", "status": status, "OS-EXT-STS:task_state": task, "updated": updated,
            "OS-EXT-SRV-ATTR:host": host, "OS-EXT-SRV-ATTR:hypervisor_hostname": "n1"}


def nf(kind, n, **extra):
    """A node finding with the evidence the audit records."""
    ev = {k: n.get(k) for k in ("provision_state", "provision_updated_at", "instance_uuid", "reservation",
                                "maintenance", "power_state")}
    return Finding(kind, n["name"], n["uuid"], evidence={**ev, **extra})


def sf(kind, s, n=None):
    """A server finding (with its node's state when `n` is given)."""
    ev = {"status": s["status"], "task_state": s["OS-EXT-STS:task_state"], "updated": s["updated"],
          "host": s["OS-EXT-SRV-ATTR:host"]}
    if n:
        ev.update({k: n.get(k) for k in ("provision_state", "instance_uuid", "power_state")})
    return Finding(kind, "node-n1", "n1", s["name"], s["id"], evidence=ev)
