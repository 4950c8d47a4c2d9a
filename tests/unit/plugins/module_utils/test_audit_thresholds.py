# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import audit_thresholds as at
from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_states


def test_state_families_come_from_ironic_states():
    assert at.WORKING == {"verifying", "deploying", "deleting", "cleaning", "inspecting", "adopting",
                          "rescuing", "unrescuing", "servicing"}
    assert at.WAITING == {"wait call-back", "clean wait", "inspect wait", "rescue wait", "service wait"}
    assert at.HOLDING == ironic_states.HOLD
    assert not (at.WORKING | at.WAITING | at.HOLDING) & ironic_states.FAILED


@pytest.mark.parametrize("state,seconds", [
    ("deploying", 1800), ("cleaning", 1800), ("verifying", 1800),
    ("wait call-back", 900), ("clean wait", 900), ("inspect wait", 900),
    ("deploy hold", 3600), ("clean hold", 3600), ("service hold", 3600),
    ("active", None), ("deploy failed", None), (None, None),
])
def test_node_defaults(state, seconds):
    assert at.Thresholds().node(state) == seconds


def test_wait_states_are_flagged_before_ironic_fails_them():
    for state in at.WAITING:
        assert at.Thresholds().node(state) < at.DEPLOY_CALLBACK_TIMEOUT


@pytest.mark.parametrize("task,seconds", [
    ("scheduling", 600), ("spawning", 3600), ("deleting", 1800), ("rebooting_hard", 600),
    ("powering-on", 600), ("image_uploading", 600), ("pausing", at.SERVER_OTHER_DEFAULT), (None, None), ("", None),
])
def test_server_defaults(task, seconds):
    assert at.Thresholds().server(task) == seconds


def test_other_checks_derive_from_heartbeat_and_periodic_interval():
    th = at.Thresholds()
    assert th.check("dead_conductor_lock") == 2 * (at.HEARTBEAT_TIMEOUT + at.CHECK_PROVISION_STATE_INTERVAL)
    assert th.check("allocation") == 300


def test_resolve_none_and_empty_are_the_defaults():
    assert at.resolve(None) == at.Thresholds()
    assert at.resolve({}).node("wait call-back") == 900


def test_flat_overrides_go_to_their_table():
    th = at.resolve({"wait call-back": 600, "spawning": 7200.5, "allocation": 60})
    assert th.node("wait call-back") == 600 and th.server("spawning") == 7200.5 and th.check("allocation") == 60
    assert th.node("clean wait") == 900          # untouched defaults stay


def test_sectioned_overrides_resolve_the_ambiguous_deleting():
    th = at.resolve({"node": {"deleting": 100}, "server": {"deleting": 200}, "other": {"dead_conductor_lock": 30}})
    assert th.node("deleting") == 100 and th.server("deleting") == 200 and th.check("dead_conductor_lock") == 30


def test_resolved_thresholds_are_immutable():
    th = at.resolve({"deploying": 10})
    with pytest.raises(TypeError):
        th.nodes["deploying"] = 1   # type: ignore[index]
    assert at.Thresholds().node("deploying") == 1800


@pytest.mark.parametrize("overrides,names", [
    ({"deploying": 0}, ["'deploying'", "positive number"]),
    ({"deploying": -5}, ["'deploying'", "positive"]),
    ({"deploying": "10"}, ["'deploying'", "positive"]),
    ({"deploying": True}, ["'deploying'", "positive"]),
    ({"deploing": 10}, ["'deploing'", "unknown state", "wait call-back"]),
    ({"deleting": 10}, ["'deleting'", "node:", "server:"]),
    ({"node": {"spawning": 10}}, ["node.spawning", "unknown", "wait call-back"]),
    ({"server": {"wait call-back": 10}}, ["server.wait call-back", "spawning"]),
    ({"node": {"deploying": 0}}, ["node.deploying", "positive"]),
    ({"node": 5}, ["'node'", "mapping"]),
    ([("deploying", 1)], ["mapping"]),
])
def test_bad_overrides_name_the_key_and_the_fix(overrides, names):
    with pytest.raises(errors.BadInput) as exc:
        at.resolve(overrides)
    for name in names:
        assert name in exc.value.msg
