# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import multiprocessing
import os
import time

from ansible_collections.ironwave.baremetal.plugins.module_utils import poll_cache as pc


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_fetches_once_per_ttl(tmp_path):
    clock = Clock()
    calls = []
    cache = pc.SharedListing("k", ttl=2.0, directory=str(tmp_path), clock=clock)

    def fetch():
        calls.append(1)
        return {"n": len(calls)}

    assert cache.get(fetch).fetched_here and cache.get(fetch).data == {"n": 1}
    clock.now += 1.9
    assert not cache.get(fetch).fetched_here and len(calls) == 1
    assert abs(cache.next_tick_in() - 0.1) < 1e-6
    clock.now += 0.2
    got = cache.get(fetch)
    assert got.fetched_here and got.data == {"n": 2}
    assert cache.get(fetch, max_age=0).data == {"n": 3}  # forced refresh
    cache.invalidate()
    cache.invalidate()
    assert cache.next_tick_in() == 0.0


def test_newer_than_forces_a_listing_after_our_write(tmp_path):
    clock = Clock()
    calls = []
    cache = pc.SharedListing("k", ttl=5.0, directory=str(tmp_path), clock=clock)

    def fetch():
        calls.append(1)
        return len(calls)

    cache.get(fetch)
    clock.now += 1
    wrote_at = clock.now
    assert cache.get(fetch, newer_than=wrote_at).data == 2      # older copy refused
    clock.now += 1
    assert cache.get(fetch, newer_than=wrote_at).data == 2      # the post-write copy is shared
    assert len(calls) == 2


def test_keys_differ_and_env_dir(tmp_path, monkeypatch):
    assert pc.cache_key("cloud-a", "nodes") != pc.cache_key("cloud-b", "nodes")
    monkeypatch.setenv(pc.ENV_DIR, str(tmp_path / "x"))
    assert pc.default_dir() == str(tmp_path / "x")
    pc.SharedListing("k")
    assert (tmp_path / "x").is_dir()


def test_corrupt_file_is_refetched(tmp_path):
    cache = pc.SharedListing("k", directory=str(tmp_path))
    (tmp_path / "k.json").write_text("{not json")
    assert cache.get(lambda: [1]).fetched_here


def _worker(directory, counter_path, out):
    cache = pc.SharedListing("shared", ttl=5.0, directory=directory)

    def fetch():
        with open(counter_path, "a") as fh:
            fh.write("x")
        time.sleep(0.3)  # a slow listing: the others must wait for it, not fetch again
        return [os.getpid()]

    out.put(cache.get(fetch).data)


def test_many_processes_share_one_fetch(tmp_path):
    counter = tmp_path / "count"
    counter.write_text("")
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_worker, args=(str(tmp_path), str(counter), q)) for _i in range(12)]
    for p in procs:
        p.start()
    results = [q.get(timeout=20) for _p in procs]
    for p in procs:
        p.join()
    assert counter.read_text() == "x"          # exactly one request for 12 processes
    assert len({tuple(r) for r in results}) == 1


def test_claims_give_each_owner_its_own_node_and_expire(tmp_path):
    from ansible_collections.ironwave.baremetal.plugins.module_utils.candidates import first_unclaimed
    clock = Clock()
    board = pc.ClaimBoard("k", ttl=60.0, directory=str(tmp_path), clock=clock)
    nodes = [{"uuid": "n1"}, {"uuid": "n2"}]

    def pick(owner):
        return board.claim(owner, lambda claims: first_unclaimed(nodes, claims, owner))

    assert pick("a") == "n1"
    assert pick("b") == "n2"            # n1 is a's
    assert pick("a") == "n1"            # a retry keeps its node
    assert pick("c") is None            # everything claimed by others: caller races as before
    clock.now += 61
    assert pick("c") == "n1"            # expired claims are dropped


def test_pacer_books_slots_apart_across_processes(tmp_path):
    assert pc.next_slot(10.0, 0.0, 0.5) == (10.0, 10.5)
    assert pc.next_slot(10.0, 12.0, 0.5) == (12.0, 12.5)
    clock = Clock()
    slept = []
    pacer = pc.Pacer("k", 0.5, directory=str(tmp_path), clock=clock, sleep=slept.append)
    other = pc.Pacer("k", 0.5, directory=str(tmp_path), clock=clock, sleep=slept.append)
    assert pacer.wait_turn() == 0.0
    assert other.wait_turn() == 0.5      # same file: the second caller waits its turn
    assert pacer.wait_turn() == 1.0
    assert slept == [0.5, 1.0]
    assert pc.Pacer("k", 0, directory=str(tmp_path), clock=clock).wait_turn() == 0.0
