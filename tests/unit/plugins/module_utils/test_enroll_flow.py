# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Enrollment flow with a fake Ironic client and clock: create → manage → provide, per-node
failures, conflicts refused before any write, the timeout, check mode."""
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, fleet, ironic_errors
from ansible_collections.ironwave.baremetal.plugins.module_utils.enroll_flow import (
    EnrollFailed, Enrollment, EnrollOptions, entries_from, validate)
from ansible_collections.ironwave.baremetal.plugins.module_utils.ironic_client import ApiError

MUTATING = ("create_node", "patch_node", "set_traits", "create_port", "set_provision_state", "set_power_state")


class FakeIronic:
    """Nodes move one step per poll: enroll -manage-> verifying -> manageable -provide-> cleaning ->
    available; `stuck` nodes stay in verifying; `bad_driver` nodes cannot be created."""

    def __init__(self, nodes=(), ports=(), stuck=(), bad_driver="no-such-driver"):
        self.nodes = {n["name"]: dict(n) for n in nodes}
        self.ports = list(ports)
        self.stuck = set(stuck)
        self.bad_driver = bad_driver
        self.calls: list[tuple] = []
        self.microversion = "1.52"

    def _node(self, uuid):
        return next(n for n in self.nodes.values() if n["uuid"] == uuid)

    def list_nodes(self, fields=(), **_):
        self.calls.append(("list_nodes",))
        for node in self.nodes.values():  # the conductor advances
            step = {"verifying": "manageable", "cleaning": "available"}.get(node["provision_state"])
            if step and node["name"] not in self.stuck:
                node.update(provision_state=step, target_provision_state=None)
        return [{k: n.get(k) for k in fields} for n in self.nodes.values()]

    def list_ports(self, fields=(), **_):
        return [{k: p.get(k) for k in fields} for p in self.ports]

    def get_node(self, ident, fields=()):
        return self._node(ident)

    def create_node(self, body):
        self.calls.append(("create_node", body["name"]))
        if body.get("driver") == self.bad_driver:
            raise ApiError(ironic_errors.classify(400, f"Driver {self.bad_driver} is not loaded"), "POST /nodes")
        node = dict(body, uuid=f"uuid-{body['name']}", provision_state="enroll", target_provision_state=None,
                    power_state=None, last_error=None, traits=[])
        self.nodes[body["name"]] = node
        return node

    def patch_node(self, uuid, ops):
        self.calls.append(("patch_node", uuid))

    def set_traits(self, uuid, traits):
        self.calls.append(("set_traits", uuid))
        self._node(uuid)["traits"] = list(traits)

    def create_port(self, body):
        self.calls.append(("create_port", body["address"]))
        self.ports.append(body)

    def set_provision_state(self, uuid, target, reconcile=None):
        self.calls.append(("set_provision_state", uuid, target))
        node = self._node(uuid)
        node["provision_state"] = {"manage": "verifying", "provide": "cleaning"}[target]

    def set_power_state(self, uuid, target):
        self.calls.append(("set_power_state", uuid, target))
        self._node(uuid)["power_state"] = "power off"

    def mutations(self):
        return [c for c in self.calls if c[0] in MUTATING]


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def _specs(count=2, **extra):
    return validate(entries_from([], {"count": count, "name_prefix": "u-", **extra}))


def _enroll(ironic, specs, **opts):
    clock = Clock()
    return Enrollment(ironic, EnrollOptions(**opts), clock=clock, sleep=clock.sleep).run(specs)


def test_create_manage_provide_power_off():
    ironic = FakeIronic()
    result = _enroll(ironic, _specs(2, traits=["CUSTOM_A"]))
    assert result["created"] == ["u-001", "u-002"] and result["failed_nodes"] == []
    assert result["states"] == {"available": 2}
    assert all(n["power_state"] == "power off" and n["traits"] == ["CUSTOM_A"] for n in ironic.nodes.values())
    assert [c[2] for c in ironic.calls if c[0] == "set_provision_state"] == ["manage"] * 2 + ["provide"] * 2
    assert ironic.microversion == "1.52"


def test_second_run_changes_nothing():
    ironic = FakeIronic()
    _enroll(ironic, _specs(2))
    before = len(ironic.mutations())
    result = _enroll(ironic, _specs(2))
    assert result["changed"] is False and len(ironic.mutations()) == before


def test_failing_node_reported_others_proceed():
    ironic = FakeIronic()
    specs = _specs(3)
    specs[1].fields["driver"] = "no-such-driver"
    with pytest.raises(EnrollFailed) as caught:
        _enroll(ironic, specs)
    assert "1 of 3 node(s) did not reach available" in caught.value.msg
    assert "creating node u-002" in caught.value.msg and "no-such-driver" in caught.value.msg
    assert caught.value.result["states"] == {"available": 2, "absent": 1}


def test_mac_of_another_node_is_refused_before_any_write():
    ironic = FakeIronic(nodes=[{"name": "other", "uuid": "uuid-other", "provision_state": "available"}],
                        ports=[{"address": "52:54:00:00:00:02", "node_uuid": "uuid-other"}])
    with pytest.raises(errors.BadInput) as caught:
        _enroll(ironic, _specs(2))
    assert "MAC 52:54:00:00:00:02 already belongs to node other" in caught.value.msg
    assert ironic.mutations() == []


def test_timeout_reports_stuck_node_with_the_injected_clock():
    ironic = FakeIronic(stuck={"u-001"})
    with pytest.raises(EnrollFailed) as caught:
        _enroll(ironic, _specs(2), timeout=30, poll_interval=5)
    assert [f["name"] for f in caught.value.result["failed_nodes"]] == ["u-001"]
    assert caught.value.result["states"] == {"verifying": 1, "available": 1}


def test_check_mode_sends_nothing():
    ironic = FakeIronic()
    result = _enroll(ironic, _specs(2), check_mode=True)
    assert result["changed"] and result["created"] == ["u-001", "u-002"] and ironic.mutations() == []


def test_newer_fields_ask_for_their_microversion():
    ironic = FakeIronic()
    specs = validate([{"name": "s1", "driver": "fake-hardware", "shard": "a"}])
    _enroll(ironic, specs)
    assert ironic.microversion == "1.82"
    assert "shard" in fleet.list_fields({"shard"}) and "shard" not in fleet.list_fields(set())


def test_bad_generator_is_bad_input():
    with pytest.raises(errors.BadInput) as caught:
        entries_from([], {"count": -1})
    assert "generate.count" in caught.value.msg
