# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import copy
import random

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl

NOW = 1_000_000.0
TTL = 60.0


def node(uuid, state="available", lease=None, group="", since="t0", target=None, name=None):
    extra = {"owner": "x"}
    if lease is not None:
        extra[sl.MARKER_KEY] = lease.to_extra() if isinstance(lease, sl.Lease) else lease
    return {"uuid": uuid, "name": name or f"n-{uuid}", "provision_state": state,
            "target_provision_state": target, "provision_updated_at": since,
            "conductor_group": group, "extra": extra}


def lease(run="r1", phase=sl.WAITING, ticket=1, from_state="available", since="t0", holder="h", beat=0,
          ttl=60.0, proc=None, at=NOW):
    return sl.Lease(run_id=run, holder=holder, phase=phase, from_state=from_state, since=since,
                    ticket=ticket, beat=beat, ttl=ttl, proc=proc, written_at=at)


def nodes(*rows, unchanged=None, gone=None):
    """Parsed nodes; `unchanged` = {uuid: seconds this reader has seen the marker unchanged}."""
    unchanged = unchanged or {}
    return [sl.SlotNode.from_mapping(r, unchanged.get(r["uuid"], 0.0), gone) for r in rows]


# -- marker ------------------------------------------------------------------------------------
def test_marker_round_trip():
    le = lease(ticket=7, phase=sl.HELD)
    assert sl.Lease.from_extra(le.to_extra()) == le
    chooser = lease(phase=sl.CHOOSING, ticket=None)
    assert sl.Lease.from_extra(chooser.to_extra()) == chooser


@pytest.mark.parametrize("bad", [
    None, "x", 3, {}, {"phase": "held"},
    {**lease().to_extra(), "phase": "bogus"},
    {**lease().to_extra(), "ticket": None},             # waiting without a ticket
    {**lease().to_extra(), "ticket": "3"},
    {**lease().to_extra(), "ticket": True},
    {**lease().to_extra(), "ttl": "soon"},
    {**lease().to_extra(), "ttl": 0},
    {**lease().to_extra(), "beat": "3"},
])
def test_malformed_marker_never_counts(bad):
    assert sl.Lease.from_extra(bad) is None
    (n,) = nodes(node("a", lease=bad))
    assert n.lease is None
    assert sl.count_holders([n]).announced == 0


# -- counting ----------------------------------------------------------------------------------
def test_count_busy_union_announced():
    ns = nodes(
        node("b1", "deploying"), node("b2", "wait call-back"), node("b3", "cleaning"),
        node("b4", "deploying", lease=lease(phase=sl.HELD)),         # busy with marker: once
        node("h1", lease=lease(phase=sl.HELD, ticket=2)),
        node("w1", lease=lease(phase=sl.WAITING, ticket=3)),
        node("c1", lease=lease(phase=sl.CHOOSING, ticket=None)),
        node("free"), node("act", "active"),
    )
    h = sl.count_holders(ns)
    assert h.busy == ("b1", "b2", "b3", "b4")
    assert h.held == ("h1",) and h.waiting == ("w1",) and h.choosing == ("c1",)
    assert h.total == 5 and h.announced == 3
    assert h.as_dict() == {"busy": 4, "held": 1, "waiting": 1, "choosing": 1, "total": 5}


@pytest.mark.parametrize("state,since,unchanged,counts", [
    ("available", "t0", 0.0, True),
    ("available", "t0", 59.9, True),
    ("available", "t0", 60.0, False),          # seen unchanged for its ttl: its writer stopped
    ("available", "t0", 5000.0, False),        # crashed run: lapsed
    ("active", "t0", 0.0, False),              # moved past busy: stale marker
    ("deploy failed", "t0", 0.0, False),
    ("error", "t0", 0.0, False),
    ("available", "t1", 0.0, False),           # went round (e.g. clean) and came back
])
def test_marker_lifetime(state, since, unchanged, counts):
    (n,) = nodes(node("a", state, lease=lease(phase=sl.HELD), since=since), unchanged={"a": unchanged})
    assert sl.lease_counts(n) is counts
    assert sl.count_holders([n]).total == (1 if counts else 0)


@pytest.mark.parametrize("written_at", [0.0, NOW - 40, NOW + 40, NOW + 10 ** 7])
def test_counting_compares_no_clock(written_at):
    """Defect 1: a marker written by a controller whose clock is far off counts exactly like any
    other: nothing compares the writer's time with the reader's."""
    (n,) = nodes(node("a", lease=lease(phase=sl.HELD, at=written_at)))
    assert sl.lease_counts(n) and sl.next_ticket([n]) == 2


def test_marker_of_a_gone_run_is_dead_at_once():
    proc = sl.Proc("b", "ns", 42, "9")
    (n,) = nodes(node("a", lease=lease(phase=sl.HELD, proc=proc)), gone=lambda p: p.pid == 42)
    assert n.run_gone and not sl.lease_counts(n) and sl.next_ticket([n]) == 1
    (alive,) = nodes(node("a", lease=lease(phase=sl.HELD, proc=proc)), gone=lambda p: False)
    assert sl.lease_counts(alive)


def test_observe_keeps_first_sighting_until_the_content_changes():
    row = node("a", lease=lease(beat=1))
    board = sl.observe([row], {}, 100.0)
    assert sl.unchanged_for(row, board, 100.0) == 0.0
    board = sl.observe([row], board, 130.0)
    assert sl.unchanged_for(row, board, 129.0) == 29.0     # from first arrival to this read's sending
    changed = node("a", lease=lease(beat=2))
    board = sl.observe([changed], board, 131.0)
    assert sl.unchanged_for(changed, board, 140.0) == 9.0
    assert sl.observe([node("b")], board, 150.0) == {}    # no marker: forgotten
    assert sl.observe([changed], {"a": [board["a"][0], 10_000.0]}, 5.0)["a"][1] == 5.0   # rebooted
    assert sl.unchanged_for(changed, None, 1.0) == 0.0


def test_v1_markers_are_read_with_a_short_ttl():
    v1 = {"v": 1, "run_id": "old", "holder": "h", "phase": "held", "ticket": 3, "announced_at": 1.0,
          "expires_at": 9.0e9, "from_state": "available", "since": "t0"}
    le = sl.Lease.from_extra(v1)
    assert le.ttl == sl.V1_TTL and le.ticket == 3


def test_marker_without_since_counts_on_state_only():
    (n,) = nodes(node("a", lease=lease(phase=sl.HELD, since=None), since="t9"))
    assert sl.lease_counts(n)


def test_undeploy_announced_from_active_counts_until_it_moves():
    le = lease(phase=sl.HELD, from_state="active")
    assert sl.count_holders(nodes(node("a", "active", lease=le))).held == ("a",)
    assert sl.count_holders(nodes(node("a", "deleting", lease=le))).busy == ("a",)
    assert sl.count_holders(nodes(node("a", "available", lease=le, since="t5"))).total == 0


def test_scope_per_conductor_group():
    ns = nodes(node("a", "deploying", group="rack1"), node("b", "deploying", group="RACK1"),
               node("c", "deploying", group="rack2"), node("d", "deploying"),
               node("e", lease=lease(phase=sl.HELD), group="rack2"))
    assert sl.count_holders(ns).total == 5
    assert sl.count_holders(ns, sl.Scope(sl.CONDUCTOR_GROUP, "rack1")).busy == ("a", "b")
    assert sl.count_holders(ns, sl.Scope(sl.CONDUCTOR_GROUP, "rack2")).total == 2
    assert sl.count_holders(ns, sl.Scope(sl.CONDUCTOR_GROUP, "")).busy == ("d",)
    with pytest.raises(ValueError):
        sl.Scope("rack")


def test_custom_busy_states():
    ns = nodes(node("a", "deploying"), node("b", "cleaning"))
    assert sl.count_holders(ns, busy_states=frozenset({"deploying"})).busy == ("a",)


def test_next_ticket():
    assert sl.next_ticket([]) == 1
    ns = nodes(node("a", lease=lease(ticket=4)), node("b", "active", lease=lease(ticket=9, phase=sl.HELD)),
               node("c", lease=lease(ticket=50)),   # seen unchanged for its ttl: ignored
               node("d", lease=lease(phase=sl.CHOOSING, ticket=None)), unchanged={"c": 61.0})
    assert sl.next_ticket(ns) == 10
    assert sl.next_ticket(ns, exclude="b") == 5


# -- admission ---------------------------------------------------------------------------------
def test_admit_when_room():
    ns = nodes(node("me", lease=lease(ticket=5)), node("x", "deploying"))
    d = sl.admission(ns, "me", "r1", limit=2)
    assert d.verdict == sl.ADMIT and d.busy == 1 and d.occupied == 1
    assert sl.admission(ns, "me", "r1", limit=1).verdict == sl.WAIT


def test_waiting_behind_me_does_not_count_but_held_does():
    ns = nodes(node("me", lease=lease(ticket=5)),
               node("w_behind", lease=lease(run="r2", ticket=6)),
               node("w_tie", lease=lease(run="r2", ticket=5)),            # same ticket, uuid decides
               node("aa", lease=lease(run="r2", ticket=5)),               # 'aa' < 'me': ahead
               node("h_behind", lease=lease(run="r3", ticket=9, phase=sl.HELD)))
    d = sl.admission(ns, "me", "r1", limit=3)
    assert (d.ahead, d.held, d.busy, d.choosing) == (1, 1, 0, 0)
    assert d.verdict == sl.ADMIT
    assert sl.admission(ns, "me", "r1", limit=2).verdict == sl.WAIT


def test_choosing_counts_pessimistically():
    ns = nodes(node("me", lease=lease(ticket=1)), node("c", lease=lease(run="r2", phase=sl.CHOOSING, ticket=None)))
    d = sl.admission(ns, "me", "r1", limit=1)
    assert d.verdict == sl.WAIT and d.choosing == 1
    assert sl.admission(ns, "me", "r1", limit=2).verdict == sl.ADMIT


def test_admission_ignores_other_scopes():
    ns = nodes(node("me", lease=lease(ticket=3), group="g1"), node("x", "deploying", group="g2"),
               node("y", lease=lease(run="r2", ticket=1), group="g2"))
    assert sl.admission(ns, "me", "r1", 1, sl.Scope(sl.CONDUCTOR_GROUP, "g1")).verdict == sl.ADMIT
    assert sl.admission(ns, "me", "r1", 1).verdict == sl.WAIT


@pytest.mark.parametrize("mine,verdict", [
    (None, sl.LOST),
    (lease(run="r2"), sl.LOST),
    (lease(phase=sl.CHOOSING, ticket=None), sl.LOST),
])
def test_admission_errors(mine, verdict):
    ns = nodes(node("me", lease=mine))
    d = sl.admission(ns, "me", "r1", 3)
    assert d.verdict == verdict and "me" in d.message


def test_admission_lost_when_someone_rewrote_my_marker():
    ns = nodes(node("me", lease=lease(beat=7)))
    assert sl.admission(ns, "me", "r1", 3, beat=7).verdict == sl.ADMIT
    d = sl.admission(ns, "me", "r1", 3, beat=6)
    assert d.verdict == sl.LOST and "rewritten" in d.message


def test_admission_node_moved():
    d = sl.admission(nodes(node("me", "manageable", lease=lease())), "me", "r1", NOW, 3)
    assert d.verdict == sl.MOVED and "'available' to 'manageable'" in d.message
    assert sl.admission(nodes(), "me", "r1", 3).verdict == sl.LOST


def test_admission_rejects_bad_limit():
    with pytest.raises(ValueError):
        sl.admission(nodes(node("me", lease=lease())), "me", "r1", 0)


# -- announce / release plans ------------------------------------------------------------------
def test_plan_announce():
    (free,) = nodes(node("a"))
    assert sl.plan_announce(free, "r1").action == sl.ANNOUNCE
    (held,) = nodes(node("a", lease=lease(phase=sl.HELD)))
    assert sl.plan_announce(held, "r1").action == sl.ALREADY_HELD
    assert sl.plan_announce(held, "r2").action == sl.CONFLICT
    assert "'r1'" in sl.plan_announce(held, "r2").message
    (waiting,) = nodes(node("a", lease=lease()))
    assert sl.plan_announce(waiting, "r1").action == sl.ANNOUNCE      # rerun restarts
    (stale,) = nodes(node("a", lease=lease(run="r2")), unchanged={"a": 60.0})
    assert sl.plan_announce(stale, "r1").action == sl.ANNOUNCE
    (consumed,) = nodes(node("a", "active", lease=lease(run="r2", phase=sl.HELD)))
    assert sl.plan_announce(consumed, "r1").action == sl.ANNOUNCE
    (busy_mine,) = nodes(node("a", "deploying", lease=lease(phase=sl.HELD)))
    assert sl.plan_announce(busy_mine, "r1").action == sl.ALREADY_HELD
    (busy,) = nodes(node("a", "deploying"))
    assert sl.plan_announce(busy, "r1").action == sl.NODE_BUSY
    (moving,) = nodes(node("a", "available", target="active"))
    assert sl.plan_announce(moving, "r1").action == sl.NODE_BUSY


def test_plan_release():
    (none,) = nodes(node("a"))
    assert sl.plan_release(none, "r1").action == sl.ABSENT
    (ours,) = nodes(node("a", "active", lease=lease(phase=sl.HELD)))
    assert sl.plan_release(ours, "r1").action == sl.REMOVE
    assert sl.plan_release(ours, "r2").action == sl.FOREIGN
    assert sl.plan_release(ours, "r2", force=True).action == sl.REMOVE
    # NodeLocked-like refusal: Ironic answers 409 on any PATCH while deploying -> leave it to lapse.
    (deploying,) = nodes(node("a", "deploying", target="active", lease=lease(phase=sl.HELD)))
    assert sl.plan_release(deploying, "r1").action == sl.IN_TRANSITION
    (failed,) = nodes(node("a", "deploy failed", target="active", lease=lease(phase=sl.HELD)))
    assert sl.plan_release(failed, "r1").action == sl.REMOVE


def test_in_transition_message_matches_ironic():
    assert sl.IN_TRANSITION_RE.search(
        "Node 0dd7 can not be updated while a state transition is in progress.")


def test_lease_helpers():
    proc = sl.Proc("b", "ns", 1, "2")
    (n,) = nodes(node("a", since="t3", lease=lease(beat=8)))
    le = sl.new_lease(n, "r1", "web-1", TTL, proc, NOW)
    assert le.phase == sl.CHOOSING and le.ticket is None and le.beat == 9 and le.ttl == TTL
    assert le.from_state == "available" and le.since == "t3" and le.proc == proc
    w = sl.with_ticket(le, 4, NOW + 1)
    assert (w.phase, w.ticket, w.beat, w.written_at) == (sl.WAITING, 4, 10, NOW + 1)
    r = sl.refreshed(w, NOW + 2)
    assert (r.phase, r.ticket, r.beat) == (sl.WAITING, 4, 11)
    h = sl.as_held(r, NOW + 3)
    assert (h.phase, h.ticket, h.beat) == (sl.HELD, 4, 12)
    assert sl.Lease.from_extra(h.to_extra()) == h
    assert sl.marker_digest(h.to_extra()) != sl.marker_digest(r.to_extra())


def test_backoff_jittered_and_capped():
    b = sl.PollBackoff(base=1.0, cap=4.0, rng=random.Random(1))
    delays = [b.next() for _i in range(12)]
    assert all(0.5 <= d <= 4.0 for d in delays)
    assert delays[0] <= 1.0 and max(delays[-4:]) > 2.0
    assert len(set(delays)) == len(delays)


def test_validate():
    assert sl.validate(3, 60, 3600, 1.0, 5.0, "global") == []
    assert sl.validate(3, 900, 3600, 1.0, 5.0, "global") == []
    assert sl.validate(3, 901, 3600, 1.0, 5.0, "global")[0].startswith("lease_ttl")
    errs = sl.validate(0, 19, -1, 0.0, 5.0, "rack")
    assert [e.split(":")[0] for e in errs] == ["limit", "lease_ttl", "timeout", "poll_interval", "scope"]
    assert sl.validate(True, 600, 1, 1.0, 5.0, "global")[0].startswith("limit")
    assert sl.validate(2, 600, 1, 2.0, 1.0, "global")[0].startswith("max_poll_interval")


# -- the race, simulated against one linearizable store ------------------------------------------
class Store:
    """Ironic as far as the protocol can tell: each read/write is atomic and ordered."""

    def __init__(self, n, busy_time=3):
        self.rows = {f"n{i:02d}": node(f"n{i:02d}", since="t0") for i in range(n)}
        self.busy_left: dict[str, int] = {}
        self.busy_time = busy_time
        self.max_total = 0
        self._parsed = None

    def read(self):
        if self._parsed is None:  # parsed nodes are immutable: share them until the next change
            self._parsed = sl.parse_nodes(copy.deepcopy(list(self.rows.values())))
        return self._parsed

    def set_state(self, uuid, state):
        self.rows[uuid]["provision_state"] = state
        self.rows[uuid]["provision_updated_at"] = f"t-{state}"
        self._parsed = None

    def write(self, uuid, le):
        self._parsed = None
        self.rows[uuid]["extra"][sl.MARKER_KEY] = le.to_extra() if le else None
        if le is None:
            del self.rows[uuid]["extra"][sl.MARKER_KEY]

    def tick(self, now):
        for u in list(self.busy_left):
            self.busy_left[u] -= 1
            if self.busy_left[u] <= 0:
                del self.busy_left[u]
                self.set_state(u, "active")
        self.max_total = max(self.max_total, sl.count_holders(self.read()).total)


def runner(store, uuid, run_id, limit, clock, skew=0.0):
    """One host's wave_slot acquire -> deploy -> release, one atomic step per `yield`."""
    (me,) = [n for n in store.read() if n.uuid == uuid]
    le = sl.new_lease(me, run_id, uuid, TTL, None, clock() + skew)
    yield
    store.write(uuid, le)
    yield
    ticket = sl.next_ticket(store.read(), exclude=uuid)
    yield
    le = sl.with_ticket(le, ticket, clock() + skew)
    store.write(uuid, le)
    yield
    while sl.admission(store.read(), uuid, run_id, limit).verdict != sl.ADMIT:
        yield
    yield
    store.write(uuid, sl.as_held(le, clock() + skew))
    yield
    store.set_state(uuid, "deploying")
    store.busy_left[uuid] = store.busy_time
    while uuid in store.busy_left:
        yield
    store.write(uuid, None)


def simulate(seed, n_nodes=12, runs=3, limit=3, skews=None):
    rng = random.Random(seed)
    store = Store(n_nodes, busy_time=rng.randint(1, 6))
    t = [NOW]

    def clock():
        return t[0]
    hosts = sorted(store.rows)
    gens = {}
    for i, u in enumerate(hosts):
        run_id = f"run{i % runs}"
        skew = (skews or {}).get(run_id, 0.0)
        gens[u] = runner(store, u, run_id, limit, clock, skew)
    steps = 0
    while gens:
        u = rng.choice(sorted(gens))
        try:
            next(gens[u])
        except StopIteration:
            del gens[u]
        store.max_total = max(store.max_total, sl.count_holders(store.read()).total)
        steps += 1
        if steps % 5 == 0:
            t[0] += 0.1
            store.tick(clock())
        assert steps < 100_000, "livelock"
    return store


@pytest.mark.parametrize("seed", range(150))
def test_random_interleavings_never_exceed_limit_and_finish(seed):
    limit = 1 + seed % 4
    store = simulate(seed, limit=limit)
    assert store.max_total <= limit
    assert all(r["provision_state"] == "active" for r in store.rows.values())
    assert all(sl.MARKER_KEY not in r["extra"] for r in store.rows.values())


@pytest.mark.parametrize("seed", range(40))
def test_clock_skew_between_controllers_is_harmless(seed):
    # run1's controller runs 30 s behind: its markers look announced "earlier". Tickets, not
    # clocks, order the queue, so this cannot over-admit.
    store = simulate(seed, limit=2, skews={"run1": -30.0, "run2": +20.0})
    assert store.max_total <= 2


def test_the_limit_is_reached():
    assert max(simulate(s, limit=3).max_total for s in range(10)) == 3


def test_two_announce_then_both_read_one_wins():
    """A announces, B announces, A reads, B reads: the same ranking for both; limit 1."""
    store = Store(2)
    a, b = "n00", "n01"
    la = sl.new_lease(store.read()[0], "A", a, TTL, None, NOW)
    lb = sl.new_lease(store.read()[1], "B", b, TTL, None, NOW)
    store.write(a, la)
    store.write(b, lb)
    ta = sl.next_ticket(store.read(), exclude=a)
    tb = sl.next_ticket(store.read(), exclude=b)
    assert ta == tb == 1                       # a tie: broken by node uuid
    store.write(a, sl.with_ticket(la, ta, NOW))
    store.write(b, sl.with_ticket(lb, tb, NOW))
    da = sl.admission(store.read(), a, "A", 1)
    db = sl.admission(store.read(), b, "B", 1)
    assert (da.verdict, db.verdict) == (sl.ADMIT, sl.WAIT)
    assert db.ahead == 1


def test_late_writer_with_earlier_clock_ranks_behind():
    """The ordering that breaks clock-ranked admission: B stamps its marker earlier than A but
    writes it after A was admitted. B's ticket is read after A's, so B queues behind A."""
    store = Store(2)
    a, b = "n00", "n01"
    lb = sl.new_lease(store.read()[1], "B", b, TTL, None, NOW - 10)     # B's clock says earlier
    la = sl.new_lease(store.read()[0], "A", a, TTL, None, NOW)
    store.write(a, la)
    la = sl.with_ticket(la, sl.next_ticket(store.read(), exclude=a), NOW)
    store.write(a, la)
    assert sl.admission(store.read(), a, "A", 1).verdict == sl.ADMIT
    store.write(a, sl.as_held(la, NOW))
    store.write(b, lb)
    store.write(b, sl.with_ticket(lb, sl.next_ticket(store.read(), exclude=b), NOW - 10))
    d = sl.admission(store.read(), b, "B", 1)
    assert d.verdict == sl.WAIT and d.held == 1


def test_chooser_between_read_and_write_is_counted():
    """B starts choosing after A read the tickets but before A's admission read: A counts B."""
    store = Store(2)
    a, b = "n00", "n01"
    la = sl.new_lease(store.read()[0], "A", a, TTL, None, NOW)
    store.write(a, la)
    t = sl.next_ticket(store.read(), exclude=a)
    store.write(b, sl.new_lease(store.read()[1], "B", b, TTL, None, NOW))
    store.write(a, sl.with_ticket(la, t, NOW))
    d = sl.admission(store.read(), a, "A", 1)
    assert d.verdict == sl.WAIT and d.choosing == 1
    # B crashed: once A has seen B's marker unchanged for its ttl, A goes.
    rows = [copy.deepcopy(r) for r in store.rows.values()]
    lapsed = nodes(*rows, unchanged={b: TTL})
    assert sl.admission(lapsed, a, "A", 1).verdict == sl.ADMIT


# -- run identity ------------------------------------------------------------------------------
def test_derive_run_id_precedence():
    vars_ = {"ironwave_run_id": "ci-42", "awx_job_id": 17}
    assert sl.derive_run_id({"IRONWAVE_RUN_ID": "env-1"}, vars_, "ctl", 9)[0] == "env-1"
    assert sl.derive_run_id({}, vars_, "ctl", 9) == ("ci-42", "variable ironwave_run_id")
    assert sl.derive_run_id({}, {"awx_job_id": 17}, "ctl", 9)[0] == "awx-job-17"
    assert sl.derive_run_id({}, {"tower_job_id": 3}, "ctl", 9)[0] == "awx-job-3"
    assert sl.derive_run_id({}, {}, "ctl", 9, "12345")[0] == "ctl-9-12345"
    assert sl.derive_run_id({}, {"awx_job_id": ""}, "ctl", 9)[0] == "ctl-9"


def test_check_run_id():
    assert sl.check_run_id("awx-job-17") is None
    assert sl.check_run_id("ctl.example-9-123") is None
    assert "run_id" in sl.check_run_id("has space")
    assert sl.check_run_id("") and sl.check_run_id(None) and sl.check_run_id("x" * 129)


def test_interrupted_waiter_blocks_the_queue_for_its_ttl_at_most():
    (ghost_node,) = nodes(node("aa"))
    ghost = sl.with_ticket(sl.new_lease(ghost_node, "ctrl-c", "x", TTL, None, NOW), 1, NOW)
    rows = (node("aa", lease=ghost), node("me", lease=lease(ticket=2)))
    assert sl.admission(nodes(*rows, unchanged={"aa": TTL - 1}), "me", "r1", 1).verdict == sl.WAIT
    assert sl.admission(nodes(*rows, unchanged={"aa": TTL}), "me", "r1", 1).verdict == sl.ADMIT


def test_module_run_id_from_the_parameter_else_the_environment_else_an_error_naming_the_fix():
    assert sl.module_run_id("job-1", {"IRONWAVE_RUN_ID": "env-1"}) == "job-1"
    assert sl.module_run_id(None, {"IRONWAVE_RUN_ID": "env-1"}) == "env-1"
    with pytest.raises(ValueError, match=r"run_id: not set; pass run_id, or set IRONWAVE_RUN_ID"):
        sl.module_run_id(None, {})
    with pytest.raises(ValueError, match=r"run_id: must be 1-128 characters"):
        sl.module_run_id("has space", {})
