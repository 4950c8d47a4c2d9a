# -*- coding: utf-8 -*-
# Copyright: ironwave.baremetal contributors
# Apache License 2.0 (see LICENSE)
"""service_config as a task, through pytest-ansible's `ansible_module` fixture: the file on disk is
the outcome (validated against the collection's release table; the real ironic registry is tested
by the molecule `tune` scenario)."""
from __future__ import annotations

import pytest

from ironwave_testlib.paths import REPO

pytestmark = pytest.mark.ansible(inventory=str(REPO / "playbooks" / "inventory" / "localhost.yml"),
                                 host_pattern="localhost", connection="local")
NOVA = dict(service="nova", release="2025.1")


def configure(ansible_module, **args) -> dict:
    return getattr(ansible_module, "ironwave.baremetal.service_config")(**args)["localhost"]


def test_sets_an_option_once_and_reports_a_reload(ansible_module, tmp_path):
    conf = tmp_path / "nova.conf"
    conf.write_text("[DEFAULT]\ndebug = true\n")
    first = configure(ansible_module, path=str(conf), options={"DEFAULT": {"max_concurrent_builds": 6}}, **NOVA)
    assert first["changed"] and not first.get("failed"), first
    assert "max_concurrent_builds = 6" in conf.read_text() and "debug = true" in conf.read_text()
    again = configure(ansible_module, path=str(conf), options={"DEFAULT": {"max_concurrent_builds": 6}}, **NOVA)
    assert again["changed"] is False and again["changes"] == [], again


def test_an_unknown_option_fails_naming_it_and_changes_nothing(ansible_module, tmp_path):
    conf = tmp_path / "nova.conf"
    conf.write_text("[DEFAULT]\n")
    result = configure(ansible_module, path=str(conf), options={"DEFAULT": {"max_concurent_builds": 6}}, **NOVA)
    assert result["failed"] and result["error_kind"] == "bad_request", result
    assert "max_concurent_builds" in result["msg"] and "nothing was changed" in result["msg"]
    assert conf.read_text() == "[DEFAULT]\n"


def test_a_missing_file_is_not_created_unless_asked(ansible_module, tmp_path):
    conf = tmp_path / "absent.conf"
    result = configure(ansible_module, path=str(conf), options={"DEFAULT": {"max_concurrent_builds": 6}}, **NOVA)
    assert result["failed"] and "set create: true" in result["msg"] and not conf.exists(), result
