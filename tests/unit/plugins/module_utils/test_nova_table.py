# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""nova_table.render: the server -> node -> allocation table, from nova_crosscheck.fleet rows."""
from __future__ import annotations

from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_crosscheck, nova_table

HYP = "OS-EXT-SRV-ATTR:hypervisor_hostname"


def row(**kw) -> dict:
    base = {"name": "web-1", "server_id": "s1", "status": "ACTIVE", "node_name": "n1", "node_uuid": "u1",
            "node_state": "active", "node_instance_uuid": "s1", "allocation_providers": ["u1"], "ok": True}
    return {**base, **kw}


def test_header_rule_and_aligned_columns():
    lines = nova_table.render([row(), row(name="database-22", server_id="s22", node_name="node-long",
                                          node_uuid="u22", node_instance_uuid="s22", allocation_providers=["u22"])])
    assert lines[0].startswith("server       status  node")
    assert set(lines[1].replace(" ", "")) == {"-"}
    # every column starts at the same offset on every line
    starts = [lines[0].index(title) for title in ("status", "node uuid", "allocation on", "ok")]
    for line in lines[2:]:
        assert [line[s - 2:s] for s in starts] == ["  "] * 4
    assert lines[2].split() == ["web-1", "ACTIVE", "n1", "u1", "active", "yes", "node", "ok"]
    assert all(line == line.rstrip() for line in lines)


def test_disagreements_are_spelled_out():
    lines = nova_table.render([row(node_instance_uuid="other", allocation_providers=["u1", "u9"], ok=False),
                               row(name="web-2", server_id="s2", status="ERROR", node_name=None, node_uuid=None,
                                   node_state=None, node_instance_uuid=None, allocation_providers=[], ok=False)])
    assert lines[2].split()[5:] == ["NO", "u1,u9", "VIOLATION"]
    assert lines[3].split() == ["web-2", "ERROR", "-", "-", "-", "NO", "none", "VIOLATION"]


def test_empty_fleet_is_the_header_only():
    lines = nova_table.render([])
    assert len(lines) == 2 and lines[0].startswith("server") and lines[1].startswith("------")


def test_rows_from_fleet_render_one_line_per_server():
    servers = [{"id": "s1", "name": "web-1", "status": "ACTIVE", HYP: "u1"},
               {"id": "s2", "name": "web-2", "status": "ACTIVE", HYP: "u1"}]
    nodes = {"u1": {"uuid": "u1", "name": "n1", "provision_state": "active", "instance_uuid": "s1"}}
    allocs = {"s1": {"u1": {}}, "s2": {"u1": {}}}
    rows, violations = nova_crosscheck.fleet(servers, nodes, allocs)
    lines = nova_table.render(rows)
    assert [line.split()[0] for line in lines[2:]] == ["web-1", "web-2"]
    assert [line.split()[-1] for line in lines[2:]] == ["VIOLATION", "VIOLATION"] and violations
