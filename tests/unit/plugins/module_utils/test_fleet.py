# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import fleet


def _node(name="n1", **kw):
    entry = {"name": name, "driver": "fake-hardware"}
    entry.update(kw)
    return entry


def test_valid_fleet_is_normalised():
    specs = fleet.validate_fleet([_node(macs=["52-54-00-AA-BB-CC"], traits=["CUSTOM_B", "CUSTOM_A", "CUSTOM_A"],
                                        resource_class="baremetal")])
    assert specs[0].macs == ["52:54:00:aa:bb:cc"]
    assert specs[0].traits == ["CUSTOM_A", "CUSTOM_B"]
    assert specs[0].fields["resource_class"] == "baremetal"


def test_every_problem_reported_in_one_error():
    bad = [
        _node("a", colour="red"),                       # unknown field
        {"name": "b"},                                   # missing driver
        _node("c", resource_class="big nodes!"),         # bad resource_class
        _node("a"),                                      # duplicate name
        _node("d", macs=["52:54:00:00:00:01"]),
        _node("e", macs=["52:54:00:00:00:01"]),          # duplicate MAC
        _node("f", macs=["not-a-mac"]),
        _node("g", traits=["gpu"]),
        _node("h", properties={"memory_mb": -1}),
        "just-a-string",
        _node("123e4567-e89b-12d3-a456-426614174000"),   # name looks like a UUID
    ]
    with pytest.raises(fleet.FleetError) as err:
        fleet.validate_fleet(bad)
    text = str(err.value)
    assert "nothing was changed" in text
    for needle in ("unknown field(s) colour", "nodes[1] (b): driver is required", "resource_class 'big nodes!'",
                   "duplicate name", "duplicate MAC 52:54:00:00:00:01", "'not-a-mac' is not a MAC",
                   "invalid trait(s) ['gpu']", "properties.memory_mb", "nodes[9]: must be a mapping",
                   "must not look like a UUID"):
        assert needle in text, needle
    assert len(err.value.problems) == 10


def test_fleet_must_be_a_list():
    with pytest.raises(fleet.FleetError, match="must be a list"):
        fleet.validate_fleet({"name": "x"})


def test_port_entries_and_unknown_port_fields():
    specs = fleet.validate_fleet([_node(ports=[{"address": "52:54:00:00:00:02", "pxe_enabled": False}])])
    assert specs[0].ports == [{"address": "52:54:00:00:00:02", "pxe_enabled": False}]
    with pytest.raises(fleet.FleetError, match=r"ports\[0\] unknown field\(s\) vlan"):
        fleet.validate_fleet([_node(ports=[{"address": "52:54:00:00:00:02", "vlan": 5}])])


def test_generate_is_deterministic_and_unique():
    nodes = fleet.generate_fleet(300, name_prefix="demo-", conductor_groups=["g1", "g2"])
    assert nodes[0]["name"] == "demo-001" and nodes[-1]["name"] == "demo-300"
    assert len({n["macs"][0] for n in nodes}) == 300
    assert nodes[1]["conductor_group"] == "g2"
    assert fleet.validate_fleet(nodes)
    with pytest.raises(fleet.FleetError):
        fleet.generate_fleet(-1)


def test_patch_only_touches_given_fields_and_ignores_masked_secrets():
    spec = fleet.validate_fleet([_node(resource_class="rc2", driver_info={"ipmi_password": "s3cret", "ipmi_address": "1.2.3.4"},
                                       properties={"cpus": 4})])[0]
    current = {"driver": "fake-hardware", "resource_class": "rc1",
               "driver_info": {"ipmi_password": "******", "ipmi_address": "1.2.3.4"},
               "properties": {"cpus": 4, "memory_mb": 1}}
    ops = fleet.node_patch(spec, current)
    assert ops == [{"op": "replace", "path": "/resource_class", "value": "rc2"}]
    current["resource_class"] = "rc2"
    assert fleet.node_patch(spec, current) == []


def test_plan_create_update_ports_and_mac_conflicts():
    specs = fleet.validate_fleet([_node("new", macs=["52:54:00:00:00:0a"]),
                                  _node("old", macs=["52:54:00:00:00:0b", "52:54:00:00:00:0c"], traits=["CUSTOM_X"]),
                                  _node("clash", macs=["52:54:00:00:00:0d"])])
    existing = {"old": {"driver": "fake-hardware", "traits": []}, "clash": {"driver": "fake-hardware"}}
    owners = {"52:54:00:00:00:0b": "old", "52:54:00:00:00:0d": "someone-else"}
    plan = fleet.plan_enroll(specs, existing, owners)
    assert plan.create == ["new"]
    assert plan.traits == {"old": ["CUSTOM_X"]}
    assert plan.ports["old"] == [{"address": "52:54:00:00:00:0c"}]
    assert plan.conflicts == ["clash: MAC 52:54:00:00:00:0d already belongs to node someone-else"]


@pytest.mark.parametrize("state,target,expected", [
    ("enroll", "available", "manage"), ("manageable", "available", "provide"), ("available", "available", None),
    ("active", "available", None), ("cleaning", "available", None), ("enroll", "manageable", "manage"),
    ("available", "manageable", "manage"), ("manageable", "manageable", None),
])
def test_next_action(state, target, expected):
    assert fleet.next_action(state, target) == expected


@pytest.mark.parametrize("state,error,acted,expected", [
    ("available", None, True, "done"), ("cleaning", None, True, "wait"), ("enroll", "BMC unreachable", True, "failed"),
    ("enroll", None, False, "wait"), ("clean failed", "x", True, "failed"), ("active", None, True, "other"),
])
def test_enroll_outcome(state, error, acted, expected):
    assert fleet.enroll_outcome(state, "available", error, acted) == expected


def test_secret_keys():
    assert fleet.is_secret_key("ipmi_password") and fleet.is_secret_key("redfish_Password")
    assert fleet.is_secret_key("snmp_community") and not fleet.is_secret_key("ipmi_address")
