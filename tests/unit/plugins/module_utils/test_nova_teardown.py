# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""nova_teardown.delete_server: delete by name, wait until Nova no longer lists it (fake compute
client and clock)."""
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors, nova_teardown

HYP = "OS-EXT-SRV-ATTR:hypervisor_hostname"


class Nova:
    """Servers vanish `linger` seconds after their DELETE (never when linger is None)."""

    def __init__(self, clock, servers: list[dict], linger: float | None = 6.0) -> None:
        self.clock, self.linger = clock, linger
        self.servers = {s["id"]: dict(s) for s in servers}
        self.deletes: list[str] = []
        self.gets = 0

    def server_named(self, name):
        return [dict(s) for s in self.servers.values() if s["name"] == name]

    def delete_server(self, sid):
        self.deletes.append(sid)
        self.servers[sid]["deleted_at"] = self.clock.now

    def get_server(self, sid):
        self.gets += 1
        s = self.servers.get(sid)
        if s and "deleted_at" in s and self.linger is not None and self.clock.now >= s["deleted_at"] + self.linger:
            del self.servers[sid]
            return None
        return s


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class IO:
    def __init__(self, nova) -> None:
        self.nova = nova


def setup(servers, linger=6.0):
    clock = Clock()
    return IO(Nova(clock, servers, linger)), clock


def test_deletes_and_waits_until_gone():
    io, clock = setup([{"id": "s1", "name": "web-1", HYP: "u1"}, {"id": "s9", "name": "other", HYP: "u9"}])
    out = nova_teardown.delete_server(io, "web-1", False, poll_interval=2.0, clock=clock, sleep=clock.sleep)
    assert out["changed"] and out["deleted"] == ["s1"] and out["nodes"] == ["u1"]
    assert out["diff"] == {"before": {"servers": ["s1"]}, "after": {"servers": []}}
    assert io.nova.deletes == ["s1"] and "s1" not in io.nova.servers and "s9" in io.nova.servers
    assert clock.now == 106.0


def test_duplicates_are_all_deleted():
    io, clock = setup([{"id": "s1", "name": "web-1"}, {"id": "s2", "name": "web-1"}])
    out = nova_teardown.delete_server(io, "web-1", False, clock=clock, sleep=clock.sleep)
    assert io.nova.deletes == ["s1", "s2"] and out["nodes"] == [None, None] and io.nova.servers == {}


def test_absent_server_is_unchanged():
    io, clock = setup([])
    out = nova_teardown.delete_server(io, "web-1", False, clock=clock, sleep=clock.sleep)
    assert not out["changed"] and out["deleted"] == [] and io.nova.gets == 0 and clock.now == 100.0


def test_check_mode_deletes_nothing():
    io, clock = setup([{"id": "s1", "name": "web-1", HYP: "u1"}])
    out = nova_teardown.delete_server(io, "web-1", True, clock=clock, sleep=clock.sleep)
    assert out["changed"] and out["deleted"] == ["s1"] and io.nova.deletes == [] and io.nova.gets == 0


def test_server_still_listed_after_the_timeout_fails_naming_it():
    io, clock = setup([{"id": "s1", "name": "web-1", HYP: "u1"}], linger=None)
    with pytest.raises(errors.DeploymentFailed) as info:
        nova_teardown.delete_server(io, "web-1", False, timeout=30.0, poll_interval=2.0, clock=clock,
                                    sleep=clock.sleep)
    assert info.value.kind == "nova_delete_timeout" and "web-1" in info.value.msg and "30 s" in info.value.msg
    assert info.value.result["deleted"] == ["s1"] and 130.0 <= clock.now <= 132.0
