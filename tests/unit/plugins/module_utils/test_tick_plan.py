# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""tick_plan: runs sharing the cloud gate list at their own phase of a K x poll_interval period."""
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import cloud_gate as cg
from ansible_collections.ironwave.baremetal.plugins.module_utils import slot_lease as sl
from ansible_collections.ironwave.baremetal.plugins.module_utils import tick_plan as tp


def row(uuid, state="available", run=None, written_in="available", **kw):
    r = {"uuid": uuid, "name": uuid, "provision_state": written_in, "provision_updated_at": "t0",
         "conductor_group": "", **kw}
    if run:
        (n,) = sl.parse_nodes([r])
        r["extra"] = {"ironwave_slot": cg.claim_marker(n, run, "h", 60.0, None, 0.0).to_extra()}
    r["provision_state"] = state
    return r


def test_one_run_keeps_the_plain_tick():
    plan = tp.TickPlan(1.0)
    assert not plan.shared and plan.period == 1.0


@pytest.mark.parametrize("rank, points", [(0, [3.0, 6.0, 9.0]), (1, [1.0, 4.0, 7.0]), (2, [2.0, 5.0, 8.0])])
def test_three_runs_tick_at_interleaved_phases(rank, points):
    plan = tp.TickPlan(1.0, runs=3, rank=rank)
    assert plan.shared and plan.period == 3.0
    now = 0.5
    seen = []
    for _tick in range(3):
        now += plan.next_in(now)
        seen.append(round(now, 6))
        now += 0.01
    assert seen == points
    # a copy read just after a tick point must be made after it
    assert plan.last(points[0] + 0.2) == pytest.approx(points[0])


def test_together_the_runs_read_once_per_interval():
    plans = [tp.TickPlan(2.0, runs=3, rank=k) for k in range(3)]
    ticks = sorted(p.last(100.0 + p.period) for p in plans)
    assert [round(b - a, 6) for a, b in zip(ticks, ticks[1:])] == [2.0, 2.0]


def test_sharing_runs_counts_claims_and_deploys_under_way_not_finished_runs():
    nodes = sl.parse_nodes([
        row("a", "available", "run-held"),                 # claim: counts against the limit
        row("b", "deploying", "run-deploying"),            # its deploy turned the node busy
        row("c", "wait call-back", "run-deploying-2"),
        row("d", "active", "run-finished"),                # inert marker left on a deployed node
        row("e", "cleaning", "run-old", written_in="available"),   # not a deploy: an old marker
        row("f", "deploying"),                             # no marker: someone without the gate
    ])
    assert tp.sharing_runs(nodes) == {"run-held", "run-deploying", "run-deploying-2"}


def test_plan_for_ranks_this_run_among_the_sorted_run_ids():
    nodes = sl.parse_nodes([row("a", "deploying", "run-c"), row("b", "available", "run-a")])
    assert tp.plan_for(1.0, "run-b", nodes) == tp.TickPlan(1.0, runs=3, rank=1)
    assert tp.plan_for(1.0, "run-b", []) == tp.TickPlan(1.0)
    assert tp.plan_for(1.0, None, nodes) == tp.TickPlan(1.0)


def test_a_copy_made_after_the_previous_runs_tick_serves_this_runs_tick():
    """Run 1 of 3 ticks at 1, 4, 7 ...; run 0 ticked at 3 before its tick at 4. A copy run 1 made
    after 3 (the listing verifying an admission) is as new as anything read by then: no listing at 4."""
    plan = tp.TickPlan(1.0, runs=3, rank=1)
    assert plan.serves_from(4.02) == pytest.approx(3.0)
    assert tp.TickPlan(1.0).serves_from(4.02) == pytest.approx(4.0)   # one run: its own last tick
