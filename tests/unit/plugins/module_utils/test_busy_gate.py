# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import multiprocessing

from ansible_collections.ironwave.baremetal.plugins.module_utils import busy_gate as bg
from ansible_collections.ironwave.baremetal.plugins.module_utils.poll_cache import AdmissionBoard

NODES = [
    {"uuid": "a", "provision_state": "deploying", "conductor_group": ""},
    {"uuid": "b", "provision_state": "clean wait", "conductor_group": "rack2"},
    {"uuid": "c", "provision_state": "active", "conductor_group": ""},
    {"uuid": "d", "provision_state": "available", "conductor_group": "rack2"},
    {"uuid": "e", "provision_state": "wait call-back", "conductor_group": ""},
]


def test_busy_in_listing_counts_ironic_busy_states_per_scope():
    assert bg.busy_in_listing(NODES) == {"a", "b", "e"}
    assert bg.busy_in_listing(NODES, "conductor_group", "rack2") == {"b"}
    assert bg.busy_in_listing(NODES, "conductor_group", "") == {"a", "e"}


def test_admission_counts_until_a_listing_made_after_the_answer():
    out = bg.Admission("x", "", None, until=100.0)
    answered = bg.Admission("y", "", 10.0, until=100.0)
    expired = bg.Admission("z", "", None, until=5.0)
    entries = {"x": out, "y": answered, "z": expired}
    assert set(bg.still_counting(entries, listed_at=9.0, now=20.0)) == {"x", "y"}
    assert set(bg.still_counting(entries, listed_at=11.0, now=20.0)) == {"x"}   # listing shows y itself


def test_may_admit_is_strictly_below_the_limit_and_ignores_the_node_itself():
    pending = {"p": bg.Admission("p", "", None, 99.0)}
    assert bg.may_admit("n", {"a"}, pending, limit=3)
    assert not bg.may_admit("n", {"a", "b"}, pending, limit=3)
    assert bg.may_admit("a", {"a", "b"}, pending, limit=3)      # already counted: no double count
    assert not bg.may_admit("n", {"a", "p"}, pending, limit=2)  # union, not sum: p is in both -> 2
    assert bg.may_admit("n", {"a"}, {"p": bg.Admission("p", "rack2", None, 99.0)}, 2, "conductor_group", "")


def test_try_admit_records_then_mark_sent_then_withdraw():
    entries: dict = {}
    assert bg.try_admit(entries, "n1", "", set(), listed_at=0.0, now=1.0, limit=2, scope="global", hold=30)
    assert bg.try_admit(entries, "n2", "", set(), listed_at=0.0, now=1.0, limit=2, scope="global", hold=30)
    assert not bg.try_admit(entries, "n3", "", set(), listed_at=0.0, now=1.0, limit=2, scope="global", hold=30)
    bg.mark_sent(entries, "n1", at=2.0, hold=30)
    # A listing made after n1's answer shows it (busy): still full.
    assert not bg.try_admit(entries, "n3", "", {"n1"}, listed_at=3.0, now=3.0, limit=2, scope="global", hold=30)
    # ... and once n1 is done in Ironic, its slot is free.
    assert bg.try_admit(entries, "n3", "", set(), listed_at=4.0, now=4.0, limit=2, scope="global", hold=30)
    bg.withdraw(entries, "n3")
    assert "n3" not in entries


def test_expired_admissions_of_crashed_callers_free_their_slot():
    entries: dict = {}
    assert bg.try_admit(entries, "n1", "", set(), 0.0, 1.0, limit=1, scope="global", hold=5)
    assert not bg.try_admit(entries, "n2", "", set(), 0.0, 2.0, limit=1, scope="global", hold=5)
    assert bg.try_admit(entries, "n2", "", set(), 0.0, 7.0, limit=1, scope="global", hold=5)
    assert "n1" not in entries


def test_validate_names_the_field():
    assert "busy_limit" in bg.validate(-1, "global")
    assert "busy_scope" in bg.validate(2, "rack")
    assert bg.validate(0, "global") is None


def _contend(args):
    directory, node = args
    board = AdmissionBoard("k", directory=directory)
    return board.update(lambda e, now: bg.try_admit(e, node, "", set(), 0.0, now, 3, "global", 60))


def test_board_admits_exactly_the_limit_across_processes(tmp_path):
    with multiprocessing.get_context("fork").Pool(6) as pool:
        results = pool.map(_contend, [(str(tmp_path), f"n{i}") for i in range(12)])
    assert sum(results) == 3


def test_pending_admission_of_a_dead_process_stops_counting_at_once():
    entries: dict = {}
    assert bg.try_admit(entries, "n1", "", set(), 0.0, 1.0, limit=1, scope="global", hold=300, pid=11, start="a")
    dead = {(11, "a")}

    def alive(pid, start):
        return (pid, start) not in dead
    assert bg.try_admit(entries, "n2", "", set(), 0.0, 2.0, limit=1, scope="global", hold=300, pid=12, start="b",
                        alive=alive)
    assert "n1" not in entries and entries["n2"]["pid"] == 12
    # Once the request was answered, the entry counts until a listing shows it, whoever exits.
    bg.mark_sent(entries, "n2", at=3.0, hold=300)
    dead.add((12, "b"))
    assert not bg.try_admit(entries, "n3", "", set(), 2.5, 4.0, limit=1, scope="global", hold=300, alive=alive)


def test_board_key_is_the_endpoint_reached_not_the_cloud_spelling():
    from ansible_collections.ironwave.baremetal.plugins.module_utils.poll_cache import endpoint_identity
    same = {endpoint_identity(e) for e in ("http://127.0.0.1:6385", "http://127.0.0.1:6385/",
                                           "HTTP://127.0.0.1:6385/v1", "http://127.0.0.1:6385/v1/")}
    assert same == {"http://127.0.0.1:6385/v1"}
    assert endpoint_identity("https://Ironic.example:443/baremetal") == "https://ironic.example/baremetal/v1"
    assert endpoint_identity("http://127.0.0.1:6386") != endpoint_identity("http://127.0.0.1:6385")


def test_board_directory_does_not_depend_on_tmpdir_or_the_poll_cache(monkeypatch, tmp_path):
    from ansible_collections.ironwave.baremetal.plugins.module_utils import poll_cache
    monkeypatch.delenv(poll_cache.ADMISSION_DIR_ENV, raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path / "a"))
    monkeypatch.setenv(poll_cache.ENV_DIR, str(tmp_path / "cache-a"))
    first = poll_cache.admission_dir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "b"))
    monkeypatch.setenv(poll_cache.ENV_DIR, str(tmp_path / "cache-b"))
    assert poll_cache.admission_dir() == first == poll_cache.DEFAULT_ADMISSION_DIR
    monkeypatch.setenv(poll_cache.ADMISSION_DIR_ENV, str(tmp_path / "gate"))
    assert poll_cache.admission_dir() == str(tmp_path / "gate")


def test_board_files_are_shared_with_other_users(tmp_path):
    import os
    import stat
    directory = tmp_path / "gate"
    board = AdmissionBoard.for_endpoint("http://127.0.0.1:6385", directory=str(directory))
    assert board.update(lambda e, now: e.setdefault("n1", {"until": now + 5}) and True)
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o1777
    assert stat.S_IMODE(os.stat(board.path).st_mode) == 0o666
    assert stat.S_IMODE(os.stat(board.lock_path).st_mode) == 0o666
    again = AdmissionBoard.for_endpoint("http://127.0.0.1:6385/v1/", directory=str(directory))
    assert again.path == board.path and again.update(lambda e, now: dict(e)).keys() == {"n1"}


def test_marker_writes_in_flight_are_the_other_live_cloud_gate_admissions_not_yet_marked():
    entries: dict = {}
    for n, pid in (("n1", 1), ("n2", 2), ("n3", 3)):
        assert bg.try_admit(entries, n, "", set(), 0.0, 1.0, limit=5, scope="global", hold=30, pid=pid,
                            start="s", marking=True)
    assert bg.try_admit(entries, "local", "", set(), 0.0, 1.0, limit=5, scope="global", hold=30)   # no marker
    assert bg.markers_in_flight(entries, "n1", 2.0) == 2
    bg.marked(entries, "n2")
    assert bg.markers_in_flight(entries, "n1", 2.0) == 1
    # a writer whose process died stops counting at once; an expired one too
    assert bg.markers_in_flight(entries, "n1", 2.0, alive=lambda pid, start: pid != 3) == 0
    assert bg.markers_in_flight(entries, "n1", 40.0) == 0
    # the flag survives the board's pruning by the next admission
    assert bg.try_admit(entries, "n4", "", set(), 0.0, 3.0, limit=5, scope="global", hold=30)
    assert entries["n3"]["marking"] is True and entries["n2"]["marking"] is False
