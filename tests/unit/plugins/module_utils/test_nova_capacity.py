# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_capacity as nc

RC = "CUSTOM_BAREMETAL"


def _node(uuid, **kw):
    node = {"uuid": uuid, "name": f"n-{uuid}", "resource_class": "baremetal", "provision_state": "available",
            "maintenance": False, "instance_uuid": None, "conductor_group": "", "shard": None, "extra": {}}
    node.update(kw)
    return node


def _prov(uuid, total=1, reserved=0, used=0, inventory=True):
    inv = {"total": total, "reserved": reserved, "min_unit": 1, "max_unit": 1, "step_size": 1,
           "allocation_ratio": 1.0} if inventory else None
    return {"uuid": uuid, "name": uuid, "inventory": inv, "used": used}


def _hyp(uuid, host="cmp-1", **kw):
    return {"id": f"cn-{uuid}", "hypervisor_hostname": uuid, "service": {"host": host, "id": 7}, **kw}


def _world(uuids, host="cmp-1"):
    return [_prov(u) for u in uuids], [_node(u) for u in uuids], [_hyp(u, host) for u in uuids]


# -- placement_class: nova.utils.normalize_rc_name -----------------------------------------
@pytest.mark.parametrize("name,expected", [
    ("baremetal", "CUSTOM_BAREMETAL"),
    ("bare-metal.gold", "CUSTOM_BARE_METAL_GOLD"),
    ("Large  Box", "CUSTOM_LARGE_BOX"),
    ("a__b", "CUSTOM_A_B"),            # runs, underscores included, collapse to one
    ("gpu-", "CUSTOM_GPU_"),
    ("CUSTOM_X", "CUSTOM_CUSTOM_X"),   # Nova does not detect an existing prefix
    ("ß", "CUSTOM__"),
])
def test_placement_class_matches_nova(name, expected):
    assert nc.placement_class(name) == expected


# -- flavor_resource_class -----------------------------------------------------------------
def test_flavor_resource_class_takes_the_one_custom_class():
    specs = {"resources:CUSTOM_BAREMETAL": "1", "resources:VCPU": "0", "resources:MEMORY_MB": "0",
             "resources:DISK_GB": "0", "trait:CUSTOM_RAID": "required", "resources:CUSTOM_OLD": "0"}
    assert nc.flavor_resource_class("bm", specs) == RC


@pytest.mark.parametrize("specs,words", [
    ({}, ["no custom resource class", "resources:CUSTOM_"]),
    (None, ["no custom resource class"]),
    ({"resources:VCPU": "0"}, ["no custom resource class"]),
    ({"resources:CUSTOM_A": "1", "resources:CUSTOM_B": "1"}, ["several", "resources:CUSTOM_A, resources:CUSTOM_B"]),
    ({"resources:CUSTOM_A": "2"}, ["resources:CUSTOM_A='2'", "set resources:CUSTOM_A=1"]),
    ({"resources:CUSTOM_A": "one"}, ["resources:CUSTOM_A='one'"]),
])
def test_flavor_resource_class_refuses_and_names_flavor_and_spec(specs, words):
    with pytest.raises(errors.BadInput) as exc:
        nc.flavor_resource_class("bm.gold", specs)
    assert "flavor bm.gold" in exc.value.msg
    for word in words:
        assert word in exc.value.msg
    assert exc.value.result["flavor"] == "bm.gold"


# -- capacity ------------------------------------------------------------------------------
def test_all_usable_when_every_service_agrees():
    provs, nodes, hyps = _world(["c", "a", "b"])
    cap = nc.capacity(RC, provs, nodes, hyps, {}, "run1")
    assert cap.usable == ("a", "b", "c")
    assert (cap.placement_free, cap.ironic_free) == (3, 3)
    assert cap.per_compute == {"cmp-1": 3}
    assert cap.per_conductor_group == {"": 3}
    assert cap.excluded == {}


def test_each_exclusion_reason_is_counted_once_per_node():
    uuids = [f"n{i}" for i in range(12)]
    provs, nodes, hyps = _world(uuids)
    nodes[0]["maintenance"] = True
    nodes[0]["provision_state"] = "manageable"       # maintenance wins: one reason per node
    nodes[1]["provision_state"] = "cleaning"
    nodes[2]["instance_uuid"] = "srv"
    nodes[3]["power_state"] = None
    provs = [p for p in provs if p["uuid"] != "n4"]  # not in Placement yet
    provs[4] = _prov("n5", inventory=False)          # provider without this class's inventory
    provs[5] = _prov("n6", reserved=1)               # Nova reserves nodes it deems unusable
    provs[6] = _prov("n7", used=1)                   # an allocation already holds it
    hyps = [h for h in hyps if h["hypervisor_hostname"] != "n8"]
    hyps[8]["status"] = "disabled"                   # n9
    hyps[9]["state"] = "down"                        # n10
    markers = {"n11": {"run": "other", "host": "h"}}
    cap = nc.capacity(RC, provs, nodes, hyps, markers, "run1")
    assert cap.usable == ()
    assert cap.excluded == {"maintenance": 1, "not_available:cleaning": 1, "has_instance": 1,
                            "bad_power_state": 1, "no_provider": 1, "no_inventory": 1, "provider_full": 2,
                            "no_compute_service": 1, "compute_service_disabled": 1,
                            "compute_service_down": 1, "picked_by_other_run": 1}
    assert cap.ironic_free == 9                       # n3..n11 are free in Ironic's eyes
    assert cap.placement_free == 8                    # n0..n3 (Placement lags Ironic) and n8..n11
    assert cap.per_compute == {"cmp-1": 0}


def test_power_state_is_checked_only_when_listed():
    provs, nodes, hyps = _world(["a", "b", "c"])
    nodes[0]["power_state"] = "power off"
    nodes[1]["power_state"] = "error"
    cap = nc.capacity(RC, provs, nodes, hyps, {}, "r")
    assert cap.usable == ("a", "c")
    assert cap.excluded == {"bad_power_state": 1}


def test_my_own_runs_markers_do_not_exclude():
    provs, nodes, hyps = _world(["a", "b"])
    markers = {"a": {"run": "run1", "host": "web-1"}, "b": {"run": "run2", "host": "db-1"}}
    cap = nc.capacity(RC, provs, nodes, hyps, markers, "run1")
    assert cap.usable == ("a",)
    assert cap.excluded == {"picked_by_other_run": 1}


def test_other_resource_classes_are_not_counted_at_all():
    provs, nodes, hyps = _world(["a", "b", "c"])
    nodes[1]["resource_class"] = "gpu"
    nodes[2]["resource_class"] = None
    cap = nc.capacity(RC, provs, nodes, hyps, {}, "r")
    assert cap.usable == ("a",)
    assert cap.excluded == {} and cap.ironic_free == 1
    assert nc.capacity("CUSTOM_BARE_METAL", *_world(["x"])[0:3], {}, "r").usable == ()
    dashed = [_node("x", resource_class="bare-metal")]
    assert nc.capacity("CUSTOM_BARE_METAL", [_prov("x")], dashed, [_hyp("x")], {}, "r").usable == ("x",)


def test_several_compute_services_and_conductor_groups():
    provs, nodes, hyps = _world(["a", "b", "c", "d", "e"])
    for h, host in zip(hyps, ["cmp-1", "cmp-1", "cmp-2", "cmp-2", "cmp-3"]):
        h["service"]["host"] = host
    for n, group in zip(nodes, ["", "", "rack2", "rack2", "rack3"]):
        n["conductor_group"] = group
    nodes[4]["maintenance"] = True
    nodes[3]["instance_uuid"] = "s"
    cap = nc.capacity(RC, provs, nodes, hyps, {}, "r")
    assert cap.per_compute == {"cmp-1": 2, "cmp-2": 1, "cmp-3": 0}
    assert cap.per_conductor_group == {"": 2, "rack2": 1, "rack3": 0}


def test_hypervisor_matched_by_id_when_hostname_missing_and_junk_tolerated():
    provs, nodes = _world(["a", "b", "c"])[:2]
    hyps = [{"id": "a", "service": {"host": "cmp-9"}}, {"hypervisor_hostname": "b", "service": None}, {}]
    cap = nc.capacity(RC, provs, nodes, hyps, None, "r")
    assert cap.usable == ("a", "b")
    assert cap.per_compute == {"(unknown host)": 1, "cmp-9": 1}
    assert cap.excluded == {"no_compute_service": 1}


def test_provider_free_uses_placement_arithmetic():
    assert nc.provider_free(_prov("a")) == 1
    assert nc.provider_free(_prov("a", reserved=1)) == 0
    assert nc.provider_free(_prov("a", used=1)) == 0
    assert nc.provider_free({"inventory": {"total": 4, "reserved": 0, "allocation_ratio": 2.0}, "used": 3}) == 5
    assert nc.provider_free({"inventory": None}) is None
    assert nc.provider_free({"inventory": {"total": "x"}}) is None
    # An over-allocated provider (used > capacity) counts as 0 free, never negative.
    cap = nc.capacity(RC, [_prov("a", used=2)], [_node("a")], [_hyp("a")], {}, "r")
    assert (cap.placement_free, cap.excluded) == (0, {"provider_full": 1})


def test_empty_inputs():
    cap = nc.capacity(RC, [], [], [], {}, "r")
    assert (cap.usable, cap.placement_free, cap.ironic_free, cap.excluded) == ((), 0, 0, {})


# -- check_request -------------------------------------------------------------------------
def test_check_request_passes_when_enough():
    cap = nc.capacity(RC, *_world(["a", "b"]), {}, "r")
    assert nc.check_request(cap, 2, "bm") is None
    assert nc.check_request(cap, 0, "bm") is None


def test_check_request_short_gives_numbers_reasons_and_fixes():
    provs, nodes, hyps = _world(["a", "b", "c", "d", "e"])
    hyps[3]["service"]["host"] = hyps[4]["service"]["host"] = "cmp-2"
    nodes[0]["maintenance"] = nodes[1]["maintenance"] = True
    markers = {"c": {"run": "other", "host": "x"}}
    cap = nc.capacity(RC, provs, nodes, hyps, markers, "r")
    with pytest.raises(errors.CapacityShort) as exc:
        nc.check_request(cap, 4, "bm.gold")
    err = exc.value
    assert err.kind == "capacity"
    for text in ("flavor bm.gold (CUSTOM_BAREMETAL)", "4 servers requested but 2 nodes usable",
                 "Placement free 5, Ironic free 3", "per compute service: cmp-1 0, cmp-2 2",
                 "excluded: maintenance 2, picked_by_other_run 1", "nothing was built",
                 "maintenance unset", "another run", "Placement and Ironic disagree", "at most 2 servers"):
        assert text in err.msg, text
    assert err.as_result()["error_kind"] == "capacity"
    assert err.result["usable"] == 2 and err.result["requested"] == 4
    assert err.result["excluded"] == {"maintenance": 2, "picked_by_other_run": 1}


def test_check_request_short_with_nothing_at_all():
    cap = nc.capacity(RC, [], [], [], {}, "r")
    with pytest.raises(errors.CapacityShort) as exc:
        nc.check_request(cap, 1, "bm")
    assert "excluded: none" in exc.value.msg and "per compute service: none" in exc.value.msg
    assert "disagree" not in exc.value.msg


def test_not_available_reason_advice_uses_its_prefix():
    provs, nodes, hyps = _world(["a"])
    nodes[0]["provision_state"] = "clean failed"
    cap = nc.capacity(RC, provs, nodes, hyps, {}, "r")
    with pytest.raises(errors.CapacityShort) as exc:
        nc.check_request(cap, 1, "bm")
    assert "not_available:clean failed 1" in exc.value.msg
    assert "bring nodes to available" in exc.value.msg


@pytest.mark.parametrize("requested", [None, "3", 2.0, True])
def test_check_request_refuses_a_non_integer_count(requested):
    cap = nc.capacity(RC, *_world(["a"]), {}, "r")
    with pytest.raises(errors.BadInput):
        nc.check_request(cap, requested, "bm")


def test_quota_allows_what_is_left_and_refuses_more_with_the_numbers():
    absolute = {"maxTotalInstances": 10, "totalInstancesUsed": 8}
    assert nc.quota_free(absolute) == 2
    nc.check_quota(absolute, 2)
    with pytest.raises(errors.CapacityShort) as info:
        nc.check_quota(absolute, 3)
    assert "allows 2 more" in info.value.msg and "quota set --instances" in info.value.msg
    assert info.value.result["quota_free"] == 2


def test_unlimited_or_unknown_quota_never_refuses():
    assert nc.quota_free({"maxTotalInstances": -1, "totalInstancesUsed": 50}) is None
    assert nc.quota_free({}) is None and nc.quota_free(None) is None
    nc.check_quota({"maxTotalInstances": -1, "totalInstancesUsed": 5}, 1000)


# -- build window: usable nodes x max_concurrent_builds per compute -----------------------------
@pytest.mark.parametrize(("per_compute", "max_builds", "expected"), [
    ({"c1": 5, "c2": 1}, 2, {"c1": 2, "c2": 1}),                    # the lower of the two per compute
    ({"c1": 5, "c2": 30}, 10, {"c1": 5, "c2": 10}),
    ({"c1": 5, "c2": 3}, 0, {"c1": 5, "c2": 3}),                    # 0: Nova's unlimited
    ({"c1": 5, "c2": 12}, {"c1": 1}, {"c1": 1, "c2": 10}),          # unlisted hosts: Nova's default 10
    ({"c1": 5}, "3", {"c1": 3}),                                    # an extra var arrives as a string
    ({"c1": 0}, 4, {"c1": 0}),
    ({}, 4, {}),
])
def test_build_window_per_compute(per_compute, max_builds, expected):
    assert nc.build_window(per_compute, max_builds) == expected


@pytest.mark.parametrize(("max_builds", "field"), [
    (-1, "max_concurrent_builds"),
    ("four", "max_concurrent_builds"),
    (True, "max_concurrent_builds"),
    ({"c9": -2}, "max_concurrent_builds[c9]"),                    # checked even for a host without nodes
    ({"c1": None}, "max_concurrent_builds[c1]"),
])
def test_build_window_refuses_bad_limits_naming_the_field(max_builds, field):
    with pytest.raises(errors.BadInput) as exc:
        nc.build_window({"c1": 2}, max_builds)
    assert exc.value.result["field"] == field
    assert "0 = unlimited" in exc.value.msg
