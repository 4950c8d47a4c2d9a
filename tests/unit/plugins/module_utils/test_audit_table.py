# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

from ansible_collections.ironwave.baremetal.plugins.module_utils import audit_table


def test_clean_audit_renders_no_findings():
    assert audit_table.render([]) == ["no findings"]
    assert audit_table.summary({}) == "0 findings"


def test_rows_are_aligned_with_readable_ages_and_dashes_for_missing_cells():
    lines = audit_table.render([
        {"kind": "node_failed", "node": "n1", "server": None, "age_s": 7300, "action": "redeploy", "detail": "x"},
        {"kind": "orphan_node", "node": "node-22", "server": "", "age_s": 61, "action": "undeploy", "detail": "y" * 300},
    ])
    assert lines[0].split() == ["kind", "node", "server", "age", "action", "detail"]
    assert lines[2].split()[:5] == ["node_failed", "n1", "-", "2h01m", "redeploy"]
    assert lines[3].split()[3] == "61s" and lines[3].endswith("...")
    assert len({line.index("age") if "age" in line else None for line in lines[:1]}) == 1
    assert lines[2].index("redeploy") == lines[3].index("undeploy")


def test_summary_counts():
    assert audit_table.summary({"node_failed": 2, "orphan_node": 1}) == "3 findings: node_failed 2, orphan_node 1"
    assert audit_table.summary({"node_failed": 1}) == "1 finding: node_failed 1"
