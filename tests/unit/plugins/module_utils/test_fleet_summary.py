# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

from ansible_collections.ironwave.baremetal.plugins.module_utils import fleet_summary as fs


NODES = [
    {"name": "demo-002", "uuid": "u2", "provision_state": "active", "resource_class": "bm", "conductor_group": ""},
    {"name": "demo-001", "uuid": "u1", "provision_state": "available", "resource_class": "bm", "conductor_group": "g1"},
    {"name": "other-1", "uuid": "u3", "provision_state": "deploy failed", "resource_class": "x", "conductor_group": None},
]


def test_filters():
    assert [n["name"] for n in fs.filter_nodes(NODES, name_prefix="demo-")] == ["demo-001", "demo-002"]
    assert [n["name"] for n in fs.filter_nodes(NODES, names=["u3"])] == ["other-1"]
    assert [n["name"] for n in fs.filter_nodes(NODES, conductor_group="")] == ["demo-002", "other-1"]
    assert [n["name"] for n in fs.filter_nodes(NODES, resource_class="x")] == ["other-1"]


def test_counts_ordered_and_table():
    counts = fs.state_counts(NODES)
    assert list(counts) == ["available", "active", "deploy failed"]
    table = fs.state_table(counts)
    lines = table.splitlines()
    assert lines[0].startswith("provision_state") and lines[-1].split() == ["total", "3"]
    assert "\x1b" not in table
