# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""limits_plan as a task, through pytest-ansible's `ansible_module` fixture (no cloud involved;
recipe in test_bad_input.py's docstring)."""
from __future__ import annotations

import pytest

from ironwave_testlib.paths import REPO

pytestmark = pytest.mark.ansible(inventory=str(REPO / "playbooks" / "inventory" / "localhost.yml"),
                                 host_pattern="localhost", connection="local")


def plan(ansible_module, **args) -> dict:
    return getattr(ansible_module, "ironwave.baremetal.limits_plan")(**args)["localhost"]


def test_a_plan_with_options_not_applicable_is_not_a_skipped_task(ansible_module):
    """A standalone Ironic (compute_services 0) has no nova options to tune; the task still ran:
    before, the result key `skipped` (a non-empty list) made Ansible report the task as skipped."""
    result = plan(ansible_module, release="2024.1", fleet_size=100, wave_size=10)
    assert not result.get("skipped"), result
    assert not result.get("failed") and result["changed"] is False, result
    assert [s["option"] for s in result["not_applicable"]] == ["max_concurrent_builds"]
    assert result["recommendations"], result


def test_unknown_release_is_bad_input_naming_the_release(ansible_module):
    result = plan(ansible_module, release="1999.9", fleet_size=100)
    assert result["failed"] and result["error_kind"] == "bad_request", result
    assert "1999.9" in result["msg"] and "caracal (2024.1)" in result["msg"]


def test_conductor_groups_must_be_counts(ansible_module):
    result = plan(ansible_module, release="2024.1", fleet_size=100, conductor_groups={"rack1": "many"})
    assert result["failed"] and "conductor_groups must map group names to node counts" in result["msg"], result
