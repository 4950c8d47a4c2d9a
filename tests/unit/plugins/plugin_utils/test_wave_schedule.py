# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.plugin_utils.aimd import AimdWindow
from ansible_collections.ironwave.baremetal.plugins.plugin_utils.wave_schedule import (
    BUS,
    FAILED,
    NOT_STARTED,
    OK,
    EventBus,
    SizeSpec,
    WaveScheduler,
    WaveSettingsError,
    artifact_data,
    budget_exceeded,
    parse_bool,
    parse_settings,
    partition,
)

HOSTS = ["h%02d" % i for i in range(20)]


def sched(hosts=HOSTS, **raw):
    return WaveScheduler(hosts, parse_settings(raw), now=0.0, play="p")


# ------------------------------------------------------------------ settings
@pytest.mark.parametrize("raw, field", [
    ({"ironwave_wave_size": 0}, "ironwave_wave_size"),
    ({"ironwave_wave_size": -3}, "ironwave_wave_size"),
    ({"ironwave_wave_size": "many"}, "ironwave_wave_size"),
    ({"ironwave_wave_size": 2.5}, "ironwave_wave_size"),
    ({"ironwave_wave_size": True}, "ironwave_wave_size"),
    ({"ironwave_wave_size": "150%"}, "ironwave_wave_size"),
    ({"ironwave_wave_size": "0%"}, "ironwave_wave_size"),
    ({"ironwave_wave_schedule": [1, 0]}, "ironwave_wave_schedule[1]"),
    ({"ironwave_wave_schedule": []}, "ironwave_wave_schedule"),
    ({"ironwave_wave_schedule": [1, "101%"]}, "ironwave_wave_schedule[1]"),
    ({"ironwave_wave_size": 2, "ironwave_wave_max_failures": -1}, "ironwave_wave_max_failures[0]"),
    ({"ironwave_wave_size": 2, "ironwave_wave_max_failures": "x"}, "ironwave_wave_max_failures[0]"),
    ({"ironwave_wave_size": 2, "ironwave_wave_max_fail_percentage": 120}, "ironwave_wave_max_fail_percentage[0]"),
    ({"ironwave_wave_size": 2, "ironwave_wave_max_fail_percentage": "-5%"}, "ironwave_wave_max_fail_percentage[0]"),
    ({"ironwave_wave_size": 2, "ironwave_wave_gate": "sometimes"}, "ironwave_wave_gate"),
    ({"ironwave_wave_size": 2, "ironwave_wave_poll_interval": 0}, "ironwave_wave_poll_interval"),
    ({"ironwave_wave_size": 2, "ironwave_wave_poll_interval": "soon"}, "ironwave_wave_poll_interval"),
    ({"ironwave_wave_size": 2, "ironwave_wave_backpressure_factor": 1}, "ironwave_wave_backpressure_factor"),
    ({"ironwave_wave_size": 2, "ironwave_wave_prefetch": -1}, "ironwave_wave_prefetch"),
    ({"ironwave_wave_size": 2, "ironwave_wave_prefetch": 1.5}, "ironwave_wave_prefetch"),
    ({"ironwave_wave_size": 2, "ironwave_wave_prefetch": "20%"}, "ironwave_wave_prefetch"),
    ({}, "ironwave_wave_size"),
])
def test_bad_settings_name_the_field(raw, field):
    with pytest.raises(WaveSettingsError) as err:
        parse_settings(raw)
    assert str(err.value).startswith(field)


def test_settings_accept_strings_from_extra_vars():
    s = parse_settings({"ironwave_wave_size": "4", "ironwave_wave_schedule": ["1", "25%"],
                        "ironwave_wave_max_fail_percentage": "10", "ironwave_wave_poll_interval": "0.2"})
    assert s.window == SizeSpec(4.0)
    assert s.schedule == (SizeSpec(1.0), SizeSpec(25.0, percent=True))
    assert s.max_fail_percentage == (10.0,)
    assert s.max_failures == (None,)
    assert s.poll_interval == 0.2


def test_default_budget_is_zero_failures():
    assert parse_settings({"ironwave_wave_size": 3}).max_failures == (0,)


def test_percent_resolution_matches_serial():
    assert SizeSpec(20, percent=True).resolve(12) == 2
    assert SizeSpec(1, percent=True).resolve(12) == 1  # never zero
    assert SizeSpec(100, percent=True).resolve(12) == 12


def test_partition_last_size_repeats():
    assert partition(list("abcdefghij"), [1, 3]) == [["a"], ["b", "c", "d"], ["e", "f", "g"], ["h", "i", "j"]]
    assert partition(list("abc"), [5]) == [["a", "b", "c"]]
    assert partition([], [1]) == []


def test_budget_exceeded_is_strict():
    assert not budget_exceeded(1, 10, 1, None)
    assert budget_exceeded(2, 10, 1, None)
    assert not budget_exceeded(1, 10, None, 10)
    assert budget_exceeded(2, 10, None, 10)
    assert budget_exceeded(1, 10, 5, 0)  # either limit trips


def test_parse_bool():
    assert parse_bool(True) and parse_bool("True") and parse_bool("yes")
    assert not parse_bool(False) and not parse_bool("false") and not parse_bool(None)


# ------------------------------------------------------------------ admission
def test_window_slides_and_never_exceeds():
    s = sched(ironwave_wave_size=3)
    assert s.admit(1.0) == ["h00", "h01", "h02"]
    assert s.admit(1.1) == []
    s.host_left("h01", OK, 2.0)
    assert s.admit(2.0) == ["h03"]  # a slot frees -> exactly one host enters
    assert len(s.in_flight) == 3
    assert s.peak_in_flight == 3


def test_canary_gate_then_wave_windows():
    s = sched(ironwave_wave_size=10, ironwave_wave_schedule=[1, 3, "25%"])
    assert [len(w.hosts) for w in s.waves] == [1, 3, 5, 5, 5, 1]
    assert s.admit(0) == ["h00"]
    assert s.admit(0) == []  # gate: canary still running, nothing else starts
    s.host_left("h00", OK, 1)
    assert s.admit(1) == ["h01", "h02", "h03"]  # window = wave 2 size
    s.host_left("h02", OK, 2)
    assert s.admit(2) == ["h04"]  # wave 3 host fills wave 2's slot: slides between waves
    assert s.current_window() == 3  # wave 2 not finished: window still 3
    s.host_left("h01", OK, 3)
    s.host_left("h03", OK, 3)
    assert s.current_window() == 5  # wave 2 done -> window opens to wave 3's size
    assert s.admit(3) == ["h05", "h06", "h07", "h08"]
    assert len(s.in_flight) == 5


def test_every_gate_waits_for_each_wave():
    s = sched(ironwave_wave_size=10, ironwave_wave_schedule=[1, 2], ironwave_wave_gate="every")
    s.admit(0)
    s.host_left("h00", OK, 1)
    assert s.admit(1) == ["h01", "h02"]
    s.host_left("h01", OK, 2)
    assert s.admit(2) == []  # h02 (wave 2) still running
    s.host_left("h02", OK, 3)
    assert s.admit(3) == ["h03", "h04"]


def test_window_capped_by_size_below_wave_size():
    s = sched(ironwave_wave_size=2, ironwave_wave_schedule=[1, 5])
    s.admit(0)
    s.host_left("h00", OK, 1)
    assert s.admit(1) == ["h01", "h02"]


def test_canary_failure_halts_everything():
    s = sched(ironwave_wave_size=3, ironwave_wave_schedule=[1, 3])
    s.admit(0)
    assert s.host_left("h00", FAILED, 1) is True
    assert s.halted and "wave 1/" in s.halt_reason
    assert s.admit(1) == []
    s.finish(2)
    assert s.not_started == HOSTS[1:]
    assert all(s.hosts[n].state == NOT_STARTED for n in HOSTS[1:])
    assert "halted" in s.summary() and "never started" in s.summary()


def test_budget_per_wave_lets_in_flight_finish():
    s = sched(ironwave_wave_size=4, ironwave_wave_schedule=[1, 4],
              ironwave_wave_max_failures=[0, 1])
    s.admit(0)
    s.host_left("h00", OK, 1)
    assert s.admit(1) == ["h01", "h02", "h03", "h04"]
    assert s.host_left("h01", FAILED, 2) is False  # 1 failure allowed in wave 2
    assert s.admit(2) == ["h05"]
    assert s.host_left("h02", FAILED, 3) is True  # second failure: budget exceeded
    assert s.admit(3) == []
    for n in ("h03", "h04", "h05"):  # in-flight hosts still finish and are recorded
        s.host_left(n, OK, 4)
    s.finish(5)
    rep = s.report()
    assert rep["halted"] is True
    assert rep["totals"] == {"hosts": 20, "ok": 4, "failed": 2, "not_started": 14}
    assert rep["waves"][1]["budget_exceeded"] is True
    assert rep["waves"][1]["failed"] == 2
    assert rep["failed_hosts"] == ["h01", "h02"]
    art = artifact_data(rep)
    assert art["not_started"] == 14 and art["not_started_hosts"][0] == "h06"


def test_fail_percentage_budget():
    s = sched(hosts=HOSTS[:10], ironwave_wave_size=10, ironwave_wave_max_fail_percentage=10)
    s.admit(0)
    assert s.host_left("h00", FAILED, 1) is False  # 1/10 = 10 %: allowed
    assert s.host_left("h01", FAILED, 1) is True


def test_host_left_must_be_in_flight():
    s = sched(ironwave_wave_size=1)
    with pytest.raises(KeyError):
        s.host_left("h05", OK, 1)


def test_backpressure_shrinks_then_grows_back():
    s = sched(ironwave_wave_size=8)
    assert len(s.admit(0)) == 8
    assert s.backpressure("h00") == 4
    s.host_left("h01", OK, 1)  # +1 -> 5, but 7 still in flight
    assert s.current_window() == 5
    assert s.admit(1) == []
    for n in ("h02", "h03", "h04"):
        s.host_left(n, OK, 2)  # 5 -> 8
    assert s.current_window() == 8
    assert len(s.admit(2)) == 4


def test_snapshot_counts():
    s = sched(ironwave_wave_size=2, ironwave_wave_schedule=[1, 2])
    s.admit(0)
    snap = s.snapshot(0.5)
    assert (snap.wave, snap.waves, snap.in_flight, snap.waiting, snap.window) == (1, 11, 1, 19, 1)
    s.host_left("h00", OK, 1)
    s.admit(1)
    snap = s.snapshot(1.0)
    assert (snap.wave, snap.in_flight, snap.done, snap.waiting, snap.window) == (2, 2, 1, 17, 2)


# ------------------------------------------------------------------ AIMD
def test_aimd_bounds():
    w = AimdWindow(cap=10)
    assert w.value == 10
    assert w.on_backpressure() == 5
    assert w.on_backpressure() == 2
    assert w.on_backpressure() == 1
    assert w.on_backpressure() == 1  # floor
    for dummy in range(20):
        w.on_success()
    assert w.value == 10  # cap
    assert w.on_backpressure(current=4) == 2  # decreases from the window in force
    with pytest.raises(ValueError):
        AimdWindow(cap=0)
    with pytest.raises(ValueError):
        AimdWindow(cap=3, factor=1.0)


# ------------------------------------------------------------------ bus
def test_bus_isolates_broken_subscribers():
    bus = EventBus()
    seen = []

    def boom(event):
        raise RuntimeError("x")

    bus.subscribe(boom)
    bus.subscribe(seen.append)
    bus.subscribe(seen.append)  # idempotent
    s = sched(ironwave_wave_size=1)
    from ansible_collections.ironwave.baremetal.plugins.plugin_utils.wave_schedule import WaveEvent
    bus.publish(WaveEvent(kind="admit", snapshot=s.snapshot(0)))
    assert len(seen) == 1 and len(bus.errors) == 1
    assert BUS is not bus


# ------------------------------------------------------------------ prefetch
def test_prefetch_admits_beyond_the_window_but_not_past_the_canary_gate():
    s = sched(ironwave_wave_schedule=[1, 4], ironwave_wave_size=4, ironwave_wave_prefetch="4")
    assert s.admit(0.0) == ["h00"]            # canary alone: the gate holds prefetch back too
    s.host_left("h00", OK, 1.0)
    assert len(s.admit(1.0)) == 8             # window 4 + prefetch 4
    assert s.admit(1.1) == []
    s.host_left("h01", OK, 2.0)
    assert s.admit(2.0) == ["h09"]            # slides one for one
    assert s.peak_in_flight == 8


def test_prefetch_zero_keeps_the_window_exact():
    s = sched(ironwave_wave_size=3)
    assert len(s.admit(0.0)) == 3


# ------------------------------------------------------------------ budgets that can never trip (defect 7)
@pytest.mark.parametrize("raw, field", [
    # A 1-host canary with 1 failure allowed: a fully failed canary would open the gate.
    ({"ironwave_wave_schedule": [1, 3], "ironwave_wave_max_failures": 1}, "ironwave_wave_max_failures[0]"),
    ({"ironwave_wave_schedule": [2, 4], "ironwave_wave_max_failures": [0, 4]}, "ironwave_wave_max_failures[1]"),
    ({"ironwave_wave_schedule": [1, 3], "ironwave_wave_max_failures": [0, 1, 3]}, "ironwave_wave_max_failures[2]"),
    ({"ironwave_wave_size": 3, "ironwave_wave_max_fail_percentage": 100}, "ironwave_wave_max_fail_percentage[0]"),
])
def test_budget_not_below_the_wave_size_is_rejected(raw, field):
    with pytest.raises(WaveSettingsError) as err:
        sched(**raw)
    msg = str(err.value)
    assert msg.startswith(field), msg
    assert "every host" in msg and "use " in msg, msg  # says why, and the fix


def test_budgets_below_the_wave_size_are_accepted():
    s = sched(ironwave_wave_schedule=[1, 6], ironwave_wave_max_failures=[0, 1])
    assert not s.warnings


def test_a_fully_failed_wave_always_exceeds_its_budget():
    # 4 hosts cut [1, 2, 1]: the last wave is a remainder of 1 host with a budget of 1. Accepted
    # (the schedule says 2), but if all of it fails the rollout halts.
    s = sched(hosts=HOSTS[:4], ironwave_wave_schedule=[1, 2], ironwave_wave_max_failures=[0, 1],
              ironwave_wave_gate="every")
    assert not s.warnings
    s.admit(0)
    s.host_left("h00", OK, 1)
    s.admit(1)
    s.host_left("h01", OK, 2)
    s.host_left("h02", OK, 2)
    assert s.admit(2) == ["h03"]
    assert s.host_left("h03", FAILED, 3) is True
    assert s.halted and "all 1 host(s) failed" in s.halt_reason


def test_percent_waves_resolving_below_the_budget_warn_not_fail():
    s = sched(hosts=HOSTS[:5], ironwave_wave_schedule=[1, "20%"], ironwave_wave_max_failures=[0, 1])
    assert s.warnings and "ironwave_wave_max_failures" in s.warnings[0]


# ------------------------------------------------------------------ backpressure bounds busy nodes (defect 6)
def test_backpressure_lowers_the_busy_bound_and_the_prefetch():
    s = sched(ironwave_wave_size=6, ironwave_wave_prefetch=6)
    assert s.busy_bound() is None          # nothing published while the window is whole
    assert len(s.admit(0)) == 12
    assert s.backpressure("h00") == 3
    assert s.busy_bound() == 3             # node_deploy's gate gets min(its limit, 3)
    assert s.current_prefetch() == 3       # prefetch shrinks with the window
    s.backpressure("h01")
    s.backpressure("h02")
    assert s.busy_bound() == 1 and s.current_prefetch() == 1
    for n in ("h00", "h01", "h02", "h03", "h04", "h05", "h06", "h07", "h08", "h09"):
        s.host_left(n, OK, 1)              # each success +1 ... back to the cap
    assert s.busy_bound() is None and s.current_prefetch() == 6


def test_in_flight_cap_after_backpressure_is_window_plus_scaled_prefetch():
    # Failures within budget do not grow the window back: the cap stays window 1 + prefetch 1,
    # not window 1 + prefetch 6 = 7 (above the busy limit of 6).
    s = sched(ironwave_wave_size=6, ironwave_wave_prefetch=6, ironwave_wave_max_failures=19)
    assert len(s.admit(0)) == 12
    for n in ("h00", "h01", "h02"):
        s.backpressure(n)                  # 6 -> 3 -> 1 -> 1
    assert (s.current_window(), s.current_prefetch()) == (1, 1)
    for n in HOSTS[:10]:
        s.host_left(n, FAILED, 1)
    assert s.admit(1) == []                # 2 in flight = window 1 + prefetch 1
    s.host_left("h10", FAILED, 2)
    assert s.admit(2) == ["h12"]


def test_busy_bound_changes_are_recorded_once_each():
    s = sched(ironwave_wave_size=4, ironwave_wave_prefetch=4)
    s.admit(0)
    assert s.note_busy_bound(0.0) is False        # whole window: nothing to publish
    s.backpressure("h00")
    assert s.note_busy_bound(1.0) is True and s.note_busy_bound(1.1) is False
    s.host_left("h01", OK, 2.0)                   # 2 -> 3
    s.host_left("h02", OK, 2.0)                   # 3 -> 4: whole again, the bound is lifted
    assert s.note_busy_bound(2.0) is True
    assert s.report()["busy_bound_changes"] == [{"at": 1.0, "busy_limit": 2}, {"at": 2.0, "busy_limit": None}]


def test_a_host_that_reported_backpressure_does_not_grow_the_window_as_it_leaves():
    s = sched(ironwave_wave_size=4, ironwave_wave_prefetch=4)
    s.admit(0)
    s.backpressure("h00")                  # node_deploy's fact is read as the host leaves...
    s.host_left("h00", OK, 1)              # ...and that same host succeeding is no sign of room
    assert s.busy_bound() == 2
    s.host_left("h01", OK, 1)
    assert s.busy_bound() == 3
