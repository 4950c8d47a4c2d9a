# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Unit tests of shard_plan: grouping, size cap, stability, refusals, compute assignment, validation."""
from __future__ import annotations

import json
import random

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import shard_plan as sp


def node(uuid: str, group: str = "", rc: str = "baremetal", shard: str | None = None, **extra) -> dict:
    return {"uuid": uuid, "name": f"name-{uuid}", "conductor_group": group, "resource_class": rc,
            "shard": shard, "instance_uuid": None, "provision_state": "available", **extra}


def many(prefix: str, count: int, **kw) -> list[dict]:
    return [node(f"{prefix}{i:04d}", **kw) for i in range(count)]


def applied(nodes: list[dict], plan: sp.ShardPlan) -> list[dict]:
    """The nodes after the operator wrote the plan's changes to Ironic."""
    new = {u: s for u, _old, s in plan.changes()}
    return [{**n, "shard": new.get(n["uuid"], n["shard"])} for n in nodes]


@pytest.mark.parametrize("nodes, expected", [
    # one group/class -> one shard
    (many("a", 3), {"default-baremetal-1": ("", "baremetal", 3)}),
    # conductor groups split
    (many("a", 2) + many("b", 2, group="rack1"),
     {"default-baremetal-1": ("", "baremetal", 2), "rack1-baremetal-1": ("rack1", "baremetal", 2)}),
    # resource classes split within a group
    (many("a", 1, rc="bm.large") + many("b", 2, rc="bm.small"),
     {"default-bm.large-1": ("", "bm.large", 1), "default-bm.small-1": ("", "bm.small", 2)}),
    # group and class together; an unset group and class read 'default' and 'none'
    (many("a", 1, group="r1", rc="gpu") + many("b", 1, group="r2", rc="gpu") + [node("c", group=None, rc=None)],
     {"r1-gpu-1": ("r1", "gpu", 1), "r2-gpu-1": ("r2", "gpu", 1), "default-none-1": ("", "", 1)}),
])
def test_grouping_by_conductor_group_and_resource_class(nodes, expected):
    plan = sp.plan(nodes)
    got = {s.name: (s.conductor_group, s.resource_class, s.size) for s in plan.shards.values()}
    assert got == expected
    for n in nodes:  # every node sits in a shard of its own group/class
        shard = plan.shards[plan.nodes[n["uuid"]].shard]
        assert (shard.conductor_group, shard.resource_class) == (n["conductor_group"] or "", n["resource_class"] or "")


@pytest.mark.parametrize("group, rc, prefix", [
    ("", "baremetal", "default-baremetal"),
    (None, None, "default-none"),
    ("Rack 1", "CUSTOM_BM/Large", "rack-1-custom_bm-large"),
    ("", "bm.gold", "default-bm.gold"),
])
def test_shard_prefix_is_readable_and_config_safe(group, rc, prefix):
    assert sp.shard_prefix(group, rc) == prefix


@pytest.mark.parametrize("count, max_size, sizes", [
    (1, 300, [1]),
    (300, 300, [300]),
    (301, 300, [151, 150]),  # balanced: both computes get room to grow
    (600, 300, [300, 300]),
    (7, 3, [3, 2, 2]),
])
def test_size_cap_splits_new_nodes_into_balanced_shards(count, max_size, sizes):
    plan = sp.plan(many("n", count), max_size=max_size)
    assert [s.size for s in plan.shards.values()] == sizes
    assert all(s.size <= max_size for s in plan.shards.values())
    assert list(plan.shards) == [f"default-baremetal-{k}" for k in range(1, len(sizes) + 1)]


def test_default_max_size_is_300():
    assert sp.DEFAULT_MAX_SIZE == 300
    assert sp.plan(many("n", 301)).max_size == 300
    assert len(sp.plan(many("n", 301)).shards) == 2


def test_new_nodes_fill_existing_shards_by_name_then_uuid():
    nodes = (many("a", 2, shard="zz") + many("b", 2, shard="aa") + many("c", 1, group="g", shard="gg")
             + [node("new3"), node("new1"), node("new2")])
    plan = sp.plan(nodes, max_size=3)
    # 'aa' (first by name) takes new1 (first by uuid); 'zz' takes new2; new3 needs a new shard
    assert plan.changes() == [("new1", None, "aa"), ("new2", None, "zz"), ("new3", None, "default-baremetal-1")]
    assert {s.name: s.size for s in plan.shards.values()} == {"aa": 3, "zz": 3, "gg": 1, "default-baremetal-1": 1}
    assert sorted(plan.unchanged) == sorted(n["uuid"] for n in nodes[:5])


def test_new_shard_names_skip_names_in_use():
    nodes = many("a", 2, shard="default-baremetal-1") + many("b", 3)
    plan = sp.plan(nodes, max_size=2, existing={"default-baremetal-2": "cx"})
    assert plan.shards["default-baremetal-3"].size == 2
    assert plan.shards["default-baremetal-4"].size == 1


def test_oversize_existing_shard_is_reported_not_split():
    nodes = many("a", 5, shard="big") + many("b", 2)
    plan = sp.plan(nodes, max_size=3)
    assert plan.shards["big"].size == 5 and plan.shards["big"].oversize
    assert plan.oversize == ["big"]
    assert all(plan.nodes[n["uuid"]].shard == "big" and not plan.nodes[n["uuid"]].changes for n in nodes[:5])
    assert {s for _uuid, _old, s in plan.changes()} == {"default-baremetal-1"}
    assert any("big" in n and "not split" in n for n in plan.notes)


def test_stability_when_nodes_are_added():
    first_nodes = many("a", 250) + many("b", 40, group="rack1") + many("c", 10, rc="gpu")
    first = sp.plan(first_nodes, computes=["c1", "c2", "c3", "c4", "c5"], max_size=100)
    assert not first.refused and not first.unassigned
    # the operator applies the shards and starts the computes; they now manage their nodes
    nodes = applied(first_nodes, first)
    managed = {u: first.shards[n.shard].compute for u, n in first.nodes.items()}
    existing = {name: s.compute for name, s in first.shards.items()}
    grown = nodes + many("d", 130) + many("e", 5, rc="gpu") + many("f", 70, group="rack1")
    random.Random(7).shuffle(grown)
    second = sp.plan(grown, managed=managed, computes=["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8"],
                     max_size=100, existing=existing)
    for n in nodes:  # no existing node moves, no existing shard changes compute
        got = second.nodes[n["uuid"]]
        assert got.shard == n["shard"] and not got.changes and not got.refused
    assert all(second.shards[name].compute == host for name, host in existing.items())
    assert not second.refused
    assert sorted(u for u, _old, _new in second.changes()) == sorted(n["uuid"] for n in grown if not n["shard"])
    assert all(s.size <= 100 for s in second.shards.values())
    # the 130 new default nodes first fill the 3 existing default shards (84+83+83: room 50), then one new
    default = {k: s.size for k, s in second.shards.items() if k.startswith("default-baremetal")}
    assert default == {"default-baremetal-1": 100, "default-baremetal-2": 100, "default-baremetal-3": 100,
                       "default-baremetal-4": 80}
    assert not second.unassigned and second.shards["default-baremetal-4"].compute == "c6"


def test_stability_without_existing_mapping_infers_computes_from_managed():
    first_nodes = many("a", 6)
    first = sp.plan(first_nodes, computes=["c2", "c1"], max_size=3)
    nodes = applied(first_nodes, first)
    managed = {u: first.shards[n.shard].compute for u, n in first.nodes.items()}
    second = sp.plan(nodes + many("b", 1), managed=managed, computes=["c1", "c2", "c3"], max_size=3)
    assert {k: s.compute for k, s in second.shards.items()} == {
        "default-baremetal-1": "c1", "default-baremetal-2": "c2", "default-baremetal-3": "c3"}
    assert second.changes() == [("b0000", None, "default-baremetal-3")]


def test_managed_unsharded_node_is_refused_with_the_move_procedure():
    nodes = [node("n1", instance_uuid="inst-1"), node("n2")]
    plan = sp.plan(nodes, managed={"n1": "old-compute", "n2": "old-compute"}, computes=["new-compute"])
    assert [r.uuid for r in plan.refused] == ["n1", "n2"]
    r = plan.refused[0]
    assert (r.source_host, r.destination_host, r.shard, r.old_shard) == (
        "old-compute", "new-compute", "default-baremetal-1", None)
    assert ("nova-manage db ironic_compute_node_move --ironic-node-uuid n1 --destination-host new-compute"
            in r.message)
    assert "force it down" in r.message and "more than one instance" in r.message and "inst-1" in r.message
    assert plan.changes() == []
    assert not plan.nodes["n1"].changes and plan.nodes["n1"].refused
    assert plan.nodes["n1"].shard == "default-baremetal-1" and plan.nodes["n1"].old_shard is None


def test_refused_without_a_compute_says_one_must_be_added():
    plan = sp.plan([node("n1")], managed={"n1": "ring-compute"})
    (r,) = plan.refused
    assert r.destination_host is None
    assert "--destination-host <the nova-compute for shard default-baremetal-1" in r.message
    assert plan.unassigned == ["default-baremetal-1"]


def test_managed_node_stays_with_its_compute_when_that_compute_takes_the_shard():
    # migration from the hash ring: each ring compute becomes one shard's compute, no move needed
    nodes = many("a", 4) + many("b", 4)
    managed = {**{n["uuid"]: "ring-2" for n in nodes[:4]}, **{n["uuid"]: "ring-1" for n in nodes[4:]}}
    plan = sp.plan(nodes, managed=managed, computes=["ring-1", "ring-2"], max_size=4)
    assert not plan.refused
    for n in nodes:
        assert plan.shards[plan.nodes[n["uuid"]].shard].compute == managed[n["uuid"]]
    assert len(plan.changes()) == 8


def test_uneven_hash_ring_split_becomes_the_shard_split_and_unmanaged_nodes_fill_room():
    # 6 nodes on ring-1, 3 on ring-2, 2 that nobody manages yet (just enrolled), cap 300: one shard
    # per ring compute, nothing refused; the two new nodes go to the smaller shard.
    nodes = many("a", 6) + many("b", 3) + many("c", 2)
    managed = {**{n["uuid"]: "ring-1" for n in nodes[:6]}, **{n["uuid"]: "ring-2" for n in nodes[6:9]}}
    plan = sp.plan(nodes, managed=managed, computes=["ring-1", "ring-2"])
    assert not plan.refused and not plan.unassigned
    for n in nodes[:9]:
        assert plan.shards[plan.nodes[n["uuid"]].shard].compute == managed[n["uuid"]]
    ring2 = plan.computes["ring-2"]["ironic"]["shard"]
    assert {plan.nodes[n["uuid"]].shard for n in nodes[9:]} == {ring2}
    assert sorted(s.size for s in plan.shards.values()) == [5, 6]
    assert len(plan.changes()) == 11


def test_managed_node_prefers_the_existing_shard_of_its_compute():
    nodes = many("a", 1, shard="s-a") + many("z", 1, shard="s-z") + [node("new")]
    plan = sp.plan(nodes, managed={"new": "cz"}, existing={"s-a": "ca", "s-z": "cz"}, max_size=5)
    assert plan.changes() == [("new", None, "s-z")]  # not 's-a', although first by name
    assert not plan.refused


@pytest.mark.parametrize("nodes, computes, existing, expected", [
    # new shards go to computes without a shard, by host name
    (many("a", 2) + many("b", 2, group="rack1"), ["z-host", "a-host"], None,
     {"a-host": {"ironic": {"shard": "default-baremetal-1"}},
      "z-host": {"ironic": {"shard": "rack1-baremetal-1", "conductor_group": "rack1"}}}),
    # a compute that already has a shard never gets a second one
    (many("a", 1, shard="s1") + many("b", 1, rc="gpu"), ["c1", "c2"], {"s1": "c1"},
     {"c1": {"ironic": {"shard": "s1"}}, "c2": {"ironic": {"shard": "default-gpu-1"}}}),
    # existing shard in a conductor group keeps its compute and gets the group filter
    (many("a", 1, group="g", shard="s1"), [], {"s1": "c9"},
     {"c9": {"ironic": {"shard": "s1", "conductor_group": "g"}}}),
])
def test_compute_assignment_and_nova_conf_settings(nodes, computes, existing, expected):
    plan = sp.plan(nodes, computes=computes, existing=existing)
    assert plan.computes == expected
    assert plan.unassigned == []
    hosts = [s.compute for s in plan.shards.values()]
    assert len(hosts) == len(set(hosts))  # at most one nova-compute per shard, one shard per compute


def test_spare_computes_are_listed_idle_and_get_an_empty_shard_of_their_own():
    # Left unsharded, an idle compute would hash nodes of the sharded computes to itself.
    plan = sp.plan(many("a", 1), computes=["c3", "c1", "c2"])
    assert plan.computes == {"c1": {"ironic": {"shard": "default-baremetal-1"}},
                             "c2": {"ironic": {"shard": "spare-c2-1"}},
                             "c3": {"ironic": {"shard": "spare-c3-1"}}}
    assert plan.idle_computes == ["c2", "c3"]
    assert any("empty shard" in n for n in plan.notes)
    assert [n.shard for n in plan.nodes.values()] == ["default-baremetal-1"]


def test_a_configured_spare_shard_is_kept_and_the_compute_is_not_idle():
    plan = sp.plan(many("a", 1), computes=["c1", "c2"], existing={"spare-c2-1": "c2"})
    assert plan.computes["c2"] == {"ironic": {"shard": "spare-c2-1"}}
    assert plan.idle_computes == []


def test_more_shards_than_computes_leaves_shards_unassigned():
    plan = sp.plan(many("a", 5) + many("b", 2, group="g"), computes=["c1"], max_size=2)
    assert len(plan.shards) == 4
    assert plan.computes == {"c1": {"ironic": {"shard": "default-baremetal-1"}}}
    assert plan.unassigned == ["default-baremetal-2", "default-baremetal-3", "g-baremetal-1"]
    assert any("add that many compute hosts" in n for n in plan.notes)


def test_existing_unassigned_shards_get_computes_before_new_ones():
    plan = sp.plan(many("a", 1, shard="zzz") + many("b", 1, rc="gpu"), computes=["c1"])
    assert plan.shards["zzz"].compute == "c1"
    assert plan.unassigned == ["default-gpu-1"]


def test_existing_shard_compute_is_inferred_from_managed_nodes():
    nodes = many("a", 3, shard="s1")
    managed = {"a0000": "h2", "a0001": "h2", "a0002": "h1"}
    plan = sp.plan(nodes, managed=managed)
    assert plan.shards["s1"].compute == "h2"  # the host managing most of its nodes
    assert plan.computes == {"h2": {"ironic": {"shard": "s1"}}}
    assert any("several computes" in n for n in plan.notes)
    assert any("a0002" in n and "ironic_compute_node_move" in n for n in plan.notes)


def test_mixed_existing_shard_gets_no_conductor_group_filter_and_no_new_nodes():
    nodes = [node("a", group="g1", shard="mix"), node("b", group="g2", shard="mix"), node("c", group="g1")]
    plan = sp.plan(nodes, existing={"mix": "c1"}, computes=["c2"])
    assert plan.shards["mix"].conductor_group is None
    assert plan.computes["c1"] == {"ironic": {"shard": "mix"}}
    assert plan.changes() == [("c", None, "g1-baremetal-1")]
    assert any("mixes" in n for n in plan.notes)


def test_output_is_deterministic_whatever_the_input_order():
    nodes = (many("a", 23) + many("b", 9, group="g") + many("c", 4, rc="gpu") + many("d", 6, shard="old")
             + many("e", 3, shard="old2", group="g"))
    managed = {f"a{i:04d}": "m1" for i in range(5)}
    managed.update({"b0001": "c3", "d0002": "m2"})
    computes = ["c1", "c2", "c3", "c4"]
    reference = json.dumps(sp.plan(nodes, managed=managed, computes=computes, max_size=10).as_dict())
    rng = random.Random(42)
    for _round in range(5):
        shuffled = nodes[:]
        rng.shuffle(shuffled)
        items = list(managed.items())
        rng.shuffle(items)
        hosts = computes[:]
        rng.shuffle(hosts)
        got = sp.plan(shuffled, managed=dict(items), computes=hosts, max_size=10).as_dict()
        assert json.dumps(got) == reference


def test_as_dict_is_json_ready():
    plan = sp.plan(many("a", 2) + [node("x", rc="gpu", shard="s")], managed={"a0000": "h"}, computes=["c1"],
                   existing={"s": "cs"})
    data = json.loads(json.dumps(plan.as_dict()))
    assert data["nodes"]["x"]["shard"] == "s"
    assert data["changes"] == [["a0001", None, "default-baremetal-1"]]
    assert data["refused"][0]["uuid"] == "a0000"
    assert data["computes"]["c1"] == {"ironic": {"shard": "default-baremetal-1"}}
    assert data["unchanged"] == ["x"]


@pytest.mark.parametrize("kwargs, field, words", [
    ({"nodes": many("a", 1), "max_size": 0}, "max_size", "max_size must be an integer >= 1"),
    ({"nodes": many("a", 1), "max_size": -5}, "max_size", "max_size"),
    ({"nodes": many("a", 1), "max_size": True}, "max_size", "max_size"),
    ({"nodes": many("a", 1), "max_size": "300"}, "max_size", "max_size"),
    ({"nodes": [node("a"), node("b"), node("a")]}, "nodes[2].uuid", "uuid a twice"),
    ({"nodes": [node("a"), {"name": "no-uuid"}]}, "nodes[1].uuid", "has no uuid"),
    ({"nodes": [{"uuid": "  "}]}, "nodes[0].uuid", "has no uuid"),
    ({"nodes": [node("a"), "b"]}, "nodes[1]", "not a dict"),
    ({"nodes": "abc"}, "nodes", "list of Ironic node dicts"),
    ({"nodes": None}, "nodes", "list of Ironic node dicts"),
    ({"nodes": many("a", 1), "managed": {"a0000": ""}}, "managed[a0000]", "compute host"),
    ({"nodes": many("a", 1), "computes": ["c1", ""]}, "computes[1]", "host names"),
    ({"nodes": many("a", 1), "computes": "c1"}, "computes", "list"),
    ({"nodes": many("a", 1), "existing": {"s1": "h", "s2": "h"}}, "existing", "one [ironic] shard"),
    ({"nodes": many("a", 1), "existing": {"s1": None}}, "existing", "shard name -> compute host"),
])
def test_validation_errors_name_the_field_and_fix(kwargs, field, words):
    with pytest.raises(errors.BadInput) as exc:
        sp.plan(**kwargs)
    assert exc.value.result["field"] == field
    assert words in exc.value.msg


def test_empty_fleet_plans_nothing():
    plan = sp.plan([], computes=["c1"])
    assert plan.shards == {} and plan.changes() == [] and plan.idle_computes == ["c1"]
