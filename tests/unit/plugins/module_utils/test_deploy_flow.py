# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""DeployFlow (node_deploy's flow) against a fake Ironic and a fake clock: order of writes,
rollback, the busy gate's races and timeouts, the run guard, ambiguous failures, microversions."""
from __future__ import annotations

import copy

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import association as assoc
from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils.deploy_flow import PLAN_MAX_AGE, DeployFlow, DeployRequest
from ansible_collections.ironwave.baremetal.plugins.module_utils.poll_cache import Fetched

INST = "11111111-2222-3333-4444-555555555555"
OTHER = "99999999-2222-3333-4444-555555555555"


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += max(s, 0.5)


class Board:
    def __init__(self, clock) -> None:
        self.entries: dict = {}
        self.clock = clock

    def update(self, change):
        return change(self.entries, self.clock())


class Guard:
    def __init__(self, limit=None, gone_after=None, halt_at=None) -> None:
        self.limit, self.gone_after, self.halt_at, self.checks = limit, gone_after, halt_at, []

    def check(self, what: str) -> None:
        self.checks.append(what)
        if self.gone_after is not None and len(self.checks) > self.gone_after:
            raise errors.RunGone(f"run gone; not {what}", kind="run_gone")
        if self.halt_at and self.halt_at in what:
            raise errors.RunGone(f"halted; not {what}", kind="halted")

    def busy_limit(self, configured: int) -> int:
        return min(configured, self.limit) if self.limit else configured


class AmbiguousError(errors.IronwaveError):
    def __init__(self, msg, kind, ambiguous=False):
        super().__init__(msg, kind)
        self.ambiguous = ambiguous


def node(uuid="n1", state="available", inst=INST, **kw):
    return {"uuid": uuid, "name": uuid, "provision_state": state, "target_provision_state": None,
            "instance_uuid": inst, "maintenance": False, "reservation": None, "traits": ["CUSTOM_OLD"],
            "instance_info": {"image_source": "old"}, "conductor_group": "", **kw}


class FakeIronic:
    def __init__(self, *nodes, version="1.115") -> None:
        self.nodes = {n["uuid"]: n for n in nodes}
        self.calls: list = []
        self.version = version
        self.version_reads = 0
        self.clock = Clock()
        self.the_board = Board(self.clock)
        self.me = (4242, "77")
        self.on_deploy = None    # callable(uuid, reconcile) to simulate failures

    def alive(self, pid, start):
        return True

    def node(self, ident):
        n = self.nodes.get(ident)
        return copy.deepcopy(n) if n else None

    def listing(self, ttl, max_age=None, newer_than=None):
        return Fetched([copy.deepcopy(n) for n in self.nodes.values()], 0.0, True)

    def tick_in(self, ttl):
        return ttl

    def classify(self, n, expected):
        return assoc.classify_association(assoc.NodeView.from_mapping(n), expected)

    def board(self):
        return self.the_board

    def patch_node(self, uuid, patch):
        self.calls.append(("PATCH", uuid, patch))
        info = self.nodes[uuid].setdefault("instance_info", {})
        for op in patch:
            key = op["path"].split("/")[-1]
            if op["op"] == "remove":
                info.pop(key, None)
            else:
                info[key] = op["value"]

    def set_traits(self, uuid, traits):
        self.calls.append(("TRAITS", uuid, list(traits)))
        self.nodes[uuid]["traits"] = list(traits)

    def deploy(self, uuid, body, microversion, deadline, reconcile):
        self.calls.append(("DEPLOY", uuid, microversion, body))
        if self.on_deploy:
            self.on_deploy(uuid, reconcile)
            return
        self.nodes[uuid].update(provision_state="deploying", target_provision_state="active")

    def server_version(self):
        self.version_reads += 1
        return self.version

    def writes(self):
        return [c for c in self.calls if c[0] in ("PATCH", "TRAITS", "DEPLOY")]


def flow(ironic, guard=None, check_mode=False, **params):
    p = {"node": "n1", "instance_uuid": INST, **params}
    return DeployFlow(ironic, DeployRequest.from_params(p), guard, check_mode,
                      clock=ironic.clock, wall=ironic.clock, sleep=ironic.clock.sleep)


# -- defect 10: validate first, write last, roll back ---------------------------------------------
def test_invalid_deploy_steps_fail_before_anything_is_written():
    ironic = FakeIronic(node())
    with pytest.raises(errors.BadInput) as exc:
        flow(ironic, traits=["CUSTOM_X"], deploy_steps=[{"interface": "deploy", "step": "x", "args": {}}]).run()
    assert "deploy_steps[0]" in exc.value.msg and "priority" in exc.value.msg
    assert ironic.writes() == [] and ironic.nodes["n1"]["traits"] == ["CUSTOM_OLD"]


def test_ironic_refusing_the_deploy_puts_traits_and_instance_info_back():
    ironic = FakeIronic(node())

    def refuse(uuid, reconcile):
        raise errors.IronwaveError("HTTP 400 Invalid deploy_steps: 'foo' is not one of [...]", "bad_request")
    ironic.on_deploy = refuse
    with pytest.raises(errors.IronwaveError) as exc:
        flow(ironic, traits=["CUSTOM_X"], instance_info={"image_source": "new", "root_gb": 10},
             deploy_steps=[{"interface": "foo", "step": "x", "args": {}, "priority": 1}]).run()
    assert exc.value.kind == "bad_request" and "put back" in exc.value.msg and exc.value.result["rolled_back"]
    assert ironic.nodes["n1"]["traits"] == ["CUSTOM_OLD"]
    assert ironic.nodes["n1"]["instance_info"] == {"image_source": "old"}


def test_gate_timeout_writes_nothing_and_leaves_no_admission():
    ironic = FakeIronic(node(), node("busy1", "deploying", OTHER))
    with pytest.raises(errors.SlotUnavailable) as exc:
        flow(ironic, traits=["CUSTOM_X"], busy_limit=1, timeout=30).run()
    assert "busy_limit 1" in exc.value.msg and "Nothing was written" in exc.value.msg
    assert ironic.writes() == [] and ironic.the_board.entries == {}


def test_writes_come_after_the_gate_and_right_before_the_deploy():
    ironic = FakeIronic(node())
    out = flow(ironic, traits=["CUSTOM_X"], instance_info={"image_source": "new"}, busy_limit=2).run()
    assert out["changed"] and out["association_after"] == "ours"
    assert [c[0] for c in ironic.writes()] == ["PATCH", "TRAITS", "DEPLOY"]
    assert ironic.the_board.entries["n1"]["sent_at"] is not None


# -- defect 9: a deploy request that failed ambiguously but took effect ------------------------------
@pytest.mark.parametrize("kind,ambiguous", [("server_error", True), ("invalid_state", False),
                                            ("database_busy", True), ("connection", True)])
def test_ambiguous_failure_with_the_node_deploying_for_us_is_success(kind, ambiguous):
    ironic = FakeIronic(node())

    def took_effect_then_failed(uuid, reconcile):
        ironic.nodes[uuid].update(provision_state="deploying", target_provision_state="active")
        raise AmbiguousError(f"HTTP 504 / {kind}", kind, ambiguous)
    ironic.on_deploy = took_effect_then_failed
    out = flow(ironic, traits=["CUSTOM_X"], busy_limit=3).run()
    assert out["changed"] and out["provision_state"] == "deploying"
    assert ironic.nodes["n1"]["traits"] == ["CUSTOM_OLD", "CUSTOM_X"]   # not rolled back
    assert ironic.the_board.entries["n1"]["sent_at"] is not None       # still counts as busy


def test_reconcile_handed_to_the_client_answers_took_effect():
    ironic = FakeIronic(node())
    seen = []

    def client_reconciles(uuid, reconcile):
        seen.append(reconcile())               # before: available -> not taken effect (resend)
        ironic.nodes[uuid].update(provision_state="wait call-back")
        seen.append(reconcile())               # after: ours and deploying -> the result
    ironic.on_deploy = client_reconciles
    flow(ironic).run()
    assert seen[0] is None and seen[1]["provision_state"] == "wait call-back"


def test_ambiguous_failure_without_effect_fails_and_rolls_back():
    ironic = FakeIronic(node())

    def lost(uuid, reconcile):
        raise AmbiguousError("HTTP 504 gateway timeout", "server_error", True)
    ironic.on_deploy = lost
    with pytest.raises(errors.IronwaveError):
        flow(ironic, traits=["CUSTOM_X"], busy_limit=3).run()
    assert ironic.nodes["n1"]["traits"] == ["CUSTOM_OLD"] and ironic.the_board.entries == {}


def test_someone_elses_deploy_is_not_success():
    ironic = FakeIronic(node())

    def stolen(uuid, reconcile):
        ironic.nodes[uuid].update(provision_state="deploying", instance_uuid=OTHER)
        raise AmbiguousError("HTTP 400 invalid state", "invalid_state")
    ironic.on_deploy = stolen
    with pytest.raises(errors.IronwaveError) as exc:
        flow(ironic).run()
    assert exc.value.kind == "invalid_state"


# -- defect 12: microversions ----------------------------------------------------------------------
@pytest.mark.parametrize("params,version", [
    ({}, "1.52"),
    ({"config_drive": "H4sIAAAA"}, "1.52"),
    ({"config_drive": {"meta_data": {"hostname": "h"}, "user_data": "#cloud-config\n"}}, "1.56"),
    ({"config_drive": {"meta_data": {}, "vendor_data": {}}}, "1.59"),
    ({"deploy_steps": [{"interface": "deploy", "step": "s", "args": {}, "priority": 80}]}, "1.69"),
    ({"config_drive": {"meta_data": {}},
      "deploy_steps": [{"interface": "deploy", "step": "s", "args": {}, "priority": "80"}]}, "1.69"),
])
def test_each_deploy_request_asks_for_the_microversion_it_needs(params, version):
    ironic = FakeIronic(node())
    flow(ironic, **params).run()
    assert [c[2] for c in ironic.calls if c[0] == "DEPLOY"] == [version]
    assert ironic.version_reads == (0 if version == "1.52" else 1)   # GET /v1 only when needed


def test_server_too_old_is_bad_input_naming_the_field_and_nothing_is_written():
    ironic = FakeIronic(node(), version="1.60")
    with pytest.raises(errors.BadInput) as exc:
        flow(ironic, traits=["CUSTOM_X"],
             deploy_steps=[{"interface": "deploy", "step": "s", "args": {}, "priority": 80}]).run()
    assert "deploy_steps needs bare metal API 1.69" in exc.value.msg and "1.60" in exc.value.msg
    assert ironic.writes() == []


@pytest.mark.parametrize("drive,field", [({"meta": {}}, "config_drive: unknown key"),
                                         ({"meta_data": "x"}, "config_drive.meta_data"),
                                         ("not base64 !!", "config_drive: a string"), (5, "config_drive: must")])
def test_bad_config_drive_is_refused_before_writing(drive, field):
    ironic = FakeIronic(node())
    with pytest.raises(errors.BadInput) as exc:
        flow(ironic, traits=["CUSTOM_X"], config_drive=drive).run()
    assert field in exc.value.msg and ironic.writes() == []


# -- defect 11: ours in `deploy failed` is deployed again ------------------------------------------------
def test_ours_in_deploy_failed_is_deployed_again():
    ironic = FakeIronic(node(state="deploy failed", target_provision_state="active", last_error="restarted"))
    out = flow(ironic, busy_limit=2).run()
    assert out["changed"] and [c[0] for c in ironic.writes()] == ["DEPLOY"]


@pytest.mark.parametrize("n,kind", [(node(state="deploy failed", inst=OTHER), "associated_elsewhere"),
                                    (node(state="deploy failed", maintenance=True), "unusable"),
                                    (node(state="clean failed"), "unusable"),
                                    (node(inst=None), "not_reserved")])
def test_refusals_touch_nothing(n, kind):
    ironic = FakeIronic(n)
    with pytest.raises(errors.AssociationRefused) as exc:
        flow(ironic, traits=["CUSTOM_X"]).run()
    assert exc.value.kind == kind and ironic.writes() == []


def test_active_and_deploying_are_no_ops():
    assert flow(FakeIronic(node(state="active"))).run()["changed"] is False
    ironic = FakeIronic(node(state="deploying", target_provision_state="active"))
    assert flow(ironic).run()["changed"] is False and ironic.writes() == []


def test_check_mode_reports_the_diff_and_writes_nothing():
    ironic = FakeIronic(node())
    out = flow(ironic, check_mode=True, traits=["CUSTOM_X"], busy_limit=1).run()
    assert out["changed"] and out["diff"]["after"]["traits"] == ["CUSTOM_OLD", "CUSTOM_X"]
    assert ironic.writes() == [] and ironic.the_board.entries == {}


# -- defects 4 and 6: the run guard at the gate ---------------------------------------------------------
def test_a_gone_run_stops_at_the_gate_without_sending_anything():
    ironic = FakeIronic(node(), node("busy1", "deploying", OTHER))
    guard = Guard(gone_after=3)
    with pytest.raises(errors.RunGone):
        flow(ironic, guard, traits=["CUSTOM_X"], busy_limit=1).run()
    assert ironic.writes() == [] and ironic.the_board.entries == {}
    assert all("busy gate" in c for c in guard.checks)


def test_a_halt_after_admission_withdraws_and_sends_nothing():
    ironic = FakeIronic(node())
    with pytest.raises(errors.RunGone):
        flow(ironic, Guard(halt_at="writing"), traits=["CUSTOM_X"], busy_limit=2).run()
    assert ironic.writes() == [] and ironic.the_board.entries == {}


def test_guard_is_checked_right_before_the_deploy_request():
    ironic = FakeIronic(node())
    with pytest.raises(errors.RunGone):
        flow(ironic, Guard(halt_at="sending the deploy"), traits=["CUSTOM_X"], busy_limit=2).run()
    assert [c[0] for c in ironic.writes()] == ["TRAITS", "TRAITS"]   # written, then put back
    assert ironic.nodes["n1"]["traits"] == ["CUSTOM_OLD"] and ironic.the_board.entries == {}


def test_a_busy_limit_lowered_by_the_strategy_applies_at_the_gate():
    # Configured 3 with one node busy would admit; the strategy lowered it to 1 after backpressure.
    ironic = FakeIronic(node(), node("busy1", "deploying", OTHER))
    with pytest.raises(errors.SlotUnavailable) as exc:
        flow(ironic, Guard(limit=1), busy_limit=3, timeout=10).run()
    assert "busy_limit 1" in exc.value.msg
    assert flow(FakeIronic(node(), node("busy1", "deploying", OTHER)), Guard(), busy_limit=3).run()["changed"]


def test_admitted_when_a_busy_node_finishes():
    ironic = FakeIronic(node(), node("busy1", "deploying", OTHER))
    ticks = []

    def sleep(s):
        ticks.append(s)
        ironic.clock.t += s
        if len(ticks) == 3:
            ironic.nodes["busy1"]["provision_state"] = "active"
    f = DeployFlow(ironic, DeployRequest.from_params({"node": "n1", "instance_uuid": INST, "busy_limit": 1}),
                   None, clock=ironic.clock, wall=ironic.clock, sleep=sleep)
    assert f.run()["changed"] and len(ticks) == 3 and f.slot_wait > 0


def test_association_changed_while_waiting_is_refused_and_the_slot_given_back():
    ironic = FakeIronic(node(), node("busy1", "deploying", OTHER))

    def sleep(s):
        ironic.clock.t += s
        ironic.nodes["busy1"]["provision_state"] = "active"
        ironic.nodes["n1"]["instance_uuid"] = OTHER
    f = DeployFlow(ironic, DeployRequest.from_params({"node": "n1", "instance_uuid": INST, "busy_limit": 1,
                                                      "traits": ["CUSTOM_X"]}),
                   None, clock=ironic.clock, wall=ironic.clock, sleep=sleep)
    with pytest.raises(errors.AssociationRefused) as exc:
        f.run()
    assert exc.value.kind == "associated_elsewhere" and "changed while waiting" in exc.value.msg
    assert ironic.writes() == [] and ironic.the_board.entries == {}


def test_wait_reports_deploy_failed_as_deployment_failed():
    ironic = FakeIronic(node())

    def fails(uuid, reconcile):
        ironic.nodes[uuid].update(provision_state="deploy failed", target_provision_state="active",
                                  last_error="boom")
    ironic.on_deploy = fails
    with pytest.raises(errors.DeploymentFailed) as exc:
        flow(ironic, wait=True).run()
    assert exc.value.kind == "deploy_failed" and "boom" in exc.value.msg


def test_a_request_still_out_holds_its_slot_until_its_process_dies():
    """Race: host A was admitted and its deploy request is still out, so no listing shows node a
    busy yet; host B must not take that slot - unless A's process died before sending."""
    ironic = FakeIronic(node(), node("a", "available", OTHER))
    ironic.the_board.entries["a"] = {"group": "", "sent_at": None, "until": ironic.clock() + 600, "pid": 7,
                                     "start": "s"}
    with pytest.raises(errors.SlotUnavailable):
        flow(ironic, busy_limit=1, timeout=5).run()
    assert ironic.writes() == []
    ironic.alive = lambda pid, start: pid != 7
    assert flow(ironic, busy_limit=1, timeout=5).run()["changed"]
    assert set(ironic.the_board.entries) == {"n1"}


def test_microversion_without_a_readable_server_maximum_asks_for_the_need():
    from ansible_collections.ironwave.baremetal.plugins.module_utils import deploy_rules as rules
    steps = [{"interface": "deploy", "step": "s", "args": {}, "priority": 1}]
    assert rules.pick_microversion(None, steps, None) == "1.69"
    assert rules.pick_microversion({"user_data": "x"}, None, "1.56") == "1.56"
    with pytest.raises(errors.BadInput) as exc:
        rules.pick_microversion({"vendor_data": {}}, None, "1.58")
    assert "config_drive.vendor_data needs bare metal API 1.59" in exc.value.msg


# -- issue 12: phases for the report's timeline ------------------------------------------------------
def iso(t):
    import datetime as dt
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).isoformat()


def moved(ironic, uuid, state, at, target=None):
    """A state change as Ironic records it: provision_updated_at is Ironic's time of the move."""
    ironic.nodes[uuid].update(provision_state=state, target_provision_state=target, provision_updated_at=iso(at))


def test_phases_follow_the_gate_and_ironics_states_at_ironics_times():
    ironic = FakeIronic(node(updated_at=iso(990.0)), node("busy1", "deploying", OTHER))
    ironic.on_deploy = lambda uuid, reconcile: moved(ironic, uuid, "deploying", ironic.clock() + 0.25, "active")
    ticks = []

    def sleep(s):
        ticks.append(s)
        ironic.clock.t += s
        if len(ticks) == 2:
            ironic.nodes["busy1"]["provision_state"] = "active"
        elif len(ticks) == 4:
            moved(ironic, "n1", "wait call-back", ironic.clock() - 1.0, "active")
        elif len(ticks) == 6:
            moved(ironic, "n1", "active", ironic.clock() - 0.5)
    f = DeployFlow(ironic, DeployRequest.from_params({"node": "n1", "instance_uuid": INST, "busy_limit": 1,
                                                      "wait": True, "precheck_max_age": 0}),
                   None, clock=ironic.clock, wall=ironic.clock, sleep=sleep)
    assert f.run()["provision_state"] == "active"
    started, admitted = 1000.0, 1000.0 + sum(ticks[:2])
    sent = admitted   # the fake clock stands still between admission and the request
    assert f.phases == [
        {"phase": "reserved", "at": 990.0, "source": "ironic"},       # the node's updated_at (ours, available)
        {"phase": "waiting", "at": started, "source": "module"},
        {"phase": "admitted", "at": admitted, "source": "module"},
        {"phase": "deploying", "at": sent + 0.25, "source": "ironic"},
        {"phase": "wait call-back", "at": 1000.0 + sum(ticks[:4]) - 1.0, "source": "ironic"},
        {"phase": "active", "at": 1000.0 + sum(ticks[:6]) - 0.5, "source": "ironic"}]


def test_phases_without_ironic_times_use_when_seen_and_the_module_clock_for_reserved():
    ironic = FakeIronic(node())    # from the shared listing: no updated_at, no provision_updated_at
    f = flow(ironic)
    assert f.run()["changed"]
    assert f.phases == [{"phase": "reserved", "at": 1000.0, "source": "module"},
                        {"phase": "deploying", "at": 1000.0, "source": "module"}]


def test_a_failed_deploy_keeps_its_phases_up_to_the_failure():
    ironic = FakeIronic(node())
    ironic.on_deploy = lambda uuid, reconcile: moved(ironic, uuid, "deploy failed", ironic.clock() + 3, "active")
    f = flow(ironic, wait=True, busy_limit=2)
    with pytest.raises(errors.DeploymentFailed):
        f.run()
    assert [(p["phase"], p["source"]) for p in f.phases] == [
        ("reserved", "module"), ("admitted", "module"), ("deploy failed", "ironic")]
    assert f.phases[-1]["at"] == 1003.0


def test_a_gate_timeout_reports_reserved_and_waiting():
    ironic = FakeIronic(node(), node("busy1", "deploying", OTHER))
    f = flow(ironic, busy_limit=1, timeout=10)
    with pytest.raises(errors.SlotUnavailable):
        f.run()
    assert [p["phase"] for p in f.phases] == ["reserved", "waiting"]


def test_waiting_for_a_deploy_in_progress_records_only_what_ironic_reported():
    ironic = FakeIronic(node(state="deploying", target_provision_state="active", provision_updated_at=iso(900)))

    def sleep(s):
        ironic.clock.t += s
        moved(ironic, "n1", "active", 1001.5)
    f = DeployFlow(ironic, DeployRequest.from_params({"node": "n1", "instance_uuid": INST, "wait": True}),
                   None, clock=ironic.clock, wall=ironic.clock, sleep=sleep)
    assert f.run()["changed"] is False
    assert f.phases == [{"phase": "deploying", "at": 900.0, "source": "ironic"},
                        {"phase": "active", "at": 1001.5, "source": "ironic"}]


@pytest.mark.parametrize("n,params", [(node(state="active"), {}), (node(state="deploying"), {}),
                                      (node(), {"check_mode": True})])
def test_no_phases_when_nothing_was_done(n, params):
    f = flow(FakeIronic(n), **params)
    f.run()
    assert f.phases == []


def test_no_phases_for_a_refusal():
    f = flow(FakeIronic(node(inst=OTHER)))
    with pytest.raises(errors.AssociationRefused):
        f.run()
    assert f.phases == []


# -- busy_board cloud (cloud_gate): a claim marker on Ironic, verified after the write ------------------
class SlotStore:
    """The slot markers as IronicSlotStore serves them, on FakeIronic's nodes (`extra`)."""

    def __init__(self, ironic, before_verify=None) -> None:
        self.ironic, self.before_verify = ironic, before_verify
        self.after_copy = None   # callable(newer_than): changes Ironic right after this listing was read

    def listing(self, newer_than, max_age=None):
        self.max_age = max_age    # set at a tick of a shared gate (tick_plan), never by a verify
        if self.before_verify:
            self.before_verify(newer_than)
        from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl
        rows = copy.deepcopy(list(self.ironic.nodes.values()))
        if self.after_copy is not None:
            self.after_copy(newer_than)
        return sl.parse_nodes(rows)

    def read_node(self, ident):
        return None

    def write(self, uuid, lease, deadline):
        self.ironic.calls.append(("MARKER", uuid, lease.phase if lease else None))
        extra = self.ironic.nodes[uuid].setdefault("extra", {})
        if lease is None:
            extra.pop("ironwave_slot", None)
        else:
            extra["ironwave_slot"] = lease.to_extra()


def cloud_ironic(*nodes, before_verify=None):
    ironic = FakeIronic(*nodes)
    store = SlotStore(ironic, before_verify)
    ironic.slot_store = lambda poll_interval, ttl: store
    ironic.run_proc = lambda: None
    ironic.deploy_then_active = True
    return ironic


def test_cloud_board_writes_a_claim_deploys_and_leaves_it_inert_when_active():
    ironic = cloud_ironic(node(), node("busy1", "deploying", OTHER))

    def deploy(uuid, reconcile):
        # The claim counts until the node moves; from then on the node counts as busy.
        assert ironic.nodes[uuid]["extra"]["ironwave_slot"]["phase"] == "choosing"
        ironic.nodes[uuid].update(provision_state="active", target_provision_state=None, provision_updated_at="t9")
    ironic.on_deploy = deploy
    out = flow(ironic, busy_limit=2, busy_board="cloud", run_id="run-a", wait=True).run()
    assert out["provision_state"] == "active"
    assert [c for c in ironic.calls if c[0] in ("MARKER", "DEPLOY")] == [
        ("MARKER", "n1", "choosing"), ("DEPLOY", "n1", "1.52", {"target": "active"})]
    # No removal request: the node moved, so the marker counts for no one (nor blocks the next one).
    from ansible_collections.ironwave.baremetal.plugins.module_utils import cloud_gate as cg
    from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl
    assert ironic.nodes["n1"]["extra"]["ironwave_slot"]["phase"] == "choosing"
    (n1,) = sl.parse_nodes([ironic.nodes["n1"]])
    assert cg.claimed([n1]) == set() and sl.plan_announce(n1, "run-b").action == sl.ANNOUNCE


def test_cloud_board_withdraws_when_another_run_wrote_meanwhile_and_goes_later():
    from ansible_collections.ironwave.baremetal.plugins.module_utils import cloud_gate as cg
    from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl
    ironic = cloud_ironic(node(), node("other", "available", OTHER))
    verifies = []

    store = ironic.slot_store(1.0, 60.0)

    def other_run(newer_than):
        if newer_than is not None and store.max_age is None:   # the verifying listing
            verifies.append(1)
            if len(verifies) == 1:   # another slice took the last slot between our listing and our write
                (other,) = sl.parse_nodes([ironic.nodes["other"]])
                ironic.nodes["other"].setdefault("extra", {})["ironwave_slot"] = cg.claim_marker(
                    other, "run-b", "x", 60.0, None, 0.0).to_extra()
        elif verifies and ironic.clock.t > 1003:   # ... its node deployed and is active now
            ironic.nodes["other"].update(provision_state="active", provision_updated_at="t5")
    store.before_verify = other_run
    out = flow(ironic, busy_limit=1, busy_board="cloud", run_id="run-a").run()
    assert out["changed"] and len(verifies) == 2
    markers = [c for c in ironic.calls if c[0] == "MARKER"]
    assert markers == [("MARKER", "n1", "choosing"), ("MARKER", "n1", None), ("MARKER", "n1", "choosing")]
    assert [c[0] for c in ironic.calls if c[0] == "DEPLOY"] == ["DEPLOY"]
    assert ironic.the_board.entries["n1"]["sent_at"] is not None


# -- a conductor's lock on our node is waited out, not refused ------------------------------------------
class LockedFor(FakeIronic):
    """The node shows a conductor's lock (reservation) for the first `reads` direct reads."""

    def __init__(self, *nodes, reads=2) -> None:
        super().__init__(*nodes)
        self.locked_reads = reads

    def node(self, ident):
        n = super().node(ident)
        if n is not None and self.locked_reads > 0:
            self.locked_reads -= 1
            n["reservation"] = "ironwave-conductor"
        return n


def test_a_moments_lock_on_our_node_is_waited_out_then_deployed():
    # Seen with AWX slices: another slice's reserving PATCH met our node (stale listing), so the
    # conductor held its lock for a moment exactly when node_deploy read it.
    ironic = LockedFor(node(), reads=2)
    out = flow(ironic, precheck_max_age=0).run()
    assert out["changed"] and [c[0] for c in ironic.writes()] == ["DEPLOY"]


def test_a_lock_that_stays_is_refused_as_busy_after_the_wait():
    ironic = LockedFor(node(), reads=1000)
    with pytest.raises(errors.AssociationRefused) as exc:
        flow(ironic, precheck_max_age=0).run()
    assert exc.value.kind == "busy" and "locked by conductor" in exc.value.msg
    assert ironic.writes() == [] and ironic.clock.t >= 1000 + 30


def test_cloud_board_verifies_even_over_a_claim_of_its_own():
    # A withdrawal that failed leaves our claim behind; it proves nothing about the count now:
    # another run's marker written right after our listing must still stop us.
    from ansible_collections.ironwave.baremetal.plugins.module_utils import cloud_gate as cg
    from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl
    mine, other = node(), node("other", "available", OTHER)
    (parsed_mine, parsed_other) = sl.parse_nodes([mine, other])
    mine["extra"] = {"ironwave_slot": cg.claim_marker(parsed_mine, "run-a", "h", 60.0, None, 0.0).to_extra()}
    ironic = cloud_ironic(mine, other)

    def other_run_writes(newer_than):
        claim = cg.claim_marker(parsed_other, "run-b", "x", 60.0, None, 0.0)
        ironic.nodes["other"]["extra"] = {"ironwave_slot": claim.to_extra()}
    ironic.slot_store(1.0, 60.0).after_copy = other_run_writes
    with pytest.raises(errors.SlotUnavailable):
        flow(ironic, busy_limit=1, busy_board="cloud", run_id="run-a", timeout=5).run()
    assert not [c for c in ironic.calls if c[0] == "DEPLOY"]


def test_a_deploy_for_our_instance_begun_while_we_waited_is_followed_not_refused():
    """CI (test_kill_mid_wave, kill group): a killed run's deploy request reached Ironic while the
    rerun waited at the gate for the same node and instance; the re-check found the node deploying
    for our instance and refused it as busy. It is ours: follow it, send nothing, give the slot back."""
    ironic = FakeIronic(node(), node("busy1", "deploying", OTHER))

    def sleep(s):
        ironic.clock.t += s
        ironic.nodes["busy1"]["provision_state"] = "active"
        if ironic.nodes["n1"]["provision_state"] == "available":
            ironic.nodes["n1"].update(provision_state="deploying", target_provision_state="active")
        else:
            ironic.nodes["n1"].update(provision_state="active", target_provision_state=None)
    for wait in (False, True):
        ironic.nodes["n1"].update(provision_state="available", target_provision_state=None)
        ironic.nodes["busy1"]["provision_state"] = "deploying"
        f = DeployFlow(ironic, DeployRequest.from_params({"node": "n1", "instance_uuid": INST, "busy_limit": 1,
                                                          "traits": ["CUSTOM_X"], "wait": wait}),
                       None, clock=ironic.clock, wall=ironic.clock, sleep=sleep)
        out = f.run()
        assert not out["changed"] and out["provision_state"] == ("active" if wait else "deploying")
        assert ironic.writes() == [] and ironic.the_board.entries == {}


def test_waiting_joins_the_next_regular_listing_instead_of_asking_right_after_the_request():
    """Every host asking for a listing newer than its own deploy request cost one listing per
    node; the first read after the request waits for the controller's next tick."""
    ironic = FakeIronic(node())
    reads, plain = [], ironic.listing

    def listing(ttl, max_age=None, newer_than=None):
        if newer_than is not None:
            reads.append(ironic.clock.t - newer_than)
        return plain(ttl, max_age, newer_than)
    ironic.listing = listing
    sent = []
    ironic.on_deploy = lambda uuid, reconcile: (sent.append(ironic.clock.t), ironic.nodes[uuid].update(
        provision_state="active", target_provision_state=None))
    assert flow(ironic, wait=True, poll_interval=2.0).run()["provision_state"] == "active"
    assert sent and reads and reads[0] >= 2.0


def test_a_deploy_for_our_instance_found_after_the_cloud_gate_leaves_the_inert_marker_alone():
    """After the cloud gate admitted us, the re-check found a deploy for our instance under way (a
    killed run's late request): our claim stopped counting when the node left `available`,
    so it is not removed (a removal would be one request for nothing); nothing else is sent."""
    ironic = cloud_ironic(node(), node("busy1", "deploying", OTHER))
    store = ironic.slot_store(1.0, 60.0)

    def late_request(newer_than):
        if newer_than is not None:   # right after the verifying listing was read
            ironic.nodes["n1"].update(provision_state="deploying", target_provision_state="active")
    store.after_copy = late_request
    out = flow(ironic, busy_limit=2, busy_board="cloud", run_id="run-a").run()
    assert not out["changed"] and out["provision_state"] == "deploying"
    assert [c for c in ironic.calls if c[0] in ("MARKER", "DEPLOY")] == [("MARKER", "n1", "choosing")]
    assert ironic.nodes["n1"]["extra"]["ironwave_slot"]["phase"] == "choosing"
    assert ironic.the_board.entries == {}


def test_a_deploy_for_our_instance_begun_before_the_verifying_listing_is_followed_not_failed():
    """The late request lands between the gate's listing and its verifying listing: the verify
    sees our node moved (its marker counts for no one). That move is the deploy we were about to
    send: follow it (changed false) instead of failing the host; nothing is sent."""
    for wait in (False, True):
        ironic = cloud_ironic(node(), node("busy1", "deploying", OTHER))
        store = ironic.slot_store(1.0, 60.0)

        def late_request(newer_than):
            if newer_than is None and ironic.nodes["n1"]["provision_state"] == "available":
                ironic.nodes["n1"].update(provision_state="deploying", target_provision_state="active")
        store.after_copy = late_request

        def sleep(s, ironic=ironic):   # time passes: the deploy under way finishes
            ironic.clock.sleep(s)
            if ironic.nodes["n1"]["provision_state"] == "deploying":
                ironic.nodes["n1"].update(provision_state="active", target_provision_state=None)
        f = DeployFlow(ironic, DeployRequest.from_params({"node": "n1", "instance_uuid": INST, "busy_limit": 2,
                                                          "busy_board": "cloud", "run_id": "run-a", "wait": wait}),
                       None, clock=ironic.clock, wall=ironic.clock, sleep=sleep)
        out = f.run()
        assert not out["changed"] and out["provision_state"] == ("active" if wait else "deploying")
        assert [c for c in ironic.calls if c[0] == "DEPLOY"] == []
        assert ironic.the_board.entries == {}


def deploying_for(name, run):
    """Another run's node: its claim written in `available`, the node deploying since."""
    from ansible_collections.ironwave.baremetal.plugins.module_utils import cloud_gate as cg
    from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl
    other = node(name, "available", OTHER)
    (parsed,) = sl.parse_nodes([other])
    other["extra"] = {"ironwave_slot": cg.claim_marker(parsed, run, "x", 60.0, None, 0.0).to_extra()}
    other["provision_state"] = "deploying"
    return other


def test_with_another_run_sharing_the_cloud_gate_the_wait_lists_at_this_runs_phase_of_a_longer_period():
    """Two runs share the gate (the other's marker sits on the node it is deploying): each lists every
    2 x poll_interval, run-a (first of the sorted run ids) at even seconds, so together they list
    about once per poll interval. One run alone keeps the plain tick (test above)."""
    ironic = cloud_ironic(node(), deploying_for("busy1", "run-b"))   # run-b shares the gate
    ironic.clock.t = 100.3
    reads, plain = [], ironic.listing

    def listing(ttl, max_age=None, newer_than=None):
        reads.append((round(ironic.clock.t, 2), max_age, newer_than))
        if ironic.clock.t > 105:
            ironic.nodes["n1"].update(provision_state="active", target_provision_state=None)
        return plain(ttl, max_age, newer_than)
    ironic.listing = listing
    ironic.on_deploy = lambda uuid, reconcile: ironic.nodes[uuid].update(provision_state="deploying",
                                                                         target_provision_state="active")
    out = flow(ironic, busy_limit=2, busy_board="cloud", run_id="run-a", wait=True, poll_interval=1.0).run()
    assert out["provision_state"] == "active"
    waits = [r for r in reads if r[2] is not None and r[0] > 100.3]
    assert len(waits) >= 3
    for t, max_age, newer_than in waits[1:]:
        assert round(t % 2.0, 2) == 0.02, reads        # at run-a's tick points (even seconds)
        # a copy made after run-b's tick point just before (an odd second) serves the tick
        assert max_age == 2.0 and newer_than == pytest.approx(t - 1.02), reads


def shared_gate_ironic(first_copy_inst=INST):
    """Three runs share the cloud gate (run-b's and run-c's deploys under way); run-a is ours."""
    ironic = cloud_ironic(node(inst=first_copy_inst), deploying_for("busy1", "run-b"), deploying_for("busy2", "run-c"))
    ironic.clock.t = 100.3
    reads, plain = [], ironic.listing

    def listing(ttl, max_age=None, newer_than=None):
        reads.append((round(ironic.clock.t, 2), max_age, newer_than))
        out = plain(ttl, max_age, newer_than)
        if len(reads) == 2:   # the pre-check's copy read, the reservation shows from the next one on
            ironic.nodes["n1"]["instance_uuid"] = INST
        return out
    ironic.listing = listing
    return ironic, reads


def test_with_runs_sharing_the_cloud_gate_the_precheck_accepts_what_this_runs_tick_would():
    """The pre-check's copy may be as old as this run's tick period (3 runs x 1 s) when made after
    the previous run's tick: it is the copy the gate reads next anyway. Before, a copy older than
    precheck_max_age (2 s) cost a listing of its own for about every third host."""
    ironic, reads = shared_gate_ironic()
    f = flow(ironic, busy_limit=3, busy_board="cloud", run_id="run-a", poll_interval=1.0, precheck_max_age=2.0)
    assert f.from_listing()["uuid"] == "n1"
    assert reads[0][1] == PLAN_MAX_AGE                           # the copy at hand, to learn the plan
    assert reads[1] == (100.3, 3.0, pytest.approx(f.ticks.serves_from(100.3)))


def test_with_runs_sharing_the_cloud_gate_a_copy_predating_the_reservation_is_followed_at_this_runs_tick():
    """The copy does not show the node ours yet: the next copy is this run's own tick (run-a ticks
    at 0, 3, 6 ... of a 3 s period), not a listing at the plain 1 s tick."""
    ironic, reads = shared_gate_ironic(first_copy_inst=None)
    f = flow(ironic, busy_limit=3, busy_board="cloud", run_id="run-a", poll_interval=1.0)
    assert f.from_listing()["uuid"] == "n1"
    t, max_age, newer_than = reads[-1]
    assert t == 102.02 and max_age == 3.0 and newer_than == pytest.approx(101.0)


def n2_marker_in_flight():
    """n1 waits at the cloud gate; n2's host (same controller) is admitted, its marker write still out."""
    ironic = cloud_ironic(node(), node("n2", "available"))
    ironic.the_board.entries["n2"] = {"group": "", "sent_at": None, "until": 2000.0, "pid": 7, "start": "s",
                                      "marking": True}
    return ironic, ironic.slot_store(1.0, 60.0)


def same_tick_flow(ironic, sleep):
    return DeployFlow(ironic, DeployRequest.from_params({"node": "n1", "instance_uuid": INST, "busy_limit": 3,
                                                         "busy_board": "cloud", "run_id": "run-a",
                                                         "poll_interval": 2.0}),
                      None, clock=ironic.clock, wall=ironic.clock, sleep=sleep)


def test_hosts_admitted_at_the_same_tick_verify_with_one_listing_sent_after_all_their_marker_writes():
    """n2's host (same controller) was admitted at the same tick and its marker write is still out:
    ours waits until that write is done, so one listing (shared through the controller's cache)
    verifies both instead of one listing each. Before, ours listed right after its own write."""
    ironic, store = n2_marker_in_flight()
    events = []

    def sleep(s):
        ironic.clock.t += s
        if ironic.clock.t >= 1000.1 and ironic.the_board.entries["n2"]["marking"]:
            ironic.the_board.entries["n2"]["marking"] = False   # n2's marker write is done
            events.append(("n2 marked", round(ironic.clock.t, 2)))
    store.before_verify = lambda newer_than: events.append(("listing", round(ironic.clock.t, 2)))
    assert same_tick_flow(ironic, sleep).run()["changed"]
    verifying = [e for e in events if e[0] == "listing"][1]   # the gate's tick listing, then the verifying one
    marked = next(e for e in events if e[0] == "n2 marked")
    assert events.index(marked) < events.index(verifying), events


def test_the_wait_for_other_marker_writes_is_bounded():
    """A host whose marker write hangs delays the others' verifying listing by at most MARKERS_WAIT."""
    from ansible_collections.ironwave.baremetal.plugins.module_utils.deploy_flow import MARKERS_WAIT
    ironic, store = n2_marker_in_flight()
    times = []
    store.before_verify = lambda newer_than: times.append(ironic.clock.t)

    def sleep(s):
        ironic.clock.t += s
    assert same_tick_flow(ironic, sleep).run()["changed"]
    assert times[1] - times[0] == pytest.approx(MARKERS_WAIT, abs=0.03)
