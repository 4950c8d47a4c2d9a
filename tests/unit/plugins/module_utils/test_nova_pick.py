# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_pick as np

NODES = [f"node-{i:03d}" for i in range(40)]


# -- rank / choose -------------------------------------------------------------------------
def test_rank_is_a_permutation_and_deterministic():
    out = np.rank("web-1", NODES)
    assert sorted(out) == sorted(NODES)
    assert out == np.rank("web-1", list(reversed(NODES)))
    assert np.rank("web-1", NODES + NODES[:5]) == out          # duplicates collapse


def test_rank_is_stable_across_processes():
    # hash() is salted per process; the ranking must not be.
    code = ("from ansible_collections.ironwave.baremetal.plugins.module_utils import nova_pick as np;"
            f"print(','.join(np.rank('web-1', {NODES!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "12345", "PYTHONPATH": ":".join(sys.path)})
    assert out.stdout.strip().split(",") == np.rank("web-1", NODES)


def test_rank_removing_a_node_keeps_the_others_order():
    full = np.rank("db-3", NODES)
    gone = full[0]
    assert np.rank("db-3", [n for n in NODES if n != gone]) == full[1:]


def test_concurrent_hosts_mostly_pick_different_nodes():
    hosts = [f"host-{i}" for i in range(20)]
    firsts = Counter(np.rank(h, NODES)[0] for h in hosts)
    # 20 hosts over 40 nodes: rendezvous spreads them (a shared order would give 1 distinct node).
    assert len(firsts) >= 12


def test_choose_skips_taken_and_returns_none_when_all_taken():
    order = np.rank("web-1", NODES[:3])
    assert np.choose("web-1", NODES[:3], set()) == order[0]
    assert np.choose("web-1", NODES[:3], {order[0]}) == order[1]
    assert np.choose("web-1", NODES[:3], set(NODES[:3])) is None
    assert np.choose("web-1", [], set()) is None
    assert np.choose("web-1", NODES[:3], None) == order[0]


def test_same_host_picks_the_same_node_on_a_rerun():
    assert np.choose("web-7", NODES, {"node-001"}) == np.choose("web-7", list(reversed(NODES)), {"node-001"})


# -- markers -------------------------------------------------------------------------------
def test_make_and_parse_marker_roundtrip():
    marker = np.make_marker("run-1", "web-1", "web-1.example")
    assert marker == {"v": 1, "run": "run-1", "host": "web-1", "server": "web-1.example"}
    assert np.parse_marker({"ironwave_pick": marker, "other": 1}) == marker


def test_parse_marker_accepts_a_json_string_value():
    assert np.parse_marker({"ironwave_pick": '{"v": 1, "run": "r", "host": "h", "server": "s"}'})["run"] == "r"


@pytest.mark.parametrize("extra", [
    None, "junk", [], {}, {"ironwave_pick": None}, {"ironwave_pick": "not json"}, {"ironwave_pick": "[1]"},
    {"ironwave_pick": {"v": 2, "run": "r", "host": "h", "server": "s"}},
    {"ironwave_pick": {"v": True, "run": "r", "host": "h", "server": "s"}},
    {"ironwave_pick": {"run": "r", "host": "h", "server": "s"}},
    {"ironwave_pick": {"v": 1, "run": "", "host": "h", "server": "s"}},
    {"ironwave_pick": {"v": 1, "run": "r", "host": 3, "server": "s"}},
    {"ironwave_pick": {"v": 1, "run": "r", "host": "h"}},
    {"ironwave_pick": ["v", 1]},
])
def test_parse_marker_returns_none_for_junk(extra):
    assert np.parse_marker(extra) is None


def test_parse_marker_drops_unknown_fields():
    got = np.parse_marker({"ironwave_pick": {"v": 1, "run": "r", "host": "h", "server": "s", "x": 1}})
    assert got == {"v": 1, "run": "r", "host": "h", "server": "s"}


# -- marker_live: Ironic's clock only ------------------------------------------------------
OTHER = {"v": 1, "run": "other", "host": "h", "server": "s"}
NOW = "Tue, 01 Dec 2026 06:40:00 GMT"     # the HTTP Date header of the listing


@pytest.mark.parametrize("updated_at,live", [
    ("2026-12-01T06:39:00.123456+00:00", True),     # 60 s old, ttl 300
    ("2026-12-01T06:35:00+00:00", True),            # exactly ttl
    ("2026-12-01T06:34:59+00:00", False),           # older than ttl: dead
    ("2026-12-01T06:40:00.900000+00:00", True),     # "in the future" (Date has 1 s resolution)
    ("2026-12-01T06:30:00", False),                 # naive: UTC
    ("2026-12-01T07:39:00+01:00", True),            # another offset, same instant as 06:39Z
    ("2026-12-01T06:30:00Z", False),
])
def test_marker_age_on_ironic_clock(updated_at, live):
    assert np.marker_live(OTHER, updated_at, NOW, 300, "mine") is live


def test_controller_clock_does_not_matter():
    # Same Ironic answer, whatever time the controller thinks it is: the verdict only depends on
    # updated_at and the Date header, both from Ironic.
    a = np.marker_live(OTHER, "2026-12-01T06:30:00+00:00", NOW, 300, "mine")
    b = np.marker_live(OTHER, "2026-12-01T06:30:00+00:00", NOW, 300, "mine")
    assert a is b is False
    # Date header in ISO form is read too.
    assert np.marker_live(OTHER, "2026-12-01T06:30:00+00:00", "2026-12-01T06:31:00+00:00", 300, "mine")


@pytest.mark.parametrize("updated_at,now", [
    (None, NOW), ("garbage", NOW), ("2026-12-01T06:00:00+00:00", None), ("2026-12-01T06:00:00+00:00", ""),
    ("2026-12-01T06:00:00+00:00", "not a date"), (12345, NOW),
])
def test_unreadable_times_keep_the_marker_live(updated_at, now):
    assert np.marker_live(OTHER, updated_at, now, 300, "mine") is True


def test_my_own_runs_marker_is_always_live_and_no_marker_is_dead():
    mine = np.make_marker("mine", "web-2", "web-2")
    assert np.marker_live(mine, "2020-01-01T00:00:00+00:00", NOW, 300, "mine") is True
    assert np.marker_live(None, None, None, 300, "mine") is False
    assert np.marker_live({}, None, NOW, 300, "mine") is False


# -- verify_pick ---------------------------------------------------------------------------
def test_verify_pick():
    ours = {"ironwave_pick": np.make_marker("r1", "web-1", "web-1")}
    assert np.verify_pick(ours, "r1", "web-1") is True
    assert np.verify_pick(ours, "r1", "web-2") is False           # another host of my run won
    assert np.verify_pick(ours, "r2", "web-1") is False           # another run won
    assert np.verify_pick({}, "r1", "web-1") is False
    assert np.verify_pick(None, "r1", "web-1") is False
    assert np.verify_pick({"ironwave_pick": "junk"}, "r1", "web-1") is False


# -- the marker's own time (`at`, Ironic's Date header when it was written) -----------------
def test_marker_at_is_kept_and_preferred_over_updated_at():
    marker = np.make_marker("other", "h", "s", at="Tue, 01 Dec 2026 06:30:00 GMT")
    assert marker["at"] == "Tue, 01 Dec 2026 06:30:00 GMT"
    parsed = np.parse_marker({"ironwave_pick": marker})
    assert parsed == marker
    # Someone touched the node a minute ago (updated_at fresh), but the marker is 10 min old: dead.
    assert np.marker_live(parsed, "2026-12-01T06:39:00+00:00", NOW, 300, "mine") is False
    fresh = np.make_marker("other", "h", "s", at="Tue, 01 Dec 2026 06:38:00 GMT")
    assert np.marker_live(fresh, "2026-12-01T06:00:00+00:00", NOW, 300, "mine") is True


def test_marker_without_at_or_with_junk_at():
    assert "at" not in np.make_marker("r", "h", "s")
    assert "at" not in np.parse_marker({"ironwave_pick": {"v": 1, "run": "r", "host": "h", "server": "s", "at": 5}})
    junk = {"v": 1, "run": "other", "host": "h", "server": "s", "at": "yesterday-ish"}
    assert np.marker_live(junk, "2020-01-01T00:00:00+00:00", NOW, 300, "mine") is True   # unreadable: live
