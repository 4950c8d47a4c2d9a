# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""Reservation races, reruns and timeouts against a fake Ironic and a fake clock.

The fake keeps nodes and allocations like Ironic does (an allocation is decided a moment after its
POST: the first offered node that is still free wins, else it fails; a won node gets
instance_uuid = allocation UUID) and hooks let a test change the world between steps."""
from __future__ import annotations

import uuid

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import reservation as rsv
from ansible_collections.ironwave.baremetal.plugins.module_utils.ironic_client import ApiError


def api_error(status: int, message: str) -> ApiError:
    return ApiError(ironic_errors.classify(status, message), "test")


class World:
    """Fake Ironic + clock. Allocations are decided `decide_after` seconds after their POST."""

    def __init__(self, count: int = 3, rc: str = "rc") -> None:
        self.now = 1000.0
        self.nodes = {}
        for i in range(count):
            u = str(uuid.UUID(int=i + 1))
            self.nodes[u] = {"uuid": u, "name": f"n{i}", "resource_class": rc, "provision_state": "available",
                             "instance_uuid": None, "maintenance": False, "power_state": "power off",
                             "traits": [], "target_provision_state": None, "instance_info": {}}
        self.allocs: dict[str, dict] = {}
        self.sent: list[tuple[str, str]] = []
        self.decide_after = 0.2
        self.never_decide = False
        self.before_decide = lambda alloc: None   # hook: e.g. another instance takes the node

    # -- clock
    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.process()

    def process(self) -> None:
        for a in self.allocs.values():
            if a["state"] != "allocating" or self.never_decide or self.now < a["posted"] + self.decide_after:
                continue
            self.before_decide(a)
            free = [u for u in a["candidate_nodes"] if not self.nodes[u]["instance_uuid"]
                    and self.nodes[u]["provision_state"] == "available" and not self.nodes[u]["maintenance"]]
            if free:
                a.update(state="active", node_uuid=free[0])
                self.nodes[free[0]]["instance_uuid"] = a["uuid"]
            else:
                a.update(state="error", last_error="none of the requested nodes are available")

    # -- what another instance does
    def take(self, node_uuid: str, instance: str = "other-instance") -> None:
        self.nodes[node_uuid]["instance_uuid"] = instance

    def own(self, name: str, node_uuid: str, **node_fields) -> str:
        a = str(uuid.uuid4())
        self.allocs[a] = {"uuid": a, "name": name, "node_uuid": node_uuid, "state": "active", "last_error": None,
                          "candidate_nodes": [node_uuid], "posted": self.now}
        self.nodes[node_uuid].update(instance_uuid=a, **node_fields)
        return a

    def by_name(self, ident: str) -> dict | None:
        return next((a for a in self.allocs.values() if ident in (a["uuid"], a["name"])), None)


class Ops:
    """The lifecycle facade's surface the reservation uses (see lifecycle_ops.Ops)."""

    def __init__(self, world: World) -> None:
        self.w = world
        self.client = self
        self.claimed: dict[str, str] = {}

    def shared_nodes(self, ttl=2.0, max_age=None, newer_than=None):
        self.w.sent.append(("GET", "/nodes"))
        return [dict(n) for n in self.w.nodes.values()]

    def shared_failed_allocations(self, ttl=1.0, newer_than=None):
        return {a["uuid"]: {k: a.get(k) for k in ("uuid", "name", "node_uuid", "state", "last_error")}
                for a in self.w.allocs.values() if a["state"] == "error"}

    def node_listing(self, ttl):
        return type("L", (), {"next_tick_in": staticmethod(lambda: 0.5)})()

    def claims(self, ttl):
        ops = self

        class Board:
            def claim(self, owner, choose):
                picked = choose({n: o for n, o in ops.claimed.items() if o != owner})
                if picked:
                    ops.claimed[picked] = owner
                return picked
        return Board()

    def pacer(self, what, spacing):
        return type("P", (), {"wait_turn": staticmethod(lambda: 0.0)})()

    def get_allocation(self, ident):
        a = self.w.by_name(ident)
        return {k: a.get(k) for k in ("uuid", "name", "node_uuid", "state", "last_error")} if a else None

    def get_node(self, ident):
        """The whole node, as a single GET returns it (with allocation_uuid)."""
        n = self.w.nodes.get(ident)
        alloc = next((a["uuid"] for a in self.w.allocs.values() if a.get("node_uuid") == ident), None)
        return {**n, "allocation_uuid": alloc} if n else None

    # client
    def create_allocation(self, body):
        self.w.sent.append(("POST", "/allocations"))
        if self.w.by_name(body["name"]):
            raise api_error(409, f"An allocation with name {body['name']} already exists.")
        a = {**body, "state": "allocating", "node_uuid": None, "last_error": None, "posted": self.w.now}
        self.w.allocs[a["uuid"]] = a
        return dict(a)

    def delete_allocation(self, ident):
        self.w.sent.append(("DELETE", f"/allocations/{ident}"))
        a = self.w.allocs.pop(ident)
        if a.get("node_uuid") and self.w.nodes[a["node_uuid"]]["instance_uuid"] == ident:
            self.w.nodes[a["node_uuid"]]["instance_uuid"] = None

    def patch_node(self, ident, patch):
        self.w.sent.append(("PATCH", f"/nodes/{ident}"))
        node = self.w.nodes[ident]
        for op in patch:
            if op["path"] == "/instance_uuid":
                if node["instance_uuid"] and node["instance_uuid"] != op["value"]:
                    raise api_error(409, f"Node {ident} is associated with instance {node['instance_uuid']}.")
                node["instance_uuid"] = op["value"]
            elif op["path"].startswith("/instance_info/"):
                node["instance_info"][op["path"].split("/", 2)[2]] = op["value"]
        return dict(node)

    def list_nodes(self, fields=(), **filters):
        return [dict(n) for n in self.w.nodes.values()
                if all(n.get(k) == v for k, v in filters.items())]


def reserve(world: World, guard=None, **params) -> dict:
    p = {"instance_name": "web-1", "resource_class": "rc", "max_attempts": 5, "batch": 3, "timeout": 60,
         "stuck_timeout": 8, "spacing": 0.0, **params}
    spec = rsv.ReservationSpec.from_params(p, check_mode=params.pop("_check", False))
    return rsv.Reservation(spec, Ops(world), guard=guard, clock=world.clock, sleep=world.sleep,
                           rng_delay=lambda attempt: 0.5).run()


def posts(world: World) -> int:
    return sum(1 for m, _p in world.sent if m == "POST")


def test_reserves_one_node_with_one_allocation():
    w = World()
    r = reserve(w)
    assert r["changed"] and w.nodes[r["node"]]["instance_uuid"] == r["instance_uuid"]
    assert r["allocation"]["name"] == "web-1" and posts(w) == 1
    assert r["attempts"][-1]["outcome"] == "reserved"


def test_rerun_gets_the_same_node_back_unchanged():
    w = World()
    first = reserve(w)
    again = reserve(w)
    assert (again["changed"], again["node"]) == (False, first["node"]) and again["association"] == "ours"
    assert len(w.allocs) == 1


def test_rerun_after_an_ironic_crash_hands_back_our_deploy_failed_node():
    # Ironic moves the nodes that were `deploying` when it died to `deploy failed`: node_deploy
    # deploys ours again, so the reservation hands it back instead of calling it unusable.
    w = World()
    node = next(iter(w.nodes))
    w.own("web-1", node, provision_state="deploy failed",
          last_error="The deploying state can't be resumed by conductor x. Moving to fail state.")
    r = reserve(w)
    assert (r["changed"], r["node"], r["provision_state"]) == (False, node, "deploy failed")
    assert not [s for s in w.sent if s[0] == "DELETE"]


@pytest.mark.parametrize("fields", [{"maintenance": True}, {"provision_state": "clean failed"}])
def test_rerun_releases_our_node_that_cannot_be_deployed_again_and_reserves_another(fields):
    w = World()
    bad = next(iter(w.nodes))
    old = w.own("web-1", bad, **fields)
    r = reserve(w)
    assert r["changed"] and r["node"] != bad and w.nodes[bad]["instance_uuid"] is None
    assert ("DELETE", f"/allocations/{old}") in w.sent
    assert any("released node" in a["outcome"] for a in r["attempts"])


def test_rerun_never_releases_an_active_node():
    w = World()
    node = next(iter(w.nodes))
    w.own("web-1", node, provision_state="active", maintenance=True)
    r = reserve(w)
    assert (r["changed"], r["node"]) == (False, node) and not [s for s in w.sent if s[0] == "DELETE"]


def test_foreign_allocation_of_our_name_is_refused_and_left_alone():
    w = World()
    node = next(iter(w.nodes))
    w.own("web-1", node)
    w.nodes[node]["instance_uuid"] = "someone-else"   # the node says another instance: not ours
    with pytest.raises(errors.AssociationRefused):
        reserve(w)
    assert not [s for s in w.sent if s[0] == "DELETE"]


def test_lost_race_repicks_another_node():
    w = World()
    taken: list[str] = []

    def steal(alloc):
        if not taken:  # another instance wins the first offered node just before Ironic decides
            taken.append(alloc["candidate_nodes"][0])
            w.take(alloc["candidate_nodes"][0])
    w.before_decide = steal
    r = reserve(w)
    assert r["changed"] and r["node"] != taken[0] and posts(w) == 2
    assert r["attempts"][0]["outcome"].startswith("allocation failed")


def test_pool_exhausted_names_the_filter_and_the_winner():
    w = World(count=1)
    only = next(iter(w.nodes))
    w.before_decide = lambda alloc: w.take(only, "winner-instance")
    with pytest.raises(errors.ReservationFailed) as info:
        reserve(w)
    assert info.value.kind == ironic_errors.NODE_ASSOCIATED
    assert "winner-instance" in info.value.msg and "resource_class=rc" in info.value.msg
    w2 = World(count=0)
    with pytest.raises(errors.ReservationFailed) as info:
        reserve(w2)
    assert info.value.kind == ironic_errors.ALLOCATION_FAILED and "no free node matches" in info.value.msg


def test_allocation_never_decided_times_out_with_an_explicit_uuid():
    w = World()
    w.never_decide = True
    with pytest.raises(errors.ReservationFailed) as info:
        reserve(w, instance_uuid=str(uuid.uuid4()), timeout=20)
    assert info.value.kind == "timeout" and "20 s" in info.value.msg
    assert 1020 <= w.now <= 1030 and posts(w) == 1


def test_stuck_allocation_is_dropped_and_retried():
    w = World()
    w.never_decide = True
    seen = []

    def unstick(seconds):
        World.sleep(w, seconds)
        if posts(w) >= 2 and not seen:   # the second allocation is decided normally
            seen.append(1)
            w.never_decide = False
            w.process()
    w.sleep = unstick
    r = reserve(w, stuck_timeout=5)
    assert r["changed"] and posts(w) == 2
    assert "still allocating" in r["attempts"][0]["outcome"]


def test_gives_up_after_max_attempts_when_ironic_keeps_failing():
    w = World()
    w.before_decide = lambda alloc: alloc.update(candidate_nodes=[])   # fails without taking a node
    with pytest.raises(errors.ReservationFailed) as info:
        reserve(w, max_attempts=3)
    assert "gave up after 3 allocation attempts" in info.value.msg and posts(w) == 3
    assert len(info.value.result["attempts"]) == 3


def test_a_gone_run_sends_no_reservation():
    class Gone:
        def check(self, what):
            raise errors.RunGone(f"run gone; not {what}")
    w = World()
    with pytest.raises(errors.RunGone):
        reserve(w, guard=Gone())
    assert posts(w) == 0


def test_check_mode_sends_nothing():
    w = World()
    r = reserve(w, _check=True)
    assert r["changed"] and r["check_mode_pick"] and posts(w) == 0 and not w.allocs


@pytest.mark.parametrize("params,field", [
    ({"max_attempts": 0}, "max_attempts"), ({"batch": 0}, "batch"), ({"spacing": -1}, "spacing"),
    ({"timeout": 0}, "timeout"), ({"instance_info": {"a": 1}}, "instance_info"),
    ({"instance_uuid": "not-a-uuid"}, "instance_uuid"), ({"expression": "properties.memory_mb >="}, "expression"),
    ({"traits": ["gpu"]}, "traits")])
def test_bad_input_names_the_field_and_sends_nothing(params, field):
    w = World()
    with pytest.raises(errors.BadInput) as info:
        reserve(w, **params)
    assert field in info.value.msg and not w.sent


def test_instance_uuid_mode_skips_a_node_taken_meanwhile():
    w = World()
    first = sorted(w.nodes.values(), key=lambda n: rsv.cand._rank("web-1", n))[0]["uuid"]
    ops_take = w.take
    w.take(first)   # taken after the listing would have shown it free: the PATCH is refused
    w.nodes[first]["instance_uuid"] = None
    original = Ops.patch_node

    def patch(self, ident, patch):
        if ident == first:
            ops_take(first)
        return original(self, ident, patch)
    Ops.patch_node = patch
    try:
        r = reserve(w, mode="instance_uuid", instance_info={"image_source": "http://x/img"})
    finally:
        Ops.patch_node = original
    assert r["changed"] and r["node"] != first
    assert w.nodes[r["node"]]["instance_info"]["image_source"] == "http://x/img"
    assert r["attempts"][0]["outcome"] == ironic_errors.NODE_ASSOCIATED
    again = reserve(w, mode="instance_uuid", instance_info={"image_source": "http://x/img"})
    assert (again["changed"], again["node"]) == (False, r["node"])


def test_instance_uuid_mode_skips_a_node_another_run_is_already_deploying():
    # Seen by an AWX slice: the listing showed the node free; another slice reserved it and sent
    # its deploy while our PATCH waited for the node's lock, so Ironic refused the PATCH with
    # "can not be updated while a state transition is in progress" (409, not NodeAssociated).
    w = World()
    first = sorted(w.nodes.values(), key=lambda n: rsv.cand._rank("web-1", n))[0]["uuid"]
    original = Ops.patch_node

    def patch(self, ident, patch):
        if ident == first:
            self.w.sent.append(("PATCH", f"/nodes/{ident}"))
            self.w.nodes[first].update(instance_uuid=str(uuid.uuid4()), provision_state="deploying")
            raise api_error(409, f"Node {ident} can not be updated while a state transition is in progress.")
        return original(self, ident, patch)
    Ops.patch_node = patch
    try:
        r = reserve(w, mode="instance_uuid")
    finally:
        Ops.patch_node = original
    assert r["changed"] and r["node"] != first and w.nodes[r["node"]]["instance_uuid"] == r["instance_uuid"]
    assert r["attempts"][0] == {"candidates": [first], "outcome": ironic_errors.IN_TRANSITION}


def test_rerun_decides_on_a_direct_read_not_on_a_stale_shared_listing():
    # The controller-wide listing was made before the node went into maintenance.
    w = World()
    first = reserve(w)
    stale = [dict(n) for n in w.nodes.values()]
    w.nodes[first["node"]]["maintenance"] = True
    original = Ops.shared_nodes
    Ops.shared_nodes = lambda self, ttl=2.0, max_age=None, newer_than=None: \
        [dict(n) for n in stale] if max_age is None and newer_than is None else original(self, ttl, max_age, newer_than)
    try:
        again = reserve(w)
    finally:
        Ops.shared_nodes = original
    assert again["changed"] and again["node"] != first["node"]


@pytest.mark.parametrize("node,action", [
    ({"provision_state": "deploy failed"}, rsv.HAND_BACK),            # node_deploy deploys it again
    ({"provision_state": "active"}, rsv.HAND_BACK),
    ({"provision_state": "active", "maintenance": True}, rsv.HAND_BACK),   # never orphan a running server
    ({"provision_state": "deploying"}, rsv.HAND_BACK),
    ({"provision_state": "available", "target_provision_state": "active"}, rsv.HAND_BACK),
    ({"provision_state": "available"}, rsv.HAND_BACK),
    ({"provision_state": "available", "maintenance": True}, rsv.RELEASE),
    ({"provision_state": "deploy failed", "maintenance": True}, rsv.RELEASE),
    ({"provision_state": "clean failed"}, rsv.RELEASE),
    ({"provision_state": "error"}, rsv.RELEASE),
])
def test_rerun_action_table(node, action):
    assert rsv.rerun_action(node) == action


def test_instance_already_on_another_node_than_requested_is_refused_naming_both():
    w = World()
    r = reserve(w, mode="instance_uuid", instance_name="web-1")
    other = next(u for u in w.nodes if u != r["node"])
    sent = len(w.sent)
    with pytest.raises(errors.AssociationRefused) as info:
        reserve(w, mode="instance_uuid", instance_uuid=r["instance_uuid"], node=other)
    assert r["node"] in info.value.msg and other in info.value.msg
    assert all(m == "GET" for m, _p in w.sent[sent:]), "nothing but reads"
    assert reserve(w, mode="instance_uuid", instance_uuid=r["instance_uuid"], node=r["node"])["node"] == r["node"]
