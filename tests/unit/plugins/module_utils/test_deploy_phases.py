# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""deploy_phases: Ironic's timestamps parsed, phases deduplicated, bounded and in time order."""
from __future__ import annotations

import datetime as dt

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import deploy_phases as dp

T = dt.datetime(2026, 12, 6, 7, 40, 1, 250000, tzinfo=dt.timezone.utc).timestamp()


@pytest.mark.parametrize("text", ["2026-12-06T07:40:01.250000+00:00", "2026-12-06T07:40:01.25Z",
                                  "2026-12-06T07:40:01.250000", "2026-12-06T08:40:01.250000+01:00"])
def test_ironic_timestamps_parse_to_epoch_seconds(text):
    assert dp.parse_iso(text) == pytest.approx(T)


@pytest.mark.parametrize("text", [None, "", "yesterday", 17, "2026-13-45T00:00:00"])
def test_unparsable_timestamps_are_none(text):
    assert dp.parse_iso(text) is None


def row(state, at=None):
    return {"uuid": "n1", "provision_state": state,
            "provision_updated_at": dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat() if at else None}


def test_states_take_ironics_time_else_when_seen_and_repeats_are_one_entry():
    log = dp.PhaseLog()
    log.reserved({"updated_at": "2026-12-06T07:40:01.250000"}, True, now=T + 50)
    log.observe(row("deploying", T + 10), seen=T + 12)
    log.observe(row("deploying", T + 10), seen=T + 14)
    log.observe(row("wait call-back"), seen=T + 20)
    log.observe(row("active", T + 30), seen=T + 31)
    log.observe({"uuid": "n1"}, seen=T + 32)          # no state: nothing to record
    assert log.as_list() == [{"phase": "reserved", "at": T, "source": "ironic"},
                             {"phase": "deploying", "at": T + 10, "source": "ironic"},
                             {"phase": "wait call-back", "at": T + 20, "source": "module"},
                             {"phase": "active", "at": T + 30, "source": "ironic"}]


def test_reserved_falls_back_to_the_modules_clock():
    for node, ours in (({}, True), ({"updated_at": "2026-12-06T07:40:01Z"}, False)):
        log = dp.PhaseLog()
        log.reserved(node, ours, now=T + 5)
        assert log.as_list() == [{"phase": "reserved", "at": T + 5, "source": "module"}]


def test_clock_skew_never_puts_an_entry_before_the_one_before_it():
    log = dp.PhaseLog()
    log.add(dp.ADMITTED, T + 10)
    log.observe(row("deploying", T + 9.5), seen=T + 11)   # Ironic's clock half a second behind
    assert [e["at"] for e in log.as_list()] == [T + 10, T + 10]


def test_bounded_and_ending_with_the_latest_state():
    log = dp.PhaseLog(cap=5)
    for i in range(40):
        log.observe(row("deploying" if i % 2 else "deploy failed", T + i), seen=T + i)
    log.observe(row("active", T + 100), seen=T + 100)
    out = log.as_list()
    assert len(out) == 5 and out[-1] == {"phase": "active", "at": T + 100, "source": "ironic"}
    assert [e["phase"] for e in out[:4]] == ["deploy failed", "deploying", "deploy failed", "deploying"]
    assert [e["at"] for e in out] == sorted(e["at"] for e in out)
    assert len(dp.PhaseLog().entries) == 0 and dp.CAP == 50


def test_as_list_is_a_copy():
    log = dp.PhaseLog()
    log.add(dp.WAITING, T)
    log.as_list()[0]["at"] = 0
    assert log.as_list()[0]["at"] == T


def test_merge_sorts_sources_into_one_timeline_and_keeps_the_first_of_a_repeat():
    nova = [{"phase": "requested", "at": T, "source": "module"}, {"phase": "spawning", "at": T + 3, "source": "nova"},
            {"phase": "active", "at": T + 40, "source": "nova"}]
    ironic = [{"phase": "deploying", "at": T + 5, "source": "ironic"}, {"phase": "active", "at": T + 38, "source": "ironic"}]
    assert dp.merge(nova + ironic) == [{"phase": "requested", "at": T, "source": "module"},
                                       {"phase": "spawning", "at": T + 3, "source": "nova"},
                                       {"phase": "deploying", "at": T + 5, "source": "ironic"},
                                       {"phase": "active", "at": T + 38, "source": "ironic"}]


def test_merge_keeps_the_recorded_order_of_a_tie_and_is_bounded():
    tie = [{"phase": "reserved", "at": T}, {"phase": "requested", "at": T, "source": "module"}]
    assert [e["phase"] for e in dp.merge(tie)] == ["reserved", "requested"]
    assert dp.merge(tie)[0]["source"] == "module"
    many = [{"phase": f"p{i}", "at": T + i, "source": "nova"} for i in range(10)]
    out = dp.merge(list(reversed(many)), cap=4)
    assert [e["phase"] for e in out] == ["p0", "p1", "p2", "p9"]
    assert dp.merge([]) == []
