# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""The inventory plugin's rules: group names, filters, masking, host planning (pure)."""
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import inventory_rules as ir


def _node(**fields) -> dict:
    base = {"uuid": "u-1", "name": "n1", "provision_state": "available", "resource_class": "baremetal",
            "conductor_group": "", "shard": None, "traits": [], "maintenance": False,
            "driver_info": {}, "instance_info": {}, "links": [{"href": "x"}]}
    base.update(fields)
    return base


# -- names ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, safe", [
    ("wait call-back", "wait_call_back"), ("CUSTOM_GPU", "custom_gpu"), ("rack-1.a", "rack_1_a"),
    ("--x--", "x"), ("baremetal", "baremetal"), (42, "42"),
])
def test_sanitize(raw, safe):
    assert ir.sanitize(raw) == safe


def test_group_name_per_kind():
    assert ir.group_name("provision_state", "clean wait") == "ironic_state_clean_wait"
    assert ir.group_name("resource_class", "Baremetal") == "ironic_rc_baremetal"
    assert ir.group_name("conductor_group", "rack1") == "ironic_group_rack1"
    assert ir.group_name("shard", "s-1") == "ironic_shard_s_1"
    assert ir.group_name("traits", "CUSTOM_GPU") == "ironic_trait_custom_gpu"
    assert ir.group_name("compute_host", "compute-1.example") == "ironic_compute_compute_1_example"
    assert ir.group_name("maintenance", True) == "ironic_maintenance"


@pytest.mark.parametrize("kind, value", [("maintenance", False), ("conductor_group", ""), ("shard", None),
                                         ("resource_class", None), ("traits", "---")])
def test_empty_values_give_no_group(kind, value):
    assert ir.group_name(kind, value) is None


def test_unknown_group_kind_is_bad_input():
    with pytest.raises(errors.BadInput, match="group_by"):
        ir.group_name("colour", "red")
    with pytest.raises(errors.BadInput, match="colour"):
        ir.node_groups(_node(), ["provision_state", "colour"])


def test_node_groups_all_kinds_in_order_without_duplicates():
    node = _node(provision_state="manageable", conductor_group="rack1", shard="s1", maintenance=True,
                 traits=["CUSTOM_GPU", "custom-gpu", "HW_CPU_X86_VMX"])
    groups = ir.node_groups(node, ir.GROUP_KINDS, compute_host="cmp1")
    assert groups == ["ironic_state_manageable", "ironic_rc_baremetal", "ironic_group_rack1", "ironic_shard_s1",
                      "ironic_trait_custom_gpu", "ironic_trait_hw_cpu_x86_vmx", "ironic_maintenance",
                      "ironic_compute_cmp1"]


def test_node_groups_only_the_kinds_asked():
    node = _node(traits=["CUSTOM_A"], maintenance=True)
    assert ir.node_groups(node, ["traits"]) == ["ironic_trait_custom_a"]
    assert ir.node_groups(node, []) == []
    # the default group, no shard: no group of those kinds
    assert ir.node_groups(node) == ["ironic_state_available", "ironic_rc_baremetal", "ironic_trait_custom_a",
                                    "ironic_maintenance"]


def test_host_name_falls_back_to_uuid():
    assert ir.host_name(_node()) == "n1"
    assert ir.host_name(_node(name=None)) == "u-1"
    assert ir.host_name(_node(name="")) == "u-1"


# -- masking -------------------------------------------------------------------------------------
def test_mask_driver_and_instance_info_secrets_only():
    node = _node(driver_info={"redfish_password": "p", "redfish_username": "admin", "ipmi_kg": "kg",
                              "snmp_community": "c", "deploy_kernel": "k-img", "deploy_ramdisk": "r-img",
                              "ssh_key_contents": "PRIVATE", "nested": {"auth_token": "t", "port": 623}},
                 instance_info={"image_source": "http://img", "configdrive_secret": "s", "kernel": "kk",
                                "empty_password": ""},
                 driver_internal_info={"agent_secret_token": "ast", "agent_url": "http://a"},
                 extra={"password": "extra-is-not-masked"})
    masked = ir.mask_node(node)
    assert masked["driver_info"] == {"redfish_password": ir.MASK, "redfish_username": "admin", "ipmi_kg": ir.MASK,
                                     "snmp_community": ir.MASK, "deploy_kernel": "k-img", "deploy_ramdisk": "r-img",
                                     "ssh_key_contents": ir.MASK, "nested": {"auth_token": ir.MASK, "port": 623}}
    assert masked["instance_info"] == {"image_source": "http://img", "configdrive_secret": ir.MASK,
                                       "kernel": "kk", "empty_password": ""}
    assert masked["driver_internal_info"] == {"agent_secret_token": ir.MASK, "agent_url": "http://a"}
    assert masked["extra"] == {"password": "extra-is-not-masked"}
    assert node["driver_info"]["redfish_password"] == "p", "the input is not changed"


def test_mask_whole_value_under_secret_key():
    assert ir.mask_secrets({"secrets": {"a": "1"}, "list": [{"token": "t"}]}) == {
        "secrets": ir.MASK, "list": [{"token": ir.MASK}]}


def test_host_vars_prefixed_without_links():
    hv = ir.host_vars(_node(), "ironic_")
    assert hv["ironic_uuid"] == "u-1" and hv["ironic_provision_state"] == "available"
    assert "ironic_links" not in hv
    assert ir.host_vars({"uuid": "x"}, "bm_") == {"bm_uuid": "x"}


# -- filters -------------------------------------------------------------------------------------
def test_filter_by_resource_class_and_state():
    f = ir.NodeFilter.build(["gpu", "baremetal"], ["available"])
    assert f.matches(_node())
    assert not f.matches(_node(resource_class="other"))
    assert not f.matches(_node(provision_state="active"))
    assert ir.NodeFilter.build().matches(_node(resource_class=None))


@pytest.mark.parametrize("bad", ["baremetal", [""], [1]])
def test_filter_lists_must_be_string_lists(bad):
    with pytest.raises(errors.BadInput, match="resource_class"):
        ir.NodeFilter.build(bad)


def test_jmespath_filter():
    pytest.importorskip("jmespath")
    f = ir.NodeFilter.build(expression="maintenance == `false` && contains(traits, 'CUSTOM_GPU')")
    assert f.matches(_node(traits=["CUSTOM_GPU"]))
    assert not f.matches(_node(traits=["CUSTOM_GPU"], maintenance=True))
    assert not f.matches(_node(traits=[]))


def test_jmespath_filter_invalid_is_bad_input():
    pytest.importorskip("jmespath")
    with pytest.raises(errors.BadInput, match="filter: .*not a valid JMESPath"):
        ir.NodeFilter.build(expression="traits[?")


def test_jmespath_missing_is_bad_input(monkeypatch):
    monkeypatch.setattr(ir, "HAS_JMESPATH", False)
    with pytest.raises(errors.BadInput, match="jmespath"):
        ir.compile_filter("name")
    assert ir.compile_filter("") is None


# -- compute hosts and planning -----------------------------------------------------------------
def test_compute_hosts_by_node():
    hyps = [{"hypervisor_hostname": "u-1", "service": {"host": "cmp1"}},
            {"hypervisor_hostname": "u-2", "service": {}},
            {"hypervisor_hostname": None, "service": {"host": "cmp2"}}]
    assert ir.compute_hosts_by_node(hyps) == {"u-1": "cmp1"}


def test_plan_hosts_filters_masks_groups_and_sorts():
    nodes = [_node(uuid="u-2", name="b", driver_info={"ipmi_password": "pw"}),
             _node(uuid="u-1", name=None, provision_state="active"),
             _node(uuid="u-3", name="a", resource_class="gpu")]
    hosts = ir.plan_hosts(nodes, ir.NodeFilter.build(["baremetal"]), compute_hosts={"u-1": "cmp1"},
                          group_by=[*ir.DEFAULT_GROUP_BY, "compute_host"])
    assert [h.name for h in hosts] == ["b", "u-1"]
    b, u1 = hosts
    assert b.variables["ironic_driver_info"] == {"ipmi_password": ir.MASK}
    assert b.variables["ironic_compute_host"] is None
    assert u1.groups == ["ironic_state_active", "ironic_rc_baremetal", "ironic_compute_cmp1"]
    assert u1.variables["ironic_compute_host"] == "cmp1"


def test_filter_sees_masked_values():
    pytest.importorskip("jmespath")
    f = ir.NodeFilter.build(expression="driver_info.ipmi_password == 'pw'")
    assert ir.plan_hosts([_node(driver_info={"ipmi_password": "pw"})], f) == []


def test_no_compute_var_without_compute_map():
    (host,) = ir.plan_hosts([_node()], ir.NodeFilter.build())
    assert "ironic_compute_host" not in host.variables
