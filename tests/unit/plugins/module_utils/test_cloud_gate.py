# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""cloud_gate: the verdicts, and a model check of the limit - gate hosts alone and mixed with
wave_slot's bakery runs, every request an atomic step, interleaved at random (thousands of
schedules): never more than `limit` hosts between their go decision and the end of their deploy,
and never more than `limit` busy nodes plus granted (`held`) slots in Ironic at any moment."""
from __future__ import annotations

import copy
import random

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import cloud_gate as cg
from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl


def row(uuid, state="available", marker=None, since="t0"):
    extra = {} if marker is None else {sl.MARKER_KEY: marker.to_extra()}
    return {"uuid": uuid, "name": uuid, "provision_state": state, "target_provision_state": None,
            "provision_updated_at": since, "conductor_group": "", "extra": extra}


def parse(*rows):
    return [sl.SlotNode.from_mapping(r) for r in rows]


def test_a_claim_is_not_a_held_slot_but_wave_slot_readers_count_it_like_one():
    """Written before the count is verified, a claim is no granted slot (`held`), yet a bakery run
    counts it against the limit whatever its rank, exactly as it counts a held marker."""
    a, b = parse(row("a"), row("b"))
    claim = cg.claim_marker(a, "r1", "h", 60.0, None, 1.0)
    assert claim.phase == sl.CHOOSING and claim.ticket is None
    assert sl.count_holders(parse(row("a", marker=claim))).held == ()
    queued = sl.with_ticket(sl.new_lease(b, "r2", "x", 60.0, None, 1.0), 1, 1.0)   # a bakery run, first in line
    for other in (claim, sl.as_held(sl.with_ticket(sl.new_lease(a, "r1", "h", 60.0, None, 1.0), 9, 1.0), 1.0)):
        listing = parse(row("a", marker=other), row("b", marker=queued))
        assert sl.admission(listing, "b", "r2", 1, beat=queued.beat).verdict == sl.WAIT
        assert sl.admission(listing, "b", "r2", 2, beat=queued.beat).verdict == sl.ADMIT


def test_verify_counts_every_phase_and_goes_only_within_the_limit():
    (a,) = parse(row("a"))
    mine = cg.claim_marker(a, "r1", "h", 60.0, None, 1.0)
    other = sl.with_ticket(sl.new_lease(a, "r2", "x", 60.0, None, 1.0), 5, 1.0)   # a bakery run queueing
    listing = parse(row("a", marker=mine), row("b", marker=other), row("c", state="deploying"))
    assert cg.verify(listing, "a", "r1", 3, beat=mine.beat).verdict == cg.GO
    over = cg.verify(listing, "a", "r1", 2, beat=mine.beat)
    assert (over.verdict, over.busy, over.held, over.queued) == (cg.RETRY, 1, 0, 2)


def test_verify_sees_a_lost_or_moved_marker():
    (a,) = parse(row("a"))
    mine = cg.claim_marker(a, "r1", "h", 60.0, None, 1.0)
    assert cg.verify(parse(row("a")), "a", "r1", 2).verdict == cg.LOST
    assert cg.verify(parse(row("a", marker=mine, since="t1")), "a", "r1", 2, beat=mine.beat).verdict == cg.MOVED


class Store:
    """Ironic as the model sees it: nodes with state and marker; each access is one atomic step."""

    def __init__(self, uuids):
        self.rows = {u: row(u) for u in uuids}
        self.tick = 0

    def listing(self):
        return parse(*copy.deepcopy(list(self.rows.values())))

    def write(self, uuid, marker):
        extra = self.rows[uuid]["extra"]
        if marker is None:
            extra.pop(sl.MARKER_KEY, None)
        else:
            extra[sl.MARKER_KEY] = marker.to_extra()

    def move(self, uuid, state):
        self.tick += 1
        self.rows[uuid].update(provision_state=state, provision_updated_at=f"t{self.tick}")


class Model:
    def __init__(self, limit):
        self.limit = limit
        self.going: set[str] = set()
        self.peak = 0

    def observe(self, store):
        """What an outside sampler of Ironic counts (test_job_slices): busy nodes plus granted
        slots - markers in phase `held` still in the state they were written in."""
        rows = store.rows.values()
        busy = sum(1 for r in rows if r["provision_state"] == "deploying")
        held = sum(1 for r in rows if r["provision_state"] == "available"
                   and (r["extra"].get(sl.MARKER_KEY) or {}).get("phase") == sl.HELD)
        assert busy + held <= self.limit, f"{busy} busy + {held} held seen in Ironic, limit {self.limit}"

    def go(self, uuid):
        self.going.add(uuid)
        self.peak = max(self.peak, len(self.going))
        assert len(self.going) <= self.limit, f"{sorted(self.going)} going at once, limit {self.limit}"

    def deploy(self, store, uuid, rng):
        yield
        store.move(uuid, "deploying")               # the deploy request: busy from here on
        for _step in range(rng.randint(0, 6)):
            yield
        store.move(uuid, "active")
        self.going.discard(uuid)


def gate_host(store, model, uuid, run, rng):
    attempt = 0
    while True:
        listing = store.listing()
        yield
        if cg.room(listing, model.limit) == 0:
            continue
        me = next((n for n in listing if n.uuid == uuid), None)
        marker = cg.claim_marker(me, run, uuid, 60.0, None, 0.0)
        store.write(uuid, marker)
        yield
        verdict = cg.verify(store.listing(), uuid, run, model.limit, beat=marker.beat)
        yield
        if verdict.verdict == cg.GO:
            model.go(uuid)
            yield from model.deploy(store, uuid, rng)
            return
        assert verdict.verdict == cg.RETRY, verdict
        store.write(uuid, None)
        attempt += 1
        for _step in range(rng.randint(0, attempt)):
            yield


def bakery_host(store, model, uuid, run, rng):
    me = next((n for n in store.listing() if n.uuid == uuid), None)
    yield
    lease = sl.new_lease(me, run, uuid, 60.0, None, 0.0)
    store.write(uuid, lease)
    yield
    listing = store.listing()
    yield
    lease = sl.with_ticket(lease, sl.next_ticket(listing, exclude=uuid), 0.0)
    store.write(uuid, lease)
    yield
    while True:
        decision = sl.admission(store.listing(), uuid, run, model.limit, beat=lease.beat)
        yield
        if decision.verdict == sl.ADMIT:
            model.go(uuid)
            lease = sl.as_held(lease, 0.0)
            store.write(uuid, lease)
            yield from model.deploy(store, uuid, rng)
            return
        assert decision.verdict == sl.WAIT, decision


@pytest.mark.parametrize("mix", ["gate", "mixed"])
def test_model_check_never_more_than_the_limit_going(mix):
    rng = random.Random(20261206)
    peaks = []
    for schedule in range(600):
        limit = rng.randint(1, 3)
        uuids = [f"n{i}" for i in range(rng.randint(limit + 1, 7))]
        store, model = Store(uuids), Model(limit)
        hosts = []
        for i, uuid in enumerate(uuids):
            run = f"run{i % 3}"                        # three controllers (slices)
            bakery = mix == "mixed" and i % 2 == 1
            hosts.append((bakery_host if bakery else gate_host)(store, model, uuid, run, random.Random(schedule * 31 + i)))
        steps = 0
        while hosts:
            steps += 1
            assert steps < 20000, f"schedule {schedule}: no progress (livelock?)"
            host = rng.choice(hosts)
            try:
                next(host)
            except StopIteration:
                hosts.remove(host)
            model.observe(store)
        assert all(r["provision_state"] == "active" for r in store.rows.values()), schedule
        peaks.append(model.peak)
    assert max(peaks) == 3      # the limit is reached, not just respected
