# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_crosscheck as cc

HYP = cc.HYPERVISOR


def _server(sid, node, status="ACTIVE", name=None):
    return {"id": sid, "name": name or f"srv-{sid}", "status": status, HYP: node}


def _node(uuid, instance, state="active"):
    return {"uuid": uuid, "name": f"node-{uuid}", "provision_state": state, "instance_uuid": instance}


def _alloc(*rps):
    return {"allocations": {rp: {"generation": 3, "resources": {"CUSTOM_BAREMETAL": 1}} for rp in rps},
            "consumer_generation": 1, "project_id": "p", "user_id": "u"}


# -- check -----------------------------------------------------------------------------------
def test_consistent_server_has_no_violations():
    assert cc.check(_server("s1", "n1"), _node("n1", "s1"), _alloc("n1"), {"n1": {"s1"}}) == []


def test_unwrapped_allocations_are_read_too():
    assert cc.check(_server("s1", "n1"), _node("n1", "s1"), _alloc("n1")["allocations"], {}) == []


@pytest.mark.parametrize("server,node,alloc,consumers,rules", [
    (_server("s1", "n2"), _node("n1", "s1"), _alloc("n1"), {}, ["hypervisor_hostname"]),
    (_server("s1", None), _node("n1", "s1"), _alloc("n1"), {}, ["hypervisor_hostname"]),
    (_server("s1", "n1"), _node("n1", "s9"), _alloc("n1"), {}, ["node_instance"]),
    (_server("s1", "n1"), _node("n1", None), _alloc("n1"), {}, ["node_instance"]),
    (_server("s1", "n1"), _node("n1", "s1", "deploying"), _alloc("n1"), {}, ["node_active"]),
    (_server("s1", "n1"), _node("n1", "s1"), {"allocations": {}}, {}, ["allocation_missing"]),
    (_server("s1", "n1"), _node("n1", "s1"), None, {}, ["allocation_missing"]),
    (_server("s1", "n1"), _node("n1", "s1"), "junk", {}, ["allocation_missing"]),
    (_server("s1", "n1"), _node("n1", "s1"), _alloc("n1", "n2"), {}, ["allocation_elsewhere"]),
    (_server("s1", "n1"), _node("n1", "s1"), _alloc("n2"), {}, ["allocation_elsewhere"]),
    (_server("s1", "n1"), _node("n1", "s1"), _alloc("n1"), {"n1": {"s1", "s2"}}, ["provider_shared"]),
    (_server("s1", "n1"), None, _alloc("n1"), {"n1": {"s1", "s2"}}, ["node_missing", "provider_shared"]),
    # The founding race: Nova says ACTIVE on n1, Ironic gave n1 to s2, Placement has both on n1.
    (_server("s1", "n1"), _node("n1", "s2"), _alloc("n1"), {"n1": {"s1", "s2"}},
     ["node_instance", "provider_shared"]),
])
def test_each_rule(server, node, alloc, consumers, rules):
    assert [v.rule for v in cc.check(server, node, alloc, consumers)] == rules


def test_messages_name_the_objects():
    out = cc.check(_server("s1", "n1"), _node("n1", "s2"), _alloc("n1", "rp-x"), {"n1": {"s2", "s1"}})
    text = " | ".join(v.message for v in out)
    assert "node n1 holds instance s2, not server s1" in text
    assert "consumes providers rp-x" in text
    assert "resource provider n1 has 2 consumers: s1, s2" in text


def test_provider_with_one_or_no_consumer_is_fine():
    assert cc.check(_server("s1", "n1"), _node("n1", "s1"), _alloc("n1"), {"n1": set(), "n2": {"x"}}) == []
    assert cc.check(_server("s1", "n1"), _node("n1", "s1"), _alloc("n1"), None) == []


def test_violation_is_frozen():
    v = cc.Violation("r", "m")
    with pytest.raises(AttributeError):
        v.rule = "x"  # type: ignore[misc]


# -- fleet -----------------------------------------------------------------------------------
def test_fleet_all_good():
    servers = [_server("s1", "n1"), _server("s2", "n2")]
    nodes = {"n1": _node("n1", "s1"), "n2": _node("n2", "s2"), "n3": _node("n3", None, "available")}
    rows, violations = cc.fleet(servers, nodes, {"s1": _alloc("n1"), "s2": _alloc("n2")})
    assert violations == []
    assert rows[0] == {"name": "srv-s1", "server_id": "s1", "status": "ACTIVE", "node_name": "node-n1",
                       "node_uuid": "n1", "node_state": "active", "node_instance_uuid": "s1",
                       "allocation_providers": ["n1"], "ok": True}
    assert [r["ok"] for r in rows] == [True, True]


def test_fleet_node_holding_two_servers():
    servers = [_server("s1", "n1"), _server("s2", "n1")]
    rows, violations = cc.fleet(servers, {"n1": _node("n1", "s1")}, {"s1": _alloc("n1"), "s2": _alloc("n1")})
    rules = sorted(v.rule for v in violations)
    assert rules == ["node_shared", "provider_shared"]
    assert "node n1 is claimed by 2 servers: s1, s2" in [v.message for v in violations]
    assert [r["ok"] for r in rows] == [False, False]


def test_fleet_node_holding_a_foreign_instance_that_our_server_claims():
    rows, violations = cc.fleet([_server("s1", "n1")], {"n1": _node("n1", "foreign")}, {"s1": _alloc("n1")})
    assert [v.rule for v in violations] == ["node_shared"]
    assert rows[0]["ok"] is False


def test_fleet_server_on_no_node():
    servers = [_server("s1", None), _server("s2", "gone-node")]
    rows, violations = cc.fleet(servers, {}, {"s1": _alloc("n1"), "s2": _alloc("gone-node")})
    assert [v.rule for v in violations] == ["server_no_node", "server_no_node"]
    assert "no hypervisor_hostname" in violations[0].message and "gone-node" in violations[1].message
    assert rows[1]["node_name"] is None and rows[1]["node_uuid"] == "gone-node"
    assert not any(r["ok"] for r in rows)


def test_fleet_error_servers_are_rows_but_not_ok_and_not_violations():
    servers = [_server("s1", None, "ERROR"), _server("s2", None, "BUILD")]
    rows, violations = cc.fleet(servers, {}, {})
    assert violations == []
    got = [(r["status"], r["ok"], r["allocation_providers"]) for r in rows]
    assert got == [("ERROR", False, []), ("BUILD", False, [])]


def test_fleet_provider_with_two_consumers_marks_both():
    servers = [_server("s1", "n1"), _server("s2", "n2")]
    nodes = {"n1": _node("n1", "s1"), "n2": _node("n2", "s2")}
    rows, violations = cc.fleet(servers, nodes, {"s1": _alloc("n1"), "s2": _alloc("n2", "n1")})
    assert [v.rule for v in violations] == ["provider_shared"]
    assert [r["ok"] for r in rows] == [False, False]
    assert rows[1]["allocation_providers"] == ["n1", "n2"]


def test_fleet_row_fails_its_own_check():
    servers = [_server("s1", "n1")]
    rows, violations = cc.fleet(servers, {"n1": _node("n1", "s1", "deploy failed")}, {"s1": _alloc("n1")})
    assert violations == [] and rows[0]["ok"] is False


def test_fleet_empty_and_missing_allocations():
    assert cc.fleet([], {}, None) == ([], [])
    rows, _violations = cc.fleet([_server("s1", "n1")], {"n1": _node("n1", "s1")}, None)
    assert rows[0]["ok"] is False and rows[0]["allocation_providers"] == []
