# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""slot_store on a fake request function: the observation board is shared by every process of a
controller (a marker seen unchanged by one is known to the next), marker writes are JSON patches,
Ironic's two refusals are typed answers."""
from __future__ import annotations

import time

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, ironic_errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_acquire import (
    ABSENT, IN_TRANSITION, WriteRefused)
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_store import IronicSlotStore
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_timing import SlotTiming

MARKER = sl.Lease(run_id="r", holder="h", phase=sl.HELD, from_state="available", ticket=1, ttl=20.0)


class Api:
    def __init__(self):
        self.calls = []
        self.fail: Exception | None = None

    def __call__(self, method, path, deadline=120.0, json=None):
        self.calls.append((method, path, deadline, json))
        if self.fail:
            raise self.fail
        if method == "GET":
            return {"nodes": [{"uuid": "a", "name": "n-a", "provision_state": "available",
                               "extra": {sl.MARKER_KEY: MARKER.to_extra()}}]}
        return {}


class ApiError(errors.IronwaveError):
    def __init__(self, status, message, kind=ironic_errors.UNKNOWN):
        super().__init__(message, kind)
        self.error = ironic_errors.IronicError(kind=kind, status=status, message=message,
                                               action=ironic_errors.NEVER)


def store(tmp_path, api):
    return IronicSlotStore(api, "cloud", poll_interval=0.0, timing=SlotTiming(20.0), directory=str(tmp_path),
                           gone=lambda proc: False)


def test_board_is_shared_between_processes_of_one_controller(tmp_path):
    api = Api()
    first = store(tmp_path, api).listing(None)
    assert first[0].unchanged_for == 0.0 and sl.lease_counts(first[0])
    time.sleep(0.05)
    later = store(tmp_path, api).listing(time.monotonic())     # another process, a new request
    assert later[0].unchanged_for > 0.0
    assert len([c for c in api.calls if c[0] == "GET"]) == 2
    assert all(c[2] == 5.0 for c in api.calls)                   # reads bounded by ttl / 4


def test_write_is_one_json_patch_with_the_deadline(tmp_path):
    api = Api()
    store(tmp_path, api).write("a", MARKER, 5.0)
    store(tmp_path, api).write("a", None, 5.0)
    add = {"op": "add", "path": "/extra/ironwave_slot", "value": MARKER.to_extra()}
    remove = {"op": "remove", "path": "/extra/ironwave_slot"}
    assert api.calls == [("PATCH", "/nodes/a", 5.0, [add]), ("PATCH", "/nodes/a", 5.0, [remove])]


@pytest.mark.parametrize("status,message,kind,lease,answer", [
    (400, "can't remove non-existent object 'ironwave_slot'", ironic_errors.BAD_REQUEST, None, ABSENT),
    (409, "Node a can not be updated while a state transition is in progress.", ironic_errors.IN_TRANSITION,
     MARKER, IN_TRANSITION),
    (409, "Node a is locked by host c1, please retry after the current operation is completed.",
     ironic_errors.NODE_LOCKED, MARKER, IN_TRANSITION),
])
def test_refusals_are_answers(tmp_path, status, message, kind, lease, answer):
    api = Api()
    api.fail = ApiError(status, message, kind)
    with pytest.raises(WriteRefused) as exc:
        store(tmp_path, api).write("a", lease, 5.0)
    assert exc.value.kind == answer


def test_other_failures_stay_typed(tmp_path):
    api = Api()
    api.fail = ApiError(500, "boom", ironic_errors.SERVER_ERROR)
    with pytest.raises(errors.IronwaveError) as exc:
        store(tmp_path, api).write("a", MARKER, 5.0)
    assert not isinstance(exc.value, WriteRefused) and exc.value.kind == ironic_errors.SERVER_ERROR
    api.fail = ApiError(404, "Node b could not be found.", ironic_errors.NOT_FOUND)
    assert store(tmp_path, api).read_node("b") is None


def test_with_a_source_the_callers_listing_serves_the_markers(tmp_path):
    """node_deploy's busy_board cloud: the markers come from the controller's one node listing
    (it carries `extra`), no listing of the store's own; the observation board still learns from
    every read, so a marker seen unchanged for its ttl is dead to every process."""
    from ansible_collections.ironwave.baremetal.plugins.module_utils.poll_cache import Fetched
    api, asked = Api(), []
    rows = Api()("GET", "/nodes")["nodes"]

    def source(newer_than, max_age):
        asked.append(newer_than)
        return Fetched(rows, 0.0, True)

    def via_source():
        return IronicSlotStore(api, "cloud", poll_interval=1.0, timing=SlotTiming(20.0), directory=str(tmp_path),
                               gone=lambda proc: False, source=source)
    (first,) = via_source().listing(None)
    assert first.unchanged_for == 0.0 and sl.lease_counts(first)
    time.sleep(0.05)
    since = time.monotonic()
    (later,) = via_source().listing(since)
    assert later.unchanged_for > 0.0 and asked == [None, since]
    assert api.calls == []
