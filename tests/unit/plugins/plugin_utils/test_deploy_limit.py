# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
from __future__ import annotations

import pytest

from ansible_collections.ironwave.baremetal.plugins.plugin_utils.deploy_limit import DeployLimitError, plan


def test_run_scope_is_the_busy_gate_only():
    p = plan({"deploy_limit": 6, "deploy_limit_scope": "run"})
    assert p.as_dict() == {"limit": 6, "scope": "run", "per_conductor_group": False, "gate": 6,
                           "gate_scope": "global", "lease": 0, "lease_scope": "global"}
    assert p.deprecations == ()


def test_cloud_scope_is_a_lease_plus_the_gate_backpressure_can_lower():
    p = plan({"deploy_limit": "4", "deploy_limit_scope": "cloud", "deploy_limit_per_conductor_group": "yes"})
    assert (p.limit, p.gate, p.lease, p.group_scope) == (4, 4, 4, "conductor_group")


def test_zero_is_no_limit_of_the_roles_own():
    assert plan({"deploy_limit": 0, "deploy_limit_scope": "cloud"}).as_dict()["lease"] == 0
    assert plan({}).gate == 0


@pytest.mark.parametrize("values, field", [
    ({"deploy_limit": -1}, "deploy_limit"),
    ({"deploy_limit": "six"}, "deploy_limit"),
    ({"deploy_limit": 2.5}, "deploy_limit"),
    ({"deploy_limit": True}, "deploy_limit"),
    ({"deploy_limit": 2, "deploy_limit_scope": "global"}, "deploy_limit_scope"),
    ({"deploy_limit": 2, "deploy_limit_per_conductor_group": "maybe"}, "deploy_limit_per_conductor_group"),
    ({"deploy_limit": 2, "deploy_busy_scope": "rack"}, "deploy_busy_scope"),
    ({"deploy_limit": 2, "deploy_global_limit": "x"}, "deploy_global_limit"),
])
def test_bad_values_name_the_variable(values, field):
    with pytest.raises(DeployLimitError) as err:
        plan(values)
    assert str(err.value).startswith(field + ":"), str(err.value)
    assert "use " in str(err.value)


def test_old_busy_limit_wins_over_the_playbooks_deploy_limit_with_a_deprecation():
    p = plan({"deploy_limit": 6, "deploy_limit_scope": "run", "deploy_busy_limit": 3, "deploy_busy_scope": "conductor_group"})
    assert (p.limit, p.scope, p.gate, p.lease, p.group_scope) == (3, "run", 3, 0, "conductor_group")
    assert len(p.deprecations) == 2
    assert "deploy_busy_limit" in p.deprecations[1] and "use deploy_limit" in p.deprecations[1]


def test_old_global_limit_maps_to_the_cloud_scope():
    p = plan({"deploy_limit": 6, "deploy_global_limit": 2})
    assert (p.limit, p.scope, p.gate, p.lease) == (2, "cloud", 2, 2)
    assert "deploy_limit_scope: cloud" in p.deprecations[0]
    p = plan({"deploy_limit": 6, "deploy_limit_scope": "cloud", "ironwave_global_limit": "3"})
    assert (p.limit, p.lease) == (3, 3) and "ironwave_global_limit" in p.deprecations[0]


def test_both_old_limits_keep_their_old_meaning():
    # Before: a cloud lease of 8 and a busy gate of 4.
    p = plan({"deploy_limit": 6, "deploy_global_limit": 8, "deploy_busy_limit": 4})
    assert (p.scope, p.lease, p.gate) == ("cloud", 8, 4)


def test_old_names_left_at_none_are_not_set():
    p = plan({"deploy_limit": 5, "deploy_busy_limit": None, "deploy_global_limit": None,
              "deploy_busy_scope": None, "deploy_global_limit_scope": None, "ironwave_global_limit": None})
    assert p.deprecations == () and p.gate == 5


def test_the_filter_announces_the_same_removal_version():
    from pathlib import Path

    from ansible_collections.ironwave.baremetal.plugins.plugin_utils.deploy_limit import REMOVED_IN
    source = (Path(__file__).resolve().parents[4] / "plugins" / "filter" / "deploy_limit.py").read_text()
    assert f'version="{REMOVED_IN}"' in source
