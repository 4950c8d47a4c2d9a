# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""nova_phases: a Nova build's phases from Nova's and Ironic's timestamps, per source, in time order."""
from __future__ import annotations

import datetime as dt

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_phases as np_

T = 1_800_000_000.0
TASK = "OS-EXT-STS:task_state"


def iso(ts: float, z: bool = True) -> str:
    text = dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return text + "Z" if z else text + "+00:00"


def server(status, task=None, at=None, sid="s1"):
    return {"id": sid, "status": status, TASK: task, "updated": iso(at) if at is not None else None}


def node(state, at=None, holder="s1"):
    return {"uuid": "n1", "provision_state": state, "instance_uuid": holder,
            "provision_updated_at": iso(at, z=False) if at is not None else None}


@pytest.mark.parametrize("srv,phase", [
    (server("BUILD", "scheduling"), "scheduling"), (server("BUILD", "spawning"), "spawning"),
    (server("BUILD"), None), (server("ACTIVE"), "active"), (server("error"), "error"),
    (server("DELETED"), "deleted"), ({"status": None}, None), (None, None)])
def test_server_phase_is_the_task_state_while_building_else_the_status(srv, phase):
    assert np_.server_phase(srv) == phase


def test_within_keeps_a_service_time_between_the_floor_and_when_it_was_seen():
    assert np_.within(T + 5, T, T + 10) == T + 5
    assert np_.within(T - 5, T, T + 10) == T          # service clock behind, or a past before the request
    assert np_.within(T + 20, T, T + 10) == T + 10    # service clock ahead
    assert np_.within(T - 5, None, T + 10) == T - 5
    assert np_.within(None, T, T + 10) == T + 10


def test_a_build_merges_nova_and_ironic_in_time_order_with_their_sources():
    log = np_.BuildPhases()
    log.reserved({"updated_at": iso(T)}, True, since=T - 0.5, now=T + 1)
    log.requested("s1", T + 1)
    log.observe_server(server("BUILD", "spawning", T + 2), seen=T + 3)
    log.observe_node(node("available", T - 3600, holder=None), "s1", seen=T + 3)   # idle: not this build
    log.observe_node(node("available", T - 3600), "s1", seen=T + 3)               # associated, not deploying yet
    log.observe_server(server("BUILD", "spawning", T + 2), seen=T + 5)            # a repeat
    log.observe_node(node("deploying", T + 4), "s1", seen=T + 5)
    log.observe_node(node("wait call-back"), "s1", seen=T + 9)                   # no time: when seen
    log.observe_node(node("active", T + 30), "s1", seen=T + 31)
    log.observe_server(server("ACTIVE", None, T + 31), seen=T + 31)
    assert log.as_list() == [{"phase": "reserved", "at": T, "source": "ironic"},
                             {"phase": "requested", "at": T + 1, "source": "module"},
                             {"phase": "spawning", "at": T + 2, "source": "nova"},
                             {"phase": "deploying", "at": T + 4, "source": "ironic"},
                             {"phase": "wait call-back", "at": T + 9, "source": "module"},
                             {"phase": "active", "at": T + 30, "source": "ironic"}]


def test_a_node_held_by_another_server_is_not_this_builds():
    log = np_.BuildPhases()
    log.requested("s1", T)
    log.observe_node(node("deploying", T + 4, holder="other"), "s1", seen=T + 5)
    log.observe_node(None, "s1", seen=T + 5)
    log.observe_server(None, seen=T + 5)
    assert [e["phase"] for e in log.as_list()] == ["requested"]


def test_reserved_takes_the_modules_clock_unless_ironics_time_fits_the_marking():
    for node_, ours in (({"updated_at": iso(T - 3600)}, True), ({"updated_at": iso(T)}, False), ({}, True), (None, True)):
        log = np_.BuildPhases()
        log.reserved(node_, ours, since=T - 1, now=T + 2)
        assert log.as_list() == [{"phase": "reserved", "at": T + 2, "source": "module"}]


def test_a_rebuild_repeats_its_states_and_service_times_never_precede_its_request():
    log = np_.BuildPhases()
    log.requested("s1", T)
    log.observe_node(node("deploying", T + 2), "s1", seen=T + 3)
    log.observe_node(node("deploy failed", T + 9), "s1", seen=T + 10)
    log.observe_server(server("ERROR", None, T + 10), seen=T + 10)
    log.requested("s2", T + 40)
    log.observe_server(server("BUILD", "spawning", T + 20, sid="s2"), seen=T + 41)   # Nova's clock behind
    log.observe_node(node("deploying", T + 42, holder="s2"), "s2", seen=T + 43)
    out = log.as_list()
    assert [e["phase"] for e in out] == ["requested", "deploying", "deploy failed", "error", "requested", "spawning",
                                         "deploying"]
    assert out[5] == {"phase": "spawning", "at": T + 40, "source": "nova"}


def test_a_resumed_build_is_dated_from_the_tasks_start():
    log = np_.BuildPhases()
    log.resumed(T)
    log.observe_server(server("BUILD", "spawning", T - 600), seen=T + 1)
    assert log.as_list() == [{"phase": "spawning", "at": T, "source": "nova"}]


def test_bounded_ends_with_the_latest_and_stays_in_time_order():
    log = np_.BuildPhases(cap=6)
    log.requested("s1", T)
    for i in range(200):
        log.observe_node(node("deploying" if i % 2 else "wait call-back", T + i), "s1", seen=T + i)
    log.observe_node(node("active", T + 500), "s1", seen=T + 500)
    out = log.as_list()
    assert len(out) == 6 and out[0]["phase"] == "requested" and out[-1]["phase"] == "active"
    assert [e["at"] for e in out] == sorted(e["at"] for e in out) and len(log._raw) <= 12  # pylint: disable=protected-access
