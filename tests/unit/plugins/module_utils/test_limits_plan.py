# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.module_utils import limits_plan as lp
from ansible_collections.ironwave.baremetal.plugins.module_utils import release_options as ro


def _values(plan: lp.Plan) -> dict[str, object]:
    return {f"{r.service}:{r.section}.{r.option}": r.value for r in plan.recommendations}


@pytest.mark.parametrize("inp, expected", [
    # one conductor, standalone: limits = W + max(2, 10 % of W)
    (lp.PlanInput(fleet_size=100, wave_size=10, release="2025.1"),
     {"ironic:conductor.max_concurrent_deploy": 12, "ironic:conductor.max_concurrent_clean": 12,
      "ironic:conductor.workers_pool_size": 300, "ironic:conductor.sync_power_state_workers": 8,
      "ironic:DEFAULT.executor_thread_pool_size": 64}),
    # the limits are cluster-wide: 3 conductors do NOT divide max_concurrent_deploy
    (lp.PlanInput(fleet_size=400, wave_size=40, conductors=3, compute_services=2, release="epoxy"),
     {"ironic:conductor.max_concurrent_deploy": 44, "nova:DEFAULT.max_concurrent_builds": 31}),
    # big wave on one conductor: the pools grow past their defaults
    (lp.PlanInput(fleet_size=2000, wave_size=200, conductors=1, release="2024.1"),
     {"ironic:conductor.max_concurrent_deploy": 220, "ironic:conductor.workers_pool_size": 536,  # (220+220+67+2)/0.95
      "ironic:DEFAULT.executor_thread_pool_size": 440, "ironic:conductor.sync_power_state_workers": 67}),
    # before 2024.2 the workers_pool_size default was 100
    (lp.PlanInput(fleet_size=20, wave_size=5, release="antelope"),
     {"ironic:conductor.workers_pool_size": 100, "ironic:conductor.max_concurrent_deploy": 7}),
    # old release: the RPC pool option has its old name and the action limits do not exist yet
    (lp.PlanInput(fleet_size=20, wave_size=5, release="kilo"),
     {"ironic:DEFAULT.rpc_thread_pool_size": 64}),
    # Liberty renamed it
    (lp.PlanInput(fleet_size=20, wave_size=5, release="liberty"),
     {"ironic:DEFAULT.executor_thread_pool_size": 64}),
    # wave capped to the fleet; single compute gets the whole wave + 1
    (lp.PlanInput(fleet_size=3, wave_size=10, compute_services=1, release="2026.2"),
     {"ironic:conductor.max_concurrent_deploy": 5, "nova:DEFAULT.max_concurrent_builds": 4}),
    # the molecule scenario's numbers: wave 1, headroom 1 -> limit 2
    (lp.PlanInput(fleet_size=3, wave_size=1, min_headroom=1, release="2026.2"),
     {"ironic:conductor.max_concurrent_deploy": 2, "ironic:conductor.max_concurrent_clean": 2}),
])
def test_table(inp, expected):
    values = _values(lp.compute_plan(inp))
    for key, value in expected.items():
        assert values.get(key) == value, (key, values)


def test_kilo_skips_limits_it_does_not_have():
    plan = lp.compute_plan(lp.PlanInput(fleet_size=20, wave_size=5, release="kilo"))
    names = {r.option for r in plan.recommendations}
    assert "max_concurrent_deploy" not in names and "executor_thread_pool_size" not in names
    assert {"max_concurrent_deploy", "max_concurrent_clean"} <= {s["option"] for s in plan.skipped}


def test_every_recommendation_has_a_reason_and_respects_bounds():
    plan = lp.compute_plan(lp.PlanInput(fleet_size=1, wave_size=1, min_headroom=0, headroom_ratio=0,
                                        release="2025.2", compute_services=3))
    for rec in plan.recommendations:
        assert rec.reason
        spec = ro.lookup(rec.service, "2025.2", {"rpc_thread_pool_size": "executor_thread_pool_size"}
                         .get(rec.option, rec.option))
        assert spec is not None
        if spec.minimum is not None:
            assert rec.value >= spec.minimum
    assert _values(plan)["ironic:conductor.max_concurrent_deploy"] == 1


def test_default_wave_is_20_per_conductor_capped_to_fleet():
    assert lp.compute_plan(lp.PlanInput(fleet_size=500, conductors=2, release="2025.1")).wave_size == 40
    assert lp.compute_plan(lp.PlanInput(fleet_size=7, conductors=2, release="2025.1")).wave_size == 7


def test_conductor_groups_per_group_limit_when_release_supports_it():
    groups = {"rack1": 30, "rack2": 10}
    plan = lp.compute_plan(lp.PlanInput(fleet_size=40, wave_size=20, conductors=4,
                                        conductor_groups=groups, release="2026.2"))
    values = _values(plan)
    assert values["ironic:conductor.max_concurrent_per_conductor_group"] is True
    assert values["ironic:conductor.max_concurrent_deploy"] == 22  # min(20, 30) + 2
    plan = lp.compute_plan(lp.PlanInput(fleet_size=40, wave_size=20, conductors=4,
                                        conductor_groups={"a": 5, "b": 35}, release="2026.2"))
    assert _values(plan)["ironic:conductor.max_concurrent_deploy"] == 22
    old = lp.compute_plan(lp.PlanInput(fleet_size=40, wave_size=20, conductor_groups=groups, release="2025.1"))
    assert "ironic:conductor.max_concurrent_per_conductor_group" not in _values(old)
    assert old.warnings


def test_service_options_shape_and_estimate():
    plan = lp.compute_plan(lp.PlanInput(fleet_size=100, wave_size=30, compute_services=2,
                                        deploy_duration=60, release="2025.1"))
    opts = plan.service_options()
    assert opts["ironic"]["conductor"]["max_concurrent_deploy"] == 33
    assert opts["nova"]["DEFAULT"]["max_concurrent_builds"] == 24
    assert plan.estimate == {"waves": 4, "nodes_per_wave": 30, "lockstep_seconds": 240.0,
                             "sliding_window_seconds": 200.0}


@pytest.mark.parametrize("kwargs, field", [
    (dict(fleet_size=0), "fleet_size"),
    (dict(fleet_size=10, wave_size=0), "wave_size"),
    (dict(fleet_size=10, conductors=0), "conductors"),
    (dict(fleet_size=10, compute_services=-1), "compute_services"),
    (dict(fleet_size=10, deploy_duration=0), "deploy_duration"),
    (dict(fleet_size=10, conductor_groups={"a": 3}), "conductor_groups"),
])
def test_bad_input_names_the_field(kwargs, field):
    with pytest.raises(lp.PlanError, match=field):
        lp.compute_plan(lp.PlanInput(release="2025.1", **kwargs))


@pytest.mark.parametrize("text, name", [
    ("2023.1", "antelope"), ("Antelope", "antelope"), ("2026.1-gazpacho", "gazpacho"),
    ("2026.2", "hibiscus"), ("kilo", "kilo"), ("2015.2", "liberty"),
])
def test_release_names(text, name):
    assert ro.normalize_release(text) == name


@pytest.mark.parametrize("text", ["2031.1", "foo", "", "2023"])
def test_unknown_release_is_an_error(text):
    with pytest.raises(ro.ReleaseError, match="not in the collection's release table"):
        lp.compute_plan(lp.PlanInput(fleet_size=1, release=text))


def test_threading_mode_releases_limit_snapshots_with_builds():
    """nova 34 sizes one executor max(max_concurrent_builds, max_concurrent_snapshots): builds 2
    alone still ran 5 at once on the local stack, so 2026.1+ plans both."""
    new = _values(lp.compute_plan(lp.PlanInput(fleet_size=6, wave_size=2, compute_services=1, release="2026.2")))
    assert new["nova:DEFAULT.max_concurrent_snapshots"] == new["nova:DEFAULT.max_concurrent_builds"] == 3
    old = _values(lp.compute_plan(lp.PlanInput(fleet_size=6, wave_size=2, compute_services=1, release="2025.1")))
    assert "nova:DEFAULT.max_concurrent_snapshots" not in old
