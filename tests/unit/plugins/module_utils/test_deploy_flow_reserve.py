# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""node_deploy `reserve`: the node is reserved when the cloud gate admits the host - one PATCH
with instance_uuid, instance_info and the claim - against test_deploy_flow's fake Ironic."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl
from ansible_collections.ironwave.baremetal.plugins.module_utils.deploy_flow import DeployFlow, DeployRequest
from ansible_collections.ironwave.baremetal.plugins.module_utils.reservation import derived_uuid

from ansible_collections.ironwave.baremetal.tests.unit.plugins.module_utils.test_deploy_flow import (  # noqa: E402
    OTHER, SlotStore, cloud_ironic, node)

NAME = "web-1"
MINE = derived_uuid(NAME)


def free(uuid, rc="baremetal", **kw):
    return node(uuid, inst=None, resource_class=rc, power_state="power off", instance_info={}, traits=[], **kw)


class ReservingStore(SlotStore):
    """Marker writes that may carry the reservation (ops), applied all or nothing as Ironic does."""

    def __init__(self, ironic, before_verify=None) -> None:
        super().__init__(ironic, before_verify)
        self.steal = set()     # nodes another run reserves right before our PATCH reaches them

    def write(self, uuid, lease, deadline, ops=()):
        n = self.ironic.nodes[uuid]
        if uuid in self.steal:
            n["instance_uuid"] = OTHER
        want = next((op["value"] for op in ops if op["path"] == "/instance_uuid"), None)
        if want is not None:
            self.ironic.calls.append(("RESERVE", uuid, lease.phase if lease else None))
            if n.get("instance_uuid"):
                raise errors.IronwaveError(f"Node {uuid} is associated with instance {n['instance_uuid']}.",
                                           ironic_errors.NODE_ASSOCIATED)
            if any(o.get("instance_uuid") == want for o in self.ironic.nodes.values()):
                raise errors.IronwaveError(f"Instance {want} is already associated with a node.",
                                           ironic_errors.INSTANCE_ASSOCIATED)
            n["instance_uuid"] = want
            for op in ops:
                if op["path"].startswith("/instance_info/"):
                    n.setdefault("instance_info", {})[op["path"].split("/")[-1]] = op["value"]
            n["updated_at"] = "2026-12-07T04:00:00+00:00"
            extra = n.setdefault("extra", {})
            extra["ironwave_slot"] = lease.to_extra()
            return copy.deepcopy(n)
        super().write(uuid, lease, deadline)
        return copy.deepcopy(n)


class Claims:
    def __init__(self) -> None:
        self.taken: dict = {}

    def claim(self, owner, choose):
        picked = choose(dict(self.taken))
        if picked:
            self.taken[picked] = owner
        return picked


def reserving_ironic(*nodes):
    ironic = cloud_ironic(*nodes)
    store = ReservingStore(ironic)
    ironic.slot_store = lambda poll_interval, ttl: store
    ironic.store = store
    ironic.claim_board = Claims()
    ironic.claims = lambda ttl: ironic.claim_board
    return ironic


def reserve_flow(ironic, check_mode=False, **params):
    p = {"instance_name": NAME, "reserve": {"resource_class": "baremetal"}, "busy_limit": 1,
         "busy_board": "cloud", "run_id": "run-a", "instance_info": {"image_source": "http://img"}, **params}
    return DeployFlow(ironic, DeployRequest.from_params(p), None, check_mode,
                      clock=ironic.clock, wall=ironic.clock, sleep=ironic.clock.sleep)


def writes(ironic):
    return [c[:3] for c in ironic.calls if c[0] in ("RESERVE", "MARKER", "PATCH", "TRAITS", "DEPLOY")]


def test_the_node_is_reserved_with_the_claim_in_one_request_when_the_gate_admits_the_host():
    ironic = reserving_ironic(free("a"), free("b"), free("c", rc="other"))
    out = reserve_flow(ironic).run()
    uuid = out["node"]
    assert uuid in ("a", "b") and out["instance_uuid"] == MINE and out["changed"]
    assert writes(ironic) == [("RESERVE", uuid, "choosing"), ("DEPLOY", uuid, "1.52")]
    n = ironic.nodes[uuid]
    assert n["instance_uuid"] == MINE and n["instance_info"] == {"display_name": NAME, "image_source": "http://img"}
    assert [n["instance_uuid"] for k, n in ironic.nodes.items() if k != uuid] == [None, None]
    assert out["reservation"] == [{"candidates": [uuid], "outcome": "reserved", "node": uuid}]
    f = reserve_flow(reserving_ironic(free("a")))
    f.run()
    assert [p["phase"] for p in f.phases][:3] == ["reserved", "admitted", "deploying"]


def test_a_node_taken_by_another_run_before_our_request_costs_one_refused_patch_then_the_next():
    ironic = reserving_ironic(free("a"), free("b"))
    first = reserve_flow(reserving_ironic(free("a"), free("b")), check_mode=True).run()["node"]
    ironic.store.steal = {first}
    out = reserve_flow(ironic).run()
    second = ({"a", "b"} - {first}).pop()
    assert out["node"] == second
    assert writes(ironic) == [("RESERVE", first, "choosing"), ("RESERVE", second, "choosing"),
                              ("DEPLOY", second, "1.52")]
    assert ironic.nodes[first]["instance_uuid"] == OTHER and "ironwave_slot" not in (ironic.nodes[first].get("extra") or {})
    assert out["reservation"][0] == {"candidates": [first], "outcome": ironic_errors.NODE_ASSOCIATED}


def test_over_the_limit_at_verify_keeps_the_reservation_and_writes_only_the_claim_again():
    ironic = reserving_ironic(free("a"), node("busy", "available", OTHER))
    verifies = []

    def count_verifies(newer_than):
        if newer_than is not None and ironic.store.max_age is None:
            verifies.append(1)

    def another_run_deploys(newer_than):
        # Free in the listing that admits us, busy right after it (another run's deploy), active later.
        ironic.nodes["busy"].update(provision_state="active" if verifies else "deploying", provision_updated_at="t7")
    ironic.store.before_verify, ironic.store.after_copy = count_verifies, another_run_deploys
    out = reserve_flow(ironic).run()
    assert out["node"] == "a" and len(verifies) == 2
    assert writes(ironic) == [("RESERVE", "a", "choosing"), ("MARKER", "a", None), ("MARKER", "a", "choosing"),
                              ("DEPLOY", "a", "1.52")]
    assert ironic.nodes["a"]["instance_uuid"] == MINE


def test_a_gate_timeout_reserves_nothing():
    ironic = reserving_ironic(free("a"), node("busy", "deploying", OTHER))
    with pytest.raises(errors.SlotUnavailable) as exc:
        reserve_flow(ironic, timeout=5).run()
    assert "no node reserved yet" in exc.value.msg
    assert writes(ironic) == [] and ironic.nodes["a"]["instance_uuid"] is None


def test_a_rerun_finds_the_node_its_instance_holds_and_goes_on_without_reserving():
    ironic = reserving_ironic(free("a"), free("b"))
    ironic.nodes["b"].update(instance_uuid=MINE, instance_info={"display_name": NAME, "image_source": "http://img"})
    out = reserve_flow(ironic).run()
    assert out["node"] == "b"
    assert writes(ironic) == [("MARKER", "b", "choosing"), ("DEPLOY", "b", "1.52")]


def test_a_rerun_refuses_a_node_outside_the_requested_candidates():
    ironic = reserving_ironic(free("a"), free("b"))
    ironic.nodes["b"]["instance_uuid"] = MINE
    with pytest.raises(errors.AssociationRefused) as exc:
        reserve_flow(ironic, reserve={"candidate_nodes": ["a"]}).run()
    assert "already on node b" in exc.value.msg and "reserve.candidate_nodes" in exc.value.msg
    assert writes(ironic) == []


def test_an_instance_reserved_meanwhile_by_another_copy_of_this_run_is_deployed_on_its_node():
    ironic = reserving_ironic(free("a"), free("b"))
    first = reserve_flow(reserving_ironic(free("a"), free("b")), check_mode=True).run()["node"]
    other = ({"a", "b"} - {first}).pop()
    real_write = ironic.store.write

    def copy_wins(uuid, lease, deadline, ops=()):
        if ops and ironic.nodes[other]["instance_uuid"] is None:
            ironic.nodes[other].update(instance_uuid=MINE, instance_info={"display_name": NAME,
                                                                          "image_source": "http://img"})
        return real_write(uuid, lease, deadline, ops)
    ironic.store.write = copy_wins   # the other copy's reservation lands right before ours
    out = reserve_flow(ironic).run()
    assert out["node"] == other
    assert writes(ironic) == [("RESERVE", first, "choosing"), ("MARKER", other, "choosing"),
                              ("DEPLOY", other, "1.52")]
    assert ironic.nodes[first]["instance_uuid"] is None


def test_pool_exhausted_at_admission_names_the_filter():
    ironic = reserving_ironic(free("a", rc="other"))
    with pytest.raises(errors.ReservationFailed) as exc:
        reserve_flow(ironic).run()
    assert "resource_class=baremetal" in exc.value.msg and writes(ironic) == []


def test_check_mode_names_the_node_it_would_reserve_and_writes_nothing():
    ironic = reserving_ironic(free("a"))
    out = reserve_flow(ironic, check_mode=True).run()
    assert out["changed"] and out["node"] == "a" and out["diff"]["after"]["instance_uuid"] == MINE
    assert writes(ironic) == []


@pytest.mark.parametrize("params, field", [
    ({"busy_board": "local"}, "reserve: only with busy_board=cloud"),
    ({"busy_limit": 0}, "reserve: only with busy_board=cloud"),
    ({"node": "a"}, "node and reserve"),
    ({"instance_name": None, "instance_uuid": MINE}, "instance_name: required with reserve"),
    ({"busy_scope": "conductor_group"}, "reserve.conductor_group"),
    ({"reserve": {"expression": "[[["}}, "reserve.expression"),
    ({"reserve": {"traits": ["lower"]}}, "reserve.traits"),
])
def test_bad_input_names_the_field_and_sends_nothing(params, field):
    ironic = reserving_ironic(free("a"))
    with pytest.raises(errors.BadInput) as exc:
        reserve_flow(ironic, **params).run()
    assert field in exc.value.msg
    assert writes(ironic) == []


def test_sl_sees_the_reserved_node_as_ours_with_its_claim():
    ironic = reserving_ironic(free("a"))
    reserve_flow(ironic).run()
    (a,) = sl.parse_nodes([ironic.nodes["a"]])
    assert a.lease.run_id == "run-a" and a.lease.phase == sl.CHOOSING
