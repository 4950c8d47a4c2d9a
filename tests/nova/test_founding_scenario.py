# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The founding scenario on a real Nova: 10 servers at once on exactly 10 Ironic nodes, Nova's
defaults (max_concurrent_builds 10, Placement's allocation_conflict_retry_count 10).

Ours (playbooks/nova_deploy.yml, deploy_limit 5) must put every server ACTIVE on a node of its own,
with Nova, Ironic and Placement agreeing, no node double-booked and no server duplicated. The
baseline - openstack.cloud.server for the 10 hosts at once, the scheduler choosing - is run on the
same pool and recorded (its failures are random: a count is printed and attached to the report,
never asserted). Every outcome is read from the services (tests/lib/ironwave_testlib/nova_scenarios.py).

Stack: the `local_nova` fixture; with IRONWAVE_NOVAREF_BASE set, a stack started by hand instead
(nova_scenarios.stack_from_env)."""
from __future__ import annotations

import json
import os

import pytest

from ironwave_testlib import nova_scenarios as ns

N = 10
DEPLOY_LIMIT = 5


@pytest.fixture(scope="module")
def nova_stack(request) -> ns.Stack:
    if os.environ.get("IRONWAVE_NOVAREF_BASE"):
        return ns.stack_from_env()
    return ns.stack_from_local_nova(request.getfixturevalue("local_nova"))


@pytest.fixture
def pool(nova_stack):
    """Exactly N usable nodes (the rest of the class in maintenance), no server, Placement settled."""
    conn = nova_stack.connect()
    names = nova_stack.ensure_nodes(N) if nova_stack.ensure_nodes is not None else None
    try:
        nodes = ns.pool_nodes(conn, nova_stack, N, names)
        ns.clean(conn, nova_stack, nodes)
        yield conn, nodes
    finally:
        ns.release_pool(conn)


def _summary(out: ns.Outcome) -> dict:
    return {k: getattr(out, k) for k in ("way", "rc", "wall_s", "span_s", "active", "error", "faults", "missing",
                                         "duplicated", "distinct_nodes", "double_booked", "conflicts_logged",
                                         "violations", "requests_per_server")}


def test_ten_servers_at_once_on_exactly_ten_nodes(nova_stack, pool, tmp_path, record_property):
    conn, nodes = pool
    ours = ns.run_scenario(nova_stack, conn, "ours", N, nodes, tmp_path / "ours", deploy_limit=DEPLOY_LIMIT)
    baseline = ns.run_scenario(nova_stack, conn, "all_at_once", N, nodes, tmp_path / "all_at_once")

    # Recorded, not asserted: how Nova's defaults fared this time.
    record_property("nova_founding_baseline", json.dumps(_summary(baseline)))
    record_property("nova_founding_ours", json.dumps(_summary(ours)))
    print(f"\nbaseline all at once: {baseline.error} ERROR, {baseline.active} ACTIVE, double-booked nodes "
          f"{baseline.double_booked or 'none'} ({baseline.conflicts_logged} conflict line(s) in nova-compute's log), "
          f"{baseline.wall_s} s; faults: {baseline.faults or 'none'}")
    print(f"ours (deploy_limit {DEPLOY_LIMIT}): {ours.active} ACTIVE on {ours.distinct_nodes} nodes, {ours.wall_s} s")

    log = open(ours.log, encoding="utf-8", errors="replace").read()[-6000:]  # noqa: SIM115 - read once
    assert ours.rc == 0, log
    assert (ours.active, ours.error, ours.missing) == (N, 0, 0), (ours.faults, log)
    assert ours.distinct_nodes == N, ours
    assert not ours.duplicated, ours.duplicated
    assert not ours.violations, ours.violations
    assert not ours.double_booked, (ours.double_booked, ours.conflicts_logged)
