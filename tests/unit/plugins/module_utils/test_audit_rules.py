# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import datetime
import json
from dataclasses import replace

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import audit_rules as ar
from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, recovery_policy

NOW = ar.parse_time("2026-12-01T12:00:00Z")
HYP, HOST = ar.HYPERVISOR, ar.HOST


def ago(seconds):
    """An Ironic-style timestamp `seconds` before NOW."""
    return datetime.datetime.fromtimestamp(NOW - seconds, datetime.timezone.utc).isoformat()


def node(uuid="n1", state="active", age=10, instance="s1", **kw):
    return {"uuid": uuid, "name": f"node-{uuid}", "provision_state": state, "provision_updated_at": ago(age),
            "updated_at": ago(age), "reservation": None, "conductor": "c1", "conductor_group": "",
            "maintenance": False, "instance_uuid": instance, "power_state": "power on", "shard": None, **kw}


def server(sid="s1", on="n1", status="ACTIVE", task=None, age=10, host="cmp1"):
    return {"id": sid, "name": f"srv-{sid}", "status": status, "OS-EXT-STS:vm_state": status.lower(),
            "OS-EXT-STS:task_state": task, "updated": ago(age).replace("+00:00", "Z"), HOST: host, HYP: on}


def service(host="cmp1", state="up", forced_down=False):
    return {"binary": "nova-compute", "host": host, "state": state, "status": "enabled", "forced_down": forced_down}


def hyp(uuid="n1", host="cmp1", state="up"):
    return {"id": f"h-{uuid}-{host}", "hypervisor_hostname": uuid, "state": state, "status": "enabled",
            "service": {"host": host}}


def world(**kw):
    """One healthy node with its server, compute, hypervisor and allocation; kw replaces parts."""
    base = dict(nodes=[node()], now=NOW, conductors=[{"hostname": "c1", "alive": True, "conductor_group": ""}],
                ironic_allocations=[], servers=[server()], services=[service()], hypervisors=[hyp()],
                placement={"n1": {"s1": {"CUSTOM_BAREMETAL": 1}}})
    base.update(kw)
    return ar.Snapshot(**base)


def ironic_only(*nodes, **kw):
    return ar.Snapshot(nodes=list(nodes), now=NOW, conductors=kw.pop("conductors", [{"hostname": "c1", "alive": True}]),
                       **kw)


def kinds(snap, **kw):
    return [f.kind for f in ar.audit(snap, **kw)]


def test_a_healthy_world_has_no_findings():
    assert ar.audit(world()) == []
    assert ar.audit(ironic_only(node(instance=None), node("n2", "available", 99999, None))) == []


def test_kinds_and_policy_cover_the_same_names():
    assert set(ar.KINDS) == set(recovery_policy.KIND_ACTIONS)


DEAD = [{"hostname": "c1", "alive": True}, {"hostname": "c2", "alive": False}]
# Ironic on SQLite never refreshes heartbeats: after heartbeat_timeout every conductor is listed not
# alive. The one registered last serves the API; an older one was stopped without deregistering.
SQLITE = [{"hostname": "c1", "alive": False, "updated_at": ago(3000)},
          {"hostname": "c2", "alive": False, "updated_at": ago(9000)}]
# (case, snapshot, kind, expected present)
IRONIC_CASES = [
    ("stuck", ironic_only(node(state="deploying", age=1801)), "node_stuck", True),
    ("stuck near-miss", ironic_only(node(state="deploying", age=1799)), "node_stuck", False),
    ("wait", ironic_only(node(state="wait call-back", age=901)), "node_wait_expiring", True),
    ("wait near-miss", ironic_only(node(state="wait call-back", age=899)), "node_wait_expiring", False),
    ("clean wait", ironic_only(node(state="clean wait", age=901, instance=None)), "node_wait_expiring", True),
    ("held", ironic_only(node(state="deploy hold", age=3601)), "node_held", True),
    ("held near-miss", ironic_only(node(state="deploy hold", age=3599)), "node_held", False),
    ("dead lock", ironic_only(node(reservation="c2", age=241), conductors=DEAD), "node_locked_dead_conductor", True),
    ("unlisted lock", ironic_only(node(reservation="c9", age=241)), "node_locked_dead_conductor", True),
    ("fresh dead lock", ironic_only(node(reservation="c2", age=200), conductors=DEAD),
     "node_locked_dead_conductor", False),
    ("live lock", ironic_only(node(reservation="c1", age=9999)), "node_locked_dead_conductor", False),
    ("no conductor listing", ironic_only(node(reservation="c2", age=9999), conductors=[]),
     "node_locked_dead_conductor", False),
    ("sqlite: the newest conductor is alive", ironic_only(node(reservation="c1", age=9999), conductors=SQLITE),
     "node_locked_dead_conductor", False),
    ("sqlite: an older one is dead", ironic_only(node(reservation="c2", age=241), conductors=SQLITE),
     "node_locked_dead_conductor", True),
    ("none alive, no times: unknown", ironic_only(node(reservation="c1", age=9999),
                                                  conductors=[{"hostname": "c1", "alive": False}]),
     "node_locked_dead_conductor", False),
    ("failed", ironic_only(node(state="deploy failed", age=1)), "node_failed", True),
    ("failed no time", ironic_only(node(state="clean failed", provision_updated_at=None, updated_at=None)),
     "node_failed", True),
    ("active is not failed", ironic_only(node(age=999999)), "node_failed", False),
    ("allocation error", ironic_only(ironic_allocations=[{"uuid": "a1", "state": "error", "node_uuid": None}]),
     "allocation_stale", True),
    ("allocation no node", ironic_only(ironic_allocations=[{"uuid": "a1", "state": "allocating",
                                                            "created_at": ago(301)}]), "allocation_stale", True),
    ("allocation young", ironic_only(ironic_allocations=[{"uuid": "a1", "state": "allocating",
                                                          "created_at": ago(100)}]), "allocation_stale", False),
    ("allocation active", ironic_only(ironic_allocations=[{"uuid": "a1", "state": "active", "node_uuid": "n1",
                                                           "created_at": ago(9999)}]), "allocation_stale", False),
]
NOVA_CASES = [
    ("task", world(servers=[server(task="spawning", age=3601)]), "server_task_stuck", True),
    ("task near-miss", world(servers=[server(task="spawning", age=3599)]), "server_task_stuck", False),
    ("compute down", world(services=[service(state="down")]), "server_on_down_compute", True),
    ("compute forced down", world(services=[service(forced_down=True)]), "server_on_down_compute", True),
    ("compute gone", world(services=[service("cmp2")], hypervisors=[hyp(), hyp(host="cmp2")]),
     "server_on_down_compute", True),
    ("services unread", world(services=None), "server_on_down_compute", False),
    ("error on active node", world(servers=[server(status="ERROR")]), "server_error_node_active", True),
    ("error, node held elsewhere", world(nodes=[node(instance="s9")], servers=[server(status="ERROR")]),
     "server_error_node_active", False),
    ("error, node deploying", world(nodes=[node(state="deploying")], servers=[server(status="ERROR")]),
     "server_error_node_active", False),
    ("orphan", world(nodes=[node(instance="gone")], servers=[], placement={}), "orphan_node", True),
    ("orphan tearing down", world(nodes=[node(state="deleting", instance="gone")], servers=[], placement={}),
     "orphan_node", False),
    ("standalone deploy", world(nodes=[node(instance="a1")], servers=[], placement={},
                                ironic_allocations=[{"uuid": "a1", "state": "active", "node_uuid": "n1"}]),
     "orphan_node", False),
    ("mismatch state", world(nodes=[node(state="deploy failed")]), "server_node_mismatch", True),
    ("mismatch instance", world(nodes=[node(instance="s9")]), "server_node_mismatch", True),
    ("mismatch building", world(servers=[server(status="BUILD", task="spawning")], nodes=[node(state="deploying")]),
     "server_node_mismatch", False),
    ("two servers", world(servers=[server(), server("s2")], placement={"n1": {"s1": {}}, "x": {"s2": {}}}),
     "node_two_servers", True),
    ("wrong provider", world(nodes=[node(), node("n2", instance=None)], hypervisors=[hyp(), hyp("n2")],
                             placement={"n2": {"s1": {}}}), "allocation_wrong_provider", True),
    ("extra provider", world(placement={"n1": {"s1": {}}, "n2": {"s1": {}}}), "allocation_wrong_provider", True),
    ("two consumers", world(placement={"n1": {"s1": {}, "s9": {}}}), "provider_two_consumers", True),
    ("two consumers off-node", world(placement={"n1": {"s1": {}}, "libvirt": {"a": {}, "b": {}}}),
     "provider_two_consumers", False),
    ("no allocation", world(placement={}), "server_without_allocation", True),
    ("no allocation, building with host", world(placement={}, servers=[server(status="BUILD", task="spawning")]),
     "server_without_allocation", True),
    ("no allocation, scheduling", world(placement={}, servers=[server(status="BUILD", on=None, host=None,
                                                                      task="scheduling")]),
     "server_without_allocation", False),
    ("placement unread", world(placement=None), "server_without_allocation", False),
    ("unmanaged", world(hypervisors=[]), "node_unmanaged", True),
    ("unmanaged, compute down", world(hypervisors=[hyp(state="down")]), "node_unmanaged", True),
    ("unmanaged, service down", world(services=[service(state="down")]), "node_unmanaged", True),
    ("maintenance is deliberate", world(hypervisors=[], nodes=[node(maintenance=True)]), "node_unmanaged", False),
    ("hypervisors unread", world(hypervisors=None), "node_unmanaged", False),
    ("managed twice", world(hypervisors=[hyp(), hyp(host="cmp2")], services=[service(), service("cmp2")]),
     "node_managed_twice", True),
    ("one host twice", world(hypervisors=[hyp(), hyp()]), "node_managed_twice", False),
    ("shard unserved", world(nodes=[node(shard="s2")], compute_shards={"cmp1": "s1"}), "shard_without_compute", True),
    ("shard served", world(nodes=[node(shard="s1")], compute_shards={"cmp1": "s1"}), "shard_without_compute", False),
    ("unsharded compute", world(nodes=[node(shard="s2")], compute_shards={"cmp1": "s1", "cmp2": None}),
     "shard_without_compute", False),
    ("group unserved", world(nodes=[node(conductor_group="rack2")], compute_conductor_groups={"cmp1": "rack1"}),
     "conductor_group_without_compute", True),
    ("group served", world(nodes=[node(conductor_group="rack1")], compute_conductor_groups={"cmp1": "rack1"}),
     "conductor_group_without_compute", False),
]


@pytest.mark.parametrize("case,snap,kind,present", IRONIC_CASES + NOVA_CASES,
                         ids=[c[0] for c in IRONIC_CASES + NOVA_CASES])
def test_each_kind_and_its_near_miss(case, snap, kind, present):
    assert (kind in kinds(snap)) is present, (case, kinds(snap))


def test_every_kind_has_a_positive_case():
    assert {k for _label, _snap, k, present in IRONIC_CASES + NOVA_CASES if present} == set(ar.KINDS)


def test_nova_rules_need_servers():
    snap = ironic_only(node(instance="gone"), hypervisors=[], placement={})
    assert ar.audit(snap) == []


def test_servers_on_other_hypervisors_are_not_judged():
    snap = world(servers=[server(), server("vm1", on="libvirt-host", task="spawning", age=99999)])
    assert ar.audit(snap) == []


def test_wait_expiring_says_when_ironic_gives_up():
    [f] = ar.audit(ironic_only(node(state="wait call-back", age=1000)))
    assert f.evidence["ironic_times_out_in_s"] == pytest.approx(800, abs=1)
    assert f.age_s == pytest.approx(1000, abs=1) and f.node == "node-n1" and f.node_uuid == "n1"


def test_stuck_records_whether_its_conductor_lives():
    alive = ar.audit(ironic_only(node(state="cleaning", age=2000)))[0]
    dead = ar.audit(ironic_only(node(state="cleaning", age=2000, conductor="c2"), conductors=DEAD))[0]
    assert alive.evidence["conductor_alive"] is True and alive.action == "report_only"
    assert dead.evidence["conductor_alive"] is False and dead.action == "wait_takeover"


def test_age_falls_back_to_updated_at():
    [f] = ar.audit(ironic_only(node(state="clean hold", provision_updated_at=None, updated_at=ago(4000))))
    assert f.kind == "node_held" and f.age_s == pytest.approx(4000, abs=1)


def test_actions_come_from_the_policy():
    waiting = ironic_only(node(state="wait call-back", age=1000, deployed_by="me"))
    assert ar.audit(waiting)[0].action == "undeploy"
    assert ar.audit(waiting, ours=lambda n: n.get("deployed_by") == "me")[0].action == "redeploy"
    assert ar.audit(waiting, policy=recovery_policy.resolve_policy({"wait call-back": "report_only"}))[0].action \
        == "report_only"
    assert [f.action for f in ar.audit(world(servers=[server(status="ERROR")]))] == ["mark_server_active"]


def test_findings_sort_by_kind_then_node():
    snap = ironic_only(node("n3", "deploy failed"), node("n2", "wait call-back", 1000), node("n1", "deploy failed"))
    assert [(f.kind, f.node_uuid) for f in ar.audit(snap)] == [
        ("node_wait_expiring", "n2"), ("node_failed", "n1"), ("node_failed", "n3")]


def test_placement_in_its_wrapped_form_is_read():
    assert ar.audit(world(placement={"n1": {"allocations": {"s1": {"resources": {}}}}})) == []


@pytest.mark.parametrize("text,expected", [
    ("2026-12-01T12:00:00Z", NOW), ("2026-12-01T12:00:00+00:00", NOW), ("2026-12-01T13:00:00+01:00", NOW),
    ("2026-12-01T12:00:00", NOW), ("2026-12-01T12:00:00.500000+00:00", NOW + 0.5), (NOW, NOW),
    ("yesterday", None), ("", None), (None, None), (True, None),
])
def test_parse_time(text, expected):
    assert ar.parse_time(text) == expected


def test_rows_counts_and_select():
    findings = ar.audit(ironic_only(node("n1", "deploy failed"), node("n2", "deploy failed"),
                                    node("n3", "wait call-back", 1000)))
    assert ar.by_kind(findings) == {"node_wait_expiring": 1, "node_failed": 2}
    rows = ar.as_rows(findings)
    json.dumps(rows)
    assert {"kind", "node", "server", "age_s", "evidence", "action", "detail"} <= set(rows[0])
    assert rows[0]["age_s"] == pytest.approx(1000, abs=1)
    assert [f.node_uuid for f in ar.select(findings, ["node_failed"])] == ["n1", "n2"]
    assert ar.select(findings, None) == []
    with pytest.raises(errors.BadInput) as exc:
        ar.select(findings, ["node_failed", "nodes_stuck"])
    assert "fail_on" in exc.value.msg and "nodes_stuck" in exc.value.msg and "node_stuck" in exc.value.msg


def test_findings_are_immutable_values():
    [f] = ar.audit(ironic_only(node(state="deploy failed")))
    with pytest.raises(Exception):
        f.kind = "x"   # type: ignore[misc]
    assert replace(f, action="report_only").kind == "node_failed"
