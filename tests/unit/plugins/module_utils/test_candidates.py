# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import candidates as c


def mk(uuid, **kw):
    n = dict(uuid=uuid, name=f"n-{uuid}", instance_uuid=None, allocation_uuid=None, provision_state="available",
             target_provision_state=None, maintenance=False, resource_class="baremetal", traits=[],
             conductor_group="", properties={"memory_mb": 131072})
    n.update(kw)
    return n


NODES = [
    mk("a"), mk("b", properties={"memory_mb": 262144}), mk("c", instance_uuid="x"),
    mk("d", maintenance=True), mk("e", provision_state="manageable"), mk("f", resource_class="gpu"),
    mk("g", traits=["CUSTOM_FAST"]), mk("h", conductor_group="rack2"), mk("i", target_provision_state="active"),
    mk("j", allocation_uuid="y"), mk("k", traits=[{"trait": "CUSTOM_FAST"}], properties={}),
    mk("l", power_state=None),
]


def uuids(sel):
    return sorted(n["uuid"] for n in sel.candidates)


def test_prefilter_like_metalsmith():
    sel = c.select(NODES, c.CandidateRequest())
    assert uuids(sel) == ["a", "b", "f", "g", "h", "k"]
    assert sel.rejected["n-c"].startswith("associated") and sel.rejected["n-d"] == "in maintenance"
    assert sel.rejected["n-e"] == "provision_state 'manageable'" and sel.rejected["n-i"].startswith("busy")
    assert sel.rejected["n-j"].startswith("associated")
    assert sel.rejected["n-l"].startswith("no power state")


def test_resource_class_traits_conductor_group():
    assert uuids(c.select(NODES, c.CandidateRequest(resource_class="gpu"))) == ["f"]
    assert uuids(c.select(NODES, c.CandidateRequest(traits=("CUSTOM_FAST",)))) == ["g", "k"]
    sel = c.select(NODES, c.CandidateRequest(conductor_group="rack2"))
    assert uuids(sel) == ["h"] and sel.rejected["n-a"] == "conductor_group ''"
    assert "missing traits" in c.select(NODES, c.CandidateRequest(traits=("X",))).rejected["n-a"]


def test_expression():
    sel = c.select(NODES, c.CandidateRequest(expression="properties.memory_mb >= `262144`"))
    assert uuids(sel) == ["b"]
    assert sel.rejected["n-a"] == "expression is false"
    assert sel.rejected["n-k"] == "expression is false"  # null >= number is null in JMESPath
    sel = c.select(NODES, c.CandidateRequest(expression="abs(name)"))  # type error at run time
    assert sel.candidates == [] and sel.rejected["n-a"].startswith("expression failed")


def test_bad_expression_is_clear_error():
    with pytest.raises(c.FilterError, match="invalid JMESPath in 'expression'.*Example"):
        c.select(NODES, c.CandidateRequest(expression="properties.memory_mb >="))
    assert c.compile_expression(None) is None


def test_candidate_nodes_keep_given_order_by_name_or_uuid():
    sel = c.select(NODES, c.CandidateRequest(candidate_nodes=("n-g", "b", "c")))
    assert [n["uuid"] for n in sel.candidates] == ["g", "b"]
    assert sel.rejected["n-a"] == "not in candidate_nodes"


def test_stable_spread_order_and_exclude():
    first = [n["uuid"] for n in c.select(NODES, c.CandidateRequest(), "web-1").candidates]
    again = [n["uuid"] for n in c.select(NODES, c.CandidateRequest(), "web-1").candidates]
    other = [n["uuid"] for n in c.select(NODES, c.CandidateRequest(), "web-2").candidates]
    assert first == again and sorted(first) == sorted(other) and first != other
    sel = c.select(NODES, c.CandidateRequest(), "web-1", exclude=[first[0]])
    assert first[0] not in uuids(sel) and "taken" in sel.rejected[f"n-{first[0]}"]


def test_exhausted_message_names_filter_and_tries():
    req = c.CandidateRequest(resource_class="gpu", traits=("T",), conductor_group="g",
                             candidate_nodes=("f",), expression="x")
    sel = c.select([mk("f", resource_class="gpu", traits=["T"], conductor_group="g", instance_uuid="z")],
                   c.CandidateRequest(resource_class="gpu"))
    msg = c.exhausted_message(req, sel, tried=["f"])
    assert "resource_class=gpu traits=T conductor_group='g' candidate_nodes=f expression=x" in msg
    assert "1 associated" in msg and "tried f" in msg
    assert "no nodes listed" in c.exhausted_message(c.CandidateRequest(), c.Selection())
    assert c.CandidateRequest().describe() == "(no filter)"


def test_first_unclaimed_prefers_own_claim_then_caller_order():
    from ansible_collections.ironwave.baremetal.plugins.module_utils.candidates import first_unclaimed
    nodes = [{"uuid": "a"}, {"uuid": "b"}, {"uuid": "c"}]
    assert first_unclaimed(nodes, {}, "web-1") == "a"
    assert first_unclaimed(nodes, {"a": "web-2"}, "web-1") == "b"
    assert first_unclaimed(nodes, {"a": "web-2", "c": "web-1"}, "web-1") == "c"
    assert first_unclaimed(nodes, {"a": "x", "b": "y", "c": "z"}, "web-1") is None
    assert first_unclaimed([], {}, "web-1") is None


def test_an_instance_already_on_a_node_outside_candidate_nodes_is_named_with_the_option_to_drop():
    node = {"uuid": "u-2", "name": "n2"}
    req = c.CandidateRequest.from_params({"candidate_nodes": ["n1"]})
    why = c.outside_request(node, req, "inst-1", "reserve.candidate_nodes")
    assert why.startswith("instance inst-1 is already on node n2 (u-2), not on the requested node(s) n1")
    assert why.endswith("or drop reserve.candidate_nodes")
    assert c.outside_request(node, c.CandidateRequest.from_params({"node": "u-2"}), "inst-1", "x") is None
    assert c.outside_request(node, c.CandidateRequest(), "inst-1", "x") is None
