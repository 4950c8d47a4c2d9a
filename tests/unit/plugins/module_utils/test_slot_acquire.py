# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""slot_acquire and slot_refresh against a fake node store and a fake clock: races, lifetimes,
timeouts, a gone or halted run (pure logic; the real Ironic is in tests/integration)."""
from __future__ import annotations

import copy
import random

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import errors
from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl
from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_refresh as sr
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_acquire import (
    IN_TRANSITION, MAX_LAPSES, SlotAcquirer, SlotRequest, WriteRefused)
from ansible_collections.ironwave.baremetal.plugins.module_utils.slot_timing import SlotTiming


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t
        self.hooks: list = []          # called with the time after every sleep

    def __call__(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.t += max(seconds, 0.001)
        for hook in list(self.hooks):
            hook(self.t)


class Store:
    """Ironic as far as the protocol can tell, observed by one controller with the fake clock."""

    def __init__(self, clock: Clock, n: int = 3) -> None:
        self.clock = clock
        self.rows = {f"n{i}": {"uuid": f"n{i}", "name": f"node-{i}", "provision_state": "available",
                               "target_provision_state": None, "provision_updated_at": "t0",
                               "conductor_group": "", "extra": {}} for i in range(n)}
        self.board: dict = {}
        self.writes: list[tuple[float, float, str, dict | None]] = []   # (start, landed, uuid, marker)
        self.latency: list[float] = []       # seconds each next write takes (then 0.05)
        self.gone_procs: set = set()
        self.listings = 0

    def gone(self, proc) -> bool:
        return proc.pid in self.gone_procs

    def listing(self, newer_than):
        self.listings += 1
        sent = self.clock()
        self.clock.t += 0.05
        rows = copy.deepcopy(list(self.rows.values()))
        self.board = sl.observe(rows, self.board, self.clock())
        return sl.parse_nodes(rows, self.board, sent, self.gone)

    def read_node(self, ident):
        row = self.rows.get(ident) or next((r for r in self.rows.values() if r["name"] == ident), None)
        return sl.SlotNode.from_mapping(copy.deepcopy(row), 0.0, self.gone) if row else None

    def write(self, uuid, lease, deadline):
        start = self.clock()
        self.clock.t += self.latency.pop(0) if self.latency else 0.05
        extra = self.rows[uuid]["extra"]
        if lease is None:
            extra.pop(sl.MARKER_KEY, None)
        else:
            extra[sl.MARKER_KEY] = lease.to_extra()
        self.writes.append((start, self.clock(), uuid, extra.get(sl.MARKER_KEY)))

    def put_marker(self, uuid, **kw):
        fields = dict(run_id="other", holder="x", phase=sl.HELD, from_state="available", since="t0",
                      ticket=1, beat=0, ttl=60.0)
        fields.update(kw)
        self.rows[uuid]["extra"][sl.MARKER_KEY] = sl.Lease(**fields).to_extra()

    def gaps(self, uuid: str) -> list[float]:
        landed = [w[1] for w in self.writes if w[2] == uuid and w[3] is not None]
        return [b - a for a, b in zip(landed, landed[1:])]


class Guard:
    def __init__(self) -> None:
        self.is_alive = True
        self.halt: str | None = None

    def alive(self) -> bool:
        return self.is_alive

    def halted(self):
        return self.halt

    def check(self, what: str) -> None:
        if not self.is_alive:
            raise errors.RunGone(f"gone; not {what}", kind="run_gone")
        if self.halt:
            raise errors.RunGone(f"halted; not {what}", kind="halted")


def acquirer(store, clock, guard=None, **kw) -> SlotAcquirer:
    req = SlotRequest(**{"node": "n0", "run_id": "me", "limit": 1, "ttl": 60.0, "timeout": 600.0,
                         "poll_interval": 1.0, "max_poll_interval": 5.0, **kw})
    return SlotAcquirer(store, req, guard or Guard(), clock=clock, wall=clock, sleep=clock.sleep,
                        rng=random.Random(1))


def test_free_slot_is_taken_in_three_writes():
    clock = Clock()
    store = Store(clock)
    out = acquirer(store, clock).acquire()
    assert out["changed"] and out["attempts"] == 1 and out["holders"]["occupied"] == 0
    phases = [w[3]["phase"] for w in store.writes]
    assert phases == [sl.CHOOSING, sl.WAITING, sl.HELD]
    assert out["held_lease"].phase == sl.HELD and out["held_since"] == store.writes[-1][0]


@pytest.mark.parametrize("poll", [20.0, 45.0, 60.0])
def test_queued_marker_never_lapses_whatever_the_poll_interval(poll):
    """Defect 2: with poll_interval 20-60 s the queued marker expired while the run waited. Now it
    is rewritten every ttl/4 s whatever the poll interval, so the wait ends in a timeout, never in
    `expired`, and no two landings of our marker are ttl apart."""
    clock = Clock()
    store = Store(clock)
    store.rows["n1"]["provision_state"] = "deploying"       # the one slot stays busy
    acq = acquirer(store, clock, poll_interval=poll, max_poll_interval=60.0, timeout=400.0)
    with pytest.raises(errors.SlotUnavailable) as exc:
        acq.acquire()
    assert exc.value.kind == "timeout" and acq.lapses == 0
    gaps = store.gaps("n0")
    assert gaps and max(gaps) < 60.0 * 3 / 4, gaps
    assert sl.MARKER_KEY not in store.rows["n0"]["extra"]      # withdrawn at the timeout


def test_late_ticket_write_requeues_then_succeeds():
    """A write that lands ttl after the previous one started proves nothing: queue again."""
    clock = Clock()
    store = Store(clock)
    store.latency = [0.05, 61.0]        # choosing fine, the ticket write stalls past the ttl
    acq = acquirer(store, clock)
    out = acq.acquire()
    assert out["changed"] and out["lapses"] == 1
    assert [w[3]["phase"] for w in store.writes] == [sl.CHOOSING, sl.WAITING, sl.CHOOSING, sl.WAITING, sl.HELD]


def test_late_held_write_is_not_an_admission():
    clock = Clock()
    store = Store(clock)
    store.latency = [0.05, 0.05, 70.0]
    out = acquirer(store, clock).acquire()
    assert out["lapses"] == 1 and out["lease"]["phase"] == sl.HELD
    assert [w[3]["phase"] for w in store.writes][:4] == [sl.CHOOSING, sl.WAITING, sl.HELD, sl.CHOOSING]


def test_choosing_is_bounded_when_every_write_is_late():
    clock = Clock()
    store = Store(clock)
    store.latency = [0.05, 61.0] * (MAX_LAPSES + 2)
    acq = acquirer(store, clock)
    with pytest.raises(errors.IronwaveError) as exc:
        acq.acquire()
    assert exc.value.kind == sl.EXPIRED and "lease_ttl" in exc.value.msg
    assert len([w for w in store.writes if w[3] and w[3]["phase"] == sl.CHOOSING]) == MAX_LAPSES + 1


def test_run_gone_while_queueing_sends_nothing_more():
    clock = Clock()
    store = Store(clock)
    store.rows["n1"]["provision_state"] = "deploying"
    guard = Guard()
    clock.hooks.append(lambda t: setattr(guard, "is_alive", t < 1030))
    acq = acquirer(store, clock, guard)
    with pytest.raises(errors.RunGone) as exc:
        acq.acquire()
    assert exc.value.kind == "run_gone"
    assert all(w[0] < 1030 for w in store.writes)
    assert store.rows["n0"]["extra"][sl.MARKER_KEY]["phase"] == sl.WAITING   # not withdrawn: nothing sent


def test_halted_run_stops_queueing():
    clock = Clock()
    store = Store(clock)
    store.rows["n1"]["provision_state"] = "deploying"
    guard = Guard()
    clock.hooks.append(lambda t: setattr(guard, "halt", "budget" if t > 1010 else None))
    with pytest.raises(errors.RunGone) as exc:
        acquirer(store, clock, guard).acquire()
    assert exc.value.kind == "halted"


def test_marker_of_a_run_gone_on_this_controller_is_overwritten_and_not_counted():
    clock = Clock()
    store = Store(clock)
    dead = sl.Proc("boot", "ns", 4242, "77")
    store.put_marker("n0", run_id="dead-run", proc=dead.to_extra() and dead)
    store.put_marker("n1", run_id="dead-run", proc=dead)
    store.gone_procs.add(4242)
    out = acquirer(store, clock).acquire()
    assert out["changed"] and out["attempts"] == 1 and out["holders"]["held"] == 0


def test_live_marker_of_another_run_is_a_conflict():
    clock = Clock()
    store = Store(clock)
    store.put_marker("n0", run_id="other", proc=sl.Proc("boot", "ns", 4242, "77"))
    with pytest.raises(errors.IronwaveError) as exc:
        acquirer(store, clock).acquire()
    assert exc.value.kind == sl.CONFLICT and store.writes == []


def test_a_marker_that_stopped_changing_stops_counting_after_its_ttl():
    """A held marker of a run killed on another controller: counted until this controller has
    seen it unchanged for its ttl, then the slot is ours."""
    clock = Clock()
    store = Store(clock)
    store.put_marker("n1", run_id="remote", ttl=30.0)
    out = acquirer(store, clock, poll_interval=1.0, max_poll_interval=2.0).acquire()
    assert out["changed"] and out["holders"]["held"] == 0
    assert 30.0 <= out["waited"] <= 30.0 + 2.0 + 1.0


def test_a_marker_that_keeps_changing_counts_forever():
    clock = Clock()
    store = Store(clock)
    store.put_marker("n1", run_id="remote", ttl=30.0)

    def beat(t):
        marker = store.rows["n1"]["extra"][sl.MARKER_KEY]
        if t - marker["written_at"] >= 7.5:
            store.put_marker("n1", run_id="remote", ttl=30.0, beat=marker["beat"] + 1, written_at=t)
    clock.hooks.append(beat)
    with pytest.raises(errors.SlotUnavailable):
        acquirer(store, clock, timeout=200.0).acquire()


@pytest.mark.parametrize("offset", [-3600.0, -40.0, 0.0, 40.0, 86400.0])
def test_wall_clock_readings_change_nothing(offset):
    """Defect 1: the writer's and the reader's wall clocks are never compared. Whatever this
    controller's clock says, a remote marker counts while it changes, and the outcome is the same."""
    clock = Clock()
    store = Store(clock)
    store.put_marker("n1", run_id="remote", ttl=30.0, written_at=clock() - 500.0)
    req = SlotRequest(node="n0", run_id="me", limit=1, ttl=60.0, timeout=600.0)
    acq = SlotAcquirer(store, req, Guard(), clock=clock, wall=lambda: clock() + offset, sleep=clock.sleep,
                       rng=random.Random(1))
    out = acq.acquire()
    assert out["holders"]["held"] == 0 and 30.0 <= out["waited"] <= 36.0


def test_timeout_zero_checks_once_and_withdraws():
    clock = Clock()
    store = Store(clock)
    store.rows["n2"]["provision_state"] = "cleaning"
    with pytest.raises(errors.SlotUnavailable) as exc:
        acquirer(store, clock, timeout=0.0).acquire()
    assert exc.value.result["attempts"] == 1
    assert store.writes[-1][3] is None


def test_already_held_is_adopted_after_stopping_our_refresher():
    clock = Clock()
    store = Store(clock)
    store.put_marker("n0", run_id="me", beat=5, proc=sl.Proc("b", "ns", 1, "old"))
    stopped = []
    same = acquirer(store, clock, proc=sl.Proc("b", "ns", 1, "old")).acquire(stop_refresher=stopped.append)
    assert "held_lease" not in same and stopped == [] and store.writes == []
    out = acquirer(store, clock, proc=sl.Proc("b", "ns", 2, "new")).acquire(stop_refresher=stopped.append)
    assert not out["changed"] and stopped == ["n0"]
    assert out["held_lease"].beat == 6 and store.rows["n0"]["extra"][sl.MARKER_KEY]["beat"] == 6


def test_check_mode_writes_nothing():
    clock = Clock()
    store = Store(clock)
    store.rows["n1"]["provision_state"] = "deploying"
    out = acquirer(store, clock).acquire(check_mode=True)
    assert out["would_wait"] and store.writes == []


def test_release_stops_the_refresher_before_removing():
    clock = Clock()
    store = Store(clock)
    store.put_marker("n0", run_id="me")
    order = []
    orig = store.write
    store.write = lambda *a: (order.append("write"), orig(*a))
    out = acquirer(store, clock).release(stop_refresher=lambda uuid: order.append("stop"))
    assert out["release"] == sl.REMOVE and order == ["stop", "write"]
    assert sl.MARKER_KEY not in store.rows["n0"]["extra"]


def test_release_by_an_orphan_sends_nothing():
    clock = Clock()
    store = Store(clock)
    store.put_marker("n0", run_id="me")
    guard = Guard()
    guard.is_alive = False
    with pytest.raises(errors.RunGone):
        acquirer(store, clock, guard).release()
    assert store.writes == []


def test_halted_run_still_gives_slots_back():
    clock = Clock()
    store = Store(clock)
    store.put_marker("n0", run_id="me")
    guard = Guard()
    guard.halt = "budget"
    assert acquirer(store, clock, guard).release()["release"] == sl.REMOVE


# -- the held refresher -------------------------------------------------------------------------
def held_refresher(store, clock, guard, stopped=lambda: False, ttl=60.0):
    lease = sl.Lease(run_id="me", holder="h", phase=sl.HELD, from_state="available", since="t0",
                     ticket=1, beat=3, ttl=ttl)
    store.rows["n0"]["extra"][sl.MARKER_KEY] = lease.to_extra()
    return sr.HeldRefresher(store, "n0", lease, clock(), guard, stopped=stopped, clock=clock, wall=clock,
                            sleep=clock.sleep)


def test_refresher_keeps_a_held_slot_alive_while_the_run_waits():
    """Defect 3: a run waiting 1800 s at a busy gate keeps its slot: rewritten every ttl/4 s, and a
    reader watching all along never sees it unchanged for its ttl."""
    clock = Clock()
    store = Store(clock)
    guard = Guard()
    clock.hooks.append(lambda t: setattr(guard, "is_alive", t < 1000 + 1800))
    ref = held_refresher(store, clock, guard)
    reader_worst = []
    clock.hooks.append(lambda t: reader_worst.append(
        next(n for n in store.listing(None) if n.uuid == "n0").unchanged_for))
    assert ref.run() == sr.RUN_GONE
    assert ref.writes >= 1800 / 15 - 2 and ref.lapses == 0
    assert max(reader_worst) < 60.0 * 3 / 4
    assert all(w[0] < 1000 + 1800 for w in store.writes)


def test_refresher_stops_within_a_second_when_the_run_is_killed():
    clock = Clock()
    store = Store(clock)
    guard = Guard()
    clock.hooks.append(lambda t: setattr(guard, "is_alive", t < 1100))
    assert held_refresher(store, clock, guard).run() == sr.RUN_GONE
    assert clock() < 1100 + 1.1 and all(w[0] < 1100 for w in store.writes)


@pytest.mark.parametrize("change,reason", [
    (lambda s: s.rows["n0"].update(provision_state="deploying"), sr.NODE_MOVED),
    (lambda s: s.rows["n0"]["extra"].pop(sl.MARKER_KEY), sr.MARKER_CHANGED),
    (lambda s: s.put_marker("n0", run_id="someone-else"), sr.MARKER_CHANGED),
    (lambda s: s.rows.pop("n0"), sr.NODE_GONE),
])
def test_refresher_stops_when_the_slot_is_no_longer_its_own(change, reason):
    clock = Clock()
    store = Store(clock)
    ref = held_refresher(store, clock, Guard())
    done = []
    clock.hooks.append(lambda t: (change(store), done.append(t)) if t > 1040 and not done else None)
    assert ref.run() == reason


def test_refresher_stops_when_released_or_halted_or_refused():
    clock = Clock()
    store = Store(clock)
    flag = {"stop": False}
    clock.hooks.append(lambda t: flag.__setitem__("stop", t > 1020))
    assert held_refresher(store, clock, Guard(), stopped=lambda: flag["stop"]).run() == sr.RELEASED
    guard = Guard()
    guard.halt = "budget"
    assert held_refresher(Store(clock), clock, guard).run() == sr.HALTED
    store = Store(clock)

    def refuse(*_a):
        raise WriteRefused("in transition", IN_TRANSITION)
    ref = held_refresher(store, clock, Guard())
    store.write = refuse
    assert ref.run() == sr.NODE_MOVED


def test_timing_relations():
    t = SlotTiming(60.0)
    assert t.refresh + t.read_deadline + t.write_deadline < t.ttl
    assert t.continuous(None, 1e9) and t.continuous(0.0, 59.9) and not t.continuous(0.0, 60.0)


def test_a_busy_limit_lowered_by_the_strategy_is_honoured():
    clock = Clock()
    store = Store(clock, n=4)
    store.rows["n1"]["provision_state"] = "deploying"
    guard = Guard()
    guard.busy_limit = lambda configured: min(configured, 1)     # backpressure published by the run
    with pytest.raises(errors.SlotUnavailable):
        acquirer(store, clock, guard, limit=3, timeout=30.0).acquire()
    guard.busy_limit = lambda configured: configured
    assert acquirer(store, clock, guard, limit=3).acquire()["changed"]


# -- many acquirers at once, on controllers of their own, with stalls -----------------------------
class Sim:
    """Discrete-event scheduler: each runner is a thread that only runs while it holds the baton;
    sleeping hands the baton back; the runner with the earliest wake-up time goes next."""

    def __init__(self, rng: random.Random) -> None:
        import threading
        self.rng = rng
        self.t = 0.0
        self.cond = threading.Condition()
        self.current: str | None = None
        self.wakes: dict[str, float] = {}

    def clock(self) -> float:
        return self.t

    def sleep(self, name: str, seconds: float) -> None:
        with self.cond:
            self.wakes[name] = self.t + max(seconds, 0.001)
            self.current = None
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.current == name)

    def run(self, bodies: dict, check) -> None:
        import threading

        def wrap(name, body):
            with self.cond:
                self.cond.wait_for(lambda: self.current == name)
            try:
                body()
            finally:
                with self.cond:
                    self.wakes.pop(name, None)
                    self.current = None
                    self.cond.notify_all()
        threads = [threading.Thread(target=wrap, args=(n, b), daemon=True) for n, b in bodies.items()]
        self.wakes = {n: self.rng.uniform(0, 2) for n in bodies}
        for th in threads:
            th.start()
        while self.wakes:
            with self.cond:
                soonest = min(self.wakes.values())
                name = self.rng.choice(sorted(n for n, w in self.wakes.items() if w == soonest))
                self.t = max(self.t, self.wakes.pop(name))
                self.current = name
                self.cond.notify_all()
                self.cond.wait_for(lambda: self.current is None)
            check()
            assert self.t < 100_000, "livelock"
        for th in threads:
            th.join(timeout=5)


class SimStore:
    """One controller's view of the shared rows: its own observation board; every request takes
    a random time and takes effect at a random moment within it (sometimes far too late)."""

    def __init__(self, sim: Sim, name: str, rows: dict, stall: float) -> None:
        self.sim, self.name, self.rows, self.stall = sim, name, rows, stall
        self.board: dict = {}

    def _latency(self) -> float:
        return self.sim.rng.uniform(40, 80) if self.sim.rng.random() < self.stall else self.sim.rng.uniform(0.01, 1.0)

    def listing(self, newer_than):
        total = self._latency()
        sent = self.sim.t
        part = self.sim.rng.uniform(0, total)
        self.sim.sleep(self.name, part)
        rows = copy.deepcopy(list(self.rows.values()))
        self.sim.sleep(self.name, total - part)
        self.board = sl.observe(rows, self.board, self.sim.t)
        return sl.parse_nodes(rows, self.board, sent)

    def read_node(self, ident):
        return sl.SlotNode.from_mapping(copy.deepcopy(self.rows[ident]))

    def write(self, uuid, lease, deadline):
        total = self._latency()
        part = self.sim.rng.uniform(0, total)
        self.sim.sleep(self.name, part)
        extra = self.rows[uuid]["extra"]
        if lease is None:
            extra.pop(sl.MARKER_KEY, None)
        else:
            extra[sl.MARKER_KEY] = lease.to_extra()
        self.sim.sleep(self.name, total - part)


class AlwaysAlive:
    def check(self, what):
        pass

    def alive(self):
        return True

    def halted(self):
        return None


@pytest.mark.parametrize("stall", [0.03, 0.15])
@pytest.mark.parametrize("seed", range(30))
def test_concurrent_acquirers_with_stalls_never_exceed_the_limit(seed, stall):
    """Eight hosts of four runs, each run on a controller of its own (own board, own clock
    offset), requests sometimes stalling past the marker ttl: admitted-and-not-yet-busy plus busy
    never exceeds the limit. With rare stalls every host gets its slot; with frequent ones a host
    may give up with `expired` (its writes keep landing too late), never over-admit."""
    rng = random.Random(seed)
    sim = Sim(rng)
    limit = 1 + seed % 3
    rows = {f"n{i}": {"uuid": f"n{i}", "name": f"node-{i}", "provision_state": "available",
                      "target_provision_state": None, "provision_updated_at": "t0", "conductor_group": "",
                      "extra": {}} for i in range(8)}
    holding: set[str] = set()
    done: list[str] = []
    expired: list[str] = []

    def busy_now() -> int:
        return sum(1 for r in rows.values() if r["provision_state"] == "deploying")

    def check():
        assert len(holding) + busy_now() <= limit, (holding, busy_now())

    def host(uuid: str, run: int):
        name = uuid
        offset = run * 3600.0                     # wall clocks an hour apart: never compared
        store = SimStore(sim, name, rows, stall=stall)
        req = SlotRequest(node=uuid, run_id=f"run{run}", limit=limit, ttl=30.0, timeout=10_000.0,
                          poll_interval=0.5, max_poll_interval=3.0)
        acq = SlotAcquirer(store, req, AlwaysAlive(), clock=sim.clock, wall=lambda: sim.t + offset,
                           sleep=lambda d: sim.sleep(name, d), rng=random.Random(rng.random()))
        try:
            acq.acquire()
        except errors.IronwaveError as exc:
            assert exc.kind == sl.EXPIRED and stall > 0.1, exc.msg
            expired.append(uuid)
            return
        holding.add(uuid)
        sim.sleep(name, rng.uniform(0, 3))        # time between admission and the deploy request
        rows[uuid]["provision_state"] = "deploying"
        rows[uuid]["provision_updated_at"] = "t1"
        holding.discard(uuid)
        sim.sleep(name, rng.uniform(2, 8))
        rows[uuid]["provision_state"] = "active"
        rows[uuid]["provision_updated_at"] = "t2"
        acq.release()
        done.append(uuid)

    sim.run({u: (lambda u=u, i=i: host(u, i % 4)) for i, u in enumerate(sorted(rows))}, check)
    assert sorted(done + expired) == sorted(rows)
